// Internal to classifiers/rules: matching rule patterns word by word.
//
// Why: the derived topic and sentiment files hold thousands of patterns such
// as `\bkind\b` and `\bwere\W{1,3}very\b`. One RE2::Set over all of them is
// a DFA whose states are sets of thousands of NFA threads; on ordinary text
// it keeps running out of cache and rebuilding, a few thousand texts per
// second. But almost every such pattern only says which words occur, in
// which order, with what between them. So a text is split once into the runs
// of RE2 word characters that `\b` delimits (tokens), each token and each
// pair of adjacent tokens is looked up in a hash table of the words and word
// pairs the patterns are anchored on, and a pattern is checked only where
// its anchor occurs.
//
// Exactness: a pattern is taken only when it is in a subset of RE2 syntax
// whose meaning on tokens is the same as RE2's (the subset is described in
// word_index.cc); every other pattern stays with RE2, or is filtered (a
// word every match needs is looked up; RE2 confirms). For a text, WordIndex::FindAll reports
// every (start, end) at which a pattern matches; RE2's own answer (the
// leftmost match, then the next one after it, ...) is derived from those by
// the caller, which asks RE2 only when two matches start at the same place.
// A text whose bytes could make the token view differ from RE2 (invalid
// UTF-8; U+212A KELVIN SIGN and U+017F LONG S, which case-insensitive RE2
// matches as `k` and `s` inside words) is not usable: the caller matches it
// with RE2 alone.
//
// Thread-safety: a built WordIndex is immutable and may be read by any
// number of threads; TokenizedText and the output vector are per call.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace re2 {
class RE2;
}

namespace earshot::rules::internal {

// A maximal run of RE2 word characters [0-9A-Za-z_]: what `\b` delimits.
struct Token {
  int32_t start = 0;  // byte offsets
  int32_t end = 0;
  uint64_t hash = 0;  // of the bytes with ASCII letters lower-cased
};

// A text split into tokens once; any number of word indexes can read it.
class TokenizedText {
 public:
  // `text` must outlive this object's use (it is read, not kept). A text
  // with the same bytes as the previous one is not split again.
  void Reset(std::string_view text);

  std::string_view text() const { return text_; }
  // The text with ASCII letters lower-cased, byte for byte.
  std::string_view folded() const { return {folded_.data(), text_.size()}; }
  const std::vector<Token>& tokens() const { return tokens_; }
  // False: the text must be matched with RE2 (see the file comment).
  bool usable() const { return usable_; }
  // Every byte is ASCII (a character is a byte).
  bool ascii() const { return ascii_; }
  // Changes whenever Reset reads different bytes.
  uint64_t generation() const { return generation_; }

 private:
  std::string_view text_;
  std::string copy_;  // the bytes tokenized, to know a text seen again
  std::string folded_;
  std::vector<Token> tokens_;
  bool usable_ = true;
  bool ascii_ = true;
  uint64_t generation_ = 0;
};

// A match of one pattern.
struct Occurrence {
  int32_t pattern = 0;
  int32_t start = 0;
  int32_t end = 0;
};

// A set of code points, for the classes patterns use (`\W`, `\s`, `.`, ...).
struct CharSet {
  uint64_t ascii[2] = {0, 0};   // bit c: ASCII code point c is a member
  bool non_ascii = false;       // every code point >= 0x80 is a member
  std::vector<uint32_t> extra;  // else these code points >= 0x80 are
  bool Contains(uint32_t cp) const;
};

// RE2's successive matches of one pattern — the leftmost, then the leftmost
// from where it ended, and so on, at most `max` — derived from every place
// the pattern matches ([first, last): one pattern's occurrences, any order,
// sorted in place). Where several matches start at the same place, `re` (the
// pattern's own RE2) says which one RE2 takes. Appends to *out.
void Re2Sequence(Occurrence* first, Occurrence* last, const re2::RE2& re, std::string_view text,
                 size_t max, std::vector<Occurrence>* out);

struct WordProgram;

class WordIndex {
 public:
  WordIndex();
  ~WordIndex();
  WordIndex(WordIndex&&) noexcept;
  WordIndex& operator=(WordIndex&&) noexcept;

  enum class Coverage {
    kNone,    // outside the subset (reason in *why_not): RE2 alone
    kExact,   // FindAll reports every match
    kFilter,  // FindAll reports (in `maybe`) texts holding a word every match
              // needs; RE2 must confirm, as for FilteredRE2's atoms
  };

  // Compiles `pattern` (valid RE2 syntax) for word matching as pattern
  // number `id`. The same pattern added again under another id (another
  // rule file sharing the index) is matched once and reported under both.
  Coverage Add(int32_t id, std::string_view pattern, bool case_sensitive, std::string* why_not);

  // After the last Add, before the first FindAll.
  void Build();

  // Appends to *out every match of every exact pattern (as whole-pattern
  // matches: all (start, end) such that the pattern matches exactly
  // text[start, end) in its context), in no particular order and possibly
  // repeated; a pattern that is a single character class (such as `\S`)
  // reports only its first match, NextCharMatch gives the others. Appends to
  // *maybe the filter patterns whose needed word occurs (possibly repeated).
  // `text` must be usable().
  void FindAll(const TokenizedText& text, std::vector<Occurrence>* out,
               std::vector<int32_t>* maybe) const;

  // For a single-class pattern (IsCharPattern): the first match starting at
  // or after byte `from`, or false.
  bool NextCharMatch(int32_t id, const TokenizedText& text, int32_t from, int32_t* start,
                     int32_t* end) const;
  bool IsCharPattern(int32_t id) const;

  size_t patterns() const;  // how many were added
  // One more than the largest id added or reserved (0 when none): where
  // another rule set sharing the index starts numbering.
  size_t ids() const;
  void ReserveIds(size_t ids);
  // Unique per built index in the process (not reused after destruction):
  // identifies whose results a cache holds.
  uint64_t serial() const;
  size_t programs() const;  // word programs they became
  // Sizes of the built index, for benchmarks and tuning.
  std::string Describe() const;

  struct Impl;  // defined in word_index.cc

 private:
  Coverage AddNew(int32_t id, std::string_view pattern, bool fold, std::string* why_not);
  std::unique_ptr<Impl> impl_;
};

}  // namespace earshot::rules::internal
