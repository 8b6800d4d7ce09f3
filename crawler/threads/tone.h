// Tone hints for a staff reply before it is published: hints, never blocks.
//
// Three kinds (ToneHint::kind):
//   "boilerplate"          a corporate phrase from config/rules/tone.toml
//                          ("please contact our PALS team", "we are unable
//                          to comment on individual cases"); rule = its id
//   "repeat"               the same, or nearly the same, words as an earlier
//                          reply of the organisation; rule = "reply #ID"
//   "personal_identifier"  something the redactor (classifiers/redact) would
//                          replace; rule = its kind ("nhs_number", "phone")
// Spans are byte offsets into the draft (for a repeat: the whole draft).
//
// ToneRules are immutable once loaded; ToneHints() is a pure function and
// thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "crawler/core/status.h"

namespace earshot {

struct ToneHint {
  std::string kind;
  std::string rule;
  std::string message;  // for staff: what was found and why it matters
  int32_t start = 0;
  int32_t end = 0;
};

struct ToneRulesData;  // tone.cc

// The boilerplate patterns (RE2, compiled once).
class ToneRules {
 public:
  ToneRules();  // none: only repeats and identifiers are hinted
  ~ToneRules();
  ToneRules(ToneRules&&) noexcept;
  ToneRules& operator=(ToneRules&&) noexcept;

  size_t size() const;
  const ToneRulesData& data() const { return *data_; }

 private:
  friend Result<ToneRules> ParseToneRules(std::string_view text, std::string_view file_name);
  std::unique_ptr<ToneRulesData> data_;
};

// Reads `[[boilerplate]] id = "..."  pattern = '...'  hint = "..."` tables.
// Errors are kInvalidArgument starting "FILE:LINE:COLUMN: " (a bad pattern,
// a missing or unknown key, an id used twice).
Result<ToneRules> ParseToneRules(std::string_view text, std::string_view file_name);
// kNotFound when the file does not exist.
Result<ToneRules> LoadToneRules(const std::string& path);

// Hints for `draft`; `earlier` are the organisation's earlier replies
// (id and body) to compare with.
struct EarlierReply {
  int64_t id = 0;
  std::string body;
};
std::vector<ToneHint> ToneHints(const ToneRules& rules, std::string_view draft,
                                const std::vector<EarlierReply>& earlier);

// Whether two replies say the same thing: equal ignoring case, punctuation
// and spacing, or sharing at least 90% of their words (both of 6 words or
// more).
bool NearIdentical(std::string_view a, std::string_view b);

}  // namespace earshot
