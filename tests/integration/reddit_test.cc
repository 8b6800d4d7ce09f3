// The reddit connector through the built binary: `earshot parse` on every
// shared recording and our own fixtures, `earshot once` walking two pages
// of a subreddit's /new listing with the cursor carried between runs, and
// Reddit's rate-limit headers (a float remaining, a reset in seconds from
// the Date header) holding the source back.
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <regex>

#include "crawler/core/time_format.h"
#include "tests/integration/harness.h"
#include "tests/support/fixtures.h"

namespace earshot::integration {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using earshot::testing::Describe;
using earshot::testing::EarshotBinary;
using earshot::testing::RunProcess;

const std::string kNew = "/r/nhs/new.json";
const std::string kUserAgent = "server:earshot-integration:1.0 (by /u/earshot_test)";

// Base-36 ids of one width order like their numbers.
std::string PostName(int n) {
  std::string digits = std::to_string(n);
  return "t3_1h" + std::string(5 - digits.size(), '0') + digits;
}

// A /new Listing of the posts `last` down to `first` (newest first), with
// `after` naming the next page when it is not empty. Invented people and
// stories.
std::string Listing(int first, int last, const std::string& after = "") {
  json::array children;
  for (int n = last; n >= first; --n) {
    const std::string name = PostName(n);
    const std::string id = name.substr(3);
    json::object data{
        {"name", name},
        {"id", id},
        {"title", "Post " + std::to_string(n) + ": the walk-in centre at Northern General"},
        {"selftext", "Seen within the hour by a lovely nurse (story " + std::to_string(n) + ")."},
        {"selftext_html", nullptr},
        {"author", "carer_" + std::to_string(n)},
        {"created_utc", 1790000000.0 + n},
        {"permalink", "/r/nhs/comments/" + id + "/post_" + std::to_string(n) + "/"},
        {"url", "https://www.reddit.com/r/nhs/comments/" + id + "/post_" + std::to_string(n) + "/"},
        {"is_self", true},
        {"removed_by_category", nullptr},
    };
    children.push_back(json::object{{"kind", "t3"}, {"data", std::move(data)}});
  }
  json::object data{{"children", std::move(children)}, {"before", nullptr}};
  data["after"] = after.empty() ? json::value(nullptr) : json::value(after);
  return json::serialize(json::object{{"kind", "Listing"}, {"data", std::move(data)}});
}

// The token endpoint, for when the engine signs sources in (AuthCapability).
FixtureRoute TokenRoute() {
  return JsonRoute("/api/v1/access_token",
                   R"({"access_token": "integration-token", "token_type": "bearer", )"
                   R"("expires_in": 86400, "scope": "*"})");
}

std::string SourceConfig(const std::string& name, int limit) {
  return R"(
[[source]]
name = ")" +
         name + R"("
connector = "reddit"
url = "{{base}}"
token_url = "{{base}}/api/v1/access_token"
client_id = "integration-app"
client_secret = "integration-secret"
user_agent = ")" +
         kUserAgent +
         R"("
subreddit = "nhs"
limit = )" +
         std::to_string(limit) +
         R"(
interval = "1m"
)";
}

std::vector<std::string> SortedNames(int first, int last) {
  std::vector<std::string> names;
  for (int n = first; n <= last; ++n) names.push_back(PostName(n));
  std::sort(names.begin(), names.end());
  return names;
}

void CheckParseLine(const std::string& line) {
  INFO("line: " << line);
  json::error_code ec;
  json::value v = json::parse(line, ec);
  REQUIRE(!ec);
  REQUIRE(v.is_object());
  const json::object& o = v.as_object();
  CHECK(o.at("platform").as_string() == "reddit");
  static const std::regex kFullname("^t[13]_[0-9a-z]{1,13}$");
  CHECK(std::regex_match(std::string(o.at("id").as_string()), kFullname));
  CHECK(std::string(o.at("url").as_string()).rfind("https://www.reddit.com/", 0) == 0);
  REQUIRE(o.at("created_at").is_string());
  CHECK(!o.at("conversation").as_string().empty());
}

TEST_CASE("reddit parse: every shared recording through the binary", "[integration]") {
  EARSHOT_REQUIRE_SHARED(dir, "reddit");
  const auto files = earshot::testing::FilesIn(*dir, {".json"});
  REQUIRE(files.size() >= 4);
  for (const fs::path& file : files) {
    INFO("file " << file);
    ProcessResult r =
        RunProcess({EarshotBinary(), "parse", "--connector", "reddit", file.string()});
    INFO(Describe(r));
    REQUIRE(r.exit_code == 0);
    CHECK(r.err.empty());  // no warnings: nothing skipped
    const auto lines = Lines(r.out);
    CHECK(!lines.empty());
    for (const std::string& line : lines) CheckParseLine(line);
  }
}

TEST_CASE("reddit parse: our own fixtures, hostile ones included, give posts or a clean exit 2",
          "[integration]") {
  for (const fs::path& file :
       earshot::testing::FilesIn(earshot::testing::OwnFixture("reddit"), {".json", ".html"})) {
    INFO("file " << file);
    ProcessResult r =
        RunProcess({EarshotBinary(), "parse", "--connector", "reddit", file.string()});
    INFO(Describe(r));
    REQUIRE(r.term_signal == 0);
    REQUIRE((r.exit_code == 0 || r.exit_code == 2));
    if (r.exit_code == 2) {
      CHECK(r.out.empty());
      CHECK(r.err.find(file.string()) != std::string::npos);
    } else {
      for (const std::string& line : Lines(r.out)) CheckParseLine(line);
    }
  }
}

