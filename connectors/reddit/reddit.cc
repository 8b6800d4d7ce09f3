// Listings and search (NextRequest, Parse), rate limits, the cursor and the
// descriptor. Auth, conversation and reply live in their own files.
#include "connectors/reddit/reddit.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connectors/reddit/internal.h"
#include "crawler/core/strings.h"
#include "crawler/core/time_format.h"
#include "crawler/core/url.h"

namespace earshot::connector_reddit {

namespace {

namespace dom = simdjson::dom;
using internal::Excerpt;
using internal::Thing;

constexpr int64_t kMaxLimit = 100;      // Reddit caps listings at 100
constexpr size_t kMaxQueryBytes = 512;  // Reddit's search query limit
constexpr size_t kMaxSubredditBytes = 500;

Status Invalid(const SourceSpec& source, std::string why) {
  return Status::InvalidArgument("source \"" + source.name + "\" (reddit): " + std::move(why));
}

bool IsSubredditName(std::string_view name) {
  // 3-21 characters today; a few old ones are 2 ("tf"); "all" and "popular"
  // are listings of their own and read the same way.
  if (name.size() < 2 || name.size() > 21) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  });
}

// "NHS", "r/NHS", "/r/NHS/" or a multi "nhs+unitedkingdom"; empty when
// unset. nullopt when it is not a subreddit name.
std::optional<std::string> Subreddit(const SourceSpec& source) {
  const std::string option = source.GetString("subreddit");
  std::string_view name = TrimAsciiSpace(option);
  if (name.starts_with('/')) name.remove_prefix(1);
  if (name.starts_with("r/") || name.starts_with("R/")) name.remove_prefix(2);
  while (name.ends_with('/')) name.remove_suffix(1);
  if (name.empty()) return std::string();
  if (name.size() > kMaxSubredditBytes) return std::nullopt;
  size_t start = 0;
  while (start <= name.size()) {
    const size_t plus = std::min(name.find('+', start), name.size());
    if (!IsSubredditName(name.substr(start, plus - start))) return std::nullopt;
    start = plus + 1;
  }
  return std::string(name);
}

// Reddit writes x-ratelimit-remaining as a float ("599.0") and, so far,
// the other two as integers; all three are read either way.
std::optional<double> ParseNumber(std::optional<std::string_view> value) {
  if (!value) return std::nullopt;
  std::string_view text = TrimAsciiSpace(*value);
  double number = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc() || end != text.data() + text.size() || text.empty() ||
      !std::isfinite(number) || number < 0 || number > 1e12) {
    return std::nullopt;
  }
  return number;
}

Status BodyError(const HttpResponse& response, std::string_view what) {
  return Status::ParseError("reddit response from " +
                            (response.url.empty() ? std::string("<unknown URL>") : response.url) +
                            ": " + std::string(what));
}

void Skip(Page* page, const Thing& thing, size_t index) {
  ++page->skipped_items;
  page->warnings.push_back("item " + std::to_string(index) +
                           (thing.fullname.empty() ? std::string() : " (" + thing.fullname + ")") +
                           ": " + thing.reason);
}

// The things of a comment page ([Listing(t3), Listing(t1...)]) or a
// morechildren answer, as a page that leaves the cursor alone: a thread is
// not a page of the source's listing.
Page ThreadPage(std::vector<Thing> things, Page page) {
  std::set<std::string> seen;
  for (size_t i = 0; i < things.size(); ++i) {
    Thing& thing = things[i];
    switch (thing.kind) {
      case Thing::Kind::kPost:
        if (seen.insert(thing.fullname).second) page.posts.push_back(std::move(thing.post));
        break;
      case Thing::Kind::kGone:
        page.deletions.push_back({thing.fullname, thing.reason});
        break;
      case Thing::Kind::kMore:
        if (!thing.reason.empty()) page.warnings.push_back("more stub: " + thing.reason);
        break;
      case Thing::Kind::kBad:
      case Thing::Kind::kIgnored:
        Skip(&page, thing, i);
        break;
    }
  }
  return page;
}

}  // namespace

// ---- The listing cursor ----

std::optional<ListingCursor> ParseListingCursor(std::string_view text) {
  ListingCursor cursor;
  if (text.empty()) return cursor;
  size_t start = 0;
  bool first = true;
  while (start <= text.size()) {
    const size_t semicolon = std::min(text.find(';', start), text.size());
    const std::string_view part = text.substr(start, semicolon - start);
    start = semicolon + 1;
    if (first) {
      if (!IsFullname(part)) return std::nullopt;
      cursor.newest = std::string(part);
      first = false;
    } else if (part.starts_with("after=") && IsFullname(part.substr(6)) && cursor.after.empty()) {
      cursor.after = std::string(part.substr(6));
    } else if (part.starts_with("stop=") && IsFullname(part.substr(5)) && cursor.stop.empty()) {
      cursor.stop = std::string(part.substr(5));
    } else {
      return std::nullopt;
    }
  }
  if (cursor.after.empty() != cursor.stop.empty()) return std::nullopt;
  return cursor;
}

