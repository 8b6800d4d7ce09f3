// CurlTransport against the local fixture server on 127.0.0.1: real sockets,
// real libcurl, one io_context thread. Waits are bounded by the io_context
// (run until the callbacks fire), never by sleeping.
#include "crawler/net/curl_transport.h"

#include <zlib.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "crawler/server/fixture_server.h"

namespace earshot {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<FixtureServer> Serve(std::vector<FixtureRoute> routes) {
  auto server = FixtureServer::Start(std::move(routes));
  REQUIRE(server.ok());
  return std::move(server).value();
}

FixtureRoute Route(std::string target, int status, std::string body,
                   std::vector<std::pair<std::string, std::string>> headers = {}) {
  FixtureRoute route;
  route.target = std::move(target);
  route.status = status;
  route.body = std::move(body);
  route.headers = std::move(headers);
  return route;
}

HttpRequest Get(std::string url) {
  HttpRequest request;
  request.url = std::move(url);
  return request;
}

std::string Gzip(const std::string& plain) {
  z_stream stream{};
  // 15 window bits + 16: a gzip wrapper rather than zlib's.
  REQUIRE(deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) ==
          Z_OK);
  std::string out(deflateBound(&stream, plain.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
  stream.avail_in = static_cast<uInt>(plain.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&stream, Z_FINISH) == Z_STREAM_END);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

// Runs `io` until `done()` holds; fails the test rather than hang.
void RunUntil(boost::asio::io_context& io, const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  io.restart();
  while (!done()) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    io.run_one_for(100ms);
    if (io.stopped()) io.restart();
  }
}

// One request through a fresh transport; returns its outcome.
Result<HttpResponse> Fetch(HttpRequest request, TransportOptions options = {}) {
  boost::asio::io_context io;
  CurlTransport transport(io, options);
  std::optional<Result<HttpResponse>> outcome;
  transport.Start(std::move(request),
                  [&](Result<HttpResponse> result) { outcome.emplace(std::move(result)); });
  CHECK_FALSE(outcome.has_value());  // never inline
  RunUntil(io, [&] { return outcome.has_value(); });
  return std::move(*outcome);
}

// A port on 127.0.0.1 with nothing listening (bound, then released).
uint16_t UnusedPort() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address_v4("127.0.0.1"), 0});
  const uint16_t port = acceptor.local_endpoint().port();
  acceptor.close();
  return port;
}

std::optional<std::string> RequestHeader(const RecordedRequest& request, std::string_view name) {
  for (const auto& [key, value] : request.headers) {
    if (EqualsIgnoreCase(key, name)) return value;
  }
  return std::nullopt;
}

TEST_CASE("CurlTransport: 50 concurrent requests complete on one io_context thread", "[net]") {
  FixtureRoute slow = Route("/item", 200, "ok", {{"Content-Type", "text/plain"}});
  slow.delay = 200ms;  // 50 in series would take 10 s
  auto server = Serve({slow});

  boost::asio::io_context io;
  CurlTransport transport(io);
  const std::thread::id test_thread = std::this_thread::get_id();
  std::vector<std::optional<Result<HttpResponse>>> outcomes(50);
  bool all_on_test_thread = true;
  for (size_t i = 0; i < outcomes.size(); ++i) {
    transport.Start(Get(server->BaseUrl() + "/item?i=" + std::to_string(i)),
                    [&, i](Result<HttpResponse> result) {
                      all_on_test_thread &= std::this_thread::get_id() == test_thread;
                      outcomes[i].emplace(std::move(result));
                    });
  }
  CHECK(transport.InFlight() == 50);
  const auto started = std::chrono::steady_clock::now();
  size_t completed = 0;
  RunUntil(io, [&] {
    completed = 0;
    for (const auto& outcome : outcomes) completed += outcome.has_value();
    return completed == outcomes.size();
  });
  const auto elapsed = std::chrono::steady_clock::now() - started;

  CHECK(all_on_test_thread);
  CHECK(transport.InFlight() == 0);
  for (size_t i = 0; i < outcomes.size(); ++i) {
    INFO("request " << i);
    REQUIRE(outcomes[i]->ok());
    CHECK((*outcomes[i])->status == 200);
    CHECK((*outcomes[i])->body == "ok");
    CHECK((*outcomes[i])->url == server->BaseUrl() + "/item?i=" + std::to_string(i));
  }
  CHECK(server->Requests().size() == 50);
  // Concurrent, not one after another.
  CHECK(elapsed < 5s);
}

