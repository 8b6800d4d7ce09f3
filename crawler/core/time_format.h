// Parsing and formatting of the timestamps that platforms and HTTP use.
// Pure functions; every result is UTC.
#pragma once

#include <string>
#include <string_view>

#include "crawler/core/clock.h"
#include "crawler/core/status.h"

namespace earshot {

// ISO 8601 / RFC 3339 and the variants seen in feeds and APIs:
// "2026-11-22T06:59:15Z", "...15.123456+01:00", "+0100", "+01", lower-case
// 't'/'z', a space instead of 'T', no seconds, and date-only "2026-11-22"
// (midnight UTC). An absent offset means UTC. Fractions beyond milliseconds
// are truncated. Leap second 60 is clamped to 59.
Result<TimePoint> ParseIso8601(std::string_view text);

// RFC 822 / RFC 2822 dates as written in RSS: "Sun, 22 Nov 2026 06:59:15 GMT",
// optional weekday, 2- or 4-digit years (RFC 2822 windowing: <50 is 20xx),
// optional seconds, numeric offsets and the RFC 822 zone names (UT, GMT,
// EST/EDT, CST/CDT, MST/MDT, PST/PDT, Z, military letters as UTC).
Result<TimePoint> ParseRfc822(std::string_view text);

// HTTP-date (RFC 9110 §5.6.7): IMF-fixdate, the obsolete RFC 850 form and
// asctime().
Result<TimePoint> ParseHttpDate(std::string_view text);

// Tries ISO 8601 then RFC 822: for feeds, whose authors mix them freely.
Result<TimePoint> ParseAnyDate(std::string_view text);

// "2026-11-22T06:59:15Z" (milliseconds shown only when non-zero:
// "2026-11-22T06:59:15.250Z").
std::string FormatRfc3339(TimePoint t);

// "Sun, 22 Nov 2026 06:59:15 GMT" (IMF-fixdate).
std::string FormatHttpDate(TimePoint t);

// Durations as operators write them: "90s", "5m", "1h30m", "250ms", "2d";
// a bare integer is seconds.
Result<Duration> ParseDuration(std::string_view text);
std::string FormatDuration(Duration d);

}  // namespace earshot
