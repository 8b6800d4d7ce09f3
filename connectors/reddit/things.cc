// Reading Reddit things and error bodies; the request basics. See internal.h.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connectors/reddit/internal.h"
#include "connectors/reddit/reddit.h"
#include "crawler/core/strings.h"
#include "crawler/core/text.h"
#include "crawler/core/url.h"

namespace earshot::connector_reddit {

namespace dom = simdjson::dom;

namespace internal {

namespace {

// Later than any plausible post (year 5138) and far from double precision
// trouble: a `created_utc` beyond it is a misread field.
constexpr double kMaxEpochSeconds = 1e11;

bool IsUsernameChar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         c == '-';
}

// Reddit account names: 3-20 of [A-Za-z0-9_-]; older accounts may be
// shorter, so any length up to 64 is accepted.
bool IsUsername(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), IsUsernameChar);
}

// Reads the fields of one thing's `data`. The first problem found is kept
// and makes the thing unreadable; optional fields may be absent or null but
// not of another type.
class FieldReader {
 public:
  explicit FieldReader(dom::object object) : object_(object) {}

  std::optional<std::string> OptionalString(std::string_view key) {
    dom::element value;
    if (object_.at_key(key).get(value) != simdjson::SUCCESS || value.is_null()) {
      return std::nullopt;
    }
    std::string_view text;
    if (value.get_string().get(text) != simdjson::SUCCESS) {
      Fail(key, value.type(), "string");
      return std::nullopt;
    }
    return std::string(text);
  }

  std::string RequiredString(std::string_view key) {
    auto text = OptionalString(key);
    if (!text && error_.empty() && !Has(key)) Fail("'" + std::string(key) + "' is missing");
    if (!text && error_.empty()) Fail("'" + std::string(key) + "' is null");
    return text.value_or("");
  }

  // Flags that only add evidence (removed, spam): anything but `true` is
  // "no", since Reddit varies their presence by viewer.
  bool IsTrue(std::string_view key) const {
    dom::element value;
    if (object_.at_key(key).get(value) != simdjson::SUCCESS) return false;
    bool flag = false;
    return value.get_bool().get(flag) == simdjson::SUCCESS && flag;
  }

  // `banned_by` names the moderator who removed the thing (moderators' view)
  // or is `true` (older answers); null or false when it stands.
  bool IsSet(std::string_view key) const {
    dom::element value;
    if (object_.at_key(key).get(value) != simdjson::SUCCESS) return false;
    std::string_view text;
    if (value.get_string().get(text) == simdjson::SUCCESS) return !text.empty();
    return IsTrue(key);
  }

  std::optional<bool> OptionalBool(std::string_view key) const {
    dom::element value;
    if (object_.at_key(key).get(value) != simdjson::SUCCESS) return std::nullopt;
    bool flag = false;
    if (value.get_bool().get(flag) != simdjson::SUCCESS) return std::nullopt;
    return flag;
  }

