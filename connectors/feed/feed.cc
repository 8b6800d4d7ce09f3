#include "connectors/feed/feed.h"
#include "crawler/core/strings.h"

#include <libxml/encoding.h>
#include <libxml/entities.h>
#include <libxml/globals.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_set>
#include <utility>

#include "crawler/core/text.h"
#include "crawler/core/time_format.h"
#include "crawler/core/url.h"

namespace earshot::connector_feed {
namespace {

constexpr std::string_view kPlatform = "feed";

// Namespaces of the vocabularies read here. RSS 0.91-2.0 elements have none
// (a few feeds put them in the Userland namespace).
constexpr const char* kNsAtom10 = "http://www.w3.org/2005/Atom";
constexpr const char* kNsAtom03 = "http://purl.org/atom/ns#";
constexpr const char* kNsRss10 = "http://purl.org/rss/1.0/";
constexpr const char* kNsRss090 = "http://my.netscape.com/rdf/simple/0.9/";
constexpr const char* kNsRssUserland2 = "http://backend.userland.com/rss2";
constexpr const char* kNsRssUserland = "http://backend.userland.com/rss";
constexpr const char* kNsRdf = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
constexpr const char* kNsDc = "http://purl.org/dc/elements/1.1/";
constexpr const char* kNsDcTerms = "http://purl.org/dc/terms/";
constexpr const char* kNsContent = "http://purl.org/rss/1.0/modules/content/";
constexpr const char* kNsThr = "http://purl.org/syndication/thread/1.0";
constexpr const char* kNsWfw = "http://wellformedweb.org/CommentAPI/";
constexpr const char* kNsSlash = "http://purl.org/rss/1.0/modules/slash/";
constexpr const char* kNsFeedburner = "http://rssnamespace.org/feedburner/ext/1.0";
constexpr const char* kNsOstatus = "http://ostatus.org/schema/1.0";
constexpr const char* kNsXhtml = "http://www.w3.org/1999/xhtml";

// Entities declared in a document's internal subset are expanded by us, not
// by libxml2 (no XML_PARSE_NOENT), within these bounds: an entity bomb that
// libxml2's own amplification check lets through still cannot grow a field.
constexpr int kMaxEntityDepth = 8;
// Budget for short fields (ids, links, dates, names).
constexpr size_t kShortFieldBytes = 64 * 1024;
// Nodes one field's walk may visit: entities that expand to nothing cost no
// bytes but still cost time.
constexpr size_t kMaxNodesPerField = 1'000'000;
// Warnings kept per document; the rest are counted in one last line.
constexpr size_t kMaxWarnings = 100;

// ---------------------------------------------------------------------------
// libxml2 plumbing

void EnsureLibxmlInitialised() {
  static std::once_flag once;
  std::call_once(once, [] { xmlInitParser(); });
}

struct XmlIssue {
  int code = 0;
  int level = 0;
  int line = 0;
  int column = 0;
  std::string message;
};

// Everything libxml2 reported while reading one document.
struct ErrorSink {
  std::vector<XmlIssue> issues;  // the first few, in order
  XmlIssue last;                 // the one that made libxml2 stop, if it did
  int total = 0;
};

void Record(ErrorSink* sink, const xmlError* error) {
  if (sink == nullptr || error == nullptr) return;
  ++sink->total;
  XmlIssue issue;
  issue.code = error->code;
  issue.level = error->level;
  issue.line = error->line;
  issue.column = error->int2;  // parser errors carry the column here
  if (error->message != nullptr) issue.message = error->message;
  while (!issue.message.empty() && (issue.message.back() == '\n' || issue.message.back() == ' ')) {
    issue.message.pop_back();
  }
  // libxml2 appends the offending bytes on a second line; keep the first.
  if (auto nl = issue.message.find('\n'); nl != std::string::npos) {
    issue.message.resize(nl);
  }
  sink->last = issue;
  if (sink->issues.size() < 16) sink->issues.push_back(std::move(issue));
}

// Per-context handler: `data` is the parser context's userData, which
// libxml2 sets to the context itself; the sink hangs off its _private.
void OnContextError(void* data, xmlErrorPtr error) {
  auto* ctxt = static_cast<xmlParserCtxtPtr>(data);
  if (ctxt == nullptr) return;
  Record(static_cast<ErrorSink*>(ctxt->_private), error);
}

// Per-thread fallback for the few errors raised without a parser context
// (encoding conversion); libxml2 keeps these handlers in thread-local state.
void OnThreadError(void* data, xmlErrorPtr error) { Record(static_cast<ErrorSink*>(data), error); }

class ScopedThreadErrorHandler {
 public:
  explicit ScopedThreadErrorHandler(ErrorSink* sink)
      : previous_handler_(xmlStructuredError), previous_context_(xmlStructuredErrorContext) {
    xmlSetStructuredErrorFunc(sink, &OnThreadError);
  }
  ~ScopedThreadErrorHandler() { xmlSetStructuredErrorFunc(previous_context_, previous_handler_); }
  ScopedThreadErrorHandler(const ScopedThreadErrorHandler&) = delete;
  ScopedThreadErrorHandler& operator=(const ScopedThreadErrorHandler&) = delete;