std::string FormatListingCursor(const ListingCursor& cursor) {
  std::string text = cursor.newest;
  if (cursor.walking()) text += ";after=" + cursor.after + ";stop=" + cursor.stop;
  return text;
}

// ---- NextRequest ----

Result<HttpRequest> NextRequest(const SourceSpec& source, const SourceCursor& cursor) {
  auto base = internal::ApiBase(source);
  if (!base.ok()) return base.status();
  auto agent = internal::UserAgent(source);
  if (!agent.ok()) return agent.status();
  const std::optional<std::string> subreddit = Subreddit(source);
  if (!subreddit) {
    return Invalid(source, "`subreddit` \"" + Excerpt(source.GetString("subreddit"), 60) +
                               "\" is not a subreddit name (letters, digits, '_'; several "
                               "joined by '+')");
  }
  const std::string query(TrimAsciiSpace(source.GetString("query")));
  if (subreddit->empty() && query.empty()) {
    return Invalid(source,
                   "set `subreddit` (its newest posts), `query` (search), or both "
                   "(search within the subreddit)");
  }
  if (query.size() > kMaxQueryBytes) {
    return Invalid(source, "`query` is longer than Reddit's 512 characters");
  }
  const int64_t limit = source.GetInt("limit", kMaxLimit);
  if (limit < 1 || limit > kMaxLimit) {
    return Invalid(source, "`limit` must be between 1 and 100, not " + std::to_string(limit));
  }
  const std::optional<ListingCursor> state = ParseListingCursor(cursor.cursor);
  if (!state) {
    return Invalid(source, "stored cursor \"" + Excerpt(cursor.cursor, 80) +
                               "\" is not a reddit listing cursor; reset the source's cursor");
  }

  HttpRequest request;
  std::string& url = request.url;
  if (query.empty()) {
    url = *base + "/r/" + *subreddit + "/new.json?";
  } else {
    url = *base + (subreddit->empty() ? std::string("/search.json?")
                                      : "/r/" + *subreddit + "/search.json?");
    internal::AppendParam(&url, "q", query);
    if (!subreddit->empty()) internal::AppendParam(&url, "restrict_sr", "1");
    internal::AppendParam(&url, "sort", "new");
    internal::AppendParam(&url, "t", "all");
    internal::AppendParam(&url, "type", "link");
  }
  internal::AppendParam(&url, "limit", std::to_string(limit));
  internal::AppendParam(&url, "raw_json", "1");
  if (state->walking()) internal::AppendParam(&url, "after", state->after);
  request.headers.Set("User-Agent", *agent);
  request.headers.Set("Accept", "application/json");
  return request;
}

// ---- Rate limits ----

RateLimitInfo ReadRateLimit(const HttpResponse& response) {
  RateLimitInfo info;
  const std::optional<double> used = ParseNumber(response.headers.Get("x-ratelimit-used"));
  const std::optional<double> remaining =
      ParseNumber(response.headers.Get("x-ratelimit-remaining"));
  const std::optional<double> reset = ParseNumber(response.headers.Get("x-ratelimit-reset"));
  // A fraction of a request left is none.
  if (remaining) info.remaining = static_cast<int64_t>(std::floor(*remaining));
  if (used && remaining) info.limit = std::llround(*used + *remaining);
  if (reset) {
    // Seconds until the window ends, counted from when Reddit answered.
    if (auto date = response.headers.Get("Date")) {
      auto answered = ParseHttpDate(TrimAsciiSpace(*date));
      constexpr double kMaxResetSeconds = 24.0 * 3600;
      if (answered.ok() && *reset <= kMaxResetSeconds) {
        info.reset = *answered + Duration(std::llround(*reset * 1000.0));
      }
    }
  }
  return info;
}

// ---- Parse ----

