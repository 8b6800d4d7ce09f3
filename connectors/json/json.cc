#include "connectors/json/json.h"

#include <simdjson.h>

#include <boost/json/stream_parser.hpp>
#include <charconv>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connectors/json/mapping.h"
#include "crawler/core/strings.h"
#include "crawler/core/text.h"
#include "crawler/core/time_format.h"
#include "crawler/core/url.h"

namespace earshot::connector_json {

namespace {

namespace dom = simdjson::dom;

constexpr std::string_view kPlatform = "json";
// Bounds on what a misbehaving server can push into posts, cursors and URLs.
constexpr size_t kMaxIdLength = 256;
constexpr size_t kMaxCursorLength = 4096;
constexpr size_t kMaxLanguageLength = 35;  // BCP 47's practical maximum
// One warning per bad item is plenty for the log; a page of 1,000 bad items
// must not produce 1,000 lines.
constexpr size_t kMaxWarnings = 50;
constexpr int64_t kMaxUnixMillis = 253402300799999;  // 9999-12-31T23:59:59.999Z
// Below this an `auto` number is Unix seconds, above it milliseconds: 1e11
// seconds is the year 5138, 1e11 milliseconds is 1973.
constexpr double kAutoMillisThreshold = 1e11;

std::string_view TypeName(dom::element_type type) {
  switch (type) {
    case dom::element_type::ARRAY:
      return "an array";
    case dom::element_type::OBJECT:
      return "an object";
    case dom::element_type::INT64:
    case dom::element_type::UINT64:
    case dom::element_type::DOUBLE:
      return "a number";
    case dom::element_type::STRING:
      return "a string";
    case dom::element_type::BOOL:
      return "a boolean";
    case dom::element_type::NULL_VALUE:
      return "null";
  }
  return "a value";
}

std::string Clip(std::string_view text, size_t max = 80) {
  if (text.size() <= max) return std::string(text);
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return std::string(text.substr(0, cut)) + "...";
}

// "`id` \"/objectID\"": how messages name a field.
std::string Named(std::string_view key, std::string_view pointer) {
  return "`" + std::string(key) + "` \"" + Clip(pointer) + "\"";
}

std::string ResponseUrl(const HttpResponse& response) {
  return response.url.empty() ? std::string("<unknown URL>") : response.url;
}

Status BodyError(const HttpResponse& response, std::string_view what) {
  return Status::ParseError("json response from " + ResponseUrl(response) + ": " +
                            std::string(what));
}

Status ConfigError(const SourceSpec& source, const Status& status) {
  return Status::InvalidArgument("source \"" + source.name + "\" (json): " + status.message());
}

// ---------------------------------------------------------------------------
// Values.

// The value at `pointer`, or nullopt when it is missing or null.
std::optional<dom::element> At(dom::element item, std::string_view pointer) {
  dom::element value;
  if (item.at_pointer(pointer).get(value) != simdjson::SUCCESS) return std::nullopt;
  if (value.is_null()) return std::nullopt;
  return value;
}

bool IsNumber(dom::element value) {
  const auto type = value.type();
  return type == dom::element_type::INT64 || type == dom::element_type::UINT64 ||
         type == dom::element_type::DOUBLE;
}

double NumberValue(dom::element value) {
  int64_t i = 0;
  uint64_t u = 0;
  double d = 0;
  if (value.get_int64().get(i) == simdjson::SUCCESS) return static_cast<double>(i);
  if (value.get_uint64().get(u) == simdjson::SUCCESS) return static_cast<double>(u);
  if (value.get_double().get(d) == simdjson::SUCCESS) return d;
  return 0;
}

// A number as an id would be written: 42, 18446744073709551615, 1.5.
std::string NumberText(dom::element value) {
  int64_t i = 0;
  uint64_t u = 0;
  if (value.get_int64().get(i) == simdjson::SUCCESS) return std::to_string(i);
  if (value.get_uint64().get(u) == simdjson::SUCCESS) return std::to_string(u);
  double d = NumberValue(value);
  // Integral doubles (1e3, 42.0) are written as integers while exact.
  if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) < 9.0e15) {
    return std::to_string(static_cast<int64_t>(d));
  }
  char buffer[64];
  auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, d);
  return error == std::errc() ? std::string(buffer, end) : std::string();
}

// A field's value read from an item: absent (missing or null), text, or of a
// type no text can come from (object, array, boolean).
struct Scalar {
  enum class State { kAbsent, kValue, kWrongType };
  State state = State::kAbsent;
  std::string text;
  dom::element_type type = dom::element_type::NULL_VALUE;
  bool absent() const { return state == State::kAbsent; }
  bool wrong() const { return state == State::kWrongType; }
};

Scalar ReadScalar(dom::element item, std::string_view pointer) {
  Scalar scalar;
  auto value = At(item, pointer);
  if (!value) return scalar;
  scalar.type = value->type();
  if (scalar.type == dom::element_type::STRING) {
    std::string_view text;
    if (value->get_string().get(text) == simdjson::SUCCESS) {
      scalar.text = std::string(text);
      scalar.state = Scalar::State::kValue;
    }
  } else if (IsNumber(*value)) {
    scalar.text = NumberText(*value);
    scalar.state = Scalar::State::kValue;
  } else {
    scalar.state = Scalar::State::kWrongType;
  }
  return scalar;
}

