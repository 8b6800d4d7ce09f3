// The connectors' capabilities end to end: the BUILT binary against the
// local fixture server, `earshot once` run back to back (no sleeps).
// - Bluesky signs in with an app password from the environment, searches
//   with the session's bearer, never shows the password or the JWTs; a
//   refused sign-in stops only its source, with Bluesky's own words.
// - Reddit gets an application-only OAuth token (HTTP Basic client
//   credentials), lists with `bearer`, and renews the token once on a 401.
// - Mastodon conversations: a routed status is watched, its context fetched
//   on the next run (`[schedule] conversations = ["0s"]`), the replies kept
//   without health words; a later 404 makes the status a tombstone.
// - Reddit listings report [deleted]/[removed] posts: tombstones.
// - Discourse topics and X conversation searches are followed over two
//   pages.
// - A failed poll keeps the platform's explanation in last_error.
// - `config check` shows `[schedule] conversations` and points at bad steps.
// Conversation steps count from when a post was written: the posts here are
// dated in the past, so ["0s"] is due on the next run on any day.
#include <algorithm>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "tests/integration/harness.h"
#include "tests/support/fixtures.h"

namespace earshot::integration {
namespace {

namespace json = boost::json;
using earshot::testing::Describe;

// Writes the sandbox's configuration with extra `[schedule]` lines.
void WriteConfigWithSchedule(Sandbox& box, const std::string& sources,
                             const std::string& schedule_lines) {
  box.WriteConfig(sources);
  std::string config = earshot::testing::ReadFile(box.config());
  const std::string table = "[schedule]\n";
  REQUIRE(config.find(table) != std::string::npos);
  config.insert(config.find(table) + table.size(), schedule_lines);
  earshot::testing::WriteFile(box.config(), config);
}

FixtureRoute PostRoute(const std::string& target, std::string body, int status = 200) {
  return JsonRoute(target, std::move(body), status);
}

// Neither stream nor the stored errors show any of `secrets`.
void CheckNoSecrets(const ProcessResult& run, const std::vector<std::string>& secrets) {
  for (const std::string& secret : secrets) {
    INFO("secret " << secret);
    CHECK(run.out.find(secret) == std::string::npos);
    CHECK(run.err.find(secret) == std::string::npos);
  }
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST_CASE("capabilities: config check shows the conversation schedule and its errors",
          "[integration][capabilities][config]") {
  Sandbox box({});
  const char* const source = R"(
[[source]]
name = "tag"
connector = "mastodon"
url = "https://social.example"
tag = "nhs"
)";
  box.WriteConfig(source);
  ProcessResult defaults = box.Earshot({"config", "check"});
  INFO(Describe(defaults));
  REQUIRE(defaults.exit_code == 0);
  CHECK(Contains(defaults.out, "conversations of routed posts fetched at 10m, 1h, 6h, 1d, 3d"));

  WriteConfigWithSchedule(box, source, "conversations = [\"0s\", \"2h\"]\n");
  ProcessResult custom = box.Earshot({"config", "check"});
  INFO(Describe(custom));
  REQUIRE(custom.exit_code == 0);
  CHECK(Contains(custom.out, "fetched at 0s, 2h after they were written"));

  WriteConfigWithSchedule(box, source, "conversations = []\n");
  ProcessResult off = box.Earshot({"config", "check"});
  INFO(Describe(off));
  REQUIRE(off.exit_code == 0);
  CHECK(Contains(off.out, "conversations: not watched"));

  WriteConfigWithSchedule(box, source, "conversations = [\"1h\", \"10m\"]\n");
  ProcessResult bad = box.Earshot({"config", "check"});
  INFO(Describe(bad));
  CHECK(bad.exit_code == 2);
  // [schedule] is the preamble's; the inserted line is its first key.
  const std::string config = earshot::testing::ReadFile(box.config());
  const size_t line = static_cast<size_t>(
      std::count(config.begin(), config.begin() + config.find("conversations"), '\n') + 1);
  CHECK(Contains(bad.err, box.config().string() + ":" + std::to_string(line) +
                              ":24: "
                              "[schedule].conversations: steps must be in ascending order"));
  CHECK(bad.out.empty());
}

// ---------------------------------------------------------------------------
// Bluesky: sessions from an app password

// JWTs shaped like Bluesky's (an `exp` in 2100, so no renewal in a test).
const std::string kAccessJwt =
    "eyJ0eXAiOiJhdCtqd3QiLCJhbGciOiJFUzI1NksifQ."
    "eyJzY29wZSI6ImNvbS5hdHByb3RvLmFwcFBhc3MiLCJzdWIiOiJkaWQ6cGxjOmUyZWludGVncmF0aW9uMDAwMSIsImlh"
    "dCI6MTc5MDAwMDAwMCwiZXhwIjo0MTAyNDQ0ODAwLCJhdWQiOiJkaWQ6d2ViOnBkcy5leGFtcGxlIn0."
    "c2lnbmF0dXJlLWFjY2Vzcw";
const std::string kRefreshJwt =
    "eyJ0eXAiOiJyZWZyZXNoK2p3dCIsImFsZyI6IkVTMjU2SyJ9."
    "eyJzY29wZSI6ImNvbS5hdHByb3RvLnJlZnJlc2giLCJzdWIiOiJkaWQ6cGxjOmUyZWludGVncmF0aW9uMDAwMSIsImlh"
    "dCI6MTc5MDAwMDAwMCwiZXhwIjo0MTAyNDQ0ODAwLCJqdGkiOiJlMmUtcmVmcmVzaC1qdGktNWYyYSJ9."
    "c2lnbmF0dXJlLXJlZnJlc2g";
const std::string kBlueskyIdentifier = "riverside-listening.bsky.social";
const std::string kAppPassword = "abcd-efgh-ijkl-mnop";

std::string BlueskySession() {
  return json::serialize(json::object{
      {"did", "did:plc:e2eintegration0001"},
      {"handle", kBlueskyIdentifier},
      {"accessJwt", kAccessJwt},
      {"refreshJwt", kRefreshJwt},
      {"active", true},
  });
}

// A searchPosts page of posts `first`..`last` (newest first), invented.
std::string BlueskySearch(int first, int last) {
  json::array posts;
  for (int n = last; n >= first; --n) {
    const std::string did = "did:plc:e2epatient000" + std::to_string(n);
    char created[32];
    std::snprintf(created, sizeof created, "2026-11-21T09:%02d:00.000Z", n);
    posts.push_back(json::object{
        {"uri", "at://" + did + "/app.bsky.feed.post/3e2epost000" + std::to_string(n)},
        {"cid", "bafyreie2epost" + std::to_string(1000 + n)},
        {"author", json::object{{"did", did}, {"handle", "patient" + std::to_string(n) + ".bsky"}}},
        {"record", json::object{{"$type", "app.bsky.feed.post"},
                                {"text", "Post " + std::to_string(n) +
                                             ": quick and kind care at the Northern General."},
                                {"createdAt", created}}},
        {"indexedAt", created},
    });
  }
  return json::serialize(json::object{{"posts", std::move(posts)}});
}

const char* const kBlueskySources = R"(
[[source]]
name = "bsky-refused"
connector = "bluesky"
url = "{{base}}/refused"
query = "nhs"
identifier = "${E2E_BSKY_IDENTIFIER}"
app_password = "${E2E_BSKY_WRONG_PASSWORD}"
interval = "1m"

[[source]]
name = "bsky"
connector = "bluesky"
url = "{{base}}/ok"
query = "nhs"
identifier = "${E2E_BSKY_IDENTIFIER}"
app_password = "${E2E_BSKY_APP_PASSWORD}"
interval = "1m"
)";

TEST_CASE("capabilities: bluesky signs in, searches with the session, never shows secrets",
          "[integration][capabilities][bluesky]") {
  const std::string wrong_password = "zzzz-yyyy-xxxx-wwww";
  Sandbox box({
      PostRoute("/ok/xrpc/com.atproto.server.createSession", BlueskySession()),
      JsonRoute("/ok/xrpc/app.bsky.feed.searchPosts", BlueskySearch(1, 3)),
      PostRoute("/refused/xrpc/com.atproto.server.createSession",
                R"({"error":"AuthenticationRequired","message":"Invalid identifier or password"})",
                401),
      JsonRoute("/refused/xrpc/app.bsky.feed.searchPosts", BlueskySearch(4, 4)),
  });
  WriteConfigWithSchedule(box, kBlueskySources, "conversations = []\n");
  ProcessOptions env;
  env.env["E2E_BSKY_IDENTIFIER"] = kBlueskyIdentifier;
  env.env["E2E_BSKY_APP_PASSWORD"] = kAppPassword;
  env.env["E2E_BSKY_WRONG_PASSWORD"] = wrong_password;

  // -v: every request is logged, so the masking is tested where it is most
  // exposed.
  ProcessResult run = box.Earshot({"-v", "once"}, env);
  INFO(Describe(run));
  REQUIRE(run.exit_code == 0);
  CHECK(Contains(run.out, "3 new post(s)"));

  // The signed-in source: createSession first, then the search with the
  // session's access JWT as bearer.
  const auto ok = RequestsTo(box.server(), "/ok/");
  REQUIRE(ok.size() == 2);
  CHECK(ok[0].method == "POST");
  CHECK(ok[0].target == "/ok/xrpc/com.atproto.server.createSession");
  const json::value sent = json::parse(ok[0].body);
  CHECK(sent.at("identifier").as_string() == kBlueskyIdentifier);
  CHECK(sent.at("password").as_string() == kAppPassword);
  CHECK(HeaderOf(ok[0], "Authorization").empty());
  CHECK(ok[1].method == "GET");
  CHECK(ok[1].target.rfind("/ok/xrpc/app.bsky.feed.searchPosts?", 0) == 0);
  CHECK(HeaderOf(ok[1], "Authorization") == "Bearer " + kAccessJwt);

  // The refused source: one sign-in, no search, stopped with Bluesky's words.
  const auto refused = RequestsTo(box.server(), "/refused/");
  REQUIRE(refused.size() == 1);
  CHECK(refused[0].target == "/refused/xrpc/com.atproto.server.createSession");

  const std::vector<std::string> secrets = {
      kAppPassword, wrong_password,           kAccessJwt,
      kRefreshJwt,  "c2lnbmF0dXJlLWFjY2Vzcw", "c2lnbmF0dXJlLXJlZnJlc2g"};
  CheckNoSecrets(run, secrets);
  {
    auto store = box.OpenStore();
    const SourceRecord good = SourceNamed(*store, "bsky");
    CHECK(good.state.health == SourceHealth::kOk);
    CHECK(good.state.posts_total == 3);
    CHECK(PostIds(*store, "bsky").size() == 3);
    const SourceRecord stopped = SourceNamed(*store, "bsky-refused");
    INFO(stopped.state.last_error);
    CHECK(stopped.state.health == SourceHealth::kStopped);
    CHECK(Contains(stopped.state.last_error, "signing in"));
    CHECK(Contains(stopped.state.last_error,
                   "HTTP 401: AuthenticationRequired: Invalid identifier or password"));
    CHECK(PostIds(*store, "bsky-refused").empty());
    for (const std::string& secret : secrets) {
      CHECK_FALSE(Contains(stopped.state.last_error, secret));
      CHECK_FALSE(Contains(good.state.last_error, secret));
    }
  }

  // `earshot sources` tells the operator why, still without the secrets.
  ProcessResult sources = box.Earshot({"sources"}, env);
  INFO(Describe(sources));
  REQUIRE(sources.exit_code == 0);
  CHECK(Contains(sources.out, "stopped"));
  CHECK(Contains(sources.out, "AuthenticationRequired: Invalid identifier or password"));
  CheckNoSecrets(sources, secrets);

  // The next run: the stopped source stays stopped (an operator's reset
  // resumes it); the good one signs in again (sessions live in memory).
  ProcessResult again = box.Earshot({"once", "--force"}, env);
  INFO(Describe(again));
  REQUIRE(again.exit_code == 0);
  CheckNoSecrets(again, secrets);
  CHECK(RequestsTo(box.server(), "/refused/").size() == 1);
  const auto ok_again = RequestsTo(box.server(), "/ok/");
  REQUIRE(ok_again.size() == 4);
  CHECK(ok_again[2].target == "/ok/xrpc/com.atproto.server.createSession");
  CHECK(HeaderOf(ok_again[3], "Authorization") == "Bearer " + kAccessJwt);
}

TEST_CASE("capabilities: bluesky's 400 ExpiredToken on a search signs in again, once",
          "[integration][capabilities][bluesky]") {
  Sandbox box({
      PostRoute("/ok/xrpc/com.atproto.server.createSession", BlueskySession()),
      JsonRoute("/ok/xrpc/app.bsky.feed.searchPosts",
                R"({"error":"ExpiredToken","message":"Token has expired"})", 400),
      JsonRoute("/ok/xrpc/app.bsky.feed.searchPosts", BlueskySearch(1, 3)),
  });
  WriteConfigWithSchedule(box, R"(
[[source]]
name = "bsky"
connector = "bluesky"
url = "{{base}}/ok"
query = "nhs"
identifier = "${E2E_BSKY_IDENTIFIER}"
app_password = "${E2E_BSKY_APP_PASSWORD}"
interval = "1m"
)",
                          "conversations = []\n");
  ProcessOptions env;
  env.env["E2E_BSKY_IDENTIFIER"] = kBlueskyIdentifier;
  env.env["E2E_BSKY_APP_PASSWORD"] = kAppPassword;

