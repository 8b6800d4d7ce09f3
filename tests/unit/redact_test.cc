// Redaction (classifiers/redact/redactor.h): examples of each kind, the
// ordinary numbers that must stay, and seeded property tests that embed
// generated identifiers in generated sentences and demand the exact output.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "classifiers/redact/redactor.h"

namespace earshot::redact {
namespace {

constexpr std::string_view kNbsp = "\xC2\xA0";

std::string Text(std::string_view input) { return Redact(input).text; }

std::vector<std::string> Kinds(std::string_view input) {
  std::vector<std::string> kinds;
  for (const Redaction& r : Redact(input).redactions) kinds.push_back(r.kind);
  return kinds;
}

using KindList = std::vector<std::string>;

// ---- NHS numbers -----------------------------------------------------------

TEST_CASE("IsValidNhsNumber applies the modulus 11 check", "[redact]") {
  CHECK(IsValidNhsNumber("9434765919"));
  CHECK(IsValidNhsNumber("4505577104"));
  CHECK(IsValidNhsNumber("4010232137"));
  CHECK(IsValidNhsNumber("0000000000"));  // remainder 0: check digit 0
  CHECK_FALSE(IsValidNhsNumber("9434765918"));
  CHECK_FALSE(IsValidNhsNumber("4505577105"));
  // 1234567890: 11 - (210 mod 11) = 10, a check digit no number may have.
  CHECK_FALSE(IsValidNhsNumber("1234567890"));
  CHECK_FALSE(IsValidNhsNumber("123456789"));
  CHECK_FALSE(IsValidNhsNumber("94347659190"));
  CHECK_FALSE(IsValidNhsNumber("943 476 59"));
  CHECK_FALSE(IsValidNhsNumber("94347659x9"));
  CHECK_FALSE(IsValidNhsNumber(""));
}

TEST_CASE("Valid NHS numbers are redacted in every written form", "[redact]") {
  CHECK(Text("My NHS number is 943 476 5919 if that helps") ==
        "My NHS number is [NHS number] if that helps");
  CHECK(Text("nhs no 943-476-5919.") == "nhs no [NHS number].");
  CHECK(Text("9434765919") == "[NHS number]");
  CHECK(Text("NHS9434765919") == "NHS[NHS number]");
  CHECK(Text("(NHS: 4505577104)") == "(NHS: [NHS number])");
  CHECK(Text("ref 450 557 7104, ward 10") == "ref [NHS number], ward 10");
  CHECK(Text("943\xC2\xA0"
             "476\xC2\xA0"
             "5919") == "[NHS number]");
  CHECK(Text("Mum's is 401 023 2137 and mine 943 476 5919") ==
        "Mum's is [NHS number] and mine [NHS number]");
  CHECK(Kinds("943 476 5919") == KindList{"nhs_number"});
}

TEST_CASE("Invalid or embedded 10-digit numbers stay", "[redact]") {
  for (const char* text : {
           "943 476 5918",           // wrong check digit
           "1234567890",             // check digit would be 10
           "order 4505577105 sent",  // wrong check digit
           "19434765919",            // inside an 11-digit run
           "943476591912",           // inside a 12-digit run
           "pi is 3.9434765919",     // decimals of a longer number
           "9434765919.5 units",     // a decimal
           "9434765919,000",         // a thousands group
       }) {
    INFO(text);
    CHECK(Text(text) == text);
    CHECK(Redact(text).redactions.empty());
  }
}

TEST_CASE("An NHS number is redacted anywhere, even in a URL path", "[redact]") {
  // A leak is worse than a broken link; the post's own URL is stored apart.
  CHECK(Text("see https://example.org/patients/9434765919/notes") ==
        "see https://example.org/patients/[NHS number]/notes");
}

// ---- Phone numbers ---------------------------------------------------------

TEST_CASE("UK phone numbers are redacted in national and international forms", "[redact]") {
  const char* numbers[] = {
      "0114 243 4343",
      "01142 434343",
      "01142434343",
      "0114-243-4343",
      "0114.243.4343",
      "(0114) 243 4343",
      "(0114) 2434343",
      "020 7946 0018",
      "(020) 7946 0018",
      "0300 123 4567",
      "0345 646 0000",
      "07700 900123",
      "07700 900 123",
      "07700-900-123",
      "0800 123 4567",
      "0800 123 456",
      "0845 464 7000",
      "0870 123 4567",
      "016977 4123",
      "01632 96000",
      "+44 (0)114 243 4343",
      "+44 (0) 114 243 4343",
      "+44 114 243 4343",
      "+44 7700 900123",
      "+447700900123",
      "0044 114 243 4343",
      "0044 7700 900123",
      "(+44) 7700 900123",
      "+44-114-243-4343",
      "+44 0114 243 4343",
      "0114\xC2\xA0"
      "243\xC2\xA0"
      "4343",
  };
  for (const char* number : numbers) {
    INFO(number);
    CHECK(Text(std::string("Call ") + number + " today") == "Call [phone] today");
    CHECK(Kinds(number) == KindList{"phone"});
  }
  CHECK(Text("tel:01142434343") == "tel:[phone]");
  CHECK(Text("mob07700 900123") == "mob[phone]");
  CHECK(Text("ring 0114 243 4343 or 07700 900123.") == "ring [phone] or [phone].");
  CHECK(Text("ward 10 on 0114 243 4343, ext 1234") == "ward 10 on [phone], ext 1234");
  CHECK(Text("0114 243 4343 5 times") == "[phone] 5 times");
}

TEST_CASE("Short codes and ordinary numbers are not phone numbers", "[redact]") {
  for (const char* text : {
           "Ring NHS 111 or 999 in an emergency", "call 111", "dial 119 for the vaccine",
           "0114 243",                      // too short
           "0114 243 43431",                // 12 digits
           "041 123 4567",                  // 04 is unused
           "0600 123 4567",                 // 06 is unused
           "07700 90012",                   // a mobile needs 11 digits
           "on 01.02.2025 10 nurses came",  // a date, then a count
           "02.03.2025 10:30",              // a date and a time
           "£1,250 for 0.5 mg",             // money and a dose
           "+1 212 555 0100",               // not a UK number
       }) {
    INFO(text);
    CHECK(Text(text) == text);
  }
}

// ---- Email addresses ------------------------------------------------------

TEST_CASE("Email addresses are redacted, fediverse handles and mentions stay", "[redact]") {
  CHECK(Text("email me at jane.doe@nhs.net please") == "email me at [email] please");
  CHECK(Text("<pals.sth@nhs.uk>") == "<[email]>");
  CHECK(Text("mailto:a_b+c%d@sub-domain.example.co.uk.") == "mailto:[email].");
  CHECK(Text("o'brien@example.com") == "[email]");
  CHECK(Text("write to josé.muñoz@example.es") == "write to [email]");
  CHECK(Text("“bob@example.org”") == "“[email]”");
  CHECK(Text("'bob@example.com'") == "'[email]'");
  CHECK(Text("https://user@example.org/path") == "https://[email]/path");
  CHECK(Kinds("x@y.org") == KindList{"email"});
  for (const char* text : {
           "thanks @nhs and @NHSEngland",        // mentions
           "cc @alice@social.example",           // a fediverse handle
           "see https://social.example/@alice",  // a profile URL
           "user@localhost",
           "a@b",
           "me@example.c",  // no dotted alphabetic TLD
           "email at nhs dot net",
       }) {
    INFO(text);
    CHECK(Text(text) == text);
  }
}

// ---- Postcodes -------------------------------------------------------------

TEST_CASE("Full UK postcodes are redacted in any case, with or without a space", "[redact]") {
  for (const char* postcode :
       {"S5 7AU", "SW1A 1AA", "M1 1AE", "B33 8TH", "CR2 6XH", "DN55 1PT", "EC1A 1BB", "W1A 0AX",
        "GY1 1AA", "S57AU", "SW1A1AA", "s5 7au", "Sw1a 1aa", "sw1a1aa",
        "S5\xC2\xA0"
        "7AU",
        "S5  7AU"}) {
    INFO(postcode);
    CHECK(Text(std::string("We live at ") + postcode + ", near the hospital") ==
          "We live at [postcode], near the hospital");
  }
  CHECK(Kinds("S5 7AU") == KindList{"postcode"});
  CHECK(Text("S5 7AU-based clinic, S5 7AU.Thanks") == "[postcode]-based clinic, [postcode].Thanks");
}

TEST_CASE("Outward codes, road names and look-alikes stay", "[redact]") {
  for (const char* text : {"I live in S5 now", "the S5 bus", "queues on the M1 again",
                           "M1 1st junction",       // a lower-case ordinal after a road
                           "my b1 2nd floor flat",  // likewise
                           "QA1 1AA",               // Q starts no postcode area
                           "AB1 1CA",               // C is not used in an inward code
                           "SW1I 1AA",              // I is not a valid fourth character
                           "XS5 7AU",               // no such area
                           "at 10am", "5pm", "covid19 vaccine", "bay 3 in ward 10"}) {
    INFO(text);
    CHECK(Text(text) == text);
  }
}

// ---- Dates of birth --------------------------------------------------------

TEST_CASE("A date right after a birth cue is redacted", "[redact]") {
  CHECK(Text("DOB 03/04/1956") == "DOB [date of birth]");
  CHECK(Text("D.O.B: 3.4.56, ward 10") == "D.O.B: [date of birth], ward 10");
  CHECK(Text("d.o.b. 1956-04-03") == "d.o.b. [date of birth]");
  CHECK(Text("Date of birth: 3rd March 1956.") == "Date of birth: [date of birth].");
  CHECK(Text("my date of birth is March 3, 1956") == "my date of birth is [date of birth]");
  CHECK(Text("Dad was born on 3 March 1956 in Leeds") ==
        "Dad was born on [date of birth] in Leeds");
  CHECK(Text("born on the 3rd of March, 1956") == "born on the [date of birth]");
  CHECK(Text("born in Sheffield on 3 Mar 56") == "born in Sheffield on [date of birth]");
  CHECK(Text("born March 1956") == "born [date of birth]");
  CHECK(Text("b. 3/4/1956") == "b. [date of birth]");
  CHECK(Text("her birthday is 12th May") == "her birthday is [date of birth]");
  CHECK(Kinds("DOB 03/04/1956") == KindList{"date_of_birth"});
}

TEST_CASE("Dates without a nearby birth cue stay", "[redact]") {
  for (const char* text : {
           "seen on 3/4/2026 at 10:30", "appointment on 3rd March 2026",
           "born and raised in Sheffield, seen on the ward in the end on 3/4/2026",
           "he was born. On 3/4/2026 we went back",  // another sentence
           "born in 1956",                           // a year alone
           "DOB 31/31/1956",                         // no such day and month
           "DOB 1/2/1700",                           // outside plausible years
           "the newborn unit on 3/4/2026",           // not the word "born"
           "pub. 3/4/2026",                          // "b." inside a word
           "the b. team played 3/4/2026 again",      // "b." then words
       }) {
    INFO(text);
    CHECK(Text(text) == text);
  }
}

// ---- Ordinary numbers and mixed texts -------------------------------------

TEST_CASE("Ordinary numbers stay", "[redact]") {
  const std::string text =
      "Ward 10, NHS 111, 4 hours, 999, bay 3, 1,234 people, 943 476 5918, 1999, 2026, "
      "at 10:30, £1,250, 24/7, room 101, 0.5 mg, 3/4/2026, #nhs, @nhs, A&E, S5.";
  Redacted r = Redact(text);
  CHECK(r.text == text);
  CHECK(r.redactions.empty());
  CHECK(Text("") == "");
  CHECK(Text("no digits or at-signs here at all") == "no digits or at-signs here at all");
}

TEST_CASE("Spans point at the placeholders in order", "[redact]") {
  Redacted r =
      Redact("Jo (DOB 03/04/1956, NHS 943 476 5919) at S5 7AU, 0114 243 4343, jo@example.org");
  CHECK(r.text == "Jo (DOB [date of birth], NHS [NHS number]) at [postcode], [phone], [email]");
  REQUIRE(r.redactions.size() == 5);
  const char* kinds[] = {"date_of_birth", "nhs_number", "postcode", "phone", "email"};
  const char* placeholders[] = {"[date of birth]", "[NHS number]", "[postcode]", "[phone]",
                                "[email]"};
  int32_t previous_end = 0;
  for (size_t i = 0; i < r.redactions.size(); ++i) {
    const Redaction& span = r.redactions[i];
    CHECK(span.kind == kinds[i]);
    CHECK(span.start >= previous_end);
    CHECK(r.text.substr(span.start, span.end - span.start) == placeholders[i]);
    previous_end = span.end;
  }
}

TEST_CASE("Overlapping candidates resolve to the longest, wholly covered", "[redact]") {
  // 7700900124 passes the NHS check, but here it is the rest of a +44 number.
  REQUIRE(IsValidNhsNumber("7700900124"));
  CHECK(Text("+44 7700900124") == "[phone]");
  CHECK(Kinds("+44 7700900124") == KindList{"phone"});
  // An address made of an NHS number is an email, all of it.
  CHECK(Text("9434765919@example.org") == "[email]");
  // A postcode-looking local part belongs to the address.
  CHECK(Text("s57au@example.org") == "[email]");
  CHECK(Text("at M1 8pL.KEZZ@example.org") == "at M1 [email]");
  CHECK(Text("S5 2lT@d.uk") == "S5 [email]");
  // 10 contiguous digits that are both a valid 01 number and a valid NHS
  // number: the check digit is the more specific evidence.
  REQUIRE(IsValidNhsNumber("0114243018"));
  CHECK(Kinds("0114243018") == KindList{"nhs_number"});
  // A phone number whose last groups are a valid 3-3-4 NHS number: the NHS
  // candidate is folded into the phone span, so none of it shows.
  CHECK(Text("07700 943 476 5919") == "[phone]");
  // A valid NHS number continued by a group that makes "033-0298 2024" a
  // valid 03 number: ambiguous, so both go, named by the longer reading.
  REQUIRE(IsValidNhsNumber("7550330298"));
  CHECK(Text("755-033-0298 2024") == "[phone]");
  // Grouped digits that contain a phone-shaped tail lose the tail: a phone
  // number after another number ("ward 10 0114 ...") must never leak.
  CHECK(Text("298 087 4119 2024") == "298 [phone]");
  CHECK(Text("NHS 111 020 7946 0018") == "NHS 111 [phone]");
  // Ambiguous runs of groups go whole when two readings overlap.
  REQUIRE(IsValidNhsNumber("9999990800"));
  CHECK(Text("999 999 0800-764-490") == "[NHS number]");
}

TEST_CASE("Redaction is idempotent", "[redact]") {
  const std::string text = "DOB 3/4/56 NHS 943 476 5919 S5 7AU 0114 243 4343 a@b.org";
  const std::string once = Text(text);
  CHECK(Text(once) == once);
  CHECK(Redact(once).redactions.empty());
}

TEST_CASE("Hostile inputs finish and stay linear", "[redact]") {
  std::string zeros, borns, ats;
  for (int i = 0; i < 20000; ++i) zeros += "0 ";
  for (int i = 0; i < 20000; ++i) borns += "born 1 ";
  for (int i = 0; i < 20000; ++i) ats += "a@";
  CHECK(Text(zeros) == zeros);
  CHECK(Text(borns) == borns);
  CHECK(Text(ats) == ats);
  std::string digits(100000, '7');
  CHECK(Text(digits) == digits);
}

TEST_CASE("Redact is safe to call from many threads", "[redact]") {
  const std::vector<std::string> inputs = {"NHS 943 476 5919", "call 0114 243 4343",
                                           "jo@example.org",   "S5 7AU",
                                           "DOB 3/4/1956",     "ward 10 at 10:30"};
  std::vector<std::string> expected;
  for (const auto& input : inputs) expected.push_back(Text(input));
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 2000; ++round) {
        size_t i = static_cast<size_t>(round + t) % inputs.size();
        if (Redact(inputs[i]).text != expected[i]) ++mismatches[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(mismatches == std::vector<int>(4, 0));
}

// ---- Property tests --------------------------------------------------------

// Ordinary words and numbers that must survive next to any identifier.
const std::vector<std::string>& Fillers() {
  static const std::vector<std::string> words = {
      "the",   "ward",   "10",     "NHS",   "111",   "4",        "hours", "waited",
      "bay",   "3",      "£1,250", "10:30", "1,234", "999",      "A&E",   "nurse",
      "was",   "kind",   "2024",   "#nhs",  "@nhs",  "in",       "on",    "clinic",
      "x-ray", "S5",     "M1",     "and",   "seen",  "3/4/2026", "24/7",  "Sheffield",
      "ring",  "number", "is",     "my",    "café",  "—",        "(ok)",  "2.5"};
  return words;
}

struct Wrap {
  const char* open;
  const char* close;
};
constexpr Wrap kWraps[] = {{"", ""},     {"(", ")"}, {"", "."},    {"", ","},  {"<", ">"},
                           {"\"", "\""}, {"", ":"},  {"no. ", ""}, {"[", "]"}, {"", "!"}};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}

