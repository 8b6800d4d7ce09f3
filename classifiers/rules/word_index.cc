// Word-level matching of rule patterns (word_index.h).
//
// Compiling a pattern: it is parsed (the RE2 subset below), expanded into
// its alternatives as sequences of characters, character-class repeats and
// assertions, and each sequence is cut where word characters meet other
// characters into a WordProgram: tokens (what one text token must be: one
// of a set of words, or a shape such as `\d+` or `nutrition\w*`) and the
// gaps between them (what the characters between two tokens must be, or a
// bounded `.{m,n}` skip over tokens). Alternatives that differ only in one
// token's word are merged back into one program with a set of words, so
// `\b(my|his) (mum|dad)\b` is one program, not four.
//
// The subset: literals (ASCII, and under case folding non-ASCII punctuation
// without case), classes built from ASCII ranges, \d \w \s \D \W \S and `.`,
// groups, alternation, ? * + {m,n} (unbounded repeats only of one class),
// \b, ^ and $ (begin and end of text). Where the cut lands must be implied
// by tokens: a pattern starts with \b or ^, a `.`-like skip is fenced by \b
// on both sides and at most kMaxSkip characters long, a gap that could be
// empty may not join two words without a \b. Anything else (inline flags,
// \B, Unicode classes, a word part that is not a prefix or suffix around
// one repeat, ...) leaves the pattern to RE2, or to a filter: the words it
// needs (RequiredWord).
//
// Matching: each text token is looked up in one hash table (whole; by its
// first or last characters for prefix and suffix shapes; and with the next
// token, as a pair, for programs with two adjacent words) where each program
// is entered under its most selective anchor, and the program is checked
// outward from there, token by token. Programs that end "... skip word"
// share their head (SkipGroup); single-word programs skip the program walk.
// Patterns fixed to the start of the text are tried once per text.
#include "classifiers/rules/word_index.h"

#include <re2/re2.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <tuple>
#include <unordered_map>
#include <utility>

namespace earshot::rules::internal {

namespace {

constexpr int32_t kUnbounded = -1;
// Alternatives a pattern may expand to before merging; beyond, RE2 keeps it.
constexpr size_t kMaxExpansions = 8192;
// A finite class repeat expands into its strings up to this many.
constexpr size_t kMaxClassStrings = 16;

inline bool IsWordByte(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
// Equal bytes, for the short strings words are.
inline bool Same(const char* a, const char* b, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (a[i] != b[i]) return false;
  return true;
}
inline bool IsWordCp(uint32_t c) { return c < 0x80 && IsWordByte(static_cast<unsigned char>(c)); }
inline char LowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

inline uint64_t Mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h;
}
constexpr uint64_t kFnvBasis = 1469598103934665603ULL;
constexpr uint64_t kFnvPrime = 1099511628211ULL;

// Word at a time: tokens are short, so usually one multiply.
inline uint64_t HashStep(uint64_t h, uint64_t v) {
  h = (h ^ v) * kFnvPrime;
  return h ^ (h >> 29);
}
uint64_t HashBytes(const char* p, size_t n) {
  uint64_t h = kFnvBasis ^ n;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    h = HashStep(h, v);
  }
  if (n > 0) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
    h = HashStep(h, v);
  }
  return Mix(h);
}
// The same, reading whole words: at least 8 readable bytes from p + n - 1.
// (Little-endian, as the loads in HashBytes assume.)
inline uint64_t HashBytesPadded(const char* p, size_t n) {
  uint64_t h = kFnvBasis ^ n;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    h = HashStep(h, v);
  }
  if (n > 0) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    h = HashStep(h, v & ((uint64_t{1} << (8 * n)) - 1));
  }
  return Mix(h);
}

// Byte classes for the tokenizer: bit 0 word byte, bit 1 >= 0x80.
struct ByteTables {
  uint8_t kind[256];
  char lower[256];
  ByteTables() {
    for (int c = 0; c < 256; ++c) {
      kind[c] = static_cast<uint8_t>((IsWordByte(static_cast<unsigned char>(c)) ? 1 : 0) |
                                     (c >= 0x80 ? 2 : 0));
      lower[c] = LowerAscii(static_cast<char>(c));
    }
  }
};
const ByteTables& Bytes() {
  static const ByteTables tables;
  return tables;
}

enum KeyTag : uint64_t { kExactKey = 1, kPrefixKey = 2, kSuffixKey = 3, kPairKey = 4 };
inline uint64_t PairHash(uint64_t first, uint64_t second) {
  return Mix(first * 0x9E3779B97F4A7C15ULL + second);
}
// A program is found by a pair of adjacent words when its two word sets
// make at most this many pairs.
constexpr size_t kMaxPairs = 256;
// The longest `.{m,n}`-like skip the word index takes, in characters.
constexpr int32_t kMaxSkip = 250;
// Stands for "a run of digits" in pair keys (any value no word hashes to
// will do: pairs are verified).
constexpr uint64_t kDigitsHash = 0x5bd1e9955bd1e995ULL;
// Prefix and suffix anchors are keyed by at most this many of their first
// (last) characters, so a text token needs one probe per key length in use
// (usually just this one), not one per prefix length.
constexpr size_t kAffixKey = 3;
inline uint64_t Key(uint64_t hash, KeyTag tag) {
  uint64_t k = hash ^ (static_cast<uint64_t>(tag) * 0x9E3779B97F4A7C15ULL);
  return k == 0 ? 1 : k;
}

// Strict UTF-8: the length of the sequence at s[i] and its code point, or 0
// for an invalid sequence (overlong, surrogate, beyond U+10FFFF, truncated).
int DecodeUtf8(std::string_view s, size_t i, uint32_t* cp) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  int len;
  uint32_t v;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    v = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    v = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    v = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (int k = 1; k < len; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    v = (v << 6) | (b(i + k) & 0x3F);
  }
  if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10FFFF)) ||
      (v >= 0xD800 && v <= 0xDFFF)) {
    return 0;
  }
  *cp = v;
  return len;
}

// Non-ASCII code points without case variants that patterns write as
// literals (curly quotes, dashes, currency, arrows, emoji): safe to compare
// byte for byte under case folding.
bool Caseless(uint32_t cp) {
  return (cp >= 0xA0 && cp <= 0xBF) || cp == 0xD7 || cp == 0xF7 || (cp >= 0x2000 && cp <= 0x206F) ||
         (cp >= 0x20A0 && cp <= 0x20CF) || (cp >= 0x2190 && cp <= 0x23FF) ||
         (cp >= 0x2500 && cp <= 0x2BFF) || (cp >= 0x3000 && cp <= 0x303F) ||
         (cp >= 0x1F000 && cp <= 0x1FAFF);
}

void AddAscii(CharSet* s, uint32_t c) { s->ascii[c >> 6] |= uint64_t{1} << (c & 63); }
bool HasAscii(const CharSet& s, uint32_t c) { return (s.ascii[c >> 6] >> (c & 63)) & 1; }
void AddRange(CharSet* s, uint32_t lo, uint32_t hi) {
  for (uint32_t c = lo; c <= hi && c < 0x80; ++c) AddAscii(s, c);
}
void Union(CharSet* s, const CharSet& o) {
  s->ascii[0] |= o.ascii[0];
  s->ascii[1] |= o.ascii[1];
  s->non_ascii = s->non_ascii || o.non_ascii;
  if (s->non_ascii) {
    s->extra.clear();
  } else {
    s->extra.insert(s->extra.end(), o.extra.begin(), o.extra.end());
  }
}
CharSet WordClass() {
  CharSet s;
  AddRange(&s, '0', '9');
  AddRange(&s, 'A', 'Z');
  AddRange(&s, 'a', 'z');
  AddAscii(&s, '_');
  return s;
}
CharSet DigitClass() {
  CharSet s;
  AddRange(&s, '0', '9');
  return s;
}
CharSet SpaceClass() {
  CharSet s;
  for (char c : {'\t', '\n', '\f', '\r', ' '}) AddAscii(&s, static_cast<unsigned char>(c));
  return s;
}
CharSet Complement(const CharSet& s) {
  CharSet out;
  out.ascii[0] = ~s.ascii[0];
  out.ascii[1] = ~s.ascii[1];
  out.non_ascii = !s.non_ascii;
  return out;  // callers refuse complements of sets with `extra`
}
// Under case folding the text is compared lower-cased: a class holds the
// lower-case form of any letter it holds.
void FoldClass(CharSet* s) {
  for (uint32_t c = 'A'; c <= 'Z'; ++c) {
    if (HasAscii(*s, c) || HasAscii(*s, c + 32)) AddAscii(s, c + 32);
    s->ascii[c >> 6] &= ~(uint64_t{1} << (c & 63));
  }
}
bool IsSubset(const CharSet& a, const CharSet& b) {
  if ((a.ascii[0] & ~b.ascii[0]) || (a.ascii[1] & ~b.ascii[1])) return false;
  if (a.non_ascii) return b.non_ascii;
  if (b.non_ascii) return true;
  for (uint32_t c : a.extra)
    if (std::find(b.extra.begin(), b.extra.end(), c) == b.extra.end()) return false;
  return true;
}
bool Disjoint(const CharSet& a, const CharSet& b) {
  if ((a.ascii[0] & b.ascii[0]) || (a.ascii[1] & b.ascii[1])) return false;
  if (a.non_ascii && (b.non_ascii || !b.extra.empty())) return false;
  if (b.non_ascii && !a.extra.empty()) return false;
  for (uint32_t c : a.extra)
    if (std::find(b.extra.begin(), b.extra.end(), c) != b.extra.end()) return false;
  return true;
}
// Members when finitely many, else SIZE_MAX.
size_t Members(const CharSet& s, std::vector<uint32_t>* out) {
  if (s.non_ascii) return SIZE_MAX;
  out->clear();
  for (uint32_t c = 0; c < 0x80; ++c)
    if (HasAscii(s, c)) out->push_back(c);
  out->insert(out->end(), s.extra.begin(), s.extra.end());
  std::sort(out->begin(), out->end());
  out->erase(std::unique(out->begin(), out->end()), out->end());
  return out->size();
}
std::string Describe(const CharSet& s) {
  std::string d =
      std::to_string(s.ascii[0]) + "." + std::to_string(s.ascii[1]) + (s.non_ascii ? "+" : "-");
  std::vector<uint32_t> extra = s.extra;
  std::sort(extra.begin(), extra.end());
  for (uint32_t c : extra) d += "," + std::to_string(c);
  return d;
}