  // Epoch seconds as Reddit writes them: a float (1456821458.0), and
  // defensively an integer or a numeric string.
  std::optional<TimePoint> EpochSeconds(std::string_view key) {
    dom::element value;
    if (object_.at_key(key).get(value) != simdjson::SUCCESS || value.is_null()) {
      Fail("'" + std::string(key) + "' is missing");
      return std::nullopt;
    }
    double seconds = 0;
    bool read = false;
    int64_t integer = 0;
    uint64_t unsigned_integer = 0;
    std::string_view text;
    if (value.get_double().get(seconds) == simdjson::SUCCESS) {
      read = true;
    } else if (value.get_int64().get(integer) == simdjson::SUCCESS) {
      seconds = static_cast<double>(integer);
      read = true;
    } else if (value.get_uint64().get(unsigned_integer) == simdjson::SUCCESS) {
      seconds = static_cast<double>(unsigned_integer);
      read = true;
    } else if (value.get_string().get(text) == simdjson::SUCCESS) {
      std::string_view digits = TrimAsciiSpace(text);
      auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), seconds);
      read = error == std::errc() && end == digits.data() + digits.size() && !digits.empty();
    } else {
      Fail(key, value.type(), "number");
      return std::nullopt;
    }
    if (!read || !std::isfinite(seconds) || seconds < 0 || seconds > kMaxEpochSeconds) {
      Fail("'" + std::string(key) + "' is not a time in epoch seconds");
      return std::nullopt;
    }
    return FromUnixMillis(std::llround(seconds * 1000.0));
  }

  bool Has(std::string_view key) const {
    dom::element value;
    return object_.at_key(key).get(value) == simdjson::SUCCESS;
  }

  void Fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
  }
  void Fail(std::string_view key, dom::element_type got, std::string_view expected) {
    Fail("'" + std::string(key) + "' is " + std::string(TypeName(got)) + ", expected " +
         std::string(expected));
  }
  const std::string& error() const { return error_; }

 private:
  dom::object object_;
  std::string error_;
};

std::string ReasonForCategory(std::string_view category) {
  if (category == "deleted" || category == "author") return std::string(kDeletedByAuthor);
  if (category == "moderator" || category == "automod_filtered") {
    return std::string(kRemovedByModerators);
  }
  if (category == "reddit" || category == "anti_evil_ops" || category == "community_ops" ||
      category == "content_takedown" || category == "copyright_takedown") {
    return std::string(kRemovedByReddit);
  }
  return "removed (" + Excerpt(category, 40) + ")";
}

bool StartsWithEscapedMarkup(std::string_view html) {
  return TrimAsciiSpace(html).starts_with("&lt;");
}

// Plain text of a thing's body: the rendered HTML when there is one (what
// readers see: entities decoded, Markdown syntax gone), else the Markdown
// source as plain text.
std::string BodyText(const std::optional<std::string>& html, const std::string& markdown,
                     bool legacy) {
  if (html && !TrimAsciiSpace(*html).empty()) {
    // Escaped HTML (no raw_json=1) is text whose entities spell the markup.
    if (StartsWithEscapedMarkup(*html)) return HtmlToText(HtmlToText(*html));
    return HtmlToText(*html);
  }
  return legacy ? HtmlToText(markdown) : NormalizeText(markdown);
}

std::string LinkUrl(std::string_view url) {
  url = TrimAsciiSpace(url);
  if (url.size() > 2048 || !(url.starts_with("https://") || url.starts_with("http://"))) return {};
  if (std::any_of(url.begin(), url.end(),
                  [](char c) { return static_cast<unsigned char>(c) <= 0x20; })) {
    return {};
  }
  return std::string(url);
}

bool IsRedditHost(std::string_view url) {
  auto host = UrlHost(url);
  if (!host.ok()) return false;
  return *host == "reddit.com" || host->ends_with(".reddit.com");
}

