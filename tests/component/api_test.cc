// The JSON API in-process: ApiServer on 127.0.0.1:0 over a real SQLite file,
// threads made by Store::Apply() from routed posts, spoken to with a plain
// synchronous Boost.Beast client. Covers authentication, the access matrix
// (roles x own/other organisation x endpoint), filters and pagination,
// request errors and limits, and hostile text round-tripping as data.
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "crawler/core/text.h"
#include "crawler/core/time_format.h"
#include "crawler/server/api_routes.h"
#include "crawler/server/api_server.h"
#include "crawler/store/sqlite/sqlite_store.h"
#include "crawler/threads/tokens.h"
#include "crawler/threads/tone.h"
#include "crawler/threads/workflow.h"
#include "tests/support/process.h"

namespace earshot {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

constexpr int64_t kT0 = 1'790'000'000'000;
constexpr int64_t kHour = 3'600'000;
const std::string kHostile = "<script>alert(\"pwned\")</script> & 'quotes' \\ \u00e9 </p>";

TimePoint At(int64_t offset_ms) { return FromUnixMillis(kT0 + offset_ms); }

struct Answer {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
  json::value Json() const {
    boost::system::error_code ec;
    json::value value = json::parse(body, ec);
    INFO(body);
    REQUIRE(!ec);
    return value;
  }
};

Answer Collect(const http::response<http::string_body>& response) {
  Answer answer;
  answer.status = static_cast<int>(response.result_int());
  for (const auto& field : response) {
    answer.headers[std::string(field.name_string())] = std::string(field.value());
  }
  answer.body = response.body();
  return answer;
}

// One request on a fresh connection.
Answer Call(uint16_t port, http::verb method, const std::string& target, const std::string& token,
            const std::string& body = "", const std::string& authorization = "") {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), port));
  http::request<http::string_body> request{method, target, 11};
  request.set(http::field::host, "127.0.0.1");
  if (!token.empty()) request.set(http::field::authorization, "Bearer " + token);
  if (!authorization.empty()) request.set(http::field::authorization, authorization);
  if (!body.empty()) {
    request.set(http::field::content_type, "application/json");
    request.body() = body;
  }
  request.prepare_payload();
  http::write(stream, request);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream, buffer, response);
  return Collect(response);
}

Post MakePost(const std::string& id, const std::string& text, int64_t created,
              const std::vector<std::string>& orgs, const std::string& topic = "",
              const std::string& sentiment = "", const std::string& platform = "mastodon") {
  Post post;
  post.platform = platform;
  post.id = id;
  post.uid = "https://example.social/statuses/" + id;
  post.url = post.uid;
  post.author_handle = "@alice@example.social";
  post.text = text;
  post.created_at = At(created);
  post.fetched_at = At(created + 1000);
  post.content_hash = Sha256Hex(text);
  for (const std::string& org : orgs) {
    Decision d;
    d.kind = Decision::Kind::kOrg;
    d.value = org;
    d.rule = "orgs-name-" + org;
    post.decisions.push_back(d);
  }
  if (!topic.empty()) {
    Decision d;
    d.kind = Decision::Kind::kTopic;
    d.value = topic;
    d.detail = "Access";
    d.rule = "topics-" + topic;
    post.decisions.push_back(d);
  }
  if (!sentiment.empty()) {
    Decision d;
    d.kind = Decision::Kind::kSentiment;
    d.value = sentiment;
    d.rule = "sentiment";
    post.decisions.push_back(d);
  }
  return post;
}

// A store with threads and users, served on a free port.
class ApiFixture {
 public:
  ApiFixture() : clock_(At(10 * kHour)) {
    // Where the organisations sit (the gazetteer, in `earshot serve`).
    places_["RHQ"] = OrgPlace{"Y63", "QHM", "Riverside Hospitals NHS Foundation Trust"};
    places_["RXX"] = OrgPlace{"Y61", "QXX", "Northgate NHS Trust"};
    auto store = SqliteStore::Open((dir_ / "api.db").string());
    REQUIRE(store.ok());
    store_ = std::move(store).value();
    SourceSpec spec;
    spec.name = "masto";
    spec.connector = "mastodon";
    spec.url = "https://example.social/api/v1/timelines/tag/nhs";
    REQUIRE(store_->UpsertSource(spec).ok());

    // Oldest first: ids grow with the order of Apply.
    a_ = Thread(
        MakePost("a", "Waited nine hours at Riverside A&E", 0, {"RHQ"}, "waiting", "negative"));
    b_ = Thread(MakePost("b", "Lovely midwives at Northgate", kHour, {"RXX"}, "staff", "positive"));
    ab_ = Thread(MakePost("ab", "Transferred from Riverside to Northgate, lost my notes", 2 * kHour,
                          {"RHQ", "RXX"}, "records", "negative"));
    hostile_ = Thread(MakePost("h", kHostile, 3 * kHour, {"RHQ"}));
    feed_ = Thread(MakePost("f", "Blog: parking at Riverside", 4 * kHour, {"RHQ"}, "parking",
                            "neutral", "feed"));
    for (int i = 0; i < 5; ++i) {
      extra_.push_back(
          Thread(MakePost("x" + std::to_string(i), "Riverside story number " + std::to_string(i),
                          (5 + i) * kHour, {"RHQ"})));
    }

    admin_ = AddUser("ann", Role::kAdmin, {});
    rita_ = AddUser("rita", Role::kResponder, {"RHQ"});
    bob_ = AddUser("bob", Role::kResponder, {"RXX"});
    vera_ = AddUser("vera", Role::kViewer, {"RHQ"});
    rhoda_ = AddUser("rhoda", Role::kViewer, {}, {"Y63"});  // RHQ's region
    ivan_ = AddUser("ivan", Role::kViewer, {}, {"QXX"});    // RXX's ICB
    revoked_ = AddUser("gone", Role::kAdmin, {});
    REQUIRE(store_->RevokeUser("gone", "test", clock_.Now()).ok());

    // What RXX keeps to itself.
    Workflow workflow(*store_, clock_, places_);
    User bob = UserNamed("bob");
    REQUIRE(workflow.AddNote(bob, b_, "RXX", "RXX-ONLY note on b").ok());
    REQUIRE(workflow.AddNote(bob, ab_, "RXX", "RXX-ONLY note on ab").ok());
    REQUIRE(workflow.Assign(bob, ab_, "RXX", "bob").ok());
    REQUIRE(workflow.CreateDraft(bob, ab_, "RXX", 0, "RXX-ONLY draft").ok());
    REQUIRE(workflow.SetState(bob, b_, "RXX", OrgState::kDismissed, "RXX-ONLY reason").ok());

    routes_ = std::make_unique<ApiRoutes>(*store_, *store_, clock_, places_);
    ApiServerOptions options;
    options.port = 0;
    auto server = ApiServer::Start(*routes_, options);
    REQUIRE(server.ok());
    server_ = std::move(server).value();
  }

  uint16_t port() const { return server_->port(); }
  Answer Get(const std::string& target, const std::string& token) {
    return Call(port(), http::verb::get, target, token);
  }
  Answer Post(const std::string& target, const std::string& token, const std::string& body) {
    return Call(port(), http::verb::post, target, token, body);
  }

