// RuleSet: TOML rule files compiled into one RE2::Set per file plus one RE2
// per distinct pattern.
//
// Matching is two-phase. First, which patterns occur: patterns of the
// common word-and-phrase shapes are found by the word index
// (word_index.h: the text is split into words once and each word looked up
// in a hash table), which also gives every place they match; the others by
// one RE2::Set scan, which tells only that they may occur. A text that hits
// no rule's trigger pattern costs nothing more. Then only the rules a hit
// pattern can trigger are evaluated, for spans, negation and proximity, with
// the word index's matches or the individual RE2s.
//
// The set holds the gap-free pieces of each pattern (pattern_split.h): a
// pattern "may occur" when all pieces of one of its alternatives occur, and
// its own RE2 then confirms it. Patterns that were not cut are exact.
#include "classifiers/rules/rule_set.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <toml++/toml.h>
#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <tuple>
#include <unordered_map>

#include "classifiers/rules/lint.h"
#include "classifiers/rules/pattern_split.h"
#include "classifiers/rules/word_index.h"

namespace earshot::rules {
namespace {

// Bounds the per-pattern match list on long texts (near, negation): past a
// few thousand occurrences more positions change no decision.
constexpr int kMaxMatchesPerPattern = 4096;
constexpr int kDefaultWithinWords = 3;
// The scorers' tolerance (rule_set.h, HeldLabels).
constexpr double kScoreTolerance = kLabelScoreTolerance;
constexpr int64_t kMaxWithin = 100;

std::string Where(std::string_view file, const toml::source_position& p) {
  return std::string(file) + ":" + std::to_string(p.line) + ":" + std::to_string(p.column) + ": ";
}
std::string Where(std::string_view file, const toml::node& n) {
  return Where(file, n.source().begin);
}

bool Before(const toml::source_position& a, const toml::source_position& b) {
  return a.line < b.line || (a.line == b.line && a.column < b.column);
}

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

bool IsRuleId(std::string_view id) {
  if (id.empty()) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

bool IsIdentifier(std::string_view s) {
  if (s.empty()) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!alpha(s[0])) return false;
  return std::all_of(s.begin() + 1, s.end(),
                     [&](char c) { return alpha(c) || (c >= '0' && c <= '9') || c == '-'; });
}

// A word is a maximal run of ASCII letters, digits and apostrophes, or of
// bytes >= 0x80 (so UTF-8 letters, curly apostrophes and accents join it).
constexpr bool IsWordByteSlow(unsigned char c) {
  return c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '\'';
}
constexpr std::array<bool, 256> kWordBytes = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = IsWordByteSlow(static_cast<unsigned char>(c));
  return t;
}();
inline bool IsWordByte(unsigned char c) { return kWordBytes[c]; }

struct Interval {
  int32_t start = 0;
  int32_t end = 0;
};

struct NearRef {
  int32_t a = -1;
  int32_t b = -1;
  int32_t within = 0;
};

// A rule's clauses as indices into the pattern table.
struct CompiledRule {
  std::vector<int32_t> any;
  std::vector<int32_t> all;
  std::vector<int32_t> none;
  std::vector<NearRef> near;
  int32_t negation = -1;
  int32_t within_words = 0;
  // One `any` pattern and nothing else: the rule holds at its first match.
  bool simple = false;
};

// A rule whose clauses are any, none and unless_preceded of exact word-index
// patterns only: decided by CompiledRuleSet::Quick() from the word index's
// hits and first matches, without the Evaluator's bookkeeping.
struct QuickRule {
  uint32_t any_begin = 0;  // patterns quick_patterns_[any_begin, any_end)
  uint32_t any_end = 0;
  uint32_t none_begin = 0;
  uint32_t none_end = 0;
  int32_t negation = -1;
  int32_t within_words = 0;
};

struct Pattern {
  Pattern(std::string pattern_text, const RE2::Options* re_options, bool is_exact, bool by_words)
      : text(std::move(pattern_text)), options(re_options), exact(is_exact), words(by_words) {}
  Pattern(Pattern&& o) noexcept
      : text(std::move(o.text)),
        options(o.options),
        exact(o.exact),
        words(o.words),
        char_class(o.char_class),
        in_set(o.in_set),
        re_(o.re_.exchange(nullptr)) {}
  Pattern& operator=(Pattern&&) = delete;
  ~Pattern() { delete re_.load(); }

  // Its RE2, compiled on first use and then shared: most patterns are found
  // by the word index and never need one. Thread-safe.
  const RE2& Re() const {
    RE2* re = re_.load(std::memory_order_acquire);
    if (re) return *re;
    auto fresh = std::make_unique<RE2>(text, *options);
    if (re_.compare_exchange_strong(re, fresh.get(), std::memory_order_acq_rel)) {
      return *fresh.release();
    }
    return *re;  // another thread's
  }

  std::string text;
  const RE2::Options* options;  // the set's, which outlives it
  // A hit is a match: the set entry is the pattern itself, or the word
  // index found it. Otherwise a hit only says that the pattern's pieces
  // occur, or that a word every match needs does (a word index filter).
  bool exact = true;
  // Found by the word index rather than the RE2::Set (then exact).
  bool words = false;
  // A single character class (such as \S): the word index finds its first
  // match, the others are scanned for on demand.
  bool char_class = false;
  // Its pieces are in the RE2::Set (neither found nor filtered by the word
  // index).
  bool in_set = false;

 private:
  mutable std::atomic<RE2*> re_{nullptr};
};

// Per-thread working memory for Match(): reused across calls so the hot path
// allocates nothing once warm.
struct Scratch {
  std::vector<int> pieces;           // set entries found by the set pass
  std::vector<uint32_t> conj_stamp;  // conj_stamp[c] == stamp: conj_found[c] is live
  std::vector<int32_t> conj_found;   // pieces of conjunction c found so far
  std::vector<int> hits;             // [0, hit_count): patterns that may occur, unordered
  size_t hit_count = 0;
  std::vector<uint32_t> hit_stamp;  // hit_stamp[p] == stamp: p is in hits
  uint32_t stamp = 0;
  // Rules those hits can trigger: bit r of candidates (cleared as read), so
  // they are evaluated, and reported, in file order.
  std::vector<uint64_t> candidates;
  bool any_candidate = false;
  // The matches of one pattern found so far, collected lazily: most
  // questions ("the first match", "the negations before this one") need
  // only a prefix of the text searched.
  struct Entry {
    int32_t pattern;
    uint32_t begin;  // its matches are spans[begin, begin + count)
    uint32_t count;
    uint32_t resume;  // where the search for the next match starts
    bool complete;    // no match after the last one
  };
  std::vector<Entry> entries;
  std::vector<Interval> spans;  // matches, contiguous per pattern, in text order
  std::vector<Interval> words;  // word tokens of the text, once needed
  bool words_ready = false;
  // tokens.generation() of the text being matched when the word index read
  // it (0: unknown), and of the text `words` were found in.
  uint64_t text_generation = 0;
  uint64_t words_generation = 0;
  std::vector<Interval> near_a;
  std::vector<Interval> near_b;
  // The word index's view of the text and what it found.
  internal::TokenizedText tokens;
  // What the word index (WordIndex::serial) found in the text tokenized as
  // `tokens` generation, shared by the rule sets of one index: all_hits
  // lists the index's pattern ids that occur, once each (the first
  // all_hit_count); occ_grouped holds
  // their occurrences grouped by id (occ_begin[id], occ_count[id], and the
  // first match first[id], valid for ids in all_hits).
  std::vector<internal::Occurrence> all_occ;
  std::vector<int32_t> all_maybe;
  std::vector<int32_t> all_hits;  // [0, all_hit_count)
  size_t all_hit_count = 0;
  std::vector<uint64_t> occ_stamp;  // occ_stamp[id] == occ_epoch: id is in all_hits
  uint64_t occ_epoch = 0;
  uint64_t found_serial = 0;
  uint64_t found_generation = 0;
  // Rules that hold, as bits (cleared as read), and their spans (valid for
  // the rules whose bit is set).
  std::vector<uint64_t> fired;
  std::vector<Interval> rule_span;
  // Per distinct clause set (CompiledRuleSet::clauses_of_rule_), whether it
  // holds for this text and where: valid when decided_stamp == stamp.
  std::vector<uint32_t> decided_stamp;
  std::vector<char> decided_holds;
  std::vector<Interval> decided;
  // MatchLabels: per label index, valid while in touched_labels.
  std::vector<LabelTotal> totals;
  std::vector<double> best_weight;
  // HeldLabels: per label index, valid while in touched_labels.
  // Between calls every entry is in this initial state.
  struct LabelAcc {
    int64_t sum = 0;
    int32_t matches = 0;
    int32_t best_rank = INT32_MAX;  // CompiledRuleSet::rank_of_rule_; lower is better
    Interval best_span;
  };
  std::vector<LabelAcc> label_acc;
  std::vector<int32_t> touched_labels;
  std::vector<internal::Occurrence> occ_grouped;
  std::vector<internal::Occurrence> sequence;
  std::vector<uint32_t> occ_begin;
  std::vector<uint32_t> occ_count;
  // RE2's first match of a hit word pattern (by index id), when the
  // occurrences alone say it (one match starts first); first[id].end < 0:
  // ask the Evaluator.
  std::vector<Interval> first;
  // Every pattern is matched with its RE2 (a text the word index cannot
  // read, or Explain).
  bool re2_only = false;

  // Starts a new hit list for a set of `patterns` patterns.
  void NewHits(size_t patterns) {
    if (hits.size() < patterns) hits.resize(patterns);
    hit_count = 0;
    if (hit_stamp.size() < patterns) hit_stamp.resize(patterns, 0);
    if (++stamp == 0) {
      std::fill(hit_stamp.begin(), hit_stamp.end(), 0);
      std::fill(conj_stamp.begin(), conj_stamp.end(), 0);
      std::fill(decided_stamp.begin(), decided_stamp.end(), 0);
      stamp = 1;
    }
  }
  void AddHit(int p) {
    if (hit_stamp[p] == stamp) return;
    hit_stamp[p] = stamp;
    hits[hit_count++] = p;
  }
  bool IsHit(int p) const { return hit_stamp[p] == stamp; }