  size_t Below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  char Digit() { return static_cast<char>('0' + Below(10)); }
  std::string Digits(size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s += Digit();
    return s;
  }
  template <typename T>
  const T& Pick(const std::vector<T>& items) {
    return items[Below(items.size())];
  }

  // A sentence around an identifier: a prefix and a suffix, joined to it by
  // a space, punctuation or the text's ends. A number right next to it is
  // separated by punctuation or a word: "111 943 476 5919 2024" reads as
  // one longer grouped number, which the example tests pin down separately.
  std::pair<std::string, std::string> Around() {
    std::string before, after;
    for (size_t n = Below(4); n > 0; --n) before += Pick(Fillers()) + " ";
    const Wrap& wrap = kWraps[Below(std::size(kWraps))];
    if (*wrap.open == '\0' && before.size() > 1 && IsDigit(before[before.size() - 2])) {
      before += "then ";
    }
    before += wrap.open;
    after = wrap.close;
    for (size_t n = Below(4); n > 0; --n) {
      std::string word = Pick(Fillers());
      if (after.empty() && IsDigit(word[0])) word = "and " + word;
      after += " " + word;
    }
    return {before, after};
  }

 private:
  std::mt19937_64 rng_;
};

// Collects failures so thousands of cases report a few readable ones.
class Failures {
 public:
  void Expect(const std::string& input, const std::string& expected, const std::string& kind) {
    ++cases_;
    Redacted r = Redact(input);
    bool ok = r.text == expected;
    if (ok && !kind.empty()) {
      ok = r.redactions.size() == 1 && r.redactions[0].kind == kind &&
           r.text.compare(r.redactions[0].start, r.redactions[0].end - r.redactions[0].start,
                          expected, r.redactions[0].start,
                          r.redactions[0].end - r.redactions[0].start) == 0;
    }
    if (!ok && examples_.size() < 8) {
      examples_.push_back("in:  " + input + "\nout: " + r.text + "\nwant: " + expected);
    }
    failures_ += ok ? 0 : 1;
  }
  int cases() const { return cases_; }
  void Report() const {
    std::string joined;
    for (const auto& e : examples_) joined += e + "\n";
    INFO(joined);
    CHECK(failures_ == 0);
  }

