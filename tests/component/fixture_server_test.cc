// FixtureServer and LoadFixtureRoutes, driven by a plain synchronous
// Boost.Beast client over 127.0.0.1.
#include "crawler/server/fixture_server.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace earshot {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using Response = http::response<http::string_body>;
using HeaderList = std::vector<std::pair<std::string, std::string>>;

// One keep-alive connection; every call blocks until the answer is in.
class Client {
 public:
  explicit Client(uint16_t port) : stream_(ioc_) {
    stream_.connect(tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), port));
  }

  void Send(const std::string& target, const HeaderList& headers = {},
            http::verb method = http::verb::get) {
    http::request<http::empty_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::user_agent, "fixture-server-test");
    for (const auto& [name, value] : headers) req.set(name, value);
    http::write(stream_, req);
  }

  Response Receive() {
    Response res;
    http::read(stream_, buffer_, res);
    return res;
  }

  Response Get(const std::string& target, const HeaderList& headers = {}) {
    Send(target, headers);
    return Receive();
  }

  // Bytes the server has sent that nobody has read yet.
  size_t Pending() { return buffer_.size() + stream_.socket().available(); }

  beast::tcp_stream& stream() { return stream_; }
  beast::flat_buffer& buffer() { return buffer_; }

 private:
  asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

FixtureRoute Route(std::string target, std::string body, HeaderList headers = {}) {
  FixtureRoute route;
  route.target = std::move(target);
  route.body = std::move(body);
  route.headers = std::move(headers);
  return route;
}

std::unique_ptr<FixtureServer> StartServer(std::vector<FixtureRoute> routes) {
  Result<std::unique_ptr<FixtureServer>> server = FixtureServer::Start(std::move(routes));
  INFO(server.status().ToString());
  REQUIRE(server.ok());
  return std::move(server).value();
}

std::string Header(const Response& res, std::string_view name) {
  auto it = res.find(name);
  return it == res.end() ? std::string("<absent>") : std::string(it->value());
}

// A directory of its own under the system temp dir, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::random_device random;
    path_ = std::filesystem::temp_directory_path() /
            ("earshot-fixture-test-" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::filesystem::path Write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name, std::ios::binary) << text;
    return path_ / name;
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::filesystem::path DemoDir() {
  return std::filesystem::path(EARSHOT_SOURCE_DIR) / "config" / "demo";
}

TEST_CASE("fixture server binds 127.0.0.1 on an ephemeral port", "[fixture-server]") {
  auto server = StartServer({Route("/", "hello")});
  REQUIRE(server->port() != 0);
  CHECK(server->BaseUrl() == "http://127.0.0.1:" + std::to_string(server->port()));
  Client client(server->port());
  Response res = client.Get("/");
  CHECK(res.result_int() == 200);
  CHECK(res.body() == "hello");
  CHECK(Header(res, "Content-Length") == "5");
}

TEST_CASE("fixture server serves routes for one target in sequence, last repeating",
          "[fixture-server]") {
  auto server = StartServer({Route("/a", "one"), Route("/b", "bee"), Route("/a", "two")});
  Client client(server->port());  // one keep-alive connection throughout
  CHECK(client.Get("/a").body() == "one");
  CHECK(client.Get("/a?min_id=5").body() == "two");  // no '?' in route: any query
  CHECK(client.Get("/b").body() == "bee");
  CHECK(client.Get("/a").body() == "two");
  CHECK(client.Get("/b").body() == "bee");

  const std::vector<RecordedRequest> requests = server->Requests();
  REQUIRE(requests.size() == 5);
  CHECK(requests[0].method == "GET");
  CHECK(requests[1].target == "/a?min_id=5");
  CHECK(requests[2].target == "/b");
  bool saw_user_agent = false;
  for (const auto& [name, value] : requests[0].headers) {
    if (name == "User-Agent") saw_user_agent = value == "fixture-server-test";
  }
  CHECK(saw_user_agent);
}

