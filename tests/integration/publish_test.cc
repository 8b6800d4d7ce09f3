// `earshot publish` as the built binary against the local fixture server
// acting as a Mastodon instance: a crawled post is answered from a
// configured [[account]]; the request carries the bearer token, the
// Idempotency-Key and in_reply_to_id; refusals (401, 422) exit 1 with the
// platform's words; bad input exits 2 before anything is sent; the token
// never appears in any output. A post read on one instance is answered from
// an account on another: the account's instance is asked for the status
// (GET /api/v2/search?resolve=true) and the reply names its id there. The
// one fixture server plays both instances, told apart by a path prefix
// ({{base}}/a and {{base}}/b), which the connector treats as part of an
// instance's base URL exactly as it treats a host.
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace earshot::integration {
namespace {

namespace json = boost::json;
using earshot::testing::Describe;

constexpr char kToken[] = "sth-secret-token-3f9a";
constexpr char kStatuses[] = "/api/v1/statuses";

// The Status Mastodon answers a reply with: ours, on the fixture server.
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

std::string Config() {
  return R"(
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
)";
}

ProcessOptions WithToken() {
  ProcessOptions options;
  options.env["STH_MASTODON_TOKEN"] = kToken;
  return options;
}

void CheckNoToken(const ProcessResult& r) {
  CHECK(r.out.find(kToken) == std::string::npos);
  CHECK(r.err.find(kToken) == std::string::npos);
}

std::vector<RecordedRequest> Posts(const FixtureServer& server) {
  std::vector<RecordedRequest> posts;
  for (const RecordedRequest& r : server.Requests()) {
    if (r.method == "POST") posts.push_back(r);
  }
  return posts;
}

TEST_CASE("publish: a reply to a crawled Mastodon post, and the platform's refusals",
          "[integration]") {
  const std::string post_id = StatusId(1);
  const std::string reply_id = StatusId(50);
  Sandbox box(Routes(post_id, JsonRoute(kStatuses, ReplyStatus(reply_id, post_id))));
  box.WriteConfig(Config());

  ProcessResult check = box.Earshot({"config", "check"}, WithToken());
  INFO(Describe(check));
  REQUIRE(check.exit_code == 0);
  CHECK(check.out.find("1 account(s)") != std::string::npos);
  CHECK(check.out.find("account for RHQ: sth-mastodon (mastodon " + box.base() +
                       " access_token=***") != std::string::npos);
  CheckNoToken(check);

  ProcessResult crawl = box.Earshot({"once"}, WithToken());
  INFO(Describe(crawl));
  REQUIRE(crawl.exit_code == 0);
  const std::string uid = "https://social.example/users/carer01/statuses/" + post_id;
  const std::string post = "mastodon:" + uid;
  ProcessResult listed = box.Earshot({"posts"}, WithToken());
  INFO(Describe(listed));
  CHECK(listed.out.find(post) != std::string::npos);  // what --post takes
  CheckNoToken(crawl);

  const std::string body = "Thank you for telling us about your visit & the wait.";
  ProcessResult published = box.Earshot({"publish", "--account", "sth-mastodon", "--post", post,
                                         "--body", body, "--idempotency-key", "reply-key-0001"},
                                        WithToken());
  INFO(Describe(published));
  REQUIRE(published.exit_code == 0);
  CHECK(Lines(published.out) == std::vector<std::string>{box.base() + "/@sth_nhs/" + reply_id});
  CheckNoToken(published);

  std::vector<RecordedRequest> sent = Posts(box.server());
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].target == kStatuses);
  CHECK(HeaderOf(sent[0], "Authorization") == std::string("Bearer ") + kToken);
  CHECK(HeaderOf(sent[0], "Idempotency-Key") == "reply-key-0001");
  CHECK(HeaderOf(sent[0], "Content-Type") == "application/x-www-form-urlencoded");
  CHECK(sent[0].body ==
        "status=Thank%20you%20for%20telling%20us%20about%20your%20visit%20%26%20the%20wait."
        "&in_reply_to_id=" +
            post_id + "&visibility=public");

  SECTION("without a key, a fresh one is sent") {
    ProcessResult again = box.Earshot(
        {"publish", "--account", "sth-mastodon", "--post", post, "--body", body}, WithToken());
    INFO(Describe(again));
    REQUIRE(again.exit_code == 0);
    sent = Posts(box.server());
    REQUIRE(sent.size() == 2);
    const std::string key = HeaderOf(sent[1], "Idempotency-Key");
    CHECK(key.size() == 32);
    CHECK(key != "reply-key-0001");
  }
  SECTION("401: exit 1 with the platform's message") {
    box.server().SetRoutes(
        Routes(post_id, JsonRoute(kStatuses, "{\"error\":\"The access token is invalid\"}", 401)));
    ProcessResult refused = box.Earshot(
        {"publish", "--account", "sth-mastodon", "--post", post, "--body", body}, WithToken());
    INFO(Describe(refused));
    CHECK(refused.exit_code == 1);
    CHECK(refused.out.empty());
    CHECK(refused.err.find("HTTP 401: The access token is invalid") != std::string::npos);
    CHECK(refused.err.find("may have been published") == std::string::npos);
    CheckNoToken(refused);
    CHECK(Posts(box.server()).size() == 2);  // sent once, not retried
  }
  SECTION("422: exit 1 with the platform's message") {
    box.server().SetRoutes(Routes(
        post_id,
        JsonRoute(kStatuses, "{\"error\":\"Validation failed: Text can't be blank\"}", 422)));
    ProcessResult refused = box.Earshot(
        {"publish", "--account", "sth-mastodon", "--post", post, "--body", body}, WithToken());
    INFO(Describe(refused));
    CHECK(refused.exit_code == 1);
    CHECK(refused.out.empty());
    CHECK(refused.err.find("HTTP 422: Validation failed: Text can't be blank") !=
          std::string::npos);
    CheckNoToken(refused);
  }
  SECTION("an unreadable 200: exit 1, and the doubt is said") {
    FixtureRoute garbled = JsonRoute(kStatuses, "{\"id\":");
    box.server().SetRoutes(Routes(post_id, garbled));
    ProcessResult unknown = box.Earshot({"publish", "--account", "sth-mastodon", "--post", post,
                                         "--body", body, "--idempotency-key", "k-unknown"},
                                        WithToken());
    INFO(Describe(unknown));
    CHECK(unknown.exit_code == 1);
    CHECK(unknown.err.find("may have been published") != std::string::npos);
    CHECK(unknown.err.find("--idempotency-key k-unknown") != std::string::npos);
    // Mastodon honours the key, so the one resend was safe.
    std::vector<RecordedRequest> tries = Posts(box.server());
    REQUIRE(tries.size() == 3);
    CHECK(HeaderOf(tries[1], "Idempotency-Key") == "k-unknown");
    CHECK(HeaderOf(tries[2], "Idempotency-Key") == "k-unknown");
  }
}

