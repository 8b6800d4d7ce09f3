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
