// Redaction benchmark: earshot::redact::Redact over posts of about 200 bytes,
// measured against a baseline that does the least any redactor must do in
// the same run: one RE2 PartialMatch of an NHS-number-shaped digit pattern
// over the same texts.
//
// Output: one JSON object per line on stdout, as bench_core:
//   {"bench":NAME,"items":N,"seconds":S,"items_per_second":R,
//    "baseline":NAME,"baseline_seconds":B,"ratio":S/B}
// Usage: bench_redact [--quick]
#include <re2/re2.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstring>
#include <functional>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "classifiers/redact/redactor.h"

namespace {

using earshot::bench::BestOf;
using earshot::bench::Report;

using Clock = std::chrono::steady_clock;

// Fragments of the posts earshot reads, ordinary numbers included (wards,
// hours, money, times, years, short codes) so the digit paths are exercised.
const std::vector<std::string>& Fragments() {
  static const std::vector<std::string> fragments = {
      "Waited 6 hours in A&E at the Northern General last night.",
      "The nurses on ward 10 were brilliant, rushed off their feet.",
      "Rang NHS 111 at 10:30 and got a call back 4 hours later.",
      "Parking cost me £12.50 for a 2 hour appointment, again.",
      "Bay 3 was freezing and nobody could find a blanket.",
      "Over 1,234 people are on the waiting list according to the board papers.",
      "My GP surgery has not answered the phone since 8am.",
      "Thank you to the maternity team, you were amazing in 2024.",
      "Dad has been on the trolley for 14 hours, is this normal?",
      "The discharge letter said 3/4/2026 but nobody told us.",
      "Staff brilliant, system broken. #NHS #nhsengland",
      "The consultant explained everything clearly and kindly.",
      "Called 999 twice before the ambulance came after 90 minutes.",
      "Room 101 in outpatients has a 40 minute queue every Monday.",
      "Mum's hip replacement finally happened after 18 months.",
      "The café was closed so we had nothing to eat all day.",
  };
  return fragments;
}

// Texts of about `bytes` bytes made of fragments; when `identifier` is
// given, one identifier is placed in each text.
std::vector<std::string> MakeTexts(int count, size_t bytes, bool identifiers) {
  static const std::vector<std::string> ids = {"My NHS number is 943 476 5919.",
                                               "Call me on 07700 900123.",
                                               "Email jo.bloggs@example.org.",
                                               "We live at S5 7AU.",
                                               "DOB 03/04/1956.",
                                               "Ring +44 (0)114 243 4343."};
  std::mt19937_64 rng(42);
  std::vector<std::string> texts;
  texts.reserve(count);
  const auto& fragments = Fragments();
  for (int i = 0; i < count; ++i) {
    std::string text;
    if (identifiers) text = ids[i % ids.size()] + " ";
    while (text.size() < bytes) text += fragments[rng() % fragments.size()] + " ";
    texts.push_back(text.substr(0, bytes));
  }
  return texts;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int runs = quick ? 2 : 5;
  const int count = quick ? 20000 : 200000;
  const RE2 digits("\\d{3}[ -]?\\d{3}[ -]?\\d{4}");

  struct Case {
    const char* name;
    bool identifiers;
  };
  for (const Case& c : {Case{"redact_plain_200b", false}, Case{"redact_identifiers_200b", true}}) {
    const std::vector<std::string> texts = MakeTexts(count, 200, c.identifiers);
    size_t redactions = 0;
    double ours = BestOf(runs, [&] {
      redactions = 0;
      for (const auto& text : texts) redactions += earshot::redact::Redact(text).redactions.size();
    });
    const size_t expected = c.identifiers ? texts.size() : 0;
    if (redactions != expected) {
      std::cerr << c.name << ": " << redactions << " redactions, expected " << expected << "\n";
      return 1;
    }
    size_t hits = 0;
    double base = BestOf(runs, [&] {
      hits = 0;
      for (const auto& text : texts) hits += RE2::PartialMatch(text, digits) ? 1 : 0;
    });
    if (hits > texts.size()) return 1;  // keeps the baseline's work observable
    Report(c.name, static_cast<int64_t>(texts.size()), ours, "re2_partial_match_digits", base);
  }
  return 0;
}
