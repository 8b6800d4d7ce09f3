// Pieces shared by the files of the discourse connector. Not for other
// components: everything here may change with the connector.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crawler/core/connector.h"

namespace simdjson::dom {
class element;
}  // namespace simdjson::dom

namespace earshot::connector_discourse::internal {

inline constexpr std::string_view kPlatform = "discourse";

// The forum a source or account points at.
struct Forum {
  // "https://forum.example.org" or "https://example.org/forum": no trailing
  // slash; request paths are appended to it.
  std::string base;
  // Lower-case host: the scope of Discourse's integer ids in uids.
  std::string host;
};

// The forum of `spec.url`. A URL naming a saved response ("…/posts.json",
// "…/t/57.json", anything with a query), as `earshot parse --url` passes,
// stands for its origin. An empty or unusable URL is kInvalidArgument.
Result<Forum> ForumOf(const SourceSpec& spec);

// "forum.example.org/p/15": globally unique, and the path of Discourse's own
// short link to the post.
std::string PostUid(const Forum& forum, int64_t post_id);

// base + "/t/SLUG/TOPIC/NUMBER" (the slug only when it is URL-safe); empty
// when the forum's address is unknown.
std::string PostUrl(const Forum& forum, std::string_view slug, int64_t topic_id,
                    int64_t post_number);

// Post::ref: "TOPIC/NUMBER", e.g. "57/14".
std::string MakeRef(int64_t topic_id, int64_t post_number);
struct Ref {
  int64_t topic_id = 0;
  int64_t post_number = 0;
};
std::optional<Ref> ParseRef(std::string_view ref);

// "57" -> 57: a positive decimal integer, nothing else.
std::optional<int64_t> ParsePositive(std::string_view digits);

// A positive id written as a JSON integer or, defensively, as a string of
// digits ("15"); nullopt for anything else.
std::optional<int64_t> AsId(const simdjson::dom::element& value);

// Api-Key / Api-Username from the source's keys, and Accept.
void AddCommonHeaders(const SourceSpec& spec, HttpRequest& request);

// Where topic-level facts come from when items lack them (/t/ID.json has the
// title and slug once, at the top).
struct TopicContext {
  int64_t topic_id = 0;
  std::string title;
  std::string slug;
  bool deleted = false;  // the topic itself is deleted: every post is gone
};

// Everything read from one array of post objects.
struct ItemsRead {
  std::vector<int64_t> ids;  // every readable id, posts, deletions and skips alike
};

// Which ids are new: above `above`, and below `below` when it is non-zero.
struct NewIds {
  int64_t above = 0;
  int64_t below = 0;
};

// Reads the post objects of `items` (a JSON array) into `page`: posts whose
// id is `fresh` (deletions are reported whatever their id), each
// with reply_to resolved when the post it answers is in the same array.
// Unreadable items are skipped, counted and described; `where` prefixes
// warnings ("/latest_posts").
ItemsRead ReadPostArray(const Forum& forum, const simdjson::dom::element& items,
                        const TopicContext* topic, NewIds fresh, std::string_view where,
                        Page& page);

// The platform's message from an error body {"errors":[...],
// "error_type":..., "extras":{"wait_seconds":...}}, or a short plain-text
// excerpt of a non-JSON body; empty when there is none.
std::string ErrorDetail(std::string_view body);

// The response URL for messages, or `fallback` when the response has none.
std::string Where(const HttpResponse& response, std::string_view fallback);

// The forum for reading a response: the source's url, else the response's
// (`earshot parse --url`); with neither, an empty forum and a warning (uids
// and urls then lack the host).
Forum ForumForResponse(const SourceSpec& spec, const HttpResponse& response, Page& page);

// Bodies are read as UTF-8: invalid sequences are replaced (with a warning)
// so one bad byte loses no page.
std::string Utf8Body(const HttpResponse& response, Page* page);

// The capabilities (conversation.cc, reply.cc).
extern const ConversationCapability kConversation;
extern const ReplyCapability kReply;

}  // namespace earshot::connector_discourse::internal
