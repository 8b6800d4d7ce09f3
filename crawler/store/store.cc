#include "crawler/store/store.h"

namespace earshot {

namespace {
struct HealthName {
  SourceHealth health;
  std::string_view name;
};
// These names are stored in the database and printed by `earshot sources`:
// renaming one needs a migration.
constexpr HealthName kHealthNames[] = {
    {SourceHealth::kOk, "ok"},
    {SourceHealth::kBackoff, "backoff"},
    {SourceHealth::kRateLimited, "rate_limited"},
    {SourceHealth::kStopped, "stopped"},
};
}  // namespace

std::string_view SourceHealthName(SourceHealth h) {
  for (const auto& entry : kHealthNames) {
    if (entry.health == h) return entry.name;
  }
  return "unknown";
}

std::optional<SourceHealth> SourceHealthFromName(std::string_view name) {
  for (const auto& entry : kHealthNames) {
    if (entry.name == name) return entry.health;
  }
  return std::nullopt;
}

}  // namespace earshot