  ProcessResult run = box.Earshot({"-v", "once"}, env);
  INFO(Describe(run));
  REQUIRE(run.exit_code == 0);
  CHECK(Contains(run.out, "3 new post(s)"));
  CHECK(Contains(run.out, "0 failure(s)"));
  // Sign in, search (400 ExpiredToken), sign in again, search: not a backoff.
  const auto requests = box.server().Requests();
  REQUIRE(requests.size() == 4);
  CHECK(requests[0].target == "/ok/xrpc/com.atproto.server.createSession");
  CHECK(requests[1].target.rfind("/ok/xrpc/app.bsky.feed.searchPosts?", 0) == 0);
  CHECK(requests[2].target == "/ok/xrpc/com.atproto.server.createSession");
  CHECK(requests[3].target.rfind("/ok/xrpc/app.bsky.feed.searchPosts?", 0) == 0);
  CHECK(HeaderOf(requests[3], "Authorization") == "Bearer " + kAccessJwt);
  CheckNoSecrets(run, {kAppPassword, kAccessJwt, kRefreshJwt});

  auto store = box.OpenStore();
  const SourceRecord record = SourceNamed(*store, "bsky");
  CHECK(record.state.health == SourceHealth::kOk);
  CHECK(record.state.consecutive_failures == 0);
  CHECK(record.state.last_error.empty());
  CHECK(PostIds(*store, "bsky").size() == 3);
}