// A pointer field, or a template of {id} and {/pointer}s, or a constant.
// `encode` percent-encodes substituted values (for URLs).
Scalar RenderField(dom::element item, const FieldSpec& field, std::string_view id, bool encode) {
  switch (field.kind) {
    case FieldSpec::Kind::kUnset:
      return {};
    case FieldSpec::Kind::kPointer:
      return ReadScalar(item, field.pointer);
    case FieldSpec::Kind::kTemplate:
    case FieldSpec::Kind::kConstant:
      break;
  }
  Scalar out;
  out.state = Scalar::State::kValue;
  out.type = dom::element_type::STRING;
  for (const TemplatePart& part : field.parts) {
    if (part.kind == TemplatePart::Kind::kLiteral) {
      out.text += part.text;
      continue;
    }
    std::string value;
    if (part.kind == TemplatePart::Kind::kPlaceholder) {
      value = std::string(id);
    } else {
      Scalar inner = ReadScalar(item, part.text);
      if (!inner.wrong() && (inner.absent() || inner.text.empty())) return {};
      if (inner.wrong()) {
        inner.text = "{" + part.text + "}";  // named in the warning
        return inner;
      }
      value = std::move(inner.text);
    }
    out.text += encode ? UrlEncode(value) : value;
  }
  return out;
}

// "deleted": true (or a non-zero number, or the string "true").
bool Truthy(dom::element item, std::string_view pointer) {
  auto value = At(item, pointer);
  if (!value) return false;
  bool flag = false;
  if (value->get_bool().get(flag) == simdjson::SUCCESS) return flag;
  if (IsNumber(*value)) return NumberValue(*value) != 0;
  std::string_view text;
  if (value->get_string().get(text) == simdjson::SUCCESS) {
    return AsciiLower(TrimAsciiSpace(text)) == "true";
  }
  return false;
}

bool IsAllDigits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool HasControl(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  }
  return false;
}

Result<TimePoint> FromNumber(double number, bool millis) {
  if (!std::isfinite(number)) return Status::InvalidArgument("is not a finite number");
  const double ms = millis ? number : number * 1000.0;
  if (ms < 0 || ms > static_cast<double>(kMaxUnixMillis)) {
    return Status::InvalidArgument("is out of range for a Unix time");
  }
  return FromUnixMillis(std::llround(ms));
}

// A time value in the configured format. Messages say what was wrong.
Result<TimePoint> ReadTime(dom::element value, TimeFormat format) {
  std::string_view text;
  if (value.get_string().get(text) == simdjson::SUCCESS) {
    text = TrimAsciiSpace(text);
    switch (format) {
      case TimeFormat::kAuto: {
        auto iso = ParseIso8601(text);
        if (iso.ok()) return iso;
        auto rfc = ParseRfc822(text);
        if (rfc.ok()) return rfc;
        if (IsAllDigits(text)) break;  // read below as a number
        return Status::InvalidArgument("\"" + Clip(text, 40) +
                                       "\" is neither an ISO 8601 nor an RFC 822 date");
      }
      case TimeFormat::kIso8601: {
        auto iso = ParseIso8601(text);
        if (iso.ok()) return iso;
        return Status::InvalidArgument("\"" + Clip(text, 40) + "\": " + iso.status().message());
      }
      case TimeFormat::kRfc822: {
        auto rfc = ParseRfc822(text);
        if (rfc.ok()) return rfc;
        return Status::InvalidArgument("\"" + Clip(text, 40) + "\": " + rfc.status().message());
      }
      case TimeFormat::kUnix:
      case TimeFormat::kUnixMs:
        break;
    }
    // A number written as a string ("1700000000", "1700000000.5").
    double number = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (error != std::errc() || end != text.data() + text.size()) {
      return Status::InvalidArgument("\"" + Clip(text, 40) + "\" is not a Unix time");
    }
    const bool millis = format == TimeFormat::kUnixMs ||
                        (format == TimeFormat::kAuto && number >= kAutoMillisThreshold);
    return FromNumber(number, millis);
  }
  if (IsNumber(value)) {
    const double number = NumberValue(value);
    switch (format) {
      case TimeFormat::kIso8601:
      case TimeFormat::kRfc822:
        return Status::InvalidArgument(
            "is a number, but created_at_format expects a date string (use \"unix\" or "
            "\"unix_ms\")");
      case TimeFormat::kAuto:
        return FromNumber(number, number >= kAutoMillisThreshold);
      case TimeFormat::kUnix:
        return FromNumber(number, false);
      case TimeFormat::kUnixMs:
        return FromNumber(number, true);
    }
  }
  return Status::InvalidArgument("is " + std::string(TypeName(value.type())) +
                                 ", expected a date string or a number");
}

// ---------------------------------------------------------------------------
// Cursors.

