// The x connector through the built binary: `earshot parse` on every shared
// X recording and on our own fixtures, and `earshot once` against the
// fixture server: since_id carried between polls, a backlog paged with
// next_token, and rate limits in X's dialect (x-rate-limit-*, epoch reset).
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <cstdio>

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

const std::string kSearch = "/2/tweets/search/recent";
const std::string kBearer = "it-x-bearer-token-5151";
const std::string kFirstQuery =
    kSearch +
    "?query=NHS%20-is%3Aretweet&max_results=10&tweet.fields=author_id,conversation_id,created_at,"
    "entities,in_reply_to_user_id,lang,note_tweet,referenced_tweets&expansions=author_id,"
    "referenced_tweets.id&user.fields=name,username";

std::string TweetId(int n) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "1870000000000000%03d", n);
  return buffer;
}

std::vector<std::string> TweetIds(int first, int last) {
  std::vector<std::string> ids;
  for (int i = first; i <= last; ++i) ids.push_back(TweetId(i));
  return ids;
}

// A recent-search page with tweets `last` down to `first` (newest first, as
// X sends them), their authors in `includes`, and `next_token` if given.
std::string SearchPage(int first, int last, const std::string& next_token = "") {
  json::array data;
  json::array users;
  for (int i = last; i >= first; --i) {
    const std::string id = TweetId(i);
    const std::string user_id = "1600000000000000" + id.substr(id.size() - 3);
    data.push_back(json::object{
        {"id", id},
        {"author_id", user_id},
        {"conversation_id", id},
        {"created_at", "2026-11-22T08:" + id.substr(id.size() - 2) + ":00.000Z"},
        {"lang", "en"},
        {"edit_history_tweet_ids", json::array{id}},
        {"text", "Tweet " + id +
                     ": seen within the hour at the Northern General walk-in centre "
                     "&amp; home by tea. #NHS"},
    });
    users.push_back(json::object{{"id", user_id},
                                 {"username", "carer" + id.substr(id.size() - 3)},
                                 {"name", "Carer " + id.substr(id.size() - 3)}});
  }
  json::object meta{{"result_count", last - first + 1}};
  if (last >= first) {
    meta["newest_id"] = TweetId(last);
    meta["oldest_id"] = TweetId(first);
  }
  if (!next_token.empty()) meta["next_token"] = next_token;
  json::object page{{"meta", meta}};
  if (last >= first) {
    page["data"] = data;
    page["includes"] = json::object{{"users", users}};
  }
  return json::serialize(page);
}

const char* const kSource = R"(
[[source]]
name = "x-nhs"
connector = "x"
url = "{{base}}"
query = "NHS -is:retweet"
bearer_token = "${EARSHOT_IT_X_BEARER}"
max_results = 10
interval = "1m"
)";

ProcessOptions WithBearer() {
  ProcessOptions options;
  options.env["EARSHOT_IT_X_BEARER"] = kBearer;
  return options;
}

