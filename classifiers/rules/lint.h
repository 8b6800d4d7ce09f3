// Rule quality checks for `earshot rules check`, and a per-rule trace of why
// a text did or did not fire, for operators editing rules.
//
// Both are read-only over a compiled RuleSet and safe to call from several
// threads. They are meant for tooling, not the classification hot path.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "classifiers/rules/rule_set.h"

namespace earshot::rules {

struct LintOptions {
  // A rule firing on more than this fraction of the sample is reported: it
  // tags nearly everything, so it tells staff nothing.
  double max_fraction = 0.5;
};

struct LintFinding {
  enum class Kind {
    kMatchesNothing,  // fired on no text of the sample
    kMatchesTooMuch,  // fired on more than max_fraction of the sample
    kMatchesEmpty,    // a clause's pattern can match the empty string
    kSlowGap,         // a gap the RE2::Set cannot be spared (inside a group):
                      // it costs DFA states on every text of the stage
  };
  Kind kind = Kind::kMatchesNothing;
  std::string rule_id;
  std::string file;
  int line = 0;
  std::string pattern;  // kMatchesEmpty, kSlowGap: the offending pattern
  int64_t hits = 0;     // texts of the sample the rule fired on
  double fraction = 0;  // hits / sample size
  std::string message;  // "FILE:LINE: rule 'id' ...", ready to print
};

struct LintReport {
  int64_t sample_size = 0;
  // Texts each rule fired on, indexed like RuleSet::rules().
  std::vector<int64_t> hits;
  // In rule order; the sample-based kinds are absent when the sample is empty.
  std::vector<LintFinding> findings;
};

std::string_view LintKindName(LintFinding::Kind kind);  // "matches-nothing", ...

LintReport Lint(const RuleSet& rules, const std::vector<std::string>& sample_texts,
                const LintOptions& options = {});

// Human-readable, one block per rule: whether it fired on `text`, its span,
// and for every clause pattern where it matched, whether a negation cancelled
// it, or that it is absent. Rules of a RuleSet not built by RuleSet::Load*
// get a one-line note instead.
std::string Explain(const RuleSet& rules, std::string_view text);

}  // namespace earshot::rules
