// POST /api/replies/{id}/publish through ApiRoutes with the real
// ReplySender, ReplyPublisher and mastodon connector over FakeTransport and a
// SQLite store: the platform's answer is the reply's state (published with
// its URL, failed with the platform's words), access is Workflow's, the
// organisation's approval rule holds, and a server without publishing says
// so instead of pretending.
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "connectors/registry.h"
#include "crawler/core/text.h"
#include "crawler/core/time_format.h"
#include "crawler/publish/publisher.h"
#include "crawler/server/api_routes.h"
#include "crawler/store/sqlite/sqlite_store.h"
#include "crawler/threads/reply_sender.h"
#include "crawler/threads/tokens.h"
#include "tests/support/fake_transport.h"

namespace earshot {
namespace {

namespace json = boost::json;
using testing::FakeTransport;
using testing::MakeResponse;

constexpr char kStatuses[] = "https://social.example/api/v1/statuses";

Post Routed() {
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
  for (const char* org : {"RHQ", "RR8"}) {
    Decision routed;
    routed.kind = Decision::Kind::kOrg;
    routed.value = org;
    routed.rule = "orgs-name";
    post.decisions.push_back(routed);
  }
  return post;
}

// What Mastodon answers a reply with (its in_reply_to_id must name the post).
std::string CreatedStatus() {
  json::object account{{"id", "9"},
                       {"username", "nhs_trust"},
                       {"acct", "nhs_trust"},
                       {"url", "https://social.example/@nhs_trust"}};
  json::object status{{"id", "113500000000000500"},
                      {"created_at", "2026-09-22T10:05:00.000Z"},
                      {"in_reply_to_id", "113500000000000402"},
                      {"uri", "https://social.example/users/nhs_trust/statuses/113500000000000500"},
                      {"url", "https://social.example/@nhs_trust/113500000000000500"},
                      {"content", "<p>Thank you.</p>"},
                      {"account", std::move(account)}};
  return json::serialize(status);
}

struct Bench {
  boost::asio::io_context io;
  FakeClock clock{FromUnixSeconds(1'790'000'100)};
  FakeTransport transport{io};
  std::unique_ptr<SqliteStore> store;
  OrgPlaces places;
  std::unique_ptr<ReplyPublisher> publisher;
  std::unique_ptr<ApiRoutes> routes;
  std::map<std::string, std::string> tokens;  // user name -> bearer token

  Bench() {
    auto opened = SqliteStore::Open(":memory:");
    REQUIRE(opened.ok());
    store = std::move(opened).value();
    SourceWrite write;
    write.source = "masto";
    write.posts = {Routed()};
    REQUIRE(store->Apply({write}).ok());
    AddUser("ann", Role::kResponder, {"RHQ"});
    AddUser("bob", Role::kResponder, {"RHQ"});
    AddUser("lee", Role::kResponder, {"RR8"});
    AddUser("vic", Role::kViewer, {"RHQ"});
    publisher = std::make_unique<ReplyPublisher>(io, transport, clock);
    routes = std::make_unique<ApiRoutes>(*store, *store, clock, places);
  }

  void AddUser(const std::string& name, Role role, std::vector<std::string> orgs) {
    User user;
    user.name = name;
    user.role = role;
    user.orgs = std::move(orgs);
    const std::string token = "token-of-" + name;
    REQUIRE(store->AddUser(user, TokenHash(token), "test", clock.Now()).ok());
    tokens[name] = token;
  }

  // Publishing as the binary wires it, over the fake transport.
  void EnablePublishing() {
    ReplyAccount account;
    account.org = "RHQ";
    account.spec.name = "sth-mastodon";
    account.spec.connector = "mastodon";
    account.spec.url = "https://social.example";
    account.spec.options["access_token"] = std::string("wr1te-T0KEN");
    routes->SetPublishing([this, account](Workflow& workflow, const User& user, int64_t reply_id) {
      ReplySender sender(workflow, *store, *publisher, io, {account}, FindConnector);
      io.restart();
      return sender.Publish(user, reply_id);
    });
  }

  ApiResponse Call(const std::string& method, const std::string& target, const std::string& user,
                   const std::string& body = "") {
    ApiRequest request;
    request.method = method;
    request.target = target;
    request.authorization = "Bearer " + tokens[user];
    request.body = body;
    return routes->Handle(request);
  }

  int64_t Draft(const std::string& as, const std::string& org = "RHQ") {
    ApiResponse drafted = Call(
        "POST", "/api/threads/1/replies", as,
        R"({"org": ")" + org + R"(", "body": "Thank you for telling us. Please message us."})");
    INFO(drafted.body);
    REQUIRE(drafted.status == 201);
    return json::parse(drafted.body).at("reply").at("id").as_int64();
  }
};

json::value Body(const ApiResponse& response) {
  INFO(response.body);
  return json::parse(response.body);
}

TEST_CASE("api publish: the platform's answer is the reply's state", "[api][publish]") {
  Bench bench;
  bench.EnablePublishing();
  const int64_t id = bench.Draft("ann");
  const std::string target = "/api/replies/" + std::to_string(id) + "/publish";

  SECTION("published, with its URL, sent once with the draft's key") {
    bench.transport.Script(
        kStatuses, MakeResponse(200, CreatedStatus(), {{"Content-Type", "application/json"}}));
    ApiResponse published = bench.Call("POST", target, "bob");
    REQUIRE(published.status == 200);
    json::value body = Body(published);
    CHECK(body.at("reply").at("state") == "published");
    CHECK(body.at("reply").at("url") == "https://social.example/@nhs_trust/113500000000000500");
    CHECK(body.at("outcome_unknown") == false);
    REQUIRE(bench.transport.RequestsTo(kStatuses).size() == 1);
    auto stored = bench.store->GetReply(id);
    REQUIRE(stored.ok());
    CHECK(bench.transport.RequestsTo(kStatuses)[0].headers.Get("Idempotency-Key").value_or("") ==
          stored->idempotency_key);
    // Published is final: publishing again is refused, nothing is sent.
    CHECK(bench.Call("POST", target, "bob").status == 400);
    CHECK(bench.transport.RequestsTo(kStatuses).size() == 1);
  }
  SECTION("failed, with the platform's words; a retry is allowed") {
    bench.transport.Script(
        kStatuses,
        MakeResponse(422, R"({"error": "Validation failed: Text character limit of 500 exceeded"})",
                     {{"Content-Type", "application/json"}}));
    ApiResponse failed = bench.Call("POST", target, "bob", "{}");
    REQUIRE(failed.status == 200);
    json::value body = Body(failed);
    CHECK(body.at("reply").at("state") == "failed");
    CHECK(std::string(body.at("reply").at("platform_error").as_string())
              .find("Text character limit of 500 exceeded") != std::string::npos);
    CHECK(body.at("reply").at("url").is_null());
    bench.transport.Script(
        kStatuses, MakeResponse(200, CreatedStatus(), {{"Content-Type", "application/json"}}));
    CHECK(Body(bench.Call("POST", target, "ann")).at("reply").at("state") == "published");
  }
}

TEST_CASE("api publish: access, approval and configuration", "[api][publish]") {
  Bench bench;
  const int64_t id = bench.Draft("ann");
  const std::string target = "/api/replies/" + std::to_string(id) + "/publish";

  // Without publishing wired, the server says so and changes nothing.
  ApiResponse unconfigured = bench.Call("POST", target, "ann");
  CHECK(unconfigured.status == 503);
  CHECK(bench.store->GetReply(id)->state == ReplyState::kDraft);

  bench.EnablePublishing();
  CHECK(bench.Call("POST", target, "lee").status == 404);  // another trust's reply
  CHECK(bench.Call("POST", target, "vic").status == 403);  // may read, not act
  CHECK(bench.Call("GET", target, "ann").status == 405);
  CHECK(bench.Call("POST", "/api/replies/999/publish", "ann").status == 404);
  CHECK(bench.Call("POST", target, "ann", R"({"force": "yes"})").status == 400);
  CHECK(bench.transport.requests().empty());

  // An organisation that requires approval: not before a second person.
  bench.routes->RequireApproval({"RHQ"});
  ApiResponse unapproved = bench.Call("POST", target, "ann");
  CHECK(unapproved.status == 400);
  CHECK(bench.transport.requests().empty());
  CHECK(bench.Call("POST", "/api/replies/" + std::to_string(id) + "/approve", "ann").status ==
        403);  // not the author
  REQUIRE(bench.Call("POST", "/api/replies/" + std::to_string(id) + "/approve", "bob").status ==
          200);
  bench.transport.Script(
      kStatuses, MakeResponse(200, CreatedStatus(), {{"Content-Type", "application/json"}}));
  CHECK(Body(bench.Call("POST", target, "ann")).at("reply").at("state") == "published");

  // RR8 has no account: its reply is kept, to be answered on the platform.
  const int64_t other = bench.Draft("lee", "RR8");
  json::value answer =
      Body(bench.Call("POST", "/api/replies/" + std::to_string(other) + "/publish", "lee"));
  CHECK(answer.at("reply").at("state") == "answer_on_platform");
  CHECK(answer.at("reply").at("url") == "https://social.example/@patient_pat/113500000000000402");
}

}  // namespace
}  // namespace earshot
