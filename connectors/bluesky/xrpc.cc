// What every part of the bluesky connector shares: JSON field reading,
// at-uri checks, body parsing and XRPC error answers.
#include <string>
#include <string_view>
#include <utility>

#include "connectors/bluesky/internal.h"
#include "crawler/core/strings.h"
#include "crawler/core/text.h"
#include "crawler/core/url.h"

namespace earshot::connector_bluesky::internal {

namespace {

constexpr size_t kMaxRkeyLength = 512;
constexpr size_t kMaxNsidLength = 317;
constexpr size_t kMaxDetailLength = 300;

bool IsAsciiAlnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool AllOf(std::string_view s, std::string_view extra) {
  for (char c : s) {
    if (!IsAsciiAlnum(c) && extra.find(c) == std::string_view::npos) return false;
  }
  return true;
}

// `text` fit for a one-line message: control characters as spaces, runs of
// spaces collapsed, at most `limit` bytes, cut on a character boundary.
std::string OneLine(std::string_view text, size_t limit) {
  std::string repaired = RepairUtf8(text);
  std::string out;
  for (char c : repaired) {
    const bool control = static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
    if (control || c == ' ') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();
  if (out.size() > limit) {
    size_t cut = limit;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out.resize(cut);
    out += "...";
  }
  return out;
}

struct XrpcError {
  std::string name;
  std::string message;
};

std::optional<XrpcError> ReadXrpcError(std::string_view body) {
  dom::parser parser;
  dom::element root;
  if (parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS) return std::nullopt;
  dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) return std::nullopt;
  XrpcError error;
  std::string_view text;
  if (object["error"].get_string().get(text) == simdjson::SUCCESS) error.name = text;
  if (object["message"].get_string().get(text) == simdjson::SUCCESS) error.message = text;
  if (error.name.empty() && error.message.empty()) return std::nullopt;
  return error;
}

}  // namespace

std::string_view TypeName(dom::element_type type) {
  switch (type) {
    case dom::element_type::ARRAY:
      return "array";
    case dom::element_type::OBJECT:
      return "object";
    case dom::element_type::INT64:
    case dom::element_type::UINT64:
    case dom::element_type::DOUBLE:
      return "number";
    case dom::element_type::STRING:
      return "string";
    case dom::element_type::BOOL:
      return "boolean";
    case dom::element_type::NULL_VALUE:
      return "null";
  }
  return "value";
}

std::optional<dom::element> Fields::Get(std::string_view key) {
  dom::element value;
  if (object_.at_key(key).get(value) != simdjson::SUCCESS || value.is_null()) return std::nullopt;
  return value;
}

void Fields::WrongType(std::string_view key, dom::element_type got, std::string_view expected) {
  Fail("'" + std::string(key) + "' is " + std::string(TypeName(got)) + ", expected " +
       std::string(expected));
}

void Fields::Fail(std::string message) {
  if (error_.empty()) error_ = std::move(message);
}

std::optional<std::string_view> Fields::OptionalString(std::string_view key) {
  auto value = Get(key);
  if (!value) return std::nullopt;
  std::string_view text;
  if (value->get_string().get(text) != simdjson::SUCCESS) {
    WrongType(key, value->type(), "string");
    return std::nullopt;
  }
  return text;
}

std::string_view Fields::RequiredString(std::string_view key) {
  dom::element probe;
  if (object_.at_key(key).get(probe) != simdjson::SUCCESS) {
    Fail("'" + std::string(key) + "' is missing");
    return {};
  }
  std::string_view text;
  if (probe.get_string().get(text) != simdjson::SUCCESS) {
    WrongType(key, probe.type(), "string");
    return {};
  }
  return text;
}

std::optional<dom::object> Fields::OptionalObject(std::string_view key) {
  auto value = Get(key);
  if (!value) return std::nullopt;
  dom::object object;
  if (value->get_object().get(object) != simdjson::SUCCESS) {
    WrongType(key, value->type(), "object");
    return std::nullopt;
  }
  return object;
}

std::optional<dom::object> Fields::RequiredObject(std::string_view key) {
  auto object = OptionalObject(key);
  if (!object && ok()) Fail("'" + std::string(key) + "' is missing");
  return object;
}

std::optional<dom::array> Fields::OptionalArray(std::string_view key) {
  auto value = Get(key);
  if (!value) return std::nullopt;
  dom::array array;
  if (value->get_array().get(array) != simdjson::SUCCESS) {
    WrongType(key, value->type(), "array");
    return std::nullopt;
  }
  return array;
}

std::optional<bool> Fields::OptionalBool(std::string_view key) {
  auto value = Get(key);
  if (!value) return std::nullopt;
  bool flag = false;
  if (value->get_bool().get(flag) != simdjson::SUCCESS) {
    WrongType(key, value->type(), "boolean");
    return std::nullopt;
  }
  return flag;
}

std::optional<AtUri> SplitAtUri(std::string_view uri) {
  constexpr std::string_view kScheme = "at://";
  if (uri.size() > kMaxUriLength || !uri.starts_with(kScheme)) return std::nullopt;
  std::string_view rest = uri.substr(kScheme.size());
  const size_t first = rest.find('/');
  if (first == std::string_view::npos) return std::nullopt;
  const size_t second = rest.find('/', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  AtUri parts{rest.substr(0, first), rest.substr(first + 1, second - first - 1),
              rest.substr(second + 1)};
  if (parts.authority.empty() || !AllOf(parts.authority, ".:-_%")) return std::nullopt;
  if (parts.collection.empty() || parts.collection.size() > kMaxNsidLength ||
      !AllOf(parts.collection, ".-")) {
    return std::nullopt;
  }
  // Record keys: A-Za-z0-9 . - _ : ~ (atproto record-key syntax); "." and
  // ".." are not keys.
  if (parts.rkey.empty() || parts.rkey.size() > kMaxRkeyLength || !AllOf(parts.rkey, ".-_:~") ||
      parts.rkey == "." || parts.rkey == "..") {
    return std::nullopt;
  }
  return parts;
}

bool IsPostUri(std::string_view uri) {
  auto parts = SplitAtUri(uri);
  return parts && parts->collection == kPostCollection;
}

bool IsPlausibleCid(std::string_view cid) {
  return cid.size() >= 8 && cid.size() <= kMaxCidLength && AllOf(cid, "");
}

bool IsPlausibleDid(std::string_view did) {
  if (did.size() > kMaxUriLength || !did.starts_with("did:")) return false;
  const size_t colon = did.find(':', 4);
  if (colon == std::string_view::npos || colon == 4 || colon + 1 == did.size()) return false;
  for (char c : did.substr(4, colon - 4)) {
    if (c < 'a' || c > 'z') return false;
  }
  return AllOf(did.substr(colon + 1), ".:-_%");
}

Status BodyError(const HttpResponse& response, std::string_view what) {
  return Status::ParseError("bluesky response from " +
                            (response.url.empty() ? std::string("<unknown URL>") : response.url) +
                            ": " + std::string(what));
}

Result<dom::element> ParseBody(dom::parser& parser, const HttpResponse& response,
                               std::string& repaired, std::vector<std::string>* warnings) {
  dom::element root;
  auto error = parser.parse(response.body.data(), response.body.size()).get(root);
  if (error == simdjson::UTF8_ERROR) {
    // One bad byte must not stall the source on this page forever.
    repaired = RepairUtf8(response.body);
    error = parser.parse(repaired.data(), repaired.size()).get(root);
    if (error == simdjson::SUCCESS && warnings != nullptr) {
      warnings->push_back("body is not valid UTF-8; invalid bytes replaced by U+FFFD");
    }
  }
  if (error != simdjson::SUCCESS) {
    return BodyError(response, std::string("invalid JSON: ") + simdjson::error_message(error));
  }
  return root;
}

std::string XrpcErrorName(std::string_view body) {
  auto error = ReadXrpcError(body);
  return error ? error->name : std::string();
}

std::string XrpcErrorDetail(const HttpResponse& response) {
  std::string detail;
  if (auto error = ReadXrpcError(response.body)) {
    detail = error->name;
    if (!error->message.empty()) {
      if (!detail.empty()) detail += ": ";
      detail += error->message;
    }
  } else {
    // Proxies and load balancers answer in plain text or HTML; a short
    // plain-text answer ("Request forbidden by administrative rules.") is
    // still the best explanation we have.
    std::string_view body = TrimAsciiSpace(response.body);
    if (!body.empty() && body.size() <= kMaxDetailLength && body.front() != '<' &&
        body.front() != '{' && body.front() != '[') {
      detail = std::string(body);
    }
  }
  return OneLine(detail, kMaxDetailLength);
}

bool IsRefusedTokenName(std::string_view name) {
  return name == "ExpiredToken" || name == "InvalidToken";
}

Status XrpcStatus(const HttpResponse& response, std::string_view where) {
  const std::string name = XrpcErrorName(response.body);
  Status status = StatusFromHttp(response.status, where, XrpcErrorDetail(response));
  StatusCode code = status.code();
  if (IsRefusedTokenName(name) || name == "AuthenticationRequired" || name == "AuthMissing" ||
      name == "AuthRequired") {
    code = StatusCode::kUnauthenticated;
  } else if (name == "RateLimitExceeded") {
    code = StatusCode::kRateLimited;
  } else if (name == "AccountTakedown" || name == "AccountDeactivated" ||
             name == "AccountSuspended") {
    code = StatusCode::kPermissionDenied;
  } else if (name.find("AlreadyExists") != std::string::npos) {
    code = StatusCode::kAlreadyExists;
  }
  return Status(code, status.message());
}

Result<std::string> ServiceBase(const SourceSpec& source) {
  auto invalid = [&](std::string why) {
    return Status::InvalidArgument("source \"" + source.name + "\" (bluesky): " + why);
  };
  std::string base(TrimAsciiSpace(source.url));
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (base.empty()) {
    return invalid(
        "`url` must be the service's base URL: https://bsky.social (a PDS, with "
        "`identifier` and `app_password`) or an AppView such as https://api.bsky.app");
  }
  if (base.find_first_of("?# ") != std::string::npos || !UrlHost(base).ok() ||
      !(base.starts_with("https://") || base.starts_with("http://"))) {
    return invalid("`url` \"" + base + "\" is not a service base URL like https://bsky.social");
  }
  return base;
}

}  // namespace earshot::connector_bluesky::internal