TEST_CASE("fixture server: a route with a query matches only that query", "[fixture-server]") {
  auto server = StartServer({Route("/s", "any query"), Route("/s?q=nhs", "exact")});
  Client client(server->port());
  CHECK(client.Get("/s?q=nhs").body() == "exact");
  CHECK(client.Get("/s?q=gp").body() == "any query");
  CHECK(client.Get("/s").body() == "any query");
}

TEST_CASE("fixture server answers 404 for an unknown target", "[fixture-server]") {
  auto server = StartServer({Route("/known", "x")});
  Client client(server->port());
  Response res = client.Get("/unknown?x=1");
  CHECK(res.result_int() == 404);
  CHECK(res.body().find("/unknown?x=1") != std::string::npos);
  CHECK(client.Get("/known").body() == "x");  // the connection stays usable
  CHECK(server->Requests().size() == 2);
}

TEST_CASE("fixture server replaces {{base}} in bodies and header values", "[fixture-server]") {
  auto server =
      StartServer({Route("/page", R"({"next":"{{base}}/page?max_id=1","self":"{{base}}"})",
                         {{"Link", "<{{base}}/page?max_id=1>; rel=\"next\""}})});
  Client client(server->port());
  Response res = client.Get("/page");
  const std::string base = server->BaseUrl();
  CHECK(res.body() == R"({"next":")" + base + R"(/page?max_id=1","self":")" + base + R"("})");
  CHECK(Header(res, "Link") == "<" + base + "/page?max_id=1>; rel=\"next\"");
  CHECK(Header(res, "Content-Length") == std::to_string(res.body().size()));
}

TEST_CASE("fixture server answers a matching If-None-Match with 304", "[fixture-server]") {
  FixtureRoute feed =
      Route("/feed.rss", "<rss/>", {{"etag", "\"v1\""}, {"Content-Type", "application/rss+xml"}});
  FixtureRoute ignoring = Route("/plain", "body", {{"ETag", "\"v1\""}});
  ignoring.honour_conditional = false;
  FixtureRoute busy = Route("/busy", "slow down", {{"ETag", "\"v1\""}, {"Retry-After", "5"}});
  busy.status = 429;
  auto server = StartServer({feed, ignoring, busy});
  Client client(server->port());

  Response first = client.Get("/feed.rss");
  CHECK(first.result_int() == 200);
  CHECK(Header(first, "ETag") == "\"v1\"");

  Response again = client.Get("/feed.rss", {{"If-None-Match", "\"v1\""}});
  CHECK(again.result_int() == 304);
  CHECK(again.body().empty());
  CHECK(Header(again, "ETag") == "\"v1\"");
  CHECK(Header(again, "Content-Type") == "<absent>");

  CHECK(client.Get("/feed.rss", {{"If-None-Match", "W/\"v1\""}}).result_int() == 304);
  CHECK(client.Get("/feed.rss", {{"If-None-Match", "\"v0\", \"v1\""}}).result_int() == 304);
  Response changed = client.Get("/feed.rss", {{"If-None-Match", "\"v0\""}});
  CHECK(changed.result_int() == 200);
  CHECK(changed.body() == "<rss/>");

  CHECK(client.Get("/plain", {{"If-None-Match", "\"v1\""}}).result_int() == 200);
  CHECK(client.Get("/busy", {{"If-None-Match", "\"v1\""}}).result_int() == 429);
}

TEST_CASE("fixture server truncate_at sends a short body and closes", "[fixture-server]") {
  FixtureRoute route = Route("/big.json", std::string(100, 'x'));
  route.truncate_at = 10;
  auto server = StartServer({route});
  Client client(server->port());
  client.Send("/big.json");

  http::response_parser<http::string_body> parser;
  beast::error_code ec;
  http::read(client.stream(), client.buffer(), parser, ec);
  REQUIRE(parser.is_header_done());
  CHECK(parser.content_length().value_or(0) == 100);
  CHECK(ec == http::error::partial_message);
  CHECK(parser.get().body() == std::string(10, 'x'));
}

