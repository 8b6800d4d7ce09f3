// ReplyPublisher against FakeTransport and FakeClock: the Mastodon reply
// capability end to end (success, 401, 403, 422, 429, 5xx, timeouts,
// unreadable 2xx bodies, idempotent resends), its resolve step for a post
// read on another instance (found, not found, refused, lost and asked
// again, none needed on the same instance), and a small connector with an
// AuthCapability for sessions (creation, failure, reuse, refresh, a kept
// session the platform rejects, a resolve step carrying the session).
// Nothing sleeps: completions run when the test polls the io_context.
#include "crawler/publish/publisher.h"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/feed/feed.h"
#include "connectors/mastodon/mastodon.h"
#include "crawler/core/time_format.h"
#include "tests/support/fake_transport.h"
#include "tests/support/fixtures.h"

namespace earshot {
namespace {

using testing::FakeReply;
using testing::FakeTransport;
using testing::MakeResponse;

constexpr char kStatuses[] = "https://social.example/api/v1/statuses";
constexpr char kToken[] = "wr1te-T0KEN";

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

SourceSpec MastodonAccount() {
  SourceSpec account;
  account.name = "sth-mastodon";
  account.connector = "mastodon";
  account.url = "https://social.example";
  account.options["access_token"] = std::string(kToken);
  return account;
}

Post MastodonTarget() {
  Post post;
  post.platform = "mastodon";
  post.id = "113500000000000402";
  post.uid = "https://social.example/users/patient_pat/statuses/113500000000000402";
  post.url = "https://social.example/@patient_pat/113500000000000402";
  post.ref = "https://social.example";
  return post;
}

ReplyDraft Draft(std::string key = "reply-1") {
  ReplyDraft draft;
  draft.body = "Thank you for telling us. We would like to hear more.";
  draft.idempotency_key = std::move(key);
  return draft;
}

HttpResponse Created() {
  return MakeResponse(200, testing::ReadFile(testing::OwnFixture("mastodon/reply_created.json")),
                      {{"Content-Type", "application/json; charset=utf-8"}});
}

HttpResponse Error(int status, const std::string& message) {
  return MakeResponse(status, "{\"error\":\"" + message + "\"}",
                      {{"Content-Type", "application/json; charset=utf-8"}});
}

// A publisher over a fake transport, and a way to run one publish.
struct Bench {
  boost::asio::io_context io;
  FakeClock clock;
  FakeTransport transport{io};
  std::unique_ptr<ReplyPublisher> publisher =
      std::make_unique<ReplyPublisher>(io, transport, clock);

  // Starts a publish; the outcome lands in the returned slot once the
  // io_context has run.
  std::shared_ptr<std::optional<PublishOutcome>> Start(const ConnectorDescriptor& connector,
                                                       const SourceSpec& account,
                                                       const Post& target, ReplyDraft draft) {
    auto slot = std::make_shared<std::optional<PublishOutcome>>();
    publisher->Publish(connector, account, target, std::move(draft), [slot](PublishOutcome o) {
      REQUIRE_FALSE(slot->has_value());  // exactly once
      *slot = std::move(o);
    });
    return slot;
  }

  PublishOutcome Run(const ConnectorDescriptor& connector, const SourceSpec& account,
                     const Post& target, ReplyDraft draft) {
    auto slot = Start(connector, account, target, std::move(draft));
    CHECK_FALSE(slot->has_value());  // never inline
    io.restart();
    io.run();
    REQUIRE(slot->has_value());
    return std::move(*slot).value();
  }

