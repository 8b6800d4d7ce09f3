#include "crawler/core/url.h"
#include "crawler/core/strings.h"

#include <curl/curl.h>

#include <memory>

namespace earshot {

namespace {

struct CurluDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
using CurluPtr = std::unique_ptr<CURLU, CurluDeleter>;

struct CurlStringDeleter {
  void operator()(char* p) const { curl_free(p); }
};
using CurlString = std::unique_ptr<char, CurlStringDeleter>;

// Any scheme is accepted (feeds link to gemini:, at:, ...) as long as curl
// can parse it; spaces are tolerated when reading, encoded when resolving.
constexpr unsigned int kParseFlags = CURLU_NON_SUPPORT_SCHEME;

char LowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Links in feeds and HTML are written by people: inner spaces and line breaks
// appear where %20 was meant. curl rejects them, so they are encoded first;
// nothing else is touched.
std::string EncodeSpaces(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == ' ') {
      out += "%20";
    } else if (c == '\t' || c == '\r' || c == '\n') {
      continue;
    } else {
      out += c;
    }
  }
  return out;
}

Status UrlError(std::string_view what, std::string_view url, CURLUcode rc) {
  std::string m(what);
  m.append(" \"").append(url).append("\": ").append(curl_url_strerror(rc));
  return Status::InvalidArgument(std::move(m));
}

Result<CurluPtr> ParseAbsolute(std::string_view url, unsigned int extra_flags = 0) {
  CurluPtr handle(curl_url());
  if (!handle) return Status::ResourceExhausted("curl_url: out of memory");
  std::string text = EncodeSpaces(TrimAsciiSpace(url));
  CURLUcode rc = curl_url_set(handle.get(), CURLUPART_URL, text.c_str(), kParseFlags | extra_flags);
  if (rc != CURLUE_OK) return UrlError("invalid URL", url, rc);
  return handle;
}

Result<std::string> GetPart(CURLU* handle, CURLUPart part, std::string_view url,
                            unsigned int flags = 0) {
  char* raw = nullptr;
  CURLUcode rc = curl_url_get(handle, part, &raw, flags);
  CurlString owned(raw);
  if (rc != CURLUE_OK) return UrlError("cannot read URL", url, rc);
  return std::string(raw);
}

std::string Unescape(std::string_view s) {
  std::string plus_decoded(s);
  // application/x-www-form-urlencoded writes a space as '+'.
  for (char& c : plus_decoded) {
    if (c == '+') c = ' ';
  }
  int length = 0;
  char* raw = curl_easy_unescape(nullptr, plus_decoded.data(),
                                 static_cast<int>(plus_decoded.size()), &length);
  if (raw == nullptr) return plus_decoded;
  CurlString owned(raw);
  return std::string(raw, static_cast<size_t>(length));
}

}  // namespace

Result<std::string> ResolveUrl(std::string_view base, std::string_view reference) {
  Result<CurluPtr> handle = ParseAbsolute(base);
  if (!handle.ok()) return handle.status();
  std::string_view ref = TrimAsciiSpace(reference);
  CURLUcode rc = CURLUE_OK;
  if (ref.empty()) {
    // RFC 3986 §5.2.2: an empty reference is the base itself.
  } else if (ref.front() == '#') {
    // curl resolves a fragment-only reference against the base's directory;
    // RFC 3986 keeps the whole base and replaces only the fragment.
    std::string fragment = EncodeSpaces(ref.substr(1));
    rc = curl_url_set(handle->get(), CURLUPART_FRAGMENT,
                      fragment.empty() ? nullptr : fragment.c_str(), 0);
  } else {
    std::string text = EncodeSpaces(ref);
    rc = curl_url_set(handle->get(), CURLUPART_URL, text.c_str(), kParseFlags);
  }
  if (rc != CURLUE_OK) {
    std::string m = "cannot resolve \"";
    m.append(reference).append("\" against \"").append(base).append("\": ");
    m.append(curl_url_strerror(rc));
    return Status::InvalidArgument(std::move(m));
  }
  return GetPart(handle->get(), CURLUPART_URL, base);
}

Result<std::string> UrlHost(std::string_view url) {
  Result<CurluPtr> handle = ParseAbsolute(url);
  if (!handle.ok()) return handle.status();
  Result<std::string> host = GetPart(handle->get(), CURLUPART_HOST, url);
  if (!host.ok()) return host.status();
  for (char& c : *host) c = LowerAscii(c);
  return host;
}

std::string UrlEncode(std::string_view text) {
  if (text.empty()) return {};
  char* raw = curl_easy_escape(nullptr, text.data(), static_cast<int>(text.size()));
  if (raw == nullptr) return {};
  CurlString owned(raw);
  return std::string(raw);
}

std::string QueryParam(std::string_view url, std::string_view name) {
  Result<CurluPtr> handle = ParseAbsolute(url);
  if (!handle.ok()) return {};
  char* raw = nullptr;
  if (curl_url_get(handle->get(), CURLUPART_QUERY, &raw, 0) != CURLUE_OK) return {};
  CurlString owned(raw);
  std::string_view query(raw);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    if (Unescape(key) != name) continue;
    return eq == std::string_view::npos ? std::string() : Unescape(pair.substr(eq + 1));
  }
  return {};
}