Result<Page> Parse(const SourceSpec& source, const SourceCursor& cursor,
                   const HttpResponse& response) {
  (void)source;
  Page page;
  page.rate_limit = ReadRateLimit(response);
  internal::JsonDocument doc;
  if (auto error = internal::ParseJson(response.body, &doc, &page.warnings)) {
    return BodyError(response, "invalid JSON: " + *error);
  }
  internal::ReadOptions options;
  options.legacy_escaped = internal::LegacyEscapedUrl(response.url);

  dom::array thread;
  if (doc.root.get_array().get(thread) == simdjson::SUCCESS) {
    // A comment page: [Listing(the link), Listing(its comments)].
    std::vector<Thing> things;
    size_t index = 0;
    for (dom::element element : thread) {
      internal::ListingData listing;
      if (auto problem = internal::ReadListing(element, &listing)) {
        return BodyError(response,
                         "comment page element " + std::to_string(index) + " " + *problem);
      }
      if (index == 0) {
        dom::element link;
        dom::element permalink;
        std::string_view text;
        if (listing.children.at(0).get(link) == simdjson::SUCCESS &&
            link.at_pointer("/data/permalink").get(permalink) == simdjson::SUCCESS &&
            permalink.get_string().get(text) == simdjson::SUCCESS) {
          options.thread_permalink = std::string(text);
        }
      }
      internal::ReadThings(listing.children, options, &things);
      ++index;
    }
    return ThreadPage(std::move(things), std::move(page));
  }

  dom::object object;
  if (doc.root.get_object().get(object) != simdjson::SUCCESS) {
    return BodyError(response, "body is a JSON " +
                                   std::string(internal::TypeName(doc.root.type())) +
                                   ", expected a Listing");
  }
  dom::element probe;
  if (object.at_key("json").get(probe) == simdjson::SUCCESS) {
    // An api_type=json answer (/api/morechildren, /api/comment).
    const auto errors = internal::ApiErrors(doc.root);
    if (!errors.empty()) return BodyError(response, "Reddit error: " + errors.front().ToString());
    dom::element things_value;
    dom::array things_array;
    if (doc.root.at_pointer("/json/data/things").get(things_value) != simdjson::SUCCESS ||
        things_value.get_array().get(things_array) != simdjson::SUCCESS) {
      return BodyError(response, "'json' answer without a 'data.things' array");
    }
    std::vector<Thing> things;
    internal::ReadThings(things_array, options, &things);
    return ThreadPage(std::move(things), std::move(page));
  }
  if (object.at_key("kind").get(probe) != simdjson::SUCCESS &&
      (object.at_key("error").get(probe) == simdjson::SUCCESS ||
       object.at_key("message").get(probe) == simdjson::SUCCESS)) {
    return BodyError(response, "server error: " + internal::ErrorDetail(response.body));
  }

  internal::ListingData listing;
  if (auto problem = internal::ReadListing(doc.root, &listing)) {
    return BodyError(response, "body " + *problem);
  }
  for (std::string& warning : listing.warnings) page.warnings.push_back(std::move(warning));
  std::vector<Thing> things;
  internal::ReadThings(listing.children, options, &things);

  // A cursor we cannot read is treated as none (a first poll): NextRequest
  // refuses it, so only `earshot parse` and tests get here with one.
  const ListingCursor state = ParseListingCursor(cursor.cursor).value_or(ListingCursor{});
  const bool first_poll = state.newest.empty();
  // Items newer than `stop` are new: between walks that is the newest seen
  // before this poll; during a walk, the newest seen before the walk began.
  const std::string stop = state.walking() ? state.stop : state.newest;
  std::string newest = state.newest;
  bool reached_known = false;
  size_t top_level_items = 0;
  std::set<std::string> seen;
  for (size_t i = 0; i < things.size(); ++i) {
    Thing& thing = things[i];
    const bool readable_id = !thing.fullname.empty();
    // An item without a readable id cannot be placed: it is warned about
    // (as new) but moves nothing.
    const bool is_new = first_poll || !readable_id || CompareIds(thing.fullname, stop) > 0;
    if (thing.top_level) {
      ++top_level_items;
      if (readable_id && !is_new) reached_known = true;
      // Unreadable and deleted items count too, so they are not asked for
      // again; only post and comment kinds order with the cursor.
      if (readable_id && thing.kind != Thing::Kind::kIgnored && thing.kind != Thing::Kind::kMore &&
          (newest.empty() || CompareIds(thing.fullname, newest) > 0)) {
        newest = thing.fullname;
      }
    }
    switch (thing.kind) {
      case Thing::Kind::kPost:
        if (is_new && seen.insert(thing.fullname).second) {
          page.posts.push_back(std::move(thing.post));
        }
        break;
      case Thing::Kind::kGone:
        // Reported whether new or not: a stored post that is gone now is
        // what the pipeline must hear about.
        page.deletions.push_back({thing.fullname, thing.reason});
        break;
      case Thing::Kind::kMore:
        if (!thing.reason.empty()) page.warnings.push_back("more stub: " + thing.reason);
        break;
      case Thing::Kind::kBad:
      case Thing::Kind::kIgnored:
        if (is_new) Skip(&page, thing, i);
        break;
    }
  }

  ListingCursor next;
  next.newest = newest;
  if (first_poll) {
    // The newest page only: a source does not crawl a subreddit's history.
    page.caught_up = true;
  } else if (!state.walking()) {
    // This was the newest page. If even its oldest item is new, more new
    // ones may lie beyond it: walk `after` pages down to `stop`.
    if (!reached_known && !listing.after.empty() && top_level_items > 0) {
      next.after = listing.after;
      next.stop = state.newest;
      page.caught_up = false;
    }
  } else {
    // An older page of a walk; `newest` was fixed by the walk's first page.
    if (!reached_known && !listing.after.empty() && top_level_items > 0) {
      next.after = listing.after;
      next.stop = state.stop;
      page.caught_up = false;
    }
  }
  const std::string formatted = next.newest.empty() ? std::string() : FormatListingCursor(next);
  if (formatted != cursor.cursor) page.next_cursor = formatted;
  return page;
}

