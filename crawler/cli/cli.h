// The `earshot` command line (CLI11). Each subcommand is a function taking
// its parsed options; RunCli wires them up and returns the process exit code:
// 0 success, 1 a runtime failure (store, network for every source), 2 bad
// input (config error, unparseable file, bad flag).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "crawler/cli/config.h"
#include "crawler/core/status.h"

namespace earshot {

// Options every subcommand sees.
struct GlobalOptions {
  std::string config_path;  // --config; empty: $EARSHOT_CONFIG, ./earshot.toml
  std::string db_path;      // --db; overrides [store] path
  bool verbose = false;
  bool quiet = false;
  bool json_output = false;  // --json: machine-readable output where offered
};

int RunCli(int argc, char** argv);

// Loads the configuration the global options point at (an empty default
// when there is no file), then applies --db.
Result<Config> LoadEffectiveConfig(const GlobalOptions& global);

// Subcommands. Output goes to `out`; diagnostics to `err`.
int CmdParse(const std::string& connector, const std::string& url, const std::string& content_type,
             const std::vector<std::string>& files, std::ostream& out, std::ostream& err);
// `parse --source NAME`: the parser reads with that [[source]]'s options from
// the configuration (a json connector's mapping) instead of the defaults.
int CmdParseSource(const GlobalOptions& global, const std::string& source,
                   const std::string& connector, const std::string& url,
                   const std::string& content_type, const std::vector<std::string>& files,
                   std::ostream& out, std::ostream& err);
int CmdConfigCheck(const GlobalOptions& global, std::ostream& out, std::ostream& err);
int CmdConnectors(std::ostream& out);
struct SourcesOptions {
  std::string reset;  // source to return to health "ok", due now
  std::string blind;  // source whose blind windows to list
};
int CmdSources(const GlobalOptions& global, const SourcesOptions& options, std::ostream& out,
               std::ostream& err);
int CmdPosts(const GlobalOptions& global, const std::string& search, int limit, std::ostream& out,
             std::ostream& err);
int CmdImport(const GlobalOptions& global, const std::string& source,
              const std::vector<std::string>& files, std::ostream& out, std::ostream& err);
// `run` (continuous, until SIGINT/SIGTERM) and `once` (every due source once).
// `force_due` (`once --force`) makes every source that is not stopped due now.
// `listen` (`run --listen HOST:PORT`): also serve the API and the inbox
// there while crawling (api_service.h).
int CmdCrawl(const GlobalOptions& global, bool once, std::ostream& out, std::ostream& err,
             bool force_due = false, const std::string& listen = "");
int CmdClassify(const GlobalOptions& global, const std::string& rules_dir,
                const std::string& orgs_dir, std::istream& in, std::ostream& out,
                std::ostream& err);
int CmdRulesCheck(const GlobalOptions& global, const std::string& rules_dir,
                  const std::string& orgs_dir, const std::string& sample_file, std::ostream& out,
                  std::ostream& err);
int CmdRulesEval(const GlobalOptions& global, const std::string& rules_dir,
                 const std::string& orgs_dir, const std::string& csv_file, std::ostream& out,
                 std::ostream& err);
int CmdRulesBacktest(const GlobalOptions& global, const std::string& rules_dir,
                     const std::string& orgs_dir, std::ostream& out, std::ostream& err);
// `rules dismissals`: current dismissals per routing rule and reason, most
// first (ThreadStore::DismissalsByRule).
int CmdRulesDismissals(const GlobalOptions& global, std::ostream& out, std::ostream& err);
// `demo`: serves the demo folder's sample posts, crawls them twice into a
// fresh database, then (unless `serve` is false) serves the API and the
// inbox on `listen` with a new admin user whose token it prints, until
// SIGINT or SIGTERM.
struct DemoOptions {
  std::string demo_dir;
  std::string listen = "127.0.0.1:8080";
  bool serve = true;
  bool open_browser = true;  // xdg-open the inbox when a display is present
};
int CmdDemo(const GlobalOptions& global, const DemoOptions& options, std::ostream& out,
            std::ostream& err);
// `publish`: one reply from a configured [[account]] to a stored post. Prints
// the reply's URL; exit 1 with the platform's message when it refuses or
// the answer is lost, 2 for bad input refused before anything is sent
// (unknown account or post, a body with personal identifiers, a post the
// account cannot answer).
struct PublishCommandOptions {
  std::string account;
  std::string post;             // PLATFORM:UID of a stored post
  std::string body;             // the reply, plain text
  std::string idempotency_key;  // empty: a random one
};
int CmdPublish(const GlobalOptions& global, const PublishCommandOptions& options, std::ostream& out,
               std::ostream& err);

// `users add`: prints the new bearer token as the last line, once. Exit 2
// for bad input (unknown role, organisation or region code, a name taken).
struct UsersAddOptions {
  std::string name;
  std::string role;
  std::vector<std::string> orgs;
  std::vector<std::string> regions;
  std::string orgs_dir;  // gazetteer to check codes against; empty: the default
};
int CmdUsersAdd(const GlobalOptions& global, const UsersAddOptions& options, std::ostream& out,
                std::ostream& err);
int CmdUsersList(const GlobalOptions& global, std::ostream& out, std::ostream& err);
int CmdUsersRevoke(const GlobalOptions& global, const std::string& name, std::ostream& out,
                   std::ostream& err);
// `threads list|show`, as the user named by `as` (empty: an admin).
struct ThreadsListOptions {
  std::string as;
  std::string org;     // empty: every organisation
  std::string status;  // empty: any state
  int limit = 50;
};
int CmdThreadsList(const GlobalOptions& global, const ThreadsListOptions& options,
                   std::ostream& out, std::ostream& err);
int CmdThreadsShow(const GlobalOptions& global, int64_t thread_id, const std::string& as,
                   std::ostream& out, std::ostream& err);
// `threads listening`: per organisation the user may read, threads, share
// answered and median time to first response, for organisations alerted in
// [from, to) (ISO 8601; empty: unbounded).
struct ThreadsListeningOptions {
  std::string as;
  std::string from;
  std::string to;
};
int CmdThreadsListening(const GlobalOptions& global, const ThreadsListeningOptions& options,
                        std::ostream& out, std::ostream& err);
// `threads note|reply|approve|publish|assign|status` (`action`), as the
// user named by `as` (empty: an implicit admin audited as "cli"). `reply`
// prints "draft ID ..." and one line per tone hint; `publish` prints the
// reply's URL, or where to answer on the platform, and exits 1 with the
// platform's message when it failed. Exit 2 for bad input (unknown thread,
// reply or user, an action the user may not take, missing approval).
struct ThreadActionOptions {
  std::string as;
  int64_t id = 0;  // thread id; reply id for approve and publish
  std::string org;
  std::string body;
  std::string to;
  std::string status;
  std::string reason;
};
int CmdThreadsAct(const GlobalOptions& global, const std::string& action,
                  const ThreadActionOptions& options, std::ostream& out, std::ostream& err);

}  // namespace earshot