  // One more piece of conjunction c found; returns how many so far.
  int32_t CountPiece(int32_t c, size_t conjunctions) {
    if (conj_stamp.size() < conjunctions) {
      conj_stamp.resize(conjunctions, 0);
      conj_found.resize(conjunctions, 0);
    }
    if (conj_stamp[c] != stamp) {
      conj_stamp[c] = stamp;
      conj_found[c] = 0;
    }
    return ++conj_found[c];
  }

  void NewCandidates(size_t rules) {
    if (candidates.size() < (rules + 63) / 64) candidates.resize((rules + 63) / 64, 0);
    any_candidate = false;
  }
  void AddCandidate(int32_t r) {
    candidates[static_cast<size_t>(r) >> 6] |= uint64_t{1} << (r & 63);
    any_candidate = true;
  }

  void Reset(size_t patterns) {
    entries.clear();
    spans.clear();
    // The words of the same bytes (another rule set reading the same text)
    // are the same.
    if (text_generation == 0 || words_generation != text_generation) {
      words.clear();
      words_ready = false;
      words_generation = text_generation;
    }
    for (Negation& n : negations) n.pattern = -1;
    if (entry_stamp.size() < patterns) entry_stamp.resize(patterns, 0), entry_of.resize(patterns);
    if (++entry_epoch == 0) {
      std::fill(entry_stamp.begin(), entry_stamp.end(), 0);
      entry_epoch = 1;
    }
  }
  // Regions of the text a negation pattern cancels matches in (Evaluator::
  // Negated); pattern -1: unused, its vector kept for its capacity.
  struct Negation {
    int32_t pattern = -1;
    int32_t within = 0;
    std::vector<Interval> regions;
  };
  std::vector<Negation> negations;
  // entry_of[p] is pattern p's index in `entries` when entry_stamp[p] ==
  // entry_epoch.
  std::vector<uint32_t> entry_stamp;
  std::vector<uint32_t> entry_of;
  uint32_t entry_epoch = 0;
};

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

class CompiledRuleSet;

// Evaluates candidate rules against one text, caching pattern matches and
// word positions for the duration of one Match() call.
class Evaluator {
 public:
  Evaluator(const std::vector<Pattern>& patterns, const internal::WordIndex& words,
            std::string_view text, Scratch& s)
      : patterns_(patterns), words_(words), text_(text), s_(s) {}
  // Pattern p is pattern word_base + p of the (possibly shared) word index.
  void set_word_base(int32_t base) { word_base_ = base; }

  // Whether pattern p may occur (all pieces of one alternative found).
  bool Hit(int32_t p) const { return s_.IsHit(p); }

  // Whether pattern p does occur.
  bool Present(int32_t p) {
    if (!Hit(p)) return false;
    Interval m;
    return patterns_[p].exact || MatchAt(p, 0, &m);
  }

  // Whether the rule holds; *span is its first positive clause's match.
  bool Evaluate(const CompiledRule& r, Interval* span) {
    if (r.simple) return MatchAt(r.any[0], 0, span);
    for (int32_t p : r.all)
      if (!Hit(p)) return false;
    for (const NearRef& n : r.near)
      if (!Hit(n.a) || !Hit(n.b)) return false;
    if (!r.any.empty() &&
        std::none_of(r.any.begin(), r.any.end(), [&](int32_t p) { return Hit(p); }))
      return false;
    for (int32_t p : r.none)
      if (Present(p)) return false;

    const bool negating = r.negation >= 0 && Hit(r.negation);
    bool have_span = false;
    if (!r.any.empty()) {
      Interval best{INT32_MAX, INT32_MAX};
      for (int32_t p : r.any) {
        Interval m;
        if (Hit(p) && FirstAccepted(p, r, negating, &m) && m.start < best.start) best = m;
      }
      if (best.start == INT32_MAX) return false;
      *span = best;
      have_span = true;
    }
    for (int32_t p : r.all) {
      // An exact hit is a match; its position matters only for the span or
      // a negation.
      if (have_span && !negating && patterns_[p].exact) continue;
      Interval m;
      if (!FirstAccepted(p, r, negating, &m)) return false;
      if (!have_span) *span = m, have_span = true;
    }
    for (const NearRef& n : r.near) {
      Interval m;
      if (!NearHolds(n, r, negating, &m)) return false;
      if (!have_span) *span = m, have_span = true;
    }
    return have_span;
  }

  // The i-th (non-overlapping, leftmost-first) match of pattern p.
  bool MatchAt(int32_t p, uint32_t i, Interval* out) {
    const size_t e = EntryOf(p);
    if (!Extend(e, i + 1)) return false;
    *out = s_.spans[s_.entries[e].begin + i];
    return true;
  }

  // All matches of p: [begin, begin + count) in s_.spans, valid until the
  // next MatchAt or AllMatches.
  std::pair<uint32_t, uint32_t> AllMatches(int32_t p) {
    const size_t e = EntryOf(p);
    Extend(e, UINT32_MAX);
    return {s_.entries[e].begin, s_.entries[e].count};
  }

  // The first match of p not cancelled by the rule's negation.
  bool FirstAccepted(int32_t p, const CompiledRule& r, bool negating, Interval* out) {
    Interval m;
    for (uint32_t i = 0; MatchAt(p, i, &m); ++i) {
      if (negating && Negated(m, r)) continue;
      *out = m;
      return true;
    }
    return false;
  }

  // Whether a match of the rule's negation pattern ends at or before m.start
  // with fewer than within_words words between it and m.
  bool Negated(Interval m, const CompiledRule& r) { return Negated(m, r.negation, r.within_words); }

  // The same for negation pattern `neg` and `within` words. Each negation
  // match n covers the starts from n.end up to that of the within-th word
  // after it (fewer words between): m is negated when its start is covered.
  // The regions are found once per text (and negation).
  bool Negated(Interval m, int32_t neg, int32_t within) {
    const std::vector<Interval>& regions = NegationRegions(neg, within);
    // Starts and ends both rise (matches do not overlap), so the last region
    // starting at or before m reaches furthest.
    auto it = std::partition_point(regions.begin(), regions.end(),
                                   [&](const Interval& r) { return r.start <= m.start; });
    return it != regions.begin() && m.start <= (it - 1)->end;
  }

  const std::vector<Interval>& NegationRegions(int32_t neg, int32_t within) {
    Scratch::Negation* slot = nullptr;
    for (Scratch::Negation& n : s_.negations) {
      if (n.pattern == neg && n.within == within) return n.regions;
      if (n.pattern < 0 && !slot) slot = &n;
    }
    if (!slot) slot = &s_.negations.emplace_back();
    slot->pattern = neg;
    slot->within = within;
    slot->regions.clear();
    auto [begin, count] = AllMatches(neg);
    EnsureWords();
    const auto& words = s_.words;
    for (uint32_t k = 0; k < count; ++k) {
      const Interval n = s_.spans[begin + k];
      // The first word ending after n, then within - 1 more.
      const size_t first = static_cast<size_t>(
          std::partition_point(words.begin(), words.end(),
                               [&](const Interval& w) { return w.end <= n.end; }) -
          words.begin());
      const size_t last = first + static_cast<size_t>(within) - 1;
      const int32_t reach = last < words.size() ? std::max(words[last].start, n.end) : INT32_MAX;
      slot->regions.push_back({n.end, reach});
    }
    return slot->regions;
  }

  // FirstAccepted for a negation given as pattern and word count.
  bool FirstAccepted(int32_t p, int32_t neg, int32_t within, bool negating, Interval* out) {
    Interval m;
    for (uint32_t i = 0; MatchAt(p, i, &m); ++i) {
      if (negating && Negated(m, neg, within)) continue;
      *out = m;
      return true;
    }
    return false;
  }

  bool NearHolds(const NearRef& n, const CompiledRule& r, bool negating, Interval* out) {
    // Complete entries never move, so both ranges stay valid (as indices).
    auto [a_begin, a_count] = AllMatches(n.a);
    auto [b_begin, b_count] = AllMatches(n.b);
    auto keep = [&](uint32_t begin, uint32_t count, std::vector<Interval>* into) {
      into->clear();
      for (uint32_t i = 0; i < count; ++i) {
        Interval m = s_.spans[begin + i];
        if (!negating || !Negated(m, r)) into->push_back(m);
      }
    };
    keep(a_begin, a_count, &s_.near_a);
    keep(b_begin, b_count, &s_.near_b);
    const std::vector<Interval>& bs = s_.near_b;
    for (const Interval& a : s_.near_a) {
      // The b nearest to a on each side: the last ending before a starts,
      // and the first ending after it (overlapping or to its right).
      auto it = std::partition_point(bs.begin(), bs.end(),
                                     [&](const Interval& b) { return b.end <= a.start; });
      if (it != bs.end()) {
        int words = it->start < a.end ? 0 : WordsBetween(a.end, it->start);
        if (words <= n.within) {
          *out = {std::min(a.start, it->start), std::max(a.end, it->end)};
          return true;
        }
      }
      if (it != bs.begin()) {
        const Interval& b = *(it - 1);
        if (WordsBetween(b.end, a.start) <= n.within) {
          *out = {b.start, a.end};
          return true;
        }
      }
    }
    return false;
  }

  // Words of the text that overlap [from, to).
  int WordsBetween(int32_t from, int32_t to) {
    if (to <= from) return 0;
    EnsureWords();
    const auto& w = s_.words;
    auto lo =
        std::partition_point(w.begin(), w.end(), [&](const Interval& t) { return t.end <= from; });
    auto hi = std::partition_point(lo, w.end(), [&](const Interval& t) { return t.start < to; });
    return static_cast<int>(hi - lo);
  }

