// The built binary against a fixture server that serves good pages and
// scripted faults to several sources at once: the bad sources are reported
// with the right health, the good ones keep flowing, nothing stored is lost.
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>

#include "crawler/core/clock.h"
#include "tests/integration/harness.h"

namespace earshot::integration {
namespace {

const char* const kTag = "/api/v1/timelines/tag/";

std::vector<std::string> StatusIds(int first, int last) {
  std::vector<std::string> ids;
  for (int i = first; i <= last; ++i) ids.push_back(StatusId(i));
  return ids;
}

std::vector<std::string> NewestFirst(int first, int last) {
  std::vector<std::string> ids = StatusIds(first, last);
  std::reverse(ids.begin(), ids.end());
  return ids;
}

std::vector<std::string> Guids(const std::string& prefix, int first, int last) {
  std::vector<std::string> ids;
  for (int i = first; i <= last; ++i) ids.push_back(prefix + "-" + std::to_string(i));
  std::sort(ids.begin(), ids.end());
  return ids;
}

// Nine sources; `m-limited` lives on "localhost" (a host of its own, as a
// rate-limited platform would be), every other source on 127.0.0.1.
const char* const kSources = R"(
[[source]]
name = "m-good"
connector = "mastodon"
url = "{{base}}"
tag = "good"
limit = 3
interval = "1m"

[[source]]
name = "f-good"
connector = "feed"
url = "{{base}}/feeds/good.rss"
interval = "1m"

[[source]]
name = "m-limited"
connector = "mastodon"
url = "{{localhost}}"
tag = "limited"
interval = "1m"

[[source]]
name = "m-broken"
connector = "mastodon"
url = "{{base}}"
tag = "broken"
interval = "1m"

[[source]]
name = "m-garbled"
connector = "mastodon"
url = "{{base}}"
tag = "garbled"
interval = "1m"

[[source]]
name = "m-private"
connector = "mastodon"
url = "{{base}}"
tag = "private"
interval = "1m"

[[source]]
name = "f-slow"
connector = "feed"
url = "{{base}}/feeds/slow.rss"
interval = "1m"

[[source]]
name = "f-truncated"
connector = "feed"
url = "{{base}}/feeds/truncated.rss"
interval = "1m"

[[source]]
name = "f-garbled"
connector = "feed"
url = "{{base}}/feeds/garbled.rss"
interval = "1m"
)";

// Every source healthy: the first crawl.
std::vector<FixtureRoute> GoodRoutes() {
  return {
      JsonRoute(std::string(kTag) + "good?limit=3", MastodonTimeline(NewestFirst(1, 3))),
      // After the second crawl: nothing newer than its cursor.
      JsonRoute(std::string(kTag) + "good?limit=3&min_id=" + StatusId(7), "[]"),
      RssRoute("/feeds/good.rss", RssFeed("Good", FeedItems("good", 1, 3)), "good-v1"),
      JsonRoute(std::string(kTag) + "limited", MastodonTimeline(NewestFirst(11, 13))),
      JsonRoute(std::string(kTag) + "broken", MastodonTimeline(NewestFirst(21, 23))),
      JsonRoute(std::string(kTag) + "garbled", MastodonTimeline(NewestFirst(31, 33))),
      JsonRoute(std::string(kTag) + "private", MastodonTimeline(NewestFirst(41, 43))),
      RssRoute("/feeds/slow.rss", RssFeed("Slow", FeedItems("slow", 1, 2)), "slow-v1"),
      RssRoute("/feeds/truncated.rss", RssFeed("Truncated", FeedItems("trunc", 1, 2)), "trunc-v1"),
      RssRoute("/feeds/garbled.rss", RssFeed("Garbled", FeedItems("garbled", 1, 2)), "garbled-v1"),
  };
}

const char* const kGarbledJson =
    "[{\"id\": \"117000000000000034\", \"content\": \"<p>The discharge lounge was";
const char* const kGarbledXml =
    "<?xml version=\"1.0\"?>\n<rss version=\"2.0\"><channel><title>Ward news</title>"
    "<item><title>Broken <<<>>> & </channel";

// The second crawl: new posts for the good sources, a fault for every other.
std::vector<FixtureRoute> FaultyRoutes() {
  std::vector<FixtureRoute> routes;
  // m-good: two newer pages (limit 3: the first is full, so it is followed).
  routes.push_back(JsonRoute(std::string(kTag) + "good?limit=3&min_id=" + StatusId(3),
                             MastodonTimeline(NewestFirst(4, 6))));
  routes.push_back(JsonRoute(std::string(kTag) + "good?limit=3&min_id=" + StatusId(6),
                             MastodonTimeline(NewestFirst(7, 7))));
  routes.push_back(
      RssRoute("/feeds/good.rss", RssFeed("Good", FeedItems("good", 1, 5)), "good-v2"));

  FixtureRoute limited =
      JsonRoute(std::string(kTag) + "limited", R"({"error":"Too many requests"})", 429);
  limited.headers.emplace_back("Retry-After", "120");
  routes.push_back(limited);
  routes.push_back(
      JsonRoute(std::string(kTag) + "broken", R"({"error":"Internal server error"})", 500));
  routes.push_back(JsonRoute(std::string(kTag) + "garbled", kGarbledJson));
  routes.push_back(
      JsonRoute(std::string(kTag) + "private", R"({"error":"The access token is invalid"})", 401));

  FixtureRoute slow =
      RssRoute("/feeds/slow.rss", RssFeed("Slow", FeedItems("slow", 1, 3)), "slow-v2");
  slow.delay = std::chrono::seconds(3);
  routes.push_back(slow);
  FixtureRoute truncated =
      RssRoute("/feeds/truncated.rss", RssFeed("Truncated", FeedItems("trunc", 1, 4)), "trunc-v2");
  truncated.truncate_at = 300;
  routes.push_back(truncated);
  FixtureRoute garbled = RssRoute("/feeds/garbled.rss", kGarbledXml, "garbled-v2");
  routes.push_back(garbled);
  return routes;
}

void RequireMentions(const SourceRecord& r, const std::vector<std::string>& words) {
  INFO("source " << r.name << " last_error: " << r.state.last_error);
  for (const std::string& word : words) CHECK(r.state.last_error.find(word) != std::string::npos);
}

TEST_CASE("once: good sources flow while faulty ones are reported and nothing is lost",
          "[integration]") {
  Sandbox box(GoodRoutes());
  std::string sources = kSources;
  const std::string localhost = "http://localhost:" + std::to_string(box.server().port());
  sources.replace(sources.find("{{localhost}}"), 13, localhost);
  // A 500 ms budget per request: the slow source's 3 s answer times out.
  box.WriteConfig(sources, "500ms");

  // First crawl: every source healthy.
  ProcessResult first = box.Earshot({"once"});
  INFO(earshot::testing::Describe(first));
  REQUIRE(first.exit_code == 0);
  CHECK(first.out.find("polled 9 source(s)") != std::string::npos);
  CHECK(first.out.find("24 new post(s)") != std::string::npos);
  {
    auto store = box.OpenStore();
    REQUIRE(store->CountPosts().value() == 24);
    const std::vector<SourceRecord> sources = store->ListSources().value();
    REQUIRE(sources.size() == 9);
    for (const SourceRecord& r : sources) {
      INFO(r.name << ": " << r.state.last_error);
      CHECK(r.state.health == SourceHealth::kOk);
    }
  }

  // Second crawl: a fault for seven of the nine sources.
  box.server().SetRoutes(FaultyRoutes());
  const TimePoint before = SystemClock().Now();
  ProcessResult second = box.Earshot({"once", "--force"});
  const TimePoint after = SystemClock().Now();
  INFO(earshot::testing::Describe(second));
  REQUIRE(second.exit_code == 0);
  CHECK(second.out.find("polled 9 source(s)") != std::string::npos);
  CHECK(second.out.find("6 new post(s)") != std::string::npos);
  CHECK(second.out.find("7 failure(s)") != std::string::npos);
  CHECK(second.out.find("2 body(ies) quarantined") != std::string::npos);

  auto store = box.OpenStore();
  // Nothing stored before is lost; the good sources' new posts are there.
  CHECK(store->CountPosts().value() == 30);
  CHECK(PostIds(*store, "m-good") == StatusIds(1, 7));
  CHECK(PostIds(*store, "f-good") == Guids("good", 1, 5));
  CHECK(PostIds(*store, "m-limited") == StatusIds(11, 13));
  CHECK(PostIds(*store, "m-broken") == StatusIds(21, 23));
  CHECK(PostIds(*store, "m-garbled") == StatusIds(31, 33));
  CHECK(PostIds(*store, "m-private") == StatusIds(41, 43));
  CHECK(PostIds(*store, "f-slow") == Guids("slow", 1, 2));
  CHECK(PostIds(*store, "f-truncated") == Guids("trunc", 1, 2));
  CHECK(PostIds(*store, "f-garbled") == Guids("garbled", 1, 2));

  const SourceRecord good = SourceNamed(*store, "m-good");
  CHECK(good.state.health == SourceHealth::kOk);
  CHECK(good.state.cursor.cursor == StatusId(7));
  CHECK(good.state.posts_total == 7);
  CHECK(SourceNamed(*store, "f-good").state.health == SourceHealth::kOk);

  const SourceRecord limited = SourceNamed(*store, "m-limited");
  CHECK(limited.state.health == SourceHealth::kRateLimited);
  RequireMentions(limited, {"m-limited", "/api/v1/timelines/tag/limited", "429"});
  REQUIRE(limited.state.next_poll_at.has_value());
  // Retry-After: 120 (seconds) is honoured.
  CHECK(*limited.state.next_poll_at >= before + std::chrono::seconds(119));
  CHECK(*limited.state.next_poll_at <= after + std::chrono::seconds(121));
  CHECK(limited.state.cursor.cursor == StatusId(13));  // cursor kept

  const SourceRecord broken = SourceNamed(*store, "m-broken");
  CHECK(broken.state.health == SourceHealth::kBackoff);
  CHECK(broken.state.consecutive_failures == 1);
  RequireMentions(broken, {"m-broken", "/api/v1/timelines/tag/broken", "500"});
  CHECK(broken.state.cursor.cursor == StatusId(23));

  const SourceRecord slow = SourceNamed(*store, "f-slow");
  CHECK(slow.state.health == SourceHealth::kBackoff);
  // Its 3 s answer was cut off by the 500 ms budget, not waited for (a
  // wall-clock bound would be a timed test on a loaded machine).
  RequireMentions(slow, {"f-slow", "/feeds/slow.rss", "timed out"});

  const SourceRecord truncated = SourceNamed(*store, "f-truncated");
  CHECK(truncated.state.health == SourceHealth::kBackoff);
  RequireMentions(truncated, {"f-truncated", "/feeds/truncated.rss"});

  const SourceRecord m_garbled = SourceNamed(*store, "m-garbled");
  CHECK(m_garbled.state.health == SourceHealth::kBackoff);
  RequireMentions(m_garbled, {"m-garbled", "/api/v1/timelines/tag/garbled", "JSON"});
  CHECK(m_garbled.state.cursor.cursor == StatusId(33));  // kept: the page was not read

  const SourceRecord f_garbled = SourceNamed(*store, "f-garbled");
  CHECK(f_garbled.state.health == SourceHealth::kBackoff);
  RequireMentions(f_garbled, {"f-garbled", "/feeds/garbled.rss"});

  const SourceRecord priv = SourceNamed(*store, "m-private");
  CHECK(priv.state.health == SourceHealth::kStopped);
  RequireMentions(priv, {"m-private", "/api/v1/timelines/tag/private", "401"});

  // Both malformed bodies are kept aside, byte for byte, with their error.
  auto quarantined = store->Quarantined(100);
  REQUIRE(quarantined.ok());
  REQUIRE(quarantined->size() == 2);
  std::map<std::string, QuarantinedBody> by_source;
  for (const QuarantinedBody& q : *quarantined) by_source[q.source] = q;
  REQUIRE(by_source.count("m-garbled") == 1);
  REQUIRE(by_source.count("f-garbled") == 1);
  CHECK(by_source["m-garbled"].payload.body == kGarbledJson);
  CHECK(by_source["m-garbled"].payload.status == 200);
  CHECK(by_source["m-garbled"].payload.url.find("/tag/garbled") != std::string::npos);
  CHECK(by_source["m-garbled"].error.find("m-garbled") != std::string::npos);
  CHECK(by_source["f-garbled"].payload.body == kGarbledXml);
  CHECK(by_source["f-garbled"].error.find("f-garbled") != std::string::npos);

  // `earshot sources` shows the same picture.
  store.reset();
  ProcessResult table = box.Earshot({"sources"});
  INFO(earshot::testing::Describe(table));
  REQUIRE(table.exit_code == 0);
  CHECK(table.out.find("rate_limited") != std::string::npos);
  CHECK(table.out.find("stopped") != std::string::npos);
  CHECK(table.out.find("backoff") != std::string::npos);

  // Third crawl: the server has recovered. Every source but the stopped one
  // is polled and heals; the stopped one waits for an operator.
  box.server().SetRoutes(GoodRoutes());
  const size_t requests_before = box.server().Requests().size();
  ProcessResult third = box.Earshot({"once", "--force"});
  INFO(earshot::testing::Describe(third));
  REQUIRE(third.exit_code == 0);
  CHECK(third.out.find("polled 8 source(s)") != std::string::npos);
  const auto all_requests = box.server().Requests();
  for (size_t i = requests_before; i < all_requests.size(); ++i) {
    CHECK(all_requests[i].target.find("/tag/private") == std::string::npos);
  }
  store = box.OpenStore();
  CHECK(store->CountPosts().value() == 30);
  for (const char* name : {"m-broken", "f-slow", "f-truncated", "m-limited"}) {
    const SourceRecord r = SourceNamed(*store, name);
    INFO(name << ": " << r.state.last_error);
    CHECK(r.state.health == SourceHealth::kOk);
    CHECK(r.state.last_error.empty());
    CHECK(r.state.consecutive_failures == 0);
    auto windows = store->BlindWindows(name);
    REQUIRE(windows.ok());
    REQUIRE(windows->size() == 1);
    CHECK(windows->front().end > windows->front().start);
  }
  CHECK(SourceNamed(*store, "m-private").state.health == SourceHealth::kStopped);
  CHECK(store->Quarantined(100)->size() == 2);
  CHECK(store->CheckIntegrity().ok());
}

TEST_CASE("once: a 429 holds back its host's other sources without holding up the exit",
          "[integration]") {
  // Two sources on one host. `a` has a backlog of two pages; its first page
  // comes back after `b`'s 429, so its second page must wait for the host's
  // Retry-After: `once` ends the pass for it instead of waiting 2 minutes.
  std::vector<FixtureRoute> routes;
  routes.push_back(JsonRoute(std::string(kTag) + "a?limit=2", MastodonTimeline(NewestFirst(1, 2))));
  routes.push_back(JsonRoute(std::string(kTag) + "b", MastodonTimeline(NewestFirst(11, 12))));
  Sandbox box(routes);
  box.WriteConfig(R"(
[[source]]
name = "a"
connector = "mastodon"
url = "{{base}}"
tag = "a"
limit = 2
interval = "1m"

[[source]]
name = "b"
connector = "mastodon"
url = "{{base}}"
tag = "b"
interval = "1m"
)");
  ProcessResult first = box.Earshot({"once"});
  INFO(earshot::testing::Describe(first));
  REQUIRE(first.exit_code == 0);

  routes.clear();
  routes.push_back(JsonRoute(std::string(kTag) + "a?limit=2&min_id=" + StatusId(2),
                             MastodonTimeline(NewestFirst(3, 4))));
  routes.back().delay = std::chrono::milliseconds(500);
  routes.push_back(JsonRoute(std::string(kTag) + "a?limit=2&min_id=" + StatusId(4),
                             MastodonTimeline(NewestFirst(5, 5))));
  FixtureRoute limited =
      JsonRoute(std::string(kTag) + "b", R"({"error":"Too many requests"})", 429);
  limited.headers.emplace_back("Retry-After", "120");
  routes.push_back(limited);
  box.server().SetRoutes(routes);

  const TimePoint before = SystemClock().Now();
  ProcessResult second = box.Earshot({"once", "--force"});
  const TimePoint after = SystemClock().Now();
  INFO(earshot::testing::Describe(second));
  REQUIRE(second.exit_code == 0);
  // Not waiting out the 120 s Retry-After: a bound far from it, so load on
  // the machine cannot flip it.
  CHECK(after - before < std::chrono::seconds(60));
  CHECK(RequestsTo(box.server(), std::string(kTag) + "a?limit=2&min_id=" + StatusId(4)).empty());

  auto store = box.OpenStore();
  CHECK(PostIds(*store, "a") == StatusIds(1, 4));
  const SourceRecord a = SourceNamed(*store, "a");
  CHECK(a.state.health == SourceHealth::kOk);
  CHECK(a.state.cursor.cursor == StatusId(4));
  REQUIRE(a.state.next_poll_at.has_value());
  CHECK(*a.state.next_poll_at >= before + std::chrono::seconds(119));
  CHECK(SourceNamed(*store, "b").state.health == SourceHealth::kRateLimited);

  // The next pass (after the reset, here forced) picks the backlog up.
  box.server().SetRoutes(routes);
  ProcessResult third = box.Earshot({"once", "--force"});
  INFO(earshot::testing::Describe(third));
  REQUIRE(third.exit_code == 0);
  store = box.OpenStore();
  CHECK(PostIds(*store, "a") == StatusIds(1, 5));
}

TEST_CASE("once: a source's token is sent but never logged or stored", "[integration]") {
  const std::string token = "tok-integration-5f1e2d";
  Sandbox box({JsonRoute("/api/v2/search", R"({"error":"The access token is invalid"})", 401)});
  box.WriteConfig(R"(
[[source]]
name = "search"
connector = "mastodon"
url = "{{base}}"
query = "Northern General"
token = "${EARSHOT_TEST_TOKEN}"
interval = "1m"
)");
  ProcessOptions options;
  options.env["EARSHOT_TEST_TOKEN"] = token;
  ProcessResult r = box.Earshot({"-v", "once"}, options);
  INFO(earshot::testing::Describe(r));
  REQUIRE(r.exit_code == 0);
  const auto requests = RequestsTo(box.server(), "/api/v2/search");
  REQUIRE(requests.size() == 1);
  CHECK(HeaderOf(requests[0], "Authorization") == "Bearer " + token);
  CHECK(r.out.find(token) == std::string::npos);
  CHECK(r.err.find(token) == std::string::npos);

  auto store = box.OpenStore();
  const SourceRecord record = SourceNamed(*store, "search");
  CHECK(record.state.health == SourceHealth::kStopped);
  RequireMentions(record, {"search", "/api/v2/search", "401"});
  CHECK(record.state.last_error.find(token) == std::string::npos);
  store.reset();

  ProcessResult table = box.Earshot({"sources"}, options);
  INFO(earshot::testing::Describe(table));
  CHECK(table.exit_code == 0);
  CHECK(table.out.find(token) == std::string::npos);
  ProcessResult check = box.Earshot({"config", "check"}, options);
  CHECK(check.exit_code == 0);
  CHECK(check.out.find(token) == std::string::npos);
}

}  // namespace
}  // namespace earshot::integration