  int64_t a_ = 0, b_ = 0, ab_ = 0, hostile_ = 0, feed_ = 0;
  std::vector<int64_t> extra_;
  std::string admin_, rita_, bob_, vera_, rhoda_, ivan_, revoked_;

  SqliteStore& store() { return *store_; }
  FakeClock& clock() { return clock_; }
  const OrgPlaces& places() const { return places_; }
  ApiRoutes& routes() { return *routes_; }

  User UserNamed(const std::string& name) {
    auto users = store_->ListUsers();
    REQUIRE(users.ok());
    for (const User& user : *users) {
      if (user.name == name) return user;
    }
    FAIL("no user " << name);
    return {};
  }

 private:
  int64_t Thread(const earshot::Post& post) {
    SourceWrite write;
    write.source = "masto";
    write.posts.push_back(post);
    auto applied = store_->Apply({write});
    INFO(applied.status().ToString());
    REQUIRE(applied.ok());
    auto found = store_->FindPost(post.platform, post.uid);
    REQUIRE(found.ok());
    REQUIRE(found->has_value());
    auto thread = store_->ThreadOfPost((*found)->row_id);
    REQUIRE(thread.ok());
    REQUIRE(thread->has_value());
    return **thread;
  }

  std::string AddUser(const std::string& name, Role role, std::vector<std::string> orgs,
                      std::vector<std::string> regions = {}) {
    auto token = NewBearerToken();
    REQUIRE(token.ok());
    User user;
    user.name = name;
    user.role = role;
    user.orgs = std::move(orgs);
    user.regions = std::move(regions);
    REQUIRE(store_->AddUser(user, TokenHash(*token), "test", clock_.Now()).ok());
    return *token;
  }

  testing::TempDir dir_;
  FakeClock clock_;
  OrgPlaces places_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<ApiRoutes> routes_;
  std::unique_ptr<ApiServer> server_;
};

std::set<int64_t> ThreadIds(const json::value& body) {
  std::set<int64_t> ids;
  for (const json::value& t : body.at("threads").as_array()) ids.insert(t.at("id").as_int64());
  return ids;
}

std::string Path(int64_t thread, const std::string& rest = "") {
  return "/api/threads/" + std::to_string(thread) + rest;
}

void RequireJsonHeaders(const Answer& answer) {
  CHECK(answer.headers.at("Content-Type") == "application/json; charset=utf-8");
  CHECK(answer.headers.at("Cache-Control") == "no-store");
  CHECK(answer.headers.at("X-Content-Type-Options") == "nosniff");
}

TEST_CASE("api: requests without a valid bearer token are 401", "[api]") {
  ApiFixture api;
  for (const std::string target : {"/api/threads", "/api/orgs", "/api/sources", "/api/nowhere"}) {
    INFO(target);
    Answer none = api.Get(target, "");
    CHECK(none.status == 401);
    CHECK(none.headers["WWW-Authenticate"].rfind("Bearer", 0) == 0);
    RequireJsonHeaders(none);
    CHECK(none.Json().at("error").at("status").as_int64() == 401);
  }
  CHECK(Call(api.port(), http::verb::get, "/api/threads", "", "", "Basic YW5uOnB3").status == 401);
  CHECK(api.Get("/api/threads", "not-a-token").status == 401);
  CHECK(api.Get("/api/threads", api.revoked_).status == 401);
  CHECK(api.Post(Path(api.a_, "/notes"), "", R"({"org":"RHQ","body":"x"})").status == 401);
  // A token works whatever the scheme's case.
  CHECK(Call(api.port(), http::verb::get, "/api/threads", "", "", "bearer " + api.admin_).status ==
        200);
}

