#include "crawler/core/connector.h"

#include <algorithm>
#include <charconv>

#include "crawler/core/time_format.h"

namespace earshot {

namespace {
template <typename T>
const T* Find(const std::map<std::string, OptionValue>& options, std::string_view key) {
  auto it = options.find(std::string(key));
  if (it == options.end()) return nullptr;
  return std::get_if<T>(&it->second);
}
}  // namespace

std::string SourceSpec::GetString(std::string_view key, std::string fallback) const {
  const auto* v = Find<std::string>(options, key);
  return v ? *v : std::move(fallback);
}

int64_t SourceSpec::GetInt(std::string_view key, int64_t fallback) const {
  const auto* v = Find<int64_t>(options, key);
  return v ? *v : fallback;
}

bool SourceSpec::GetBool(std::string_view key, bool fallback) const {
  const auto* v = Find<bool>(options, key);
  return v ? *v : fallback;
}

std::vector<std::string> SourceSpec::GetStrings(std::string_view key) const {
  const auto* v = Find<std::vector<std::string>>(options, key);
  return v ? *v : std::vector<std::string>{};
}

std::optional<TimePoint> ParseRetryAfter(std::string_view value, TimePoint now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
    value.remove_prefix(1);
  }
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
    value.remove_suffix(1);
  }
  if (value.empty()) return std::nullopt;
  int64_t seconds = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec == std::errc() && ptr == value.data() + value.size()) {
    if (seconds < 0) return std::nullopt;
    // A year is more than any platform means; it also keeps the
    // milliseconds arithmetic far from overflow.
    constexpr int64_t kMaxSeconds = 366LL * 24 * 3600;
    return now + std::chrono::seconds(std::min(seconds, kMaxSeconds));
  }
  auto date = ParseHttpDate(value);
  if (!date.ok()) return std::nullopt;
  return *date < now ? now : *date;
}

}  // namespace earshot