void AppendUtf8(std::string* s, uint32_t cp) {
  if (cp < 0x80) {
    s->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    s->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    s->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    s->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    s->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    s->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    s->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    s->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// ---------------------------------------------------------------------------
// Parsing.

struct Node {
  enum Kind : uint8_t { kLit, kClass, kConcat, kAlt, kRepeat, kWordBoundary, kBegin, kEnd, kEmpty };
  Kind kind = kEmpty;
  uint32_t cp = 0;
  bool cased = false;  // kLit: a non-ASCII letter whose case variants would match too
  CharSet cls;
  std::vector<Node> kids;
  int32_t min = 0;
  int32_t max = 0;
};

class Parser {
 public:
  Parser(std::string_view pattern, bool fold) : p_(pattern), fold_(fold) {}

  bool Parse(Node* out, std::string* why) {
    if (!ParseAlt(out) || i_ != p_.size()) {
      *why = why_.empty() ? "unexpected ')'" : why_;
      return false;
    }
    return true;
  }

 private:
  bool Fail(std::string why) {
    if (why_.empty()) why_ = std::move(why);
    return false;
  }
  bool AtEnd() const { return i_ >= p_.size(); }
  char Peek() const { return p_[i_]; }

  bool ParseAlt(Node* out) {
    Node alt;
    alt.kind = Node::kAlt;
    while (true) {
      Node concat;
      if (!ParseConcat(&concat)) return false;
      if (concat.kids.size() == 1) {
        Node only = std::move(concat.kids[0]);
        concat = std::move(only);
      } else if (concat.kids.empty()) {
        concat.kind = Node::kEmpty;
      }
      alt.kids.push_back(std::move(concat));
      if (AtEnd() || Peek() != '|') break;
      ++i_;
    }
    *out = alt.kids.size() == 1 ? std::move(alt.kids[0]) : std::move(alt);
    return true;
  }

  bool ParseConcat(Node* out) {
    out->kind = Node::kConcat;
    while (!AtEnd() && Peek() != '|' && Peek() != ')') {
      Node atom;
      if (!ParseAtom(&atom)) return false;
      while (!AtEnd()) {
        int32_t min, max;
        const size_t save = i_;
        if (Peek() == '*') {
          min = 0, max = kUnbounded, ++i_;
        } else if (Peek() == '+') {
          min = 1, max = kUnbounded, ++i_;
        } else if (Peek() == '?') {
          min = 0, max = 1, ++i_;
        } else if (Peek() == '{' && ParseCount(&min, &max)) {
        } else {
          i_ = save;
          break;
        }
        if (!AtEnd() && Peek() == '?') ++i_;  // lazy: same set of matches
        Node rep;
        rep.kind = Node::kRepeat;
        rep.min = min;
        rep.max = max;
        rep.kids.push_back(std::move(atom));
        atom = std::move(rep);
      }
      out->kids.push_back(std::move(atom));
    }
    return true;
  }

  // {m}, {m,}, {m,n}; false (nothing consumed) when this is a literal '{'.
  bool ParseCount(int32_t* min, int32_t* max) {
    size_t j = i_ + 1;
    auto number = [&](int32_t* v) {
      const size_t start = j;
      int64_t n = 0;
      while (j < p_.size() && p_[j] >= '0' && p_[j] <= '9' && n < 100000)
        n = n * 10 + (p_[j++] - '0');
      *v = static_cast<int32_t>(n);
      return j > start;
    };
    if (!number(min)) return false;
    if (j < p_.size() && p_[j] == '}') {
      *max = *min;
    } else if (j < p_.size() && p_[j] == ',') {
      ++j;
      if (j < p_.size() && p_[j] == '}') {
        *max = kUnbounded;
      } else if (!number(max) || j >= p_.size() || p_[j] != '}') {
        return false;
      }
    } else {
      return false;
    }
    i_ = j + 1;
    return true;
  }

  bool Literal(uint32_t cp, Node* out) {
    // A letter with case variants is fine for a filter, not for matching.
    out->cased = cp >= 0x80 && fold_ && !Caseless(cp);
    out->kind = Node::kLit;
    out->cp = fold_ && cp < 0x80 ? static_cast<uint32_t>(LowerAscii(static_cast<char>(cp))) : cp;
    return true;
  }

  bool ClassNode(CharSet cls, Node* out) {
    if (fold_) FoldClass(&cls);
    out->kind = Node::kClass;
    out->cls = std::move(cls);
    return true;
  }

  // A code point of the pattern at i_ (UTF-8).
  bool NextCp(uint32_t* cp) {
    const int len = DecodeUtf8(p_, i_, cp);
    if (len == 0) return Fail("invalid UTF-8 in pattern");
    i_ += len;
    return true;
  }

  // After a backslash: a Perl class into *cls (returns 1), a literal into
  // *cp (returns 2), or an assertion kind (returns 3, in *assert), or 0.
  int Escape(CharSet* cls, uint32_t* cp, Node::Kind* assert, bool in_class) {
    if (AtEnd()) return Fail("trailing backslash"), 0;
    const char c = p_[i_++];
    switch (c) {
      case 'd':
        *cls = DigitClass();
        return 1;
      case 'D':
        *cls = Complement(DigitClass());
        return 1;
      case 'w':
        *cls = WordClass();
        return 1;
      case 'W':
        *cls = Complement(WordClass());
        return 1;
      case 's':
        *cls = SpaceClass();
        return 1;
      case 'S':
        *cls = Complement(SpaceClass());
        return 1;
      case 'n':
        *cp = '\n';
        return 2;
      case 't':
        *cp = '\t';
        return 2;
      case 'r':
        *cp = '\r';
        return 2;
      case 'f':
        *cp = '\f';
        return 2;
      case 'v':
        *cp = '\v';
        return 2;
      case 'a':
        *cp = '\a';
        return 2;
      case 'x': {
        uint32_t v = 0;
        auto hex = [](char h, uint32_t* d) {
          if (h >= '0' && h <= '9') return *d = h - '0', true;
          if (h >= 'a' && h <= 'f') return *d = h - 'a' + 10, true;
          if (h >= 'A' && h <= 'F') return *d = h - 'A' + 10, true;
          return false;
        };
        uint32_t d;
        if (!AtEnd() && Peek() == '{') {
          ++i_;
          int digits = 0;
          while (!AtEnd() && Peek() != '}' && hex(Peek(), &d) && digits < 8)
            v = v * 16 + d, ++i_, ++digits;
          if (AtEnd() || Peek() != '}' || digits == 0) return Fail("bad \\x{...}"), 0;
          ++i_;
        } else {
          for (int k = 0; k < 2; ++k) {
            if (AtEnd() || !hex(Peek(), &d)) return Fail("bad \\x"), 0;
            v = v * 16 + d;
            ++i_;
          }
        }
        *cp = v;
        return 2;
      }
      case 'b':
        if (in_class) return Fail("\\b in a class"), 0;
        *assert = Node::kWordBoundary;
        return 3;
      case 'A':
        if (in_class) return Fail("\\A in a class"), 0;
        *assert = Node::kBegin;
        return 3;
      case 'z':
        if (in_class) return Fail("\\z in a class"), 0;
        *assert = Node::kEnd;
        return 3;
      default:
        if (static_cast<unsigned char>(c) < 0x80 && !IsWordByte(static_cast<unsigned char>(c))) {
          *cp = static_cast<unsigned char>(c);
          return 2;
        }
        return Fail(std::string("escape \\") + c), 0;
    }
  }

  bool ParseClass(Node* out) {
    // At the '[' already consumed.
    CharSet cls;
    bool negated = false;
    if (!AtEnd() && Peek() == '^') negated = true, ++i_;
    bool first = true;
    while (true) {
      if (AtEnd()) return Fail("unterminated class");
      if (Peek() == ']' && !first) {
        ++i_;
        break;
      }
      first = false;
      if (Peek() == '[' && i_ + 1 < p_.size() && p_[i_ + 1] == ':') {
        return Fail("POSIX class");
      }
      uint32_t lo;
      if (Peek() == '\\') {
        ++i_;
        CharSet perl;
        Node::Kind unused;
        const int kind = Escape(&perl, &lo, &unused, /*in_class=*/true);
        if (kind == 0) return false;
        if (kind == 1) {
          Union(&cls, perl);
          continue;
        }
      } else if (!NextCp(&lo)) {
        return false;
      }
      uint32_t hi = lo;
      if (i_ + 1 < p_.size() && Peek() == '-' && p_[i_ + 1] != ']') {
        ++i_;
        if (Peek() == '\\') {
          ++i_;
          CharSet perl;
          Node::Kind unused;
          if (Escape(&perl, &hi, &unused, true) != 2) return Fail("bad class range");
        } else if (!NextCp(&hi)) {
          return false;
        }
      }
      if (hi < lo) return Fail("bad class range");
      if (hi < 0x80) {
        AddRange(&cls, lo, hi);
      } else {
        if (hi - lo > 16) return Fail("a wide non-ASCII class range");
        for (uint32_t c = lo; c <= hi; ++c) {
          if (c < 0x80) {
            AddAscii(&cls, c);
            continue;
          }
          if (fold_ && !Caseless(c)) return Fail("a non-ASCII letter under case folding");
          if (!cls.non_ascii) cls.extra.push_back(c);
        }
      }
    }
    if (fold_) {
      // Fold before negating, as RE2 does: [^a] excludes A too.
      for (uint32_t c = 'A'; c <= 'Z'; ++c) {
        if (HasAscii(cls, c) || HasAscii(cls, c + 32)) AddAscii(&cls, c), AddAscii(&cls, c + 32);
      }
    }
    if (negated) {
      if (!cls.extra.empty()) return Fail("a negated class with non-ASCII members");
      cls = Complement(cls);
    }
    return ClassNode(std::move(cls), out);
  }

  bool ParseAtom(Node* out) {
    const char c = Peek();
    if (c == '(') {
      ++i_;
      if (!AtEnd() && Peek() == '?') {
        if (i_ + 1 < p_.size() && p_[i_ + 1] == ':') {
          i_ += 2;
        } else if (i_ + 2 < p_.size() && p_[i_ + 1] == 'P' && p_[i_ + 2] == '<') {
          i_ = p_.find('>', i_);
          if (i_ == std::string_view::npos) return Fail("bad group name");
          ++i_;
        } else {
          return Fail("flags in a group");
        }
      }
      if (!ParseAlt(out)) return false;
      if (AtEnd() || Peek() != ')') return Fail("missing )");
      ++i_;
      return true;
    }
    if (c == '[') {
      ++i_;
      return ParseClass(out);
    }
    if (c == '.') {
      ++i_;
      CharSet dot;
      dot.ascii[0] = ~uint64_t{0} & ~(uint64_t{1} << '\n');
      dot.ascii[1] = ~uint64_t{0};
      dot.non_ascii = true;
      return ClassNode(std::move(dot), out);
    }
    if (c == '^') {
      ++i_;
      out->kind = Node::kBegin;
      return true;
    }
    if (c == '$') {
      ++i_;
      out->kind = Node::kEnd;
      return true;
    }
    if (c == '*' || c == '+' || c == '?') return Fail("missing argument to repetition");
    if (c == '\\') {
      ++i_;
      CharSet cls;
      uint32_t cp;
      Node::Kind assert;
      const int kind = Escape(&cls, &cp, &assert, false);
      if (kind == 0) return false;
      if (kind == 1) return ClassNode(std::move(cls), out);
      if (kind == 2) return Literal(cp, out);
      out->kind = assert;
      return true;
    }
    uint32_t cp;
    if (!NextCp(&cp)) return false;
    return Literal(cp, out);
  }

  std::string_view p_;
  bool fold_;
  size_t i_ = 0;
  std::string why_;
};

// ---------------------------------------------------------------------------
// Expansion into sequences.

struct Item {
  enum Kind : uint8_t { kChar, kRep, kWordBoundary, kBegin, kEnd };
  Kind kind = kChar;
  uint32_t cp = 0;
  int32_t cls = -1;  // kRep: index into the class table
  int32_t min = 1;
  int32_t max = 1;
  bool cased = false;  // kChar: see Node::cased
};
using Seq = std::vector<Item>;

class Expander {
 public:
  explicit Expander(std::vector<CharSet>* classes) : classes_(classes) {}

  bool Expand(const Node& n, std::vector<Seq>* out, std::string* why) {
    switch (n.kind) {
      case Node::kLit: {
        Item it{Item::kChar, n.cp};
        it.cased = n.cased;
        *out = {{it}};
        return true;
      }
      case Node::kClass:
        return RepeatClass(n.cls, 1, 1, out);
      case Node::kWordBoundary:
        *out = {{Item{Item::kWordBoundary}}};
        return true;
      case Node::kBegin:
        *out = {{Item{Item::kBegin}}};
        return true;
      case Node::kEnd:
        *out = {{Item{Item::kEnd}}};
        return true;
      case Node::kEmpty:
        *out = {{}};
        return true;
      case Node::kAlt: {
        out->clear();
        for (const Node& k : n.kids) {
          std::vector<Seq> part;
          if (!Expand(k, &part, why)) return false;
          out->insert(out->end(), std::make_move_iterator(part.begin()),
                      std::make_move_iterator(part.end()));
          if (out->size() > kMaxExpansions) return TooMany(why);
        }
        return true;
      }
      case Node::kConcat: {
        *out = {{}};
        for (const Node& k : n.kids) {
          std::vector<Seq> part;
          if (!Expand(k, &part, why)) return false;
          if (!Product(out, part, why)) return false;
        }
        return true;
      }
      case Node::kRepeat: {
        const Node& kid = n.kids[0];
        if (kid.kind == Node::kLit || kid.kind == Node::kClass) {
          CharSet cls;
          if (kid.kind == Node::kLit) {
            if (kid.cased) {
              *why = "a repeated non-ASCII letter under case folding";
              return false;
            }
            if (kid.cp < 0x80) {
              AddAscii(&cls, kid.cp);
            } else {
              cls.extra.push_back(kid.cp);
            }
          } else {
            cls = kid.cls;
          }
          return RepeatClass(cls, n.min, n.max, out);
        }
        if (n.max == kUnbounded) {
          *why = "an unbounded repeat of a group";
          return false;
        }
        std::vector<Seq> once;
        if (!Expand(kid, &once, why)) return false;
        out->clear();
        std::vector<Seq> power = {{}};
        for (int32_t k = 0; k <= n.max; ++k) {
          if (k >= n.min) {
            out->insert(out->end(), power.begin(), power.end());
            if (out->size() > kMaxExpansions) return TooMany(why);
          }
          if (k < n.max && !Product(&power, once, why)) return false;
        }
        return true;
      }
    }
    return false;
  }

 private:
  static bool TooMany(std::string* why) {
    *why = "more than " + std::to_string(kMaxExpansions) + " alternatives";
    return false;
  }

  bool Product(std::vector<Seq>* acc, const std::vector<Seq>& part, std::string* why) {
    if (part.size() == 1) {
      for (Seq& s : *acc) s.insert(s.end(), part[0].begin(), part[0].end());
      return true;
    }
    if (acc->size() * part.size() > kMaxExpansions) return TooMany(why);
    std::vector<Seq> next;
    next.reserve(acc->size() * part.size());
    for (const Seq& a : *acc) {
      for (const Seq& b : part) {
        Seq s = a;
        s.insert(s.end(), b.begin(), b.end());
        next.push_back(std::move(s));
      }
    }
    *acc = std::move(next);
    return true;
  }

  // A class repeated min..max times: its strings when few, else one item.
  bool RepeatClass(const CharSet& cls, int32_t min, int32_t max, std::vector<Seq>* out) {
    std::vector<uint32_t> members;
    const size_t m = Members(cls, &members);
    if (m != SIZE_MAX && max != kUnbounded) {
      size_t total = 0, power = 1;
      for (int32_t k = 0; k <= max && total <= kMaxClassStrings; ++k) {
        if (k >= min) total += power;
        power *= std::max<size_t>(m, 1);
        if (power > kMaxClassStrings) power = kMaxClassStrings + 1;
      }
      if (total <= kMaxClassStrings) {
        out->clear();
        std::vector<Seq> strings = {{}};
        for (int32_t k = 0; k <= max; ++k) {
          if (k >= min) out->insert(out->end(), strings.begin(), strings.end());
          if (k == max) break;
          std::vector<Seq> next;
          for (const Seq& s : strings) {
            for (uint32_t c : members) {
              Seq t = s;
              t.push_back(Item{Item::kChar, c});
              next.push_back(std::move(t));
            }
          }
          strings = std::move(next);
        }
        return true;
      }
    }
    classes_->push_back(cls);
    Item item{Item::kRep};
    item.cls = static_cast<int32_t>(classes_->size() - 1);
    item.min = min;
    item.max = max;
    *out = {{item}};
    return true;
  }

  std::vector<CharSet>* classes_;
};

}  // namespace

// ---------------------------------------------------------------------------
// Programs.

struct TokenTest {
  enum class Kind : uint8_t { kWords, kShape };
  Kind kind = Kind::kWords;
  // The match ends inside this (last) token, after the word: the pattern
  // does not end with \b.
  bool partial = false;
  std::vector<std::string> words;  // kWords, folded when the pattern is
  std::vector<uint64_t> hashes;    // HashBytes of each word (folded)
  // kShape: prefix, then min..max characters of `middle`, then suffix.
  std::string prefix;
  std::string suffix;
  CharSet middle;
  int32_t min = 0;
  int32_t max = kUnbounded;
  bool any = false;  // a shape that every token satisfies (\w+)

  std::string Describe() const {
    std::string d = kind == Kind::kWords ? "W" : "S";
    d += partial ? "p" : "f";
    if (kind == Kind::kWords) {
      for (const auto& w : words) d += "|" + w;
    } else {
      d += prefix + "|" + ::earshot::rules::internal::Describe(middle) + "{" + std::to_string(min) +
           "," + std::to_string(max) + "}|" + suffix;
    }
    return d;
  }
};

struct GapTest {
  enum class Kind : uint8_t { kExact, kClass, kSkip };
  Kind kind = Kind::kExact;
  std::vector<std::string> exact;  // kExact: one of these strings
  CharSet cls;                     // kClass, kSkip: every character in it
  bool any_non_word = false;       // cls holds every non-word character
  bool dot = false;                // cls holds every character but perhaps \n
  int32_t min = 0;                 // in characters
  int32_t max = kUnbounded;

  std::string Describe() const {
    std::string d = kind == Kind::kExact ? "E" : kind == Kind::kClass ? "C" : "K";
    if (kind == Kind::kExact) {
      for (const auto& e : exact) d += "|" + e;
    } else {
      d += ::earshot::rules::internal::Describe(cls) + "{" + std::to_string(min) + "," +
           std::to_string(max) + "}";
    }
    return d;
  }
};

struct WordProgram {
  int32_t pattern = 0;
  bool fold = true;
  bool begin = false;  // ^: the match starts at 0, `lead` before the first token
  bool end = false;    // $: the match ends at the end, `trail` after the last token
  bool has_lead = false;
  bool has_trail = false;
  GapTest lead;
  GapTest trail;
  std::vector<TokenTest> tokens;
  std::vector<GapTest> gaps;  // gaps[i] between tokens[i] and tokens[i + 1]
  int32_t anchor = 0;         // the token the index finds it by
  bool count_only = false;    // ^(?:\W*\w+\b){N}: the text has at least N tokens
  bool alive = true;          // false once merged into another
  // A head: the tokens before a final skip gap of the programs in
  // Impl::skip_groups[group], which share it (see Build).
  int32_t group = -1;

  std::string Describe(int skip_token, int skip_gap) const {
    std::string d =
        std::string(begin ? "^" : "") + (end ? "$" : "") + std::to_string(tokens.size());
    if (has_lead) d += "L" + lead.Describe();
    if (has_trail) d += "T" + trail.Describe();
    for (size_t i = 0; i < tokens.size(); ++i) {
      d += "\x01" + (static_cast<int>(i) == skip_token ? std::string("*") : tokens[i].Describe());
      if (i < gaps.size()) {
        d += "\x02" + (static_cast<int>(i) == skip_gap ? std::string("*") : gaps[i].Describe());
      }
    }
    return d;
  }
};

namespace {

// Cuts one expanded sequence into a program. Returns 1 with *out set, 0 when
// the sequence can never match (drop it), -1 when it is outside the subset.
int ToProgram(const Seq& seq, const std::vector<CharSet>& classes, bool fold, WordProgram* out,
              std::string* why) {
  static const CharSet kWord = WordClass();
  static const CharSet kNonWord = Complement(WordClass());
  static const CharSet kWordFolded = [] {
    CharSet c = WordClass();
    FoldClass(&c);
    return c;
  }();
  // Every word character, as this pattern's classes hold them.
  const CharSet& all_word = fold ? kWordFolded : kWord;
  for (const Item& it : seq) {
    if (it.cased) {
      *why = "a non-ASCII letter under case folding";
      return -1;
    }
  }
  enum SegKind { kToken, kGap, kSkip, kB, kBegin, kEnd };
  struct Seg {
    SegKind kind;
    std::vector<Item> items;
  };
  std::vector<Seg> segs;
  auto kind_of = [&](const Item& it) -> int {
    switch (it.kind) {
      case Item::kChar:
        return IsWordCp(it.cp) ? kToken : kGap;
      case Item::kRep: {
        const CharSet& c = classes[it.cls];
        if (IsSubset(c, kWord)) return kToken;
        if (Disjoint(c, kWord)) return kGap;
        return kSkip;
      }
      case Item::kWordBoundary:
        return kB;
      case Item::kBegin:
        return kBegin;
      case Item::kEnd:
        return kEnd;
    }
    return -1;
  };
  for (const Item& it : seq) {
    const SegKind k = static_cast<SegKind>(kind_of(it));
    if (it.kind == Item::kRep && it.max == 0) continue;  // x{0}: nothing
    if ((k == kToken || k == kGap) && !segs.empty() && segs.back().kind == k) {
      segs.back().items.push_back(it);
    } else {
      segs.push_back({k, {it}});
    }
  }
  auto fail = [&](const char* reason) {
    *why = reason;
    return -1;
  };
  // Assertions: ^ first, $ last; \b only where a token side implies it.
  for (size_t i = 0; i < segs.size(); ++i) {
    if (segs[i].kind == kBegin && i != 0) {
      // ^ after something that can be empty is still position 0, but keep
      // to the plain shape.
      return fail("^ not at the start");
    }
    if (segs[i].kind == kEnd && i + 1 != segs.size()) return fail("$ not at the end");
  }
  std::vector<Seg> plain;  // without \b
  std::vector<bool> b_before, b_after;
  bool pending_b = false;
  for (size_t i = 0; i < segs.size(); ++i) {
    if (segs[i].kind == kB) {
      int prev = -1, next = -1;
      for (int k = static_cast<int>(i) - 1; k >= 0; --k)
        if (segs[k].kind != kB) {
          prev = k;
          break;
        }
      for (size_t k = i + 1; k < segs.size(); ++k)
        if (segs[k].kind != kB) {
          next = static_cast<int>(k);
          break;
        }
      const bool prev_token = prev >= 0 && segs[prev].kind == kToken;
      const bool next_token = next >= 0 && segs[next].kind == kToken;
      if (prev_token && next_token) return 0;  // \b between two word characters
      if (!prev_token && !next_token) return fail("\\b away from a word");
      if (prev_token && !b_after.empty()) b_after.back() = true;
      if (next_token) pending_b = true;
      continue;
    }
    plain.push_back(segs[i]);
    b_before.push_back(pending_b);
    b_after.push_back(false);
    pending_b = false;
  }

  WordProgram prog;
  prog.fold = fold;
  size_t i = 0;
  if (i < plain.size() && plain[i].kind == kBegin) prog.begin = true, ++i;
  if (i < plain.size() && plain[i].kind == kEnd && i + 1 == plain.size()) {
    // ^$ or $ alone
    if (!prog.begin) return fail("$ without words");
    prog.end = true;
    ++i;
  }
  auto gap_test = [&](const Seg& s, GapTest* g) -> bool {
    bool all_chars = true;
    for (const Item& it : s.items) all_chars = all_chars && it.kind == Item::kChar;
    if (all_chars) {
      g->kind = GapTest::Kind::kExact;
      std::string e;
      for (const Item& it : s.items) AppendUtf8(&e, it.cp);
      g->exact = {e};
      g->min = g->max = static_cast<int32_t>(s.items.size());
      return true;
    }
    if (s.items.size() != 1) return false;
    const Item& it = s.items[0];
    g->kind = GapTest::Kind::kClass;
    g->cls = classes[it.cls];
    g->any_non_word = IsSubset(kNonWord, g->cls);
    g->min = it.min;
    g->max = it.max;
    return true;
  };
  auto skip_test = [&](const Seg& s, GapTest* g) {
    const Item& it = s.items[0];
    g->kind = GapTest::Kind::kSkip;
    g->cls = classes[it.cls];
    g->min = it.min;
    g->max = it.max;
    CharSet all_but_newline = g->cls;
    AddAscii(&all_but_newline, '\n');
    g->dot = all_but_newline.non_ascii && all_but_newline.ascii[0] == ~uint64_t{0} &&
             ((all_but_newline.ascii[1] | (fold ? uint64_t{0x7FFFFFE} : 0)) == ~uint64_t{0});
  };
  auto token_test = [&](const Seg& s, bool partial, TokenTest* t) -> bool {
    std::string before, after;
    const Item* rep = nullptr;
    for (const Item& it : s.items) {
      if (it.kind == Item::kRep) {
        if (rep) return false;
        rep = &it;
      } else {
        (rep ? after : before).push_back(static_cast<char>(it.cp));
      }
    }
    if (!rep) {
      t->kind = TokenTest::Kind::kWords;
      t->words = {before};
      t->partial = partial;
      return true;
    }
    if (partial) {
      // Ends inside the token: only a repeat of every word character can
      // stretch to the token's end, which makes it a whole token.
      if (!after.empty() || !IsSubset(all_word, classes[rep->cls]) || rep->max != kUnbounded) {
        return false;
      }
    }
    t->kind = TokenTest::Kind::kShape;
    t->prefix = before;
    t->suffix = after;
    t->middle = classes[rep->cls];
    t->min = rep->min;
    t->max = rep->max;
    t->any = before.empty() && after.empty() && rep->min <= 1 && rep->max == kUnbounded &&
             IsSubset(all_word, t->middle);
    return true;
  };

  if (i < plain.size() && plain[i].kind == kGap) {
    if (!prog.begin) return fail("starts with non-word characters");
    GapTest g;
    if (!gap_test(plain[i], &g)) return fail("a gap mixing literals and classes");
    prog.has_lead = true;
    prog.lead = std::move(g);
    ++i;
  }
  if (i < plain.size() && plain[i].kind == kEnd) {
    if (!prog.begin) return fail("$ without words");
    prog.end = true;
    ++i;
    if (i != plain.size()) return fail("$ not at the end");
    *out = std::move(prog);
    return 1;  // no tokens: ^GAP$
  }
  if (i >= plain.size() || plain[i].kind != kToken) return fail("no word where the match starts");
  if (!prog.begin && !b_before[i]) return fail("may start inside a word (no \\b)");
  while (true) {
    const Seg& tok = plain[i];
    const bool last = i + 1 == plain.size();
    const bool partial = last && !b_after[i];
    TokenTest t;
    if (!token_test(tok, partial, &t)) return fail("a word part this index cannot check");
    prog.tokens.push_back(std::move(t));
    ++i;
    if (i == plain.size()) break;
    if (plain[i].kind == kEnd) {
      prog.end = true;
      ++i;
      if (i != plain.size()) return fail("$ not at the end");
      break;
    }
    if (plain[i].kind == kGap) {
      GapTest g;
      if (!gap_test(plain[i], &g)) return fail("a gap mixing literals and classes");
      ++i;
      if (i < plain.size() && plain[i].kind == kEnd) {
        prog.end = true;
        prog.has_trail = true;
        prog.trail = std::move(g);
        ++i;
        if (i != plain.size()) return fail("$ not at the end");
        break;
      }
      if (i >= plain.size()) return fail("ends with non-word characters");
      if (plain[i].kind != kToken) return fail("a gap not between words");
      // An empty gap would join the two words into one token.
      if (g.min == 0 && !b_after[i - 2] && !b_before[i])
        return fail("words joined by a gap that may be empty");
      prog.gaps.push_back(std::move(g));
      continue;
    }
    if (plain[i].kind == kSkip) {
      if (!b_after[i - 1]) return fail("a skip after a word without \\b");
      GapTest g;
      skip_test(plain[i], &g);
      // Matching scans the skip from each anchor: bounded, or a long text
      // would be read once per anchor (RE2 reads it once).
      if (g.max == kUnbounded || g.max > kMaxSkip) return fail("a skip longer than kMaxSkip");
      ++i;
      if (i >= plain.size() || plain[i].kind != kToken || !b_before[i]) {
        return fail("a skip not followed by \\b and a word");
      }
      prog.gaps.push_back(std::move(g));
      continue;
    }
    return fail("an unexpected shape");
  }
  *out = std::move(prog);
  return 1;
}

// A word every match of the sequence contains: a run of literal word
// characters that is a whole text token (non-word characters or \b or ^/$
// on both sides), or, when only its start is fenced, a token's prefix.
struct Required {
  std::string word;
  bool prefix = false;
};
bool RequiredWord(const Seq& seq, const std::vector<CharSet>& classes, Required* out) {
  static const CharSet kWord = WordClass();
  enum Kind { kWordChars, kFence, kOther };
  // Each item: a literal word character, something that is (or asserts) a
  // non-word boundary, or anything else.
  auto kind_of = [&](const Item& it) -> Kind {
    switch (it.kind) {
      case Item::kChar:
        return IsWordCp(it.cp) ? kWordChars : kFence;
      case Item::kRep:
        if (it.min >= 1 && Disjoint(classes[it.cls], kWord)) return kFence;
        return kOther;
      case Item::kWordBoundary:
      case Item::kBegin:
      case Item::kEnd:
        return kFence;
    }
    return kOther;
  };
  bool found = false;
  for (size_t i = 0; i < seq.size();) {
    if (kind_of(seq[i]) != kWordChars) {
      ++i;
      continue;
    }
    size_t j = i;
    std::string word;
    while (j < seq.size() && kind_of(seq[j]) == kWordChars)
      word.push_back(static_cast<char>(seq[j++].cp));
    const bool left = i > 0 && kind_of(seq[i - 1]) == kFence;
    const bool right = j < seq.size() && kind_of(seq[j]) == kFence;
    if (left) {
      const bool better = !found || (right && out->prefix) ||
                          (right == !out->prefix && word.size() > out->word.size());
      if (better) *out = {word, !right}, found = true;
    }
    i = j;
  }
  return found;
}

// Merges programs that differ in one token's words or one gap's strings.
void MergePrograms(std::vector<WordProgram>* progs) {
  bool changed = true;
  while (changed) {
    changed = false;
    size_t max_tokens = 0;
    for (const auto& p : *progs) max_tokens = std::max(max_tokens, p.tokens.size());
    for (size_t pos = 0; pos < 2 * max_tokens; ++pos) {
      const bool gap = pos % 2 == 1;
      const size_t k = pos / 2;
      std::unordered_map<std::string, size_t> by_sig;
      for (size_t n = 0; n < progs->size(); ++n) {
        WordProgram& p = (*progs)[n];
        if (!p.alive) continue;
        if (gap ? (k >= p.gaps.size() || p.gaps[k].kind != GapTest::Kind::kExact)
                : (k >= p.tokens.size() || p.tokens[k].kind != TokenTest::Kind::kWords)) {
          continue;
        }
        std::string sig =
            p.Describe(gap ? -1 : static_cast<int>(k), gap ? static_cast<int>(k) : -1);
        sig += gap ? "g" : (p.tokens[k].partial ? "tp" : "tf");
        auto [it, fresh] = by_sig.emplace(std::move(sig), n);
        if (fresh) continue;
        WordProgram& into = (*progs)[it->second];
        if (gap) {
          auto& e = into.gaps[k].exact;
          e.insert(e.end(), p.gaps[k].exact.begin(), p.gaps[k].exact.end());
          std::sort(e.begin(), e.end());
          e.erase(std::unique(e.begin(), e.end()), e.end());
          into.gaps[k].min = std::min(into.gaps[k].min, p.gaps[k].min);
          into.gaps[k].max = std::max(into.gaps[k].max, p.gaps[k].max);
        } else {
          auto& w = into.tokens[k].words;
          w.insert(w.end(), p.tokens[k].words.begin(), p.tokens[k].words.end());
          std::sort(w.begin(), w.end());
          w.erase(std::unique(w.begin(), w.end()), w.end());
        }
        p.alive = false;
        changed = true;
      }
    }
    progs->erase(
        std::remove_if(progs->begin(), progs->end(), [](const WordProgram& p) { return !p.alive; }),
        progs->end());
  }
  // Identical programs (the same alternative written twice).
  std::unordered_map<std::string, bool> seen;
  progs->erase(std::remove_if(progs->begin(), progs->end(),
                              [&](const WordProgram& p) {
                                return !seen.emplace(p.Describe(-1, -1), true).second;
                              }),
               progs->end());
}

// A token test that is any run of digits (\d+, \d{2,4}, ...).
bool DigitRun(const TokenTest& t) {
  return t.kind == TokenTest::Kind::kShape && t.prefix.empty() && t.suffix.empty() && t.min >= 1 &&
         IsSubset(t.middle, DigitClass());
}

bool IsStopWord(std::string_view w) {
  static const char* const kStop[] = {
      "a",     "an",    "and",  "are", "as",   "at",   "be",    "been", "but",  "by",
      "could", "did",   "do",   "for", "from", "had",  "has",   "have", "he",   "her",
      "his",   "i",     "in",   "is",  "it",   "me",   "my",    "no",   "not",  "of",
      "on",    "or",    "our",  "s",   "she",  "so",   "t",     "that", "the",  "their",
      "them",  "they",  "this", "to",  "very", "was",  "we",    "were", "when", "will",
      "with",  "would", "you",  "all", "very", "just", "there", "what", "if",   "get"};
  for (const char* s : kStop)
    if (w == s) return true;
  return false;
}

// How good a token is as the index anchor: specific words first.
int AnchorScore(const TokenTest& t) {
  if (t.kind == TokenTest::Kind::kWords) {
    size_t shortest = SIZE_MAX;
    bool stop = false;
    for (const auto& w : t.words)
      shortest = std::min(shortest, w.size()), stop = stop || IsStopWord(w);
    return 1000 - (stop ? 500 : 0) - static_cast<int>(std::min<size_t>(t.words.size(), 200)) +
           static_cast<int>(std::min<size_t>(shortest, 20)) * 4 - (t.partial ? 100 : 0);
  }
  if (!t.prefix.empty()) return 300 + static_cast<int>(t.prefix.size());
  if (!t.suffix.empty()) return 200 + static_cast<int>(t.suffix.size());
  if (!t.any && IsSubset(t.middle, DigitClass())) return 100;
  return 0;
}

}  // namespace

bool CharSet::Contains(uint32_t cp) const {
  if (cp < 0x80) return (ascii[cp >> 6] >> (cp & 63)) & 1;
  if (non_ascii) return true;
  return std::find(extra.begin(), extra.end(), cp) != extra.end();
}

// ---------------------------------------------------------------------------
// Tokenizing.

void TokenizedText::Reset(std::string_view text) {
  // The same bytes as last time (several rule sets reading one text): the
  // tokens are the same.
  if (text.size() == copy_.size() && !copy_.empty() &&
      std::memcmp(text.data(), copy_.data(), text.size()) == 0) {
    text_ = text;
    return;
  }
  copy_.assign(text.data(), text.size());
  text_ = text;
  ++generation_;
  // Padding: token hashes read whole words (what the padding holds does not
  // matter, HashBytesPadded masks it).
  folded_.resize(text.size() + 8);
  tokens_.clear();
  usable_ = true;
  const ByteTables& t = Bytes();
  uint8_t seen = 0;
  const size_t n = text.size();
  const unsigned char* in = reinterpret_cast<const unsigned char*>(text.data());
  char* out = folded_.data();
  size_t i = 0;
  while (i < n) {
    const uint8_t kind = t.kind[in[i]];
    seen |= kind;
    out[i] = t.lower[in[i]];
    if (!(kind & 1)) {
      ++i;
      continue;
    }
    const size_t start = i;
    for (++i; i < n && (t.kind[in[i]] & 1); ++i) out[i] = t.lower[in[i]];
    tokens_.push_back({static_cast<int32_t>(start), static_cast<int32_t>(i),
                       HashBytesPadded(out + start, i - start)});
  }
  const bool non_ascii = seen & 2;
  ascii_ = !non_ascii;
  if (non_ascii) {
    for (size_t k = 0; k < n;) {
      uint32_t cp;
      const int len = DecodeUtf8(text, k, &cp);
      if (len == 0 || cp == 0x212A || cp == 0x17F) {
        usable_ = false;
        return;
      }
      k += len;
    }
  }
}

// ---------------------------------------------------------------------------
// The index.

namespace {

// Entry::element of a one-word program: Entry::program indexes
// Impl::unigrams.
constexpr int16_t kUnigram = -2;

struct Entry {
  int32_t program;  // or, for a filter, the index in Impl::filters
  int16_t element;  // the program's token found (the first of a pair); -1: a filter
  int16_t word;     // index into the element's words; -1 for a shape
  int16_t word2;    // a pair: index into the next element's words; else -1
};
struct Slot {
  uint64_t key = 0;
  uint32_t begin = 0;
  uint32_t count = 0;
};

}  // namespace

struct WordIndex::Impl {
  std::vector<WordProgram> programs;
  size_t pattern_count = 0;
  // Programs anchored at the start of the text.
  std::vector<std::vector<int32_t>> begin_by_tokens;    // ^...$ with no skip: [token count]
  std::vector<std::pair<int32_t, int32_t>> count_only;  // (tokens needed, program), sorted
  std::vector<int32_t> begin_other;
  // Single-class patterns (\S).
  struct CharPattern {
    int32_t id;
    CharSet cls;
    bool fold;
  };
  std::vector<CharPattern> char_patterns;
  // Word anchors.
  std::vector<std::pair<uint64_t, Entry>> staged;
  std::vector<Slot> table;
  uint64_t mask = 0;
  std::vector<Entry> entries;
  std::vector<int32_t> prefix_lengths;
  std::vector<int32_t> suffix_lengths;
  std::vector<Entry> digit_entries;
  std::vector<Entry> any_entries;
  bool has_pairs = false;
  // Programs that end "... skip word" and agree up to the word share their
  // head (a program of the tokens before the skip, found and checked once);
  // from where it ends, each token within the skip is looked up among the
  // last words. So "(not|never|...) .{1,30} word" for hundreds of words
  // costs a scan after each negation, not one before every word.
  struct SkipGroup {
    GapTest skip;
    std::vector<uint64_t> hashes;   // of the folded last words, sorted
    std::vector<int32_t> patterns;  // parallel to hashes
    std::vector<std::string> words;
  };
  std::vector<SkipGroup> skip_groups;
  // Words that filter patterns need (Coverage::kFilter).
  struct Filter {
    int32_t pattern;
    std::string word;
    bool prefix;  // a token starting with the word will do
    bool fold;
  };
  std::vector<Filter> filters;
  // Programs of one whole word (Entry::element == kUnigram): most patterns.
  struct Unigram {
    int32_t pattern;
    bool fold;
    std::string word;
    // A word of at most 8 bytes as one little-endian integer, zero-padded
    // (else 0): compared with the padded folded text in one load.
    uint64_t short_word;
  };
  std::vector<Unigram> unigrams;
  int32_t max_id = -1;
  uint64_t serial = 0;  // set by Build
  // The same pattern added again (another rule file of a shared index):
  // matched once, reported under every id. canonical[key] is the first id,
  // with its coverage; aliases[first id] the others, flattened by Build
  // into alias_list[alias_begin[id] .. alias_begin[id + 1]).
  std::unordered_map<std::string, std::pair<int32_t, WordIndex::Coverage>> canonical;
  std::unordered_map<int32_t, std::vector<int32_t>> aliases;
  std::unordered_map<int32_t, int32_t> canonical_of;  // alias -> first id
  std::vector<uint32_t> alias_begin;
  std::vector<int32_t> alias_list;

  // A bit per key (by its high bits): most probes for absent keys (word
  // pairs, mostly) stop here, in a few kilobytes, not in the table.
  std::vector<uint64_t> present;
  uint64_t present_mask = 0;
  // First characters (folded) a token can have to match a prefix or a
  // suffix anchor: other tokens skip those probes.
  uint64_t prefix_first[2] = {0, 0};
  uint64_t suffix_first[2] = {0, 0};

  static size_t PresentBit(uint64_t key) { return static_cast<size_t>(key >> 40); }

  const Slot* Find(uint64_t key) const {
    if (table.empty()) return nullptr;
    const size_t bit = PresentBit(key) & present_mask;
    if (!((present[bit >> 6] >> (bit & 63)) & 1)) return nullptr;
    for (uint64_t i = key & mask;; i = (i + 1) & mask) {
      const Slot& s = table[i];
      if (s.key == key) return &s;
      if (s.key == 0) return nullptr;
    }
  }
};

namespace {

// Matching one text.
class Matcher {
 public:
  Matcher(const WordIndex::Impl& ix, const TokenizedText& t, std::vector<Occurrence>* out,
          std::vector<int32_t>* maybe)
      : ix_(ix),
        t_(t),
        toks_(t.tokens()),
        n_tokens_(static_cast<int32_t>(t.tokens().size())),
        out_(out),
        maybe_(maybe) {}

  void Run() {
    for (int32_t j = 0; j < n_tokens_; ++j) {
      const Token& tok = toks_[j];
      if (const Slot* s = ix_.Find(Key(tok.hash, kExactKey))) RunEntries(*s, j);
      if (ix_.has_pairs && j + 1 < n_tokens_) {
        const uint64_t h2 = toks_[j + 1].hash;
        RunPairs(PairHash(tok.hash, h2), j);
        // A number on either side also stands for "any digits".
        const bool d1 = AllDigits(tok), d2 = AllDigits(toks_[j + 1]);
        if (d1) RunPairs(PairHash(kDigitsHash, h2), j);
        if (d2) RunPairs(PairHash(tok.hash, kDigitsHash), j);
        if (d1 && d2) RunPairs(PairHash(kDigitsHash, kDigitsHash), j);
      }
      const int32_t len = tok.end - tok.start;
      const char* f = t_.folded().data();
      const unsigned char first = static_cast<unsigned char>(f[tok.start]);
      const bool prefix = (ix_.prefix_first[first >> 6] >> (first & 63)) & 1;
      const bool suffix = (ix_.suffix_first[first >> 6] >> (first & 63)) & 1;
      for (int32_t l : ix_.prefix_lengths) {
        if (!prefix) break;
        if (l > len) break;
        if (const Slot* s = ix_.Find(Key(HashBytes(f + tok.start, l), kPrefixKey)))
          RunEntries(*s, j);
      }
      for (int32_t l : ix_.suffix_lengths) {
        if (!suffix || l > len) break;
        if (const Slot* s = ix_.Find(Key(HashBytes(f + tok.end - l, l), kSuffixKey))) {
          RunEntries(*s, j);
        }
      }
      if (!ix_.digit_entries.empty() && first >= '0' && first <= '9') {
        bool digits = true;
        for (int32_t k = tok.start; k < tok.end && digits; ++k) digits = f[k] >= '0' && f[k] <= '9';
        if (digits)
          for (const Entry& e : ix_.digit_entries) RunEntry(e, j);
      }
      for (const Entry& e : ix_.any_entries) RunEntry(e, j);
    }
    // Programs anchored at the start.
    if (static_cast<size_t>(n_tokens_) < ix_.begin_by_tokens.size()) {
      for (int32_t p : ix_.begin_by_tokens[n_tokens_]) RunBegin(ix_.programs[p]);
    }
    for (const auto& [need, p] : ix_.count_only) {
      if (need > n_tokens_) break;
      const WordProgram& prog = ix_.programs[p];
      if (prog.has_lead && !GapOk(prog, prog.lead, 0, n_tokens_ ? toks_[0].start : 0)) continue;
      if (!prog.has_lead && toks_[0].start != 0) continue;
      Out(prog.pattern, 0, toks_[need - 1].end);
    }
    for (int32_t p : ix_.begin_other) RunBegin(ix_.programs[p]);
  }

 private:
  std::string_view Bytes(const WordProgram& p) const { return p.fold ? t_.folded() : t_.text(); }

  void RunEntries(const Slot& s, int32_t j) {
    const Token& tok = toks_[j];
    const size_t len = static_cast<size_t>(tok.end - tok.start);
    for (uint32_t k = s.begin; k < s.begin + s.count; ++k) {
      const Entry& e = ix_.entries[k];
      if (e.element == kUnigram) {
        const WordIndex::Impl::Unigram& u = ix_.unigrams[e.program];
        if (u.word.size() != len) continue;
        if (u.fold && len <= 8) {
          // The folded text has 8 readable bytes after every byte.
          uint64_t v;
          std::memcpy(&v, t_.folded().data() + tok.start, 8);
          const uint64_t mask = len == 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * len)) - 1;
          if ((v & mask) == u.short_word) Out(u.pattern, tok.start, tok.end);
          continue;
        }
        const char* b = (u.fold ? t_.folded() : t_.text()).data() + tok.start;
        if (Same(b, u.word.data(), len)) Out(u.pattern, tok.start, tok.end);
        continue;
      }
      RunEntry(e, j);
    }
  }

  void RunEntry(const Entry& e, int32_t j) {
    if (e.element == -1) {  // a filter
      const WordIndex::Impl::Filter& f = ix_.filters[e.program];
      const std::string_view b = f.fold ? t_.folded() : t_.text();
      const Token& tok = toks_[j];
      const size_t len = static_cast<size_t>(tok.end - tok.start);
      if ((f.prefix ? f.word.size() <= len : f.word.size() == len) &&
          std::memcmp(b.data() + tok.start, f.word.data(), f.word.size()) == 0) {
        maybe_->push_back(f.pattern);
        for (uint32_t k = ix_.alias_begin[f.pattern]; k < ix_.alias_begin[f.pattern + 1]; ++k) {
          maybe_->push_back(ix_.alias_list[k]);
        }
      }
      return;
    }
    const WordProgram& prog = ix_.programs[e.program];
    const TokenTest& t = prog.tokens[e.element];
    if (!TokenOk(prog, t, toks_[j], e.word)) return;
    if (prog.tokens.size() == 1 && prog.group < 0 && !prog.end && !t.partial) {
      Out(prog.pattern, toks_[j].start, toks_[j].end);
      return;
    }
    starts_.clear();
    ends_.clear();
    Left(prog, e.element, j);
    if (starts_.empty()) return;
    Right(prog, e.element, j, e.word);
    if (prog.group >= 0) {
      if (!ends_.empty()) Tail(prog, j + static_cast<int32_t>(prog.tokens.size()) - 1 - e.element);
      return;
    }
    Emit(prog);
  }

  // A head matched, its last token on text token j (starts_ holds where its
  // matches start): the programs of its group end at a word within the skip.
  void Tail(const WordProgram& head, int32_t j) {
    const WordIndex::Impl::SkipGroup& g = ix_.skip_groups[head.group];
    if (starts_.size() > 1) {
      std::sort(starts_.begin(), starts_.end());
      starts_.erase(std::unique(starts_.begin(), starts_.end()), starts_.end());
    }
    const std::string_view b = Bytes(head);
    int32_t count = 0;
    int32_t chunk_start = toks_[j].end;
    for (int32_t k = j + 1; k < n_tokens_; ++k) {
      const Token& tok = toks_[k];
      if (!SkipChunk(head, g.skip, chunk_start, tok.start, &count)) return;
      if (count >= g.skip.min) {
        const size_t len = static_cast<size_t>(tok.end - tok.start);
        auto it = std::lower_bound(g.hashes.begin(), g.hashes.end(), tok.hash);
        for (; it != g.hashes.end() && *it == tok.hash; ++it) {
          const size_t w = static_cast<size_t>(it - g.hashes.begin());
          if (g.words[w].size() != len ||
              std::memcmp(b.data() + tok.start, g.words[w].data(), len) != 0) {
            continue;
          }
          for (int32_t s : starts_) Out(g.patterns[w], s, tok.end);
        }
      }
      if (!SkipChunk(head, g.skip, tok.start, tok.end, &count)) return;
      chunk_start = tok.end;
    }
  }

  // Tokens element and element + 1 of the program on text tokens j, j + 1.
  void RunPairs(uint64_t pair_hash, int32_t j) {
    if (const Slot* s = ix_.Find(Key(pair_hash, kPairKey))) {
      for (uint32_t k = s->begin; k < s->begin + s->count; ++k) RunPair(ix_.entries[k], j);
    }
  }

  bool AllDigits(const Token& tok) const {
    const char* f = t_.folded().data();
    if (f[tok.start] < '0' || f[tok.start] > '9') return false;
    for (int32_t k = tok.start + 1; k < tok.end; ++k)
      if (f[k] < '0' || f[k] > '9') return false;
    return true;
  }

  void RunPair(const Entry& e, int32_t j) {
    const WordProgram& prog = ix_.programs[e.program];
    const int32_t k = e.element;
    if (!(e.word >= 0 ? WordOk(prog, prog.tokens[k], toks_[j], e.word)
                      : TokenOk(prog, prog.tokens[k], toks_[j], -1)) ||
        !(e.word2 >= 0 ? WordOk(prog, prog.tokens[k + 1], toks_[j + 1], e.word2)
                       : TokenOk(prog, prog.tokens[k + 1], toks_[j + 1], -1)) ||
        !GapOk(prog, prog.gaps[k], toks_[j].end, toks_[j + 1].start)) {
      return;
    }
    if (prog.tokens.size() == 2 && prog.group < 0 && !prog.end) {
      Out(prog.pattern, toks_[j].start, toks_[j + 1].end);
      return;
    }
    starts_.clear();
    ends_.clear();
    Left(prog, k, j);
    if (starts_.empty()) return;
    Right(prog, k + 1, j + 1, e.word2);
    if (prog.group >= 0) {
      if (!ends_.empty()) Tail(prog, j + static_cast<int32_t>(prog.tokens.size()) - 1 - k);
      return;
    }
    Emit(prog);
  }

  void RunBegin(const WordProgram& prog) {
    starts_.clear();
    ends_.clear();
    if (prog.tokens.empty()) {
      // ^GAP$: a text without words.
      if (n_tokens_ != 0) return;
      const int32_t size = static_cast<int32_t>(t_.text().size());
      if (prog.has_lead ? GapOk(prog, prog.lead, 0, size) : size == 0) {
        Out(prog.pattern, 0, size);
      }
      return;
    }
    if (n_tokens_ == 0 || !TokenOk(prog, prog.tokens[0], toks_[0], -1)) return;
    Left(prog, 0, 0);
    if (starts_.empty()) return;
    Right(prog, 0, 0, -1);
    Emit(prog);
  }

  void Emit(const WordProgram& prog) {
    if (ends_.empty()) return;
    if (starts_.size() > 1) {
      std::sort(starts_.begin(), starts_.end());
      starts_.erase(std::unique(starts_.begin(), starts_.end()), starts_.end());
    }
    if (ends_.size() > 1) {
      std::sort(ends_.begin(), ends_.end());
      ends_.erase(std::unique(ends_.begin(), ends_.end()), ends_.end());
    }
    for (int32_t s : starts_)
      for (int32_t e : ends_) Out(prog.pattern, s, e);
  }

  // A match of pattern p, reported under p and the ids it was added again as.
  void Out(int32_t p, int32_t start, int32_t end) {
    out_->push_back({p, start, end});
    for (uint32_t k = ix_.alias_begin[p]; k < ix_.alias_begin[p + 1]; ++k) {
      out_->push_back({ix_.alias_list[k], start, end});
    }
  }

  // Token j satisfies test t; `word` is the word the index found it by.
  bool TokenOk(const WordProgram& prog, const TokenTest& t, const Token& tok, int word) const {
    const std::string_view b = Bytes(prog);
    const char* s = b.data() + tok.start;
    const size_t len = static_cast<size_t>(tok.end - tok.start);
    if (t.kind == TokenTest::Kind::kWords) {
      if (t.partial) {
        if (word >= 0) {
          const std::string& w = t.words[word];
          return w.size() <= len && std::memcmp(s, w.data(), w.size()) == 0;
        }
        for (const std::string& w : t.words)
          if (w.size() <= len && std::memcmp(s, w.data(), w.size()) == 0) return true;
        return false;
      }
      if (word >= 0) {
        const std::string& w = t.words[word];
        return t.hashes[word] == tok.hash && w.size() == len && Same(s, w.data(), len);
      }
      if (t.words.size() <= 8) {
        for (size_t w = 0; w < t.words.size(); ++w) {
          if (t.hashes[w] == tok.hash && t.words[w].size() == len &&
              Same(s, t.words[w].data(), len)) {
            return true;
          }
        }
        return false;
      }
      // Sorted by hash: the token's (folded) hash finds the candidates.
      auto it = std::lower_bound(t.hashes.begin(), t.hashes.end(), tok.hash);
      for (; it != t.hashes.end() && *it == tok.hash; ++it) {
        const std::string& w = t.words[it - t.hashes.begin()];
        if (w.size() == len && std::memcmp(s, w.data(), len) == 0) return true;
      }
      return false;
    }
    if (t.any) return true;
    const size_t fixed = t.prefix.size() + t.suffix.size();
    if (len < fixed + static_cast<size_t>(t.min)) return false;
    if (t.max != kUnbounded && len - fixed > static_cast<size_t>(t.max)) return false;
    if (std::memcmp(s, t.prefix.data(), t.prefix.size()) != 0) return false;
    if (std::memcmp(s + len - t.suffix.size(), t.suffix.data(), t.suffix.size()) != 0) return false;
    for (size_t k = t.prefix.size(); k < len - t.suffix.size(); ++k) {
      if (!t.middle.Contains(static_cast<unsigned char>(s[k]))) return false;
    }
    return true;
  }

  // The characters [from, to) satisfy gap g (kExact or kClass).
  // TokenOk for a whole-word test and the word the index found it by.
  bool WordOk(const WordProgram& prog, const TokenTest& t, const Token& tok, int word) const {
    const std::string& w = t.words[word];
    const size_t len = static_cast<size_t>(tok.end - tok.start);
    return t.hashes[word] == tok.hash && w.size() == len &&
           Same(Bytes(prog).data() + tok.start, w.data(), len);
  }

  bool GapOk(const WordProgram& prog, const GapTest& g, int32_t from, int32_t to) const {
    if (g.any_non_word && t_.ascii()) {
      // Between tokens every character is a non-word one, and one byte.
      return to - from >= g.min && (g.max == kUnbounded || to - from <= g.max);
    }
    const std::string_view b = Bytes(prog);
    if (g.kind == GapTest::Kind::kExact) {
      const size_t len = static_cast<size_t>(to - from);
      for (const std::string& e : g.exact)
        if (e.size() == len && std::memcmp(b.data() + from, e.data(), len) == 0) return true;
      return false;
    }
    int32_t count = 0;
    for (int32_t k = from; k < to;) {
      uint32_t cp;
      const int len = DecodeUtf8(b, static_cast<size_t>(k), &cp);
      if (!g.any_non_word && !g.cls.Contains(cp)) return false;
      k += len;
      if (++count > g.max && g.max != kUnbounded) return false;
    }
    return count >= g.min;
  }

  // Counts the characters of [from, to) into *count, all in g's class;
  // false when one is not or the count passes g.max.
  bool SkipChunk(const WordProgram& prog, const GapTest& g, int32_t from, int32_t to,
                 int32_t* count) const {
    const std::string_view b = Bytes(prog);
    if (g.dot) {
      if (!g.cls.Contains('\n') &&
          std::memchr(b.data() + from, '\n', static_cast<size_t>(to - from)) != nullptr) {
        return false;
      }
      if (t_.ascii()) {
        *count += to - from;
      } else {
        for (int32_t k = from; k < to; ++k) {
          *count += (static_cast<unsigned char>(b[k]) & 0xC0) != 0x80;
        }
      }
      return g.max == kUnbounded || *count <= g.max;
    }
    for (int32_t k = from; k < to;) {
      uint32_t cp;
      const int len = DecodeUtf8(b, static_cast<size_t>(k), &cp);
      if (!g.cls.Contains(cp)) return false;
      k += len;
      if (++*count > g.max && g.max != kUnbounded) return false;
    }
    return true;
  }

  // Token i of the program sits on text token j: where can the match start?
  void Left(const WordProgram& prog, int32_t i, int32_t j) {
    if (i == 0) {
      if (prog.begin) {
        if (j != 0) return;
        if (prog.has_lead ? !GapOk(prog, prog.lead, 0, toks_[0].start) : toks_[0].start != 0) {
          return;
        }
        starts_.push_back(0);
      } else {
        starts_.push_back(toks_[j].start);
      }
      return;
    }
    const GapTest& g = prog.gaps[i - 1];
    const TokenTest& prev = prog.tokens[i - 1];
    if (g.kind != GapTest::Kind::kSkip) {
      if (j == 0) return;
      if (GapOk(prog, g, toks_[j - 1].end, toks_[j].start) &&
          TokenOk(prog, prev, toks_[j - 1], -1)) {
        Left(prog, i - 1, j - 1);
      }
      return;
    }
    int32_t count = 0;
    int32_t chunk_end = toks_[j].start;
    for (int32_t k = j - 1; k >= 0; --k) {
      if (!SkipChunk(prog, g, toks_[k].end, chunk_end, &count)) return;
      chunk_end = toks_[k].end;
      if (count >= g.min && TokenOk(prog, prev, toks_[k], -1)) Left(prog, i - 1, k);
    }
  }

  // Token i of the program sits on text token j: where can the match end?
  void Right(const WordProgram& prog, int32_t i, int32_t j, int word) {
    const int32_t last = static_cast<int32_t>(prog.tokens.size()) - 1;
    if (i == last) {
      const TokenTest& t = prog.tokens[i];
      const Token& tok = toks_[j];
      if (t.partial) {
        const std::string_view b = Bytes(prog);
        const size_t len = static_cast<size_t>(tok.end - tok.start);
        for (size_t w = 0; w < t.words.size(); ++w) {
          if (word >= 0 && static_cast<int>(w) != word) continue;
          const std::string& s = t.words[w];
          if (s.size() <= len && std::memcmp(b.data() + tok.start, s.data(), s.size()) == 0) {
            ends_.push_back(tok.start + static_cast<int32_t>(s.size()));
          }
        }
        return;
      }
      if (prog.end) {
        const int32_t size = static_cast<int32_t>(t_.text().size());
        if (j != n_tokens_ - 1) return;
        if (prog.has_trail ? !GapOk(prog, prog.trail, tok.end, size) : tok.end != size) return;
        ends_.push_back(size);
        return;
      }
      ends_.push_back(tok.end);
      return;
    }
    const GapTest& g = prog.gaps[i];
    const TokenTest& next = prog.tokens[i + 1];
    if (g.kind != GapTest::Kind::kSkip) {
      if (j + 1 >= n_tokens_) return;
      if (GapOk(prog, g, toks_[j].end, toks_[j + 1].start) &&
          TokenOk(prog, next, toks_[j + 1], -1)) {
        Right(prog, i + 1, j + 1, -1);
      }
      return;
    }
    int32_t count = 0;
    int32_t chunk_start = toks_[j].end;
    for (int32_t k = j + 1; k < n_tokens_; ++k) {
      if (!SkipChunk(prog, g, chunk_start, toks_[k].start, &count)) return;
      if (count >= g.min && TokenOk(prog, next, toks_[k], -1)) Right(prog, i + 1, k, -1);
      // The next candidate's region also holds this token.
      if (!SkipChunk(prog, g, toks_[k].start, toks_[k].end, &count)) return;
      chunk_start = toks_[k].end;
    }
  }

  const WordIndex::Impl& ix_;
  const TokenizedText& t_;
  const std::vector<Token>& toks_;
  const int32_t n_tokens_;
  std::vector<Occurrence>* out_;
  std::vector<int32_t>* maybe_;
  std::vector<int32_t> starts_;
  std::vector<int32_t> ends_;
};

}  // namespace

