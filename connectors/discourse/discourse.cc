#include "connectors/discourse/discourse.h"

#include <simdjson.h>
#include <algorithm>
#include <charconv>

#include "connectors/discourse/internal.h"
#include "crawler/core/time_format.h"

namespace earshot::connector_discourse {

namespace dom = simdjson::dom;
using internal::AddCommonHeaders;
using internal::AsId;
using internal::Forum;
using internal::ForumForResponse;
using internal::ForumOf;
using internal::ItemsRead;
using internal::kConversation;
using internal::kPlatform;
using internal::kReply;
using internal::NewIds;
using internal::ReadPostArray;
using internal::TopicContext;
using internal::Utf8Body;
using internal::Where;

namespace {

// The listing cursor. Idle: "NEWEST", the highest post id stored. Walking
// back through a gap after a busy spell: "NEWEST;before=B;stop=S" — the next
// page is /posts.json?before=B, and ids at or below S are already stored.
// The walk state lives in the cursor because it is stored with every page: a
// poll cut short (max_pages_per_poll, shutdown) resumes the walk.
struct ListingCursor {
  int64_t newest = 0;  // 0: nothing read yet
  int64_t before = 0;  // >0: walking
  int64_t stop = 0;
  bool walking() const { return before > 0; }
};

std::optional<int64_t> ParseNonNegative(std::string_view s) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

// An unreadable cursor (hand-edited state, an older format) reads as empty:
// the next poll starts again from the newest page.
ListingCursor ParseCursor(std::string_view text) {
  ListingCursor c;
  if (text.empty()) return c;
  size_t semi = text.find(';');
  auto newest = ParseNonNegative(text.substr(0, semi));
  if (!newest) return {};
  c.newest = *newest;
  if (semi == std::string_view::npos) return c;
  std::string_view rest = text.substr(semi + 1);
  constexpr std::string_view kBefore = "before=", kStop = ";stop=";
  size_t stop_at = rest.find(kStop);
  if (rest.substr(0, kBefore.size()) != kBefore || stop_at == std::string_view::npos) return {};
  auto before = ParseNonNegative(rest.substr(kBefore.size(), stop_at - kBefore.size()));
  auto stop = ParseNonNegative(rest.substr(stop_at + kStop.size()));
  if (!before || !stop || *before == 0 || *stop >= *before) return {};
  c.before = *before;
  c.stop = *stop;
  return c;
}

std::string FormatCursor(const ListingCursor& c) {
  std::string out = std::to_string(c.newest);
  if (c.walking()) {
    out += ";before=" + std::to_string(c.before) + ";stop=" + std::to_string(c.stop);
  }
  return out;
}

RateLimitInfo ReadRateLimit(const HttpResponse& response);

Result<HttpRequest> NextRequest(const SourceSpec& source, const SourceCursor& cursor) {
  auto forum = ForumOf(source);
  if (!forum.ok()) return forum.status();
  ListingCursor c = ParseCursor(cursor.cursor);
  HttpRequest request;
  request.url = forum->base + "/posts.json";
  AddCommonHeaders(source, request);
  if (c.walking()) {
    request.url += "?before=" + std::to_string(c.before);
  } else {
    // The stored validators belong to the newest page only when not walking.
    if (!cursor.etag.empty()) request.headers.Set("If-None-Match", cursor.etag);
    if (!cursor.last_modified.empty()) {
      request.headers.Set("If-Modified-Since", cursor.last_modified);
    }
  }
  return request;
}

// Moves the listing cursor on after a page of /posts.json whose ids are `ids`.
void Advance(const ListingCursor& c, const std::vector<int64_t>& ids, Page& page) {
  if (ids.empty()) {
    // Nothing older exists (or nothing at all): a walk is over.
    if (c.walking()) page.next_cursor = std::to_string(c.newest);
    return;
  }
  auto [lo_it, hi_it] = std::minmax_element(ids.begin(), ids.end());
  int64_t lo = *lo_it, hi = *hi_it;
  ListingCursor next;
  if (!c.walking()) {
    next.newest = std::max(hi, c.newest);
    // A first poll reads one page; later polls walk back to what is stored.
    if (c.newest > 0 && lo > c.newest + 1) {
      next.before = lo;
      next.stop = c.newest;
      page.caught_up = false;
    }
  } else {
    next.newest = c.newest;
    if (lo >= c.before) {
      page.warnings.push_back("the server ignored before=" + std::to_string(c.before) +
                              "; the gap below post " + std::to_string(c.before) + " is not read");
    } else if (lo > c.stop + 1) {
      next.before = lo;
      next.stop = c.stop;
      page.caught_up = false;
    }
  }
  page.next_cursor = FormatCursor(next);
}

Result<Page> Parse(const SourceSpec& source, const SourceCursor& cursor,
                   const HttpResponse& response) {
  Page page;
  page.rate_limit = ReadRateLimit(response);
  Forum forum = ForumForResponse(source, response, page);
  std::string where = Where(response, forum.base + "/posts.json");
  std::string body = Utf8Body(response, &page);
  dom::parser parser;
  dom::element root;
  if (auto error = parser.parse(body).get(root); error != simdjson::SUCCESS) {
    return Status::ParseError(where + ": not JSON: " + simdjson::error_message(error));
  }
  if (!root.is_object()) {
    return Status::ParseError(where + ": /: not an object");
  }
  dom::element latest;
  if (root["latest_posts"].get(latest) == simdjson::SUCCESS) {
    if (!latest.is_array()) return Status::ParseError(where + ": /latest_posts: not an array");
    ListingCursor c = ParseCursor(cursor.cursor);
    // Walking, ids at or above `before` were on the page before (a server that
    // reads `before` inclusively, or ignores it, sends them again).
    NewIds fresh = c.walking() ? NewIds{c.stop, c.before} : NewIds{c.newest, 0};
    ItemsRead read = ReadPostArray(forum, latest, nullptr, fresh, "/latest_posts", page);
    Advance(c, read.ids, page);
    return page;
  }
  // A topic (/t/ID.json or /t/ID/posts.json), e.g. a saved body given to
  // `earshot parse`: its posts, no cursor.
  dom::element posts;
  if (root["post_stream"]["posts"].get(posts) == simdjson::SUCCESS) {
    if (!posts.is_array()) {
      return Status::ParseError(where + ": /post_stream/posts: not an array");
    }
    TopicContext topic;
    if (dom::element id; root["id"].get(id) == simdjson::SUCCESS) {
      topic.topic_id = AsId(id).value_or(0);
    }
    if (std::string_view s; root["title"].get_string().get(s) == simdjson::SUCCESS) topic.title = s;
    if (std::string_view s; root["slug"].get_string().get(s) == simdjson::SUCCESS) topic.slug = s;
    if (dom::element d; root["deleted_at"].get(d) == simdjson::SUCCESS && d.is_string()) {
      topic.deleted = true;
    }
    ReadPostArray(forum, posts, &topic, NewIds{}, "/post_stream/posts", page);
    return page;
  }
  return Status::ParseError(where + ": neither /latest_posts nor /post_stream/posts is present");
}

// Discourse answers 429 with Retry-After (read by the engine) and a JSON body
// {"extras":{"wait_seconds":N}}; the body's wait becomes absolute through the
// response's Date header (a connector has no clock of its own).
RateLimitInfo ReadRateLimit(const HttpResponse& response) {
  RateLimitInfo info;
  if (response.status != 429) return info;
  auto date = response.headers.Get("Date");
  if (!date) return info;
  auto now = ParseHttpDate(*date);
  if (!now.ok()) return info;
  dom::parser parser;
  int64_t wait = 0;
  if (parser.parse(response.body).at_key("extras").at_key("wait_seconds").get_int64().get(wait) !=
          simdjson::SUCCESS ||
      wait < 0) {
    return info;
  }
  constexpr int64_t kMaxWaitSeconds = 24 * 3600;
  info.retry_at = *now + std::chrono::seconds(std::min(wait, kMaxWaitSeconds));
  info.remaining = 0;
  info.reset = info.retry_at;
  return info;
}

}  // namespace

namespace {

// Discourse's words for a failed request: {"errors":[...]} joined, with
// its error_type and wait; one line of at most 300 bytes (a forum's errors
// list has no length limit).
std::string ErrorDetailOf(const HttpResponse& response) {
  constexpr size_t kMaxDetail = 300;
  std::string detail = internal::ErrorDetail(response.body);
  for (char& c : detail) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (detail.size() > kMaxDetail) {
    size_t cut = kMaxDetail - 3;
    // Never cut a UTF-8 sequence in half.
    while (cut > 0 && (static_cast<unsigned char>(detail[cut]) & 0xC0) == 0x80) --cut;
    detail.resize(cut);
    detail += "...";
  }
  return detail;
}

}  // namespace

const ConnectorDescriptor& Descriptor() {
  static const ConnectorDescriptor d{
      .name = kPlatform,
      .summary = "Discourse forum: latest public posts, topic threads, replies",
      .keys =
          {
              {.name = "api_key",
               .type = ConfigKeySpec::Type::kString,
               .secret = true,
               .doc = "API key sent as Api-Key; optional for reading a public forum, "
                      "required to publish replies"},
              {.name = "api_username",
               .type = ConfigKeySpec::Type::kString,
               .doc = "user the API key acts as, sent as Api-Username (needed with an "
                      "all-users key; a single-user key may omit it)"},
          },
      .next_request = NextRequest,
      .parse = Parse,
      .read_rate_limit = ReadRateLimit,
      .conversation = &kConversation,
      .reply = &kReply,
      .error_detail = &ErrorDetailOf,
  };
  return d;
}

}  // namespace earshot::connector_discourse
