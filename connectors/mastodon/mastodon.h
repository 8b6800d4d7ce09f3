// The `mastodon` connector: hashtag timelines and status search on any
// Mastodon-compatible instance (see connectors/mastodon/README.md).
//
// Pure functions over the connector contract (crawler/core/connector.h): no
// I/O, no clock, no environment. Every function is thread-safe; returned
// values own their strings.
#pragma once

#include <string>
#include <string_view>

#include "crawler/core/connector.h"

namespace earshot::connector_mastodon {

const ConnectorDescriptor& Descriptor();

// The descriptor's functions, exposed for tests.
Result<HttpRequest> NextRequest(const SourceSpec& source, const SourceCursor& cursor);
Result<Page> Parse(const SourceSpec& source, const SourceCursor& cursor,
                   const HttpResponse& response);
RateLimitInfo ReadRateLimit(const HttpResponse& response);

// ConversationCapability: GET {instance}/api/v1/statuses/:id/context, where
// the instance is `post.ref` (the one the id belongs to; see Parse), else
// the source's `url`. The source's token is sent only to its own instance.
Result<HttpRequest> ConversationRequest(const SourceSpec& source, const Post& post,
                                        std::string_view cursor);
// 2xx: ancestors and descendants as posts (conversation = the thread root
// when the context reaches it); 404/410: a deletion of `post`; any other
// status: the error StatusFromHttp gives, with the platform's message.
Result<Page> ParseConversation(const SourceSpec& source, const Post& post,
                               const HttpResponse& response);

// ReplyCapability: POST {account url}/api/v1/statuses (form-encoded status,
// in_reply_to_id, visibility=public) with `Authorization: Bearer
// <access_token>` and the draft's `Idempotency-Key`. Fails with
// kInvalidArgument, before anything is sent, when `target` was read from
// another instance than the account's (status ids are local to an instance;
// see README "Replies") or carries no instance at all.
Result<HttpRequest> ReplyRequest(const SourceSpec& account, const AuthSession* session,
                                 const Post& target, const ReplyDraft& draft);
// Only a 2xx whose body is the new Status answering `target` is success;
// every other answer is an error carrying the platform's own message.
Result<PublishedReply> ParseReply(const SourceSpec& account, const Post& target,
                                  const HttpResponse& response);
// Mastodon's default status length limit, in characters.
inline constexpr int kMaxReplyLength = 500;

// The base URL of the instance behind a source URL or an API URL:
// "https://Host:8443/api/v1/timelines/tag/x?y" -> "https://host:8443".
// Scheme and host lower-cased, "/api/..." and anything after it, the query,
// the fragment and trailing slashes removed. Empty unless http(s).
// Parse stores it in Post::ref: the instance the post's id belongs to.
std::string InstanceBase(std::string_view url);

// Resolving a status read on another instance into an id on the account's
// instance: GET {account url}/api/v2/search?q=<uri>&resolve=true&
// type=statuses&limit=1, and the id of the status whose `uri` is the
// target's uid. Ready for a two-step reply; not wired into ReplyCapability,
// whose contract is one request per reply (README "Replies").
Result<HttpRequest> ResolveStatusRequest(const SourceSpec& account, const Post& target);
Result<std::string> ParseResolvedStatusId(const SourceSpec& account, const Post& target,
                                          const HttpResponse& response);

// Orders two status ids: negative, zero or positive like strcmp. Ids are
// snowflake strings (Mastodon), fixed-width base62 (Pleroma) or ULIDs
// (GoToSocial), so a longer id is newer and equal lengths compare
// lexicographically; no integer conversion, so no overflow.
int CompareStatusIds(std::string_view a, std::string_view b);

// The cursor that the `Link` header's rel="prev" URL carries (its `min_id`,
// else `since_id`), or empty. `base_url` resolves a relative link.
std::string PrevLinkCursor(const Headers& headers, std::string_view base_url);

// "@alice@host" from an account's `acct`: local accounts ("alice") are
// qualified with `instance_host`; remote ones ("bob@example.org") are kept.
// An empty host leaves a local acct unqualified ("@alice").
std::string QualifiedHandle(std::string_view acct, std::string_view instance_host);

}  // namespace earshot::connector_mastodon
