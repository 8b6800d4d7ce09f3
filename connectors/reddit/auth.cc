// OAuth2 sessions for Reddit: application-only access (client credentials,
// or the installed-client grant for apps without a secret) and the password
// grant of a "script" app for the organisation's own reply account.
#include <openssl/evp.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>
#include <string_view>

#include "connectors/reddit/internal.h"
#include "connectors/reddit/reddit.h"
#include "crawler/core/strings.h"
#include "crawler/core/url.h"

namespace earshot::connector_reddit {

namespace {

namespace dom = simdjson::dom;
using internal::Excerpt;

// Reddit's "installed app" grant asks for a device id; this documented
// value asks Reddit not to track one.
constexpr std::string_view kAnonymousDevice = "DO_NOT_TRACK_THIS_DEVICE";
constexpr size_t kMaxTokenBytes = 4096;
constexpr double kMaxExpiresSeconds = 366.0 * 24 * 3600;

Status Invalid(const SourceSpec& source, std::string why) {
  return Status::InvalidArgument("source \"" + source.name + "\" (reddit): " + std::move(why));
}

std::string Base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                      reinterpret_cast<const unsigned char*>(bytes.data()),
                                      static_cast<int>(bytes.size()));
  out.resize(written < 0 ? 0 : static_cast<size_t>(written));
  return out;
}

bool IsHeaderSafe(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte > 0x20 && byte < 0x7f;
  });
}

Result<std::string> TokenUrl(const SourceSpec& source) {
  std::string url(TrimAsciiSpace(source.GetString("token_url")));
  if (url.empty()) url = std::string(internal::kDefaultTokenUrl);
  if (!(url.starts_with("https://") || url.starts_with("http://")) || !UrlHost(url).ok()) {
    return Invalid(source, "`token_url` \"" + Excerpt(url, 100) + "\" is not an http(s) URL");
  }
  return url;
}

// `expires_in`: seconds as an integer, a float or a numeric string.
std::optional<double> Seconds(dom::element value) {
  double seconds = 0;
  int64_t integer = 0;
  std::string_view text;
  bool read = false;
  if (value.get_double().get(seconds) == simdjson::SUCCESS) {
    read = true;
  } else if (value.get_int64().get(integer) == simdjson::SUCCESS) {
    seconds = static_cast<double>(integer);
    read = true;
  } else if (value.get_string().get(text) == simdjson::SUCCESS) {
    text = TrimAsciiSpace(text);
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    read = error == std::errc() && end == text.data() + text.size() && !text.empty();
  }
  if (!read || !std::isfinite(seconds) || seconds <= 0) return std::nullopt;
  return std::min(seconds, kMaxExpiresSeconds);
}

}  // namespace

Result<HttpRequest> SessionRequest(const SourceSpec& source, const AuthSession* current) {
  const std::string client_id(TrimAsciiSpace(source.GetString("client_id")));
  const std::string secret(TrimAsciiSpace(source.GetString("client_secret")));
  const std::string username(TrimAsciiSpace(source.GetString("username")));
  const std::string password = source.GetString("password");
  if (client_id.empty()) {
    return Invalid(source,
                   "set `client_id` (and `client_secret`) of a Reddit app: the API answers "
                   "only with an OAuth token, e.g. client_id = \"${REDDIT_CLIENT_ID}\"");
  }
  // HTTP Basic splits at the first ':'; a control character would end the
  // header early.
  if (!IsHeaderSafe(client_id) || client_id.find(':') != std::string::npos ||
      std::any_of(secret.begin(), secret.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20; })) {
    return Invalid(source, "`client_id` or `client_secret` holds characters an app id cannot");
  }
  auto url = TokenUrl(source);
  if (!url.ok()) return url.status();
  auto agent = internal::UserAgent(source);
  if (!agent.ok()) return agent.status();

  HttpRequest request;
  request.method = "POST";
  request.url = *url;
  std::string& body = request.body;
  if (current != nullptr && !current->refresh_token.empty()) {
    internal::AppendParam(&body, "grant_type", "refresh_token");
    internal::AppendParam(&body, "refresh_token", current->refresh_token);
  } else if (!username.empty() || !password.empty()) {
    if (username.empty() || password.empty()) {
      return Invalid(source, "set both `username` and `password` (the password grant), or neither");
    }
    if (secret.empty()) {
      return Invalid(source, "the password grant needs the `client_secret` of a \"script\" app");
    }
    internal::AppendParam(&body, "grant_type", "password");
    internal::AppendParam(&body, "username", username);
    internal::AppendParam(&body, "password", password);
  } else if (secret.empty()) {
    internal::AppendParam(&body, "grant_type", "https://oauth.reddit.com/grants/installed_client");
    internal::AppendParam(&body, "device_id", kAnonymousDevice);
  } else {
    internal::AppendParam(&body, "grant_type", "client_credentials");
  }
  request.headers.Set("Authorization", "Basic " + Base64(client_id + ":" + secret));
  request.headers.Set("Content-Type", "application/x-www-form-urlencoded");
  request.headers.Set("Accept", "application/json");
  request.headers.Set("User-Agent", *agent);
  return request;
}

