// RuleSet: TOML rule files compiled into one RE2::Set per file plus one RE2
// per distinct pattern.
//
// Matching is two-phase. The RE2::Set pass tells which patterns may occur
// anywhere in the text (one DFA scan for all of them); a text that hits no
// rule's trigger pattern costs nothing more. Only the rules a hit pattern can
// trigger are then evaluated, with the individual RE2s, for spans, negation
// and proximity, so per-text work beyond the scan is proportional to hits.
//
// The set holds the gap-free pieces of each pattern (pattern_split.h): a
// pattern "may occur" when all pieces of one of its alternatives occur, and
// its own RE2 then confirms it. Patterns that were not cut are exact.
#include "classifiers/rules/rule_set.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <toml++/toml.h>
#include <algorithm>
#include <climits>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <unordered_map>

#include "classifiers/rules/lint.h"
#include "classifiers/rules/pattern_split.h"

namespace earshot::rules {
namespace {

// Bounds the per-pattern match list on long texts (near, negation): past a
// few thousand occurrences more positions change no decision.
constexpr int kMaxMatchesPerPattern = 4096;
constexpr int kDefaultWithinWords = 3;
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
inline bool IsWordByte(unsigned char c) {
  return c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '\'';
}

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
};

struct Pattern {
  std::string text;
  std::unique_ptr<RE2> re;
  // The set entry is the pattern itself, so a set hit is a match; otherwise
  // a hit only says that the pattern's pieces occur.
  bool exact = true;
};

// Per-thread working memory for Match(): reused across calls so the hot path
// allocates nothing once warm.
struct Scratch {
  std::vector<int> pieces;           // set entries found by the set pass
  std::vector<uint32_t> conj_stamp;  // conj_stamp[c] == stamp: conj_found[c] is live
  std::vector<int32_t> conj_found;   // pieces of conjunction c found so far
  std::vector<int> hits;             // patterns that may occur, unordered
  std::vector<uint32_t> hit_stamp;   // hit_stamp[p] == stamp: p is in hits
  uint32_t stamp = 0;
  std::vector<int32_t> candidates;   // rules those hits can trigger, unordered
  std::vector<uint32_t> rule_stamp;  // rule_stamp[r] == stamp: r is a candidate
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
  std::vector<Interval> near_a;
  std::vector<Interval> near_b;

  // Starts a new hit list for a set of `patterns` patterns.
  void NewHits(size_t patterns) {
    hits.clear();
    if (hit_stamp.size() < patterns) hit_stamp.resize(patterns, 0);
    if (++stamp == 0) {
      std::fill(hit_stamp.begin(), hit_stamp.end(), 0);
      std::fill(rule_stamp.begin(), rule_stamp.end(), 0);
      std::fill(conj_stamp.begin(), conj_stamp.end(), 0);
      stamp = 1;
    }
  }
  void AddHit(int p) {
    if (hit_stamp[p] == stamp) return;
    hit_stamp[p] = stamp;
    hits.push_back(p);
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
    candidates.clear();
    if (rule_stamp.size() < rules) rule_stamp.resize(rules, 0);
  }
  void AddCandidate(int32_t r) {
    if (rule_stamp[r] == stamp) return;
    rule_stamp[r] = stamp;
    candidates.push_back(r);
  }