// ---------------------------------------------------------------------------
// Reddit: application-only OAuth

const std::string kRedditAgent = "server:earshot-e2e:1.0 (by /u/earshot_test)";
const std::string kRedditSecret = "e2e-client-secret-9f3b";

std::string RedditName(int n) {
  std::string digits = std::to_string(n);
  return "t3_1e" + std::string(5 - digits.size(), '0') + digits;
}

struct RedditItem {
  int n = 0;
  std::string body;  // selftext: "[deleted]", "[removed]" or a story
};

// A /new Listing of `items` (newest first), invented people and stories.
std::string RedditListing(const std::vector<RedditItem>& items) {
  json::array children;
  for (const RedditItem& item : items) {
    const std::string name = RedditName(item.n);
    const std::string id = name.substr(3);
    const bool gone = item.body == "[deleted]";
    children.push_back(json::object{
        {"kind", "t3"},
        {"data",
         json::object{
             {"name", name},
             {"id", id},
             {"title", "Post " + std::to_string(item.n) + " about the Northern General"},
             {"selftext", item.body},
             {"selftext_html", nullptr},
             {"author", gone ? "[deleted]" : "carer_" + std::to_string(item.n)},
             {"created_utc", 1790000000.0 + item.n},
             {"permalink", "/r/nhs/comments/" + id + "/post_" + std::to_string(item.n) + "/"},
             {"url", "https://www.reddit.com/r/nhs/comments/" + id + "/post/"},
             {"is_self", true},
             {"removed_by_category", nullptr},
         }},
    });
  }
  return json::serialize(json::object{
      {"kind", "Listing"},
      {"data",
       json::object{{"children", std::move(children)}, {"after", nullptr}, {"before", nullptr}}},
  });
}

std::string RedditToken(const std::string& token) {
  return json::serialize(json::object{
      {"access_token", token}, {"token_type", "bearer"}, {"expires_in", 86400}, {"scope", "*"}});
}

std::string RedditSource(const std::string& name) {
  return R"(
[[source]]
name = ")" +
         name + R"("
connector = "reddit"
url = "{{base}}"
token_url = "{{base}}/api/v1/access_token"
client_id = "e2e-app"
client_secret = "${E2E_REDDIT_SECRET}"
user_agent = ")" +
         kRedditAgent + R"("
subreddit = "nhs"
limit = 10
interval = "1m"
)";
}

ProcessOptions RedditEnv() {
  ProcessOptions options;
  options.env["E2E_REDDIT_SECRET"] = kRedditSecret;
  return options;
}