namespace {

// A cursor over a Link header value (RFC 8288 §3 grammar, with RFC 9110
// quoted-string and token rules).
class LinkScanner {
 public:
  explicit LinkScanner(std::string_view text) : text_(text) {}

  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }
  void Advance() { ++pos_; }
  void SkipOws() {
    while (!AtEnd() && (Peek() == ' ' || Peek() == '\t')) ++pos_;
  }

  // tchar run: letters, digits and !#$%&'*+-.^_`|~ ; empty when none.
  std::string_view ReadToken() {
    size_t start = pos_;
    while (!AtEnd() && IsTokenChar(Peek())) ++pos_;
    return text_.substr(start, pos_ - start);
  }

  // "..." with backslash escapes; false when unterminated.
  bool ReadQuoted(std::string* out) {
    if (Peek() != '"') return false;
    ++pos_;
    while (!AtEnd()) {
      char c = text_[pos_++];
      if (c == '"') return true;
      if (c == '\\') {
        if (AtEnd()) return false;
        c = text_[pos_++];
      }
      *out += c;
    }
    return false;
  }

  // <URI-Reference>; false when there is no closing '>'.
  bool ReadTarget(std::string* out) {
    if (Peek() != '<') return false;
    size_t close = text_.find('>', pos_ + 1);
    if (close == std::string_view::npos) return false;
    *out = std::string(TrimAsciiSpace(text_.substr(pos_ + 1, close - pos_ - 1)));
    pos_ = close + 1;
    return true;
  }

  // Recovery after a malformed link-value: move past the next ',' that is
  // outside quotes and angle brackets.
  void SkipToNextLink() {
    bool in_quotes = false;
    bool in_target = false;
    while (!AtEnd()) {
      char c = text_[pos_++];
      if (in_quotes) {
        if (c == '\\' && !AtEnd()) {
          ++pos_;
        } else if (c == '"') {
          in_quotes = false;
        }
      } else if (in_target) {
        if (c == '>') in_target = false;
      } else if (c == '"') {
        in_quotes = true;
      } else if (c == '<') {
        in_target = true;
      } else if (c == ',') {
        return;
      }
    }
  }

 private:
  static bool IsTokenChar(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
      return true;
    }
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

// Relation types compare case-insensitively (RFC 8288 §2.1.1); stored
// lower-cased with single spaces between them.
std::string NormaliseRel(std::string_view rel) {
  std::string out;
  bool space = false;
  for (char c : rel) {
    if (IsAsciiSpace(c)) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += LowerAscii(c);
  }
  return out;
}

// Parses one link-value at the scanner's position; false when malformed.
bool ParseOneLink(LinkScanner& s, WebLink* link) {
  if (!s.ReadTarget(&link->url)) return false;
  bool have_rel = false;
  while (true) {
    s.SkipOws();
    if (s.AtEnd() || s.Peek() == ',') break;
    if (s.Peek() != ';') return false;
    s.Advance();
    s.SkipOws();
    if (s.AtEnd() || s.Peek() == ',' || s.Peek() == ';') continue;  // empty param
    std::string_view name = s.ReadToken();
    if (name.empty()) return false;
    s.SkipOws();
    std::string value;
    if (s.Peek() == '=') {
      s.Advance();
      s.SkipOws();
      if (s.Peek() == '"') {
        if (!s.ReadQuoted(&value)) return false;
      } else {
        value = std::string(s.ReadToken());
      }
    }
    // Only the first rel counts (RFC 8288 §3.3).
    if (!have_rel && name.size() == 3 && LowerAscii(name[0]) == 'r' && LowerAscii(name[1]) == 'e' &&
        LowerAscii(name[2]) == 'l') {
      link->rel = NormaliseRel(value);
      have_rel = true;
    }
  }
  // rel is mandatory (RFC 8288 §3.3): a link without one says nothing.
  return have_rel && !link->rel.empty();
}

}  // namespace

std::vector<WebLink> ParseLinkHeader(std::string_view value) {
  std::vector<WebLink> links;
  LinkScanner s(value);
  while (true) {
    // Empty list elements (",,") are allowed by RFC 9110 §5.6.1.
    while (!s.AtEnd() && (s.Peek() == ',' || s.Peek() == ' ' || s.Peek() == '\t')) {
      s.Advance();
    }
    if (s.AtEnd()) break;
    WebLink link;
    if (ParseOneLink(s, &link)) {
      links.push_back(std::move(link));
    } else {
      s.SkipToNextLink();
    }
  }
  return links;
}

std::string FindLink(const std::vector<WebLink>& links, std::string_view rel) {
  std::string wanted = NormaliseRel(rel);
  for (const WebLink& link : links) {
    std::string_view rels = link.rel;
    while (!rels.empty()) {
      size_t space = rels.find(' ');
      if (rels.substr(0, space) == wanted) return link.url;
      if (space == std::string_view::npos) break;
      rels.remove_prefix(space + 1);
    }
  }
  return {};
}

}  // namespace earshot
