// What the reddit connector's files share: reading Reddit "things" (t1
// comments, t3 links, "more" stubs) out of parsed JSON, Reddit's error
// bodies, and the request basics (base URL, User-Agent, form bodies).
// Internal to connectors/reddit; not part of the connector's interface.
#pragma once

#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crawler/core/connector.h"

namespace earshot::connector_reddit::internal {

inline constexpr std::string_view kPlatform = "reddit";
inline constexpr std::string_view kDefaultApiBase = "https://oauth.reddit.com";
inline constexpr std::string_view kDefaultTokenUrl = "https://www.reddit.com/api/v1/access_token";
// Where Reddit's own pages live; permalinks are paths under it.
inline constexpr std::string_view kWebBase = "https://www.reddit.com";

// Reasons shown to staff for Page::deletions.
inline constexpr std::string_view kDeletedByAuthor = "deleted by its author";
inline constexpr std::string_view kRemovedByModerators = "removed by moderators";
inline constexpr std::string_view kRemovedAsSpam = "removed as spam";
inline constexpr std::string_view kRemovedByReddit = "removed by Reddit";
inline constexpr std::string_view kNotFoundOnRefetch = "not found on re-fetch";

// Bounds what one "more" stub (and so the conversation cursor) can hold.
inline constexpr size_t kMaxPendingChildren = 2000;

std::string_view TypeName(simdjson::dom::element_type type);

// A parsed JSON body. The parser owns the elements: keep the document alive
// while using `root`.
struct JsonDocument {
  simdjson::dom::parser parser;
  std::string repaired;  // the body with invalid UTF-8 replaced, if needed
  simdjson::dom::element root;
};
// Parses `body` into `doc`. Invalid UTF-8 is replaced by U+FFFD and noted in
// `warnings`, so one bad byte cannot stall a source. Returns simdjson's
// message when the body is not JSON.
std::optional<std::string> ParseJson(std::string_view body, JsonDocument* doc,
                                     std::vector<std::string>* warnings);

// One entry of an `api_type=json` answer's json.errors:
// ["RATELIMIT", "you are doing that too much. try again in 5 minutes.", "ratelimit"].
struct ApiError {
  std::string code;
  std::string message;
  std::string field;
  std::string ToString() const;  // "RATELIMIT: you are doing that too much... (ratelimit)"
};
// json.errors of `root` when it is {"json": {"errors": [...]}}; entries that
// are not arrays of strings are described as they come.
std::vector<ApiError> ApiErrors(simdjson::dom::element root);

// The platform's own words in an error body, for StatusFromHttp's detail:
// json.errors, "message", "error", "error_description", "reason",
// "explanation", or short plain text. Control characters removed, at most
// 300 bytes; empty when there is nothing readable (an HTML page).
std::string ErrorDetail(std::string_view body);

// Printable, bounded excerpt of untrusted text for messages.
std::string Excerpt(std::string_view text, size_t max_bytes = 80);

// The API base: `url` of the source/account without trailing '/', or
// https://oauth.reddit.com when empty. Errors name the source.
Result<std::string> ApiBase(const SourceSpec& source);

// `user_agent`, or DefaultUserAgent(username). Error when it holds a line
// break or other control character (it goes into a header).
Result<std::string> UserAgent(const SourceSpec& source);

// Appends "name=value" (value percent-encoded) to a form or query string.
void AppendParam(std::string* out, std::string_view name, std::string_view value);

// https://www.reddit.com + permalink path (query and fragment dropped,
// characters a URL cannot hold percent-encoded); empty when `permalink` is
// not a Reddit path.
std::string PermalinkUrl(std::string_view permalink);
// https://www.reddit.com/comments/LINK36/_/COMMENT36/ (or /comments/LINK36/
// for a link), the permalink form that needs no title slug.
std::string FallbackUrl(std::string_view link_fullname, std::string_view comment_fullname);

// The part of a fullname after "tN_".
std::string_view Id36Of(std::string_view fullname);

struct Thing {
  enum class Kind {
    kPost,     // a readable t1 or t3
    kGone,     // deleted by its author or removed: a Deletion, not a post
    kMore,     // a "more" stub: children still to fetch
    kBad,      // unreadable: skipped, counted, warned
    kIgnored,  // a kind we do not read (t2 account, t5 subreddit, ...)
  };
  Kind kind = Kind::kBad;
  bool top_level = true;              // false for comments found under `replies`
  std::string fullname;               // whenever readable, whatever the kind
  Post post;                          // kPost
  std::string reason;                 // kGone: the deletion reason; kBad/kIgnored: what was wrong
  std::vector<std::string> children;  // kMore: ID36s to fetch (empty: "continue this thread")
  std::string parent_id;              // kMore: the fullname they hang under
};

struct ReadOptions {
  // The legacy string fields are HTML-escaped (Reddit without raw_json=1).
  bool legacy_escaped = false;
  // The thread's own permalink, for comments that carry none.
  std::string thread_permalink;
};

// Legacy escaping is assumed when a response from reddit.com was fetched
// without raw_json=1 (items whose *_html starts with "&lt;" are detected
// on their own).
bool LegacyEscapedUrl(std::string_view url);

// Reads each element of `children` (a Listing's data.children, or
// json.data.things) and, depth first, every comment under its `replies`
// (an object, or "" when there are none), appending to `out` in tree order.
void ReadThings(simdjson::dom::array children, const ReadOptions& options, std::vector<Thing>* out);

// The "Listing" object's data (children array and the `after` fullname), or
// a message saying why `element` is not a Listing.
struct ListingData {
  simdjson::dom::array children;
  std::string after;  // valid fullname or empty
  std::vector<std::string> warnings;
};
std::optional<std::string> ReadListing(simdjson::dom::element element, ListingData* out);

}  // namespace earshot::connector_reddit::internal