TEST_CASE("api: the access matrix", "[api]") {
  ApiFixture api;
  struct Who {
    std::string name;
    std::string token;
  };
  const Who ann{"admin", api.admin_}, rita{"responder RHQ", api.rita_},
      bob{"responder RXX", api.bob_}, vera{"viewer RHQ", api.vera_},
      rhoda{"viewer of RHQ's region", api.rhoda_}, ivan{"viewer of RXX's ICB", api.ivan_};
  struct Case {
    const Who* who;
    std::string method;
    std::string target;
    std::string body;
    int status;
  };
  const std::string rhq_note = R"({"org":"RHQ","body":"note from the matrix"})";
  const std::string rxx_note = R"({"org":"RXX","body":"note from the matrix"})";
  const std::string rhq_close = R"({"org":"RHQ","status":"closed"})";
  const std::string rxx_close = R"({"org":"RXX","status":"closed"})";
  const std::string rhq_assign = R"({"org":"RHQ","user":"rita"})";
  const std::string rxx_assign = R"({"org":"RXX","user":"bob"})";
  const std::string rhq_reply = R"({"org":"RHQ","body":"reply from the matrix"})";
  const std::string rxx_reply = R"({"org":"RXX","body":"reply from the matrix"})";
  // A draft of each organisation to approve: RHQ's by rita, RXX's by bob.
  Workflow workflow(api.store(), api.clock(), api.places());
  auto rhq_draft = workflow.CreateDraft(api.UserNamed("rita"), api.a_, "RHQ", 0, "RHQ draft");
  REQUIRE(rhq_draft.ok());
  auto rxx_draft = workflow.CreateDraft(api.UserNamed("bob"), api.b_, "RXX", 0, "RXX draft");
  REQUIRE(rxx_draft.ok());
  const std::string approve_rhq = "/api/replies/" + std::to_string(*rhq_draft) + "/approve";
  const std::string approve_rxx = "/api/replies/" + std::to_string(*rxx_draft) + "/approve";
  const std::vector<Case> cases = {
      // Reading a thread: own organisation 200, another's 404.
      {&ann, "GET", Path(api.a_), "", 200},
      {&rita, "GET", Path(api.a_), "", 200},
      {&bob, "GET", Path(api.a_), "", 404},
      {&vera, "GET", Path(api.a_), "", 200},
      {&ann, "GET", Path(api.b_), "", 200},
      {&rita, "GET", Path(api.b_), "", 404},
      {&bob, "GET", Path(api.b_), "", 200},
      {&vera, "GET", Path(api.b_), "", 404},
      {&rita, "GET", Path(api.ab_), "", 200},
      {&bob, "GET", Path(api.ab_), "", 200},
      {&vera, "GET", Path(api.ab_), "", 200},
      // Notes.
      {&ann, "POST", Path(api.a_, "/notes"), rhq_note, 201},
      {&rita, "POST", Path(api.a_, "/notes"), rhq_note, 201},
      {&bob, "POST", Path(api.a_, "/notes"), rhq_note, 404},
      {&vera, "POST", Path(api.a_, "/notes"), rhq_note, 403},
      {&rita, "POST", Path(api.b_, "/notes"), rxx_note, 404},
      {&bob, "POST", Path(api.b_, "/notes"), rxx_note, 201},
      {&vera, "POST", Path(api.b_, "/notes"), rxx_note, 404},
      {&rita, "POST", Path(api.ab_, "/notes"), rxx_note, 404},
      {&vera, "POST", Path(api.ab_, "/notes"), rxx_note, 404},
      {&bob, "POST", Path(api.ab_, "/notes"), rhq_note, 404},
      // Status.
      {&vera, "POST", Path(api.a_, "/status"), rhq_close, 403},
      {&bob, "POST", Path(api.a_, "/status"), rhq_close, 404},
      {&rita, "POST", Path(api.ab_, "/status"), rxx_close, 404},
      {&rita, "POST", Path(api.a_, "/status"), rhq_close, 200},
      {&ann, "POST", Path(api.b_, "/status"), rxx_close, 200},
      // Assignment.
      {&vera, "POST", Path(api.a_, "/assign"), rhq_assign, 403},
      {&bob, "POST", Path(api.a_, "/assign"), rhq_assign, 404},
      {&rita, "POST", Path(api.ab_, "/assign"), rxx_assign, 404},
      {&rita, "POST", Path(api.a_, "/assign"), rhq_assign, 200},
      {&ann, "POST", Path(api.ab_, "/assign"), rxx_assign, 200},
      // A responder of RXX cannot be given RHQ's part.
      {&ann, "POST", Path(api.a_, "/assign"), R"({"org":"RHQ","user":"bob"})", 400},
      {&rita, "POST", Path(api.a_, "/assign"), R"({"org":"RHQ","user":"nobody"})", 400},
      // Orgs and sources.
      {&ann, "GET", "/api/orgs", "", 200},
      {&vera, "GET", "/api/orgs", "", 200},
      {&ann, "GET", "/api/sources", "", 200},
      {&rita, "GET", "/api/sources", "", 200},
      {&vera, "GET", "/api/sources", "", 403},
      {&bob, "GET", "/api/sources", "", 200},
      {&rhoda, "GET", "/api/sources", "", 403},
      {&ivan, "GET", "/api/sources", "", 403},
      // Who am I, and the listening summary: everyone, filtered.
      {&ann, "GET", "/api/me", "", 200},
      {&rita, "GET", "/api/me", "", 200},
      {&bob, "GET", "/api/me", "", 200},
      {&vera, "GET", "/api/me", "", 200},
      {&rhoda, "GET", "/api/me", "", 200},
      {&ivan, "GET", "/api/me", "", 200},
      {&ann, "GET", "/api/listening", "", 200},
      {&rita, "GET", "/api/listening", "", 200},
      {&bob, "GET", "/api/listening", "", 200},
      {&vera, "GET", "/api/listening", "", 200},
      {&rhoda, "GET", "/api/listening", "", 200},
      {&ivan, "GET", "/api/listening", "", 200},
      {&bob, "GET", "/api/orgs", "", 200},
      {&rhoda, "GET", "/api/orgs", "", 200},
      {&ivan, "GET", "/api/orgs", "", 200},
      // Viewers by region or ICB read the organisations there, and act nowhere.
      {&rhoda, "GET", Path(api.a_), "", 200},
      {&rhoda, "GET", Path(api.b_), "", 404},
      {&rhoda, "GET", Path(api.ab_), "", 200},
      {&ivan, "GET", Path(api.a_), "", 404},
      {&ivan, "GET", Path(api.b_), "", 200},
      {&ivan, "GET", Path(api.ab_), "", 200},
      {&rhoda, "POST", Path(api.a_, "/notes"), rhq_note, 403},
      {&rhoda, "POST", Path(api.b_, "/notes"), rxx_note, 404},
      {&rhoda, "POST", Path(api.ab_, "/notes"), rxx_note, 404},
      {&ivan, "POST", Path(api.b_, "/notes"), rxx_note, 403},
      {&ivan, "POST", Path(api.ab_, "/notes"), rhq_note, 404},
      {&rhoda, "POST", Path(api.a_, "/status"), rhq_close, 403},
      {&ivan, "POST", Path(api.a_, "/status"), rhq_close, 404},
      {&ivan, "POST", Path(api.ab_, "/status"), rxx_close, 403},
      {&rhoda, "POST", Path(api.a_, "/assign"), rhq_assign, 403},
      {&ivan, "POST", Path(api.ab_, "/assign"), rxx_assign, 403},
      {&ivan, "POST", Path(api.a_, "/assign"), rhq_assign, 404},
      // Drafting replies.
      {&vera, "POST", Path(api.a_, "/replies"), rhq_reply, 403},
      {&rhoda, "POST", Path(api.a_, "/replies"), rhq_reply, 403},
      {&ivan, "POST", Path(api.a_, "/replies"), rhq_reply, 404},
      {&ivan, "POST", Path(api.b_, "/replies"), rxx_reply, 403},
      {&rhoda, "POST", Path(api.b_, "/replies"), rxx_reply, 404},
      {&bob, "POST", Path(api.a_, "/replies"), rhq_reply, 404},
      {&bob, "POST", Path(api.ab_, "/replies"), rhq_reply, 404},
      {&rita, "POST", Path(api.ab_, "/replies"), rxx_reply, 404},
      {&rita, "POST", Path(api.a_, "/replies"), rhq_reply, 201},
      {&bob, "POST", Path(api.ab_, "/replies"), rxx_reply, 201},
      {&ann, "POST", Path(api.b_, "/replies"), rxx_reply, 201},
      // Approving: another organisation's reply is 404, a viewer's try 403,
      // one's own draft 403.
      {&bob, "POST", approve_rhq, "", 404},
      {&ivan, "POST", approve_rhq, "", 404},
      {&vera, "POST", approve_rhq, "", 403},
      {&rhoda, "POST", approve_rhq, "", 403},
      {&rita, "POST", approve_rhq, "", 403},
      {&rita, "POST", approve_rxx, "", 404},
      {&vera, "POST", approve_rxx, "", 404},
      {&rhoda, "POST", approve_rxx, "", 404},
      {&ivan, "POST", approve_rxx, "", 403},
      {&bob, "POST", approve_rxx, "", 403},
      {&ann, "POST", approve_rhq, "", 200},
      {&ann, "POST", approve_rxx, "", 200},
      // A thread that does not exist looks like one the user may not see.
      {&ann, "GET", Path(999999), "", 404},
      {&rita, "POST", Path(999999, "/notes"), rhq_note, 404},
      {&rita, "POST", Path(999999, "/replies"), rhq_reply, 404},
      {&rita, "POST", "/api/replies/999999/approve", "", 404},
  };
  for (const Case& c : cases) {
    INFO(c.who->name << " " << c.method << " " << c.target << " " << c.body);
    Answer answer = Call(api.port(), c.method == "GET" ? http::verb::get : http::verb::post,
                         c.target, c.who->token, c.body);
    INFO(answer.body);
    CHECK(answer.status == c.status);
    RequireJsonHeaders(answer);
    if (c.status >= 400) CHECK(answer.Json().at("error").at("status").as_int64() == c.status);
  }

  // Nothing RXX keeps to itself reaches anyone outside RXX, on any endpoint.
  const std::vector<std::string> every_read = {
      "/api/threads", "/api/threads?limit=200", "/api/orgs",  "/api/sources",
      "/api/me",      "/api/listening",         Path(api.a_), Path(api.ab_),
      Path(api.b_),   Path(api.hostile_)};
  for (const Who* who : {&rita, &vera, &rhoda}) {
    for (const std::string& target : every_read) {
      INFO(who->name << " " << target);
      Answer answer = api.Get(target, who->token);
      CHECK(answer.body.find("RXX") == std::string::npos);
      CHECK(answer.body.find("bob") == std::string::npos);
      CHECK(answer.body.find("Northgate NHS Trust") == std::string::npos);
    }
  }
  // And nothing of RHQ's reaches RXX's side.
  for (const Who* who : {&bob, &ivan}) {
    for (const std::string& target : every_read) {
      INFO(who->name << " " << target);
      Answer answer = api.Get(target, who->token);
      CHECK(answer.body.find("RHQ") == std::string::npos);
      CHECK(answer.body.find("rita") == std::string::npos);
      CHECK(answer.body.find("Riverside Hospitals") == std::string::npos);
    }
  }
  // Bob sees RXX's notes and assignment on the shared thread, not RHQ's.
  json::value shared = api.Get(Path(api.ab_), api.bob_).Json();
  const json::object& thread = shared.at("thread").as_object();
  REQUIRE(thread.at("orgs").as_array().size() == 1);
  CHECK(thread.at("orgs").at(0).at("org") == "RXX");
  CHECK(thread.at("orgs").at(0).at("assignee") == "bob");
  CHECK(thread.at("notes").as_array().size() == 1);
  CHECK(thread.at("notes").at(0).at("body") == "RXX-ONLY note on ab");
  for (const json::value& entry : thread.at("audit").as_array()) CHECK(entry.at("org") == "RXX");
  // The admin sees both.
  json::value all = api.Get(Path(api.ab_), api.admin_).Json();
  CHECK(all.at("thread").at("orgs").as_array().size() == 2);

  // Lists hold only what the user may read.
  CHECK(ThreadIds(api.Get("/api/threads?limit=200", api.rita_).Json()).count(api.b_) == 0);
  CHECK(ThreadIds(api.Get("/api/threads?limit=200", api.rita_).Json()).count(api.ab_) == 1);
  const std::set<int64_t> bobs = ThreadIds(api.Get("/api/threads?limit=200", api.bob_).Json());
  CHECK(bobs == std::set<int64_t>{api.b_, api.ab_});
  CHECK(ThreadIds(api.Get("/api/threads?org=RXX", api.rita_).Json()).empty());
  const json::value orgs = api.Get("/api/orgs", api.rita_).Json();
  REQUIRE(orgs.at("orgs").as_array().size() == 1);
  CHECK(orgs.at("orgs").at(0).at("org") == "RHQ");
  CHECK(orgs.at("orgs").at(0).at("can_act") == true);
  CHECK(api.Get("/api/orgs", api.vera_).Json().at("orgs").at(0).at("can_act") == false);
  const json::value rhodas = api.Get("/api/orgs", api.rhoda_).Json();
  REQUIRE(rhodas.at("orgs").as_array().size() == 1);
  CHECK(rhodas.at("orgs").at(0).at("org") == "RHQ");
  CHECK(ThreadIds(api.Get("/api/threads?limit=200", api.rhoda_).Json()) ==
        ThreadIds(api.Get("/api/threads?limit=200&org=RHQ", api.admin_).Json()));
  CHECK(ThreadIds(api.Get("/api/threads?limit=200", api.ivan_).Json()) == bobs);

  // Who am I: the scope, and where one may act.
  auto me = [&](const std::string& token) { return api.Get("/api/me", token).Json(); };
  const json::value ann_me = me(api.admin_);
  CHECK(ann_me.at("user").at("name") == "ann");
  CHECK(ann_me.at("user").at("role") == "admin");
  CHECK(ann_me.at("can_act") == json::array{"RHQ", "RXX"});
  CHECK(ann_me.at("can_act_everywhere") == true);
  const json::value rita_me = me(api.rita_);
  CHECK(rita_me.at("user").at("role") == "responder");
  CHECK(rita_me.at("user").at("orgs") == json::array{"RHQ"});
  CHECK(rita_me.at("user").at("regions") == json::array{});
  CHECK(rita_me.at("can_act") == json::array{"RHQ"});
  CHECK(rita_me.at("can_act_everywhere") == false);
  CHECK(me(api.vera_).at("can_act") == json::array{});
  const json::value rhoda_me = me(api.rhoda_);
  CHECK(rhoda_me.at("user").at("role") == "viewer");
  CHECK(rhoda_me.at("user").at("regions") == json::array{"Y63"});
  CHECK(rhoda_me.at("can_act") == json::array{});

  // The listening summary holds only readable organisations.
  auto listening_orgs = [&](const std::string& token) {
    std::vector<std::string> orgs;
    const json::value body = api.Get("/api/listening", token).Json();
    for (const json::value& o : body.at("orgs").as_array()) {
      orgs.emplace_back(o.at("org").as_string());
    }
    return orgs;
  };
  CHECK(listening_orgs(api.admin_) == std::vector<std::string>{"RHQ", "RXX"});
  CHECK(listening_orgs(api.rita_) == std::vector<std::string>{"RHQ"});
  CHECK(listening_orgs(api.vera_) == std::vector<std::string>{"RHQ"});
  CHECK(listening_orgs(api.rhoda_) == std::vector<std::string>{"RHQ"});
  CHECK(listening_orgs(api.bob_) == std::vector<std::string>{"RXX"});
  CHECK(listening_orgs(api.ivan_) == std::vector<std::string>{"RXX"});
}