TEST_CASE("fixture server delays one response without holding up others", "[fixture-server]") {
  using std::chrono::steady_clock;
  constexpr auto kDelay = std::chrono::milliseconds(400);
  FixtureRoute slow = Route("/slow", "late");
  slow.delay = kDelay;
  auto server = StartServer({slow, Route("/fast", "prompt")});

  Client slow_client(server->port());
  const auto slow_sent = steady_clock::now();
  slow_client.Send("/slow");

  Client fast_client(server->port());
  const auto fast_sent = steady_clock::now();
  Response fast = fast_client.Get("/fast");
  const auto fast_took = steady_clock::now() - fast_sent;
  CHECK(fast.body() == "prompt");
  // The slow request was read first and is still unanswered: the server
  // served the second connection while the first one's timer ran.
  const std::vector<RecordedRequest> requests = server->Requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].target == "/slow");
  CHECK(slow_client.Pending() == 0);
  CHECK(fast_took < kDelay);

  Response late = slow_client.Receive();
  CHECK(steady_clock::now() - slow_sent >= kDelay);
  CHECK(late.body() == "late");
}

TEST_CASE("fixture server SetRoutes replaces the script, counters keep counting",
          "[fixture-server]") {
  auto server = StartServer({Route("/x", "old-1"), Route("/x", "old-2")});
  Client client(server->port());
  CHECK(client.Get("/x").body() == "old-1");
  server->SetRoutes({Route("/x", "new-1"), Route("/x", "new-2"), Route("/x", "new-3")});
  CHECK(client.Get("/x").body() == "new-2");
  CHECK(client.Get("/x").body() == "new-3");
  CHECK(client.Get("/x").body() == "new-3");
  CHECK(client.Get("/gone").result_int() == 404);
}

TEST_CASE("fixture server Stop is idempotent and refuses further connections", "[fixture-server]") {
  auto server = StartServer({Route("/", "up")});
  const uint16_t port = server->port();
  {
    Client client(port);
    CHECK(client.Get("/").body() == "up");
  }
  server->Stop();
  server->Stop();
  asio::io_context ioc;
  tcp::socket socket(ioc);
  beast::error_code ec;
  socket.connect(tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), port), ec);
  CHECK(ec == asio::error::connection_refused);
}

TEST_CASE("fixture server reports a port that is already taken", "[fixture-server]") {
  auto first = StartServer({Route("/", "first")});
  Result<std::unique_ptr<FixtureServer>> second =
      FixtureServer::Start({Route("/", "second")}, first->port());
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == StatusCode::kUnavailable);
  CHECK(second.status().message().find(std::to_string(first->port())) != std::string::npos);
}

TEST_CASE("fixture server stops cleanly with a delayed response in flight", "[fixture-server]") {
  FixtureRoute slow = Route("/slow", "never");
  slow.delay = std::chrono::hours(1);
  auto server = StartServer({slow});
  Client client(server->port());
  client.Send("/slow");
  Client other(server->port());
  CHECK(other.Get("/nothing").result_int() == 404);  // the server has read /slow
  server.reset();  // destructor stops and joins without waiting for the timer
  Response res;
  beast::error_code ec;
  http::read(client.stream(), client.buffer(), res, ec);
  CHECK(ec);
}

