// The bluesky connector through the built binary: `earshot parse` on every
// shared recording and on our own fixtures, `earshot once` paging a search
// with the stored watermark carried between runs, and Bluesky's RateLimit-*
// answers holding the source back until their reset.
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <cstdio>
#include <regex>

#include "crawler/core/clock.h"
#include "tests/integration/harness.h"
#include "tests/support/fixtures.h"

namespace earshot::integration {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using earshot::testing::Describe;
using earshot::testing::EarshotBinary;
using earshot::testing::RunProcess;

const std::string kSearch = "/xrpc/app.bsky.feed.searchPosts";

// One line of `earshot parse` output: the documented keys, a Bluesky post.
void CheckPostLine(const std::string& line) {
  INFO("line: " << line);
  json::error_code ec;
  json::value value = json::parse(line, ec);
  REQUIRE_FALSE(ec);
  REQUIRE(value.is_object());
  const json::object& post = value.as_object();
  for (const char* key : {"platform", "id", "url", "title", "author", "text", "reply_to",
                          "conversation", "language"}) {
    INFO("key " << key);
    REQUIRE(post.contains(key));
    CHECK(post.at(key).is_string());
  }
  CHECK(post.at("platform").as_string() == "bluesky");
  CHECK(post.at("id").as_string().starts_with("at://did:"));
  CHECK(post.at("url").as_string().starts_with("https://bsky.app/profile/"));
  REQUIRE(post.contains("created_at"));
  REQUIRE(post.at("created_at").is_string());
  static const std::regex kRfc3339Utc(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$)");
  CHECK(std::regex_match(std::string(post.at("created_at").as_string()), kRfc3339Utc));
}

TEST_CASE("bluesky parse: every shared recording through the binary", "[integration]") {
  EARSHOT_REQUIRE_SHARED(dir, "bluesky");
  const auto files = earshot::testing::FilesIn(*dir, {".json"});
  REQUIRE(files.size() >= 4);
  for (const fs::path& file : files) {
    INFO("file " << file);
    ProcessResult r =
        RunProcess({EarshotBinary(), "parse", "--connector", "bluesky", file.string()});
    INFO(Describe(r));
    REQUIRE(r.exit_code == 0);
    CHECK(r.err.empty());
    const auto lines = Lines(r.out);
    CHECK_FALSE(lines.empty());
    for (const std::string& line : lines) CheckPostLine(line);
  }
}

TEST_CASE("bluesky parse: our own fixtures give posts or a clean exit 2", "[integration]") {
  for (const fs::path& file :
       earshot::testing::FilesIn(earshot::testing::OwnFixture("bluesky"), {".json", ".html"})) {
    INFO("file " << file);
    ProcessResult r =
        RunProcess({EarshotBinary(), "parse", "--connector", "bluesky", file.string()});
    INFO(Describe(r));
    REQUIRE(r.term_signal == 0);
    REQUIRE((r.exit_code == 0 || r.exit_code == 2));
    if (r.exit_code == 2) {
      CHECK(r.out.empty());
      CHECK(r.err.find(file.string()) != std::string::npos);
    } else {
      for (const std::string& line : Lines(r.out)) CheckPostLine(line);
    }
  }
}

std::string Time(int minute) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "2026-11-21T10:%02d:00.000Z", minute);
  return buffer;
}

std::string PostUri(int n) {
  char buffer[80];
  std::snprintf(buffer, sizeof buffer,
                "at://did:plc:nhsintegration%04d/app.bsky.feed.post/3mpost%07d", n, n);
  return buffer;
}

// A postView for post `n`, written at minute `n` past ten; invented stories.
json::object PostView(int n) {
  const std::string did =
      "did:plc:nhsintegration" + std::string(4 - std::to_string(n).size(), '0') + std::to_string(n);
  json::object record{
      {"$type", "app.bsky.feed.post"},
      {"text",
       "Post " + std::to_string(n) + ": seen quickly at the Northern General walk-in centre."},
      {"createdAt", Time(n)},
      {"langs", json::array{"en"}},
  };
  return json::object{
      {"uri", PostUri(n)},
      {"cid", "bafyreiintegration" + std::to_string(1000 + n)},
      {"author",
       json::object{{"did", did}, {"handle", "patient" + std::to_string(n) + ".bsky.social"}}},
      {"record", std::move(record)},
      {"indexedAt", Time(n)},
  };
}

// A searchPosts answer with these posts (newest first) and a page cursor.
std::string SearchPage(const std::vector<int>& posts, const std::string& cursor = "") {
  json::array views;
  for (int n : posts) views.push_back(PostView(n));
  json::object page{{"posts", std::move(views)}};
  if (!cursor.empty()) page["cursor"] = cursor;
  return json::serialize(page);
}

std::vector<std::string> Uris(std::vector<int> posts) {
  std::vector<std::string> uris;
  for (int n : posts) uris.push_back(PostUri(n));
  std::sort(uris.begin(), uris.end());
  return uris;
}

const char* const kSource = R"(
[[source]]
name = "bsky"
connector = "bluesky"
url = "{{base}}"
query = "nhs"
limit = 2
overlap = "1m"
interval = "1m"
)";

