// Redaction: personal identifiers are replaced before anything is stored or
// shown. Pure function, thread-safe.
//
// Kinds and placeholders:
//   nhs_number     "[NHS number]"     10 digits (spaces/hyphens as 3-3-4),
//                                      only when the modulus-11 check holds
//   phone          "[phone]"          UK numbers: 01/02/03/07/08 national
//                                      forms and +44 / 0044 forms
//   email          "[email]"
//   postcode       "[postcode]"       full UK postcodes ("S5 7AU", "SW1A 1AA")
//   date_of_birth  "[date of birth]"  a date near "DOB", "born", "date of birth"
// Ordinary numbers stay: "ward 10", "NHS 111", "4 hours", "999", an invalid
// 10-digit number.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace earshot::redact {

struct Redaction {
  std::string kind;
  int32_t start = 0;  // byte offsets of the placeholder in Redacted::text
  int32_t end = 0;
};

struct Redacted {
  std::string text;
  std::vector<Redaction> redactions;
};

Redacted Redact(std::string_view text);

// True when `digits` (exactly 10 ASCII digits) passes the NHS number
// modulus-11 check.
bool IsValidNhsNumber(std::string_view digits);

}  // namespace earshot::redact
