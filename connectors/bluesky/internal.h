// Pieces shared by the bluesky connector's .cc files. Not part of its API:
// include only from connectors/bluesky/*.cc (it pulls in simdjson).
#pragma once

#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crawler/core/connector.h"

namespace earshot::connector_bluesky::internal {

namespace dom = simdjson::dom;

inline constexpr std::string_view kPlatform = "bluesky";
inline constexpr std::string_view kPostCollection = "app.bsky.feed.post";

// Lengths beyond anything the network produces; they bound what a hostile
// server can push into our store, cursor and URLs.
inline constexpr size_t kMaxUriLength = 2048;
inline constexpr size_t kMaxCidLength = 128;

// "number", "string", ... for messages.
std::string_view TypeName(dom::element_type type);

// Reads the fields of one JSON object, keeping the first problem found:
// optional fields may be absent or null but never of another type.
class Fields {
 public:
  explicit Fields(dom::object object) : object_(object) {}

  std::optional<std::string_view> OptionalString(std::string_view key);
  std::string_view RequiredString(std::string_view key);
  std::optional<dom::object> OptionalObject(std::string_view key);
  std::optional<dom::object> RequiredObject(std::string_view key);
  std::optional<dom::array> OptionalArray(std::string_view key);
  std::optional<bool> OptionalBool(std::string_view key);

  void Fail(std::string message);
  const std::string& error() const { return error_; }
  bool ok() const { return error_.empty(); }

 private:
  std::optional<dom::element> Get(std::string_view key);
  void WrongType(std::string_view key, dom::element_type got, std::string_view expected);

  dom::object object_;
  std::string error_;
};

// at://AUTHORITY/COLLECTION/RKEY, split; nullopt when `uri` is not one.
struct AtUri {
  std::string_view authority;
  std::string_view collection;
  std::string_view rkey;
};
std::optional<AtUri> SplitAtUri(std::string_view uri);
// An at-uri of an app.bsky.feed.post record with plausible parts.
bool IsPostUri(std::string_view uri);
bool IsPlausibleCid(std::string_view cid);
bool IsPlausibleDid(std::string_view did);

// One postView (search result, thread node) read into a Post.
struct PostItem {
  bool ok = false;
  Post post;
  // min(createdAt, indexedAt): what searchPosts' `since` compares with.
  std::optional<TimePoint> sort_at;
  std::string problem;             // when !ok
  std::vector<std::string> notes;  // non-fatal: facets ignored, date fallbacks
};
PostItem ReadPostView(dom::element element);

// Post::ref: {"uri","cid","root":{"uri","cid"}} as JSON.
std::string EncodeRef(std::string_view uri, std::string_view cid, std::string_view root_uri,
                      std::string_view root_cid);
struct StrongRef {
  std::string uri;
  std::string cid;
};
struct PostRef {
  StrongRef post;
  StrongRef root;
};
std::optional<PostRef> DecodeRef(std::string_view ref);

// Adds the posts and deletions of a getPostThread `thread` node (the
// anchor, its parent chain, and every nested reply) to `page`, each post
// once; bad nodes are skipped, counted and warned about.
void FlattenThread(dom::element thread, Page& page);

// The body as JSON, or a kParseError naming the URL. Invalid UTF-8 is
// replaced (into `repaired`, which must outlive the element) with a warning.
Result<dom::element> ParseBody(dom::parser& parser, const HttpResponse& response,
                               std::string& repaired, std::vector<std::string>* warnings);
Status BodyError(const HttpResponse& response, std::string_view what);

// The Status for a non-2xx XRPC answer, from the HTTP status and the body's
// {"error","message"}. Bluesky answers an expired or invalid token with 400
// ExpiredToken/InvalidToken: those are kUnauthenticated whatever the status.
Status XrpcStatus(const HttpResponse& response, std::string_view where);
// The platform's explanation of a non-2xx answer, one line of at most ~300
// bytes: "Name: message" from XRPC error JSON, else a short plain-text body;
// "" for HTML or nothing. Used by XrpcStatus and as error_detail.
std::string XrpcErrorDetail(const HttpResponse& response);
// The body's "error" name ("NotFound"), if it is XRPC error JSON.
std::string XrpcErrorName(std::string_view body);
// Whether an XRPC error name means the access token is refused (expired or
// invalid): the session must be renewed. One list for the session check and
// XrpcStatus.
bool IsRefusedTokenName(std::string_view name);

// `url` of a source as a service base ("https://bsky.social"), or why not.
Result<std::string> ServiceBase(const SourceSpec& source);

}  // namespace earshot::connector_bluesky::internal