namespace {

// Adds pattern `id` as a filter: the words its alternatives need.
WordIndex::Coverage AddFilter(WordIndex::Impl* ix, int32_t id, const std::vector<Seq>& seqs,
                              const std::vector<CharSet>& classes, bool fold,
                              std::string* why_not) {
  std::vector<Required> needed;
  for (const Seq& s : seqs) {
    Required r;
    if (!RequiredWord(s, classes, &r)) {
      *why_not += "; and no word every match needs";
      return WordIndex::Coverage::kNone;
    }
    needed.push_back(std::move(r));
  }
  std::sort(needed.begin(), needed.end(), [](const Required& a, const Required& b) {
    return std::tie(a.word, a.prefix) < std::tie(b.word, b.prefix);
  });
  needed.erase(std::unique(needed.begin(), needed.end(),
                           [](const Required& a, const Required& b) {
                             return a.word == b.word && a.prefix == b.prefix;
                           }),
               needed.end());
  for (Required& r : needed) ix->filters.push_back({id, std::move(r.word), r.prefix, fold});
  ++ix->pattern_count;
  return WordIndex::Coverage::kFilter;
}

}  // namespace

WordIndex::WordIndex() : impl_(std::make_unique<Impl>()) {}
WordIndex::~WordIndex() = default;
WordIndex::WordIndex(WordIndex&&) noexcept = default;
WordIndex& WordIndex::operator=(WordIndex&&) noexcept = default;

