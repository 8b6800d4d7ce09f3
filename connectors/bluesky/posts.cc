// Reading Bluesky posts: a postView (search result or thread node) into a
// Post, link facets into its text, and getPostThread trees into a page.
#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connectors/bluesky/bluesky.h"
#include "connectors/bluesky/internal.h"
#include "crawler/core/strings.h"
#include "crawler/core/text.h"
#include "crawler/core/time_format.h"

namespace earshot::connector_bluesky {

namespace {

namespace dom = simdjson::dom;
using internal::Fields;

constexpr std::string_view kLinkFeature = "app.bsky.richtext.facet#link";
// A createdAt later than indexedAt by more than this is a wrong clock or a
// trick to stay on top of chronological lists (Bluesky's CLOCK_SKEW_WINDOW).
constexpr auto kClockSkewWindow = std::chrono::minutes(2);
// Facet problems reported per post; the rest are counted in one note.
constexpr int kMaxFacetNotes = 3;
constexpr size_t kMaxLanguageLength = 35;

std::string Clip(std::string_view text, size_t limit = 80) {
  if (text.size() <= limit) return RepairUtf8(text);
  size_t cut = limit;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return RepairUtf8(text.substr(0, cut)) + "...";
}

bool IsCharBoundary(std::string_view text, size_t at) {
  return at >= text.size() || (static_cast<unsigned char>(text[at]) & 0xC0) != 0x80;
}

bool StartsWithNoCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && EqualsIgnoreCase(text.substr(0, prefix.size()), prefix);
}

// What replaces a link facet's display text, or nullopt to keep it.
std::optional<std::string> ExpandedLink(std::string_view display, std::string_view uri) {
  if (!(StartsWithNoCase(uri, "https://") || StartsWithNoCase(uri, "http://"))) return std::nullopt;
  if (display == uri) return std::nullopt;
  std::string_view without_scheme = uri.substr(uri.find("://") + 3);
  std::string_view without_www =
      StartsWithNoCase(without_scheme, "www.") ? without_scheme.substr(4) : without_scheme;
  std::string_view shown = display;
  bool truncated = false;
  for (std::string_view ellipsis : {std::string_view("..."), std::string_view("\u2026")}) {
    if (shown.ends_with(ellipsis)) {
      shown.remove_suffix(ellipsis.size());
      truncated = true;
      break;
    }
  }
  auto is_prefix_of = [&](std::string_view full) {
    return !shown.empty() && StartsWithNoCase(full, shown);
  };
  if (truncated &&
      (is_prefix_of(uri) || is_prefix_of(without_scheme) || is_prefix_of(without_www))) {
    return std::string(uri);
  }
  if (!truncated) {
    auto same = [&](std::string_view a, std::string_view b) {
      while (a.ends_with('/')) a.remove_suffix(1);
      while (b.ends_with('/')) b.remove_suffix(1);
      return EqualsIgnoreCase(a, b);
    };
    // The whole address, perhaps without its scheme or final '/', or some
    // other address written out: nothing is hidden behind the text.
    if (same(shown, uri) || same(shown, without_scheme) || same(shown, without_www) ||
        StartsWithNoCase(shown, "https://") || StartsWithNoCase(shown, "http://")) {
      return std::nullopt;
    }
  }
  // Anchor text ("our A&E survey"): keep it, and say where it points.
  return std::string(display) + " (" + std::string(uri) + ")";
}

// Plain text as stored: line breaks kept (they are the author's), other
// control characters dropped, CRLF and CR as LF, NFC, trimmed.
std::string CleanText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\r') {
      out += '\n';
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else if (c == '\n' || c == '\t' || static_cast<unsigned char>(c) >= 0x20) {
      if (c != 0x7f) out += c;
    }
  }
  return std::string(TrimAsciiSpace(ToNfc(out)));
}

bool IsPlausibleLanguage(std::string_view tag) {
  if (tag.empty() || tag.size() > kMaxLanguageLength) return false;
  for (char c : tag) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
  }
  return true;
}