TEST_CASE("capabilities: reddit application-only OAuth, a 401 renews the token once",
          "[integration][capabilities][reddit]") {
  const std::string first_token = "e2e-token-one-4c1d";
  const std::string second_token = "e2e-token-two-8a7e";
  Sandbox box({
      PostRoute("/api/v1/access_token", RedditToken(first_token)),
      PostRoute("/api/v1/access_token", RedditToken(second_token)),
      JsonRoute("/r/nhs/new.json", R"({"message": "Unauthorized", "error": 401})", 401),
      JsonRoute("/r/nhs/new.json",
                RedditListing({{3, "Story three"}, {2, "Story two"}, {1, "Story one"}})),
  });
  WriteConfigWithSchedule(box, RedditSource("reddit-nhs"), "conversations = []\n");

  ProcessResult run = box.Earshot({"-v", "once"}, RedditEnv());
  INFO(Describe(run));
  REQUIRE(run.exit_code == 0);
  CHECK(Contains(run.out, "3 new post(s)"));
  CHECK(Contains(run.out, "0 failure(s)"));

  // Token, listing (401), a new token, the listing again: in that order.
  const auto requests = box.server().Requests();
  REQUIRE(requests.size() == 4);
  CHECK(requests[0].target == "/api/v1/access_token");
  CHECK(requests[1].target.rfind("/r/nhs/new.json?", 0) == 0);
  CHECK(requests[2].target == "/api/v1/access_token");
  CHECK(requests[3].target.rfind("/r/nhs/new.json?", 0) == 0);
  for (const RecordedRequest* token : {&requests[0], &requests[2]}) {
    CHECK(token->method == "POST");
    CHECK(token->body == "grant_type=client_credentials");
    // HTTP Basic of "e2e-app:e2e-client-secret-9f3b".
    CHECK(HeaderOf(*token, "Authorization") == "Basic ZTJlLWFwcDplMmUtY2xpZW50LXNlY3JldC05ZjNi");
    CHECK(HeaderOf(*token, "User-Agent") == kRedditAgent);
  }
  CHECK(HeaderOf(requests[1], "Authorization") == "bearer " + first_token);
  CHECK(HeaderOf(requests[3], "Authorization") == "bearer " + second_token);
  CHECK(HeaderOf(requests[3], "User-Agent") == kRedditAgent);
  CheckNoSecrets(
      run, {kRedditSecret, first_token, second_token, "ZTJlLWFwcDplMmUtY2xpZW50LXNlY3JldC05ZjNi"});

  auto store = box.OpenStore();
  const SourceRecord record = SourceNamed(*store, "reddit-nhs");
  CHECK(record.state.health == SourceHealth::kOk);
  CHECK(record.state.consecutive_failures == 0);
  CHECK(record.state.last_error.empty());
  CHECK(PostIds(*store, "reddit-nhs") ==
        std::vector<std::string>{RedditName(1), RedditName(2), RedditName(3)});
}

// A comment of the link t3_1e00001, with `replies` (a Listing, or "").
json::object RedditComment(const std::string& id, const std::string& parent,
                           const std::string& body, json::value replies = "") {
  return json::object{
      {"kind", "t1"},
      {"data", json::object{{"name", "t1_" + id},
                            {"id", id},
                            {"author", "commenter_" + id},
                            {"parent_id", parent},
                            {"link_id", RedditName(1)},
                            {"body", body},
                            {"created_utc", 1790000100.0},
                            {"permalink", "/r/nhs/comments/1e00001/post_1/" + id + "/"},
                            {"replies", std::move(replies)}}},
  };
}

json::object RedditChildren(json::array children) {
  return json::object{{"kind", "Listing"},
                      {"data", json::object{{"children", std::move(children)}}}};
}

TEST_CASE("capabilities: reddit follows \"continue this thread\" after the more stubs",
          "[integration][capabilities][reddit]") {
  // A comment page starts with a Listing of its link, as /new lists it.
  const std::string link_page = RedditListing({{1, "Story one"}});
  // The link's comment page: c1 whose chain Reddit cut off, and a "more"
  // stub hiding c2.
  const json::object continue_stub{{"kind", "more"},
                                   {"data", json::object{{"count", 0},
                                                         {"name", "t1__"},
                                                         {"id", "_"},
                                                         {"parent_id", "t1_c1"},
                                                         {"depth", 10},
                                                         {"children", json::array{}}}}};
  const json::object more_stub{{"kind", "more"},
                               {"data", json::object{{"count", 1},
                                                     {"name", "t1_c9"},
                                                     {"id", "c9"},
                                                     {"parent_id", RedditName(1)},
                                                     {"children", json::array{"c2"}}}}};
  const std::string comments = json::serialize(json::array{
      json::parse(link_page),
      RedditChildren(json::array{
          RedditComment("c1", RedditName(1), "Ten levels deep about the Northern General.",
                        RedditChildren(json::array{continue_stub})),
          more_stub}),
  });
  const std::string more_children = json::serialize(json::object{
      {"json",
       json::object{{"errors", json::array{}},
                    {"data", json::object{{"things", json::array{RedditComment(
                                                         "c2", RedditName(1),
                                                         "Loaded through morechildren.")}}}}}}});
  const std::string deeper = json::serialize(json::array{
      json::parse(link_page),
      RedditChildren(json::array{RedditComment(
          "c1", RedditName(1), "Ten levels deep about the Northern General.",
          RedditChildren(
              json::array{RedditComment("c3", "t1_c1", "Eleven levels deep: found at last.")}))}),
  });
  const std::string first_page = "/comments/1e00001.json?limit=500&sort=new&raw_json=1";
  const std::string chain_page = "/comments/1e00001.json?comment=c1&limit=500&sort=new&raw_json=1";
  Sandbox box({
      PostRoute("/api/v1/access_token", RedditToken("e2e-token-continue")),
      JsonRoute("/r/nhs/new.json", RedditListing({{1, "Story one"}})),
      JsonRoute(first_page, comments),
      PostRoute("/api/morechildren?raw_json=1", more_children),
      JsonRoute(chain_page, deeper),
  });
  WriteConfigWithSchedule(box, RedditSource("reddit-nhs"), "conversations = [\"0s\"]\n");

  ProcessResult first = box.Earshot({"once"}, RedditEnv());
  INFO(Describe(first));
  REQUIRE(first.exit_code == 0);
  CHECK(Contains(first.out, "1 new post(s)"));

  ProcessResult second = box.Earshot({"once"}, RedditEnv());
  INFO(Describe(second));
  REQUIRE(second.exit_code == 0);
  CHECK(Contains(second.out, "1 conversation(s) fetched (3 page(s))"));
  std::vector<std::string> targets;
  for (const RecordedRequest& r : box.server().Requests()) {
    if (r.target.rfind("/comments/", 0) == 0 || r.target.rfind("/api/morechildren", 0) == 0) {
      targets.push_back(r.method + " " + r.target);
    }
  }
  CHECK(targets == std::vector<std::string>{"GET " + first_page,
                                            "POST /api/morechildren?raw_json=1",
                                            "GET " + chain_page});
  auto store = box.OpenStore();
  auto deepest = store->FindPost("reddit", "t1_c3");
  REQUIRE(deepest.ok());
  REQUIRE(deepest->has_value());
  CHECK((*deepest)->post.reply_to == "t1_c1");
  CHECK((*deepest)->post.conversation == RedditName(1));
  CHECK((*deepest)->post.text == "Eleven levels deep: found at last.");
  auto loaded = store->FindPost("reddit", "t1_c2");
  REQUIRE(loaded.ok());
  CHECK(loaded->has_value());
}