TEST_CASE("once: x carries since_id between polls and pages a backlog with next_token",
          "[integration]") {
  const TimePoint start = SystemClock().Now();
  const int64_t window_reset = ToUnixMillis(start) / 1000 + 300;
  const int64_t limited_until = ToUnixMillis(start) / 1000 + 600;
  const std::string since_105 = kFirstQuery + "&since_id=" + TweetId(105);
  const std::string page_2 = since_105 + "&next_token=b26v89c19zqg8o3fpage2";
  const std::string since_115 = kFirstQuery + "&since_id=" + TweetId(115);

  // Second poll's last page: X's headers say the window is spent until reset.
  FixtureRoute last_page = JsonRoute(page_2, SearchPage(106, 110));
  last_page.headers.emplace_back("x-rate-limit-limit", "450");
  last_page.headers.emplace_back("x-rate-limit-remaining", "0");
  last_page.headers.emplace_back("x-rate-limit-reset", std::to_string(window_reset));
  // Third poll: a 429 in X's dialect.
  FixtureRoute limited = JsonRoute(
      since_115,
      R"({"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429})",
      429);
  limited.headers.emplace_back("x-rate-limit-limit", "450");
  limited.headers.emplace_back("x-rate-limit-remaining", "0");
  limited.headers.emplace_back("x-rate-limit-reset", std::to_string(limited_until));
  Sandbox box({
      // First poll: the newest page only; its next_token is not followed.
      JsonRoute(kFirstQuery, SearchPage(101, 105, "firstpagetoken")),
      // Second poll: ten new tweets in two pages, newest first.
      JsonRoute(since_105, SearchPage(111, 115, "b26v89c19zqg8o3fpage2")),
      last_page,
      limited,
  });
  box.WriteConfig(kSource);

  ProcessResult first = box.Earshot({"once"}, WithBearer());
  INFO(Describe(first));
  REQUIRE(first.exit_code == 0);
  CHECK(first.out.find("5 new post(s)") != std::string::npos);
  CHECK(first.out.find(kBearer) == std::string::npos);
  CHECK(first.err.find(kBearer) == std::string::npos);
  {
    auto store = box.OpenStore();
    const SourceRecord r = SourceNamed(*store, "x-nhs");
    CHECK(r.state.cursor.cursor == TweetId(105));
    CHECK(r.state.health == SourceHealth::kOk);
  }

  // The backlog's first page says there is more: the cursor then holds the
  // poll's since_id and the token, and the second page ends the backlog.
  ProcessResult second = box.Earshot({"once", "--force"}, WithBearer());
  INFO(Describe(second));
  REQUIRE(second.exit_code == 0);
  CHECK(second.out.find("10 new post(s), 0 already stored") != std::string::npos);

  auto requests = RequestsTo(box.server(), kSearch);
  REQUIRE(requests.size() == 3);
  CHECK(requests[0].target == kFirstQuery);
  CHECK(requests[1].target == since_105);
  CHECK(requests[2].target == page_2);
  for (const RecordedRequest& request : requests) {
    CHECK(HeaderOf(request, "Authorization") == "Bearer " + kBearer);
  }
  {
    auto store = box.OpenStore();
    CHECK(PostIds(*store, "x-nhs") == TweetIds(101, 115));
    const SourceRecord r = SourceNamed(*store, "x-nhs");
    // The newest id of the backlog's first page, for the next since_id.
    CHECK(r.state.cursor.cursor == TweetId(115));
    CHECK(r.state.health == SourceHealth::kOk);
    REQUIRE(r.state.next_poll_at.has_value());
    CHECK(*r.state.next_poll_at >= FromUnixSeconds(window_reset));
    CHECK(*r.state.next_poll_at <= FromUnixSeconds(window_reset) + std::chrono::seconds(1));
    bool checked_text = false;
    for (const StoredPost& p : AllPosts(*store)) {
      if (p.post.id != TweetId(112)) continue;
      checked_text = true;
      CHECK(p.post.author_handle == "@carer112");
      CHECK(p.post.url == "https://x.com/carer112/status/" + TweetId(112));
      CHECK(p.post.text.find("walk-in centre & home by tea. #NHS") != std::string::npos);
    }
    CHECK(checked_text);
  }

  // The 429: the source waits for the epoch reset and keeps its cursor.
  ProcessResult third = box.Earshot({"once", "--force"}, WithBearer());
  INFO(Describe(third));
  REQUIRE(third.exit_code == 0);
  requests = RequestsTo(box.server(), kSearch);
  REQUIRE(requests.size() == 4);
  CHECK(requests[3].target == since_115);
  auto store = box.OpenStore();
  const SourceRecord r = SourceNamed(*store, "x-nhs");
  CHECK(r.state.health == SourceHealth::kRateLimited);
  CHECK(r.state.cursor.cursor == TweetId(115));
  CHECK(r.state.last_error.find("429") != std::string::npos);
  CHECK(r.state.last_error.find("x-nhs") != std::string::npos);
  REQUIRE(r.state.next_poll_at.has_value());
  CHECK(*r.state.next_poll_at >= FromUnixSeconds(limited_until));
  CHECK(*r.state.next_poll_at <= FromUnixSeconds(limited_until) + std::chrono::seconds(1));
  CHECK(store->CountPosts().value() == 15);
}

