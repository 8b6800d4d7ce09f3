// The `bluesky` connector: post search (app.bsky.feed.searchPosts) on a
// Bluesky PDS or AppView, with app-password sessions, thread fetch
// (app.bsky.feed.getPostThread) and replies (com.atproto.repo.createRecord).
// See connectors/bluesky/README.md.
//
// Pure functions over the connector contract (crawler/core/connector.h): no
// I/O, no clock, no environment. Every function is thread-safe; returned
// values own their strings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crawler/core/connector.h"

namespace earshot::connector_bluesky {

const ConnectorDescriptor& Descriptor();

// The descriptor's functions, exposed for tests.
Result<HttpRequest> NextRequest(const SourceSpec& source, const SourceCursor& cursor);
Result<Page> Parse(const SourceSpec& source, const SourceCursor& cursor,
                   const HttpResponse& response);
RateLimitInfo ReadRateLimit(const HttpResponse& response);

// AuthCapability.
bool HasCredentials(const SourceSpec& source);
Result<HttpRequest> SessionRequest(const SourceSpec& source, const AuthSession* current);
Result<AuthSession> ParseSession(const SourceSpec& source, const HttpResponse& response,
                                 TimePoint now);
void Authorize(const AuthSession& session, HttpRequest& request);
// Whether a non-2xx answer says the session's access token is no longer
// accepted: XRPC "ExpiredToken" or "InvalidToken", which Bluesky sends with
// HTTP 400 as well as 401. The engine then renews the session as for a 401.
bool SessionRefused(const HttpResponse& response);

// ConversationCapability.
Result<HttpRequest> ConversationRequest(const SourceSpec& source, const Post& post,
                                        std::string_view cursor);
Result<Page> ParseConversation(const SourceSpec& source, const Post& post,
                               const HttpResponse& response);

// ReplyCapability.
Result<HttpRequest> ReplyRequest(const SourceSpec& account, const AuthSession* session,
                                 const Post& target, const ReplyDraft& draft);
Result<PublishedReply> ParseReply(const SourceSpec& account, const Post& target,
                                  const HttpResponse& response);
inline constexpr int kMaxReplyLength = 300;  // code points; Bluesky counts 300 graphemes

// The expiry (`exp`, seconds since the epoch) of a JWT, read from its
// base64url payload without checking the signature (we only schedule
// renewal by it); nullopt when absent or unreadable.
std::optional<TimePoint> JwtExpiry(std::string_view jwt);

// The record key of a reply: a TID (13 characters of base32-sortable) whose
// timestamp is `created_at` (plus sub-millisecond digits) and whose clock id
// comes from a hash of `idempotency_key`. The same draft always yields the
// same key, so a retried createRecord names the same record and cannot post
// twice.
std::string ReplyRecordKey(std::string_view idempotency_key, TimePoint created_at);

// The web page of a post: https://bsky.app/profile/HANDLE/post/RKEY, or with
// the DID when the handle is unknown or invalid. Empty when `at_uri` is not
// at://AUTHORITY/app.bsky.feed.post/RKEY.
std::string PostWebUrl(std::string_view at_uri, std::string_view handle);

// `text` with its link facets applied: a facet whose display text is a
// truncated form of its URI ("example.org/some/pa...") becomes the full URI;
// one whose display text is unrelated anchor text gains " (URI)" after it.
// Byte offsets that are out of range, overlap, or fall inside a multi-byte
// character leave that facet unapplied and add a note to `notes`.
struct LinkFacet {
  int64_t byte_start = 0;
  int64_t byte_end = 0;
  std::string uri;
};
std::string ApplyLinkFacets(std::string_view text, std::vector<LinkFacet> facets,
                            std::vector<std::string>* notes);

}  // namespace earshot::connector_bluesky
