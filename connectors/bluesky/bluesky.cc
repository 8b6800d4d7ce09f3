// The bluesky descriptor, post search (requests, pages, cursor) and the
// RateLimit-* headers.
#include "connectors/bluesky/bluesky.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connectors/bluesky/internal.h"
#include "crawler/core/strings.h"
#include "crawler/core/time_format.h"
#include "crawler/core/url.h"

namespace earshot::connector_bluesky {

namespace {

namespace dom = simdjson::dom;

constexpr int64_t kMaxLimit = 100;  // searchPosts' maximum page size
constexpr std::string_view kDefaultOverlap = "2m";
constexpr auto kMaxOverlap = std::chrono::hours(24);
// Search cursors are short (an offset, a timestamp); a longer one is not
// something we should carry into every later request.
constexpr size_t kMaxPageCursor = 512;
// Epoch seconds are ten digits these days; fewer means seconds remaining.
constexpr int64_t kEpochSecondsFloor = 1'000'000'000;

// What the stored cursor says. Between polls it is the newest sort time
// seen (an RFC 3339 time). While a poll pages through a backlog it is
// "SINCE NEWEST PAGE": the `since` the pass asks with, the newest time seen
// so far, and the server's opaque cursor for the next page (last, so it
// may contain anything but control characters).
struct SearchCursor {
  enum class Mode { kNone, kIdle, kPaging };
  Mode mode = Mode::kNone;
  TimePoint since{};
  TimePoint newest{};
  std::string page;
};

Result<SearchCursor> DecodeCursor(std::string_view text) {
  SearchCursor cursor;
  if (text.empty()) return cursor;
  auto bad = [&]() {
    return Status::InvalidArgument("stored cursor \"" + std::string(text.substr(0, 100)) +
                                   "\" is not one the bluesky connector writes");
  };
  const size_t first = text.find(' ');
  if (first == std::string_view::npos) {
    auto newest = ParseIso8601(text);
    if (!newest.ok()) return bad();
    cursor.mode = SearchCursor::Mode::kIdle;
    cursor.newest = *newest;
    return cursor;
  }
  const size_t second = text.find(' ', first + 1);
  if (second == std::string_view::npos || second + 1 >= text.size()) return bad();
  auto since = ParseIso8601(text.substr(0, first));
  auto newest = ParseIso8601(text.substr(first + 1, second - first - 1));
  if (!since.ok() || !newest.ok()) return bad();
  cursor.mode = SearchCursor::Mode::kPaging;
  cursor.since = *since;
  cursor.newest = *newest;
  cursor.page = std::string(text.substr(second + 1));
  return cursor;
}

std::string IdleCursor(TimePoint newest) { return FormatRfc3339(newest); }

std::string PagingCursor(TimePoint since, TimePoint newest, std::string_view page) {
  return FormatRfc3339(since) + " " + FormatRfc3339(newest) + " " + std::string(page);
}

Status Invalid(const SourceSpec& source, std::string why) {
  return Status::InvalidArgument("source \"" + source.name + "\" (bluesky): " + why);
}

Result<Duration> Overlap(const SourceSpec& source) {
  auto overlap = ParseDuration(source.GetString("overlap", std::string(kDefaultOverlap)));
  if (!overlap.ok()) return Invalid(source, "`overlap`: " + overlap.status().message());
  if (*overlap < Duration(0) || *overlap > kMaxOverlap) {
    return Invalid(source, "`overlap` must be between 0s and 24h");
  }
  return *overlap;
}

// An RFC 3339 time from an optional key ("since", "until"); nullopt when unset.
Result<std::optional<TimePoint>> OptionalTime(const SourceSpec& source, std::string_view key) {
  const std::string value(TrimAsciiSpace(source.GetString(key)));
  if (value.empty()) return std::optional<TimePoint>();
  auto time = ParseIso8601(value);
  if (!time.ok()) {
    return Invalid(source, "`" + std::string(key) + "` \"" + value +
                               "\" is not a date or time (e.g. 2026-11-01 or "
                               "2026-11-01T09:00:00Z)");
  }
  return std::optional<TimePoint>(*time);
}

// The `since` a poll in `cursor`'s state asks with; nullopt: none (the
// first poll takes just the newest page).
Result<std::optional<TimePoint>> SinceFor(const SourceSpec& source, const SearchCursor& cursor) {
  switch (cursor.mode) {
    case SearchCursor::Mode::kNone:
      return OptionalTime(source, "since");
    case SearchCursor::Mode::kIdle: {
      // Search indexes a post some seconds after its sort time, so a post
      // can surface behind a watermark already passed: ask again for a
      // little of what came before (the store drops what it has).
      auto overlap = Overlap(source);
      if (!overlap.ok()) return overlap.status();
      return std::optional<TimePoint>(cursor.newest - *overlap);
    }
    case SearchCursor::Mode::kPaging:
      return std::optional<TimePoint>(cursor.since);
  }
  return std::optional<TimePoint>();
}

bool IsUsablePageCursor(std::string_view page) {
  return !page.empty() && page.size() <= kMaxPageCursor &&
         std::none_of(page.begin(), page.end(),
                      [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; });
}

std::optional<int64_t> ParseCount(std::optional<std::string_view> value) {
  if (!value) return std::nullopt;
  std::string_view text = TrimAsciiSpace(*value);
  int64_t number = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc() || end != text.data() + text.size() || number < 0) return std::nullopt;
  return number;
}

}  // namespace