  PublishOutcome RunMastodon(ReplyDraft draft = Draft()) {
    return Run(connector_mastodon::Descriptor(), MastodonAccount(), MastodonTarget(),
               std::move(draft));
  }
};

// Checks a failure that surely posted nothing.
void CheckRefused(const PublishOutcome& outcome, StatusCode code, const std::string& message) {
  REQUIRE_FALSE(outcome.reply.ok());
  CHECK(outcome.reply.status().code() == code);
  CHECK(Contains(outcome.reply.status().message(), message));
  CHECK(Contains(outcome.reply.status().message(), "account \"sth-mastodon\" (mastodon)"));
  CHECK_FALSE(Contains(outcome.reply.status().message(), kToken));
  CHECK_FALSE(outcome.outcome_unknown);
}

// ------------------------------------------------------------- Mastodon ---

TEST_CASE("publish: a Mastodon reply is posted once and its URL returned", "[publish]") {
  Bench bench;
  bench.transport.Script(kStatuses, Created());
  PublishOutcome outcome = bench.RunMastodon();
  INFO(outcome.reply.status().ToString());
  REQUIRE(outcome.reply.ok());
  CHECK(outcome.reply->id == "113500000000000500");
  CHECK(outcome.reply->url == "https://social.example/@nhs_trust/113500000000000500");
  CHECK(outcome.reply->uid == "https://social.example/users/nhs_trust/statuses/113500000000000500");
  CHECK(outcome.attempts == 1);
  CHECK_FALSE(outcome.outcome_unknown);
  REQUIRE(bench.transport.requests().size() == 1);
  const HttpRequest& sent = bench.transport.requests()[0];
  CHECK(sent.method == "POST");
  CHECK(sent.headers.Get("Authorization") == "Bearer " + std::string(kToken));
  CHECK(sent.headers.Get("Idempotency-Key") == "reply-1");
  CHECK(Contains(sent.body, "in_reply_to_id=113500000000000402"));
  CHECK(bench.transport.unscripted() == 0);
}

TEST_CASE("publish: Mastodon refusals are failures with the platform's words", "[publish]") {
  Bench bench;
  SECTION("401 expired token") {
    bench.transport.Script(kStatuses, Error(401, "The access token is invalid"));
    CheckRefused(bench.RunMastodon(), StatusCode::kUnauthenticated,
                 "HTTP 401: The access token is invalid");
  }
  SECTION("403") {
    bench.transport.Script(kStatuses, Error(403, "This action is not allowed"));
    CheckRefused(bench.RunMastodon(), StatusCode::kPermissionDenied, "This action is not allowed");
  }
  SECTION("422") {
    bench.transport.Script(kStatuses, Error(422, "Validation failed: Text can't be blank"));
    CheckRefused(bench.RunMastodon(), StatusCode::kInvalidArgument,
                 "HTTP 422: Validation failed: Text can't be blank");
  }
  SECTION("429") {
    HttpResponse limited = Error(429, "Too many requests");
    limited.headers.Add("X-RateLimit-Reset", "2026-11-22T12:05:00.000Z");
    bench.transport.Script(kStatuses, limited);
    CheckRefused(bench.RunMastodon(), StatusCode::kRateLimited, "limit resets at");
  }
  // A refusal posted nothing: never resent, key or not.
  CHECK(bench.transport.requests().size() == 1);
}

TEST_CASE("publish: a lost answer is resent only under an honoured idempotency key", "[publish]") {
  Bench bench;
  SECTION("timeout, then the platform's answer to the repeat") {
    bench.transport.Script(
        kStatuses, std::vector<FakeReply>{Status::DeadlineExceeded("timed out"), Created()});
    PublishOutcome outcome = bench.RunMastodon();
    REQUIRE(outcome.reply.ok());
    CHECK(outcome.attempts == 2);
    const auto& requests = bench.transport.requests();
    REQUIRE(requests.size() == 2);
    CHECK(requests[0].headers.Get("Idempotency-Key") == "reply-1");
    CHECK(requests[1].headers.Get("Idempotency-Key") == "reply-1");
    CHECK(requests[0].body == requests[1].body);
  }
  SECTION("timeouts every time: failed, and possibly posted") {
    bench.transport.Script(kStatuses, Status::DeadlineExceeded("timed out after 30s"));
    PublishOutcome outcome = bench.RunMastodon();
    REQUIRE_FALSE(outcome.reply.ok());
    CHECK(outcome.reply.status().code() == StatusCode::kDeadlineExceeded);
    CHECK(outcome.outcome_unknown);
    CHECK(outcome.attempts == 2);
    CHECK(bench.transport.requests().size() == 2);
  }
  SECTION("no key: sent once, outcome unknown") {
    bench.transport.Script(kStatuses, Status::Unavailable("connection reset"));
    PublishOutcome outcome = bench.RunMastodon(Draft(""));
    CHECK(outcome.reply.status().code() == StatusCode::kUnavailable);
    CHECK(outcome.outcome_unknown);
    CHECK(outcome.attempts == 1);
    CHECK(bench.transport.requests().size() == 1);
  }
  SECTION("a gateway's 502, then the repeat") {
    bench.transport.Script(kStatuses, std::vector<FakeReply>{MakeResponse(502,
                                                                          "<html>bad gateway"
                                                                          "</html>"),
                                                             Created()});
    PublishOutcome outcome = bench.RunMastodon();
    REQUIRE(outcome.reply.ok());
    CHECK(outcome.attempts == 2);
  }
  SECTION("5xx every time") {
    bench.transport.Script(kStatuses, MakeResponse(500, "oops"));
    PublishOutcome outcome = bench.RunMastodon();
    CHECK(outcome.reply.status().code() == StatusCode::kUnavailable);
    CHECK(outcome.outcome_unknown);
    CHECK(outcome.attempts == 2);
  }
  SECTION("max_attempts 1 never resends") {
    bench.publisher = std::make_unique<ReplyPublisher>(bench.io, bench.transport, bench.clock,
                                                       PublishOptions{.max_attempts = 1});
    bench.transport.Script(kStatuses, Status::DeadlineExceeded("timed out"));
    PublishOutcome outcome = bench.RunMastodon();
    CHECK(outcome.outcome_unknown);
    CHECK(bench.transport.requests().size() == 1);
  }
  SECTION("cancelled: not resent") {
    bench.transport.Script(kStatuses, Status::Cancelled("shutdown"));
    PublishOutcome outcome = bench.RunMastodon();
    CHECK(outcome.reply.status().code() == StatusCode::kCancelled);
    CHECK(outcome.outcome_unknown);
    CHECK(bench.transport.requests().size() == 1);
  }
}

TEST_CASE("publish: an unreadable 200 is never success", "[publish]") {
  Bench bench;
  SECTION("unreadable every time") {
    bench.transport.Script(kStatuses, MakeResponse(200, "<html>Welcome!</html>"));
    PublishOutcome outcome = bench.RunMastodon();
    REQUIRE_FALSE(outcome.reply.ok());
    CHECK(outcome.reply.status().code() == StatusCode::kParseError);
    CHECK(Contains(outcome.reply.status().message(), "may have been published"));
    CHECK(outcome.outcome_unknown);
    CHECK(outcome.attempts == 2);  // the repeat asks Mastodon for the same status
  }
  SECTION("a readable repeat") {
    bench.transport.Script(kStatuses,
                           std::vector<FakeReply>{MakeResponse(200, "{\"id\":"), Created()});
    PublishOutcome outcome = bench.RunMastodon();
    REQUIRE(outcome.reply.ok());
    CHECK(outcome.reply->id == "113500000000000500");
  }
  SECTION("without a key: once") {
    bench.transport.Script(kStatuses, MakeResponse(200, ""));
    PublishOutcome outcome = bench.RunMastodon(Draft(""));
    CHECK(outcome.outcome_unknown);
    CHECK(outcome.attempts == 1);
  }
  SECTION("an earlier reply under a reused key: known, not resent") {
    Post other = MastodonTarget();
    other.id = "113500000000000105";
    bench.transport.Script(kStatuses, Created());
    PublishOutcome outcome =
        bench.Run(connector_mastodon::Descriptor(), MastodonAccount(), other, Draft());
    CHECK(outcome.reply.status().code() == StatusCode::kAlreadyExists);
    CHECK_FALSE(outcome.outcome_unknown);
    CHECK(outcome.attempts == 1);
  }
}

TEST_CASE("publish: what is wrong before sending is refused without a request", "[publish]") {
  Bench bench;
  bench.transport.Script(kStatuses, Created());
  SourceSpec account = MastodonAccount();
  Post target = MastodonTarget();
  ReplyDraft draft = Draft();
  std::string expected;
  const ConnectorDescriptor* connector = &connector_mastodon::Descriptor();
  SECTION("a platform that takes no replies") {
    connector = &connector_feed::Descriptor();
    account.connector = "feed";
    target.platform = "feed";
    target.url = "https://blog.example/2026/03/story/";
    expected = "answer on the platform at https://blog.example/2026/03/story/";
  }
  SECTION("another platform's post") {
    target.platform = "feed";
    expected = "cannot answer a post from \"feed\"";
  }
  SECTION("an account of another connector") {
    account.connector = "bluesky";
    expected = "configured for connector \"bluesky\"";
  }
  SECTION("an empty reply") {
    draft.body = "  \n";
    expected = "the reply is empty";
  }
  SECTION("too long for the platform") {
    draft.body = std::string(501, 'a');
    expected = "501 characters; mastodon takes 500";
  }
  SECTION("invalid UTF-8") {
    draft.body = "caf\xC3";
    expected = "not valid UTF-8";
  }
  SECTION("the connector's own refusal: finding a post read elsewhere needs a token") {
    target.ref = "https://mastodon.social";
    account.options.erase("access_token");
    expected = "needs `access_token`";
  }
  SECTION("no access token") {
    account.options.erase("access_token");
    expected = "`access_token`";
  }
  PublishOutcome outcome = bench.Run(*connector, account, target, draft);
  REQUIRE_FALSE(outcome.reply.ok());
  CHECK(outcome.reply.status().code() == StatusCode::kInvalidArgument);
  CHECK(Contains(outcome.reply.status().message(), expected));
  CHECK(outcome.attempts == 0);
  CHECK_FALSE(outcome.outcome_unknown);
  CHECK(bench.transport.requests().empty());
}

TEST_CASE("publish: the blocking helper for the CLI", "[publish]") {
  Bench bench;
  bench.transport.Script(kStatuses, Created());
  PublishOutcome outcome =
      PublishAndWait(bench.io, *bench.publisher, connector_mastodon::Descriptor(),
                     MastodonAccount(), MastodonTarget(), Draft());
  REQUIRE(outcome.reply.ok());
  CHECK(outcome.reply->url == "https://social.example/@nhs_trust/113500000000000500");
  // And once more on the same io_context.
  bench.transport.Script(kStatuses, Error(401, "The access token is invalid"));
  PublishOutcome refused =
      PublishAndWait(bench.io, *bench.publisher, connector_mastodon::Descriptor(),
                     MastodonAccount(), MastodonTarget(), Draft("reply-2"));
  CHECK(refused.reply.status().code() == StatusCode::kUnauthenticated);
}

TEST_CASE("publish: a publisher destroyed first still answers its caller", "[publish]") {
  Bench bench;
  bench.transport.Script(kStatuses, Created());
  auto slot =
      bench.Start(connector_mastodon::Descriptor(), MastodonAccount(), MastodonTarget(), Draft());
  bench.publisher.reset();
  bench.io.run();
  REQUIRE(slot->has_value());
  CHECK((*slot)->reply.status().code() == StatusCode::kCancelled);
  CHECK_FALSE((*slot)->outcome_unknown);
  CHECK(bench.transport.requests().empty());
}

std::vector<std::string> Urls(const FakeTransport& transport) {
  std::vector<std::string> urls;
  for (const HttpRequest& r : transport.requests()) urls.push_back(r.url);
  return urls;
}

// ------------------------------------------- Mastodon: the resolve step ---
//
// The account lives on https://nhs.social; the post was read on
// https://social.example, where its id is 113500000000000402. nhs.social
// knows the same status as 113500000777000042.

constexpr char kAccountInstance[] = "https://nhs.social";
constexpr char kSearch[] =
    "https://nhs.social/api/v2/search?q=https%3A%2F%2Fsocial.example%2Fusers%2Fpatient_pat%2F"
    "statuses%2F113500000000000402&resolve=true&type=statuses&limit=1";
constexpr char kAccountStatuses[] = "https://nhs.social/api/v1/statuses";
constexpr char kLocalId[] = "113500000777000042";

SourceSpec AccountElsewhere() {
  SourceSpec account = MastodonAccount();
  account.url = kAccountInstance;
  return account;
}

HttpResponse Found(const std::string& fixture = "search_resolved.json") {
  return MakeResponse(200, testing::ReadFile(testing::OwnFixture("mastodon/" + fixture)),
                      {{"Content-Type", "application/json; charset=utf-8"}});
}

// nhs.social's answer to the reply: its status answering its own id.
HttpResponse CreatedElsewhere() {
  std::string body = testing::ReadFile(testing::OwnFixture("mastodon/reply_created.json"));
  const std::string parent = "\"in_reply_to_id\": \"113500000000000402\"";
  body.replace(body.find(parent), parent.size(),
               "\"in_reply_to_id\": \"" + std::string(kLocalId) + "\"");
  return MakeResponse(200, body, {{"Content-Type", "application/json; charset=utf-8"}});
}

PublishOutcome RunElsewhere(Bench& bench, ReplyDraft draft = Draft()) {
  return bench.Run(connector_mastodon::Descriptor(), AccountElsewhere(), MastodonTarget(),
                   std::move(draft));
}

TEST_CASE("publish: a post read on another instance is found on the account's first", "[publish]") {
  Bench bench;
  bench.transport.Script(kSearch, Found());
  bench.transport.Script(kAccountStatuses, CreatedElsewhere());
  PublishOutcome outcome = RunElsewhere(bench);
  INFO(outcome.reply.status().ToString());
  REQUIRE(outcome.reply.ok());
  CHECK(outcome.reply->id == "113500000000000500");
  CHECK(outcome.attempts == 1);
  CHECK(outcome.resolve_attempts == 1);
  CHECK_FALSE(outcome.outcome_unknown);
  const auto& requests = bench.transport.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].method == "GET");
  CHECK(requests[0].url == kSearch);
  CHECK(requests[0].headers.Get("Authorization") == "Bearer " + std::string(kToken));
  CHECK_FALSE(requests[0].headers.Get("Idempotency-Key").has_value());
  CHECK(requests[1].method == "POST");
  CHECK(requests[1].url == kAccountStatuses);
  CHECK(requests[1].headers.Get("Authorization") == "Bearer " + std::string(kToken));
  CHECK(requests[1].headers.Get("Idempotency-Key") == "reply-1");
  CHECK(Contains(requests[1].body, "&in_reply_to_id=" + std::string(kLocalId) + "&"));
  CHECK_FALSE(Contains(requests[1].body, "113500000000000402"));
  CHECK(bench.transport.unscripted() == 0);
}