TEST_CASE("LoadFixtureRoutes reads the demo routes and the server serves them",
          "[fixture-server]") {
  Result<std::vector<FixtureRoute>> routes = LoadFixtureRoutes(DemoDir() / "routes.toml");
  INFO(routes.status().ToString());
  REQUIRE(routes.ok());
  int tag_routes = 0;
  for (const FixtureRoute& route : *routes) {
    CHECK_FALSE(route.body.empty());
    if (route.target == "/api/v1/timelines/tag/nhs") ++tag_routes;
  }
  CHECK(tag_routes == 3);

  auto server = StartServer(std::move(routes).value());
  const std::string base = server->BaseUrl();
  Client client(server->port());

  Response page1 = client.Get("/api/v1/timelines/tag/nhs?limit=40");
  CHECK(page1.result_int() == 200);
  CHECK(Header(page1, "Content-Type") == "application/json; charset=utf-8");
  CHECK(Header(page1, "X-RateLimit-Remaining") == "299");
  CHECK(Header(page1, "Link").find("<" + base + "/api/v1/timelines/tag/nhs?max_id=") == 0);
  CHECK(page1.body().find("Northern General") != std::string::npos);
  CHECK(page1.body().front() == '[');

  Response page2 = client.Get("/api/v1/timelines/tag/nhs?min_id=117658555681590451");
  CHECK(page2.result_int() == 200);
  CHECK(page2.body().find("Jessop Wing") != std::string::npos);

  Response empty = client.Get("/api/v1/timelines/tag/nhs?min_id=117658771553095354");
  CHECK(empty.body() == "[]");
  CHECK(Header(empty, "Link") == "<absent>");

  for (const std::string feed : {"/feeds/patient_blog.rss", "/feeds/patient_blog_comments.rss",
                                 "/feeds/hospital_news.atom"}) {
    INFO(feed);
    Response first = client.Get(feed);
    CHECK(first.result_int() == 200);
    CHECK(Header(first, "Content-Type").find("+xml; charset=utf-8") != std::string::npos);
    CHECK(first.body().rfind("<?xml", 0) == 0);
    const std::string etag = Header(first, "ETag");
    REQUIRE(etag != "<absent>");
    CHECK(client.Get(feed, {{"If-None-Match", etag}}).result_int() == 304);
    CHECK(client.Get(feed, {{"If-Modified-Since", Header(first, "Last-Modified")}}).result_int() ==
          304);
  }
}

TEST_CASE("LoadFixtureRoutes reads every key", "[fixture-server]") {
  TempDir dir;
  dir.Write("body.txt", "from a file {{base}}");
  const auto file = dir.Write("routes.toml", R"(
[[route]]
target = "/slow"
status = 503
headers = { "Retry-After" = "120", "Content-Type" = "text/plain", "Link" = ["<a>", "<b>"] }
body_file = "body.txt"
delay = "250ms"
truncate_at = 4
honour_conditional = false

[[route]]
target = "/inline?q=1"
body = "inline"
)");
  Result<std::vector<FixtureRoute>> routes = LoadFixtureRoutes(file);
  INFO(routes.status().ToString());
  REQUIRE(routes.ok());
  REQUIRE(routes->size() == 2);
  const FixtureRoute& slow = (*routes)[0];
  CHECK(slow.target == "/slow");
  CHECK(slow.status == 503);
  CHECK(slow.headers == HeaderList{{"Retry-After", "120"},
                                   {"Content-Type", "text/plain"},
                                   {"Link", "<a>"},
                                   {"Link", "<b>"}});
  CHECK(slow.body == "from a file {{base}}");  // replaced when served, not when read
  CHECK(slow.delay == std::chrono::milliseconds(250));
  CHECK(slow.truncate_at == 4);
  CHECK_FALSE(slow.honour_conditional);
  const FixtureRoute& inline_route = (*routes)[1];
  CHECK(inline_route.status == 200);
  CHECK(inline_route.body == "inline");
  CHECK(inline_route.delay == Duration::zero());
  CHECK(inline_route.truncate_at == -1);
  CHECK(inline_route.honour_conditional);
}