 private:
  int cases_ = 0;
  int failures_ = 0;
  std::vector<std::string> examples_;
};

std::string ValidNhsNumber(Generator& g, bool nonzero_first = false) {
  for (;;) {
    std::string nine = g.Digits(9);
    if (nonzero_first && nine[0] == '0') continue;
    int sum = 0;
    for (int i = 0; i < 9; ++i) sum += (nine[i] - '0') * (10 - i);
    int check = 11 - sum % 11;
    if (check == 11) check = 0;
    if (check == 10) continue;
    return nine + static_cast<char>('0' + check);
  }
}

std::string FormatNhs(const std::string& d, size_t style) {
  static const std::string separators[] = {"", " ", "-", std::string(kNbsp)};
  const std::string& sep = separators[style % 4];
  return d.substr(0, 3) + sep + d.substr(3, 3) + sep + d.substr(6);
}

TEST_CASE("Property: every valid NHS number in every format is redacted whole", "[redact]") {
  Generator g(0x5EED0001);
  Failures failures;
  for (int i = 0; i < 3000; ++i) {
    const std::string digits = ValidNhsNumber(g);
    REQUIRE(IsValidNhsNumber(digits));
    for (size_t style = 0; style < 4; ++style) {
      auto [before, after] = g.Around();
      failures.Expect(before + FormatNhs(digits, style) + after, before + "[NHS number]" + after,
                      "nhs_number");
    }
  }
  CHECK(failures.cases() == 12000);
  failures.Report();
}

TEST_CASE("Property: numbers failing the check digit are never redacted", "[redact]") {
  Generator g(0x5EED0002);
  Failures failures;
  int with_check_ten = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string digits = ValidNhsNumber(g, /*nonzero_first=*/true);
    // Every other digit in the last place fails the check.
    digits[9] = static_cast<char>('0' + (digits[9] - '0' + 1 + g.Below(9)) % 10);
    REQUIRE_FALSE(IsValidNhsNumber(digits));
    for (size_t style = 0; style < 4; ++style) {
      auto [before, after] = g.Around();
      const std::string text = before + FormatNhs(digits, style) + after;
      failures.Expect(text, text, "");
    }
  }
  // Nine digits whose check digit would be 10 are never numbers.
  for (int i = 0; i < 20000 && with_check_ten < 500; ++i) {
    std::string nine = g.Digits(9);
    if (nine[0] == '0') continue;
    int sum = 0;
    for (int k = 0; k < 9; ++k) sum += (nine[k] - '0') * (10 - k);
    if (11 - sum % 11 != 10) continue;
    ++with_check_ten;
    const std::string text = "NHS " + nine + g.Digit();
    failures.Expect(text, text, "");
  }
  CHECK(with_check_ten == 500);
  failures.Report();
}