TEST_CASE("CurlTransport: leaves no work behind once idle", "[net]") {
  auto server = Serve({Route("/a", 200, "first"), Route("/b", 200, "second")});
  boost::asio::io_context io;
  CurlTransport transport(io);
  std::vector<std::string> bodies;
  // The second request starts from the first one's callback and reuses the
  // kept-alive connection.
  transport.Start(Get(server->BaseUrl() + "/a"), [&](Result<HttpResponse> first) {
    REQUIRE(first.ok());
    bodies.push_back(first->body);
    transport.Start(Get(server->BaseUrl() + "/b"), [&](Result<HttpResponse> second) {
      REQUIRE(second.ok());
      bodies.push_back(second->body);
    });
  });
  const auto started = std::chrono::steady_clock::now();
  // run() returns by itself only when no wait or timer is left queued.
  io.run_for(5s);
  CHECK(std::chrono::steady_clock::now() - started < 4s);
  CHECK(bodies == std::vector<std::string>{"first", "second"});
  CHECK(transport.InFlight() == 0);
}

TEST_CASE("CurlTransport: any HTTP status is a response", "[net]") {
  auto server = Serve({
      Route("/ok", 200, "fine"),
      Route("/same", 304, ""),
      Route("/missing", 404, "no such page"),
      Route("/broken", 500, "oops"),
  });
  struct Case {
    std::string path;
    int status;
    std::string body;
  };
  for (const Case& c : {Case{"/ok", 200, "fine"}, Case{"/same", 304, ""},
                        Case{"/missing", 404, "no such page"}, Case{"/broken", 500, "oops"}}) {
    INFO(c.path);
    Result<HttpResponse> response = Fetch(Get(server->BaseUrl() + c.path));
    REQUIRE(response.ok());
    CHECK(response->status == c.status);
    CHECK(response->body == c.body);
  }
}

TEST_CASE("CurlTransport: keeps only the final response's headers after a redirect", "[net]") {
  auto server = Serve({
      Route("/old", 301, "moved away", {{"Location", "/new"}, {"X-Only-On-Redirect", "yes"}}),
      Route("/new", 200, "the new page",
            {{"Content-Type", "text/plain; charset=utf-8"}, {"X-Final", "here"}}),
  });
  Result<HttpResponse> response = Fetch(Get(server->BaseUrl() + "/old"));
  REQUIRE(response.ok());
  CHECK(response->status == 200);
  CHECK(response->url == server->BaseUrl() + "/new");
  CHECK(response->body == "the new page");
  CHECK(response->headers.Get("x-final") == "here");
  CHECK(response->headers.Get("X-FINAL") == "here");
  CHECK(response->headers.Get("content-type") == "text/plain; charset=utf-8");
  CHECK_FALSE(response->headers.Get("X-Only-On-Redirect").has_value());
  CHECK_FALSE(response->headers.Get("Location").has_value());
  CHECK(server->Requests().size() == 2);
}

TEST_CASE("CurlTransport: too many redirects is an error naming the URL", "[net]") {
  auto server = Serve({Route("/loop", 302, "", {{"Location", "/loop"}})});
  TransportOptions options;
  options.max_redirects = 3;
  const std::string url = server->BaseUrl() + "/loop";
  Result<HttpResponse> response = Fetch(Get(url), options);
  REQUIRE_FALSE(response.ok());
  CHECK(response.status().code() == StatusCode::kUnavailable);
  CHECK_THAT(response.status().message(), Catch::Contains("GET " + url));
  CHECK_THAT(response.status().message(), Catch::Contains("(CURLcode 47)"));
  CHECK(server->Requests().size() == 4);  // the first + 3 redirects followed
}

