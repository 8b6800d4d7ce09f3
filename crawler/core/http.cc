#include "crawler/core/http.h"
#include "crawler/core/strings.h"

#include <algorithm>
#include <cctype>

namespace earshot {

namespace {}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return AsciiLower(x) == AsciiLower(y);
         });
}

void Headers::Set(std::string_view name, std::string value) {
  std::erase_if(fields_, [&](const auto& f) { return EqualsIgnoreCase(f.first, name); });
  fields_.emplace_back(std::string(name), std::move(value));
}

std::optional<std::string_view> Headers::Get(std::string_view name) const {
  for (const auto& [k, v] : fields_) {
    if (EqualsIgnoreCase(k, name)) return std::string_view(v);
  }
  return std::nullopt;
}

std::vector<std::string_view> Headers::GetAll(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const auto& [k, v] : fields_) {
    if (EqualsIgnoreCase(k, name)) out.emplace_back(v);
  }
  return out;
}

ContentType ParseContentType(std::string_view value) {
  ContentType ct;
  size_t semi = value.find(';');
  ct.media_type = AsciiLower(TrimAsciiSpace(value.substr(0, semi)));
  while (semi != std::string_view::npos) {
    value.remove_prefix(semi + 1);
    semi = value.find(';');
    std::string_view param = TrimAsciiSpace(value.substr(0, semi));
    size_t eq = param.find('=');
    if (eq == std::string_view::npos) continue;
    if (!EqualsIgnoreCase(TrimAsciiSpace(param.substr(0, eq)), "charset")) continue;
    std::string_view v = TrimAsciiSpace(param.substr(eq + 1));
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    ct.charset = AsciiLower(v);
  }
  return ct;
}

Status StatusFromHttp(int status, std::string_view where, std::string_view detail) {
  std::string message = std::string(where) + ": HTTP " + std::to_string(status);
  if (!detail.empty()) {
    message += ": ";
    message += detail;
  }
  if (status == 401) return Status::Unauthenticated(std::move(message));
  if (status == 403) return Status::PermissionDenied(std::move(message));
  if (status == 429) return Status::RateLimited(std::move(message));
  if (status == 404 || status == 410) return Status::NotFound(std::move(message));
  if (status == 408) return Status::DeadlineExceeded(std::move(message));
  if (status >= 400 && status < 500) return Status::InvalidArgument(std::move(message));
  return Status::Unavailable(std::move(message));
}

}  // namespace earshot