WordIndex::Coverage WordIndex::Add(int32_t id, std::string_view pattern, bool case_sensitive,
                                   std::string* why_not) {
  // Reserved even when not taken: ids are the rule sets' pattern numbers.
  impl_->max_id = std::max(impl_->max_id, id);
  const bool fold = !case_sensitive;
  std::string key = (fold ? "i:" : "c:") + std::string(pattern);
  if (auto it = impl_->canonical.find(key); it != impl_->canonical.end()) {
    if (it->second.second != Coverage::kNone) {
      impl_->aliases[it->second.first].push_back(id);
      impl_->canonical_of[id] = it->second.first;
      ++impl_->pattern_count;
    }
    return it->second.second;
  }
  const Coverage coverage = AddNew(id, pattern, fold, why_not);
  impl_->canonical.emplace(std::move(key), std::make_pair(id, coverage));
  return coverage;
}

WordIndex::Coverage WordIndex::AddNew(int32_t id, std::string_view pattern, bool fold,
                                      std::string* why_not) {
  Node root;
  Parser parser(pattern, fold);
  if (!parser.Parse(&root, why_not)) return Coverage::kNone;
  std::vector<CharSet> classes;
  std::vector<Seq> seqs;
  Expander expander(&classes);
  if (!expander.Expand(root, &seqs, why_not)) return Coverage::kNone;

  // A single character class that mixes word and other characters (\S):
  // matched by scanning, lazily.
  if (seqs.size() == 1 && seqs[0].size() == 1 && seqs[0][0].kind == Item::kRep &&
      seqs[0][0].min == 1 && seqs[0][0].max == 1) {
    const CharSet& c = classes[seqs[0][0].cls];
    if (!IsSubset(c, WordClass()) && !Disjoint(c, WordClass())) {
      impl_->char_patterns.push_back({id, c, fold});
      ++impl_->pattern_count;
      return Coverage::kExact;
    }
  }

  std::vector<WordProgram> progs;
  for (const Seq& s : seqs) {
    WordProgram p;
    const int r = ToProgram(s, classes, fold, &p, why_not);
    if (r < 0) return AddFilter(impl_.get(), id, seqs, classes, fold, why_not);
    if (r == 0) continue;
    p.pattern = id;
    progs.push_back(std::move(p));
  }
  MergePrograms(&progs);
  for (WordProgram& p : progs) {
    for (TokenTest& t : p.tokens) {
      if (t.kind != TokenTest::Kind::kWords) continue;
      std::sort(t.words.begin(), t.words.end());
      t.words.erase(std::unique(t.words.begin(), t.words.end()), t.words.end());
      // Sorted by hash for lookups; hashes of the folded form (the text's
      // token hashes are folded).
      std::vector<std::pair<uint64_t, std::string>> by_hash;
      for (auto& w : t.words) {
        std::string f = w;
        for (char& c : f) c = LowerAscii(c);
        by_hash.emplace_back(HashBytes(f.data(), f.size()), std::move(w));
      }
      std::sort(by_hash.begin(), by_hash.end());
      t.words.clear();
      t.hashes.clear();
      for (auto& [h, w] : by_hash) t.hashes.push_back(h), t.words.push_back(std::move(w));
    }
  }
  for (WordProgram& p : progs) impl_->programs.push_back(std::move(p));
  ++impl_->pattern_count;
  return Coverage::kExact;
}

