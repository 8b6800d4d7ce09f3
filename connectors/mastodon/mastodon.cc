#include "connectors/mastodon/mastodon.h"
#include "crawler/core/strings.h"

#include <simdjson.h>

#include <charconv>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crawler/core/text.h"
#include "crawler/core/time_format.h"
#include "crawler/core/url.h"

namespace earshot::connector_mastodon {

namespace {

namespace dom = simdjson::dom;

constexpr std::string_view kPlatform = "mastodon";
constexpr int64_t kMaxLimit = 40;  // Mastodon caps timelines and search at 40
// Longer than any id scheme in use (snowflake 18-19 digits, ULID 26); bounds
// what a misbehaving server can push into our cursor and URLs.
constexpr size_t kMaxIdLength = 32;

bool IsPlausibleId(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength) return false;
  for (char c : id) {
    bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alnum) return false;
  }
  return true;
}

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

// The instance a response came from, for qualifying local handles.
std::string InstanceHost(const SourceSpec& source, const HttpResponse& response) {
  for (std::string_view url : {std::string_view(source.url), std::string_view(response.url)}) {
    if (url.empty()) continue;
    auto host = UrlHost(url);
    if (host.ok() && !host->empty()) return *host;
  }
  return {};
}

// The instance whose ids a response carries: the source's, else the
// response's own (for `earshot parse --url`).
std::string SourceInstance(const SourceSpec& source, const HttpResponse& response) {
  std::string base = InstanceBase(source.url);
  return base.empty() ? InstanceBase(response.url) : base;
}

// Reads the fields of one Status entity. The first problem found is kept in
// `error` and makes the item unreadable; optional fields may be absent or
// null but never of another type (a wrong type means we misread the entity).
class StatusReader {
 public:
  explicit StatusReader(dom::object object) : object_(object) {}

  // Absent or null: nullopt.
  std::optional<std::string> OptionalString(std::string_view key) {
    dom::element value;
    if (object_.at_key(key).get(value) != simdjson::SUCCESS) return std::nullopt;
    if (value.is_null()) return std::nullopt;
    std::string_view text;
    if (value.get_string().get(text) != simdjson::SUCCESS) {
      Fail(key, value.type(), "string");
      return std::nullopt;
    }
    return std::string(text);
  }

  std::string RequiredString(std::string_view key) {
    dom::element value;
    if (object_.at_key(key).get(value) != simdjson::SUCCESS) {
      Fail(std::string("'") + std::string(key) + "' is missing");
      return {};
    }
    std::string_view text;
    if (value.get_string().get(text) != simdjson::SUCCESS) {
      Fail(key, value.type(), "string");
      return {};
    }
    return std::string(text);
  }

