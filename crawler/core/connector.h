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
};

// Retry-After (RFC 9110): delta-seconds or an HTTP-date, relative to `now`.
std::optional<TimePoint> ParseRetryAfter(std::string_view value, TimePoint now);

}  // namespace earshot