// The link facets of a record; anything malformed is left out with a note
// (a post is worth keeping without its links).
std::vector<LinkFacet> ReadLinkFacets(dom::element facets, std::vector<std::string>* notes) {
  std::vector<LinkFacet> links;
  dom::array array;
  if (facets.get_array().get(array) != simdjson::SUCCESS) {
    notes->push_back("'record.facets' is " + std::string(internal::TypeName(facets.type())) +
                     ", expected array; links not expanded");
    return links;
  }
  int bad = 0;
  auto note = [&](size_t index, const std::string& what) {
    if (++bad <= kMaxFacetNotes) {
      notes->push_back("facet " + std::to_string(index) + ": " + what + "; ignored");
    }
  };
  size_t index = 0;
  for (dom::element facet : array) {
    const size_t i = index++;
    dom::object object;
    if (facet.get_object().get(object) != simdjson::SUCCESS) {
      note(i, "is " + std::string(internal::TypeName(facet.type())) + ", expected object");
      continue;
    }
    dom::object range;
    int64_t start = 0;
    int64_t end = 0;
    if (object["index"].get_object().get(range) != simdjson::SUCCESS ||
        range["byteStart"].get_int64().get(start) != simdjson::SUCCESS ||
        range["byteEnd"].get_int64().get(end) != simdjson::SUCCESS) {
      note(i, "'index' lacks integer byteStart and byteEnd");
      continue;
    }
    dom::array features;
    if (object["features"].get_array().get(features) != simdjson::SUCCESS) {
      note(i, "'features' is not an array");
      continue;
    }
    for (dom::element feature : features) {
      std::string_view type;
      std::string_view uri;
      if (feature["$type"].get_string().get(type) != simdjson::SUCCESS || type != kLinkFeature) {
        continue;  // mentions and tags: their text is already in the post
      }
      if (feature["uri"].get_string().get(uri) != simdjson::SUCCESS || uri.empty() ||
          uri.size() > internal::kMaxUriLength) {
        note(i, "link without a usable 'uri'");
        break;
      }
      if (std::any_of(uri.begin(), uri.end(),
                      [](char c) { return static_cast<unsigned char>(c) <= 0x20; })) {
        note(i, "link 'uri' contains spaces or control characters");
        break;
      }
      links.push_back({start, end, std::string(uri)});
      break;
    }
  }
  if (bad > kMaxFacetNotes) {
    notes->push_back(std::to_string(bad - kMaxFacetNotes) + " more malformed facet(s) ignored");
  }
  return links;
}

bool ReadStrongRef(Fields& reply, std::string_view key, internal::StrongRef* out) {
  auto object = reply.RequiredObject(key);
  if (!object) return false;
  Fields ref(*object);
  std::string_view uri = ref.RequiredString("uri");
  std::string_view cid = ref.RequiredString("cid");
  if (ref.ok() && !internal::IsPostUri(uri)) {
    ref.Fail("'uri' \"" + Clip(uri) + "\" is not a post at-uri");
  }
  if (ref.ok() && !internal::IsPlausibleCid(cid)) ref.Fail("'cid' is not a CID");
  if (!ref.ok()) {
    reply.Fail(std::string(key) + ": " + ref.error());
    return false;
  }
  out->uri = std::string(uri);
  out->cid = std::string(cid);
  return true;
}

std::optional<TimePoint> ReadTime(std::optional<std::string_view> text, std::string_view name,
                                  std::vector<std::string>* notes) {
  if (!text) return std::nullopt;
  auto time = ParseIso8601(*text);
  if (!time.ok()) {
    notes->push_back("'" + std::string(name) + "' \"" + Clip(*text, 40) +
                     "\" is not a time: " + time.status().message());
    return std::nullopt;
  }
  return *time;
}

}  // namespace

std::string ApplyLinkFacets(std::string_view text, std::vector<LinkFacet> facets,
                            std::vector<std::string>* notes) {
  std::stable_sort(facets.begin(), facets.end(), [](const LinkFacet& a, const LinkFacet& b) {
    return a.byte_start < b.byte_start;
  });
  auto note = [&](const LinkFacet& f, const std::string& what) {
    if (notes != nullptr) {
      notes->push_back("link facet [" + std::to_string(f.byte_start) + ", " +
                       std::to_string(f.byte_end) + ") " + what + "; not expanded");
    }
  };
  const auto size = static_cast<int64_t>(text.size());
  std::string out;
  int64_t done = 0;
  for (const LinkFacet& f : facets) {
    if (f.byte_start < 0 || f.byte_end > size || f.byte_start >= f.byte_end) {
      note(f, "is outside the text's " + std::to_string(size) + " bytes");
      continue;
    }
    if (f.byte_start < done) {
      note(f, "overlaps the previous one");
      continue;
    }
    const auto start = static_cast<size_t>(f.byte_start);
    const auto end = static_cast<size_t>(f.byte_end);
    if (!IsCharBoundary(text, start) || !IsCharBoundary(text, end)) {
      note(f, "splits a multi-byte character");
      continue;
    }
    auto replacement = ExpandedLink(text.substr(start, end - start), f.uri);
    if (!replacement) continue;
    out.append(text.substr(static_cast<size_t>(done), start - static_cast<size_t>(done)));
    out += *replacement;
    done = f.byte_end;
  }
  out.append(text.substr(static_cast<size_t>(done)));
  return out;
}