  // Absent or null: false, `*out` untouched.
  bool OptionalObject(std::string_view key, dom::object* out) {
    dom::element value;
    if (object_.at_key(key).get(value) != simdjson::SUCCESS) return false;
    if (value.is_null()) return false;
    if (value.get_object().get(*out) != simdjson::SUCCESS) {
      Fail(key, value.type(), "object");
      return false;
    }
    return true;
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

enum class ItemKind { kPost, kBad, kNotPublic };

struct Item {
  ItemKind kind = ItemKind::kBad;
  Post post;
  std::string problem;  // for kBad and kNotPublic
};

// One Status entity (never a reblog wrapper) into a Post.
Item ReadStatus(dom::object object, std::string_view instance_host) {
  Item item;
  StatusReader reader(object);
  Post& post = item.post;
  post.platform = std::string(kPlatform);
  post.id = reader.RequiredString("id");
  if (reader.error().empty() && !IsPlausibleId(post.id)) {
    reader.Fail("'id' \"" + post.id.substr(0, kMaxIdLength) + "\" is not a status id");
  }
  std::string content = reader.RequiredString("content");
  std::string visibility = reader.RequiredString("visibility");
  std::string created_at = reader.RequiredString("created_at");
  std::string uri = reader.OptionalString("uri").value_or("");
  std::string url = reader.OptionalString("url").value_or("");
  std::string spoiler = reader.OptionalString("spoiler_text").value_or("");
  post.language = reader.OptionalString("language").value_or("");
  post.reply_to = reader.OptionalString("in_reply_to_id").value_or("");
  if (!post.reply_to.empty() && !IsPlausibleId(post.reply_to)) {
    reader.Fail("'in_reply_to_id' is not a status id");
  }
  std::string acct;
  std::string display_name;
  std::string account_url;
  dom::object account;
  if (reader.OptionalObject("account", &account)) {
    StatusReader account_reader(account);
    acct = account_reader.RequiredString("acct");
    display_name = account_reader.OptionalString("display_name").value_or("");
    account_url = account_reader.OptionalString("url").value_or("");
    if (!account_reader.error().empty()) reader.Fail("account: " + account_reader.error());
  } else {
    reader.Fail("'account' is missing");
  }
  if (reader.error().empty() && TrimAsciiSpace(acct).empty())
    reader.Fail("'account.acct' is empty");
  if (reader.error().empty()) {
    auto time = ParseIso8601(created_at);
    if (time.ok()) {
      post.created_at = *time;
    } else {
      reader.Fail("'created_at' \"" + created_at.substr(0, 40) + "\": " + time.status().message());
    }
  }
  if (!reader.error().empty()) {
    item.problem = reader.error();
    return item;
  }
  if (visibility != "public" && visibility != "unlisted") {
    item.kind = ItemKind::kNotPublic;
    item.problem = "visibility \"" + visibility.substr(0, 20) + "\" is not public; skipped";
    return item;
  }

  post.uid = uri;
  post.url = !url.empty() ? url : uri;
  std::string host(instance_host);
  if (host.empty() && !account_url.empty()) {
    // A local account's profile lives on the instance that served it.
    auto account_host = UrlHost(account_url);
    if (account_host.ok()) host = *account_host;
  }
  post.author_handle = QualifiedHandle(TrimAsciiSpace(acct), host);
  post.author_name = NormalizeText(display_name);
  post.title = NormalizeText(spoiler);  // spoiler_text is plain text, not HTML
  post.text = HtmlToText(content);
  // The REST Status has no thread root: a reply names its parent as its
  // provisional conversation and the threader walks reply_to up to the root.
  post.conversation = post.reply_to;
  item.kind = ItemKind::kPost;
  return item;
}

// One element of a timeline or search array: a Status, or a reblog wrapper
// whose `reblog` replaces it. `outer_id` receives the wrapper's id (what the
// server paginates by) whenever it is readable, even if the item is not.
Item ReadItem(dom::element element, std::string_view instance_host, std::string* outer_id) {
  dom::object object;
  if (element.get_object().get(object) != simdjson::SUCCESS) {
    Item bad;
    bad.problem = "is " + std::string(TypeName(element.type())) + ", expected a status object";
    return bad;
  }
  std::string_view id;
  dom::element id_value;
  if (object.at_key("id").get(id_value) == simdjson::SUCCESS &&
      id_value.get_string().get(id) == simdjson::SUCCESS && IsPlausibleId(id)) {
    *outer_id = std::string(id);
  }
  dom::element reblog;
  if (object.at_key("reblog").get(reblog) == simdjson::SUCCESS && !reblog.is_null()) {
    dom::object inner;
    Item item;
    if (reblog.get_object().get(inner) != simdjson::SUCCESS) {
      item.problem = "'reblog' is " + std::string(TypeName(reblog.type())) + ", expected object";
      return item;
    }
    dom::element nested;
    if (inner.at_key("reblog").get(nested) == simdjson::SUCCESS && !nested.is_null()) {
      item.problem = "reblog of a reblog";
      return item;
    }
    item = ReadStatus(inner, instance_host);
    if (item.kind != ItemKind::kPost) item.problem = "reblog: " + item.problem;
    return item;
  }
  return ReadStatus(object, instance_host);
}

std::string JoinedHeader(const Headers& headers, std::string_view name) {
  std::string joined;
  for (std::string_view value : headers.GetAll(name)) {
    if (!joined.empty()) joined += ", ";
    joined += value;
  }
  return joined;
}

std::optional<int64_t> ParseCount(std::optional<std::string_view> value) {
  if (!value) return std::nullopt;
  std::string_view text = TrimAsciiSpace(*value);
  int64_t number = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc() || end != text.data() + text.size() || number < 0) {
    return std::nullopt;
  }
  return number;
}

Status BodyError(const HttpResponse& response, std::string_view what) {
  return Status::ParseError("mastodon response from " +
                            (response.url.empty() ? std::string("<unknown URL>") : response.url) +
                            ": " + std::string(what));
}

// Parses a response body, repairing invalid UTF-8 once (with a warning)
// rather than losing the page. `storage` keeps the repaired copy alive for
// as long as the returned element is used.
Result<dom::element> ParseJsonBody(dom::parser& parser, const HttpResponse& response,
                                   std::string& storage, std::vector<std::string>& warnings) {
  dom::element root;
  auto error = parser.parse(response.body.data(), response.body.size()).get(root);
  if (error == simdjson::UTF8_ERROR) {
    storage = RepairUtf8(response.body);
    error = parser.parse(storage.data(), storage.size()).get(root);
    if (error == simdjson::SUCCESS) {
      warnings.push_back("body is not valid UTF-8; invalid bytes replaced by U+FFFD");
    }
  }
  if (error != simdjson::SUCCESS) {
    return BodyError(response, std::string("invalid JSON: ") + simdjson::error_message(error));
  }
  return root;
}

// Untrusted text from a platform, fit for one log line: valid UTF-8, no
// control characters, at most 300 bytes.
std::string OneLine(std::string_view text) {
  std::string clean = RepairUtf8(text);
  for (char& c : clean) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  std::string_view trimmed = TrimAsciiSpace(clean);
  if (trimmed.size() <= 300) return std::string(trimmed);
  size_t cut = 300;
  while (cut > 0 && (static_cast<unsigned char>(trimmed[cut]) & 0xC0) == 0x80) --cut;
  return std::string(trimmed.substr(0, cut)) + "...";
}

// The platform's own explanation of a failure: Mastodon's error entity
// ({"error": "...", "error_description": "..."}), else a short plain-text
// body; empty for anything else (an HTML error page says nothing useful).
std::string PlatformMessage(const HttpResponse& response) {
  dom::parser parser;
  dom::element root;
  std::string_view body = TrimAsciiSpace(response.body);
  if (!body.empty() && body.front() == '{' &&
      parser.parse(body.data(), body.size()).get(root) == simdjson::SUCCESS) {
    std::string_view error;
    std::string_view description;
    if (root["error"].get_string().get(error) != simdjson::SUCCESS) error = {};
    if (root["error_description"].get_string().get(description) != simdjson::SUCCESS) {
      description = {};
    }
    std::string message = OneLine(error);
    std::string detail = OneLine(description);
    if (!detail.empty() && detail != message) {
      message += message.empty() ? detail : " (" + detail + ")";
    }
    return message;
  }
  auto type = response.headers.Get("Content-Type");
  if (type && ParseContentType(*type).media_type == "text/plain" && body.size() <= 300) {
    return OneLine(body);
  }
  return {};
}

// The error for a non-2xx answer: the shared HTTP mapping plus the
// platform's message and, for 429, when the limit resets.
Status HttpError(const HttpResponse& response, std::string_view where) {
  std::string detail = PlatformMessage(response);
  if (response.status == 429) {
    RateLimitInfo limits = ReadRateLimit(response);
    if (limits.reset) {
      detail += (detail.empty() ? "" : "; ") + std::string("limit resets at ") +
                FormatRfc3339(*limits.reset);
    }
  }
  return StatusFromHttp(response.status, where, detail);
}

// The token a read request carries: `token`, else `access_token`.
std::string ReadToken(const SourceSpec& source) {
  std::string token(TrimAsciiSpace(source.GetString("token")));
  if (token.empty()) token = std::string(TrimAsciiSpace(source.GetString("access_token")));
  return token;
}

bool IsHttpBase(std::string_view base) {
  return !base.empty() && (base.starts_with("https://") || base.starts_with("http://")) &&
         UrlHost(base).ok();
}

// True when `value` can go into a header field as is.
bool IsHeaderSafe(std::string_view value) {
  for (char c : value) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return true;
}

size_t CodePoints(std::string_view utf8) {
  size_t count = 0;
  for (char c : utf8) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++count;
  }
  return count;
}

}  // namespace

