// The engine side of the optional connector capabilities, against
// FakeTransport, FakeClock, a real SqliteStore and the real classify stage:
// auth sessions (created once, renewed before expiry, a 401 renews once, a
// refused session stops only its source, tokens never shown), deletions
// (tombstones in the page's transaction, no resurrection, atomic under a
// failure at every store step) and conversation watching (the schedule,
// paging, replies kept without the relevance drop, 404 -> tombstone, a
// restart resumes the schedule). Time moves only by FakeClock.
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "classifiers/classifier.h"
#include "crawler/core/text.h"
#include "crawler/core/url.h"
#include "crawler/pipeline/classify_stage.h"
#include "crawler/pipeline/pipeline.h"
#include "crawler/schedule/engine.h"
#include "crawler/schedule/scheduler.h"
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
// "convo": a test connector with an AuthCapability and a
// ConversationCapability, whose pages can report deletions.
//
// Session: POST <auth_url or url>/session with the handle and the secret
// `password` in the body, or POST .../session/refresh with the refresh token
// as bearer. Answer: "access=A refresh=R ttl=S" (refresh "-": none; ttl 0:
// no expiry); any other status is an error carrying the body as the
// platform's message. Requests are authorized with "Authorization: Bearer A"
// and, to check masking, the token in a query parameter `s` whose name does
// not look secret.
// Timeline: GET <url>/timeline?page=N. Thread: GET <url>/thread/<id>?cursor=C;
// 404/410 report the post deleted. Bodies: "next=<cursor> more=<0|1>", then
// one line per post "<id> <text>" (or "<id> @<unix seconds> <text>" with a
// creation time), or "deleted <id> <reason>".

constexpr char kPlatform[] = "convo";
constexpr char kPassword[] = "hunter2-secret-pw";

Result<Page> ParseBody(const HttpResponse& response) {
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
    const size_t space = line.find(' ');
    const std::string first = line.substr(0, space);
    const std::string rest = space == std::string::npos ? "" : line.substr(space + 1);
    if (first == "deleted") {
      const size_t gap = rest.find(' ');
      page.deletions.push_back(
          Deletion{rest.substr(0, gap), gap == std::string::npos ? "" : rest.substr(gap + 1)});
      continue;
    }
    Post post;
    post.platform = kPlatform;
    post.id = first;
    post.url = "https://convo.example/p/" + first;
    post.author_handle = "@someone";
    post.author_name = "Some One";
    post.text = rest;
    if (rest.rfind('@', 0) == 0) {  // "@<unix seconds> text": the creation time
      const size_t gap = rest.find(' ');
      post.created_at = FromUnixSeconds(std::stoll(rest.substr(1, gap - 1)));
      post.text = rest.substr(gap + 1);
    }
    post.ref = "ref-of-" + first;
    page.posts.push_back(std::move(post));
  }
  return page;
}

std::string AuthBase(const SourceSpec& spec) { return spec.GetString("auth_url", spec.url); }

Result<HttpRequest> ConvoSessionRequest(const SourceSpec& spec, const AuthSession* current) {
  HttpRequest request;
  request.method = "POST";
  if (current != nullptr) {
    request.url = AuthBase(spec) + "/session/refresh";
    request.headers.Add("Authorization", "Bearer " + current->refresh_token);
    return request;
  }
  const std::string password = spec.GetString("password");
  if (password.empty()) {
    return Status::InvalidArgument("source '" + spec.name + "': no password configured");
  }
  request.url = AuthBase(spec) + "/session";
  request.body = "handle=" + spec.GetString("handle") + "&password=" + password;
  return request;
}

Result<AuthSession> ConvoParseSession(const SourceSpec&, const HttpResponse& response,
                                      TimePoint now) {
  if (response.status < 200 || response.status >= 300) {
    return StatusFromHttp(response.status, "convo session " + response.url, response.body);
  }
  std::istringstream in(response.body);
  std::string access, refresh, ttl;
  in >> access >> refresh >> ttl;
  if (access.rfind("access=", 0) != 0 || refresh.rfind("refresh=", 0) != 0 ||
      ttl.rfind("ttl=", 0) != 0) {
    return Status::ParseError(response.url + ": not a session");
  }
  AuthSession session;
  session.access_token = access.substr(7);
  session.refresh_token = refresh.substr(8) == "-" ? "" : refresh.substr(8);
  const int64_t seconds_left = std::stoll(ttl.substr(4));
  if (seconds_left > 0) session.expires_at = now + seconds(seconds_left);
  session.account = "did:convo:someone";
  return session;
}

void ConvoAuthorize(const AuthSession& session, HttpRequest& request) {
  request.headers.Set("Authorization", "Bearer " + session.access_token);
  request.url +=
      (request.url.find('?') == std::string::npos ? "?s=" : "&s=") + session.access_token;
}

Result<HttpRequest> ConvoNextRequest(const SourceSpec& spec, const SourceCursor& cursor) {
  HttpRequest request;
  request.url = spec.url + "/timeline?page=" + (cursor.cursor.empty() ? "0" : cursor.cursor);
  return request;
}

Result<Page> ConvoParse(const SourceSpec&, const SourceCursor&, const HttpResponse& response) {
  return ParseBody(response);
}

RateLimitInfo ConvoRateLimit(const HttpResponse&) { return {}; }

Result<HttpRequest> ConvoConversationRequest(const SourceSpec& spec, const Post& post,
                                             std::string_view cursor) {
  if (post.ref != "ref-of-" + post.id) return Status::InvalidArgument("post without its ref");
  HttpRequest request;
  request.url = spec.url + "/thread/" + post.id +
                "?cursor=" + (cursor.empty() ? std::string("0") : std::string(cursor));
  return request;
}

Result<Page> ConvoConversationParse(const SourceSpec&, const Post& post,
                                    const HttpResponse& response) {
  if (response.status == 404 || response.status == 410) {
    Page page;
    page.deletions.push_back(Deletion{post.uid, "not found on re-fetch"});
    return page;
  }
  Result<Page> page = ParseBody(response);
  if (!page.ok()) return page;
  for (Post& reply : page->posts) {
    reply.reply_to = post.id;
    reply.conversation = post.id;
  }
  return page;
}

// The platform's explanation: the whole body, as is (the engine makes it one
// short line, repairs its UTF-8 and masks secrets). A body starting "THROW"
// makes it throw, which it promises never to do.
std::string ConvoErrorDetail(const HttpResponse& response) {
  if (response.body.rfind("THROW", 0) == 0) throw std::runtime_error("error_detail threw");
  return response.body;
}

// Like Bluesky, a 400 whose body starts "ExpiredToken" is a refused session.
bool ConvoSessionRefused(const HttpResponse& response) {
  return response.status == 400 && response.body.rfind("ExpiredToken", 0) == 0;
}

const AuthCapability kConvoAuth{&ConvoSessionRequest, &ConvoParseSession, &ConvoAuthorize, nullptr,
                                &ConvoSessionRefused};
const ConversationCapability kConvoConversation{&ConvoConversationRequest, &ConvoConversationParse};