 private:
  size_t EntryOf(int32_t p) {
    if (s_.entry_stamp[p] == s_.entry_epoch) return s_.entry_of[p];
    s_.entry_stamp[p] = s_.entry_epoch;
    s_.entry_of[p] = static_cast<uint32_t>(s_.entries.size());
    s_.entries.push_back({p, static_cast<uint32_t>(s_.spans.size()), 0, 0, false});
    return s_.entries.size() - 1;
  }

  // Searches on until entry e holds `want` matches or no more exist;
  // returns whether it holds `want`.
  bool Extend(size_t e, uint32_t want) {
    Scratch::Entry* entry = &s_.entries[e];
    if (entry->count >= want) return true;
    if (entry->complete) return false;
    if (entry->begin + entry->count != s_.spans.size()) {
      // Another pattern's matches came after ours: move ours to the end so
      // they stay contiguous.
      s_.spans.reserve(s_.spans.size() + entry->count + 1);
      const uint32_t moved = static_cast<uint32_t>(s_.spans.size());
      for (uint32_t k = 0; k < entry->count; ++k) s_.spans.push_back(s_.spans[entry->begin + k]);
      entry->begin = moved;
    }
    const Pattern& pattern = patterns_[entry->pattern];
    if (pattern.words && !s_.re2_only) {
      if (pattern.char_class) return ExtendChars(entry, want);
      WordMatches(entry, want);
      return entry->count >= want;
    }
    const RE2& re = pattern.Re();
    re2::StringPiece m;
    while (entry->count < want) {
      if (entry->count >= kMaxMatchesPerPattern || entry->resume > text_.size() ||
          !re.Match(text_, entry->resume, text_.size(), RE2::UNANCHORED, &m, 1)) {
        entry->complete = true;
        return false;
      }
      const int32_t start = static_cast<int32_t>(m.data() - text_.data());
      const int32_t end = start + static_cast<int32_t>(m.size());
      s_.spans.push_back({start, end});
      ++entry->count;
      if (end > start) {
        entry->resume = static_cast<uint32_t>(end);
      } else {
        // An empty match: step over one whole UTF-8 character.
        size_t pos = static_cast<size_t>(end) + 1;
        while (pos < text_.size() && (static_cast<unsigned char>(text_[pos]) & 0xC0) == 0x80) ++pos;
        entry->resume = static_cast<uint32_t>(pos);
      }
    }
    return true;
  }

  // RE2's matches of a word-index pattern, from all the places it matches:
  // the first alone when one is wanted (most rules need no more), else all.
  // Entry e's matches are the last in s_.spans (Extend saw to it).
  void WordMatches(Scratch::Entry* entry, uint32_t want) {
    const int32_t p = entry->pattern;
    if (!s_.IsHit(p)) {
      entry->complete = true;
      return;
    }
    const int32_t id = word_base_ + p;
    internal::Occurrence* first = s_.occ_grouped.data() + s_.occ_begin[id];
    const size_t max = want == 1 ? 1 : kMaxMatchesPerPattern;
    s_.sequence.clear();
    internal::Re2Sequence(first, first + s_.occ_count[id], patterns_[p].Re(), text_, max,
                          &s_.sequence);
    s_.spans.resize(entry->begin);
    for (const internal::Occurrence& o : s_.sequence) s_.spans.push_back({o.start, o.end});
    entry->count = static_cast<uint32_t>(s_.sequence.size());
    entry->complete = max > 1 || s_.occ_count[id] == 1;
  }

  // A single-class pattern: its matches are its characters, found as asked.
  bool ExtendChars(Scratch::Entry* entry, uint32_t want) {
    while (entry->count < want) {
      int32_t start, end;
      if (entry->count >= kMaxMatchesPerPattern ||
          !words_.NextCharMatch(word_base_ + entry->pattern, s_.tokens,
                                static_cast<int32_t>(entry->resume), &start, &end)) {
        entry->complete = true;
        return false;
      }
      s_.spans.push_back({start, end});
      ++entry->count;
      entry->resume = static_cast<uint32_t>(end);
    }
    return true;
  }

  void EnsureWords() {
    if (s_.words_ready) return;
    s_.words_ready = true;
    const size_t n = text_.size();
    for (size_t i = 0; i < n;) {
      if (!IsWordByte(static_cast<unsigned char>(text_[i]))) {
        ++i;
        continue;
      }
      size_t j = i + 1;
      while (j < n && IsWordByte(static_cast<unsigned char>(text_[j]))) ++j;
      s_.words.push_back({static_cast<int32_t>(i), static_cast<int32_t>(j)});
      i = j;
    }
  }

  const std::vector<Pattern>& patterns_;
  const internal::WordIndex& words_;
  int32_t word_base_ = 0;
  std::string_view text_;
  Scratch& s_;
};

class CompiledRuleSet final : public RuleSet {
 public:
  const std::string& stage() const override { return stage_; }
  const std::string& version() const override { return version_; }
  const std::vector<Rule>& rules() const override { return rules_; }
  const std::vector<Label>& labels() const override { return labels_; }
  const Label* FindLabel(std::string_view name) const override {
    auto it = label_index_.find(name);
    return it == label_index_.end() ? nullptr : &labels_[it->second];
  }
  const MatchStats& stats() const override { return stats_; }

  PatternCounts pattern_counts() const override {
    PatternCounts c;
    c.total = patterns_.size();
    c.word_index = static_cast<size_t>(std::count_if(patterns_.begin(), patterns_.end(),
                                                     [](const Pattern& p) { return p.words; }));
    c.word_filter = word_patterns_ - c.word_index;
    c.re2_set = c.total - word_patterns_;
    return c;
  }

  void Match(std::string_view text, std::vector<RuleMatch>* out) const override {
    ForEachMatch<true>(text, [&](size_t r, Interval span) {
      out->push_back({&rules_[r], {span.start, span.end}});
    });
  }

  void MatchLabels(std::string_view text, std::vector<LabelTotal>* out) const override {
    Scratch& s = ThreadScratch();
    if (s.totals.size() < labels_.size()) {
      s.totals.resize(labels_.size());
      s.best_weight.resize(labels_.size());
    }
    s.touched_labels.clear();
    ForEachMatch<true>(text, [&](size_t r, Interval span) {
      const RuleFacts& facts = facts_[r];
      const int32_t l = facts.label;
      if (l < 0) return;
      const double weight = facts.weight;
      LabelTotal& t = s.totals[l];
      if (t.matches == 0) {
        s.touched_labels.push_back(l);
        t.score = 0;
        t.best.rule = nullptr;
      }
      ++t.matches;
      t.score += weight;
      // In file order, so only a strictly greater weight replaces the best.
      if (!t.best.rule || weight > s.best_weight[l]) {
        t.best = {&rules_[r], {span.start, span.end}};
        s.best_weight[l] = weight;
      }
    });
    std::sort(s.touched_labels.begin(), s.touched_labels.end());
    for (int32_t l : s.touched_labels) {
      LabelTotal& t = s.totals[l];
      t.label = &labels_[l];
      out->push_back(t);
      t.matches = 0;
    }
  }

  void HeldLabels(std::string_view text, std::vector<LabelTotal>* out) const override {
    if (!exact_sums_) {
      std::vector<LabelTotal> totals;
      MatchLabels(text, &totals);
      for (const LabelTotal& t : totals) {
        if (t.score + kScoreTolerance >= t.label->threshold) out->push_back(t);
      }
      return;
    }
    Scratch& s = ThreadScratch();
    if (s.label_acc.size() < labels_.size()) s.label_acc.resize(labels_.size());
    s.touched_labels.clear();
    // A few dozen labels are read in declaration order faster than the
    // touched ones are listed and sorted.
    const bool few_labels = labels_.size() <= 64;
    // Integer sums: the order rules arrive in does not matter (each arrives
    // at most once). The best rule is the largest weight, then the earliest
    // in the file, as MatchLabels' file-order scan picks it: the lowest rank.
    auto add = [&](int32_t l, int64_t fixed, int32_t count, int32_t rank, Interval span) {
      Scratch::LabelAcc& a = s.label_acc[l];
      if (!few_labels && a.matches == 0) s.touched_labels.push_back(l);
      a.matches += count;
      a.sum += fixed;
      if (rank < a.best_rank) {
        a.best_rank = rank;
        a.best_span = span;
      }
    };
    ForEachMatch<false>(
        text,
        [&](size_t r, Interval span) {
          const RuleFacts& facts = facts_[r];
          if (facts.label >= 0) add(facts.label, facts.fixed, 1, rank_of_rule_[r], span);
        },
        [&](const RuleGroup& group, Interval span) {
          for (uint32_t k = group.adds_begin; k < group.adds_end; ++k) {
            const GroupAdd& g = group_adds_[k];
            add(g.label, g.fixed, g.count, g.best_rank, span);
          }
        });
    auto emit = [&](int32_t l) {
      Scratch::LabelAcc& a = s.label_acc[l];
      if (a.sum >= fixed_threshold_[l]) {
        LabelTotal t;
        t.label = &labels_[l];
        t.score = static_cast<double>(a.sum) / decimal_scale_;
        t.matches = a.matches;
        t.best = {&rules_[rule_of_rank_[a.best_rank]], {a.best_span.start, a.best_span.end}};
        out->push_back(t);
      }
      a = Scratch::LabelAcc{};
    };
    if (few_labels) {
      for (size_t l = 0; l < labels_.size(); ++l) {
        if (s.label_acc[l].matches > 0) emit(static_cast<int32_t>(l));
      }
    } else {
      std::sort(s.touched_labels.begin(), s.touched_labels.end());
      for (int32_t l : s.touched_labels) emit(l);
    }
  }

  std::string Explain(std::string_view text) const;