// ---- The descriptor ----

namespace {

// Reddit's words for a failed request: {"message", "error"}, OAuth's
// {"error", "error_description"} or an api_type=json error list.
std::string ErrorDetailOf(const HttpResponse& response) {
  return internal::ErrorDetail(response.body);
}

}  // namespace

const ConnectorDescriptor& Descriptor() {
  static const AuthCapability kAuth{
      .session_request = &SessionRequest,
      .parse_session = &ParseSession,
      .authorize = &Authorize,
  };
  static const ConversationCapability kConversation{
      .request = &ConversationRequest,
      .parse = &ParseConversation,
      .parse_after = &ParseConversationAfter,
  };
  static const ReplyCapability kReply{
      .request = &ReplyRequest,
      .parse = &ParseReply,
      .max_length = 10000,
  };
  static const ConnectorDescriptor kDescriptor{
      .name = internal::kPlatform,
      .summary =
          "Reddit: a subreddit's newest posts or post search, over OAuth "
          "(`url` = API base, default https://oauth.reddit.com)",
      .keys =
          {
              {.name = "subreddit",
               .type = ConfigKeySpec::Type::kString,
               .doc = "Subreddit to follow, without or with \"r/\" (several joined by '+': "
                      "\"nhs+unitedkingdom\"): GET /r/NAME/new. With `query`, search is "
                      "restricted to it."},
              {.name = "query",
               .type = ConfigKeySpec::Type::kString,
               .doc = "Search terms (Reddit search syntax, up to 512 characters): GET "
                      "/search (or /r/NAME/search with `subreddit`), newest first."},
              {.name = "limit",
               .type = ConfigKeySpec::Type::kInteger,
               .default_value = "100",
               .doc = "Posts per request, 1 to 100 (Reddit's maximum)."},
              {.name = "client_id",
               .type = ConfigKeySpec::Type::kString,
               .secret = true,
               .doc = "OAuth client id of the Reddit app (reddit.com/prefs/apps); write "
                      "\"${REDDIT_CLIENT_ID}\". Required: the API host answers only with a "
                      "token."},
              {.name = "client_secret",
               .type = ConfigKeySpec::Type::kString,
               .secret = true,
               .doc = "OAuth client secret (\"${REDDIT_CLIENT_SECRET}\"). Empty for an "
                      "\"installed app\", which gets an application-only token through the "
                      "installed_client grant."},
              {.name = "username",
               .type = ConfigKeySpec::Type::kString,
               .doc = "Reddit account of a \"script\" app (the organisation's reply "
                      "account): with `password`, the password grant instead of "
                      "application-only access. Needed to publish replies."},
              {.name = "password",
               .type = ConfigKeySpec::Type::kString,
               .secret = true,
               .doc = "Password of `username` (\"${REDDIT_PASSWORD}\")."},
              {.name = "token_url",
               .type = ConfigKeySpec::Type::kString,
               .default_value = std::string(internal::kDefaultTokenUrl),
               .doc = "OAuth2 token endpoint (a local one for tests)."},
              {.name = "user_agent",
               .type = ConfigKeySpec::Type::kString,
               .doc = "User-Agent sent on every request, as Reddit requires: "
                      "\"<platform>:<app id>:<version> (by /u/<username>)\". Default "
                      "\"server:earshot:0.1 (NHS social-media listening; "
                      "+https://github.com/earshot-nhs/earshot[; by /u/USERNAME])\"."},
          },
      .next_request = &NextRequest,
      .parse = &Parse,
      .read_rate_limit = &ReadRateLimit,
      .auth = &kAuth,
      .conversation = &kConversation,
      .reply = &kReply,
      .error_detail = &ErrorDetailOf,
  };
  return kDescriptor;
}

}  // namespace earshot::connector_reddit