TEST_CASE("bluesky once: the watermark carries over and a backlog is paged", "[integration]") {
  const std::string first_poll = kSearch + "?q=nhs&sort=latest&limit=2";
  const std::string since_2 = first_poll + "&since=2026-11-21T10%3A02%3A00Z";
  const std::string since_5 = first_poll + "&since=2026-11-21T10%3A05%3A00Z";
  Sandbox box({
      JsonRoute(first_poll, SearchPage({3, 2}, "2")),
      JsonRoute(since_2, SearchPage({6, 5}, "2")),
      JsonRoute(since_2 + "&cursor=2", SearchPage({4, 3}, "4")),
      JsonRoute(since_2 + "&cursor=4", SearchPage({2})),
      JsonRoute(since_5, SearchPage({6, 5})),
  });
  box.WriteConfig(kSource);

  // First poll: the newest page only; its newest time is the watermark.
  ProcessResult first = box.Earshot({"once"});
  INFO(Describe(first));
  REQUIRE(first.exit_code == 0);
  CHECK(first.out.find("2 new post(s)") != std::string::npos);
  {
    auto store = box.OpenStore();
    CHECK(SourceNamed(*store, "bsky").state.cursor.cursor == "2026-11-21T10:03:00Z");
  }

  // Second poll: since the watermark less the overlap, every page of it.
  ProcessResult second = box.Earshot({"once", "--force"});
  INFO(Describe(second));
  REQUIRE(second.exit_code == 0);
  CHECK(second.out.find("3 new post(s), 2 already stored") != std::string::npos);
  {
    auto store = box.OpenStore();
    const SourceRecord r = SourceNamed(*store, "bsky");
    CHECK(r.state.cursor.cursor == "2026-11-21T10:06:00Z");
    CHECK(r.state.health == SourceHealth::kOk);
    CHECK(PostIds(*store, "bsky") == Uris({2, 3, 4, 5, 6}));
  }

  // Third poll: caught up; the overlap brings back what is already stored.
  ProcessResult third = box.Earshot({"once", "--force"});
  INFO(Describe(third));
  REQUIRE(third.exit_code == 0);
  CHECK(third.out.find("0 new post(s), 2 already stored") != std::string::npos);

  std::vector<std::string> targets;
  for (const RecordedRequest& request : RequestsTo(box.server(), kSearch)) {
    targets.push_back(request.target);
    CHECK(HeaderOf(request, "Authorization").empty());  // no credentials: anonymous
  }
  CHECK(targets == std::vector<std::string>{first_poll, since_2, since_2 + "&cursor=2",
                                            since_2 + "&cursor=4", since_5});
  auto store = box.OpenStore();
  const SourceRecord r = SourceNamed(*store, "bsky");
  CHECK(r.state.cursor.cursor == "2026-11-21T10:06:00Z");
  CHECK(r.state.posts_total == 5);
  auto stored = store->FindPost("bluesky", PostUri(4));
  REQUIRE(stored.ok());
  REQUIRE(stored->has_value());
  CHECK((*stored)->post.ref.find("bafyreiintegration1004") != std::string::npos);
}

TEST_CASE("bluesky once: a 429 waits for RateLimit-Reset", "[integration]") {
  const TimePoint before = SystemClock().Now();
  const int64_t reset = ToUnixMillis(before) / 1000 + 120;
  FixtureRoute limited =
      JsonRoute(kSearch, R"({"error":"RateLimitExceeded","message":"Rate Limit Exceeded"})", 429);
  limited.headers.emplace_back("RateLimit-Limit", "3000");
  limited.headers.emplace_back("RateLimit-Remaining", "0");
  limited.headers.emplace_back("RateLimit-Reset", std::to_string(reset));
  limited.headers.emplace_back("RateLimit-Policy", "3000;w=300");
  Sandbox box({limited});
  box.WriteConfig(kSource);

  ProcessResult r = box.Earshot({"once"});
  const TimePoint after = SystemClock().Now();
  INFO(Describe(r));
  REQUIRE(r.exit_code == 0);
  CHECK(after - before < std::chrono::seconds(10));  // `once` does not sit out the wait
  auto store = box.OpenStore();
  const SourceRecord source = SourceNamed(*store, "bsky");
  INFO(source.state.last_error);
  CHECK(source.state.health == SourceHealth::kRateLimited);
  CHECK(source.state.last_error.find("429") != std::string::npos);
  REQUIRE(source.state.next_poll_at.has_value());
  CHECK(*source.state.next_poll_at >= FromUnixSeconds(reset) - std::chrono::seconds(1));
  CHECK(*source.state.next_poll_at <= FromUnixSeconds(reset) + std::chrono::seconds(1));
  CHECK(source.state.cursor.cursor.empty());
}

TEST_CASE("bluesky once: a spent allowance on a good page delays the next poll", "[integration]") {
  const TimePoint before = SystemClock().Now();
  const int64_t reset = ToUnixMillis(before) / 1000 + 300;
  FixtureRoute page = JsonRoute(kSearch, SearchPage({3, 2}));
  page.headers.emplace_back("ratelimit-limit", "3000");
  page.headers.emplace_back("ratelimit-remaining", "0");
  page.headers.emplace_back("ratelimit-reset", std::to_string(reset));
  Sandbox box({page});
  box.WriteConfig(kSource);

  ProcessResult r = box.Earshot({"once"});
  INFO(Describe(r));
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("2 new post(s)") != std::string::npos);
  auto store = box.OpenStore();
  const SourceRecord source = SourceNamed(*store, "bsky");
  CHECK(source.state.health == SourceHealth::kOk);
  REQUIRE(source.state.next_poll_at.has_value());
  // Not the 1-minute interval: the reset, 5 minutes away.
  CHECK(*source.state.next_poll_at >= FromUnixSeconds(reset) - std::chrono::seconds(1));
}

}  // namespace
}  // namespace earshot::integration