const ConnectorDescriptor& ConvoConnector() {
  static const ConnectorDescriptor descriptor{
      kPlatform,
      "test connector with sessions and conversations",
      {{"handle", ConfigKeySpec::Type::kString, "someone", false, false, "account"},
       {"password", ConfigKeySpec::Type::kString, "", false, true, "app password"},
       {"auth_url", ConfigKeySpec::Type::kString, "", false, false, "session endpoint base"}},
      &ConvoNextRequest,
      &ConvoParse,
      &ConvoRateLimit,
      &kConvoAuth,
      &kConvoConversation,
      nullptr,
      nullptr,
      &ConvoErrorDetail};
  return descriptor;
}

std::string Body(const std::string& next, bool more, const std::vector<std::string>& lines) {
  std::string body = "next=" + next + (more ? " more=1\n" : " more=0\n");
  for (const auto& line : lines) body += line + "\n";
  return body;
}

std::string BearerOf(const HttpRequest& request) {
  auto value = request.headers.Get("Authorization");
  if (!value || value->rfind("Bearer ", 0) != 0) return "";
  return std::string(value->substr(7));
}

// The platform behind one source: issues and checks tokens, serves the
// timeline pages and threads it is given, and records what it was asked.
class FakeConvo {
 public:
  FakeConvo(FakeTransport& transport, const FakeClock& clock, std::string base)
      : clock_(clock), base_(std::move(base)) {
    transport.Handle(base_ + "/session", [this](const HttpRequest& r) { return Session(r); });
    transport.Handle(base_ + "/timeline", [this](const HttpRequest& r) { return Timeline(r); });
    transport.Handle(base_ + "/thread/", [this](const HttpRequest& r) { return Thread(r); });
  }

  // Behaviour, set by the tests.
  int64_t ttl_s = 0;  // 0: sessions never expire
  bool give_refresh_tokens = true;
  bool expired_as_400 = false;              // an unknown token: 400 "ExpiredToken", not 401
  std::optional<FakeReply> session_reply;   // answers every session request
  std::optional<FakeReply> timeline_reply;  // answers every timeline request
  std::vector<std::string> timeline;        // page k's body; later pages are empty
  // A thread's answer for a cursor; absent: one empty page.
  std::map<std::string, std::function<FakeReply(const std::string& cursor)>> threads;

  // Platform state and what it saw.
  std::set<std::string> valid_access;
  std::set<std::string> valid_refresh;
  std::vector<std::string> issued;  // every token handed out, in order
  int created = 0;
  int refreshed = 0;
  std::vector<TimePoint> session_times;
  std::vector<std::string> timeline_tokens;  // bearer of each timeline request
  struct ThreadCall {
    std::string id;
    std::string cursor;
    TimePoint at;
    std::string bearer;
  };
  std::vector<ThreadCall> thread_calls;

  std::string last_access() const { return issued.size() >= 2 ? issued[issued.size() - 2] : ""; }

 private:
  FakeReply Issue() {
    const int n = created + refreshed;
    const std::string access = "acc-" + std::to_string(n) + "-Zq8vT3";
    const std::string refresh = give_refresh_tokens ? "ref-" + std::to_string(n) + "-Kp2Lm9" : "";
    valid_access.insert(access);
    issued.push_back(access);
    issued.push_back(refresh);
    if (!refresh.empty()) valid_refresh.insert(refresh);
    return MakeResponse(200, "access=" + access + " refresh=" + (refresh.empty() ? "-" : refresh) +
                                 " ttl=" + std::to_string(ttl_s));
  }

  FakeReply Session(const HttpRequest& request) {
    session_times.push_back(clock_.Now());
    if (session_reply) return *session_reply;
    if (request.method != "POST") return MakeResponse(405, "POST only");
    if (request.url.find("/session/refresh") != std::string::npos) {
      const std::string token = BearerOf(request);
      if (valid_refresh.erase(token) == 0) {
        return MakeResponse(401, "ExpiredToken: refresh token " + token + " has expired");
      }
      ++refreshed;
      return Issue();
    }
    if (request.body.find(std::string("password=") + kPassword) == std::string::npos) {
      return MakeResponse(401, "AuthenticationRequired: invalid identifier or password");
    }
    ++created;
    return Issue();
  }

  FakeReply Timeline(const HttpRequest& request) {
    const std::string bearer = BearerOf(request);
    timeline_tokens.push_back(bearer);
    if (valid_access.count(bearer) == 0) {
      if (expired_as_400) return MakeResponse(400, "ExpiredToken: Token has expired");
      return MakeResponse(401, "InvalidToken: " + bearer + " is not valid");
    }
    if (timeline_reply) return *timeline_reply;
    const size_t k = std::stoul(QueryParam(request.url, "page"));
    if (k >= timeline.size()) return MakeResponse(200, Body(std::to_string(k), false, {}));
    return MakeResponse(200, timeline[k]);
  }

  FakeReply Thread(const HttpRequest& request) {
    const std::string path = request.url.substr(0, request.url.find('?'));
    const std::string id = path.substr(path.rfind('/') + 1);
    const std::string cursor = QueryParam(request.url, "cursor");
    const std::string bearer = BearerOf(request);
    thread_calls.push_back({id, cursor, clock_.Now(), bearer});
    if (valid_access.count(bearer) == 0) {
      return expired_as_400 ? MakeResponse(400, "ExpiredToken: Token has expired")
                            : MakeResponse(401, "InvalidToken");
    }
    auto it = threads.find(id);
    if (it == threads.end()) return MakeResponse(200, Body("0", false, {}));
    return it->second(cursor);
  }

  const FakeClock& clock_;
  std::string base_;
};

SourceSpec Convo(std::string name, std::string url, Duration interval = minutes(5)) {
  SourceSpec spec;
  spec.name = std::move(name);
  spec.connector = kPlatform;
  spec.url = std::move(url);
  spec.interval = interval;
  spec.options["handle"] = std::string("someone");
  spec.options["password"] = std::string(kPassword);
  return spec;
}

// The classifier from the repository's config (the real rules and gazetteer),
// loaded once: "the Northern General" routes to RHQ.
const ClassifierHolder& Classifiers() {
  static const ClassifierHolder* holder = [] {
    auto loaded = Classifier::Load(DefaultClassifierPaths());
    INFO(loaded.status().ToString());
    REQUIRE(loaded.ok());
    return new ClassifierHolder(std::move(loaded).value());
  }();
  return *holder;
}