TEST_CASE("publish: a post read on the account's own instance is not looked up", "[publish]") {
  Bench bench;
  bench.transport.ScriptPrefix("https://social.example/api/v2/search", Found());
  bench.transport.Script(kStatuses, Created());
  PublishOutcome outcome = bench.RunMastodon();
  REQUIRE(outcome.reply.ok());
  CHECK(outcome.resolve_attempts == 0);
  CHECK(Urls(bench.transport) == std::vector<std::string>{kStatuses});
  CHECK(Contains(bench.transport.requests()[0].body, "in_reply_to_id=113500000000000402"));
}

// Checks a failure of the resolve step: nothing was published, and nothing
// says it might have been.
void CheckResolveFailed(const PublishOutcome& outcome, const Bench& bench, StatusCode code,
                        const std::string& message) {
  REQUIRE_FALSE(outcome.reply.ok());
  CHECK(outcome.reply.status().code() == code);
  CHECK(Contains(outcome.reply.status().message(), message));
  CHECK(Contains(outcome.reply.status().message(),
                 "account \"sth-mastodon\" (mastodon): finding the post on the account's "
                 "server"));
  CHECK_FALSE(Contains(outcome.reply.status().message(), kToken));
  CHECK_FALSE(Contains(outcome.reply.status().message(), "may have been published"));
  CHECK_FALSE(outcome.outcome_unknown);
  CHECK(outcome.attempts == 0);
  CHECK(bench.transport.RequestsTo(kAccountStatuses).empty());
}

