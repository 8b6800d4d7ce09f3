// The JSON API's cost per request over a store of many threads: ApiRoutes
// (authentication by token hash, Workflow's access checks, the scoped SQL
// query, JSON) against the bare SQLite read of the same rows in the same
// run. Prints JSON lines (bench/README.md). No HTTP: the transport is
// Beast's and measured elsewhere by nobody's need.
#include <sqlite3.h>

#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "crawler/core/decision.h"
#include "crawler/core/post.h"
#include "crawler/core/time_format.h"
#include "crawler/server/api_routes.h"
#include "crawler/store/sqlite/sqlite_store.h"
#include "crawler/threads/tokens.h"

namespace fs = std::filesystem;
using earshot::bench::BestOf;
using earshot::bench::Report;

namespace {

constexpr int kOrgs = 20;

std::string Org(int i) { return "R" + std::to_string(100 + i % kOrgs); }

earshot::Post MakePost(int i) {
  earshot::Post p;
  p.platform = i % 3 == 0 ? "feed" : "mastodon";
  p.id = p.uid = "post-" + std::to_string(i);
  p.url = "https://social.example/@a/" + p.id;
  p.author_handle = "@author" + std::to_string(i) + "@social.example";
  p.text = "Waited " + std::to_string(3 + i % 9) + " hours in A&E, visit " + p.id +
           ". Staff brilliant, system broken.";
  p.created_at = earshot::FromUnixSeconds(1790000000 + i * 60);
  p.fetched_at = p.created_at.value();
  p.content_hash = earshot::TokenHash(p.text);
  earshot::Decision org;
  org.kind = earshot::Decision::Kind::kOrg;
  org.value = Org(i);
  org.rule = "orgs-name";
  p.decisions.push_back(org);
  earshot::Decision topic;
  topic.kind = earshot::Decision::Kind::kTopic;
  topic.value = i % 2 ? "Timeliness of care" : "Staff manner & personal attributes";
  topic.detail = "Access";
  topic.rule = "topics-x";
  p.decisions.push_back(topic);
  earshot::Decision sentiment;
  sentiment.kind = earshot::Decision::Kind::kSentiment;
  sentiment.value = i % 4 ? "negative" : "positive";
  sentiment.rule = "sentiment";
  p.decisions.push_back(sentiment);
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int runs = quick ? 2 : 5;
  const int threads = quick ? 5000 : 20000;
  const int requests = quick ? 200 : 1000;

  const fs::path dir =
      fs::temp_directory_path() / ("earshot-bench-api-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "api.db").string();
  auto store = earshot::SqliteStore::Open(path, earshot::SqliteOptions{});
  if (!store.ok()) {
    std::cerr << store.status().ToString() << "\n";
    return 1;
  }
  for (int start = 0; start < threads; start += 1000) {
    earshot::SourceWrite w;
    w.source = "bench";
    for (int i = start; i < std::min(threads, start + 1000); ++i) w.posts.push_back(MakePost(i));
    if (!(*store)->Apply({w}).ok()) return 1;
  }
  earshot::SystemClock clock;
  auto add_user = [&](const std::string& name, earshot::Role role, std::vector<std::string> orgs) {
    earshot::User user;
    user.name = name;
    user.role = role;
    user.orgs = std::move(orgs);
    if (!(*store)->AddUser(user, earshot::TokenHash("token-" + name), "bench", clock.Now()).ok()) {
      std::abort();
    }
    return "Bearer token-" + name;
  };
  const std::string admin = add_user("ada", earshot::Role::kAdmin, {});
  const std::string responder = add_user("rita", earshot::Role::kResponder, {Org(0)});
  earshot::OrgPlaces places;
  earshot::ApiRoutes routes(**store, **store, clock, places);

  auto call = [&](const std::string& auth, const std::string& target) {
    earshot::ApiRequest request;
    request.method = "GET";
    request.target = target;
    request.authorization = auth;
    earshot::ApiResponse response = routes.Handle(request);
    if (response.status != 200) {
      std::cerr << target << ": " << response.status << " " << response.body << "\n";
      std::abort();
    }
    return response.body.size();
  };

  // The bare read a list page cannot do without: the newest 50 threads with
  // their opening posts' text, by one prepared statement on its own
  // connection.
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* page = nullptr;
  sqlite3_prepare_v2(db,
                     "SELECT t.id, p.text FROM threads t JOIN posts p ON p.id = t.root_post_id"
                     " ORDER BY t.id DESC LIMIT 50",
                     -1, &page, nullptr);
  size_t bare_bytes = 0;
  const double bare = BestOf(runs, [&] {
    for (int r = 0; r < requests; ++r) {
      while (sqlite3_step(page) == SQLITE_ROW) {
        bare_bytes += static_cast<size_t>(sqlite3_column_bytes(page, 1));
      }
      sqlite3_reset(page);
    }
  });

  struct Case {
    std::string name, auth, target;
  };
  const std::vector<Case> cases = {
      {"api_list_admin", admin, "/api/threads?limit=50"},
      {"api_list_responder_scoped", responder, "/api/threads?limit=50"},
      {"api_list_filtered", admin,
       "/api/threads?limit=50&platform=mastodon&sentiment=negative&topic=Timeliness%20of%20care"},
      {"api_list_search", admin, "/api/threads?limit=50&q=brilliant"},
      {"api_get_thread", admin, "/api/threads/7"},
      {"api_orgs", admin, "/api/orgs"},
      {"api_listening", admin, "/api/listening"},
  };
  for (const Case& c : cases) {
    size_t bytes = 0;
    const double seconds = BestOf(runs, [&] {
      for (int r = 0; r < requests; ++r) bytes += call(c.auth, c.target);
    });
    Report(c.name, requests, seconds, "sqlite_bare_page_of_50", bare,
           boost::json::object{{"threads_in_store", threads},
                               {"response_bytes", static_cast<int64_t>(bytes / runs / requests)}});
  }
  sqlite3_finalize(page);
  sqlite3_close(db);
  store->reset();
  fs::remove_all(dir);
  return 0;
}