class TempDir {
 public:
  TempDir() {
    std::random_device random;
    const std::string name =
        "earshot-capabilities-test-" + std::to_string(random()) + std::to_string(random());
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

ScheduleOptions Exact() {
  ScheduleOptions options;
  options.jitter = 0;
  return options;
}

// Everything a test needs, wired as the CLI wires it (classify stage included).
struct Harness {
  explicit Harness(std::string db_path = ":memory:", SqliteOptions sqlite = {}) {
    spdlog::set_level(spdlog::level::off);
    auto opened = SqliteStore::Open(db_path, std::move(sqlite));
    REQUIRE(opened.ok());
    store = std::move(opened).value();
  }
  ~Harness() { spdlog::set_level(spdlog::level::info); }

  void Build(const std::vector<SourceSpec>& specs, ScheduleOptions options = Exact(),
             BatchOptions batch = {}) {
    std::vector<ScheduledSource> sources;
    for (const SourceSpec& spec : specs) {
      REQUIRE(store->UpsertSource(spec).ok());
      auto record = store->GetSource(spec.name);
      REQUIRE(record.ok());
      sources.push_back({spec, &ConvoConnector(), record->state});
    }
    scheduler.reset();
    pipeline = std::make_unique<Pipeline>(*store, clock, batch);
    pipeline->AddStage(std::make_unique<ClassifyStage>(Classifiers()));
    scheduler = std::make_unique<Scheduler>(std::move(sources), clock, transport, *pipeline,
                                            options, /*seed=*/7);
    scheduler->SetEventListener([this](const SourceEvent& e) { events.push_back(e); });
  }

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

  int AdvanceAndSettle() {
    auto wake = scheduler->NextWakeup();
    REQUIRE(wake.has_value());
    if (*wake > clock.Now()) clock.Set(*wake);
    return Settle();
  }

  // Runs everything due up to `t`, in time order, then sets the clock to `t`.
  int AdvanceTo(TimePoint t) {
    int started = Settle();
    for (int guard = 0; guard < 10'000; ++guard) {
      auto wake = scheduler->NextWakeup();
      if (!wake || *wake > t) break;
      if (*wake > clock.Now()) clock.Set(*wake);
      started += Settle();
    }
    clock.Set(std::max(clock.Now(), t));
    return started;
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
  std::optional<StoredPost> Find(const std::string& id) {
    auto found = store->FindPost(kPlatform, id);
    INFO(found.status().ToString());
    REQUIRE(found.ok());
    return *found;
  }
  std::optional<ConversationWatch> Watch(const std::string& id) {
    auto found = store->FindWatch(kPlatform, id);
    INFO(found.status().ToString());
    REQUIRE(found.ok());
    return *found;
  }

  FakeClock clock;
  boost::asio::io_context io;
  FakeTransport transport{io};
  std::unique_ptr<SqliteStore> store;
  std::unique_ptr<Pipeline> pipeline;
  std::unique_ptr<Scheduler> scheduler;
  std::vector<SourceEvent> events;
};

const std::string kBaseA = "https://api.convo.example/a";
const std::string kBaseB = "https://api.other.example/b";

// ---------------------------------------------------------------------------
// Auth sessions

TEST_CASE("a session is created before the first request and reused", "[capabilities][auth]") {
  Harness h;
  FakeConvo a(h.transport, h.clock, kBaseA);
  a.timeline = {Body("1", true, {"a1 Waited four hours at the Northern General"}),
                Body("2", false, {"a2 Lovely nurses at the Northern General"})};
  h.Build({Convo("a", kBaseA)});
  const TimePoint t0 = h.clock.Now();

  // The session request goes first; the host's minimum delay then holds the
  // timeline request back, as for any two requests to one host.
  REQUIRE(h.Settle() == 1);
  CHECK(a.created == 1);
  CHECK(a.timeline_tokens.empty());
  CHECK(h.scheduler->NextWakeup() == t0 + seconds(1));
  REQUIRE(h.AdvanceAndSettle() == 1);
  REQUIRE(h.AdvanceAndSettle() == 1);
  CHECK(h.clock.Now() == t0 + seconds(2));
  CHECK(h.Stored("a").cursor.cursor == "2");
  CHECK(h.Find("a1").has_value());
  CHECK(h.Find("a2").has_value());

  // The next poll, five minutes on, uses the same session.
  REQUIRE(h.AdvanceAndSettle() == 1);
  CHECK(a.created == 1);
  CHECK(a.refreshed == 0);
  REQUIRE(a.timeline_tokens.size() == 3);
  for (const std::string& token : a.timeline_tokens) CHECK(token == a.issued.at(0));
  const auto& requests = h.transport.requests();
  REQUIRE(requests.size() == 4);
  CHECK(requests[0].method == "POST");
  CHECK(requests[0].url == kBaseA + "/session");
  CHECK(requests[1].url == kBaseA + "/timeline?page=0&s=" + a.issued.at(0));
  CHECK(h.scheduler->stats().sessions == 1);
  CHECK(h.scheduler->stats().requests == 4);
  CHECK(h.Stored("a").health == SourceHealth::kOk);
}

TEST_CASE("a session is renewed a minute before it expires", "[capabilities][auth]") {
  Harness h;
  FakeConvo a(h.transport, h.clock, kBaseA);
  a.ttl_s = 600;
  // Polls at t0+1s, t0+4m31s, t0+9m01s, ...: the third is within the
  // minute before the session's end (t0+10m).
  h.Build({Convo("a", kBaseA, seconds(270))});
  const TimePoint t0 = h.clock.Now();
  h.Settle();
  h.AdvanceAndSettle();  // poll 1 at t0+1s
  h.AdvanceAndSettle();  // poll 2 at t0+4m31s
  CHECK(h.clock.Now() == t0 + seconds(271));
  CHECK(a.created == 1);
  CHECK(a.refreshed == 0);

  SECTION("with its refresh token") {
    h.AdvanceAndSettle();  // t0+9m01s: the refresh first
    CHECK(h.clock.Now() == t0 + seconds(541));
    CHECK(a.refreshed == 1);
    CHECK(a.created == 1);
    CHECK(a.session_times.back() == t0 + seconds(541));
    const HttpRequest& refresh = h.transport.requests().back();
    CHECK(refresh.url == kBaseA + "/session/refresh");
    CHECK(BearerOf(refresh) == a.issued.at(1));
    h.AdvanceAndSettle();  // then the poll, a polite second later
    CHECK(a.timeline_tokens.back() == a.issued.at(2));
    CHECK(h.Stored("a").health == SourceHealth::kOk);
  }
  SECTION("a refused refresh is followed by a new session") {
    a.valid_refresh.clear();
    h.AdvanceAndSettle();  // refresh: 401
    CHECK(a.refreshed == 0);
    h.AdvanceAndSettle();  // created anew
    CHECK(a.created == 2);
    h.AdvanceAndSettle();  // and the poll goes out with it
    CHECK(a.timeline_tokens.back() == a.issued.at(a.issued.size() - 2));
    CHECK(h.Stored("a").health == SourceHealth::kOk);
    CHECK(h.Stored("a").consecutive_failures == 0);
  }
  SECTION("without a refresh token, by creating a new one") {
    a.give_refresh_tokens = false;
    // The session in hand has one; spend it so the next answer has none.
    h.AdvanceAndSettle();  // refresh -> a session without a refresh token
    h.AdvanceAndSettle();  // poll
    CHECK(a.refreshed == 1);
    h.AdvanceTo(h.clock.Now() + minutes(10));
    CHECK(a.created == 2);
    CHECK(h.transport.requests().back().url.find("/timeline") != std::string::npos);
    const HttpRequest* last_session = nullptr;
    for (const auto& r : h.transport.requests()) {
      if (r.url.find("/session") != std::string::npos) last_session = &r;
    }
    REQUIRE(last_session != nullptr);
    CHECK(last_session->url == kBaseA + "/session");
  }
}

TEST_CASE("a 401 renews the session once, a second 401 stops the source", "[capabilities][auth]") {
  Harness h;
  FakeConvo a(h.transport, h.clock, kBaseA);
  h.Build({Convo("a", kBaseA)});
  h.Settle();
  h.AdvanceAndSettle();  // session + first poll
  REQUIRE(a.timeline_tokens.size() == 1);

  SECTION("a revoked token: one new session, and the poll goes through") {
    a.valid_access.clear();
    h.AdvanceAndSettle();  // poll: 401
    CHECK(h.State("a").health == SourceHealth::kOk);
    CHECK(h.State("a").consecutive_failures == 0);
    h.AdvanceAndSettle();  // new session
    CHECK(a.created == 2);
    h.AdvanceAndSettle();  // the poll again
    CHECK(a.timeline_tokens.size() == 3);
    CHECK(a.timeline_tokens.back() == a.issued.at(2));
    CHECK(h.Stored("a").health == SourceHealth::kOk);
    CHECK(h.scheduler->stats().failures == 0);
    // A later 401 may renew again: the allowance is per success.
    a.valid_access.clear();
    h.AdvanceTo(h.clock.Now() + minutes(6));
    CHECK(a.created == 3);
    CHECK(h.Stored("a").health == SourceHealth::kOk);
  }
  SECTION("401 with a fresh session too: stopped") {
    a.timeline_reply = MakeResponse(401, "InvalidToken");
    h.AdvanceAndSettle();  // 401
    h.AdvanceAndSettle();  // new session
    h.AdvanceAndSettle();  // 401 again
    CHECK(a.created == 2);
    CHECK(a.timeline_tokens.size() == 3);
    const SourceState stored = h.Stored("a");
    CHECK(stored.health == SourceHealth::kStopped);
    CHECK(stored.consecutive_failures == 1);
    CHECK(stored.last_error.find("401") != std::string::npos);
    CHECK_FALSE(h.scheduler->NextWakeup().has_value());
    CHECK(h.Settle() == 0);
  }
}

TEST_CASE("a 400 the connector reads as a refused session renews it like a 401",
          "[capabilities][auth]") {
  Harness h;
  FakeConvo a(h.transport, h.clock, kBaseA);
  a.expired_as_400 = true;
  h.Build({Convo("a", kBaseA)});
  h.Settle();
  h.AdvanceAndSettle();  // session + first poll
  REQUIRE(a.timeline_tokens.size() == 1);

  SECTION("an expired token: one new session, and the poll goes through") {
    a.valid_access.clear();
    h.AdvanceAndSettle();  // poll: 400 ExpiredToken
    CHECK(h.State("a").health == SourceHealth::kOk);
    CHECK(h.State("a").consecutive_failures == 0);
    h.AdvanceAndSettle();  // new session
    CHECK(a.created == 2);
    h.AdvanceAndSettle();  // the poll again
    REQUIRE(a.timeline_tokens.size() == 3);
    CHECK(a.timeline_tokens.back() == a.issued.at(2));
    CHECK(h.Stored("a").health == SourceHealth::kOk);
    CHECK(h.scheduler->stats().failures == 0);
  }
  SECTION("refused with a fresh session too: stopped, as for a second 401") {
    a.timeline_reply = MakeResponse(400, "ExpiredToken: Token has expired");
    h.AdvanceAndSettle();  // 400
    h.AdvanceAndSettle();  // new session
    h.AdvanceAndSettle();  // 400 again
    CHECK(a.created == 2);
    CHECK(a.timeline_tokens.size() == 3);
    const SourceState stored = h.Stored("a");
    CHECK(stored.health == SourceHealth::kStopped);
    CHECK(stored.last_error.find("HTTP 400") != std::string::npos);
    CHECK(stored.last_error.find("ExpiredToken") != std::string::npos);
  }
  SECTION("any other 400 backs off and keeps the session") {
    a.timeline_reply = MakeResponse(400, "InvalidRequest: bad sort");
    h.AdvanceAndSettle();
    CHECK(h.State("a").health == SourceHealth::kBackoff);
    CHECK(h.State("a").consecutive_failures == 1);
    CHECK(a.created == 1);
  }
}

TEST_CASE("a refused session stops only its source, with the platform's message",
          "[capabilities][auth]") {
  Harness h;
  ScheduleOptions options = Exact();
  options.per_host_min_delay = Duration(0);
  FakeConvo a(h.transport, h.clock, kBaseA);
  FakeConvo b(h.transport, h.clock, kBaseB);
  b.timeline = {Body("1", false, {"b1 Waited at the Northern General"})};
  const std::string refused =
      std::string("AccountTakedown: account suspended (password ") + kPassword + " is wrong)";
  SECTION("403") { a.session_reply = MakeResponse(403, refused); }
  SECTION("401") { a.session_reply = MakeResponse(401, refused); }
  h.Build({Convo("a", kBaseA, minutes(1)), Convo("b", kBaseB, minutes(1))}, options);
  h.AdvanceTo(h.clock.Now() + minutes(10));

  CHECK(h.transport.RequestsTo(kBaseA).size() == 1);  // the session request, once
  const SourceState stopped = h.Stored("a");
  CHECK(stopped.health == SourceHealth::kStopped);
  CHECK(stopped.last_error.find("AccountTakedown: account suspended") != std::string::npos);
  CHECK(stopped.last_error.find("signing in") != std::string::npos);
  CHECK(stopped.last_error.find(kPassword) == std::string::npos);
  CHECK(stopped.last_error.find("***") != std::string::npos);
  // b keeps flowing: a session, then a poll a minute.
  CHECK(b.created == 1);
  CHECK(b.timeline_tokens.size() >= 10);
  CHECK(h.Stored("b").health == SourceHealth::kOk);
  CHECK(h.Find("b1").has_value());
}

TEST_CASE("a session request failing with 5xx or a network error backs off",
          "[capabilities][auth]") {
  Harness h;
  FakeConvo a(h.transport, h.clock, kBaseA);
  SECTION("503") { a.session_reply = MakeResponse(503, "maintenance"); }
  SECTION("network") { a.session_reply = Status::Unavailable("connection refused"); }
  h.Build({Convo("a", kBaseA)});
  const TimePoint t0 = h.clock.Now();
  h.Settle();
  CHECK(h.State("a").health == SourceHealth::kBackoff);
  CHECK(h.State("a").next_poll_at == t0 + seconds(30));
  CHECK(h.State("a").last_error.find("signing in") != std::string::npos);
  h.AdvanceAndSettle();
  CHECK(h.State("a").next_poll_at == h.clock.Now() + seconds(60));
  a.session_reply.reset();
  h.AdvanceAndSettle();  // session
  h.AdvanceAndSettle();  // poll
  CHECK(h.Stored("a").health == SourceHealth::kOk);
  CHECK(a.timeline_tokens.size() == 1);
  auto windows = h.store->BlindWindows("a");
  REQUIRE(windows.ok());
  CHECK(windows->size() == 1);
}

TEST_CASE("session tokens and secrets never reach logs, errors or events", "[capabilities][auth]") {
  std::ostringstream log;
  auto previous = spdlog::default_logger();
  auto capture = std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_st>(log));
  spdlog::set_default_logger(capture);
  {
    Harness h;
    spdlog::set_level(spdlog::level::trace);
    FakeConvo a(h.transport, h.clock, kBaseA);
    a.ttl_s = 600;
    a.timeline = {Body("1", false, {"a1 Waited at the Northern General"})};
    h.Build({Convo("a", kBaseA)});
    h.Settle();
    h.AdvanceAndSettle();  // session 1 and a page
    // The transport fails naming the authorized URL, token included.
    a.timeline_reply.reset();
    h.transport.Handle(kBaseA + "/timeline", [&](const HttpRequest& request) -> FakeReply {
      return Status::Unavailable("GET " + request.url + ": connection reset (token " +
                                 BearerOf(request) + ")");
    });
    h.AdvanceAndSettle();
    CHECK(h.State("a").health == SourceHealth::kBackoff);
    // The refresh is refused with a message that quotes the refresh token,
    // then sign-in is refused quoting the password.
    a.valid_refresh.clear();
    a.session_reply.reset();
    h.AdvanceTo(h.clock.Now() + minutes(10));
    a.session_reply =
        MakeResponse(401, "bad credentials " + std::string(kPassword) + " " + a.issued.at(0));
    h.AdvanceTo(h.clock.Now() + hours(2));
    CHECK(h.Stored("a").health == SourceHealth::kStopped);

    std::vector<std::string> secrets = {kPassword};
    for (const std::string& token : a.issued) {
      if (!token.empty()) secrets.push_back(token);
    }
    REQUIRE(secrets.size() >= 3);
    const SourceState stored = h.Stored("a");
    for (const std::string& secret : secrets) {
      INFO(secret);
      CHECK(log.str().find(secret) == std::string::npos);
      CHECK(stored.last_error.find(secret) == std::string::npos);
      for (const SourceEvent& e : h.events) {
        CHECK(e.url.find(secret) == std::string::npos);
        CHECK(e.error.message().find(secret) == std::string::npos);
      }
    }
    CHECK(stored.last_error.find("bad credentials ***") != std::string::npos);
    CHECK(log.str().find("connection reset (token ***)") != std::string::npos);
    // The session bodies were never kept.
    auto quarantined = h.store->Quarantined(10);
    REQUIRE(quarantined.ok());
    CHECK(quarantined->empty());
  }
  spdlog::set_default_logger(previous);
  spdlog::set_level(spdlog::level::info);
}

TEST_CASE("a failed request's error carries the platform's explanation, one safe line",
          "[capabilities][error_detail]") {
  Harness h;
  FakeConvo a(h.transport, h.clock, kBaseA);
  h.Build({Convo("a", kBaseA)});
  h.Settle();
  h.AdvanceAndSettle();  // session + first poll
  REQUIRE(h.Stored("a").health == SourceHealth::kOk);
  const auto after_http = [](const std::string& message, const std::string& status) {
    const size_t at = message.find("HTTP " + status);
    REQUIRE(at != std::string::npos);
    return message.substr(at);
  };

  SECTION("a poll answered 400: the words follow the status, cut, repaired, masked") {
    a.timeline_reply =
        MakeResponse(400, "BadQuery: the q parameter\nis too long\t(password " +
                              std::string(kPassword) + ") \xC3\x28" + std::string(1000, 'x'));
    h.AdvanceAndSettle();
    const SourceState state = h.Stored("a");
    CHECK(state.health == SourceHealth::kBackoff);
    INFO(state.last_error);
    const std::string tail = after_http(state.last_error, "400");
    CHECK(tail.rfind("HTTP 400: BadQuery: the q parameter is too long (password ***) ", 0) == 0);
    CHECK(tail.size() <= std::string("HTTP 400: ").size() + 300);
    CHECK(tail.size() > std::string("HTTP 400: ").size() + 250);
    CHECK(tail.substr(tail.size() - 3) == "...");
    CHECK(IsValidUtf8(state.last_error));
    CHECK(state.last_error.find('\n') == std::string::npos);
    CHECK(state.last_error.find(kPassword) == std::string::npos);
    CHECK(h.events.back().error.message() == state.last_error);
  }
  SECTION("a poll answered 429 and 403") {
    a.timeline_reply = MakeResponse(429, "RateLimitExceeded: slow down", {{"Retry-After", "60"}});
    h.AdvanceAndSettle();
    CHECK(h.Stored("a").health == SourceHealth::kRateLimited);
    CHECK(after_http(h.Stored("a").last_error, "429") == "HTTP 429: RateLimitExceeded: slow down");
    a.timeline_reply = MakeResponse(403, "AccountTakedown: this account is suspended");
    h.AdvanceAndSettle();
    CHECK(h.Stored("a").health == SourceHealth::kStopped);
    CHECK(after_http(h.Stored("a").last_error, "403") ==
          "HTTP 403: AccountTakedown: this account is suspended");
  }
  SECTION("a detail that only repeats the status' words, or is empty, adds nothing odd") {
    a.timeline_reply = MakeResponse(500, "   \n\t  ");
    h.AdvanceAndSettle();
    CHECK(after_http(h.Stored("a").last_error, "500") == "HTTP 500");
  }
  SECTION("an error_detail that throws costs only its words") {
    a.timeline_reply = MakeResponse(502, "THROW me");
    h.AdvanceAndSettle();
    CHECK(h.Stored("a").health == SourceHealth::kBackoff);
    CHECK(after_http(h.Stored("a").last_error, "502") == "HTTP 502");
  }
  SECTION("a refused session: the platform's words once, not twice") {
    a.valid_access.clear();
    a.session_reply = MakeResponse(401, "AuthenticationRequired: wrong app password");
    h.AdvanceTo(h.clock.Now() + minutes(10));
    const SourceState state = h.Stored("a");
    CHECK(state.health == SourceHealth::kStopped);
    INFO(state.last_error);
    const std::string words = "AuthenticationRequired: wrong app password";
    const size_t first = state.last_error.find(words);
    REQUIRE(first != std::string::npos);
    CHECK(state.last_error.find(words, first + 1) == std::string::npos);
  }
}

TEST_CASE("a failed conversation fetch records the platform's explanation on its watch",
          "[capabilities][error_detail][conversation]") {
  Harness h;
  ScheduleOptions options = Exact();
  options.conversation_schedule = {minutes(10), hours(1)};
  FakeConvo a(h.transport, h.clock, kBaseA);
  a.timeline = {Body("1", false, {"n1 Waited five hours at the Northern General A&E"})};
  h.Build({Convo("a", kBaseA, hours(1000))}, options);
  h.Settle();
  h.AdvanceAndSettle();
  const TimePoint anchor = h.clock.Now();
  a.threads["n1"] = [](const std::string&) {
    return MakeResponse(403, "NotPermitted: this thread is\nfollowers-only");
  };
  h.AdvanceTo(anchor + minutes(11));
  REQUIRE(a.thread_calls.size() == 1);
  auto watch = h.Watch("n1");
  REQUIRE(watch.has_value());
  INFO(watch->last_error);
  CHECK(watch->last_error.find("HTTP 403: NotPermitted: this thread is followers-only") !=
        std::string::npos);
  CHECK_FALSE(watch->next_fetch_at.has_value());
  CHECK(h.events.back().conversation);
  CHECK(h.events.back().error.message().find("NotPermitted") != std::string::npos);
  CHECK(h.Stored("a").health == SourceHealth::kOk);
}

// ---------------------------------------------------------------------------
// Deletions

TEST_CASE("deletions on a page tombstone stored posts, they never come back",
          "[capabilities][deletion]") {
  Harness h;
  FakeConvo a(h.transport, h.clock, kBaseA);
  a.timeline = {Body("1", false,
                     {"p1 Waited six hours at the Northern General",
                      "p2 Parking chaos at the Northern General",
                      "p3 Thank you to the Northern General nurses"}),
                Body("2", false,
                     {"deleted p2 deleted by its author", "deleted ghost removed by moderators",
                      "p4 Northern General discharge went well"}),
                // p2 turns up again (a cache, a re-post of the same id).
                Body("3", false, {"p2 Parking chaos at the Northern General"})};
  h.Build({Convo("a", kBaseA)});
  h.AdvanceTo(h.clock.Now() + minutes(1));
  REQUIRE(h.Find("p2").has_value());
  const int64_t row = h.Find("p2")->row_id;
  REQUIRE(h.store->RawFor(row).ok());
  REQUIRE(h.Watch("p2").has_value());

  h.AdvanceTo(h.clock.Now() + minutes(5));  // page 2: the deletions, with the cursor
  CHECK(h.Stored("a").cursor.cursor == "2");
  const StoredPost gone = *h.Find("p2");
  CHECK(gone.deleted_at == h.clock.Now() - seconds(59));
  CHECK(gone.deletion_reason == "deleted by its author");
  CHECK(gone.post.text.empty());
  CHECK(gone.post.author_handle.empty());
  CHECK(gone.post.author_name.empty());
  CHECK(gone.post.ref == "ref-of-p2");
  bool routed = false;
  for (const Decision& d : gone.post.decisions) {
    if (d.kind == Decision::Kind::kOrg) routed = d.value == "RHQ";
    CHECK(d.start == -1);
    CHECK(d.end == -1);
  }
  CHECK(routed);
  CHECK_FALSE(h.store->RawFor(row).ok());
  CHECK(h.store->SearchPosts("chaos", 10)->empty());
  CHECK_FALSE(h.Watch("p2")->next_fetch_at.has_value());
  CHECK(h.pipeline->stats().deleted == 1);
  CHECK(h.pipeline->stats().deletions_ignored == 1);  // "ghost" was never stored
  CHECK_FALSE(h.Find("ghost").has_value());
  CHECK(h.Find("p1")->post.text == "Waited six hours at the Northern General");
  CHECK(h.Find("p4").has_value());

  h.AdvanceTo(h.clock.Now() + minutes(5));  // page 3: p2 again
  CHECK(h.Stored("a").cursor.cursor == "3");
  CHECK(h.Find("p2")->post.text.empty());
  CHECK(h.Find("p2")->deleted_at.has_value());
  CHECK(h.store->SearchPosts("chaos", 10)->empty());
  CHECK(h.store->CheckIntegrity().ok());
}

// The atomicity loop of scheduler_test, with deletions and watches: the n-th
// store step fails and the process dies there; a fresh process resumes from
// what was committed. Every post ends up stored once, the deletions applied
// exactly, the watches present.
TEST_CASE("pages, deletions and watches are atomic under a failure at every store step",
          "[capabilities][deletion]") {
  constexpr int kPages = 4;
  // Page k: posts k-0..k-2, and the deletion of (k-1)-0.
  auto serve = [](Harness& h) {
    h.transport.Handle(kBaseA + "/session", [](const HttpRequest&) -> FakeReply {
      return MakeResponse(200, "access=tok-Atom refresh=- ttl=0");
    });
    h.transport.Handle(kBaseA + "/timeline", [](const HttpRequest& request) -> FakeReply {
      const int k = std::stoi(QueryParam(request.url, "page"));
      if (k >= kPages) return MakeResponse(200, Body(std::to_string(k), false, {}));
      std::vector<std::string> lines;
      for (int j = 0; j < 3; ++j) {
        lines.push_back("n" + std::to_string(k) + "-" + std::to_string(j) +
                        " Waited at the Northern General, visit " + std::to_string(k));
      }
      if (k > 0) lines.push_back("deleted n" + std::to_string(k - 1) + "-0 deleted by its author");
      return MakeResponse(200, Body(std::to_string(k + 1), k + 1 < kPages, lines));
    });
  };
  ScheduleOptions options = Exact();
  options.per_host_min_delay = Duration(0);
  options.conversation_schedule = {hours(72)};  // nothing due during the test
  int64_t max_rows = GENERATE(1, 1000);
  BatchOptions batch;
  batch.max_rows = max_rows;

  int fault_runs = 0;
  for (int n = 1;; ++n) {
    INFO("failing store step " << n << ", max_rows " << max_rows);
    TempDir dir;
    const std::string db = dir.File("earshot.db");
    int steps = 0;
    bool armed = false, fired = false;
    SqliteOptions faulty;
    faulty.fail_step = [&](std::string_view) {
      if (!armed || fired || ++steps != n) return false;
      fired = true;
      return true;
    };
    {
      Harness h(db, faulty);
      serve(h);
      h.Build({Convo("a", kBaseA)}, options, batch);
      armed = true;
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
    if (!fired) break;
    ++fault_runs;

    Harness h(db);
    serve(h);
    h.Build({Convo("a", kBaseA)}, options, batch);
    h.clock.Advance(hours(1));
    h.Settle();
    CHECK(h.Stored("a").cursor.cursor == std::to_string(kPages));
    CHECK(h.Stored("a").posts_total == kPages * 3);
    auto count = h.store->CountPosts();
    REQUIRE(count.ok());
    CHECK(*count == kPages * 3);
    for (int k = 0; k < kPages; ++k) {
      for (int j = 0; j < 3; ++j) {
        const std::string id = "n" + std::to_string(k) + "-" + std::to_string(j);
        INFO(id);
        auto post = h.Find(id);
        REQUIRE(post.has_value());
        const bool deleted = j == 0 && k + 1 < kPages;
        CHECK(post->deleted_at.has_value() == deleted);
        CHECK(post->post.text.empty() == deleted);
        auto watch = h.Watch(id);
        REQUIRE(watch.has_value());
        CHECK(watch->next_fetch_at.has_value() == !deleted);
      }
    }
    CHECK(h.store->CheckIntegrity().ok());
  }
  CHECK(fault_runs >= 5);
}

// ---------------------------------------------------------------------------
// Conversation watching

// One routed post "n1" at t0 (+1 s after its session): the anchor.
struct Watched {
  explicit Watched(Harness& h, ScheduleOptions options = Exact())
      : a(h.transport, h.clock, kBaseA) {
    a.timeline = {Body("1", false,
                       {"n1 Waited five hours at the Northern General A&E",
                        "x1 Lovely weather for a walk by the canal"})};
    h.Build({Convo("a", kBaseA, hours(1000))}, options);
    h.Settle();
    h.AdvanceAndSettle();
    anchor = h.clock.Now();
  }
  FakeConvo a;
  TimePoint anchor{};
};

TEST_CASE("routed posts are watched and their conversation fetched on the schedule",
          "[capabilities][conversation]") {
  Harness h;
  Watched w(h);
  FakeConvo& a = w.a;
  a.threads["n1"] = [](const std::string&) {
    return MakeResponse(200, Body("0", false,
                                  {"r1 I agree, terrible", "r2 Same thing happened to me",
                                   "n1 Waited five hours at the Northern General A&E"}));
  };
  // Only the routed post is watched (the canal walk was not even kept).
  REQUIRE(h.Watch("n1").has_value());
  CHECK_FALSE(h.Find("x1").has_value());
  CHECK(h.Watch("n1")->anchor_at == w.anchor);
  CHECK(h.Watch("n1")->next_fetch_at == w.anchor + minutes(10));
  CHECK(h.scheduler->NextWakeup() == w.anchor + minutes(10));

  h.AdvanceTo(w.anchor + minutes(10) - milliseconds(1));
  CHECK(a.thread_calls.empty());
  h.AdvanceTo(w.anchor + minutes(10));
  h.Settle();
  REQUIRE(a.thread_calls.size() == 1);
  CHECK(a.thread_calls[0].id == "n1");
  CHECK(a.thread_calls[0].cursor == "0");
  CHECK(a.thread_calls[0].bearer == a.issued.at(0));  // through the source's session

  // The replies are stored though they name no organisation: they belong to
  // a conversation we hold. They were redacted and classified all the same.
  auto r1 = h.Find("r1");
  REQUIRE(r1.has_value());
  CHECK(r1->post.text == "I agree, terrible");
  CHECK(r1->post.reply_to == "n1");
  CHECK(r1->post.conversation == "n1");
  CHECK(r1->post.content_hash.size() == 64);
  CHECK(h.Find("r2").has_value());
  CHECK_FALSE(h.Watch("r1").has_value());  // replies are not watched themselves
  auto watch = h.Watch("n1");
  CHECK(watch->fetches == 1);
  CHECK(watch->attempts == 1);
  CHECK(watch->last_fetch_at == w.anchor + minutes(10));
  CHECK(watch->next_fetch_at == w.anchor + hours(1));
  CHECK(h.events.back().conversation);
  CHECK(h.events.back().kind == SourceEvent::Kind::kPage);
  CHECK(h.events.back().posts == 2);  // the watched post itself is not repeated

  h.AdvanceTo(w.anchor + hours(200));
  std::vector<TimePoint> times;
  for (const auto& call : a.thread_calls) times.push_back(call.at);
  CHECK(times == std::vector<TimePoint>{w.anchor + minutes(10), w.anchor + hours(1),
                                        w.anchor + hours(6), w.anchor + hours(24),
                                        w.anchor + hours(72)});
  watch = h.Watch("n1");
  CHECK(watch->fetches == 5);
  CHECK_FALSE(watch->next_fetch_at.has_value());
  CHECK(h.store->PendingWatches("a", 10)->empty());
  CHECK(h.scheduler->stats().conversation_fetches == 5);
  CHECK(h.pipeline->stats().duplicates >= 8);
  CHECK(h.Stored("a").health == SourceHealth::kOk);
}

TEST_CASE("a conversation is followed page by page with the capability's cursor",
          "[capabilities][conversation]") {
  Harness h;
  Watched w(h);
  w.a.threads["n1"] = [](const std::string& cursor) {
    if (cursor == "0") return MakeResponse(200, Body("c2", true, {"r1 first reply"}));
    if (cursor == "c2") return MakeResponse(200, Body("c3", true, {"r2 second reply"}));
    return MakeResponse(200, Body("c4", false, {"r3 third reply"}));
  };
  h.AdvanceTo(w.anchor + minutes(10) + seconds(5));
  REQUIRE(w.a.thread_calls.size() == 3);
  CHECK(w.a.thread_calls[1].cursor == "c2");
  CHECK(w.a.thread_calls[2].cursor == "c3");
  CHECK(w.a.thread_calls[1].at == w.anchor + minutes(10) + seconds(1));  // polite
  for (const char* id : {"r1", "r2", "r3"}) CHECK(h.Find(id).has_value());
  CHECK(h.scheduler->stats().conversation_pages == 3);
  CHECK(h.scheduler->stats().conversation_fetches == 1);
  auto watch = h.Watch("n1");
  CHECK(watch->fetches == 1);
  CHECK(watch->next_fetch_at == w.anchor + hours(1));

  SECTION("pages stop at max_pages_per_poll") {
    Harness h2;
    ScheduleOptions options = Exact();
    options.max_pages_per_poll = 2;
    Watched w2(h2, options);
    w2.a.threads["n1"] = [](const std::string& cursor) {
      return MakeResponse(200, Body(cursor + "x", true, {"r" + cursor + " endless"}));
    };
    h2.AdvanceTo(w2.anchor + minutes(30));
    CHECK(w2.a.thread_calls.size() == 2);
    CHECK(h2.Watch("n1")->next_fetch_at == w2.anchor + hours(1));
  }
}

TEST_CASE("a watched post answered 404 on re-fetch becomes a tombstone and is watched no more",
          "[capabilities][conversation][deletion]") {
  Harness h;
  Watched w(h);
  int calls = 0;
  const int gone_status = GENERATE(404, 410);
  w.a.threads["n1"] = [&](const std::string&) {
    if (++calls == 1) return MakeResponse(200, Body("0", false, {"r1 a reply"}));
    return MakeResponse(gone_status, "{\"error\":\"RecordNotFound\"}");
  };
  h.AdvanceTo(w.anchor + hours(2));
  REQUIRE(calls == 2);
  auto gone = h.Find("n1");
  REQUIRE(gone.has_value());
  CHECK(gone->deleted_at == w.anchor + hours(1));
  CHECK(gone->deletion_reason == "not found on re-fetch");
  CHECK(gone->post.text.empty());
  auto watch = h.Watch("n1");
  CHECK_FALSE(watch->next_fetch_at.has_value());
  CHECK(watch->fetches == 2);
  CHECK(h.Find("r1")->post.text == "a reply");  // the replies' own text stays
  h.AdvanceTo(w.anchor + hours(100));
  CHECK(calls == 2);
  CHECK(h.Stored("a").health == SourceHealth::kOk);
}

TEST_CASE("the watch list survives a restart and the schedule resumes",
          "[capabilities][conversation]") {
  TempDir dir;
  const std::string db = dir.File("earshot.db");
  TimePoint anchor{};
  {
    Harness h(db);
    Watched w(h);
    anchor = w.anchor;
  }
  {
    Harness h(db);  // a new process: the clock starts where the first did
    FakeConvo a(h.transport, h.clock, kBaseA);
    h.Build({Convo("a", kBaseA, hours(1000))});
    h.AdvanceTo(anchor + minutes(20));
    REQUIRE(a.thread_calls.size() == 1);
    // A new process signs in first, then fetches (a second later, politely).
    CHECK(a.thread_calls[0].at == anchor + minutes(10) + seconds(1));
    CHECK(a.created == 1);
    CHECK(a.timeline_tokens.empty());  // the source itself was not due
  }
  {
    Harness h(db);
    FakeConvo a(h.transport, h.clock, kBaseA);
    h.Build({Convo("a", kBaseA, hours(1000))});
    h.clock.Set(anchor + minutes(20));
    h.AdvanceTo(anchor + hours(2));
    REQUIRE(a.thread_calls.size() == 1);  // the 10-minute step is not repeated
    CHECK(a.thread_calls[0].at == anchor + hours(1) + seconds(1));
    auto watch = h.Watch("n1");
    CHECK(watch->fetches == 2);
    CHECK(watch->next_fetch_at == anchor + hours(6));
  }
}

TEST_CASE("a post found after some steps have passed is fetched once, then on schedule",
          "[capabilities][conversation]") {
  Harness h;
  FakeConvo a(h.transport, h.clock, kBaseA);
  // Created seven hours before it is fetched: steps 10 min, 1 h and 6 h are
  // past; one fetch ten minutes after it was stored (not by the poll that
  // stored it), then 24 h and 72 h.
  const TimePoint created = h.clock.Now() - hours(7);
  a.timeline = {Body("1", false,
                     {"old @" + std::to_string(ToUnixMillis(created) / 1000) +
                      " Waited at the Northern General"})};
  h.Build({Convo("a", kBaseA, hours(1000))});
  h.Settle();
  h.AdvanceAndSettle();
  const TimePoint found = h.clock.Now();
  REQUIRE(h.Watch("old").has_value());
  CHECK(h.Watch("old")->anchor_at == created);
  h.AdvanceTo(found + hours(100));
  std::vector<TimePoint> times;
  for (const auto& call : a.thread_calls) times.push_back(call.at);
  CHECK(times ==
        std::vector<TimePoint>{found + minutes(10), created + hours(24), created + hours(72)});
  CHECK_FALSE(h.Watch("old")->next_fetch_at.has_value());
  CHECK(h.Watch("old")->fetches == 3);
}

TEST_CASE("conversation fetch failures touch the watch, not the source",
          "[capabilities][conversation]") {
  Harness h;
  Watched w(h);
  SECTION("429 blocks the host; the watch stays due and is fetched after the reset") {
    int calls = 0;
    w.a.threads["n1"] = [&](const std::string&) {
      if (++calls == 1) return MakeResponse(429, "", {{"Retry-After", "600"}});
      return MakeResponse(200, Body("0", false, {"r1 reply"}));
    };
    h.AdvanceTo(w.anchor + minutes(10));
    h.Settle();
    CHECK(calls == 1);
    CHECK(h.Watch("n1")->attempts == 0);
    CHECK(h.Stored("a").health == SourceHealth::kOk);
    CHECK(h.scheduler->NextWakeup() == w.anchor + minutes(20));
    h.AdvanceTo(w.anchor + minutes(30));
    CHECK(calls == 2);
    CHECK(w.a.thread_calls[1].at == w.anchor + minutes(20));
    CHECK(h.Find("r1").has_value());
    CHECK(h.Watch("n1")->fetches == 1);
  }
  SECTION("5xx retries the step after a backoff, then skips it") {
    w.a.threads["n1"] = [](const std::string&) { return MakeResponse(503, "busy"); };
    h.AdvanceTo(w.anchor + minutes(50));
    // 10 min, +30 s, +60 s: three attempts at the first step, then the next.
    std::vector<TimePoint> times;
    for (const auto& call : w.a.thread_calls) times.push_back(call.at);
    CHECK(times == std::vector<TimePoint>{w.anchor + minutes(10),
                                          w.anchor + minutes(10) + seconds(30),
                                          w.anchor + minutes(10) + seconds(90)});
    auto watch = h.Watch("n1");
    CHECK(watch->fetches == 0);
    CHECK(watch->attempts == 3);
    CHECK(watch->failures == 0);
    CHECK(watch->next_fetch_at == w.anchor + hours(1));
    CHECK(watch->last_error.find("503") != std::string::npos);
    CHECK(h.Stored("a").health == SourceHealth::kOk);
    CHECK(h.Stored("a").consecutive_failures == 0);
  }
  SECTION("an unreadable body is quarantined and the step skipped") {
    w.a.threads["n1"] = [](const std::string&) { return MakeResponse(200, "<html>oops"); };
    h.AdvanceTo(w.anchor + minutes(15));
    CHECK(w.a.thread_calls.size() == 1);
    auto quarantined = h.store->Quarantined(10);
    REQUIRE(quarantined.ok());
    REQUIRE(quarantined->size() == 1);
    CHECK(quarantined->front().payload.body == "<html>oops");
    CHECK(quarantined->front().payload.url.find(w.a.issued.at(0)) == std::string::npos);
    CHECK(h.Watch("n1")->next_fetch_at == w.anchor + hours(1));
  }
  SECTION("403 ends the watch") {
    w.a.threads["n1"] = [](const std::string&) { return MakeResponse(403, "private"); };
    h.AdvanceTo(w.anchor + hours(100));
    CHECK(w.a.thread_calls.size() == 1);
    CHECK_FALSE(h.Watch("n1")->next_fetch_at.has_value());
    CHECK(h.Stored("a").health == SourceHealth::kOk);
  }
  SECTION("401 renews the session once, then the fetch goes through") {
    w.a.valid_access.clear();
    h.AdvanceTo(w.anchor + minutes(11));
    REQUIRE(w.a.thread_calls.size() == 2);
    CHECK(w.a.created == 2);
    CHECK(w.a.thread_calls[1].bearer == w.a.issued.at(2));
    CHECK(h.Watch("n1")->fetches == 1);
  }
  SECTION("a 400 the connector reads as a refused session renews it the same way") {
    w.a.valid_access.clear();
    w.a.expired_as_400 = true;
    h.AdvanceTo(w.anchor + minutes(11));
    REQUIRE(w.a.thread_calls.size() == 2);
    CHECK(w.a.created == 2);
    CHECK(w.a.thread_calls[1].bearer == w.a.issued.at(2));
    CHECK(h.Watch("n1")->fetches == 1);
    CHECK(h.Stored("a").health == SourceHealth::kOk);
  }
}

TEST_CASE("a watched post deleted by a poll is not fetched", "[capabilities][conversation]") {
  Harness h;
  FakeConvo a(h.transport, h.clock, kBaseA);
  a.timeline = {Body("1", false, {"n1 Waited five hours at the Northern General A&E"}),
                Body("2", false, {"deleted n1 deleted by its author"})};
  h.Build({Convo("a", kBaseA, minutes(5))});
  h.AdvanceTo(h.clock.Now() + hours(100));
  CHECK(h.Find("n1")->deleted_at.has_value());
  CHECK(a.thread_calls.empty());
  CHECK_FALSE(h.Watch("n1")->next_fetch_at.has_value());
  CHECK(h.Watch("n1")->fetches == 0);
}

TEST_CASE("a single pass fetches the conversations due when it begins", "[capabilities][engine]") {
  Harness h;
  Watched w(h);
  h.clock.Set(w.anchor + minutes(10));
  Engine engine(h.io, h.clock, h.transport, *h.scheduler, *h.pipeline);
  const RunSummary summary = engine.RunOnce();
  CHECK(summary.status.ok());
  CHECK(summary.conversations == 1);
  CHECK(summary.sources_polled == 1);
  CHECK(w.a.thread_calls.size() == 1);
  CHECK(h.Watch("n1")->fetches == 1);
  const RunSummary again = engine.RunOnce();
  CHECK(again.requests == 0);
  CHECK(again.conversations == 0);
}

}  // namespace
}  // namespace earshot
