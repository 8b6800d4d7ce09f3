// `earshot publish` as the built binary against the local fixture server
// playing Bluesky, Reddit, Discourse and X: a post is crawled with the
// platform's own connector (`earshot once`, so the stored post carries the
// reference the reply needs), then answered from a configured [[account]]
// whose secrets come from the environment. Each platform: the success
// answer gives exit 0 and the reply's URL; the request carries the
// platform's method, path, credentials and reply reference; the platform's
// refusal gives exit 1 with its own words; no secret is ever printed.
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "tests/integration/harness.h"
#include "tests/support/fixtures.h"

namespace earshot::integration {
namespace {

namespace json = boost::json;
using earshot::testing::Describe;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// What one platform's case needs: how to crawl a post, how to answer the
// reply, and what the reply request must carry.
struct Platform {
  std::string name;
  std::string config;  // [[source]] and [[account]] "reply"
  std::map<std::string, std::string> env;
  std::vector<std::string> secrets;
  std::vector<FixtureRoute> crawl;
  std::string post;  // PLATFORM:UID of the crawled post
  std::vector<FixtureRoute> published;
  std::string reply_target;  // the request that publishes
  std::string reply_url;     // printed on success ("{{base}}" replaced)
  std::function<void(const RecordedRequest& reply, const std::vector<RecordedRequest>& all)>
      check_request;
  std::vector<FixtureRoute> refused;
  std::string refusal;  // the platform's words, on stderr
};

constexpr char kBody[] = "Sorry about the wait & thank you for telling us.";
constexpr char kBodyForm[] = "Sorry%20about%20the%20wait%20%26%20thank%20you%20for%20telling%20us.";

// ------------------------------------------------------------------ Bluesky

const std::string kBskyAccessJwt =
    "eyJ0eXAiOiJhdCtqd3QiLCJhbGciOiJFUzI1NksifQ."
    "eyJzY29wZSI6ImNvbS5hdHByb3RvLmFwcFBhc3MiLCJzdWIiOiJkaWQ6cGxjOmUyZXRydXN0MDAwMSIsImlhdCI6MTc5"
    "MDAwMDAwMCwiZXhwIjo0MTAyNDQ0ODAwLCJhdWQiOiJkaWQ6d2ViOnBkcy5leGFtcGxlIn0."
    "c2lnbmF0dXJlLXB1Ymxpc2g";
const std::string kBskyRefreshJwt =
    "eyJ0eXAiOiJyZWZyZXNoK2p3dCIsImFsZyI6IkVTMjU2SyJ9."
    "eyJzY29wZSI6ImNvbS5hdHByb3RvLnJlZnJlc2giLCJzdWIiOiJkaWQ6cGxjOmUyZXRydXN0MDAwMSIsImlhdCI6MTc5"
    "MDAwMDAwMCwiZXhwIjo0MTAyNDQ0ODAwLCJqdGkiOiJwdWJsaXNoLXJlZnJlc2gifQ."
    "c2lnbmF0dXJlLXJlZnJlc2gtcHVi";
constexpr char kBskyPassword[] = "pqrs-tuvw-xyza-bcde";
constexpr char kBskyDid[] = "did:plc:e2etrust0001";
constexpr char kBskyPostUri[] = "at://did:plc:e2epatient0001/app.bsky.feed.post/3e2epost0001";
constexpr char kBskyPostCid[] = "bafyreie2epost1001";

std::string BskySession() {
  return json::serialize(json::object{{"did", kBskyDid},
                                      {"handle", "riverside-nhs.bsky.social"},
                                      {"accessJwt", kBskyAccessJwt},
                                      {"refreshJwt", kBskyRefreshJwt},
                                      {"active", true}});
}

std::string BskySearch() {
  return json::serialize(json::object{
      {"posts",
       json::array{json::object{
           {"uri", kBskyPostUri},
           {"cid", kBskyPostCid},
           {"author", json::object{{"did", "did:plc:e2epatient0001"}, {"handle", "patient1.bsky"}}},
           {"record", json::object{{"$type", "app.bsky.feed.post"},
                                   {"text", "Waited five hours in A&E at the Northern General."},
                                   {"createdAt", "2026-11-21T09:01:00.000Z"}}},
           {"indexedAt", "2026-11-21T09:01:00.000Z"},
       }}}});
}

Platform Bluesky() {
  Platform p;
  p.name = "bluesky";
  p.config = R"(
[[source]]
name = "bsky"
connector = "bluesky"
url = "{{base}}"
query = "nhs"
identifier = "riverside-nhs.bsky.social"
app_password = "${E2E_BSKY_APP_PASSWORD}"
interval = "1m"

[[account]]
name = "reply"
org = "RHQ"
connector = "bluesky"
url = "{{base}}"
identifier = "riverside-nhs.bsky.social"
app_password = "${E2E_BSKY_APP_PASSWORD}"
)";
  // The account has no `query`: required keys are about reading, and an
  // account only publishes.
  p.env["E2E_BSKY_APP_PASSWORD"] = kBskyPassword;
  p.secrets = {kBskyPassword, kBskyAccessJwt, kBskyRefreshJwt, "c2lnbmF0dXJlLXB1Ymxpc2g"};
  const std::string session = "/xrpc/com.atproto.server.createSession";
  p.crawl = {JsonRoute(session, BskySession()),
             JsonRoute("/xrpc/app.bsky.feed.searchPosts", BskySearch())};
  p.post = std::string("bluesky:") + kBskyPostUri;
  p.reply_target = "/xrpc/com.atproto.repo.createRecord";
  // Modelled on tests/fixtures/bluesky/create_record.json.
  p.published = {
      JsonRoute(session, BskySession()),
      JsonRoute(p.reply_target,
                R"({"uri":"at://did:plc:e2etrust0001/app.bsky.feed.post/3mreply000012",)"
                R"("cid":"bafyreig10101010101010101010101010101010101010101010101010aa",)"
                R"("commit":{"cid":"bafyreicommitccc","rev":"3mrev00000012"},)"
                R"("validationStatus":"valid"})")};
  p.reply_url = "https://bsky.app/profile/did:plc:e2etrust0001/post/3mreply000012";
  p.check_request = [](const RecordedRequest& reply, const std::vector<RecordedRequest>& all) {
    REQUIRE(all.size() == 2);
    CHECK(all[0].method == "POST");
    CHECK(all[0].target == "/xrpc/com.atproto.server.createSession");
    CHECK(json::parse(all[0].body).at("password").as_string() == kBskyPassword);
    CHECK(HeaderOf(reply, "Authorization") == "Bearer " + kBskyAccessJwt);
    const json::value sent = json::parse(reply.body);
    CHECK(sent.at("repo").as_string() == kBskyDid);
    CHECK(sent.at("collection").as_string() == "app.bsky.feed.post");
    const json::value& record = sent.at("record");
    CHECK(record.at("text").as_string() == kBody);
    for (const char* ref : {"parent", "root"}) {
      INFO(ref);
      CHECK(record.at("reply").at(ref).at("uri").as_string() == kBskyPostUri);
      CHECK(record.at("reply").at(ref).at("cid").as_string() == kBskyPostCid);
    }
  };
  p.refused = {JsonRoute(session, BskySession()),
               JsonRoute(p.reply_target,
                         R"({"error":"InvalidRequest","message":"Could not locate record"})", 400)};
  p.refusal = "InvalidRequest: Could not locate record";
  return p;
}

// ------------------------------------------------------------------- Reddit

constexpr char kRedditSecret[] = "e2e-client-secret-71c0";
constexpr char kRedditPassword[] = "e2e-reddit-password-55aa";
constexpr char kRedditAppToken[] = "e2e-app-token-0b1e";
constexpr char kRedditUserToken[] = "e2e-user-token-9d2c";
constexpr char kRedditAgent[] = "server:earshot-e2e:1.0 (by /u/riverside_nhs)";
constexpr char kRedditName[] = "t3_1h0b000";

std::string RedditToken(const std::string& token) {
  return json::serialize(json::object{
      {"access_token", token}, {"token_type", "bearer"}, {"expires_in", 86400}, {"scope", "*"}});
}

std::string RedditListing() {
  return json::serialize(json::object{
      {"kind", "Listing"},
      {"data",
       json::object{{"children",
                     json::array{json::object{
                         {"kind", "t3"},
                         {"data",
                          json::object{
                              {"name", kRedditName},
                              {"id", "1h0b000"},
                              {"title", "Discharge lounge at Example General"},
                              {"selftext", "Four hours waiting for medication to go home."},
                              {"selftext_html", nullptr},
                              {"author", "carer_1"},
                              {"created_utc", 1790000001.0},
                              {"permalink", "/r/NHS/comments/1h0b000/discharge_lounge/"},
                              {"url", "https://www.reddit.com/r/NHS/comments/1h0b000/discharge/"},
                              {"is_self", true},
                              {"removed_by_category", nullptr},
                          }}}}},
                    {"after", nullptr},
                    {"before", nullptr}}},
  });
}

Platform Reddit() {
  Platform p;
  p.name = "reddit";
  p.config = std::string(R"(
[[source]]
name = "reddit-nhs"
connector = "reddit"
url = "{{base}}"
token_url = "{{base}}/api/v1/access_token"
client_id = "e2e-app"
client_secret = "${E2E_REDDIT_SECRET}"
user_agent = ")") +
             kRedditAgent +
             R"("
subreddit = "nhs"
interval = "1m"

[[account]]
name = "reply"
org = "RHQ"
connector = "reddit"
url = "{{base}}"
token_url = "{{base}}/api/v1/access_token"
client_id = "e2e-app"
client_secret = "${E2E_REDDIT_SECRET}"
username = "riverside_nhs"
password = "${E2E_REDDIT_PASSWORD}"
user_agent = ")" +
             kRedditAgent + "\"\n";
  p.env["E2E_REDDIT_SECRET"] = kRedditSecret;
  p.env["E2E_REDDIT_PASSWORD"] = kRedditPassword;
  p.secrets = {kRedditSecret, kRedditPassword, kRedditAppToken, kRedditUserToken};
  p.crawl = {JsonRoute("/api/v1/access_token", RedditToken(kRedditAppToken)),
             JsonRoute("/r/nhs/new.json", RedditListing())};
  p.post = std::string("reddit:") + kRedditName;
  p.reply_target = "/api/comment?raw_json=1";
  p.published = {JsonRoute("/api/v1/access_token", RedditToken(kRedditUserToken)),
                 JsonRoute("/api/comment", earshot::testing::ReadFile(earshot::testing::OwnFixture(
                                               "reddit/comment_reply_ok.json")))};
  p.reply_url =
      "https://www.reddit.com/r/NHS/comments/1h0b000/discharge_lounge_at_example_general/k0000z/";
  p.check_request = [](const RecordedRequest& reply, const std::vector<RecordedRequest>& all) {
    REQUIRE(all.size() == 2);
    CHECK(all[0].target == "/api/v1/access_token");
    CHECK(Contains(all[0].body, "grant_type=password"));
    CHECK(Contains(all[0].body, "username=riverside_nhs"));
    CHECK(HeaderOf(reply, "Authorization") == std::string("bearer ") + kRedditUserToken);
    CHECK(HeaderOf(reply, "User-Agent") == kRedditAgent);
    CHECK(Contains(reply.body, std::string("thing_id=") + kRedditName));
    CHECK(Contains(reply.body, std::string("text=") + kBodyForm));
  };
  p.refused = {JsonRoute("/api/v1/access_token", RedditToken(kRedditUserToken)),
               JsonRoute("/api/comment", earshot::testing::ReadFile(earshot::testing::OwnFixture(
                                             "reddit/comment_reply_locked.json")))};
  p.refusal = "HTTP 200: THREAD_LOCKED: Comments are locked.";
  return p;
}

// ---------------------------------------------------------------- Discourse

constexpr char kDiscourseKey[] = "e2e-discourse-key-4a7b0c";

std::string DiscourseLatest() {
  return json::serialize(json::object{
      {"latest_posts",
       json::array{json::object{
           {"id", 500},
           {"name", "Member 500"},
           {"username", "member500"},
           {"created_at", "2025-06-01T09:00:00.000Z"},
           {"cooked", "<p>Waited three hours at the Northern General outpatients.</p>"},
           {"post_number", 1},
           {"post_type", 1},
           {"topic_id", 90},
           {"topic_slug", "outpatients"},
           {"topic_title", "Outpatients at the Northern General"},
           {"reply_to_post_number", nullptr},
           {"hidden", false},
           {"deleted_at", nullptr},
           {"user_deleted", false},
       }}}});
}

Platform Discourse() {
  Platform p;
  p.name = "discourse";
  p.config = R"(
[[source]]
name = "forum"
connector = "discourse"
url = "{{base}}/community"
interval = "1h"

[[account]]
name = "reply"
org = "RHQ"
connector = "discourse"
url = "{{base}}/community"
api_key = "${E2E_DISCOURSE_KEY}"
api_username = "riverside_nhs"
)";
  p.env["E2E_DISCOURSE_KEY"] = kDiscourseKey;
  p.secrets = {kDiscourseKey};
  p.crawl = {JsonRoute("/community/posts.json", DiscourseLatest())};
  p.post = "discourse:127.0.0.1/p/500";
  p.reply_target = "/community/posts.json";
  // Modelled on tests/fixtures/discourse/reply_created.json.
  p.published = {JsonRoute(
      p.reply_target,
      R"({"id":1234,"name":"Riverside Trust","username":"riverside_nhs",)"
      R"("created_at":"2026-03-02T11:00:00.000Z","cooked":"<p>Sorry about the wait</p>",)"
      R"("post_number":2,"post_type":1,"reply_to_post_number":null,"topic_id":90,)"
      R"("topic_slug":"outpatients","hidden":false,"deleted_at":null,"user_deleted":false})")};
  p.reply_url = "{{base}}/community/t/outpatients/90/2";
  p.check_request = [](const RecordedRequest& reply, const std::vector<RecordedRequest>& all) {
    REQUIRE(all.size() == 1);
    CHECK(HeaderOf(reply, "Api-Key") == kDiscourseKey);
    CHECK(HeaderOf(reply, "Api-Username") == "riverside_nhs");
    CHECK(HeaderOf(reply, "Content-Type") == "application/x-www-form-urlencoded");
    // Answering the opening post answers the topic: no reply_to_post_number.
    CHECK(reply.body == std::string("topic_id=90&raw=") + kBodyForm);
  };
  p.refused = {JsonRoute(p.reply_target,
                         earshot::testing::ReadFile(
                             earshot::testing::OwnFixture("discourse/error_invalid_access.json")),
                         403)};
  p.refusal = "The API username or key is invalid.";
  return p;
}

