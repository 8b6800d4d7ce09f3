#include "crawler/core/decision.h"

namespace earshot {

std::string_view DecisionKindName(Decision::Kind kind) {
  switch (kind) {
    case Decision::Kind::kRedaction:
      return "redaction";
    case Decision::Kind::kOrg:
      return "org";
    case Decision::Kind::kUnrouted:
      return "unrouted";
    case Decision::Kind::kTopic:
      return "topic";
    case Decision::Kind::kSentiment:
      return "sentiment";
    case Decision::Kind::kCriticality:
      return "criticality";
    case Decision::Kind::kRelevance:
      return "relevance";
  }
  return "unknown";
}

std::optional<Decision::Kind> DecisionKindFromName(std::string_view name) {
  for (Decision::Kind kind :
       {Decision::Kind::kRedaction, Decision::Kind::kOrg, Decision::Kind::kUnrouted,
        Decision::Kind::kTopic, Decision::Kind::kSentiment, Decision::Kind::kCriticality,
        Decision::Kind::kRelevance}) {
    if (DecisionKindName(kind) == name) return kind;
  }
  return std::nullopt;
}

}  // namespace earshot