 private:
  xmlStructuredErrorFunc previous_handler_;
  void* previous_context_;
};

// No external entity or DTD is ever fetched, whatever the options say.
xmlParserInputPtr RefuseExternalEntity(void*, const xmlChar*, const xmlChar*) { return nullptr; }
void IgnoreExternalSubset(void*, const xmlChar*, const xmlChar*, const xmlChar*) {}

struct DocDeleter {
  void operator()(xmlDoc* doc) const { xmlFreeDoc(doc); }
};
using DocPtr = std::unique_ptr<xmlDoc, DocDeleter>;

struct ContextDeleter {
  void operator()(xmlParserCtxt* ctxt) const { xmlFreeParserCtxt(ctxt); }
};

struct XmlRead {
  DocPtr doc;
  ErrorSink errors;
  bool halted = false;  // libxml2 stopped before the end (bomb, depth)
  bool well_formed = true;
  std::string declared_encoding;  // from the XML declaration, if any
};

XmlRead ReadXml(std::string_view bytes, const std::string& url, const char* encoding) {
  EnsureLibxmlInitialised();
  XmlRead out;
  std::unique_ptr<xmlParserCtxt, ContextDeleter> ctxt(xmlNewParserCtxt());
  if (!ctxt) {
    out.halted = true;
    out.well_formed = false;
    out.errors.issues.push_back({0, XML_ERR_FATAL, 0, 0, "cannot allocate a parser"});
    return out;
  }
  ctxt->_private = &out.errors;
  ctxt->sax->serror = &OnContextError;
  ctxt->sax->resolveEntity = &RefuseExternalEntity;
  ctxt->sax->externalSubset = &IgnoreExternalSubset;
  // Never XML_PARSE_NOENT (substitutes entities, loads external ones) nor
  // XML_PARSE_DTDLOAD / DTDVALID / HUGE (lifts the depth and size limits).
  int options = XML_PARSE_RECOVER | XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                XML_PARSE_NOCDATA;
  if (encoding != nullptr) options |= XML_PARSE_IGNORE_ENC;
  {
    ScopedThreadErrorHandler thread_errors(&out.errors);
    out.doc.reset(xmlCtxtReadMemory(ctxt.get(), bytes.data(), static_cast<int>(bytes.size()),
                                    url.empty() ? nullptr : url.c_str(), encoding, options));
  }
  out.halted = ctxt->disableSAX != 0;  // in recover mode only a halt sets it
  out.well_formed = ctxt->wellFormed != 0;
  if (out.doc && out.doc->encoding != nullptr) {
    out.declared_encoding = reinterpret_cast<const char*>(out.doc->encoding);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Small string helpers

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && EqualsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

// Cuts `s` to at most `max_bytes` without splitting a UTF-8 sequence.
bool TruncateUtf8(std::string& s, size_t max_bytes) {
  if (s.size() <= max_bytes) return false;
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  s.resize(cut);
  return true;
}

// What one walk over a field's nodes may still produce and visit.
struct WalkBudget {
  size_t bytes;
  size_t nodes = kMaxNodesPerField;
  bool spent() const { return bytes == 0 || nodes == 0; }
};

// Appends up to `budget.bytes` of `text`; the budget shrinks accordingly.
void AppendBounded(std::string& out, std::string_view text, WalkBudget& budget) {
  const size_t n = std::min(text.size(), budget.bytes);
  out.append(text.data(), n);
  budget.bytes -= n;
}

bool IsUtf8Name(std::string_view charset) {
  return EqualsIgnoreCase(charset, "utf-8") || EqualsIgnoreCase(charset, "utf8");
}

// "javascript:", "mailto:", "tag:": an absolute reference (RFC 3986 §3.1).
bool HasScheme(std::string_view ref) {
  if (ref.empty() || !std::isalpha(static_cast<unsigned char>(ref[0]))) return false;
  for (size_t i = 1; i < ref.size(); ++i) {
    const char c = ref[i];
    if (c == ':') return true;
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
      return false;
    }
  }
  return false;
}

bool IsHttpUrl(std::string_view url) {
  return StartsWithIgnoreCase(url, "http://") || StartsWithIgnoreCase(url, "https://");
}

// Text that is probably HTML: a tag or an entity reference survived XML
// decoding (RSS titles are often escaped twice).
bool LooksLikeHtml(std::string_view s) {
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    const char next = s[i + 1];
    if (s[i] == '<' &&
        (std::isalpha(static_cast<unsigned char>(next)) || next == '/' || next == '!')) {
      return true;
    }
    if (s[i] == '&' && (std::isalpha(static_cast<unsigned char>(next)) || next == '#')) {
      const size_t semi = s.find(';', i);
      if (semi != std::string_view::npos && semi - i <= 10) return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------------------
// Tree helpers

std::string_view Name(const xmlNode* node) {
  return node->name ? reinterpret_cast<const char*>(node->name) : std::string_view();
}

std::string_view NsOf(const xmlNode* node) {
  return (node->ns && node->ns->href) ? reinterpret_cast<const char*>(node->ns->href)
                                      : std::string_view();
}

// `ns` nullptr: the element has no namespace.
bool Is(const xmlNode* node, const char* ns, std::string_view name) {
  if (node == nullptr || node->type != XML_ELEMENT_NODE || Name(node) != name) return false;
  return ns == nullptr ? NsOf(node).empty() : NsOf(node) == ns;
}

bool IsRssNs(std::string_view ns) {
  return ns.empty() || ns == kNsRss10 || ns == kNsRss090 || ns == kNsRssUserland2 ||
         ns == kNsRssUserland;
}

bool IsRss(const xmlNode* node, std::string_view name) {
  return node != nullptr && node->type == XML_ELEMENT_NODE && Name(node) == name &&
         IsRssNs(NsOf(node));
}

template <typename Fn>
void ForEachElement(const xmlNode* parent, Fn&& fn) {
  for (xmlNode* c = parent ? parent->children : nullptr; c != nullptr; c = c->next) {
    if (c->type == XML_ELEMENT_NODE) fn(c);
  }
}

std::string Attr(const xmlNode* node, const char* name, const char* ns = nullptr) {
  xmlChar* v =
      ns ? xmlGetNsProp(node, BAD_CAST name, BAD_CAST ns) : xmlGetNoNsProp(node, BAD_CAST name);
  if (v == nullptr) return {};
  std::string out(reinterpret_cast<const char*>(v));
  xmlFree(v);
  return out;
}

bool HasElementChild(const xmlNode* node) {
  for (xmlNode* c = node->children; c != nullptr; c = c->next) {
    if (c->type == XML_ELEMENT_NODE) return true;
  }
  return false;
}

// The replacement nodes of an internal entity reference, or nullptr for
// external and undeclared entities (never loaded).
const xmlNode* InternalEntityContent(const xmlNode* ref) {
  const xmlNode* decl = ref->children;
  if (decl == nullptr || decl->type != XML_ENTITY_DECL) return nullptr;
  const auto* entity = reinterpret_cast<const xmlEntity*>(decl);
  if (entity->etype != XML_INTERNAL_GENERAL_ENTITY) return nullptr;
  return entity->children;
}

// Concatenated character data under the nodes from `first` on.
void CollectText(const xmlNode* first, std::string& out, WalkBudget& budget, int entity_depth) {
  for (const xmlNode* n = first; n != nullptr && !budget.spent(); n = n->next) {
    --budget.nodes;
    switch (n->type) {
      case XML_TEXT_NODE:
      case XML_CDATA_SECTION_NODE:
        if (n->content) AppendBounded(out, reinterpret_cast<const char*>(n->content), budget);
        break;
      case XML_ELEMENT_NODE:
        CollectText(n->children, out, budget, entity_depth);
        break;
      case XML_ENTITY_REF_NODE:
        if (entity_depth < kMaxEntityDepth) {
          CollectText(InternalEntityContent(n), out, budget, entity_depth + 1);
        }
        break;
      default:
        break;
    }
  }
}

std::string TextOf(const xmlNode* node, size_t max_bytes = kShortFieldBytes) {
  std::string out;
  WalkBudget budget{max_bytes};
  if (node != nullptr) CollectText(node->children, out, budget, 0);
  return out;
}

std::string TrimmedTextOf(const xmlNode* node) { return std::string(TrimAsciiSpace(TextOf(node))); }

bool IsVoidHtmlElement(std::string_view name) {
  static constexpr std::string_view kVoid[] = {"area",   "base",  "br",    "col",  "embed",
                                               "hr",     "img",   "input", "link", "meta",
                                               "source", "track", "wbr"};
  return std::find(std::begin(kVoid), std::end(kVoid), AsciiLower(name)) != std::end(kVoid);
}

void AppendEscaped(std::string& out, const xmlChar* text, WalkBudget& budget) {
  if (text == nullptr) return;
  xmlChar* escaped = xmlEncodeSpecialChars(nullptr, text);
  if (escaped == nullptr) return;
  AppendBounded(out, reinterpret_cast<const char*>(escaped), budget);
  xmlFree(escaped);
}

// Inline XML content (Atom xhtml, RSS descriptions with raw markup) written
// back as plain HTML for HtmlToText: local names only, attributes dropped
// (text is all we keep), entities expanded within bounds.
void AppendHtml(const xmlNode* first, std::string& out, WalkBudget& budget, int entity_depth) {
  for (const xmlNode* n = first; n != nullptr && !budget.spent(); n = n->next) {
    --budget.nodes;
    switch (n->type) {
      case XML_TEXT_NODE:
      case XML_CDATA_SECTION_NODE:
        AppendEscaped(out, n->content, budget);
        break;
      case XML_ELEMENT_NODE: {
        const std::string name(Name(n));
        AppendBounded(out, "<" + name + ">", budget);
        if (IsVoidHtmlElement(name)) break;
        AppendHtml(n->children, out, budget, entity_depth);
        AppendBounded(out, "</" + name + ">", budget);
        break;
      }
      case XML_ENTITY_REF_NODE:
        if (entity_depth < kMaxEntityDepth) {
          AppendHtml(InternalEntityContent(n), out, budget, entity_depth + 1);
        }
        break;
      default:
        break;
    }
  }
}

// ---------------------------------------------------------------------------
// Reading one document

enum class TextKind { kText, kHtml, kXhtml, kUnreadable };

class FeedReader {
 public:
  FeedReader(const FeedParseOptions& options, ParsedFeed& feed)
      : options_(options),
        feed_(feed),
        collect_budget_(std::min(static_cast<size_t>(options.max_text_bytes), kMaxBodyBytes) * 4 +
                        4096) {}

  void ReadRss(const xmlNode* root);
  void ReadRdf(const xmlNode* root);
  void ReadAtom(const xmlNode* root, const char* atom_ns);
  // Adds the count of warnings beyond kMaxWarnings, if any.
  void FlushWarnings();

 private:
  struct RawItem {
    std::string guid;  // RSS guid, RDF about, Atom id
    bool guid_is_permalink = false;
    std::string link;       // absolute http(s)
    std::string orig_link;  // feedburner:origLink
    std::string title;
    std::vector<std::string> contents;   // content:encoded, atom content
    std::vector<std::string> summaries;  // description, summary
    std::string author_name;
    std::string author_handle;
    std::string language;
    std::optional<TimePoint> published;
    std::optional<TimePoint> updated;
    std::string date_text;          // as written, for the hash id
    std::string reply_ref;          // thr:in-reply-to
    std::string conversation_hint;  // ostatus:conversation
    std::string comment_feed_url;
    std::optional<int64_t> comment_count;
  };

  void Warn(std::string message);
  std::string ItemLabel(size_t index) const { return "item " + std::to_string(index + 1); }

  std::string BaseFor(const xmlNode* node) const;
  // An absolute http(s) URL for `reference` written at `node`, or empty
  // with a warning.
  std::string ResolveLink(const xmlNode* node, std::string_view reference,
                          const std::string& label);
  std::string ResolveIdIfRelativePath(const xmlNode* node, std::string_view id) const;

  std::string Shorten(std::string text, bool* truncated = nullptr) const;
  std::string PlainText(std::string_view text) const;
  std::string HtmlText(std::string_view html) const;
  std::string ElementAsHtml(const xmlNode* node) const;
  std::string RssText(const xmlNode* node, bool is_title) const;
  std::string AtomText(const xmlNode* node, bool atom03) const;

  void ReadDate(const xmlNode* node, std::optional<TimePoint>& slot, RawItem& item,
                const std::string& label);
  void ReadRssAuthor(std::string_view text, RawItem& item) const;
  void ReadAtomAuthor(const xmlNode* author, const char* atom_ns, RawItem& item,
                      const std::string& label);
  void ReadCommon(const xmlNode* child, RawItem& item, const std::string& label);
  void ReadRssItem(const xmlNode* node, size_t index, bool rdf);
  void ReadAtomEntry(const xmlNode* node, size_t index, const char* atom_ns,
                     const RawItem& feed_author);
  void Finish(RawItem item, size_t index);

  // Applies max_items to a list of item elements.
  std::vector<const xmlNode*> Limit(std::vector<const xmlNode*> nodes);

  const FeedParseOptions& options_;
  ParsedFeed& feed_;
  size_t collect_budget_;
  size_t suppressed_warnings_ = 0;
  std::unordered_set<std::string> seen_ids_;
  std::string channel_language_;
};

void FeedReader::Warn(std::string message) {
  if (feed_.warnings.size() >= kMaxWarnings) {
    ++suppressed_warnings_;
    return;
  }
  // Quoted feed text may have been cut mid-character.
  feed_.warnings.push_back(RepairUtf8(message));
}

void FeedReader::FlushWarnings() {
  if (suppressed_warnings_ > 0) {
    feed_.warnings.push_back(std::to_string(suppressed_warnings_) + " more warnings not shown");
  }
}

// xml:base attributes from the root down, applied to the document URL.
std::string FeedReader::BaseFor(const xmlNode* node) const {
  std::vector<std::string> bases;
  for (const xmlNode* n = node; n != nullptr && n->type == XML_ELEMENT_NODE; n = n->parent) {
    std::string b = Attr(n, "base", reinterpret_cast<const char*>(XML_XML_NAMESPACE));
    if (!b.empty()) bases.push_back(std::string(TrimAsciiSpace(b)));
  }
  std::string base = options_.document_url;
  for (auto it = bases.rbegin(); it != bases.rend(); ++it) {
    if (base.empty()) {
      if (IsHttpUrl(*it)) base = *it;
      continue;
    }
    auto resolved = ResolveUrl(base, *it);
    if (resolved.ok()) base = std::move(*resolved);
  }
  return base;
}

std::string FeedReader::ResolveLink(const xmlNode* node, std::string_view reference,
                                    const std::string& label) {
  reference = TrimAsciiSpace(reference);
  if (reference.empty()) return {};
  const std::string quoted = "'" + std::string(reference.substr(0, 200)) + "'";
  if (HasScheme(reference) && !IsHttpUrl(reference)) {
    Warn(label + ": link " + quoted + " is not http(s); left out");
    return {};
  }
  std::string resolved;
  if (IsHttpUrl(reference)) {
    auto r = ResolveUrl(reference, reference);
    resolved = r.ok() ? std::move(*r) : std::string(reference);
  } else {
    const std::string base = BaseFor(node);
    if (base.empty()) {
      Warn(label + ": relative link " + quoted + " cannot be resolved without a document URL");
      return {};
    }
    auto r = ResolveUrl(base, reference);
    if (!r.ok()) {
      Warn(label + ": bad link " + quoted);
      return {};
    }
    resolved = std::move(*r);
  }
  if (!IsHttpUrl(resolved)) {
    Warn(label + ": link " + quoted + " is not http(s); left out");
    return {};
  }
  return ToNfc(resolved);
}

// Static-site exports write guids as relative paths ("./../index.html?p=1");
// resolving them keeps one comment's id equal across the feeds that carry it.
// Opaque ids ("1234", "tag:...", "urn:uuid:...") are kept as written.
std::string FeedReader::ResolveIdIfRelativePath(const xmlNode* node, std::string_view id) const {
  if (!(id.starts_with("./") || id.starts_with("../") || id.starts_with("/") ||
        id.starts_with("?"))) {
    return std::string(id);
  }
  const std::string base = BaseFor(node);
  if (base.empty()) return std::string(id);
  auto r = ResolveUrl(base, id);
  return r.ok() ? std::move(*r) : std::string(id);
}

std::string FeedReader::Shorten(std::string text, bool* truncated) const {
  const bool cut = TruncateUtf8(text, static_cast<size_t>(options_.max_text_bytes));
  if (truncated) *truncated = cut;
  return text;
}

std::string FeedReader::PlainText(std::string_view text) const {
  return NormalizeText(RepairUtf8(text));
}

std::string FeedReader::HtmlText(std::string_view html) const {
  return HtmlToText(RepairUtf8(html));
}

std::string FeedReader::ElementAsHtml(const xmlNode* node) const {
  std::string html;
  WalkBudget budget{collect_budget_};
  AppendHtml(node->children, html, budget, 0);
  return html;
}

// RSS title/description/content:encoded: escaped HTML, CDATA or (against
// the spec, but seen) raw markup. Titles are plain text unless they look
// like HTML; descriptions are always read as HTML.
std::string FeedReader::RssText(const xmlNode* node, bool is_title) const {
  if (HasElementChild(node)) return HtmlText(ElementAsHtml(node));
  std::string raw = TextOf(node, collect_budget_);
  if (is_title && !LooksLikeHtml(raw)) return PlainText(raw);
  return HtmlText(raw);
}

TextKind AtomTextKind(const xmlNode* node, bool atom03) {
  const std::string type = AsciiLower(TrimAsciiSpace(Attr(node, "type")));
  if (atom03) {
    const std::string mode = AsciiLower(TrimAsciiSpace(Attr(node, "mode")));
    if (mode == "base64") return TextKind::kUnreadable;
    if (type == "text/html" || type == "html") return TextKind::kHtml;
    if (type == "application/xhtml+xml" || type == "xhtml" ||
        (mode != "escaped" && HasElementChild(node))) {
      return TextKind::kXhtml;
    }
    return TextKind::kText;
  }
  if (type.empty() || type == "text" || type == "text/plain") return TextKind::kText;
  if (type == "html" || type == "text/html") return TextKind::kHtml;
  if (type == "xhtml" || type.ends_with("+xml") || type.ends_with("/xml")) {
    return TextKind::kXhtml;
  }
  if (type.starts_with("text/")) return TextKind::kText;
  return TextKind::kUnreadable;  // base64 media: no text for us
}

std::string FeedReader::AtomText(const xmlNode* node, bool atom03) const {
  switch (AtomTextKind(node, atom03)) {
    case TextKind::kText:
      if (HasElementChild(node)) return HtmlText(ElementAsHtml(node));
      return PlainText(TextOf(node, collect_budget_));
    case TextKind::kHtml:
      return HtmlText(TextOf(node, collect_budget_));
    case TextKind::kXhtml:
      return HtmlText(ElementAsHtml(node));
    case TextKind::kUnreadable:
      break;
  }
  return {};
}

void FeedReader::ReadDate(const xmlNode* node, std::optional<TimePoint>& slot, RawItem& item,
                          const std::string& label) {
  const std::string text = TrimmedTextOf(node);
  if (text.empty()) return;
  auto t = ParseAnyDate(text);
  if (!t.ok()) {
    Warn(label + ": unparseable date in <" + std::string(Name(node)) + ">: '" +
         text.substr(0, 100) + "'");
    return;
  }
  if (!slot) slot = *t;
  if (item.date_text.empty()) item.date_text = text;
}

// "jo@example.org (Jo Bloggs)", "Jo Bloggs <jo@example.org>", an address or
// a bare name.
void FeedReader::ReadRssAuthor(std::string_view raw, RawItem& item) const {
  std::string_view s = TrimAsciiSpace(raw);
  if (s.empty()) return;
  std::string name;
  std::string handle;
  if (s.back() == ')' && s.find('(') != std::string_view::npos) {
    const size_t open = s.find('(');
    name = TrimAsciiSpace(s.substr(open + 1, s.size() - open - 2));
    handle = TrimAsciiSpace(s.substr(0, open));
  } else if (s.back() == '>' && s.find('<') != std::string_view::npos) {
    const size_t open = s.rfind('<');
    handle = TrimAsciiSpace(s.substr(open + 1, s.size() - open - 2));
    name = TrimAsciiSpace(s.substr(0, open));
  } else if (s.find('@') != std::string_view::npos && s.find(' ') == std::string_view::npos) {
    handle = s;
  } else {
    name = s;
  }
  if (StartsWithIgnoreCase(handle, "mailto:")) handle.erase(0, 7);
  item.author_name = PlainText(name);
  item.author_handle = handle.empty() ? item.author_name : PlainText(handle);
}

void FeedReader::ReadAtomAuthor(const xmlNode* author, const char* atom_ns, RawItem& item,
                                const std::string& label) {
  std::string name, email, uri;
  ForEachElement(author, [&](const xmlNode* c) {
    if (Is(c, atom_ns, "name")) name = PlainText(TextOf(c));
    if (Is(c, atom_ns, "email")) email = PlainText(TextOf(c));
    if (Is(c, atom_ns, "uri") || Is(c, atom_ns, "url")) {
      uri = ResolveLink(c, TextOf(c), label + " author");
    }
  });
  item.author_name = name;
  item.author_handle = !uri.empty() ? uri : !email.empty() ? email : name;
}

// Extension elements shared by RSS items and Atom entries.
void FeedReader::ReadCommon(const xmlNode* c, RawItem& item, const std::string& label) {
  const std::string_view ns = NsOf(c);
  const std::string_view name = Name(c);
  if (ns == kNsContent && name == "encoded") {
    item.contents.push_back(RssText(c, false));
  } else if (ns == kNsXhtml && name == "body") {
    item.contents.push_back(HtmlText(ElementAsHtml(c)));
  } else if (ns == kNsDc && name == "creator" && item.author_name.empty()) {
    ReadRssAuthor(TextOf(c), item);
  } else if (ns == kNsDc && name == "date") {
    ReadDate(c, item.published, item, label);
  } else if (ns == kNsDcTerms && (name == "created" || name == "issued")) {
    ReadDate(c, item.published, item, label);
  } else if (ns == kNsDcTerms && name == "modified") {
    ReadDate(c, item.updated, item, label);
  } else if (ns == kNsDc && name == "language") {
    item.language = std::string(TrimAsciiSpace(TextOf(c)));
  } else if (ns == kNsThr && name == "in-reply-to" && item.reply_ref.empty()) {
    std::string ref(TrimAsciiSpace(Attr(c, "ref")));
    if (ref.empty()) ref = ResolveLink(c, Attr(c, "href"), label + " thr:in-reply-to");
    item.reply_ref = ref;
  } else if (ns == kNsThr && name == "total") {
    int64_t n = 0;
    const std::string text = TrimmedTextOf(c);
    if (std::from_chars(text.data(), text.data() + text.size(), n).ec == std::errc()) {
      item.comment_count = n;
    }
  } else if (ns == kNsWfw && (name == "commentRss" || name == "commentRSS")) {
    item.comment_feed_url = ResolveLink(c, TextOf(c), label + " wfw:commentRss");
  } else if (ns == kNsSlash && name == "comments") {
    int64_t n = 0;
    const std::string text = TrimmedTextOf(c);
    if (std::from_chars(text.data(), text.data() + text.size(), n).ec == std::errc()) {
      item.comment_count = n;
    }
  } else if (ns == kNsFeedburner && name == "origLink") {
    item.orig_link = ResolveLink(c, TextOf(c), label + " feedburner:origLink");
  } else if (ns == kNsOstatus && name == "conversation") {
    item.conversation_hint = TrimmedTextOf(c);
  }
}

std::vector<const xmlNode*> FeedReader::Limit(std::vector<const xmlNode*> nodes) {
  const auto max = static_cast<size_t>(options_.max_items);
  if (nodes.size() > max) {
    const size_t extra = nodes.size() - max;
    feed_.skipped_items += static_cast<int>(extra);
    Warn(std::to_string(extra) + " items beyond max_items=" + std::to_string(max) + " skipped");
    nodes.resize(max);
  }
  return nodes;
}

void FeedReader::ReadRss(const xmlNode* root) {
  feed_.format = "rss";
  const xmlNode* channel = nullptr;
  ForEachElement(root, [&](const xmlNode* c) {
    if (!channel && IsRss(c, "channel")) channel = c;
  });
  std::vector<const xmlNode*> items;
  if (channel != nullptr) {
    ForEachElement(channel, [&](const xmlNode* c) {
      if (IsRss(c, "title") && feed_.title.empty()) feed_.title = RssText(c, true);
      if (IsRss(c, "link") && feed_.link.empty()) {
        feed_.link = ResolveLink(c, TextOf(c), "channel");
      }
      if (IsRss(c, "language") && channel_language_.empty()) {
        channel_language_ = TrimmedTextOf(c);
      }
      if (Is(c, kNsDc, "language") && channel_language_.empty()) {
        channel_language_ = TrimmedTextOf(c);
      }
      if (IsRss(c, "item")) items.push_back(c);
    });
    if (channel_language_.empty()) {
      if (xmlChar* lang = xmlNodeGetLang(channel)) {
        channel_language_ = reinterpret_cast<const char*>(lang);
        xmlFree(lang);
      }
    }
  }
  // Some 0.9x feeds put items beside the channel.
  ForEachElement(root, [&](const xmlNode* c) {
    if (IsRss(c, "item")) items.push_back(c);
  });
  feed_.language = channel_language_;
  items = Limit(std::move(items));
  for (size_t i = 0; i < items.size(); ++i) ReadRssItem(items[i], i, false);
}

void FeedReader::ReadRdf(const xmlNode* root) {
  feed_.format = "rss1";
  std::vector<const xmlNode*> items;
  auto look_in = [&](const xmlNode* parent) {
    ForEachElement(parent, [&](const xmlNode* c) {
      if (IsRss(c, "item")) items.push_back(c);
    });
  };
  ForEachElement(root, [&](const xmlNode* c) {
    if (IsRss(c, "channel") && feed_.title.empty()) {
      ForEachElement(c, [&](const xmlNode* f) {
        if (IsRss(f, "title") && feed_.title.empty()) feed_.title = RssText(f, true);
        if (IsRss(f, "link") && feed_.link.empty()) {
          feed_.link = ResolveLink(f, TextOf(f), "channel");
        }
        if ((Is(f, kNsDc, "language") || IsRss(f, "language")) && channel_language_.empty()) {
          channel_language_ = TrimmedTextOf(f);
        }
      });
      look_in(c);  // misplaced items, inside the channel
    }
  });
  look_in(root);
  feed_.language = channel_language_;
  items = Limit(std::move(items));
  for (size_t i = 0; i < items.size(); ++i) ReadRssItem(items[i], i, true);
}

void FeedReader::ReadRssItem(const xmlNode* node, size_t index, bool rdf) {
  const std::string label = ItemLabel(index);
  RawItem item;
  std::string link_text;
  const xmlNode* link_node = nullptr;
  const xmlNode* guid_node = nullptr;
  std::string author_text;
  ForEachElement(node, [&](const xmlNode* c) {
    if (IsRss(c, "title")) {
      if (item.title.empty()) item.title = RssText(c, true);
    } else if (IsRss(c, "link")) {
      if (!link_node) {
        link_node = c;
        link_text = TextOf(c);
      }
    } else if (IsRss(c, "guid")) {
      if (!guid_node) {
        guid_node = c;
        item.guid = TrimmedTextOf(c);
        const std::string permalink = AsciiLower(TrimAsciiSpace(Attr(c, "isPermaLink")));
        item.guid_is_permalink = permalink != "false";
      }
    } else if (IsRss(c, "description")) {
      item.summaries.push_back(RssText(c, false));
    } else if (IsRss(c, "pubDate")) {
      ReadDate(c, item.published, item, label);
    } else if (IsRss(c, "author")) {
      author_text = TextOf(c);
    } else if (Is(c, kNsDc, "title")) {
      if (item.title.empty()) item.title = RssText(c, true);
    } else if (Is(c, kNsDc, "description")) {
      item.summaries.push_back(RssText(c, false));
    } else {
      ReadCommon(c, item, label);
    }
  });
  if (!author_text.empty()) ReadRssAuthor(author_text, item);  // beats dc:creator
  if (rdf && item.guid.empty()) {
    item.guid = std::string(TrimAsciiSpace(Attr(node, "about", kNsRdf)));
    item.guid_is_permalink = false;
  }
  if (link_node) item.link = ResolveLink(link_node, link_text, label);
  if (item.link.empty() && !item.guid.empty() && item.guid_is_permalink && guid_node) {
    // isPermaLink defaults to true: then the guid is the item's URL. A guid
    // that is not a URL at all is only an id.
    if (IsHttpUrl(item.guid) || item.guid.starts_with("/") || item.guid.starts_with(".")) {
      item.link = ResolveLink(guid_node, item.guid, label + " guid");
    }
  }
  if (!item.guid.empty())
    item.guid = ResolveIdIfRelativePath(guid_node ? guid_node : node, item.guid);
  if (xmlChar* lang = xmlNodeGetLang(node); lang != nullptr && item.language.empty()) {
    item.language = reinterpret_cast<const char*>(lang);
    xmlFree(lang);
  } else if (lang != nullptr) {
    xmlFree(lang);
  }
  Finish(std::move(item), index);
}

void FeedReader::ReadAtom(const xmlNode* root, const char* atom_ns) {
  const bool atom03 = atom_ns != nullptr && std::strcmp(atom_ns, kNsAtom03) == 0;
  feed_.format = atom03 ? "atom0.3" : "atom1";
  RawItem feed_author;
  std::vector<const xmlNode*> entries;
  std::string fallback_link;
  ForEachElement(root, [&](const xmlNode* c) {
    if (Is(c, atom_ns, "title") && feed_.title.empty()) feed_.title = AtomText(c, atom03);
    if (Is(c, atom_ns, "author") && feed_author.author_name.empty() &&
        feed_author.author_handle.empty()) {
      ReadAtomAuthor(c, atom_ns, feed_author, "feed");
    }
    if (Is(c, atom_ns, "link")) {
      const std::string rel = TrimAsciiSpace(Attr(c, "rel")).empty()
                                  ? "alternate"
                                  : AsciiLower(TrimAsciiSpace(Attr(c, "rel")));
      if (rel == "alternate" && feed_.link.empty()) {
        feed_.link = ResolveLink(c, Attr(c, "href"), "feed");
      }
    }
    if (Is(c, atom_ns, "entry")) entries.push_back(c);
  });
  if (xmlChar* lang = xmlNodeGetLang(root)) {
    channel_language_ = reinterpret_cast<const char*>(lang);
    xmlFree(lang);
  }
  feed_.language = channel_language_;
  entries = Limit(std::move(entries));
  for (size_t i = 0; i < entries.size(); ++i) {
    ReadAtomEntry(entries[i], i, atom_ns, feed_author);
  }
}

void FeedReader::ReadAtomEntry(const xmlNode* node, size_t index, const char* atom_ns,
                               const RawItem& feed_author) {
  const bool atom03 = atom_ns != nullptr && std::strcmp(atom_ns, kNsAtom03) == 0;
  const std::string label = ItemLabel(index);
  RawItem item;
  std::string html_link, any_alternate;
  bool has_author = false;
  ForEachElement(node, [&](const xmlNode* c) {
    if (Is(c, atom_ns, "id")) {
      if (item.guid.empty()) item.guid = TrimmedTextOf(c);
    } else if (Is(c, atom_ns, "title")) {
      if (item.title.empty()) item.title = AtomText(c, atom03);
    } else if (Is(c, atom_ns, "content")) {
      if (Attr(c, "src").empty()) item.contents.push_back(AtomText(c, atom03));
    } else if (Is(c, atom_ns, "summary")) {
      item.summaries.push_back(AtomText(c, atom03));
    } else if (Is(c, atom_ns, "published") || Is(c, atom_ns, "issued") ||
               Is(c, atom_ns, "created")) {
      ReadDate(c, item.published, item, label);
    } else if (Is(c, atom_ns, "updated") || Is(c, atom_ns, "modified")) {
      ReadDate(c, item.updated, item, label);
    } else if (Is(c, atom_ns, "author")) {
      if (!has_author) {
        ReadAtomAuthor(c, atom_ns, item, label);
        has_author = !item.author_name.empty() || !item.author_handle.empty();
      }
    } else if (Is(c, atom_ns, "link")) {
      std::string rel = AsciiLower(TrimAsciiSpace(Attr(c, "rel")));
      if (rel.empty() || rel == "http://www.iana.org/assignments/relation/alternate") {
        rel = "alternate";
      }
      const std::string type = AsciiLower(TrimAsciiSpace(Attr(c, "type")));
      if (rel == "alternate") {
        const bool html = type.empty() || type == "text/html" || type == "application/xhtml+xml";
        std::string& slot = html ? html_link : any_alternate;
        if (slot.empty()) slot = ResolveLink(c, Attr(c, "href"), label);
      } else if (rel == "replies") {
        if (item.comment_feed_url.empty() &&
            (type.empty() || type.find("xml") != std::string::npos)) {
          item.comment_feed_url = ResolveLink(c, Attr(c, "href"), label + " replies");
        }
        const std::string count = Attr(c, "count", kNsThr);
        int64_t n = 0;
        if (!count.empty() &&
            std::from_chars(count.data(), count.data() + count.size(), n).ec == std::errc()) {
          item.comment_count = n;
        }
      } else if (rel == "ostatus:conversation" && item.conversation_hint.empty()) {
        item.conversation_hint = std::string(TrimAsciiSpace(Attr(c, "href")));
      }
    } else {
      ReadCommon(c, item, label);
    }
  });
  item.link = !html_link.empty() ? html_link : any_alternate;
  if (!has_author && item.author_name.empty()) {
    item.author_name = feed_author.author_name;  // RFC 4287 §4.2.1: inherited
    item.author_handle = feed_author.author_handle;
  }
  if (item.language.empty()) {
    if (xmlChar* lang = xmlNodeGetLang(node)) {
      item.language = reinterpret_cast<const char*>(lang);
      xmlFree(lang);
    }
  }
  Finish(std::move(item), index);
}

std::string Longest(const std::vector<std::string>& texts) {
  std::string out;
  for (const std::string& t : texts) {
    if (t.size() > out.size()) out = t;
  }
  return out;
}

void FeedReader::Finish(RawItem item, size_t index) {
  std::string label = ItemLabel(index);
  // The fullest text: content:encoded / atom content are usually complete,
  // descriptions and summaries often cut ("[...]") or escaped once more
  // (WordPress comment descriptions). A summary wins only over a stub
  // ("Continue reading") less than half its length.
  std::string text = Longest(item.contents);
  if (std::string summary = Longest(item.summaries); text.size() * 2 < summary.size()) {
    text = std::move(summary);
  }
  bool text_truncated = false;
  text = Shorten(std::move(text), &text_truncated);
  bool title_truncated = false;
  item.title = Shorten(std::move(item.title), &title_truncated);

  Post post;
  post.platform = std::string(kPlatform);
  post.url = !item.orig_link.empty() ? item.orig_link : item.link;
  post.id = ToNfc(!item.guid.empty() ? item.guid : post.url);
  if (post.id.empty()) {
    if (item.title.empty() && text.empty() && item.date_text.empty()) {
      ++feed_.skipped_items;
      Warn(label + ": no id, link, title, date or text; skipped");
      return;
    }
    post.id = "sha256:" + Sha256Hex(item.title + "\n" + item.date_text + "\n" + text);
    Warn(label + ": no guid/id and no link; id is a hash of title, date and text");
  } else {
    label += " (" + post.id.substr(0, 200) + ")";
  }
  if (!seen_ids_.insert(post.id).second) {
    ++feed_.skipped_items;
    Warn(label + ": duplicate id; skipped");
    return;
  }
  if (text_truncated) {
    Warn(label + ": text cut to max_text_bytes=" + std::to_string(options_.max_text_bytes));
  }
  if (title_truncated) {
    Warn(label + ": title cut to max_text_bytes=" + std::to_string(options_.max_text_bytes));
  }
  post.uid = post.id;
  post.title = std::move(item.title);
  post.text = std::move(text);
  post.author_name = ToNfc(item.author_name);
  post.author_handle = ToNfc(item.author_handle);
  post.language = ToNfc(TrimAsciiSpace(item.language));
  if (post.language.empty()) post.language = ToNfc(TrimAsciiSpace(channel_language_));
  post.created_at = item.published ? item.published : item.updated;

  // Threading. reply_to: the parent (comment or article); conversation: the
  // article, so comments group under it whatever feed they came from.
  post.reply_to = ToNfc(item.reply_ref);
  std::string wordpress_parent = WordPressCommentParent(post.id);
  if (wordpress_parent.empty()) wordpress_parent = WordPressCommentParent(post.url);
  if (!item.conversation_hint.empty()) {
    post.conversation = ToNfc(item.conversation_hint);
  } else if (!wordpress_parent.empty()) {
    post.conversation = ToNfc(wordpress_parent);
  } else if (!post.reply_to.empty()) {
    const std::string parent_article = WordPressCommentParent(post.reply_to);
    post.conversation = parent_article.empty() ? post.reply_to : parent_article;
  } else {
    post.conversation = post.id;
  }
  if (post.reply_to.empty() && !wordpress_parent.empty()) {
    post.reply_to = post.conversation;
  }

  FeedItem out;
  out.post = std::move(post);
  // Where this item's own comments live: what ConversationRequest fetches.
  out.post.ref = item.comment_feed_url;
  out.comment_feed_url = std::move(item.comment_feed_url);
  out.comment_count = item.comment_count;
  feed_.items.push_back(std::move(out));
}

// ---------------------------------------------------------------------------
// Encoding

struct ByteOrderMark {
  size_t length = 0;
  const char* encoding = nullptr;
};

ByteOrderMark DetectBom(std::string_view body) {
  auto starts = [&](std::string_view prefix) { return body.starts_with(prefix); };
  using namespace std::string_view_literals;
  if (starts("\xEF\xBB\xBF"sv)) return {3, "UTF-8"};
  // UTF-32 BOMs first: FF FE 00 00 also starts like UTF-16LE. libxml2 reads
  // UTF-32 by itself (we only pass what it would get wrong).
  if (starts("\xFF\xFE\x00\x00"sv) || starts("\x00\x00\xFE\xFF"sv)) return {0, nullptr};
  if (starts("\xFF\xFE"sv)) return {2, "UTF-16LE"};
  if (starts("\xFE\xFF"sv)) return {2, "UTF-16BE"};
  return {};
}

bool LibxmlKnowsEncoding(const std::string& name) {
  xmlCharEncodingHandlerPtr handler = xmlFindCharEncodingHandler(name.c_str());
  if (handler == nullptr) return false;
  xmlCharEncCloseFunc(handler);
  return true;
}

std::string Position(const std::string& url, const XmlIssue* issue) {
  std::string where = url.empty() ? "<feed>" : url;
  if (issue != nullptr && issue->line > 0) {
    where += ":" + std::to_string(issue->line) + ":" + std::to_string(issue->column);
  }
  return where;
}

const XmlIssue* FirstError(const ErrorSink& sink) {
  for (const XmlIssue& i : sink.issues) {
    if (i.level >= XML_ERR_ERROR) return &i;
  }
  return sink.issues.empty() ? nullptr : &sink.issues.front();
}

const XmlIssue* FindCode(const ErrorSink& sink, int code) {
  for (const XmlIssue& i : sink.issues) {
    if (i.code == code) return &i;
  }
  return nullptr;
}

Status XmlError(const std::string& url, const XmlIssue* issue, std::string_view what) {
  std::string message = Position(url, issue) + ": " + std::string(what);
  if (issue != nullptr && !issue->message.empty()) message += ": " + issue->message;
  return Status::ParseError(RepairUtf8(message));  // libxml2 quotes document bytes
}

Result<FeedParseOptions> OptionsFor(const SourceSpec& source, std::string document_url,
                                    std::string http_charset) {
  FeedParseOptions options;
  options.document_url = std::move(document_url);
  options.http_charset = std::move(http_charset);
  options.max_items = source.GetInt("max_items", kDefaultMaxItems);
  options.max_text_bytes = source.GetInt("max_text_bytes", kDefaultMaxTextBytes);
  if (options.max_items <= 0) {
    return Status::InvalidArgument("source '" + source.name + "': max_items must be > 0");
  }
  if (options.max_text_bytes < 64 || options.max_text_bytes > int64_t{kMaxBodyBytes}) {
    return Status::InvalidArgument("source '" + source.name + "': max_text_bytes must be in 64.." +
                                   std::to_string(kMaxBodyBytes));
  }
  return options;
}

}  // namespace

std::string WordPressCommentParent(std::string_view id_or_url) {
  const size_t hash = id_or_url.rfind('#');
  if (hash == std::string_view::npos) return {};
  std::string_view fragment = id_or_url.substr(hash + 1);
  constexpr std::string_view kPrefix = "comment-";
  if (!fragment.starts_with(kPrefix) || fragment.size() == kPrefix.size()) return {};
  fragment.remove_prefix(kPrefix.size());
  if (!std::all_of(fragment.begin(), fragment.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return {};
  }
  return std::string(id_or_url.substr(0, hash));
}

Result<ParsedFeed> ParseFeed(std::string_view body, const FeedParseOptions& options) {
  const std::string& url = options.document_url;
  if (options.max_items <= 0 || options.max_text_bytes <= 0) {
    return Status::InvalidArgument("feed parse options: limits must be positive");
  }
  if (body.size() > kMaxBodyBytes) {
    return Status::ResourceExhausted(Position(url, nullptr) + ": feed body of " +
                                     std::to_string(body.size()) + " bytes exceeds " +
                                     std::to_string(kMaxBodyBytes));
  }
  if (TrimAsciiSpace(body).empty()) {
    return Status::ParseError(Position(url, nullptr) + ": empty body, not a feed");
  }

  ParsedFeed feed;
  // Which encoding decodes the bytes: a BOM, else the HTTP charset, else
  // the XML declaration (libxml2's own detection), else UTF-8.
  std::string_view bytes = body;
  std::string encoding;
  std::optional<bool> utf8;  // unknown until the declaration is read
  const ByteOrderMark bom = DetectBom(body);
  if (bom.encoding != nullptr) {
    bytes.remove_prefix(bom.length);
    encoding = bom.encoding;
    utf8 = encoding == "UTF-8";
    if (!options.http_charset.empty() && !EqualsIgnoreCase(options.http_charset, encoding) &&
        !(utf8.value() && IsUtf8Name(options.http_charset))) {
      feed.warnings.push_back("byte order mark (" + encoding + ") overrides HTTP charset " +
                              options.http_charset);
    }
  } else if (!options.http_charset.empty()) {
    if (LibxmlKnowsEncoding(options.http_charset)) {
      encoding = options.http_charset;
      utf8 = IsUtf8Name(encoding);
    } else {
      feed.warnings.push_back("unknown HTTP charset '" + options.http_charset +
                              "'; using the document's own declaration");
    }
  }

  std::string repaired;
  if (utf8.value_or(false) && !IsValidUtf8(bytes)) {
    repaired = RepairUtf8(bytes);
    bytes = repaired;
    feed.warnings.push_back("invalid UTF-8 sequences replaced by U+FFFD");
  }
  XmlRead read = ReadXml(bytes, url, encoding.empty() ? nullptr : encoding.c_str());
  if (!utf8.has_value() && read.doc &&
      (read.declared_encoding.empty() || IsUtf8Name(read.declared_encoding)) &&
      !IsValidUtf8(bytes)) {
    // Declared (or defaulted to) UTF-8 but is not: libxml2 would keep the
    // stray bytes. Read again with them replaced.
    repaired = RepairUtf8(bytes);
    bytes = repaired;
    feed.warnings.push_back("invalid UTF-8 sequences replaced by U+FFFD");
    read = ReadXml(bytes, url, "UTF-8");
  }

  const xmlNode* root = read.doc ? xmlDocGetRootElement(read.doc.get()) : nullptr;
  if (root == nullptr) {
    return XmlError(url, FirstError(read.errors), "not XML");
  }
  if (read.halted) {
    // The last error is the one that stopped it, at a document position (an
    // entity's own errors count lines inside the entity).
    return XmlError(url, read.errors.total > 0 ? &read.errors.last : nullptr, "XML parser gave up");
  }
  const std::string_view root_ns = NsOf(root);
  const std::string_view root_name = Name(root);
  enum class Kind { kRss, kRdf, kAtom10, kAtom03, kAtomNoNs, kNone } kind = Kind::kNone;
  if (root_name == "rss" && IsRssNs(root_ns)) kind = Kind::kRss;
  if (root_name == "RDF" && root_ns == kNsRdf) kind = Kind::kRdf;
  if (root_name == "feed" && root_ns == kNsAtom10) kind = Kind::kAtom10;
  if (root_name == "feed" && root_ns == kNsAtom03) kind = Kind::kAtom03;
  if (root_name == "feed" && root_ns.empty()) kind = Kind::kAtomNoNs;
  if (kind == Kind::kNone) {
    std::string name = RepairUtf8(root_name.substr(0, 100));
    return Status::ParseError(
        Position(url, nullptr) + ": not a feed: root element <" + name + ">" +
        (root_ns.empty() ? "" : " in namespace " + RepairUtf8(root_ns.substr(0, 200))));
  }
  if (const XmlIssue* cut = FindCode(read.errors, XML_ERR_TAG_NOT_FINISHED)) {
    return XmlError(url, cut, "truncated XML");
  }
  if (!read.well_formed) {
    const XmlIssue* first = FirstError(read.errors);
    std::string w = Position(url, first) + ": not well-formed XML, read in recovery mode";
    if (first != nullptr) w += ": " + RepairUtf8(first->message);
    if (read.errors.total > 1) {
      w += " (and " + std::to_string(read.errors.total - 1) + " more)";
    }
    feed.warnings.push_back(std::move(w));
  }

  FeedReader reader(options, feed);
  switch (kind) {
    case Kind::kRss:
      reader.ReadRss(root);
      break;
    case Kind::kRdf:
      reader.ReadRdf(root);
      break;
    case Kind::kAtom10:
      reader.ReadAtom(root, kNsAtom10);
      break;
    case Kind::kAtom03:
      reader.ReadAtom(root, kNsAtom03);
      break;
    case Kind::kAtomNoNs:
      reader.ReadAtom(root, nullptr);
      break;
    case Kind::kNone:
      break;
  }
  reader.FlushWarnings();
  feed.title = ToNfc(feed.title);
  feed.language = ToNfc(TrimAsciiSpace(feed.language));
  return feed;
}

Result<HttpRequest> NextRequest(const SourceSpec& source, const SourceCursor& cursor) {
  if (source.url.empty()) {
    return Status::InvalidArgument("source '" + source.name + "': url is required");
  }
  if (!IsHttpUrl(source.url)) {
    return Status::InvalidArgument("source '" + source.name +
                                   "': url must be http(s): " + source.url);
  }
  auto options = OptionsFor(source, source.url, "");
  if (!options.ok()) return options.status();
  HttpRequest request;
  request.method = "GET";
  request.url = source.url;
  request.headers.Add("Accept",
                      "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
                      "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1");
  if (!cursor.etag.empty()) request.headers.Add("If-None-Match", cursor.etag);
  if (!cursor.last_modified.empty()) {
    request.headers.Add("If-Modified-Since", cursor.last_modified);
  }
  return request;
}

Result<Page> Parse(const SourceSpec& source, const SourceCursor& /*cursor*/,
                   const HttpResponse& response) {
  std::string charset;
  if (auto content_type = response.headers.Get("Content-Type")) {
    charset = ParseContentType(*content_type).charset;
  }
  auto options =
      OptionsFor(source, response.url.empty() ? source.url : response.url, std::move(charset));
  if (!options.ok()) return options.status();
  auto feed = ParseFeed(response.body, *options);
  if (!feed.ok()) return feed.status();

  Page page;
  page.caught_up = true;  // a feed is one document: no pages to follow
  page.skipped_items = feed->skipped_items;
  page.warnings = std::move(feed->warnings);
  std::optional<TimePoint> newest;
  page.posts.reserve(feed->items.size());
  for (FeedItem& item : feed->items) {
    if (item.post.created_at && (!newest || *item.post.created_at > *newest)) {
      newest = item.post.created_at;
    }
    page.posts.push_back(std::move(item.post));
  }
  if (newest) page.next_cursor = FormatRfc3339(*newest);
  return page;
}

Result<HttpRequest> ConversationRequest(const SourceSpec& source, const Post& post,
                                        std::string_view /*cursor*/) {
  if (post.ref.empty()) {
    return Status::NotFound("source '" + source.name + "': item " + RepairUtf8(post.id) +
                            " names no comment feed (wfw:commentRss or link rel=\"replies\")");
  }
  if (!IsHttpUrl(post.ref)) {
    return Status::InvalidArgument("source '" + source.name + "': comment feed of item " +
                                   RepairUtf8(post.id) +
                                   " is not an http(s) URL: " + RepairUtf8(post.ref));
  }
  HttpRequest request;
  request.url = post.ref;
  request.headers.Add("Accept",
                      "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
                      "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1");
  return request;
}

Result<Page> ParseConversation(const SourceSpec& source, const Post& post,
                               const HttpResponse& response) {
  Page page;
  if (response.status == 404 || response.status == 410) {
    page.deletions.push_back(
        {.uid = post.uid.empty() ? post.id : post.uid,
         .reason = "comment feed gone on re-fetch (HTTP " + std::to_string(response.status) + ")"});
    return page;
  }
  if (response.status < 200 || response.status > 299) {
    return StatusFromHttp(response.status,
                          "comment feed " + (response.url.empty() ? post.ref : response.url));
  }
  auto parsed = Parse(source, SourceCursor{}, response);
  if (!parsed.ok()) return parsed.status();
  page = std::move(parsed).value();
  page.next_cursor.clear();  // the source's own cursor is not this feed's
  // Every item of this feed belongs to the article, whatever the feed says
  // (or does not say) about threading. A reply_to naming the article by
  // another of its names (its guid where we hold its link) names it by ours.
  const std::string article_conversation = post.conversation.empty() ? post.id : post.conversation;
  std::vector<Post> comments;
  comments.reserve(page.posts.size());
  for (Post& comment : page.posts) {
    if (comment.id == post.id) continue;  // some feeds repeat the article
    const bool names_article = comment.reply_to.empty() ||
                               comment.reply_to == comment.conversation ||
                               comment.reply_to == post.url || comment.reply_to == post.id;
    if (names_article) comment.reply_to = post.id;
    comment.conversation = article_conversation;
    comments.push_back(std::move(comment));
  }
  page.posts = std::move(comments);
  return page;
}

RateLimitInfo ReadRateLimit(const HttpResponse& /*response*/) {
  return {};  // feeds have no rate-limit dialect; Retry-After is the engine's
}

const ConnectorDescriptor& Descriptor() {
  static const ConversationCapability kConversation{
      .request = &ConversationRequest,
      .parse = &ParseConversation,
  };
  static const ConnectorDescriptor kDescriptor{
      .name = "feed",
      .summary = "RSS 0.9x/1.0/2.0 and Atom 0.3/1.0 feeds, blog comment feeds included",
      .keys =
          {
              {.name = "max_items",
               .type = ConfigKeySpec::Type::kInteger,
               .default_value = std::to_string(kDefaultMaxItems),
               .doc = "Items read per fetch; later ones are skipped and counted."},
              {.name = "max_text_bytes",
               .type = ConfigKeySpec::Type::kInteger,
               .default_value = std::to_string(kDefaultMaxTextBytes),
               .doc = "A post's title and text are each cut to this many bytes."},
          },
      .next_request = &NextRequest,
      .parse = &Parse,
      .read_rate_limit = &ReadRateLimit,
      // No `reply`: a feed cannot take an answer; staff answer on the page
      // the post links to.
      .conversation = &kConversation,
  };
  return kDescriptor;
}

}  // namespace earshot::connector_feed
