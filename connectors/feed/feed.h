// The `feed` connector: RSS 0.9x/2.0, RSS 1.0 (RDF) and Atom 0.3/1.0 feeds,
// blog comment feeds included (see connectors/feed/README.md).
//
// Pure functions over the connector contract (crawler/core/connector.h): no
// I/O, no clock, no environment. Documents are read with libxml2 in recover
// mode with network access, DTD loading and entity substitution off. Every
// function is thread-safe (each call owns its parser context; libxml2's
// error callbacks are per context, plus a per-thread fallback restored before
// returning). Returned values own their strings, which are valid UTF-8 NFC.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crawler/core/connector.h"

namespace earshot::connector_feed {

const ConnectorDescriptor& Descriptor();

// The descriptor's functions, exposed for tests.
Result<HttpRequest> NextRequest(const SourceSpec& source, const SourceCursor& cursor);
Result<Page> Parse(const SourceSpec& source, const SourceCursor& cursor,
                   const HttpResponse& response);
RateLimitInfo ReadRateLimit(const HttpResponse& response);

// ConversationCapability: an article's comments come from its own comment
// feed (wfw:commentRss or Atom link rel="replies"), which Parse keeps in
// Post::ref. GET that URL; a post without one has no conversation to fetch
// (kNotFound). Feeds take no replies: the descriptor has no ReplyCapability.
Result<HttpRequest> ConversationRequest(const SourceSpec& source, const Post& post,
                                        std::string_view cursor);
// 2xx: the comment feed's items as comments of `post` (conversation = the
// article's conversation; reply_to = the parent comment the feed names,
// else the article). 404/410: a deletion of `post` (the feed is gone with
// its article). Any other status: the StatusFromHttp error.
Result<Page> ParseConversation(const SourceSpec& source, const Post& post,
                               const HttpResponse& response);

// Defaults of the descriptor's keys, and the fixed input limit.
inline constexpr int64_t kDefaultMaxItems = 1000;
inline constexpr int64_t kDefaultMaxTextBytes = 256 * 1024;
// Bodies larger than this are refused before parsing (kResourceExhausted);
// the engine's own limit (16 MiB by default) normally stops them earlier.
inline constexpr size_t kMaxBodyBytes = 64 * 1024 * 1024;

struct FeedParseOptions {
  // Base for relative links (the response's effective URL). When empty,
  // relative links cannot be resolved and are left out with a warning.
  std::string document_url;
  // The charset parameter of the HTTP Content-Type, lower-case; empty when
  // the server gave none. It overrides the XML declaration (a BOM still
  // decides first: it is the bytes' own evidence).
  std::string http_charset;
  int64_t max_items = kDefaultMaxItems;
  // Title and text are each cut to this many bytes (on a UTF-8 boundary).
  int64_t max_text_bytes = kDefaultMaxTextBytes;
};

// One item or entry, with the feed facts that do not fit in a Post.
struct FeedItem {
  // Platform "feed"; fetched_at and content_hash left unset. Its `ref` is
  // comment_feed_url.
  Post post;
  // wfw:commentRss or Atom <link rel="replies">: the item's own comment
  // feed, for fetching its conversation. Absolute, or empty.
  std::string comment_feed_url;
  // slash:comments or thr:count, when the feed says.
  std::optional<int64_t> comment_count;
};

struct ParsedFeed {
  // "rss" (0.9x/2.0), "rss1" (RDF, also 0.90), "atom1", "atom0.3".
  std::string format;
  std::string title;            // feed title as plain text
  std::string link;             // feed home page, absolute, or empty
  std::string language;         // channel/feed language, or empty
  std::vector<FeedItem> items;  // document order, at most max_items
  // Items left out (beyond max_items, duplicates, empty ones) and every
  // warning; each warning names the item by index ("item 3: ...").
  int skipped_items = 0;
  std::vector<std::string> warnings;
};

// Parses one feed document. A body that is not a feed at all (empty, not
// XML, truncated, an HTML page, a document libxml2 had to abandon such as an
// entity bomb or excessive nesting) is a kParseError naming document_url and,
// when libxml2 gives one, line:column. Items it cannot fully read are kept
// with the fields it could read, or skipped and counted, never fatal.
Result<ParsedFeed> ParseFeed(std::string_view body, const FeedParseOptions& options);

// The conversation (article) a WordPress comment belongs to: `id_or_url`
// without its "#comment-N" fragment, or empty when it has none.
std::string WordPressCommentParent(std::string_view id_or_url);

}  // namespace earshot::connector_feed