TEST_CASE("publish: the account's server cannot find the post", "[publish]") {
  Bench bench;
  bench.transport.Script(kAccountStatuses, CreatedElsewhere());
  SECTION("an empty search result") { bench.transport.Script(kSearch, Found("search_empty.json")); }
  SECTION("only statuses that mention it") {
    bench.transport.Script(kSearch,
                           MakeResponse(200,
                                        "{\"statuses\":[{\"id\":\"113500000777000099\",\"uri\":"
                                        "\"https://nhs.social/users/q/statuses/1\"}]}"));
  }
  PublishOutcome outcome = RunElsewhere(bench);
  CheckResolveFailed(outcome, bench, StatusCode::kNotFound,
                     "the account's server could not find the post");
  CHECK(outcome.resolve_attempts == 1);  // an answer, not a fault: not asked again
  CHECK(bench.transport.requests().size() == 1);
}

TEST_CASE("publish: the account's server refuses the look-up", "[publish]") {
  Bench bench;
  bench.transport.Script(kAccountStatuses, CreatedElsewhere());
  StatusCode code = StatusCode::kOk;
  std::string message;
  SECTION("401: an expired token") {
    bench.transport.Script(kSearch, Error(401, "The access token is invalid"));
    code = StatusCode::kUnauthenticated;
    message = "HTTP 401: The access token is invalid";
  }
  SECTION("403") {
    bench.transport.Script(kSearch, Error(403, "This action is not allowed"));
    code = StatusCode::kPermissionDenied;
    message = "This action is not allowed";
  }
  SECTION("429") {
    HttpResponse limited = Error(429, "Too many requests");
    limited.headers.Add("X-RateLimit-Reset", "2026-11-22T12:05:00.000Z");
    bench.transport.Script(kSearch, limited);
    code = StatusCode::kRateLimited;
    message = "limit resets at";
  }
  SECTION("an unreadable 200") {
    bench.transport.Script(kSearch, MakeResponse(200, "<html>Welcome!</html>"));
    code = StatusCode::kParseError;
    message = kSearch;
  }
  PublishOutcome outcome = RunElsewhere(bench);
  CheckResolveFailed(outcome, bench, code, message);
  CHECK(outcome.resolve_attempts == 1);
  CHECK(bench.transport.requests().size() == 1);
}