int CompareStatusIds(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  int order = a.compare(b);
  return order < 0 ? -1 : (order > 0 ? 1 : 0);
}

std::string PrevLinkCursor(const Headers& headers, std::string_view base_url) {
  std::string value = JoinedHeader(headers, "Link");
  if (value.empty()) return {};
  std::string link = FindLink(ParseLinkHeader(value), "prev");
  if (link.empty()) return {};
  // QueryParam wants an absolute URL; any base will do for reading a query.
  auto absolute =
      ResolveUrl(base_url.empty() ? std::string_view("http://instance.invalid/") : base_url, link);
  if (!absolute.ok()) return {};
  std::string cursor = QueryParam(*absolute, "min_id");
  if (cursor.empty()) cursor = QueryParam(*absolute, "since_id");
  return IsPlausibleId(cursor) ? cursor : std::string();
}

std::string QualifiedHandle(std::string_view acct, std::string_view instance_host) {
  while (!acct.empty() && acct.front() == '@') acct.remove_prefix(1);
  std::string handle = "@" + std::string(acct);
  if (acct.find('@') == std::string_view::npos && !instance_host.empty()) {
    handle += "@";
    handle += instance_host;
  }
  return handle;
}

Result<HttpRequest> NextRequest(const SourceSpec& source, const SourceCursor& cursor) {
  auto invalid = [&](std::string why) {
    return Status::InvalidArgument("source \"" + source.name + "\" (mastodon): " + why);
  };
  std::string base(TrimAsciiSpace(source.url));
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (base.empty()) {
    return invalid("`url` must be the instance's base URL, e.g. https://mastodon.social");
  }
  if (base.find_first_of("?#") != std::string::npos || !UrlHost(base).ok() ||
      !(base.starts_with("https://") || base.starts_with("http://"))) {
    return invalid("`url` \"" + base +
                   "\" is not an instance base URL like https://mastodon.social");
  }

  const std::string tag_option = source.GetString("tag");
  std::string_view tag = TrimAsciiSpace(tag_option);
  const bool tag_set = !tag.empty();
  while (!tag.empty() && tag.front() == '#') tag.remove_prefix(1);
  std::string query(TrimAsciiSpace(source.GetString("query")));
  const std::string token = ReadToken(source);
  if (tag_set == !query.empty()) {
    return invalid(tag_set ? "set either `tag` or `query`, not both"
                           : "set `tag` (hashtag timeline) or `query` (status search)");
  }
  if (tag_set && tag.empty()) return invalid("`tag` is empty once its '#' is removed");
  if (!query.empty() && token.empty()) {
    return invalid(
        "`query` (status search) needs `token` (or `access_token`), e.g. token = "
        "\"${MASTODON_TOKEN}\"");
  }
  const int64_t limit = source.GetInt("limit", kMaxLimit);
  if (limit < 1 || limit > kMaxLimit) {
    return invalid("`limit` must be between 1 and 40, not " + std::to_string(limit));
  }
  const bool local = source.GetBool("local", false);
  const bool only_media = source.GetBool("only_media", false);
  if (!query.empty() && (local || only_media)) {
    return invalid("`local` and `only_media` apply to hashtag timelines, not to `query`");
  }

  HttpRequest request;
  if (tag_set) {
    request.url =
        base + "/api/v1/timelines/tag/" + UrlEncode(tag) + "?limit=" + std::to_string(limit);
    if (local) request.url += "&local=true";
    if (only_media) request.url += "&only_media=true";
  } else {
    request.url = base + "/api/v2/search?q=" + UrlEncode(query) +
                  "&type=statuses&resolve=false&limit=" + std::to_string(limit);
  }
  // min_id (not since_id): the statuses immediately newer than the cursor,
  // oldest first in page terms, so consecutive pages leave no gap.
  if (!cursor.cursor.empty()) request.url += "&min_id=" + UrlEncode(cursor.cursor);
  request.headers.Add("Accept", "application/json");
  if (!token.empty()) request.headers.Add("Authorization", "Bearer " + token);
  return request;
}

