// `earshot run`, `earshot once` and `earshot demo`: the commands that crawl.
#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>

#include "classifiers/classifier.h"
#include "connectors/registry.h"
#include "crawler/cli/api_service.h"
#include "crawler/cli/cli.h"
#include "crawler/core/time_format.h"
#include "crawler/net/curl_transport.h"
#include "crawler/pipeline/classify_stage.h"
#include "crawler/pipeline/pipeline.h"
#include "crawler/schedule/engine.h"
#include "crawler/schedule/scheduler.h"
#include "crawler/server/fixture_server.h"
#include "crawler/store/sqlite/sqlite_store.h"
#include "crawler/threads/thread_store.h"
#include "crawler/threads/tokens.h"

namespace earshot {

Result<std::unique_ptr<SqliteStore>> OpenStore(const Config& config);
Result<std::shared_ptr<const Classifier>> LoadClassifier(const Config& config,
                                                         const std::string& rules_flag,
                                                         const std::string& orgs_flag);

namespace {

// Everything one crawl needs, wired in data-flow order. Owns the io_context
// so signal handling and the transport share its thread.
class Crawl {
 public:
  // Registers the configured sources in `store` and loads their state.
  // `force_due` makes every source due now (the demo's second pass).
  // Every post passes through `classifier` (redaction, classification,
  // relevance) before it is stored; `classifier` must outlive the Crawl.
  static Result<std::unique_ptr<Crawl>> Create(const Config& config, Store& store, bool force_due,
                                               const ClassifierHolder& classifier) {
    std::vector<ScheduledSource> sources;
    for (const SourceSpec& spec : config.sources) {
      const ConnectorDescriptor* connector = FindConnector(spec.connector);
      if (!connector) {
        return Status::InvalidArgument("source " + spec.name + ": unknown connector " +
                                       spec.connector);
      }
      EARSHOT_RETURN_IF_ERROR(store.UpsertSource(spec));
      auto record = store.GetSource(spec.name);
      if (!record.ok()) return record.status();
      SourceState state = record->state;
      if (force_due) state.next_poll_at.reset();
      sources.push_back({spec, connector, state});
    }
    auto crawl = std::unique_ptr<Crawl>(new Crawl(config, store, std::move(sources)));
    // Replies to threads we hold are kept whatever they say (SqliteStore
    // holds threads; another Store without them keeps the old behaviour).
    if (auto* threads = dynamic_cast<ThreadStore*>(&store)) {
      crawl->pipeline_.AddStage(
          std::make_unique<ClassifyStage>(classifier, AnswersHeldThread(*threads)));
    } else {
      crawl->pipeline_.AddStage(std::make_unique<ClassifyStage>(classifier));
    }
    return crawl;
  }

  Engine& engine() { return engine_; }
  Scheduler& scheduler() { return scheduler_; }
  boost::asio::io_context& io() { return io_; }

 private:
  Crawl(const Config& config, Store& store, std::vector<ScheduledSource> sources)
      : transport_(io_, config.http),
        pipeline_(store, clock_,
                  BatchOptions{.max_rows = config.batch_rows, .max_delay = config.batch_interval}),
        scheduler_(std::move(sources), clock_, transport_, pipeline_,
                   ScheduleOptions{
                       .jitter = config.jitter,
                       .backoff_initial = config.backoff_initial,
                       .backoff_max = config.backoff_max,
                       .per_host_concurrency = static_cast<int>(config.per_host_concurrency),
                       .per_host_min_delay = config.per_host_delay,
                       .max_pages_per_poll = static_cast<int>(config.max_pages_per_poll),
                       .conversation_schedule = config.conversation_schedule,
                   }),
        engine_(io_, clock_, transport_, scheduler_, pipeline_) {}

