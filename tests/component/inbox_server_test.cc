// The web inbox over the wire: ApiServer on 127.0.0.1:0 answers "/" and
// "/assets/..." from the embedded files with the security headers, HEAD and
// conditional GETs, while /api stays the JSON API. Raw request targets
// (no client-side normalisation) check that traversal finds nothing.
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>
#include <map>
#include <string>

#include "crawler/inbox/inbox_assets.h"
#include "crawler/server/api_routes.h"
#include "crawler/server/api_server.h"
#include "crawler/server/inbox_routes.h"
#include "crawler/store/sqlite/sqlite_store.h"
#include "tests/support/process.h"

namespace earshot {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

struct Answer {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
};

// One request on a fresh connection; HEAD answers are read without a body.
Answer Call(uint16_t port, http::verb method, const std::string& target,
            const std::string& if_none_match = "") {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), port));
  http::request<http::string_body> request{method, target, 11};
  request.set(http::field::host, "127.0.0.1");
  if (!if_none_match.empty()) request.set(http::field::if_none_match, if_none_match);
  http::write(stream, request);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(16 * 1024 * 1024);
  if (method == http::verb::head) parser.skip(true);
  http::read(stream, buffer, parser);
  Answer answer;
  answer.status = static_cast<int>(parser.get().result_int());
  for (const auto& field : parser.get()) {
    answer.headers[std::string(field.name_string())] = std::string(field.value());
  }
  answer.body = parser.get().body();
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  return answer;
}

class InboxServer {
 public:
  InboxServer() {
    auto store = SqliteStore::Open((dir_ / "inbox.db").string());
    REQUIRE(store.ok());
    store_ = std::move(store).value();
    routes_ = std::make_unique<ApiRoutes>(*store_, *store_, clock_, places_);
    ApiServerOptions options;
    options.port = 0;
    auto server = ApiServer::Start(*routes_, options);
    REQUIRE(server.ok());
    server_ = std::move(server).value();
  }
  Answer Get(const std::string& target, const std::string& if_none_match = "") {
    return Call(server_->port(), http::verb::get, target, if_none_match);
  }
  Answer Head(const std::string& target) { return Call(server_->port(), http::verb::head, target); }
  Answer Post(const std::string& target) { return Call(server_->port(), http::verb::post, target); }

 private:
  testing::TempDir dir_;
  FakeClock clock_;
  OrgPlaces places_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<ApiRoutes> routes_;
  std::unique_ptr<ApiServer> server_;
};

void RequireSecurityHeaders(const Answer& answer) {
  CHECK(answer.headers.at("Content-Security-Policy") == std::string(kInboxContentSecurityPolicy));
  CHECK(answer.headers.at("X-Content-Type-Options") == "nosniff");
  CHECK(answer.headers.at("Referrer-Policy") == "no-referrer");
}

TEST_CASE("inbox server: the shell and the assets with their headers", "[inbox]") {
  InboxServer server;
  const Answer shell = server.Get("/");
  CHECK(shell.status == 200);
  CHECK(shell.headers.at("Content-Type") == "text/html; charset=utf-8");
  CHECK(shell.headers.at("Cache-Control") == "no-store");
  CHECK(shell.body == InboxAssets::Embedded().Find("/")->bytes);
  CHECK(shell.body.find(R"(<script type="module" src="/assets/js/app.js"></script>)") !=
        std::string::npos);
  RequireSecurityHeaders(shell);

  for (const InboxAsset& asset : InboxAssets::Embedded().All()) {
    INFO(asset.url_path);
    const Answer answer = server.Get(std::string(asset.url_path));
    CHECK(answer.status == 200);
    CHECK(answer.headers.at("Content-Type") == asset.content_type);
    CHECK(answer.headers.at("Content-Length") == std::to_string(asset.bytes.size()));
    CHECK(answer.body == asset.bytes);
    RequireSecurityHeaders(answer);
  }
  const Answer css = server.Get("/assets/nhsuk/nhsuk-frontend.min.css");
  CHECK(css.headers.at("Content-Type") == "text/css; charset=utf-8");
  CHECK(css.headers.at("Cache-Control") == "no-cache");
  CHECK(server.Get("/assets/js/app.js").headers.at("Content-Type") ==
        "text/javascript; charset=utf-8");
  CHECK(server.Get("/assets/images/favicon.svg").headers.at("Content-Type") == "image/svg+xml");
}

TEST_CASE("inbox server: HEAD, conditional GET, other methods", "[inbox]") {
  InboxServer server;
  const Answer get = server.Get("/assets/app.css");
  const Answer head = server.Head("/assets/app.css");
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  CHECK(head.headers.at("Content-Length") == get.headers.at("Content-Length"));
  CHECK(head.headers.at("ETag") == get.headers.at("ETag"));
  RequireSecurityHeaders(head);
  const Answer head_shell = server.Head("/");
  CHECK(head_shell.status == 200);
  CHECK(head_shell.body.empty());
  CHECK(head_shell.headers.at("Content-Type") == "text/html; charset=utf-8");

  const Answer not_modified = server.Get("/assets/app.css", get.headers.at("ETag"));
  CHECK(not_modified.status == 304);
  CHECK(not_modified.body.empty());
  RequireSecurityHeaders(not_modified);
  CHECK(server.Get("/assets/app.css", "\"stale\"").status == 200);

  const Answer post = server.Post("/");
  CHECK(post.status == 405);
  CHECK(post.headers.at("Allow") == "GET, HEAD");
  RequireSecurityHeaders(post);
}

TEST_CASE("inbox server: unknown paths and traversal are 404 with the headers", "[inbox]") {
  InboxServer server;
  for (const char* target :
       {"/nowhere", "/index.html", "/assets/nope.js", "/assets/../assets/app.css",
        "/assets/%2e%2e/%2e%2e/etc/passwd", "/../../etc/passwd", "/assets/js/../app.css",
        "/assets/..%2F..%2Fetc%2Fpasswd", "/assets/app.css%00.js", "/assets/"}) {
    INFO(target);
    const Answer answer = server.Get(target);
    CHECK(answer.status == 404);
    CHECK(answer.headers.at("Content-Type") == "text/plain; charset=utf-8");
    CHECK(answer.body.find("root:") == std::string::npos);
    RequireSecurityHeaders(answer);
  }
  CHECK(server.Get("/?utm=1").status == 200);
}

TEST_CASE("inbox server: /api stays the JSON API", "[inbox]") {
  InboxServer server;
  for (const char* target : {"/api/threads", "/api", "/api/nowhere", "/api/../assets/app.css"}) {
    INFO(target);
    const Answer answer = server.Get(target);
    CHECK(answer.status == 401);
    CHECK(answer.headers.at("Content-Type") == "application/json; charset=utf-8");
    CHECK(answer.headers.count("Content-Security-Policy") == 0);
  }
}

}  // namespace
}  // namespace earshot
