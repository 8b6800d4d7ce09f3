// ReplySender against FakeTransport and a real SQLite store: a reply goes
// from draft to published (with the Idempotency-Key and in_reply_to_id the
// platform needs), or to failed with the platform's words (401, 429), or to
// failed flagged "may have been posted" when the answer is lost, and a
// retry reuses the same key; an organisation without an account answers on
// the platform; approval is enforced where required. Every step is audited.
#include "crawler/threads/reply_sender.h"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "connectors/registry.h"
#include "crawler/core/text.h"
#include "crawler/core/time_format.h"
#include "crawler/publish/publisher.h"
#include "crawler/store/sqlite/sqlite_store.h"
#include "tests/support/fake_transport.h"
#include "tests/support/fixtures.h"

namespace earshot {
namespace {

using testing::FakeTransport;
using testing::MakeResponse;

constexpr char kStatuses[] = "https://social.example/api/v1/statuses";

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

Post Target() {
  Post post;
  post.platform = "mastodon";
  post.id = "113500000000000402";
  post.uid = "https://social.example/users/patient_pat/statuses/113500000000000402";
  post.url = "https://social.example/@patient_pat/113500000000000402";
  post.ref = "https://social.example";
  post.author_handle = "@patient_pat@social.example";
  post.text = "Waited 9 hours in A&E at the Northern General last night.";
  post.created_at = FromUnixSeconds(1'790'000'000);
  post.fetched_at = FromUnixSeconds(1'790'000'060);
  post.content_hash = Sha256Hex(post.text);
  Decision routed;
  routed.kind = Decision::Kind::kOrg;
  routed.value = "RHQ";
  routed.rule = "orgs-name";
  post.decisions.push_back(routed);
  Decision also;
  also.kind = Decision::Kind::kOrg;
  also.value = "RR8";
  also.rule = "orgs-name";
  post.decisions.push_back(also);
  return post;
}

HttpResponse Json(int status, std::string body) {
  return MakeResponse(status, std::move(body),
                      {{"Content-Type", "application/json; charset=utf-8"}});
}

HttpResponse Created() {
  return Json(200, testing::ReadFile(testing::OwnFixture("mastodon/reply_created.json")));
}

User Staff(std::string name) {
  User user;
  user.name = std::move(name);
  user.role = Role::kResponder;
  user.orgs = {"RHQ", "RR8"};
  return user;
}

struct Bench {
  boost::asio::io_context io;
  FakeClock clock{FromUnixSeconds(1'790'000'100)};
  FakeTransport transport{io};
  std::unique_ptr<SqliteStore> store;
  OrgPlaces places;
  std::unique_ptr<Workflow> workflow;
  std::unique_ptr<ReplyPublisher> publisher;
  std::unique_ptr<ReplySender> sender;
  int64_t thread_id = 0;
  User ann = Staff("ann");
  User bob = Staff("bob");

  Bench() {
    auto opened = SqliteStore::Open(":memory:");
    REQUIRE(opened.ok());
    store = std::move(opened).value();
    SourceWrite write;
    write.source = "masto";
    write.posts = {Target()};
    REQUIRE(store->Apply({write}).ok());
    auto found = store->FindPost("mastodon", Target().uid);
    REQUIRE(found.ok());
    REQUIRE(found->has_value());
    auto thread = store->ThreadOfPost((*found)->row_id);
    REQUIRE(thread.ok());
    REQUIRE(thread->has_value());
    thread_id = **thread;
    workflow = std::make_unique<Workflow>(*store, clock, places);
    publisher = std::make_unique<ReplyPublisher>(io, transport, clock);
    ReplyAccount account;
    account.org = "RHQ";
    account.spec.name = "sth-mastodon";
    account.spec.connector = "mastodon";
    account.spec.url = "https://social.example";
    account.spec.options["access_token"] = std::string("wr1te-T0KEN");
    sender = std::make_unique<ReplySender>(*workflow, *store, *publisher, io,
                                           std::vector<ReplyAccount>{account}, FindConnector);
  }

  int64_t Draft(const std::string& org = "RHQ") {
    auto id = workflow->CreateDraft(ann, thread_id, org, 0,
                                    "Thank you for telling us. We would like to hear more.");
    REQUIRE(id.ok());
    return *id;
  }

  SendResult Publish(int64_t reply_id, const User& as) {
    auto result = sender->Publish(as, reply_id);
    INFO(result.status().ToString());
    REQUIRE(result.ok());
    return std::move(result).value();
  }

  std::vector<std::string> Audit() {
    auto thread = store->GetThread(thread_id);
    REQUIRE(thread.ok());
    std::vector<std::string> out;
    for (const AuditEntry& entry : thread->audit) {
      out.push_back(entry.actor + " " + entry.action + " " + entry.org);
    }
    return out;
  }
};

TEST_CASE("ReplySender: a reply is published with its key and recorded", "[reply_sender]") {
  Bench bench;
  bench.transport.Script(kStatuses, Created());
  const int64_t id = bench.Draft();
  auto key = bench.store->GetReply(id);
  REQUIRE(key.ok());

  const SendResult result = bench.Publish(id, bench.bob);
  CHECK_FALSE(result.outcome_unknown);
  CHECK(result.reply.state == ReplyState::kPublished);
  CHECK(result.reply.url == "https://social.example/@nhs_trust/113500000000000500");
  CHECK(result.reply.published_id ==
        "https://social.example/users/nhs_trust/statuses/113500000000000500");
  CHECK(result.reply.account == "sth-mastodon");
  CHECK(result.reply.platform_error.empty());

  const auto sent = bench.transport.RequestsTo(kStatuses);
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].headers.Get("Idempotency-Key").value_or("") == key->idempotency_key);
  CHECK(Contains(sent[0].body, "in_reply_to_id=113500000000000402"));

  CHECK(bench.Audit() ==
        std::vector<std::string>{"ann draft RHQ", "bob publishing RHQ", "bob published RHQ"});
  auto thread = bench.store->GetThread(bench.thread_id);
  REQUIRE(thread.ok());
  for (const ThreadOrg& org : thread->summary.orgs) {
    if (org.org == "RHQ") CHECK(org.state == OrgState::kResponded);
  }
  // The reply, come back in a later poll (read elsewhere: another id, the
  // same uid), joins the thread as ours.
  Post ours;
  ours.platform = "mastodon";
  ours.id = "999000000000000001";
  ours.uid = "https://social.example/users/nhs_trust/statuses/113500000000000500";
  ours.url = "https://social.example/@nhs_trust/113500000000000500";
  ours.reply_to = "113500000000000402";
  ours.text = "Thank you for telling us. We would like to hear more.";
  ours.fetched_at = FromUnixSeconds(1'790'000'500);
  ours.content_hash = Sha256Hex(ours.text);
  SourceWrite poll;
  poll.source = "masto";
  poll.posts = {ours};
  REQUIRE(bench.store->Apply({poll}).ok());
  auto joined = bench.store->GetThread(bench.thread_id);
  REQUIRE(joined.ok());
  REQUIRE(joined->posts.size() == 2);
  CHECK(joined->posts[1].how == JoinReason::kOurs);

  // Published once: publishing again is refused, nothing more is sent.
  CHECK(bench.sender->Publish(bench.bob, id).status().code() == StatusCode::kInvalidArgument);
  CHECK(bench.transport.RequestsTo(kStatuses).size() == 1);
}

TEST_CASE("ReplySender: a reply stuck publishing becomes failed, outcome unknown, then retries",
          "[reply_sender]") {
  Bench bench;
  bench.transport.Script(kStatuses, Created());
  const int64_t id = bench.Draft();
  // Earshot stopped after recording `publishing`, before the platform's answer.
  REQUIRE(bench.workflow->MarkPublishing(bench.bob, id, "sth-mastodon").ok());
  bench.clock.Advance(std::chrono::minutes(9));
  CHECK(bench.sender->Publish(bench.bob, id).status().code() == StatusCode::kInvalidArgument);
  bench.clock.Advance(std::chrono::minutes(1));
  const SendResult stale = bench.Publish(id, bench.bob);
  CHECK(stale.outcome_unknown);
  CHECK(stale.reply.state == ReplyState::kFailed);
  CHECK(stale.reply.platform_error.rfind(std::string(kMayHaveBeenPosted), 0) == 0);
  CHECK(stale.reply.platform_error.find("same idempotency key") != std::string::npos);
  CHECK(bench.transport.RequestsTo(kStatuses).empty());  // nothing sent on the way
  // A person publishes again: the same key goes out.
  const SendResult retried = bench.Publish(id, bench.bob);
  CHECK(retried.reply.state == ReplyState::kPublished);
  const auto sent = bench.transport.RequestsTo(kStatuses);
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].headers.Get("Idempotency-Key").value_or("") == retried.reply.idempotency_key);
  CHECK(bench.Audit() == std::vector<std::string>{"ann draft RHQ", "bob publishing RHQ",
                                                  "bob failed RHQ", "bob publishing RHQ",
                                                  "bob published RHQ"});
}

TEST_CASE("FailStalePublishing: only replies publishing for too long are failed",
          "[reply_sender]") {
  Bench bench;
  const int64_t old_one = bench.Draft();
  REQUIRE(bench.workflow->MarkPublishing(bench.bob, old_one, "sth-mastodon").ok());
  bench.clock.Advance(std::chrono::minutes(8));
  const int64_t recent = bench.Draft();
  REQUIRE(bench.workflow->MarkPublishing(bench.bob, recent, "sth-mastodon").ok());
  const int64_t draft = bench.Draft();
  bench.clock.Advance(std::chrono::minutes(3));
  auto failed = FailStalePublishing(*bench.store, bench.clock);
  REQUIRE(failed.ok());
  CHECK(*failed == 1);
  CHECK(bench.store->GetReply(old_one)->state == ReplyState::kFailed);
  CHECK(bench.store->GetReply(old_one)->platform_error == StalePublishingError());
  CHECK(bench.store->GetReply(recent)->state == ReplyState::kPublishing);
  CHECK(bench.store->GetReply(draft)->state == ReplyState::kDraft);
  const std::vector<std::string> audit = bench.Audit();
  CHECK(std::count(audit.begin(), audit.end(), "earshot failed RHQ") == 1);
  CHECK(*FailStalePublishing(*bench.store, bench.clock) == 0);  // nothing stale now
}

TEST_CASE("ReplySender: a 401 is recorded as failed with the platform's words", "[reply_sender]") {
  Bench bench;
  bench.transport.Script(kStatuses, Json(401, "{\"error\":\"The access token is invalid\"}"));
  const int64_t id = bench.Draft();
  const SendResult result = bench.Publish(id, bench.ann);
  CHECK(result.reply.state == ReplyState::kFailed);
  CHECK_FALSE(result.outcome_unknown);
  CHECK(Contains(result.reply.platform_error, "The access token is invalid"));
  CHECK_FALSE(Contains(result.reply.platform_error, std::string(kMayHaveBeenPosted)));
  CHECK_FALSE(Contains(result.reply.platform_error, "wr1te-T0KEN"));
  CHECK(result.reply.url.empty());
  CHECK(bench.Audit() ==
        std::vector<std::string>{"ann draft RHQ", "ann publishing RHQ", "ann failed RHQ"});
}

TEST_CASE("ReplySender: a 429 fails, and a retry reuses the key and publishes", "[reply_sender]") {
  Bench bench;
  bench.transport.Script(kStatuses, {Json(429, "{\"error\":\"Too many requests\"}"), Created()});
  const int64_t id = bench.Draft();
  const SendResult first = bench.Publish(id, bench.ann);
  CHECK(first.reply.state == ReplyState::kFailed);
  CHECK(Contains(first.reply.platform_error, "Too many requests"));
  const SendResult retry = bench.Publish(id, bench.ann);
  CHECK(retry.reply.state == ReplyState::kPublished);
  const auto sent = bench.transport.RequestsTo(kStatuses);
  REQUIRE(sent.size() == 2);
  CHECK(sent[0].headers.Get("Idempotency-Key") == sent[1].headers.Get("Idempotency-Key"));
  CHECK_FALSE(sent[0].headers.Get("Idempotency-Key").value_or("").empty());
}

TEST_CASE("ReplySender: a lost answer is failed, may have been posted, and retried with the key",
          "[reply_sender]") {
  Bench bench;
  bench.transport.Script(kStatuses, Status::DeadlineExceeded("timed out after 30s"));
  const int64_t id = bench.Draft();
  const SendResult lost = bench.Publish(id, bench.ann);
  CHECK(lost.outcome_unknown);
  CHECK(lost.reply.state == ReplyState::kFailed);
  CHECK(lost.reply.platform_error.rfind(std::string(kMayHaveBeenPosted), 0) == 0);
  const size_t first_round = bench.transport.RequestsTo(kStatuses).size();
  CHECK(first_round >= 1);

  bench.transport.Script(kStatuses, Created());
  const SendResult retry = bench.Publish(id, bench.ann);
  CHECK(retry.reply.state == ReplyState::kPublished);
  CHECK_FALSE(retry.outcome_unknown);
  const auto sent = bench.transport.RequestsTo(kStatuses);
  REQUIRE(sent.size() == first_round + 1);
  for (const HttpRequest& request : sent) {
    CHECK(request.headers.Get("Idempotency-Key") == sent[0].headers.Get("Idempotency-Key"));
  }
}

TEST_CASE("ReplySender: without an account the reply is answered on the platform",
          "[reply_sender]") {
  Bench bench;
  const int64_t id = bench.Draft("RR8");
  const SendResult result = bench.Publish(id, bench.ann);
  CHECK(result.reply.state == ReplyState::kAnswerOnPlatform);
  CHECK(result.reply.url == Target().url);
  CHECK(bench.transport.requests().empty());
  CHECK(bench.Audit() == std::vector<std::string>{"ann draft RR8", "ann answer on platform RR8"});
}

TEST_CASE("ReplySender: approval is required where the organisation asks for it",
          "[reply_sender]") {
  Bench bench;
  bench.workflow->RequireApproval({"RHQ"});
  bench.transport.Script(kStatuses, Created());
  const int64_t id = bench.Draft();
  auto refused = bench.sender->Publish(bench.ann, id);
  CHECK(refused.status().code() == StatusCode::kInvalidArgument);
  CHECK(Contains(refused.status().message(), "needs approval by a second person"));
  CHECK(bench.transport.requests().empty());
  auto unchanged = bench.store->GetReply(id);
  REQUIRE(unchanged.ok());
  CHECK(unchanged->state == ReplyState::kDraft);

  CHECK(bench.workflow->Approve(bench.ann, id).code() == StatusCode::kPermissionDenied);
  REQUIRE(bench.workflow->Approve(bench.bob, id).ok());
  const SendResult result = bench.Publish(id, bench.ann);
  CHECK(result.reply.state == ReplyState::kPublished);
  CHECK(result.reply.approver == "bob");

  // A responder of another trust learns nothing of the reply.
  User other = Staff("cat");
  other.orgs = {"RWA"};
  CHECK(bench.sender->Publish(other, id).status().code() == StatusCode::kNotFound);
}

}  // namespace
}  // namespace earshot
