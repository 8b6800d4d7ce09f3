// The connector contract (see docs/connectors.md).
//
// A connector is a descriptor plus pure functions: data in, data out. It never
// touches the network, the clock, the store or the environment; the engine
// owns I/O, timing, retries, politeness and persistence. That is what lets one
// connector run against a real server, a local fixture server, or a saved
// file (`earshot parse`), and be unit-tested and fuzzed with bodies alone.
//
// The core never names a platform: connectors are found through the registry
// that CMake generates from the list of connector folders (connectors/).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "crawler/core/clock.h"
#include "crawler/core/http.h"
#include "crawler/core/post.h"
#include "crawler/core/status.h"

namespace earshot {

// One documented configuration key of a connector. Keys a connector does not
// declare are rejected by the config loader with file:line:column.
struct ConfigKeySpec {
  enum class Type { kString, kInteger, kBoolean, kStringArray };
  std::string name;
  Type type = Type::kString;
  // Default as TOML would write it ("40", "true", "statuses"); empty: none.
  std::string default_value;
  bool required = false;
  // A credential: may be written as "${ENV_VAR}", and is never logged.
  bool secret = false;
  std::string doc;
};

using OptionValue = std::variant<std::string, int64_t, bool, std::vector<std::string>>;

// One validated [[source]] table: common keys plus the connector's own keys
// (defaults applied, ${ENV_VAR} already substituted).
struct SourceSpec {
  std::string name;       // unique; the key of its stored state
  std::string connector;  // registry name, == folder under connectors/
  std::string url;        // the connector defines what it points at
  Duration interval = std::chrono::minutes(5);
  std::map<std::string, OptionValue> options;