Thing ReadEntry(std::string_view kind, dom::object data, const ReadOptions& options, bool top_level,
                std::optional<dom::array>* replies) {
  Thing thing;
  thing.top_level = top_level;
  FieldReader reader(data);
  const std::string prefix = std::string(kind) + "_";

  // The fullname first: even an otherwise unreadable thing can then be
  // named in warnings, counted in the cursor, or reported gone.
  auto name = reader.OptionalString("name");
  auto id = reader.OptionalString("id");
  if (name && IsFullname(*name) && name->starts_with(prefix)) {
    thing.fullname = *name;
  } else if (!name && id && IsId36(*id)) {
    thing.fullname = prefix + *id;
  } else if (!name && id && IsFullname(*id) && id->starts_with(prefix)) {
    thing.fullname = *id;  // older answers put the fullname in `id`
  } else if (reader.error().empty()) {
    reader.Fail(name ? "'name' \"" + Excerpt(*name, 30) + "\" is not a " + std::string(kind) +
                           " fullname"
                     : std::string("no readable 'name' or 'id'"));
  }

  dom::element replies_value;
  if (data.at_key("replies").get(replies_value) == simdjson::SUCCESS && !replies_value.is_null()) {
    std::string_view empty;
    if (replies_value.get_string().get(empty) == simdjson::SUCCESS) {
      if (!empty.empty()) reader.Fail("'replies' is a non-empty string");
    } else {
      ListingData listing;
      if (auto problem = ReadListing(replies_value, &listing)) {
        reader.Fail("'replies': " + *problem);
      } else {
        *replies = listing.children;
      }
    }
  }

  const bool is_link = kind == "t3";
  const std::string author = reader.OptionalString("author").value_or("");
  const std::string text_key = is_link ? "selftext" : "body";
  const std::string html_key = is_link ? "selftext_html" : "body_html";
  const std::optional<std::string> markdown = reader.OptionalString(text_key);
  const std::optional<std::string> html = reader.OptionalString(html_key);
  const std::optional<std::string> category = reader.OptionalString("removed_by_category");
  const std::optional<std::string> title = is_link ? reader.OptionalString("title") : std::nullopt;

  if (!thing.fullname.empty()) {
    const std::string_view shown = markdown ? TrimAsciiSpace(*markdown) : std::string_view();
    std::string gone;
    if (category && !category->empty()) {
      gone = ReasonForCategory(*category);
    } else if (shown == "[deleted]") {
      gone = kDeletedByAuthor;
    } else if (shown == "[removed]") {
      gone = kRemovedByModerators;
    } else if (title && TrimAsciiSpace(*title) == "[deleted by user]") {
      gone = kDeletedByAuthor;
    } else if (reader.IsTrue("spam")) {
      gone = kRemovedAsSpam;
    } else if (reader.IsTrue("removed") || reader.IsSet("banned_by")) {
      // What a moderator's token sees of a removed thing: the text is still
      // there, but the public no longer sees it.
      gone = kRemovedByModerators;
    }
    if (!gone.empty()) {
      thing.kind = Thing::Kind::kGone;
      thing.reason = std::move(gone);
      return thing;
    }
  }

  std::optional<TimePoint> created = reader.EpochSeconds("created_utc");
  if (!markdown && reader.error().empty()) {
    reader.Fail(reader.Has(text_key) ? "'" + text_key + "' is null"
                                     : "'" + text_key + "' is missing");
  }
  if (is_link && !title && reader.error().empty()) {
    reader.Fail(reader.Has("title") ? "'title' is null" : "'title' is missing");
  }
  const std::optional<std::string> permalink = reader.OptionalString("permalink");
  std::string parent_id;
  std::string link_id;
  if (!is_link) {
    parent_id = reader.RequiredString("parent_id");
    link_id = reader.RequiredString("link_id");
    if (reader.error().empty() && !IsFullname(parent_id)) {
      reader.Fail("'parent_id' \"" + Excerpt(parent_id, 30) + "\" is not a fullname");
    }
    if (reader.error().empty() && !(IsFullname(link_id) && link_id.starts_with("t3_"))) {
      reader.Fail("'link_id' \"" + Excerpt(link_id, 30) + "\" is not a link fullname");
    }
  }
  const std::optional<std::string> link_url = is_link ? reader.OptionalString("url") : std::nullopt;
  if (!author.empty() && author != "[deleted]" && !IsUsername(author) && reader.error().empty()) {
    reader.Fail("'author' \"" + Excerpt(author, 30) + "\" is not a Reddit username");
  }
  if (!reader.error().empty()) {
    thing.reason = reader.error();
    return thing;
  }

  const bool legacy = options.legacy_escaped || (html && StartsWithEscapedMarkup(*html));
  Post& post = thing.post;
  post.platform = std::string(kPlatform);
  post.id = thing.fullname;
  post.uid = thing.fullname;
  post.created_at = created;
  if (!author.empty() && author != "[deleted]") post.author_handle = "u/" + author;
  post.text = BodyText(html, *markdown, legacy);
  if (is_link) {
    post.title = legacy ? HtmlToText(*title) : NormalizeText(*title);
    post.conversation = thing.fullname;
    post.url = PermalinkUrl(permalink.value_or(""));
    if (post.url.empty()) post.url = FallbackUrl(thing.fullname, {});
    // A link post's words are its title; the link itself says where the
    // story is (a trust's own page routes it), so it joins the text.
    const std::optional<bool> is_self = reader.OptionalBool("is_self");
    std::string external = LinkUrl(link_url.value_or(""));
    if (legacy) external = HtmlToText(external);
    const bool self_post = is_self ? *is_self : (external.empty() || IsRedditHost(external));
    if (!self_post && !external.empty() && external != post.url) {
      post.text = post.text.empty() ? external : post.text + "\n\n" + external;
    }
  } else {
    post.reply_to = parent_id;
    post.conversation = link_id;
    post.url = PermalinkUrl(permalink.value_or(""));
    if (post.url.empty() && !options.thread_permalink.empty()) {
      std::string thread = PermalinkUrl(options.thread_permalink);
      if (!thread.empty()) {
        if (!thread.ends_with('/')) thread += '/';
        post.url = thread + std::string(Id36Of(thing.fullname)) + "/";
      }
    }
    if (post.url.empty()) post.url = FallbackUrl(link_id, thing.fullname);
  }
  thing.kind = Thing::Kind::kPost;
  return thing;
}