TEST_CASE("once: x recovers from a since_id older than seven days, then a 401 stops the source",
          "[integration]") {
  const std::string since_105 = kFirstQuery + "&since_id=" + TweetId(105);
  const std::string start = "&start_time=2026-11-15T14%3A05%3A42Z";
  const std::string window = kFirstQuery + start;
  const std::string window_2 = kFirstQuery + start + "&next_token=windowpage2";
  const std::string since_108 = kFirstQuery + "&since_id=" + TweetId(108);
  // X's refusal of a since_id from before its seven-day window.
  FixtureRoute too_old = JsonRoute(since_105,
                                   earshot::testing::ReadFile(earshot::testing::OwnFixture(
                                       "x/search_error_400_since_id_too_old.json")),
                                   400);
  too_old.headers.emplace_back("Date", "Sun, 22 Nov 2026 13:05:42 GMT");
  Sandbox box({
      JsonRoute(kFirstQuery, SearchPage(101, 105)),
      too_old,
      // The window from the start_time, newest first over two pages; both
      // overlap what is stored.
      JsonRoute(window, SearchPage(104, 108, "windowpage2")),
      JsonRoute(window_2, SearchPage(100, 103)),
      JsonRoute(since_108,
                R"({"title":"Unauthorized","type":"about:blank","status":401,)"
                R"("detail":"Unauthorized"})",
                401),
  });
  box.WriteConfig(kSource);
  ProcessResult first = box.Earshot({"once"}, WithBearer());
  INFO(Describe(first));
  REQUIRE(first.exit_code == 0);

  // The refused since_id becomes a start_time an hour inside the window, at
  // once, and the window is paged; overlaps are stored once.
  ProcessResult second = box.Earshot({"once", "--force"}, WithBearer());
  INFO(Describe(second));
  REQUIRE(second.exit_code == 0);
  CHECK(second.out.find("4 new post(s), 5 already stored, 0 failure(s)") != std::string::npos);
  auto requests = RequestsTo(box.server(), kSearch);
  REQUIRE(requests.size() == 4);
  CHECK(requests[1].target == since_105);
  CHECK(requests[2].target == window);
  CHECK(requests[3].target == window_2);
  {
    auto store = box.OpenStore();
    CHECK(PostIds(*store, "x-nhs") == TweetIds(100, 108));
    const SourceRecord r = SourceNamed(*store, "x-nhs");
    CHECK(r.state.cursor.cursor == TweetId(108));
    CHECK(r.state.health == SourceHealth::kOk);
    CHECK(r.state.consecutive_failures == 0);
  }

  // A refused app-only bearer token: stopped, saying to replace it.
  ProcessResult third = box.Earshot({"once", "--force"}, WithBearer());
  INFO(Describe(third));
  REQUIRE(third.exit_code == 0);
  requests = RequestsTo(box.server(), kSearch);
  REQUIRE(requests.size() == 5);
  CHECK(requests[4].target == since_108);
  auto store = box.OpenStore();
  const SourceRecord r = SourceNamed(*store, "x-nhs");
  INFO(r.state.last_error);
  CHECK(r.state.health == SourceHealth::kStopped);
  CHECK(r.state.cursor.cursor == TweetId(108));
  CHECK(r.state.last_error.find("HTTP 401: Unauthorized (the bearer_token was refused") !=
        std::string::npos);
  CHECK(r.state.last_error.find("replace it") != std::string::npos);
  CHECK(r.state.last_error.find(kBearer) == std::string::npos);
}

TEST_CASE("once: an x source without its bearer token fails config check, naming the variable",
          "[integration]") {
  Sandbox box({});
  box.WriteConfig(kSource);
  ProcessOptions without;
  without.env["EARSHOT_IT_X_BEARER"] = std::nullopt;
  ProcessResult r = box.Earshot({"config", "check"}, without);
  INFO(Describe(r));
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("EARSHOT_IT_X_BEARER") != std::string::npos);
  ProcessResult ok = box.Earshot({"config", "check"}, WithBearer());
  INFO(Describe(ok));
  CHECK(ok.exit_code == 0);
  CHECK(ok.out.find(kBearer) == std::string::npos);
}

// One line of `earshot parse` output: the documented keys, platform x.
json::object CheckXLine(const std::string& line) {
  INFO("line: " << line);
  json::error_code ec;
  json::value v = json::parse(line, ec);
  REQUIRE(!ec);
  REQUIRE(v.is_object());
  json::object o = v.as_object();
  for (const char* key : {"platform", "id", "url", "title", "author", "text", "created_at",
                          "reply_to", "conversation", "language"}) {
    INFO("key " << key);
    REQUIRE(o.contains(key));
  }
  CHECK(o.at("platform").as_string() == "x");
  CHECK(!o.at("id").as_string().empty());
  CHECK(o.at("url").as_string().starts_with("https://x.com/"));
  return o;
}

TEST_CASE("parse: every shared X recording through the binary", "[integration]") {
  EARSHOT_REQUIRE_SHARED(dir, "twitter");
  const auto files = earshot::testing::FilesIn(*dir, {".json"});
  REQUIRE(files.size() >= 3);
  size_t total = 0;
  for (const fs::path& file : files) {
    INFO("file " << file);
    ProcessResult r = RunProcess({EarshotBinary(), "parse", "--connector", "x", file.string()});
    INFO(Describe(r));
    REQUIRE(r.exit_code == 0);
    const auto lines = Lines(r.out);
    CHECK(!lines.empty());
    for (const std::string& line : lines) CheckXLine(line);
    total += lines.size();
  }
  // 10 (tweepy) + 15 (academictwitteR) + 1 (twitwi: 9 of its 10 are retweets).
  CHECK(total == 26);
}

TEST_CASE("parse: our own x fixtures, hostile ones included, give posts or a clean exit 2",
          "[integration]") {
  const auto files =
      earshot::testing::FilesIn(earshot::testing::OwnFixture("x"), {".json", ".html"});
  REQUIRE(files.size() >= 10);
  int parsed = 0;
  for (const fs::path& file : files) {
    INFO("file " << file);
    ProcessResult r = RunProcess({EarshotBinary(), "parse", "--connector", "x", file.string()});
    INFO(Describe(r));
    REQUIRE(r.term_signal == 0);
    REQUIRE((r.exit_code == 0 || r.exit_code == 2));
    if (r.exit_code == 2) {
      CHECK(r.out.empty());
      CHECK(r.err.find(file.string()) != std::string::npos);
    } else {
      ++parsed;
      for (const std::string& line : Lines(r.out)) CheckXLine(line);
    }
  }
  CHECK(parsed >= 8);
}

}  // namespace
}  // namespace earshot::integration
