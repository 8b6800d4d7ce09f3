#include "crawler/core/text.h"

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <openssl/evp.h>
#include <uninorm.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <memory>

namespace earshot {

namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

// Length of the well-formed UTF-8 sequence at s[i], or 0 when ill-formed; on
// failure *bad_length is the maximal subpart to replace (Unicode §3.9,
// "U+FFFD Substitution of Maximal Subparts"), at least 1.
size_t DecodeUtf8(std::string_view s, size_t i, size_t* bad_length) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char lead = byte(i);
  if (lead < 0x80) return 1;
  size_t need = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    need = 1;
  } else if (lead == 0xE0) {
    need = 2;
    lo = 0xA0;  // no overlongs
  } else if (lead >= 0xE1 && lead <= 0xEC) {
    need = 2;
  } else if (lead == 0xED) {
    need = 2;
    hi = 0x9F;  // no surrogates
  } else if (lead >= 0xEE && lead <= 0xEF) {
    need = 2;
  } else if (lead == 0xF0) {
    need = 3;
    lo = 0x90;  // no overlongs
  } else if (lead >= 0xF1 && lead <= 0xF3) {
    need = 3;
  } else if (lead == 0xF4) {
    need = 3;
    hi = 0x8F;  // nothing above U+10FFFF
  } else {
    *bad_length = 1;
    return 0;
  }
  for (size_t k = 1; k <= need; ++k) {
    if (i + k >= s.size()) {
      *bad_length = k;
      return 0;
    }
    unsigned char c = byte(i + k);
    unsigned char min = k == 1 ? lo : 0x80;
    unsigned char max = k == 1 ? hi : 0xBF;
    if (c < min || c > max) {
      *bad_length = k;
      return 0;
    }
  }
  return need + 1;
}

bool IsAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

bool IsHtmlSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Builds plain text from a stream of words, spaces and line breaks: runs of
// whitespace collapse to one space, breaks win over spaces, and at most one
// blank line survives (a "paragraph" break).
class TextSink {
 public:
  // Text whose whitespace collapses (HTML rendering rules). U+00A0 counts as
  // a space: for search and classification "a&nbsp;b" is "a b".
  void AddCollapsing(std::string_view text) {
    for (size_t i = 0; i < text.size(); ++i) {
      char c = text[i];
      if (IsHtmlSpace(c)) {
        pending_space_ = true;
      } else if (c == '\xC2' && i + 1 < text.size() && text[i + 1] == '\xA0') {
        pending_space_ = true;
        ++i;
      } else {
        AddChar(c);
      }
    }
  }

  // <pre> content: spaces kept, newlines are line breaks.
  void AddPreformatted(std::string_view text) {
    for (size_t i = 0; i < text.size(); ++i) {
      char c = text[i];
      if (c == '\r') {
        if (i + 1 < text.size() && text[i + 1] == '\n') continue;
        c = '\n';
      }
      if (c == '\n') {
        pending_breaks_ = std::min(pending_breaks_ + 1, 2);
        pending_space_ = false;
      } else if (c == ' ' || c == '\t') {
        Flush();
        out_ += c;
      } else {
        AddChar(c);
      }
    }
  }

  void Space() { pending_space_ = true; }

  // Requests `count` line breaks (1: new line, 2: blank line) before the next
  // visible character; repeated requests take the maximum.
  void Break(int count) {
    pending_breaks_ = std::max(pending_breaks_, std::min(count, 2));
    pending_space_ = false;
  }
  // <br>: each one adds a line break, so <br><br> is a blank line.
  void LineBreak() {
    pending_breaks_ = std::min(pending_breaks_ + 1, 2);
    pending_space_ = false;
  }