Thing ReadMore(dom::object data, bool top_level) {
  Thing thing;
  thing.top_level = top_level;
  FieldReader reader(data);
  auto name = reader.OptionalString("name");
  if (name && IsFullname(*name)) thing.fullname = *name;
  auto parent = reader.OptionalString("parent_id");
  if (parent && IsFullname(*parent)) thing.parent_id = *parent;
  dom::element children;
  dom::array list;
  if (data.at_key("children").get(children) != simdjson::SUCCESS) {
    thing.reason = "'children' is missing";
    return thing;
  }
  if (children.get_array().get(list) != simdjson::SUCCESS) {
    thing.reason = "'children' is " + std::string(TypeName(children.type())) + ", expected array";
    return thing;
  }
  size_t unreadable = 0;
  size_t dropped = 0;
  for (dom::element child : list) {
    std::string_view id;
    if (child.get_string().get(id) != simdjson::SUCCESS || !IsId36(id)) {
      ++unreadable;
    } else if (thing.children.size() >= kMaxPendingChildren) {
      ++dropped;
    } else {
      thing.children.emplace_back(id);
    }
  }
  if (!reader.error().empty()) {
    thing.reason = reader.error();
    return thing;
  }
  std::string note;
  if (unreadable > 0) note = std::to_string(unreadable) + " unreadable child id(s) ignored";
  if (dropped > 0) {
    if (!note.empty()) note += "; ";
    note += std::to_string(dropped) + " child id(s) beyond " + std::to_string(kMaxPendingChildren) +
            " not followed";
  }
  thing.reason = std::move(note);
  thing.kind = Thing::Kind::kMore;
  return thing;
}

Thing ReadThing(dom::element element, const ReadOptions& options, bool top_level,
                std::optional<dom::array>* replies) {
  Thing thing;
  thing.top_level = top_level;
  dom::object object;
  if (element.get_object().get(object) != simdjson::SUCCESS) {
    thing.reason = "is " + std::string(TypeName(element.type())) + ", expected a thing object";
    return thing;
  }
  dom::element kind_value;
  std::string_view kind;
  if (object.at_key("kind").get(kind_value) != simdjson::SUCCESS ||
      kind_value.get_string().get(kind) != simdjson::SUCCESS) {
    thing.reason = "'kind' is missing or not a string";
    return thing;
  }
  dom::element data_value;
  dom::object data;
  if (object.at_key("data").get(data_value) != simdjson::SUCCESS ||
      data_value.get_object().get(data) != simdjson::SUCCESS) {
    thing.reason = "kind \"" + Excerpt(kind, 20) + "\" without a 'data' object";
    return thing;
  }
  if (kind == "t1" || kind == "t3") return ReadEntry(kind, data, options, top_level, replies);
  if (kind == "more") return ReadMore(data, top_level);
  thing.kind = Thing::Kind::kIgnored;
  thing.reason = "kind \"" + Excerpt(kind, 20) + "\" is not a post or comment; skipped";
  return thing;
}

}  // namespace

