#include <simdjson.h>
#include <charconv>
#include <map>
#include <utility>

#include "connectors/discourse/internal.h"
#include "crawler/core/strings.h"
#include "crawler/core/text.h"
#include "crawler/core/time_format.h"
#include "crawler/core/url.h"

namespace earshot::connector_discourse::internal {

namespace dom = simdjson::dom;

namespace {

// A hostile page of a million broken items must not become a million
// warnings; the count in skipped_items stays exact.
constexpr size_t kMaxWarnings = 100;

void Warn(Page& page, std::string warning) {
  if (page.warnings.size() < kMaxWarnings) {
    page.warnings.push_back(std::move(warning));
  } else if (page.warnings.size() == kMaxWarnings) {
    page.warnings.push_back("further warnings suppressed");
  }
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Slugs are ASCII words joined by '-', or percent-encoded Unicode when the
// forum uses "encoded" slugs; anything else is left out of the URL.
bool IsUrlSafeSlug(std::string_view slug) {
  if (slug.empty() || slug.size() > 255) return false;
  for (char c : slug) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '%' || c == '.';
    if (!ok) return false;
  }
  return true;
}

std::optional<std::string_view> StringField(const dom::element& object, std::string_view key) {
  std::string_view s;
  if (object[key].get_string().get(s) != simdjson::SUCCESS) return std::nullopt;
  return s;
}

bool TrueField(const dom::element& object, std::string_view key) {
  bool b = false;
  return object[key].get_bool().get(b) == simdjson::SUCCESS && b;
}

// Present and neither null nor false (Discourse writes deleted_at as a date).
bool Present(const dom::element& object, std::string_view key) {
  dom::element v;
  if (object[key].get(v) != simdjson::SUCCESS) return false;
  if (v.is_null()) return false;
  bool b = true;
  if (v.get_bool().get(b) == simdjson::SUCCESS) return b;
  return true;
}

// Why an item is gone, or nullopt when it is a live post. Discourse keeps a
// post its author deleted for a day with user_deleted and a placeholder
// cooked text before it sets deleted_at; staff see deleted_at on posts
// moderators removed; flagged posts are hidden until edited or restored.
std::optional<std::string> DeletionReason(const dom::element& item, const TopicContext* topic,
                                          std::string_view cooked_text) {
  if (TrueField(item, "user_deleted")) return "deleted by its author";
  if (cooked_text == "(post deleted by author)" || cooked_text == "(topic deleted by author)") {
    return "deleted by its author";
  }
  if (Present(item, "deleted_at")) return "deleted";
  if (topic && topic->deleted) return "topic deleted";
  if (TrueField(item, "hidden") || TrueField(item, "cooked_hidden")) {
    return "hidden by moderators after flags";
  }
  return std::nullopt;
}

}  // namespace

Result<Forum> ForumOf(const SourceSpec& spec) {
  std::string url(TrimAsciiSpace(spec.url));
  if (url.empty()) {
    return Status::InvalidArgument("discourse source \"" + spec.name +
                                   "\": url must be the forum's address, e.g. "
                                   "https://forum.example.org");
  }
  auto host = UrlHost(url);
  if (!host.ok() || host->empty()) {
    return Status::InvalidArgument("discourse source \"" + spec.name + "\": unusable url \"" + url +
                                   "\"");
  }
  bool names_response = url.find_first_of("?#") != std::string::npos || EndsWith(url, ".json");
  if (names_response) {
    auto origin = ResolveUrl(url, "/");
    if (!origin.ok()) {
      return Status::InvalidArgument("discourse source \"" + spec.name + "\": unusable url \"" +
                                     url + "\"");
    }
    url = std::move(origin).value();
  }
  while (!url.empty() && url.back() == '/') url.pop_back();
  return Forum{.base = std::move(url), .host = std::move(host).value()};
}

std::optional<int64_t> ParsePositive(std::string_view digits) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || ptr != digits.data() + digits.size() || v <= 0) return std::nullopt;
  return v;
}

std::string PostUid(const Forum& forum, int64_t post_id) {
  return forum.host + "/p/" + std::to_string(post_id);
}