TEST_CASE("CurlTransport: a gzip-encoded body arrives decoded", "[net]") {
  const std::string text = "Thank you to the nurses on ward 7. " + std::string(2000, 'x');
  auto server =
      Serve({Route("/feed", 200, Gzip(text),
                   {{"Content-Encoding", "gzip"}, {"Content-Type", "application/rss+xml"}})});
  Result<HttpResponse> response = Fetch(Get(server->BaseUrl() + "/feed"));
  REQUIRE(response.ok());
  CHECK(response->body == text);
  const auto requests = server->Requests();
  REQUIRE(requests.size() == 1);
  const auto accept = RequestHeader(requests[0], "Accept-Encoding");
  REQUIRE(accept.has_value());
  CHECK_THAT(*accept, Catch::Contains("gzip"));
  CHECK_THAT(*accept, Catch::Contains("br"));
}

TEST_CASE("CurlTransport: a body over the limit is kResourceExhausted", "[net]") {
  TransportOptions options;
  options.max_body_bytes = 10'000;

  SECTION("announced by Content-Length") {
    auto server = Serve({Route("/big", 200, std::string(50'000, 'a'))});
    const std::string url = server->BaseUrl() + "/big";
    Result<HttpResponse> response = Fetch(Get(url), options);
    REQUIRE_FALSE(response.ok());
    CHECK(response.status().code() == StatusCode::kResourceExhausted);
    CHECK_THAT(response.status().message(), Catch::Contains("GET " + url));
    CHECK_THAT(response.status().message(), Catch::Contains("10000 bytes"));
    CHECK_THAT(response.status().message(), Catch::Contains("(CURLcode 63)"));
  }
  SECTION("found while streaming: a small gzip body that inflates past it") {
    const std::string bomb = Gzip(std::string(1'000'000, 'a'));
    REQUIRE(bomb.size() < 10'000);
    auto server = Serve({Route("/bomb", 200, bomb, {{"Content-Encoding", "gzip"}})});
    const std::string url = server->BaseUrl() + "/bomb";
    Result<HttpResponse> response = Fetch(Get(url), options);
    REQUIRE_FALSE(response.ok());
    CHECK(response.status().code() == StatusCode::kResourceExhausted);
    CHECK_THAT(response.status().message(), Catch::Contains("GET " + url));
    CHECK_THAT(response.status().message(), Catch::Contains("10000 bytes"));
    // Stopped by our write callback, not by the Content-Length check.
    CHECK_THAT(response.status().message(), Catch::Contains("(CURLcode 23)"));
  }
  SECTION("a body exactly at the limit is fine") {
    auto server = Serve({Route("/edge", 200, std::string(10'000, 'b'))});
    Result<HttpResponse> response = Fetch(Get(server->BaseUrl() + "/edge"), options);
    REQUIRE(response.ok());
    CHECK(response->body.size() == 10'000);
  }
}

TEST_CASE("CurlTransport: total timeout is kDeadlineExceeded", "[net]") {
  FixtureRoute slow = Route("/slow", 200, "too late");
  slow.delay = 3s;
  auto server = Serve({slow});
  TransportOptions options;
  options.total_timeout = 300ms;
  const std::string url = server->BaseUrl() + "/slow";
  const auto started = std::chrono::steady_clock::now();
  Result<HttpResponse> response = Fetch(Get(url), options);
  CHECK(std::chrono::steady_clock::now() - started < 2s);
  REQUIRE_FALSE(response.ok());
  CHECK(response.status().code() == StatusCode::kDeadlineExceeded);
  CHECK_THAT(response.status().message(), Catch::Contains("GET " + url));
  CHECK_THAT(response.status().message(), Catch::Contains("(CURLcode 28)"));
}

TEST_CASE("CurlTransport: a truncated body is kUnavailable", "[net]") {
  FixtureRoute cut = Route("/cut", 200, std::string(5000, 'z'));
  cut.truncate_at = 100;
  auto server = Serve({cut});
  const std::string url = server->BaseUrl() + "/cut";
  Result<HttpResponse> response = Fetch(Get(url), {});
  REQUIRE_FALSE(response.ok());
  CHECK(response.status().code() == StatusCode::kUnavailable);
  CHECK_THAT(response.status().message(), Catch::Contains("GET " + url));
}

TEST_CASE("CurlTransport: connection refused is kUnavailable", "[net]") {
  const std::string url = "http://127.0.0.1:" + std::to_string(UnusedPort()) + "/";
  Result<HttpResponse> response = Fetch(Get(url));
  REQUIRE_FALSE(response.ok());
  CHECK(response.status().code() == StatusCode::kUnavailable);
  CHECK_THAT(response.status().message(), Catch::StartsWith("GET " + url + ": "));
  CHECK_THAT(response.status().message(), Catch::Contains("(CURLcode 7)"));
}

TEST_CASE("CurlTransport: https to a server that does not speak TLS is kUnavailable", "[net]") {
  auto server = Serve({Route("/", 200, "plain text, no TLS")});
  const std::string url = "https://127.0.0.1:" + std::to_string(server->port()) + "/";
  Result<HttpResponse> response = Fetch(Get(url));
  REQUIRE_FALSE(response.ok());
  CHECK(response.status().code() == StatusCode::kUnavailable);
  CHECK_THAT(response.status().message(), Catch::StartsWith("GET " + url + ": "));
}

TEST_CASE("CurlTransport: only http and https are fetched", "[net]") {
  SECTION("file:// is refused") {
    Result<HttpResponse> response = Fetch(Get("file:///etc/passwd"));
    REQUIRE_FALSE(response.ok());
    CHECK(response.status().code() == StatusCode::kInvalidArgument);
    CHECK_THAT(response.status().message(), Catch::Contains("file:///etc/passwd"));
  }
  SECTION("a redirect to file:// is refused") {
    auto server = Serve({Route("/sneaky", 302, "", {{"Location", "file:///etc/passwd"}})});
    Result<HttpResponse> response = Fetch(Get(server->BaseUrl() + "/sneaky"));
    REQUIRE_FALSE(response.ok());
    CHECK(response.status().code() == StatusCode::kInvalidArgument);
  }
  SECTION("a malformed URL") {
    Result<HttpResponse> response = Fetch(Get("http://"));
    REQUIRE_FALSE(response.ok());
    CHECK(response.status().code() == StatusCode::kInvalidArgument);
  }
}

TEST_CASE("CurlTransport: CancelAll fails requests in flight with kCancelled", "[net]") {
  FixtureRoute slow = Route("/slow", 200, "never seen");
  slow.delay = 3s;
  auto server = Serve({Route("/fast", 200, "quick"), slow});
  boost::asio::io_context io;
  CurlTransport transport(io);
  std::vector<Result<HttpResponse>> slow_outcomes;
  std::optional<Result<HttpResponse>> fast_outcome;
  for (int i = 0; i < 3; ++i) {
    transport.Start(Get(server->BaseUrl() + "/slow"), [&](Result<HttpResponse> result) {
      slow_outcomes.push_back(std::move(result));
    });
  }

  SECTION("called directly: callbacks still run later, not inline") {
    transport.CancelAll();
    CHECK(transport.InFlight() == 0);
    CHECK(slow_outcomes.empty());
  }
  SECTION("called from a callback while the others are mid-request") {
    transport.Start(Get(server->BaseUrl() + "/fast"), [&](Result<HttpResponse> result) {
      fast_outcome.emplace(std::move(result));
      CHECK(transport.InFlight() == 3);
      transport.CancelAll();
      CHECK(transport.InFlight() == 0);
    });
    RunUntil(io, [&] { return fast_outcome.has_value(); });
    REQUIRE(fast_outcome->ok());
    CHECK((*fast_outcome)->body == "quick");
  }
  const auto started = std::chrono::steady_clock::now();
  RunUntil(io, [&] { return slow_outcomes.size() == 3; });
  CHECK(std::chrono::steady_clock::now() - started < 2s);
  for (const auto& outcome : slow_outcomes) {
    REQUIRE_FALSE(outcome.ok());
    CHECK(outcome.status().code() == StatusCode::kCancelled);
    CHECK_THAT(outcome.status().message(), Catch::Contains("/slow"));
  }
}

TEST_CASE("CurlTransport: destruction with requests in flight cancels them", "[net]") {
  FixtureRoute slow = Route("/slow", 200, "never seen");
  slow.delay = 3s;
  auto server = Serve({Route("/fast", 200, "quick"), slow});
  boost::asio::io_context io;
  auto transport = std::make_unique<CurlTransport>(io);
  std::vector<Result<HttpResponse>> slow_outcomes;
  for (int i = 0; i < 2; ++i) {
    transport->Start(Get(server->BaseUrl() + "/slow"), [&](Result<HttpResponse> result) {
      slow_outcomes.push_back(std::move(result));
    });
  }
  bool fast_done = false;
  transport->Start(Get(server->BaseUrl() + "/fast"), [&](Result<HttpResponse> result) {
    CHECK(result.ok());
    fast_done = true;
    transport.reset();  // from inside a callback, with two still connected
  });
  RunUntil(io, [&] { return fast_done && slow_outcomes.size() == 2; });
  for (const auto& outcome : slow_outcomes) {
    REQUIRE_FALSE(outcome.ok());
    CHECK(outcome.status().code() == StatusCode::kCancelled);
  }
  // Nothing of the transport is left queued on the io_context.
  io.restart();
  const auto started = std::chrono::steady_clock::now();
  io.run_for(5s);
  CHECK(std::chrono::steady_clock::now() - started < 2s);
}

TEST_CASE("CurlTransport: sends the User-Agent, request headers and body", "[net]") {
  auto server = Serve({Route("/api/statuses", 200, "{\"id\":\"1\"}")});
  TransportOptions options;
  options.user_agent = "earshot-test/1.0 (+https://example.org/contact)";

  SECTION("GET with the configured User-Agent") {
    Result<HttpResponse> response = Fetch(Get(server->BaseUrl() + "/api/statuses"), options);
    REQUIRE(response.ok());
    const auto requests = server->Requests();
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].method == "GET");
    CHECK(RequestHeader(requests[0], "User-Agent") ==
          "earshot-test/1.0 (+https://example.org/contact)");
  }
  SECTION("POST with headers and a body") {
    HttpRequest request = Get(server->BaseUrl() + "/api/statuses");
    request.method = "POST";
    request.headers.Add("Authorization", "Bearer abc");
    request.headers.Add("Content-Type", "application/json");
    request.body = "{\"status\":\"Thank you for telling us.\"}";
    Result<HttpResponse> response = Fetch(request, options);
    REQUIRE(response.ok());
    CHECK(response->body == "{\"id\":\"1\"}");
    const auto requests = server->Requests();
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].method == "POST");
    CHECK(RequestHeader(requests[0], "authorization") == "Bearer abc");
    CHECK(RequestHeader(requests[0], "Content-Type") == "application/json");
    CHECK(RequestHeader(requests[0], "Content-Length") == std::to_string(request.body.size()));
    CHECK_FALSE(RequestHeader(requests[0], "Expect").has_value());
  }
}

}  // namespace
}  // namespace earshot