std::string_view TypeName(dom::element_type type) {
  switch (type) {
    case dom::element_type::ARRAY:
      return "array";
    case dom::element_type::OBJECT:
      return "object";
    case dom::element_type::INT64:
    case dom::element_type::UINT64:
    case dom::element_type::DOUBLE:
      return "number";
    case dom::element_type::STRING:
      return "string";
    case dom::element_type::BOOL:
      return "boolean";
    case dom::element_type::NULL_VALUE:
      return "null";
  }
  return "value";
}

std::optional<std::string> ParseJson(std::string_view body, JsonDocument* doc,
                                     std::vector<std::string>* warnings) {
  auto error = doc->parser.parse(body.data(), body.size()).get(doc->root);
  if (error == simdjson::UTF8_ERROR) {
    doc->repaired = RepairUtf8(body);
    error = doc->parser.parse(doc->repaired.data(), doc->repaired.size()).get(doc->root);
    if (error == simdjson::SUCCESS && warnings != nullptr) {
      warnings->push_back("body is not valid UTF-8; invalid bytes replaced by U+FFFD");
    }
  }
  if (error != simdjson::SUCCESS) return std::string(simdjson::error_message(error));
  return std::nullopt;
}

std::string ApiError::ToString() const {
  std::string out = code.empty() ? std::string("error") : code;
  if (!message.empty()) out += ": " + message;
  if (!field.empty()) out += " (" + field + ")";
  return out;
}

std::vector<ApiError> ApiErrors(dom::element root) {
  std::vector<ApiError> errors;
  dom::element list_value;
  dom::array list;
  if (root.at_pointer("/json/errors").get(list_value) != simdjson::SUCCESS ||
      list_value.get_array().get(list) != simdjson::SUCCESS) {
    return errors;
  }
  for (dom::element entry : list) {
    ApiError error;
    dom::array parts;
    if (entry.get_array().get(parts) == simdjson::SUCCESS) {
      size_t index = 0;
      for (dom::element part : parts) {
        std::string_view text;
        if (part.get_string().get(text) != simdjson::SUCCESS) text = {};
        if (index == 0) error.code = Excerpt(text, 40);
        if (index == 1) error.message = Excerpt(text, 200);
        if (index == 2) error.field = Excerpt(text, 40);
        ++index;
      }
    } else {
      error.message = "unreadable error entry (" + std::string(TypeName(entry.type())) + ")";
    }
    errors.push_back(std::move(error));
    if (errors.size() >= 5) break;
  }
  return errors;
}

std::string ErrorDetail(std::string_view body) {
  const std::string_view trimmed = TrimAsciiSpace(body);
  if (trimmed.empty()) return {};
  JsonDocument doc;
  if (ParseJson(trimmed, &doc, nullptr)) {
    // Not JSON: Reddit's HTML error pages say nothing a log line needs.
    if (trimmed.front() == '<') return {};
    return Excerpt(trimmed, 200);
  }
  std::string detail;
  for (const ApiError& error : ApiErrors(doc.root)) {
    if (!detail.empty()) detail += "; ";
    detail += error.ToString();
  }
  dom::object object;
  if (detail.empty() && doc.root.get_object().get(object) == simdjson::SUCCESS) {
    std::vector<std::string> parts;
    for (std::string_view key :
         {"message", "error_description", "error", "reason", "explanation"}) {
      dom::element value;
      std::string_view text;
      if (object.at_key(key).get(value) != simdjson::SUCCESS ||
          value.get_string().get(text) != simdjson::SUCCESS || TrimAsciiSpace(text).empty()) {
        continue;
      }
      std::string part = Excerpt(text, 150);
      if (std::find(parts.begin(), parts.end(), part) == parts.end()) parts.push_back(part);
    }
    for (const std::string& part : parts) {
      if (!detail.empty()) detail += ": ";
      detail += part;
    }
  }
  return Excerpt(detail, 300);
}

