// The quick start's promise, through the real binary: `earshot demo` crawls
// its samples, then serves the API and the inbox with a printed token, and a
// reply drafted there is published to the demo's fake Mastodon with its URL.
// And `earshot run --listen` serves the API while it crawls.
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <csignal>
#include <regex>
#include <string>

#include "tests/integration/harness.h"

namespace earshot::integration {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace json = boost::json;
using earshot::testing::ChildProcess;
using earshot::testing::Describe;
using earshot::testing::EarshotBinary;
using earshot::testing::TempDir;

struct Answer {
  int status = 0;
  std::string body;
  json::value Json() const {
    INFO(body);
    boost::system::error_code ec;
    json::value value = json::parse(body, ec);
    REQUIRE(!ec);
    return value;
  }
};

Answer Call(uint16_t port, http::verb method, const std::string& target, const std::string& token,
            const std::string& body = "") {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), port));
  http::request<http::string_body> request{method, target, 11};
  request.set(http::field::host, "127.0.0.1");
  request.set(http::field::authorization, "Bearer " + token);
  if (!body.empty()) request.body() = body;
  request.prepare_payload();
  http::write(stream, request);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream, buffer, response);
  return {static_cast<int>(response.result_int()), response.body()};
}

TEST_CASE(
    "demo: serves the inbox with a printed token, and a reply is published to the fake "
    "Mastodon",
    "[integration][demo]") {
  TempDir tmp;
  ProcessOptions options;
  options.cwd = tmp.path();
  std::string error;
  auto child = ChildProcess::Start({EarshotBinary(), "demo", "--no-open", "--listen", "127.0.0.1:0",
                                    "--db", (tmp / "demo.db").string()},
                                   options, &error);
  REQUIRE(child != nullptr);
  auto ready = child->WaitForStdout("Ctrl-C stops the demo.", std::chrono::seconds(60));
  INFO(child->StdoutSoFar() << child->StderrSoFar());
  REQUIRE(ready.has_value());
  const std::string out = child->StdoutSoFar();
  std::smatch inbox, token;
  REQUIRE(std::regex_search(out, inbox,
                            std::regex(R"(earshot: inbox at http://127\.0\.0\.1:(\d+)/\n)")));
  REQUIRE(std::regex_search(out, token,
                            std::regex(R"(earshot: sign in with token ([A-Za-z0-9_-]{43})\n)")));
  const uint16_t port = static_cast<uint16_t>(std::stoi(inbox[1]));

  // A Mastodon thread of an organisation with a demo account.
  json::value threads =
      Call(port, http::verb::get, "/api/threads?platform=mastodon&org=RHQ&limit=1", token[1])
          .Json();
  REQUIRE(!threads.at("threads").as_array().empty());
  const int64_t thread = threads.at("threads").at(0).at("id").as_int64();
  Answer drafted = Call(
      port, http::verb::post, "/api/threads/" + std::to_string(thread) + "/replies", token[1],
      R"({"org": "RHQ", "body": "Thank you for telling us. We have shared this with the team."})");
  REQUIRE(drafted.status == 201);
  const int64_t reply = drafted.Json().at("reply").at("id").as_int64();
  Answer published =
      Call(port, http::verb::post, "/api/replies/" + std::to_string(reply) + "/publish", token[1]);
  REQUIRE(published.status == 200);
  json::value body = published.Json();
  CHECK(body.at("reply").at("state") == "published");
  const std::string url(body.at("reply").at("url").as_string());
  CHECK(std::regex_match(url, std::regex(R"(http://127\.0\.0\.1:\d+/@nhs_demo_trust/\d+)")));

  REQUIRE(child->Signal(SIGINT));
  ProcessResult ended = child->WaitOrKill(std::chrono::seconds(20));
  INFO(Describe(ended));
  CHECK(ended.exit_code == 0);
  CHECK(ended.err.find(std::string(token[1])) == std::string::npos);  // never logged
}

TEST_CASE("run --listen: the API is served while crawling", "[integration][api]") {
  Sandbox box({JsonRoute("/api/v1/timelines/tag/nhs", MastodonTimeline({StatusId(1)}))});
  box.WriteConfig(R"(
[[source]]
name = "nhs-tag"
connector = "mastodon"
url = "{{base}}"
tag = "nhs"
interval = "1h"
)");
  ProcessResult added = box.Earshot({"users", "add", "--name", "ada", "--role", "admin"});
  INFO(Describe(added));
  REQUIRE(added.exit_code == 0);
  const std::string token = Lines(added.out).back();

  std::string error;
  auto child = ChildProcess::Start(box.EarshotArgs({"run", "--listen", "127.0.0.1:0"}), {}, &error);
  REQUIRE(child != nullptr);
  auto at = child->WaitForStderr("api: listening on http://127.0.0.1:", std::chrono::seconds(20));
  INFO(child->StderrSoFar());
  REQUIRE(at.has_value());
  const uint16_t port = static_cast<uint16_t>(std::stoi(child->StderrSoFar().substr(*at)));
  // The crawl's first poll has been made once the fixture server saw it.
  REQUIRE(box.server().WaitForRequests(1, std::chrono::seconds(20)));
  Answer sources = Call(port, http::verb::get, "/api/sources", token);
  CHECK(sources.status == 200);
  CHECK(sources.body.find("nhs-tag") != std::string::npos);

  REQUIRE(child->Signal(SIGTERM));
  ProcessResult ended = child->WaitOrKill(std::chrono::seconds(20));
  INFO(Describe(ended));
  CHECK(ended.exit_code == 0);
  CHECK(ended.out.find("earshot: inbox at http://127.0.0.1:") != std::string::npos);
}

TEST_CASE("run --listen: a bad address is refused before crawling", "[integration][api]") {
  Sandbox box({});
  box.WriteConfig(R"(
[[source]]
name = "nhs-tag"
connector = "mastodon"
url = "{{base}}"
tag = "nhs"
)");
  ProcessResult refused = box.Earshot({"run", "--listen", "127.0.0.1:99999"});
  INFO(Describe(refused));
  CHECK(refused.exit_code == 2);
  CHECK(refused.err.find("--listen") != std::string::npos);
  CHECK(box.server().Requests().empty());
}

}  // namespace
}  // namespace earshot::integration