RateLimitInfo ReadRateLimit(const HttpResponse& response) {
  RateLimitInfo info;
  info.limit = ParseCount(response.headers.Get("X-RateLimit-Limit"));
  info.remaining = ParseCount(response.headers.Get("X-RateLimit-Remaining"));
  if (auto reset = response.headers.Get("X-RateLimit-Reset")) {
    // Mastodon writes an ISO 8601 time; GoToSocial, same header names, Unix
    // seconds. Both are absolute, so neither needs the Date header.
    auto time = ParseIso8601(TrimAsciiSpace(*reset));
    if (time.ok()) {
      info.reset = *time;
    } else if (auto seconds = ParseCount(reset)) {
      info.reset = FromUnixSeconds(*seconds);
    }
  }
  return info;
}

Result<Page> Parse(const SourceSpec& source, const SourceCursor& cursor,
                   const HttpResponse& response) {
  Page page;
  page.rate_limit = ReadRateLimit(response);

  dom::parser parser;
  std::string repaired;
  // One bad byte must not stall the source on this page forever.
  auto parsed = ParseJsonBody(parser, response, repaired, page.warnings);
  if (!parsed.ok()) return parsed.status();
  dom::element root = *parsed;

  dom::array items;
  bool single_status = false;
  dom::object object;
  if (root.get_array().get(items) == simdjson::SUCCESS) {
    // A timeline.
  } else if (root.get_object().get(object) == simdjson::SUCCESS) {
    dom::element statuses;
    dom::element probe;
    if (object.at_key("statuses").get(statuses) == simdjson::SUCCESS) {
      if (statuses.get_array().get(items) != simdjson::SUCCESS) {
        return BodyError(response, "search result 'statuses' is " +
                                       std::string(TypeName(statuses.type())) + ", expected array");
      }
    } else if (object.at_key("id").get(probe) == simdjson::SUCCESS &&
               object.at_key("content").get(probe) == simdjson::SUCCESS) {
      single_status = true;
    } else if (object.at_key("error").get(probe) == simdjson::SUCCESS) {
      std::string_view message;
      if (probe.get_string().get(message) != simdjson::SUCCESS) message = "(not a string)";
      return BodyError(response, "server error: " + std::string(message.substr(0, 200)));
    } else {
      return BodyError(response,
                       "object is neither a search result nor a status (no 'statuses', "
                       "no 'id' and 'content')");
    }
  } else {
    return BodyError(response, "body is a JSON " + std::string(TypeName(root.type())) +
                                   ", expected an array of statuses or an object");
  }

  const std::string instance_host = InstanceHost(source, response);
  const std::string instance = SourceInstance(source, response);
  std::string newest = cursor.cursor;
  std::set<std::string> seen;
  size_t count = 0;
  auto take = [&](dom::element element, size_t index) {
    std::string outer_id;
    Item item = ReadItem(element, instance_host, &outer_id);
    if (!outer_id.empty() && CompareStatusIds(outer_id, newest) > 0) newest = outer_id;
    const std::string label = "item " + std::to_string(index) +
                              (outer_id.empty() ? std::string() : " (status " + outer_id + ")");
    switch (item.kind) {
      case ItemKind::kPost:
        // Two boosts of one status in a page are one post.
        if (seen.insert(item.post.id).second) {
          item.post.ref = instance;
          page.posts.push_back(std::move(item.post));
        }
        break;
      case ItemKind::kNotPublic:
      case ItemKind::kBad:
        ++page.skipped_items;
        page.warnings.push_back(label + ": " + item.problem);
        break;
    }
  };
  if (single_status) {
    take(root, 0);
    // A lone status is not a page of a timeline: the cursor stays.
    return page;
  }
  for (dom::element element : items) take(element, count++);

  std::string from_link = PrevLinkCursor(response.headers, response.url);
  if (!from_link.empty() && CompareStatusIds(from_link, newest) > 0) newest = from_link;
  // Never move backwards: an older cursor would fetch pages already stored.
  if (CompareStatusIds(newest, cursor.cursor) > 0) page.next_cursor = newest;
  const int64_t limit = source.GetInt("limit", kMaxLimit);
  page.caught_up = cursor.cursor.empty() || static_cast<int64_t>(count) < limit;
  return page;
}

