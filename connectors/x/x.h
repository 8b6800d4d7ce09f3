// The `x` connector: X (Twitter) API v2 recent search, reply publishing and
// conversation fetch (see connectors/x/README.md).
//
// Pure functions over the connector contract (crawler/core/connector.h): no
// I/O, no clock, no environment. Every function is thread-safe; returned
// values own their strings.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crawler/core/connector.h"

namespace earshot::connector_x {

const ConnectorDescriptor& Descriptor();

// The descriptor's functions, exposed for tests.
Result<HttpRequest> NextRequest(const SourceSpec& source, const SourceCursor& cursor);
Result<Page> Parse(const SourceSpec& source, const SourceCursor& cursor,
                   const HttpResponse& response);
RateLimitInfo ReadRateLimit(const HttpResponse& response);

// ConversationCapability: recent search for `conversation_id:ID`, paged with
// next_token (`cursor` is the bare token, empty for the first page).
Result<HttpRequest> ConversationRequest(const SourceSpec& source, const Post& post,
                                        std::string_view cursor);
Result<Page> ParseConversation(const SourceSpec& source, const Post& post,
                               const HttpResponse& response);

// ReplyCapability: POST /2/tweets with reply.in_reply_to_tweet_id, as the
// account whose user-context token is `access_token`. `session` is unused (X
// needs no token exchange here) and may be null.
Result<HttpRequest> ReplyRequest(const SourceSpec& account, const AuthSession* session,
                                 const Post& target, const ReplyDraft& draft);
Result<PublishedReply> ParseReply(const SourceSpec& account, const Post& target,
                                  const HttpResponse& response);

// The source cursor, decoded. Between polls only `newest` is set: the
// since_id of the next poll. While a poll pages back through a backlog it
// also holds that poll's `since` (its lower bound) and the `next_token` of
// the page to fetch next. Encoded as "NEWEST" or "NEWEST/SINCE/NEXT_TOKEN".
// After X refused a since_id older than its seven-day window, the lower
// bound is a `start_time` (RFC 3339, whole seconds) instead of an id:
// "@START" before any tweet is seen, "NEWEST/@START/NEXT_TOKEN" while paging.
struct SearchCursor {
  std::string newest;
  std::string since;
  std::string start_time;
  std::string next_token;
  bool paging() const { return !next_token.empty(); }
};
// An empty string is the empty cursor; anything we did not write is an
// error naming it.
Result<SearchCursor> DecodeCursor(std::string_view text);
std::string EncodeCursor(const SearchCursor& cursor);

// The descriptor's recover_cursor: for X's 400 refusing the request's
// since_id (or start_time) as older than recent search's seven days, the
// cursor "@START" with START an hour inside the window, measured from the
// answer's Date header (else from the time X's message names); nullopt for
// any other answer.
std::optional<std::string> RecoverCursor(const SourceSpec& source, const SourceCursor& cursor,
                                         const HttpResponse& response);

// Orders two tweet ids (decimal snowflakes as strings) like strcmp, without
// integer conversion: a longer id is newer, equal lengths compare bytewise.
int CompareTweetIds(std::string_view a, std::string_view b);

// A tweet id: 1 to 20 decimal digits (a uint64 snowflake).
bool IsTweetId(std::string_view id);

// The API base URL of `source` (its `url` without trailing '/', default
// https://api.x.com), or kInvalidArgument naming the source.
Result<std::string> ApiBase(const SourceSpec& source);

// X's own words from an error body: the problem JSON's `title` and `detail`
// and the `message` of the first `errors` entries (v2 and v1.1 forms), at
// most a few hundred bytes of valid UTF-8; empty when the body has none.
std::string ErrorDetail(std::string_view body);

// `json` with every \uD800-\uDFFF escape that is not half of a high+low pair
// replaced by \uFFFD, so one lone surrogate (simdjson rejects the whole
// document for it) costs a character, not the page. `replaced` (optional)
// receives how many were replaced. Other bytes are copied unchanged.
std::string ReplaceLoneSurrogateEscapes(std::string_view json, int* replaced = nullptr);

// Plain text of a tweet: X's three HTML escapes (&amp; &lt; &gt;) decoded,
// each t.co link in `urls` (pairs of t.co url and expanded_url) replaced by
// its target, whitespace collapsed within lines, at most one blank line
// between paragraphs, NFC.
std::string TweetText(std::string_view raw,
                      const std::vector<std::pair<std::string, std::string>>& urls);

}  // namespace earshot::connector_x
