// Conversation capability: a stored post's topic, /t/TOPIC.json, page by page.
//
// Paging: ConversationCapability::parse sees only the response, so the cursor
// must be recoverable from it. /t/TOPIC.json?page=N answers posts
// 20(N-1)+1..20N of the topic's stream *and* the whole stream (all post ids),
// so each answer tells whether another page exists. (Fetching the rest by id,
// /t/TOPIC/posts.json?post_ids[]=…, would need the list of remaining ids on
// every page, which that endpoint's answer does not carry.)
#include <simdjson.h>

#include "connectors/discourse/internal.h"
#include "crawler/core/url.h"

namespace earshot::connector_discourse::internal {

namespace dom = simdjson::dom;

namespace {

// TopicView.chunk_size: posts per page of /t/ID.json, when the answer does
// not say (older forums).
constexpr int64_t kDefaultChunkSize = 20;

// The topic of a post this connector made: its ref, else its conversation.
std::optional<int64_t> TopicOf(const Post& post) {
  if (auto ref = ParseRef(post.ref)) return ref->topic_id;
  return ParsePositive(post.conversation);
}

Result<HttpRequest> ConversationRequest(const SourceSpec& source, const Post& post,
                                        std::string_view cursor) {
  auto forum = ForumOf(source);
  if (!forum.ok()) return forum.status();
  auto topic = TopicOf(post);
  if (!topic) {
    return Status::InvalidArgument("discourse post " + post.id +
                                   ": no topic (ref \"TOPIC/NUMBER\" or conversation) to fetch");
  }
  HttpRequest request;
  request.url = forum->base + "/t/" + std::to_string(*topic) + ".json";
  if (!cursor.empty()) {
    auto page = ParsePositive(cursor);
    if (!page) {
      return Status::InvalidArgument("discourse conversation cursor \"" + std::string(cursor) +
                                     "\" is not a page number");
    }
    if (*page > 1) request.url += "?page=" + std::to_string(*page);
  }
  AddCommonHeaders(source, request);
  return request;
}

Result<Page> ConversationParse(const SourceSpec& source, const Post& post,
                               const HttpResponse& response) {
  Page page;
  Forum forum = ForumForResponse(source, response, page);
  std::string where = Where(response, forum.base + "/t/" + post.conversation + ".json");
  if (response.status == 404 || response.status == 410) {
    std::string uid = post.uid;
    if (uid.empty()) {
      int64_t id = ParsePositive(post.id).value_or(0);
      uid = id > 0 ? PostUid(forum, id) : post.id;
    }
    page.deletions.push_back(Deletion{std::move(uid), "not found on re-fetch"});
    return page;
  }
  if (response.status < 200 || response.status > 299) {
    return StatusFromHttp(response.status, where, ErrorDetail(response.body));
  }
  std::string body = Utf8Body(response, &page);
  dom::parser parser;
  dom::element root;
  if (auto error = parser.parse(body).get(root); error != simdjson::SUCCESS) {
    return Status::ParseError(where + ": not JSON: " + simdjson::error_message(error));
  }
  dom::element posts;
  if (root["post_stream"]["posts"].get(posts) != simdjson::SUCCESS || !posts.is_array()) {
    return Status::ParseError(where + ": /post_stream/posts: missing or not an array");
  }
  TopicContext topic;
  if (dom::element id; root["id"].get(id) == simdjson::SUCCESS) {
    topic.topic_id = AsId(id).value_or(0);
  }
  if (topic.topic_id == 0) topic.topic_id = TopicOf(post).value_or(0);
  if (std::string_view s; root["title"].get_string().get(s) == simdjson::SUCCESS) topic.title = s;
  if (std::string_view s; root["slug"].get_string().get(s) == simdjson::SUCCESS) topic.slug = s;
  if (dom::element d; root["deleted_at"].get(d) == simdjson::SUCCESS && d.is_string()) {
    topic.deleted = true;
  }
  ReadPostArray(forum, posts, &topic, NewIds{}, "/post_stream/posts", page);

  dom::array stream;
  if (root["post_stream"]["stream"].get_array().get(stream) == simdjson::SUCCESS) {
    int64_t chunk = kDefaultChunkSize;
    if (int64_t c = 0; root["chunk_size"].get_int64().get(c) == simdjson::SUCCESS && c > 0) {
      chunk = c;
    }
    int64_t this_page = ParsePositive(QueryParam(response.url, "page")).value_or(1);
    int64_t total = static_cast<int64_t>(stream.size());
    // Pages past the end are 404 on Discourse, which would read as a deletion:
    // only ask for a page the stream says exists.
    if (total > 0 && this_page <= (total - 1) / chunk) {  // this_page * chunk < total
      page.next_cursor = std::to_string(this_page + 1);
      page.caught_up = false;
    }
  }
  return page;
}

}  // namespace

const ConversationCapability kConversation{
    .request = ConversationRequest,
    .parse = ConversationParse,
};

}  // namespace earshot::connector_discourse::internal
