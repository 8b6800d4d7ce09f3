#include "connectors/x/x.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "crawler/core/strings.h"
#include "crawler/core/text.h"
#include "crawler/core/time_format.h"
#include "crawler/core/url.h"

namespace earshot::connector_x {

namespace {

namespace dom = simdjson::dom;

constexpr std::string_view kPlatform = "x";
constexpr std::string_view kDefaultBase = "https://api.x.com";
constexpr std::string_view kSearchPath = "/2/tweets/search/recent";
constexpr int64_t kMinResults = 10;  // recent search refuses fewer
constexpr int64_t kMaxResults = 100;
constexpr size_t kMaxIdLength = 20;  // digits of the largest uint64
// next_tokens are ~45 lowercase alphanumerics; the bound keeps what a
// misbehaving server sends out of our cursor and URLs.
constexpr size_t kMaxTokenLength = 256;
// X usernames are at most 15 characters today; older accounts have a few
// more. Anything longer is not a username and never reaches a URL.
constexpr size_t kMaxUsernameLength = 50;
constexpr size_t kMaxUrlEntities = 100;
constexpr size_t kMaxExpandedUrlLength = 2048;
constexpr size_t kMaxErrorWarnings = 20;

// Fields asked of every search, so every page has what a Post needs.
constexpr std::string_view kTweetFields =
    "author_id,conversation_id,created_at,entities,in_reply_to_user_id,lang,note_tweet,"
    "referenced_tweets";
constexpr std::string_view kExpansions = "author_id,referenced_tweets.id";
constexpr std::string_view kUserFields = "name,username";

bool IsToken(std::string_view token) {
  if (token.empty() || token.size() > kMaxTokenLength) return false;
  return std::all_of(token.begin(), token.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           c == '-';
  });
}

bool IsUsername(std::string_view name) {
  if (name.empty() || name.size() > kMaxUsernameLength) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  });
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

// Cuts `text` to at most `max_bytes` without splitting a UTF-8 sequence.
std::string TruncateUtf8(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end)) + "...";
}

// A short, printable quotation of what a server sent, for messages.
std::string Quote(std::string_view text, size_t max_bytes = 40) {
  return "\"" + TruncateUtf8(NormalizeText(TruncateUtf8(text, max_bytes * 2)), max_bytes) + "\"";
}

// Reads the fields of one JSON object. The first problem found is kept in
// `error`; optional fields may be absent or null but never of another type
// (a wrong type means we misread the entity).
class ObjectReader {
 public:
  explicit ObjectReader(dom::object object) : object_(object) {}

  std::optional<std::string_view> OptionalString(std::string_view key) {
    dom::element value;
    if (object_.at_key(key).get(value) != simdjson::SUCCESS || value.is_null()) {
      return std::nullopt;
    }
    std::string_view text;
    if (value.get_string().get(text) != simdjson::SUCCESS) {
      Fail(key, value.type(), "string");
      return std::nullopt;
    }
    return text;
  }

  std::string_view RequiredString(std::string_view key) {
    dom::element value;
    if (object_.at_key(key).get(value) != simdjson::SUCCESS || value.is_null()) {
      Fail("'" + std::string(key) + "' is missing");
      return {};
    }
    std::string_view text;
    if (value.get_string().get(text) != simdjson::SUCCESS) {
      Fail(key, value.type(), "string");
      return {};
    }
    return text;
  }

  bool OptionalObject(std::string_view key, dom::object* out) {
    dom::element value;
    if (object_.at_key(key).get(value) != simdjson::SUCCESS || value.is_null()) return false;
    if (value.get_object().get(*out) != simdjson::SUCCESS) {
      Fail(key, value.type(), "object");
      return false;
    }
    return true;
  }

