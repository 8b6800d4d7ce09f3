// A stored post's conversation: the comment page of its link, then the
// comments behind its "more" stubs through /api/morechildren, then the
// reply chains behind its "continue this thread" stubs, one comment page
// each (/comments/ARTICLE.json?comment=ID).
#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/reddit/internal.h"
#include "connectors/reddit/reddit.h"
#include "crawler/core/strings.h"

namespace earshot::connector_reddit {

namespace {

namespace dom = simdjson::dom;
using internal::Excerpt;
using internal::Thing;

// Comments per comment page; Reddit serves at most 500.
constexpr int kCommentLimit = 500;
// "continue this thread" chains queued in a cursor. Each costs one request
// and the engine's max_pages_per_poll bounds a fetch anyway; this keeps a
// hostile page from filling the cursor.
constexpr size_t kMaxDeeperThreads = 20;

// The link (t3) whose comment page holds `post`: the post itself, or the
// link a comment belongs to.
std::string LinkOf(const Post& post) {
  if (IsFullname(post.id) && post.id.starts_with("t3_")) return post.id;
  if (IsFullname(post.conversation) && post.conversation.starts_with("t3_")) {
    return post.conversation;
  }
  return {};
}

// The cursor: comma-separated tokens, "ID36" a comment behind a "more"
// stub (for morechildren), "~ID36" a comment whose deeper replies are still
// to load ("continue this thread"). Ids come first; they are all fetched
// before any deeper chain.
struct Pending {
  std::vector<std::string> ids;
  std::vector<std::string> deeper;
};

std::optional<Pending> ParsePending(std::string_view cursor) {
  Pending pending;
  if (cursor.empty()) return pending;
  size_t start = 0;
  while (start <= cursor.size()) {
    const size_t comma = std::min(cursor.find(',', start), cursor.size());
    std::string_view token = cursor.substr(start, comma - start);
    if (token.starts_with('~')) {
      token.remove_prefix(1);
      if (!IsId36(token) || pending.deeper.size() >= kMaxDeeperThreads) return std::nullopt;
      pending.deeper.emplace_back(token);
    } else {
      if (!IsId36(token) || !pending.deeper.empty() ||
          pending.ids.size() >= internal::kMaxPendingChildren) {
        return std::nullopt;
      }
      pending.ids.emplace_back(token);
    }
    start = comma + 1;
  }
  return pending;
}

Status StatusForApiError(const internal::ApiError& error, const std::string& message) {
  if (error.code == "RATELIMIT") return Status::RateLimited(message);
  if (error.code == "USER_REQUIRED") return Status::Unauthenticated(message);
  return Status::InvalidArgument(message);
}

}  // namespace

Result<HttpRequest> ConversationRequest(const SourceSpec& source, const Post& post,
                                        std::string_view cursor) {
  auto base = internal::ApiBase(source);
  if (!base.ok()) return base.status();
  auto agent = internal::UserAgent(source);
  if (!agent.ok()) return agent.status();
  const std::string link = LinkOf(post);
  if (link.empty()) {
    return Status::InvalidArgument("reddit conversation: post \"" + Excerpt(post.id, 40) +
                                   "\" is neither a link (t3_) nor a comment of one");
  }
  HttpRequest request;
  const auto pending = ParsePending(cursor);
  if (!pending) {
    return Status::InvalidArgument("reddit conversation of " + post.id + ": cursor \"" +
                                   Excerpt(cursor, 60) +
                                   "\" is not a list of comment ids this connector wrote");
  }
  if (pending->ids.empty()) {
    // The link's comment page, or the page of one comment whose replies
    // Reddit cut off ("continue this thread"), in the documented form.
    request.url = *base + "/comments/" + std::string(internal::Id36Of(link)) + ".json?";
    if (!pending->deeper.empty())
      internal::AppendParam(&request.url, "comment", pending->deeper[0]);
    internal::AppendParam(&request.url, "limit", std::to_string(kCommentLimit));
    internal::AppendParam(&request.url, "sort", "new");
    internal::AppendParam(&request.url, "raw_json", "1");
  } else {
    std::string children;
    for (const std::string& id : pending->ids) {
      if (!children.empty()) children += ',';
      children += id;
    }
    // POST, as PRAW does: a long list of ids does not fit a URL.
    request.method = "POST";
    request.url = *base + "/api/morechildren?raw_json=1";
    internal::AppendParam(&request.body, "api_type", "json");
    internal::AppendParam(&request.body, "link_id", link);
    internal::AppendParam(&request.body, "children", children);
    internal::AppendParam(&request.body, "sort", "new");
    internal::AppendParam(&request.body, "limit_children", "false");
    request.headers.Set("Content-Type", "application/x-www-form-urlencoded");
  }
  request.headers.Set("User-Agent", *agent);
  request.headers.Set("Accept", "application/json");
  return request;
}

Result<Page> ParseConversation(const SourceSpec& source, const Post& post,
                               const HttpResponse& response) {
  return ParseConversationAfter(source, post, "", response);
}

Result<Page> ParseConversationAfter(const SourceSpec& source, const Post& post,
                                    std::string_view cursor, const HttpResponse& response) {
  (void)source;
  // The chains still queued from earlier pages: all of them after a
  // morechildren call, all but the one just loaded after a comment page.
  std::vector<std::string> carried;
  std::string loaded;  // the comment whose deeper replies this page holds
  if (auto pending = ParsePending(cursor)) {
    carried = std::move(pending->deeper);
    if (pending->ids.empty() && !carried.empty()) {
      loaded = std::move(carried.front());
      carried.erase(carried.begin());
    }
  }
  const std::string where = "reddit conversation of " + post.id + ": " +
                            (response.url.empty() ? std::string("<unknown URL>") : response.url);
  Page page;
  page.rate_limit = ReadRateLimit(response);
  if (response.status == 404 || response.status == 410) {
    page.deletions.push_back(
        {post.uid.empty() ? post.id : post.uid, std::string(internal::kNotFoundOnRefetch)});
    return page;
  }
  if (response.status < 200 || response.status >= 300) {
    return StatusFromHttp(response.status, where, internal::ErrorDetail(response.body));
  }
  internal::JsonDocument doc;
  if (auto error = internal::ParseJson(response.body, &doc, &page.warnings)) {
    return Status::ParseError(where + ": invalid JSON: " + *error);
  }
  internal::ReadOptions options;
  options.legacy_escaped = internal::LegacyEscapedUrl(response.url);

  std::vector<Thing> things;
  bool more_children_answer = false;
  dom::array thread;
  dom::object object;
  if (doc.root.get_array().get(thread) == simdjson::SUCCESS) {
    size_t index = 0;
    for (dom::element element : thread) {
      internal::ListingData listing;
      if (auto problem = internal::ReadListing(element, &listing)) {
        return Status::ParseError(where + ": comment page element " + std::to_string(index) + " " +
                                  *problem);
      }
      dom::element link;
      dom::element permalink;
      std::string_view text;
      if (index == 0 && listing.children.at(0).get(link) == simdjson::SUCCESS &&
          link.at_pointer("/data/permalink").get(permalink) == simdjson::SUCCESS &&
          permalink.get_string().get(text) == simdjson::SUCCESS) {
        options.thread_permalink = std::string(text);
      }
      internal::ReadThings(listing.children, options, &things);
      ++index;
    }
  } else if (doc.root.get_object().get(object) == simdjson::SUCCESS &&
             object.at_key("json").error() == simdjson::SUCCESS) {
    const auto errors = internal::ApiErrors(doc.root);
    if (!errors.empty()) {
      return StatusForApiError(errors.front(), where + ": HTTP " + std::to_string(response.status) +
                                                   ": " + errors.front().ToString());
    }
    dom::element things_value;
    dom::array things_array;
    if (doc.root.at_pointer("/json/data/things").get(things_value) != simdjson::SUCCESS ||
        things_value.get_array().get(things_array) != simdjson::SUCCESS) {
      return Status::ParseError(where + ": 'json' answer without a 'data.things' array");
    }
    more_children_answer = true;
    internal::ReadThings(things_array, options, &things);
  } else {
    internal::ListingData listing;
    if (auto problem = internal::ReadListing(doc.root, &listing)) {
      return Status::ParseError(where + ": body " + *problem +
                                " (expected a comment page or a morechildren answer)");
    }
    internal::ReadThings(listing.children, options, &things);
  }

  std::set<std::string> seen;
  std::set<std::string> pending_set;
  std::vector<std::string> pending;
  std::set<std::string> deeper_set(carried.begin(), carried.end());
  if (!loaded.empty()) deeper_set.insert(loaded);  // never asked for twice in a row
  std::vector<std::string> deeper = std::move(carried);
  size_t deeper_dropped = 0;
  size_t deeper_unreadable = 0;
  size_t dropped = 0;
  size_t read = 0;  // things that are, or were, comments and links
  for (size_t i = 0; i < things.size(); ++i) {
    Thing& thing = things[i];
    switch (thing.kind) {
      case Thing::Kind::kPost:
        ++read;
        if (seen.insert(thing.fullname).second) page.posts.push_back(std::move(thing.post));
        break;
      case Thing::Kind::kGone:
        ++read;
        page.deletions.push_back({thing.fullname, thing.reason});
        break;
      case Thing::Kind::kMore:
        if (!thing.reason.empty()) page.warnings.push_back("more stub: " + thing.reason);
        // "continue this thread": no ids, only a deeper page of its parent.
        if (thing.children.empty()) {
          const std::string_view parent = internal::Id36Of(thing.parent_id);
          if (!thing.parent_id.starts_with("t1_") || !IsId36(parent)) {
            ++deeper_unreadable;
          } else if (deeper_set.count(std::string(parent)) > 0) {
            // Already queued, or the very comment this page was asked for.
          } else if (deeper.size() >= kMaxDeeperThreads) {
            ++deeper_dropped;
          } else {
            deeper_set.emplace(parent);
            deeper.emplace_back(parent);
          }
        }
        for (std::string& id : thing.children) {
          if (pending.size() >= internal::kMaxPendingChildren) {
            ++dropped;
          } else if (pending_set.insert(id).second) {
            pending.push_back(std::move(id));
          }
        }
        break;
      case Thing::Kind::kBad:
      case Thing::Kind::kIgnored:
        ++read;
        ++page.skipped_items;
        page.warnings.push_back(
            "item " + std::to_string(i) +
            (thing.fullname.empty() ? std::string() : " (" + thing.fullname + ")") + ": " +
            thing.reason);
        break;
    }
  }
  if (deeper_unreadable > 0) {
    page.warnings.push_back(std::to_string(deeper_unreadable) +
                            " \"continue this thread\" stub(s) without a comment parent_id");
  }
  if (deeper_dropped > 0) {
    page.warnings.push_back(std::to_string(deeper_dropped) +
                            " deeper reply chain(s) (\"continue this thread\") beyond " +
                            std::to_string(kMaxDeeperThreads) + " not followed");
  }
  if (dropped > 0) {
    page.warnings.push_back(std::to_string(dropped) + " comment id(s) beyond " +
                            std::to_string(internal::kMaxPendingChildren) + " not followed");
  }
  // A morechildren answer that loads nothing would be asked again forever.
  if (more_children_answer && read == 0 && !pending.empty()) {
    page.warnings.push_back("morechildren loaded no comment; " + std::to_string(pending.size()) +
                            " remaining id(s) not followed");
    pending.clear();
  }
  for (const std::string& id : pending) {
    if (!page.next_cursor.empty()) page.next_cursor += ',';
    page.next_cursor += id;
  }
  for (const std::string& id : deeper) {
    if (!page.next_cursor.empty()) page.next_cursor += ',';
    page.next_cursor += "~" + id;
  }
  page.caught_up = page.next_cursor.empty();
  return page;
}

}  // namespace earshot::connector_reddit
