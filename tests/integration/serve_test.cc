// `earshot serve` with the real binary: it starts on a free port, answers
// with the store's threads to a valid token only, and stops cleanly on
// SIGTERM.
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <csignal>
#include <string>

#include "crawler/core/text.h"
#include "crawler/threads/tokens.h"
#include "tests/integration/harness.h"

namespace earshot::integration {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace json = boost::json;
using earshot::testing::ChildProcess;
using earshot::testing::Describe;

std::string LastLine(const std::string& text) {
  std::string trimmed = text;
  while (!trimmed.empty() && trimmed.back() == '\n') trimmed.pop_back();
  const size_t newline = trimmed.rfind('\n');
  return newline == std::string::npos ? trimmed : trimmed.substr(newline + 1);
}

http::response<http::string_body> Get(uint16_t port, const std::string& target,
                                      const std::string& token) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), port));
  http::request<http::empty_body> request{http::verb::get, target, 11};
  request.set(http::field::host, "127.0.0.1");
  if (!token.empty()) request.set(http::field::authorization, "Bearer " + token);
  http::write(stream, request);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream, buffer, response);
  return response;
}

TEST_CASE("earshot serve: starts, authenticates, serves threads, stops on SIGTERM",
          "[integration][api]") {
  Sandbox box({});
  box.WriteConfig("");
  ProcessResult added =
      box.Earshot({"users", "add", "--name", "rita", "--role", "responder", "--org", "RHQ"});
  INFO(Describe(added));
  REQUIRE(added.exit_code == 0);
  const std::string token = LastLine(added.out);
  {
    auto store = box.OpenStore();
    Post post;
    post.platform = "mastodon";
    post.id = "1";
    post.uid = "https://example.social/statuses/1";
    post.url = post.uid;
    post.author_handle = "@alice@example.social";
    post.text = "Six hours in Riverside A&E <b>again</b>";
    post.created_at = FromUnixSeconds(1'790'000'000);
    post.fetched_at = FromUnixSeconds(1'790'000'060);
    post.content_hash = Sha256Hex(post.text);
    Decision org;
    org.kind = Decision::Kind::kOrg;
    org.value = "RHQ";
    org.rule = "orgs-name";
    post.decisions.push_back(org);
    SourceWrite write;
    write.source = "import";
    write.posts.push_back(post);
    REQUIRE(store->Apply({write}).ok());
  }

  std::string error;
  auto child =
      ChildProcess::Start(box.EarshotArgs({"serve", "--listen", "127.0.0.1:0"}), {}, &error);
  REQUIRE(child != nullptr);
  const std::string marker = "listening on http://127.0.0.1:";
  auto at = child->WaitForStderr(marker, std::chrono::seconds(20));
  INFO(child->StderrSoFar());
  REQUIRE(at.has_value());
  const uint16_t port = static_cast<uint16_t>(std::stoi(child->StderrSoFar().substr(*at)));
  REQUIRE(port != 0);

  auto refused = Get(port, "/api/threads", "");
  CHECK(refused.result_int() == 401);
  CHECK(refused[http::field::www_authenticate].starts_with("Bearer"));
  CHECK(Get(port, "/api/threads", "wrong").result_int() == 401);

  auto listed = Get(port, "/api/threads", token);
  REQUIRE(listed.result_int() == 200);
  CHECK(listed[http::field::content_type] == "application/json; charset=utf-8");
  json::value body = json::parse(listed.body());
  REQUIRE(body.at("threads").as_array().size() == 1);
  CHECK(body.at("threads").at(0).at("opening_post").at("text") ==
        "Six hours in Riverside A&E <b>again</b>");
  // The thread's listening ledger records rita's first open.
  auto thread = Get(port, "/api/threads/1", token);
  REQUIRE(thread.result_int() == 200);
  json::value detail = json::parse(thread.body());
  CHECK(detail.at("thread").at("listening").at(0).at("org") == "RHQ");
  CHECK(detail.at("thread").at("listening").at(0).at("opened").at(0).at("user") == "rita");
  // Who the token belongs to; organisations with the gazetteer's names.
  auto me = Get(port, "/api/me", token);
  REQUIRE(me.result_int() == 200);
  json::value who = json::parse(me.body());
  CHECK(who.at("user").at("name") == "rita");
  CHECK(who.at("can_act") == json::array{"RHQ"});
  auto orgs = Get(port, "/api/orgs", token);
  REQUIRE(orgs.result_int() == 200);
  CHECK(json::parse(orgs.body()).at("orgs").at(0).at("name") ==
        "Sheffield Teaching Hospitals NHS Foundation Trust");
  auto listening = Get(port, "/api/listening", token);
  REQUIRE(listening.result_int() == 200);
  json::value summary = json::parse(listening.body());
  CHECK(summary.at("orgs").at(0).at("org") == "RHQ");
  CHECK(summary.at("orgs").at(0).at("threads") == 1);
  CHECK(summary.at("orgs").at(0).at("name") == "Sheffield Teaching Hospitals NHS Foundation Trust");
  CHECK(Get(port, "/api/me", "").result_int() == 401);

  REQUIRE(child->Signal(SIGTERM));
  ProcessResult ended = child->WaitOrKill(std::chrono::seconds(20));
  INFO(Describe(ended));
  CHECK(ended.exit_code == 0);
  CHECK(ended.out.find("stopped") != std::string::npos);
  CHECK(ended.err.find("api GET /api/threads 200 user=rita") != std::string::npos);
  CHECK(ended.err.find(token) == std::string::npos);  // tokens are never logged
}

TEST_CASE("earshot serve: a bad --listen is refused", "[integration][api]") {
  Sandbox box({});
  box.WriteConfig("");
  for (const std::string listen : {"nowhere", "127.0.0.1:99999", "not-an-ip:80"}) {
    ProcessResult refused = box.Earshot({"serve", "--listen", listen});
    INFO(Describe(refused));
    CHECK(refused.exit_code != 0);
    CHECK(refused.err.find("earshot serve") != std::string::npos);
  }
}

}  // namespace
}  // namespace earshot::integration