std::string InstanceBase(std::string_view url) {
  std::string_view text = TrimAsciiSpace(url);
  const size_t scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return {};
  std::string scheme = AsciiLower(text.substr(0, scheme_end));
  if (scheme != "https" && scheme != "http") return {};
  std::string_view rest = text.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find_first_of("?#"));
  const size_t slash = rest.find('/');
  std::string authority = AsciiLower(rest.substr(0, slash));
  if (authority.empty() || authority.find('@') != std::string::npos) return {};
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  if (const size_t api = path.find("/api/"); api != std::string_view::npos) {
    path = path.substr(0, api);
  } else if (path.ends_with("/api")) {
    path.remove_suffix(4);
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  std::string base = scheme + "://" + authority + std::string(path);
  return UrlHost(base).ok() ? base : std::string();
}

Result<HttpRequest> ConversationRequest(const SourceSpec& source, const Post& post,
                                        std::string_view /*cursor*/) {
  const std::string source_base = InstanceBase(source.url);
  const std::string base = post.ref.empty() ? source_base : InstanceBase(post.ref);
  if (!IsHttpBase(base)) {
    return Status::InvalidArgument("source \"" + source.name + "\" (mastodon): status " +
                                   post.id.substr(0, kMaxIdLength) +
                                   " names no instance to fetch its conversation from");
  }
  if (!IsPlausibleId(post.id)) {
    return Status::InvalidArgument("source \"" + source.name + "\" (mastodon): \"" +
                                   post.id.substr(0, kMaxIdLength) + "\" is not a status id");
  }
  HttpRequest request;
  // The context has no pages: one answer holds every ancestor and
  // descendant the instance will show, so the cursor is never used.
  request.url = base + "/api/v1/statuses/" + post.id + "/context";
  request.headers.Add("Accept", "application/json");
  // A token is only ever sent to the instance that issued it.
  const std::string token = ReadToken(source);
  if (!token.empty() && base == source_base) {
    request.headers.Add("Authorization", "Bearer " + token);
  }
  return request;
}

Result<Page> ParseConversation(const SourceSpec& source, const Post& post,
                               const HttpResponse& response) {
  const std::string where = "mastodon context of status " + post.id.substr(0, kMaxIdLength) +
                            " from " +
                            (response.url.empty() ? std::string("<unknown URL>") : response.url);
  Page page;
  page.rate_limit = ReadRateLimit(response);
  if (response.status == 404 || response.status == 410) {
    page.deletions.push_back(
        {.uid = post.uid.empty() ? post.id : post.uid,
         .reason = "not found on re-fetch (HTTP " + std::to_string(response.status) + ")"});
    return page;
  }
  if (response.status < 200 || response.status > 299) return HttpError(response, where);

  dom::parser parser;
  std::string repaired;
  auto parsed = ParseJsonBody(parser, response, repaired, page.warnings);
  if (!parsed.ok()) return parsed.status();
  dom::object object;
  if (parsed->get_object().get(object) != simdjson::SUCCESS) {
    return BodyError(response, "context is a JSON " + std::string(TypeName(parsed->type())) +
                                   ", expected an object with 'ancestors' and 'descendants'");
  }
  dom::array ancestors;
  dom::array descendants;
  for (auto [key, out] : {std::pair<std::string_view, dom::array*>{"ancestors", &ancestors},
                          {"descendants", &descendants}}) {
    dom::element value;
    if (object.at_key(key).get(value) != simdjson::SUCCESS) {
      return BodyError(response, "context has no '" + std::string(key) + "'");
    }
    if (value.get_array().get(*out) != simdjson::SUCCESS) {
      return BodyError(response, "context '" + std::string(key) + "' is " +
                                     std::string(TypeName(value.type())) + ", expected array");
    }
  }

  std::string instance = post.ref.empty() ? InstanceBase(source.url) : InstanceBase(post.ref);
  if (instance.empty()) instance = InstanceBase(response.url);
  std::string host;
  if (auto h = UrlHost(instance); h.ok()) host = *h;
  std::set<std::string> seen = {post.id};
  // Ancestors come root first: a first ancestor that answers nothing is the
  // root. Without a token Mastodon stops at 40 ancestors, so a deeper
  // thread's root may be out of reach; its posts then keep their
  // provisional conversation.
  std::string root;
  bool first_ancestor = true;
  auto take = [&](dom::element element, std::string_view list, size_t index) {
    std::string outer_id;
    Item item = ReadItem(element, host, &outer_id);
    if (item.kind != ItemKind::kPost) {
      ++page.skipped_items;
      page.warnings.push_back(std::string(list) + " item " + std::to_string(index) +
                              (outer_id.empty() ? std::string() : " (status " + outer_id + ")") +
                              ": " + item.problem);
      return;
    }
    if (!seen.insert(item.post.id).second) return;
    item.post.ref = instance;
    page.posts.push_back(std::move(item.post));
  };
  size_t index = 0;
  for (dom::element element : ancestors) {
    const size_t before = page.posts.size();
    take(element, "ancestors", index++);
    if (first_ancestor) {
      first_ancestor = false;
      if (page.posts.size() > before && page.posts.back().reply_to.empty()) {
        root = page.posts.back().id;
      }
    }
  }
  if (index == 0 && post.reply_to.empty()) root = post.id;
  index = 0;
  for (dom::element element : descendants) take(element, "descendants", index++);
  if (!root.empty()) {
    for (Post& p : page.posts) p.conversation = p.id == root ? std::string() : root;
  }
  return page;
}

