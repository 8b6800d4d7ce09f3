// `earshot threads note|reply|approve|publish|assign|status` with the real
// binary against the fixture server acting as a Mastodon instance: a crawled
// routed post is answered by staff acting as named users, with the
// organisation's [[org]] approval rule, tone hints on the draft, the request
// carrying the Idempotency-Key and in_reply_to_id, the stored state honest
// (published with its URL; failed with the platform's words on a 401), and
// `threads show` listing notes, replies and the audit.
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace earshot::integration {
namespace {

namespace json = boost::json;
using earshot::testing::Describe;

constexpr char kToken[] = "sth-secret-token-77c1";
constexpr char kStatuses[] = "/api/v1/statuses";

std::string ReplyStatus(const std::string& id, const std::string& in_reply_to) {
  json::object status =
      json::parse(MastodonStatusJson(id, "Thank you for telling us about your visit.")).as_object();
  status["in_reply_to_id"] = in_reply_to;
  status["uri"] = "{{base}}/users/sth_nhs/statuses/" + id;
  status["url"] = "{{base}}/@sth_nhs/" + id;
  status["account"].as_object()["acct"] = "sth_nhs";
  return json::serialize(status);
}

std::vector<FixtureRoute> Routes(const std::string& post_id, FixtureRoute reply) {
  reply.target = kStatuses;
  return {JsonRoute("/api/v1/timelines/tag/nhs", MastodonTimeline({post_id})), std::move(reply)};
}

ProcessOptions WithToken() {
  ProcessOptions options;
  options.env["STH_MASTODON_TOKEN"] = kToken;
  return options;
}

std::vector<RecordedRequest> Posts(const FixtureServer& server) {
  std::vector<RecordedRequest> posts;
  for (const RecordedRequest& r : server.Requests()) {
    if (r.method == "POST") posts.push_back(r);
  }
  return posts;
}

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST_CASE("threads: staff note, draft, approve and publish a reply from the CLI", "[integration]") {
  const std::string post_id = StatusId(7);
  const std::string reply_id = StatusId(70);
  Sandbox box(Routes(post_id, JsonRoute(kStatuses, ReplyStatus(reply_id, post_id))));
  box.WriteConfig(R"(
[[source]]
name = "nhs-tag"
connector = "mastodon"
url = "{{base}}"
tag = "nhs"
interval = "5m"

[[account]]
name = "sth-mastodon"
org = "RHQ"
connector = "mastodon"
url = "{{base}}"
access_token = "${STH_MASTODON_TOKEN}"

[[org]]
code = "RHQ"
require_approval = true
)");
  ProcessResult check = box.Earshot({"config", "check"}, WithToken());
  INFO(Describe(check));
  REQUIRE(check.exit_code == 0);
  CHECK(Has(check.out, "org RHQ: replies need a second person's approval"));

  ProcessResult crawl = box.Earshot({"once"}, WithToken());
  INFO(Describe(crawl));
  REQUIRE(crawl.exit_code == 0);
  for (const char* name : {"ann", "bob"}) {
    ProcessResult added = box.Earshot(
        {"users", "add", "--name", name, "--role", "responder", "--org", "RHQ"}, WithToken());
    INFO(Describe(added));
    REQUIRE(added.exit_code == 0);
  }
  ProcessResult other = box.Earshot(
      {"users", "add", "--name", "lee", "--role", "responder", "--org", "RR8"}, WithToken());
  REQUIRE(other.exit_code == 0);
  ProcessResult listed = box.Earshot({"threads", "list"}, WithToken());
  INFO(Describe(listed));
  REQUIRE(Has(listed.out, "#1  mastodon"));
  REQUIRE(Has(listed.out, "RHQ  new"));

  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "threads");
    return box.Earshot(args, WithToken());
  };

  ProcessResult note =
      run({"note", "1", "--org", "RHQ", "--body", "Rang the walk-in centre", "--as", "ann"});
  INFO(Describe(note));
  CHECK(note.exit_code == 0);
  ProcessResult assigned = run({"assign", "1", "--org", "RHQ", "--to", "ann", "--as", "bob"});
  INFO(Describe(assigned));
  CHECK(assigned.exit_code == 0);
  // A responder of another trust learns nothing of the thread.
  ProcessResult stranger = run({"note", "1", "--org", "RHQ", "--body", "x", "--as", "lee"});
  CHECK(stranger.exit_code == 2);
  CHECK(Has(stranger.err, "not found"));
  CHECK(run({"note", "1", "--org", "RHQ", "--body", "x", "--as", "nobody"}).exit_code == 2);
  ProcessResult stranger_list = run({"list", "--as", "lee"});
  INFO(Describe(stranger_list));
  CHECK(stranger_list.exit_code == 0);
  CHECK(stranger_list.out.empty());
  CHECK(run({"show", "1", "--as", "lee"}).exit_code == 2);
  CHECK(Has(run({"list", "--as", "ann"}).out, "#1  mastodon"));

  ProcessResult drafted = run({"reply", "1", "--org", "RHQ", "--as", "ann", "--body",
                               "We take all feedback seriously. Glad it was quick: thank you!"});
  INFO(Describe(drafted));
  REQUIRE(drafted.exit_code == 0);
  CHECK(Lines(drafted.out).front() == "draft 1 on thread 1 (RHQ)");
  CHECK(Has(drafted.out, "hint boilerplate take-feedback-seriously at 0-30:"));

  ProcessResult early = run({"publish", "1", "--as", "ann"});
  INFO(Describe(early));
  CHECK(early.exit_code == 2);
  CHECK(Has(early.err, "needs approval by a second person"));
  CHECK(run({"approve", "1", "--as", "ann"}).exit_code == 2);  // its author
  ProcessResult approved = run({"approve", "1", "--as", "bob"});
  INFO(Describe(approved));
  REQUIRE(approved.exit_code == 0);
  CHECK(Posts(box.server()).empty());

  ProcessResult published = run({"publish", "1", "--as", "ann"});
  INFO(Describe(published));
  REQUIRE(published.exit_code == 0);
  const std::string url = box.base() + "/@sth_nhs/" + reply_id;
  CHECK(Has(published.out, url));
  CHECK_FALSE(Has(published.out + published.err, kToken));
  std::vector<RecordedRequest> sent = Posts(box.server());
  REQUIRE(sent.size() == 1);
  CHECK(HeaderOf(sent[0], "Authorization") == std::string("Bearer ") + kToken);
  CHECK(Has(sent[0].body, "&in_reply_to_id=" + post_id));
  std::string key;
  {
    auto store = box.OpenStore();
    auto reply = store->GetReply(1);
    REQUIRE(reply.ok());
    CHECK(reply->state == ReplyState::kPublished);
    CHECK(reply->url == url);
    CHECK(reply->approver == "bob");
    key = reply->idempotency_key;
  }
  CHECK_FALSE(key.empty());
  CHECK(HeaderOf(sent[0], "Idempotency-Key") == key);

  // The platform refuses the next one: failed, with its words.
  box.server().SetRoutes(
      Routes(post_id, JsonRoute(kStatuses, "{\"error\":\"The access token is invalid\"}", 401)));
  REQUIRE(run({"reply", "1", "--org", "RHQ", "--as", "bob", "--body", "More to say"}).exit_code ==
          0);
  REQUIRE(run({"approve", "2", "--as", "ann"}).exit_code == 0);
  ProcessResult refused = run({"publish", "2", "--as", "bob"});
  INFO(Describe(refused));
  CHECK(refused.exit_code == 1);
  CHECK(Has(refused.err, "The access token is invalid"));
  CHECK_FALSE(Has(refused.err, "may have been posted"));
  CHECK_FALSE(Has(refused.out + refused.err, kToken));
  {
    auto store = box.OpenStore();
    auto reply = store->GetReply(2);
    REQUIRE(reply.ok());
    CHECK(reply->state == ReplyState::kFailed);
    CHECK(Has(reply->platform_error, "The access token is invalid"));
    CHECK(reply->url.empty());
  }

  ProcessResult closed =
      run({"status", "1", "--org", "RHQ", "--status", "closed", "--reason", "", "--as", "ann"});
  INFO(Describe(closed));
  CHECK(closed.exit_code == 0);
  CHECK(run({"status", "1", "--org", "RHQ", "--status", "bogus"}).exit_code == 2);

  ProcessResult shown = run({"show", "1"});
  INFO(Describe(shown));
  REQUIRE(shown.exit_code == 0);
  CHECK(Has(shown.out, "RHQ  closed"));
  CHECK(Has(shown.out, "notes:"));
  CHECK(Has(shown.out, "ann: Rang the walk-in centre"));
  CHECK(Has(shown.out, "#1  RHQ  published  by ann  approved by bob  " + url));
  CHECK(Has(shown.out, "#2  RHQ  failed  by bob  approved by ann"));
  CHECK(Has(shown.out, "error: "));
  for (const char* entry :
       {"ann  note  RHQ", "bob  assign  RHQ", "ann  draft  RHQ", "bob  approve  RHQ",
        "ann  publishing  RHQ", "ann  published  RHQ", "bob  failed  RHQ", "ann  status  RHQ"}) {
    INFO(entry);
    CHECK(Has(shown.out, entry));
  }
}

