#include "classifiers/classifier.h"

#include <algorithm>
#include <cstdlib>

#include "classifiers/orgs/org_router.h"
#include "classifiers/redact/redactor.h"
#include "classifiers/topics/stages.h"

#ifndef EARSHOT_CONFIG_SOURCE_DIR
#define EARSHOT_CONFIG_SOURCE_DIR "config"
#endif

namespace earshot {

namespace fs = std::filesystem;

ClassifierPaths DefaultClassifierPaths() {
  fs::path base;
  if (const char* env = std::getenv("EARSHOT_CONFIG_DIR"); env && *env) {
    base = env;
  } else if (std::error_code ec; fs::is_directory("config/rules", ec)) {
    base = "config";
  } else {
    base = EARSHOT_CONFIG_SOURCE_DIR;
  }
  return ClassifierPaths{base / "rules", base / "orgs"};
}

std::vector<Decision> Classification::ToDecisions() const {
  std::vector<Decision> out;
  for (const RedactionSpan& r : redactions) {
    out.push_back({Decision::Kind::kRedaction, r.kind, "", "", "", r.start, r.end});
  }
  for (const ClassifiedOrg& o : orgs) {
    std::string detail = o.name;
    if (!o.site.empty()) detail += " | " + o.site;
    out.push_back(
        {Decision::Kind::kOrg, o.code, detail, o.why.rule, o.why.version, o.why.start, o.why.end});
  }
  for (const UnroutedCandidates& u : unrouted) {
    std::string codes;
    for (const std::string& c : u.candidates) codes += (codes.empty() ? "" : ",") + c;
    out.push_back({Decision::Kind::kUnrouted, u.mention, codes, "", "", u.start, u.end});
  }
  for (const ClassifiedTopic& t : topics) {
    out.push_back({Decision::Kind::kTopic, t.name, t.category, t.why.rule, t.why.version,
                   t.why.start, t.why.end});
  }
  if (sentiment_why.empty()) {
    out.push_back({Decision::Kind::kSentiment, sentiment, "", "", "", -1, -1});
  }
  for (const Provenance& p : sentiment_why) {
    out.push_back({Decision::Kind::kSentiment, sentiment, "", p.rule, p.version, p.start, p.end});
  }
  for (const ClassifiedFlag& f : criticality) {
    out.push_back({Decision::Kind::kCriticality, f.flag, std::to_string(f.priority), f.why.rule,
                   f.why.version, f.why.start, f.why.end});
  }
  if (relevant && !relevance_why.rule.empty()) {
    out.push_back({Decision::Kind::kRelevance, "kept", "", relevance_why.rule,
                   relevance_why.version, relevance_why.start, relevance_why.end});
  }
  return out;
}

namespace {

Provenance FromEvidence(const topics::Evidence& e, const std::string& version) {
  if (!e.rule) return {};
  return Provenance{e.rule->id, version, e.span.start, e.span.end};
}

class ClassifierImpl final : public Classifier {
 public:
  ClassifierImpl(ClassifierPaths paths, std::shared_ptr<const orgs::OrgRouter> router,
                 topics::TopicStage topic, topics::SentimentStage sentiment,
                 topics::CriticalityStage criticality, topics::RelevanceStage relevance,
                 std::vector<std::shared_ptr<const rules::RuleSet>> sets)
      : sets_(std::move(sets)),
        paths_(std::move(paths)),
        router_(std::move(router)),
        topic_(std::move(topic)),
        sentiment_(std::move(sentiment)),
        criticality_(std::move(criticality)),
        relevance_(std::move(relevance)) {}

