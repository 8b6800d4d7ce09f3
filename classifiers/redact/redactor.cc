// Redaction in three steps: a byte scan decides which kinds could occur at
// all (most posts have no long digit run, no '@' and no birth cue, and leave
// here untouched); RE2 finds candidate spans of those kinds; C++ validates
// each candidate (check digit, numbering plan, postcode areas, calendar) and
// resolves overlaps before the placeholders are written. The decisions are
// documented in docs/rules.md ("Redaction").
#include "classifiers/redact/redactor.h"

#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdlib>
#include <initializer_list>
#include <memory>
#include <string>

namespace earshot::redact {
namespace {

// Lower rank = more specific; it breaks ties between equally long spans.
enum class Kind : uint8_t { kNhsNumber, kEmail, kPhone, kPostcode, kDateOfBirth };

constexpr std::array<std::string_view, 5> kKindNames = {"nhs_number", "email", "phone", "postcode",
                                                        "date_of_birth"};
constexpr std::array<std::string_view, 5> kPlaceholders = {"[NHS number]", "[email]", "[phone]",
                                                           "[postcode]", "[date of birth]"};

struct Candidate {
  size_t start;
  size_t end;
  Kind kind;
  size_t found_length;  // before merging; decides whose kind a merged span keeps
};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAsciiAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// Patterns are matched byte-wise (Latin-1), so "\xC2\xA0" is the UTF-8
// no-break space as two bytes and \b means an ASCII word boundary.
std::unique_ptr<RE2> Compile(const std::string& pattern, bool case_insensitive = false) {
  RE2::Options options;
  options.set_encoding(RE2::Options::EncodingLatin1);
  options.set_never_capture(true);
  options.set_case_sensitive(!case_insensitive);
  options.set_log_errors(false);
  auto re = std::make_unique<RE2>(pattern, options);
  if (!re->ok()) std::abort();  // a programming error in a constant below
  return re;
}

// One separator inside a number: space, hyphen, dot or no-break space.
constexpr std::string_view kNumberSeparator = "(?:[ \\-.]|\\xC2\\xA0)";

const RE2& NhsPattern() {
  // 3-3-4 with optional spaces, hyphens or no-break spaces, or 10 contiguous.
  static const RE2* re =
      Compile("\\d{3}(?:[ \\-]|\\xC2\\xA0)?\\d{3}(?:[ \\-]|\\xC2\\xA0)?\\d{4}").release();
  return *re;
}

// Alternatives joined into one pattern.
std::string AnyOf(std::initializer_list<std::string> alternatives) {
  std::string pattern;
  for (const std::string& alternative : alternatives) {
    if (!pattern.empty()) pattern += '|';
    pattern += alternative;
  }
  return pattern;
}

const RE2& PhonePattern() {
  // A phone-shaped run: an optional +44 / 0044 / (+44) prefix with an
  // optional "(0)", or a bracketed national area code, or a 0; then digits
  // joined by up to two separators. Which leading groups form the number,
  // and whether it stands apart from other digits, is decided in C++. The
  // run is bounded (15 digits) so that retrying from each start stays linear
  // on hostile input. No word boundary is required before it: "mob07700
  // 900123" is still a phone number.
  static const RE2* re = [] {
    const std::string sep(kNumberSeparator);
    const std::string joined_digit = "(?:" + sep + "{0,2}\\d)";
    return Compile(AnyOf({
                       "(?:(?:\\+|00)44|\\(\\+44\\))" + sep + "?(?:\\(0\\)" + sep + "?)?\\d" +
                           joined_digit + "{0,14}",
                       "\\(0\\d{1,5}\\)" + sep + "?\\d" + joined_digit + "{0,12}",
                       "0" + joined_digit + "{1,14}",
                   }))
        .release();
  }();
  return *re;
}

const RE2& EmailPattern() {
  // A practical subset of RFC 5322's addr-spec: dot-atoms of letters (ASCII,
  // and the accented ones of U+00C0-U+017F in UTF-8), digits and _%+-' but
  // none of the characters that also delimit URLs and prose; a domain of
  // labels ending in an alphabetic TLD.
  static const RE2* re = [] {
    const std::string accented = "[\\xC3-\\xC5][\\x80-\\xBF]";
    const std::string atom = "(?:[A-Za-z0-9_%+\\-']|" + accented + ")";
    const std::string first = "(?:[A-Za-z0-9_%+\\-]|" + accented + ")";
    return Compile(first + atom + "*(?:\\." + atom + "+)*" +
                   "@(?:[A-Za-z0-9](?:[A-Za-z0-9\\-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z]{2,63}\\b")
        .release();
  }();
  return *re;
}

const RE2& PostcodePattern() {
  static const RE2* re =
      Compile("\\b[A-Z]{1,2}\\d[A-Z\\d]?(?: {1,2}|\\xC2\\xA0)?\\d[A-Z]{2}\\b", true).release();
  return *re;
}

const RE2& BirthCuePattern() {
  static const RE2* re =
      Compile("\\b(?:d\\.? ?o\\.? ?b\\b\\.?|date\\s+of\\s+birth|birth ?date|birthday|born|b\\.)",
              true)
          .release();
  return *re;
}

const RE2& DatePattern() {
  static const RE2* re = [] {
    const std::string month =
        "(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
        "sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)";
    const std::string ordinal = "(?:st|nd|rd|th)";
    return Compile(AnyOf({
                       // ISO, and numeric day/month/year in either order (validated later).
                       "\\b\\d{4}[/.\\-]\\d{1,2}[/.\\-]\\d{1,2}\\b",
                       "\\b\\d{1,2}[/.\\-]\\d{1,2}[/.\\-]\\d{2}(?:\\d{2})?\\b",
                       // 3rd March 1956, 3 of March, 03-Mar-56.
                       "\\b\\d{1,2}" + ordinal + "?(?:\\s+of)?[\\s\\-]+" + month +
                           "\\b\\.?(?:,?[\\s\\-]+(?:\\d{4}|'?\\d{2})\\b)?",
                       // March 3, 1956 and March 3rd.
                       "\\b" + month + "\\b\\.?\\s+\\d{1,2}" + ordinal + "?\\b(?:,?\\s+\\d{4}\\b)?",
                       // March 1956.
                       "\\b" + month + "\\b\\.?,?\\s+\\d{4}\\b",
                   }),
                   true)
        .release();
  }();
  return *re;
}

// Runs `re` from `pos`; \b and the like still see the bytes before `pos`.
bool FindFrom(const RE2& re, std::string_view text, size_t pos, size_t* start, size_t* end) {
  if (pos > text.size()) return false;
  re2::StringPiece match;
  if (!re.Match(re2::StringPiece(text.data(), text.size()), pos, text.size(), RE2::UNANCHORED,
                &match, 1)) {
    return false;
  }
  *start = static_cast<size_t>(match.data() - text.data());
  *end = *start + match.size();
  return true;
}

// A number touching another digit, directly or across a decimal point or
// thousands comma ("3.9434765919", "9434765919,5"), is part of a longer
// number and not an identifier.
bool StandsAlone(std::string_view text, size_t start, size_t end) {
  if (start > 0) {
    char before = text[start - 1];
    if (IsDigit(before)) return false;
    if ((before == '.' || before == ',') && start > 1 && IsDigit(text[start - 2])) return false;
  }
  if (end < text.size()) {
    char after = text[end];
    if (IsDigit(after)) return false;
    if ((after == '.' || after == ',') && end + 1 < text.size() && IsDigit(text[end + 1])) {
      return false;
    }
  }
  return true;
}

// ---- NHS numbers -----------------------------------------------------------

void FindNhsNumbers(std::string_view text, std::vector<Candidate>* out) {
  size_t pos = 0, start = 0, end = 0;
  while (FindFrom(NhsPattern(), text, pos, &start, &end)) {
    char digits[10];
    size_t count = 0;
    for (size_t i = start; i < end && count < 10; ++i) {
      if (IsDigit(text[i])) digits[count++] = text[i];
    }
    if (count == 10 && StandsAlone(text, start, end) &&
        IsValidNhsNumber(std::string_view(digits, 10))) {
      out->push_back({start, end, Kind::kNhsNumber, end - start});
      pos = end;
    } else {
      pos = start + 1;  // a later start may still hold a number
    }
  }
}

// ---- Phone numbers ---------------------------------------------------------

struct Group {
  size_t start;
  size_t end;
  bool dot_before = false;    // the separator before this group has a dot
  bool other_before = false;  // ... or a space, hyphen or no-break space
};

// Length of a separator at `i` (0 when there is none).
size_t SeparatorAt(std::string_view text, size_t i) {
  if (i >= text.size()) return 0;
  char c = text[i];
  if (c == ' ' || c == '-' || c == '.') return 1;
  if (c == '\xC2' && i + 1 < text.size() && text[i + 1] == '\xA0') return 2;
  return 0;
}

// Total length of a UK national number (with its leading 0) that is valid
// for the digit after the 0, per Ofcom's numbering plan.
bool ValidNationalLength(char first, size_t length) {
  switch (first) {
    case '1':
    case '5':
    case '8':
      return length == 10 || length == 11;
    case '2':
    case '3':
    case '7':
    case '9':
      return length == 11;
    default:  // 00 is an international prefix; 04 and 06 are unused
      return false;
  }
}

// The end of the phone number a candidate span starts with, or 0 if none.
// `[start, end)` is a PhonePattern match.
size_t ValidPhoneEnd(std::string_view text, size_t start, size_t end) {
  size_t i = start;
  bool international = false;
  if (text.compare(i, 4, "(+44") == 0) {
    international = true;
    i += 5;  // "(+44)"
  } else if (text[i] == '+') {
    international = true;
    i += 3;
  } else if (text.compare(i, 4, "0044") == 0) {
    international = true;
    i += 4;
  }
  if (international) {
    i += SeparatorAt(text, i);
    if (text.compare(i, 3, "(0)") == 0) {
      i += 3;
      i += SeparatorAt(text, i);
    }
  }
  const bool bracketed = !international && text[i] == '(';
  if (bracketed) ++i;

  // Digit groups and the separators between them.
  constexpr size_t kMaxGroups = 8;
  std::array<Group, kMaxGroups> groups{};
  size_t group_count = 0;
  bool dot = false, other = false;
  while (i < end && group_count < kMaxGroups) {
    size_t g = i;
    while (i < end && IsDigit(text[i])) ++i;
    groups[group_count++] = {g, i, dot, other};
    dot = other = false;
    while (i < end && !IsDigit(text[i])) {
      if (text[i] == '.') {
        dot = true;
      } else if (text[i] != ')') {
        other = true;
      }
      ++i;
    }
  }
  if (group_count == 0) return 0;

  // "+44 (0)114" and "+44 0114": the trunk 0 is not part of the number.
  size_t skip_digits = 0;
  if (international && text[groups[0].start] == '0') {
    if (groups[0].end - groups[0].start == 1) {
      std::copy(groups.begin() + 1, groups.begin() + group_count, groups.begin());
      if (--group_count == 0) return 0;
    } else {
      skip_digits = 1;
    }
  }
  if (!international && text[groups[0].start] != '0') return 0;
  // The digit after the (implied) trunk 0, which fixes the length.
  size_t first_at = groups[0].start + (international ? skip_digits : 1);
  if (first_at >= groups[0].end) {
    if (group_count < 2) return 0;
    first_at = groups[1].start;
  }
  const char first = text[first_at];
  const size_t first_length = groups[0].end - groups[0].start;

  size_t best_end = 0, digits = international ? 1 : 0;  // count the implied 0
  bool dots = false, others = false;
  for (size_t k = 0; k < group_count && k < 4; ++k) {
    size_t length = groups[k].end - groups[k].start - (k == 0 ? skip_digits : 0);
    // A later group of one digit is a separate number ("... 4343 5 times").
    if (k > 0 && length < 2) break;
    if (k > 0) dots |= groups[k].dot_before, others |= groups[k].other_before;
    // Dots only as the sole separator ("0114.243.4343"): mixed with spaces
    // they are prose or dates ("on 01.02.2025 10 ...").
    if (dots && others) break;
    digits += length;
    if (digits > 11) break;
    if (!ValidNationalLength(first, digits)) continue;
    // A national number written in groups starts with a code of at least 3
    // digits ("020", "0114", "07700"), unless bracketed or international:
    // "0 7700 ..." and "01.02.2025 10" are not numbers people write.
    if (!international && !bracketed && k > 0 && first_length < 3) continue;
    best_end = groups[k].end;
  }
  return best_end;
}

void FindPhones(std::string_view text, std::vector<Candidate>* out) {
  size_t pos = 0, start = 0, end = 0;
  while (FindFrom(PhonePattern(), text, pos, &start, &end)) {
    size_t number_end = ValidPhoneEnd(text, start, end);
    if (number_end != 0 && StandsAlone(text, start, number_end)) {
      out->push_back({start, number_end, Kind::kPhone, number_end - start});
      pos = number_end;
    } else {
      pos = start + 1;
    }
  }
}

// ---- Email addresses -------------------------------------------------------

void FindEmails(std::string_view text, std::vector<Candidate>* out) {
  size_t pos = 0, start = 0, end = 0;
  while (FindFrom(EmailPattern(), text, pos, &start, &end)) {
    // "@alice@social.example" is a fediverse handle: a public identity on
    // the platform, kept like any other @mention.
    if (start == 0 || text[start - 1] != '@') {
      out->push_back({start, end, Kind::kEmail, end - start});
    }
    pos = end;
  }
}

// ---- Postcodes -------------------------------------------------------------

// Royal Mail postcode areas (plus Crown Dependencies and the non-geographic
// BF and BX), sorted for binary search.
constexpr std::array<std::string_view, 126> kPostcodeAreas = {
    "AB", "AL", "B",  "BA", "BB", "BD", "BF", "BH", "BL", "BN", "BR", "BS", "BT", "BX", "CA", "CB",
    "CF", "CH", "CM", "CO", "CR", "CT", "CV", "CW", "DA", "DD", "DE", "DG", "DH", "DL", "DN", "DT",
    "DY", "E",  "EC", "EH", "EN", "EX", "FK", "FY", "G",  "GL", "GU", "GY", "HA", "HD", "HG", "HP",
    "HR", "HS", "HU", "HX", "IG", "IM", "IP", "IV", "JE", "KA", "KT", "KW", "KY", "L",  "LA", "LD",
    "LE", "LL", "LN", "LS", "LU", "M",  "ME", "MK", "ML", "N",  "NE", "NG", "NN", "NP", "NR", "NW",
    "OL", "OX", "PA", "PE", "PH", "PL", "PO", "PR", "RG", "RH", "RM", "S",  "SA", "SE", "SG", "SK",
    "SL", "SM", "SN", "SO", "SP", "SR", "SS", "ST", "SW", "SY", "TA", "TD", "TF", "TN", "TQ", "TR",
    "TS", "TW", "UB", "W",  "WA", "WC", "WD", "WF", "WN", "WR", "WS", "WV", "YO", "ZE"};

bool IsPostcodeArea(std::string_view upper) {
  return std::binary_search(kPostcodeAreas.begin(), kPostcodeAreas.end(), upper);
}

bool IsOrdinal(char digit, char a, char b) {
  switch (digit) {
    case '1':
      return a == 's' && b == 't';
    case '2':
      return a == 'n' && b == 'd';
    case '3':
      return a == 'r' && b == 'd';
    default:
      return a == 't' && b == 'h';
  }
}

bool ValidPostcode(std::string_view span) {
  char compact[8];
  size_t n = 0;
  bool has_lower = false;
  for (char c : span) {
    if (c == ' ' || c == '\xC2' || c == '\xA0') continue;
    if (n == sizeof compact) return false;
    if (c >= 'a' && c <= 'z') {
      has_lower = true;
      c = static_cast<char>(c - 32);
    }
    compact[n++] = c;
  }
  if (n < 5 || n > 7) return false;
  // Inward code: a digit and two letters, never C, I, K, M, O or V.
  const char* inward = compact + n - 3;
  for (int k = 1; k <= 2; ++k) {
    if (std::string_view("CIKMOV").find(inward[k]) != std::string_view::npos) return false;
  }
  // "the M1 1st", "b1 2nd": an ordinal written in lower case is prose.
  if (has_lower &&
      IsOrdinal(inward[0], Lower(span[span.size() - 2]), Lower(span[span.size() - 1]))) {
    return false;
  }
  std::string_view outward(compact, n - 3);
  size_t letters = IsAsciiAlpha(outward[1]) ? 2 : 1;
  if (!IsPostcodeArea(outward.substr(0, letters))) return false;
  std::string_view district = outward.substr(letters);  // "9", "99" or "9A"
  if (district.size() == 2 && IsAsciiAlpha(district[1])) {
    std::string_view allowed = letters == 1 ? "ABCDEFGHJKPSTUW" : "ABEHMNPRVWXY";
    if (allowed.find(district[1]) == std::string_view::npos) return false;
  }
  return true;
}

// "M1 8pl.kezz@example.org", "S5 2LT@x.uk": the letters run on into an
// email address's local part, so they are not a postcode.
bool ContinuesAsAddress(std::string_view text, size_t end) {
  constexpr size_t kMaxLocalPart = 64;  // RFC 5321's limit
  for (size_t i = end; i < text.size() && i < end + kMaxLocalPart; ++i) {
    const char c = text[i];
    if (c == '@') return true;
    if (!IsAsciiAlpha(c) && !IsDigit(c) &&
        std::string_view("._%+-'").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return false;
}

void FindPostcodes(std::string_view text, std::vector<Candidate>* out) {
  size_t pos = 0, start = 0, end = 0;
  while (FindFrom(PostcodePattern(), text, pos, &start, &end)) {
    if (ValidPostcode(text.substr(start, end - start)) && !ContinuesAsAddress(text, end)) {
      out->push_back({start, end, Kind::kPostcode, end - start});
      pos = end;
    } else {
      pos = start + 1;
    }
  }
}

// ---- Dates of birth --------------------------------------------------------

// Calendar sanity of a DatePattern match: day 1-31, month 1-12 (numeric
// dates in either day/month order), four-digit years 1880-2099.
bool PlausibleDate(std::string_view span) {
  std::array<int, 3> numbers{};
  std::array<size_t, 3> widths{};
  size_t count = 0;
  bool month_name = false;  // only the textual forms have letters
  for (size_t i = 0; i < span.size();) {
    if (!IsDigit(span[i])) {
      month_name |= IsAsciiAlpha(span[i]);
      ++i;
      continue;
    }
    int value = 0;
    size_t width = 0;
    for (; i < span.size() && IsDigit(span[i]); ++i, ++width) value = value * 10 + (span[i] - '0');
    if (count == numbers.size()) return false;
    numbers[count] = value;
    widths[count++] = width;
  }
  auto year_ok = [](int value, size_t width) {
    return width != 4 || (value >= 1880 && value <= 2099);
  };
  auto day_ok = [](int value) { return value >= 1 && value <= 31; };
  auto month_ok = [](int value) { return value >= 1 && value <= 12; };
  if (month_name) {  // a leading one- or two-digit number is the day
    if (count == 0 || (widths[0] <= 2 && !day_ok(numbers[0]))) return false;
    for (size_t k = 0; k < count; ++k) {
      if (!year_ok(numbers[k], widths[k])) return false;
    }
    return true;
  }
  if (count != 3) return false;
  if (widths[0] == 4) {
    return year_ok(numbers[0], 4) && month_ok(numbers[1]) && day_ok(numbers[2]);
  }
  bool day_month = day_ok(numbers[0]) && month_ok(numbers[1]);
  bool month_day = month_ok(numbers[0]) && day_ok(numbers[1]);
  return (day_month || month_day) && year_ok(numbers[2], widths[2]);
}

// The date a cue introduces must begin within a few words of it, in the
// same sentence: "DOB: 3/4/1956", "born on the 3rd of March 1956", "born in
// Sheffield on 3 March 1956".
constexpr int kMaxWordsBetween = 6;

bool IsWordByte(char c) {
  return IsAsciiAlpha(c) || IsDigit(c) || static_cast<unsigned char>(c) >= 0x80;
}

// The end of a plausible date starting at `start` that stands alone, or 0.
size_t DateAt(std::string_view text, size_t start) {
  re2::StringPiece match;
  if (!DatePattern().Match(re2::StringPiece(text.data(), text.size()), start, text.size(),
                           RE2::ANCHOR_START, &match, 1)) {
    return 0;
  }
  size_t end = start + match.size();
  if (!StandsAlone(text, start, end) || !PlausibleDate(text.substr(start, end - start))) return 0;
  return end;
}

void FindDatesOfBirth(std::string_view text, std::vector<Candidate>* out) {
  size_t pos = 0, cue_start = 0, cue_end = 0;
  while (FindFrom(BirthCuePattern(), text, pos, &cue_start, &cue_end)) {
    pos = cue_end;
    // "b." alone is too common an abbreviation to stretch over any words.
    const bool bare_b = cue_end - cue_start == 2 && Lower(text[cue_start]) == 'b';
    const int max_words = bare_b ? 0 : kMaxWordsBetween;
    // Try each word start after the cue (dates begin at one), at most
    // kMaxWordsBetween words on and never past the end of the sentence.
    int words = 0;
    for (size_t i = cue_end; i < text.size() && words <= max_words;) {
      const char c = text[i];
      if (c == '.' || c == '!' || c == '?' || c == ';' || c == '\n') break;
      if (!IsWordByte(c)) {
        ++i;
        continue;
      }
      if (size_t date_end = DateAt(text, i); date_end != 0) {
        out->push_back({i, date_end, Kind::kDateOfBirth, date_end - i});
        pos = date_end;
        break;
      }
      ++words;
      while (i < text.size() && IsWordByte(text[i])) ++i;
    }
  }
}

// ---- Which kinds could occur ----------------------------------------------

struct Possible {
  bool long_number = false;  // ten digits joined by short separators
  bool email = false;
  bool postcode = false;
  bool birth_cue = false;
  bool digit = false;
};

// Whether the 'b' at `i` could belong to "born", "birth", "b.", "dob",
// "d.o.b" or "d o b"; BirthCuePattern decides.
bool BirthCueAround(std::string_view text, size_t i) {
  auto lower_at = [&](size_t k) { return k < text.size() ? Lower(text[k]) : '\0'; };
  const char next = lower_at(i + 1);
  if (next == '.') return true;
  if (next == 'o') return lower_at(i + 2) == 'r' && lower_at(i + 3) == 'n';
  if (next == 'i') return lower_at(i + 2) == 'r' && lower_at(i + 3) == 't';
  if (i < 2) return false;
  const char prev = Lower(text[i - 1]), prev2 = Lower(text[i - 2]);
  return (prev == 'o' && (prev2 == 'd' || prev2 == '.' || prev2 == ' ')) ||
         ((prev == '.' || prev == ' ') && prev2 == 'o');
}

// Byte classes for Scan.
constexpr uint8_t kDigitByte = 1;
constexpr uint8_t kAtByte = 2;
constexpr uint8_t kSeparatorByte = 4;  // may join the groups of a number
constexpr uint8_t kLetterB = 8;
constexpr uint8_t kIgnoredByte = 16;   // the lead byte of a no-break space
constexpr uint8_t kInwardLetter = 32;  // a letter an inward code may end with
constexpr uint8_t kLetter = 64;

constexpr std::array<uint8_t, 256> MakeByteClasses() {
  std::array<uint8_t, 256> classes{};
  for (int c = '0'; c <= '9'; ++c) classes[c] = kDigitByte;
  for (int c = 'A'; c <= 'Z'; ++c) {
    const bool inward =
        std::string_view("CIKMOV").find(static_cast<char>(c)) == std::string_view::npos;
    classes[c] = classes[c + 32] = kLetter | (inward ? kInwardLetter : 0);
  }
  classes['b'] |= kLetterB;
  classes['B'] |= kLetterB;
  classes['@'] = kAtByte;
  for (unsigned char c : std::string_view(" -.()+")) classes[c] = kSeparatorByte;
  classes[0xA0] = kSeparatorByte;
  classes[0xC2] = kIgnoredByte;
  return classes;
}
constexpr std::array<uint8_t, 256> kByteClasses = MakeByteClasses();

Possible Scan(std::string_view text) {
  Possible p;
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  auto cls = [&](size_t i) { return i < n ? kByteClasses[bytes[i]] : uint8_t{0}; };
  // Every kind but email needs a digit, and most posts have none or only a
  // few, so a branch-free pass decides which of the slower passes to run.
  uint8_t seen = 0;
  size_t digits = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t c = kByteClasses[bytes[i]];
    seen |= c;
    digits += c & kDigitByte;
  }
  p.email = (seen & kAtByte) != 0;
  p.digit = digits > 0;
  if (!p.digit) return p;

  // Ten digits joined by at most two separators at a time; an inward code
  // (a digit, two letters it allows, then no letter); the 'b' of a birth cue.
  const uint8_t wanted = kDigitByte | ((seen & kLetterB) ? kLetterB : 0);
  size_t run_digits = 0, last_digit = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t c = kByteClasses[bytes[i]];
    if (!(c & wanted)) continue;
    if (!(c & kDigitByte)) {
      if (!p.birth_cue) p.birth_cue = BirthCueAround(text, i);
      continue;
    }
    if (digits >= 10 && !p.long_number) {
      bool joined = run_digits > 0 && i - last_digit <= 5;
      int separators = 0;
      for (size_t k = last_digit + 1; joined && k < i; ++k) {
        const uint8_t between = kByteClasses[bytes[k]];
        joined = (between & kIgnoredByte) || ((between & kSeparatorByte) && ++separators <= 2);
      }
      run_digits = joined ? run_digits + 1 : 1;
      last_digit = i;
      p.long_number = run_digits >= 10;
    }
    p.postcode |= i > 0 && (cls(i + 1) & kInwardLetter) && (cls(i + 2) & kInwardLetter) &&
                  !(cls(i + 3) & kLetter);
  }
  return p;
}

// Overlapping candidates become one span covering all of them, so no
// validated identifier is left partly visible; the longest candidate (then
// the most specific kind) names it. Returns disjoint spans sorted by start.
std::vector<Candidate> Resolve(std::vector<Candidate> candidates) {
  std::sort(candidates.begin(), candidates.end(),
            [](const Candidate& a, const Candidate& b) { return a.start < b.start; });
  auto names_better = [](const Candidate& a, const Candidate& b) {
    return a.found_length != b.found_length ? a.found_length > b.found_length : a.kind < b.kind;
  };
  std::vector<Candidate> spans;
  for (const Candidate& c : candidates) {
    if (spans.empty() || c.start >= spans.back().end) {
      spans.push_back(c);
      continue;
    }
    Candidate& span = spans.back();
    span.end = std::max(span.end, c.end);
    if (names_better(c, span)) {
      span.kind = c.kind;
      span.found_length = c.found_length;
    }
  }
  return spans;
}

}  // namespace

bool IsValidNhsNumber(std::string_view digits) {
  if (digits.size() != 10) return false;
  int sum = 0;
  for (size_t i = 0; i < 10; ++i) {
    if (!IsDigit(digits[i])) return false;
    if (i < 9) sum += (digits[i] - '0') * static_cast<int>(10 - i);
  }
  int check = 11 - sum % 11;
  if (check == 11) check = 0;
  return check != 10 && check == digits[9] - '0';
}

Redacted Redact(std::string_view text) {
  Redacted result;
  const Possible possible = Scan(text);
  if (!possible.long_number && !possible.email && !possible.postcode &&
      !(possible.birth_cue && possible.digit)) {
    result.text.assign(text);
    return result;
  }

  std::vector<Candidate> candidates;
  if (possible.long_number) {
    FindNhsNumbers(text, &candidates);
    FindPhones(text, &candidates);
  }
  if (possible.email) FindEmails(text, &candidates);
  if (possible.postcode) FindPostcodes(text, &candidates);
  if (possible.birth_cue && possible.digit) FindDatesOfBirth(text, &candidates);
  if (candidates.empty()) {
    result.text.assign(text);
    return result;
  }

  const std::vector<Candidate> spans = Resolve(std::move(candidates));
  result.text.reserve(text.size() + 16 * spans.size());
  result.redactions.reserve(spans.size());
  size_t copied = 0;
  for (const Candidate& span : spans) {
    result.text.append(text, copied, span.start - copied);
    const auto kind = static_cast<size_t>(span.kind);
    Redaction r;
    r.kind = std::string(kKindNames[kind]);
    r.start = static_cast<int32_t>(result.text.size());
    result.text.append(kPlaceholders[kind]);
    r.end = static_cast<int32_t>(result.text.size());
    result.redactions.push_back(std::move(r));
    copied = span.end;
  }
  result.text.append(text, copied);
  return result;
}

}  // namespace earshot::redact