TEST_CASE("LoadFixtureRoutes rejects bad files with their position", "[fixture-server]") {
  TempDir dir;
  const std::string name = (dir.path() / "bad.toml").string();

  SECTION("unknown key") {
    dir.Write("bad.toml", "[[route]]\ntarget = \"/a\"\nbody = \"x\"\n  colour = \"red\"\n");
    Result<std::vector<FixtureRoute>> routes = LoadFixtureRoutes(dir.path() / "bad.toml");
    REQUIRE_FALSE(routes.ok());
    CHECK(routes.status().code() == StatusCode::kInvalidArgument);
    CHECK_THAT(routes.status().message(), Catch::StartsWith(name + ":4:3:") &&
                                              Catch::Contains("'colour'") &&
                                              Catch::Contains("route '/a'"));
  }
  SECTION("missing body_file") {
    dir.Write("bad.toml", "[[route]]\ntarget = \"/feed\"\nbody_file = \"nope.xml\"\n");
    Result<std::vector<FixtureRoute>> routes = LoadFixtureRoutes(dir.path() / "bad.toml");
    REQUIRE_FALSE(routes.ok());
    CHECK(routes.status().code() == StatusCode::kNotFound);
    CHECK_THAT(routes.status().message(), Catch::StartsWith(name + ":3:") &&
                                              Catch::Contains("route '/feed'") &&
                                              Catch::Contains("nope.xml"));
  }
  SECTION("TOML syntax error") {
    dir.Write("bad.toml", "[[route]]\ntarget = \"/a\nbody = \"x\"\n");
    Result<std::vector<FixtureRoute>> routes = LoadFixtureRoutes(dir.path() / "bad.toml");
    REQUIRE_FALSE(routes.ok());
    CHECK(routes.status().code() == StatusCode::kParseError);
    CHECK_THAT(routes.status().message(), Catch::StartsWith(name + ":2:"));
  }
  SECTION("missing target") {
    dir.Write("bad.toml", "[[route]]\nbody = \"x\"\n");
    Result<std::vector<FixtureRoute>> routes = LoadFixtureRoutes(dir.path() / "bad.toml");
    REQUIRE_FALSE(routes.ok());
    CHECK_THAT(routes.status().message(),
               Catch::StartsWith(name + ":1:") && Catch::Contains("target"));
  }
  SECTION("wrong types and values") {
    dir.Write("bad.toml", "[[route]]\ntarget = \"/a\"\nstatus = \"200\"\n");
    Result<std::vector<FixtureRoute>> routes = LoadFixtureRoutes(dir.path() / "bad.toml");
    REQUIRE_FALSE(routes.ok());
    CHECK_THAT(routes.status().message(),
               Catch::StartsWith(name + ":3:") && Catch::Contains("`status`"));

    dir.Write("bad.toml", "[[route]]\ntarget = \"/a\"\ndelay = \"soon\"\n");
    routes = LoadFixtureRoutes(dir.path() / "bad.toml");
    REQUIRE_FALSE(routes.ok());
    CHECK_THAT(routes.status().message(),
               Catch::StartsWith(name + ":3:") && Catch::Contains("soon"));

    dir.Write("bad.toml", "[[route]]\ntarget = \"/a\"\nheaders = { \"X-N\" = 1 }\n");
    routes = LoadFixtureRoutes(dir.path() / "bad.toml");
    REQUIRE_FALSE(routes.ok());
    CHECK_THAT(routes.status().message(),
               Catch::StartsWith(name + ":3:") && Catch::Contains("X-N"));
  }
  SECTION("unknown top-level key") {
    dir.Write("bad.toml", "routes = 1\n");
    Result<std::vector<FixtureRoute>> routes = LoadFixtureRoutes(dir.path() / "bad.toml");
    REQUIRE_FALSE(routes.ok());
    CHECK_THAT(routes.status().message(),
               Catch::StartsWith(name + ":1:1:") && Catch::Contains("'routes'"));
  }
  SECTION("missing file") {
    Result<std::vector<FixtureRoute>> routes = LoadFixtureRoutes(dir.path() / "absent.toml");
    REQUIRE_FALSE(routes.ok());
    CHECK(routes.status().code() == StatusCode::kNotFound);
  }
}

}  // namespace
}  // namespace earshot