TEST_CASE("reddit once: a walk over two pages, the cursor carried between runs", "[integration]") {
  const std::string first_page = kNew + "?limit=3&raw_json=1";
  Sandbox box({
      TokenRoute(),
      // First run: the newest three. Second run: 8..6, all new, so the
      // walk follows `after` to 5..3 and stops at the stored 3. Third run:
      // 8..6 again, nothing new.
      JsonRoute(first_page, Listing(1, 3, PostName(1))),
      JsonRoute(first_page, Listing(6, 8, PostName(6))),
      JsonRoute(kNew + "?limit=3&raw_json=1&after=" + PostName(6), Listing(3, 5, PostName(3))),
  });
  box.WriteConfig(SourceConfig("reddit-nhs", 3));

  ProcessResult first = box.Earshot({"once"});
  INFO(Describe(first));
  REQUIRE(first.exit_code == 0);
  CHECK(first.out.find("3 new post(s)") != std::string::npos);
  {
    auto store = box.OpenStore();
    CHECK(SourceNamed(*store, "reddit-nhs").state.cursor.cursor == PostName(3));
  }

  ProcessResult second = box.Earshot({"once", "--force"});
  INFO(Describe(second));
  REQUIRE(second.exit_code == 0);
  CHECK(second.out.find("5 new post(s), 0 already stored") != std::string::npos);

  ProcessResult third = box.Earshot({"once", "--force"});
  INFO(Describe(third));
  REQUIRE(third.exit_code == 0);
  CHECK(third.out.find("0 new post(s), 0 already stored") != std::string::npos);

  auto listing = RequestsTo(box.server(), kNew);
  REQUIRE(listing.size() == 4);
  CHECK(listing[0].target == first_page);
  CHECK(listing[1].target == first_page);
  CHECK(listing[2].target == kNew + "?limit=3&raw_json=1&after=" + PostName(6));
  CHECK(listing[3].target == first_page);
  // Reddit requires a descriptive User-Agent: the connector's wins over the
  // engine's default.
  for (const RecordedRequest& request : listing) {
    CHECK(HeaderOf(request, "User-Agent") == kUserAgent);
    CHECK(HeaderOf(request, "Accept") == "application/json");
  }

  auto store = box.OpenStore();
  CHECK(PostIds(*store, "reddit-nhs") == SortedNames(1, 8));
  const SourceRecord record = SourceNamed(*store, "reddit-nhs");
  CHECK(record.state.cursor.cursor == PostName(8));
  CHECK(record.state.posts_total == 8);
  CHECK(record.state.health == SourceHealth::kOk);
}

TEST_CASE("reddit once: x-ratelimit headers hold the source until the reset", "[integration]") {
  // Reddit counts the reset in seconds from its own Date header.
  const std::string date = FormatHttpDate(SystemClock().Now());
  const TimePoint date_time = *ParseHttpDate(date);

  SECTION("a page that spends the last request: stored, then wait for the reset") {
    FixtureRoute page = JsonRoute(kNew + "?limit=5&raw_json=1", Listing(1, 2));
    page.headers.emplace_back("x-ratelimit-used", "600");
    page.headers.emplace_back("x-ratelimit-remaining", "0.0");
    page.headers.emplace_back("x-ratelimit-reset", "200");
    page.headers.emplace_back("Date", date);
    Sandbox box({TokenRoute(), page});
    box.WriteConfig(SourceConfig("spent", 5));
    ProcessResult run = box.Earshot({"once"});
    INFO(Describe(run));
    REQUIRE(run.exit_code == 0);
    auto store = box.OpenStore();
    CHECK(PostIds(*store, "spent") == SortedNames(1, 2));
    const SourceRecord record = SourceNamed(*store, "spent");
    REQUIRE(record.state.next_poll_at.has_value());
    CHECK(*record.state.next_poll_at == date_time + std::chrono::seconds(200));
  }
  SECTION("a 429: rate limited until the reset, cursor kept") {
    FixtureRoute limited = JsonRoute(kNew + "?limit=5&raw_json=1",
                                     R"({"message": "Too Many Requests", "error": 429})", 429);
    limited.headers.emplace_back("x-ratelimit-used", "600");
    limited.headers.emplace_back("x-ratelimit-remaining", "0.0");
    limited.headers.emplace_back("x-ratelimit-reset", "300");
    limited.headers.emplace_back("Date", date);
    Sandbox box({TokenRoute(), limited});
    box.WriteConfig(SourceConfig("limited", 5));
    ProcessResult run = box.Earshot({"once"});
    INFO(Describe(run));
    REQUIRE(run.exit_code == 0);
    auto store = box.OpenStore();
    CHECK(PostIds(*store, "limited").empty());
    const SourceRecord record = SourceNamed(*store, "limited");
    CHECK(record.state.health == SourceHealth::kRateLimited);
    CHECK(record.state.last_error.find("429") != std::string::npos);
    REQUIRE(record.state.next_poll_at.has_value());
    CHECK(*record.state.next_poll_at == date_time + std::chrono::seconds(300));
    CHECK(record.state.cursor.cursor.empty());
  }
}

}  // namespace
}  // namespace earshot::integration