  bool InRe2Set(std::string_view pattern) const {
    for (const Pattern& p : patterns_)
      if (p.text == pattern) return p.in_set;
    return false;
  }

 private:
  friend class Loader;

  // Calls fire(rule index, span) once for every rule that holds: in file
  // order when kInFileOrder, else as found (cheaper: no second pass), and
  // then a group whose rules hold together goes to fire_group(group, span)
  // instead.
  template <bool kInFileOrder, typename Fire, typename FireGroup = std::nullptr_t>
  void ForEachMatch(std::string_view text, Fire&& fire, FireGroup&& fire_group = nullptr) const {
    stats_.texts.fetch_add(1, std::memory_order_relaxed);
    Scratch& s = ThreadScratch();
    FindPatterns(text, &s);
    if (s.hit_count == 0) return;
    const size_t words = (rules_.size() + 63) / 64;
    s.NewCandidates(rules_.size());
    if (s.fired.size() < words) s.fired.resize(words, 0);
    if (s.rule_span.size() < rules_.size()) s.rule_span.resize(rules_.size());
    if (s.decided_stamp.size() < clause_sets_) {
      s.decided_stamp.resize(clause_sets_, 0);
      s.decided_holds.resize(clause_sets_);
      s.decided.resize(clause_sets_);
    }
    s.Reset(patterns_.size());
    Evaluator ev(patterns_, *words_, text, s);
    ev.set_word_base(word_base_);
    bool any_fired = false;
    auto fired = [&](size_t r, Interval span) {
      if constexpr (kInFileOrder) {
        s.fired[r >> 6] |= uint64_t{1} << (r & 63);
        s.rule_span[r] = span;
        any_fired = true;
      } else {
        fire(r, span);
      }
    };
    for (size_t i = 0; i < s.hit_count; ++i) {
      const int p = s.hits[i];
      const uint32_t begin = group_offsets_[p], end = group_offsets_[p + 1];
      if (begin != end && s.re2_only) {
        for (uint32_t g = begin; g < end; ++g) {
          for (uint32_t k = groups_[g].rules_begin; k < groups_[g].rules_end; ++k) {
            s.AddCandidate(group_rules_[k]);
          }
        }
      } else if (begin != end) {
        // Grouped rules hold at their pattern's first match not cancelled
        // by their negation: decided once per group, no rule looked at.
        Interval& first = s.first[word_base_ + p];
        if (first.end < 0) ev.MatchAt(p, 0, &first);
        for (uint32_t g = begin; g < end; ++g) {
          const RuleGroup& group = groups_[g];
          Interval span = first;
          if (group.negation >= 0 && s.IsHit(group.negation) &&
              ev.Negated(span, group.negation, group.within_words) &&
              !ev.FirstAccepted(p, group.negation, group.within_words, true, &span)) {
            continue;
          }
          if constexpr (kInFileOrder) {
            for (uint32_t k = group.rules_begin; k < group.rules_end; ++k)
              fired(group_rules_[k], span);
          } else {
            fire_group(group, span);
          }
        }
      }
      for (uint32_t k = trigger_offsets_[p]; k < trigger_offsets_[p + 1]; ++k) {
        s.AddCandidate(trigger_rules_[k]);
      }
    }
    // The other candidates, in file order.
    if (s.any_candidate) {
      for (size_t w = 0; w < words; ++w) {
        for (uint64_t bits = s.candidates[w]; bits != 0; bits &= bits - 1) {
          const size_t r = w * 64 + static_cast<size_t>(__builtin_ctzll(bits));
          // Rules with the same clauses (a hand rule copied to several
          // labels) are decided once per text.
          const uint32_t d = clauses_of_rule_[r];
          if (s.decided_stamp[d] != s.stamp) {
            s.decided_stamp[d] = s.stamp;
            const int32_t q = quick_of_rule_[r];
            s.decided_holds[d] = q >= 0 && !s.re2_only
                                     ? Quick(quick_rules_[q], s, ev, &s.decided[d])
                                     : ev.Evaluate(compiled_[r], &s.decided[d]);
          }
          if (s.decided_holds[d]) fired(r, s.decided[d]);
        }
        s.candidates[w] = 0;
      }
    }
    if (!kInFileOrder || !any_fired) return;
    // Report in file order: bit order.
    for (size_t w = 0; w < words; ++w) {
      for (uint64_t bits = s.fired[w]; bits != 0; bits &= bits - 1) {
        const size_t r = w * 64 + static_cast<size_t>(__builtin_ctzll(bits));
        fire(r, s.rule_span[r]);
      }
      s.fired[w] = 0;
    }
  }

  // Evaluator::Evaluate for a quick rule: the same answer from the hits and
  // first matches the word index gave.
  bool Quick(const QuickRule& q, Scratch& s, Evaluator& ev, Interval* span) const {
    for (uint32_t k = q.none_begin; k < q.none_end; ++k) {
      if (s.IsHit(quick_patterns_[k])) return false;
    }
    const bool negating = q.negation >= 0 && s.IsHit(q.negation);
    Interval best{INT32_MAX, INT32_MAX};
    for (uint32_t k = q.any_begin; k < q.any_end; ++k) {
      const int32_t p = quick_patterns_[k];
      if (!s.IsHit(p)) continue;
      Interval m = s.first[word_base_ + p];
      if (m.end < 0 || (negating && ev.Negated(m, q.negation, q.within_words))) {
        if (!ev.FirstAccepted(p, q.negation, q.within_words, negating, &m)) continue;
      }
      if (m.start < best.start) best = m;
    }
    if (best.start == INT32_MAX) return false;
    *span = best;
    return true;
  }

  // s->hits = the patterns that may occur in text. The set pass; on any
  // RE2::Set failure, pattern by pattern (same answer, exact).
  void FindPatterns(std::string_view text, Scratch* s) const {
    s->NewHits(patterns_.size());
    s->re2_only = false;
    s->text_generation = 0;
    if (word_patterns_ > 0) {
      s->tokens.Reset(text);
      if (!s->tokens.usable()) {
        stats_.slow_texts.fetch_add(1, std::memory_order_relaxed);
        MatchEachPattern(text, s);
        return;
      }
      s->text_generation = s->tokens.generation();
      FindWordPatterns(s);
    }
    if (!set_) return;
    RE2::Set::ErrorInfo info{RE2::Set::kNoError};
    if (!set_->Match(text, &s->pieces, &info)) {
      if (info.kind == RE2::Set::kNoError) return;
      if (info.kind == RE2::Set::kOutOfMemory) {
        stats_.dfa_out_of_memory.fetch_add(1, std::memory_order_relaxed);
      }
      stats_.fallbacks.fetch_add(1, std::memory_order_relaxed);
      for (size_t p = 0; p < patterns_.size(); ++p) {
        if (!patterns_[p].words && !s->IsHit(static_cast<int>(p)) &&
            patterns_[p].Re().Match(text, 0, text.size(), RE2::UNANCHORED, nullptr, 0)) {
          s->AddHit(static_cast<int>(p));
        }
      }
      return;
    }
    // A conjunction holds when each of its (distinct) pieces was found.
    for (int piece : s->pieces) {
      for (uint32_t k = piece_conj_offsets_[piece]; k < piece_conj_offsets_[piece + 1]; ++k) {
        const int32_t c = piece_conj_[k];
        if (conj_pieces_[c] == 1 || s->CountPiece(c, conj_pieces_.size()) == conj_pieces_[c]) {
          s->AddHit(conj_pattern_[c]);
        }
      }
    }
  }

  // The word index's occurrences, grouped by pattern; each pattern that
  // occurs is a hit.
  void FindWordPatterns(Scratch* s) const {
    // One look at the text for every rule set sharing the index: the
    // others reuse what the first found in the same bytes.
    if (s->found_serial != words_->serial() || s->found_generation != s->tokens.generation()) {
      s->all_occ.clear();
      s->all_maybe.clear();
      words_->FindAll(s->tokens, &s->all_occ, &s->all_maybe);
      s->found_serial = words_->serial();
      s->found_generation = s->tokens.generation();
      GroupOccurrences(s);
    }
    // Ours, numbered as patterns_.
    const int32_t base = word_base_;
    const uint32_t n = static_cast<uint32_t>(patterns_.size());
    for (size_t i = 0; i < s->all_hit_count; ++i) {
      const int32_t id = s->all_hits[i];
      if (static_cast<uint32_t>(id - base) < n) s->AddHit(id - base);
    }
    for (int32_t p : s->all_maybe) {
      if (static_cast<uint32_t>(p - base) < n) s->AddHit(p - base);
    }
  }

  // s->all_occ grouped by pattern id, once per text for every rule set of
  // the index.
  void GroupOccurrences(Scratch* s) const {
    const size_t ids = words_->ids();
    if (s->occ_stamp.size() < ids) {
      s->occ_stamp.resize(ids, 0);
      s->occ_begin.resize(ids);
      s->occ_count.resize(ids);
      s->first.resize(ids);
    }
    const uint64_t now = ++s->occ_epoch;
    if (s->all_hits.size() < s->all_occ.size()) s->all_hits.resize(s->all_occ.size());
    size_t distinct = 0;
    for (const internal::Occurrence& o : s->all_occ) {
      if (s->occ_stamp[o.pattern] != now) {
        s->occ_stamp[o.pattern] = now;
        s->all_hits[distinct++] = o.pattern;
        s->occ_count[o.pattern] = 0;
      }
      ++s->occ_count[o.pattern];
    }
    s->all_hit_count = distinct;
    uint32_t offset = 0;
    for (size_t i = 0; i < distinct; ++i) {
      const int32_t id = s->all_hits[i];
      s->occ_begin[id] = offset;
      offset += s->occ_count[id];
      s->occ_count[id] = 0;
    }
    s->occ_grouped.resize(offset);
    for (const internal::Occurrence& o : s->all_occ) {
      uint32_t& count = s->occ_count[o.pattern];
      Interval& f = s->first[o.pattern];
      if (count == 0 || o.start < f.start) {
        f = {o.start, o.end};
      } else if (o.start == f.start && o.end != f.end) {
        f.end = -1;  // two matches start first: RE2 decides
      }
      s->occ_grouped[s->occ_begin[o.pattern] + count++] = o;
    }
  }