struct PhoneCase {
  std::string written;
  std::string national;  // digits with the leading 0
  bool contiguous = false;
};

// A UK number in one of the supported written forms.
PhoneCase MakePhone(Generator& g) {
  // National numbers split into groups as people write them: a prefix
  // ('?' is any digit) and the length of each group.
  struct Shape {
    std::string_view prefix;
    std::vector<size_t> lengths;
  };
  static const std::vector<Shape> shapes = {
      {"01", {5, 6}},      {"01", {4, 3, 4}},  {"011", {4, 3, 4}},
      {"01?1", {4, 3, 4}}, {"01", {5, 5}},  // 10-digit 01 numbers
      {"02", {3, 4, 4}},   {"03", {4, 3, 4}},  {"07", {5, 6}},
      {"07", {5, 3, 3}},   {"080", {4, 3, 4}}, {"0800", {4, 3, 3}},  // 10-digit freephone
      {"084", {4, 3, 4}},  {"087", {4, 3, 4}},
  };
  const Shape& shape = g.Pick(shapes);
  std::vector<std::string> groups;
  for (size_t length : shape.lengths) {
    std::string group = groups.empty() ? std::string(shape.prefix) : "";
    for (char& c : group) c = c == '?' ? g.Digit() : c;
    groups.push_back(group + g.Digits(length - group.size()));
  }
  PhoneCase c;
  for (const auto& group : groups) c.national += group;
  auto join = [&](const std::vector<std::string>& parts, const std::string& sep) {
    std::string s;
    for (size_t i = 0; i < parts.size(); ++i) s += (i ? sep : "") + parts[i];
    return s;
  };
  std::vector<std::string> nsn = groups;
  nsn[0] = nsn[0].substr(1);
  static const std::string seps[] = {" ", "-", ".", std::string(kNbsp)};
  switch (g.Below(12)) {
    case 0:
      c.written = join(groups, ""), c.contiguous = true;
      break;
    case 1:
    case 2:
      c.written = join(groups, seps[g.Below(4)]);
      break;
    case 3:
      c.written = "(" + groups[0] + ") " + join({groups.begin() + 1, groups.end()}, " ");
      break;
    case 4:
      c.written = "+44 " + join(nsn, " ");
      break;
    case 5:
      c.written = "+44 (0)" + join(nsn, " ");
      break;
    case 6:
      c.written = "+44 (0) " + join(nsn, " ");
      break;
    case 7:
      c.written = "+44" + join(nsn, "");
      break;
    case 8:
      c.written = "0044 " + join(nsn, " ");
      break;
    case 9:
      c.written = "(+44) " + join(nsn, " ");
      break;
    case 10:
      c.written = "+44-" + join(nsn, "-");
      break;
    default:
      c.written = "+44 " + join(groups, " ");
      break;  // "+44 0114 ..."
  }
  return c;
}