Result<HttpRequest> ReplyRequest(const SourceSpec& account, const AuthSession* /*session*/,
                                 const Post& target, const ReplyDraft& draft) {
  auto invalid = [&](const std::string& why) {
    return Status::InvalidArgument("account \"" + account.name + "\" (mastodon): " + why);
  };
  const std::string base = InstanceBase(account.url);
  if (!IsHttpBase(base)) {
    return invalid("`url` \"" + account.url +
                   "\" is not an instance base URL like https://mastodon.social");
  }
  const std::string token(TrimAsciiSpace(account.GetString("access_token")));
  if (token.empty()) {
    return invalid(
        "publishing needs `access_token` (a token with the write:statuses and read:search "
        "scopes), e.g. "
        "access_token = \"${TRUST_MASTODON_TOKEN}\"");
  }
  if (!IsHeaderSafe(token)) return invalid("`access_token` contains control characters");
  if (target.platform != kPlatform) {
    return invalid("cannot answer a " + target.platform.substr(0, 40) + " post");
  }
  if (!IsPlausibleId(target.id)) {
    return invalid("\"" + target.id.substr(0, kMaxIdLength) + "\" is not a status id");
  }
  // in_reply_to_id is an id on the account's instance. An id read elsewhere
  // names another status (or none) there, so it is never sent: the
  // publisher resolves such a target first (ResolveTarget).
  const std::string read_on = InstanceBase(target.ref);
  if (read_on.empty()) {
    return invalid("status " + target.id +
                   " carries no record of the instance it was read from (imported posts "
                   "have none), so its id cannot be trusted on " +
                   base + "; resolve it there first (ResolveTargetRequest)");
  }
  if (read_on != base) {
    return invalid("status " + target.id + " was read from " + read_on + " but the account is on " +
                   base + ": Mastodon status ids are local to an instance; resolve it on " + base +
                   " first (ResolveTargetRequest: GET /api/v2/search?resolve=true)");
  }
  std::string_view body = draft.body;
  if (TrimAsciiSpace(body).empty()) return invalid("the reply is empty");
  if (!IsValidUtf8(body)) return invalid("the reply is not valid UTF-8");
  if (CodePoints(body) > static_cast<size_t>(kMaxReplyLength)) {
    return invalid("the reply has " + std::to_string(CodePoints(body)) +
                   " characters; Mastodon takes " + std::to_string(kMaxReplyLength));
  }
  if (!IsHeaderSafe(draft.idempotency_key)) {
    return invalid("the idempotency key contains control characters");
  }
  HttpRequest request;
  request.method = "POST";
  request.url = base + "/api/v1/statuses";
  request.headers.Add("Accept", "application/json");
  request.headers.Add("Content-Type", "application/x-www-form-urlencoded");
  request.headers.Add("Authorization", "Bearer " + token);
  // Mastodon remembers the key for an hour and answers a repeat with the
  // status it already made, so a retry never posts twice.
  if (!draft.idempotency_key.empty()) {
    request.headers.Add("Idempotency-Key", draft.idempotency_key);
  }
  request.body =
      "status=" + UrlEncode(body) + "&in_reply_to_id=" + target.id + "&visibility=public";
  return request;
}