void WordIndex::Build() {
  Impl& ix = *impl_;
  static std::atomic<uint64_t> serials{0};
  ix.serial = ++serials;
  ix.staged.clear();
  // Skip groups.
  std::unordered_map<std::string, int32_t> group_of;
  const size_t original = ix.programs.size();
  for (size_t n = 0; n < original; ++n) {
    const WordProgram& p = ix.programs[n];
    const size_t k = p.tokens.size();
    if (p.begin || p.end || k < 2 || p.gaps[k - 2].kind != GapTest::Kind::kSkip) continue;
    const TokenTest& last = p.tokens[k - 1];
    if (last.kind != TokenTest::Kind::kWords || last.partial) continue;
    bool plain_head = true;
    for (size_t i = 0; i + 1 < k; ++i) plain_head = plain_head && !p.tokens[i].partial;
    for (size_t i = 0; i + 2 < k; ++i)
      plain_head = plain_head && p.gaps[i].kind != GapTest::Kind::kSkip;
    if (!plain_head) continue;
    WordProgram head;
    head.pattern = -1;
    head.fold = p.fold;
    head.tokens.assign(p.tokens.begin(), p.tokens.end() - 1);
    head.gaps.assign(p.gaps.begin(), p.gaps.end() - 1);
    const GapTest skip = p.gaps[k - 2];
    const std::string sig = head.Describe(-1, -1) + "\x03" + skip.Describe() + (p.fold ? "f" : "c");
    auto [it, fresh] = group_of.emplace(sig, static_cast<int32_t>(ix.skip_groups.size()));
    if (fresh) {
      head.group = it->second;
      ix.skip_groups.push_back({skip, {}, {}, {}});
      ix.programs.push_back(std::move(head));
    }
    WordProgram& grouped = ix.programs[n];
    Impl::SkipGroup& group = ix.skip_groups[it->second];
    for (size_t w = 0; w < grouped.tokens.back().words.size(); ++w) {
      group.hashes.push_back(grouped.tokens.back().hashes[w]);
      group.patterns.push_back(grouped.pattern);
      group.words.push_back(grouped.tokens.back().words[w]);
    }
    grouped.alive = false;
  }
  for (Impl::SkipGroup& g : ix.skip_groups) {
    std::vector<size_t> order(g.hashes.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return g.hashes[a] < g.hashes[b]; });
    Impl::SkipGroup sorted{g.skip, {}, {}, {}};
    for (size_t i : order) {
      sorted.hashes.push_back(g.hashes[i]);
      sorted.patterns.push_back(g.patterns[i]);
      sorted.words.push_back(std::move(g.words[i]));
    }
    g = std::move(sorted);
  }

  std::vector<int32_t> prefix_lengths, suffix_lengths;
  const auto Mark = [](uint64_t* mask, char c) {
    const unsigned char f = static_cast<unsigned char>(LowerAscii(c));
    mask[f >> 6] |= uint64_t{1} << (f & 63);
  };
  for (size_t n = 0; n < ix.filters.size(); ++n) {
    std::string f = ix.filters[n].word;
    for (char& c : f) c = LowerAscii(c);
    const Entry e{static_cast<int32_t>(n), -1, -1, -1};
    if (ix.filters[n].prefix) {
      const size_t l = std::min(f.size(), kAffixKey);
      ix.staged.emplace_back(Key(HashBytes(f.data(), l), kPrefixKey), e);
      prefix_lengths.push_back(static_cast<int32_t>(l));
      Mark(ix.prefix_first, f[0]);
    } else {
      ix.staged.emplace_back(Key(HashBytes(f.data(), f.size()), kExactKey), e);
    }
  }
  for (size_t n = 0; n < ix.programs.size(); ++n) {
    WordProgram& p = ix.programs[n];
    const int32_t pn = static_cast<int32_t>(n);
    if (!p.alive) continue;
    if (p.begin) {
      bool skip = false;
      for (const GapTest& g : p.gaps) skip = skip || g.kind == GapTest::Kind::kSkip;
      bool count_only =
          !p.end && !p.tokens.empty() &&
          (!p.has_lead || (p.lead.kind == GapTest::Kind::kClass && p.lead.any_non_word &&
                           p.lead.min == 0 && p.lead.max == kUnbounded));
      for (const TokenTest& t : p.tokens)
        count_only = count_only && t.kind == TokenTest::Kind::kShape && t.any && t.min <= 1;
      for (const GapTest& g : p.gaps) {
        count_only = count_only && g.kind == GapTest::Kind::kClass && g.any_non_word &&
                     g.min == 0 && g.max == kUnbounded;
      }
      if (count_only) {
        p.count_only = true;
        ix.count_only.emplace_back(static_cast<int32_t>(p.tokens.size()), pn);
      } else if (p.end && !skip) {
        if (ix.begin_by_tokens.size() <= p.tokens.size())
          ix.begin_by_tokens.resize(p.tokens.size() + 1);
        ix.begin_by_tokens[p.tokens.size()].push_back(pn);
      } else {
        ix.begin_other.push_back(pn);
      }
      continue;
    }
    // Best: two adjacent words (one probe per pair of text tokens finds
    // exactly the programs with that pair); else the most specific word.
    // A side of a pair is a set of whole words, or any run of digits
    // (`\d+`: the numbers n-grams generalise to).
    auto pair_side = [](const TokenTest& t) {
      return (t.kind == TokenTest::Kind::kWords && !t.partial) || DigitRun(t);
    };
    auto side_size = [](const TokenTest& t) {
      return t.kind == TokenTest::Kind::kWords ? t.words.size() : size_t{1};
    };
    int best_pair = -1, best_pair_score = -1;
    for (size_t k = 0; k + 1 < p.tokens.size(); ++k) {
      const TokenTest& a = p.tokens[k];
      const TokenTest& b = p.tokens[k + 1];
      if (!pair_side(a) || !pair_side(b) || p.gaps[k].kind == GapTest::Kind::kSkip ||
          side_size(a) * side_size(b) > kMaxPairs) {
        continue;
      }
      const int s = std::min(AnchorScore(a), AnchorScore(b));
      if (s > best_pair_score) best_pair = static_cast<int>(k), best_pair_score = s;
    }
    if (best_pair >= 0) {
      p.anchor = best_pair;
      const TokenTest& a = p.tokens[best_pair];
      const TokenTest& b = p.tokens[best_pair + 1];
      auto hashes = [](const TokenTest& t) {
        return t.kind == TokenTest::Kind::kWords ? t.hashes : std::vector<uint64_t>{kDigitsHash};
      };
      const std::vector<uint64_t> ha = hashes(a), hb = hashes(b);
      for (size_t w = 0; w < ha.size(); ++w) {
        for (size_t v = 0; v < hb.size(); ++v) {
          const int16_t wa = a.kind == TokenTest::Kind::kWords ? static_cast<int16_t>(w) : -1;
          const int16_t wb = b.kind == TokenTest::Kind::kWords ? static_cast<int16_t>(v) : -1;
          ix.staged.emplace_back(Key(PairHash(ha[w], hb[v]), kPairKey),
                                 Entry{pn, static_cast<int16_t>(best_pair), wa, wb});
        }
      }
      ix.has_pairs = true;
      continue;
    }
    int best = -1, best_score = -1;
    for (size_t k = 0; k < p.tokens.size(); ++k) {
      const int s = AnchorScore(p.tokens[k]);
      if (s > best_score) best = static_cast<int>(k), best_score = s;
    }
    p.anchor = best;
    const TokenTest& t = p.tokens[best];
    if (t.kind == TokenTest::Kind::kWords) {
      for (size_t w = 0; w < t.words.size(); ++w) {
        std::string f = t.words[w];
        for (char& c : f) c = LowerAscii(c);
        Entry e{pn, static_cast<int16_t>(best), static_cast<int16_t>(w), -1};
        if (p.tokens.size() == 1 && p.group < 0 && !p.end && !t.partial) {
          // One whole word: checked without the program (Matcher::Run).
          e = Entry{static_cast<int32_t>(ix.unigrams.size()), kUnigram, -1, -1};
          uint64_t short_word = 0;
          if (t.words[w].size() <= 8)
            std::memcpy(&short_word, t.words[w].data(), t.words[w].size());
          ix.unigrams.push_back({p.pattern, p.fold, t.words[w], short_word});
        }
        if (t.partial) {
          const size_t l = std::min(f.size(), kAffixKey);
          ix.staged.emplace_back(Key(HashBytes(f.data(), l), kPrefixKey), e);
          prefix_lengths.push_back(static_cast<int32_t>(l));
          Mark(ix.prefix_first, f[0]);
        } else {
          ix.staged.emplace_back(Key(HashBytes(f.data(), f.size()), kExactKey), e);
        }
      }
      continue;
    }
    const Entry e{pn, static_cast<int16_t>(best), -1, -1};
    std::string prefix = t.prefix, suffix = t.suffix;
    for (char& c : prefix) c = LowerAscii(c);
    for (char& c : suffix) c = LowerAscii(c);
    if (!prefix.empty()) {
      const size_t l = std::min(prefix.size(), kAffixKey);
      ix.staged.emplace_back(Key(HashBytes(prefix.data(), l), kPrefixKey), e);
      prefix_lengths.push_back(static_cast<int32_t>(l));
      Mark(ix.prefix_first, prefix[0]);
    } else if (!suffix.empty()) {
      const size_t l = std::min(suffix.size(), kAffixKey);
      ix.staged.emplace_back(Key(HashBytes(suffix.data() + suffix.size() - l, l), kSuffixKey), e);
      suffix_lengths.push_back(static_cast<int32_t>(l));
      // A matching token starts with a middle character, or (none of
      // them) with the suffix.
      for (uint32_t c = 0; c < 0x80; ++c) {
        if (t.middle.Contains(c)) Mark(ix.suffix_first, static_cast<char>(c));
      }
      if (t.min == 0) Mark(ix.suffix_first, suffix[0]);
    } else if (!t.any && IsSubset(t.middle, DigitClass())) {
      ix.digit_entries.push_back(e);
    } else {
      ix.any_entries.push_back(e);
    }
  }
  for (auto* lengths : {&prefix_lengths, &suffix_lengths}) {
    std::sort(lengths->begin(), lengths->end());
    lengths->erase(std::unique(lengths->begin(), lengths->end()), lengths->end());
  }
  ix.prefix_lengths = std::move(prefix_lengths);
  ix.suffix_lengths = std::move(suffix_lengths);
  std::sort(ix.count_only.begin(), ix.count_only.end());

  std::stable_sort(ix.staged.begin(), ix.staged.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  size_t keys = 0;
  for (size_t k = 0; k < ix.staged.size(); ++k)
    keys += k == 0 || ix.staged[k].first != ix.staged[k - 1].first;
  size_t cap = 16;
  while (cap < 2 * keys) cap *= 2;
  ix.table.assign(cap, Slot{});
  ix.mask = cap - 1;
  ix.entries.clear();
  for (size_t k = 0; k < ix.staged.size();) {
    const uint64_t key = ix.staged[k].first;
    const uint32_t begin = static_cast<uint32_t>(ix.entries.size());
    for (; k < ix.staged.size() && ix.staged[k].first == key; ++k)
      ix.entries.push_back(ix.staged[k].second);
    uint64_t i = key & ix.mask;
    while (ix.table[i].key != 0) i = (i + 1) & ix.mask;
    ix.table[i] = Slot{key, begin, static_cast<uint32_t>(ix.entries.size()) - begin};
  }
  size_t bits = 4096;
  while (bits < 16 * keys) bits *= 2;
  ix.present.assign(bits / 64, 0);
  ix.present_mask = bits - 1;
  for (const Slot& slot : ix.table) {
    if (slot.key == 0) continue;
    const size_t bit = Impl::PresentBit(slot.key) & ix.present_mask;
    ix.present[bit >> 6] |= uint64_t{1} << (bit & 63);
  }
  ix.staged.clear();
  ix.staged.shrink_to_fit();
  ix.alias_begin.assign(static_cast<size_t>(ix.max_id) + 2, 0);
  for (const auto& [first, others] : ix.aliases) {
    ix.alias_begin[static_cast<size_t>(first) + 1] = static_cast<uint32_t>(others.size());
  }
  for (size_t i = 1; i < ix.alias_begin.size(); ++i) ix.alias_begin[i] += ix.alias_begin[i - 1];
  ix.alias_list.assign(ix.alias_begin.back(), 0);
  for (const auto& [first, others] : ix.aliases) {
    std::copy(others.begin(), others.end(), ix.alias_list.begin() + ix.alias_begin[first]);
  }
}

