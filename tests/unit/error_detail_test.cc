// ConnectorDescriptor::error_detail of each connector that has one: the
// platform's own explanation of a non-2xx answer, as its reply parser reads
// it, one short line of valid UTF-8; "" when the body says nothing (an HTML
// error page, an empty body); never a throw, whatever the body.
#include <catch2/catch.hpp>
#include <string>

#include "connectors/registry.h"
#include "crawler/core/connector.h"
#include "crawler/core/text.h"

namespace earshot {
namespace {

HttpResponse Answer(int status, std::string body,
                    std::string content_type = "application/json; charset=utf-8") {
  HttpResponse response;
  response.status = status;
  response.url = "https://platform.example/api/thing";
  if (!content_type.empty()) response.headers.Add("Content-Type", content_type);
  response.body = std::move(body);
  return response;
}

std::string Detail(std::string_view connector, const HttpResponse& response) {
  const ConnectorDescriptor* descriptor = FindConnector(connector);
  REQUIRE(descriptor != nullptr);
  REQUIRE(descriptor->error_detail != nullptr);
  return descriptor->error_detail(response);
}

const char* const kHtmlPage =
    "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    "<body><h1>502 Bad Gateway</h1><hr><center>nginx</center></body></html>";

TEST_CASE("error_detail: mastodon reads its error entity", "[error_detail][mastodon]") {
  CHECK(Detail("mastodon", Answer(401, R"({"error":"The access token is invalid"})")) ==
        "The access token is invalid");
  CHECK(Detail("mastodon", Answer(422, R"({"error":"Validation failed: Text can't be blank"})")) ==
        "Validation failed: Text can't be blank");
  CHECK(Detail("mastodon",
               Answer(400, R"({"error":"invalid_grant","error_description":"The provided )"
                           R"(authorization grant is invalid"})")) ==
        "invalid_grant (The provided authorization grant is invalid)");
  CHECK(Detail("mastodon", Answer(503, "Service in maintenance", "text/plain")) ==
        "Service in maintenance");
  CHECK(Detail("mastodon", Answer(502, kHtmlPage, "text/html")).empty());
  CHECK(Detail("mastodon", Answer(500, "")).empty());
}

TEST_CASE("error_detail: bluesky reads XRPC {error, message}", "[error_detail][bluesky]") {
  CHECK(Detail("bluesky", Answer(401, R"({"error":"AuthenticationRequired",)"
                                      R"("message":"Invalid identifier or password"})")) ==
        "AuthenticationRequired: Invalid identifier or password");
  CHECK(Detail("bluesky", Answer(400, R"({"error":"ExpiredToken"})")) == "ExpiredToken");
  CHECK(Detail("bluesky", Answer(400, R"({"message":"Input/q must not be empty"})")) ==
        "Input/q must not be empty");
  CHECK(Detail("bluesky", Answer(403, "Request forbidden by administrative rules.",
                                 "text/plain")) == "Request forbidden by administrative rules.");
  CHECK(Detail("bluesky", Answer(502, kHtmlPage, "text/html")).empty());
  CHECK(Detail("bluesky", Answer(500, R"({"unrelated":true})")).empty());
}

TEST_CASE("error_detail: reddit reads message, error and api_type=json errors",
          "[error_detail][reddit]") {
  CHECK(Detail("reddit", Answer(401, R"({"message": "Unauthorized", "error": 401})")) ==
        "Unauthorized");
  CHECK(Detail("reddit", Answer(400, R"({"error": "invalid_grant"})")) == "invalid_grant");
  CHECK(Detail("reddit", Answer(400, R"({"json": {"errors": [["RATELIMIT", )"
                                     R"("you are doing that too much", "ratelimit"]]}})")) ==
        "RATELIMIT: you are doing that too much (ratelimit)");
  CHECK(Detail("reddit", Answer(503, kHtmlPage, "text/html")).empty());
}

TEST_CASE("error_detail: discourse joins its errors list", "[error_detail][discourse]") {
  CHECK(
      Detail("discourse", Answer(403, R"({"errors":["You are not permitted to view the requested )"
                                      R"(resource."],"error_type":"invalid_access"})")) ==
      "You are not permitted to view the requested resource. (invalid_access)");
  CHECK(Detail("discourse", Answer(429, R"({"errors":["Slow down"],"error_type":"rate_limit",)"
                                        R"("extras":{"wait_seconds":23}})")) ==
        "Slow down (rate_limit); wait 23s");
  CHECK(Detail("discourse", Answer(404, R"({"errors":["The requested URL or resource )"
                                        R"(could not be found."],"error_type":"not_found"})")) ==
        "The requested URL or resource could not be found. (not_found)");
}

