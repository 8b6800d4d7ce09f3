#include "crawler/cli/cli.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "connectors/registry.h"

#ifndef EARSHOT_DEMO_DIR
#define EARSHOT_DEMO_DIR "config/demo"
#endif

namespace earshot {

// serve_command.cc
int CmdServe(const GlobalOptions& global, const std::string& listen, std::ostream& out,
             std::ostream& err);

Result<Config> LoadEffectiveConfig(const GlobalOptions& global) {
  std::string path = global.config_path;
  if (path.empty()) {
    if (const char* env = std::getenv("EARSHOT_CONFIG")) path = env;
  }
  if (path.empty() && std::filesystem::exists("earshot.toml")) path = "earshot.toml";
  Result<Config> config = Config{};
  if (!path.empty()) {
    config = LoadConfig(path, FindConnector, ProcessEnv());
    if (!config.ok()) return config.status();
  }
  if (!global.db_path.empty()) config->store_path = global.db_path;
  return config;
}

int RunCli(int argc, char** argv) {
  CLI::App app{
      "earshot: listens to what people say in public about NHS services and "
      "stores each story for the organisation it is about."};
  app.require_subcommand(1);
  // Global options may follow the subcommand too: `earshot demo --db x.db`.
  app.fallthrough();
  app.set_version_flag("--version", "earshot 0.1.0");
  GlobalOptions global;
  app.add_option("--config", global.config_path,
                 "Configuration file (default: $EARSHOT_CONFIG, else ./earshot.toml)")
      ->type_name("FILE");
  app.add_option("--db", global.db_path, "SQLite database path (overrides [store] path)")
      ->type_name("PATH");
  app.add_flag("-v,--verbose", global.verbose, "Log every request");
  app.add_flag("-q,--quiet", global.quiet, "Only log warnings and errors");

  int code = 0;

  std::string run_listen;
  auto* run = app.add_subcommand("run", "Crawl continuously until SIGINT or SIGTERM");
  run->add_option("--listen", run_listen,
                  "Also serve the API and the web inbox on this address while crawling")
      ->type_name("HOST:PORT");
  run->callback([&] { code = CmdCrawl(global, false, std::cout, std::cerr, false, run_listen); });

  bool once_force = false;
  auto* once = app.add_subcommand(
      "once", "Poll every due source once (following its pages) and exit; for cron");
  once->add_flag("--force", once_force,
                 "Poll every source that is not stopped now, due or not (its cursor, "
                 "ETag and backoff state are kept)");
  once->callback([&] { code = CmdCrawl(global, true, std::cout, std::cerr, once_force); });

  std::string parse_connector, parse_url, parse_content_type, parse_source;
  std::vector<std::string> parse_files;
  auto* parse = app.add_subcommand(
      "parse", "Run a connector's parser on saved response bodies; print one JSON object per post");
  parse->add_option("--connector", parse_connector, "Connector name (see `earshot connectors`)")
      ->required();
  parse->add_option("--url", parse_url,
                    "The URL the body was fetched from (base for relative links)");
  parse->add_option("--content-type", parse_content_type,
                    "The response's Content-Type, e.g. \"text/xml; charset=ISO-8859-1\"");
  parse
      ->add_option("--source", parse_source,
                   "Read with this [[source]]'s options from --config (e.g. a json mapping) "
                   "instead of the connector's defaults")
      ->type_name("NAME");
  parse->add_option("files", parse_files, "Response body files")->required();
  parse->callback([&] {
    code = parse_source.empty()
               ? CmdParse(parse_connector, parse_url, parse_content_type, parse_files, std::cout,
                          std::cerr)
               : CmdParseSource(global, parse_source, parse_connector, parse_url,
                                parse_content_type, parse_files, std::cout, std::cerr);
  });

  std::string import_source = "import";
  std::vector<std::string> import_files;
  auto* import = app.add_subcommand(
      "import", "Store posts given as `earshot parse` JSON lines ('-' reads stdin)");
  import->add_option("--source", import_source, "Source name to record them under");
  import->add_option("files", import_files, "JSON-lines files")->required();
  import->callback(
      [&] { code = CmdImport(global, import_source, import_files, std::cout, std::cerr);
});

auto* sources = app.add_subcommand(
    "sources", "Table of sources: health, last success, next poll, cursor, last error");
SourcesOptions sources_options;
sources
    ->add_option("--reset", sources_options.reset,
                 "Clear a stopped or failing source's health so it is polled at once "
                 "(its cursor is kept)")
    ->type_name("NAME");
sources
    ->add_option("--blind", sources_options.blind,
                 "List the windows in which this source could not be read")
    ->type_name("NAME");
sources->callback([&] { code = CmdSources(global, sources_options, std::cout, std::cerr); });

std::string posts_search;
int posts_limit = 20;
auto* posts = app.add_subcommand("posts", "Show the newest stored posts, or search them");
posts->add_option("--search", posts_search, "Full-text query (SQLite FTS5 syntax)");
posts->add_option("--limit", posts_limit, "How many")->check(CLI::Range(1, 10000));
posts->callback([&] { code = CmdPosts(global, posts_search, posts_limit, std::cout, std::cerr); });

auto* config = app.add_subcommand("config", "Configuration tools");
config->require_subcommand(1);
auto* check = config->add_subcommand("check", "Validate the configuration without running");
check->callback([&] { code = CmdConfigCheck(global, std::cout, std::cerr); });

auto* connectors =
    app.add_subcommand("connectors", "List the connectors and their configuration keys");
connectors->callback([&] { code = CmdConnectors(std::cout); });

std::string rules_dir, orgs_dir;
auto* classify = app.add_subcommand(
    "classify",
    "Redact and classify text: JSON lines {\"id\",\"text\"} (or plain lines) on stdin, "
    "one JSON result per line on stdout");
classify->add_option("--rules", rules_dir, "Rules folder (default config/rules)")->type_name("DIR");
classify->add_option("--orgs", orgs_dir, "Gazetteer folder (default config/orgs)")
    ->type_name("DIR");
classify->callback([&] {
  code = CmdClassify(global, rules_dir, orgs_dir, std::cin, std::cout, std::cerr);
});

auto* rules = app.add_subcommand("rules", "Check, evaluate and backtest the rules");
rules->require_subcommand(1);
rules->fallthrough();  // `earshot rules check --rules DIR` as well as before `check`
for (CLI::App* sub : {rules}) {
  sub->add_option("--rules", rules_dir, "Rules folder (default config/rules)")->type_name("DIR");
  sub->add_option("--orgs", orgs_dir, "Gazetteer folder (default config/orgs)")->type_name("DIR");
}
std::string sample_file;
auto* rules_check = rules->add_subcommand(
    "check", "Compile every rule file and lint the rules against a sample (default: stored posts)");
rules_check
    ->add_option("--sample", sample_file, "Sample texts: JSON lines with \"text\", or plain lines")
    ->type_name("FILE");
rules_check->callback([&] {
  code = CmdRulesCheck(global, rules_dir, orgs_dir, sample_file, std::cout, std::cerr);
});
std::string eval_file;
auto* rules_eval = rules->add_subcommand(
    "eval",
    "Per-topic precision/recall/F1, macro-F1 and sentiment accuracy against a labelled "
    "CSV in the shared feedback format");
rules_eval->add_option("file", eval_file, "Labelled CSV")->required();
rules_eval->add_flag("--json", global.json_output, "Print the report as one JSON object");
rules_eval->callback([&] {
  code = CmdRulesEval(global, rules_dir, orgs_dir, eval_file, std::cout, std::cerr);
});
auto* rules_backtest = rules->add_subcommand(
    "backtest",
    "Re-run the rules over stored posts and report what would change per organisation "
    "and topic, without writing");
rules_backtest->callback([&] {
  code = CmdRulesBacktest(global, rules_dir, orgs_dir, std::cout, std::cerr);
});
auto* rules_dismissals = rules->add_subcommand(
    "dismissals",
    "How often organisations dismissed threads each routing rule put them on, by reason "
    "(rules that misroute come first)");
rules_dismissals->add_flag("--json", global.json_output, "Print one JSON object per line");
rules_dismissals->callback([&] { code = CmdRulesDismissals(global, std::cout, std::cerr); });

PublishCommandOptions publish_options;
auto* publish = app.add_subcommand(
    "publish",
    "Publish one reply from a configured [[account]] to a stored post and print its URL "
    "(to test an account)");
publish->add_option("--account", publish_options.account, "[[account]] name")
    ->required()
    ->type_name("NAME");
publish
    ->add_option("--post", publish_options.post,
                 "The stored post to answer, as PLATFORM:UID (shown by `earshot posts`)")
    ->required()
    ->type_name("PLATFORM:UID");
publish->add_option("--body", publish_options.body, "The reply, plain text")
    ->required()
    ->type_name("TEXT");
publish
    ->add_option("--idempotency-key", publish_options.idempotency_key,
                 "Key that makes a repeat of this reply safe where the platform honours one "
                 "(default: a random one)")
    ->type_name("KEY");
publish->callback([&] { code = CmdPublish(global, publish_options, std::cout, std::cerr); });

UsersAddOptions users_add_options;
std::string users_revoke_name;
auto* users = app.add_subcommand("users", "Staff accounts and their bearer tokens");
users->require_subcommand(1);
auto* users_add =
    users->add_subcommand("add", "Add a user; prints its bearer token as the last line, once");
users_add->add_option("--name", users_add_options.name, "Unique user name")->required();
users_add->add_option("--role", users_add_options.role, "admin, responder or viewer")
    ->required()
    ->check(CLI::IsMember({"admin", "responder", "viewer"}));
users_add
    ->add_option("--org", users_add_options.orgs,
                 "ODS code of an organisation it acts for (responder) or reads (viewer)")
    ->type_name("CODE");
users_add
    ->add_option("--region", users_add_options.regions,
                 "NHS England region or ICB code a viewer reads")
    ->type_name("CODE");
users_add
    ->add_option("--orgs", users_add_options.orgs_dir,
                 "Gazetteer folder to check codes against (default config/orgs)")
    ->type_name("DIR");
users_add->callback([&] { code = CmdUsersAdd(global, users_add_options, std::cout, std::cerr); });
auto* users_list = users->add_subcommand("list", "List users (never their tokens)");
users_list->callback([&] { code = CmdUsersList(global, std::cout, std::cerr); });
auto* users_revoke = users->add_subcommand("revoke", "Revoke a user's token");
users_revoke->add_option("name", users_revoke_name, "User name")->required();
users_revoke->callback([&] {
  code = CmdUsersRevoke(global, users_revoke_name, std::cout, std::cerr);
});

ThreadsListOptions threads_list_options;
int64_t threads_show_id = 0;
auto* threads = app.add_subcommand("threads", "The threads staff answer");
threads->require_subcommand(1);
auto* threads_list = threads->add_subcommand("list", "Threads, newest first");
threads_list->add_option("--org", threads_list_options.org, "Only this organisation's")
    ->type_name("CODE");
threads_list
    ->add_option("--status", threads_list_options.status,
                 "Only threads in this state: new, assigned, responded, closed, dismissed")
    ->type_name("STATE");
threads_list->add_option("--as", threads_list_options.as, "Read as this user; default: an admin");
threads_list->add_option("--limit", threads_list_options.limit, "How many")
    ->check(CLI::Range(1, 10000));
threads_list->callback([&] {
  code = CmdThreadsList(global, threads_list_options, std::cout, std::cerr);
});
auto* threads_show =
    threads->add_subcommand("show", "One thread: organisations, posts, notes, replies, audit");
threads_show->add_option("id", threads_show_id, "Thread id")->required();
std::string threads_show_as;
threads_show->add_option("--as", threads_show_as, "Read as this user; default: an admin");
threads_show->callback([&] {
  code = CmdThreadsShow(global, threads_show_id, threads_show_as, std::cout, std::cerr);
});
ThreadsListeningOptions threads_listening_options;
auto* threads_listening = threads->add_subcommand(
    "listening", "Per organisation: threads, share answered, median time to first response");
threads_listening->add_option("--from", threads_listening_options.from,
                              "Organisations alerted at or after (ISO 8601)");
threads_listening->add_option("--to", threads_listening_options.to,
                              "Organisations alerted before (ISO 8601)");
threads_listening->add_option("--as", threads_listening_options.as,
                              "Read as this user; default: an admin");
threads_listening->callback([&] {
  code = CmdThreadsListening(global, threads_listening_options, std::cout, std::cerr);
});
ThreadActionOptions act;
auto add_action = [&](const std::string& action, const std::string& help,
                      const std::string& id_help) {
  auto* sub = threads->add_subcommand(action, help);
  sub->add_option("id", act.id, id_help)->required();
  sub->add_option("--as", act.as,
                  "Act as this user (`earshot users add`); default: an admin audited as \"cli\"");
  sub->callback([&, action] { code = CmdThreadsAct(global, action, act, std::cout, std::cerr); });
  return sub;
};
auto* threads_note = add_action("note", "Add an internal note for an organisation", "Thread id");
threads_note->add_option("--org", act.org, "Organisation (ODS code)")->required();
threads_note->add_option("--body", act.body, "The note")->required();
auto* threads_reply = add_action(
    "reply", "Draft a reply for an organisation; prints its id and tone hints", "Thread id");
threads_reply->add_option("--org", act.org, "Organisation (ODS code)")->required();
threads_reply->add_option("--body", act.body, "The reply, plain text")->required();
add_action("approve", "Approve a draft (someone other than its author)", "Reply id");
add_action("publish",
           "Publish a reply from its organisation's [[account]], or mark it answer-on-platform",
           "Reply id");
auto* threads_assign = add_action("assign", "Assign an organisation's part to a user", "Thread id");
threads_assign->add_option("--org", act.org, "Organisation (ODS code)")->required();
threads_assign->add_option("--to", act.to, "User name (empty: unassign)")->required();
auto* threads_status = add_action("status", "Set an organisation's state", "Thread id");
threads_status->add_option("--org", act.org, "Organisation (ODS code)")->required();
threads_status->add_option("--status", act.status, "new, assigned, responded, closed or dismissed")
    ->required();
threads_status->add_option("--reason", act.reason, "Why (needed to dismiss)");

std::string serve_listen = "127.0.0.1:8080";
auto* serve = app.add_subcommand(
    "serve", "Serve the JSON API (docs/api.md) from the store until SIGINT or SIGTERM");
serve->add_option("--listen", serve_listen, "Address to listen on (port 0 picks a free one)")
    ->type_name("HOST:PORT");
serve->callback([&] { code = CmdServe(global, serve_listen, std::cout, std::cerr); });

DemoOptions demo_options{.demo_dir = EARSHOT_DEMO_DIR};
bool demo_no_serve = false;
auto* demo = app.add_subcommand(
    "demo",
    "Start a local source server with bundled sample posts, crawl it into a fresh "
    "SQLite file, then serve the web inbox on localhost");
demo->add_option("--demo-dir", demo_options.demo_dir, "Folder with the demo's routes and config");
demo->add_option("--listen", demo_options.listen,
                 "Address of the API and inbox (port 0 picks a free one)")
    ->type_name("HOST:PORT");
demo->add_flag("--no-serve", demo_no_serve, "Crawl and print what came in, then exit");
bool demo_no_open = false;
demo->add_flag("--no-open", demo_no_open,
               "Do not ask the desktop (xdg-open) to open the inbox in a browser");
demo->callback([&] {
  demo_options.serve = !demo_no_serve;
  demo_options.open_browser = !demo_no_open;
  code = CmdDemo(global, demo_options, std::cout, std::cerr);
});

// Logs go to stderr; stdout carries only command output (JSON lines, tables).
spdlog::set_default_logger(spdlog::stderr_color_mt("earshot"));
app.parse_complete_callback([&] {
  spdlog::set_level(global.verbose ? spdlog::level::debug
                    : global.quiet ? spdlog::level::warn
                                   : spdlog::level::info);
});

try {
  app.parse(argc, argv);
} catch (const CLI::ParseError& e) {
  int rc = app.exit(e);
  return rc == 0 ? 0 : 2;
}
return code;
}  // namespace earshot

}  // namespace earshot
