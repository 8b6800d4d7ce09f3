// The `mastodon` connector: hashtag timelines and status search on any
// Mastodon-compatible instance (see connectors/mastodon/README.md).
//
// Pure functions over the connector contract (crawler/core/connector.h): no
// I/O, no clock, no environment. Every function is thread-safe; returned
// values own their strings.
#pragma once

#include <optional>
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
// <access_token>` and the draft's `Idempotency-Key`. `target` must be
// addressable on the account's instance: read there, or resolved there by
// ResolveTarget. Fails with kInvalidArgument, before anything is sent, when
// it was read from another instance or carries no instance at all (status
// ids are local to an instance; see README "Replies").
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

// ReplyCapability's resolve step. nullopt when `target` was read from the
// account's own instance (its `ref` is the account's base URL); otherwise
// ResolveStatusRequest. Fails with kInvalidArgument when the account has no
// usable `url` or `access_token`, or the target no URI to look up.
Result<std::optional<HttpRequest>> ResolveTargetRequest(const SourceSpec& account,
                                                        const AuthSession* session,
                                                        const Post& target);
// The answer to ResolveTargetRequest: `target` with `id` the status's id on
// the account's instance, `ref` that instance, `reply_to` and
// `conversation` its parent there (ids read elsewhere never survive). Errors
// as ParseResolvedStatusId.
Result<Post> ResolveTarget(const SourceSpec& account, const Post& target,
                           const HttpResponse& response);

// Finding a status read on another instance on the account's instance:
// GET {account url}/api/v2/search?q=<uri>&resolve=true&type=statuses&limit=1
// with the account's `access_token` (Mastodon fetches remote statuses only
// for signed-in users). The URI is the target's uid, else its url.
Result<HttpRequest> ResolveStatusRequest(const SourceSpec& account, const Post& target);
// The id of the search result whose `uri` is the target's uid (else whose
// `url` or `uri` is the target's url). No such result: kNotFound, "the
// account's server could not find the post"; non-2xx: the StatusFromHttp
// error with Mastodon's message; a body that is not a search result:
// kParseError.
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