TEST_CASE("capabilities: reddit posts listed as [deleted] or [removed] become tombstones",
          "[integration][capabilities][reddit]") {
  Sandbox box({
      PostRoute("/api/v1/access_token", RedditToken("e2e-token-deletions")),
      JsonRoute("/r/nhs/new.json",
                RedditListing({{3, "Thank you Bramblewood ward, my son is home."},
                               {2, "Marshmallow the therapy dog visited the children's ward."},
                               {1, "Waited an hour at the Northern General walk-in."}})),
  });
  WriteConfigWithSchedule(box, RedditSource("reddit-nhs"), "conversations = []\n");
  ProcessResult first = box.Earshot({"once"}, RedditEnv());
  INFO(Describe(first));
  REQUIRE(first.exit_code == 0);
  CHECK(Contains(first.out, "3 new post(s)"));
  CHECK_FALSE(Contains(first.out, "deleted"));
  ProcessResult found = box.Earshot({"posts", "--search", "Bramblewood"}, RedditEnv());
  INFO(Describe(found));
  CHECK(Lines(found.out).size() >= 2);  // the header line and the text

  // Later the author deletes post 3 and moderators remove post 2.
  box.server().SetRoutes({
      PostRoute("/api/v1/access_token", RedditToken("e2e-token-deletions")),
      JsonRoute("/r/nhs/new.json", RedditListing({{3, "[deleted]"},
                                                  {2, "[removed]"},
                                                  {1,
                                                   "Waited an hour at the Northern General "
                                                   "walk-in."}})),
  });
  ProcessResult second = box.Earshot({"once", "--force"}, RedditEnv());
  INFO(Describe(second));
  REQUIRE(second.exit_code == 0);
  CHECK(Contains(second.out, "0 new post(s)"));
  CHECK(Contains(second.out, "2 post(s) deleted (tombstoned)"));

  {
    auto store = box.OpenStore();
    auto author_deleted = store->FindPost("reddit", RedditName(3));
    REQUIRE(author_deleted.ok());
    REQUIRE(author_deleted->has_value());
    CHECK((*author_deleted)->deleted_at.has_value());
    CHECK((*author_deleted)->deletion_reason == "deleted by its author");
    CHECK((*author_deleted)->post.text.empty());
    CHECK((*author_deleted)->post.author_handle.empty());
    auto removed = store->FindPost("reddit", RedditName(2));
    REQUIRE(removed.ok());
    REQUIRE(removed->has_value());
    CHECK((*removed)->deletion_reason == "removed by moderators");
    auto kept = store->FindPost("reddit", RedditName(1));
    REQUIRE(kept.ok());
    REQUIRE(kept->has_value());
    CHECK_FALSE((*kept)->deleted_at.has_value());
  }

  ProcessResult posts = box.Earshot({"posts"}, RedditEnv());
  INFO(Describe(posts));
  REQUIRE(posts.exit_code == 0);
  CHECK(Contains(posts.out, "[deleted: deleted by its author]"));
  CHECK(Contains(posts.out, "[deleted: removed by moderators]"));
  CHECK_FALSE(Contains(posts.out, "Bramblewood"));
  CHECK_FALSE(Contains(posts.out, "Marshmallow"));
  CHECK(Contains(posts.out, "Waited an hour at the Northern General"));
  for (const char* word : {"Bramblewood", "Marshmallow"}) {
    ProcessResult search = box.Earshot({"posts", "--search", word}, RedditEnv());
    INFO(Describe(search));
    CHECK(search.exit_code == 0);
    CHECK(search.out.empty());
  }

  // A third run lists them again: already tombstones, nothing changes.
  ProcessResult third = box.Earshot({"once", "--force"}, RedditEnv());
  INFO(Describe(third));
  REQUIRE(third.exit_code == 0);
  CHECK_FALSE(Contains(third.out, "deleted"));
}