TEST_CASE("publish: bad input is refused before anything is sent", "[integration]") {
  const std::string post_id = StatusId(2);
  Sandbox box(Routes(post_id, JsonRoute(kStatuses, ReplyStatus(StatusId(51), post_id))));
  box.WriteConfig(Config() + R"(
[[account]]
name = "elsewhere"
org = "RR8"
connector = "mastodon"
url = "{{base}}/elsewhere"
)");
  REQUIRE(box.Earshot({"once"}, WithToken()).exit_code == 0);
  const std::string post = "mastodon:https://social.example/users/carer02/statuses/" + post_id;
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--account", "sth-mastodon", "--post", post, "--body", "Call us on 07700 900123"},
       "personal identifiers (phone)"},
      {{"--account", "sth-mastodon", "--post", post, "--body", "Write to pat@example.org"},
       "personal identifiers (email)"},
      {{"--account", "nobody", "--post", post, "--body", "Thanks"},
       "no account \"nobody\" (configured: sth-mastodon, elsewhere)"},
      {{"--account", "sth-mastodon", "--post", "mastodon:https://nowhere.example/1", "--body",
        "Thanks"},
       "no stored post mastodon:https://nowhere.example/1"},
      {{"--account", "sth-mastodon", "--post", "feed:x", "--body", "Thanks"},
       "publishes on mastodon, not on feed"},
      {{"--account", "sth-mastodon", "--post", "no-colon", "--body", "Thanks"},
       "--post must be PLATFORM:UID"},
      {{"--account", "sth-mastodon", "--post", post, "--body", std::string(501, 'x')},
       "501 characters; mastodon takes 500"},
      // Read on another instance: finding it on the account's needs a token.
      {{"--account", "elsewhere", "--post", post, "--body", "Thanks"}, "needs `access_token`"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"publish"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    ProcessResult r = box.Earshot(args, WithToken());
    INFO(Describe(r));
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(r.err.find(c.message) != std::string::npos);
    CheckNoToken(r);
  }
  CHECK(Posts(box.server()).empty());
  CHECK(RequestsTo(box.server(), "/elsewhere").empty());

  ProcessResult missing =
      box.Earshot({"publish", "--account", "sth-mastodon", "--post", post}, WithToken());
  CHECK(missing.exit_code == 2);  // --body is required
}

