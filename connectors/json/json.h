// The `json` connector: any JSON API mapped into posts from TOML alone — a
// URL template with the cursor, RFC 6901 JSON pointers for the item array and
// each field, and a cursor taken from the body, the `Link` header or the
// newest item (see connectors/json/README.md and docs/connectors.md).
//
// Pure functions over the connector contract (crawler/core/connector.h): no
// I/O, no clock, no environment. Every function is thread-safe; returned
// values own their strings. The mapping is compiled from the SourceSpec on
// each call (microseconds), so nothing is cached between calls.
#pragma once

#include <string>
#include <string_view>

#include "crawler/core/connector.h"

namespace earshot::connector_json {

const ConnectorDescriptor& Descriptor();

// The descriptor's functions, exposed for tests.
Status Validate(const SourceSpec& source);
Result<HttpRequest> NextRequest(const SourceSpec& source, const SourceCursor& cursor);
Result<Page> Parse(const SourceSpec& source, const SourceCursor& cursor,
                   const HttpResponse& response);
RateLimitInfo ReadRateLimit(const HttpResponse& response);
Result<HttpRequest> ConversationRequest(const SourceSpec& source, const Post& post,
                                        std::string_view cursor);
Result<Page> ParseConversation(const SourceSpec& source, const Post& post,
                               const HttpResponse& response);

// OK when `pointer` is a syntactically valid RFC 6901 JSON pointer: empty
// (the whole value), or '/'-separated reference tokens in which '~' is
// followed only by '0' or '1'.
Status CheckPointer(std::string_view pointer);

// Orders two ids: negative, zero or positive like strcmp. Two all-digit ids
// compare as numbers of any length (leading zeros ignored, no overflow);
// anything else compares bytewise.
int CompareIds(std::string_view a, std::string_view b);

}  // namespace earshot::connector_json