void WordIndex::FindAll(const TokenizedText& text, std::vector<Occurrence>* out,
                        std::vector<int32_t>* maybe) const {
  Matcher(*impl_, text, out, maybe).Run();
  for (const auto& c : impl_->char_patterns) {
    int32_t start, end;
    if (!NextCharMatch(c.id, text, 0, &start, &end)) continue;
    out->push_back({c.id, start, end});
    for (uint32_t k = impl_->alias_begin[c.id]; k < impl_->alias_begin[c.id + 1]; ++k) {
      out->push_back({impl_->alias_list[k], start, end});
    }
  }
}

bool WordIndex::IsCharPattern(int32_t id) const {
  if (auto it = impl_->canonical_of.find(id); it != impl_->canonical_of.end()) id = it->second;
  for (const auto& c : impl_->char_patterns)
    if (c.id == id) return true;
  return false;
}

bool WordIndex::NextCharMatch(int32_t id, const TokenizedText& text, int32_t from, int32_t* start,
                              int32_t* end) const {
  if (auto it = impl_->canonical_of.find(id); it != impl_->canonical_of.end()) id = it->second;
  const Impl::CharPattern* pattern = nullptr;
  for (const auto& c : impl_->char_patterns)
    if (c.id == id) pattern = &c;
  if (!pattern) return false;
  const CharSet* cls = &pattern->cls;
  const std::string_view s = pattern->fold ? text.folded() : text.text();
  for (size_t k = static_cast<size_t>(std::max(from, 0)); k < s.size();) {
    uint32_t cp;
    const int len = DecodeUtf8(s, k, &cp);
    if (len == 0) return false;
    if (cls->Contains(cp)) {
      *start = static_cast<int32_t>(k);
      *end = static_cast<int32_t>(k + len);
      return true;
    }
    k += len;
  }
  return false;
}