std::string PostUrl(const Forum& forum, std::string_view slug, int64_t topic_id,
                    int64_t post_number) {
  if (forum.base.empty()) return {};  // no forum address: no absolute URL
  std::string url = forum.base + "/t/";
  if (IsUrlSafeSlug(slug)) {
    url += slug;
    url += '/';
  }
  url += std::to_string(topic_id) + "/" + std::to_string(post_number);
  return url;
}

std::string MakeRef(int64_t topic_id, int64_t post_number) {
  return std::to_string(topic_id) + "/" + std::to_string(post_number);
}

std::optional<Ref> ParseRef(std::string_view ref) {
  size_t slash = ref.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto topic = ParsePositive(ref.substr(0, slash));
  auto number = ParsePositive(ref.substr(slash + 1));
  if (!topic || !number) return std::nullopt;
  return Ref{*topic, *number};
}

std::optional<int64_t> AsId(const dom::element& value) {
  int64_t i = 0;
  if (value.get_int64().get(i) == simdjson::SUCCESS) {
    if (i <= 0) return std::nullopt;
    return i;
  }
  std::string_view s;
  if (value.get_string().get(s) == simdjson::SUCCESS) return ParsePositive(s);
  return std::nullopt;
}

void AddCommonHeaders(const SourceSpec& spec, HttpRequest& request) {
  request.headers.Set("Accept", "application/json");
  std::string key = spec.GetString("api_key");
  if (!key.empty()) request.headers.Set("Api-Key", std::move(key));
  std::string user = spec.GetString("api_username");
  if (!user.empty()) request.headers.Set("Api-Username", std::move(user));
}

ItemsRead ReadPostArray(const Forum& forum, const dom::element& items, const TopicContext* topic,
                        NewIds fresh, std::string_view where, Page& page) {
  ItemsRead read;
  dom::array array;
  if (items.get_array().get(array) != simdjson::SUCCESS) return read;

  struct Pending {
    Post post;
    int64_t topic_id;
    int64_t reply_to_number;
  };
  std::vector<Pending> pending;
  // (topic, post number) -> post id, for reply_to: every readable item
  // counts, including deleted ones (a reply to a deleted post still joins it).
  std::map<std::pair<int64_t, int64_t>, int64_t> id_by_number;

  size_t index = 0;
  for (dom::element item : array) {
    std::string at = std::string(where) + "/" + std::to_string(index++);
    auto skip = [&](const std::string& why) {
      ++page.skipped_items;
      Warn(page, at + ": " + why);
    };
    if (!item.is_object()) {
      skip("not an object");
      continue;
    }
    dom::element field;
    std::optional<int64_t> id;
    if (item["id"].get(field) == simdjson::SUCCESS) id = AsId(field);
    if (!id) {
      skip("no usable id");
      continue;
    }
    read.ids.push_back(*id);
    at += " (id " + std::to_string(*id) + ")";

    std::optional<int64_t> topic_id;
    if (item["topic_id"].get(field) == simdjson::SUCCESS) topic_id = AsId(field);
    if (!topic_id && topic && topic->topic_id > 0) topic_id = topic->topic_id;
    std::optional<int64_t> post_number;
    if (item["post_number"].get(field) == simdjson::SUCCESS) post_number = AsId(field);
    if (!topic_id || !post_number) {
      skip(!topic_id ? "no usable topic_id" : "no usable post_number");
      continue;
    }
    id_by_number[{*topic_id, *post_number}] = *id;

    // Only regular posts are people talking; moderator actions ("This topic
    // is now pinned"), small actions and staff whispers are not public posts.
    int64_t post_type = 1;
    if (item["post_type"].get(field) == simdjson::SUCCESS && !field.is_null() &&
        (field.get_int64().get(post_type) != simdjson::SUCCESS)) {
      skip("post_type is not an integer");
      continue;
    }
    if (post_type != 1) continue;

    auto cooked = StringField(item, "cooked");
    std::string text = cooked ? HtmlToText(*cooked) : std::string();
    if (auto reason = DeletionReason(item, topic, text)) {
      page.deletions.push_back(Deletion{PostUid(forum, *id), std::move(*reason)});
      continue;
    }
    if (*id <= fresh.above || (fresh.below > 0 && *id >= fresh.below)) continue;
    if (!cooked) {
      skip("cooked is missing or not a string");
      continue;
    }

    Post post;
    post.platform = std::string(kPlatform);
    post.id = std::to_string(*id);
    post.uid = PostUid(forum, *id);
    post.text = std::move(text);
    post.conversation = std::to_string(*topic_id);
    post.ref = MakeRef(*topic_id, *post_number);
    if (auto username = StringField(item, "username"); username && !username->empty()) {
      post.author_handle = "@" + ToNfc(*username);
    }
    if (auto name = StringField(item, "name"); name && !name->empty()) {
      post.author_name = NormalizeText(*name);
    } else if (auto shown = StringField(item, "display_username"); shown && !shown->empty()) {
      post.author_name = NormalizeText(*shown);
    }
    if (auto created = StringField(item, "created_at")) {
      auto t = ParseIso8601(*created);
      if (t.ok()) {
        post.created_at = *t;
      } else {
        Warn(page, at + ": created_at: " + t.status().message());
      }
    }
    std::string_view slug = topic ? std::string_view(topic->slug) : std::string_view();
    if (auto s = StringField(item, "topic_slug")) slug = *s;
    post.url = PostUrl(forum, slug, *topic_id, *post_number);
    // The topic's title belongs to its opening post; replies carry only their
    // own words (their thread links them to it).
    if (*post_number == 1) {
      if (auto title = StringField(item, "topic_title")) {
        post.title = NormalizeText(*title);
      } else if (topic) {
        post.title = NormalizeText(topic->title);
      }
    }
    int64_t reply_to_number = 0;
    if (item["reply_to_post_number"].get(field) == simdjson::SUCCESS) {
      reply_to_number = AsId(field).value_or(0);
    }
    pending.push_back(Pending{std::move(post), *topic_id, reply_to_number});
  }

  for (Pending& p : pending) {
    if (p.reply_to_number > 0) {
      auto it = id_by_number.find({p.topic_id, p.reply_to_number});
      if (it != id_by_number.end()) p.post.reply_to = std::to_string(it->second);
    }
    page.posts.push_back(std::move(p.post));
  }
  return read;
}

