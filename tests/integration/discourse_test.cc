// The discourse connector through the built binary: `once` against the local
// fixture server (first page, then a walk back through a busy spell with the
// cursor carried between runs; the API key sent but never logged), the
// platform's 429 dialect, and `earshot parse` on every shared recording and on
// our own fixtures.
#include <algorithm>
#include <catch2/catch.hpp>
#include <set>

#include "crawler/core/time_format.h"
#include "tests/integration/harness.h"
#include "tests/support/fixtures.h"

namespace earshot::integration {
namespace {

namespace fs = std::filesystem;
using earshot::testing::Describe;
using earshot::testing::EarshotBinary;
using earshot::testing::RunProcess;

// A /posts.json answer with posts newest..oldest (ids), as Discourse sends
// them: newest first, in two topics, invented people and stories.
std::string LatestPosts(int newest, int oldest) {
  std::string body = R"({"latest_posts":[)";
  for (int id = newest; id >= oldest; --id) {
    if (id != newest) body += ",";
    const std::string n = std::to_string(id);
    const int topic = id % 2 ? 71 : 72;
    body += R"({"id":)" + n + R"(,"name":"Member )" + n + R"(","username":"member)" + n +
            R"(","created_at":"2026-03-02T09:00:00.000Z","cooked":"<p>Post )" + n +
            R"( about the outpatients clinic.</p>","post_number":)" + n +
            R"(,"post_type":1,"reply_to_post_number":null,"topic_id":)" + std::to_string(topic) +
            R"(,"topic_slug":"outpatients","topic_title":"Outpatients","hidden":false,)"
            R"("deleted_at":null,"user_deleted":false})";
  }
  return body + "]}";
}

std::set<std::string> IdRange(int newest, int oldest) {
  std::set<std::string> ids;
  for (int id = newest; id >= oldest; --id) ids.insert(std::to_string(id));
  return ids;
}

std::set<std::string> StoredIds(Store& store, const std::string& source) {
  std::vector<std::string> ids = PostIds(store, source);
  return {ids.begin(), ids.end()};
}

const char* const kForumSource = R"(
[[source]]
name = "forum"
connector = "discourse"
url = "{{base}}/community"
api_key = "${EARSHOT_TEST_DISCOURSE_KEY}"
api_username = "riverside_nhs"
interval = "1m"
)";

const std::string kKey = "discourse-key-7c1f0e";

ProcessOptions WithKey() {
  ProcessOptions options;
  options.env["EARSHOT_TEST_DISCOURSE_KEY"] = kKey;
  return options;
}

TEST_CASE("discourse: once reads the newest page, then walks back to its cursor",
          "[integration][discourse]") {
  Sandbox box({JsonRoute("/community/posts.json", LatestPosts(150, 101))});
  box.WriteConfig(kForumSource);

  ProcessResult first = box.Earshot({"once"}, WithKey());
  INFO(Describe(first));
  REQUIRE(first.exit_code == 0);
  {
    auto store = box.OpenStore();
    CHECK(StoredIds(*store, "forum") == IdRange(150, 101));
    CHECK(SourceNamed(*store, "forum").state.cursor.cursor == "150");
    const auto posts = AllPosts(*store);
    REQUIRE(!posts.empty());
    const Post& p = posts.front().post;
    CHECK(p.platform == "discourse");
    CHECK(p.uid == "127.0.0.1/p/" + p.id);
    CHECK(p.url.rfind(box.base() + "/community/t/outpatients/", 0) == 0);
    CHECK(!p.ref.empty());
  }

  // 180 posts later: the newest page, then three pages back with `before`
  // until a page reaches post 150; the cursor then names the newest post.
  box.server().SetRoutes({
      JsonRoute("/community/posts.json", LatestPosts(330, 281)),
      JsonRoute("/community/posts.json?before=281", LatestPosts(280, 231)),
      JsonRoute("/community/posts.json?before=231", LatestPosts(230, 181)),
      JsonRoute("/community/posts.json?before=181", LatestPosts(180, 131)),
  });
  ProcessResult second = box.Earshot({"once", "--force"}, WithKey());
  INFO(Describe(second));
  REQUIRE(second.exit_code == 0);
  CHECK(second.out.find("180 new post(s)") != std::string::npos);

  const auto requests = RequestsTo(box.server(), "/community/posts.json");
  std::vector<std::string> targets;
  for (const RecordedRequest& r : requests) targets.push_back(r.target);
  CHECK(targets == std::vector<std::string>{"/community/posts.json", "/community/posts.json",
                                            "/community/posts.json?before=281",
                                            "/community/posts.json?before=231",
                                            "/community/posts.json?before=181"});
  for (const RecordedRequest& r : requests) {
    CHECK(HeaderOf(r, "Api-Key") == kKey);
    CHECK(HeaderOf(r, "Api-Username") == "riverside_nhs");
  }
  CHECK(first.out.find(kKey) == std::string::npos);
  CHECK(first.err.find(kKey) == std::string::npos);
  CHECK(second.out.find(kKey) == std::string::npos);
  CHECK(second.err.find(kKey) == std::string::npos);

  auto store = box.OpenStore();
  CHECK(StoredIds(*store, "forum") == IdRange(330, 101));
  const SourceRecord record = SourceNamed(*store, "forum");
  CHECK(record.state.cursor.cursor == "330");
  CHECK(record.state.health == SourceHealth::kOk);
  CHECK(record.state.posts_total == 230);
}