void Re2Sequence(Occurrence* first, Occurrence* last, const re2::RE2& re, std::string_view text,
                 size_t max, std::vector<Occurrence>* out) {
  auto before = [](const Occurrence& a, const Occurrence& b) {
    return a.start < b.start || (a.start == b.start && a.end < b.end);
  };
  if (!std::is_sorted(first, last, before)) std::sort(first, last, before);
  int32_t pos = 0;
  size_t count = 0;
  for (Occurrence* o = first; o != last && count < max;) {
    if (o->start < pos) {
      ++o;
      continue;
    }
    Occurrence* same = o + 1;
    bool several = false;
    while (same != last && same->start == o->start) several |= (same++)->end != o->end;
    int32_t end = o->end;
    if (several) {
      re2::StringPiece m;
      if (re.Match(text, static_cast<size_t>(o->start), text.size(), re2::RE2::ANCHOR_START, &m,
                   1)) {
        end = static_cast<int32_t>(m.data() - text.data() + m.size());
      }
    }
    out->push_back({o->pattern, o->start, end});
    ++count;
    if (end > o->start) {
      pos = end;
    } else {
      // An empty match: the next one starts after one whole character.
      size_t next = static_cast<size_t>(end) + 1;
      while (next < text.size() && (static_cast<unsigned char>(text[next]) & 0xC0) == 0x80) ++next;
      pos = static_cast<int32_t>(next);
    }
    o = same;
  }
}