std::string Excerpt(std::string_view text, size_t max_bytes) {
  std::string clean = RepairUtf8(text);
  for (char& c : clean) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) c = ' ';
  }
  if (clean.size() <= max_bytes) return clean;
  size_t cut = max_bytes;
  // Back up to the start of a UTF-8 sequence.
  while (cut > 0 && (static_cast<unsigned char>(clean[cut]) & 0xC0) == 0x80) --cut;
  clean.resize(cut);
  clean += "…";
  return clean;
}

Result<std::string> ApiBase(const SourceSpec& source) {
  std::string base(TrimAsciiSpace(source.url));
  if (base.empty()) base = std::string(kDefaultApiBase);
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (base.find_first_of("?#") != std::string::npos || !UrlHost(base).ok() ||
      !(base.starts_with("https://") || base.starts_with("http://"))) {
    return Status::InvalidArgument("source \"" + source.name + "\" (reddit): `url` \"" +
                                   Excerpt(base, 100) +
                                   "\" is not an API base URL like https://oauth.reddit.com");
  }
  return base;
}

Result<std::string> UserAgent(const SourceSpec& source) {
  std::string agent(TrimAsciiSpace(source.GetString("user_agent")));
  if (agent.empty()) return DefaultUserAgent(TrimAsciiSpace(source.GetString("username")));
  if (std::any_of(agent.begin(), agent.end(), [](char c) {
        const auto byte = static_cast<unsigned char>(c);
        return byte < 0x20 || byte == 0x7f;
      })) {
    return Status::InvalidArgument("source \"" + source.name +
                                   "\" (reddit): `user_agent` holds a control character");
  }
  return agent;
}

void AppendParam(std::string* out, std::string_view name, std::string_view value) {
  if (!out->empty() && out->back() != '?') out->push_back('&');
  out->append(name);
  out->push_back('=');
  out->append(UrlEncode(value));
}

std::string PermalinkUrl(std::string_view permalink) {
  permalink = TrimAsciiSpace(permalink);
  for (std::string_view host : {"https://www.reddit.com/", "https://old.reddit.com/",
                                "https://reddit.com/", "https://new.reddit.com/"}) {
    if (permalink.starts_with(host)) {
      permalink.remove_prefix(host.size() - 1);
      break;
    }
  }
  // Only a path: "//host/..." would be another host once joined.
  if (!permalink.starts_with('/') || permalink.starts_with("//")) return {};
  permalink = permalink.substr(0, permalink.find_first_of("?#"));
  if (permalink.size() > 2048) return {};
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string url(kWebBase);
  for (char c : permalink) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7f ||
        std::string_view("\"<>\\^`{|}").find(c) != std::string_view::npos) {
      url += '%';
      url += kHex[byte >> 4];
      url += kHex[byte & 0x0F];
    } else {
      url += c;
    }
  }
  return url;
}

std::string FallbackUrl(std::string_view link_fullname, std::string_view comment_fullname) {
  if (!IsFullname(link_fullname)) return {};
  std::string url = std::string(kWebBase) + "/comments/" + std::string(Id36Of(link_fullname)) + "/";
  if (IsFullname(comment_fullname)) url += "_/" + std::string(Id36Of(comment_fullname)) + "/";
  return url;
}