TEST_CASE("api: the thread list's filters and keyset pagination", "[api]") {
  ApiFixture api;
  auto ids = [&](const std::string& query) {
    Answer answer = api.Get("/api/threads" + query, api.admin_);
    INFO(query << " " << answer.body);
    REQUIRE(answer.status == 200);
    return ThreadIds(answer.Json());
  };
  CHECK(ids("?org=RXX") == std::set<int64_t>{api.b_, api.ab_});
  CHECK(ids("?org=RXX&status=dismissed") == std::set<int64_t>{api.b_});
  CHECK(ids("?status=dismissed") == std::set<int64_t>{api.b_});
  CHECK(ids("?platform=feed") == std::set<int64_t>{api.feed_});
  CHECK(ids("?topic=records") == std::set<int64_t>{api.ab_});
  CHECK(ids("?topic=Access").size() == 4);  // a category matches its topics
  CHECK(ids("?sentiment=negative") == std::set<int64_t>{api.a_, api.ab_});
  CHECK(ids("?q=midwives") == std::set<int64_t>{api.b_});
  CHECK(ids("?q=riverside%20AND%20notes") == std::set<int64_t>{api.ab_});
  CHECK(ids("?criticality=safeguarding").empty());

  // The list item carries the thread's facts and its opening post.
  json::value list = api.Get("/api/threads?topic=records", api.admin_).Json();
  const json::object& item = list.at("threads").at(0).as_object();
  CHECK(item.at("sentiment") == "negative");
  CHECK(item.at("topics").at(0).at("topic") == "records");
  CHECK(item.at("orgs").as_array().size() == 2);
  CHECK(item.at("opening_post").at("text") ==
        "Transferred from Riverside to Northgate, lost my notes");
  CHECK(list.at("next").is_null());

  // Every thread once, newest first, pages of 3.
  std::vector<int64_t> walked;
  std::string next;
  int pages = 0;
  do {
    Answer answer =
        api.Get("/api/threads?org=RHQ&limit=3" + (next.empty() ? "" : "&next=" + next), api.rita_);
    REQUIRE(answer.status == 200);
    json::value body = answer.Json();
    for (const json::value& t : body.at("threads").as_array())
      walked.push_back(t.at("id").as_int64());
    next = body.at("next").is_null() ? "" : std::string(body.at("next").as_string());
    REQUIRE(++pages < 10);
  } while (!next.empty());
  CHECK(walked.size() == 9);  // a, ab, hostile, feed and five more
  CHECK(std::is_sorted(walked.rbegin(), walked.rend()));
  CHECK(std::set<int64_t>(walked.begin(), walked.end()).size() == walked.size());

  // Dates: threads opened in a window (opened_at is when earshot stored them).
  CHECK(ids("?from=2026-01-01T00:00:00Z").size() == 10);
  CHECK(ids("?to=2026-01-01T00:00:00Z").empty());

  for (const std::string bad : {"?status=lost", "?limit=0", "?limit=201", "?limit=x", "?next=12",
                                "?from=yesterday", "?colour=red"}) {
    INFO(bad);
    Answer answer = api.Get("/api/threads" + bad, api.admin_);
    CHECK(answer.status == 400);
    CHECK(!std::string(answer.Json().at("error").at("message").as_string()).empty());
  }
}