std::string ErrorDetail(std::string_view body) {
  dom::parser parser;
  dom::element root;
  if (parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS) {
    std::string text = HtmlToText(body.substr(0, 4096));
    if (text.size() > 200) {
      size_t cut = 200;
      // Never cut a UTF-8 sequence in half.
      while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
      text = text.substr(0, cut) + "…";
    }
    return text;
  }
  std::string detail;
  dom::array errors;
  if (root["errors"].get_array().get(errors) == simdjson::SUCCESS) {
    for (dom::element e : errors) {
      std::string_view s;
      if (e.get_string().get(s) != simdjson::SUCCESS) continue;
      if (!detail.empty()) detail += "; ";
      detail += NormalizeText(s);
    }
  }
  if (auto type = StringField(root, "error_type")) {
    detail += detail.empty() ? "" : " ";
    detail += "(" + std::string(*type) + ")";
  }
  int64_t wait = 0;
  if (root["extras"]["wait_seconds"].get_int64().get(wait) == simdjson::SUCCESS) {
    detail += "; wait " + std::to_string(wait) + "s";
  }
  return detail;
}

std::string Where(const HttpResponse& response, std::string_view fallback) {
  return response.url.empty() ? std::string(fallback) : response.url;
}

Forum ForumForResponse(const SourceSpec& spec, const HttpResponse& response, Page& page) {
  if (auto forum = ForumOf(spec); forum.ok()) return std::move(forum).value();
  SourceSpec from_response = spec;
  from_response.url = response.url;
  if (auto forum = ForumOf(from_response); forum.ok()) return std::move(forum).value();
  Warn(page, "no forum URL (source url or --url): uids and urls lack the forum's address");
  return Forum{};
}

std::string Utf8Body(const HttpResponse& response, Page* page) {
  if (IsValidUtf8(response.body)) return response.body;
  if (page) Warn(*page, "body is not valid UTF-8: invalid sequences replaced by U+FFFD");
  return RepairUtf8(response.body);
}

}  // namespace earshot::connector_discourse::internal
