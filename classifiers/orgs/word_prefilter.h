// WordPrefilter: a quick "can any organisation pattern match here?" test run
// before the RE2::Set. Every pattern is a sequence of words, so it cannot
// match a text that lacks one of its words; each pattern gives one word (its
// rarest-looking plain word) and a text is passed on only if it contains one
// of them. Most posts name no organisation, and for them this scan replaces
// the DFA scan, whose states for thousands of names do not fit in the CPU
// cache.
//
// The scan finds word boundaries with bit masks (64 bytes at a time, SSE2
// where available, no branch per byte), drops most words with an 8 KB bit
// set indexed by their length and first, second and last letters, and looks
// the rest up by a hash of their first and last eight bytes and their length
// in an open-addressing table of fingerprints.
//
// Exact in one direction: MayMatch() is true for every text some pattern
// matches (words compared lower-cased; an apostrophe in the text splits a
// word, and both the pieces and the joined word are required forms); it may
// also be true when none does. Immutable after Build(); const methods
// thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace earshot::orgs {

class WordPrefilter {
 public:
  // A word form (lower case, no apostrophes) whose presence lets a text
  // through. With no words added, nothing passes.
  void Add(std::string_view word);
  // A pattern with no usable word: every text must be passed on.
  void AddAlways() { always_ = true; }
  void Build();

  bool MayMatch(std::string_view text) const;
  size_t size() const { return count_; }

  // The word of `variant` (a normalised variant, see gazetteer.h) to
  // require, in each spelling a text may use ("addenbrookes" ->
  // "addenbrookes", "addenbrooke"; "RVI" -> "rvi", "r" for "R.V.I.").
  // Empty when no word is safe to require.
  static std::vector<std::string> RequiredForms(std::string_view variant);

 private:
  bool Contains(uint64_t hash) const;
  // `word` has kPad readable bytes either side (see the .cc).
  bool Check(const unsigned char* word, size_t len) const;

  std::vector<std::string> words_;  // until Build()
  std::vector<uint64_t> table_;     // fingerprints; 0 = empty
  std::vector<uint64_t> quick_;     // 2^16 bits: a word may be in table_
  uint64_t mask_ = 0;
  size_t count_ = 0;
  bool always_ = false;
};

}  // namespace earshot::orgs
