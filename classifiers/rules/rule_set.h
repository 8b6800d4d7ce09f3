// RuleSet: one stage's rules (topics, sentiment, criticality, relevance),
// read from a TOML file of RE2 patterns and compiled once into an immutable
// object shared read-only by every thread. See docs/rules.md for the format.
//
// Promises:
// - Load* either returns a fully compiled set or an InvalidArgument whose
//   message starts "FILE:LINE:COLUMN: " and names the rule id and, for a bad
//   pattern, RE2's own error text.
// - Match() is const, thread-safe, allocation-light, and never fails: RE2::Set
//   runs with a memory budget large enough for the default rules; if the DFA
//   still runs out of memory (RE2::Set::ErrorInfo), the text is matched rule
//   by rule with RE2 (slower, same answer) and the event is counted.
// - Patterns of the common word-and-phrase shapes are matched by a word index
//   instead of the RE2::Set (RuleSetOptions::word_index), with RE2's exact
//   answers: the same matches, spans and decisions as RE2 alone gives.
// - Every match carries its rule and the byte span of the text that fired it
//   (the first positive clause's match).
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "crawler/core/status.h"

namespace earshot::rules {

struct Span {
  int32_t start = 0;  // byte offset, inclusive
  int32_t end = 0;    // byte offset, exclusive
};

// What a label means to its stage: a QDC sub-category with its category, a
// sentiment polarity, a criticality flag with its priority.
struct Label {
  std::string name;
  std::string category;    // topics: the QDC category
  double threshold = 1.0;  // summed rule weight needed for the label
  int priority = 0;        // criticality: 1 = most urgent
};

// A proximity clause: some match of `a` and some match of `b`, in either
// order, with at most `within` words between them.
struct NearClause {
  std::string a;
  std::string b;
  int within = 0;
};

struct Rule {
  std::string id;     // unique within its file
  std::string label;  // a Label name of the same file
  double weight = 1.0;
  std::string file;  // where it was defined, for messages and provenance
  int line = 0;
  // The clauses as written (RE2 syntax), for lint, explanations and display;
  // matching uses the compiled forms held by the RuleSet.
  std::vector<std::string> any;
  std::vector<std::string> all;
  std::vector<std::string> none;
  std::vector<NearClause> near;
  std::string unless_preceded;  // empty: no negation
  int within_words = 0;         // words before a match searched for a negation
};

// A label holds when its summed weight + this reaches its threshold: sums
// of decimal weights are not exact in binary, and a label whose weights add
// up to its threshold on paper must still hold.
constexpr double kLabelScoreTolerance = 1e-9;

struct RuleMatch {
  const Rule* rule = nullptr;  // points into the RuleSet; lives as long as it
  Span span;
};

// What one label's matched rules add up to for a text (MatchLabels).
struct LabelTotal {
  const Label* label = nullptr;  // points into the RuleSet
  double score = 0;              // summed weight of its matched rules, in file order
  int matches = 0;               // how many of its rules matched
  // Its matched rule with the largest weight (the earliest in the file on
  // ties), with that rule's span.
  RuleMatch best;
};

// Counters are process-wide per set and updated with relaxed atomics.
struct MatchStats {
  std::atomic<int64_t> texts{0};
  std::atomic<int64_t> dfa_out_of_memory{0};
  // Texts matched pattern by pattern because the RE2::Set pass failed (out of
  // memory, or any other RE2::Set::ErrorInfo kind).
  std::atomic<int64_t> fallbacks{0};
  // Texts the word index cannot read exactly (invalid UTF-8, or U+212A /
  // U+017F, which case-insensitive RE2 reads as k and s), matched pattern by
  // pattern with RE2 instead: same answer, slower.
  std::atomic<int64_t> slow_texts{0};
};

struct RuleSetOptions {
  // Budget for the RE2::Set DFA and each RE2, in bytes.
  int64_t max_mem = 64 << 20;
  // Match word-and-phrase patterns with the word index (docs/rules.md,
  // "Matching and speed"); false puts every pattern in the RE2::Set, the
  // reference the word index is tested and benchmarked against.
  bool word_index = true;
};

class RuleSet {
 public:
  static Result<std::shared_ptr<const RuleSet>> LoadFile(const std::filesystem::path& file,
                                                         const RuleSetOptions& options = {});
  static Result<std::shared_ptr<const RuleSet>> LoadText(std::string_view toml_text,
                                                         std::string_view file_name,
                                                         const RuleSetOptions& options = {});
  // Rule files that will read the same texts (one classifier's stages), in
  // order: the same sets as LoadFile each, but their word-and-phrase
  // patterns share one word index, so a text is looked at once for all of
  // them (a set matching the text its thread's previous set matched reuses
  // what that one found). The first bad file fails the whole call.
  static Result<std::vector<std::shared_ptr<const RuleSet>>> LoadFiles(
      const std::vector<std::filesystem::path>& files, const RuleSetOptions& options = {});
  virtual ~RuleSet() = default;

  virtual const std::string& stage() const = 0;    // [meta] stage
  virtual const std::string& version() const = 0;  // [meta] version
  virtual const std::vector<Rule>& rules() const = 0;
  virtual const std::vector<Label>& labels() const = 0;
  virtual const Label* FindLabel(std::string_view name) const = 0;

  // Appends every rule whose clauses hold for `text`, in file order.
  virtual void Match(std::string_view text, std::vector<RuleMatch>* out) const = 0;

  // The same matches summed per declared label, without listing every rule:
  // appends one LabelTotal per label with at least one matched rule, in
  // label declaration order. Rules whose label is not declared are left
  // out. Equal to summing Match()'s list in its order (bit for bit), and
  // much cheaper when many rules match one text (the learned topic and
  // sentiment files).
  virtual void MatchLabels(std::string_view text, std::vector<LabelTotal>* out) const = 0;

  // MatchLabels' totals of the labels that hold — score +
  // kLabelScoreTolerance >= threshold — with the same matches and best rule
  // (and span), in label declaration order; the others are left out.
  // Cheaper: rules are summed as they are found, in integers, when every
  // weight and threshold of the file is a short decimal (at most 8 places,
  // as in the default files). Then `score` is the exact decimal sum (to the nearest
  // double), which can differ from MatchLabels' file-order double sum in
  // the last bits but never decides a threshold differently (proof at
  // ChooseDecimalScale in rule_set.cc); otherwise it is MatchLabels,
  // filtered. What the stages use.
  virtual void HeldLabels(std::string_view text, std::vector<LabelTotal>* out) const = 0;

  virtual const MatchStats& stats() const = 0;

  // How the distinct patterns are found (benchmarks, `earshot rules check`).
  struct PatternCounts {
    size_t total = 0;
    size_t word_index = 0;   // matched by the word index (exact)
    size_t word_filter = 0;  // the word index finds a word they need; RE2 confirms
    size_t re2_set = 0;      // in the RE2::Set
  };
  virtual PatternCounts pattern_counts() const = 0;
};

}  // namespace earshot::rules