std::string PostWebUrl(std::string_view at_uri, std::string_view handle) {
  auto parts = internal::SplitAtUri(at_uri);
  if (!parts || parts->collection != internal::kPostCollection) return {};
  // "handle.invalid" is what the AppView shows for a handle that no longer
  // resolves; bsky.app takes the DID instead.
  bool usable = !handle.empty() && handle != "handle.invalid" && handle.size() <= 253 &&
                std::all_of(handle.begin(), handle.end(), [](char c) {
                  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '.' || c == '-';
                });
  return "https://bsky.app/profile/" + std::string(usable ? handle : parts->authority) + "/post/" +
         std::string(parts->rkey);
}

namespace internal {

std::string EncodeRef(std::string_view uri, std::string_view cid, std::string_view root_uri,
                      std::string_view root_cid) {
  boost::json::object root{{"uri", root_uri}, {"cid", root_cid}};
  boost::json::object ref{{"uri", uri}, {"cid", cid}, {"root", std::move(root)}};
  return boost::json::serialize(ref);
}

std::optional<PostRef> DecodeRef(std::string_view text) {
  boost::json::error_code ec;
  boost::json::value value = boost::json::parse(text, ec);
  if (ec || !value.is_object()) return std::nullopt;
  auto read = [](const boost::json::object& o, StrongRef* out) {
    const auto* uri = o.if_contains("uri");
    const auto* cid = o.if_contains("cid");
    if (!uri || !cid || !uri->is_string() || !cid->is_string()) return false;
    out->uri = std::string(uri->as_string());
    out->cid = std::string(cid->as_string());
    return IsPostUri(out->uri) && IsPlausibleCid(out->cid);
  };
  PostRef ref;
  const boost::json::object& object = value.as_object();
  if (!read(object, &ref.post)) return std::nullopt;
  const auto* root = object.if_contains("root");
  if (!root || !root->is_object() || !read(root->as_object(), &ref.root)) return std::nullopt;
  return ref;
}

PostItem ReadPostView(dom::element element) {
  PostItem item;
  dom::object view;
  if (element.get_object().get(view) != simdjson::SUCCESS) {
    item.problem = "is " + std::string(TypeName(element.type())) + ", expected a post view object";
    return item;
  }
  Fields fields(view);
  std::string_view uri = fields.RequiredString("uri");
  if (fields.ok() && !IsPostUri(uri)) {
    fields.Fail("'uri' \"" + Clip(uri) + "\" is not an app.bsky.feed.post at-uri");
  }
  std::string_view cid = fields.RequiredString("cid");
  if (fields.ok() && !IsPlausibleCid(cid)) fields.Fail("'cid' \"" + Clip(cid) + "\" is not a CID");
  auto author = fields.RequiredObject("author");
  auto record = fields.RequiredObject("record");
  auto indexed_text = fields.OptionalString("indexedAt");
  if (!fields.ok()) {
    item.problem = fields.error();
    return item;
  }

  Fields author_fields(*author);
  std::string_view did = author_fields.RequiredString("did");
  std::string_view handle = author_fields.OptionalString("handle").value_or("");
  std::string_view display_name = author_fields.OptionalString("displayName").value_or("");
  if (author_fields.ok() && !IsPlausibleDid(did)) {
    author_fields.Fail("'did' \"" + Clip(did) + "\" is not a DID");
  }
  if (!author_fields.ok()) {
    item.problem = "author: " + author_fields.error();
    return item;
  }

  Fields record_fields(*record);
  auto type = record_fields.OptionalString("$type");
  if (type && *type != kPostCollection) {
    record_fields.Fail("'$type' \"" + Clip(*type) + "\" is not a post");
  }
  std::string_view text = record_fields.RequiredString("text");
  auto created_text = record_fields.OptionalString("createdAt");
  auto reply = record_fields.OptionalObject("reply");
  auto langs = record_fields.OptionalArray("langs");
  StrongRef root{std::string(uri), std::string(cid)};
  StrongRef parent;
  if (reply && record_fields.ok()) {
    Fields reply_fields(*reply);
    ReadStrongRef(reply_fields, "root", &root);
    ReadStrongRef(reply_fields, "parent", &parent);
    if (!reply_fields.ok()) record_fields.Fail("reply: " + reply_fields.error());
  }
  if (!record_fields.ok()) {
    item.problem = "record: " + record_fields.error();
    return item;
  }

  std::optional<TimePoint> created = ReadTime(created_text, "record.createdAt", &item.notes);
  std::optional<TimePoint> indexed = ReadTime(indexed_text, "indexedAt", &item.notes);
  if (!created && !indexed) {
    item.problem = "neither 'record.createdAt' nor 'indexedAt' is a readable time";
    item.notes.clear();
    return item;
  }
  Post& post = item.post;
  if (!created) {
    if (!created_text) item.notes.push_back("'record.createdAt' is missing");
    item.notes.push_back("indexedAt used as its creation time");
    post.created_at = indexed;
  } else if (indexed && *created > *indexed + kClockSkewWindow) {
    item.notes.push_back("'record.createdAt' " + FormatRfc3339(*created) +
                         " is later than indexedAt; indexedAt used as its creation time");
    post.created_at = indexed;
  } else {
    post.created_at = created;
  }
  item.sort_at = created && indexed ? std::min(*created, *indexed) : *post.created_at;

  std::vector<LinkFacet> links;
  dom::element facets;
  if ((*record).at_key("facets").get(facets) == simdjson::SUCCESS && !facets.is_null()) {
    links = ReadLinkFacets(facets, &item.notes);
  }
  post.text = CleanText(ApplyLinkFacets(text, std::move(links), &item.notes));

  if (langs) {
    std::string_view first;
    for (dom::element lang : *langs) {
      if (lang.get_string().get(first) == simdjson::SUCCESS && IsPlausibleLanguage(first)) {
        post.language = std::string(first);
      }
      break;
    }
  }

  post.platform = std::string(kPlatform);
  post.id = std::string(uri);
  post.uid = post.id;
  post.url = PostWebUrl(uri, handle);
  post.author_handle =
      "@" + std::string(!handle.empty() && handle != "handle.invalid" ? handle : did);
  post.author_name = NormalizeText(display_name);
  if (reply) {
    post.reply_to = parent.uri;
    post.conversation = root.uri;
  }
  post.ref = EncodeRef(uri, cid, root.uri, root.cid);
  item.ok = true;
  return item;
}

namespace {

enum class NodeKind { kPost, kNotFound, kBlocked, kBad };

struct Node {
  NodeKind kind = NodeKind::kBad;
  dom::object object;
  std::string problem;
};

constexpr std::string_view kThreadViewPost = "app.bsky.feed.defs#threadViewPost";
constexpr std::string_view kNotFoundPost = "app.bsky.feed.defs#notFoundPost";
constexpr std::string_view kBlockedPost = "app.bsky.feed.defs#blockedPost";

Node Classify(dom::element element) {
  Node node;
  if (element.get_object().get(node.object) != simdjson::SUCCESS) {
    node.problem = "is " + std::string(TypeName(element.type())) + ", expected a thread node";
    return node;
  }
  std::string_view type;
  dom::element probe;
  if (node.object.at_key("$type").get(probe) == simdjson::SUCCESS &&
      probe.get_string().get(type) == simdjson::SUCCESS) {
    if (type == kThreadViewPost) {
      node.kind = NodeKind::kPost;
    } else if (type == kNotFoundPost) {
      node.kind = NodeKind::kNotFound;
    } else if (type == kBlockedPost) {
      node.kind = NodeKind::kBlocked;
    } else {
      node.problem = "unknown $type \"" + Clip(type) + "\"";
    }
    return node;
  }
  // Without $type (older servers, hand-made bodies): by shape.
  bool flag = false;
  if (node.object.at_key("post").get(probe) == simdjson::SUCCESS) {
    node.kind = NodeKind::kPost;
  } else if (node.object["notFound"].get_bool().get(flag) == simdjson::SUCCESS && flag) {
    node.kind = NodeKind::kNotFound;
  } else if (node.object["blocked"].get_bool().get(flag) == simdjson::SUCCESS && flag) {
    node.kind = NodeKind::kBlocked;
  } else {
    node.problem = "neither a post, a not-found post nor a blocked post";
  }
  return node;
}

class ThreadReader {
 public:
  explicit ThreadReader(Page& page) : page_(page) {
    for (const Post& post : page.posts) seen_posts_.insert(post.uid);
    for (const Deletion& deletion : page.deletions) seen_deletions_.insert(deletion.uid);
  }