TEST_CASE("publish: a lost look-up is asked again, whatever the idempotency key", "[publish]") {
  Bench bench;
  bench.transport.Script(kAccountStatuses, CreatedElsewhere());
  SECTION("timeout, then found") {
    bench.transport.Script(kSearch,
                           std::vector<FakeReply>{Status::DeadlineExceeded("timed out"), Found()});
    PublishOutcome outcome = RunElsewhere(bench, Draft(""));
    INFO(outcome.reply.status().ToString());
    REQUIRE(outcome.reply.ok());
    CHECK(outcome.resolve_attempts == 2);
    CHECK(outcome.attempts == 1);
    CHECK(Urls(bench.transport) == std::vector<std::string>{kSearch, kSearch, kAccountStatuses});
  }
  SECTION("a gateway's 502, then found") {
    bench.transport.Script(kSearch,
                           std::vector<FakeReply>{MakeResponse(502, "bad gateway"), Found()});
    PublishOutcome outcome = RunElsewhere(bench);
    REQUIRE(outcome.reply.ok());
    CHECK(outcome.resolve_attempts == 2);
  }
  SECTION("lost every time: a plain failure, never \"may have been posted\"") {
    bench.transport.Script(kSearch, Status::DeadlineExceeded("timed out after 30s"));
    PublishOutcome outcome = RunElsewhere(bench);
    CheckResolveFailed(outcome, bench, StatusCode::kDeadlineExceeded, "timed out after 30s");
    CHECK(outcome.resolve_attempts == 2);
    CHECK(bench.transport.requests().size() == 2);
  }
  SECTION("5xx every time") {
    bench.transport.Script(kSearch, MakeResponse(503, "down"));
    PublishOutcome outcome = RunElsewhere(bench);
    CheckResolveFailed(outcome, bench, StatusCode::kUnavailable, "HTTP 503");
    CHECK(outcome.resolve_attempts == 2);
  }
  SECTION("max_resolve_attempts 1") {
    bench.publisher = std::make_unique<ReplyPublisher>(bench.io, bench.transport, bench.clock,
                                                       PublishOptions{.max_resolve_attempts = 1});
    bench.transport.Script(kSearch, Status::Unavailable("connection reset"));
    PublishOutcome outcome = RunElsewhere(bench);
    CheckResolveFailed(outcome, bench, StatusCode::kUnavailable, "connection reset");
    CHECK(bench.transport.requests().size() == 1);
  }
  SECTION("cancelled: not asked again") {
    bench.transport.Script(kSearch, Status::Cancelled("shutdown"));
    PublishOutcome outcome = RunElsewhere(bench);
    CheckResolveFailed(outcome, bench, StatusCode::kCancelled, "shutdown");
    CHECK(bench.transport.requests().size() == 1);
  }
}

TEST_CASE("publish: after the look-up, the reply keeps its own rules", "[publish]") {
  Bench bench;
  bench.transport.Script(kSearch, Found());
  SECTION("a lost reply is resent under its key, without a second look-up") {
    bench.transport.Script(kAccountStatuses, std::vector<FakeReply>{Status::DeadlineExceeded("t"),
                                                                    CreatedElsewhere()});
    PublishOutcome outcome = RunElsewhere(bench);
    REQUIRE(outcome.reply.ok());
    CHECK(outcome.attempts == 2);
    CHECK(outcome.resolve_attempts == 1);
    CHECK(Urls(bench.transport) ==
          std::vector<std::string>{kSearch, kAccountStatuses, kAccountStatuses});
  }
  SECTION("a lost reply without a key: may have been posted") {
    bench.transport.Script(kAccountStatuses, Status::DeadlineExceeded("timed out"));
    PublishOutcome outcome = RunElsewhere(bench, Draft(""));
    CHECK(outcome.reply.status().code() == StatusCode::kDeadlineExceeded);
    CHECK(outcome.outcome_unknown);
    CHECK(outcome.attempts == 1);
  }
  SECTION("the reply refused after the look-up") {
    bench.transport.Script(kAccountStatuses, Error(422, "Validation failed: Text can't be blank"));
    PublishOutcome outcome = RunElsewhere(bench);
    CHECK(outcome.reply.status().code() == StatusCode::kInvalidArgument);
    CHECK(Contains(outcome.reply.status().message(), ": publishing"));
    CHECK(Contains(outcome.reply.status().message(), "reply to status " + std::string(kLocalId)));
    CHECK_FALSE(outcome.outcome_unknown);
    CHECK(outcome.attempts == 1);
  }
}

TEST_CASE("publish: a publisher destroyed during the look-up posts nothing", "[publish]") {
  Bench bench;
  bench.transport.Script(kSearch, Found());
  bench.transport.Script(kAccountStatuses, CreatedElsewhere());
  auto slot =
      bench.Start(connector_mastodon::Descriptor(), AccountElsewhere(), MastodonTarget(), Draft());
  REQUIRE(bench.io.run_one() == 1);  // the publish starts: the look-up is in flight
  REQUIRE(bench.transport.requests().size() == 1);
  bench.publisher.reset();
  bench.io.run();
  REQUIRE(slot->has_value());
  CHECK((*slot)->reply.status().code() == StatusCode::kCancelled);
  CHECK_FALSE((*slot)->outcome_unknown);
  CHECK(bench.transport.RequestsTo(kAccountStatuses).empty());
}