TEST_CASE("capabilities: a failed poll keeps the platform's explanation",
          "[integration][capabilities]") {
  Sandbox box({
      PostRoute("/api/v1/access_token", RedditToken("e2e-token-errors")),
      JsonRoute("/r/nhs/new.json",
                R"({"message": "Forbidden: this community is private", "error": 403})", 403),
  });
  WriteConfigWithSchedule(box, RedditSource("reddit-private"), "conversations = []\n");
  ProcessResult run = box.Earshot({"once"}, RedditEnv());
  INFO(Describe(run));
  REQUIRE(run.exit_code == 0);
  CHECK(Contains(run.err, "HTTP 403: Forbidden: this community is private"));
  auto store = box.OpenStore();
  const SourceRecord record = SourceNamed(*store, "reddit-private");
  INFO(record.state.last_error);
  CHECK(record.state.health == SourceHealth::kStopped);
  CHECK(Contains(record.state.last_error, "HTTP 403: Forbidden: this community is private"));
}

// ---------------------------------------------------------------------------
// Mastodon: conversations of routed statuses

// A timeline status written in June 2025: conversation steps count from
// then, so ["0s"] is due on the next run whatever day the tests run.
std::string MastodonStatus(const std::string& id, const std::string& text) {
  json::value status = json::parse(MastodonStatusJson(id, text));
  status.as_object()["created_at"] = "2025-06-01T10:" + id.substr(id.size() - 2) + ":00.000Z";
  return json::serialize(status);
}

// A status in reply to `parent`, without a word about health.
std::string MastodonReply(const std::string& id, const std::string& parent,
                          const std::string& text) {
  json::value status = json::parse(MastodonStatus(id, text));
  status.as_object()["in_reply_to_id"] = parent;
  status.as_object()["tags"] = json::array{};
  status.as_object()["content"] = "<p>" + text + "</p>";
  return json::serialize(status);
}

std::string MastodonContext(const std::vector<std::string>& descendants) {
  std::string out = R"({"ancestors":[],"descendants":[)";
  for (size_t i = 0; i < descendants.size(); ++i) out += (i ? "," : "") + descendants[i];
  return out + "]}";
}

const char* const kMastodonSource = R"(
[[source]]
name = "tag"
connector = "mastodon"
url = "{{base}}"
tag = "nhs"
interval = "1h"
)";

TEST_CASE("capabilities: mastodon conversations are fetched, replies kept, a 404 tombstones",
          "[integration][capabilities][mastodon]") {
  const std::string s1 = StatusId(11);
  const std::string s2 = StatusId(12);
  const std::string r1 = StatusId(21);
  const std::string r2 = StatusId(22);
  const std::string timeline =
      "[" +
      MastodonStatus(s2,
                     "Seen within the hour at the Northern General walk-in, said "
                     "Bluebell.") +
      "," +
      MastodonStatus(s1,
                     "Seen within the hour at the Northern General walk-in, said "
                     "Marigold.") +
      "]";
  Sandbox box({
      JsonRoute("/api/v1/timelines/tag/nhs", timeline),
      JsonRoute("/api/v1/statuses/" + s1 + "/context",
                MastodonContext({MastodonReply(r1, s1, "Totally agree, thanks for posting this"),
                                 MastodonReply(r2, r1, "Same here, lovely people")})),
      JsonRoute("/api/v1/statuses/" + s2 + "/context", R"({"error":"Record not found"})", 404),
  });
  WriteConfigWithSchedule(box, kMastodonSource, "conversations = [\"0s\"]\n");

  // First run: the statuses are stored and, being routed, watched.
  ProcessResult first = box.Earshot({"once"});
  INFO(Describe(first));
  REQUIRE(first.exit_code == 0);
  CHECK(Contains(first.out, "2 new post(s)"));
  CHECK_FALSE(Contains(first.out, "conversation"));
  CHECK(RequestsTo(box.server(), "/api/v1/statuses/").empty());
  std::string s1_uid;
  {
    auto store = box.OpenStore();
    for (const StoredPost& p : AllPosts(*store)) {
      if (p.post.id == s1) s1_uid = p.post.uid;
    }
    REQUIRE_FALSE(s1_uid.empty());
    auto watch = store->FindWatch("mastodon", s1_uid);
    REQUIRE(watch.ok());
    REQUIRE(watch->has_value());
    CHECK((*watch)->next_fetch_at.has_value());
  }

  // Second run: the source is not due (1 h), the conversations are.
  ProcessResult second = box.Earshot({"once"});
  INFO(Describe(second));
  REQUIRE(second.exit_code == 0);
  CHECK(RequestsTo(box.server(), "/api/v1/timelines/").size() == 1);
  CHECK(RequestsTo(box.server(), "/api/v1/statuses/" + s1 + "/context").size() == 1);
  CHECK(RequestsTo(box.server(), "/api/v1/statuses/" + s2 + "/context").size() == 1);
  CHECK(Contains(second.out, "2 new post(s)"));
  CHECK(Contains(second.out, "1 post(s) deleted (tombstoned)"));
  CHECK(Contains(second.out, "2 conversation(s) fetched (2 page(s))"));
  {
    auto store = box.OpenStore();
    std::map<std::string, StoredPost> by_id;
    for (StoredPost& p : AllPosts(*store)) by_id[p.post.id] = std::move(p);
    REQUIRE(by_id.count(r1) == 1);
    REQUIRE(by_id.count(r2) == 1);
    // Kept without an organisation or a health word: they are the thread.
    CHECK(by_id[r1].post.text == "Totally agree, thanks for posting this");
    CHECK(by_id[r1].post.reply_to == s1);
    CHECK(by_id[r2].post.reply_to == r1);
    CHECK(by_id[r1].source == "tag");
    REQUIRE(by_id.count(s2) == 1);
    CHECK(by_id[s2].deleted_at.has_value());
    CHECK(Contains(by_id[s2].deletion_reason, "not found on re-fetch"));
    CHECK(by_id[s2].post.text.empty());
    CHECK_FALSE(by_id[s1].deleted_at.has_value());
  }
  ProcessResult marigold = box.Earshot({"posts", "--search", "Marigold"});
  INFO(Describe(marigold));
  CHECK(Contains(marigold.out, "Marigold"));
  ProcessResult bluebell = box.Earshot({"posts", "--search", "Bluebell"});
  INFO(Describe(bluebell));
  CHECK(bluebell.exit_code == 0);
  CHECK(bluebell.out.empty());

  // A run with nothing due fetches nothing: the ["0s"] schedule is done.
  ProcessResult idle = box.Earshot({"once"});
  INFO(Describe(idle));
  REQUIRE(idle.exit_code == 0);
  CHECK(RequestsTo(box.server(), "/api/v1/statuses/").size() == 2);

  // Later, the status is gone: its next step (brought forward here, as the
  // days it would take cannot pass in a test) answers 404.
  {
    auto store = box.OpenStore();
    auto watch = store->FindWatch("mastodon", s1_uid);
    REQUIRE(watch.ok());
    REQUIRE(watch->has_value());
    ConversationWatch due = **watch;
    due.next_fetch_at = SystemClock().Now() - std::chrono::seconds(1);
    SourceWrite write;
    write.source = "tag";
    write.state = SourceNamed(*store, "tag").state;
    write.watch_updates.push_back(due);
    REQUIRE(store->Apply({write}).ok());
  }
  box.server().SetRoutes({
      JsonRoute("/api/v1/timelines/tag/nhs", timeline),
      JsonRoute("/api/v1/statuses/" + s1 + "/context", R"({"error":"Record not found"})", 404),
  });
  ProcessResult later = box.Earshot({"once"});
  INFO(Describe(later));
  REQUIRE(later.exit_code == 0);
  CHECK(Contains(later.out, "1 post(s) deleted (tombstoned)"));
  CHECK(Contains(later.out, "1 conversation(s) fetched (1 page(s))"));

  ProcessResult posts = box.Earshot({"posts"});
  INFO(Describe(posts));
  REQUIRE(posts.exit_code == 0);
  CHECK(Contains(posts.out, "[deleted: not found on re-fetch (HTTP 404)]"));
  CHECK_FALSE(Contains(posts.out, "Marigold"));
  CHECK_FALSE(Contains(posts.out, "Bluebell"));
  CHECK(Contains(posts.out, "Totally agree, thanks for posting this"));  // replies stay
  ProcessResult gone = box.Earshot({"posts", "--search", "Marigold"});
  INFO(Describe(gone));
  CHECK(gone.exit_code == 0);
  CHECK(gone.out.empty());
  auto store = box.OpenStore();
  auto watch = store->FindWatch("mastodon", s1_uid);
  REQUIRE(watch.ok());
  REQUIRE(watch->has_value());
  CHECK_FALSE((*watch)->next_fetch_at.has_value());
}