  std::string Take() {
    // Trailing spaces inside lines can only come from <pre>.
    std::string result;
    result.reserve(out_.size());
    size_t line_start = 0;
    while (line_start <= out_.size()) {
      size_t nl = out_.find('\n', line_start);
      size_t end = nl == std::string::npos ? out_.size() : nl;
      size_t trimmed = end;
      while (trimmed > line_start && (out_[trimmed - 1] == ' ' || out_[trimmed - 1] == '\t')) {
        --trimmed;
      }
      result.append(out_, line_start, trimmed - line_start);
      if (nl == std::string::npos) break;
      result += '\n';
      line_start = nl + 1;
    }
    // Lines of only spaces inside <pre> may now form extra blank lines.
    std::string collapsed;
    collapsed.reserve(result.size());
    int newlines = 0;
    for (char c : result) {
      if (c == '\n') {
        if (++newlines > 2) continue;
      } else {
        newlines = 0;
      }
      collapsed += c;
    }
    while (!collapsed.empty() && collapsed.back() == '\n') collapsed.pop_back();
    size_t first = collapsed.find_first_not_of(" \t\n");
    return first == std::string::npos ? std::string() : collapsed.substr(first);
  }

 private:
  bool AtLineStart() const { return out_.empty() || out_.back() == '\n'; }

  void Flush() {
    if (out_.empty()) {
      pending_breaks_ = 0;
      pending_space_ = false;
      return;
    }
    if (pending_breaks_ > 0) {
      out_.append(static_cast<size_t>(pending_breaks_), '\n');
    } else if (pending_space_ && !AtLineStart()) {
      out_ += ' ';
    }
    pending_breaks_ = 0;
    pending_space_ = false;
  }

  void AddChar(char c) {
    Flush();
    out_ += c;
  }

  std::string out_;
  int pending_breaks_ = 0;
  bool pending_space_ = false;
};

enum class ElementKind { kInline, kDropped, kLine, kParagraph, kBreak, kCell, kPre };