TEST_CASE("Property: UK phone numbers in every supported form leave no digits behind", "[redact]") {
  Generator g(0x5EED0003);
  Failures failures;
  int leaks = 0;
  for (int i = 0; i < 12000; ++i) {
    const PhoneCase phone = MakePhone(g);
    auto [before, after] = g.Around();
    const std::string input = before + phone.written + after;
    // Ten contiguous digits that also pass the NHS check are redacted as one.
    const bool nhs =
        phone.contiguous && phone.national.size() == 10 && IsValidNhsNumber(phone.national);
    failures.Expect(input, before + (nhs ? "[NHS number]" : "[phone]") + after,
                    nhs ? "nhs_number" : "phone");
    // Independently of the exact text: no six-digit run of the number is left.
    const std::string out = Text(input);
    for (size_t k = 0; k + 6 <= phone.national.size(); ++k) {
      if (out.find(phone.national.substr(k, 6)) != std::string::npos) {
        ++leaks;
        break;
      }
    }
  }
  CHECK(leaks == 0);
  failures.Report();
}

TEST_CASE("Property: generated email addresses are redacted whole", "[redact]") {
  Generator g(0x5EED0004);
  Failures failures;
  const std::string first = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  const std::string rest = first + "_%+-'";
  const std::vector<std::string> tlds = {"uk",     "com",   "net",   "org",    "scot",
                                         "nhs.uk", "co.uk", "ac.uk", "example"};
  for (int i = 0; i < 5000; ++i) {
    std::string local(1, first[g.Below(first.size())]);
    for (size_t n = g.Below(12); n > 0; --n) {
      if (g.Below(6) == 0 && local.back() != '.') local += '.';
      local += rest[g.Below(rest.size())];
    }
    if (local.back() == '.') local += 'x';
    std::string domain;
    for (size_t labels = 1 + g.Below(3); labels > 0; --labels) {
      std::string label(1, first[g.Below(36)] | 0x20);
      for (size_t n = g.Below(8); n > 0; --n)
        label += "abcdefghijklmnopqrstuvwxyz0123456789-"[g.Below(37)];
      while (label.back() == '-') label.pop_back();
      domain += label + ".";
    }
    domain += g.Pick(tlds);
    auto [before, after] = g.Around();
    failures.Expect(before + local + "@" + domain + after, before + "[email]" + after, "email");
  }
  failures.Report();
}

