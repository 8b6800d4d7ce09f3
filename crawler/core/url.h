// URL helpers, built on libcurl's URL API (no hand-rolled URL parsing).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "crawler/core/status.h"

namespace earshot {

// Resolves `reference` against `base` (RFC 3986 §5). An absolute reference
// is returned normalised; an empty reference yields `base`. Surrounding
// whitespace is ignored, inner spaces are sent as %20 and tabs and line
// breaks are removed (as browsers do). A reference libcurl
// cannot parse (non-hierarchical "mailto:x", "urn:...") is an error.
Result<std::string> ResolveUrl(std::string_view base, std::string_view reference);

// Host part of an absolute URL, lower-cased ("Mastodon.Social" ->
// "mastodon.social"); the port is not included.
Result<std::string> UrlHost(std::string_view url);

// Percent-encodes a query-string component.
std::string UrlEncode(std::string_view text);

// Value of query parameter `name` in an absolute URL, decoded; empty when
// absent.
std::string QueryParam(std::string_view url, std::string_view name);

// One link of an RFC 8288 `Link` header: <url>; rel="next"; ...
struct WebLink {
  std::string url;  // as written (may be relative)
  std::string rel;  // may hold several space-separated relation types
};
// Parses every link in a Link header value. Malformed entries are skipped.
std::vector<WebLink> ParseLinkHeader(std::string_view value);
// The URL of the first link whose rel contains `rel`, or empty.
std::string FindLink(const std::vector<WebLink>& links, std::string_view rel);

}  // namespace earshot