TEST_CASE("discourse: a walk cut short resumes from the stored cursor",
          "[integration][discourse]") {
  Sandbox box({JsonRoute("/community/posts.json", LatestPosts(150, 101))});
  box.WriteConfig(kForumSource);
  // One page per poll: the walk must survive between runs in its cursor.
  std::string config = earshot::testing::ReadFile(box.config());
  const std::string table = "[schedule]\n";
  REQUIRE(config.find(table) != std::string::npos);
  config.insert(config.find(table) + table.size(), "max_pages_per_poll = 1\n");
  earshot::testing::WriteFile(box.config(), config);

  REQUIRE(box.Earshot({"once"}, WithKey()).exit_code == 0);
  box.server().SetRoutes({
      JsonRoute("/community/posts.json", LatestPosts(230, 181)),
      JsonRoute("/community/posts.json?before=181", LatestPosts(180, 131)),
  });
  ProcessResult cut = box.Earshot({"once", "--force"}, WithKey());
  INFO(Describe(cut));
  REQUIRE(cut.exit_code == 0);
  {
    auto store = box.OpenStore();
    CHECK(SourceNamed(*store, "forum").state.cursor.cursor == "230;before=181;stop=150");
    CHECK(StoredIds(*store, "forum").size() == 100);
  }
  ProcessResult resumed = box.Earshot({"once", "--force"}, WithKey());
  INFO(Describe(resumed));
  REQUIRE(resumed.exit_code == 0);
  auto store = box.OpenStore();
  CHECK(SourceNamed(*store, "forum").state.cursor.cursor == "230");
  CHECK(StoredIds(*store, "forum") == IdRange(230, 101));
}

TEST_CASE("discourse: a 429 in Discourse's dialect holds the source back",
          "[integration][discourse]") {
  SECTION("Retry-After and the Discourse error code") {
    FixtureRoute limited = JsonRoute(
        "/community/posts.json",
        earshot::testing::ReadFile(earshot::testing::OwnFixture("discourse/error_rate_limit.json")),
        429);
    limited.headers.emplace_back("Retry-After", "120");
    limited.headers.emplace_back("Discourse-Rate-Limit-Error-Code", "ip_10_secs_limit");
    Sandbox box({limited});
    box.WriteConfig(kForumSource);
    const TimePoint before = SystemClock().Now();
    ProcessResult r = box.Earshot({"once"}, WithKey());
    const TimePoint after = SystemClock().Now();
    INFO(Describe(r));
    REQUIRE(r.exit_code == 0);
    auto store = box.OpenStore();
    const SourceRecord record = SourceNamed(*store, "forum");
    CHECK(record.state.health == SourceHealth::kRateLimited);
    CHECK(record.state.last_error.find("429") != std::string::npos);
    REQUIRE(record.state.next_poll_at.has_value());
    CHECK(*record.state.next_poll_at >= before + std::chrono::seconds(119));
    CHECK(*record.state.next_poll_at <= after + std::chrono::seconds(121));
  }
  SECTION("only the body's wait_seconds, anchored on the Date header") {
    const TimePoint now = SystemClock().Now();
    FixtureRoute limited = JsonRoute("/community/posts.json",
                                     R"({"errors":["Slow down"],"error_type":"rate_limit",)"
                                     R"("extras":{"wait_seconds":600,"time_left":"10 minutes"}})",
                                     429);
    limited.headers.emplace_back("Date", FormatHttpDate(now));
    Sandbox box({limited});
    box.WriteConfig(kForumSource);
    ProcessResult r = box.Earshot({"once"}, WithKey());
    INFO(Describe(r));
    REQUIRE(r.exit_code == 0);
    auto store = box.OpenStore();
    const SourceRecord record = SourceNamed(*store, "forum");
    CHECK(record.state.health == SourceHealth::kRateLimited);
    REQUIRE(record.state.next_poll_at.has_value());
    // The backoff without a time would be 30s; the body says ten minutes.
    CHECK(*record.state.next_poll_at >= now + std::chrono::seconds(598));
    CHECK(*record.state.next_poll_at <= now + std::chrono::seconds(660));
  }
}

TEST_CASE("parse: every shared Discourse recording through the binary",
          "[integration][discourse]") {
  EARSHOT_REQUIRE_SHARED(dir, "discourse");
  const auto files = earshot::testing::FilesIn(*dir, {".json"});
  REQUIRE(!files.empty());
  for (const fs::path& file : files) {
    INFO("file " << file);
    ProcessResult r = RunProcess({EarshotBinary(), "parse", "--connector", "discourse", "--url",
                                  "https://try.discourse.org", file.string()});
    INFO(Describe(r));
    REQUIRE(r.exit_code == 0);
    const auto lines = Lines(r.out);
    CHECK(lines.size() >= 3);
    for (const std::string& line : lines) {
      CHECK(line.find("\"platform\":\"discourse\"") != std::string::npos);
      CHECK(line.find("\"url\":\"https://try.discourse.org/t/") != std::string::npos);
    }
  }
}

TEST_CASE("parse: our own Discourse fixtures give posts or a clean exit 2",
          "[integration][discourse]") {
  for (const fs::path& file :
       earshot::testing::FilesIn(earshot::testing::OwnFixture("discourse"), {".json", ".txt"})) {
    INFO("file " << file);
    ProcessResult r =
        RunProcess({EarshotBinary(), "parse", "--connector", "discourse", file.string()});
    INFO(Describe(r));
    REQUIRE(r.term_signal == 0);
    REQUIRE((r.exit_code == 0 || r.exit_code == 2));
    if (r.exit_code == 2) {
      CHECK(r.out.empty());
      CHECK(r.err.find(file.string()) != std::string::npos);
    }
  }
}

}  // namespace
}  // namespace earshot::integration
