// Rules engine (classifiers/rules): the TOML format and its errors, clause
// semantics, spans, the RE2::Set out-of-memory fallback, threads, lint.
#include <unistd.h>
#include <catch2/catch.hpp>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "classifiers/rules/lint.h"
#include "classifiers/rules/pattern_split.h"
#include "classifiers/rules/rule_set.h"
#include "tests/support/process.h"

namespace earshot::rules {
namespace {

std::shared_ptr<const RuleSet> Load(std::string_view text, const RuleSetOptions& options = {}) {
  auto set = RuleSet::LoadText(text, "rules.toml", options);
  INFO(set.status().ToString());
  REQUIRE(set.ok());
  return *set;
}

// The message of a load that must fail.
std::string LoadError(std::string_view text) {
  auto set = RuleSet::LoadText(text, "rules.toml");
  REQUIRE_FALSE(set.ok());
  CHECK(set.status().code() == StatusCode::kInvalidArgument);
  return set.status().message();
}

std::vector<std::string> Fired(const RuleSet& set, std::string_view text) {
  std::vector<RuleMatch> matches;
  set.Match(text, &matches);
  std::vector<std::string> ids;
  for (const RuleMatch& m : matches) ids.push_back(m.rule->id);
  return ids;
}

// The matched text of rule `id`, or "<none>".
std::string SpanText(const RuleSet& set, std::string_view text, std::string_view id) {
  std::vector<RuleMatch> matches;
  set.Match(text, &matches);
  for (const RuleMatch& m : matches) {
    if (m.rule->id == id) return std::string(text.substr(m.span.start, m.span.end - m.span.start));
  }
  return "<none>";
}

using Ids = std::vector<std::string>;

constexpr std::string_view kMeta = R"([meta]
stage = "sentiment"
version = "2026-11-22.1"
)";

std::string WithMeta(std::string_view rules) { return std::string(kMeta) + std::string(rules); }

TEST_CASE("A rule file is read into stage, version, labels and rules", "[rules]") {
  auto set = Load(R"([meta]
stage = "topics"
version = "2026-11-22.1"

[[label]]
name = "Timeliness of care"
category = "Access to treatment or medication"
threshold = 1.5
priority = 2

[[label]]
name = "Staff attitude"

[[rule]]
id = "timeliness.long-wait"
label = "Timeliness of care"
weight = 0.75
any = ['\bwait(ed|ing)?\b.{0,40}\bhours?\b', '\bdelay(ed|s)?\b']
none = ['\bwaiting (room|list)\b']

[[rule]]
id = "attitude.rude"
label = "Staff attitude"
weight = -2
near = [{ a = '\bnurse', b = '\brude\b', within = 5 }]
unless_preceded = '\bnot\b'
)");
  CHECK(set->stage() == "topics");
  CHECK(set->version() == "2026-11-22.1");
  REQUIRE(set->labels().size() == 2);
  const Label* timeliness = set->FindLabel("Timeliness of care");
  REQUIRE(timeliness != nullptr);
  CHECK(timeliness->category == "Access to treatment or medication");
  CHECK(timeliness->threshold == 1.5);
  CHECK(timeliness->priority == 2);
  const Label* attitude = set->FindLabel("Staff attitude");
  REQUIRE(attitude != nullptr);
  CHECK(attitude->category.empty());
  CHECK(attitude->threshold == 1.0);
  CHECK(attitude->priority == 0);
  CHECK(set->FindLabel("Nope") == nullptr);

  REQUIRE(set->rules().size() == 2);
  const Rule& wait = set->rules()[0];
  CHECK(wait.id == "timeliness.long-wait");
  CHECK(wait.label == "Timeliness of care");
  CHECK(wait.weight == 0.75);
  CHECK(wait.file == "rules.toml");
  CHECK(wait.line == 14);
  CHECK(wait.any == Ids{R"(\bwait(ed|ing)?\b.{0,40}\bhours?\b)", R"(\bdelay(ed|s)?\b)"});
  CHECK(wait.none == Ids{R"(\bwaiting (room|list)\b)"});
  CHECK(wait.unless_preceded.empty());
  CHECK(wait.within_words == 0);
  const Rule& rude = set->rules()[1];
  CHECK(rude.line == 21);
  CHECK(rude.weight == -2.0);
  REQUIRE(rude.near.size() == 1);
  CHECK(rude.near[0].a == R"(\bnurse)");
  CHECK(rude.near[0].b == R"(\brude\b)");
  CHECK(rude.near[0].within == 5);
  CHECK(rude.unless_preceded == R"(\bnot\b)");
  CHECK(rude.within_words == 3);  // the default

  CHECK(Fired(*set, "We waited six hours in A&E") == Ids{"timeliness.long-wait"});
  CHECK(Fired(*set, "Sat in the waiting room for 2 hours") == Ids{});
  CHECK(Fired(*set, "the nurse on ward 3 was rude") == Ids{"attitude.rude"});
}

TEST_CASE("Without [[label]] declarations any label name is accepted", "[rules]") {
  auto set = Load(WithMeta(R"(
[[rule]]
id = "praise"
label = "positive"
any = ['\bthank']
)"));
  CHECK(set->labels().empty());
  CHECK(set->rules()[0].label == "positive");
  CHECK(set->FindLabel("positive") == nullptr);
}

TEST_CASE("TOML syntax errors become FILE:LINE:COL messages", "[rules]") {
  CHECK(LoadError("[meta]\nstage = \"topics\nversion = \"1\"\n") ==
        "rules.toml:2:16: Error while parsing string: unescaped control characters other than "
        "TAB (U+0009) are explicitly prohibited");
  CHECK(LoadError(WithMeta("[[rule]]\nid = \"a\"\nlabel = \"x\"\nany = ['x']\nany = ['y']\n")) ==
        "rules.toml:8:7: Error while parsing key-value pair: cannot redefine existing array 'any'");
}

TEST_CASE("Unknown keys are errors naming the key and where it is", "[rules]") {
  CHECK(
      LoadError("colour = 1\n" + WithMeta("[[rule]]\nid = \"a\"\nlabel = \"x\"\nany = ['x']\n")) ==
      "rules.toml:1:1: unknown key 'colour' in the top level (known keys: meta, label, rule)");
  CHECK(LoadError(WithMeta("[[rules]]\nid = \"a\"\nlabel = \"x\"\nany = ['x']\n")) ==
        "rules.toml:4:3: unknown key 'rules' in the top level (known keys: meta, label, rule)");
  CHECK(LoadError("[meta]\nstage = \"topics\"\nversion = \"1\"\n  casesensitive = true\n") ==
        "rules.toml:4:3: unknown key 'casesensitive' in [meta] (known keys: stage, version, "
        "case_sensitive)");
  CHECK(LoadError(WithMeta("[[label]]\nname = \"a\"\ncolor = \"red\"\n")) ==
        "rules.toml:6:1: unknown key 'color' in [[label]] (known keys: name, category, "
        "threshold, priority)");
  // Of several unknown keys, the first in the file is reported.
  CHECK(LoadError(
            WithMeta("[[rule]]\nid = \"a\"\nlabel = \"x\"\nzeta = 1\nany = ['x']\nalpha = 2\n")) ==
        "rules.toml:7:1: unknown key 'zeta' in rule 'a' (known keys: id, label, weight, any, all, "
        "none, near, unless_preceded, within_words)");
  CHECK(LoadError(WithMeta("[[rule]]\nid = \"a\"\nlabel = \"x\"\n"
                           "near = [{ a = 'x', b = 'y', within = 2, widthin = 3 }]\n")) ==
        "rules.toml:7:41: unknown key 'widthin' in a near clause of rule 'a' (known keys: a, b, "
        "within)");
}

TEST_CASE("A bad RE2 pattern names the file, line, column, rule, pattern and RE2's error",
          "[rules]") {
  CHECK(LoadError(WithMeta("[[rule]]\nid = \"bad.one\"\nlabel = \"x\"\n"
                           "any = ['\\bok', '(unclosed']\n")) ==
        "rules.toml:7:16: rule 'bad.one': bad any pattern '(unclosed': missing ): (unclosed");
  CHECK(
      LoadError(WithMeta("[[rule]]\nid = \"bad.two\"\nlabel = \"x\"\nany = ['ok']\n"
                         "none = ['a{2,1}']\n")) ==
      "rules.toml:8:9: rule 'bad.two': bad none pattern 'a{2,1}': invalid repetition size: {2,1}");
  CHECK(LoadError(WithMeta("[[rule]]\nid = \"bad.three\"\nlabel = \"x\"\n"
                           "near = [{ a = 'x**', b = 'y', within = 1 }]\n")) ==
        "rules.toml:7:15: rule 'bad.three': bad near.a pattern 'x**': bad repetition operator: **");
  CHECK(LoadError(WithMeta("[[rule]]\nid = \"bad.four\"\nlabel = \"x\"\nany = ['ok']\n"
                           "unless_preceded = '(?<n>not)'\n")) ==
        "rules.toml:8:19: rule 'bad.four': bad unless_preceded pattern '(?<n>not)': invalid perl "
        "operator: (?<");
}

TEST_CASE("Structural mistakes in a rule file are refused with their position", "[rules]") {
  SECTION("empty file") {
    CHECK(LoadError("") == "rules.toml:1:1: empty rule file: expected [meta] and [[rule]] tables");
    CHECK(LoadError("# only a comment\n") ==
          "rules.toml:1:1: empty rule file: expected [meta] and [[rule]] tables");
  }
  SECTION("no meta, no rules") {
    CHECK(LoadError("[[rule]]\nid = \"a\"\nlabel = \"x\"\nany = ['x']\n") ==
          "rules.toml:1:1: missing [meta] table (stage, version)");
    CHECK(LoadError(kMeta) ==
          "rules.toml:1:1: no [[rule]] tables: a rule file needs at least one rule");
    CHECK(
        LoadError("[meta]\nversion = \"1\"\n[[rule]]\nid = \"a\"\nlabel = \"x\"\nany = ['x']\n") ==
        "rules.toml:1:1: [meta] needs stage (e.g. \"topics\")");
    CHECK(LoadError("[meta]\nstage = \"a b\"\nversion = \"1\"\n") ==
          "rules.toml:2:9: meta.stage must be an identifier string such as \"topics\"");
    CHECK(LoadError("[meta]\nstage = \"t\"\nversion = \"1\"\ncase_sensitive = \"no\"\n") ==
          "rules.toml:4:18: meta.case_sensitive must be true or false");
  }
  SECTION("duplicate ids") {
    CHECK(LoadError(WithMeta("[[rule]]\nid = \"same\"\nlabel = \"x\"\nany = ['a']\n\n"
                             "[[rule]]\nid = \"same\"\nlabel = \"x\"\nany = ['b']\n")) ==
          "rules.toml:10:6: duplicate rule id 'same' (first defined at line 4)");
  }
  SECTION("bad ids") {
    CHECK(LoadError(WithMeta("[[rule]]\nid = \"Has Space\"\nlabel = \"x\"\nany = ['a']\n")) ==
          "rules.toml:5:6: rule id must be a string of a-z, 0-9, '.', '_' and '-'");
    CHECK(LoadError(WithMeta("[[rule]]\nlabel = \"x\"\nany = ['a']\n")) ==
          "rules.toml:4:1: [[rule]] needs id");
  }
  SECTION("undeclared labels") {
    CHECK(LoadError(WithMeta("[[label]]\nname = \"Staff attitude\"\n\n"
                             "[[rule]]\nid = \"a\"\nlabel = \"Staff atitude\"\nany = ['a']\n")) ==
          "rules.toml:9:9: rule 'a': label 'Staff atitude' is not declared by a [[label]]");
    CHECK(LoadError(WithMeta("[[label]]\nname = \"x\"\n[[label]]\nname = \"x\"\n")) ==
          "rules.toml:7:8: duplicate label 'x'");
    CHECK(LoadError(WithMeta("[[rule]]\nid = \"a\"\nany = ['a']\n")) ==
          "rules.toml:4:1: rule 'a' needs label");
  }
  SECTION("clauses") {
    CHECK(LoadError(WithMeta("[[rule]]\nid = \"a\"\nlabel = \"x\"\nnone = ['a']\n")) ==
          "rules.toml:4:1: rule 'a' needs at least one of any, all, near");
    CHECK(LoadError(WithMeta("[[rule]]\nid = \"a\"\nlabel = \"x\"\nany = []\n")) ==
          "rules.toml:7:7: rule 'a': any is empty");
    CHECK(LoadError(WithMeta("[[rule]]\nid = \"a\"\nlabel = \"x\"\nany = '\\bx'\n")) ==
          "rules.toml:7:7: rule 'a': any must be an array of pattern strings, e.g. ['\\bwait']");
    CHECK(LoadError(WithMeta("[[rule]]\nid = \"a\"\nlabel = \"x\"\nall = ['ok', 3]\n")) ==
          "rules.toml:7:14: rule 'a': all patterns must be strings");
    CHECK(LoadError(WithMeta("[[rule]]\nid = \"a\"\nlabel = \"x\"\nany = ['']\n")) ==
          "rules.toml:7:8: rule 'a': empty any pattern (it would match everywhere)");
    CHECK(LoadError(WithMeta("[[rule]]\nid = \"a\"\nlabel = \"x\"\n"
                             "near = [{ a = 'x', b = 'y' }]\n")) ==
          "rules.toml:7:9: rule 'a': near clause needs within (words between a and b)");
    CHECK(LoadError(WithMeta("[[rule]]\nid = \"a\"\nlabel = \"x\"\n"
                             "near = [{ a = 'x', b = 'y', within = -1 }]\n")) ==
          "rules.toml:7:38: rule 'a': near.within must be an integer from 0 to 100");
    CHECK(LoadError(
              WithMeta("[[rule]]\nid = \"a\"\nlabel = \"x\"\nany = ['x']\nwithin_words = 2\n")) ==
          "rules.toml:8:16: rule 'a': within_words needs unless_preceded");
    CHECK(
        LoadError(WithMeta("[[rule]]\nid = \"a\"\nlabel = \"x\"\nany = ['x']\nweight = \"1\"\n")) ==
        "rules.toml:8:10: rule 'a': weight must be a number");
  }
}

TEST_CASE("LoadFile reads a file and names it in errors", "[rules]") {
  const auto dir =
      std::filesystem::temp_directory_path() / ("earshot-rules-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto good = dir / "good.toml";
  std::ofstream(good) << WithMeta("[[rule]]\nid = \"a\"\nlabel = \"x\"\nany = ['\\bwait']\n");
  auto set = RuleSet::LoadFile(good);
  REQUIRE(set.ok());
  CHECK((*set)->rules()[0].file == good.string());
  const auto bad = dir / "bad.toml";
  std::ofstream(bad) << WithMeta("[[rule]]\nid = \"a\"\nlabel = \"x\"\nany = ['(']\n");
  auto refused = RuleSet::LoadFile(bad);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().message() ==
        bad.string() + ":7:8: rule 'a': bad any pattern '(': missing ): (");
  auto missing = RuleSet::LoadFile(dir / "absent.toml");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == StatusCode::kNotFound);
  std::filesystem::remove_all(dir);
}

TEST_CASE("any, all and none combine as documented", "[rules]") {
  auto set = Load(WithMeta(R"(
[[rule]]
id = "any"
label = "x"
any = ['\bparking\b', '\bcar park\b']

[[rule]]
id = "all"
label = "x"
all = ['\bparking\b', '\bexpensive\b']

[[rule]]
id = "any-all-none"
label = "x"
any = ['\bparking\b']
all = ['\bfine\b']
none = ['\bfine (now|thanks)\b']
)"));
  CHECK(Fired(*set, "the car park is full") == Ids{"any"});
  CHECK(Fired(*set, "Parking was expensive") == Ids{"any", "all"});
  CHECK(Fired(*set, "expensive, and no parking fine either") == Ids{"any", "all", "any-all-none"});
  CHECK(Fired(*set, "parking fine now thanks, a fine day") == Ids{"any"});
  CHECK(Fired(*set, "nothing to see") == Ids{});
  CHECK(Fired(*set, "") == Ids{});
}

TEST_CASE("near holds when a and b are within N words, in either order", "[rules]") {
  auto set = Load(WithMeta(R"(
[[rule]]
id = "rude-nurse"
label = "x"
near = [{ a = '\bnurses?\b', b = '\brude\b', within = 3 }]

[[rule]]
id = "two-nears"
label = "x"
any = ['\bward\b']
near = [{ a = '\bnurse\b', b = '\brude\b', within = 0 }, { a = '\bward\b', b = '\bcold\b', within = 1 }]
)"));
  CHECK(Fired(*set, "the nurse was really very rude") == Ids{"rude-nurse"});  // 3 between
  CHECK(Fired(*set, "the nurse was really, truly very rude") == Ids{});       // 4 between
  CHECK(Fired(*set, "rude nurses everywhere") == Ids{"rude-nurse"});          // b before a
  CHECK(Fired(*set, "rude is what the nurse was, but so rude") == Ids{"rude-nurse"});
  CHECK(SpanText(*set, "Oh the nurse was so rude!", "rude-nurse") == "nurse was so rude");
  CHECK(SpanText(*set, "Rude, that nurse", "rude-nurse") == "Rude, that nurse");
  // Punctuation is not a word; apostrophes are part of one.
  CHECK(Fired(*set, "nurse -- !! -- rude") == Ids{"rude-nurse"});
  CHECK(Fired(*set, "nurse wasn't ever so rude") == Ids{"rude-nurse"});
  // Every near clause must hold; the span is the first positive clause's.
  CHECK(Fired(*set, "ward cold, nurse rude") == Ids{"rude-nurse", "two-nears"});
  CHECK(SpanText(*set, "ward very cold, rude nurse", "two-nears") == "ward");
  CHECK(Fired(*set, "ward was very cold, rude nurse") == Ids{"rude-nurse"});
}

TEST_CASE("unless_preceded cancels a match with a negation just before it", "[rules]") {
  auto set = Load(WithMeta(R"(
[[rule]]
id = "criticism.rude"
label = "negative"
any = ['\brude\b', '\bfault(y|s)?\b']
unless_preceded = '\b(not|never|no|wasn.?t|isn.?t|weren.?t|didn.?t|couldn.?t)\b'
within_words = 3

[[rule]]
id = "praise.couldnt-fault"
label = "positive"
any = ['\bcouldn.?t (fault|praise .{0,20} enough)']

[[rule]]
id = "criticism.rude-staff"
label = "negative"
near = [{ a = '\bstaff\b', b = '\brude\b', within = 4 }]
unless_preceded = '\bnot\b'
within_words = 1
)"));
  CHECK(Fired(*set, "the staff were not rude") == Ids{});
  CHECK(Fired(*set, "rude staff") == Ids{"criticism.rude", "criticism.rude-staff"});
  CHECK(Fired(*set, "Couldn't fault the care") == Ids{"praise.couldnt-fault"});
  CHECK(Fired(*set, "couldn’t fault them") == Ids{"praise.couldnt-fault"});  // curly apostrophe
  CHECK(Fired(*set, "the ward was faulty") == Ids{"criticism.rude"});
  // The negation must be among the 3 words before the match.
  CHECK(Fired(*set, "not at all rude") == Ids{});
  CHECK(Fired(*set, "not in the least rude") == Ids{"criticism.rude"});
  // A negated match does not hide a later, plain one; the span is the plain one.
  const std::string text = "not rude at first, then very rude";
  CHECK(Fired(*set, text) == Ids{"criticism.rude"});
  std::vector<RuleMatch> matches;
  set->Match(text, &matches);
  REQUIRE(matches.size() == 1);
  CHECK(matches[0].span.start == static_cast<int32_t>(text.rfind("rude")));
  CHECK(matches[0].span.end == static_cast<int32_t>(text.size()));
  // A negation after the match does not count.
  CHECK(Fired(*set, "rude? not really") == Ids{"criticism.rude"});
  // Negation applies to near clauses too, with the rule's own window.
  CHECK(Fired(*set, "staff were not rude") == Ids{});
  CHECK(Fired(*set, "staff, not very rude") == Ids{"criticism.rude-staff"});
}

TEST_CASE("Spans are byte offsets into UTF-8 text", "[rules]") {
  auto set = Load(WithMeta(R"(
[[rule]]
id = "cafe"
label = "x"
any = ['caf\x{e9}', 'tr\x{e8}s \w+']

[[rule]]
id = "wait"
label = "x"
any = ['\bwait(ed|ing)?\b.{0,40}\bhours?\b']
)"));
  const std::string text = "Ç’était très long — we waited 6 hours at the café";
  std::vector<RuleMatch> matches;
  set->Match(text, &matches);
  REQUIRE(matches.size() == 2);
  CHECK(matches[0].rule->id == "cafe");
  // The earliest match among the any patterns wins.
  CHECK(matches[0].span.start == static_cast<int32_t>(text.find("très")));
  CHECK(matches[0].span.end ==
        static_cast<int32_t>(text.find("très") + std::string("très long").size()));
  CHECK(matches[1].rule->id == "wait");
  CHECK(text.substr(matches[1].span.start, matches[1].span.end - matches[1].span.start) ==
        "waited 6 hours");
  CHECK(SpanText(*set, "CAFÉ", "cafe") == "CAFÉ");  // case folding beyond ASCII
}

TEST_CASE("Patterns that can match the empty string terminate and give empty spans", "[rules]") {
  auto set = Load(WithMeta(R"(
[[rule]]
id = "empty"
label = "x"
any = ['x*']

[[rule]]
id = "near-empty"
label = "x"
near = [{ a = '\b', b = 'é?', within = 0 }]

# A negation that matches the empty string negates every match (lint says so).
[[rule]]
id = "negated-everywhere"
label = "x"
any = ['a']
unless_preceded = 'q*'
)"));
  std::vector<RuleMatch> matches;
  set->Match("aé b", &matches);
  REQUIRE(matches.size() == 2);
  CHECK(matches[0].rule->id == "empty");
  CHECK(matches[0].span.start == 0);
  CHECK(matches[0].span.end == 0);
  CHECK(matches[1].rule->id == "near-empty");
  CHECK(Fired(*set, "") == Ids{"empty"});  // no word, so no \b
}

TEST_CASE("Patterns are case-insensitive unless meta.case_sensitive", "[rules]") {
  constexpr std::string_view kRule =
      "[[rule]]\nid = \"nhs\"\nlabel = \"x\"\nany = ['\\bNHS 111\\b']\n";
  auto folded = Load(WithMeta(kRule));
  CHECK(Fired(*folded, "rang nhs 111 twice") == Ids{"nhs"});
  CHECK(Fired(*folded, "rang NHS 111 twice") == Ids{"nhs"});
  auto exact =
      Load("[meta]\nstage = \"t\"\nversion = \"1\"\ncase_sensitive = true\n" + std::string(kRule));
  CHECK(Fired(*exact, "rang nhs 111 twice") == Ids{});
  CHECK(Fired(*exact, "rang NHS 111 twice") == Ids{"nhs"});
  // An inline flag still works inside a case-sensitive file.
  auto inline_flag = Load(
      "[meta]\nstage = \"t\"\nversion = \"1\"\ncase_sensitive = true\n"
      "[[rule]]\nid = \"a\"\nlabel = \"x\"\nany = ['(?i)\\bae\\b']\n");
  CHECK(Fired(*inline_flag, "went to A&E, then AE") == Ids{"a"});
}

TEST_CASE("Rules sharing patterns fire independently, in file order", "[rules]") {
  auto set = Load(WithMeta(R"(
[[rule]]
id = "z.last-in-alphabet"
label = "x"
any = ['\bwait']

[[rule]]
id = "a.first-in-alphabet"
label = "x"
any = ['\bhours\b', '\bwait']

[[rule]]
id = "m.negated"
label = "x"
any = ['\bwait']
unless_preceded = '\bno\b'
)"));
  CHECK(Fired(*set, "no wait, six hours") == Ids{"z.last-in-alphabet", "a.first-in-alphabet"});
  CHECK(SpanText(*set, "no wait, six hours", "a.first-in-alphabet") == "wait");
  CHECK(Fired(*set, "a long wait") ==
        Ids{"z.last-in-alphabet", "a.first-in-alphabet", "m.negated"});
  CHECK(set->stats().texts.load() == 3);
}

using Alternatives = std::vector<std::vector<std::string>>;

TEST_CASE("Gaps are cut out of patterns at the top level only", "[rules]") {
  using internal::SplitAtGaps;
  auto cut = [](std::string_view pattern) {
    auto split = SplitAtGaps(pattern);
    CHECK_FALSE(split.whole);
    return split.alternatives;
  };
  auto whole = [](std::string_view pattern, bool gap_kept) {
    auto split = SplitAtGaps(pattern);
    CHECK(split.whole);
    CHECK(split.gap_kept == gap_kept);
    return split.alternatives == Alternatives{{std::string(pattern)}};
  };
  CHECK(cut(R"(\bwait(ed|ing)?\b.{0,40}\bhours?\b)") ==
        Alternatives{{R"(\bwait(ed|ing)?\b)", R"(\bhours?\b)"}});
  CHECK(cut(R"(\bnot\b.*\bhappy)") == Alternatives{{R"(\bnot\b)", R"(\bhappy)"}});
  CHECK(cut(R"(a[^.!?]*b[^.]+?c)") == Alternatives{{"a", "b", "c"}});
  CHECK(cut(R"(\bno(\s+\w+){0,4}\s+help)") == Alternatives{{R"(\bno)", R"(\s+help)"}});
  CHECK(cut(R"(x\S*y\W+z)") == Alternatives{{"x", "y", "z"}});
  CHECK(cut("(?i)rude.{0,9}nurse") == Alternatives{{"(?i)rude", "(?i)nurse"}});
  CHECK(cut(R"(foo|bar.{0,9}baz|qux)") == Alternatives{{"foo"}, {"bar", "baz"}, {"qux"}});
  // Pieces of nothing but assertions say nothing and are dropped.
  CHECK(cut(R"(\b.{0,40}\bfoo$)") == Alternatives{{R"(\bfoo$)"}});
  // Classes, escapes and braces that are not gaps.
  CHECK(cut(R"([.{]{0,9}x)") == Alternatives{{"x"}});
  CHECK(cut(R"(\x{2019}s.{2,9}\p{Lu}\d{3})") == Alternatives{{R"(\x{2019}s)", R"(\p{Lu}\d{3})"}});
  CHECK(whole(R"(\bnurse\b)", false));
  CHECK(whole(R"(\Q.{0,40}\E)", false));
  CHECK(whole(R"(a\{0,40}b)", false));
  CHECK(whole(R"(x{2}y{1,3}\w+\s*[a-z]+(ab)?)", false));
  CHECK(whole(R"([^x]{0,3}y)", false));
  // Gaps the splitter must leave in: inside groups, mid-pattern flags, a
  // pattern that is all gap, an alternative left empty.
  CHECK(whole(R"((a.{0,40}b)c)", true));
  CHECK(whole(R"(a(?i)b.{0,9}c)", true));
  CHECK(whole(R"(.{0,40})", true));
  CHECK(whole(R"(a.{0,9}b|.*)", true));
}

TEST_CASE("Patterns with gaps are confirmed whole after the set pass", "[rules]") {
  auto set = Load(WithMeta(R"(
[[rule]]
id = "long-wait"
label = "x"
any = ['\bwait(ed|ing)?\b.{0,20}\bhours?\b']
none = ['\bwaiting\b.{0,10}\broom\b']

[[rule]]
id = "all-gap"
label = "x"
all = ['\bward\b.{0,10}\bcold\b', '\bnurse']
)"));
  CHECK(Fired(*set, "we waited six hours") == Ids{"long-wait"});
  CHECK(SpanText(*set, "so we waited six hours!", "long-wait") == "waited six hours");
  // The pieces occur, the whole pattern does not.
  CHECK(Fired(*set, "waited, and the rest of the day went by, hours later") == Ids{});
  // `none` blocks only when its whole pattern occurs.
  CHECK(Fired(*set, "waiting in the room for hours") == Ids{});
  CHECK(Fired(*set, "waiting 3 hours; the room we were finally shown to was fine") ==
        Ids{"long-wait"});
  CHECK(Fired(*set, "the ward was cold, the nurse kind") == Ids{"all-gap"});
  CHECK(Fired(*set, "the ward was spotless, lovely, but cold; the nurse kind") == Ids{});
}

// Case variants of one word compile to the same regexp, so every one of them
// matches at the same place: the DFA state after the word holds all their
// match ids, and a small budget that still compiles cannot hold that state.
std::string ManyVariantsRuleFile(int variants) {
  const std::string word = "appointments";
  std::string any;
  for (int v = 0; v < variants; ++v) {
    std::string w = word;
    for (size_t i = 0; i < w.size(); ++i)
      if (v & (1 << i)) w[i] = static_cast<char>(w[i] - 'a' + 'A');
    any += (v ? ", '" : "'") + w + "'";
  }
  return WithMeta(
      "[[rule]]\nid = \"variants\"\nlabel = \"x\"\nany = [" + any +
      "]\n\n"
      "[[rule]]\nid = \"rude\"\nlabel = \"x\"\nany = ['\\brude\\b']\n"
      "unless_preceded = '\\bnot\\b'\n\n"
      "[[rule]]\nid = \"near\"\nlabel = \"x\"\n"
      "near = [{ a = '\\bnurse\\b', b = '\\bappointments?\\b', within = 2 }]\n\n"
      "[[rule]]\nid = \"gap\"\nlabel = \"x\"\nany = ['\\bnurse\\b.{0,30}\\blate\\b']\n");
}

TEST_CASE("When the RE2::Set DFA runs out of memory, matching falls back with the same answer",
          "[rules]") {
  // RE2 itself logs "RunStateOnByteUnlocked failed after ResetCache" to
  // stderr when this happens; that line is expected here.
  const std::string file = ManyVariantsRuleFile(4000);
  auto roomy = Load(file);
  // The smallest budget that still compiles (to 256 bytes).
  int64_t refused = 8 << 10, compiles = 16 << 20;
  while (compiles - refused > 256) {
    const int64_t mid = (refused + compiles) / 2;
    (RuleSet::LoadText(file, "rules.toml", RuleSetOptions{mid}).ok() ? compiles : refused) = mid;
  }
  auto loaded = RuleSet::LoadText(file, "rules.toml", RuleSetOptions{compiles});
  REQUIRE(loaded.ok());
  std::shared_ptr<const RuleSet> tight = *loaded;
  INFO("budget " << compiles);
  const std::vector<std::string> texts = {
      "my appointments were cancelled",
      "the nurse said appointments are late; not rude though",
      "Rude receptionist, APPOINTMENTS lost",
      "nothing relevant here",
  };
  for (const std::string& text : texts) {
    std::vector<RuleMatch> expected, got;
    roomy->Match(text, &expected);
    tight->Match(text, &got);
    REQUIRE(expected.size() == got.size());
    for (size_t i = 0; i < got.size(); ++i) {
      CHECK(got[i].rule->id == expected[i].rule->id);
      CHECK(got[i].span.start == expected[i].span.start);
      CHECK(got[i].span.end == expected[i].span.end);
    }
  }
  CHECK(Fired(*tight, texts[1]) == Ids{"variants", "near", "gap"});
  CHECK(Fired(*tight, texts[2]) == Ids{"variants", "rude"});
  CHECK(tight->stats().dfa_out_of_memory.load() >= 3);
  CHECK(tight->stats().fallbacks.load() >= tight->stats().dfa_out_of_memory.load());
  CHECK(roomy->stats().dfa_out_of_memory.load() == 0);
  CHECK(roomy->stats().fallbacks.load() == 0);
  CHECK(tight->stats().texts.load() == static_cast<int64_t>(texts.size()) + 2);
}

// A generated rule file in the shape of the real ones: phrases with word
// boundaries, gaps, negations and proximity.
std::string GeneratedRules(int n) {
  std::string out(kMeta);
  for (int i = 0; i < n; ++i) {
    const std::string k = std::to_string(i);
    out += "[[rule]]\nid = \"r" + k + "\"\nlabel = \"l" + std::to_string(i % 7) + "\"\n";
    switch (i % 4) {
      case 0:
        out += "any = ['\\bterm" + k + "\\b', '\\bword" + k + "s?\\b']\n";
        break;
      case 1:
        out += "any = ['\\bterm" + k + "\\b.{0,30}\\bhours?\\b']\nunless_preceded = '\\bnot\\b'\n";
        break;
      case 2:
        out += "all = ['\\bterm" + k + "\\b', '\\bstaff\\b']\nnone = ['\\bno term" + k + "\\b']\n";
        break;
      default:
        out += "near = [{ a = '\\bterm" + k + "\\b', b = '\\bnurse\\b', within = 3 }]\n";
    }
  }
  return out;
}

std::string GeneratedText(int i) {
  return "We waited term" + std::to_string(i % 400) + " for 4 hours, the staff and nurse were " +
         (i % 3 ? "kind" : "not rude") + " word" + std::to_string((i * 7) % 400) + " filler text";
}

TEST_CASE("Several threads matching one set get the single-threaded answers", "[rules]") {
  auto set = Load(GeneratedRules(400));
  constexpr int kTexts = 600;
  std::vector<std::vector<std::string>> expected(kTexts);
  for (int i = 0; i < kTexts; ++i) expected[i] = Fired(*set, GeneratedText(i));
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round) {
        for (int i = 0; i < kTexts; ++i) {
          const int k = (i * 7 + t * 13 + round) % kTexts;
          if (Fired(*set, GeneratedText(k)) != expected[k]) ++mismatches[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(mismatches == std::vector<int>(4, 0));
  CHECK(set->stats().texts.load() == kTexts + 4 * 3 * kTexts);
  CHECK(set->stats().fallbacks.load() == 0);
}

TEST_CASE("A large generated rule file compiles and matches what it should", "[rules]") {
  auto set = Load(GeneratedRules(2000));
  REQUIRE(set->rules().size() == 2000);
  int64_t fired = 0;
  for (int i = 0; i < 2000; ++i) {
    std::vector<RuleMatch> matches;
    const std::string text = GeneratedText(i);
    set->Match(text, &matches);
    fired += static_cast<int64_t>(matches.size());
    for (const RuleMatch& m : matches) {
      REQUIRE(m.span.start >= 0);
      REQUIRE(m.span.start <= m.span.end);
      REQUIRE(m.span.end <= static_cast<int32_t>(text.size()));
    }
  }
  CHECK(fired == 1990);  // see GeneratedText: 75% of texts by term, 25% by word, 10 both
  // term0 .. hours, not negated (i % 3 != 0 texts say "kind").
  CHECK(Fired(*set, "term1 lasted 3 hours") == Ids{"r1"});
  CHECK(Fired(*set, "not term1 lasted 3 hours") == Ids{});
  CHECK(Fired(*set, "term2 staff") == Ids{"r2"});
  CHECK(Fired(*set, "no term2 staff") == Ids{});
  CHECK(Fired(*set, "term3 and the nurse") == Ids{"r3"});
  CHECK(Fired(*set, "word1996s") == Ids{"r1996"});
  CHECK(set->stats().dfa_out_of_memory.load() == 0);
}

TEST_CASE("Lint reports rules that match nothing, too much, or the empty string", "[rules]") {
  auto set = Load(WithMeta(R"(
[[rule]]
id = "everything"
label = "x"
any = ['\bthe\b']

[[rule]]
id = "nothing"
label = "x"
any = ['\bzebra\b']

[[rule]]
id = "some"
label = "x"
any = ['\bnurse\b']

[[rule]]
id = "empty"
label = "x"
any = ['\bward\b', '(staff)?']
none = ['^']

[[rule]]
id = "slow"
label = "x"
any = ['\bcar park\b', '(not.{0,30}park)']
)"));
  const std::vector<std::string> sample = {"the nurse", "the ward", "the car park", "staff"};
  LintReport report = Lint(*set, sample);
  CHECK(report.sample_size == 4);
  CHECK(report.hits == std::vector<int64_t>{3, 0, 1, 0, 1});
  std::vector<std::string> got;
  for (const LintFinding& f : report.findings) {
    got.push_back(f.rule_id + " " + std::string(LintKindName(f.kind)) + " " + f.pattern);
  }
  CHECK(got == Ids{"everything matches-too-much ", "nothing matches-nothing ",
                   "empty matches-empty (staff)?", "empty matches-empty ^",
                   "empty matches-nothing ", "slow slow-gap (not.{0,30}park)"});
  CHECK(report.findings[0].message ==
        "rules.toml:5: rule 'everything' matched 3 of 4 sample texts (75.0%, more than 50.0%)");
  CHECK(report.findings[0].fraction == 0.75);
  CHECK(report.findings[2].message ==
        "rules.toml:20: rule 'empty' any pattern '(staff)?' can match the empty string");

  LintReport lenient = Lint(*set, sample, LintOptions{0.8});
  CHECK(std::none_of(lenient.findings.begin(), lenient.findings.end(), [](const LintFinding& f) {
    return f.kind == LintFinding::Kind::kMatchesTooMuch;
  }));
  LintReport no_sample = Lint(*set, {});
  CHECK(no_sample.findings.size() == 3);  // the pattern checks only
}

TEST_CASE("Lint reports a gap only where it costs every text: in the RE2::Set", "[rules]") {
  // The same grouped gap: the word index takes the first (words fenced by
  // \b), the second can start inside a word and stays in the set.
  auto set = Load(WithMeta(R"(
[[rule]]
id = "indexed"
label = "x"
any = ['(\bnot\b.{0,30}\bpark\b)']

[[rule]]
id = "in-set"
label = "x"
any = ['(not.{0,30}park)']
)"));
  std::vector<std::string> got;
  for (const LintFinding& f : Lint(*set, {}).findings) {
    got.push_back(f.rule_id + " " + std::string(LintKindName(f.kind)));
  }
  CHECK(got == Ids{"in-set slow-gap"});
  CHECK(set->pattern_counts().word_index == 1);
  CHECK(set->pattern_counts().re2_set == 1);
}

TEST_CASE("Explain shows each clause's matches and negations", "[rules]") {
  auto set = Load(WithMeta(R"(
[[rule]]
id = "rude"
label = "negative"
any = ['\brude\b']
none = ['\bjoke\b']
unless_preceded = '\bnot\b'

[[rule]]
id = "near"
label = "negative"
near = [{ a = '\bnurse\b', b = '\brude\b', within = 2 }]
)"));
  const std::string text = Explain(*set, "the nurse was not rude");
  CHECK(text ==
        "rule rude (rules.toml:5) -> negative: does not fire\n"
        "  any '\\brude\\b': [18,22) \"rude\" (negated)\n"
        "  none '\\bjoke\\b': absent\n"
        "  unless_preceded '\\bnot\\b' within 3 words: present\n"
        "rule near (rules.toml:12) -> negative: fires [4,22) \"nurse was not rude\"\n"
        "  near '\\bnurse\\b' ~ '\\brude\\b' within 2: holds at [4,22) \"nurse was not rude\"\n");
}

// ---------------------------------------------------------------------------
// The word index (classifiers/rules/word_index.h): patterns of the word and
// phrase shapes are matched word by word, with RE2's answers. Each test
// compares against the same rules with every pattern in the RE2::Set
// (RuleSetOptions::word_index = false), the reference.

std::shared_ptr<const RuleSet> LoadReference(std::string_view text) {
  RuleSetOptions options;
  options.word_index = false;
  return Load(text, options);
}

// Every rule that fired, with its span, as one comparable string.
std::string Outcome(const RuleSet& set, std::string_view text) {
  std::vector<RuleMatch> matches;
  set.Match(text, &matches);
  std::string out;
  for (const RuleMatch& m : matches) {
    out += m.rule->id + "[" + std::to_string(m.span.start) + "," + std::to_string(m.span.end) + ")";
  }
  return out;
}

// Checks that `fast` and `reference` agree on every text; returns how many
// rule matches there were (so callers can see the texts exercise the rules).
int64_t CheckSameAnswers(const RuleSet& fast, const RuleSet& reference,
                         const std::vector<std::string>& texts) {
  int64_t matches = 0, mismatches = 0;
  for (const std::string& text : texts) {
    const std::string want = Outcome(reference, text);
    const std::string got = Outcome(fast, text);
    if (got != want && ++mismatches <= 5) {
      INFO("text: " << text);
      CHECK(got == want);
    }
    std::vector<RuleMatch> m;
    reference.Match(text, &m);
    matches += static_cast<int64_t>(m.size());
    // MatchLabels is Match summed per declared label, in file order.
    std::vector<LabelTotal> totals;
    fast.MatchLabels(text, &totals);
    std::map<std::string, double> score;
    std::map<std::string, int> count;
    std::map<std::string, std::string> best;
    std::map<std::string, double> best_weight;
    for (const RuleMatch& r : m) {
      if (!reference.FindLabel(r.rule->label)) continue;
      score[r.rule->label] += r.rule->weight;
      if (!count[r.rule->label]++ || r.rule->weight > best_weight[r.rule->label]) {
        best[r.rule->label] = r.rule->id + "@" + std::to_string(r.span.start);
        best_weight[r.rule->label] = r.rule->weight;
      }
    }
    REQUIRE(totals.size() == score.size());
    for (const LabelTotal& t : totals) {
      CHECK(t.score == score[t.label->name]);  // bit for bit: the same sums in the same order
      CHECK(t.matches == count[t.label->name]);
      CHECK(t.best.rule->id + "@" + std::to_string(t.best.span.start) == best[t.label->name]);
    }
  }
  CHECK(mismatches == 0);
  return matches;
}

// Random patterns in (and around) the shapes the word index takes, and
// random texts made of their words and the characters between words.
class PatternGenerator {
 public:
  explicit PatternGenerator(uint32_t seed) : rng_(seed) {}

  std::string Pattern() {
    std::string p;
    const int shape = Pick(20);
    if (shape == 0) return "^\\W{0,3}" + Word() + "(\\W{1,3}" + Word() + ")?\\W{0,3}$";
    if (shape == 1) return "^(?:\\W*\\w+\\b){" + std::to_string(1 + Pick(6)) + "}";
    if (shape == 2)
      return "\\b(not|no|never|\\w+n[’']t)\\b.{" + std::to_string(Pick(2)) + "," +
             std::to_string(5 + Pick(30)) + "}\\b" + Word() + "\\b";
    if (shape == 3) return "\\S";
    if (shape == 4) return Word() + "\\b";  // may start inside a word: RE2 alone
    p = "\\b" + Item();
    const int more = Pick(3);
    for (int i = 0; i < more; ++i) p += Gap() + Item();
    if (Pick(5) != 0) p += "\\b";  // else the last word may be a prefix
    if (Pick(8) == 0) p = p + "|\\b" + Item() + "\\b";
    return p;
  }

  std::string Text() {
    std::string t;
    if (Pick(6) == 0) t += Sep();
    const int n = 1 + Pick(14);
    for (int i = 0; i < n; ++i) {
      std::string w = kWords[Pick(std::size(kWords))];
      if (Pick(6) == 0) {
        for (char& c : w) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      }
      t += w;
      if (i + 1 < n || Pick(3) == 0) t += Sep();
    }
    return t;
  }

 private:
  static constexpr const char* kWords[] = {
      "not",   "no",      "nurse",     "nurses",      "care", "plan",  "careplan",
      "x",     "ray",     "xray",      "don",         "t",    "can",   "5",
      "10",    "24",      "a",         "e",           "good", "very",  "kind",
      "rude",  "wait",    "waited",    "hours",       "hr",   "co",    "ordinator",
      "staff", "station", "recommend", "recommended", "caf",  "never", "the"};

  int Pick(size_t n) { return static_cast<int>(rng_() % n); }
  std::string Word() { return kWords[Pick(std::size(kWords))]; }
  std::string Item() {
    switch (Pick(10)) {
      case 0:
        return "(" + Word() + "|" + Word() + "|" + Word() + ")";
      case 1:
        return Word() + "s?";
      case 2:
        return "\\d+";
      case 3:
        return Word() + "\\w*";
      case 4:
        return "(" + Word() + " )?" + Word();
      case 5:
        return "nurse[sz]?";
      case 6:
        return "x-?rays?";
      default:
        return Word();
    }
  }
  std::string Gap() {
    const char* gaps[] = {" ",    "\\W{1,3}", " ?",   "[- ]",   "-?", "\\s+", "\\b.{0,20}\\b",
                          "[’']", " & ",      "\\W+", "\\W*\\b"};
    return gaps[Pick(std::size(gaps))];
  }
  std::string Sep() {
    const char* seps[] = {" ",   " ", " ",  ", ",  "-", "'", "’", "\n", "  ",
                          " é ", "—", ". ", " & ", "&", "_", "(", ") "};
    return seps[Pick(std::size(seps))];
  }

  std::mt19937 rng_;
};

std::string RuleFileOf(const std::vector<std::string>& patterns) {
  std::string out(kMeta);
  for (size_t i = 0; i < patterns.size(); ++i) {
    std::string literal = patterns[i];
    out += "[[rule]]\nid = \"r" + std::to_string(i) + "\"\nlabel = \"l" + std::to_string(i % 3) +
           "\"\nweight = " + std::to_string(0.25 * (i % 5) - 0.3) + "\nany = ['''" + literal +
           "''']\n";
    if (i % 4 == 1) out += "unless_preceded = '''\\b(not|no|never|\\w+n[’']t)\\b'''\n";
    if (i % 7 == 2) out += "none = ['\\bstation\\b']\n";
  }
  return out;
}

TEST_CASE("The word index gives RE2's matches on generated patterns and texts", "[rules]") {
  PatternGenerator gen(20261122);
  std::vector<std::string> patterns;
  for (int i = 0; i < 400; ++i) patterns.push_back(gen.Pattern());
  const std::string file = RuleFileOf(patterns);
  auto fast = Load(file);
  auto reference = LoadReference(file);
  const RuleSet::PatternCounts counts = fast->pattern_counts();
  INFO(counts.word_index << " by words, " << counts.word_filter << " filtered, " << counts.re2_set
                         << " in the set");
  CHECK(counts.word_index > counts.total * 3 / 4);
  CHECK(counts.re2_set > 0);  // the generator also writes patterns outside the subset
  std::vector<std::string> texts;
  for (int i = 0; i < 1500; ++i) texts.push_back(gen.Text());
  // And a long one: many anchors, matches far apart.
  std::string long_text;
  for (int i = 0; i < 400; ++i) long_text += gen.Text() + (i % 7 ? " " : "\n");
  texts.push_back(long_text);
  CHECK(CheckSameAnswers(*fast, *reference, texts) > 3000);
  CHECK(fast->stats().slow_texts.load() == 0);
}

TEST_CASE("The default rule files match the same with and without the word index", "[rules]") {
  const std::filesystem::path dir = std::filesystem::path(EARSHOT_SOURCE_DIR) / "config" / "rules";
  // Texts of the words the rules are about, in the ways posts join them.
  std::vector<std::string> vocabulary;
  for (const char* name : {"topics.toml", "sentiment.toml", "criticality.toml", "relevance.toml"}) {
    std::ifstream in(dir / name);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("any = ['\\b", 0) != 0) continue;
      std::string word;
      for (char c : line.substr(10)) {
        if (std::isalpha(static_cast<unsigned char>(c))) {
          word += c;
        } else {
          break;
        }
      }
      if (word.size() > 1) vocabulary.push_back(word);
    }
  }
  REQUIRE(vocabulary.size() > 1000);
  std::mt19937 rng(7);
  const char* seps[] = {" ",  " ",     " ",       ", ",         ". ",   " - ",       "'",  "’",
                        "\n", " not ", " never ", " couldn't ", " no ", " 4 hours ", "!! "};
  std::vector<std::string> texts = {
      "",           " ", "Good", "nothing", "did not answer", "N/A", "very good", "NOTHING AT ALL!",
      "thank you x"};
  for (int i = 0; i < 250; ++i) {
    std::string t;
    const int n = 1 + static_cast<int>(rng() % 40);
    for (int k = 0; k < n; ++k) {
      t += vocabulary[rng() % vocabulary.size()];
      t += seps[rng() % std::size(seps)];
    }
    texts.push_back(t);
  }
  for (const char* name : {"topics.toml", "sentiment.toml", "criticality.toml", "relevance.toml"}) {
    INFO(name);
    auto fast = RuleSet::LoadFile(dir / name);
    RuleSetOptions reference_options;
    reference_options.word_index = false;
    auto reference = RuleSet::LoadFile(dir / name, reference_options);
    REQUIRE(fast.ok());
    REQUIRE(reference.ok());
    // Every default pattern is found by the word index, exactly or as a
    // filter: no text pays for an RE2::Set scan.
    CHECK((*fast)->pattern_counts().re2_set == 0);
    CHECK((*fast)->pattern_counts().word_index + 2 >= (*fast)->pattern_counts().total);
    CHECK(CheckSameAnswers(**fast, **reference, texts) > 0);
  }
}

TEST_CASE("Texts the word index cannot read are matched with RE2, with the same answers",
          "[rules]") {
  const std::string file = WithMeta(R"(
[[rule]]
id = "works"
label = "x"
any = ['\bworks\b', '\bkiss\b']

[[rule]]
id = "long-s"
label = "x"
any = ['\bfirst\b']
)");
  auto fast = Load(file);
  auto reference = LoadReference(file);
  // Case-insensitive RE2 reads U+212A KELVIN SIGN as k and U+017F LONG S as
  // s inside words; invalid UTF-8 matches no character class.
  const std::vector<std::string> texts = {"it wor\u212As",    "\u212Aiss",       "\u017First",
                                          "fir\u017Ft thing", "works \xff kiss", "plain works",
                                          "wor\xe2\x84 ks",   "first\xc3"};
  CheckSameAnswers(*fast, *reference, texts);
  CHECK(Fired(*fast, "it wor\u212As") == Ids{"works"});
  CHECK(Fired(*fast, "\u212Aiss") == Ids{});  // \b needs a word character: K-sign is not one
  CHECK(Fired(*fast, "fir\u017Ft thing") == Ids{"long-s"});
  // All but "plain works": Match and MatchLabels each, and three Fired.
  CHECK(fast->stats().slow_texts.load() == 7 * 2 + 3);
}

TEST_CASE("Word index matches follow RE2's leftmost-first choices", "[rules]") {
  const std::string file = WithMeta(R"(
[[rule]]
id = "short-first"
label = "x"
any = ['\b(nurse|nurse station)\b']

[[rule]]
id = "long-first"
label = "x"
any = ['\b(nurse station|nurse)\b']

[[rule]]
id = "prefix"
label = "x"
any = ['\bhighly recommend']

[[rule]]
id = "whole"
label = "x"
any = ['^\W{0,3}very\W{1,3}good\W{0,3}$']

[[rule]]
id = "negated-word"
label = "x"
any = ['''\b(not|never|\w+n[’']t)\b.{1,30}\bgood\b''']

[[rule]]
id = "three-words"
label = "x"
any = ['^(?:\W*\w+\b){3}']

[[rule]]
id = "non-space"
label = "x"
any = ['\S']
none = ['\bblank\b']

[[rule]]
id = "cafe"
label = "x"
any = ['\b(café|canteen)\b']
)");
  auto set = Load(file);
  CHECK(SpanText(*set, "the nurse station", "short-first") == "nurse");
  CHECK(SpanText(*set, "the nurse station", "long-first") == "nurse station");
  CHECK(SpanText(*set, "I'd highly recommended them", "prefix") == "highly recommend");
  CHECK(SpanText(*set, "  Very good!! ", "whole") == "  Very good!! ");
  CHECK(SpanText(*set, "very good indeed", "whole") == "<none>");
  // Greedy: the furthest "good" within 30 characters of the negation.
  CHECK(SpanText(*set, "wasn't good, not good at all", "negated-word") == "wasn't good, not good");
  CHECK(SpanText(*set, "never\nthat good", "negated-word") == "<none>");  // . stops at \n
  CHECK(SpanText(*set, "one, two; three four", "three-words") == "one, two; three");
  CHECK(SpanText(*set, "two words", "three-words") == "<none>");
  CHECK(SpanText(*set, " \t\n’x", "non-space") == "’");
  CHECK(SpanText(*set, " \t\n ", "non-space") == "<none>");
  CHECK(SpanText(*set, "a blank", "non-space") == "<none>");
  CHECK(SpanText(*set, "the CAFÉ", "cafe") == "<none>");  // \b after É needs a word character
  CHECK(SpanText(*set, "the caféteria", "cafe") == "café");
  CHECK(set->pattern_counts().word_filter == 1);  // café: a letter with case, RE2 confirms
  CheckSameAnswers(
      *set, *LoadReference(file),
      {"the nurse station", "I'd highly recommended them", "  Very good!! ", "very good indeed",
       "wasn't good, not good at all", "never\nthat good", "one, two; three four", "two words",
       " \t\n\u2019x", "a blank", "the CAFÉ", "the caféteria", "Canteen: café"});
}

TEST_CASE("Rule sets loaded together share one word index and answer as when alone", "[rules]") {
  const testing::TempDir temp;
  const std::filesystem::path dir = temp.path();
  const std::vector<std::string> files = {
      WithMeta("[[rule]]\nid = \"a\"\nlabel = \"x\"\nany = ['\\bnurse\\b', '\\bnot\\b']\n"),
      WithMeta("[[rule]]\nid = \"b\"\nlabel = \"y\"\nany = ['\\bnurse\\W{1,3}rude\\b']\n"
               "[[rule]]\nid = \"c\"\nlabel = \"y\"\nany = ['\\bwaited\\b.{0,20}\\bhours?\\b']\n"),
      WithMeta("[[rule]]\nid = \"d\"\nlabel = \"z\"\nany = ['\\bnurse\\b']\n"
               "unless_preceded = '\\bnot\\b'\n")};
  std::vector<std::filesystem::path> paths;
  for (size_t i = 0; i < files.size(); ++i) {
    paths.push_back(dir / ("f" + std::to_string(i) + ".toml"));
    std::ofstream(paths.back()) << files[i];
  }
  auto together = RuleSet::LoadFiles(paths);
  REQUIRE(together.ok());
  REQUIRE(together->size() == 3);
  std::vector<std::shared_ptr<const RuleSet>> alone;
  for (const auto& f : files) alone.push_back(Load(f));
  const std::vector<std::string> texts = {"the nurse, rude", "not the nurse", "waited 3 hours",
                                          "nurse waited for hours, not rude", ""};
  for (int round = 0; round < 2; ++round) {
    for (const std::string& text : texts) {
      // In either order, and the same text twice (the second reuses).
      for (size_t k = 0; k < 3; ++k) {
        const size_t i = round ? 2 - k : k;
        CHECK(Outcome(*(*together)[i], text) == Outcome(*alone[i], text));
      }
    }
  }
  CHECK(Fired(*(*together)[2], "not the nurse") == Ids{});
  CHECK(Fired(*(*together)[2], "the nurse") == Ids{"d"});
  auto missing = RuleSet::LoadFiles({paths[0], dir / "missing.toml"});
  CHECK(missing.status().code() == StatusCode::kNotFound);
}

}  // namespace
}  // namespace earshot::rules