// ------------------------------------------------ two instances, one server ---

constexpr char kSourceInstance[] = "/a";   // where the post is read
constexpr char kAccountInstance[] = "/b";  // where the organisation's account lives

// Instance B's search answer: the same status (same uri, same author) under
// B's own id.
std::string ResolvedOnB(const std::string& read_id, const std::string& local_id) {
  json::object status = json::parse(MastodonStatusJson(read_id, MastodonText(read_id))).as_object();
  status["id"] = local_id;
  status["account"].as_object()["acct"] =
      std::string(status["account"].as_object()["username"].as_string()) + "@social.example";
  json::object result{{"accounts", json::array{}},
                      {"statuses", json::array{std::move(status)}},
                      {"hashtags", json::array{}}};
  return json::serialize(result);
}

// B's answer to the reply: its status answering B's id.
std::string ReplyOnB(const std::string& id, const std::string& in_reply_to) {
  json::object status = json::parse(ReplyStatus(id, in_reply_to)).as_object();
  status["uri"] = "{{base}}/b/users/sth_nhs/statuses/" + id;
  status["url"] = "{{base}}/b/@sth_nhs/" + id;
  return json::serialize(status);
}

std::vector<FixtureRoute> TwoInstances(const std::string& post_id, FixtureRoute search,
                                       FixtureRoute reply) {
  search.target = std::string(kAccountInstance) + "/api/v2/search";
  reply.target = std::string(kAccountInstance) + kStatuses;
  return {JsonRoute(std::string(kSourceInstance) + "/api/v1/timelines/tag/nhs",
                    MastodonTimeline({post_id})),
          std::move(search), std::move(reply)};
}

std::string TwoInstancesConfig() {
  return R"(
[[source]]
name = "nhs-tag-a"
connector = "mastodon"
url = "{{base}}/a"
tag = "nhs"
interval = "5m"

[[account]]
name = "sth-mastodon"
org = "RHQ"
connector = "mastodon"
url = "{{base}}/b"
access_token = "${STH_MASTODON_TOKEN}"
)";
}