TEST_CASE("error_detail: x reads the problem JSON", "[error_detail][x]") {
  CHECK(Detail("x", Answer(401, R"({"title":"Unauthorized","type":"about:blank",)"
                                R"("status":401,"detail":"Unauthorized"})"))
            .rfind("Unauthorized (the bearer_token was refused", 0) == 0);
  CHECK(Detail("x", Answer(400, R"({"errors":[{"parameters":{"query":[""]},"message":)"
                                R"("Invalid 'query':''. 'query' must be a non-empty string"}],)"
                                R"("title":"Invalid Request","detail":"One or more parameters )"
                                R"(to your request was invalid.","type":)"
                                R"("https://api.twitter.com/2/problems/invalid-request"})")) ==
        "Invalid Request: One or more parameters to your request was invalid.: Invalid "
        "'query':''. 'query' must be a non-empty string");
  CHECK(Detail("x", Answer(429, R"({"title":"Too Many Requests","detail":"Too Many Requests",)"
                                R"("type":"about:blank","status":429})")) == "Too Many Requests");
  CHECK(Detail("x", Answer(503, kHtmlPage, "text/html")).empty());
}

TEST_CASE("error_detail: hostile bodies give one short line of valid UTF-8", "[error_detail]") {
  const std::string long_text(5000, 'w');
  const std::string bad_utf8 = "broken \xC3\x28 bytes \xFF and\nnew\tlines \xE2\x82";
  const std::vector<std::string> bodies = {
      R"({"error":")" + long_text + R"(","message":")" + long_text + R"("})",
      R"({"message":")" + long_text + R"("})",
      R"({"errors":[")" + long_text + R"("],"title":")" + long_text + R"("})",
      R"({"error":")" + bad_utf8 + R"(","message":")" + bad_utf8 + R"("})",
      R"({"errors":[")" + bad_utf8 + R"("],"title":")" + bad_utf8 + R"("})",
      R"({"error": {"nested": [1, 2, 3]}, "message": 42, "errors": "not a list"})",
      R"({"errors": [)" + std::string(100000, '[') + "]",
      bad_utf8,
      "null",
      "[]",
      std::string("\0\0\0", 3),
  };
  for (std::string_view name : {"mastodon", "bluesky", "reddit", "discourse", "x"}) {
    for (const std::string& body : bodies) {
      for (int status : {400, 401, 429, 500}) {
        INFO(name << " " << status << " " << body.substr(0, 80));
        std::string detail;
        REQUIRE_NOTHROW(detail = Detail(name, Answer(status, body)));
        CHECK(detail.size() <= 420);
        CHECK(IsValidUtf8(detail));
        CHECK(detail.find('\n') == std::string::npos);
      }
    }
  }
}

TEST_CASE("error_detail: connectors without one leave it null", "[error_detail]") {
  for (std::string_view name : {"feed", "json"}) {
    const ConnectorDescriptor* descriptor = FindConnector(name);
    REQUIRE(descriptor != nullptr);
    CHECK(descriptor->error_detail == nullptr);
  }
}

}  // namespace
}  // namespace earshot