TEST_CASE("api: bad requests, unknown paths, wrong methods and limits", "[api]") {
  ApiFixture api;
  const std::string notes = Path(api.a_, "/notes");
  for (const std::string& body :
       {std::string("{not json"), std::string("[1,2]"), std::string(R"({"org":"RHQ"})"),
        std::string(R"({"org":"RHQ","body":42})"),
        std::string(R"({"org":"RHQ","body":"x","y":"z"})"),
        std::string(R"({"org":"RHQ","body":"   "})"), std::string("")}) {
    INFO(body);
    Answer answer = api.Post(notes, api.rita_, body);
    CHECK(answer.status == 400);
    CHECK(answer.Json().at("error").at("status").as_int64() == 400);
  }
  CHECK(api.Post(Path(api.a_, "/status"), api.rita_, R"({"org":"RHQ","status":"lost"})").status ==
        400);
  CHECK(api.Post(Path(api.a_, "/status"), api.rita_, R"({"org":"RHQ","status":"dismissed"})")
            .status == 400);
  CHECK(api.Post(Path(api.a_, "/status"), api.rita_,
                 R"({"org":"RHQ","status":"dismissed","reason":"spam"})")
            .status == 200);

  CHECK(api.Get("/api/nothing", api.admin_).status == 404);
  CHECK(api.Get("/api", api.admin_).status == 404);
  CHECK(api.Get("/api/threads/abc", api.admin_).status == 404);
  CHECK(api.Get(Path(api.a_, "/elsewhere"), api.admin_).status == 404);

  Answer wrong = Call(api.port(), http::verb::delete_, "/api/threads", api.admin_);
  CHECK(wrong.status == 405);
  CHECK(wrong.headers["Allow"] == "GET");
  CHECK(api.Get(notes, api.admin_).status == 405);
  CHECK(api.Post("/api/orgs", api.admin_, "{}").status == 405);

  // A body announced over 1 MiB is refused before it is read.
  {
    asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.connect(tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), api.port()));
    http::request<http::string_body> request{http::verb::post, notes, 11};
    request.set(http::field::host, "127.0.0.1");
    request.set(http::field::authorization, "Bearer " + api.rita_);
    request.set(http::field::content_length, std::to_string(2 * 1024 * 1024));
    http::request_serializer<http::string_body> serializer(request);
    http::write_header(stream, serializer);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(stream, buffer, response);
    CHECK(response.result_int() == 413);
    CHECK(response.body().find("over") != std::string::npos);
  }
  // Headers over the limit.
  {
    Answer big = Call(api.port(), http::verb::get, "/api/threads", "", "",
                      "Bearer " + std::string(20000, 'a'));
    CHECK(big.status == 431);
  }
  // A body just under the limit is read (and refused for its content).
  {
    const std::string body = R"({"org":"RHQ","body":")" + std::string(1000 * 1000, 'a') + "\"}";
    CHECK(api.Post(notes, api.rita_, body).status == 400);  // over the note limit
  }
}

TEST_CASE("api: drafting and approving replies, with access checked", "[api]") {
  ApiFixture api;
  const std::string rhq = R"({"org":"RHQ","body":"Sorry to hear this; please DM us."})";
  CHECK(api.Post(Path(api.a_, "/replies"), api.vera_, rhq).status == 403);
  CHECK(api.Post(Path(api.a_, "/replies"), api.bob_, rhq).status == 404);
  CHECK(api.Post(Path(api.a_, "/replies"), api.rita_, R"({"org":"RHQ","body":""})").status == 400);
  Answer drafted = api.Post(Path(api.a_, "/replies"), api.rita_, rhq);
  INFO(drafted.body);
  REQUIRE(drafted.status == 201);
  const json::value reply = drafted.Json().at("reply");
  CHECK(reply.at("state") == "draft");
  CHECK(reply.at("author") == "rita");
  CHECK(reply.at("url").is_null());
  const std::string approve =
      "/api/replies/" + std::to_string(reply.at("id").as_int64()) + "/approve";

  CHECK(api.Post(approve, api.rita_, "").status == 403);  // not one's own
  CHECK(api.Post(approve, api.vera_, "").status == 403);
  CHECK(api.Post(approve, api.bob_, "").status == 404);
  CHECK(api.Post(approve, api.admin_, R"({"why":"x"})").status == 400);
  CHECK(Call(api.port(), http::verb::get, approve, api.admin_).status == 405);
  CHECK(api.Post("/api/replies/999999/approve", api.admin_, "").status == 404);
  Answer approved = api.Post(approve, api.admin_, "");
  INFO(approved.body);
  REQUIRE(approved.status == 200);
  CHECK(approved.Json().at("reply").at("state") == "approved");
  CHECK(approved.Json().at("reply").at("approver") == "ann");
  CHECK(api.Post(approve, api.admin_, "").status == 400);  // approved already

  json::value thread = api.Get(Path(api.a_), api.vera_).Json();
  REQUIRE(thread.at("thread").at("replies").as_array().size() == 1);
  CHECK(thread.at("thread").at("replies").at(0).at("state") == "approved");
  // RXX's draft on the shared thread stays RXX's.
  json::value shared = api.Get(Path(api.ab_), api.rita_).Json();
  CHECK(shared.at("thread").at("replies").as_array().empty());
  CHECK(api.Get(Path(api.ab_), api.bob_).Json().at("thread").at("replies").as_array().size() == 1);
}

