// A stored post's thread: app.bsky.feed.getPostThread, flattened.
#include <string>
#include <string_view>

#include "connectors/bluesky/bluesky.h"
#include "connectors/bluesky/internal.h"
#include "crawler/core/url.h"

namespace earshot::connector_bluesky {

namespace {

namespace dom = simdjson::dom;

constexpr int64_t kMaxThreadDepth = 1000;  // getPostThread's own maximum

// The at-uri that names `post`: its uid, else its id.
std::string_view PostUri(const Post& post) {
  if (internal::IsPostUri(post.uid)) return post.uid;
  if (internal::IsPostUri(post.id)) return post.id;
  return {};
}

}  // namespace

Result<HttpRequest> ConversationRequest(const SourceSpec& source, const Post& post,
                                        std::string_view /*cursor: getPostThread does not page*/) {
  auto base = internal::ServiceBase(source);
  if (!base.ok()) return base.status();
  std::string_view uri = PostUri(post);
  if (uri.empty()) {
    return Status::InvalidArgument("source \"" + source.name + "\" (bluesky): post \"" +
                                   post.uid.substr(0, 200) +
                                   "\" has no app.bsky.feed.post at-uri to fetch a thread for");
  }
  const int64_t depth = source.GetInt("thread_depth", 6);
  const int64_t parents = source.GetInt("thread_parent_height", 80);
  for (auto [key, value] : {std::pair{"thread_depth", depth}, {"thread_parent_height", parents}}) {
    if (value < 0 || value > kMaxThreadDepth) {
      return Status::InvalidArgument("source \"" + source.name + "\" (bluesky): `" + key +
                                     "` must be between 0 and 1000, not " + std::to_string(value));
    }
  }
  HttpRequest request;
  request.url = *base + "/xrpc/app.bsky.feed.getPostThread?uri=" + UrlEncode(uri) +
                "&depth=" + std::to_string(depth) + "&parentHeight=" + std::to_string(parents);
  request.headers.Add("Accept", "application/json");
  return request;
}

Result<Page> ParseConversation(const SourceSpec& source, const Post& post,
                               const HttpResponse& response) {
  Page page;
  page.rate_limit = ReadRateLimit(response);
  const std::string uri(PostUri(post).empty() ? std::string_view(post.uid) : PostUri(post));
  // A post that is gone: 404/410 from some servers, 400 "NotFound" from the
  // Bluesky AppView ("Post not found: at://...").
  const bool gone =
      response.status == 404 || response.status == 410 ||
      (response.status == 400 && internal::XrpcErrorName(response.body) == "NotFound");
  if (gone) {
    if (!uri.empty()) page.deletions.push_back({uri, "not found on re-fetch"});
    return page;
  }
  if (response.status < 200 || response.status >= 300) {
    return internal::XrpcStatus(response, "source '" + source.name + "': bluesky thread of " +
                                              uri.substr(0, 200) + " (" + response.url + ")");
  }
  dom::parser parser;
  std::string repaired;
  auto root = internal::ParseBody(parser, response, repaired, &page.warnings);
  if (!root.ok()) return root.status();
  dom::element thread;
  if (root->at_key("thread").get(thread) != simdjson::SUCCESS || thread.is_null()) {
    return internal::BodyError(response, "no 'thread' in a getPostThread answer");
  }
  internal::FlattenThread(thread, page);
  return page;
}

}  // namespace earshot::connector_bluesky