  bool OptionalArray(std::string_view key, dom::array* out) {
    dom::element value;
    if (object_.at_key(key).get(value) != simdjson::SUCCESS || value.is_null()) return false;
    if (value.get_array().get(*out) != simdjson::SUCCESS) {
      Fail(key, value.type(), "array");
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

// The string at `key` of `object`, or empty when absent or not a string.
std::string_view StringAt(dom::object object, std::string_view key) {
  std::string_view text;
  if (object.at_key(key).get_string().get(text) != simdjson::SUCCESS) return {};
  return text;
}

// Parses a response body, repairing what would otherwise lose the whole page
// for one bad character: invalid UTF-8 bytes (replaced by U+FFFD) and lone
// UTF-16 surrogate escapes (simdjson rejects them; X has sent them in
// truncated text). Each repair adds a warning.
simdjson::error_code ParseBody(dom::parser& parser, std::string_view body, std::string& storage,
                               dom::element& root, std::vector<std::string>& warnings) {
  std::string_view input = body;
  auto error = parser.parse(input.data(), input.size()).get(root);
  bool repaired_utf8 = false;
  int replaced_surrogates = 0;
  if (error == simdjson::UTF8_ERROR) {
    storage = RepairUtf8(input);
    input = storage;
    repaired_utf8 = true;
    error = parser.parse(input.data(), input.size()).get(root);
  }
  if (error == simdjson::STRING_ERROR) {
    std::string fixed = ReplaceLoneSurrogateEscapes(input, &replaced_surrogates);
    if (replaced_surrogates > 0) {
      storage = std::move(fixed);
      input = storage;
      error = parser.parse(input.data(), input.size()).get(root);
    }
  }
  if (error == simdjson::SUCCESS) {
    if (repaired_utf8) {
      warnings.push_back("body is not valid UTF-8; invalid bytes replaced by U+FFFD");
    }
    if (replaced_surrogates > 0) {
      warnings.push_back("body has " + std::to_string(replaced_surrogates) +
                         " lone UTF-16 surrogate escape(s); replaced by U+FFFD");
    }
  }
  return error;
}

std::string WhereFrom(const HttpResponse& response) {
  return response.url.empty() ? std::string("<unknown URL>") : response.url;
}

Status BodyError(const HttpResponse& response, std::string_view what) {
  return Status::ParseError("x response from " + WhereFrom(response) + ": " + std::string(what));
}

// BCP 47 or nothing: X tags undetermined text "und" and uses private codes
// for text without language (qme media links, qam mentions, qht hashtags,
// qst very short, zxx no text, art emoji only).
std::string Language(std::string_view lang) {
  lang = TrimAsciiSpace(lang);
  if (lang.empty() || lang == "und" || lang == "zxx" || lang == "art") return {};
  if (lang.size() == 3 && lang.front() == 'q') return {};
  if (lang.size() > 35) return {};
  return std::string(lang);
}

struct User {
  std::string username;
  std::string name;
};
using Users = std::unordered_map<std::string, User>;

Users ReadUsers(dom::object root, std::vector<std::string>& warnings) {
  Users users;
  dom::element includes_value;
  if (root.at_key("includes").get(includes_value) != simdjson::SUCCESS) return users;
  dom::object includes;
  if (includes_value.get_object().get(includes) != simdjson::SUCCESS) {
    warnings.push_back("'includes' is " + std::string(TypeName(includes_value.type())) +
                       ", expected object; authors unknown");
    return users;
  }
  dom::element users_value;
  if (includes.at_key("users").get(users_value) != simdjson::SUCCESS) return users;
  dom::array list;
  if (users_value.get_array().get(list) != simdjson::SUCCESS) {
    warnings.push_back("'includes.users' is " + std::string(TypeName(users_value.type())) +
                       ", expected array; authors unknown");
    return users;
  }
  size_t index = 0;
  int unreadable = 0;
  for (dom::element element : list) {
    ++index;
    dom::object object;
    if (element.get_object().get(object) != simdjson::SUCCESS) {
      ++unreadable;
      continue;
    }
    ObjectReader reader(object);
    std::string_view id = reader.RequiredString("id");
    std::string_view username = reader.RequiredString("username");
    std::optional<std::string_view> name = reader.OptionalString("name");
    if (!reader.error().empty() || !IsTweetId(id) || !IsUsername(username)) {
      ++unreadable;
      continue;
    }
    users.try_emplace(std::string(id), User{std::string(username), std::string(name.value_or(""))});
  }
  if (unreadable > 0) {
    warnings.push_back(std::to_string(unreadable) + " of " + std::to_string(index) +
                       " entries of 'includes.users' unreadable; their tweets have no author");
  }
  return users;
}

// X's partial errors: each becomes a warning; a tweet X cannot find
// (deleted, or its account suspended) becomes a deletion, so a stored copy is
// tombstoned.
void ReadErrors(dom::object root, Page& page) {
  dom::element value;
  if (root.at_key("errors").get(value) != simdjson::SUCCESS || value.is_null()) return;
  dom::array errors;
  if (value.get_array().get(errors) != simdjson::SUCCESS) {
    page.warnings.push_back("'errors' is " + std::string(TypeName(value.type())) +
                            ", expected array; ignored");
    return;
  }
  std::set<std::string> deleted;
  for (const Deletion& d : page.deletions) deleted.insert(d.uid);
  size_t count = 0;
  for (dom::element element : errors) {
    ++count;
    dom::object error;
    if (element.get_object().get(error) != simdjson::SUCCESS) {
      if (count <= kMaxErrorWarnings) {
        page.warnings.push_back("X reported an error that is not an object");
      }
      continue;
    }
    std::string_view type = StringAt(error, "type");
    std::string_view title = StringAt(error, "title");
    std::string_view detail = StringAt(error, "detail");
    std::string_view resource_type = StringAt(error, "resource_type");
    std::string_view resource_id = StringAt(error, "resource_id");
    if (resource_id.empty()) resource_id = StringAt(error, "value");
    if (detail.empty()) detail = StringAt(error, "message");
    const bool not_found = type.ends_with("/resource-not-found") || title == "Not Found Error";
    if (not_found && resource_type == "tweet" && IsTweetId(resource_id) &&
        deleted.insert(std::string(resource_id)).second) {
      page.deletions.push_back(
          {std::string(resource_id), "not found on X (deleted, or its account suspended)"});
    }
    if (count <= kMaxErrorWarnings) {
      std::string warning = "X reported: " + TruncateUtf8(NormalizeText(title), 80);
      if (!detail.empty()) warning += ": " + TruncateUtf8(NormalizeText(detail), 200);
      page.warnings.push_back(std::move(warning));
    }
  }
  if (count > kMaxErrorWarnings) {
    page.warnings.push_back("X reported " + std::to_string(count - kMaxErrorWarnings) +
                            " more error(s)");
  }
}

// t.co links and their targets from an `entities` object; unreadable
// entries are ignored (their t.co link stays in the text).
void ReadUrlEntities(dom::object entities, std::vector<std::pair<std::string, std::string>>& urls) {
  dom::array list;
  if (entities.at_key("urls").get_array().get(list) != simdjson::SUCCESS) return;
  for (dom::element element : list) {
    if (urls.size() >= kMaxUrlEntities) return;
    dom::object entity;
    if (element.get_object().get(entity) != simdjson::SUCCESS) continue;
    std::string_view short_url = StringAt(entity, "url");
    std::string_view expanded = StringAt(entity, "expanded_url");
    if (short_url.empty() || short_url.size() > 100 || expanded.empty() ||
        expanded.size() > kMaxExpandedUrlLength) {
      continue;
    }
    if (!(expanded.starts_with("https://") || expanded.starts_with("http://"))) continue;
    // A target with whitespace or control characters would corrupt the text.
    if (std::any_of(expanded.begin(), expanded.end(),
                    [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7F; })) {
      continue;
    }
    urls.emplace_back(std::string(short_url), std::string(expanded));
  }
}

enum class ItemKind { kPost, kBad, kRetweet };

struct Item {
  ItemKind kind = ItemKind::kBad;
  Post post;
  std::string problem;
};

// One tweet object of `data` into a Post.
Item ReadTweet(dom::object object, const Users& users) {
  Item item;
  ObjectReader reader(object);
  Post& post = item.post;
  post.platform = std::string(kPlatform);
  std::string_view id = reader.RequiredString("id");
  if (reader.error().empty() && !IsTweetId(id)) {
    reader.Fail("'id' " + Quote(id) + " is not a tweet id");
  }
  post.id = std::string(id);
  std::string_view text = reader.RequiredString("text");
  std::optional<std::string_view> author_id = reader.OptionalString("author_id");
  std::optional<std::string_view> created_at = reader.OptionalString("created_at");
  std::optional<std::string_view> conversation_id = reader.OptionalString("conversation_id");
  std::optional<std::string_view> lang = reader.OptionalString("lang");
  if (conversation_id && !IsTweetId(*conversation_id)) {
    reader.Fail("'conversation_id' " + Quote(*conversation_id) + " is not a tweet id");
  }
  bool retweet = false;
  dom::array referenced;
  if (reader.OptionalArray("referenced_tweets", &referenced)) {
    for (dom::element element : referenced) {
      dom::object ref;
      if (element.get_object().get(ref) != simdjson::SUCCESS) {
        reader.Fail("'referenced_tweets' has a " + std::string(TypeName(element.type())) +
                    ", expected objects");
        break;
      }
      ObjectReader ref_reader(ref);
      std::string_view type = ref_reader.RequiredString("type");
      std::string_view ref_id = ref_reader.RequiredString("id");
      if (!ref_reader.error().empty()) {
        reader.Fail("referenced_tweets: " + ref_reader.error());
        break;
      }
      if (!IsTweetId(ref_id)) {
        reader.Fail("'referenced_tweets' id " + Quote(ref_id) + " is not a tweet id");
        break;
      }
      if (type == "replied_to") post.reply_to = std::string(ref_id);
      if (type == "retweeted") retweet = true;
    }
  }
  std::vector<std::pair<std::string, std::string>> urls;
  std::string_view long_text;
  dom::object note;
  if (reader.OptionalObject("note_tweet", &note)) {
    ObjectReader note_reader(note);
    long_text = note_reader.RequiredString("text");
    dom::object note_entities;
    if (note_reader.OptionalObject("entities", &note_entities)) {
      ReadUrlEntities(note_entities, urls);
    }
    if (!note_reader.error().empty()) reader.Fail("note_tweet: " + note_reader.error());
  }
  dom::object entities;
  if (reader.OptionalObject("entities", &entities)) ReadUrlEntities(entities, urls);
  if (reader.error().empty() && created_at) {
    auto time = ParseIso8601(*created_at);
    if (time.ok()) {
      post.created_at = *time;
    } else {
      reader.Fail("'created_at' " + Quote(*created_at) + ": " + time.status().message());
    }
  }
  if (!reader.error().empty()) {
    item.problem = reader.error();
    return item;
  }
  if (retweet) {
    item.kind = ItemKind::kRetweet;
    return item;
  }

  post.uid = post.id;
  post.text = TweetText(long_text.empty() ? text : long_text, urls);
  post.language = Language(lang.value_or(""));
  post.conversation = conversation_id ? std::string(*conversation_id) : post.reply_to;
  const User* author = nullptr;
  if (author_id) {
    auto it = users.find(std::string(*author_id));
    if (it != users.end()) author = &it->second;
  }
  if (author != nullptr) {
    post.author_handle = "@" + author->username;
    post.author_name = NormalizeText(author->name);
    post.url = "https://x.com/" + author->username + "/status/" + post.id;
  } else {
    // X redirects this form to the author's own URL.
    post.url = "https://x.com/i/web/status/" + post.id;
  }
  item.kind = ItemKind::kPost;
  return item;
}

// What one search body holds besides its posts.
struct SearchMeta {
  std::string newest;      // the newest tweet id on the page, from meta or data
  std::string next_token;  // empty: no more pages
};

// Reads a 2xx search body (recent search or conversation search) into
// `page`; a body that cannot be read is an error naming the URL.
Result<SearchMeta> ReadSearchBody(const HttpResponse& response, Page& page) {
  dom::parser parser;
  dom::element root;
  std::string storage;
  auto error = ParseBody(parser, response.body, storage, root, page.warnings);
  if (error != simdjson::SUCCESS) {
    return BodyError(response, std::string("invalid JSON: ") + simdjson::error_message(error));
  }
  dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    return BodyError(response, "body is a JSON " + std::string(TypeName(root.type())) +
                                   ", expected a search result object");
  }
  dom::element probe;
  const bool has_data = object.at_key("data").get(probe) == simdjson::SUCCESS;
  const bool has_meta = object.at_key("meta").get(probe) == simdjson::SUCCESS;
  const bool has_errors = object.at_key("errors").get(probe) == simdjson::SUCCESS;
  if (!has_data && !has_meta && !has_errors) {
    std::string detail = ErrorDetail(response.body);
    return BodyError(response, detail.empty()
                                   ? "object is not a search result (no 'data', 'meta' or "
                                     "'errors')"
                                   : "X error: " + detail);
  }

  SearchMeta meta;
  dom::element meta_value;
  if (object.at_key("meta").get(meta_value) == simdjson::SUCCESS && !meta_value.is_null()) {
    dom::object meta_object;
    if (meta_value.get_object().get(meta_object) == simdjson::SUCCESS) {
      std::string_view newest = StringAt(meta_object, "newest_id");
      if (IsTweetId(newest)) meta.newest = std::string(newest);
      std::string_view token = StringAt(meta_object, "next_token");
      if (IsToken(token)) {
        meta.next_token = std::string(token);
      } else if (!token.empty()) {
        page.warnings.push_back("'meta.next_token' " + Quote(token) +
                                " is not a pagination token; no further pages");
      }
    } else {
      page.warnings.push_back("'meta' is " + std::string(TypeName(meta_value.type())) +
                              ", expected object; ignored");
    }
  }

  const Users users = ReadUsers(object, page.warnings);
  ReadErrors(object, page);

  dom::element data_value;
  if (object.at_key("data").get(data_value) != simdjson::SUCCESS || data_value.is_null()) {
    return meta;
  }
  dom::array data;
  if (data_value.get_array().get(data) != simdjson::SUCCESS) {
    return BodyError(response, "'data' is " + std::string(TypeName(data_value.type())) +
                                   ", expected an array of tweets");
  }
  std::set<std::string> seen;
  std::vector<std::string> retweets;
  size_t index = 0;
  for (dom::element element : data) {
    const size_t at = index++;
    dom::object tweet;
    if (element.get_object().get(tweet) != simdjson::SUCCESS) {
      ++page.skipped_items;
      page.warnings.push_back("item " + std::to_string(at) + ": is " +
                              std::string(TypeName(element.type())) + ", expected a tweet object");
      continue;
    }
    std::string_view raw_id = StringAt(tweet, "id");
    const bool good_id = IsTweetId(raw_id);
    // Unreadable and skipped tweets still move the cursor: they were seen.
    if (good_id && CompareTweetIds(raw_id, meta.newest) > 0) meta.newest = std::string(raw_id);
    Item item = ReadTweet(tweet, users);
    switch (item.kind) {
      case ItemKind::kPost:
        if (seen.insert(item.post.id).second) page.posts.push_back(std::move(item.post));
        break;
      case ItemKind::kRetweet:
        ++page.skipped_items;
        retweets.push_back(std::string(raw_id));
        break;
      case ItemKind::kBad:
        ++page.skipped_items;
        page.warnings.push_back("item " + std::to_string(at) +
                                (good_id ? " (tweet " + std::string(raw_id) + ")" : std::string()) +
                                ": " + item.problem);
        break;
    }
  }
  if (!retweets.empty()) {
    std::string warning = std::to_string(retweets.size()) +
                          " retweet(s) skipped: a retweet is not a story (add -is:retweet to "
                          "the query to save quota):";
    for (size_t i = 0; i < retweets.size() && i < 5; ++i) warning += " " + retweets[i];
    if (retweets.size() > 5) warning += " ...";
    page.warnings.push_back(std::move(warning));
  }
  return meta;
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

// Epoch seconds as X writes its resets; beyond year 9999 is nonsense.
std::optional<TimePoint> ParseEpochSeconds(std::optional<std::string_view> value) {
  auto seconds = ParseCount(value);
  if (!seconds || *seconds > 253402300799) return std::nullopt;
  return FromUnixSeconds(*seconds);
}

std::string SearchUrl(const std::string& base, std::string_view query, int64_t max_results,
                      std::string_view since_id, std::string_view next_token,
                      std::string_view start_time = "") {
  std::string url =
      base + std::string(kSearchPath) + "?query=" + UrlEncode(query) +
      "&max_results=" + std::to_string(max_results) + "&tweet.fields=" + std::string(kTweetFields) +
      "&expansions=" + std::string(kExpansions) + "&user.fields=" + std::string(kUserFields);
  if (!since_id.empty()) url += "&since_id=" + std::string(since_id);
  if (!start_time.empty()) url += "&start_time=" + UrlEncode(start_time);
  if (!next_token.empty()) url += "&next_token=" + std::string(next_token);
  return url;
}

Status SourceInvalid(const SourceSpec& source, const std::string& why) {
  return Status::InvalidArgument("source \"" + source.name + "\" (x): " + why);
}

Result<std::string> BearerToken(const SourceSpec& source) {
  std::string token(TrimAsciiSpace(source.GetString("bearer_token")));
  if (token.empty()) {
    return SourceInvalid(source, "needs `bearer_token`, e.g. bearer_token = \"${X_BEARER_TOKEN}\"");
  }
  return token;
}

void AddReadHeaders(HttpRequest& request, const std::string& token) {
  request.headers.Add("Accept", "application/json");
  request.headers.Add("Authorization", "Bearer " + token);
}

// "2026-11-15T14:00:00Z": what a recovered cursor holds, read back.
bool IsStartTime(std::string_view text) {
  if (text.size() < 20 || text.size() > 30 || text.find('/') != std::string_view::npos) {
    return false;
  }
  return ParseIso8601(text).ok();
}

// Recent search covers the last seven days; a recovered start_time is an
// hour inside that.
constexpr auto kRecentSearchWindow = std::chrono::hours(24 * 7);
constexpr auto kStartMargin = std::chrono::hours(1);

struct RefusedBound {
  std::optional<TimePoint> earliest;  // the oldest time X said it accepts
};

// X's 400 for a lower bound out of the window: an `errors` entry naming
// `since_id` or `start_time` in its `parameters` or its `message` ("Invalid
// 'since_id':'…'. 'since_id' must be a tweet id created after
// 2026-11-15T13:00:00Z. …"). Other 400s (a bad query) are not it.
std::optional<RefusedBound> RefusedLowerBound(std::string_view body) {
  dom::parser parser;
  dom::element root;
  std::string storage;
  std::vector<std::string> ignored;
  dom::object object;
  dom::array errors;
  if (ParseBody(parser, body, storage, root, ignored) != simdjson::SUCCESS ||
      root.get_object().get(object) != simdjson::SUCCESS ||
      object.at_key("errors").get_array().get(errors) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  std::optional<RefusedBound> refused;
  for (dom::element element : errors) {
    dom::object error;
    if (element.get_object().get(error) != simdjson::SUCCESS) continue;
    const std::string_view message = StringAt(error, "message");
    bool names_bound = false;
    dom::object parameters;
    if (error.at_key("parameters").get_object().get(parameters) == simdjson::SUCCESS) {
      dom::element ignored_value;
      names_bound = parameters.at_key("since_id").get(ignored_value) == simdjson::SUCCESS ||
                    parameters.at_key("start_time").get(ignored_value) == simdjson::SUCCESS;
    }
    const bool message_names_bound = message.find("'since_id'") != std::string_view::npos ||
                                     message.find("'start_time'") != std::string_view::npos;
    if (!names_bound && !message_names_bound) continue;
    if (!refused) refused = RefusedBound{};
    // The time X names: the first RFC 3339 timestamp after "after".
    const size_t after = message.find("after ");
    if (after != std::string_view::npos && !refused->earliest) {
      std::string_view rest = message.substr(after + 6);
      const size_t end = rest.find_first_of(" ,;'\"");
      std::string_view stamp = rest.substr(0, end == std::string_view::npos ? rest.size() : end);
      // "…Z." ends with a full stop that is not part of the time.
      while (stamp.ends_with('.')) stamp.remove_suffix(1);
      if (auto when = ParseIso8601(stamp); when.ok()) refused->earliest = *when;
    }
  }
  return refused;
}

}  // namespace

bool IsTweetId(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength) return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int CompareTweetIds(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  int order = a.compare(b);
  return order < 0 ? -1 : (order > 0 ? 1 : 0);
}

Result<SearchCursor> DecodeCursor(std::string_view text) {
  SearchCursor cursor;
  if (text.empty()) return cursor;
  auto bad = [&]() {
    return Status::InvalidArgument("x cursor " + Quote(text, 80) +
                                   " is not NEWEST, @START or NEWEST/SINCE/NEXT_TOKEN");
  };
  const size_t first = text.find('/');
  if (first == std::string_view::npos) {
    if (text.starts_with('@')) {
      if (!IsStartTime(text.substr(1))) return bad();
      cursor.start_time = std::string(text.substr(1));
      return cursor;
    }
    if (!IsTweetId(text)) return bad();
    cursor.newest = std::string(text);
    return cursor;
  }
  const size_t second = text.find('/', first + 1);
  if (second == std::string_view::npos) return bad();
  std::string_view newest = text.substr(0, first);
  std::string_view since = text.substr(first + 1, second - first - 1);
  std::string_view token = text.substr(second + 1);
  if (!IsTweetId(newest) || !IsToken(token)) return bad();
  if (since.starts_with('@')) {
    if (!IsStartTime(since.substr(1))) return bad();
    cursor.start_time = std::string(since.substr(1));
  } else if (IsTweetId(since)) {
    cursor.since = std::string(since);
  } else {
    return bad();
  }
  cursor.newest = std::string(newest);
  cursor.next_token = std::string(token);
  return cursor;
}

std::string EncodeCursor(const SearchCursor& cursor) {
  const std::string lower = cursor.start_time.empty() ? cursor.since : "@" + cursor.start_time;
  if (!cursor.paging()) return cursor.newest.empty() && !lower.empty() ? lower : cursor.newest;
  return cursor.newest + "/" + lower + "/" + cursor.next_token;
}

std::optional<std::string> RecoverCursor(const SourceSpec& /*source*/, const SourceCursor& cursor,
                                         const HttpResponse& response) {
  if (response.status != 400) return std::nullopt;
  auto state = DecodeCursor(cursor.cursor);
  // Only a request that sent a lower bound can have had it refused.
  if (!state.ok() || (state->newest.empty() && state->start_time.empty())) return std::nullopt;
  auto refused = RefusedLowerBound(response.body);
  if (!refused) return std::nullopt;
  std::optional<TimePoint> window_start;
  if (auto date = response.headers.Get("Date")) {
    if (auto now = ParseHttpDate(*date); now.ok()) window_start = *now - kRecentSearchWindow;
  }
  if (!window_start) window_start = refused->earliest;
  if (!window_start) return std::nullopt;
  // An hour inside the window: the next request may wait behind a rate
  // limit, and a start_time that has slipped out is refused in turn.
  const TimePoint start = std::chrono::floor<std::chrono::seconds>(*window_start + kStartMargin);
  return "@" + FormatRfc3339(start);
}

Result<std::string> ApiBase(const SourceSpec& source) {
  std::string base(TrimAsciiSpace(source.url));
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (base.empty()) return std::string(kDefaultBase);
  if (base.find_first_of("?#") != std::string::npos || !UrlHost(base).ok() ||
      !(base.starts_with("https://") || base.starts_with("http://"))) {
    return SourceInvalid(source,
                         "`url` \"" + base + "\" is not an API base URL like https://api.x.com");
  }
  return base;
}

std::string ReplaceLoneSurrogateEscapes(std::string_view json, int* replaced) {
  auto hex4 = [&](size_t at) -> std::optional<unsigned> {
    if (at + 4 > json.size()) return std::nullopt;
    unsigned value = 0;
    auto [end, error] = std::from_chars(json.data() + at, json.data() + at + 4, value, 16);
    if (error != std::errc() || end != json.data() + at + 4) return std::nullopt;
    return value;
  };
  auto is_high = [](unsigned u) { return u >= 0xD800 && u <= 0xDBFF; };
  auto is_low = [](unsigned u) { return u >= 0xDC00 && u <= 0xDFFF; };
  int count = 0;
  std::string out;
  out.reserve(json.size());
  bool in_string = false;
  size_t i = 0;
  while (i < json.size()) {
    const char c = json[i];
    if (!in_string || c != '\\') {
      if (c == '"') in_string = !in_string;
      out += c;
      ++i;
      continue;
    }
    if (i + 1 >= json.size() || json[i + 1] != 'u') {
      // Any other escape (or a dangling backslash): two bytes as they are,
      // so an escaped quote does not end the string.
      out.append(json.substr(i, 2));
      i += 2;
      continue;
    }
    std::optional<unsigned> unit = hex4(i + 2);
    if (!unit) {
      out.append(json.substr(i, 2));  // malformed: left for the parser to report
      i += 2;
      continue;
    }
    if (is_high(*unit)) {
      std::optional<unsigned> next;
      if (i + 7 < json.size() && json[i + 6] == '\\' && json[i + 7] == 'u') next = hex4(i + 8);
      if (next && is_low(*next)) {
        out.append(json.substr(i, 12));
        i += 12;
        continue;
      }
    }
    if (is_high(*unit) || is_low(*unit)) {
      out += "\\uFFFD";
      ++count;
    } else {
      out.append(json.substr(i, 6));
    }
    i += 6;
  }
  if (replaced != nullptr) *replaced = count;
  return out;
}

std::string TweetText(std::string_view raw,
                      const std::vector<std::pair<std::string, std::string>>& urls) {
  // X escapes exactly these three in `text`; anything else with '&' is what
  // the author typed.
  std::string decoded;
  decoded.reserve(raw.size());
  for (size_t i = 0; i < raw.size();) {
    if (raw[i] == '&') {
      std::string_view rest = raw.substr(i);
      if (rest.starts_with("&amp;")) {
        decoded += '&';
        i += 5;
        continue;
      }
      if (rest.starts_with("&lt;")) {
        decoded += '<';
        i += 4;
        continue;
      }
      if (rest.starts_with("&gt;")) {
        decoded += '>';
        i += 4;
        continue;
      }
    }
    decoded += raw[i++];
  }

  // t.co links by string, not by the entities' start/end: those count code
  // points of the escaped text and have been off by the escapes before. One
  // pass, longest link first, so a target is never expanded again and
  // https://t.co/abc never eats the front of https://t.co/abcd.
  std::vector<const std::pair<std::string, std::string>*> order;
  for (const auto& url : urls) order.push_back(&url);
  std::stable_sort(order.begin(), order.end(),
                   [](const auto* a, const auto* b) { return a->first.size() > b->first.size(); });
  auto is_word = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  };
  std::string expanded;
  expanded.reserve(decoded.size());
  for (size_t i = 0; i < decoded.size();) {
    bool matched = false;
    if (!order.empty() && decoded[i] == 'h') {
      for (const auto* url : order) {
        const std::string& from = url->first;
        if (decoded.compare(i, from.size(), from) != 0) continue;
        const size_t end = i + from.size();
        if (end < decoded.size() && is_word(decoded[end])) continue;
        expanded += url->second;
        i = end;
        matched = true;
        break;
      }
    }
    if (!matched) expanded += decoded[i++];
  }

  // Line breaks carry meaning in tweets (lists, verse, sign-offs): keep
  // them, collapse the rest, at most one blank line in a row.
  std::string text;
  bool pending_blank = false;
  std::string_view rest = expanded;
  while (true) {
    const size_t end = rest.find_first_of("\r\n");
    std::string line = NormalizeText(rest.substr(0, end));
    if (line.empty()) {
      pending_blank = !text.empty();
    } else {
      if (!text.empty()) text += pending_blank ? "\n\n" : "\n";
      text += line;
      pending_blank = false;
    }
    if (end == std::string_view::npos) break;
    const size_t skip =
        (rest[end] == '\r' && end + 1 < rest.size() && rest[end + 1] == '\n') ? 2 : 1;
    rest.remove_prefix(end + skip);
  }
  return text;
}

std::string ErrorDetail(std::string_view body) {
  constexpr size_t kMaxDetail = 400;
  std::string_view trimmed = TrimAsciiSpace(body);
  if (trimmed.empty()) return {};
  dom::parser parser;
  dom::element root;
  std::string storage;
  std::vector<std::string> ignored;
  dom::object object;
  if (ParseBody(parser, trimmed, storage, root, ignored) != simdjson::SUCCESS ||
      root.get_object().get(object) != simdjson::SUCCESS) {
    // A proxy's HTML page says nothing useful; a short plain text might.
    if (trimmed.size() > 200 || trimmed.find('<') != std::string_view::npos) return {};
    return TruncateUtf8(NormalizeText(trimmed), kMaxDetail);
  }
  std::vector<std::string> parts;
  auto add = [&](std::string_view text) {
    std::string part = TruncateUtf8(NormalizeText(text), 200);
    if (part.empty() || std::find(parts.begin(), parts.end(), part) != parts.end()) return;
    parts.push_back(std::move(part));
  };
  add(StringAt(object, "title"));
  add(StringAt(object, "detail"));
  // OAuth 2.0 token errors.
  add(StringAt(object, "error_description"));
  if (parts.empty()) add(StringAt(object, "error"));
  dom::array errors;
  if (object.at_key("errors").get_array().get(errors) == simdjson::SUCCESS) {
    size_t taken = 0;
    for (dom::element element : errors) {
      if (taken++ >= 3) break;
      dom::object error;
      if (element.get_object().get(error) != simdjson::SUCCESS) continue;
      std::string_view message = StringAt(error, "message");
      if (message.empty()) message = StringAt(error, "detail");
      add(message);
    }
  }
  std::string detail;
  for (const std::string& part : parts) {
    if (!detail.empty()) detail += ": ";
    detail += part;
  }
  return TruncateUtf8(detail, kMaxDetail);
}

Result<HttpRequest> NextRequest(const SourceSpec& source, const SourceCursor& cursor) {
  auto base = ApiBase(source);
  if (!base.ok()) return base.status();
  std::string query(TrimAsciiSpace(source.GetString("query")));
  if (query.empty()) {
    return SourceInvalid(source, "needs `query`, e.g. query = \"(NHS OR #NHS) -is:retweet\"");
  }
  auto token = BearerToken(source);
  if (!token.ok()) return token.status();
  const int64_t max_results = source.GetInt("max_results", kMaxResults);
  if (max_results < kMinResults || max_results > kMaxResults) {
    return SourceInvalid(
        source, "`max_results` must be between 10 and 100, not " + std::to_string(max_results));
  }
  auto state = DecodeCursor(cursor.cursor);
  if (!state.ok()) return SourceInvalid(source, state.status().message());
  HttpRequest request;
  if (state->paging()) {
    request.url =
        SearchUrl(*base, query, max_results, state->since, state->next_token, state->start_time);
  } else if (!state->newest.empty()) {
    request.url = SearchUrl(*base, query, max_results, state->newest, "");
  } else {
    request.url = SearchUrl(*base, query, max_results, "", "", state->start_time);
  }
  AddReadHeaders(request, *token);
  return request;
}

RateLimitInfo ReadRateLimit(const HttpResponse& response) {
  RateLimitInfo info;
  info.limit = ParseCount(response.headers.Get("x-rate-limit-limit"));
  info.remaining = ParseCount(response.headers.Get("x-rate-limit-remaining"));
  info.reset = ParseEpochSeconds(response.headers.Get("x-rate-limit-reset"));
  return info;
}

Result<Page> Parse(const SourceSpec& /*source*/, const SourceCursor& cursor,
                   const HttpResponse& response) {
  Page page;
  page.rate_limit = ReadRateLimit(response);
  auto meta = ReadSearchBody(response, page);
  if (!meta.ok()) return meta.status();

  auto decoded = DecodeCursor(cursor.cursor);
  SearchCursor current;
  if (decoded.ok()) {
    current = *decoded;
  } else {
    page.warnings.push_back(decoded.status().message() + "; read as no cursor");
  }
  SearchCursor next;
  next.newest = current.newest;
  if (CompareTweetIds(meta->newest, next.newest) > 0) next.newest = meta->newest;
  const bool from_start_time = !current.start_time.empty() && !current.paging();
  if (current.newest.empty() && !from_start_time) {
    // First poll: the newest page only, no crawl of the past seven days.
    page.caught_up = true;
  } else if (from_start_time && next.newest.empty()) {
    // Nothing since the start time yet: keep asking from it.
    next.start_time = current.start_time;
    page.caught_up = true;
  } else if (!meta->next_token.empty() && meta->next_token != current.next_token) {
    // A backlog since the last poll: page down to its since_id (or the
    // start_time that replaced a refused one), keeping the newest id of the
    // first page for the poll after.
    if (current.paging()) {
      next.since = current.since;
      next.start_time = current.start_time;
    } else if (from_start_time) {
      next.start_time = current.start_time;
    } else {
      next.since = current.newest;
    }
    next.next_token = meta->next_token;
    page.caught_up = false;
  } else {
    if (!meta->next_token.empty()) {
      page.warnings.push_back("X repeated the next_token it was given; paging stopped");
    }
    page.caught_up = true;
  }
  std::string encoded = EncodeCursor(next);
  if (encoded != cursor.cursor) page.next_cursor = std::move(encoded);
  return page;
}

Result<HttpRequest> ConversationRequest(const SourceSpec& source, const Post& post,
                                        std::string_view cursor) {
  auto base = ApiBase(source);
  if (!base.ok()) return base.status();
  auto token = BearerToken(source);
  if (!token.ok()) return token.status();
  const std::string& root = IsTweetId(post.conversation) ? post.conversation : post.id;
  if (!IsTweetId(root)) {
    return SourceInvalid(source, "post " + Quote(post.id) + " has no tweet id to fetch");
  }
  if (!cursor.empty() && !IsToken(cursor)) {
    return SourceInvalid(source, "conversation cursor " + Quote(cursor) + " is not a next_token");
  }
  HttpRequest request;
  request.url = SearchUrl(*base, "conversation_id:" + root, kMaxResults, "", cursor);
  AddReadHeaders(request, *token);
  return request;
}

Result<Page> ParseConversation(const SourceSpec& /*source*/, const Post& post,
                               const HttpResponse& response) {
  Page page;
  page.rate_limit = ReadRateLimit(response);
  const std::string uid = post.uid.empty() ? post.id : post.uid;
  if (response.status == 404 || response.status == 410) {
    page.deletions.push_back(
        {uid, "not found on X (HTTP " + std::to_string(response.status) + ")"});
    return page;
  }
  if (response.status < 200 || response.status >= 300) {
    return StatusFromHttp(response.status,
                          "x conversation of tweet " + post.id + ": GET " + WhereFrom(response),
                          ErrorDetail(response.body));
  }
  auto meta = ReadSearchBody(response, page);
  if (!meta.ok()) return meta.status();
  page.next_cursor = meta->next_token;
  page.caught_up = meta->next_token.empty();
  return page;
}

namespace {

// X's problem JSON (title, detail) or v1.1 errors, as the reply parser reads
// them. Polls and conversation fetches use only the app-only bearer token,
// which does not expire: a 401 means it was revoked or regenerated, and the
// engine stops the source until an operator replaces it.
std::string ErrorDetailOf(const HttpResponse& response) {
  std::string detail = ErrorDetail(response.body);
  if (response.status == 401) {
    detail += std::string(detail.empty() ? "" : " ") +
              "(the bearer_token was refused: app-only tokens do not expire, so it was revoked "
              "or regenerated; replace it, then `earshot sources --reset`)";
  }
  return detail;
}

}  // namespace

const ConnectorDescriptor& Descriptor() {
  static const ConversationCapability kConversation{
      .request = &ConversationRequest,
      .parse = &ParseConversation,
  };
  static const ReplyCapability kReply{
      .request = &ReplyRequest,
      .parse = &ParseReply,
      .max_length = 280,
  };
  static const ConnectorDescriptor kDescriptor{
      .name = kPlatform,
      .summary = "X (Twitter) API v2 recent search: tweets of the last 7 days matching `query`",
      .keys =
          {
              {.name = "query",
               .type = ConfigKeySpec::Type::kString,
               .doc = "Recent search query in X's operator syntax, e.g. \"(NHS OR #NHS) "
                      "lang:en -is:retweet\". Required for polling."},
              {.name = "bearer_token",
               .type = ConfigKeySpec::Type::kString,
               .secret = true,
               .doc = "App-only bearer token, sent as `Authorization: Bearer`; write "
                      "\"${X_BEARER_TOKEN}\". Required for polling and conversation fetch."},
              {.name = "max_results",
               .type = ConfigKeySpec::Type::kInteger,
               .default_value = "100",
               .doc = "Tweets per request, 10 to 100 (X's limits for recent search)."},
              {.name = "access_token",
               .type = ConfigKeySpec::Type::kString,
               .secret = true,
               .doc = "Publishing replies only: the organisation account's OAuth 2.0 "
                      "user-context access token (scopes tweet.read tweet.write users.read); "
                      "write \"${X_ACCESS_TOKEN}\"."},
          },
      .next_request = &NextRequest,
      .parse = &Parse,
      .read_rate_limit = &ReadRateLimit,
      .conversation = &kConversation,
      .reply = &kReply,
      .error_detail = &ErrorDetailOf,
      .recover_cursor = &RecoverCursor,
  };
  return kDescriptor;
}

}  // namespace earshot::connector_x