Result<HttpRequest> NextRequest(const SourceSpec& source, const SourceCursor& cursor) {
  auto base = internal::ServiceBase(source);
  if (!base.ok()) return base.status();
  const std::string query(TrimAsciiSpace(source.GetString("query")));
  if (query.empty()) return Invalid(source, "set `query`, the search terms");
  const int64_t limit = source.GetInt("limit", kMaxLimit);
  if (limit < 1 || limit > kMaxLimit) {
    return Invalid(source, "`limit` must be between 1 and 100, not " + std::to_string(limit));
  }
  if (HasCredentials(source) && (TrimAsciiSpace(source.GetString("identifier")).empty() ||
                                 TrimAsciiSpace(source.GetString("app_password")).empty())) {
    return Invalid(source, "set both `identifier` and `app_password`, or neither");
  }
  const std::string lang(TrimAsciiSpace(source.GetString("lang")));
  auto until = OptionalTime(source, "until");
  if (!until.ok()) return until.status();
  auto state = DecodeCursor(cursor.cursor);
  if (!state.ok()) {
    return Invalid(source, state.status().message() + "; reset the source's cursor");
  }
  auto since = SinceFor(source, *state);
  if (!since.ok()) return since.status();

  HttpRequest request;
  // sort=latest: newest first, which is what lets a time watermark work.
  request.url = *base + "/xrpc/app.bsky.feed.searchPosts?q=" + UrlEncode(query) +
                "&sort=latest&limit=" + std::to_string(limit);
  if (!lang.empty()) request.url += "&lang=" + UrlEncode(lang);
  if (*since) request.url += "&since=" + UrlEncode(FormatRfc3339(**since));
  if (*until) request.url += "&until=" + UrlEncode(FormatRfc3339(**until));
  if (state->mode == SearchCursor::Mode::kPaging)
    request.url += "&cursor=" + UrlEncode(state->page);
  request.headers.Add("Accept", "application/json");
  return request;
}