// ------------------------------------------------------------------------ X

constexpr char kXBearer[] = "e2e-x-bearer-6e1f";
constexpr char kXAccess[] = "e2e-x-user-access-token-2b8d";
constexpr char kTweet[] = "1870000000000001001";
constexpr char kReplyTweet[] = "1870000000000009001";

std::string XSearch() {
  return json::serialize(json::object{
      {"data", json::array{json::object{
                   {"id", kTweet},
                   {"author_id", "1600000000000001001"},
                   {"conversation_id", kTweet},
                   {"created_at", "2025-06-01T08:01:00.000Z"},
                   {"lang", "en"},
                   {"edit_history_tweet_ids", json::array{kTweet}},
                   {"text", "Waited four hours at the Northern General A&amp;E tonight. #NHS"},
               }}},
      {"includes", json::object{{"users", json::array{json::object{{"id", "1600000000000001001"},
                                                                   {"username", "tweeter001"},
                                                                   {"name", "Tweeter 001"}}}}}},
      {"meta", json::object{{"result_count", 1}, {"newest_id", kTweet}, {"oldest_id", kTweet}}},
  });
}

Platform X() {
  Platform p;
  p.name = "x";
  p.config = R"(
[[source]]
name = "x-nhs"
connector = "x"
url = "{{base}}"
query = "NHS -is:retweet"
bearer_token = "${E2E_X_BEARER}"
max_results = 10
interval = "1h"

[[account]]
name = "reply"
org = "RHQ"
connector = "x"
url = "{{base}}"
access_token = "${E2E_X_ACCESS}"
)";
  p.env["E2E_X_BEARER"] = kXBearer;
  p.env["E2E_X_ACCESS"] = kXAccess;
  p.secrets = {kXBearer, kXAccess};
  p.crawl = {JsonRoute("/2/tweets/search/recent", XSearch())};
  p.post = std::string("x:") + kTweet;
  p.reply_target = "/2/tweets";
  p.published = {JsonRoute(
      p.reply_target,
      json::serialize(json::object{{"data", json::object{{"id", kReplyTweet}, {"text", kBody}}}}),
      201)};
  p.reply_url = std::string("https://x.com/i/web/status/") + kReplyTweet;
  p.check_request = [](const RecordedRequest& reply, const std::vector<RecordedRequest>& all) {
    REQUIRE(all.size() == 1);
    CHECK(HeaderOf(reply, "Authorization") == std::string("Bearer ") + kXAccess);
    CHECK(Contains(HeaderOf(reply, "Content-Type"), "application/json"));
    const json::value sent = json::parse(reply.body);
    CHECK(sent.at("text").as_string() == kBody);
    CHECK(sent.at("reply").at("in_reply_to_tweet_id").as_string() == kTweet);
  };
  p.refused = {
      JsonRoute(p.reply_target,
                R"({"detail":"You are not allowed to create a Tweet with duplicate content.",)"
                R"("type":"about:blank","title":"Forbidden","status":403})",
                403)};
  p.refusal = "You are not allowed to create a Tweet with duplicate content.";
  return p;
}