  // Typed access to options; the fallback is returned when the key is absent
  // or of another type (the loader has already checked types).
  std::string GetString(std::string_view key, std::string fallback = {}) const;
  int64_t GetInt(std::string_view key, int64_t fallback = 0) const;
  bool GetBool(std::string_view key, bool fallback = false) const;
  std::vector<std::string> GetStrings(std::string_view key) const;
};

// What a connector remembers between polls, persisted with each page.
struct SourceCursor {
  std::string cursor;         // connector-defined, opaque to the engine
  std::string etag;           // last ETag seen (engine records it)
  std::string last_modified;  // last Last-Modified seen (engine records it)
};

// Rate-limit facts read from one response in the platform's dialect. All
// times absolute (UTC); the parser converts "seconds remaining" using the
// response's Date header when present.
struct RateLimitInfo {
  std::optional<int64_t> limit;
  std::optional<int64_t> remaining;
  std::optional<TimePoint> reset;     // when `remaining` refills
  std::optional<TimePoint> retry_at;  // from Retry-After
  bool empty() const { return !limit && !remaining && !reset && !retry_at; }
};

// One post the platform reports as gone. `uid` is what Post::uid would be for
// it (the store's identity); `reason` is shown to staff, e.g. "deleted by its
// author", "removed by moderators", "not found on re-fetch".
struct Deletion {
  std::string uid;
  std::string reason;
};

// What Parse returns for one response body.
struct Page {
  std::vector<Post> posts;
  // The cursor to store with these posts. Empty means "keep the current one".
  std::string next_cursor;
  // False when the platform has more pages ready now; the engine then calls
  // NextRequest again (politeness permitting) with the new cursor.
  bool caught_up = true;
  RateLimitInfo rate_limit;
  // Items that could not be read are skipped and counted; each warning names
  // the item (index or id) and what was wrong with it.
  int skipped_items = 0;
  std::vector<std::string> warnings;
  // Posts the platform says are gone (deleted by their author, removed by
  // moderators, 404/410 on re-fetch, X compliance). The pipeline replaces a
  // stored post's text with a tombstone and marks its thread; nothing else of
  // an author who deleted is shown again.
  std::vector<Deletion> deletions;
};

// ---------------------------------------------------------------------------
// Optional capabilities. Same style as the core functions: pure request
// builders and response readers; the engine sends, times, retries and stores.

// A session or access token obtained through AuthCapability. Held by the
// engine in memory only (never stored, never logged).
struct AuthSession {
  std::string access_token;
  std::string refresh_token;            // empty: cannot refresh; create anew
  std::optional<TimePoint> expires_at;  // the engine renews a minute before
  std::string account;                  // the signed-in account's id (Bluesky DID), if any
};

// For platforms whose API needs a token exchange first (Bluesky sessions from
// an app password, Reddit OAuth2 client credentials). Platforms with a static
// token (X bearer, Discourse API key, Mastodon access token) read it from a
// secret key in next_request instead and need no AuthCapability.
struct AuthCapability {
  // The request creating a session from the credentials in `source`, or
  // renewing `current` when it is non-null and has a refresh token.
  Result<HttpRequest> (*session_request)(const SourceSpec& source, const AuthSession* current);
  // Reads the answer to session_request, whatever its status: 2xx gives the
  // session (expiry from the body, relative to `now`); anything else is an
  // error built with StatusFromHttp and the platform's own message.
  Result<AuthSession> (*parse_session)(const SourceSpec& source, const HttpResponse& response,
                                       TimePoint now);
  // Adds the session's credentials to a request built by next_request,
  // conversation.request or reply.request (usually `Authorization`).
  void (*authorize)(const AuthSession& session, HttpRequest& request);
  // Whether `source` asks for a session at all; null means always. Where
  // credentials are optional (Bluesky reads public search anonymously), a
  // source for which this is false is polled without a session.
  bool (*configured)(const SourceSpec& source) = nullptr;
  // Whether a non-2xx answer to a request that carried the session says the
  // session itself is no longer valid, so the engine renews it once exactly
  // as for a 401 (Bluesky answers an expired token with 400 ExpiredToken).
  // Null: only a 401 does. Pure; never throws.
  bool (*session_refused)(const HttpResponse& response) = nullptr;
};

// Fetching the conversation around a stored post, so replies join threads and
// deletions are noticed.
struct ConversationCapability {
  // The request for the conversation of `post` (a post this connector made),
  // continuing from `cursor` (empty for the first page).
  Result<HttpRequest> (*request)(const SourceSpec& source, const Post& post,
                                 std::string_view cursor);
  // Reads the answer for 2xx, 404 and 410. 2xx: the posts of the conversation
  // (each with reply_to/conversation set), deletions of any marked deleted or
  // removed, and next_cursor/caught_up when there are more pages. 404/410:
  // an empty page whose `deletions` names `post`.
  Result<Page> (*parse)(const SourceSpec& source, const Post& post, const HttpResponse& response);
  // Optional: `parse`, also given the cursor the request was built from
  // ("" for the first page), for platforms whose answers alone cannot say
  // all that comes next (Reddit: deeper reply chains queued behind a
  // morechildren call). When set, the engine calls it instead of `parse`
  // for conversation fetches; `parse` stays the reader for callers without
  // a cursor. Same statuses and promises as `parse`.
  Result<Page> (*parse_after)(const SourceSpec& source, const Post& post, std::string_view cursor,
                              const HttpResponse& response) = nullptr;
};

// A reply staff have approved, to be published once.
struct ReplyDraft {
  std::string body;             // plain text, exactly as approved
  std::string idempotency_key;  // the same on every retry of this reply
  TimePoint created_at{};       // set by the engine (records that carry a date)
};

// Where a published reply lives. `uid` is what Post::uid will be when the
// reply comes back in a later poll, so it joins its thread as ours.
struct PublishedReply {
  std::string id;
  std::string uid;
  std::string url;
};

// Publishing a reply where the platform allows it.
struct ReplyCapability {
  // `account` is the organisation's own account on the platform, configured
  // like a source (url + the connector's credential keys). `session` is
  // non-null when the connector has an AuthCapability. `target` is the stored
  // post being answered (its id, conversation and ref).
  Result<HttpRequest> (*request)(const SourceSpec& account, const AuthSession* session,
                                 const Post& target, const ReplyDraft& draft);
  // Reads the answer whatever its status. Only a 2xx whose body names the new
  // post is success; anything else is an error from StatusFromHttp carrying
  // the platform's message (expired token -> kUnauthenticated, 403 ->
  // kPermissionDenied, 429 -> kRateLimited). Never "sent" when it was not.
  Result<PublishedReply> (*parse)(const SourceSpec& account, const Post& target,
                                  const HttpResponse& response);
  // Longest body the platform accepts, in characters (code points); 0: no limit.
  int max_length = 0;
  // True when the platform answers a repeated request carrying the same
  // ReplyDraft::idempotency_key with the reply it already made (Mastodon's
  // Idempotency-Key), so resending after a lost answer cannot post twice.
  bool honours_idempotency_key = false;