// ------------------------------------------------- a platform with sessions ---
//
// "sessions": POST {url}/session with the account's `password` answers
// "token=T refresh=R expires_in=S"; POST {url}/refresh with "refresh=R" renews
// it. Replies: POST {url}/replies with "Authorization: Session T", body
// "<target id>|<created_at>|<body>"; 201 "id=N" is success. No idempotency.

Result<HttpRequest> SessionRequest(const SourceSpec& account, const AuthSession* current) {
  HttpRequest request;
  request.method = "POST";
  if (current != nullptr) {
    request.url = account.url + "/refresh";
    request.body = "refresh=" + current->refresh_token;
  } else {
    const std::string password = account.GetString("password");
    if (password.empty()) return Status::InvalidArgument("no password");
    request.url = account.url + "/session";
    request.body = "password=" + password;
  }
  return request;
}

std::string Field(const std::string& body, const std::string& name) {
  const size_t at = body.find(name + "=");
  if (at == std::string::npos) return {};
  const size_t start = at + name.size() + 1;
  return body.substr(start, body.find(' ', start) - start);
}

Result<AuthSession> ParseSession(const SourceSpec&, const HttpResponse& response, TimePoint now) {
  if (response.status != 200) {
    return StatusFromHttp(response.status, "sessions sign-in", response.body);
  }
  AuthSession session;
  session.access_token = Field(response.body, "token");
  session.refresh_token = Field(response.body, "refresh");
  if (session.access_token.empty()) return Status::ParseError("no token");
  const std::string expires = Field(response.body, "expires_in");
  if (!expires.empty()) session.expires_at = now + std::chrono::seconds(std::stoi(expires));
  return session;
}

void Authorize(const AuthSession& session, HttpRequest& request) {
  request.headers.Set("Authorization", "Session " + session.access_token);
}

Result<HttpRequest> SessionReplyRequest(const SourceSpec& account, const AuthSession* session,
                                        const Post& target, const ReplyDraft& draft) {
  if (session == nullptr) return Status::Internal("no session given");
  HttpRequest request;
  request.method = "POST";
  request.url = account.url + "/replies";
  request.body = target.id + "|" + FormatRfc3339(draft.created_at) + "|" + draft.body;
  return request;
}

Result<PublishedReply> SessionParseReply(const SourceSpec&, const Post&,
                                         const HttpResponse& response) {
  if (response.status != 201)
    return StatusFromHttp(response.status, "sessions reply", response.body);
  const std::string id = Field(response.body, "id");
  if (id.empty()) return Status::ParseError("sessions reply: no id");
  return PublishedReply{id, "sessions:" + id, "https://sessions.example/p/" + id};
}

const ConnectorDescriptor& SessionsConnector() {
  static const AuthCapability kAuth{&SessionRequest, &ParseSession, &Authorize};
  static const ReplyCapability kReply{
      .request = &SessionReplyRequest, .parse = &SessionParseReply, .max_length = 300};
  static const ConnectorDescriptor kDescriptor{.name = "sessions",
                                               .summary = "test platform with sessions",
                                               .auth = &kAuth,
                                               .reply = &kReply};
  return kDescriptor;
}

constexpr char kSessionsBase[] = "https://sessions.example";

SourceSpec SessionsAccount() {
  SourceSpec account;
  account.name = "sth-sessions";
  account.connector = "sessions";
  account.url = kSessionsBase;
  account.options["password"] = std::string("app-pa55");
  return account;
}

Post SessionsTarget() {
  Post post;
  post.platform = "sessions";
  post.id = "p42";
  return post;
}

const std::string kSession = std::string(kSessionsBase) + "/session";
const std::string kRefresh = std::string(kSessionsBase) + "/refresh";
const std::string kReplies = std::string(kSessionsBase) + "/replies";

PublishOutcome RunSessions(Bench& bench, ReplyDraft draft = Draft()) {
  return bench.Run(SessionsConnector(), SessionsAccount(), SessionsTarget(), std::move(draft));
}

TEST_CASE("publish: a session is created, used and kept", "[publish]") {
  Bench bench;
  bench.transport.Script(kSession, MakeResponse(200, "token=T1 refresh=R1 expires_in=7200"));
  bench.transport.Script(kReplies, MakeResponse(201, "id=9001"));
  PublishOutcome first = RunSessions(bench);
  INFO(first.reply.status().ToString());
  REQUIRE(first.reply.ok());
  CHECK(first.reply->url == "https://sessions.example/p/9001");
  CHECK(Urls(bench.transport) == std::vector<std::string>{kSession, kReplies});
  const HttpRequest& reply = bench.transport.requests()[1];
  CHECK(reply.headers.Get("Authorization") == "Session T1");
  // The draft is dated by the publisher's clock.
  CHECK(reply.body == "p42|" + FormatRfc3339(bench.clock.Now()) + "|" + Draft().body);

  // The next reply reuses the session.
  bench.clock.Advance(std::chrono::minutes(30));
  PublishOutcome second = RunSessions(bench);
  REQUIRE(second.reply.ok());
  CHECK(Urls(bench.transport) == std::vector<std::string>{kSession, kReplies, kReplies});

  // Near its expiry it is renewed with the refresh token.
  bench.clock.Advance(std::chrono::minutes(90));
  bench.transport.Script(kRefresh, MakeResponse(200, "token=T2 refresh=R2 expires_in=7200"));
  PublishOutcome third = RunSessions(bench);
  REQUIRE(third.reply.ok());
  CHECK(Urls(bench.transport) ==
        std::vector<std::string>{kSession, kReplies, kReplies, kRefresh, kReplies});
  CHECK(bench.transport.requests()[3].body == "refresh=R1");
  CHECK(bench.transport.requests()[4].headers.Get("Authorization") == "Session T2");

  // Forgotten: created anew.
  bench.publisher->ForgetSession("sth-sessions");
  PublishOutcome fourth = RunSessions(bench);
  REQUIRE(fourth.reply.ok());
  CHECK(bench.transport.requests().back().headers.Get("Authorization") == "Session T1");
  CHECK(bench.transport.RequestsTo(kSession).size() == 2);
}