  boost::asio::io_context io_;
  SystemClock clock_;
  CurlTransport transport_;
  Pipeline pipeline_;
  Scheduler scheduler_;
  Engine engine_;
};

// One line per page on a terminal; failures are logged by the scheduler.
void ShowProgress(Scheduler& scheduler, std::ostream& err) {
  if (!isatty(STDERR_FILENO)) return;
  scheduler.SetEventListener([&err](const SourceEvent& e) {
    switch (e.kind) {
      case SourceEvent::Kind::kPage:
        err << "  " << e.source << ": " << e.http_status << " " << e.posts
            << (e.conversation ? " repl(ies) in a conversation" : " post(s)")
            << (e.caught_up ? "" : ", more pages waiting") << "\n";
        break;
      case SourceEvent::Kind::kNotModified:
        err << "  " << e.source << ": 304 not modified\n";
        break;
      case SourceEvent::Kind::kFailure:
        err << "  " << e.source << (e.conversation ? ": conversation" : "") << ": failed ("
            << SourceHealthName(e.health) << "): " << e.error.message() << "\n";
        break;
    }
  });
}

void PrintSummary(const RunSummary& s, std::ostream& out) {
  out << "polled " << s.sources_polled << " source(s): " << s.requests << " request(s), " << s.pages
      << " page(s), " << s.not_modified << " not modified, " << s.posts_stored << " new post(s), "
      << s.duplicates << " already stored, " << s.failures << " failure(s), " << s.quarantined
      << " body(ies) quarantined";
  // Only when they happened: most runs neither delete nor follow threads.
  if (s.posts_deleted > 0) out << ", " << s.posts_deleted << " post(s) deleted (tombstoned)";
  if (s.conversations > 0 || s.conversation_pages > 0) {
    out << ", " << s.conversations << " conversation(s) fetched (" << s.conversation_pages
        << " page(s))";
  }
  out << "\n";
}

}  // namespace

int CmdCrawl(const GlobalOptions& global, bool once, std::ostream& out, std::ostream& err,
             bool force_due, const std::string& listen) {
  const char* name = once ? "earshot once" : "earshot run";
  auto config = LoadEffectiveConfig(global);
  if (!config.ok()) {
    err << name << ": " << config.status().message() << "\n";
    return 2;
  }
  if (config->sources.empty()) {
    err << name << ": no sources configured (see config/earshot.example.toml)\n";
    return 2;
  }
  if (!listen.empty()) {
    if (auto address = ParseListen(listen); !address.ok()) {
      err << name << ": " << address.status().message() << "\n";
      return 2;
    }
  }
  auto store = OpenStore(*config);
  if (!store.ok()) {
    err << name << ": " << store.status().message() << "\n";
    return 1;
  }
  auto classifier = LoadClassifier(*config, "", "");
  if (!classifier.ok()) {
    err << name << ": " << classifier.status().message() << "\n";
    return 2;
  }
  ClassifierHolder holder(std::move(classifier).value());
  auto crawl = Crawl::Create(*config, **store, force_due, holder);
  if (!crawl.ok()) {
    err << name << ": " << crawl.status().message() << "\n";
    return 1;
  }
  Crawl& c = **crawl;
  // After the crawl's store has migrated the schema, so both connections
  // see the same one.
  std::unique_ptr<ApiService> api;
  if (!listen.empty()) {
    auto service = ApiService::Start(*config, listen);
    if (!service.ok()) {
      err << name << ": " << service.status().message() << "\n";
      return service.status().code() == StatusCode::kInvalidArgument ? 2 : 1;
    }
    api = std::move(service).value();
    out << "earshot: serving the API on " << api->BaseUrl() << "\n"
        << "earshot: inbox at " << api->BaseUrl() << "/" << std::endl;
  }
  if (!global.quiet) ShowProgress(c.scheduler(), err);
  boost::asio::signal_set signals(c.io(), SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("signal {}: finishing the pages in flight, then exiting", signal);
    c.engine().Stop();
    // A second signal cancels what is still in flight.
    signals.async_wait([&](const boost::system::error_code& ec2, int) {
      if (!ec2) c.engine().Stop();
    });
  });
  // SIGHUP reloads the rules and gazetteer; a bad set is refused and the
  // running one kept.
  boost::asio::signal_set reload(c.io(), SIGHUP);
  std::function<void(const boost::system::error_code&, int)> on_hup =
      [&](const boost::system::error_code& ec, int) {
        if (ec) return;
        if (Status st = holder.Reload(); st.ok()) {
          spdlog::info("rules reloaded: {}", holder.Get()->Versions());
        } else {
          spdlog::error("rules not reloaded, keeping the running set: {}", st.message());
        }
        reload.async_wait(on_hup);
      };
  reload.async_wait(on_hup);
  if (!once) {
    spdlog::info("crawling {} source(s) into {}; SIGINT or SIGTERM to stop", config->sources.size(),
                 config->store_path);
  }
  RunSummary summary = once ? c.engine().RunOnce() : c.engine().RunUntilStopped();
  signals.cancel();
  reload.cancel();
  if (api) api->Stop();
  PrintSummary(summary, out);
  if (!summary.status.ok()) {
    err << name << ": " << summary.status.message() << "\n";
    return 1;
  }
  return 0;
}