RateLimitInfo ReadRateLimit(const HttpResponse& response) {
  RateLimitInfo info;
  info.limit = ParseCount(response.headers.Get("RateLimit-Limit"));
  info.remaining = ParseCount(response.headers.Get("RateLimit-Remaining"));
  if (!info.limit) {
    // "3000;w=300": 3000 requests per 300-second window.
    if (auto policy = response.headers.Get("RateLimit-Policy")) {
      info.limit = ParseCount(policy->substr(0, policy->find(';')));
    }
  }
  if (auto reset = ParseCount(response.headers.Get("RateLimit-Reset"))) {
    if (*reset >= kEpochSecondsFloor) {
      info.reset = FromUnixSeconds(*reset);
    } else if (auto date = response.headers.Get("Date")) {
      // The IETF draft's form (seconds remaining), from the server's clock.
      auto now = ParseHttpDate(*date);
      if (now.ok()) info.reset = *now + std::chrono::seconds(*reset);
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
  auto root = internal::ParseBody(parser, response, repaired, &page.warnings);
  if (!root.ok()) return root.status();
  dom::object object;
  if (root->get_object().get(object) != simdjson::SUCCESS) {
    return internal::BodyError(response, "body is a JSON " +
                                             std::string(internal::TypeName(root->type())) +
                                             ", expected a searchPosts or getPostThread object");
  }
  dom::element probe;
  if (object.at_key("posts").get(probe) != simdjson::SUCCESS) {
    if (object.at_key("thread").get(probe) == simdjson::SUCCESS && !probe.is_null()) {
      // A saved getPostThread answer: its posts, the cursor untouched.
      internal::FlattenThread(probe, page);
      return page;
    }
    internal::Fields error(object);
    auto name = error.OptionalString("error");
    auto message = error.OptionalString("message");
    if (name || message) {
      return internal::BodyError(response, "server error: " + std::string(name.value_or("")) +
                                               (name && message ? ": " : "") +
                                               std::string(message.value_or("").substr(0, 200)));
    }
    return internal::BodyError(response, "object has neither 'posts' nor 'thread'");
  }
  dom::array items;
  if (probe.get_array().get(items) != simdjson::SUCCESS) {
    return internal::BodyError(
        response,
        "'posts' is " + std::string(internal::TypeName(probe.type())) + ", expected array");
  }

  std::optional<TimePoint> newest;
  std::vector<TimePoint> sort_times;
  std::set<std::string> seen;
  size_t count = 0;
  for (dom::element element : items) {
    const size_t index = count++;
    internal::PostItem item = internal::ReadPostView(element);
    if (!item.ok) {
      ++page.skipped_items;
      std::string_view uri;
      std::string label = "post " + std::to_string(index);
      if (element["uri"].get_string().get(uri) == simdjson::SUCCESS) {
        label += " (" + std::string(uri.substr(0, 200)) + ")";
      }
      page.warnings.push_back(label + ": " + item.problem);
      continue;
    }
    for (const std::string& note : item.notes) {
      page.warnings.push_back("post " + std::to_string(index) + " (" + item.post.uid +
                              "): " + note);
    }
    sort_times.push_back(*item.sort_at);
    if (!newest || *item.sort_at > *newest) newest = item.sort_at;
    if (seen.insert(item.post.uid).second) page.posts.push_back(std::move(item.post));
  }

  std::string next_page;
  dom::element page_cursor;
  if (object.at_key("cursor").get(page_cursor) == simdjson::SUCCESS && !page_cursor.is_null()) {
    std::string_view text;
    if (page_cursor.get_string().get(text) != simdjson::SUCCESS) {
      page.warnings.push_back("'cursor' is " + std::string(internal::TypeName(page_cursor.type())) +
                              ", expected string; not followed");
    } else if (!IsUsablePageCursor(text)) {
      page.warnings.push_back("'cursor' is empty, too long or has spaces; not followed");
    } else {
      next_page = std::string(text);
    }
  }

  auto state = DecodeCursor(cursor.cursor);
  if (!state.ok()) state = SearchCursor{};  // NextRequest refuses it first; never in practice
  auto since = SinceFor(source, *state);
  if (!since.ok() || !*since) {
    // First poll: the newest page is where we start; history is not crawled.
    if (newest) page.next_cursor = IdleCursor(*newest);
    return page;
  }
  TimePoint best = state->mode == SearchCursor::Mode::kNone ? **since : state->newest;
  if (newest && *newest > best) best = *newest;

  // More pages only while they bring posts at or after `since`: a server
  // that ignores `since`, or repeats a cursor, must not be paged forever.
  const bool any_recent =
      sort_times.empty() ||
      std::any_of(sort_times.begin(), sort_times.end(), [&](TimePoint t) { return t >= **since; });
  const bool repeated = state->mode == SearchCursor::Mode::kPaging && next_page == state->page;
  if (repeated) page.warnings.push_back("the server returned the cursor it was sent; stopped");
  if (!next_page.empty() && count > 0 && any_recent && !repeated) {
    page.next_cursor = PagingCursor(**since, best, next_page);
    page.caught_up = false;
    return page;
  }
  page.next_cursor = IdleCursor(best);
  if (page.next_cursor == cursor.cursor) page.next_cursor.clear();
  return page;
}

namespace {

const AuthCapability kAuth{
    .session_request = &SessionRequest,
    .parse_session = &ParseSession,
    .authorize = &Authorize,
    .configured = &HasCredentials,
    .session_refused = &SessionRefused,
};

const ConversationCapability kConversation{
    .request = &ConversationRequest,
    .parse = &ParseConversation,
};

const ReplyCapability kReply{
    .request = &ReplyRequest,
    .parse = &ParseReply,
    .max_length = kMaxReplyLength,
};

}  // namespace

const ConnectorDescriptor& Descriptor() {
  static const ConnectorDescriptor kDescriptor{
      .name = internal::kPlatform,
      .summary =
          "Bluesky post search (app.bsky.feed.searchPosts) with app-password sessions, "
          "threads and replies (`url` = PDS or AppView base URL)",
      .keys =
          {
              {.name = "query",
               .type = ConfigKeySpec::Type::kString,
               .required = true,
               .doc = "Search terms for app.bsky.feed.searchPosts (Bluesky's syntax: "
                      "\"exact phrase\", from:handle, #tag, domain:nhs.uk)."},
              {.name = "identifier",
               .type = ConfigKeySpec::Type::kString,
               .secret = true,
               .doc = "Handle, e-mail or DID of the account to sign in with; write "
                      "\"${BLUESKY_IDENTIFIER}\". With `app_password`; without both, requests "
                      "are anonymous (public search is often refused: use a PDS and sign in)."},
              {.name = "app_password",
               .type = ConfigKeySpec::Type::kString,
               .secret = true,
               .doc = "An app password of that account (never the main password); write "
                      "\"${BLUESKY_APP_PASSWORD}\"."},
              {.name = "limit",
               .type = ConfigKeySpec::Type::kInteger,
               .default_value = "100",
               .doc = "Posts per request, 1 to 100."},
              {.name = "lang",
               .type = ConfigKeySpec::Type::kString,
               .doc = "Only posts in this language (e.g. \"en\")."},
              {.name = "since",
               .type = ConfigKeySpec::Type::kString,
               .doc = "First poll only: crawl back to this time (RFC 3339 or YYYY-MM-DD) "
                      "instead of taking just the newest page."},
              {.name = "until",
               .type = ConfigKeySpec::Type::kString,
               .doc = "Only posts before this time (RFC 3339 or YYYY-MM-DD)."},
              {.name = "overlap",
               .type = ConfigKeySpec::Type::kString,
               .default_value = std::string(kDefaultOverlap),
               .doc = "How far before the newest post already seen each poll asks again, for "
                      "posts the search index took a while to include (0s to 24h)."},
              {.name = "thread_depth",
               .type = ConfigKeySpec::Type::kInteger,
               .default_value = "6",
               .doc = "Conversation fetch: levels of replies below a post (0 to 1000)."},
              {.name = "thread_parent_height",
               .type = ConfigKeySpec::Type::kInteger,
               .default_value = "80",
               .doc = "Conversation fetch: posts above a post, up to its thread root (0 to "
                      "1000)."},
          },
      .next_request = &NextRequest,
      .parse = &Parse,
      .read_rate_limit = &ReadRateLimit,
      .auth = &kAuth,
      .conversation = &kConversation,
      .reply = &kReply,
      .error_detail = &internal::XrpcErrorDetail,
  };
  return kDescriptor;
}

}  // namespace earshot::connector_bluesky
