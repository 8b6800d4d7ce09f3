// Decision: one classification outcome attached to a post, with the
// provenance that lets staff and operators see why it was made. Data only;
// the classifiers produce them, the store keeps them, the inbox shows them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace earshot {

struct Decision {
  enum class Kind {
    kRedaction,    // value: kind ("nhs_number", "phone", ...)
    kOrg,          // value: ODS code of today's organisation; detail: name | site
    kUnrouted,     // value: the ambiguous mention; detail: candidate codes, comma-separated
    kTopic,        // value: QDC sub-category; detail: its category
    kSentiment,    // value: positive | negative | mixed | neutral
    kCriticality,  // value: flag (safeguarding, self_harm, abuse_neglect, clinical_risk)
    kRelevance,    // value: "kept" (the rule that made the post relevant)
  };
  Kind kind = Kind::kTopic;
  std::string value;
  std::string detail;
  std::string rule;          // rule id; empty for redactions
  std::string rule_version;  // version of the rule file the rule came from
  // Matched span, byte offsets into the post's (redacted) text; -1 when the
  // decision has no single span (e.g. a sentiment balance).
  int32_t start = -1;
  int32_t end = -1;
};

std::string_view DecisionKindName(Decision::Kind kind);
// The kind DecisionKindName() names; nullopt for any other text (exact,
// case-sensitive match).
std::optional<Decision::Kind> DecisionKindFromName(std::string_view name);

}  // namespace earshot