  void Reset() {
    entries.clear();
    spans.clear();
    words.clear();
    words_ready = false;
  }
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
  Evaluator(const std::vector<Pattern>& patterns, std::string_view text, Scratch& s)
      : patterns_(patterns), text_(text), s_(s) {}

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
  bool Negated(Interval m, const CompiledRule& r) {
    // Non-overlapping matches in text order: ends increase, so the last one
    // ending before m is the closest, and none after it need be found.
    Interval n, closest;
    bool found = false;
    for (uint32_t i = 0; MatchAt(r.negation, i, &n) && n.end <= m.start; ++i) {
      closest = n;
      found = true;
    }
    return found && WordsBetween(closest.end, m.start) < r.within_words;
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
    for (size_t e = 0; e < s_.entries.size(); ++e)
      if (s_.entries[e].pattern == p) return e;
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
    const RE2& re = *patterns_[entry->pattern].re;
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

  void Match(std::string_view text, std::vector<RuleMatch>* out) const override {
    stats_.texts.fetch_add(1, std::memory_order_relaxed);
    Scratch& s = ThreadScratch();
    FindPatterns(text, &s);
    if (s.hits.empty()) return;
    s.NewCandidates(rules_.size());
    for (int p : s.hits) {
      for (uint32_t k = trigger_offsets_[p]; k < trigger_offsets_[p + 1]; ++k) {
        s.AddCandidate(trigger_rules_[k]);
      }
    }
    if (s.candidates.empty()) return;
    s.Reset();
    Evaluator ev(patterns_, text, s);
    const size_t first = out->size();
    for (int32_t r : s.candidates) {
      Interval span;
      if (ev.Evaluate(compiled_[r], &span)) out->push_back({&rules_[r], {span.start, span.end}});
    }
    // File order: rules_ is in file order, so by address.
    std::sort(out->begin() + first, out->end(),
              [](const RuleMatch& a, const RuleMatch& b) { return a.rule < b.rule; });
  }

  std::string Explain(std::string_view text) const;

 private:
  friend class Loader;

  // s->hits = the patterns that may occur in text. The set pass; on any
  // RE2::Set failure, pattern by pattern (same answer, exact).
  void FindPatterns(std::string_view text, Scratch* s) const {
    s->NewHits(patterns_.size());
    RE2::Set::ErrorInfo info{RE2::Set::kNoError};
    if (!set_->Match(text, &s->pieces, &info)) {
      if (info.kind == RE2::Set::kNoError) return;
      if (info.kind == RE2::Set::kOutOfMemory) {
        stats_.dfa_out_of_memory.fetch_add(1, std::memory_order_relaxed);
      }
      stats_.fallbacks.fetch_add(1, std::memory_order_relaxed);
      MatchEachPattern(text, s);
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

  void MatchEachPattern(std::string_view text, Scratch* s) const {
    s->NewHits(patterns_.size());
    for (size_t p = 0; p < patterns_.size(); ++p) {
      if (patterns_[p].re->Match(text, 0, text.size(), RE2::UNANCHORED, nullptr, 0)) {
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
  std::vector<uint32_t> trigger_offsets_;
  std::vector<int32_t> trigger_rules_;
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
  Evaluator ev(patterns_, text, s);
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
  Loader(std::string_view file, const RuleSetOptions& options) : file_(file), options_(options) {}

  Result<std::shared_ptr<const RuleSet>> Load(std::string_view toml_text) {
    toml::table root;
    try {
      root = toml::parse(toml_text, std::string_view(file_));
    } catch (const toml::parse_error& e) {
      return Status::InvalidArgument(Where(file_, e.source().begin) + std::string(e.description()));
    }
    auto set = std::make_shared<CompiledRuleSet>();
    set_ = set.get();
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

    if (!set->set_->Compile()) {
      return Status::ResourceExhausted(
          file_ + ": the RE2::Set of " + std::to_string(piece_index_.size()) +
          " patterns does not fit max_mem of " + std::to_string(options_.max_mem) + " bytes");
    }
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
    set_->set_ = std::make_unique<RE2::Set>(opts, RE2::UNANCHORED);
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
    auto re = std::make_unique<RE2>(text, re_options_);
    if (!re->ok()) {
      return Status::InvalidArgument(Where(file_, n) + "rule " + Quote(rule_id) + ": bad " +
                                     std::string(clause) + " pattern " + Quote(text) + ": " +
                                     re->error());
    }
    const int32_t index = static_cast<int32_t>(set_->patterns_.size());
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
    set_->patterns_.push_back({text, std::move(re), split.whole});
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

    set_->rules_.push_back(std::move(rule));
    set_->compiled_.push_back(std::move(cr));
    return Status::Ok();
  }

  void BuildTriggers() {
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
      if (!cr.any.empty()) {
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
  CompiledRuleSet* set_ = nullptr;
  bool case_sensitive_ = false;
  RE2::Options re_options_;
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

Result<std::shared_ptr<const RuleSet>> RuleSet::LoadFile(const std::filesystem::path& file,
                                                         const RuleSetOptions& options) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Status::NotFound(file.string() + ": cannot open rule file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::IoError(file.string() + ": cannot read rule file");
  return LoadText(text.str(), file.string(), options);
}

std::string Explain(const RuleSet& rules, std::string_view text) {
  const auto* compiled = dynamic_cast<const CompiledRuleSet*>(&rules);
  if (!compiled) return "explain: this rule set was not built by RuleSet::Load*\n";
  return compiled->Explain(text);
}

}  // namespace earshot::rules