std::string WordIndex::Describe() const {
  const Impl& ix = *impl_;
  size_t pairs = 0;
  for (const Slot& slot : ix.table) pairs += slot.key != 0;
  std::string d = std::to_string(ix.pattern_count) + " patterns, " +
                  std::to_string(ix.programs.size()) + " programs, " + std::to_string(pairs) +
                  " keys in " + std::to_string(ix.table.size()) + " slots, " +
                  std::to_string(ix.entries.size()) + " entries, " +
                  std::to_string(ix.skip_groups.size()) + " skip groups, " +
                  std::to_string(ix.filters.size()) + " filter words, prefix lengths";
  for (int32_t l : ix.prefix_lengths) d += " " + std::to_string(l);
  d += ", suffix lengths";
  for (int32_t l : ix.suffix_lengths) d += " " + std::to_string(l);
  d += ", " + std::to_string(ix.digit_entries.size()) + " digit and " +
       std::to_string(ix.any_entries.size()) + " any-word anchors, " +
       std::to_string(ix.begin_other.size() + ix.count_only.size()) + " at the start";
  return d;
}

size_t WordIndex::ids() const { return static_cast<size_t>(impl_->max_id + 1); }
void WordIndex::ReserveIds(size_t ids) {
  impl_->max_id = std::max(impl_->max_id, static_cast<int32_t>(ids) - 1);
}
uint64_t WordIndex::serial() const { return impl_->serial; }

size_t WordIndex::patterns() const { return impl_->pattern_count; }
size_t WordIndex::programs() const { return impl_->programs.size(); }

}  // namespace earshot::rules::internal