// ---------------------------------------------------------------------------

// The sandbox's configuration with `conversations = []`: only the poll runs.
void WriteConfig(Sandbox& box, const std::string& config) {
  box.WriteConfig(config);
  std::string text = earshot::testing::ReadFile(box.config());
  const std::string table = "[schedule]\n";
  REQUIRE(Contains(text, table));
  text.insert(text.find(table) + table.size(), "conversations = []\n");
  earshot::testing::WriteFile(box.config(), text);
}

void CheckNoSecrets(const ProcessResult& run, const std::vector<std::string>& secrets) {
  for (const std::string& secret : secrets) {
    INFO("secret " << secret);
    CHECK_FALSE(Contains(run.out, secret));
    CHECK_FALSE(Contains(run.err, secret));
  }
}

std::string WithBase(std::string text, const std::string& base) {
  const std::string marker = "{{base}}";
  for (size_t at = text.find(marker); at != std::string::npos; at = text.find(marker, at)) {
    text.replace(at, marker.size(), base);
    at += base.size();
  }
  return text;
}

TEST_CASE("publish: a reply on bluesky, reddit, discourse and x, and each platform's refusal",
          "[integration][publish_platforms]") {
  const Platform p = GENERATE(Bluesky(), Reddit(), Discourse(), X());
  INFO("platform " << p.name);
  Sandbox box(p.crawl);
  WriteConfig(box, p.config);
  ProcessOptions env;
  for (const auto& [name, value] : p.env) env.env[name] = value;

  ProcessResult crawl = box.Earshot({"-v", "once"}, env);
  INFO(Describe(crawl));
  REQUIRE(crawl.exit_code == 0);
  CHECK(Contains(crawl.out, "1 new post(s)"));
  CheckNoSecrets(crawl, p.secrets);
  ProcessResult listed = box.Earshot({"posts"}, env);
  INFO(Describe(listed));
  REQUIRE(Contains(listed.out, p.post));  // what --post takes

  const size_t crawled = box.server().Requests().size();
  const std::vector<std::string> publish = {"publish", "--account", "reply", "--post",
                                            p.post,    "--body",    kBody};
  auto sent_since = [&](size_t first) {
    const std::vector<RecordedRequest> all = box.server().Requests();
    return std::vector<RecordedRequest>(all.begin() + static_cast<std::ptrdiff_t>(first),
                                        all.end());
  };

  SECTION("published: exit 0, the reply's URL, the platform's request") {
    box.server().SetRoutes(p.published);
    ProcessResult published = box.Earshot(publish, env);
    INFO(Describe(published));
    REQUIRE(published.exit_code == 0);
    CHECK(Lines(published.out) == std::vector<std::string>{WithBase(p.reply_url, box.base())});
    CheckNoSecrets(published, p.secrets);
    const std::vector<RecordedRequest> sent = sent_since(crawled);
    REQUIRE_FALSE(sent.empty());
    const RecordedRequest& reply = sent.back();
    CHECK(reply.method == "POST");
    CHECK(reply.target == p.reply_target);
    p.check_request(reply, sent);
  }
  SECTION("refused: exit 1 with the platform's words") {
    box.server().SetRoutes(p.refused);
    ProcessResult refused = box.Earshot(publish, env);
    INFO(Describe(refused));
    CHECK(refused.exit_code == 1);
    CHECK(refused.out.empty());
    CHECK(Contains(refused.err, p.refusal));
    CHECK_FALSE(Contains(refused.err, "may have been"));
    CheckNoSecrets(refused, p.secrets);
    const std::vector<RecordedRequest> sent = sent_since(crawled);
    REQUIRE_FALSE(sent.empty());
    CHECK(sent.back().target == p.reply_target);  // sent once, not retried
  }
}

}  // namespace
}  // namespace earshot::integration