Result<PublishedReply> ParseReply(const SourceSpec& account, const Post& target,
                                  const HttpResponse& response) {
  const std::string where =
      "mastodon reply to status " + target.id.substr(0, kMaxIdLength) + " via " +
      (response.url.empty() ? InstanceBase(account.url) + "/api/v1/statuses" : response.url);
  if (response.status < 200 || response.status > 299) return HttpError(response, where);
  // The platform accepted something: every failure below means "may have
  // been published", and says so.
  auto unreadable = [&](const std::string& why) {
    return Status::ParseError(where + ": HTTP " + std::to_string(response.status) +
                              " but the answer is unreadable (" + why +
                              "); the reply may have been published: check the account "
                              "before publishing again");
  };
  dom::parser parser;
  dom::element root;
  auto error = parser.parse(response.body.data(), response.body.size()).get(root);
  if (error != simdjson::SUCCESS) {
    return unreadable(std::string("invalid JSON: ") + simdjson::error_message(error));
  }
  dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    return unreadable("a JSON " + std::string(TypeName(root.type())) + ", not a status");
  }
  StatusReader reader(object);
  PublishedReply reply;
  reply.id = reader.RequiredString("id");
  reply.uid = reader.RequiredString("uri");
  reply.url = reader.OptionalString("url").value_or("");
  const std::string answered = reader.OptionalString("in_reply_to_id").value_or("");
  if (!reader.error().empty()) return unreadable(reader.error());
  if (!IsPlausibleId(reply.id)) return unreadable("'id' is not a status id");
  if (reply.uid.empty()) return unreadable("'uri' is empty");
  if (reply.url.empty()) reply.url = reply.uid;
  if (answered != target.id) {
    // Mastodon answers a reused Idempotency-Key with the status made under
    // it before, whatever was asked this time.
    return Status::AlreadyExists(
        where + ": the platform answered with status " + reply.id + " (" + OneLine(reply.url) +
        "), which " +
        (answered.empty() ? std::string("answers no status")
                          : "answers status " + answered.substr(0, kMaxIdLength)) +
        ": the idempotency key was already used for another post; nothing new was published");
  }
  return reply;
}

Result<HttpRequest> ResolveStatusRequest(const SourceSpec& account, const Post& target) {
  auto invalid = [&](const std::string& why) {
    return Status::InvalidArgument("account \"" + account.name + "\" (mastodon): " + why);
  };
  const std::string base = InstanceBase(account.url);
  if (!IsHttpBase(base)) {
    return invalid("`url` \"" + account.url +
                   "\" is not an instance base URL like https://mastodon.social");
  }
  const std::string token(TrimAsciiSpace(account.GetString("access_token")));
  // Mastodon only fetches remote statuses (resolve=true) for signed-in users.
  if (token.empty()) {
    return invalid("finding status " + target.id.substr(0, kMaxIdLength) + " on " + base +
                   " needs `access_token`, e.g. access_token = \"${TRUST_MASTODON_TOKEN}\"");
  }
  if (!IsHeaderSafe(token)) return invalid("`access_token` contains control characters");
  const std::string& address = !target.uid.empty() ? target.uid : target.url;
  if (!(address.starts_with("https://") || address.starts_with("http://"))) {
    return invalid("status " + target.id.substr(0, kMaxIdLength) + " has no URI to find it by on " +
                   base);
  }
  HttpRequest request;
  request.url =
      base + "/api/v2/search?q=" + UrlEncode(address) + "&resolve=true&type=statuses&limit=1";
  request.headers.Add("Accept", "application/json");
  request.headers.Add("Authorization", "Bearer " + token);
  return request;
}

namespace {

// The search result that is `target`, as the account's instance knows it.
struct FoundStatus {
  std::string id;
  std::string in_reply_to_id;
};

Result<FoundStatus> FindResolvedStatus(const SourceSpec& account, const Post& target,
                                       const HttpResponse& response) {
  const std::string& address = !target.uid.empty() ? target.uid : target.url;
  const std::string base = InstanceBase(account.url);
  const std::string where = "mastodon search for " + OneLine(address) + " on " +
                            (base.empty() ? InstanceBase(response.url) : base);
  const std::string not_found =
      "the account's server could not find the post (it may be deleted, private, or on an "
      "instance the account's server does not reach)";
  if (response.status == 404 || response.status == 410) {
    // Mastodon answers 404 when the status it was asked to fetch is gone.
    const std::string message = PlatformMessage(response);
    return Status::NotFound(where + ": HTTP " + std::to_string(response.status) + ": " + not_found +
                            (message.empty() ? "" : " (" + message + ")"));
  }
  if (response.status == 403) {
    std::string message = PlatformMessage(response);
    message += std::string(message.empty() ? "" : "; ") +
               "finding posts read on another instance needs a token with the read:search scope";
    return StatusFromHttp(response.status, where, message);
  }
  if (response.status < 200 || response.status > 299) return HttpError(response, where);
  dom::parser parser;
  std::string repaired;
  std::vector<std::string> warnings;
  auto parsed = ParseJsonBody(parser, response, repaired, warnings);
  if (!parsed.ok()) return parsed.status();
  dom::array statuses;
  if ((*parsed)["statuses"].get_array().get(statuses) != simdjson::SUCCESS) {
    return BodyError(response, "search result has no 'statuses' array");
  }
  for (dom::element element : statuses) {
    std::string_view id;
    std::string_view uri;
    std::string_view url;
    if (element["id"].get_string().get(id) != simdjson::SUCCESS || !IsPlausibleId(id)) continue;
    if (element["uri"].get_string().get(uri) != simdjson::SUCCESS) uri = {};
    if (element["url"].get_string().get(url) != simdjson::SUCCESS) url = {};
    // Search may return other statuses that merely mention the address.
    const bool same = !target.uid.empty()
                          ? uri == target.uid
                          : !target.url.empty() && (uri == target.url || url == target.url);
    if (!same) continue;
    FoundStatus found;
    found.id = std::string(id);
    std::string_view parent;
    if (element["in_reply_to_id"].get_string().get(parent) == simdjson::SUCCESS &&
        IsPlausibleId(parent)) {
      found.in_reply_to_id = std::string(parent);
    }
    return found;
  }
  return Status::NotFound(where + ": " + not_found);
}

}  // namespace

