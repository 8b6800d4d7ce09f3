// Classifier: the whole classification of one text — redact, route to NHS
// organisations, tag QDC topics, read sentiment, flag criticality, decide
// relevance — with the provenance of every decision. Built once from the
// operator's config/ (rules/*.toml and orgs/), immutable, shared read-only
// by every thread; reloading builds a new one and swaps it (ClassifierHolder).
//
// Pure: text in, decisions out. Never fails once built.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "classifiers/rules/rule_set.h"
#include "crawler/core/decision.h"
#include "crawler/core/status.h"

namespace earshot {

struct ClassifierPaths {
  std::filesystem::path rules_dir;  // topics.toml, sentiment.toml, criticality.toml, relevance.toml
  std::filesystem::path orgs_dir;   // the gazetteer (config/orgs)
};

// The default paths: $EARSHOT_CONFIG_DIR/{rules,orgs} when set, else
// ./config/{rules,orgs} when present, else the source tree's config/.
ClassifierPaths DefaultClassifierPaths();

struct Provenance {
  std::string rule;     // rule or gazetteer entry id
  std::string version;  // rule file / gazetteer version
  int32_t start = -1;   // byte span in Classification::text; -1: none
  int32_t end = -1;
};

struct ClassifiedOrg {
  std::string code;  // today's ODS code
  std::string name;
  std::string site;  // site name when a site was named, else empty
  std::string site_code;
  Provenance why;
};

struct UnroutedCandidates {
  std::string mention;
  int32_t start = 0;
  int32_t end = 0;
  std::vector<std::string> candidates;  // ODS codes
};

struct ClassifiedTopic {
  std::string name;      // QDC sub-category, verbatim
  std::string category;  // its QDC category
  Provenance why;        // the strongest rule
};

struct ClassifiedFlag {
  std::string flag;  // safeguarding, self_harm, abuse_neglect, clinical_risk
  int priority = 0;  // 1 = most urgent
  Provenance why;
};

struct RedactionSpan {
  std::string kind;  // nhs_number, phone, email, postcode, date_of_birth
  int32_t start = 0;
  int32_t end = 0;
};

struct Classification {
  std::string text;  // redacted: the only form that may be stored or shown
  std::vector<RedactionSpan> redactions;
  std::vector<ClassifiedOrg> orgs;
  std::vector<UnroutedCandidates> unrouted;
  std::vector<ClassifiedTopic> topics;
  std::string sentiment = "neutral";  // positive | negative | mixed | neutral
  std::vector<Provenance> sentiment_why;
  std::vector<ClassifiedFlag> criticality;
  int priority = 0;  // lowest flag priority; 0: no flag
  // Kept when an organisation was found or a health-context rule fired.
  bool relevant = false;
  Provenance relevance_why;  // the health-context rule (empty when by org)

  // The storage form (crawler/core/decision.h), in a fixed order:
  // redactions, orgs, unrouted, topics, sentiment, criticality, relevance.
  std::vector<Decision> ToDecisions() const;
};

class Classifier {
 public:
  // Compiles every rule file and the gazetteer. Errors name FILE:LINE:COLUMN.
  static Result<std::shared_ptr<const Classifier>> Load(const ClassifierPaths& paths);
  virtual ~Classifier() = default;

  virtual Classification Classify(std::string_view text) const = 0;

  // "topics 2026-11-22.1, sentiment ..., gazetteer ..." for logs and status.
  virtual std::string Versions() const = 0;
  virtual const ClassifierPaths& paths() const = 0;
  // The compiled stages (topics, sentiment, criticality, relevance), for
  // `earshot rules check`.
  virtual std::vector<std::shared_ptr<const rules::RuleSet>> rule_sets() const = 0;
};

// Holds the classifier in use; Swap() replaces it atomically (SIGHUP reload)
// while readers keep the one they took. Thread-safe.
class ClassifierHolder {
 public:
  explicit ClassifierHolder(std::shared_ptr<const Classifier> initial)
      : current_(std::move(initial)) {}
  std::shared_ptr<const Classifier> Get() const { return std::atomic_load(&current_); }
  void Swap(std::shared_ptr<const Classifier> next) {
    std::atomic_store(&current_, std::move(next));
  }
  // Builds a new classifier from the current one's paths; on failure the
  // current one stays and the error is returned.
  Status Reload();

 private:
  std::shared_ptr<const Classifier> current_;
};

}  // namespace earshot
