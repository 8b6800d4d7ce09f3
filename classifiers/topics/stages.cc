#include "classifiers/topics/stages.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace earshot::topics {
namespace {

constexpr double kScoreTolerance = rules::kLabelScoreTolerance;

// Reused across calls on the same thread.
struct Scratch {
  std::vector<rules::LabelTotal> totals;
};

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

}  // namespace

namespace internal {

Result<LabelScorer> LabelScorer::Create(std::shared_ptr<const rules::RuleSet> rules,
                                        std::string_view expected_stage) {
  if (!rules)
    return Status::InvalidArgument("no rule set given for the " + Quote(expected_stage) + " stage");
  const std::string where =
      rules->rules().empty() ? std::string("rule set") : rules->rules().front().file;
  if (rules->stage() != expected_stage) {
    return Status::InvalidArgument(where + ": [meta] stage is " + Quote(rules->stage()) +
                                   ", expected " + Quote(expected_stage));
  }
  if (rules->labels().empty()) {
    return Status::InvalidArgument(where + ": the " + Quote(expected_stage) +
                                   " stage needs [[label]] declarations (names and thresholds)");
  }
  for (const rules::Label& label : rules->labels()) {
    if (!(label.threshold > 0) || !std::isfinite(label.threshold)) {
      return Status::InvalidArgument(where + ": label " + Quote(label.name) +
                                     " needs a threshold > 0 (a label must be earned by matches)");
    }
  }
  // Every rule counts towards its label (RuleSet::MatchLabels leaves out
  // rules of undeclared labels).
  for (const rules::Rule& rule : rules->rules()) {
    if (!rules->FindLabel(rule.label)) {
      return Status::InvalidArgument(rule.file + ":" + std::to_string(rule.line) + ": rule " +
                                     Quote(rule.id) + " names undeclared label " +
                                     Quote(rule.label));
    }
  }
  LabelScorer scorer;
  scorer.rules_ = std::move(rules);
  return scorer;
}

void LabelScorer::Score(std::string_view text, std::vector<LabelDecision>* out) const {
  Scratch& s = ThreadScratch();
  s.totals.clear();
  rules_->HeldLabels(text, &s.totals);
  for (const rules::LabelTotal& t : s.totals) {
    if (t.score + kScoreTolerance >= t.label->threshold) {
      out->push_back({t.label, t.score, {t.best.rule, t.best.span}});
    }
  }
}

}  // namespace internal

Result<TopicStage> TopicStage::Create(std::shared_ptr<const rules::RuleSet> rules) {
  auto scorer = internal::LabelScorer::Create(std::move(rules), "topics");
  if (!scorer.ok()) return scorer.status();
  return TopicStage(std::move(scorer).value());
}

std::vector<LabelDecision> TopicStage::Classify(std::string_view text) const {
  std::vector<LabelDecision> out;
  scorer_.Score(text, &out);
  return out;
}

void TopicStage::Classify(std::string_view text, std::vector<LabelDecision>* out) const {
  scorer_.Score(text, out);
}

std::string_view SentimentName(Sentiment sentiment) {
  switch (sentiment) {
    case Sentiment::kNeutral:
      return "neutral";
    case Sentiment::kPositive:
      return "positive";
    case Sentiment::kNegative:
      return "negative";
    case Sentiment::kMixed:
      return "mixed";
  }
  return "neutral";
}

Result<SentimentStage> SentimentStage::Create(std::shared_ptr<const rules::RuleSet> rules) {
  auto scorer = internal::LabelScorer::Create(std::move(rules), "sentiment");
  if (!scorer.ok()) return scorer.status();
  const rules::RuleSet& set = scorer->rules();
  const rules::Label* positive = set.FindLabel("positive");
  const rules::Label* negative = set.FindLabel("negative");
  if (!positive || !negative || set.labels().size() != 2) {
    const std::string where =
        set.rules().empty() ? std::string("rule set") : set.rules().front().file;
    return Status::InvalidArgument(where +
                                   ": the sentiment stage needs exactly the labels 'positive' and "
                                   "'negative'");
  }
  return SentimentStage(std::move(scorer).value(), positive, negative);
}

SentimentDecision SentimentStage::Classify(std::string_view text) const {
  thread_local std::vector<LabelDecision> held;
  held.clear();
  scorer_.Score(text, &held);
  SentimentDecision d;
  for (const LabelDecision& h : held) {
    if (h.label == positive_) {
      d.positive_score = h.score;
      d.positive = h.evidence;
    } else if (h.label == negative_) {
      d.negative_score = h.score;
      d.negative = h.evidence;
    }
  }
  const bool pos = d.positive.rule != nullptr;
  const bool neg = d.negative.rule != nullptr;
  d.sentiment = pos && neg ? Sentiment::kMixed
                : pos      ? Sentiment::kPositive
                : neg      ? Sentiment::kNegative
                           : Sentiment::kNeutral;
  return d;
}

Result<CriticalityStage> CriticalityStage::Create(std::shared_ptr<const rules::RuleSet> rules) {
  auto scorer = internal::LabelScorer::Create(std::move(rules), "criticality");
  if (!scorer.ok()) return scorer.status();
  for (const rules::Label& label : scorer->rules().labels()) {
    if (label.priority < 1) {
      const auto& all = scorer->rules().rules();
      const std::string where = all.empty() ? std::string("rule set") : all.front().file;
      return Status::InvalidArgument(where + ": criticality label " + Quote(label.name) +
                                     " needs priority >= 1 (1 = most urgent)");
    }
  }
  return CriticalityStage(std::move(scorer).value());
}

CriticalityDecision CriticalityStage::Classify(std::string_view text) const {
  CriticalityDecision d;
  scorer_.Score(text, &d.flags);
  // Declaration order is the tie-break, and Score() yields it.
  std::stable_sort(d.flags.begin(), d.flags.end(),
                   [](const LabelDecision& a, const LabelDecision& b) {
                     return a.label->priority < b.label->priority;
                   });
  if (!d.flags.empty()) d.priority = d.flags.front().label->priority;
  return d;
}

Result<RelevanceStage> RelevanceStage::Create(std::shared_ptr<const rules::RuleSet> rules) {
  auto scorer = internal::LabelScorer::Create(std::move(rules), "relevance");
  if (!scorer.ok()) return scorer.status();
  return RelevanceStage(std::move(scorer).value());
}

RelevanceDecision RelevanceStage::Classify(std::string_view text) const {
  thread_local std::vector<LabelDecision> held;
  held.clear();
  scorer_.Score(text, &held);
  RelevanceDecision d;
  for (const LabelDecision& h : held) {
    if (!d.health_context || h.score > d.score) {
      d.health_context = true;
      d.score = h.score;
      d.evidence = h.evidence;
    }
  }
  return d;
}

}  // namespace earshot::topics