  void Read(dom::element anchor_element) {
    Node anchor = Classify(anchor_element);
    // The parent chain, nearest first.
    std::vector<std::pair<dom::element, Node>> chain;
    const Node* current = &anchor;
    while (current->kind == NodeKind::kPost) {
      dom::element parent;
      if (current->object.at_key("parent").get(parent) != simdjson::SUCCESS || parent.is_null()) {
        break;
      }
      chain.emplace_back(parent, Classify(parent));
      current = &chain.back().second;
    }
    for (size_t i = chain.size(); i-- > 0;) {
      Emit(chain[i].second, "parent " + std::to_string(i + 1));
    }
    Emit(anchor, "anchor");
    Replies(anchor);
    // Servers send parents without replies; if one does, they belong here too.
    for (auto& [element, node] : chain) Replies(node);
  }

 private:
  // Every reply below `top`, depth first, without recursion (a hostile
  // body may nest as deep as the JSON parser allows).
  void Replies(const Node& top) {
    std::vector<dom::element> stack;
    Push(top, &stack);
    while (!stack.empty()) {
      dom::element element = stack.back();
      stack.pop_back();
      Node node = Classify(element);
      Emit(node, "reply " + std::to_string(++replies_));
      Push(node, &stack);
    }
  }

  void Push(const Node& node, std::vector<dom::element>* stack) {
    if (node.kind != NodeKind::kPost) return;
    dom::element replies;
    if (node.object.at_key("replies").get(replies) != simdjson::SUCCESS || replies.is_null()) {
      return;
    }
    dom::array array;
    if (replies.get_array().get(array) != simdjson::SUCCESS) {
      page_.warnings.push_back("thread node " + UriOf(node) + ": 'replies' is " +
                               std::string(TypeName(replies.type())) + ", ignored");
      return;
    }
    const size_t first = stack->size();
    for (dom::element reply : array) stack->push_back(reply);
    std::reverse(stack->begin() + static_cast<std::ptrdiff_t>(first), stack->end());
  }