ElementKind Classify(const xmlChar* raw_name) {
  if (raw_name == nullptr) return ElementKind::kInline;
  std::string_view name(reinterpret_cast<const char*>(raw_name));
  // libxml2's HTML parser lower-cases element names.
  static constexpr std::string_view kDropped[] = {"script", "style",    "template", "head",
                                                  "title",  "noscript", "iframe",   "object",
                                                  "svg",    "select"};
  static constexpr std::string_view kParagraphs[] = {
      "p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "hr", "figure"};
  static constexpr std::string_view kLines[] = {
      "address", "article", "aside",   "caption", "center",   "dd",         "details",
      "dialog",  "div",     "dl",      "dt",      "fieldset", "figcaption", "footer",
      "form",    "header",  "hgroup",  "legend",  "li",       "main",       "nav",
      "ol",      "section", "summary", "tr",      "ul",       "body",       "html",
      "option",  "tbody",   "thead",   "tfoot",   "menu",     "search"};
  if (name == "br") return ElementKind::kBreak;
  if (name == "pre" || name == "listing" || name == "xmp" || name == "plaintext") {
    return ElementKind::kPre;
  }
  if (name == "td" || name == "th") return ElementKind::kCell;
  for (std::string_view d : kDropped) {
    if (name == d) return ElementKind::kDropped;
  }
  for (std::string_view p : kParagraphs) {
    if (name == p) return ElementKind::kParagraph;
  }
  for (std::string_view l : kLines) {
    if (name == l) return ElementKind::kLine;
  }
  return ElementKind::kInline;
}

void OnEnter(ElementKind kind, TextSink& sink, int* pre_depth) {
  switch (kind) {
    case ElementKind::kParagraph:
      sink.Break(2);
      break;
    case ElementKind::kPre:
      sink.Break(2);
      ++*pre_depth;
      break;
    case ElementKind::kLine:
      sink.Break(1);
      break;
    case ElementKind::kBreak:
      sink.LineBreak();
      break;
    case ElementKind::kCell:
      sink.Space();
      break;
    case ElementKind::kInline:
    case ElementKind::kDropped:
      break;
  }
}

void OnLeave(ElementKind kind, TextSink& sink, int* pre_depth) {
  switch (kind) {
    case ElementKind::kParagraph:
      sink.Break(2);
      break;
    case ElementKind::kPre:
      sink.Break(2);
      --*pre_depth;
      break;
    case ElementKind::kLine:
      sink.Break(1);
      break;
    case ElementKind::kCell:
      sink.Space();
      break;
    case ElementKind::kBreak:
    case ElementKind::kInline:
    case ElementKind::kDropped:
      break;
  }
}

std::string_view NodeText(const xmlNode* node) {
  if (node->content == nullptr) return {};
  return std::string_view(reinterpret_cast<const char*>(node->content));
}

// Iterative walk: hostile documents nest deeper than any stack allows.
void Walk(const xmlNode* root, TextSink& sink) {
  int pre_depth = 0;
  const xmlNode* node = root;
  while (node != nullptr) {
    bool descend = false;
    if (node->type == XML_ELEMENT_NODE) {
      ElementKind kind = Classify(node->name);
      if (kind != ElementKind::kDropped) {
        OnEnter(kind, sink, &pre_depth);
        descend = node->children != nullptr;
        if (!descend) OnLeave(kind, sink, &pre_depth);
      }
    } else if (node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE) {
      if (pre_depth > 0) {
        sink.AddPreformatted(NodeText(node));
      } else {
        sink.AddCollapsing(NodeText(node));
      }
    }
    if (descend) {
      node = node->children;
      continue;
    }
    // Climb until a sibling exists, closing the elements left behind.
    while (node != nullptr && node != root && node->next == nullptr) {
      node = node->parent;
      if (node != nullptr && node->type == XML_ELEMENT_NODE) {
        OnLeave(Classify(node->name), sink, &pre_depth);
      }
    }
    if (node == nullptr || node == root) break;
    node = node->next;
  }
}

void IgnoreXmlError(void* /*user_data*/, xmlErrorPtr /*error*/) {}

struct DocDeleter {
  void operator()(xmlDoc* doc) const { xmlFreeDoc(doc); }
};
struct CtxtDeleter {
  void operator()(htmlParserCtxt* ctxt) const { htmlFreeParserCtxt(ctxt); }
};

// libxml2 wants one initialisation before threads use it.
void EnsureLibxmlInitialised() {
  static const bool initialised = [] {
    xmlInitParser();
    return true;
  }();
  (void)initialised;
}

// True when `text` contains something the HTML parser would read as markup:
// '<' followed by a tag name, '/', '!' or '?'.
bool LooksLikeMarkup(std::string_view text) {
  for (size_t i = text.find('<'); i != std::string_view::npos; i = text.find('<', i + 1)) {
    if (i + 1 >= text.size()) break;
    char c = text[i + 1];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '/' || c == '!' || c == '?') {
      return true;
    }
  }
  return false;
}

std::unique_ptr<xmlDoc, DocDeleter> ParseHtml(const std::string& utf8) {
  EnsureLibxmlInitialised();
  std::unique_ptr<htmlParserCtxt, CtxtDeleter> ctxt(htmlNewParserCtxt());
  if (!ctxt) return nullptr;
  // Errors are expected (this is recover mode on the open web) and must not
  // reach stderr. Only this context's callbacks are changed, never the
  // process-wide handlers (xmlSetGenericErrorFunc), so other threads and the
  // feed parser keep theirs. libxml2 2.9 ignores `serror` on HTML contexts;
  // HTML_PARSE_NOERROR/NOWARNING (which clear error/warning) silence them.
  if (ctxt->sax != nullptr) {
    ctxt->sax->serror = IgnoreXmlError;
    ctxt->sax->error = nullptr;
    ctxt->sax->warning = nullptr;
    // Whitespace between inline elements separates words; libxml2 would
    // drop it as "ignorable" at the top level.
    ctxt->sax->ignorableWhitespace = ctxt->sax->characters;
  }
  int size = static_cast<int>(std::min<size_t>(utf8.size(), INT_MAX));
  // No HTML_PARSE_NOIMPLIED: libxml2 2.9 then nests every top-level element
  // inside the first one ("<style>..</style><p>x</p>" puts p in style).
  // XML_PARSE_HUGE lifts the 256-level depth limit, past which libxml2 stops
  // parsing and the rest of the text is lost; the body size is already
  // bounded by the transport and the walk below is iterative.
  int options = HTML_PARSE_RECOVER | HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                HTML_PARSE_COMPACT | XML_PARSE_HUGE;
  return std::unique_ptr<xmlDoc, DocDeleter>(
      htmlCtxtReadMemory(ctxt.get(), utf8.data(), size, nullptr, "UTF-8", options));
}

}  // namespace