  void MatchEachPattern(std::string_view text, Scratch* s) const {
    s->NewHits(patterns_.size());
    s->re2_only = true;
    for (size_t p = 0; p < patterns_.size(); ++p) {
      if (patterns_[p].Re().Match(text, 0, text.size(), RE2::UNANCHORED, nullptr, 0)) {
        s->AddHit(static_cast<int>(p));
      }
    }
  }

  std::string stage_;
  std::string version_;
  std::vector<Rule> rules_;
  std::vector<Label> labels_;
  std::map<std::string, size_t, std::less<>> label_index_;
  std::vector<CompiledRule> compiled_;
  std::vector<Pattern> patterns_;
  // Entries of set_ are pieces; piece i completes conjunctions
  // piece_conj_[piece_conj_offsets_[i] .. piece_conj_offsets_[i + 1]).
  // Conjunction c needs conj_pieces_[c] distinct pieces, and means that
  // pattern conj_pattern_[c] may occur.
  std::unique_ptr<RE2::Set> set_;
  std::vector<uint32_t> piece_conj_offsets_;
  std::vector<int32_t> piece_conj_;
  std::vector<int32_t> conj_pieces_;
  std::vector<int32_t> conj_pattern_;
  // Pattern p triggers rules trigger_rules_[trigger_offsets_[p] ..
  // trigger_offsets_[p + 1]): a rule is triggered by its `any` patterns, or
  // failing those its first `all` pattern, or its first near clause's `a`.
  // Grouped rules (below) are not triggered.
  std::vector<uint32_t> trigger_offsets_;
  std::vector<int32_t> trigger_rules_;
  // Per rule: its one pattern when the rule is simple and the pattern is in
  // the word index (not a single class), else -1. A dense copy of what the
  // hot loop needs from compiled_ and patterns_.
  // Per rule, densely, what the hot loop reads.
  struct RuleFacts {
    double weight = 0;
    int64_t fixed = 0;   // weight * decimal_scale_, exactly (when exact_sums_)
    int32_t label = -1;  // index in labels_; -1: not declared
  };
  std::vector<RuleFacts> facts_;
  // Every weight and threshold is a decimal with at most 8 places whose
  // double is the one written (5.9317 = 59317 / 10^4), and no label's sum
  // can drift in floating point by as much as the scorers' tolerance: then
  // HeldLabels adds integers (any order gives the same sum) and reaches the
  // same decisions as MatchLabels' file-order doubles (ChooseDecimalScale).
  bool exact_sums_ = false;
  double decimal_scale_ = 1;
  std::vector<int64_t> fixed_threshold_;  // per label: threshold * decimal_scale_
  // Grouped rules: one `any` pattern found by the word index (not a single
  // class), perhaps an unless_preceded one too, and no other clause. Those
  // of one pattern, negation and window hold together, at one span (most
  // rules of the learned files). Pattern p's groups are
  // groups_[group_offsets_[p] .. group_offsets_[p + 1]), their rules
  // group_rules_[rules_begin .. rules_end), in file order.
  struct RuleGroup {
    int32_t negation = -1;
    int32_t within_words = 0;
    uint32_t rules_begin = 0;
    uint32_t rules_end = 0;
    // Its declared labels' shares (HeldLabels): group_adds_[adds_begin ..
    // adds_end).
    uint32_t adds_begin = 0;
    uint32_t adds_end = 0;
  };
  // A group's rules of one label, summed (when exact_sums_).
  struct GroupAdd {
    int64_t fixed = 0;
    int32_t label = 0;
    int32_t count = 0;      // rules
    int32_t best_rank = 0;  // the lowest rank_of_rule_ among them
  };
  std::vector<GroupAdd> group_adds_;
  // Rules in HeldLabels' order of preference: weight descending, then file
  // order. rule_of_rank_ is its inverse.
  std::vector<int32_t> rank_of_rule_;
  std::vector<int32_t> rule_of_rank_;
  std::vector<uint32_t> group_offsets_;
  std::vector<RuleGroup> groups_;
  std::vector<int32_t> group_rules_;
  // Rules whose clauses are the same (any, all, none, near, negation and
  // window) share an index here: they hold or not together.
  std::vector<uint32_t> clauses_of_rule_;
  size_t clause_sets_ = 0;
  // Quick rules (QuickRule): quick_of_rule_[r] is rule r's index in
  // quick_rules_, or -1.
  std::vector<int32_t> quick_of_rule_;
  std::vector<QuickRule> quick_rules_;
  std::vector<int32_t> quick_patterns_;

  // Patterns of the word-and-phrase shapes (Pattern::words, and word index
  // filters): pattern p is word_base_ + p in words_, which other rule sets
  // loaded with this one may share (LoadFiles).
  std::shared_ptr<internal::WordIndex> words_;
  int32_t word_base_ = 0;
  size_t word_patterns_ = 0;
  // How every pattern's RE2 is compiled.
  RE2::Options re_options_;
  mutable MatchStats stats_;
};

std::string Snippet(std::string_view text, Interval m) {
  std::string s(text.substr(m.start, m.end - m.start));
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return "[" + std::to_string(m.start) + "," + std::to_string(m.end) + ") \"" + s + "\"";
}

std::string CompiledRuleSet::Explain(std::string_view text) const {
  Scratch s;
  MatchEachPattern(text, &s);
  s.Reset(patterns_.size());
  Evaluator ev(patterns_, *words_, text, s);
  ev.set_word_base(word_base_);
  std::ostringstream o;
  for (size_t i = 0; i < rules_.size(); ++i) {
    const Rule& rule = rules_[i];
    const CompiledRule& r = compiled_[i];
    Interval span;
    const bool fires = ev.Evaluate(r, &span);
    o << "rule " << rule.id << " (" << rule.file << ":" << rule.line << ") -> " << rule.label
      << ": " << (fires ? "fires " + Snippet(text, span) : std::string("does not fire")) << "\n";
    const bool negating = r.negation >= 0 && ev.Hit(r.negation);
    auto positive = [&](std::string_view clause, int32_t p) {
      o << "  " << clause << " " << Quote(patterns_[p].text) << ": ";
      auto [begin, count] = ev.AllMatches(p);
      if (count == 0) {
        o << "no match\n";
        return;
      }
      for (uint32_t k = 0; k < count && k < 3; ++k) {
        Interval m = s.spans[begin + k];
        o << (k ? ", " : "") << Snippet(text, m);
        if (negating && ev.Negated(m, r)) o << " (negated)";
      }
      if (count > 3) o << ", ... (" << count << " matches)";
      o << "\n";
    };
    for (int32_t p : r.any) positive("any", p);
    for (int32_t p : r.all) positive("all", p);
    for (int32_t p : r.none) {
      o << "  none " << Quote(patterns_[p].text) << ": ";
      Interval m;
      o << (ev.MatchAt(p, 0, &m) ? "present at " + Snippet(text, m) + " (blocks the rule)"
                                 : std::string("absent"))
        << "\n";
    }
    for (const NearRef& n : r.near) {
      Interval m;
      o << "  near " << Quote(patterns_[n.a].text) << " ~ " << Quote(patterns_[n.b].text)
        << " within " << n.within << ": "
        << (ev.NearHolds(n, r, negating, &m) ? "holds at " + Snippet(text, m)
                                             : std::string("does not hold"))
        << "\n";
    }
    if (r.negation >= 0) {
      o << "  unless_preceded " << Quote(patterns_[r.negation].text) << " within " << r.within_words
        << " words: " << (negating ? "present" : "absent") << "\n";
    }
  }
  return o.str();
}

// Reads one rule file into a CompiledRuleSet. The first error wins; every
// message starts with FILE:LINE:COLUMN.
class Loader {
 public:
  // `shared`: the word index to add to (not built here); nullptr: the set's
  // own, built when loaded.
  Loader(std::string_view file, const RuleSetOptions& options,
         std::shared_ptr<internal::WordIndex> shared = nullptr)
      : file_(file), options_(options), shared_(std::move(shared)), own_index_(!shared_) {}

  Result<std::shared_ptr<const RuleSet>> Load(std::string_view toml_text) {
    toml::table root;
    try {
      root = toml::parse(toml_text, std::string_view(file_));
    } catch (const toml::parse_error& e) {
      return Status::InvalidArgument(Where(file_, e.source().begin) + std::string(e.description()));
    }
    auto set = std::make_shared<CompiledRuleSet>();
    set_ = set.get();
    set->words_ = own_index_ ? std::make_shared<internal::WordIndex>() : shared_;
    set->word_base_ = static_cast<int32_t>(set->words_->ids());
    if (root.empty()) return Fail("1:1: empty rule file: expected [meta] and [[rule]] tables");
    EARSHOT_RETURN_IF_ERROR(CheckKeys(root, {"meta", "label", "rule"}, "the top level"));

    const toml::node* meta = root.get("meta");
    if (!meta) return Fail("1:1: missing [meta] table (stage, version)");
    if (!meta->is_table())
      return Status::InvalidArgument(Where(file_, *meta) + "meta must be a table");
    EARSHOT_RETURN_IF_ERROR(ReadMeta(*meta->as_table()));

    if (const toml::node* labels = root.get("label")) {
      const toml::array* arr = labels->as_array();
      if (!arr || !arr->is_array_of_tables()) {
        return Status::InvalidArgument(Where(file_, *labels) +
                                       "label must be an array of tables ([[label]])");
      }
      for (const toml::node& n : *arr) EARSHOT_RETURN_IF_ERROR(ReadLabel(*n.as_table()));
    }

    const toml::node* rules = root.get("rule");
    if (!rules) return Fail("1:1: no [[rule]] tables: a rule file needs at least one rule");
    const toml::array* arr = rules->as_array();
    if (!arr || !arr->is_array_of_tables()) {
      return Status::InvalidArgument(Where(file_, *rules) +
                                     "rule must be an array of tables ([[rule]])");
    }
    if (arr->empty()) return Fail("1:1: no [[rule]] tables: a rule file needs at least one rule");
    for (const toml::node& n : *arr) EARSHOT_RETURN_IF_ERROR(ReadRule(*n.as_table()));

    if (piece_index_.empty()) {
      set->set_.reset();  // every pattern is in the word index
    } else if (!set->set_->Compile()) {
      return Status::ResourceExhausted(
          file_ + ": the RE2::Set of " + std::to_string(piece_index_.size()) +
          " patterns does not fit max_mem of " + std::to_string(options_.max_mem) + " bytes");
    }
    set->words_->ReserveIds(static_cast<size_t>(set->word_base_) + set->patterns_.size());
    if (own_index_) set->words_->Build();
    BuildTriggers();
    return std::shared_ptr<const RuleSet>(std::move(set));
  }

