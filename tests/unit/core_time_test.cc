// Date and duration parsing/formatting (crawler/core/time_format.h).
#include <catch2/catch.hpp>
#include <string>

#include "crawler/core/time_format.h"

namespace earshot {
namespace {

constexpr int64_t k20261122T065915 = 1'795'330'755;  // Sun 2026-11-22 06:59:15 UTC
constexpr int64_t k19941106T084937 = 784'111'777;    // RFC 9110's example date

TimePoint Secs(int64_t s) { return FromUnixSeconds(s); }

// Parses and returns the result, failing the test with the message if not OK.
TimePoint MustParse(Result<TimePoint> r) {
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  return *r;
}

std::string IsoUtc(std::string_view text) {
  Result<TimePoint> r = ParseIso8601(text);
  return r.ok() ? FormatRfc3339(*r) : "error: " + r.status().message();
}
std::string RfcUtc(std::string_view text) {
  Result<TimePoint> r = ParseRfc822(text);
  return r.ok() ? FormatRfc3339(*r) : "error: " + r.status().message();
}
std::string HttpUtc(std::string_view text) {
  Result<TimePoint> r = ParseHttpDate(text);
  return r.ok() ? FormatRfc3339(*r) : "error: " + r.status().message();
}

TEST_CASE("ParseIso8601 reads RFC 3339 timestamps", "[time]") {
  CHECK(MustParse(ParseIso8601("2026-11-22T06:59:15Z")) == Secs(k20261122T065915));
  CHECK(MustParse(ParseIso8601("2026-11-22T06:59:15+00:00")) == Secs(k20261122T065915));
  CHECK(MustParse(ParseIso8601("2026-11-22T07:59:15+01:00")) == Secs(k20261122T065915));
  CHECK(MustParse(ParseIso8601("2026-11-22T01:59:15-05:00")) == Secs(k20261122T065915));
  CHECK(MustParse(ParseIso8601("1994-11-06T08:49:37Z")) == Secs(k19941106T084937));
}

TEST_CASE("ParseIso8601 accepts the variants seen in feeds and APIs", "[time]") {
  SECTION("fractional seconds, truncated to milliseconds") {
    CHECK(IsoUtc("2026-11-22T06:59:15.123456+01:00") == "2026-11-22T05:59:15.123Z");
    CHECK(IsoUtc("2026-11-22T06:59:15.5Z") == "2026-11-22T06:59:15.500Z");
    CHECK(IsoUtc("2026-11-22T06:59:15.999999999Z") == "2026-11-22T06:59:15.999Z");
    CHECK(IsoUtc("2026-11-22T06:59:15,25Z") == "2026-11-22T06:59:15.250Z");
    CHECK(IsoUtc("2026-11-22T06:59:15.000Z") == "2026-11-22T06:59:15Z");
  }
  SECTION("offset forms") {
    CHECK(IsoUtc("2026-11-22T06:59:15+0100") == "2026-11-22T05:59:15Z");
    CHECK(IsoUtc("2026-11-22T06:59:15+01") == "2026-11-22T05:59:15Z");
    CHECK(IsoUtc("2026-11-22T06:59:15-0530") == "2026-11-22T12:29:15Z");
    CHECK(IsoUtc("2026-11-22T06:59:15-00:00") == "2026-11-22T06:59:15Z");
    CHECK(IsoUtc("2026-11-22T23:30:00-03:00") == "2026-11-23T02:30:00Z");
    CHECK(IsoUtc("2026-01-01T00:30:00+01:00") == "2025-12-31T23:30:00Z");
  }
  SECTION("lower-case t and z, a space for T") {
    CHECK(IsoUtc("2026-11-22t06:59:15z") == "2026-11-22T06:59:15Z");
    CHECK(IsoUtc("2026-11-22 06:59:15") == "2026-11-22T06:59:15Z");
    CHECK(IsoUtc("2026-11-22 06:59:15 +0100") == "2026-11-22T05:59:15Z");
    CHECK(IsoUtc("2026-11-22 06:59:15 UTC") == "2026-11-22T06:59:15Z");
  }
  SECTION("no seconds, no offset, date only") {
    CHECK(IsoUtc("2026-11-22T06:59Z") == "2026-11-22T06:59:00Z");
    CHECK(IsoUtc("2026-11-22T06:59+02:00") == "2026-11-22T04:59:00Z");
    CHECK(IsoUtc("2026-11-22T06:59:15") == "2026-11-22T06:59:15Z");
    CHECK(IsoUtc("2026-11-22") == "2026-11-22T00:00:00Z");
  }
  SECTION("surrounding whitespace from XML text nodes") {
    CHECK(IsoUtc("\n    2026-11-22T06:59:15Z\n  ") == "2026-11-22T06:59:15Z");
  }
  SECTION("leap second is clamped") {
    CHECK(IsoUtc("2016-12-31T23:59:60Z") == "2016-12-31T23:59:59Z");
  }
}

TEST_CASE("ParseIso8601 handles the calendar", "[time]") {
  CHECK(MustParse(ParseIso8601("2024-02-29")) == Secs(1'709'164'800));
  CHECK(IsoUtc("2000-02-29T12:00:00Z") == "2000-02-29T12:00:00Z");  // divisible by 400
  CHECK(IsoUtc("2024-02-28T23:00:00-02:00") == "2024-02-29T01:00:00Z");
  CHECK(IsoUtc("2023-02-28T23:00:00-02:00") == "2023-03-01T01:00:00Z");
  CHECK(IsoUtc("1969-12-31T23:59:59Z") == "1969-12-31T23:59:59Z");
  CHECK(ToUnixMillis(MustParse(ParseIso8601("1969-12-31T23:59:59.5Z"))) == -500);
  CHECK(IsoUtc("1970-01-01T00:00:00Z") == "1970-01-01T00:00:00Z");
}

TEST_CASE("ParseIso8601 rejects out-of-range fields and garbage", "[time]") {
  const char* bad[] = {
      "",
      "   ",
      "garbage",
      "2026-13-01",            // month 13
      "2026-00-10",            // month 0
      "2026-01-32",            // day 32
      "2026-01-00",            // day 0
      "2026-02-29",            // not a leap year
      "1900-02-29",            // century, not a leap year
      "2026-04-31",            // April has 30 days
      "2026-11-22T25:00:00Z",  // hour 25
      "2026-11-22T24:00:00Z",  // hour 24
      "2026-11-22T06:60:00Z",  // minute 60
      "2026-11-22T06:59:61Z",  // second 61
      "2026-11-22T06:59:15+24:00",
      "2026-11-22T06:59:15+01:60",
      "2026-11-22T06:59:15+1",
      "2026-11-22T06:59:15+01000",
      "2026-11-22T06:59:15.Z",  // decimal point without digits
      "2026-11-22T06:59:15ZZ",
      "2026-11-22T06:59:15Z trailing",
      "2026-11-22T6:59:15Z",  // one-digit hour
      "2026-1-22",
      "26-11-22",
      "2026/11/22",
      "20261122T065915Z",
      "2026-11-22T",
      "2026-11-22T06",
      "2026-11-22X06:59:15Z",
      "2026-11-22T06:59:15 CET",
      "Sun, 22 Nov 2026 06:59:15 GMT",
  };
  for (const char* text : bad) {
    INFO(text);
    Result<TimePoint> r = ParseIso8601(text);
    CHECK_FALSE(r.ok());
    if (!r.ok()) {
      CHECK(r.status().code() == StatusCode::kParseError);
      CHECK(r.status().message().find(std::string("\"") + text + "\"") != std::string::npos);
    }
  }
}

TEST_CASE("ParseRfc822 reads RSS dates", "[time]") {
  CHECK(MustParse(ParseRfc822("Sun, 22 Nov 2026 06:59:15 GMT")) == Secs(k20261122T065915));
  CHECK(MustParse(ParseRfc822("Sun, 06 Nov 1994 08:49:37 GMT")) == Secs(k19941106T084937));

  SECTION("weekday optional, and not checked against the date") {
    CHECK(RfcUtc("22 Nov 2026 06:59:15 GMT") == "2026-11-22T06:59:15Z");
    CHECK(RfcUtc("Mon, 22 Nov 2026 06:59:15 GMT") == "2026-11-22T06:59:15Z");
    CHECK(RfcUtc("Sunday, 22 Nov 2026 06:59:15 GMT") == "2026-11-22T06:59:15Z");
    CHECK(RfcUtc("Sun 22 Nov 2026 06:59:15 GMT") == "2026-11-22T06:59:15Z");
  }
  SECTION("one-digit day, missing seconds, case and spacing") {
    CHECK(RfcUtc("Tue, 1 Dec 2026 09:05:00 GMT") == "2026-12-01T09:05:00Z");
    CHECK(RfcUtc("Sun, 22 Nov 2026 06:59 GMT") == "2026-11-22T06:59:00Z");
    CHECK(RfcUtc("sun, 22 nov 2026 06:59:15 gmt") == "2026-11-22T06:59:15Z");
    CHECK(RfcUtc("  Sun,  22   Nov 2026\t06:59:15  GMT \n") == "2026-11-22T06:59:15Z");
    CHECK(RfcUtc("Sun, 22 November 2026 06:59:15 GMT") == "2026-11-22T06:59:15Z");
    CHECK(RfcUtc("Tue, 22 Sept 2026 06:59:15 GMT") == "2026-09-22T06:59:15Z");
  }
  SECTION("numeric offsets") {
    CHECK(RfcUtc("Sun, 22 Nov 2026 07:59:15 +0100") == "2026-11-22T06:59:15Z");
    CHECK(RfcUtc("Sun, 22 Nov 2026 01:59:15 -0500") == "2026-11-22T06:59:15Z");
    CHECK(RfcUtc("Sun, 22 Nov 2026 12:29:15 +0530") == "2026-11-22T06:59:15Z");
    CHECK(RfcUtc("Sun, 22 Nov 2026 06:59:15 -0000") == "2026-11-22T06:59:15Z");
    CHECK(RfcUtc("Sun, 22 Nov 2026 07:59:15 +01:00") == "2026-11-22T06:59:15Z");
    CHECK(RfcUtc("Mon, 01 Jan 2024 00:00:00 -0800 (PST)") == "2024-01-01T08:00:00Z");
    CHECK(RfcUtc("Sun, 31 Dec 2023 23:30:00 -0100") == "2024-01-01T00:30:00Z");
  }
  SECTION("RFC 822 zone names") {
    CHECK(RfcUtc("Sun, 22 Nov 2026 06:59:15 UT") == "2026-11-22T06:59:15Z");
    CHECK(RfcUtc("Sun, 22 Nov 2026 06:59:15 UTC") == "2026-11-22T06:59:15Z");
    CHECK(RfcUtc("Sun, 22 Nov 2026 06:59:15 Z") == "2026-11-22T06:59:15Z");
    CHECK(RfcUtc("Sun, 22 Nov 2026 01:59:15 EST") == "2026-11-22T06:59:15Z");
    CHECK(RfcUtc("Sun, 22 Nov 2026 02:59:15 EDT") == "2026-11-22T06:59:15Z");
    CHECK(RfcUtc("Sun, 22 Nov 2026 00:59:15 CST") == "2026-11-22T06:59:15Z");
    CHECK(RfcUtc("Sun, 22 Nov 2026 01:59:15 CDT") == "2026-11-22T06:59:15Z");
    CHECK(RfcUtc("Sun, 22 Nov 2026 23:59:15 MST") == "2026-11-23T06:59:15Z");
    CHECK(RfcUtc("Sun, 22 Nov 2026 00:59:15 MDT") == "2026-11-22T06:59:15Z");
    CHECK(RfcUtc("Sun, 22 Nov 2026 22:59:15 PST") == "2026-11-23T06:59:15Z");
    CHECK(RfcUtc("Sun, 22 Nov 2026 23:59:15 PDT") == "2026-11-23T06:59:15Z");
    // Military letters carry no reliable offset (RFC 2822 §4.3): UTC.
    CHECK(RfcUtc("Sun, 22 Nov 2026 06:59:15 A") == "2026-11-22T06:59:15Z");
    CHECK(RfcUtc("Sun, 22 Nov 2026 06:59:15 Y") == "2026-11-22T06:59:15Z");
  }
  SECTION("missing zone means UTC") {
    CHECK(RfcUtc("Sun, 22 Nov 2026 06:59:15") == "2026-11-22T06:59:15Z");
  }
  SECTION("two- and three-digit years per RFC 2822") {
    CHECK(RfcUtc("Sun, 22 Nov 26 06:59:15 GMT") == "2026-11-22T06:59:15Z");
    CHECK(RfcUtc("Fri, 01 Jan 49 00:00:00 GMT") == "2049-01-01T00:00:00Z");
    CHECK(RfcUtc("Sun, 01 Jan 50 00:00:00 GMT") == "1950-01-01T00:00:00Z");
    CHECK(RfcUtc("Sun, 06 Nov 94 08:49:37 GMT") == "1994-11-06T08:49:37Z");
    CHECK(RfcUtc("Sun, 06 Nov 094 08:49:37 GMT") == "1994-11-06T08:49:37Z");
    CHECK(RfcUtc("Sat, 01 Jan 00 00:00:00 GMT") == "2000-01-01T00:00:00Z");
  }
  SECTION("leap years") {
    CHECK(RfcUtc("Thu, 29 Feb 2024 12:00:00 GMT") == "2024-02-29T12:00:00Z");
    CHECK(RfcUtc("Tue, 29 Feb 2000 12:00:00 GMT") == "2000-02-29T12:00:00Z");
  }
}

TEST_CASE("ParseRfc822 rejects out-of-range fields and garbage", "[time]") {
  const char* bad[] = {
      "",
      "garbage",
      "Sun, 32 Nov 2026 06:59:15 GMT",    // day 32
      "Sun, 00 Nov 2026 06:59:15 GMT",    // day 0
      "Sun, 31 Nov 2026 06:59:15 GMT",    // November has 30 days
      "Sun, 29 Feb 2026 06:59:15 GMT",    // not a leap year
      "Sun, 22 Foo 2026 06:59:15 GMT",    // month name
      "Sun, 22 13 2026 06:59:15 GMT",     // numeric month
      "Sun, 22 Nov 2026 25:00:00 GMT",    // hour 25
      "Sun, 22 Nov 2026 06:61:00 GMT",    // minute 61
      "Sun, 22 Nov 2026 06:59:61 GMT",    // second 61
      "Sun, 22 Nov 2026 06:59:15 XYZ",    // unknown zone
      "Sun, 22 Nov 2026 06:59:15 J",      // J is not a zone letter
      "Sun, 22 Nov 2026 06:59:15 +2500",  // offset hours
      "Sun, 22 Nov 2026 06:59:15 +01",    // offset needs four digits
      "Sun, 22 Nov 2026 06:59:15 GMT extra",
      "Sun, 22 Nov 2026",  // no time
      "Sun, 22 Nov 2026 0659 GMT",
      "Sun, 22 Nov 20266 06:59:15 GMT",  // five-digit year
      "Sun, 22 Nov 2 06:59:15 GMT",      // one-digit year
      "Funday, 22 Nov 2026 06:59:15 GMT",
      "2026-11-22T06:59:15Z",
  };
  for (const char* text : bad) {
    INFO(text);
    Result<TimePoint> r = ParseRfc822(text);
    CHECK_FALSE(r.ok());
    if (!r.ok()) {
      CHECK(r.status().code() == StatusCode::kParseError);
      CHECK(r.status().message().find(std::string("\"") + text + "\"") != std::string::npos);
    }
  }
}

TEST_CASE("ParseHttpDate reads the three HTTP-date forms", "[time]") {
  // RFC 9110 §5.6.7's own examples, all the same instant.
  CHECK(MustParse(ParseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT")) == Secs(k19941106T084937));
  CHECK(MustParse(ParseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT")) == Secs(k19941106T084937));
  CHECK(MustParse(ParseHttpDate("Sun Nov  6 08:49:37 1994")) == Secs(k19941106T084937));

  CHECK(HttpUtc("Sun Nov 16 08:49:37 1994") == "1994-11-16T08:49:37Z");
  CHECK(HttpUtc("Sun Nov 06 08:49:37 1994") == "1994-11-06T08:49:37Z");
  CHECK(HttpUtc("Sunday, 06-Nov-1994 08:49:37 GMT") == "1994-11-06T08:49:37Z");
  CHECK(HttpUtc("Sunday, 22-Nov-26 06:59:15 GMT") == "2026-11-22T06:59:15Z");
  CHECK(HttpUtc("Thu, 29 Feb 2024 23:59:59 GMT") == "2024-02-29T23:59:59Z");
  // Robust to what servers really send (RFC 9110 asks recipients to be).
  CHECK(HttpUtc("Sun, 22 Nov 2026 07:59:15 +0100") == "2026-11-22T06:59:15Z");
  CHECK(HttpUtc("Sun Nov  6 08:49:37 1994 GMT") == "1994-11-06T08:49:37Z");
}

TEST_CASE("ParseHttpDate rejects garbage", "[time]") {
  const char* bad[] = {
      "",
      "0",
      "120",
      "soon",
      "Sun, 06 Nov 1994",
      "Sunday, 06-Nov-94 08:49:37 XYZ",
      "Sun Nov 31 08:49:37 1994",
      "Sun Nov  6 08:49 1994",
      "Sun Nov  6 08:49:37 94",
      "Sun Foo  6 08:49:37 1994",
      "Sun, 06 Nov 1994 24:00:00 GMT",
  };
  for (const char* text : bad) {
    INFO(text);
    Result<TimePoint> r = ParseHttpDate(text);
    CHECK_FALSE(r.ok());
    if (!r.ok()) {
      CHECK(r.status().message().find(std::string("\"") + text + "\"") != std::string::npos);
    }
  }
}

TEST_CASE("ParseAnyDate tries ISO 8601 then RFC 822", "[time]") {
  CHECK(MustParse(ParseAnyDate("2026-11-22T06:59:15Z")) == Secs(k20261122T065915));
  CHECK(MustParse(ParseAnyDate("Sun, 22 Nov 2026 06:59:15 GMT")) == Secs(k20261122T065915));
  CHECK(MustParse(ParseAnyDate("22 Nov 2026 01:59:15 EST")) == Secs(k20261122T065915));
  CHECK(MustParse(ParseAnyDate("2026-11-22")) == Secs(k20261122T065915 - 6 * 3600 - 59 * 60 - 15));
  CHECK(MustParse(ParseAnyDate("Sun Nov  6 08:49:37 1994")) == Secs(k19941106T084937));

  Result<TimePoint> r = ParseAnyDate("next Tuesday");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kParseError);
  CHECK(r.status().message().find("\"next Tuesday\"") != std::string::npos);
  CHECK_FALSE(ParseAnyDate("2026-02-30").ok());
  CHECK_FALSE(ParseAnyDate("").ok());
}

TEST_CASE("FormatRfc3339 writes UTC with optional milliseconds", "[time]") {
  CHECK(FormatRfc3339(Secs(k20261122T065915)) == "2026-11-22T06:59:15Z");
  CHECK(FormatRfc3339(Secs(k20261122T065915) + Duration(250)) == "2026-11-22T06:59:15.250Z");
  CHECK(FormatRfc3339(Secs(k20261122T065915) + Duration(7)) == "2026-11-22T06:59:15.007Z");
  CHECK(FormatRfc3339(FromUnixMillis(0)) == "1970-01-01T00:00:00Z");
  CHECK(FormatRfc3339(FromUnixMillis(-1)) == "1969-12-31T23:59:59.999Z");
  CHECK(FormatRfc3339(Secs(1'709'164'800)) == "2024-02-29T00:00:00Z");
  CHECK(FormatRfc3339(Secs(951'868'800)) == "2000-03-01T00:00:00Z");
}

TEST_CASE("FormatHttpDate writes IMF-fixdate", "[time]") {
  CHECK(FormatHttpDate(Secs(k19941106T084937)) == "Sun, 06 Nov 1994 08:49:37 GMT");
  CHECK(FormatHttpDate(Secs(k20261122T065915)) == "Sun, 22 Nov 2026 06:59:15 GMT");
  CHECK(FormatHttpDate(Secs(1'709'164'800)) == "Thu, 29 Feb 2024 00:00:00 GMT");
  CHECK(FormatHttpDate(FromUnixMillis(0)) == "Thu, 01 Jan 1970 00:00:00 GMT");
  // Milliseconds are dropped, not rounded.
  CHECK(FormatHttpDate(Secs(k19941106T084937) + Duration(999)) == "Sun, 06 Nov 1994 08:49:37 GMT");
}

TEST_CASE("Formatted dates parse back to the same instant", "[time]") {
  for (int64_t ms : {int64_t{0}, int64_t{1'795'330'755'000}, int64_t{1'795'330'755'123},
                     int64_t{951'868'799'999}, int64_t{-86'400'000}, int64_t{4'102'444'800'000}}) {
    TimePoint t = FromUnixMillis(ms);
    INFO(ms);
    CHECK(MustParse(ParseIso8601(FormatRfc3339(t))) == t);
    TimePoint whole = std::chrono::floor<std::chrono::seconds>(t);
    CHECK(MustParse(ParseHttpDate(FormatHttpDate(t))) == whole);
    CHECK(MustParse(ParseRfc822(FormatHttpDate(t))) == whole);
  }
}

TEST_CASE("ParseDuration reads operator durations", "[time]") {
  auto ms = [](std::string_view text) -> int64_t {
    Result<Duration> r = ParseDuration(text);
    INFO(text << ": " << r.status().ToString());
    REQUIRE(r.ok());
    return r->count();
  };
  CHECK(ms("90s") == 90'000);
  CHECK(ms("5m") == 300'000);
  CHECK(ms("1h30m") == 5'400'000);
  CHECK(ms("250ms") == 250);
  CHECK(ms("2d") == 172'800'000);
  CHECK(ms("1w") == 604'800'000);
  CHECK(ms("90") == 90'000);
  CHECK(ms("0") == 0);
  CHECK(ms("0s") == 0);
  CHECK(ms("1h 30m 15s") == 5'415'000);
  CHECK(ms(" 15m ") == 900'000);
  CHECK(ms("1m500ms") == 60'500);
  CHECK(ms("1H") == 3'600'000);
  CHECK(ms("1d2h3m4s5ms") == 93'784'005);
}

TEST_CASE("ParseDuration rejects malformed durations", "[time]") {
  const char* bad[] = {"",
                       "  ",
                       "s",
                       "5x",
                       "-5s",
                       "1.5h",
                       "1h30",
                       "h1",
                       "5 m m",
                       "abc",
                       "5mins",
                       "99999999999999999999s",
                       "9999999999999999d"};
  for (const char* text : bad) {
    INFO(text);
    Result<Duration> r = ParseDuration(text);
    CHECK_FALSE(r.ok());
    if (!r.ok()) {
      CHECK(r.status().code() == StatusCode::kInvalidArgument);
      CHECK(r.status().message().find(std::string("\"") + text + "\"") != std::string::npos);
    }
  }
}

TEST_CASE("FormatDuration writes the largest units first", "[time]") {
  CHECK(FormatDuration(Duration(0)) == "0s");
  CHECK(FormatDuration(Duration(250)) == "250ms");
  CHECK(FormatDuration(Duration(90'000)) == "1m30s");
  CHECK(FormatDuration(Duration(5'400'000)) == "1h30m");
  CHECK(FormatDuration(Duration(172'800'000)) == "2d");
  CHECK(FormatDuration(Duration(93'784'005)) == "1d2h3m4s5ms");
  CHECK(FormatDuration(Duration(-1500)) == "-1s500ms");
  for (int64_t v :
       {int64_t{1}, int64_t{999}, int64_t{60'000}, int64_t{86'399'999}, int64_t{1'234'567'890}}) {
    INFO(v);
    Result<Duration> back = ParseDuration(FormatDuration(Duration(v)));
    REQUIRE(back.ok());
    CHECK(back->count() == v);
  }
}

}  // namespace
}  // namespace earshot
