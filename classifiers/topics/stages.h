// The rule-driven classification stages: topics (QDC sub-categories),
// sentiment, criticality and relevance. Each stage wraps one compiled RuleSet
// (classifiers/rules/rule_set.h) and turns its rule matches into decisions
// with provenance.
//
// Scoring, shared by every stage: a label's score is the summed weight of its
// rules that matched the text (weights may be negative). A label holds when
// at least one of its rules matched and score >= threshold (thresholds are
// validated to be > 0 at construction, so a text that matches nothing never
// gets a label). A held label's evidence is its matched rule with the largest
// weight (the earliest in the file on ties) and that rule's span.
//
// Ownership and threading: a stage shares ownership of its RuleSet, so the
// Rule and Label pointers in its decisions stay valid as long as the stage
// (or any copy of it, or the RuleSet) lives. Stages are immutable after
// construction; Classify() is const and safe to call from many threads at
// once. Copying a stage is cheap (a shared_ptr and a small index table).
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "classifiers/rules/rule_set.h"
#include "crawler/core/status.h"

namespace earshot::topics {

// Why a decision was made: the rule that carried it and the bytes it matched
// (offsets into the text given to Classify).
struct Evidence {
  const rules::Rule* rule = nullptr;  // nullptr: no rule (e.g. a neutral sentiment)
  rules::Span span;
};

// One label that reached its threshold.
struct LabelDecision {
  const rules::Label* label = nullptr;  // name, category, priority, threshold
  double score = 0;                     // summed weight of its matched rules
  Evidence evidence;                    // its best matched rule
};

namespace internal {
// Sums rule weights per label; shared by the stages below.
class LabelScorer {
 public:
  // `expected_stage` must equal the set's [meta] stage; every label must have
  // a threshold > 0 and every rule must name a declared label.
  static Result<LabelScorer> Create(std::shared_ptr<const rules::RuleSet> rules,
                                    std::string_view expected_stage);

  // Every label that holds for `text`, in the order the labels are declared.
  void Score(std::string_view text, std::vector<LabelDecision>* out) const;

  const rules::RuleSet& rules() const { return *rules_; }
  const std::shared_ptr<const rules::RuleSet>& shared_rules() const { return rules_; }

 private:
  std::shared_ptr<const rules::RuleSet> rules_;
};
}  // namespace internal

// Topics: the QDC sub-categories a text is about. Labels are the sub-category
// names (verbatim) with their category; see config/rules/topics.toml.
class TopicStage {
 public:
  // The set's stage must be "topics".
  static Result<TopicStage> Create(std::shared_ptr<const rules::RuleSet> rules);

  // Every topic whose score reaches its threshold, in label declaration order
  // (an empty vector: no topic).
  std::vector<LabelDecision> Classify(std::string_view text) const;
  // The same, appended to *out (a caller's buffer, reused across calls).
  void Classify(std::string_view text, std::vector<LabelDecision>* out) const;

  const rules::RuleSet& rules() const { return scorer_.rules(); }

 private:
  explicit TopicStage(internal::LabelScorer scorer) : scorer_(std::move(scorer)) {}
  internal::LabelScorer scorer_;
};

enum class Sentiment { kNeutral, kPositive, kNegative, kMixed };

// "neutral", "positive", "negative", "mixed" — the words stored in decisions.
std::string_view SentimentName(Sentiment sentiment);

struct SentimentDecision {
  Sentiment sentiment = Sentiment::kNeutral;
  double positive_score = 0;  // summed weight of matched "positive" rules
  double negative_score = 0;
  // The deciding rules: set (rule != nullptr) for each polarity that held.
  Evidence positive;
  Evidence negative;
};

// Sentiment: praise and criticism are two labels, "positive" and "negative",
// scored independently; both held -> mixed, neither -> neutral. Negation
// ("not rude", "couldn't fault") is written into the rules themselves
// (unless_preceded, or phrases that carry their own polarity).
class SentimentStage {
 public:
  // The set's stage must be "sentiment" and declare labels "positive" and
  // "negative" (others are an error).
  static Result<SentimentStage> Create(std::shared_ptr<const rules::RuleSet> rules);

  SentimentDecision Classify(std::string_view text) const;

  const rules::RuleSet& rules() const { return scorer_.rules(); }

 private:
  SentimentStage(internal::LabelScorer scorer, const rules::Label* positive,
                 const rules::Label* negative)
      : scorer_(std::move(scorer)), positive_(positive), negative_(negative) {}
  internal::LabelScorer scorer_;
  const rules::Label* positive_;
  const rules::Label* negative_;
};

struct CriticalityDecision {
  // Flags that held (label names such as "self_harm"), most urgent first
  // (ascending priority, then declaration order).
  std::vector<LabelDecision> flags;
  // The smallest priority among `flags`; 0 when there is none. 1 is the most
  // urgent.
  int priority = 0;
};

// Criticality: safeguarding, self-harm or suicide risk, abuse or neglect and
// serious clinical risk, each a label with a priority >= 1.
class CriticalityStage {
 public:
  // The set's stage must be "criticality"; every label needs priority >= 1.
  static Result<CriticalityStage> Create(std::shared_ptr<const rules::RuleSet> rules);

  CriticalityDecision Classify(std::string_view text) const;

  const rules::RuleSet& rules() const { return scorer_.rules(); }

 private:
  explicit CriticalityStage(internal::LabelScorer scorer) : scorer_(std::move(scorer)) {}
  internal::LabelScorer scorer_;
};

struct RelevanceDecision {
  bool health_context = false;
  double score = 0;   // the deciding label's score; 0 when not relevant
  Evidence evidence;  // set when health_context: the best rule of the best label
};

// Relevance: whether a text has a health context at all (NHS, hospital, GP,
// A&E, ...). The pipeline drops a post with no organisation and no health
// context; this stage answers only the second half. Any label of the set that
// holds makes the text relevant (the default file has one, "health").
class RelevanceStage {
 public:
  // The set's stage must be "relevance".
  static Result<RelevanceStage> Create(std::shared_ptr<const rules::RuleSet> rules);

  RelevanceDecision Classify(std::string_view text) const;

  const rules::RuleSet& rules() const { return scorer_.rules(); }

 private:
  explicit RelevanceStage(internal::LabelScorer scorer) : scorer_(std::move(scorer)) {}
  internal::LabelScorer scorer_;
};

}  // namespace earshot::topics