Result<AuthSession> ParseSession(const SourceSpec& source, const HttpResponse& response,
                                 TimePoint now) {
  const std::string where =
      "source \"" + source.name + "\" (reddit): token endpoint " +
      (response.url.empty() ? source.GetString("token_url", std::string(internal::kDefaultTokenUrl))
                            : response.url);
  if (response.status < 200 || response.status >= 300) {
    return StatusFromHttp(response.status, where, internal::ErrorDetail(response.body));
  }
  const std::string http = ": HTTP " + std::to_string(response.status);
  internal::JsonDocument doc;
  dom::object object;
  if (auto error = internal::ParseJson(response.body, &doc, nullptr)) {
    return Status::ParseError(where + http + ": body is not JSON: " + *error);
  }
  if (doc.root.get_object().get(object) != simdjson::SUCCESS) {
    return Status::ParseError(where + http + ": body is a JSON " +
                              std::string(internal::TypeName(doc.root.type())) +
                              ", expected an object");
  }
  // Reddit answers a wrong password with 200 and {"error": "invalid_grant"}.
  dom::element error_value;
  if (object.at_key("error").get(error_value) == simdjson::SUCCESS && !error_value.is_null()) {
    std::string detail = internal::ErrorDetail(response.body);
    if (detail.empty()) detail = "error";
    if (detail.find("unsupported_grant_type") != std::string::npos) {
      return Status::InvalidArgument(where + http + ": " + detail);
    }
    if (detail.find("invalid_grant") != std::string::npos) {
      detail +=
          " (wrong username or password; an account with two-factor sign-in cannot use "
          "the password grant)";
    }
    return Status::Unauthenticated(where + http + ": " + detail);
  }

  AuthSession session;
  dom::element value;
  std::string_view text;
  if (object.at_key("access_token").get(value) != simdjson::SUCCESS ||
      value.get_string().get(text) != simdjson::SUCCESS || text.empty() ||
      text.size() > kMaxTokenBytes || !IsHeaderSafe(text)) {
    return Status::ParseError(where + http + ": no usable 'access_token' in the answer");
  }
  session.access_token = std::string(text);
  if (object.at_key("token_type").get(value) == simdjson::SUCCESS &&
      (value.get_string().get(text) != simdjson::SUCCESS || !EqualsIgnoreCase(text, "bearer"))) {
    return Status::ParseError(where + http + ": 'token_type' is not \"bearer\"");
  }
  if (object.at_key("expires_in").get(value) == simdjson::SUCCESS && !value.is_null()) {
    const std::optional<double> seconds = Seconds(value);
    if (!seconds) return Status::ParseError(where + http + ": 'expires_in' is not a duration");
    session.expires_at = now + Duration(std::llround(*seconds * 1000.0));
  }
  if (object.at_key("refresh_token").get(value) == simdjson::SUCCESS &&
      value.get_string().get(text) == simdjson::SUCCESS && IsHeaderSafe(text) &&
      text.size() <= kMaxTokenBytes) {
    session.refresh_token = std::string(text);
  }
  const std::string username(TrimAsciiSpace(source.GetString("username")));
  if (!username.empty() && !source.GetString("password").empty()) session.account = username;
  return session;
}

void Authorize(const AuthSession& session, HttpRequest& request) {
  request.headers.Set("Authorization", "bearer " + session.access_token);
}

}  // namespace earshot::connector_reddit