std::string FormatCursorTime(TimePoint time, TimeFormat format) {
  const int64_t ms = ToUnixMillis(time);
  switch (format) {
    case TimeFormat::kUnixMs:
      return std::to_string(ms);
    case TimeFormat::kIso8601:
      return FormatRfc3339(time);
    default:
      // Floor, so an item in the cursor's own second is not skipped by ">".
      return std::to_string(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  }
}

std::optional<TimePoint> ParseCursorTime(std::string_view cursor, TimeFormat format) {
  if (cursor.empty()) return std::nullopt;
  if (format == TimeFormat::kIso8601) {
    auto time = ParseIso8601(cursor);
    return time.ok() ? std::optional<TimePoint>(*time) : std::nullopt;
  }
  int64_t number = 0;
  auto [end, error] = std::from_chars(cursor.data(), cursor.data() + cursor.size(), number);
  if (error != std::errc() || end != cursor.data() + cursor.size() || number < 0) {
    return std::nullopt;
  }
  if (format == TimeFormat::kUnixMs) {
    if (number > kMaxUnixMillis) return std::nullopt;
    return FromUnixMillis(number);
  }
  if (number > kMaxUnixMillis / 1000) return std::nullopt;
  return FromUnixSeconds(number);
}

// The state of a newest-first walk, kept in the cursor as a query string:
// "w=WATERMARK" between polls, "w=WATERMARK&n=NEWEST&p=PAGE" during a walk.
// WATERMARK and NEWEST are ids or Unix milliseconds (see OrderKey).
struct WalkState {
  std::string watermark;
  std::string newest;
  std::string page;
};

bool IsWalkCursor(std::string_view cursor) { return cursor.starts_with("w="); }

WalkState DecodeWalk(std::string_view cursor) {
  WalkState state;
  if (!IsWalkCursor(cursor)) return state;
  // QueryParam reads (and decodes) a query of an absolute URL.
  const std::string url = "http://cursor.invalid/?" + std::string(cursor);
  state.watermark = QueryParam(url, "w");
  state.newest = QueryParam(url, "n");
  state.page = QueryParam(url, "p");
  return state;
}

std::string EncodeWalk(const WalkState& state) {
  std::string out = "w=" + UrlEncode(state.watermark);
  if (!state.newest.empty()) out += "&n=" + UrlEncode(state.newest);
  if (!state.page.empty()) out += "&p=" + UrlEncode(state.page);
  return out;
}

// An http(s) URL on the source's own host: the only next-page URLs we follow
// (a hostile Link header must not send our token elsewhere).
bool IsSameHostUrl(std::string_view url, std::string_view host) {
  if (!(url.starts_with("https://") || url.starts_with("http://"))) return false;
  auto url_host = UrlHost(url);
  return url_host.ok() && *url_host == host;
}

std::string JoinedHeader(const Headers& headers, std::string_view name) {
  std::string joined;
  for (std::string_view value : headers.GetAll(name)) {
    if (!joined.empty()) joined += ", ";
    joined += value;
  }
  return joined;
}

// ---------------------------------------------------------------------------
// Pages.

// Collects warnings up to kMaxWarnings, then counts the rest.
class Warnings {
 public:
  explicit Warnings(Page* page) : page_(page) {}
  ~Warnings() {
    if (dropped_ > 0) {
      page_->warnings.push_back(std::to_string(dropped_) + " more warning(s) not shown");
    }
  }
  void Add(std::string warning) {
    if (page_->warnings.size() < kMaxWarnings) {
      page_->warnings.push_back(std::move(warning));
    } else {
      ++dropped_;
    }
  }

 private:
  Page* page_;
  size_t dropped_ = 0;
};

struct ItemOutcome {
  enum class Kind { kPost, kDeletion, kBad };
  Kind kind = Kind::kBad;
  Post post;
  Deletion deletion;
  std::string id;  // when readable, even for a bad item
  std::optional<TimePoint> created_at;
  std::string problem;
};

std::string Uid(const Mapping& m, std::string_view id) { return m.uid_prefix + std::string(id); }

// A link of a post: absolute http(s) only (the inbox shows it as a link).
std::optional<std::string> PostLink(std::string_view value, std::string_view base) {
  std::string absolute;
  if (value.starts_with("https://") || value.starts_with("http://")) {
    auto resolved = ResolveUrl(value, "");
    if (!resolved.ok()) return std::nullopt;
    absolute = std::move(resolved).value();
  } else {
    if (base.empty()) return std::nullopt;
    auto resolved = ResolveUrl(base, value);
    if (!resolved.ok()) return std::nullopt;
    absolute = std::move(resolved).value();
  }
  if (!(absolute.starts_with("https://") || absolute.starts_with("http://"))) return std::nullopt;
  return absolute;
}

ItemOutcome ReadItem(const Mapping& m, dom::element item, std::string_view base_url,
                     const std::string& label_prefix, Warnings& warnings) {
  ItemOutcome out;
  const auto type = item.type();
  if (type != dom::element_type::OBJECT && type != dom::element_type::ARRAY) {
    out.problem = "is " + std::string(TypeName(type)) + ", expected an object";
    return out;
  }
  Scalar id = ReadScalar(item, m.id.pointer);
  if (id.wrong()) {
    out.problem = Named("id", m.id.pointer) + " is " + std::string(TypeName(id.type)) +
                  ", expected a string or number";
    return out;
  }
  const std::string_view id_text = TrimAsciiSpace(id.text);
  if (id_text.empty()) {
    out.problem = "no id at " + Named("id", m.id.pointer);
    return out;
  }
  if (id_text.size() > kMaxIdLength || HasControl(id_text) || !IsValidUtf8(id_text)) {
    out.problem = Named("id", m.id.pointer) + " \"" + Clip(id_text, 40) +
                  "\" is not a usable id (too long, or control characters)";
    return out;
  }
  out.id = std::string(id_text);
  const std::string label = label_prefix + " (id " + Clip(out.id, 40) + ")";
  auto warn = [&](std::string what) { warnings.Add(label + ": " + what); };
  auto wrong_type = [&](const FieldSpec& field, const Scalar& value) {
    const std::string where = field.kind == FieldSpec::Kind::kPointer
                                  ? Named(field.key, field.pointer)
                                  : "`" + field.key + "` " + value.text;
    warn(where + " is " + std::string(TypeName(value.type)) + ", expected a string; left empty");
  };

  Post& post = out.post;
  post.platform = std::string(kPlatform);
  post.id = out.id;
  post.uid = Uid(m, out.id);
  if (m.uid.set()) {
    Scalar uid = RenderField(item, m.uid, out.id, false);
    if (uid.wrong()) {
      wrong_type(m.uid, uid);
    } else if (!TrimAsciiSpace(uid.text).empty()) {
      post.uid = std::string(TrimAsciiSpace(uid.text));
    } else {
      warn("no value for `uid`; identified by `uid_prefix` + id instead");
    }
  }
  if (m.created_at.set()) {
    if (auto value = At(item, m.created_at.pointer)) {
      auto time = ReadTime(*value, m.created_at_format);
      if (time.ok()) {
        out.created_at = *time;
        post.created_at = *time;
      } else {
        warn(Named("created_at", m.created_at.pointer) + " " + time.status().message() +
             "; left empty");
      }
    }
  }

  const bool deleted = !m.deleted.empty() && Truthy(item, m.deleted);
  const bool removed = !m.removed.empty() && Truthy(item, m.removed);
  if (deleted || removed) {
    out.kind = ItemOutcome::Kind::kDeletion;
    out.deletion.uid = post.uid;
    out.deletion.reason = removed ? "removed by moderators" : "deleted by its author";
    return out;
  }

  std::string text;
  if (m.text.set()) {
    Scalar value = ReadScalar(item, m.text.pointer);
    if (value.wrong()) {
      out.problem = Named("text", m.text.pointer) + " is " + std::string(TypeName(value.type)) +
                    ", expected a string";
      return out;
    }
    text = m.text_is_html ? HtmlToText(value.text) : NormalizeText(value.text);
  }
  std::string title;
  if (m.title.set()) {
    Scalar value = RenderField(item, m.title, out.id, false);
    if (value.wrong()) {
      out.problem = (m.title.kind == FieldSpec::Kind::kPointer ? Named("title", m.title.pointer)
                                                               : "`title` " + value.text) +
                    " is " + std::string(TypeName(value.type)) + ", expected a string";
      return out;
    }
    title = NormalizeText(value.text);
  }
  if (text.empty() && title.empty()) {
    out.problem = m.text.set() ? "no text at " + Named("text", m.text.pointer) : "no text";
    if (m.title.set()) out.problem += " and no title";
    return out;
  }
  post.text = std::move(text);
  post.title = std::move(title);

  auto optional_text = [&](const FieldSpec& field) -> std::string {
    Scalar value = RenderField(item, field, out.id, false);
    if (value.wrong()) {
      wrong_type(field, value);
      return {};
    }
    return NormalizeText(value.text);
  };
  post.author_handle = optional_text(m.author);
  post.author_name = optional_text(m.author_name);
  std::string language = optional_text(m.language);
  if (language.size() > kMaxLanguageLength || HasControl(language)) {
    warn(Named("language", m.language.pointer) + " \"" + Clip(language, 40) +
         "\" is not a language tag; left empty");
    language.clear();
  }
  post.language = std::move(language);

  if (m.url.set()) {
    Scalar value = RenderField(item, m.url, out.id, m.url.kind == FieldSpec::Kind::kTemplate);
    if (value.wrong()) {
      wrong_type(m.url, value);
    } else if (!value.absent() && !TrimAsciiSpace(value.text).empty()) {
      auto link = PostLink(TrimAsciiSpace(value.text), base_url);
      if (link) {
        post.url = std::move(*link);
      } else {
        warn("`post_url` \"" + Clip(value.text, 80) + "\" is not an http(s) URL; left empty");
      }
    }
  }
  for (auto [field, target] :
       {std::pair{&m.reply_to, &post.reply_to}, std::pair{&m.conversation, &post.conversation}}) {
    if (!field->set()) continue;
    Scalar value = ReadScalar(item, field->pointer);
    if (value.wrong()) {
      wrong_type(*field, value);
    } else if (value.text.size() > kMaxIdLength || HasControl(value.text)) {
      warn(Named(field->key, field->pointer) + " is not a usable id; left empty");
    } else {
      *target = std::string(TrimAsciiSpace(value.text));
    }
  }
  out.kind = ItemOutcome::Kind::kPost;
  return out;
}

// Where the parse of one body leaves its items, in body order.
struct ItemKey {
  std::string id;
  std::optional<TimePoint> created_at;
};

// Byte offset, line and column of the first error Boost.JSON finds, for a
// body simdjson rejected (simdjson's DOM parser reports no position).
std::string ErrorPosition(std::string_view body) {
  boost::json::parse_options options;
  options.max_depth = 2048;  // beyond simdjson's 1024, so only real syntax errors stop it
  boost::json::stream_parser parser({}, options);
  boost::system::error_code error;
  size_t consumed = parser.write_some(body.data(), body.size(), error);
  if (!error) {
    parser.finish(error);
    if (!error) return {};
    consumed = body.size();
  }
  size_t line = 1;
  size_t column = 1;
  for (size_t i = 0; i < consumed && i < body.size(); ++i) {
    if (body[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  std::string where = " at byte " + std::to_string(consumed) + " (line " + std::to_string(line) +
                      ", column " + std::to_string(column) + ")";
  if (consumed >= body.size()) where += ": the body ends early";
  return where;
}

// What an object body says about itself, for errors: its top-level keys and
// an "error"/"message" string when there is one.
std::string DescribeObject(dom::element root) {
  dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) return {};
  std::string keys;
  size_t count = 0;
  std::string says;
  for (auto field : object) {
    if (count < 10) keys += (keys.empty() ? "" : ", ") + Clip(field.key, 40);
    ++count;
    std::string_view text;
    if (says.empty() && (field.key == "error" || field.key == "message") &&
        field.value.get_string().get(text) == simdjson::SUCCESS) {
      says = Clip(text, 200);
    }
  }
  if (count > 10) keys += ", ...";
  std::string out = " (top-level keys: " + (keys.empty() ? std::string("none") : keys) + ")";
  if (!says.empty()) out += "; the body says \"" + says + "\"";
  return out;
}

// Parses `response.body` (repairing invalid UTF-8 with a warning) into
// `parser`, and reads the array at `items_pointer` into `page`.
Status ReadBody(const Mapping& m, std::string_view items_pointer, const HttpResponse& response,
                dom::parser& parser, std::string& repaired, dom::element* root, Page& page,
                std::vector<ItemKey>& keys, size_t* item_count) {
  auto error = parser.parse(response.body.data(), response.body.size()).get(*root);
  if (error == simdjson::UTF8_ERROR) {
    // One bad byte must not stall the source on this page forever.
    repaired = RepairUtf8(response.body);
    error = parser.parse(repaired.data(), repaired.size()).get(*root);
    if (error == simdjson::SUCCESS) {
      page.warnings.push_back("body is not valid UTF-8; invalid bytes replaced by U+FFFD");
    }
  }
  if (error != simdjson::SUCCESS) {
    return BodyError(response, std::string("invalid JSON") + ErrorPosition(response.body) + ": " +
                                   simdjson::error_message(error));
  }
  dom::element items;
  if (root->at_pointer(items_pointer).get(items) != simdjson::SUCCESS) {
    return BodyError(response,
                     "no value at " + Named("items", items_pointer) + DescribeObject(*root));
  }
  dom::array array;
  if (items.get_array().get(array) != simdjson::SUCCESS) {
    return BodyError(
        response,
        (items_pointer.empty() ? std::string("the body") : Named("items", items_pointer)) + " is " +
            std::string(TypeName(items.type())) + ", expected an array of items" +
            (items_pointer.empty() ? DescribeObject(*root) : std::string()));
  }

  Warnings warnings(&page);
  std::set<std::string> seen_posts;
  std::set<std::string> seen_deletions;
  size_t index = 0;
  for (dom::element element : array) {
    const std::string label = "item " + std::to_string(index++);
    ItemOutcome outcome = ReadItem(m, element, response.url, label, warnings);
    keys.push_back({outcome.id, outcome.created_at});
    switch (outcome.kind) {
      case ItemOutcome::Kind::kPost:
        // One item twice in a page is one post.
        if (seen_posts.insert(outcome.post.uid).second)
          page.posts.push_back(std::move(outcome.post));
        break;
      case ItemOutcome::Kind::kDeletion:
        if (seen_deletions.insert(outcome.deletion.uid).second) {
          page.deletions.push_back(std::move(outcome.deletion));
        }
        break;
      case ItemOutcome::Kind::kBad:
        ++page.skipped_items;
        warnings.Add(label + (outcome.id.empty() ? "" : " (id " + Clip(outcome.id, 40) + ")") +
                     ": " + outcome.problem + "; skipped");
        break;
    }
  }
  *item_count = index;
  return Status::Ok();
}

// The next page's cursor from the body, or empty.
std::string BodyCursor(const Mapping& m, dom::element root, Page& page) {
  auto value = At(root, m.next_cursor);
  if (!value) return {};
  std::string cursor;
  std::string_view text;
  if (value->get_string().get(text) == simdjson::SUCCESS) {
    cursor = std::string(TrimAsciiSpace(text));
  } else if (IsNumber(*value)) {
    cursor = NumberText(*value);
  } else {
    page.warnings.push_back(Named("next_cursor", m.next_cursor) + " is " +
                            std::string(TypeName(value->type())) +
                            ", expected a string or number; no next page");
    return {};
  }
  if (cursor.size() > kMaxCursorLength || HasControl(cursor)) {
    page.warnings.push_back(Named("next_cursor", m.next_cursor) +
                            " is not a usable cursor (too long, or control characters); no next "
                            "page");
    return {};
  }
  return cursor;
}

// The next page's URL from the Link header, or empty.
std::string LinkCursor(const Mapping& m, const HttpResponse& response, Page& page) {
  const std::string value = JoinedHeader(response.headers, "Link");
  if (value.empty()) return {};
  const std::string link = FindLink(ParseLinkHeader(value), m.link_rel);
  if (link.empty()) return {};
  const std::string base = response.url.empty() ? m.url_template : response.url;
  auto absolute = ResolveUrl(base, link);
  if (!absolute.ok() || absolute->size() > kMaxCursorLength) {
    page.warnings.push_back("Link rel=\"" + m.link_rel + "\" is not a usable URL; no next page");
    return {};
  }
  if (!IsSameHostUrl(*absolute, m.url_host)) {
    page.warnings.push_back("Link rel=\"" + m.link_rel + "\" points away from " + m.url_host +
                            " (" + Clip(*absolute) + "); not followed");
    return {};
  }
  return std::move(absolute).value();
}

// What orders items for a newest-first walk: Unix milliseconds when the
// mapping reads times, else the id.
std::string OrderKey(const Mapping& m, const ItemKey& key) {
  if (m.created_at.set()) {
    return key.created_at ? std::to_string(ToUnixMillis(*key.created_at)) : std::string();
  }
  return key.id;
}

void ApplyCursor(const Mapping& m, const SourceCursor& cursor, const HttpResponse& response,
                 dom::element root, const std::vector<ItemKey>& keys, size_t item_count,
                 Page& page) {
  switch (m.cursor_from) {
    case CursorFrom::kNone:
      return;
    case CursorFrom::kMaxId: {
      const std::string current = IsWalkCursor(cursor.cursor) ? std::string() : cursor.cursor;
      std::string newest = current;
      for (const ItemKey& key : keys) {
        if (!key.id.empty() && CompareIds(key.id, newest) > 0) newest = key.id;
      }
      if (newest != current && CompareIds(newest, current) > 0) page.next_cursor = newest;
      return;
    }
    case CursorFrom::kMaxCreatedAt: {
      const std::optional<TimePoint> current = ParseCursorTime(cursor.cursor, m.cursor_time_format);
      std::optional<TimePoint> newest = current;
      for (const ItemKey& key : keys) {
        if (key.created_at && (!newest || *key.created_at > *newest)) newest = key.created_at;
      }
      if (newest && (!current || *newest > *current)) {
        std::string next = FormatCursorTime(*newest, m.cursor_time_format);
        if (next != cursor.cursor) page.next_cursor = std::move(next);
      }
      return;
    }
    case CursorFrom::kBody:
    case CursorFrom::kLink:
      break;
  }
  const std::string next = m.cursor_from == CursorFrom::kBody ? BodyCursor(m, root, page)
                                                              : LinkCursor(m, response, page);
  if (m.page_order == PageOrder::kOldestFirst) {
    // A stream read forwards: follow it while it gives pages of items; at its
    // end keep the last cursor and ask it again next poll.
    if (!next.empty() && next != cursor.cursor) {
      page.next_cursor = next;
      page.caught_up = item_count == 0;
    }
    return;
  }

  // Newest first: each poll walks from the top back to the watermark.
  const WalkState state = DecodeWalk(cursor.cursor);
  std::string page_newest;
  std::string last_key;
  for (const ItemKey& key : keys) {
    std::string order = OrderKey(m, key);
    if (order.empty()) continue;
    if (CompareIds(order, page_newest) > 0) page_newest = order;
    last_key = std::move(order);
  }
  if (state.watermark.empty()) {
    // The first poll takes the newest page only: history is not crawled.
    if (!page_newest.empty()) page.next_cursor = EncodeWalk({page_newest, "", ""});
    return;
  }
  std::string newest = state.newest;
  if (CompareIds(page_newest, newest) > 0) newest = page_newest;
  const bool reached = !last_key.empty() && CompareIds(last_key, state.watermark) <= 0;
  if (next.empty() || item_count == 0 || next == state.page || reached) {
    std::string watermark = state.watermark;
    if (CompareIds(newest, watermark) > 0) watermark = newest;
    page.next_cursor = EncodeWalk({watermark, "", ""});
    return;
  }
  page.next_cursor = EncodeWalk({state.watermark, newest, next});
  page.caught_up = false;
}

void AddCommonHeaders(const Mapping& m, HttpRequest& request) {
  request.headers.Add("Accept", "application/json");
  for (const auto& [name, value] : m.headers) {
    if (EqualsIgnoreCase(name, "Accept")) {
      request.headers.Set(name, value);
    } else {
      request.headers.Add(name, value);
    }
  }
  if (!m.token.empty()) {
    request.headers.Set(m.token_header,
                        m.token_scheme.empty() ? m.token : m.token_scheme + " " + m.token);
  }
}

std::optional<int64_t> ParseCount(std::optional<std::string_view> value) {
  if (!value) return std::nullopt;
  std::string_view text = TrimAsciiSpace(*value);
  double number = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc() || end != text.data() + text.size() || !std::isfinite(number) ||
      number < 0 || number > 9.0e15) {
    return std::nullopt;
  }
  return static_cast<int64_t>(number);
}

// A 4xx/5xx body's own message ("error"/"message"), for StatusFromHttp.
std::string ErrorDetail(std::string_view body) {
  dom::parser parser;
  dom::element root;
  if (parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS) return {};
  for (std::string_view key : {"error", "message", "detail"}) {
    std::string_view text;
    if (root.at_key(key).get_string().get(text) == simdjson::SUCCESS) return Clip(text, 200);
  }
  return {};
}

}  // namespace

Status CheckPointer(std::string_view pointer) {
  if (pointer.empty()) return Status::Ok();
  if (pointer.front() != '/') {
    return Status::InvalidArgument("\"" + Clip(pointer, 40) +
                                   "\" is not a JSON pointer: it must start with '/'");
  }
  for (size_t i = 0; i < pointer.size(); ++i) {
    if (pointer[i] != '~') continue;
    if (i + 1 >= pointer.size() || (pointer[i + 1] != '0' && pointer[i + 1] != '1')) {
      return Status::InvalidArgument("\"" + Clip(pointer, 40) +
                                     "\": '~' must be followed by 0 ('~') or 1 ('/') in a JSON "
                                     "pointer");
    }
  }
  return Status::Ok();
}

int CompareIds(std::string_view a, std::string_view b) {
  if (IsAllDigits(a) && IsAllDigits(b)) {
    while (a.size() > 1 && a.front() == '0') a.remove_prefix(1);
    while (b.size() > 1 && b.front() == '0') b.remove_prefix(1);
    if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  }
  const int order = a.compare(b);
  return order < 0 ? -1 : (order > 0 ? 1 : 0);
}

Status Validate(const SourceSpec& source) { return CompileMapping(source).status(); }

Result<HttpRequest> NextRequest(const SourceSpec& source, const SourceCursor& cursor) {
  auto mapping = CompileMapping(source);
  if (!mapping.ok()) return ConfigError(source, mapping.status());
  const Mapping& m = *mapping;

  std::string value = m.initial_cursor;
  std::string direct_url;
  switch (m.cursor_from) {
    case CursorFrom::kNone:
      break;
    case CursorFrom::kBody:
    case CursorFrom::kLink: {
      std::string next = cursor.cursor;
      if (m.page_order == PageOrder::kNewestFirst) next = DecodeWalk(cursor.cursor).page;
      if (IsWalkCursor(next)) next.clear();  // left by an earlier page_order
      if (next.empty()) break;
      if (m.cursor_from == CursorFrom::kBody) {
        value = next;
      } else if (IsSameHostUrl(next, m.url_host)) {
        direct_url = next;
      }
      break;
    }
    case CursorFrom::kMaxId:
      if (!cursor.cursor.empty() && !IsWalkCursor(cursor.cursor)) value = cursor.cursor;
      break;
    case CursorFrom::kMaxCreatedAt:
      if (auto time = ParseCursorTime(cursor.cursor, m.cursor_time_format)) {
        TimePoint from = *time - std::chrono::seconds(m.cursor_overlap_seconds);
        if (from < FromUnixMillis(0)) from = FromUnixMillis(0);
        value = FormatCursorTime(from, m.cursor_time_format);
      }
      break;
  }

  HttpRequest request;
  if (!direct_url.empty()) {
    request.url = std::move(direct_url);
  } else {
    auto parts = ParseTemplate(m.url_template, {"cursor"}, false);
    if (!parts.ok()) return ConfigError(source, parts.status());
    request.url = ExpandUrlTemplate(*parts, {{"cursor", value}});
  }
  AddCommonHeaders(m, request);
  // Only without a cursor is every request the same URL, so that the last
  // response's validators apply to the next request.
  if (m.cursor_from == CursorFrom::kNone) {
    if (!cursor.etag.empty()) request.headers.Add("If-None-Match", cursor.etag);
    if (!cursor.last_modified.empty()) {
      request.headers.Add("If-Modified-Since", cursor.last_modified);
    }
  }
  return request;
}

RateLimitInfo ReadRateLimit(const HttpResponse& response) {
  RateLimitInfo info;
  for (std::string_view prefix : {"X-RateLimit-", "RateLimit-", "X-Rate-Limit-"}) {
    const std::string p(prefix);
    if (!info.limit) info.limit = ParseCount(response.headers.Get(p + "Limit"));
    if (!info.remaining) info.remaining = ParseCount(response.headers.Get(p + "Remaining"));
    if (info.reset) continue;
    auto reset = response.headers.Get(p + "Reset");
    if (!reset) continue;
    const std::string_view text = TrimAsciiSpace(*reset);
    if (auto time = ParseIso8601(text); time.ok() && !IsAllDigits(text)) {
      info.reset = *time;
      continue;
    }
    auto number = ParseCount(text);
    if (!number) continue;
    if (*number >= 1'000'000'000'000) {
      info.reset = FromUnixMillis(*number);  // epoch milliseconds
    } else if (*number >= 1'000'000'000) {
      info.reset = FromUnixSeconds(*number);  // epoch seconds (after 2001)
    } else if (auto date = response.headers.Get("Date")) {
      // Seconds remaining (IETF RateLimit, Reddit): relative to the response.
      if (auto sent = ParseHttpDate(TrimAsciiSpace(*date)); sent.ok()) {
        info.reset = *sent + std::chrono::seconds(*number);
      }
    }
  }
  return info;
}

Result<Page> Parse(const SourceSpec& source, const SourceCursor& cursor,
                   const HttpResponse& response) {
  auto mapping = CompileMapping(source);
  if (!mapping.ok()) return ConfigError(source, mapping.status());
  const Mapping& m = *mapping;
  Page page;
  page.rate_limit = ReadRateLimit(response);
  dom::parser parser;
  std::string repaired;
  dom::element root;
  std::vector<ItemKey> keys;
  size_t item_count = 0;
  EARSHOT_RETURN_IF_ERROR(
      ReadBody(m, m.items, response, parser, repaired, &root, page, keys, &item_count));
  ApplyCursor(m, cursor, response, root, keys, item_count, page);
  return page;
}

Result<HttpRequest> ConversationRequest(const SourceSpec& source, const Post& post,
                                        std::string_view cursor) {
  auto mapping = CompileMapping(source);
  if (!mapping.ok()) return ConfigError(source, mapping.status());
  const Mapping& m = *mapping;
  if (m.conversation_url.empty()) {
    return ConfigError(
        source, Status::InvalidArgument("`conversation_url` is not set: this source fetches no "
                                        "conversations"));
  }
  if (post.id.empty()) {
    return Status::InvalidArgument("source \"" + source.name + "\" (json): the post has no id");
  }
  HttpRequest request;
  if (m.cursor_from == CursorFrom::kLink && IsSameHostUrl(cursor, m.url_host)) {
    request.url = std::string(cursor);
  } else {
    auto parts = ParseTemplate(m.conversation_url, {"id", "conversation", "cursor"}, false);
    if (!parts.ok()) return ConfigError(source, parts.status());
    const std::string& root = post.conversation.empty() ? post.id : post.conversation;
    request.url = ExpandUrlTemplate(
        *parts, {{"id", post.id}, {"conversation", root}, {"cursor", std::string(cursor)}});
  }
  AddCommonHeaders(m, request);
  return request;
}

Result<Page> ParseConversation(const SourceSpec& source, const Post& post,
                               const HttpResponse& response) {
  auto mapping = CompileMapping(source);
  if (!mapping.ok()) return ConfigError(source, mapping.status());
  const Mapping& m = *mapping;
  Page page;
  page.rate_limit = ReadRateLimit(response);
  if (response.status == 404 || response.status == 410) {
    page.deletions.push_back(
        {post.uid.empty() ? Uid(m, post.id) : post.uid,
         "not found on re-fetch (HTTP " + std::to_string(response.status) + ")"});
    return page;
  }
  if (response.status < 200 || response.status > 299) {
    return StatusFromHttp(
        response.status,
        "json conversation of post " + Clip(post.id, 40) + ": GET " + ResponseUrl(response),
        ErrorDetail(response.body));
  }
  dom::parser parser;
  std::string repaired;
  dom::element root;
  std::vector<ItemKey> keys;
  size_t item_count = 0;
  EARSHOT_RETURN_IF_ERROR(ReadBody(m, m.conversation_items, response, parser, repaired, &root, page,
                                   keys, &item_count));
  std::string next;
  if (m.cursor_from == CursorFrom::kBody) next = BodyCursor(m, root, page);
  if (m.cursor_from == CursorFrom::kLink) next = LinkCursor(m, response, page);
  if (!next.empty() && item_count > 0) {
    page.next_cursor = std::move(next);
    page.caught_up = false;
  }
  return page;
}

const ConnectorDescriptor& Descriptor() {
  using Type = ConfigKeySpec::Type;
  static const ConversationCapability kConversation{
      .request = &ConversationRequest,
      .parse = &ParseConversation,
  };
  static const ConnectorDescriptor kDescriptor{
      .name = kPlatform,
      .summary =
          "Any JSON API, mapped in TOML: `url` with {cursor}, JSON pointers for the items "
          "and their fields (see connectors/json/README.md)",
      .keys =
          {
              {.name = "items",
               .doc = "JSON pointer (RFC 6901) to the array of items in the body, e.g. "
                      "\"/hits\"; \"\" (the default) when the body itself is the array."},
              {.name = "id",
               .required = true,
               .doc = "Pointer to an item's id, e.g. \"/objectID\"; numbers become text. An item "
                      "without one is skipped."},
              {.name = "text",
               .doc = "Pointer to an item's text. An item with neither text nor title is "
                      "skipped; set `text` or `title` (or both)."},
              {.name = "text_is_html",
               .type = Type::kBoolean,
               .default_value = "false",
               .doc = "The text is HTML: tags stripped, entities decoded, paragraphs kept."},
              {.name = "title", .doc = "Pointer to, or template of, an item's title (plain text)."},
              {.name = "uid",
               .doc = "Pointer to, or template of, a globally unique identity (e.g. an "
                      "ActivityPub id); default: `uid_prefix` + id."},
              {.name = "uid_prefix",
               .doc = "Prefix making ids unique across sources (all json posts share one "
                      "platform); default: the url's host and ':', e.g. \"hn.algolia.com:\"."},
              {.name = "author",
               .doc = "Pointer to, or template of, the author's handle, e.g. \"/author\" or "
                      "\"{/creator/name}@lemmy.world\"."},
              {.name = "author_name", .doc = "Pointer to, or template of, a display name."},
              {.name = "created_at", .doc = "Pointer to the creation time."},
              {.name = "created_at_format",
               .default_value = "auto",
               .doc = "\"auto\" (ISO 8601 or RFC 822 strings; numbers are Unix seconds, or "
                      "milliseconds from 1e11), \"iso8601\", \"rfc822\", \"unix\" or \"unix_ms\" "
                      "(numbers or digit strings)."},
              {.name = "post_url",
               .doc = "Pointer to the post's web page (relative links resolved against the "
                      "response URL), or a template such as "
                      "\"https://news.ycombinator.com/item?id={id}\"."},
              {.name = "reply_to", .doc = "Pointer to the id of the item this one answers."},
              {.name = "conversation", .doc = "Pointer to the id of the conversation's root."},
              {.name = "language",
               .doc = "Pointer to a BCP 47 language tag, or a constant such as \"en\"."},
              {.name = "deleted",
               .doc = "Pointer to a flag; true reports the item as deleted by its author "
                      "(a deletion, not a post)."},
              {.name = "removed",
               .doc = "Pointer to a flag; true reports the item as removed by moderators."},
              {.name = "cursor_from",
               .default_value = "none",
               .doc = "Where the next cursor comes from: \"none\" (the same URL each poll), "
                      "\"body\" (`next_cursor`), \"link\" (the Link header), \"max_id\" or "
                      "\"max_created_at\" (the newest item seen)."},
              {.name = "initial_cursor",
               .doc = "The {cursor} value before any is stored, e.g. \"0\"; empty leaves out "
                      "a query parameter whose whole value is {cursor}."},
              {.name = "next_cursor",
               .doc = "cursor_from = \"body\": pointer to the next page's cursor in the "
                      "response, e.g. \"/next_page\"."},
              {.name = "link_rel",
               .default_value = "next",
               .doc = "cursor_from = \"link\": the Link relation to follow."},
              {.name = "page_order",
               .default_value = "oldest_first",
               .doc = "cursor_from = \"body\"/\"link\": \"oldest_first\" (a stream read "
                      "forwards) or \"newest_first\" (each poll walks back from the newest "
                      "page to the items already seen)."},
              {.name = "cursor_time_format",
               .default_value = "unix",
               .doc = "cursor_from = \"max_created_at\": how {cursor} is written: \"unix\", "
                      "\"unix_ms\" or \"iso8601\"."},
              {.name = "cursor_overlap",
               .type = Type::kInteger,
               .default_value = "0",
               .doc = "cursor_from = \"max_created_at\": seconds subtracted from the cursor, "
                      "to catch items indexed late (repeats are stored once)."},
              {.name = "headers",
               .type = Type::kStringArray,
               .secret = true,
               .doc = "Extra request headers, \"Name: value\" each; may use ${ENV_VAR}."},
              {.name = "token",
               .secret = true,
               .doc = "Credential sent as `token_header: token_scheme token`; write "
                      "\"${API_TOKEN}\"."},
              {.name = "token_header",
               .default_value = "Authorization",
               .doc = "Header that carries `token`."},
              {.name = "token_scheme",
               .default_value = "Bearer",
               .doc = "Written before `token` (\"\" sends the token alone)."},
              {.name = "conversation_url",
               .doc = "URL template fetching a stored post's conversation, with {id}, "
                      "{conversation} (the root, else the id) and {cursor}; its body is read "
                      "with the same pointers."},
              {.name = "conversation_items",
               .doc = "Pointer to the item array in a conversation body; default: `items`."},
          },
      .next_request = &NextRequest,
      .parse = &Parse,
      .read_rate_limit = &ReadRateLimit,
      .conversation = &kConversation,
      .validate = &Validate,
  };
  return kDescriptor;
}

}  // namespace earshot::connector_json