 private:
  Status Fail(std::string_view where_and_message) const {
    return Status::InvalidArgument(file_ + ":" + std::string(where_and_message));
  }

  // The first key (in file order) of `table` that is not `known`.
  Status CheckKeys(const toml::table& table, std::initializer_list<std::string_view> known,
                   std::string_view context) const {
    const toml::key* unknown = nullptr;
    for (auto&& [k, v] : table) {
      if (std::find(known.begin(), known.end(), k.str()) != known.end()) continue;
      if (!unknown || Before(k.source().begin, unknown->source().begin)) unknown = &k;
    }
    if (!unknown) return Status::Ok();
    std::string list;
    for (std::string_view k : known) list += (list.empty() ? "" : ", ") + std::string(k);
    return Status::InvalidArgument(Where(file_, unknown->source().begin) + "unknown key '" +
                                   std::string(unknown->str()) + "' in " + std::string(context) +
                                   " (known keys: " + list + ")");
  }

  Status TypeError(const toml::node& n, std::string_view what, std::string_view must) const {
    return Status::InvalidArgument(Where(file_, n) + std::string(what) + " must be " +
                                   std::string(must));
  }

  Status ReadMeta(const toml::table& meta) {
    EARSHOT_RETURN_IF_ERROR(CheckKeys(meta, {"stage", "version", "case_sensitive"}, "[meta]"));
    const toml::node* stage = meta.get("stage");
    if (!stage) {
      return Status::InvalidArgument(Where(file_, meta) + "[meta] needs stage (e.g. \"topics\")");
    }
    if (!stage->is_string() || !IsIdentifier(*stage->value<std::string>())) {
      return TypeError(*stage, "meta.stage", "an identifier string such as \"topics\"");
    }
    set_->stage_ = *stage->value<std::string>();
    const toml::node* version = meta.get("version");
    if (!version) {
      return Status::InvalidArgument(Where(file_, meta) +
                                     "[meta] needs version (stored with every decision)");
    }
    if (!version->is_string() || version->value<std::string>()->empty()) {
      return TypeError(*version, "meta.version", "a non-empty string");
    }
    set_->version_ = *version->value<std::string>();
    if (const toml::node* cs = meta.get("case_sensitive")) {
      if (!cs->is_boolean()) return TypeError(*cs, "meta.case_sensitive", "true or false");
      case_sensitive_ = *cs->value<bool>();
    }
    RE2::Options opts;
    opts.set_encoding(RE2::Options::EncodingUTF8);
    opts.set_case_sensitive(case_sensitive_);
    opts.set_max_mem(options_.max_mem);
    opts.set_never_capture(true);
    opts.set_longest_match(false);
    opts.set_log_errors(false);
    re_options_ = opts;
    set_->re_options_ = opts;
    set_->set_ = std::make_unique<RE2::Set>(opts, RE2::UNANCHORED);
    checker_ = std::make_unique<RE2::Set>(opts, RE2::UNANCHORED);
    return Status::Ok();
  }

  Status ReadLabel(const toml::table& t) {
    EARSHOT_RETURN_IF_ERROR(
        CheckKeys(t, {"name", "category", "threshold", "priority"}, "[[label]]"));
    Label label;
    const toml::node* name = t.get("name");
    if (!name) return Status::InvalidArgument(Where(file_, t) + "[[label]] needs name");
    if (!name->is_string() || name->value<std::string>()->empty()) {
      return TypeError(*name, "label.name", "a non-empty string");
    }
    label.name = *name->value<std::string>();
    if (set_->label_index_.count(label.name)) {
      return Status::InvalidArgument(Where(file_, *name) + "duplicate label " + Quote(label.name));
    }
    if (const toml::node* n = t.get("category")) {
      if (!n->is_string()) return TypeError(*n, "label.category", "a string");
      label.category = *n->value<std::string>();
    }
    if (const toml::node* n = t.get("threshold")) {
      if (!n->is_number() || !std::isfinite(*n->value<double>())) {
        return TypeError(*n, "label.threshold", "a number");
      }
      label.threshold = *n->value<double>();
    }
    if (const toml::node* n = t.get("priority")) {
      if (!n->is_integer() || *n->value<int64_t>() < 0 || *n->value<int64_t>() > 1000) {
        return TypeError(*n, "label.priority", "an integer from 0 to 1000");
      }
      label.priority = static_cast<int>(*n->value<int64_t>());
    }
    set_->label_index_.emplace(label.name, set_->labels_.size());
    set_->labels_.push_back(std::move(label));
    return Status::Ok();
  }

  // A pattern's index in the table, compiling it on first sight.
  Result<int32_t> Intern(const toml::node& n, const std::string& rule_id, std::string_view clause,
                         std::string* text_out) {
    if (!n.is_string()) {
      return Status::InvalidArgument(Where(file_, n) + "rule " + Quote(rule_id) + ": " +
                                     std::string(clause) + " patterns must be strings");
    }
    const std::string& text = n.as_string()->get();
    *text_out = text;
    if (text.empty()) {
      return Status::InvalidArgument(Where(file_, n) + "rule " + Quote(rule_id) + ": empty " +
                                     std::string(clause) + " pattern (it would match everywhere)");
    }
    if (auto it = pattern_index_.find(text); it != pattern_index_.end()) return it->second;
    // Parsing is enough to refuse a bad pattern with RE2's message; a
    // pattern the word index takes is compiled only if ever needed.
    std::string error;
    if (checker_->Add(text, &error) < 0) {
      return Status::InvalidArgument(Where(file_, n) + "rule " + Quote(rule_id) + ": bad " +
                                     std::string(clause) + " pattern " + Quote(text) + ": " +
                                     error);
    }
    const int32_t index = static_cast<int32_t>(set_->patterns_.size());
    std::string why_not;
    using Coverage = internal::WordIndex::Coverage;
    const Coverage coverage =
        options_.word_index
            ? set_->words_->Add(set_->word_base_ + index, text, case_sensitive_, &why_not)
            : Coverage::kNone;
    if (coverage != Coverage::kNone) {
      // Exact: the index finds its matches. Filter: the index finds texts
      // that may hold it, and RE2 looks (as for a cut pattern).
      const bool exact = coverage == Coverage::kExact;
      Pattern pattern(text, &set_->re_options_, exact, exact);
      pattern.char_class = exact && set_->words_->IsCharPattern(set_->word_base_ + index);
      ++set_->word_patterns_;
      set_->patterns_.push_back(std::move(pattern));
      pattern_index_.emplace(text, index);
      return index;
    }
    internal::PatternSplit split = internal::SplitAtGaps(text);
    std::vector<std::vector<int32_t>> conjunctions;
    for (const auto& alternative : split.alternatives) {
      std::vector<int32_t> pieces;
      for (const std::string& piece : alternative) {
        const int32_t p = InternPiece(piece);
        if (p < 0) break;
        pieces.push_back(p);
      }
      if (pieces.size() != alternative.size()) {
        // A piece RE2 would not take alone: use the whole pattern.
        split.whole = true;
        conjunctions.clear();
        break;
      }
      std::sort(pieces.begin(), pieces.end());
      pieces.erase(std::unique(pieces.begin(), pieces.end()), pieces.end());
      conjunctions.push_back(std::move(pieces));
    }
    if (split.whole) {
      const int32_t p = InternPiece(text);
      if (p < 0) {
        return Status::InvalidArgument(Where(file_, n) + "rule " + Quote(rule_id) + ": bad " +
                                       std::string(clause) + " pattern " + Quote(text) + ": " +
                                       piece_error_);
      }
      conjunctions = {{p}};
    }
    for (const auto& pieces : conjunctions) {
      const int32_t c = static_cast<int32_t>(set_->conj_pattern_.size());
      set_->conj_pattern_.push_back(index);
      set_->conj_pieces_.push_back(static_cast<int32_t>(pieces.size()));
      for (int32_t p : pieces) piece_conj_.emplace_back(p, c);
    }
    Pattern pattern(text, &set_->re_options_, split.whole, false);
    pattern.in_set = true;
    if (!pattern.Re().ok()) {
      return Status::InvalidArgument(Where(file_, n) + "rule " + Quote(rule_id) + ": bad " +
                                     std::string(clause) + " pattern " + Quote(text) + ": " +
                                     pattern.Re().error());
    }
    set_->patterns_.push_back(std::move(pattern));
    pattern_index_.emplace(text, index);
    return index;
  }

  // A set entry's index, adding it on first sight; -1 if RE2::Set refuses it
  // (the reason in piece_error_).
  int32_t InternPiece(const std::string& piece) {
    if (auto it = piece_index_.find(piece); it != piece_index_.end()) return it->second;
    const int index = set_->set_->Add(piece, &piece_error_);
    if (index < 0) return -1;
    piece_index_.emplace(piece, index);
    return index;
  }

