// Tone hints: the shipped boilerplate rules, repeats of earlier replies,
// personal identifiers with their place in the draft, and the rule file's
// errors.
#include "crawler/threads/tone.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace earshot {
namespace {

const ToneRules& Shipped() {
  static const ToneRules rules = [] {
    auto loaded = LoadToneRules(std::string(EARSHOT_SOURCE_DIR) + "/config/rules/tone.toml");
    INFO(loaded.status().ToString());
    REQUIRE(loaded.ok());
    return std::move(loaded).value();
  }();
  return rules;
}

std::vector<std::string> Kinds(const std::vector<ToneHint>& hints) {
  std::vector<std::string> out;
  for (const ToneHint& h : hints) out.push_back(h.kind + ":" + h.rule);
  return out;
}

std::string Span(std::string_view text, const ToneHint& hint) {
  return std::string(
      text.substr(static_cast<size_t>(hint.start), static_cast<size_t>(hint.end - hint.start)));
}

TEST_CASE("tone: the shipped rules hint at corporate boilerplate", "[tone]") {
  CHECK(Shipped().size() >= 5);
  const std::string draft =
      "We take all feedback very seriously. We are unable to comment on individual cases, "
      "please contact our PALS team.";
  const auto hints = ToneHints(Shipped(), draft, {});
  CHECK(Kinds(hints) == std::vector<std::string>{"boilerplate:pals-referral",
                                                 "boilerplate:no-individual-cases",
                                                 "boilerplate:take-feedback-seriously"});
  for (const ToneHint& h : hints) CHECK_FALSE(h.message.empty());
  CHECK(Span(draft, hints[0]) == "please contact our PALS");
  CHECK(Span(draft, hints[2]) == "We take all feedback very seriously");
}

TEST_CASE("tone: a warm, specific reply gets no hints", "[tone]") {
  const std::string draft =
      "Thank you for telling us about your night on ward 10, and I am sorry it was so noisy. "
      "The ward manager would like to hear more: could you message us?";
  CHECK(ToneHints(Shipped(), draft, {{1, "Thanks for getting in touch with us today."}}).empty());
}

TEST_CASE("tone: a reply repeating an earlier one is hinted", "[tone]") {
  const std::string earlier =
      "Thank you for your feedback. We are sorry to hear about your experience and would "
      "like to look into this further.";
  const std::string same_words =
      "thank you for your feedback!  We are sorry to hear about your experience, and would "
      "like to look into this further";
  const std::string nearly =
      "Thank you for your feedback. We are so sorry to hear about your experience and would "
      "like to look into this further.";
  const auto hints = ToneHints(ToneRules(), same_words, {{7, "unrelated"}, {12, earlier}});
  REQUIRE(hints.size() == 1);
  CHECK(hints[0].kind == "repeat");
  CHECK(hints[0].rule == "reply #12");
  CHECK(hints[0].end == static_cast<int32_t>(same_words.size()));
  CHECK(NearIdentical(nearly, earlier));
  CHECK_FALSE(NearIdentical("Sorry to hear this.", "Sorry to hear that."));
  CHECK(NearIdentical("Sorry to hear this.", "sorry, to hear this"));
  CHECK_FALSE(NearIdentical(
      "Thank you, the ward manager will call you tomorrow about your mother's discharge.",
      earlier));
}

TEST_CASE("tone: personal identifiers are hinted with their place in the draft", "[tone]") {
  const std::string draft =
      "Hi Sam, please ring 0114 271 1900 or email sam.jones@example.com quoting 943 476 5919.";
  const auto hints = ToneHints(ToneRules(), draft, {});
  REQUIRE(Kinds(hints) == std::vector<std::string>{"personal_identifier:phone",
                                                   "personal_identifier:email",
                                                   "personal_identifier:nhs_number"});
  CHECK(Span(draft, hints[0]) == "0114 271 1900");
  CHECK(Span(draft, hints[1]) == "sam.jones@example.com");
  CHECK(Span(draft, hints[2]) == "943 476 5919");
  CHECK(ToneHints(ToneRules(), "Call NHS 111 or go to ward 10 within 4 hours.", {}).empty());
}

TEST_CASE("tone: rule file errors name the place", "[tone]") {
  struct Case {
    std::string text;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"[[boilerplate]]\nid = \"a\"\npattern = '(unclosed'\nhint = \"h\"\n",
       "tone.toml:3:11: [[boilerplate]] \"a\": bad pattern"},
      {"[[boilerplate]]\nid = \"a\"\npattern = 'x'\nhint = \"h\"\ncolour = \"red\"\n",
       "tone.toml:5:1: unknown key \"colour\""},
      {"[[boilerplate]]\nid = \"a\"\npattern = 'x'\n", "tone.toml:1:1: [[boilerplate]] needs id"},
      {"[[boilerplate]]\nid = \"a\"\npattern = 'x'\nhint = \"h\"\n"
       "[[boilerplate]]\nid = \"a\"\npattern = 'y'\nhint = \"h\"\n",
       "tone.toml:5:1: [[boilerplate]] id \"a\" is used twice"},
      {"[[boilerplate]]\nid = 3\n", "tone.toml:2:6: [[boilerplate]].id must be a string"},
      {"[boiler]\n", "tone.toml:1:2: unknown key \"boiler\""},
      {"[[boilerplate]\n", "tone.toml:1:"},
  };
  for (const Case& test : cases) {
    INFO(test.text);
    auto rules = ParseToneRules(test.text, "tone.toml");
    REQUIRE_FALSE(rules.ok());
    CHECK(rules.status().code() == StatusCode::kInvalidArgument);
    CHECK(rules.status().message().rfind(test.error, 0) == 0);
    INFO(rules.status().message());
  }
  CHECK(LoadToneRules("/nonexistent/tone.toml").status().code() == StatusCode::kNotFound);
}

}  // namespace
}  // namespace earshot