  static std::string UriOf(const Node& node) {
    std::string_view uri;
    dom::object post;
    if (node.object["uri"].get_string().get(uri) != simdjson::SUCCESS &&
        !(node.object["post"].get_object().get(post) == simdjson::SUCCESS &&
          post["uri"].get_string().get(uri) == simdjson::SUCCESS)) {
      return "(no uri)";
    }
    return Clip(uri, 200);
  }

  void Skip(const std::string& label, const std::string& problem) {
    ++page_.skipped_items;
    page_.warnings.push_back("thread " + label + ": " + problem);
  }

  void Emit(const Node& node, const std::string& label) {
    switch (node.kind) {
      case NodeKind::kBad:
        Skip(label, node.problem);
        return;
      case NodeKind::kNotFound:
      case NodeKind::kBlocked: {
        std::string_view uri;
        if (node.object["uri"].get_string().get(uri) != simdjson::SUCCESS || !IsPostUri(uri)) {
          Skip(label, "a gone post without a post at-uri");
          return;
        }
        if (seen_deletions_.insert(std::string(uri)).second) {
          page_.deletions.push_back(
              {std::string(uri), node.kind == NodeKind::kNotFound
                                     ? "not found: deleted by its author or removed"
                                     : "blocked: hidden from this account by a block"});
        }
        return;
      }
      case NodeKind::kPost: {
        dom::element view;
        if (node.object.at_key("post").get(view) != simdjson::SUCCESS) {
          Skip(label, "'post' is missing");
          return;
        }
        PostItem item = ReadPostView(view);
        if (!item.ok) {
          Skip(label + " (" + UriOf(node) + ")", item.problem);
          return;
        }
        for (const std::string& note : item.notes) {
          page_.warnings.push_back("thread " + label + " (" + item.post.uid + "): " + note);
        }
        if (seen_posts_.insert(item.post.uid).second) page_.posts.push_back(std::move(item.post));
        return;
      }
    }
  }

  Page& page_;
  std::set<std::string> seen_posts_;
  std::set<std::string> seen_deletions_;
  int replies_ = 0;
};

}  // namespace

void FlattenThread(dom::element thread, Page& page) { ThreadReader(page).Read(thread); }

}  // namespace internal
}  // namespace earshot::connector_bluesky