TEST_CASE("api: a draft comes back with its tone hints", "[api]") {
  ApiFixture api;
  auto rules = ParseToneRules(
      "[[boilerplate]]\nid = \"pals\"\npattern = 'please contact our PALS team'\n"
      "hint = \"This sends them elsewhere\"\n",
      "tone.toml");
  REQUIRE(rules.ok());
  api.routes().SetToneRules(&*rules);
  const std::string text = "Sorry. Please contact our PALS team on 0114 271 1900 today.";
  json::object draft;
  draft["org"] = "RHQ";
  draft["body"] = text;
  Answer first = api.Post(Path(api.a_, "/replies"), api.rita_, json::serialize(draft));
  INFO(first.body);
  REQUIRE(first.status == 201);
  const json::value body = first.Json();
  CHECK(body.at("reply").at("state") == "draft");
  std::map<std::string, json::object> hints;
  for (const json::value& hint : body.at("hints").as_array()) {
    hints[std::string(hint.at("kind").as_string())] = hint.as_object();
  }
  REQUIRE(hints.count("boilerplate") == 1);
  const json::object& pals = hints["boilerplate"];
  CHECK(pals.at("rule") == "pals");
  CHECK(pals.at("message") == "This sends them elsewhere");
  const auto start = static_cast<size_t>(pals.at("start").as_int64());
  const auto end = static_cast<size_t>(pals.at("end").as_int64());
  CHECK(text.substr(start, end - start) == "Please contact our PALS team");
  REQUIRE(hints.count("personal_identifier") == 1);
  CHECK(hints["personal_identifier"].at("rule") == "phone");
  CHECK(hints.count("repeat") == 0);

  // The same words on another of RHQ's threads: a repeat of the first.
  Answer again = api.Post(Path(api.hostile_, "/replies"), api.rita_, json::serialize(draft));
  REQUIRE(again.status == 201);
  bool repeat = false;
  const json::value again_body = again.Json();
  for (const json::value& hint : again_body.at("hints").as_array()) {
    if (hint.at("kind") == "repeat") {
      repeat = true;
      CHECK(hint.at("rule") ==
            json::value("reply #" + std::to_string(body.at("reply").at("id").as_int64())));
    }
  }
  CHECK(repeat);

  // Without boilerplate rules, a plain draft has no hints at all.
  api.routes().SetToneRules(nullptr);
  Answer plain = api.Post(Path(api.feed_, "/replies"), api.rita_,
                          R"({"org":"RHQ","body":"Thank you, we have passed this on."})");
  REQUIRE(plain.status == 201);
  CHECK(plain.Json().at("hints").as_array().empty());
  // Another organisation's replies are never compared (nor revealed).
  Answer rxx = api.Post(Path(api.b_, "/replies"), api.bob_,
                        json::serialize(json::object{{"org", "RXX"}, {"body", text}}));
  REQUIRE(rxx.status == 201);
  const json::value rxx_body = rxx.Json();
  for (const json::value& hint : rxx_body.at("hints").as_array()) {
    CHECK(hint.at("kind") != "repeat");
  }
}

TEST_CASE("api: organisations carry their gazetteer names", "[api]") {
  ApiFixture api;
  const json::value orgs = api.Get("/api/orgs", api.admin_).Json();
  REQUIRE(orgs.at("orgs").as_array().size() == 2);
  CHECK(orgs.at("orgs").at(0).at("org") == "RHQ");
  CHECK(orgs.at("orgs").at(0).at("name") == "Riverside Hospitals NHS Foundation Trust");
  CHECK(orgs.at("orgs").at(0).at("threads") == 9);
  CHECK(orgs.at("orgs").at(0).at("by_state").at("new") == 9);
  CHECK(orgs.at("orgs").at(1).at("org") == "RXX");
  CHECK(orgs.at("orgs").at(1).at("name") == "Northgate NHS Trust");
  CHECK(orgs.at("orgs").at(1).at("by_state").at("dismissed") == 1);
  CHECK(orgs.at("orgs").at(1).at("by_state").at("assigned") == 1);
  CHECK(orgs.at("orgs").at(1).at("threads") == 2);
  CHECK(api.Get("/api/orgs?x=1", api.admin_).status == 400);
}

TEST_CASE("api: the listening ledger and the summary per organisation", "[api]") {
  ApiFixture api;
  const std::string alerted = FormatRfc3339(At(1000));  // a's post was fetched then
  // Opening the thread is recorded once per user (the first time).
  Answer opened = api.Get(Path(api.a_), api.rita_);
  REQUIRE(opened.status == 200);
  {
    const json::value body = opened.Json();
    const json::array& ledger = body.at("thread").at("listening").as_array();
    REQUIRE(ledger.size() == 1);
    CHECK(ledger.at(0).at("org") == "RHQ");
    CHECK(ledger.at(0).at("alerted_at") == json::value(alerted));
    REQUIRE(ledger.at(0).at("opened").as_array().size() == 1);
    CHECK(ledger.at(0).at("opened").at(0).at("user") == "rita");
    CHECK(ledger.at(0).at("opened").at(0).at("at") == json::value(FormatRfc3339(At(10 * kHour))));
    CHECK(ledger.at(0).at("drafted").as_array().empty());
    CHECK(ledger.at(0).at("first_response_at").is_null());
  }
  api.clock().Advance(std::chrono::hours(1));
  REQUIRE(api.Get(Path(api.a_), api.rita_).status == 200);  // not recorded again
  Answer drafted = api.Post(Path(api.a_, "/replies"), api.rita_,
                            R"({"org":"RHQ","body":"We are sorry; please message us."})");
  REQUIRE(drafted.status == 201);
  const int64_t reply_id = drafted.Json().at("reply").at("id").as_int64();
  // Published two hours later (as ReplySender records it).
  {
    Workflow workflow(api.store(), api.clock(), api.places());
    const User rita = api.UserNamed("rita");
    REQUIRE(workflow.MarkPublishing(rita, reply_id, "riverside-mastodon").ok());
    api.clock().Advance(std::chrono::hours(1));
    REQUIRE(workflow
                .MarkPublished(rita, reply_id, "https://example.social/statuses/900",
                               "https://example.social/@riverside/900")
                .ok());
  }
  const json::value thread = api.Get(Path(api.a_), api.vera_).Json();
  const json::object& ledger = thread.at("thread").at("listening").at(0).as_object();
  CHECK(ledger.at("alerted_at") == json::value(alerted));
  std::vector<std::string> openers;
  for (const json::value& e : ledger.at("opened").as_array()) {
    openers.emplace_back(e.at("user").as_string());
  }
  // First opens, oldest first; vera, a viewer, reads without being listed.
  CHECK(openers == std::vector<std::string>{"rita"});
  REQUIRE(ledger.at("drafted").as_array().size() == 1);
  CHECK(ledger.at("drafted").at(0).at("user") == "rita");
  CHECK(ledger.at("drafted").at(0).at("at") == json::value(FormatRfc3339(At(11 * kHour))));
  REQUIRE(ledger.at("replied").as_array().size() == 1);
  CHECK(ledger.at("replied").at(0).at("user") == "rita");
  CHECK(ledger.at("replied").at(0).at("at") == json::value(FormatRfc3339(At(12 * kHour))));
  CHECK(ledger.at("replied").at(0).at("url") == "https://example.social/@riverside/900");
  CHECK(ledger.at("first_response_at") == json::value(FormatRfc3339(At(12 * kHour))));
  const json::value& published = thread.at("thread").at("replies").at(0);
  CHECK(published.at("state") == "published");
  CHECK(published.at("published_by") == "rita");
  CHECK(published.at("published_at") == json::value(FormatRfc3339(At(12 * kHour))));
  // Opens are ledger rows, not audit entries.
  for (const json::value& entry : thread.at("thread").at("audit").as_array()) {
    CHECK(entry.at("action") != "open");
  }

  // The summary: RHQ is on 9 threads, one answered 12h - 1s after it was alerted.
  const json::value summary = api.Get("/api/listening", api.rita_).Json();
  REQUIRE(summary.at("orgs").as_array().size() == 1);
  const json::object& rhq = summary.at("orgs").at(0).as_object();
  CHECK(rhq.at("org") == "RHQ");
  CHECK(rhq.at("name") == "Riverside Hospitals NHS Foundation Trust");
  CHECK(rhq.at("threads") == 9);
  CHECK(rhq.at("answered") == 1);
  CHECK(rhq.at("share_answered").as_double() == Approx(1.0 / 9));
  CHECK(rhq.at("median_first_response_seconds") == 12 * 3600 - 1);
  CHECK(rhq.at("open") == 8);
  CHECK(rhq.at("dismissed") == 0);
  // RXX: b dismissed (not counted), ab assigned and unanswered.
  const json::value all = api.Get("/api/listening", api.admin_).Json();
  const json::object& rxx = all.at("orgs").at(1).as_object();
  CHECK(rxx.at("org") == "RXX");
  CHECK(rxx.at("threads") == 1);
  CHECK(rxx.at("dismissed") == 1);
  CHECK(rxx.at("answered") == 0);
  CHECK(rxx.at("share_answered").as_double() == 0.0);
  CHECK(rxx.at("median_first_response_seconds").is_null());
  // A window by when organisations were alerted.
  const json::value later =
      api.Get("/api/listening?from=" + FormatRfc3339(At(5 * kHour)), api.rita_).Json();
  CHECK(later.at("orgs").at(0).at("threads") == 5);  // the five extra threads
  CHECK(later.at("orgs").at(0).at("answered") == 0);
  const json::value none = api.Get("/api/listening?to=" + FormatRfc3339(At(0)), api.rita_).Json();
  CHECK(none.at("orgs").at(0).at("org") == "RHQ");  // in rita's scope: a zero row
  CHECK(none.at("orgs").at(0).at("threads") == 0);
  CHECK(none.at("orgs").at(0).at("median_first_response_seconds").is_null());
  CHECK(api.Get("/api/listening?from=yesterday", api.rita_).status == 400);
  CHECK(api.Get("/api/listening?org=RHQ", api.rita_).status == 400);
  CHECK(api.Post("/api/listening", api.rita_, "{}").status == 405);
}

