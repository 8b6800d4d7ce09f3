// The json connector's configuration, compiled from a SourceSpec: pointers
// checked, templates split into parts, enumerations resolved. Internal to
// connectors/json; the keys are documented in the descriptor (json.cc) and
// README.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crawler/core/connector.h"
#include "crawler/core/status.h"

namespace earshot::connector_json {

// One piece of a template such as "https://news.ycombinator.com/item?id={id}".
struct TemplatePart {
  enum class Kind {
    kLiteral,      // `text` verbatim
    kPointer,      // {/a/b}: the item's value at pointer `text`
    kPlaceholder,  // {id}, {cursor}, {conversation}: named value `text`
  };
  Kind kind = Kind::kLiteral;
  std::string text;
};

// How one post field is read from an item.
struct FieldSpec {
  enum class Kind {
    kUnset,
    kPointer,   // a JSON pointer into the item
    kTemplate,  // literal text with {id} and {/pointer} placeholders
    kConstant,  // a template without placeholders (allowed for `language`)
  };
  std::string key;  // the configuration key, for messages
  Kind kind = Kind::kUnset;
  std::string pointer;
  std::vector<TemplatePart> parts;
  bool set() const { return kind != Kind::kUnset; }
};

enum class TimeFormat { kAuto, kIso8601, kRfc822, kUnix, kUnixMs };
enum class CursorFrom { kNone, kBody, kLink, kMaxId, kMaxCreatedAt };
enum class PageOrder { kOldestFirst, kNewestFirst };

struct Mapping {
  // Request.
  std::string url_template;  // SourceSpec::url, with {cursor}
  std::string url_host;      // host of the URL template, lower-case
  std::string initial_cursor;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string token;
  std::string token_header;
  std::string token_scheme;

  // Body.
  std::string items;  // pointer to the item array ("" = the body itself)
  FieldSpec id, uid, text, title, author, author_name, created_at, url, reply_to, conversation,
      language;
  std::string deleted;  // pointers to "true means gone" flags; empty: unset
  std::string removed;
  bool text_is_html = false;
  TimeFormat created_at_format = TimeFormat::kAuto;
  std::string uid_prefix;

  // Cursor.
  CursorFrom cursor_from = CursorFrom::kNone;
  std::string next_cursor;  // pointer in the body (cursor_from = body)
  std::string link_rel = "next";
  PageOrder page_order = PageOrder::kOldestFirst;
  TimeFormat cursor_time_format = TimeFormat::kUnix;
  int64_t cursor_overlap_seconds = 0;

  // Conversation fetch.
  std::string conversation_url;  // empty: not configured
  std::string conversation_items;
};

// Compiles and checks the source's keys. Errors are kInvalidArgument whose
// message starts with the offending key in backticks ("`id`: ...") and never
// contains a secret value.
Result<Mapping> CompileMapping(const SourceSpec& source);

// Splits a template into parts. `placeholders` are the names allowed in
// braces; `allow_pointers` admits {/pointer}. Errors name no key (the caller
// adds it).
Result<std::vector<TemplatePart>> ParseTemplate(std::string_view text,
                                                const std::vector<std::string_view>& placeholders,
                                                bool allow_pointers);

// Expands a URL template: each {name} becomes its value from `values`,
// percent-encoded. A query parameter whose whole value is one placeholder
// with an empty value ("&page_cursor={cursor}" on the first poll) is left out.
std::string ExpandUrlTemplate(const std::vector<TemplatePart>& parts,
                              const std::map<std::string, std::string, std::less<>>& values);

}  // namespace earshot::connector_json
