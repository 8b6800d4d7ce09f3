// The json connector through the built binary: `config check` on the shipped
// examples (config/examples), then each example's own mapping run with
// `earshot once` against the fixture server serving our hand-written bodies
// in the APIs' documented shapes (tests/fixtures/json): the cursor carried
// from poll to poll, a newest-first walk over two pages, a 429 in the
// generic rate-limit dialect, and `parse --source` with a mapping.
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "crawler/core/clock.h"
#include "tests/integration/harness.h"
#include "tests/support/fixtures.h"

namespace earshot::integration {
namespace {

namespace fs = std::filesystem;
using earshot::testing::Describe;
using earshot::testing::EarshotBinary;
using earshot::testing::ReadFile;
using earshot::testing::RunProcess;

constexpr int64_t kT = 1795000000;  // the HN fixtures' base time

fs::path Example(const std::string& name) {
  return fs::path(EARSHOT_SOURCE_DIR) / "config" / "examples" / name;
}

std::string OwnJson(const std::string& name) {
  return ReadFile(earshot::testing::OwnFixture("json/" + name));
}

// The example's text with its API origin replaced by the fixture server's.
std::string ExampleAgainst(const std::string& name, const std::string& origin) {
  std::string text = ReadFile(Example(name));
  size_t replaced = 0;
  for (size_t pos = text.find(origin); pos != std::string::npos; pos = text.find(origin, pos)) {
    text.replace(pos, origin.size(), "{{base}}");
    ++replaced;
  }
  REQUIRE(replaced > 0);
  return text;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::vector<std::string> Targets(const FixtureServer& server, const std::string& path) {
  std::vector<std::string> targets;
  for (const RecordedRequest& r : RequestsTo(server, path)) targets.push_back(r.target);
  return targets;
}

TEST_CASE("json: config check accepts the shipped examples and names a bad mapping's key",
          "[integration]") {
  for (const auto& [file, count] :
       {std::pair<std::string, std::string>{"hackernews.toml", "2"}, {"lemmy.toml", "1"}}) {
    ProcessResult check =
        RunProcess({EarshotBinary(), "--config", Example(file).string(), "config", "check"});
    INFO(Describe(check));
    CHECK(check.exit_code == 0);
    CHECK(Contains(check.out, "OK, " + count + " source(s)"));
    CHECK(Contains(check.out, "(json "));
  }

  Sandbox box({});
  box.WriteConfig(R"(
[[source]]
name = "hn-typo"
connector = "json"
url = "https://hn.algolia.com/api/v1/search_by_date?query=NHS&numericFilters=created_at_i%3E{cursor}"
cursor_from = "max_created_at"
items = "/hits"
id = "/objectID"
text = "/comment_text"
created_at = "created_at_i"
)");
  ProcessResult bad = box.Earshot({"config", "check"});
  INFO(Describe(bad));
  CHECK(bad.exit_code == 2);
  CHECK(Contains(bad.err, box.config().string() + ":21:14: source \"hn-typo\" (connector json): "
                                                  "`created_at`: \"created_at_i\" is not a JSON "
                                                  "pointer: write \"/created_at_i\""));
  CHECK(bad.out.empty());
}

TEST_CASE("json: the Hacker News example carries its cursor across polls and waits out a 429",
          "[integration]") {
  const std::string search = "/api/v1/search_by_date?query=NHS&tags=";
  const std::string stories = search + "story&hitsPerPage=100&numericFilters=created_at_i%3E";
  const std::string comments = search + "comment&hitsPerPage=100&numericFilters=created_at_i%3E";
  // The rate limit in the generic dialect: remaining 0 until an epoch reset
  // five minutes away (later than its Retry-After, so the reset decides).
  const int64_t reset_at = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count() +
                           300;
  FixtureRoute limited = JsonRoute(comments + std::to_string(kT + 700 - 120),
                                   R"({"message":"Too many requests","status":429})", 429);
  limited.headers.emplace_back("Retry-After", "60");
  limited.headers.emplace_back("X-RateLimit-Limit", "10000");
  limited.headers.emplace_back("X-RateLimit-Remaining", "0");
  limited.headers.emplace_back("X-RateLimit-Reset", std::to_string(reset_at));
  Sandbox box({
      JsonRoute(stories + "0", OwnJson("hn_stories_page1.json")),
      JsonRoute(comments + "0", OwnJson("hn_comments_page1.json")),
      JsonRoute(stories + std::to_string(kT + 300 - 120), OwnJson("hn_stories_page2.json")),
      limited,
  });
  box.WriteConfig(ExampleAgainst("hackernews.toml", "https://hn.algolia.com"));

  ProcessResult first = box.Earshot({"once"});
  INFO(Describe(first));
  REQUIRE(first.exit_code == 0);
  CHECK(Contains(first.out, "6 new post(s)"));
  {
    auto store = box.OpenStore();
    CHECK(SourceNamed(*store, "hn-nhs-stories").state.cursor.cursor == std::to_string(kT + 300));
    CHECK(SourceNamed(*store, "hn-nhs-comments").state.cursor.cursor == std::to_string(kT + 700));
  }

  const TimePoint before = SystemClock().Now();
  ProcessResult second = box.Earshot({"once", "--force"});
  INFO(Describe(second));
  REQUIRE(second.exit_code == 0);
  CHECK(Contains(second.out, "2 new post(s), 1 already stored"));

  // Each poll asked from its stored cursor, less the two-minute overlap.
  CHECK(Targets(box.server(), search + "story") ==
        std::vector<std::string>{stories + "0", stories + std::to_string(kT + 180)});
  CHECK(Targets(box.server(), search + "comment") ==
        std::vector<std::string>{comments + "0", comments + std::to_string(kT + 580)});
  for (const RecordedRequest& r : box.server().Requests()) {
    CHECK(HeaderOf(r, "Accept") == "application/json");
  }

  auto store = box.OpenStore();
  const SourceRecord s = SourceNamed(*store, "hn-nhs-stories");
  CHECK(s.state.health == SourceHealth::kOk);
  CHECK(s.state.cursor.cursor == std::to_string(kT + 900));
  CHECK(PostIds(*store, "hn-nhs-stories") ==
        std::vector<std::string>{"46100001", "46100002", "46100003", "46100004", "46100005"});

  const SourceRecord c = SourceNamed(*store, "hn-nhs-comments");
  INFO("last_error: " << c.state.last_error);
  CHECK(c.state.health == SourceHealth::kRateLimited);
  CHECK(c.state.cursor.cursor == std::to_string(kT + 700));  // kept
  CHECK(Contains(c.state.last_error, "429"));
  REQUIRE(c.state.next_poll_at.has_value());
  CHECK(*c.state.next_poll_at >= before + std::chrono::seconds(290));
  CHECK(*c.state.next_poll_at <= FromUnixSeconds(reset_at) + std::chrono::seconds(2));

  for (const StoredPost& p : AllPosts(*store)) {
    INFO(p.post.id);
    CHECK(p.post.platform == "json");
    CHECK(p.post.uid == "hn:" + p.post.id);
    CHECK(p.post.url == "https://news.ycombinator.com/item?id=" + p.post.id);
    if (p.source == "hn-nhs-comments" && p.post.id == "46100012") {
      CHECK(p.post.reply_to == "46100002");
      CHECK(p.post.conversation == "46100002");
      CHECK(p.post.text ==
            "The figures hide the people waiting for a bed on the ward & in corridors.");
    }
  }
}

TEST_CASE("json: the Lemmy example reads the newest page, then walks back two pages",
          "[integration]") {
  const std::string top =
      "/api/v3/post/list?community_name=unitedkingdom&type_=All&sort=New&limit=50";
  Sandbox box({
      // The same target answers in order: the first poll, then the second.
      JsonRoute(top, OwnJson("lemmy_post_list_page1.json")),
      JsonRoute(top, OwnJson("lemmy_post_list_page2.json")),
      JsonRoute(top + "&page_cursor=Pa1012", OwnJson("lemmy_post_list_page3.json")),
  });
  box.WriteConfig(ExampleAgainst("lemmy.toml", "https://feddit.uk"));

  ProcessResult first = box.Earshot({"once"});
  INFO(Describe(first));
  REQUIRE(first.exit_code == 0);
  CHECK(Contains(first.out, "3 new post(s)"));
  std::string watermark;
  {
    auto store = box.OpenStore();
    watermark = SourceNamed(*store, "lemmy-unitedkingdom").state.cursor.cursor;
    CHECK(watermark.rfind("w=", 0) == 0);
  }

  ProcessResult second = box.Earshot({"once", "--force"});
  INFO(Describe(second));
  REQUIRE(second.exit_code == 0);
  // 990, the pinned rules post, has no health context: the relevance stage
  // drops it, so two of the three new posts are stored.
  CHECK(Contains(second.out, "2 new post(s), 2 already stored"));
  CHECK(Targets(box.server(), "/api/v3/post/list") ==
        std::vector<std::string>{top, top, top + "&page_cursor=Pa1012"});

  auto store = box.OpenStore();
  const SourceRecord l = SourceNamed(*store, "lemmy-unitedkingdom");
  CHECK(l.state.health == SourceHealth::kOk);
  // The walk is over: the newest post seen is the new watermark.
  CHECK(l.state.cursor.cursor.rfind("w=", 0) == 0);
  CHECK(l.state.cursor.cursor.find("&p=") == std::string::npos);
  CHECK(l.state.cursor.cursor > watermark);
  // Deleted and removed posts never become posts.
  CHECK(PostIds(*store, "lemmy-unitedkingdom") ==
        std::vector<std::string>{"1008", "1009", "1010", "1012", "1014"});
  for (const StoredPost& p : AllPosts(*store)) {
    CHECK(p.post.uid == p.post.url);  // the ActivityPub id
    CHECK(p.post.author_handle.rfind("https://", 0) == 0);
  }
}

TEST_CASE("json: parse --source reads a saved body with the source's mapping", "[integration]") {
  const fs::path file = earshot::testing::OwnFixture("json/hn_comments_page1.json");
  ProcessResult parsed =
      RunProcess({EarshotBinary(), "--config", Example("hackernews.toml").string(), "parse",
                  "--connector", "json", "--source", "hn-nhs-comments", file.string()});
  INFO(Describe(parsed));
  CHECK(parsed.exit_code == 0);
  CHECK(Lines(parsed.out).size() == 3);
  CHECK(Contains(parsed.out, "\"id\":\"46100012\""));
  CHECK(Contains(parsed.out, "\"reply_to\":\"46100002\""));
  CHECK(parsed.err.empty());

  // Without a mapping the connector says what is missing.
  ProcessResult bare = RunProcess({EarshotBinary(), "parse", "--connector", "json", file.string()});
  INFO(Describe(bare));
  CHECK(bare.exit_code == 2);
  CHECK(Contains(bare.err, "`url`: is required"));

  ProcessResult wrong =
      RunProcess({EarshotBinary(), "--config", Example("hackernews.toml").string(), "parse",
                  "--connector", "feed", "--source", "hn-nhs-comments", file.string()});
  CHECK(wrong.exit_code == 2);
  CHECK(Contains(wrong.err, "uses connector \"json\", not \"feed\""));
  ProcessResult missing =
      RunProcess({EarshotBinary(), "--config", Example("hackernews.toml").string(), "parse",
                  "--connector", "json", "--source", "nope", file.string()});
  CHECK(missing.exit_code == 2);
  CHECK(Contains(missing.err, "no [[source]] named \"nope\""));

  // Every hostile fixture: posts or a clean exit 2, never a crash.
  for (const fs::path& hostile :
       earshot::testing::FilesIn(earshot::testing::OwnFixture("json"), {".json", ".html"})) {
    ProcessResult r =
        RunProcess({EarshotBinary(), "--config", Example("hackernews.toml").string(), "parse",
                    "--connector", "json", "--source", "hn-nhs-comments", hostile.string()});
    INFO(hostile.filename().string() << "\n" << Describe(r));
    CHECK((r.exit_code == 0 || r.exit_code == 2));
    if (r.exit_code == 2) CHECK(Contains(r.err, hostile.filename().string()));
  }
}

}  // namespace
}  // namespace earshot::integration
