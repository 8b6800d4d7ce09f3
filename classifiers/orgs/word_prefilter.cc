#include "classifiers/orgs/word_prefilter.h"

#include <algorithm>
#include <cstring>
#include <unordered_set>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace earshot::orgs {
namespace {

// Words VariantPattern() spells several ways ("st"/"saint", "hospital"/
// "hosp", "and"/"&"): never required.
bool Special(std::string_view w) {
  static const std::unordered_set<std::string_view> kSpecial = {
      "st",     "saint", "hospital", "hospitals", "hosp", "centre",
      "center", "the",   "nhs",      "trust",     "ft",   "and"};
  return kSpecial.count(w) > 0;
}

// Words too common to be a good filter; used only when a pattern has no other.
bool Common(std::string_view w) {
  static const std::unordered_set<std::string_view> kCommon = {
      "royal",      "general",  "university", "city",       "county",    "north",    "south",
      "east",       "west",     "new",        "old",        "great",     "district", "community",
      "memorial",   "children", "childrens",  "women",      "womens",    "health",   "healthcare",
      "care",       "services", "foundation", "teaching",   "infirmary", "queen",    "queens",
      "king",       "kings",    "princess",   "prince",     "victoria",  "mary",     "marys",
      "george",     "georges",  "james",      "john",       "johns",     "park",     "hill",
      "house",      "road",     "street",     "central",    "national",  "mental",   "partnership",
      "integrated", "northern", "southern",   "eastern",    "western",   "mid",      "of",
      "for",        "in",       "at",         "on",         "a",         "war",      "cottage",
      "eye",        "dental",   "medical",    "unit",       "clinic",    "green",    "cross",
      "london",     "people",   "day",        "specialist", "hospice",   "icb",      "board",
      "england",    "uhb",      "lhb",        "local",      "with",      "by",       "to",
      "ambulance",  "service",  "system"};
  return kCommon.count(w) > 0;
}

// Word bytes are those RE2's \b counts: ASCII letters, digits, '_'.
struct ByteTable {
  uint8_t word[256];
  constexpr ByteTable() : word() {
    for (int c = 0; c < 256; ++c) {
      word[c] =
          (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    }
  }
};
constexpr ByteTable kBytes;

constexpr uint64_t kLower = 0x2020202020202020ULL;  // | folds A-Z to a-z
constexpr size_t kPad = 8;                          // bytes before and after the text
constexpr size_t kStackText = 2048;

inline uint64_t Load64(const unsigned char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline uint64_t Mix(uint64_t v) {
  v ^= v >> 33;
  v *= 0xFF51AFD7ED558CCDULL;
  v ^= v >> 33;
  v *= 0xC4CEB9FE1A85EC53ULL;
  v ^= v >> 33;
  return v | 1;  // 0 marks an empty slot
}

// The hash of the word at p[0, len), from its first and last eight bytes and
// its length; p must have kPad readable bytes either side.
inline uint64_t WordHash(const unsigned char* p, size_t len) {
  uint64_t keep = ~uint64_t{0} >> (64 - 8 * std::min<size_t>(len, 8));
  uint64_t head = (Load64(p) | kLower) & keep;
  uint64_t tail = (Load64(p + len - 8) | kLower) & (len > 8 ? ~uint64_t{0} : 0);
  return Mix(head ^ (tail * 0x9E3779B97F4A7C15ULL) ^ (static_cast<uint64_t>(len) << 56));
}

// A first, cheap look at a word: its length, first two and last bytes
// (lower-cased) folded into an index of a small bit set that stays in the
// L1 cache. Only words whose bit is set are hashed and looked up.
inline uint32_t QuickKey(const unsigned char* p, size_t len) {
  uint32_t first = p[0] | 0x20u, second = (len > 1 ? p[1] : 0) | 0x20u, last = p[len - 1] | 0x20u;
  uint32_t key = (static_cast<uint32_t>(std::min<size_t>(len, 31)) << 24) ^ (first << 16) ^
                 (second << 8) ^ last;
  return (key * 0x9E3779B1u) >> (32 - 16);
}

// Bit j of the result: byte j of p[0, 64) is a word byte.
inline uint64_t WordMask64(const unsigned char* p) {
#if defined(__SSE2__)
  uint64_t mask = 0;
  const __m128i lower_bit = _mm_set1_epi8(0x20);
  const __m128i a_minus = _mm_set1_epi8('a' - 1), z_plus = _mm_set1_epi8('z' + 1);
  const __m128i zero_minus = _mm_set1_epi8('0' - 1), nine_plus = _mm_set1_epi8('9' + 1);
  const __m128i underscore = _mm_set1_epi8('_');
  for (int k = 0; k < 4; ++k) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
    // Signed compares: bytes >= 0x80 are negative, so never letters or digits.
    __m128i lower = _mm_or_si128(v, lower_bit);
    __m128i alpha = _mm_and_si128(_mm_cmpgt_epi8(lower, a_minus), _mm_cmpgt_epi8(z_plus, lower));
    __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(v, zero_minus), _mm_cmpgt_epi8(nine_plus, v));
    __m128i word = _mm_or_si128(_mm_or_si128(alpha, digit), _mm_cmpeq_epi8(v, underscore));
    mask |= static_cast<uint64_t>(static_cast<uint16_t>(_mm_movemask_epi8(word))) << (16 * k);
  }
  return mask;
#else
  uint64_t mask = 0;
  for (int j = 0; j < 64; ++j) mask |= static_cast<uint64_t>(kBytes.word[p[j]]) << j;
  return mask;
#endif
}

}  // namespace

