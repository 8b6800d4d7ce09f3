// Scheduler + Pipeline + SqliteStore against FakeTransport and FakeClock:
// conditional GET, 304, backoff, rate limits, stops, quarantine, politeness,
// paging, blind windows, restart, and atomicity under "fail the n-th store
// call" for every n. Time moves only by FakeClock; nothing sleeps.
#include "crawler/schedule/scheduler.h"

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "connectors/feed/feed.h"
#include "crawler/cli/config.h"
#include "crawler/core/time_format.h"
#include "crawler/core/url.h"
#include "crawler/pipeline/pipeline.h"
#include "crawler/schedule/engine.h"
#include "crawler/store/sqlite/sqlite_store.h"
#include "tests/support/fake_transport.h"

namespace earshot {
namespace {

namespace fs = std::filesystem;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using testing::FakeReply;
using testing::FakeTransport;
using testing::MakeResponse;

// ---------------------------------------------------------------------------
// "paged": a small connector for engine behaviour. Request: URL?page=N (N =
// cursor, "0" at first), conditional headers from the cursor, a bearer token
// from the secret key `token` (also put in the query, to check redaction).
// Body: "next=<cursor> more=<0|1>" then one post id per line; a body not
// starting with "next=" is a parse error. Rate limits: X-RateLimit-Remaining
// and X-RateLimit-Reset (ISO 8601), as Mastodon writes them.

Result<HttpRequest> PagedNextRequest(const SourceSpec& spec, const SourceCursor& cursor) {
  if (spec.GetBool("broken")) {
    return Status::InvalidArgument("source '" + spec.name + "': option broken is set");
  }
  HttpRequest request;
  request.url = spec.url + "?page=" + (cursor.cursor.empty() ? "0" : cursor.cursor);
  const std::string token = spec.GetString("token");
  if (!token.empty()) {
    request.url += "&access_token=" + token;
    request.headers.Add("Authorization", "Bearer " + token);
  }
  if (!cursor.etag.empty()) request.headers.Add("If-None-Match", cursor.etag);
  if (!cursor.last_modified.empty()) {
    request.headers.Add("If-Modified-Since", cursor.last_modified);
  }
  return request;
}

RateLimitInfo PagedRateLimit(const HttpResponse& response) {
  RateLimitInfo info;
  if (auto v = response.headers.Get("X-RateLimit-Remaining")) {
    info.remaining = std::stoll(std::string(*v));
  }
  if (auto v = response.headers.Get("X-RateLimit-Reset")) {
    if (auto t = ParseIso8601(*v); t.ok()) info.reset = *t;
  }
  return info;
}

Result<Page> PagedParse(const SourceSpec& spec, const SourceCursor&, const HttpResponse& response) {
  if (spec.GetBool("throw")) throw std::runtime_error("bug in the connector");
  std::istringstream in(response.body);
  std::string header;
  std::getline(in, header);
  if (header.rfind("next=", 0) != 0) {
    return Status::ParseError(response.url + ":1:1: expected \"next=\"");
  }
  Page page;
  std::istringstream fields(header);
  std::string next, more;
  fields >> next >> more;
  page.next_cursor = next.substr(5);
  page.caught_up = more != "more=1";
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    Post post;
    post.platform = "paged";
    post.id = line;
    post.url = "https://posts.example/" + line;
    post.text = "post " + line;
    page.posts.push_back(std::move(post));
  }
  page.rate_limit = PagedRateLimit(response);
  return page;
}

const ConnectorDescriptor& PagedConnector() {
  static const ConnectorDescriptor descriptor{
      "paged",
      "test connector",
      {{"token", ConfigKeySpec::Type::kString, "", false, true, "bearer token"},
       {"broken", ConfigKeySpec::Type::kBoolean, "false", false, false, "fail requests"},
       {"throw", ConfigKeySpec::Type::kBoolean, "false", false, false, "throw in parse"}},
      &PagedNextRequest,
      &PagedParse,
      &PagedRateLimit};
  return descriptor;
}

std::string PageBody(const std::string& next, bool more, const std::vector<std::string>& ids) {
  std::string body = "next=" + next + (more ? " more=1\n" : " more=0\n");
  for (const auto& id : ids) body += id + "\n";
  return body;
}

// Serves `pages` pages of `per_page` posts under `url`: page k holds ids
// "<tag>-k-j" (tagged with the request's URL path too, so sources sharing a
// handler do not share posts), its next cursor is k+1, and only the last one
// is caught up.
void ServePages(FakeTransport& transport, const std::string& url, const std::string& tag, int pages,
                int per_page = 3) {
  transport.Handle(url, [=](const HttpRequest& request) -> FakeReply {
    const int k = std::stoi(QueryParam(request.url, "page"));
    if (k >= pages) return MakeResponse(200, PageBody(std::to_string(k), false, {}));
    const std::string path = request.url.substr(0, request.url.find('?'));
    std::vector<std::string> ids;
    for (int j = 0; j < per_page; ++j) {
      ids.push_back(tag + "-" + std::to_string(k) + "-" + std::to_string(j) + "@" + path);
    }
    return MakeResponse(200, PageBody(std::to_string(k + 1), k + 1 < pages, ids));
  });
}

SourceSpec Paged(std::string name, std::string url, Duration interval = minutes(5)) {
  SourceSpec spec;
  spec.name = std::move(name);
  spec.connector = "paged";
  spec.url = std::move(url);
  spec.interval = interval;
  return spec;
}

class TempDir {
 public:
  TempDir() {
    std::random_device random;
    // tmpfs when there is one: the atomicity loop opens many databases.
    const std::string name =
        "earshot-scheduler-test-" + std::to_string(random()) + std::to_string(random());
    std::error_code error;
    path_ = fs::path("/dev/shm") / name;
    if (!fs::create_directory(path_, error)) {
      path_ = fs::temp_directory_path() / name;
      fs::create_directories(path_);
    }
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

// Everything a scheduler test needs, wired as the CLI wires it.
struct Harness {
  explicit Harness(std::string db_path = ":memory:", SqliteOptions sqlite = {}) {
    // Failures are logged loudly by design; keep the test output readable.
    spdlog::set_level(spdlog::level::off);
    auto opened = SqliteStore::Open(db_path, std::move(sqlite));
    REQUIRE(opened.ok());
    store = std::move(opened).value();
  }

  // Registers `specs` and builds the pipeline and scheduler from the stored
  // state, as a fresh process would.
  void Build(const std::vector<SourceSpec>& specs, ScheduleOptions options = {},
             BatchOptions batch = {}) {
    std::vector<ScheduledSource> sources;
    for (const SourceSpec& spec : specs) {
      REQUIRE(store->UpsertSource(spec).ok());
      auto record = store->GetSource(spec.name);
      REQUIRE(record.ok());
      const ConnectorDescriptor* connector =
          spec.connector == "feed" ? &connector_feed::Descriptor() : &PagedConnector();
      sources.push_back({spec, connector, record->state});
    }
    scheduler.reset();
    pipeline = std::make_unique<Pipeline>(*store, clock, batch);
    scheduler = std::make_unique<Scheduler>(std::move(sources), clock, transport, *pipeline,
                                            options, /*seed=*/42);
    scheduler->SetEventListener([this](const SourceEvent& e) { events.push_back(e); });
  }

  // Starts what is due and completes what arrives, without moving time, until
  // nothing more happens; then commits. Returns the requests started.
  int Settle(bool flush = true) {
    int started = 0;
    for (;;) {
      const int now_started = scheduler->Poll();
      started += now_started;
      io.restart();
      const size_t ran = io.poll();
      if (now_started == 0 && ran == 0) break;
    }
    if (flush) REQUIRE(pipeline->Flush().ok());
    return started;
  }

  // Moves the clock to the scheduler's next wake-up (if later) and settles.
  int AdvanceAndSettle() {
    auto wake = scheduler->NextWakeup();
    REQUIRE(wake.has_value());
    if (*wake > clock.Now()) clock.Set(*wake);
    return Settle();
  }

  const SourceState& State(const std::string& name) {
    const SourceState* state = scheduler->StateOf(name);
    REQUIRE(state != nullptr);
    return *state;
  }

  SourceState Stored(const std::string& name) {
    auto record = store->GetSource(name);
    REQUIRE(record.ok());
    return record->state;
  }

  int64_t Posts() {
    auto count = store->CountPosts();
    REQUIRE(count.ok());
    return *count;
  }

  ~Harness() { spdlog::set_level(spdlog::level::info); }

  FakeClock clock;
  boost::asio::io_context io;
  FakeTransport transport{io};
  std::unique_ptr<SqliteStore> store;
  std::unique_ptr<Pipeline> pipeline;
  std::unique_ptr<Scheduler> scheduler;
  std::vector<SourceEvent> events;
};

Duration Until(const std::optional<TimePoint>& t, TimePoint now) {
  REQUIRE(t.has_value());
  return *t - now;
}

// `d` is `base` ± jitter fraction `j`.
void RequireJittered(Duration d, Duration base, double j = 0.1) {
  INFO("delay " << d.count() << "ms, base " << base.count() << "ms");
  REQUIRE(d.count() >= static_cast<int64_t>(static_cast<double>(base.count()) * (1 - j)) - 1);
  REQUIRE(d.count() <= static_cast<int64_t>(static_cast<double>(base.count()) * (1 + j)) + 1);
}

const char kRss[] = R"(<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Ward news</title><link>https://blog.example/</link>
<item><title>Thank you ward 7</title><link>https://blog.example/posts/1</link>
<guid>https://blog.example/posts/1</guid><description>The nurses were kind.</description>
<pubDate>Sun, 22 Nov 2026 06:59:15 GMT</pubDate></item>
<item><title>Long wait in A&amp;E</title><link>https://blog.example/posts/2</link>
<guid>https://blog.example/posts/2</guid><description>Six hours on a trolley.</description>
<pubDate>Sun, 22 Nov 2026 08:00:00 GMT</pubDate></item>
</channel></rss>
)";

// ---------------------------------------------------------------------------

TEST_CASE("feed source: conditional GET on the second poll, 304 is a quiet success",
          "[scheduler]") {
  Harness h;
  const std::string url = "https://blog.example/feed.xml";
  const std::string last_modified = "Sun, 22 Nov 2026 08:00:00 GMT";
  h.transport.Script(url, {MakeResponse(200, kRss,
                                        {{"Content-Type", "application/rss+xml"},
                                         {"ETag", "\"v1\""},
                                         {"Last-Modified", last_modified}}),
                           MakeResponse(304, "", {{"ETag", "\"v1\""}})});
  h.Build({DefaultSourceSpec(connector_feed::Descriptor(), "blog", url)});

  REQUIRE(h.Settle() == 1);
  REQUIRE(h.Posts() == 2);
  const HttpRequest& first = h.transport.requests().at(0);
  CHECK_FALSE(first.headers.Get("If-None-Match").has_value());
  SourceState stored = h.Stored("blog");
  CHECK(stored.cursor.etag == "\"v1\"");
  CHECK(stored.cursor.last_modified == last_modified);
  CHECK(stored.health == SourceHealth::kOk);
  CHECK(stored.posts_total == 2);
  RequireJittered(Until(stored.next_poll_at, h.clock.Now()), minutes(5));

  // Nothing before the interval has passed.
  h.clock.Advance(minutes(4));
  CHECK(h.Settle() == 0);

  const TimePoint second_poll = *h.scheduler->NextWakeup();
  REQUIRE(h.AdvanceAndSettle() == 1);
  REQUIRE(h.clock.Now() == second_poll);
  const HttpRequest& second = h.transport.requests().at(1);
  REQUIRE(second.headers.Get("If-None-Match").has_value());
  CHECK(*second.headers.Get("If-None-Match") == "\"v1\"");
  REQUIRE(second.headers.Get("If-Modified-Since").has_value());
  CHECK(*second.headers.Get("If-Modified-Since") == last_modified);

  // 304: no posts, success recorded, validators kept, next poll an interval on.
  CHECK(h.Posts() == 2);
  stored = h.Stored("blog");
  CHECK(stored.health == SourceHealth::kOk);
  CHECK(stored.last_success_at == h.clock.Now());
  CHECK(stored.consecutive_failures == 0);
  CHECK(stored.cursor.etag == "\"v1\"");
  CHECK(stored.cursor.last_modified == last_modified);
  RequireJittered(Until(stored.next_poll_at, h.clock.Now()), minutes(5));
  REQUIRE(h.events.size() == 2);
  CHECK(h.events[0].kind == SourceEvent::Kind::kPage);
  CHECK(h.events[0].posts == 2);
  CHECK(h.events[1].kind == SourceEvent::Kind::kNotModified);
  CHECK(h.events[1].http_status == 304);
  CHECK(h.scheduler->stats().not_modified == 1);
}

TEST_CASE("304 without validators keeps the stored ones, and a later 200 replaces them",
          "[scheduler]") {
  Harness h;
  const std::string url = "https://a.example/p";
  h.transport.ScriptPrefix(
      url, {MakeResponse(200, PageBody("1", false, {"x"}), {{"ETag", "\"e1\""}}), MakeResponse(304),
            MakeResponse(200, PageBody("2", false, {"y"}))});
  h.Build({Paged("s", url)});
  h.Settle();
  h.AdvanceAndSettle();
  CHECK(h.Stored("s").cursor.etag == "\"e1\"");
  CHECK(h.transport.requests().at(1).headers.Get("If-None-Match") == "\"e1\"");
  h.AdvanceAndSettle();
  // The new response has no ETag: asking with the old one would be wrong.
  CHECK(h.Stored("s").cursor.etag.empty());
  CHECK(h.Stored("s").cursor.cursor == "2");
  CHECK(h.Posts() == 2);
}

TEST_CASE("backoff grows exponentially with jitter and is capped", "[scheduler]") {
  Harness h;
  ScheduleOptions options;  // 30 s initial, 1 h cap, jitter 0.1
  const std::string url = "https://flaky.example/api";

  SECTION("HTTP 500") { h.transport.ScriptPrefix(url, MakeResponse(500, "oops")); }
  SECTION("network errors and timeouts") {
    h.transport.ScriptPrefix(url, {Status::Unavailable("connect to flaky.example failed"),
                                   Status::DeadlineExceeded("timed out")});
  }
  SECTION("HTTP 503 and 408") {
    h.transport.ScriptPrefix(url, {MakeResponse(503), MakeResponse(408)});
  }
  h.Build({Paged("flaky", url)}, options);

  const TimePoint first_failure = h.clock.Now();
  const int64_t expected_s[] = {30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600};
  int failures = 0;
  for (int64_t base_s : expected_s) {
    REQUIRE(h.Settle() == 1);
    ++failures;
    const SourceState& state = h.State("flaky");
    CHECK(state.health == SourceHealth::kBackoff);
    CHECK(state.consecutive_failures == failures);
    CHECK(state.blind_since == first_failure);
    CHECK(state.last_error_at == h.clock.Now());
    CHECK(state.last_error.find("flaky") != std::string::npos);
    CHECK(state.last_error.find(url) != std::string::npos);
    const Duration delay = Until(state.next_poll_at, h.clock.Now());
    RequireJittered(delay, seconds(base_s));
    // Not a moment early.
    h.clock.Advance(delay - milliseconds(1));
    REQUIRE(h.Settle() == 0);
    h.clock.Advance(milliseconds(1));
  }
  CHECK(h.transport.requests().size() == 10);
  const SourceState stored = h.Stored("flaky");
  CHECK(stored.consecutive_failures == 10);
  CHECK(stored.health == SourceHealth::kBackoff);
  CHECK(stored.blind_since == first_failure);
  CHECK(h.Posts() == 0);
}

TEST_CASE("429 waits for Retry-After in seconds or as an HTTP-date", "[scheduler]") {
  Harness h;
  const std::string url = "https://busy.example/api";
  Duration wait{};
  SECTION("delta seconds") {
    h.transport.ScriptPrefix(url, {MakeResponse(429, "", {{"Retry-After", "120"}}),
                                   MakeResponse(200, PageBody("1", false, {"a"}))});
    wait = seconds(120);
  }
  SECTION("HTTP-date") {
    const TimePoint at = h.clock.Now() + hours(2);
    h.transport.ScriptPrefix(url, {MakeResponse(429, "", {{"Retry-After", FormatHttpDate(at)}}),
                                   MakeResponse(200, PageBody("1", false, {"a"}))});
    wait = hours(2);
  }
  h.Build({Paged("busy", url)});
  const TimePoint t0 = h.clock.Now();
  REQUIRE(h.Settle() == 1);
  const SourceState stored = h.Stored("busy");
  CHECK(stored.health == SourceHealth::kRateLimited);
  CHECK(stored.next_poll_at == t0 + wait);
  CHECK(stored.consecutive_failures == 1);
  CHECK(stored.last_error.find("429") != std::string::npos);
  CHECK(h.scheduler->NextWakeup() == t0 + wait);

  h.clock.Set(t0 + wait - milliseconds(1));
  CHECK(h.Settle() == 0);
  h.clock.Set(t0 + wait);
  CHECK(h.Settle() == 1);
  CHECK(h.Stored("busy").health == SourceHealth::kOk);
  CHECK(h.Posts() == 1);
}

TEST_CASE("429 without a time backs off, and the platform's reset wins over Retry-After",
          "[scheduler]") {
  Harness h;
  const std::string url = "https://busy.example/api";
  SECTION("no time given: backoff") {
    h.transport.ScriptPrefix(url, MakeResponse(429));
    h.Build({Paged("busy", url)});
    h.Settle();
    CHECK(h.State("busy").health == SourceHealth::kRateLimited);
    RequireJittered(Until(h.State("busy").next_poll_at, h.clock.Now()), seconds(30));
  }
  SECTION("X-RateLimit-Reset later than Retry-After") {
    const TimePoint reset = h.clock.Now() + minutes(15);
    h.transport.ScriptPrefix(url, MakeResponse(429, "",
                                               {{"Retry-After", "60"},
                                                {"X-RateLimit-Remaining", "0"},
                                                {"X-RateLimit-Reset", FormatRfc3339(reset)}}));
    h.Build({Paged("busy", url)});
    h.Settle();
    CHECK(h.State("busy").next_poll_at == reset);
  }
  SECTION("Retry-After: 0 (or a past date) backs off instead of hammering") {
    h.transport.ScriptPrefix(url, MakeResponse(429, "", {{"Retry-After", "0"}}));
    h.Build({Paged("busy", url)});
    h.Settle();
    CHECK(h.State("busy").health == SourceHealth::kRateLimited);
    RequireJittered(Until(h.State("busy").next_poll_at, h.clock.Now()), seconds(30));
  }
  SECTION("a Retry-After of next year is capped") {
    h.transport.ScriptPrefix(url, MakeResponse(429, "", {{"Retry-After", "31536000"}}));
    h.Build({Paged("busy", url)});
    h.Settle();
    CHECK(Until(h.State("busy").next_poll_at, h.clock.Now()) == hours(24));
  }
}

TEST_CASE("X-RateLimit-Remaining 0 holds the host until the reset", "[scheduler]") {
  Harness h;
  ScheduleOptions options;
  options.per_host_min_delay = Duration(0);
  const TimePoint reset = h.clock.Now() + minutes(10);
  // Page 0 spends the budget and is not caught up.
  h.transport.Script(
      "https://api.example/a?page=0",
      MakeResponse(200, PageBody("1", true, {"a0"}),
                   {{"X-RateLimit-Remaining", "0"}, {"X-RateLimit-Reset", FormatRfc3339(reset)}}));
  h.transport.Script("https://api.example/a?page=1",
                     MakeResponse(200, PageBody("2", false, {"a1"})));
  h.transport.ScriptPrefix("https://api.example/b",
                           MakeResponse(200, PageBody("1", false, {"b0"})));
  // Source b on the same host is not due until a minute in.
  h.Build({Paged("a", "https://api.example/a"), Paged("b", "https://api.example/b")}, options);
  REQUIRE(
      h.store->Apply({SourceWrite{"b", SourceState{.next_poll_at = h.clock.Now() + minutes(1)}}})
          .ok());
  h.Build({Paged("a", "https://api.example/a"), Paged("b", "https://api.example/b")}, options);

  REQUIRE(h.Settle() == 1);
  CHECK(h.State("a").next_poll_at == reset);
  CHECK(h.scheduler->NextWakeup() == reset);
  h.clock.Advance(minutes(5));
  CHECK(h.Settle() == 0);  // neither the next page of a nor b (same host)
  h.clock.Set(reset);
  CHECK(h.Settle() == 2);
  CHECK(h.Posts() == 3);
  CHECK(h.State("a").cursor.cursor == "2");
}

TEST_CASE("401 and 403 stop their sources while the others keep flowing", "[scheduler]") {
  Harness h;
  ScheduleOptions options;
  options.per_host_min_delay = Duration(0);
  options.max_pages_per_poll = 1;  // one page of "good" per round
  h.transport.ScriptPrefix("https://one.example/", MakeResponse(401, "who are you"));
  h.transport.ScriptPrefix("https://two.example/", MakeResponse(403, "go away"));
  ServePages(h.transport, "https://good.example/", "g", 1000, 1);
  SourceSpec secret = Paged("locked", "https://one.example/timeline");
  secret.options["token"] = std::string("s3cr3t-t0ken");
  h.Build({secret, Paged("forbidden", "https://two.example/x"),
           Paged("good", "https://good.example/feed", minutes(1))},
          options);

  for (int round = 0; round < 5; ++round) h.AdvanceAndSettle();

  CHECK(h.transport.RequestsTo("https://one.example/").size() == 1);
  CHECK(h.transport.RequestsTo("https://two.example/").size() == 1);
  CHECK(h.transport.RequestsTo("https://good.example/").size() == 5);
  CHECK(h.Posts() == 5);
  for (const std::string name : {"locked", "forbidden"}) {
    INFO(name);
    const SourceState stored = h.Stored(name);
    CHECK(stored.health == SourceHealth::kStopped);
    CHECK(stored.consecutive_failures == 1);
    CHECK(stored.last_error.find(name) != std::string::npos);
  }
  const SourceState locked = h.Stored("locked");
  CHECK(locked.last_error.find("401") != std::string::npos);
  CHECK(locked.last_error.find("s3cr3t") == std::string::npos);
  CHECK(locked.last_error.find("access_token=***") != std::string::npos);
  CHECK(h.Stored("forbidden").last_error.find("403") != std::string::npos);
  CHECK(h.Stored("good").health == SourceHealth::kOk);
  for (const SourceEvent& e : h.events) {
    CHECK(e.url.find("s3cr3t") == std::string::npos);
    CHECK(e.error.message().find("s3cr3t") == std::string::npos);
  }

  // A new process keeps a stopped source stopped: an operator resumes it.
  h.Build({secret, Paged("forbidden", "https://two.example/x"),
           Paged("good", "https://good.example/feed", minutes(1))},
          options);
  h.AdvanceAndSettle();
  CHECK(h.transport.RequestsTo("https://one.example/").size() == 1);
  CHECK(h.transport.RequestsTo("https://two.example/").size() == 1);
}

TEST_CASE("errors never show URL userinfo or secret values", "[scheduler]") {
  Harness h;
  SourceSpec spec = Paged("private", "https://bob:hunter2@secret.example/api");
  spec.options["token"] = std::string("tok-987654");
  h.transport.ScriptPrefix("https://bob:hunter2@secret.example/",
                           {Status::Unavailable("GET https://bob:hunter2@secret.example/api?"
                                                "page=0&access_token=tok-987654: connection "
                                                "refused (server said tok-987654)"),
                            MakeResponse(500)});
  h.Build({spec});
  h.Settle();
  const std::string first = h.Stored("private").last_error;
  h.AdvanceAndSettle();
  const std::string second = h.Stored("private").last_error;
  for (const std::string& error : {first, second}) {
    INFO(error);
    CHECK(error.find("hunter2") == std::string::npos);
    CHECK(error.find("bob") == std::string::npos);
    CHECK(error.find("tok-987654") == std::string::npos);
    CHECK(error.find("https://secret.example/api?page=0&access_token=***") != std::string::npos);
    CHECK(error.find("private") != std::string::npos);
  }
  CHECK(first.find("connection refused") != std::string::npos);
  CHECK(second.find("HTTP 500") != std::string::npos);
  // Said once, not "GET url: GET url".
  CHECK(first.find("GET") == first.rfind("GET"));
  for (const SourceEvent& e : h.events) {
    CHECK(e.url == "https://secret.example/api?page=0&access_token=***");
  }
}

TEST_CASE("a request the connector cannot build stops only that source", "[scheduler]") {
  Harness h;
  SourceSpec broken = Paged("broken", "https://a.example/x");
  broken.options["broken"] = true;
  ServePages(h.transport, "https://b.example/", "b", 1);
  h.Build({broken, Paged("fine", "https://b.example/y")});
  CHECK(h.Settle() == 1);
  CHECK(h.transport.RequestsTo("https://a.example/").empty());
  const SourceState stored = h.Stored("broken");
  CHECK(stored.health == SourceHealth::kStopped);
  CHECK(stored.last_error.find("broken") != std::string::npos);
  CHECK(h.Posts() == 3);
  CHECK_FALSE(h.scheduler->NextWakeup() == std::nullopt);  // "fine" still scheduled
}

TEST_CASE("a body that cannot be parsed is quarantined and the cursor kept", "[scheduler]") {
  Harness h;
  const std::string url = "https://a.example/feed";
  h.transport.Script(url + "?page=0", MakeResponse(200, PageBody("1", false, {"p1", "p2"})));
  h.transport.Script(
      url + "?page=1",
      {MakeResponse(200, "<html>Bad gateway</html>", {{"Content-Type", "text/html"}}),
       MakeResponse(200, "<html>Bad gateway</html>", {{"Content-Type", "text/html"}}),
       MakeResponse(200, PageBody("2", false, {"p3"}))});
  h.Build({Paged("src", url)});
  h.Settle();
  REQUIRE(h.Stored("src").cursor.cursor == "1");

  h.AdvanceAndSettle();
  SourceState stored = h.Stored("src");
  CHECK(stored.cursor.cursor == "1");
  CHECK(stored.health == SourceHealth::kBackoff);
  CHECK(stored.consecutive_failures == 1);
  CHECK(stored.last_error.find("expected \"next=\"") != std::string::npos);
  RequireJittered(Until(stored.next_poll_at, h.clock.Now()), seconds(30));
  auto quarantined = h.store->Quarantined(10);
  REQUIRE(quarantined.ok());
  REQUIRE(quarantined->size() == 1);
  CHECK(quarantined->at(0).source == "src");
  CHECK(quarantined->at(0).payload.body == "<html>Bad gateway</html>");
  CHECK(quarantined->at(0).payload.url == url + "?page=1");
  CHECK(quarantined->at(0).payload.content_type == "text/html");
  CHECK(quarantined->at(0).error.find("src") != std::string::npos);
  CHECK(h.pipeline->stats().quarantined == 1);

  // The same bad body again: counted, not stored twice.
  h.AdvanceAndSettle();
  CHECK(h.Stored("src").consecutive_failures == 2);
  CHECK(h.Stored("src").cursor.cursor == "1");
  quarantined = h.store->Quarantined(10);
  REQUIRE(quarantined.ok());
  CHECK(quarantined->size() == 1);

  // The retry asks for the same page again and recovers.
  h.AdvanceAndSettle();
  CHECK(h.transport.requests().back().url == url + "?page=1");
  CHECK(h.Stored("src").cursor.cursor == "2");
  CHECK(h.Posts() == 3);
}

TEST_CASE("a connector that throws costs its source one poll, not the crawl", "[scheduler]") {
  Harness h;
  SourceSpec throwing = Paged("throwing", "https://a.example/x");
  throwing.options["throw"] = true;
  ServePages(h.transport, "https://a.example/", "a", 1);
  ServePages(h.transport, "https://b.example/", "b", 1);
  h.Build({throwing, Paged("fine", "https://b.example/y")});
  CHECK(h.Settle() == 2);
  const SourceState stored = h.Stored("throwing");
  CHECK(stored.health == SourceHealth::kBackoff);
  CHECK(stored.last_error.find("connector threw while parsing: bug in the connector") !=
        std::string::npos);
  CHECK(h.Posts() == 3);
  auto quarantined = h.store->Quarantined(10);
  REQUIRE(quarantined.ok());
  CHECK(quarantined->size() == 1);
}

TEST_CASE("per-host concurrency limit", "[scheduler]") {
  Harness h;
  ScheduleOptions options;
  options.per_host_concurrency = 2;
  options.per_host_min_delay = Duration(0);
  std::vector<SourceSpec> specs;
  for (int i = 0; i < 5; ++i) {
    specs.push_back(Paged("a" + std::to_string(i), "https://a.example/" + std::to_string(i)));
  }
  specs.push_back(Paged("b", "https://b.example/0"));
  ServePages(h.transport, "https://a.example/", "a", 1, 1);
  ServePages(h.transport, "https://b.example/", "b", 1, 1);
  h.Build(specs, options);

  h.transport.Hold();
  CHECK(h.scheduler->Poll() == 3);  // two to a.example, one to b.example
  CHECK(h.scheduler->Poll() == 0);
  CHECK(h.transport.InFlight() == 3);
  // Nothing can start until a response comes back: no time helps.
  CHECK(h.scheduler->NextWakeup() == std::nullopt);
  h.transport.Release();
  h.io.poll();
  CHECK(h.scheduler->InFlight() == 0);
  h.transport.Hold();
  CHECK(h.scheduler->Poll() == 2);
  h.transport.Release();
  h.io.restart();
  h.io.poll();
  CHECK(h.scheduler->Poll() == 1);
  h.io.restart();
  h.io.poll();
  REQUIRE(h.pipeline->Flush().ok());
  CHECK(h.Posts() == 6);
  CHECK(h.transport.max_in_flight() == 3);
}

TEST_CASE("per-host minimum delay between request starts", "[scheduler]") {
  Harness h;
  ScheduleOptions options;
  options.per_host_concurrency = 4;
  options.per_host_min_delay = seconds(1);
  ServePages(h.transport, "https://a.example/", "a", 1, 1);
  ServePages(h.transport, "https://b.example/", "b", 1, 1);
  h.Build({Paged("a1", "https://a.example/1"), Paged("a2", "https://a.example/2"),
           Paged("a3", "https://a.example/3"), Paged("b1", "https://b.example/1")},
          options);
  const TimePoint t0 = h.clock.Now();
  CHECK(h.Settle() == 2);  // one per host
  CHECK(h.scheduler->NextWakeup() == t0 + seconds(1));
  h.clock.Advance(milliseconds(999));
  CHECK(h.Settle() == 0);
  h.clock.Advance(milliseconds(1));
  CHECK(h.Settle() == 1);
  CHECK(h.scheduler->NextWakeup() == t0 + seconds(2));
  h.clock.Advance(seconds(1));
  CHECK(h.Settle() == 1);
  CHECK(h.Posts() == 4);
  // Request starts to a.example are at least a second apart.
  std::vector<std::string> order;
  for (const auto& r : h.transport.requests()) order.push_back(r.url.substr(0, 19));
  CHECK(order == std::vector<std::string>{"https://a.example/1", "https://b.example/1",
                                          "https://a.example/2", "https://a.example/3"});
}

TEST_CASE("pages are followed while not caught up, up to max_pages_per_poll", "[scheduler]") {
  Harness h;
  ScheduleOptions options;
  options.max_pages_per_poll = 3;
  options.per_host_min_delay = Duration(0);
  ServePages(h.transport, "https://a.example/t", "p", 5, 2);
  h.Build({Paged("src", "https://a.example/t")}, options);

  CHECK(h.Settle() == 3);
  CHECK(h.Posts() == 6);
  SourceState stored = h.Stored("src");
  CHECK(stored.cursor.cursor == "3");
  RequireJittered(Until(stored.next_poll_at, h.clock.Now()), minutes(5));
  CHECK_FALSE(h.events.back().caught_up);

  CHECK(h.AdvanceAndSettle() == 2);  // pages 3 and 4; 4 is caught up
  CHECK(h.Posts() == 10);
  stored = h.Stored("src");
  CHECK(stored.cursor.cursor == "5");
  CHECK(h.events.back().caught_up);
  RequireJittered(Until(stored.next_poll_at, h.clock.Now()), minutes(5));
  std::vector<std::string> urls;
  for (const auto& r : h.transport.requests()) urls.push_back(QueryParam(r.url, "page"));
  CHECK(urls == std::vector<std::string>{"0", "1", "2", "3", "4"});
}

TEST_CASE("pages respect the per-host minimum delay between them", "[scheduler]") {
  Harness h;
  ServePages(h.transport, "https://a.example/t", "p", 3, 1);
  h.Build({Paged("src", "https://a.example/t")});  // min delay 1 s
  CHECK(h.Settle() == 1);
  CHECK(h.State("src").next_poll_at == h.clock.Now());             // due at once...
  CHECK(h.scheduler->NextWakeup() == h.clock.Now() + seconds(1));  // ...politely
  CHECK(h.AdvanceAndSettle() == 1);
  CHECK(h.AdvanceAndSettle() == 1);
  CHECK(h.Posts() == 3);
  CHECK(h.events.back().caught_up);
}

TEST_CASE("a blind window is recorded when a failing source recovers", "[scheduler]") {
  Harness h;
  const std::string url = "https://a.example/feed";
  h.transport.ScriptPrefix(url, {MakeResponse(500), Status::Unavailable("reset by peer"),
                                 MakeResponse(200, PageBody("1", false, {"x"}))});
  h.Build({Paged("src", url)});
  const TimePoint t0 = h.clock.Now();
  h.Settle();
  h.AdvanceAndSettle();
  CHECK(h.Stored("src").blind_since == t0);
  CHECK(h.Stored("src").last_error.find("reset by peer") != std::string::npos);
  h.AdvanceAndSettle();
  const TimePoint recovered = h.clock.Now();

  const SourceState stored = h.Stored("src");
  CHECK(stored.health == SourceHealth::kOk);
  CHECK_FALSE(stored.blind_since.has_value());
  CHECK(stored.last_error.empty());
  CHECK(stored.consecutive_failures == 0);
  CHECK(stored.last_success_at == recovered);
  auto windows = h.store->BlindWindows("src");
  REQUIRE(windows.ok());
  REQUIRE(windows->size() == 1);
  CHECK(windows->at(0).start == t0);
  CHECK(windows->at(0).end == recovered);
  CHECK(windows->at(0).reason.find("reset by peer") != std::string::npos);
}

TEST_CASE("restart resumes from the stored cursor", "[scheduler]") {
  TempDir dir;
  const std::string db = dir.File("earshot.db");
  ScheduleOptions options;
  options.max_pages_per_poll = 2;
  options.per_host_min_delay = Duration(0);
  {
    Harness h(db);
    ServePages(h.transport, "https://a.example/t", "p", 4, 2);
    h.Build({Paged("src", "https://a.example/t")}, options);
    CHECK(h.Settle() == 2);
    CHECK(h.Stored("src").cursor.cursor == "2");
  }
  Harness h(db);
  ServePages(h.transport, "https://a.example/t", "p", 4, 2);
  h.Build({Paged("src", "https://a.example/t")}, options);
  h.clock.Advance(hours(1));
  CHECK(h.Settle() == 2);
  REQUIRE(h.transport.requests().size() == 2);
  CHECK(h.transport.requests()[0].url == "https://a.example/t?page=2");
  CHECK(h.Posts() == 8);
  CHECK(h.pipeline->stats().duplicates == 0);
  CHECK(h.Stored("src").cursor.cursor == "4");
  CHECK(h.Stored("src").posts_total == 8);
}

TEST_CASE("cancelled requests record nothing and the source is due again", "[scheduler]") {
  Harness h;
  ServePages(h.transport, "https://a.example/t", "p", 1, 1);
  h.Build({Paged("src", "https://a.example/t")});
  h.transport.Hold();
  REQUIRE(h.scheduler->Poll() == 1);
  h.transport.CancelAll();
  h.io.poll();
  REQUIRE(h.pipeline->Flush().ok());
  CHECK(h.scheduler->InFlight() == 0);
  const SourceState& state = h.State("src");
  CHECK(state.consecutive_failures == 0);
  CHECK(state.health == SourceHealth::kOk);
  CHECK(h.scheduler->NextWakeup() == h.clock.Now() + seconds(1));
}

// The atomicity loop: for every n, the n-th store step fails and the process
// "dies" there (queued writes are lost); a fresh process resumes from what was
// committed. Every post must end up stored exactly once, the cursor at the end.
TEST_CASE("page and cursor are atomic under a failure at every store step", "[scheduler]") {
  constexpr int kPages = 4;
  constexpr int kPerPage = 3;
  int64_t max_rows = GENERATE(1, 5, 1000);
  INFO("batch max_rows " << max_rows);
  ScheduleOptions options;
  options.per_host_min_delay = Duration(0);
  BatchOptions batch;
  batch.max_rows = max_rows;

  int fault_fired_runs = 0;
  for (int n = 1;; ++n) {
    INFO("failing store step " << n);
    TempDir dir;
    const std::string db = dir.File("earshot.db");
    int steps = 0;
    bool armed = false;
    bool fired = false;
    std::string fired_at;
    SqliteOptions faulty;
    faulty.fail_step = [&](std::string_view operation) {
      if (!armed || fired) return false;
      if (++steps != n) return false;
      fired = true;
      fired_at = std::string(operation);
      return true;
    };
    {
      Harness h(db, faulty);
      ServePages(h.transport, "https://a.example/t", "p", kPages, kPerPage);
      ServePages(h.transport, "https://b.example/t", "q", 2, 1);
      h.Build({Paged("a", "https://a.example/t"), Paged("b", "https://b.example/t")}, options,
              batch);
      armed = true;
      // Crawl until the fault hits; then the process dies (no flush).
      for (int i = 0; i < 50 && !fired; ++i) {
        h.scheduler->Poll();
        h.io.restart();
        if (h.io.poll() == 0) {
          (void)h.pipeline->Flush();
          if (!fired && h.scheduler->InFlight() == 0 && h.pipeline->queued_writes() == 0) break;
        }
      }
      armed = false;
    }
    if (!fired) break;  // n is past the last store step of a whole crawl
    ++fault_fired_runs;
    INFO("fault at '" << fired_at << "'");

    Harness h(db);
    ServePages(h.transport, "https://a.example/t", "p", kPages, kPerPage);
    ServePages(h.transport, "https://b.example/t", "q", 2, 1);
    h.Build({Paged("a", "https://a.example/t"), Paged("b", "https://b.example/t")}, options, batch);
    h.clock.Advance(hours(1));
    h.Settle();
    REQUIRE(h.Posts() == kPages * kPerPage + 2);
    CHECK(h.pipeline->stats().duplicates == 0);
    CHECK(h.Stored("a").cursor.cursor == std::to_string(kPages));
    CHECK(h.Stored("b").cursor.cursor == "2");
    CHECK(h.Stored("a").posts_total == kPages * kPerPage);
    CHECK(h.Stored("b").posts_total == 2);
    CHECK(h.store->CheckIntegrity().ok());
    auto posts = h.store->RecentPosts(100);
    REQUIRE(posts.ok());
    std::set<std::string> uids;
    for (const auto& p : *posts) uids.insert(p.post.uid);
    CHECK(uids.size() == static_cast<size_t>(kPages * kPerPage + 2));
  }
  CHECK(fault_fired_runs >= 3);
}

TEST_CASE("a failing store never loses a write while the crawl goes on", "[scheduler]") {
  bool failing = false;
  SqliteOptions sqlite;
  sqlite.fail_step = [&](std::string_view) { return failing; };
  Harness h(":memory:", sqlite);
  ScheduleOptions options;
  options.per_host_min_delay = Duration(0);
  BatchOptions batch;
  batch.max_rows = 2;
  batch.retry_initial = seconds(1);
  ServePages(h.transport, "https://a.example/t", "p", 3, 2);
  h.Build({Paged("a", "https://a.example/t")}, options, batch);
  failing = true;
  h.Settle(/*flush=*/false);
  CHECK(h.pipeline->stats().failures >= 1);
  CHECK(h.pipeline->queued_writes() == 3);
  failing = false;
  h.clock.Advance(seconds(1));
  REQUIRE(h.pipeline->FlushIfDue().ok());
  CHECK(h.pipeline->queued_writes() == 0);
  CHECK(h.Posts() == 6);
  CHECK(h.Stored("a").cursor.cursor == "3");
}

// ---------------------------------------------------------------------------
// Engine: the same, driven by the asio loop.

TEST_CASE("engine RunOnce polls each due source once and returns", "[scheduler][engine]") {
  Harness h;
  ScheduleOptions options;
  options.per_host_min_delay = Duration(0);
  ServePages(h.transport, "https://a.example/t", "p", 3, 2);
  h.transport.ScriptPrefix("https://down.example/", MakeResponse(500));
  h.transport.ScriptPrefix("https://limited.example/",
                           MakeResponse(429, "", {{"Retry-After", "3600"}}));
  ServePages(h.transport, "https://later.example/", "l", 1, 1);
  ServePages(h.transport, "https://stopped.example/", "s", 1, 1);
  const std::vector<SourceSpec> specs = {
      Paged("pages", "https://a.example/t"), Paged("down", "https://down.example/x"),
      Paged("limited", "https://limited.example/x"), Paged("later", "https://later.example/x"),
      Paged("stopped", "https://stopped.example/x")};
  for (const auto& s : specs) REQUIRE(h.store->UpsertSource(s).ok());
  REQUIRE(
      h.store
          ->Apply({SourceWrite{"later", SourceState{.next_poll_at = h.clock.Now() + minutes(2)}},
                   SourceWrite{"stopped", SourceState{.health = SourceHealth::kStopped}}})
          .ok());
  h.Build(specs, options);

  Engine engine(h.io, h.clock, h.transport, *h.scheduler, *h.pipeline);
  const RunSummary summary = engine.RunOnce();
  CHECK(summary.status.ok());
  CHECK(summary.sources_polled == 3);
  CHECK(summary.requests == 5);
  CHECK(summary.pages == 3);
  CHECK(summary.posts_stored == 6);
  CHECK(summary.duplicates == 0);
  CHECK(summary.failures == 2);
  CHECK(h.Posts() == 6);
  CHECK(h.pipeline->queued_writes() == 0);
  CHECK(h.transport.RequestsTo("https://later.example/").empty());
  CHECK(h.transport.RequestsTo("https://stopped.example/").empty());
  CHECK(h.Stored("down").health == SourceHealth::kBackoff);
  CHECK(h.Stored("limited").health == SourceHealth::kRateLimited);
  CHECK(h.Stored("pages").cursor.cursor == "3");

  // A second pass right away finds nothing due.
  const RunSummary again = engine.RunOnce();
  CHECK(again.sources_polled == 0);
  CHECK(again.requests == 0);
}

TEST_CASE("engine RunUntilStopped finishes in-flight pages and flushes on Stop",
          "[scheduler][engine]") {
  Harness h;
  ScheduleOptions options;
  options.per_host_min_delay = Duration(0);
  ServePages(h.transport, "https://a.example/t", "p", 1000, 1);
  ServePages(h.transport, "https://b.example/t", "q", 1000, 1);
  h.Build({Paged("a", "https://a.example/t"), Paged("b", "https://b.example/t")}, options,
          BatchOptions{.max_rows = 1000, .max_delay = hours(1)});
  Engine engine(h.io, h.clock, h.transport, *h.scheduler, *h.pipeline);
  int pages = 0;
  h.scheduler->SetEventListener([&](const SourceEvent&) {
    if (++pages == 7) engine.Stop();
  });
  const RunSummary summary = engine.RunUntilStopped();
  CHECK(summary.status.ok());
  CHECK(summary.pages == summary.requests);
  CHECK(summary.pages >= 7);
  CHECK(summary.pages <= 10);  // what was in flight or queued when Stop landed
  CHECK(h.Posts() == summary.pages);
  CHECK(summary.posts_stored == summary.pages);
  CHECK(h.pipeline->queued_writes() == 0);
  CHECK(h.transport.InFlight() == 0);
  const int64_t a = std::stoll(h.Stored("a").cursor.cursor);
  const int64_t b = std::stoll(h.Stored("b").cursor.cursor);
  CHECK(a + b == summary.pages);
}

TEST_CASE("engine keeps crawling through failed flushes and loses nothing", "[scheduler][engine]") {
  bool failing = false;
  SqliteOptions sqlite;
  sqlite.fail_step = [&](std::string_view) { return failing; };
  Harness h(":memory:", sqlite);
  ScheduleOptions options;
  options.per_host_min_delay = Duration(0);
  ServePages(h.transport, "https://a.example/t", "p", 1000, 1);
  BatchOptions batch{.max_rows = 2, .max_delay = milliseconds(100)};
  batch.retry_initial = seconds(1);
  h.Build({Paged("a", "https://a.example/t")}, options, batch);
  Engine engine(h.io, h.clock, h.transport, *h.scheduler, *h.pipeline);
  failing = true;
  int pages = 0;
  h.scheduler->SetEventListener([&](const SourceEvent&) {
    h.clock.Advance(milliseconds(700));  // time passes between responses
    ++pages;
    if (pages == 6) failing = false;
    if (pages == 12) engine.Stop();
  });
  const RunSummary summary = engine.RunUntilStopped();
  CHECK(summary.status.ok());
  CHECK(summary.flush_failures >= 2);
  CHECK(summary.pages >= 12);
  CHECK(summary.posts_stored == summary.pages);
  CHECK(h.Posts() == summary.pages);
  CHECK(h.Stored("a").cursor.cursor == std::to_string(summary.pages));
}

TEST_CASE("engine reports a final flush failure as an error", "[scheduler][engine]") {
  bool failing = false;
  SqliteOptions sqlite;
  sqlite.fail_step = [&](std::string_view) { return failing; };
  Harness h(":memory:", sqlite);
  ServePages(h.transport, "https://a.example/t", "p", 1, 2);
  h.Build({Paged("a", "https://a.example/t")});
  failing = true;
  Engine engine(h.io, h.clock, h.transport, *h.scheduler, *h.pipeline);
  const RunSummary summary = engine.RunOnce();
  CHECK_FALSE(summary.status.ok());
  CHECK(summary.status.code() == StatusCode::kIoError);
  CHECK(summary.posts_stored == 0);
  // Kept, not dropped: a later flush commits it.
  CHECK(h.pipeline->queued_writes() == 1);
  failing = false;
  REQUIRE(h.pipeline->Flush().ok());
  CHECK(h.Posts() == 2);
}

}  // namespace
}  // namespace earshot