std::string_view Id36Of(std::string_view fullname) {
  const size_t underscore = fullname.find('_');
  return underscore == std::string_view::npos ? fullname : fullname.substr(underscore + 1);
}

bool LegacyEscapedUrl(std::string_view url) {
  if (url.empty() || !IsRedditHost(url)) return false;
  return QueryParam(url, "raw_json") != "1";
}

void ReadThings(dom::array children, const ReadOptions& options, std::vector<Thing>* out) {
  // Depth first without recursion: a hostile body nests replies as deep as
  // the JSON parser allows.
  struct Frame {
    dom::array::iterator next;
    dom::array::iterator end;
  };
  std::vector<Frame> stack;
  stack.push_back({children.begin(), children.end()});
  while (!stack.empty()) {
    if (stack.back().next == stack.back().end) {
      stack.pop_back();
      continue;
    }
    dom::element element = *stack.back().next;
    ++stack.back().next;
    const bool top_level = stack.size() == 1;
    std::optional<dom::array> replies;
    out->push_back(ReadThing(element, options, top_level, &replies));
    if (replies) stack.push_back({replies->begin(), replies->end()});
  }
}

std::optional<std::string> ReadListing(dom::element element, ListingData* out) {
  dom::object object;
  if (element.get_object().get(object) != simdjson::SUCCESS) {
    return "is a JSON " + std::string(TypeName(element.type())) + ", expected a Listing object";
  }
  dom::element kind_value;
  std::string_view kind;
  if (object.at_key("kind").get(kind_value) == simdjson::SUCCESS &&
      (kind_value.get_string().get(kind) != simdjson::SUCCESS || kind != "Listing")) {
    return "kind is \"" + Excerpt(kind, 20) + "\", expected \"Listing\"";
  }
  dom::element data_value;
  dom::object data;
  if (object.at_key("data").get(data_value) != simdjson::SUCCESS ||
      data_value.get_object().get(data) != simdjson::SUCCESS) {
    return std::string("Listing without a 'data' object");
  }
  dom::element children;
  if (data.at_key("children").get(children) != simdjson::SUCCESS) {
    return std::string("Listing without 'data.children'");
  }
  if (children.get_array().get(out->children) != simdjson::SUCCESS) {
    return "'data.children' is " + std::string(TypeName(children.type())) + ", expected array";
  }
  dom::element after;
  if (data.at_key("after").get(after) == simdjson::SUCCESS && !after.is_null()) {
    std::string_view text;
    if (after.get_string().get(text) != simdjson::SUCCESS) {
      out->warnings.push_back("'data.after' is " + std::string(TypeName(after.type())) +
                              "; treated as the last page");
    } else if (!IsFullname(text)) {
      out->warnings.push_back("'data.after' \"" + Excerpt(text, 30) +
                              "\" is not a fullname; treated as the last page");
    } else {
      out->after = std::string(text);
    }
  }
  return std::nullopt;
}

}  // namespace internal

// ---- Public helpers ----

bool IsId36(std::string_view text) {
  if (text.empty() || text.size() > 13) return false;
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'); });
}

bool IsFullname(std::string_view text) {
  return text.size() >= 4 && text[0] == 't' && text[1] >= '1' && text[1] <= '6' && text[2] == '_' &&
         IsId36(text.substr(3));
}

int CompareIds(std::string_view a, std::string_view b) {
  if (IsFullname(a)) a = internal::Id36Of(a);
  if (IsFullname(b)) b = internal::Id36Of(b);
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  const int order = a.compare(b);
  return order < 0 ? -1 : (order > 0 ? 1 : 0);
}

std::string DefaultUserAgent(std::string_view username) {
  std::string agent =
      "server:earshot:0.1 (NHS social-media listening; +https://github.com/earshot-nhs/earshot";
  username = TrimAsciiSpace(username);
  if (internal::IsUsername(username)) agent += "; by /u/" + std::string(username);
  agent += ")";
  return agent;
}

}  // namespace earshot::connector_reddit
