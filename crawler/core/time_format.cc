#include "crawler/core/time_format.h"
#include "crawler/core/strings.h"

#include <array>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>

namespace earshot {

namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

// A forward-only reader over the date text; every Read* either consumes what
// it matched or leaves the position untouched and returns false/nullopt.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek(size_t ahead = 0) const {
    return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0';
  }
  size_t pos() const { return pos_; }
  void set_pos(size_t p) { pos_ = p; }

  bool Consume(char c) {
    if (Peek() != c || AtEnd()) return false;
    ++pos_;
    return true;
  }
  bool ConsumeNoCase(char c) {
    if (AtEnd() || AsciiLower(Peek()) != AsciiLower(c)) return false;
    ++pos_;
    return true;
  }
  // Skips spaces and tabs; returns whether at least one was skipped.
  bool SkipSpace() {
    size_t start = pos_;
    while (!AtEnd() && IsAsciiSpace(Peek())) ++pos_;
    return pos_ != start;
  }

  // Exactly `min_digits`..`max_digits` decimal digits.
  std::optional<int> ReadNumber(int min_digits, int max_digits, int* digits_read = nullptr) {
    size_t start = pos_;
    int value = 0;
    int n = 0;
    while (n < max_digits && !AtEnd() && IsDigit(Peek())) {
      value = value * 10 + (Peek() - '0');
      ++pos_;
      ++n;
    }
    if (n < min_digits || (!AtEnd() && IsDigit(Peek()))) {
      pos_ = start;
      return std::nullopt;
    }
    if (digits_read != nullptr) *digits_read = n;
    return value;
  }

  // Exactly `count` digits, whatever follows ("+0100" is two fields).
  std::optional<int> ReadFixed(int count) {
    int value = 0;
    for (int n = 0; n < count; ++n) {
      if (!IsDigit(Peek(static_cast<size_t>(n)))) return std::nullopt;
      value = value * 10 + (Peek(static_cast<size_t>(n)) - '0');
    }
    pos_ += static_cast<size_t>(count);
    return value;
  }

  std::string_view ReadWord() {
    size_t start = pos_;
    while (!AtEnd() && IsAlpha(Peek())) ++pos_;
    return text_.substr(start, pos_ - start);
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

constexpr std::array<std::string_view, 12> kMonthAbbrev = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 12> kMonthFull = {
    "January", "February", "March",     "April",   "May",      "June",
    "July",    "August",   "September", "October", "November", "December"};
constexpr std::array<std::string_view, 7> kWeekdayAbbrev = {"Sun", "Mon", "Tue", "Wed",
                                                            "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 7> kWeekdayFull = {
    "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};

// 1..12, or 0 when `word` names no month. "Sept" is common enough in feeds.
int MonthFromName(std::string_view word) {
  for (size_t i = 0; i < 12; ++i) {
    if (EqualsNoCase(word, kMonthAbbrev[i]) || EqualsNoCase(word, kMonthFull[i])) {
      return static_cast<int>(i) + 1;
    }
  }
  if (EqualsNoCase(word, "Sept")) return 9;
  return 0;
}

bool IsWeekdayName(std::string_view word) {
  for (size_t i = 0; i < 7; ++i) {
    if (EqualsNoCase(word, kWeekdayAbbrev[i]) || EqualsNoCase(word, kWeekdayFull[i])) {
      return true;
    }
  }
  return false;
}

// RFC 2822 §4.3: two-digit years below 50 are 20xx, the rest 19xx; three-digit
// years add 1900.
int WindowYear(int year, int digits) {
  if (digits == 2) return year < 50 ? 2000 + year : 1900 + year;
  if (digits == 3) return 1900 + year;
  return year;
}

struct Fields {
  int year = 1970;
  int month = 1;
  int day = 1;
  int hour = 0;
  int minute = 0;
  int second = 0;
  int millis = 0;
  int offset_minutes = 0;  // local time minus UTC
};

Status Invalid(std::string_view what, std::string_view text, std::string_view why) {
  std::string m;
  m.reserve(text.size() + what.size() + why.size() + 16);
  m.append("invalid ").append(what).append(" \"").append(text).append("\": ").append(why);
  return Status::ParseError(std::move(m));
}

// Range checks shared by every format; nullopt when all fields are valid.
std::optional<std::string_view> RangeError(Fields& f) {
  if (f.month < 1 || f.month > 12) return "month out of range";
  if (f.hour > 23) return "hour out of range";
  if (f.minute > 59) return "minute out of range";
  if (f.second > 60) return "second out of range";
  if (f.second == 60) f.second = 59;  // leap second: clamp, as documented
  std::chrono::year_month_day ymd{std::chrono::year(f.year),
                                  std::chrono::month(static_cast<unsigned>(f.month)),
                                  std::chrono::day(static_cast<unsigned>(f.day))};
  if (!ymd.ok()) return "day out of range for the month";
  return std::nullopt;
}

TimePoint ToTimePoint(const Fields& f) {
  std::chrono::year_month_day ymd{std::chrono::year(f.year),
                                  std::chrono::month(static_cast<unsigned>(f.month)),
                                  std::chrono::day(static_cast<unsigned>(f.day))};
  std::chrono::sys_days day_point{ymd};
  TimePoint t{std::chrono::duration_cast<Duration>(day_point.time_since_epoch())};
  t += hours(f.hour) + minutes(f.minute) + seconds(f.second) + Duration(f.millis);
  t -= minutes(f.offset_minutes);
  return t;
}

// "+01:00", "+0100", "+01", "-05:30"; returns false (nothing consumed) when
// the text there is not a numeric offset.
bool ReadNumericOffset(Scanner& s, int* offset_minutes, bool allow_short) {
  size_t start = s.pos();
  int sign = 0;
  if (s.Consume('+')) {
    sign = 1;
  } else if (s.Consume('-')) {
    sign = -1;
  } else {
    return false;
  }
  std::optional<int> hh = s.ReadFixed(2);
  if (!hh) {
    s.set_pos(start);
    return false;
  }
  int mm = 0;
  bool colon = s.Consume(':');
  std::optional<int> m = s.ReadNumber(2, 2);
  if (m) {
    mm = *m;
  } else if (colon || !allow_short) {
    s.set_pos(start);
    return false;
  }
  if (*hh > 23 || mm > 59) {
    s.set_pos(start);
    return false;
  }
  *offset_minutes = sign * (*hh * 60 + mm);
  return true;
}

// "12:34" or "12:34:56": hour and minute required, seconds optional.
bool ReadClock(Scanner& s, Fields& f, bool seconds_required) {
  size_t start = s.pos();
  std::optional<int> hh = s.ReadNumber(1, 2);
  if (!hh || !s.Consume(':')) {
    s.set_pos(start);
    return false;
  }
  std::optional<int> mm = s.ReadNumber(2, 2);
  if (!mm) {
    s.set_pos(start);
    return false;
  }
  f.hour = *hh;
  f.minute = *mm;
  f.second = 0;
  if (s.Consume(':')) {
    std::optional<int> ss = s.ReadNumber(2, 2);
    if (!ss) {
      s.set_pos(start);
      return false;
    }
    f.second = *ss;
  } else if (seconds_required) {
    s.set_pos(start);
    return false;
  }
  return true;
}

// RFC 822 / RFC 2822 zone names and military letters; nullopt if unknown.
std::optional<int> NamedZoneOffset(std::string_view name) {
  struct Zone {
    std::string_view name;
    int hours;
  };
  static constexpr Zone kZones[] = {
      {"UT", 0},   {"UTC", 0},  {"GMT", 0},  {"Z", 0},    {"EST", -5}, {"EDT", -4},
      {"CST", -6}, {"CDT", -5}, {"MST", -7}, {"MDT", -6}, {"PST", -8}, {"PDT", -7},
  };
  for (const Zone& z : kZones) {
    if (EqualsNoCase(name, z.name)) return z.hours * 60;
  }
  // RFC 2822 §4.3: military zone letters were defined with the wrong sign in
  // RFC 822, so they carry no information and are read as UTC. "J" is unused.
  if (name.size() == 1 && IsAlpha(name[0]) && AsciiLower(name[0]) != 'j') return 0;
  return std::nullopt;
}

// Zone of an RFC 822 date: a numeric offset ("+0100"; "+01:00" is accepted
// because feeds write it) or a name. Absent means UTC.
bool ReadRfc822Zone(Scanner& s, Fields& f) {
  if (s.AtEnd()) return true;
  if (ReadNumericOffset(s, &f.offset_minutes, /*allow_short=*/false)) return true;
  size_t start = s.pos();
  std::string_view word = s.ReadWord();
  std::optional<int> offset = NamedZoneOffset(word);
  if (!offset) {
    s.set_pos(start);
    return false;
  }
  f.offset_minutes = *offset;
  return true;
}

// An RFC 2822 trailing comment such as "(EST)" or "(Coordinated Universal Time)".
void SkipComment(Scanner& s) {
  s.SkipSpace();
  if (s.Peek() != '(') return;
  int depth = 0;
  while (!s.AtEnd()) {
    char c = s.Peek();
    s.set_pos(s.pos() + 1);
    if (c == '(') ++depth;
    if (c == ')' && --depth == 0) break;
  }
  s.SkipSpace();
}

Result<TimePoint> Finish(std::string_view what, std::string_view text, Fields& f) {
  if (auto err = RangeError(f)) return Invalid(what, text, *err);
  return ToTimePoint(f);
}

// "Sun, 06 Nov 1994 08:49:37 GMT" and the lenient variants feeds write.
Result<TimePoint> ParseRfc822Impl(std::string_view original, std::string_view what) {
  std::string_view text = TrimAsciiSpace(original);
  Scanner s(text);
  Fields f;
  size_t start = s.pos();
  std::string_view word = s.ReadWord();
  if (!word.empty()) {
    if (!IsWeekdayName(word)) return Invalid(what, original, "unknown weekday");
    s.Consume(',');
    s.SkipSpace();
  } else {
    s.set_pos(start);
  }
  std::optional<int> day = s.ReadNumber(1, 2);
  if (!day) return Invalid(what, original, "expected a day of the month");
  f.day = *day;
  // "06-Nov-1994" is not RFC 822 but appears with the RFC 850 form.
  bool dashed = s.Consume('-');
  if (!dashed && !s.SkipSpace()) return Invalid(what, original, "expected a month name");
  f.month = MonthFromName(s.ReadWord());
  if (f.month == 0) return Invalid(what, original, "unknown month name");
  if (dashed ? !s.Consume('-') : !s.SkipSpace()) {
    return Invalid(what, original, "expected a year");
  }
  int year_digits = 0;
  std::optional<int> year = s.ReadNumber(2, 4, &year_digits);
  if (!year) return Invalid(what, original, "expected a 2- or 4-digit year");
  f.year = WindowYear(*year, year_digits);
  if (!s.SkipSpace()) return Invalid(what, original, "expected a time of day");
  if (!ReadClock(s, f, /*seconds_required=*/false)) {
    return Invalid(what, original, "expected a time of day hh:mm[:ss]");
  }
  s.SkipSpace();
  if (!ReadRfc822Zone(s, f)) return Invalid(what, original, "unknown time zone");
  SkipComment(s);
  if (!s.AtEnd()) return Invalid(what, original, "unexpected text after the date");
  return Finish(what, original, f);
}

// RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT" and asctime "Sun Nov  6 08:49:37 1994".
Result<TimePoint> ParseObsoleteHttpDate(std::string_view original) {
  std::string_view text = TrimAsciiSpace(original);
  Scanner s(text);
  Fields f;
  std::string_view weekday = s.ReadWord();
  if (!IsWeekdayName(weekday)) return Invalid("HTTP date", original, "unknown weekday");
  if (s.Consume(',')) {
    // RFC 850: the dashed day-month-year form.
    s.SkipSpace();
    std::optional<int> day = s.ReadNumber(1, 2);
    if (!day || !s.Consume('-')) return Invalid("HTTP date", original, "expected dd-Mon-yy");
    f.day = *day;
    f.month = MonthFromName(s.ReadWord());
    if (f.month == 0 || !s.Consume('-')) {
      return Invalid("HTTP date", original, "expected dd-Mon-yy");
    }
    int digits = 0;
    std::optional<int> year = s.ReadNumber(2, 4, &digits);
    if (!year) return Invalid("HTTP date", original, "expected a year");
    f.year = WindowYear(*year, digits);
    if (!s.SkipSpace() || !ReadClock(s, f, /*seconds_required=*/true)) {
      return Invalid("HTTP date", original, "expected a time of day hh:mm:ss");
    }
    s.SkipSpace();
    std::string_view zone = s.ReadWord();
    if (!EqualsNoCase(zone, "GMT") || !s.AtEnd()) {
      return Invalid("HTTP date", original, "expected GMT at the end");
    }
    return Finish("HTTP date", original, f);
  }
  // asctime: weekday month day time year.
  if (!s.SkipSpace()) return Invalid("HTTP date", original, "expected a month name");
  f.month = MonthFromName(s.ReadWord());
  if (f.month == 0 || !s.SkipSpace()) return Invalid("HTTP date", original, "unknown month name");
  std::optional<int> day = s.ReadNumber(1, 2);
  if (!day) return Invalid("HTTP date", original, "expected a day of the month");
  f.day = *day;
  if (!s.SkipSpace() || !ReadClock(s, f, /*seconds_required=*/true)) {
    return Invalid("HTTP date", original, "expected a time of day hh:mm:ss");
  }
  if (!s.SkipSpace()) return Invalid("HTTP date", original, "expected a year");
  std::optional<int> year = s.ReadNumber(4, 4);
  if (!year) return Invalid("HTTP date", original, "expected a 4-digit year");
  f.year = *year;
  s.SkipSpace();
  if (!s.AtEnd()) {
    // Some servers append "GMT" to asctime; harmless.
    std::string_view zone = s.ReadWord();
    if (!EqualsNoCase(zone, "GMT") || !s.AtEnd()) {
      return Invalid("HTTP date", original, "unexpected text after the date");
    }
  }
  return Finish("HTTP date", original, f);
}

bool AddChecked(int64_t a, int64_t b, int64_t* out) { return !__builtin_add_overflow(a, b, out); }
bool MulChecked(int64_t a, int64_t b, int64_t* out) { return !__builtin_mul_overflow(a, b, out); }

}  // namespace

Result<TimePoint> ParseIso8601(std::string_view original) {
  constexpr std::string_view kWhat = "ISO 8601 date";
  std::string_view text = TrimAsciiSpace(original);
  Scanner s(text);
  Fields f;
  std::optional<int> year = s.ReadNumber(4, 4);
  if (!year || !s.Consume('-')) return Invalid(kWhat, original, "expected YYYY-MM-DD");
  std::optional<int> month = s.ReadNumber(2, 2);
  if (!month || !s.Consume('-')) return Invalid(kWhat, original, "expected YYYY-MM-DD");
  std::optional<int> day = s.ReadNumber(2, 2);
  if (!day) return Invalid(kWhat, original, "expected YYYY-MM-DD");
  f.year = *year;
  f.month = *month;
  f.day = *day;
  if (s.AtEnd()) return Finish(kWhat, original, f);

  if (!s.ConsumeNoCase('T') && !s.Consume(' ')) {
    return Invalid(kWhat, original, "expected 'T' or a space before the time");
  }
  std::optional<int> hh = s.ReadNumber(2, 2);
  if (!hh || !s.Consume(':')) return Invalid(kWhat, original, "expected hh:mm");
  std::optional<int> mm = s.ReadNumber(2, 2);
  if (!mm) return Invalid(kWhat, original, "expected hh:mm");
  f.hour = *hh;
  f.minute = *mm;
  if (s.Consume(':')) {
    std::optional<int> ss = s.ReadNumber(2, 2);
    if (!ss) return Invalid(kWhat, original, "expected two-digit seconds");
    f.second = *ss;
    if (s.Consume('.') || s.Consume(',')) {
      int digits = 0;
      int millis = 0;
      while (!s.AtEnd() && IsDigit(s.Peek())) {
        if (digits < 3) millis = millis * 10 + (s.Peek() - '0');
        ++digits;
        s.set_pos(s.pos() + 1);
      }
      if (digits == 0) return Invalid(kWhat, original, "expected digits after the decimal point");
      for (int d = digits; d < 3; ++d) millis *= 10;
      f.millis = millis;
    }
  }
  // A space before the zone ("2026-11-22 06:59:15 +0100") is seen in feeds.
  s.SkipSpace();
  if (s.AtEnd()) return Finish(kWhat, original, f);
  if (s.ConsumeNoCase('Z')) {
    f.offset_minutes = 0;
  } else if (ReadNumericOffset(s, &f.offset_minutes, /*allow_short=*/true)) {
    // offset read
  } else {
    std::string_view word = s.ReadWord();
    if (!EqualsNoCase(word, "UTC") && !EqualsNoCase(word, "GMT")) {
      return Invalid(kWhat, original, "expected Z or a numeric UTC offset");
    }
  }
  if (!s.AtEnd()) return Invalid(kWhat, original, "unexpected text after the date");
  return Finish(kWhat, original, f);
}

Result<TimePoint> ParseRfc822(std::string_view text) {
  return ParseRfc822Impl(text, "RFC 822 date");
}

Result<TimePoint> ParseHttpDate(std::string_view text) {
  // IMF-fixdate is a strict subset of RFC 822; RFC 9110 asks recipients to be
  // robust, so numeric offsets and missing weekdays are tolerated too.
  Result<TimePoint> imf = ParseRfc822Impl(text, "HTTP date");
  if (imf.ok()) return imf;
  Result<TimePoint> obsolete = ParseObsoleteHttpDate(text);
  if (obsolete.ok()) return obsolete;
  std::string m = "invalid HTTP date \"";
  m.append(text).append("\": not an IMF-fixdate, RFC 850 or asctime date");
  return Status::ParseError(std::move(m));
}

Result<TimePoint> ParseAnyDate(std::string_view text) {
  Result<TimePoint> iso = ParseIso8601(text);
  if (iso.ok()) return iso;
  Result<TimePoint> rfc = ParseRfc822(text);
  if (rfc.ok()) return rfc;
  Result<TimePoint> obsolete = ParseObsoleteHttpDate(text);
  if (obsolete.ok()) return obsolete;
  // Each message is 'invalid <format> "<text>": <reason>'; keep the reasons.
  auto reason = [&](const Status& st) {
    std::string_view m = st.message();
    size_t at = m.find("\": ", m.find('"') + 1 + text.size());
    return at == std::string_view::npos ? m : m.substr(at + 3);
  };
  std::string m = "invalid date \"";
  m.append(text).append("\": not ISO 8601 (").append(reason(iso.status()));
  m.append(") nor RFC 822 (").append(reason(rfc.status())).append(")");
  return Status::ParseError(std::move(m));
}

namespace {
struct Civil {
  std::chrono::year_month_day ymd;
  std::chrono::weekday weekday;
  int64_t ms_of_day;
};

Civil ToCivil(TimePoint t) {
  auto day_point = std::chrono::floor<days>(t);
  Civil c{std::chrono::year_month_day{day_point}, std::chrono::weekday{day_point},
          (t - day_point).count()};
  return c;
}
}  // namespace

std::string FormatRfc3339(TimePoint t) {
  Civil c = ToCivil(t);
  int64_t ms = c.ms_of_day;
  char buf[64];
  int n = std::snprintf(buf, sizeof(buf), "%04d-%02u-%02uT%02d:%02d:%02d",
                        static_cast<int>(c.ymd.year()), static_cast<unsigned>(c.ymd.month()),
                        static_cast<unsigned>(c.ymd.day()), static_cast<int>(ms / 3'600'000),
                        static_cast<int>(ms / 60'000 % 60), static_cast<int>(ms / 1000 % 60));
  std::string out(buf, static_cast<size_t>(n));
  if (ms % 1000 != 0) {
    n = std::snprintf(buf, sizeof(buf), ".%03d", static_cast<int>(ms % 1000));
    out.append(buf, static_cast<size_t>(n));
  }
  out += 'Z';
  return out;
}

std::string FormatHttpDate(TimePoint t) {
  Civil c = ToCivil(t);
  int64_t ms = c.ms_of_day;
  char buf[64];
  int n = std::snprintf(buf, sizeof(buf), "%s, %02u %s %04d %02d:%02d:%02d GMT",
                        kWeekdayAbbrev[c.weekday.c_encoding()].data(),
                        static_cast<unsigned>(c.ymd.day()),
                        kMonthAbbrev[static_cast<unsigned>(c.ymd.month()) - 1].data(),
                        static_cast<int>(c.ymd.year()), static_cast<int>(ms / 3'600'000),
                        static_cast<int>(ms / 60'000 % 60), static_cast<int>(ms / 1000 % 60));
  return std::string(buf, static_cast<size_t>(n));
}

Result<Duration> ParseDuration(std::string_view original) {
  std::string_view text = TrimAsciiSpace(original);
  auto invalid = [&](std::string_view why) -> Status {
    std::string m = "invalid duration \"";
    m.append(original).append("\": ").append(why);
    return Status::InvalidArgument(std::move(m));
  };
  if (text.empty()) return invalid("empty");
  int64_t total = 0;
  size_t i = 0;
  bool any = false;
  while (i < text.size()) {
    if (IsAsciiSpace(text[i])) {
      ++i;
      continue;
    }
    if (!IsDigit(text[i])) return invalid("expected a number");
    int64_t value = 0;
    while (i < text.size() && IsDigit(text[i])) {
      if (!MulChecked(value, 10, &value) || !AddChecked(value, text[i] - '0', &value)) {
        return invalid("too large");
      }
      ++i;
    }
    size_t unit_start = i;
    while (i < text.size() && IsAlpha(text[i])) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    int64_t scale = 0;
    if (unit.empty()) {
      // A bare integer means seconds, but only as the whole text: "1h30" is
      // more likely a typo than 1 hour 30 seconds.
      if (any || i != text.size()) return invalid("number without a unit");
      scale = 1000;
    } else if (EqualsNoCase(unit, "ms")) {
      scale = 1;
    } else if (EqualsNoCase(unit, "s")) {
      scale = 1000;
    } else if (EqualsNoCase(unit, "m")) {
      scale = 60'000;
    } else if (EqualsNoCase(unit, "h")) {
      scale = 3'600'000;
    } else if (EqualsNoCase(unit, "d")) {
      scale = 86'400'000;
    } else if (EqualsNoCase(unit, "w")) {
      scale = 7 * 86'400'000LL;
    } else {
      return invalid("unknown unit (use ms, s, m, h, d or w)");
    }
    int64_t part = 0;
    if (!MulChecked(value, scale, &part) || !AddChecked(total, part, &total)) {
      return invalid("too large");
    }
    any = true;
  }
  return Duration(total);
}

std::string FormatDuration(Duration d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  uint64_t rest;
  if (ms < 0) {
    out += '-';
    rest = static_cast<uint64_t>(-(ms + 1)) + 1;  // safe for INT64_MIN
  } else {
    rest = static_cast<uint64_t>(ms);
  }
  struct Unit {
    uint64_t ms;
    const char* suffix;
  };
  static constexpr Unit kUnits[] = {
      {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}, {1, "ms"}};
  for (const Unit& u : kUnits) {
    uint64_t n = rest / u.ms;
    rest %= u.ms;
    if (n == 0) continue;
    out += std::to_string(n);
    out += u.suffix;
  }
  return out;
}

}  // namespace earshot