TEST_CASE("api: every filter is in the query, so pages are full", "[api]") {
  ApiFixture api;
  // Bob reads two threads among ten; one per page, and no empty last page.
  Answer first = api.Get("/api/threads?limit=1", api.bob_);
  REQUIRE(first.status == 200);
  json::value page = first.Json();
  CHECK(ThreadIds(page) == std::set<int64_t>{api.ab_});
  REQUIRE(page.at("next").is_string());
  page = api.Get("/api/threads?limit=1&next=" + std::string(page.at("next").as_string()), api.bob_)
             .Json();
  CHECK(ThreadIds(page) == std::set<int64_t>{api.b_});
  CHECK(page.at("next").is_null());
  // A page that holds exactly the last matches says so.
  json::value rhq = api.Get("/api/threads?org=RHQ&limit=9", api.rita_).Json();
  CHECK(rhq.at("threads").as_array().size() == 9);
  CHECK(rhq.at("next").is_null());
  // Filters combine.
  CHECK(ThreadIds(api.Get("/api/threads?sentiment=negative&q=notes", api.admin_).Json()) ==
        std::set<int64_t>{api.ab_});
  CHECK(ThreadIds(api.Get("/api/threads?status=dismissed", api.rita_).Json()).empty());
  CHECK(ThreadIds(api.Get("/api/threads?status=new&org=RHQ&platform=feed", api.vera_).Json()) ==
        std::set<int64_t>{api.feed_});
  // A search FTS5 refuses is the caller's mistake.
  Answer bad = api.Get("/api/threads?q=%22unbalanced", api.admin_);
  CHECK(bad.status == 400);
  CHECK(std::string(bad.Json().at("error").at("message").as_string()).find("q is not a valid") ==
        0);
  // Quotes and SQL in values are data.
  CHECK(ThreadIds(api.Get("/api/threads?topic=x%27%20OR%201%3D1%20--", api.admin_).Json()).empty());
  CHECK(ThreadIds(api.Get("/api/threads?org=RHQ%27--", api.admin_).Json()).empty());
}

TEST_CASE("api: keep-alive carries several requests on one connection", "[api]") {
  ApiFixture api;
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), api.port()));
  for (int i = 0; i < 3; ++i) {
    http::request<http::empty_body> request{http::verb::get, "/api/orgs", 11};
    request.set(http::field::host, "127.0.0.1");
    request.set(http::field::authorization, "Bearer " + api.admin_);
    http::write(stream, request);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(stream, buffer, response);
    CHECK(response.result_int() == 200);
    CHECK(response.keep_alive());
  }
}

TEST_CASE("api: hostile text round-trips as data", "[api]") {
  ApiFixture api;
  Answer answer = api.Get(Path(api.hostile_), api.rita_);
  REQUIRE(answer.status == 200);
  // The raw body never holds the markup's quotes unescaped.
  CHECK(answer.body.find("alert(\"pwned\")") == std::string::npos);
  json::value body = answer.Json();
  CHECK(body.at("thread").at("opening_post").at("text") == json::value(kHostile));
  CHECK(body.at("thread").at("conversation").at(0).at("text") == json::value(kHostile));

  json::object note;
  note["org"] = "RHQ";
  note["body"] = kHostile;
  Answer added = api.Post(Path(api.hostile_, "/notes"), api.rita_, json::serialize(note));
  REQUIRE(added.status == 201);
  json::value after = api.Get(Path(api.hostile_), api.rita_).Json();
  REQUIRE(after.at("thread").at("notes").as_array().size() == 1);
  CHECK(after.at("thread").at("notes").at(0).at("body") == json::value(kHostile));
  CHECK(after.at("thread").at("notes").at(0).at("author") == "rita");
}

TEST_CASE("api: a thread's detail shows decisions with their rules, notes and audit", "[api]") {
  ApiFixture api;
  REQUIRE(
      api.Post(Path(api.a_, "/notes"), api.rita_, R"({"org":"RHQ","body":"called them"})").status ==
      201);
  REQUIRE(api.Post(Path(api.a_, "/assign"), api.rita_, R"({"org":"RHQ","user":"rita"})").status ==
          200);
  json::value body = api.Get(Path(api.a_), api.vera_).Json();
  const json::object& thread = body.at("thread").as_object();
  CHECK(thread.at("orgs").at(0).at("state") == "assigned");
  CHECK(thread.at("orgs").at(0).at("assignee") == "rita");
  CHECK(thread.at("orgs").at(0).at("rule") == "orgs-name-RHQ");
  const json::array& decisions = thread.at("conversation").at(0).at("decisions").as_array();
  bool org = false, topic = false;
  for (const json::value& d : decisions) {
    if (d.at("kind") == "org") org = d.at("rule") == "orgs-name-RHQ";
    if (d.at("kind") == "topic") topic = d.at("rule") == "topics-waiting";
  }
  CHECK(org);
  CHECK(topic);
  CHECK(thread.at("notes").at(0).at("body") == "called them");
  std::set<std::string> actions;
  for (const json::value& entry : thread.at("audit").as_array()) {
    actions.insert(std::string(entry.at("action").as_string()));
  }
  CHECK(actions.count("note") == 1);
  CHECK(actions.count("assign") == 1);
}

}  // namespace
}  // namespace earshot