TEST_CASE("threads publish: without an account the reply is answered on the platform",
          "[integration]") {
  const std::string post_id = StatusId(8);
  Sandbox box(Routes(post_id, JsonRoute(kStatuses, ReplyStatus(StatusId(80), post_id))));
  box.WriteConfig(R"(
[[source]]
name = "nhs-tag"
connector = "mastodon"
url = "{{base}}"
tag = "nhs"
interval = "5m"
)");
  REQUIRE(box.Earshot({"once"}).exit_code == 0);
  ProcessResult drafted =
      box.Earshot({"threads", "reply", "1", "--org", "RHQ", "--body", "Thank you for this"});
  INFO(Describe(drafted));
  REQUIRE(drafted.exit_code == 0);
  ProcessResult published = box.Earshot({"threads", "publish", "1"});
  INFO(Describe(published));
  REQUIRE(published.exit_code == 0);
  CHECK(Has(published.out, "answer on the platform at https://social.example/@carer08/"));
  CHECK(Posts(box.server()).empty());
  auto store = box.OpenStore();
  auto reply = store->GetReply(1);
  REQUIRE(reply.ok());
  CHECK(reply->state == ReplyState::kAnswerOnPlatform);
  CHECK(reply->author == "cli");
}

}  // namespace
}  // namespace earshot::integration