TEST_CASE("Property: full postcodes of every format are redacted", "[redact]") {
  Generator g(0x5EED0005);
  Failures failures;
  const std::vector<std::string> one_letter = {"B", "E", "G", "L", "M", "N", "S", "W"};
  const std::vector<std::string> two_letters = {"AB", "BS", "CR", "DN", "EC", "EH", "GY", "HU",
                                                "LS", "NE", "NW", "OX", "SE", "SW", "TW", "WC",
                                                "YO", "ZE", "BT", "CF", "LL", "PL", "SK", "ST"};
  const std::string inward_letters = "ABDEFGHJLNPQRSTUWXYZ";
  const std::string third = "ABCDEFGHJKPSTUW";  // A9A
  const std::string fourth = "ABEHMNPRVWXY";    // AA9A
  auto digit = [&] { return std::string(1, g.Digit()); };
  for (int i = 0; i < 6000; ++i) {
    std::string outward;
    switch (g.Below(6)) {
      case 0:
        outward = g.Pick(one_letter) + digit();
        break;
      case 1:
        outward = g.Pick(one_letter) + digit() + digit();
        break;
      case 2:
        outward = g.Pick(two_letters) + digit();
        break;
      case 3:
        outward = g.Pick(two_letters) + digit() + digit();
        break;
      case 4:
        outward = g.Pick(one_letter) + digit() + third[g.Below(third.size())];
        break;
      default:
        outward = g.Pick(two_letters) + digit() + fourth[g.Below(fourth.size())];
        break;
    }
    std::string inward = digit() + inward_letters[g.Below(inward_letters.size())] +
                         inward_letters[g.Below(inward_letters.size())];
    static const std::string spaces[] = {" ", "", std::string(kNbsp), " "};
    std::string postcode = outward + spaces[g.Below(4)] + inward;
    const size_t casing = g.Below(3);
    if (casing > 0) {
      // Lower-case ordinals ("1st") read as prose by design; keep those upper.
      std::string tail = inward.substr(1);
      std::transform(tail.begin(), tail.end(), tail.begin(), ::tolower);
      bool ordinal = (inward[0] == '1' && tail == "st") || (inward[0] == '2' && tail == "nd") ||
                     (inward[0] == '3' && tail == "rd") ||
                     (inward[0] != '1' && inward[0] != '2' && inward[0] != '3' && tail == "th");
      if (!ordinal) {
        for (size_t k = casing == 1 ? 0 : 1; k < postcode.size(); ++k) {
          postcode[k] = static_cast<char>(::tolower(static_cast<unsigned char>(postcode[k])));
        }
      }
    }
    auto [before, after] = g.Around();
    failures.Expect(before + postcode + after, before + "[postcode]" + after, "postcode");
  }
  failures.Report();
}