TEST_CASE("publish: session creation failures send no reply", "[publish]") {
  Bench bench;
  bench.transport.Script(kReplies, MakeResponse(201, "id=9001"));
  SourceSpec account = SessionsAccount();
  StatusCode expected = StatusCode::kOk;
  SECTION("the platform refuses the credentials") {
    bench.transport.Script(kSession, MakeResponse(401, "Invalid identifier or password"));
    expected = StatusCode::kUnauthenticated;
  }
  SECTION("the network fails") {
    bench.transport.Script(kSession, Status::Unavailable("could not connect"));
    expected = StatusCode::kUnavailable;
  }
  SECTION("an unreadable session") {
    bench.transport.Script(kSession, MakeResponse(200, "hello"));
    expected = StatusCode::kParseError;
  }
  SECTION("no credentials to sign in with") {
    account.options.clear();
    expected = StatusCode::kInvalidArgument;
  }
  PublishOutcome outcome = bench.Run(SessionsConnector(), account, SessionsTarget(), Draft());
  REQUIRE_FALSE(outcome.reply.ok());
  CHECK(outcome.reply.status().code() == expected);
  CHECK(Contains(outcome.reply.status().message(),
                 "account \"sth-sessions\" (sessions): signing in"));
  CHECK_FALSE(Contains(outcome.reply.status().message(), "app-pa55"));
  CHECK(outcome.attempts == 0);
  CHECK_FALSE(outcome.outcome_unknown);
  CHECK(bench.transport.RequestsTo(kReplies).empty());
  if (expected == StatusCode::kUnauthenticated) {
    CHECK(Contains(outcome.reply.status().message(), "Invalid identifier or password"));
  }
}

TEST_CASE("publish: a failed refresh falls back to a new session", "[publish]") {
  Bench bench;
  bench.transport.Script(kSession, MakeResponse(200, "token=T1 refresh=R1 expires_in=60"));
  bench.transport.Script(kReplies, MakeResponse(201, "id=1"));
  REQUIRE(RunSessions(bench).reply.ok());
  bench.clock.Advance(std::chrono::minutes(5));
  bench.transport.Script(kRefresh, MakeResponse(400, "refresh token expired"));
  REQUIRE(RunSessions(bench).reply.ok());
  CHECK(Urls(bench.transport) ==
        std::vector<std::string>{kSession, kReplies, kRefresh, kSession, kReplies});
}

TEST_CASE("publish: a kept session the platform rejects is replaced once", "[publish]") {
  Bench bench;
  bench.transport.Script(
      kSession, std::vector<FakeReply>{MakeResponse(200, "token=T1 refresh=R1 expires_in=7200"),
                                       MakeResponse(200, "token=T2 refresh=R2 expires_in=7200")});
  bench.transport.Script(kReplies, MakeResponse(201, "id=1"));
  REQUIRE(RunSessions(bench).reply.ok());
  SECTION("revoked: a fresh session, then the reply") {
    bench.transport.Script(kReplies, std::vector<FakeReply>{MakeResponse(401, "session revoked"),
                                                            MakeResponse(201, "id=2")});
    PublishOutcome outcome = RunSessions(bench);
    REQUIRE(outcome.reply.ok());
    CHECK(outcome.reply->id == "2");
    CHECK(Urls(bench.transport) ==
          std::vector<std::string>{kSession, kReplies, kReplies, kSession, kReplies});
    CHECK(bench.transport.requests().back().headers.Get("Authorization") == "Session T2");
  }
  SECTION("still refused with a fresh session: a failure, tried once more only") {
    bench.transport.Script(kReplies, MakeResponse(401, "account suspended"));
    PublishOutcome outcome = RunSessions(bench);
    CHECK(outcome.reply.status().code() == StatusCode::kUnauthenticated);
    CHECK(Contains(outcome.reply.status().message(), "account suspended"));
    CHECK(bench.transport.RequestsTo(kReplies).size() == 3);
  }
}

// The same platform with a resolve step: a post whose `ref` is not the
// account's URL is looked up with GET {url}/lookup?uid=UID, answered
// "id=N" (the post's id on the account's server) or 404.

Result<std::optional<HttpRequest>> SessionResolveRequest(const SourceSpec& account,
                                                         const AuthSession* session,
                                                         const Post& target) {
  if (session == nullptr) return Status::Internal("no session given");
  if (target.ref == account.url) return std::optional<HttpRequest>();
  HttpRequest request;
  request.url = account.url + "/lookup?uid=" + target.uid;
  return std::optional<HttpRequest>(std::move(request));
}

