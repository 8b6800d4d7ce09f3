// Publishing a reply: POST /2/tweets. Kept apart from the read side because
// it is the only part that writes JSON (Boost.JSON, a heavy header).
#include <simdjson.h>

#include <boost/json.hpp>
#include <charconv>
#include <optional>
#include <string>
#include <string_view>

#include "connectors/x/x.h"
#include "crawler/core/strings.h"
#include "crawler/core/text.h"
#include "crawler/core/time_format.h"

namespace earshot::connector_x {

namespace {

namespace dom = simdjson::dom;

constexpr std::string_view kTweetsPath = "/2/tweets";
constexpr size_t kMaxReplyCodePoints = 280;

size_t CodePoints(std::string_view utf8) {
  size_t count = 0;
  for (char c : utf8) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++count;
  }
  return count;
}

std::optional<int64_t> HeaderSeconds(const HttpResponse& response, std::string_view name) {
  auto value = response.headers.Get(name);
  if (!value) return std::nullopt;
  std::string_view text = TrimAsciiSpace(*value);
  int64_t number = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc() || end != text.data() + text.size() || number < 0 ||
      number > 253402300799) {
    return std::nullopt;
  }
  return number;
}

// Which limit a 429 hit and when it lifts: X's 24-hour posting cap per user
// (x-user-limit-24hour-*) or the 15-minute endpoint window (x-rate-limit-*).
std::string RateLimitNote(const HttpResponse& response) {
  auto daily_remaining = HeaderSeconds(response, "x-user-limit-24hour-remaining");
  auto daily_reset = HeaderSeconds(response, "x-user-limit-24hour-reset");
  if (daily_remaining && *daily_remaining == 0 && daily_reset) {
    return "24-hour posting limit reached; resets at " +
           FormatRfc3339(FromUnixSeconds(*daily_reset));
  }
  if (auto reset = HeaderSeconds(response, "x-rate-limit-reset")) {
    return "rate limit resets at " + FormatRfc3339(FromUnixSeconds(*reset));
  }
  return {};
}

}  // namespace

Result<HttpRequest> ReplyRequest(const SourceSpec& account, const AuthSession* /*session*/,
                                 const Post& target, const ReplyDraft& draft) {
  auto invalid = [&](const std::string& why) {
    return Status::InvalidArgument("x account \"" + account.name + "\": " + why);
  };
  auto base = ApiBase(account);
  if (!base.ok()) return base.status();
  std::string token(TrimAsciiSpace(account.GetString("access_token")));
  if (token.empty()) {
    return invalid(
        "needs `access_token` (the account's OAuth 2.0 user-context token), e.g. "
        "access_token = \"${X_ACCESS_TOKEN}\"");
  }
  if (!IsTweetId(target.id)) return invalid("the post to answer has no tweet id");
  if (!IsValidUtf8(draft.body)) return invalid("the reply is not valid UTF-8");
  if (TrimAsciiSpace(draft.body).empty()) return invalid("the reply is empty");
  const size_t length = CodePoints(draft.body);
  if (length > kMaxReplyCodePoints) {
    return invalid("the reply has " + std::to_string(length) + " characters; X accepts " +
                   std::to_string(kMaxReplyCodePoints));
  }
  boost::json::object body;
  body["text"] = draft.body;
  body["reply"] = boost::json::object{{"in_reply_to_tweet_id", target.id}};
  HttpRequest request;
  request.method = "POST";
  request.url = *base + std::string(kTweetsPath);
  request.headers.Add("Accept", "application/json");
  request.headers.Add("Content-Type", "application/json");
  request.headers.Add("Authorization", "Bearer " + token);
  // X has no idempotency key: the engine's publishing state for the draft
  // is what prevents a double post; X's duplicate-content 403 is the
  // backstop.
  request.body = boost::json::serialize(body);
  return request;
}

Result<PublishedReply> ParseReply(const SourceSpec& account, const Post& target,
                                  const HttpResponse& response) {
  std::string url = response.url;
  if (url.empty()) {
    auto base = ApiBase(account);
    url = base.ok() ? *base + std::string(kTweetsPath) : std::string(kTweetsPath);
  }
  const std::string where = "x reply to tweet " + target.id + ": POST " + url;
  if (response.status < 200 || response.status >= 300) {
    std::string detail = ErrorDetail(response.body);
    if (response.status == 429) {
      std::string note = RateLimitNote(response);
      if (!note.empty()) detail = detail.empty() ? note : detail + " (" + note + ")";
    }
    if (response.status == 401) {
      // Nothing here refreshes user tokens: an operator must.
      detail += std::string(detail.empty() ? "" : " ") +
                "(the account's access_token was refused: OAuth 2.0 user tokens expire after two "
                "hours and are not refreshed by earshot; replace it)";
    }
    return StatusFromHttp(response.status, where, detail);
  }
  auto unreadable = [&](const std::string& why) {
    // X may have published it: say so, so nobody assumes it was not.
    std::string message = where + ": HTTP " + std::to_string(response.status) + " but " + why +
                          "; the reply may have been published";
    std::string detail = ErrorDetail(response.body);
    if (!detail.empty()) message += ": " + detail;
    return Status::ParseError(std::move(message));
  };
  dom::parser parser;
  dom::element root;
  std::string repaired;
  std::string_view body = response.body;
  auto error = parser.parse(body.data(), body.size()).get(root);
  if (error == simdjson::UTF8_ERROR) {
    repaired = RepairUtf8(body);
    error = parser.parse(repaired.data(), repaired.size()).get(root);
  }
  if (error != simdjson::SUCCESS) {
    return unreadable(std::string("the body is not JSON (") + simdjson::error_message(error) + ")");
  }
  std::string_view id;
  if (root.at_pointer("/data/id").get_string().get(id) != simdjson::SUCCESS) {
    return unreadable("the body does not name the new tweet ('data.id')");
  }
  if (!IsTweetId(id)) return unreadable("'data.id' is not a tweet id");
  PublishedReply reply;
  reply.id = std::string(id);
  reply.uid = reply.id;
  // The account's username is not in the answer; X redirects this form.
  reply.url = "https://x.com/i/web/status/" + reply.id;
  return reply;
}

}  // namespace earshot::connector_x