Result<std::string> ParseResolvedStatusId(const SourceSpec& account, const Post& target,
                                          const HttpResponse& response) {
  auto found = FindResolvedStatus(account, target, response);
  if (!found.ok()) return found.status();
  return std::move(found->id);
}

Result<std::optional<HttpRequest>> ResolveTargetRequest(const SourceSpec& account,
                                                        const AuthSession* /*session*/,
                                                        const Post& target) {
  const std::string base = InstanceBase(account.url);
  if (IsHttpBase(base) && !target.ref.empty() && InstanceBase(target.ref) == base) {
    return std::optional<HttpRequest>();
  }
  auto request = ResolveStatusRequest(account, target);
  if (!request.ok()) return request.status();
  return std::optional<HttpRequest>(std::move(request).value());
}

Result<Post> ResolveTarget(const SourceSpec& account, const Post& target,
                           const HttpResponse& response) {
  auto found = FindResolvedStatus(account, target, response);
  if (!found.ok()) return found.status();
  Post resolved = target;
  resolved.id = std::move(found->id);
  resolved.ref = InstanceBase(account.url);
  resolved.reply_to = std::move(found->in_reply_to_id);
  resolved.conversation = resolved.reply_to;
  return resolved;
}

const ConnectorDescriptor& Descriptor() {
  static const ConversationCapability kConversation{
      .request = &ConversationRequest,
      .parse = &ParseConversation,
  };
  static const ReplyCapability kReply{
      .request = &ReplyRequest,
      .parse = &ParseReply,
      .max_length = kMaxReplyLength,
      .honours_idempotency_key = true,
      .resolve_request = &ResolveTargetRequest,
      .resolve_target = &ResolveTarget,
  };
  static const ConnectorDescriptor kDescriptor{
      .name = kPlatform,
      .summary =
          "Mastodon hashtag timelines and status search on any instance "
          "(`url` = instance base URL); threads and replies",
      .keys =
          {
              {.name = "tag",
               .type = ConfigKeySpec::Type::kString,
               .doc = "Hashtag to follow (leading '#' optional): GET "
                      "/api/v1/timelines/tag/:tag. Set exactly one of `tag` and `query`."},
              {.name = "query",
               .type = ConfigKeySpec::Type::kString,
               .doc = "Full-text status search: GET /api/v2/search?type=statuses. Needs "
                      "`token`; finds only posts the instance has indexed (opted-in or "
                      "interacted with)."},
              {.name = "token",
               .type = ConfigKeySpec::Type::kString,
               .secret = true,
               .doc = "Access token (read scope), sent as `Authorization: Bearer`; write "
                      "\"${MASTODON_TOKEN}\". Required by `query`, optional for `tag`."},
              {.name = "access_token",
               .type = ConfigKeySpec::Type::kString,
               .secret = true,
               .doc = "Access token of the organisation's own account (write:statuses "
                      "and read:search scopes: replies, and finding posts read on another "
                      "instance) for publishing replies from an [[account]]; write "
                      "\"${TRUST_MASTODON_TOKEN}\". Also used for reading when `token` "
                      "is not set."},
              {.name = "limit",
               .type = ConfigKeySpec::Type::kInteger,
               .default_value = "40",
               .doc = "Statuses per request, 1 to 40 (Mastodon's maximum)."},
              {.name = "local",
               .type = ConfigKeySpec::Type::kBoolean,
               .default_value = "false",
               .doc = "Hashtag timeline only: statuses from this instance's own accounts."},
              {.name = "only_media",
               .type = ConfigKeySpec::Type::kBoolean,
               .default_value = "false",
               .doc = "Hashtag timeline only: statuses with media attachments."},
          },
      .next_request = &NextRequest,
      .parse = &Parse,
      .read_rate_limit = &ReadRateLimit,
      .conversation = &kConversation,
      .reply = &kReply,
      .error_detail = &PlatformMessage,
  };
  return kDescriptor;
}

}  // namespace earshot::connector_mastodon