// ---------------------------------------------------------------------------
// Discourse: a topic's conversation over two pages

// A Discourse post of topic 90, number `number` (id 500 + number - 1).
json::object DiscoursePost(int number, const std::string& text, int reply_to_number = 0) {
  const int id = 500 + number - 1;
  json::object post{
      {"id", id},
      {"name", "Member " + std::to_string(id)},
      {"username", "member" + std::to_string(id)},
      {"created_at", "2025-06-01T09:00:00.000Z"},
      {"cooked", "<p>" + text + "</p>"},
      {"post_number", number},
      {"post_type", 1},
      {"topic_id", 90},
      {"topic_slug", "outpatients"},
      {"topic_title", "Outpatients at the Northern General"},
      {"hidden", false},
      {"deleted_at", nullptr},
      {"user_deleted", false},
  };
  post["reply_to_post_number"] =
      reply_to_number > 0 ? json::value(reply_to_number) : json::value(nullptr);
  return post;
}

// /t/90.json page `page` of a topic of `total` posts, 20 a page.
std::string DiscourseTopicPage(int page, int total) {
  json::array posts;
  const int first = (page - 1) * 20 + 1;
  const int last = std::min(total, page * 20);
  for (int number = first; number <= last; ++number) {
    const std::string text = number == 1 ? "Waited three hours at the Northern General outpatients."
                                         : "Reply " + std::to_string(number) + ": same for us.";
    posts.push_back(DiscoursePost(number, text, number > 1 ? number - 1 : 0));
  }
  json::array stream;
  for (int number = 1; number <= total; ++number) stream.push_back(500 + number - 1);
  return json::serialize(json::object{
      {"id", 90},
      {"title", "Outpatients at the Northern General"},
      {"slug", "outpatients"},
      {"chunk_size", 20},
      {"post_stream", json::object{{"posts", std::move(posts)}, {"stream", std::move(stream)}}},
  });
}

TEST_CASE("capabilities: a discourse topic's conversation is followed over two pages",
          "[integration][capabilities][discourse]") {
  const std::string latest = json::serialize(json::object{
      {"latest_posts",
       json::array{DiscoursePost(1, "Waited three hours at the Northern General outpatients.")}}});
  Sandbox box({
      JsonRoute("/community/posts.json", latest),
      JsonRoute("/community/t/90.json", DiscourseTopicPage(1, 25)),
      JsonRoute("/community/t/90.json?page=2", DiscourseTopicPage(2, 25)),
  });
  WriteConfigWithSchedule(box, R"(
[[source]]
name = "forum"
connector = "discourse"
url = "{{base}}/community"
interval = "1h"
)",
                          "conversations = [\"0s\"]\n");

  ProcessResult first = box.Earshot({"once"});
  INFO(Describe(first));
  REQUIRE(first.exit_code == 0);
  CHECK(Contains(first.out, "1 new post(s)"));

  ProcessResult second = box.Earshot({"once"});
  INFO(Describe(second));
  REQUIRE(second.exit_code == 0);
  CHECK(Contains(second.out, "24 new post(s)"));
  CHECK(Contains(second.out, "1 conversation(s) fetched (2 page(s))"));

  std::vector<std::string> targets;
  for (const RecordedRequest& r : RequestsTo(box.server(), "/community/t/")) {
    targets.push_back(r.target);
  }
  CHECK(targets == std::vector<std::string>{"/community/t/90.json", "/community/t/90.json?page=2"});
  auto store = box.OpenStore();
  std::vector<std::string> ids = PostIds(*store, "forum");
  CHECK(ids.size() == 25);
  auto last = store->FindPost("discourse", "127.0.0.1/p/524");
  REQUIRE(last.ok());
  REQUIRE(last->has_value());
  CHECK((*last)->post.conversation == "90");
  CHECK((*last)->post.text == "Reply 25: same for us.");
  // The reply on page 2 names its parent, which was on page 1.
  auto page2_first = store->FindPost("discourse", "127.0.0.1/p/520");
  REQUIRE(page2_first.ok());
  REQUIRE(page2_first->has_value());
  CHECK((*page2_first)->post.text == "Reply 21: same for us.");
  auto watch = store->FindWatch("discourse", "127.0.0.1/p/500");
  REQUIRE(watch.ok());
  REQUIRE(watch->has_value());
  CHECK((*watch)->fetches == 1);
  // ["0s"]: one fetch, then the watch is finished.
  CHECK_FALSE((*watch)->next_fetch_at.has_value());
}