namespace earshot {
namespace {

// Writes `bytes` as they are (no client-side framing) and reads until the
// server closes the connection or 5 s pass: every answer it sent.
std::string RawExchange(uint16_t port, const std::string& bytes) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), port));
  asio::write(stream.socket(), asio::buffer(bytes));
  stream.expires_after(std::chrono::seconds(5));
  std::string out;
  std::array<char, 4096> chunk{};
  while (true) {
    beast::error_code ec;
    const size_t n = stream.read_some(asio::buffer(chunk), ec);
    out.append(chunk.data(), n);
    if (ec) break;
  }
  return out;
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST_CASE("api security: ambiguous framing is refused, nothing smuggled", "[api][security]") {
  ApiFixture api;
  const std::string auth = "Authorization: Bearer " + api.admin_ + "\r\n";
  const std::string smuggled = "GET /api/sources HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n";
  // Content-Length and chunked together: a proxy and earshot could frame
  // the body differently.
  {
    const std::string chunked = "0\r\n\r\n" + smuggled;
    const std::string out =
        RawExchange(api.port(), "POST /api/orgs HTTP/1.1\r\nHost: x\r\n" + auth +
                                    "Content-Length: " + std::to_string(chunked.size()) +
                                    "\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked);
    INFO(out);
    CHECK(out.rfind("HTTP/1.1 400", 0) == 0);
    CHECK(Count(out, "HTTP/1.1 ") == 1);
  }
  // Two different lengths.
  {
    const std::string out = RawExchange(
        api.port(), "POST /api/orgs HTTP/1.1\r\nHost: x\r\n" + auth +
                        "Content-Length: 0\r\nContent-Length: " + std::to_string(smuggled.size()) +
                        "\r\n\r\n" + smuggled);
    INFO(out);
    CHECK(out.rfind("HTTP/1.1 400", 0) == 0);
    CHECK(Count(out, "HTTP/1.1 ") == 1);
  }
}

TEST_CASE("api security: assigning does not tell whether another trust's user exists",
          "[api][security]") {
  ApiFixture api;
  // bob is RXX's; "nobody" is no one: rita (RHQ) learns the same of both.
  Answer other = api.Post(Path(api.a_, "/assign"), api.rita_, R"({"org":"RHQ","user":"bob"})");
  Answer none = api.Post(Path(api.a_, "/assign"), api.rita_, R"({"org":"RHQ","user":"nobody"})");
  CHECK(other.status == 400);
  CHECK(none.status == 400);
  CHECK(other.Json().at("error").at("message").as_string().size() > 0);
  const std::string other_message(other.Json().at("error").at("message").as_string());
  const std::string none_message(none.Json().at("error").at("message").as_string());
  CHECK(other_message.find("bob") != std::string::npos);
  CHECK(none_message.find("nobody") != std::string::npos);
  std::string masked = other_message;
  masked.replace(masked.find("bob"), 3, "nobody");
  CHECK(masked == none_message);
}

TEST_CASE("api security: connections beyond the limit are closed, the others still served",
          "[api][security]") {
  ApiFixture api;
  ApiServerOptions options;
  options.port = 0;
  options.max_connections = 2;
  auto server = ApiServer::Start(api.routes(), options);
  REQUIRE(server.ok());
  const tcp::endpoint endpoint(asio::ip::make_address_v4("127.0.0.1"), (*server)->port());
  asio::io_context ioc;
  auto open = [&] {
    auto stream = std::make_unique<beast::tcp_stream>(ioc);
    stream->connect(endpoint);
    return stream;
  };
  // The status of GET /api/orgs on `stream`, or 0 when the server closed it.
  auto ask = [&](beast::tcp_stream& stream) {
    http::request<http::empty_body> request{http::verb::get, "/api/orgs", 11};
    request.set(http::field::host, "127.0.0.1");
    request.set(http::field::authorization, "Bearer " + api.admin_);
    beast::error_code ec;
    http::write(stream, request, ec);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    if (!ec) http::read(stream, buffer, response, ec);
    return ec ? 0 : static_cast<int>(response.result_int());
  };
  auto first = open();
  auto second = open();
  CHECK(ask(*first) == 200);
  CHECK(ask(*second) == 200);
  auto third = open();
  CHECK(ask(*third) == 0);
  // Once one closes, a new connection is served (the server may see the
  // close after the next connect: a few tries, no sleeping).
  first.reset();
  int status = 0;
  for (int attempt = 0; attempt < 200 && status != 200; ++attempt) status = ask(*open());
  CHECK(status == 200);
  CHECK(ask(*second) == 200);
}

TEST_CASE("api security: HEAD of a thread records no open in the ledger", "[api][security]") {
  ApiFixture api;
  // HEAD is answered with the GET's headers, no body, and nobody read.
  {
    asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.connect(tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), api.port()));
    http::request<http::empty_body> request{http::verb::head, Path(api.a_), 11};
    request.set(http::field::host, "127.0.0.1");
    request.set(http::field::authorization, "Bearer " + api.rita_);
    http::write(stream, request);
    beast::flat_buffer buffer;
    http::response_parser<http::empty_body> parser;
    parser.skip(true);
    http::read(stream, buffer, parser);
    CHECK(parser.get().result_int() == 200);
  }
  api.clock().Advance(std::chrono::hours(1));
  const json::value body = api.Get(Path(api.a_), api.rita_).Json();
  const json::array& opened = body.at("thread").at("listening").at(0).at("opened").as_array();
  REQUIRE(opened.size() == 1);
  CHECK(opened.at(0).at("user") == "rita");
  CHECK(opened.at(0).at("at") == json::value(FormatRfc3339(At(11 * kHour))));
}

TEST_CASE("api security: another trust's published reply is not shown as ours", "[api][security]") {
  ApiFixture api;
  // RXX answers the thread it shares with RHQ; its reply comes back in a poll.
  const std::string uid = "https://example.social/statuses/rxx-answer";
  {
    Workflow workflow(api.store(), api.clock(), api.places());
    const User bob = api.UserNamed("bob");
    auto reply = workflow.CreateDraft(bob, api.ab_, "RXX", 0, "Northgate here: please DM us.");
    REQUIRE(reply.ok());
    REQUIRE(workflow.MarkPublishing(bob, *reply, "northgate-mastodon").ok());
    REQUIRE(workflow.MarkPublished(bob, *reply, uid, "https://example.social/@northgate/1").ok());
    Post back = MakePost("rxx-answer", "Northgate here: please DM us.", 3 * kHour, {});
    back.uid = uid;
    back.url = "https://example.social/@northgate/1";
    back.author_handle = "@northgate@example.social";
    back.reply_to = "ab";
    SourceWrite write;
    write.source = "masto";
    write.posts.push_back(back);
    REQUIRE(api.store().Apply({write}).ok());
  }
  auto how_of_answer = [&](const std::string& token) {
    const json::value body = api.Get(Path(api.ab_), token).Json();
    for (const json::value& post : body.at("thread").at("conversation").as_array()) {
      if (post.at("uid") == json::value(uid)) return std::string(post.at("how").as_string());
    }
    return std::string("absent");
  };
  CHECK(how_of_answer(api.bob_) == "ours");
  CHECK(how_of_answer(api.admin_) == "ours");
  // To RHQ it is a reply on the thread like any other: not "ours".
  CHECK(how_of_answer(api.rita_) == "reply");
  CHECK(how_of_answer(api.vera_) == "reply");
}

}  // namespace
}  // namespace earshot
