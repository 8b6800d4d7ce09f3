// The `reddit` connector: subreddit listings and search on Reddit's OAuth
// API, comment trees with their "more" stubs, OAuth2 sessions, and replies
// through /api/comment (see connectors/reddit/README.md).
//
// Pure functions over the connector contract (crawler/core/connector.h): no
// I/O, no clock, no environment. Every function is thread-safe; returned
// values own their strings.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "crawler/core/connector.h"

namespace earshot::connector_reddit {

const ConnectorDescriptor& Descriptor();

// ---- The descriptor's functions, exposed for tests. ----

Result<HttpRequest> NextRequest(const SourceSpec& source, const SourceCursor& cursor);
Result<Page> Parse(const SourceSpec& source, const SourceCursor& cursor,
                   const HttpResponse& response);
// x-ratelimit-used / -remaining (a float string) / -reset (seconds from the
// response's Date header; without a Date header there is no reset).
RateLimitInfo ReadRateLimit(const HttpResponse& response);

// AuthCapability: application-only OAuth2 (client credentials; the
// "installed client" grant when client_secret is empty) or, with username
// and password, the password grant of a Reddit "script" app.
Result<HttpRequest> SessionRequest(const SourceSpec& source, const AuthSession* current);
Result<AuthSession> ParseSession(const SourceSpec& source, const HttpResponse& response,
                                 TimePoint now);
void Authorize(const AuthSession& session, HttpRequest& request);

// ConversationCapability: GET /comments/ARTICLE.json, then POST
// /api/morechildren for the "more" stubs, then GET
// /comments/ARTICLE.json?comment=ID for each "continue this thread" stub.
// The cursor is comma-separated tokens: the ID36s still to fetch through
// morechildren, then "~ID36" for each comment whose deeper replies are still
// to load (at most 20).
Result<HttpRequest> ConversationRequest(const SourceSpec& source, const Post& post,
                                        std::string_view cursor);
// As ParseConversationAfter with no cursor: queues the chains it finds.
Result<Page> ParseConversation(const SourceSpec& source, const Post& post,
                               const HttpResponse& response);
// `parse_after`: also keeps the chains queued in `cursor` (the request's) that
// this answer did not load, since no answer names them again.
Result<Page> ParseConversationAfter(const SourceSpec& source, const Post& post,
                                    std::string_view cursor, const HttpResponse& response);

// ReplyCapability: POST /api/comment. Reddit has no idempotency key.
Result<HttpRequest> ReplyRequest(const SourceSpec& account, const AuthSession* session,
                                 const Post& target, const ReplyDraft& draft);
Result<PublishedReply> ParseReply(const SourceSpec& account, const Post& target,
                                  const HttpResponse& response);

// ---- Helpers, exposed for tests. ----

// "t3_48fbm9": kind t1..t6, '_', 1 to 13 lower-case base-36 digits (13 is
// the most an unsigned 64-bit id needs).
bool IsFullname(std::string_view text);
bool IsId36(std::string_view text);

// Orders two base-36 ids (or fullnames, by their id part) like strcmp:
// a longer id is newer, equal lengths compare bytewise. Reddit assigns ids
// in creation order, so this is "older/newer" without integer overflow.
int CompareIds(std::string_view a, std::string_view b);

// The stored cursor of a listing source. Between walks it is the newest
// fullname seen ("t3_abc"); during a walk over `after` pages it also holds
// the next page's anchor and the newest fullname of the previous poll:
// "t3_abc;after=t3_xyz;stop=t3_old".
struct ListingCursor {
  std::string newest;
  std::string after;  // empty: not walking
  std::string stop;   // set when walking
  bool walking() const { return !after.empty(); }
};
// nullopt when `text` is not a cursor this connector wrote (empty text is
// the empty cursor).
std::optional<ListingCursor> ParseListingCursor(std::string_view text);
std::string FormatListingCursor(const ListingCursor& cursor);

// The User-Agent sent when `user_agent` is not set, in the form Reddit asks
// for ("<platform>:<app id>:<version> (by /u/<username>)"); the username
// part only when one is given.
std::string DefaultUserAgent(std::string_view username);

// Plain text made safe to send as Reddit Markdown, so it shows exactly as
// written: Markdown punctuation is backslash-escaped (not inside bare
// http(s) URLs), line-start markers (#, >, -, +, "1.") are neutralised,
// and each line break is kept as a hard break.
std::string EscapeMarkdown(std::string_view text);

}  // namespace earshot::connector_reddit
