// Sessions from an app password: com.atproto.server.createSession and
// refreshSession, expiry from the access JWT.
#include <openssl/evp.h>

#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <string>
#include <string_view>

#include "connectors/bluesky/bluesky.h"
#include "connectors/bluesky/internal.h"
#include "crawler/core/strings.h"

namespace earshot::connector_bluesky {

namespace {

namespace dom = simdjson::dom;

// Access tokens carry `exp`; this is only for a token whose payload we
// cannot read. Short, so an unknown lifetime costs a refresh, not a 401.
constexpr auto kDefaultSessionLifetime = std::chrono::minutes(15);
// A JWT payload is a few hundred bytes; anything far larger is not one.
constexpr size_t kMaxJwtPayload = 16 * 1024;

std::string Credential(const SourceSpec& source, std::string_view key) {
  return std::string(TrimAsciiSpace(source.GetString(key)));
}

// The decoded bytes of base64url text (RFC 4648 §5, padding optional).
std::optional<std::string> DecodeBase64Url(std::string_view text) {
  if (text.empty() || text.size() > kMaxJwtPayload) return std::nullopt;
  std::string standard(text);
  for (char& c : standard) {
    if (c == '-') {
      c = '+';
    } else if (c == '_') {
      c = '/';
    } else if (c == '+' || c == '/' || c == '=') {
      return std::nullopt;  // not the URL alphabet
    }
  }
  if (standard.size() % 4 == 1) return std::nullopt;
  const size_t padding = (4 - standard.size() % 4) % 4;
  standard.append(padding, '=');
  std::string out(standard.size() / 4 * 3, '\0');
  const int written = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                      reinterpret_cast<const unsigned char*>(standard.data()),
                                      static_cast<int>(standard.size()));
  if (written < 0 || static_cast<size_t>(written) < padding) return std::nullopt;
  // EVP_DecodeBlock counts the zero bytes that padding stands for.
  out.resize(static_cast<size_t>(written) - padding);
  return out;
}

}  // namespace

std::optional<TimePoint> JwtExpiry(std::string_view jwt) {
  const size_t first = jwt.find('.');
  if (first == std::string_view::npos) return std::nullopt;
  const size_t second = jwt.find('.', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  auto payload = DecodeBase64Url(jwt.substr(first + 1, second - first - 1));
  if (!payload) return std::nullopt;
  dom::parser parser;
  dom::element root;
  if (parser.parse(payload->data(), payload->size()).get(root) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  dom::element exp;
  if (root.at_key("exp").get(exp) != simdjson::SUCCESS) return std::nullopt;
  double seconds = 0;
  int64_t whole = 0;
  uint64_t unsigned_whole = 0;
  if (exp.get_int64().get(whole) == simdjson::SUCCESS) {
    seconds = static_cast<double>(whole);
  } else if (exp.get_uint64().get(unsigned_whole) == simdjson::SUCCESS) {
    return std::nullopt;  // beyond int64: no real expiry
  } else if (exp.get_double().get(seconds) != simdjson::SUCCESS || !std::isfinite(seconds)) {
    return std::nullopt;
  }
  // 1 to ~5000 years after the epoch: anything else is not a time we could use.
  if (seconds < 1 || seconds > 1e11) return std::nullopt;
  return FromUnixSeconds(static_cast<int64_t>(seconds));
}

bool HasCredentials(const SourceSpec& source) {
  return !Credential(source, "identifier").empty() || !Credential(source, "app_password").empty();
}

Result<HttpRequest> SessionRequest(const SourceSpec& source, const AuthSession* current) {
  auto base = internal::ServiceBase(source);
  if (!base.ok()) return base.status();
  HttpRequest request;
  request.method = "POST";
  request.headers.Add("Accept", "application/json");
  if (current != nullptr && !current->refresh_token.empty()) {
    // The refresh JWT is the bearer; the body is empty.
    request.url = *base + "/xrpc/com.atproto.server.refreshSession";
    request.headers.Add("Authorization", "Bearer " + current->refresh_token);
    return request;
  }
  const std::string identifier = Credential(source, "identifier");
  const std::string password = Credential(source, "app_password");
  if (identifier.empty() || password.empty()) {
    return Status::InvalidArgument(
        "source \"" + source.name +
        "\" (bluesky): a session needs both `identifier` (handle, e-mail or DID) and "
        "`app_password` (Settings > Privacy and security > App passwords)");
  }
  request.url = *base + "/xrpc/com.atproto.server.createSession";
  request.headers.Add("Content-Type", "application/json");
  boost::json::object body{{"identifier", identifier}, {"password", password}};
  request.body = boost::json::serialize(body);
  return request;
}

Result<AuthSession> ParseSession(const SourceSpec& source, const HttpResponse& response,
                                 TimePoint now) {
  const std::string where = "source '" + source.name + "': bluesky session (" +
                            (response.url.empty() ? std::string("<unknown URL>") : response.url) +
                            ")";
  if (response.status < 200 || response.status >= 300) {
    return internal::XrpcStatus(response, where);
  }
  dom::parser parser;
  std::string repaired;
  auto root = internal::ParseBody(parser, response, repaired, nullptr);
  if (!root.ok()) return root.status();
  dom::object object;
  if (root->get_object().get(object) != simdjson::SUCCESS) {
    return internal::BodyError(response, "session is a JSON " +
                                             std::string(internal::TypeName(root->type())) +
                                             ", expected an object");
  }
  internal::Fields fields(object);
  std::string_view access = fields.RequiredString("accessJwt");
  std::string_view refresh = fields.OptionalString("refreshJwt").value_or("");
  std::string_view did = fields.RequiredString("did");
  auto active = fields.OptionalBool("active");
  std::string_view account_status = fields.OptionalString("status").value_or("");
  if (fields.ok() && access.empty()) fields.Fail("'accessJwt' is empty");
  if (fields.ok() && !internal::IsPlausibleDid(did)) fields.Fail("'did' is not a DID");
  if (!fields.ok()) return internal::BodyError(response, "session: " + fields.error());
  if (active.has_value() && !*active) {
    // A deactivated, suspended or taken-down account: its tokens work for
    // little, and nothing an operator's retry changes.
    return Status::PermissionDenied(
        where + ": the account is not active (" +
        (account_status.empty() ? std::string("no status given") : std::string(account_status)) +
        ")");
  }
  AuthSession session;
  session.access_token = std::string(access);
  session.refresh_token = std::string(refresh);
  session.account = std::string(did);
  auto expiry = JwtExpiry(access);
  session.expires_at = expiry && *expiry > now ? *expiry : now + kDefaultSessionLifetime;
  return session;
}

void Authorize(const AuthSession& session, HttpRequest& request) {
  if (session.access_token.empty()) return;
  request.headers.Set("Authorization", "Bearer " + session.access_token);
}

bool SessionRefused(const HttpResponse& response) {
  if (response.status < 400 || response.status >= 500) return false;
  return internal::IsRefusedTokenName(internal::XrpcErrorName(response.body));
}

}  // namespace earshot::connector_bluesky
