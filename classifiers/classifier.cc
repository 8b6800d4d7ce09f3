#include "classifiers/classifier.h"

#include <cstdlib>

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
    out.push_back({Decision::Kind::kOrg, o.code, detail, o.why.rule, o.why.version, o.why.start,
                   o.why.end});
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

Status ClassifierHolder::Reload() {
  std::shared_ptr<const Classifier> current = Get();
  if (!current) return Status::Internal("no classifier to reload");
  auto next = Classifier::Load(current->paths());
  if (!next.ok()) return next.status();
  Swap(std::move(next).value());
  return Status::Ok();
}

}  // namespace earshot