  Classification Classify(std::string_view text) const override {
    Classification c;
    // Redaction first: nothing below ever sees an identifier.
    redact::Redacted redacted = redact::Redact(text);
    c.text = std::move(redacted.text);
    for (const redact::Redaction& r : redacted.redactions) {
      c.redactions.push_back({r.kind, r.start, r.end});
    }

    // Stages read a copy with each placeholder blanked out, byte for byte,
    // so spans stay valid for c.text and "[phone]" never reads as a word
    // (most posts have nothing to blank: they read c.text itself).
    thread_local std::string masked;
    std::string_view view = c.text;
    if (!c.redactions.empty()) {
      masked = c.text;
      for (const RedactionSpan& r : c.redactions) {
        std::fill(masked.begin() + r.start, masked.begin() + r.end, ' ');
      }
      view = masked;
    }

    orgs::Routing routing = router_->Route(view);
    for (orgs::OrgMatch& m : routing.orgs) {
      c.orgs.push_back({std::move(m.code), std::move(m.name), std::move(m.site_name),
                        std::move(m.site_code),
                        Provenance{std::move(m.rule), std::move(m.version), m.start, m.end}});
    }
    for (orgs::UnroutedMention& u : routing.unrouted) {
      c.unrouted.push_back({std::move(u.mention), u.start, u.end, std::move(u.candidates)});
    }

    thread_local std::vector<topics::LabelDecision> held;
    held.clear();
    topic_.Classify(view, &held);
    c.topics.reserve(held.size());
    for (const topics::LabelDecision& d : held) {
      c.topics.push_back(
          {d.label->name, d.label->category, FromEvidence(d.evidence, topic_.rules().version())});
    }

    topics::SentimentDecision s = sentiment_.Classify(view);
    c.sentiment = std::string(topics::SentimentName(s.sentiment));
    const std::string& sv = sentiment_.rules().version();
    if (s.positive.rule) c.sentiment_why.push_back(FromEvidence(s.positive, sv));
    if (s.negative.rule) c.sentiment_why.push_back(FromEvidence(s.negative, sv));

    topics::CriticalityDecision crit = criticality_.Classify(view);
    for (const topics::LabelDecision& d : crit.flags) {
      c.criticality.push_back({d.label->name, d.label->priority,
                               FromEvidence(d.evidence, criticality_.rules().version())});
    }
    c.priority = crit.priority;

    topics::RelevanceDecision rel = relevance_.Classify(view);
    c.relevant = !c.orgs.empty() || rel.health_context;
    if (rel.health_context) {
      c.relevance_why = FromEvidence(rel.evidence, relevance_.rules().version());
    }
    return c;
  }

  std::string Versions() const override {
    return "topics " + topic_.rules().version() + ", sentiment " + sentiment_.rules().version() +
           ", criticality " + criticality_.rules().version() + ", relevance " +
           relevance_.rules().version() + ", gazetteer " + router_->version();
  }

  const ClassifierPaths& paths() const override { return paths_; }

  std::vector<std::shared_ptr<const rules::RuleSet>> rule_sets() const override { return sets_; }

 private:
  std::vector<std::shared_ptr<const rules::RuleSet>> sets_;
  ClassifierPaths paths_;
  std::shared_ptr<const orgs::OrgRouter> router_;
  topics::TopicStage topic_;
  topics::SentimentStage sentiment_;
  topics::CriticalityStage criticality_;
  topics::RelevanceStage relevance_;
};

template <typename Stage>
Result<Stage> MakeStage(const std::shared_ptr<const rules::RuleSet>& set) {
  auto stage = Stage::Create(set);
  if (!stage.ok()) {
    const std::string file = set->rules().empty() ? std::string() : set->rules().front().file;
    return stage.status().Annotate(file);
  }
  return stage;
}

}  // namespace

Result<std::shared_ptr<const Classifier>> Classifier::Load(const ClassifierPaths& paths) {
  // One word index for the four files: a post is read once for all stages.
  auto sets = rules::RuleSet::LoadFiles(
      {paths.rules_dir / "topics.toml", paths.rules_dir / "sentiment.toml",
       paths.rules_dir / "criticality.toml", paths.rules_dir / "relevance.toml"});
  if (!sets.ok()) return sets.status();
  auto topic = MakeStage<topics::TopicStage>((*sets)[0]);
  if (!topic.ok()) return topic.status();
  auto sentiment = MakeStage<topics::SentimentStage>((*sets)[1]);
  if (!sentiment.ok()) return sentiment.status();
  auto criticality = MakeStage<topics::CriticalityStage>((*sets)[2]);
  if (!criticality.ok()) return criticality.status();
  auto relevance = MakeStage<topics::RelevanceStage>((*sets)[3]);
  if (!relevance.ok()) return relevance.status();
  auto router = orgs::OrgRouter::Load(paths.orgs_dir);
  if (!router.ok()) return router.status();
  return std::shared_ptr<const Classifier>(std::make_shared<ClassifierImpl>(
      paths, std::move(router).value(), std::move(topic).value(), std::move(sentiment).value(),
      std::move(criticality).value(), std::move(relevance).value(), std::move(sets).value()));
}

Status ClassifierHolder::Reload() {
  std::shared_ptr<const Classifier> current = Get();
  if (!current) return Status::Internal("no classifier to reload");
  auto next = Classifier::Load(current->paths());
  if (!next.ok()) return next.status();
  Swap(std::move(next).value());
  return Status::Ok();
}

}  // namespace earshot