TEST_CASE("publish: a post read on one instance, answered from an account on another",
          "[integration]") {
  const std::string post_id = StatusId(3);    // its id on instance A
  const std::string local_id = StatusId(70);  // the same status's id on instance B
  const std::string reply_id = StatusId(71);
  Sandbox box(TwoInstances(post_id, JsonRoute("", ResolvedOnB(post_id, local_id)),
                           JsonRoute("", ReplyOnB(reply_id, local_id))));
  box.WriteConfig(TwoInstancesConfig());
  ProcessResult crawl = box.Earshot({"once"}, WithToken());
  INFO(Describe(crawl));
  REQUIRE(crawl.exit_code == 0);
  const std::string uid = "https://social.example/users/carer03/statuses/" + post_id;
  const std::string post = "mastodon:" + uid;
  const std::string search = std::string(kAccountInstance) +
                             "/api/v2/search?q=https%3A%2F%2Fsocial.example%2Fusers%2Fcarer03%2F"
                             "statuses%2F" +
                             post_id + "&resolve=true&type=statuses&limit=1";
  const std::string body = "Thank you for telling us about your visit.";
  const std::vector<std::string> publish = {
      "publish", "--account", "sth-mastodon",      "--post",        post,
      "--body",  body,        "--idempotency-key", "reply-key-b001"};

  SECTION("found on B: the reply names B's id") {
    ProcessResult published = box.Earshot(publish, WithToken());
    INFO(Describe(published));
    REQUIRE(published.exit_code == 0);
    CHECK(Lines(published.out) == std::vector<std::string>{box.base() + "/b/@sth_nhs/" + reply_id});
    CheckNoToken(published);
    std::vector<RecordedRequest> on_b = RequestsTo(box.server(), kAccountInstance);
    REQUIRE(on_b.size() == 2);
    CHECK(on_b[0].method == "GET");
    CHECK(on_b[0].target == search);
    CHECK(HeaderOf(on_b[0], "Authorization") == std::string("Bearer ") + kToken);
    CHECK(on_b[1].method == "POST");
    CHECK(on_b[1].target == std::string(kAccountInstance) + kStatuses);
    CHECK(HeaderOf(on_b[1], "Authorization") == std::string("Bearer ") + kToken);
    CHECK(HeaderOf(on_b[1], "Idempotency-Key") == "reply-key-b001");
    CHECK(on_b[1].body ==
          "status=Thank%20you%20for%20telling%20us%20about%20your%20visit."
          "&in_reply_to_id=" +
              local_id + "&visibility=public");
    // Nothing was asked of, or posted to, the instance the post was read on.
    CHECK(Posts(box.server()).size() == 1);
    CHECK(RequestsTo(box.server(), std::string(kSourceInstance) + "/api/v2").empty());
    CHECK(RequestsTo(box.server(), std::string(kSourceInstance) + kStatuses).empty());
  }
  SECTION("B cannot find it: exit 1, nothing posted, no doubt") {
    box.server().SetRoutes(
        TwoInstances(post_id, JsonRoute("", "{\"accounts\":[],\"statuses\":[],\"hashtags\":[]}"),
                     JsonRoute("", ReplyOnB(reply_id, local_id))));
    ProcessResult refused = box.Earshot(publish, WithToken());
    INFO(Describe(refused));
    CHECK(refused.exit_code == 1);
    CHECK(refused.out.empty());
    CHECK(refused.err.find("the account's server could not find the post") != std::string::npos);
    CHECK(refused.err.find("may have been published") == std::string::npos);
    CheckNoToken(refused);
    CHECK(RequestsTo(box.server(), search).size() == 1);
    CHECK(Posts(box.server()).empty());
  }
  SECTION("B refuses the token: exit 1 with its words, nothing posted") {
    box.server().SetRoutes(
        TwoInstances(post_id, JsonRoute("", "{\"error\":\"The access token is invalid\"}", 401),
                     JsonRoute("", ReplyOnB(reply_id, local_id))));
    ProcessResult refused = box.Earshot(publish, WithToken());
    INFO(Describe(refused));
    CHECK(refused.exit_code == 1);
    CHECK(refused.err.find("HTTP 401: The access token is invalid") != std::string::npos);
    CHECK(refused.err.find("may have been published") == std::string::npos);
    CheckNoToken(refused);
    CHECK(RequestsTo(box.server(), search).size() == 1);
    CHECK(Posts(box.server()).empty());
  }
}

}  // namespace
}  // namespace earshot::integration