  Status ReadPatternList(const toml::table& t, std::string_view key, const std::string& rule_id,
                         std::vector<int32_t>* out, std::vector<std::string>* texts) {
    const toml::node* n = t.get(key);
    if (!n) return Status::Ok();
    const toml::array* arr = n->as_array();
    if (!arr) {
      return TypeError(*n, "rule " + Quote(rule_id) + ": " + std::string(key),
                       "an array of pattern strings, e.g. ['\\bwait']");
    }
    if (arr->empty()) {
      return Status::InvalidArgument(Where(file_, *n) + "rule " + Quote(rule_id) + ": " +
                                     std::string(key) + " is empty");
    }
    for (const toml::node& item : *arr) {
      std::string text;
      auto index = Intern(item, rule_id, key, &text);
      if (!index.ok()) return index.status();
      out->push_back(*index);
      texts->push_back(std::move(text));
    }
    return Status::Ok();
  }

  Status ReadNear(const toml::table& t, const std::string& rule_id, CompiledRule* cr, Rule* rule) {
    const toml::node* n = t.get("near");
    if (!n) return Status::Ok();
    const toml::array* arr = n->as_array();
    if (!arr || arr->empty()) {
      return TypeError(*n, "rule " + Quote(rule_id) + ": near",
                       "a non-empty array of { a = '...', b = '...', within = N }");
    }
    for (const toml::node& item : *arr) {
      const toml::table* clause = item.as_table();
      if (!clause) {
        return TypeError(item, "rule " + Quote(rule_id) + ": a near clause",
                         "a table { a = '...', b = '...', within = N }");
      }
      EARSHOT_RETURN_IF_ERROR(
          CheckKeys(*clause, {"a", "b", "within"}, "a near clause of rule " + Quote(rule_id)));
      NearRef ref;
      NearClause text;
      for (std::string_view side : {"a", "b"}) {
        const toml::node* p = clause->get(side);
        if (!p) {
          return Status::InvalidArgument(Where(file_, item) + "rule " + Quote(rule_id) +
                                         ": near clause needs " + std::string(side));
        }
        auto index =
            Intern(*p, rule_id, "near." + std::string(side), side == "a" ? &text.a : &text.b);
        if (!index.ok()) return index.status();
        (side == "a" ? ref.a : ref.b) = *index;
      }
      const toml::node* within = clause->get("within");
      if (!within) {
        return Status::InvalidArgument(Where(file_, item) + "rule " + Quote(rule_id) +
                                       ": near clause needs within (words between a and b)");
      }
      if (!within->is_integer() || *within->value<int64_t>() < 0 ||
          *within->value<int64_t>() > kMaxWithin) {
        return TypeError(*within, "rule " + Quote(rule_id) + ": near.within",
                         "an integer from 0 to " + std::to_string(kMaxWithin));
      }
      ref.within = static_cast<int32_t>(*within->value<int64_t>());
      text.within = ref.within;
      cr->near.push_back(ref);
      rule->near.push_back(std::move(text));
    }
    return Status::Ok();
  }

  Status ReadRule(const toml::table& t) {
    const toml::node* id_node = t.get("id");
    std::string id = id_node && id_node->is_string() ? *id_node->value<std::string>() : "";
    EARSHOT_RETURN_IF_ERROR(CheckKeys(
        t,
        {"id", "label", "weight", "any", "all", "none", "near", "unless_preceded", "within_words"},
        id.empty() ? "[[rule]]" : "rule " + Quote(id)));
    if (!id_node) return Status::InvalidArgument(Where(file_, t) + "[[rule]] needs id");
    if (!id_node->is_string() || !IsRuleId(id)) {
      return TypeError(*id_node, "rule id", "a string of a-z, 0-9, '.', '_' and '-'");
    }
    if (auto it = rule_lines_.find(id); it != rule_lines_.end()) {
      return Status::InvalidArgument(Where(file_, *id_node) + "duplicate rule id " + Quote(id) +
                                     " (first defined at line " + std::to_string(it->second) + ")");
    }
    Rule rule;
    rule.id = id;
    rule.file = file_;
    rule.line = static_cast<int>(t.source().begin.line);
    rule_lines_.emplace(id, rule.line);

    const toml::node* label = t.get("label");
    if (!label)
      return Status::InvalidArgument(Where(file_, t) + "rule " + Quote(id) + " needs label");
    if (!label->is_string() || label->value<std::string>()->empty()) {
      return TypeError(*label, "rule " + Quote(id) + ": label", "a non-empty string");
    }
    rule.label = *label->value<std::string>();
    if (!set_->labels_.empty() && !set_->label_index_.count(rule.label)) {
      return Status::InvalidArgument(Where(file_, *label) + "rule " + Quote(id) + ": label " +
                                     Quote(rule.label) + " is not declared by a [[label]]");
    }
    if (const toml::node* w = t.get("weight")) {
      if (!w->is_number() || !std::isfinite(*w->value<double>())) {
        return TypeError(*w, "rule " + Quote(id) + ": weight", "a number");
      }
      rule.weight = *w->value<double>();
    }

    CompiledRule cr;
    EARSHOT_RETURN_IF_ERROR(ReadPatternList(t, "any", id, &cr.any, &rule.any));
    EARSHOT_RETURN_IF_ERROR(ReadPatternList(t, "all", id, &cr.all, &rule.all));
    EARSHOT_RETURN_IF_ERROR(ReadPatternList(t, "none", id, &cr.none, &rule.none));
    EARSHOT_RETURN_IF_ERROR(ReadNear(t, id, &cr, &rule));
    if (cr.any.empty() && cr.all.empty() && cr.near.empty()) {
      return Status::InvalidArgument(Where(file_, t) + "rule " + Quote(id) +
                                     " needs at least one of any, all, near");
    }

    const toml::node* neg = t.get("unless_preceded");
    const toml::node* within = t.get("within_words");
    if (neg) {
      auto index = Intern(*neg, id, "unless_preceded", &rule.unless_preceded);
      if (!index.ok()) return index.status();
      cr.negation = *index;
      cr.within_words = kDefaultWithinWords;
    }
    if (within) {
      if (!neg) {
        return Status::InvalidArgument(Where(file_, *within) + "rule " + Quote(id) +
                                       ": within_words needs unless_preceded");
      }
      if (!within->is_integer() || *within->value<int64_t>() < 1 ||
          *within->value<int64_t>() > kMaxWithin) {
        return TypeError(*within, "rule " + Quote(id) + ": within_words",
                         "an integer from 1 to " + std::to_string(kMaxWithin));
      }
      cr.within_words = static_cast<int32_t>(*within->value<int64_t>());
    }
    rule.within_words = cr.within_words;
    cr.simple = cr.any.size() == 1 && cr.all.empty() && cr.none.empty() && cr.near.empty() &&
                cr.negation < 0;

    set_->rules_.push_back(std::move(rule));
    set_->compiled_.push_back(std::move(cr));
    return Status::Ok();
  }

  // Sets exact_sums_, decimal_scale_ and the fixed weights and thresholds
  // (CompiledRuleSet::HeldLabels).
  //
  // Why integer sums decide as MatchLabels does: the scorers hold a label
  // when score + 1e-9 >= threshold. With every weight w_i and the threshold
  // T the doubles of decimals d_i / 10^k and t / 10^k (k <= 8), the exact
  // sum D = sum d_i lies on a grid of 10^-k >= 1e-8. The file-order double
  // sum S differs from D / 10^k by at most E = u sum_i (A_i + |w_i|) (u =
  // 2^-53, A_i the sum of |w| of the label's rules up to rule i in the
  // file: one rounding per addition, plus the decimals' own rounding);
  // E + u|T| < 9e-10 is required here. If D >= t, S + 1e-9
  // >= T; if D <= t - 1, S + 1e-9 <= T - 10^-k + E + 1e-9 < T. So the label
  // holds exactly when D >= t (what HeldLabels tests), and its score
  // D / 10^k (one rounding) compares with T + 1e-9 the same way.
  void ChooseDecimalScale() {
    CompiledRuleSet& set = *set_;
    set.exact_sums_ = false;
    std::vector<double> values;
    for (const Rule& rule : set.rules_) values.push_back(rule.weight);
    for (const Label& label : set.labels_) values.push_back(label.threshold);
    for (double v : values) {
      if (!std::isfinite(v) || std::fabs(v) > 1e6) return;
    }
    double scale = 1;
    int k = 0;
    for (; k <= 8; ++k, scale *= 10) {
      const bool exact = std::all_of(values.begin(), values.end(), [&](double v) {
        return static_cast<double>(std::llround(v * scale)) / scale == v;
      });
      if (exact) break;
    }
    if (k > 8) return;
    // Per label, the bound on the file-order sum's rounding: each addition
    // errs by at most u times the partial sum, which is at most the sum of
    // |w| of the label's rules up to that one in the file (for any subset
    // of them), plus each weight's own rounding from its decimal.
    const size_t labels = set.labels_.size();
    std::vector<double> prefix(labels, 0), drift(labels, 0);
    constexpr double kUnit = 0x1p-53;
    for (const CompiledRuleSet::RuleFacts& f : set.facts_) {
      if (f.label < 0) continue;
      prefix[f.label] += std::fabs(f.weight);
      drift[f.label] += kUnit * (prefix[f.label] + std::fabs(f.weight));
    }
    for (size_t l = 0; l < labels; ++l) {
      if (drift[l] * 1.01 + kUnit * std::fabs(set.labels_[l].threshold) >= 9e-10) return;
    }
    for (CompiledRuleSet::RuleFacts& f : set.facts_) f.fixed = std::llround(f.weight * scale);
    set.fixed_threshold_.clear();
    for (const Label& label : set.labels_) {
      set.fixed_threshold_.push_back(std::llround(label.threshold * scale));
    }
    set.decimal_scale_ = scale;
    set.exact_sums_ = true;
  }