bool IsValidUtf8(std::string_view bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    size_t bad = 0;
    size_t n = DecodeUtf8(bytes, i, &bad);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string RepairUtf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t i = 0;
  while (i < bytes.size()) {
    size_t bad = 0;
    size_t n = DecodeUtf8(bytes, i, &bad);
    if (n == 0) {
      out += kReplacement;
      i += bad;
    } else {
      out.append(bytes.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string ToNfc(std::string_view utf8) {
  if (IsAscii(utf8)) return std::string(utf8);
  std::string valid = RepairUtf8(utf8);
  size_t length = 0;
  uint8_t* normalised = u8_normalize(UNINORM_NFC, reinterpret_cast<const uint8_t*>(valid.data()),
                                     valid.size(), nullptr, &length);
  if (normalised == nullptr) return valid;  // out of memory: unnormalised beats nothing
  std::string out(reinterpret_cast<const char*>(normalised), length);
  std::free(normalised);
  return out;
}

std::string NormalizeText(std::string_view text) {
  std::string valid = RepairUtf8(text);
  TextSink sink;
  // Plain text marks paragraphs with blank lines; a single line break is only
  // wrapping (a title folded across lines in a feed) and becomes a space.
  size_t i = 0;
  while (i < valid.size()) {
    size_t run_end = i;
    int newlines = 0;
    while (run_end < valid.size() && IsHtmlSpace(valid[run_end])) {
      if (valid[run_end] == '\n' ||
          (valid[run_end] == '\r' && (run_end + 1 >= valid.size() || valid[run_end + 1] != '\n'))) {
        ++newlines;
      }
      ++run_end;
    }
    if (run_end > i) {
      if (newlines >= 2) {
        sink.Break(2);
      } else {
        sink.Space();
      }
      i = run_end;
      continue;
    }
    size_t word_end = i;
    while (word_end < valid.size() && !IsHtmlSpace(valid[word_end])) ++word_end;
    sink.AddCollapsing(std::string_view(valid).substr(i, word_end - i));
    i = word_end;
  }
  return ToNfc(sink.Take());
}

std::string HtmlToText(std::string_view html) {
  std::string valid = RepairUtf8(html);
  // As in browsers: NUL never reaches the text (libxml2 would make it a space).
  std::erase(valid, '\0');
  bool markup = LooksLikeMarkup(valid);
  if (!markup && valid.find('&') == std::string::npos) return NormalizeText(valid);

  std::unique_ptr<xmlDoc, DocDeleter> doc = ParseHtml(valid);
  if (!doc) return NormalizeText(valid);
  if (!markup) {
    // Plain text with entities: libxml2 decodes them, the text keeps its
    // plain-text line structure.
    std::string decoded;
    for (const xmlNode* n = doc->children; n != nullptr;) {
      if (n->type == XML_TEXT_NODE) decoded.append(NodeText(n));
      if (n->children != nullptr && n->type == XML_ELEMENT_NODE) {
        n = n->children;
        continue;
      }
      while (n != nullptr && n->next == nullptr) n = n->parent;
      if (n == nullptr || n->type == XML_HTML_DOCUMENT_NODE) break;
      n = n->next;
    }
    return NormalizeText(decoded);
  }
  TextSink sink;
  for (const xmlNode* child = doc->children; child != nullptr; child = child->next) {
    Walk(child, sink);
  }
  return ToNfc(sink.Take());
}

std::string Sha256Hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    return {};
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0x0F];
  }
  return out;
}

}  // namespace earshot