Result<Post> SessionResolveTarget(const SourceSpec&, const Post& target,
                                  const HttpResponse& response) {
  if (response.status != 200) {
    return StatusFromHttp(response.status, "sessions lookup", response.body);
  }
  const std::string id = Field(response.body, "id");
  if (id.empty()) return Status::NotFound("sessions lookup: the account's server has no such post");
  Post resolved = target;
  resolved.id = id;
  resolved.ref = kSessionsBase;
  return resolved;
}

const ConnectorDescriptor& ResolvingSessionsConnector() {
  static const AuthCapability kAuth{&SessionRequest, &ParseSession, &Authorize};
  static const ReplyCapability kReply{.request = &SessionReplyRequest,
                                      .parse = &SessionParseReply,
                                      .max_length = 300,
                                      .resolve_request = &SessionResolveRequest,
                                      .resolve_target = &SessionResolveTarget};
  static const ConnectorDescriptor kDescriptor{.name = "sessions",
                                               .summary = "test platform with sessions",
                                               .auth = &kAuth,
                                               .reply = &kReply};
  return kDescriptor;
}

const std::string kLookup = std::string(kSessionsBase) + "/lookup?uid=sessions-p42";

PublishOutcome RunResolvingSessions(Bench& bench, std::string ref) {
  Post target = SessionsTarget();
  target.uid = "sessions-p42";
  target.ref = std::move(ref);
  return bench.Run(ResolvingSessionsConnector(), SessionsAccount(), target, Draft());
}

TEST_CASE("publish: the look-up carries the session, and a kept one it refuses is replaced",
          "[publish]") {
  Bench bench;
  bench.transport.Script(
      kSession, std::vector<FakeReply>{MakeResponse(200, "token=T1 refresh=R1 expires_in=7200"),
                                       MakeResponse(200, "token=T2 refresh=R2 expires_in=7200")});
  bench.transport.Script(kLookup, MakeResponse(200, "id=local-7"));
  bench.transport.Script(kReplies, MakeResponse(201, "id=1"));
  PublishOutcome first = RunResolvingSessions(bench, "https://elsewhere.example");
  INFO(first.reply.status().ToString());
  REQUIRE(first.reply.ok());
  CHECK(Urls(bench.transport) == std::vector<std::string>{kSession, kLookup, kReplies});
  CHECK(bench.transport.requests()[1].headers.Get("Authorization") == "Session T1");
  CHECK(bench.transport.requests()[2].body.starts_with("local-7|"));
  CHECK(first.resolve_attempts == 1);

  SECTION("already on the account's server: no look-up") {
    REQUIRE(RunResolvingSessions(bench, kSessionsBase).reply.ok());
    CHECK(Urls(bench.transport) == std::vector<std::string>{kSession, kLookup, kReplies, kReplies});
    CHECK(bench.transport.requests()[3].body.starts_with("p42|"));
  }
  SECTION("the kept session refused by the look-up: a fresh one, then both steps") {
    bench.transport.Script(kLookup, std::vector<FakeReply>{MakeResponse(401, "session revoked"),
                                                           MakeResponse(200, "id=local-7")});
    PublishOutcome outcome = RunResolvingSessions(bench, "https://elsewhere.example");
    INFO(outcome.reply.status().ToString());
    REQUIRE(outcome.reply.ok());
    CHECK(Urls(bench.transport) == std::vector<std::string>{kSession, kLookup, kReplies, kLookup,
                                                            kSession, kLookup, kReplies});
    CHECK(bench.transport.requests()[5].headers.Get("Authorization") == "Session T2");
    CHECK(bench.transport.requests()[6].headers.Get("Authorization") == "Session T2");
    CHECK(outcome.resolve_attempts == 2);
  }
  SECTION("refused with a fresh session too: a failure that posted nothing") {
    bench.transport.Script(kLookup, MakeResponse(401, "account suspended"));
    PublishOutcome outcome = RunResolvingSessions(bench, "https://elsewhere.example");
    CHECK(outcome.reply.status().code() == StatusCode::kUnauthenticated);
    CHECK(Contains(outcome.reply.status().message(), "account suspended"));
    CHECK(Contains(outcome.reply.status().message(), "finding the post on the account's server"));
    CHECK_FALSE(outcome.outcome_unknown);
    CHECK(outcome.attempts == 0);
    CHECK(bench.transport.RequestsTo(kReplies).size() == 1);  // the first publish's only
  }
  SECTION("not found") {
    bench.transport.Script(kLookup, MakeResponse(200, "nothing"));
    PublishOutcome outcome = RunResolvingSessions(bench, "https://elsewhere.example");
    CHECK(outcome.reply.status().code() == StatusCode::kNotFound);
    CHECK_FALSE(outcome.outcome_unknown);
    CHECK(bench.transport.RequestsTo(kReplies).size() == 1);
  }
}

TEST_CASE("publish: without an idempotency guarantee a lost answer is never resent", "[publish]") {
  Bench bench;
  bench.transport.Script(kSession, MakeResponse(200, "token=T1"));
  SECTION("timeout") { bench.transport.Script(kReplies, Status::DeadlineExceeded("timed out")); }
  SECTION("502") { bench.transport.Script(kReplies, MakeResponse(502, "bad gateway")); }
  SECTION("unreadable 201") { bench.transport.Script(kReplies, MakeResponse(201, "ok")); }
  PublishOutcome outcome = RunSessions(bench, Draft("key-the-platform-ignores"));
  REQUIRE_FALSE(outcome.reply.ok());
  CHECK(outcome.outcome_unknown);
  CHECK(outcome.attempts == 1);
  CHECK(bench.transport.RequestsTo(kReplies).size() == 1);
}

}  // namespace
}  // namespace earshot