TEST_CASE("Property: dates after a birth cue are redacted, elsewhere they stay", "[redact]") {
  Generator g(0x5EED0006);
  Failures failures;
  const std::vector<std::string> cues = {"DOB",   "DOB:",           "D.O.B.",           "d.o.b",
                                         "DoB -", "Date of birth:", "date of birth is", "born on",
                                         "born",  "Born on the",    "birth date:",      "birthday"};
  const std::vector<std::string> between = {
      "", "", "", "was ", "is the ", "in Leeds on ", "at the Jessop on "};
  const std::vector<std::string> months = {"January", "Feb",    "March", "Apr", "May",      "June",
                                           "Jul",     "August", "Sept",  "Oct", "November", "Dec"};
  const std::vector<std::string> suffixes = {"st", "nd", "rd", "th", ""};
  const std::vector<std::string> others = {"seen on", "appointment on", "discharged",
                                           "letter dated", "operation on the"};
  for (int i = 0; i < 5000; ++i) {
    const int day = 1 + static_cast<int>(g.Below(28));
    const int month = 1 + static_cast<int>(g.Below(12));
    const int year = 1920 + static_cast<int>(g.Below(100));
    auto two = [](int v) { return (v < 10 ? "0" : "") + std::to_string(v); };
    std::string date;
    switch (g.Below(8)) {
      case 0:
        date = two(day) + "/" + two(month) + "/" + std::to_string(year);
        break;
      case 1:
        date = std::to_string(day) + "." + std::to_string(month) + "." + two(year % 100);
        break;
      case 2:
        date = two(day) + "-" + two(month) + "-" + std::to_string(year);
        break;
      case 3:
        date = std::to_string(year) + "-" + two(month) + "-" + two(day);
        break;
      case 4:
        date = std::to_string(day) + g.Pick(suffixes) + " " + months[month - 1] + " " +
               std::to_string(year);
        break;
      case 5:
        date = months[month - 1] + " " + std::to_string(day) + ", " + std::to_string(year);
        break;
      case 6:
        date = std::to_string(day) + g.Pick(suffixes) + " of " + months[month - 1] + ", " +
               std::to_string(year);
        break;
      default:
        date = std::to_string(day) + "-" + months[month - 1].substr(0, 3) + "-" + two(year % 100);
        break;
    }
    std::string lead;
    for (size_t n = g.Below(3); n > 0; --n) lead += g.Pick(Fillers()) + " ";
    std::string tail = g.Below(2) ? "" : ", ward 10";
    const std::string prefix = lead + g.Pick(cues) + " " + g.Pick(between);
    failures.Expect(prefix + date + tail, prefix + "[date of birth]" + tail, "date_of_birth");
    const std::string plain = lead + g.Pick(others) + " " + date + tail;
    failures.Expect(plain, plain, "");
  }
  failures.Report();
}

}  // namespace
}  // namespace earshot::redact