  void BuildTriggers() {
    for (const Rule& rule : set_->rules_) {
      auto it = set_->label_index_.find(rule.label);
      CompiledRuleSet::RuleFacts facts;
      facts.weight = rule.weight;
      facts.label = it == set_->label_index_.end() ? -1 : static_cast<int32_t>(it->second);
      set_->facts_.push_back(facts);
    }
    ChooseDecimalScale();
    {
      auto& by_rank = set_->rule_of_rank_;
      by_rank.resize(set_->rules_.size());
      for (size_t r = 0; r < by_rank.size(); ++r) by_rank[r] = static_cast<int32_t>(r);
      const auto& facts = set_->facts_;
      std::stable_sort(by_rank.begin(), by_rank.end(),
                       [&](int32_t a, int32_t b) { return facts[a].weight > facts[b].weight; });
      set_->rank_of_rule_.resize(by_rank.size());
      for (size_t k = 0; k < by_rank.size(); ++k)
        set_->rank_of_rule_[by_rank[k]] = static_cast<int32_t>(k);
    }
    {
      std::map<std::vector<int32_t>, uint32_t> ids;
      for (const CompiledRule& cr : set_->compiled_) {
        std::vector<int32_t> key;
        for (const auto* list : {&cr.any, &cr.all, &cr.none}) {
          key.push_back(static_cast<int32_t>(list->size()));
          key.insert(key.end(), list->begin(), list->end());
        }
        key.push_back(static_cast<int32_t>(cr.near.size()));
        for (const NearRef& n : cr.near) key.insert(key.end(), {n.a, n.b, n.within});
        key.insert(key.end(), {cr.negation, cr.negation < 0 ? 0 : cr.within_words});
        auto [it, fresh] = ids.emplace(std::move(key), static_cast<uint32_t>(ids.size()));
        set_->clauses_of_rule_.push_back(it->second);
      }
      set_->clause_sets_ = ids.size();
    }
    // (pattern, negation, window) -> its rules, in file order.
    std::map<std::tuple<int32_t, int32_t, int32_t>, std::vector<int32_t>> grouped;
    std::vector<bool> in_group(set_->compiled_.size(), false);
    for (size_t r = 0; r < set_->compiled_.size(); ++r) {
      const CompiledRule& cr = set_->compiled_[r];
      const auto& patterns = set_->patterns_;
      if (cr.any.size() == 1 && cr.all.empty() && cr.none.empty() && cr.near.empty() &&
          patterns[cr.any[0]].words && !patterns[cr.any[0]].char_class &&
          (cr.negation < 0 || patterns[cr.negation].words)) {
        grouped[{cr.any[0], cr.negation, cr.negation < 0 ? 0 : cr.within_words}].push_back(
            static_cast<int32_t>(r));
        in_group[r] = true;
      }
    }
    set_->group_offsets_.assign(set_->patterns_.size() + 1, 0);
    for (const auto& [key, rules] : grouped) ++set_->group_offsets_[std::get<0>(key) + 1];
    for (size_t p = 0; p < set_->patterns_.size(); ++p) {
      set_->group_offsets_[p + 1] += set_->group_offsets_[p];
    }
    for (const auto& [key, rules] : grouped) {  // in pattern order
      CompiledRuleSet::RuleGroup g;
      g.negation = std::get<1>(key);
      g.within_words = std::get<2>(key);
      g.rules_begin = static_cast<uint32_t>(set_->group_rules_.size());
      set_->group_rules_.insert(set_->group_rules_.end(), rules.begin(), rules.end());
      g.rules_end = static_cast<uint32_t>(set_->group_rules_.size());
      g.adds_begin = static_cast<uint32_t>(set_->group_adds_.size());
      for (int32_t r : rules) {
        const CompiledRuleSet::RuleFacts& f = set_->facts_[r];
        if (f.label < 0) continue;
        auto& adds = set_->group_adds_;
        auto same = std::find_if(adds.begin() + g.adds_begin, adds.end(),
                                 [&](const auto& a) { return a.label == f.label; });
        if (same == adds.end()) {
          adds.push_back({f.fixed, f.label, 1, set_->rank_of_rule_[r]});
        } else {
          same->fixed += f.fixed;
          ++same->count;
          same->best_rank = std::min(same->best_rank, set_->rank_of_rule_[r]);
        }
      }
      g.adds_end = static_cast<uint32_t>(set_->group_adds_.size());
      set_->groups_.push_back(g);
    }
    for (const CompiledRule& cr : set_->compiled_) {
      auto exact = [&](int32_t p) { return set_->patterns_[p].words; };
      bool quick = !cr.any.empty() && cr.all.empty() && cr.near.empty() &&
                   (cr.negation < 0 || exact(cr.negation));
      for (int32_t p : cr.any) quick = quick && exact(p);
      for (int32_t p : cr.none) quick = quick && exact(p);
      if (!quick) {
        set_->quick_of_rule_.push_back(-1);
        continue;
      }
      QuickRule q;
      auto& list = set_->quick_patterns_;
      q.any_begin = static_cast<uint32_t>(list.size());
      list.insert(list.end(), cr.any.begin(), cr.any.end());
      q.any_end = q.none_begin = static_cast<uint32_t>(list.size());
      list.insert(list.end(), cr.none.begin(), cr.none.end());
      q.none_end = static_cast<uint32_t>(list.size());
      q.negation = cr.negation;
      q.within_words = cr.within_words;
      set_->quick_of_rule_.push_back(static_cast<int32_t>(set_->quick_rules_.size()));
      set_->quick_rules_.push_back(q);
    }
    // Pieces to the conjunctions they complete.
    const size_t pieces = piece_index_.size();
    std::sort(piece_conj_.begin(), piece_conj_.end());
    set_->piece_conj_offsets_.assign(pieces + 1, 0);
    for (const auto& [piece, conj] : piece_conj_) ++set_->piece_conj_offsets_[piece + 1];
    for (size_t i = 0; i < pieces; ++i) {
      set_->piece_conj_offsets_[i + 1] += set_->piece_conj_offsets_[i];
    }
    for (const auto& [piece, conj] : piece_conj_) set_->piece_conj_.push_back(conj);

    const size_t np = set_->patterns_.size();
    std::vector<std::vector<int32_t>> by_pattern(np);
    for (size_t r = 0; r < set_->compiled_.size(); ++r) {
      const CompiledRule& cr = set_->compiled_[r];
      if (in_group[r]) {
        continue;
      } else if (!cr.any.empty()) {
        for (int32_t p : cr.any) by_pattern[p].push_back(static_cast<int32_t>(r));
      } else if (!cr.all.empty()) {
        by_pattern[cr.all.front()].push_back(static_cast<int32_t>(r));
      } else {
        by_pattern[cr.near.front().a].push_back(static_cast<int32_t>(r));
      }
    }
    set_->trigger_offsets_.assign(np + 1, 0);
    for (size_t p = 0; p < np; ++p) {
      auto& rules = by_pattern[p];
      rules.erase(std::unique(rules.begin(), rules.end()), rules.end());
      set_->trigger_offsets_[p + 1] =
          set_->trigger_offsets_[p] + static_cast<uint32_t>(rules.size());
      set_->trigger_rules_.insert(set_->trigger_rules_.end(), rules.begin(), rules.end());
    }
  }

  std::string file_;
  RuleSetOptions options_;
  std::shared_ptr<internal::WordIndex> shared_;
  bool own_index_ = true;
  CompiledRuleSet* set_ = nullptr;
  bool case_sensitive_ = false;
  RE2::Options re_options_;
  // Parses patterns to check them (never compiled).
  std::unique_ptr<RE2::Set> checker_;
  std::unordered_map<std::string, int32_t> pattern_index_;
  std::unordered_map<std::string, int32_t> piece_index_;
  std::string piece_error_;
  std::vector<std::pair<int32_t, int32_t>> piece_conj_;  // (piece, conjunction)
  std::unordered_map<std::string, int> rule_lines_;
};

}  // namespace

Result<std::shared_ptr<const RuleSet>> RuleSet::LoadText(std::string_view toml_text,
                                                         std::string_view file_name,
                                                         const RuleSetOptions& options) {
  return Loader(file_name, options).Load(toml_text);
}

namespace {

Result<std::string> ReadRuleFile(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Status::NotFound(file.string() + ": cannot open rule file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::IoError(file.string() + ": cannot read rule file");
  return text.str();
}

}  // namespace

Result<std::shared_ptr<const RuleSet>> RuleSet::LoadFile(const std::filesystem::path& file,
                                                         const RuleSetOptions& options) {
  auto text = ReadRuleFile(file);
  if (!text.ok()) return text.status();
  return LoadText(*text, file.string(), options);
}

Result<std::vector<std::shared_ptr<const RuleSet>>> RuleSet::LoadFiles(
    const std::vector<std::filesystem::path>& files, const RuleSetOptions& options) {
  auto index = std::make_shared<internal::WordIndex>();
  std::vector<std::shared_ptr<const RuleSet>> sets;
  for (const auto& file : files) {
    auto text = ReadRuleFile(file);
    if (!text.ok()) return text.status();
    auto set = Loader(file.string(), options, index).Load(*text);
    if (!set.ok()) return set.status();
    sets.push_back(std::move(set).value());
  }
  index->Build();
  return sets;
}

namespace internal {
bool InRe2Set(const RuleSet& rules, std::string_view pattern) {
  const auto* compiled = dynamic_cast<const CompiledRuleSet*>(&rules);
  return compiled && compiled->InRe2Set(pattern);
}
}  // namespace internal

std::string Explain(const RuleSet& rules, std::string_view text) {
  const auto* compiled = dynamic_cast<const CompiledRuleSet*>(&rules);
  if (!compiled) return "explain: this rule set was not built by RuleSet::Load*\n";
  return compiled->Explain(text);
}

}  // namespace earshot::rules