// ---------------------------------------------------------------------------
// X: a conversation search over two pages

std::string Tweet(int n) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "1870000000000001%03d", n);
  return buffer;
}

// A recent-search answer: tweets `ids` (newest first), all in the
// conversation of `root` (a reply names it as the tweet it answers).
std::string XSearch(const std::vector<int>& ids, int root, const std::string& next_token = "") {
  json::array data;
  json::array users;
  for (int n : ids) {
    const std::string id = Tweet(n);
    const std::string user = "1600000000000001" + id.substr(id.size() - 3);
    json::object tweet{
        {"id", id},
        {"author_id", user},
        {"conversation_id", Tweet(root)},
        {"created_at", "2025-06-01T08:" + id.substr(id.size() - 2) + ":00.000Z"},
        {"lang", "en"},
        {"edit_history_tweet_ids", json::array{id}},
        {"text", n == root ? "Waited four hours at the Northern General A&amp;E tonight. #NHS"
                           : "Reply " + std::to_string(n) + ": hope you are ok now"},
    };
    if (n != root) {
      tweet["referenced_tweets"] =
          json::array{json::object{{"type", "replied_to"}, {"id", Tweet(root)}}};
    }
    data.push_back(std::move(tweet));
    users.push_back(json::object{{"id", user},
                                 {"username", "tweeter" + id.substr(id.size() - 3)},
                                 {"name", "Tweeter " + id.substr(id.size() - 3)}});
  }
  json::object meta{{"result_count", ids.size()},
                    {"newest_id", Tweet(ids.front())},
                    {"oldest_id", Tweet(ids.back())}};
  if (!next_token.empty()) meta["next_token"] = next_token;
  return json::serialize(json::object{{"data", std::move(data)},
                                      {"includes", json::object{{"users", std::move(users)}}},
                                      {"meta", std::move(meta)}});
}

TEST_CASE("capabilities: an x conversation is searched over two pages",
          "[integration][capabilities][x]") {
  const std::string bearer = "e2e-x-bearer-3d9a";
  const std::string search = "/2/tweets/search/recent";
  // One path serves, in order: the poll, then the conversation's two pages.
  Sandbox box({
      JsonRoute(search, XSearch({1}, 1)),
      JsonRoute(search, XSearch({5, 4, 1}, 1, "b26v89c19zqg8o3fpzbkk")),
      JsonRoute(search, XSearch({3, 2}, 1)),
  });
  WriteConfigWithSchedule(box, R"(
[[source]]
name = "x-nhs"
connector = "x"
url = "{{base}}"
query = "NHS -is:retweet"
bearer_token = "${E2E_X_BEARER}"
max_results = 10
interval = "1h"
)",
                          "conversations = [\"0s\"]\n");
  ProcessOptions env;
  env.env["E2E_X_BEARER"] = bearer;

  ProcessResult first = box.Earshot({"once"}, env);
  INFO(Describe(first));
  REQUIRE(first.exit_code == 0);
  CHECK(Contains(first.out, "1 new post(s)"));
  ProcessResult second = box.Earshot({"once"}, env);
  INFO(Describe(second));
  REQUIRE(second.exit_code == 0);
  CHECK(Contains(second.out, "4 new post(s)"));
  CHECK(Contains(second.out, "1 conversation(s) fetched (2 page(s))"));
  CheckNoSecrets(first, {bearer});
  CheckNoSecrets(second, {bearer});

  const auto requests = RequestsTo(box.server(), search);
  REQUIRE(requests.size() == 3);
  CHECK(Contains(requests[1].target, "query=conversation_id%3A" + Tweet(1)));
  CHECK_FALSE(Contains(requests[1].target, "next_token="));
  CHECK(Contains(requests[2].target, "query=conversation_id%3A" + Tweet(1)));
  CHECK(Contains(requests[2].target, "&next_token=b26v89c19zqg8o3fpzbkk"));
  for (const RecordedRequest& r : requests)
    CHECK(HeaderOf(r, "Authorization") == "Bearer " + bearer);

  auto store = box.OpenStore();
  CHECK(PostIds(*store, "x-nhs") ==
        std::vector<std::string>{Tweet(1), Tweet(2), Tweet(3), Tweet(4), Tweet(5)});
  auto reply = store->FindPost("x", Tweet(2));
  REQUIRE(reply.ok());
  REQUIRE(reply->has_value());
  CHECK((*reply)->post.reply_to == Tweet(1));
  CHECK((*reply)->post.conversation == Tweet(1));
  auto watch = store->FindWatch("x", Tweet(1));
  REQUIRE(watch.ok());
  REQUIRE(watch->has_value());
  CHECK((*watch)->fetches == 1);
  CHECK_FALSE((*watch)->next_fetch_at.has_value());
}

}  // namespace
}  // namespace earshot::integration
