#include <catch2/catch.hpp>

#include "crawler/core/connector.h"
#include "crawler/core/http.h"
#include "crawler/core/time_format.h"

namespace earshot {
namespace {

TEST_CASE("Retry-After: seconds, HTTP-date, garbage", "[retry-after]") {
  const TimePoint now = *ParseIso8601("2026-11-22T07:00:00Z");
  CHECK(ParseRetryAfter("120", now) == now + std::chrono::seconds(120));
  CHECK(ParseRetryAfter(" \t30 ", now) == now + std::chrono::seconds(30));
  CHECK(ParseRetryAfter("Sun, 22 Nov 2026 07:05:00 GMT", now) ==
        *ParseIso8601("2026-11-22T07:05:00Z"));
  // A date in the past means "now", not a negative wait.
  CHECK(ParseRetryAfter("Sun, 22 Nov 2026 06:00:00 GMT", now) == now);
  // Absurd values are capped, never overflow.
  CHECK(ParseRetryAfter("99999999999999999", now) == now + std::chrono::seconds(366LL * 24 * 3600));
  CHECK_FALSE(ParseRetryAfter("-5", now).has_value());
  CHECK_FALSE(ParseRetryAfter("soon", now).has_value());
  CHECK_FALSE(ParseRetryAfter("", now).has_value());
}

TEST_CASE("Headers: case-insensitive, ordered, Set replaces", "[http]") {
  Headers h;
  h.Add("Link", "<a>; rel=next");
  h.Add("link", "<b>; rel=prev");
  h.Add("Content-Type", "text/xml");
  CHECK(h.Get("LINK") == "<a>; rel=next");
  CHECK(h.GetAll("Link").size() == 2);
  h.Set("content-type", "application/json");
  CHECK(h.GetAll("Content-Type").size() == 1);
  CHECK(h.Get("Content-Type") == "application/json");
  CHECK_FALSE(h.Get("ETag").has_value());
}

TEST_CASE("Content-Type: media type and charset", "[http]") {
  auto ct = ParseContentType("Text/XML; Charset=\"ISO-8859-1\"");
  CHECK(ct.media_type == "text/xml");
  CHECK(ct.charset == "iso-8859-1");
  ct = ParseContentType("application/rss+xml");
  CHECK(ct.media_type == "application/rss+xml");
  CHECK(ct.charset.empty());
  ct = ParseContentType("text/html; boundary=x; charset=utf-8");
  CHECK(ct.charset == "utf-8");
}

TEST_CASE("SourceSpec: typed options with fallbacks", "[connector]") {
  SourceSpec s;
  s.options["tag"] = std::string("nhs");
  s.options["limit"] = int64_t{40};
  s.options["local"] = true;
  s.options["words"] = std::vector<std::string>{"a"};
  CHECK(s.GetString("tag") == "nhs");
  CHECK(s.GetString("limit", "x") == "x");  // wrong type: fallback
  CHECK(s.GetInt("limit") == 40);
  CHECK(s.GetBool("local"));
  CHECK(s.GetStrings("words").size() == 1);
  CHECK(s.GetStrings("tag").empty());
}

}  // namespace
}  // namespace earshot