  // Optional step before `request`, for platforms whose post ids are local
  // to a server (a Mastodon status read on one instance has another id, or
  // none yet, on the instance where the account lives): the target is first
  // found on the account's own server. Set both or neither.
  //
  // The request that finds `target` on the account's server, authorised
  // like `request`; nullopt when `target` is already addressable there (read
  // through the same server). An error refuses the reply before anything is
  // sent (kInvalidArgument, naming what is wrong).
  Result<std::optional<HttpRequest>> (*resolve_request)(const SourceSpec& account,
                                                        const AuthSession* session,
                                                        const Post& target) = nullptr;
  // Reads the answer to resolve_request whatever its status. A 2xx naming
  // the post gives `target` as the account's server knows it (every id in it
  // local to that server); the publisher then passes that post to `request`
  // and `parse` in place of the stored one. A 2xx that does not name it is
  // kNotFound ("the account's server could not find the post"); any other
  // status is a StatusFromHttp error with the platform's message. The step
  // publishes nothing, so it may be repeated freely, and its failure never
  // means the reply may have been posted.
  Result<Post> (*resolve_target)(const SourceSpec& account, const Post& target,
                                 const HttpResponse& response) = nullptr;
};

struct ConnectorDescriptor {
  std::string_view name;     // "feed", "mastodon": the config `connector =`
  std::string_view summary;  // one line for `earshot connectors`
  std::vector<ConfigKeySpec> keys;
  // The request for the next page after `cursor`. Adds conditional headers
  // (If-None-Match / If-Modified-Since) itself when the platform honours them.
  Result<HttpRequest> (*next_request)(const SourceSpec& source, const SourceCursor& cursor);
  // Reads a 2xx response. A body that cannot be read at all is a kParseError
  // naming the URL and position; a bad item is skipped and counted instead.
  Result<Page> (*parse)(const SourceSpec& source, const SourceCursor& cursor,
                        const HttpResponse& response);
  // The platform's rate-limit headers, for any status (429 included). The
  // generic Retry-After is read by the engine; this may add to it.
  RateLimitInfo (*read_rate_limit)(const HttpResponse& response);
  // Optional capabilities; null when the platform (or connector) has none.
  // They point at objects with static storage duration.
  const AuthCapability* auth = nullptr;
  const ConversationCapability* conversation = nullptr;
  const ReplyCapability* reply = nullptr;
  // Optional: checks a loaded source beyond what the key types say (values,
  // combinations, templates), so `earshot config check` and start-up reject
  // it with the source's name and file position instead of a first poll
  // failing. Null: only next_request finds such mistakes. Returns
  // kInvalidArgument; a message that begins with a key in backticks
  // ("`items`: ...") makes the loader point at that key's line. Never echoes
  // a secret value.
  Status (*validate)(const SourceSpec& source) = nullptr;
  // Optional: the platform's own explanation of a non-2xx answer (its error
  // JSON's message, a short plain-text body), which the engine appends to
  // "HTTP 400" in the failure of a poll, a session request or a
  // conversation fetch (`last_error`, logs). Called for any non-2xx status.
  // Returns a short single line (the engine also cuts it to 300 bytes,
  // repairs UTF-8 and masks the source's secrets), "" when the body says
  // nothing useful (an HTML error page); never a token or credential; never
  // throws. Null: the status alone.
  std::string (*error_detail)(const HttpResponse& response) = nullptr;
  // Optional: for a 4xx answer to a poll that refuses the stored cursor
  // itself (X refuses a since_id older than seven days with 400), the cursor
  // to store instead so that the next request can succeed. The engine stores
  // it as it would a page's next_cursor and asks again at once (within
  // max_pages_per_poll); nullopt, "" or the same cursor leave the answer an
  // ordinary failure. Pure: any time it needs comes from the response (its
  // Date header, its body). Never throws. Null: no recovery.
  std::optional<std::string> (*recover_cursor)(const SourceSpec& source, const SourceCursor& cursor,
                                               const HttpResponse& response) = nullptr;
};

// Retry-After (RFC 9110): delta-seconds or an HTTP-date, relative to `now`.
std::optional<TimePoint> ParseRetryAfter(std::string_view value, TimePoint now);

}  // namespace earshot