namespace {

// The demo's staff user: an admin, so every sample thread is visible.
// Returns its bearer token (the fresh database holds no other user).
Result<std::string> AddDemoUser(ThreadStore& threads) {
  Result<std::string> token = NewBearerToken();
  if (!token.ok()) return token.status();
  User user;
  user.name = "demo";
  user.role = Role::kAdmin;
  Result<int64_t> id =
      threads.AddUser(user, TokenHash(*token), "earshot demo", SystemClock().Now());
  if (!id.ok()) return id.status();
  return token;
}

// Asks the desktop to open `url` (xdg-open) when there is a display; the
// token is never passed. Best effort: the URL is printed either way. The
// child is not waited for (xdg-open hands over to the browser and exits; the
// zombie is reaped when the demo exits).
void OpenInBrowser(const std::string& url) {
  const char* display = std::getenv("DISPLAY");
  const char* wayland = std::getenv("WAYLAND_DISPLAY");
  if ((!display || !*display) && (!wayland || !*wayland)) return;
  std::vector<char*> argv = {const_cast<char*>("xdg-open"), const_cast<char*>(url.c_str()),
                             nullptr};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // The browser's chatter stays off the demo's output.
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  if (posix_spawnp(&pid, "xdg-open", &actions, nullptr, argv.data(), environ) != 0) {
    spdlog::debug("demo: xdg-open not available; open {} yourself", url);
  }
  posix_spawn_file_actions_destroy(&actions);
}

// Serves the API and inbox until SIGINT or SIGTERM.
int ServeDemo(const Config& config, const DemoOptions& options, ThreadStore& threads,
              std::ostream& out, std::ostream& err) {
  boost::asio::io_context signals_context;
  boost::asio::signal_set signals(signals_context, SIGINT, SIGTERM);
  signals.async_wait([](const boost::system::error_code&, int) {});
  auto token = AddDemoUser(threads);
  if (!token.ok()) {
    err << "earshot demo: " << token.status().message() << "\n";
    return 1;
  }
  auto service = ApiService::Start(config, options.listen);
  if (!service.ok()) {
    err << "earshot demo: " << service.status().message()
        << (service.status().code() == StatusCode::kInvalidArgument
                ? ""
                : " (another program may hold the port: try --listen 127.0.0.1:0)")
        << "\n";
    return service.status().code() == StatusCode::kInvalidArgument ? 2 : 1;
  }
  const std::string url = (*service)->BaseUrl() + "/";
  out << "\nThe web inbox is ready. Open it, sign in with the token below, and answer a post:\n"
      << "the demo's fake Mastodon takes the replies its organisations publish.\n"
      << "earshot: inbox at " << url << "\n"
      << "earshot: sign in with token " << *token << "\n"
      << "Ctrl-C stops the demo." << std::endl;
  if (options.open_browser) OpenInBrowser(url);
  signals_context.run();
  (*service)->Stop();
  out << "earshot: stopped" << std::endl;
  return 0;
}

}  // namespace

int CmdDemo(const GlobalOptions& global, const DemoOptions& options, std::ostream& out,
            std::ostream& err) {
  namespace fs = std::filesystem;
  const std::string& demo_dir = options.demo_dir;
  if (options.serve) {
    if (auto address = ParseListen(options.listen); !address.ok()) {
      err << "earshot demo: " << address.status().message() << "\n";
      return 2;
    }
  }
  auto routes = LoadFixtureRoutes(fs::path(demo_dir) / "routes.toml");
  if (!routes.ok()) {
    err << "earshot demo: " << routes.status().message() << "\n";
    return 2;
  }
  auto server = FixtureServer::Start(std::move(routes).value());
  if (!server.ok()) {
    err << "earshot demo: " << server.status().message() << "\n";
    return 1;
  }
  const std::string base = (*server)->BaseUrl();
  ::setenv("EARSHOT_DEMO_BASE", base.c_str(), 1);
  GlobalOptions demo_global = global;
  demo_global.config_path = (fs::path(demo_dir) / "earshot.toml").string();
  auto config = LoadEffectiveConfig(demo_global);
  if (!config.ok()) {
    err << "earshot demo: " << config.status().message() << "\n";
    return 2;
  }
  // A fresh database every time: the demo shows a first crawl.
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::error_code ec;
    fs::remove(config->store_path + suffix, ec);
  }
  auto store = OpenStore(*config);
  if (!store.ok()) {
    err << "earshot demo: " << store.status().message() << "\n";
    return 1;
  }
  auto classifier = LoadClassifier(*config, "", "");
  if (!classifier.ok()) {
    err << "earshot demo: " << classifier.status().message() << "\n";
    return 2;
  }
  ClassifierHolder holder(std::move(classifier).value());
  out << "earshot demo: sample sources served at " << base << "\n"
      << "crawling " << config->sources.size() << " source(s) into " << config->store_path
      << "\n\nfirst pass (empty database):\n";
  for (int pass = 0; pass < 2; ++pass) {
    if (pass == 1) {
      out << "\nsecond pass (a poll later: Mastodon asks for posts newer than its "
             "cursor, feeds answer 304 to the conditional GET):\n";
    }
    auto crawl = Crawl::Create(*config, **store, /*force_due=*/true, holder);
    if (!crawl.ok()) {
      err << "earshot demo: " << crawl.status().message() << "\n";
      return 1;
    }
    ShowProgress((*crawl)->scheduler(), err);
    RunSummary summary = (*crawl)->engine().RunOnce();
    PrintSummary(summary, out);
    if (!summary.status.ok()) {
      err << "earshot demo: " << summary.status.message() << "\n";
      return 1;
    }
  }
  out << "\nsources:\n";
  GlobalOptions view = demo_global;
  view.db_path = config->store_path;
  CmdSources(view, SourcesOptions{}, out, err);
  out << "\nnewest posts:\n";
  CmdPosts(view, "", 10, out, err);
  out << "\nThe demo database is " << config->store_path
      << "; explore it with:\n  earshot --config " << demo_global.config_path << " --db "
      << config->store_path << " posts --search \"waiting\"\n";
  int code = 0;
  if (options.serve) code = ServeDemo(*config, options, **store, out, err);
  (*server)->Stop();
  return code;
}

}  // namespace earshot