std::vector<std::string> WordPrefilter::RequiredForms(std::string_view variant) {
  std::vector<std::string> best;
  int best_score = -1;
  size_t start = 0;
  while (start <= variant.size()) {
    size_t end = variant.find(' ', start);
    if (end == std::string_view::npos) end = variant.size();
    std::string_view raw = variant.substr(start, end - start);
    start = end + 1;
    if (raw.empty()) continue;
    // A text may write the word with or without its apostrophes; a text's
    // apostrophe splits words here, so the longest piece also counts.
    std::string joined, piece, longest;
    bool usable = true, quoted = false;
    for (unsigned char c : raw) {
      if (c == '\'') {
        quoted = true;
        if (piece.size() > longest.size()) longest = piece;
        piece.clear();
        continue;
      }
      if (!kBytes.word[c]) {
        usable = false;
        break;
      }
      char lower = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
      joined += lower;
      piece += lower;
    }
    if (piece.size() > longest.size()) longest = piece;
    if (!usable || joined.empty() || Special(joined)) continue;
    std::vector<std::string> forms{joined};
    if (quoted && !longest.empty() && longest != joined) forms.push_back(longest);
    // VariantPattern lets "addenbrookes" be written "addenbrooke's".
    if (!quoted && joined.size() >= 4 && joined.back() == 's' && joined[joined.size() - 2] != 's') {
      forms.push_back(joined.substr(0, joined.size() - 1));
    }
    // A capital acronym may be written "R.V.I.": then its letters are words;
    // require one that is rarely a word on its own.
    bool acronym = raw.size() >= 2 && raw.size() <= 6 &&
                   std::all_of(raw.begin(), raw.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
    if (acronym) {
      for (char c : joined) {
        if (c != 'a' && c != 'i' && c != 'e' && c != 'o' && c != 'u') {
          forms.push_back(std::string(1, c));
          break;
        }
      }
    }
    int score = static_cast<int>(joined.size()) + (Common(joined) ? 0 : 100);
    if (score > best_score) {
      best_score = score;
      best = std::move(forms);
    }
  }
  return best;
}

void WordPrefilter::Add(std::string_view word) { words_.emplace_back(word); }

void WordPrefilter::Build() {
  std::sort(words_.begin(), words_.end());
  words_.erase(std::unique(words_.begin(), words_.end()), words_.end());
  count_ = words_.size();
  size_t size = 64;
  while (size < count_ * 8) size <<= 1;  // load factor <= 1/8: probes end at once
  table_.assign(size, 0);
  mask_ = size - 1;
  quick_.assign((uint32_t{1} << 16) / 64, 0);
  std::vector<unsigned char> buf;
  for (const auto& w : words_) {
    buf.assign(w.size() + 2 * kPad, 0);
    std::memcpy(buf.data() + kPad, w.data(), w.size());
    uint32_t q = QuickKey(buf.data() + kPad, w.size());
    quick_[q >> 6] |= uint64_t{1} << (q & 63);
    uint64_t h = WordHash(buf.data() + kPad, w.size());
    size_t i = h & mask_;
    while (table_[i] != 0 && table_[i] != h) i = (i + 1) & mask_;
    table_[i] = h;
  }
  words_.clear();
  words_.shrink_to_fit();
}

bool WordPrefilter::Contains(uint64_t hash) const {
  for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
    uint64_t v = table_[i];
    if (v == hash) return true;
    if (v == 0) return false;
  }
}

bool WordPrefilter::Check(const unsigned char* word, size_t len) const {
  uint32_t q = QuickKey(word, len);
  if (!((quick_[q >> 6] >> (q & 63)) & 1)) return false;
  return Contains(WordHash(word, len));
}

bool WordPrefilter::MayMatch(std::string_view text) const {
  if (always_) return true;
  if (count_ == 0 || text.empty()) return false;
  const size_t n = text.size();
  const size_t blocks = (n + 63) / 64;
  // A padded copy: word hashes read eight bytes at a time past either end.
  alignas(64) unsigned char stack[kStackText + 64 + 2 * kPad];
  std::vector<unsigned char> heap;
  unsigned char* base = stack;
  if (n > kStackText) {
    heap.resize(blocks * 64 + 2 * kPad);
    base = heap.data();
  }
  std::memset(base, 0, kPad);
  std::memcpy(base + kPad, text.data(), n);
  std::memset(base + kPad + n, 0, blocks * 64 - n + kPad);
  const unsigned char* p = base + kPad;

  uint64_t carry = 0;  // the byte before this block is a word byte
  size_t pending_start = 0;
  bool in_word = false;
  for (size_t b = 0; b < blocks; ++b) {
    const unsigned char* q = p + b * 64;
    uint64_t m = WordMask64(q);
    // Bits where a word starts and where one ends (the first byte after it).
    uint64_t starts = m & ~((m << 1) | carry);
    uint64_t ends = ~m & ((m << 1) | carry);
    carry = m >> 63;
    // Walk the boundaries in order; a word may have started in a block before.
    uint64_t edges = starts | ends;
    while (edges) {
      int bit = __builtin_ctzll(edges);
      edges &= edges - 1;
      size_t pos = b * 64 + static_cast<size_t>(bit);
      if (!in_word) {
        pending_start = pos;
        in_word = true;
      } else {
        if (Check(p + pending_start, pos - pending_start)) return true;
        in_word = false;
      }
    }
  }
  if (in_word && Check(p + pending_start, n - pending_start)) return true;
  return false;
}

}  // namespace earshot::orgs
