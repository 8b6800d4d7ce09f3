// Reply capability: POST /posts.json with topic_id, raw and
// reply_to_post_number, as the account's Api-Key / Api-Username.
//
// Discourse has no idempotency header, so ReplyDraft::idempotency_key is not
// sent: the engine's publishing state (a reply is marked sent before it can
// be sent again) is what guards against double posting. Discourse adds two
// nets of its own: an API create repeated with the same parameters within
// two minutes answers the first post again, and a body too similar to the
// account's recent post is refused ("unique_posts_mins").
#include <simdjson.h>

#include "connectors/discourse/internal.h"
#include "crawler/core/strings.h"
#include "crawler/core/url.h"

namespace earshot::connector_discourse::internal {

namespace dom = simdjson::dom;

namespace {

// SiteSetting.max_post_length's default; forums may lower or raise it, and
// then answer 422 with the reason.
constexpr int kMaxPostLength = 32000;

size_t CodePoints(std::string_view utf8) {
  size_t n = 0;
  for (char c : utf8) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

Result<HttpRequest> ReplyRequest(const SourceSpec& account, const AuthSession* /*session*/,
                                 const Post& target, const ReplyDraft& draft) {
  auto forum = ForumOf(account);
  if (!forum.ok()) return forum.status();
  if (account.GetString("api_key").empty()) {
    return Status::InvalidArgument("discourse account \"" + account.name +
                                   "\": api_key (and api_username for an all-users key) is "
                                   "required to publish");
  }
  auto ref = ParseRef(target.ref);
  int64_t topic = ref ? ref->topic_id : 0;
  if (!ref) topic = ParsePositive(target.conversation).value_or(0);
  if (topic <= 0) {
    return Status::InvalidArgument("discourse post " + target.id +
                                   ": no topic (ref \"TOPIC/NUMBER\" or conversation) to reply in");
  }
  if (TrimAsciiSpace(draft.body).empty()) {
    return Status::InvalidArgument("discourse reply to post " + target.id + ": empty body");
  }
  if (CodePoints(draft.body) > static_cast<size_t>(kMaxPostLength)) {
    return Status::InvalidArgument("discourse reply to post " + target.id + ": longer than " +
                                   std::to_string(kMaxPostLength) + " characters");
  }
  HttpRequest request;
  request.method = "POST";
  request.url = forum->base + "/posts.json";
  AddCommonHeaders(account, request);
  request.headers.Set("Content-Type", "application/x-www-form-urlencoded");
  // Form encoding, as Discourse's own API client sends it. Answering the
  // opening post is answering the topic: no reply_to_post_number then.
  request.body = "topic_id=" + std::to_string(topic) + "&raw=" + UrlEncode(draft.body);
  if (ref && ref->post_number > 1) {
    request.body += "&reply_to_post_number=" + std::to_string(ref->post_number);
  }
  return request;
}

Result<PublishedReply> ReplyParse(const SourceSpec& account, const Post& target,
                                  const HttpResponse& response) {
  Page scratch;
  Forum forum = ForumForResponse(account, response, scratch);
  std::string where = Where(response, forum.base + "/posts.json");
  if (response.status < 200 || response.status > 299) {
    return StatusFromHttp(response.status, where, ErrorDetail(response.body));
  }
  const std::string maybe_sent =
      ": the reply may have been published; check the topic before sending it again";
  dom::parser parser;
  dom::element root;
  if (auto error = parser.parse(response.body).get(root); error != simdjson::SUCCESS) {
    return Status::ParseError(where + ": HTTP " + std::to_string(response.status) +
                              " with a body that is not JSON (" + simdjson::error_message(error) +
                              ")" + maybe_sent);
  }
  if (!root.is_object()) {
    return Status::ParseError(where + ": HTTP " + std::to_string(response.status) +
                              ": body is not an object" + maybe_sent);
  }
  if (dom::array errors;
      root["errors"].get_array().get(errors) == simdjson::SUCCESS && errors.size() > 0) {
    return Status::InvalidArgument(where + ": HTTP " + std::to_string(response.status) + ": " +
                                   ErrorDetail(response.body));
  }
  if (std::string_view action;
      root["action"].get_string().get(action) == simdjson::SUCCESS && action == "enqueued") {
    return Status::AlreadyExists(where +
                                 ": the reply is queued for moderator approval and "
                                 "appears once approved; do not send it again");
  }
  dom::element post = root;
  if (dom::element nested; root["post"].get(nested) == simdjson::SUCCESS && nested.is_object()) {
    post = nested;
  }
  std::optional<int64_t> id;
  if (dom::element e; post["id"].get(e) == simdjson::SUCCESS) id = AsId(e);
  if (!id) {
    return Status::ParseError(where + ": HTTP " + std::to_string(response.status) +
                              ": the answer names no post id" + maybe_sent);
  }
  std::optional<int64_t> topic, number;
  if (dom::element e; post["topic_id"].get(e) == simdjson::SUCCESS) topic = AsId(e);
  if (dom::element e; post["post_number"].get(e) == simdjson::SUCCESS) number = AsId(e);
  if (!topic) {
    if (auto ref = ParseRef(target.ref)) topic = ref->topic_id;
  }
  std::string_view slug;
  if (post["topic_slug"].get_string().get(slug) != simdjson::SUCCESS) slug = {};
  PublishedReply reply;
  reply.id = std::to_string(*id);
  reply.uid = PostUid(forum, *id);
  reply.url = (topic && number) ? PostUrl(forum, slug, *topic, *number)
                                : forum.base + "/p/" + std::to_string(*id);
  return reply;
}

}  // namespace

const ReplyCapability kReply{
    .request = ReplyRequest,
    .parse = ReplyParse,
    .max_length = kMaxPostLength,
};

}  // namespace earshot::connector_discourse::internal
