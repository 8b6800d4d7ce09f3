// Internal to classifiers/rules: cutting gaps out of patterns before they go
// into an RE2::Set.
//
// Why: an unanchored RE2::Set runs one DFA over all patterns at once, and a
// counted gap such as `.{0,40}` makes every offset inside the gap a distinct
// NFA state in every pattern that has one; the combinations overflow any DFA
// cache and the set scan drops from ~1M to a few thousand texts per second
// (measured: bench/bench_rules.cc). So the set holds the gap-free pieces of
// each pattern instead — `\bwait(ed)?\b.{0,40}\bhours?\b` becomes
// `\bwait(ed)?\b` and `\bhours?\b` — which are necessary conditions: a text
// the whole pattern matches contains a match of every piece. The whole
// pattern is then confirmed with its own RE2, which the rule needs anyway for
// its span.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace earshot::rules::internal {

struct PatternSplit {
  // The pattern holds only if for some alternative every piece matches
  // somewhere. {{pattern}} when nothing was cut.
  std::vector<std::vector<std::string>> alternatives;
  // Whether `alternatives` is just the whole pattern.
  bool whole = true;
  // A gap stayed in the set (inside a group, or in a pattern that could not
  // be cut): matching still works, but every text pays for it.
  bool gap_kept = false;
};

// `pattern` must already be valid RE2 syntax. Cuts at top-level items (or
// items of a top-level alternative) that are gaps: any atom repeated {m,n}
// with n - m >= 4 or {m,}, and `.`, negated classes (\S \W \D [^...]) or
// groups repeated with * or +. Leading flag groups such as (?i) are kept on
// every piece; a pattern with a flag group elsewhere at top level, or whose
// cuts leave an alternative with nothing but assertions, is kept whole.
PatternSplit SplitAtGaps(std::string_view pattern);

}  // namespace earshot::rules::internal
namespace earshot::rules {
class RuleSet;
}
namespace earshot::rules::internal {

// Whether `pattern` (as written in a rule of `rules`) is matched through the
// set's RE2::Set, as opposed to the word index (word_index.h); false for a
// pattern the set does not have.
bool InRe2Set(const RuleSet& rules, std::string_view pattern);

}  // namespace earshot::rules::internal
