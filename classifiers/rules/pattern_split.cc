#include "classifiers/rules/pattern_split.h"

#include <algorithm>

namespace earshot::rules::internal {
namespace {

constexpr int kUnbounded = -1;
// {m,n} with n - m above this is a gap: each count is a DFA state.
constexpr int kMaxCountedRange = 3;

enum class ItemKind {
  kLiteral,  // a character, an escape for one, \Q...\E
  kClass,    // [a-z], \d, \w, \s, \pL: a bounded alphabet
  kBroad,    // ., [^...], \S, \W, \D, \C: nearly any character
  kGroup,    // (...), (?:...), (?P<n>...)
  kAssert,   // ^ $ \b \B \A \z
  kFlags,    // (?i) and friends
  kBar,      // |
};

struct Item {
  size_t begin = 0;
  size_t end = 0;  // past the quantifier, if any
  ItemKind kind = ItemKind::kLiteral;
  bool quantified = false;
  int min = 1;
  int max = 1;
};

bool IsGap(const Item& item) {
  if (!item.quantified) return false;
  if (item.kind == ItemKind::kAssert || item.kind == ItemKind::kFlags ||
      item.kind == ItemKind::kBar) {
    return false;
  }
  if (item.max == kUnbounded) {
    return item.kind == ItemKind::kBroad || item.kind == ItemKind::kGroup ||
           item.min > kMaxCountedRange;
  }
  return item.max - item.min > kMaxCountedRange;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool IsContinuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// Reads RE2 syntax far enough to know item boundaries, kinds and
// quantifiers; validity is RE2's business (patterns are compiled first).
class Scanner {
 public:
  explicit Scanner(std::string_view s) : s_(s) {}

  bool ok() const { return ok_; }
  bool nested_gap() const { return nested_gap_; }

  // Items up to an unmatched ')' (left for the caller) or the end.
  std::vector<Item> Sequence(int depth) {
    std::vector<Item> items;
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (c == ')') {
        if (depth > 0) return items;
        ok_ = false;
        ++i_;
        continue;
      }
      Item item;
      item.begin = i_;
      if (c == '|') {
        item.kind = ItemKind::kBar;
        item.end = ++i_;
        items.push_back(item);
        continue;
      }
      if (c == '(') {
        if (FlagGroup()) {
          item.kind = ItemKind::kFlags;
        } else {
          ++i_;
          for (const Item& inner : Sequence(depth + 1))
            if (IsGap(inner)) nested_gap_ = true;
          if (i_ < s_.size() && s_[i_] == ')') {
            ++i_;
          } else {
            ok_ = false;
          }
          item.kind = ItemKind::kGroup;
        }
      } else if (c == '[') {
        item.kind = i_ + 1 < s_.size() && s_[i_ + 1] == '^' ? ItemKind::kBroad : ItemKind::kClass;
        SkipClass();
      } else if (c == '\\') {
        item.kind = EscapeKind(i_ + 1 < s_.size() ? s_[i_ + 1] : '\0');
        SkipEscape();
      } else if (c == '.') {
        item.kind = ItemKind::kBroad;
        ++i_;
      } else if (c == '^' || c == '$') {
        item.kind = ItemKind::kAssert;
        ++i_;
      } else {
        item.kind = ItemKind::kLiteral;
        ++i_;
        while (i_ < s_.size() && IsContinuation(s_[i_])) ++i_;
      }
      if (item.kind != ItemKind::kFlags) Quantifier(&item);
      item.end = i_;
      items.push_back(item);
    }
    return items;
  }

 private:
  static ItemKind EscapeKind(char e) {
    switch (e) {
      case 'b':
      case 'B':
      case 'A':
      case 'z':
        return ItemKind::kAssert;
      case 'S':
      case 'W':
      case 'D':
      case 'C':
        return ItemKind::kBroad;
      case 'd':
      case 's':
      case 'w':
      case 'p':
      case 'P':
        return ItemKind::kClass;
      default:
        return ItemKind::kLiteral;
    }
  }

  // (?flags) alone, e.g. (?i) or (?-s); consumed when found.
  bool FlagGroup() {
    if (s_.compare(i_, 2, "(?") != 0) return false;
    size_t j = i_ + 2;
    while (j < s_.size() &&
           ((s_[j] >= 'a' && s_[j] <= 'z') || (s_[j] >= 'A' && s_[j] <= 'Z') || s_[j] == '-')) {
      ++j;
    }
    if (j >= s_.size() || s_[j] != ')') return false;
    i_ = j + 1;
    return true;
  }

  void SkipEscape() {
    ++i_;  // the backslash
    if (i_ >= s_.size()) return;
    const char e = s_[i_];
    if (e == 'Q') {
      size_t end = s_.find("\\E", i_ + 1);
      i_ = end == std::string_view::npos ? s_.size() : end + 2;
      return;
    }
    if ((e == 'x' || e == 'p' || e == 'P') && i_ + 1 < s_.size() && s_[i_ + 1] == '{') {
      size_t end = s_.find('}', i_ + 2);
      i_ = end == std::string_view::npos ? s_.size() : end + 1;
      return;
    }
    if (e == 'x') {
      ++i_;
      for (int k = 0; k < 2 && i_ < s_.size() && IsHex(s_[i_]); ++k) ++i_;
      return;
    }
    if (e == 'p' || e == 'P') {
      i_ = std::min(s_.size(), i_ + 2);
      return;
    }
    if (e >= '0' && e <= '7') {
      for (int k = 0; k < 3 && i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '7'; ++k) ++i_;
      return;
    }
    ++i_;
    while (i_ < s_.size() && IsContinuation(s_[i_])) ++i_;
  }

  void SkipClass() {
    ++i_;  // [
    if (i_ < s_.size() && s_[i_] == '^') ++i_;
    if (i_ < s_.size() && s_[i_] == ']') ++i_;  // a literal ] first
    while (i_ < s_.size() && s_[i_] != ']') {
      if (s_[i_] == '\\') {
        SkipEscape();
      } else if (s_.compare(i_, 2, "[:") == 0) {
        size_t end = s_.find(":]", i_ + 2);
        i_ = end == std::string_view::npos ? s_.size() : end + 2;
      } else {
        ++i_;
      }
    }
    if (i_ < s_.size()) {
      ++i_;
    } else {
      ok_ = false;
    }
  }

  // *, +, ?, {n}, {n,}, {n,m}, each optionally lazy.
  void Quantifier(Item* item) {
    if (i_ >= s_.size()) return;
    const char c = s_[i_];
    int min = 0, max = 0;
    if (c == '*') {
      min = 0, max = kUnbounded, ++i_;
    } else if (c == '+') {
      min = 1, max = kUnbounded, ++i_;
    } else if (c == '?') {
      min = 0, max = 1, ++i_;
    } else if (c == '{') {
      size_t j = i_ + 1;
      auto number = [&](int* out) {
        if (j >= s_.size() || !IsDigit(s_[j])) return false;
        int v = 0;
        while (j < s_.size() && IsDigit(s_[j])) v = std::min(100000, v * 10 + (s_[j++] - '0'));
        *out = v;
        return true;
      };
      if (!number(&min)) return;  // not a repetition: RE2 reads '{' literally
      max = min;
      if (j < s_.size() && s_[j] == ',') {
        ++j;
        if (!number(&max)) max = kUnbounded;
      }
      if (j >= s_.size() || s_[j] != '}') return;
      i_ = j + 1;
    } else {
      return;
    }
    if (i_ < s_.size() && s_[i_] == '?') ++i_;  // lazy
    item->quantified = true;
    item->min = min;
    item->max = max;
  }

  std::string_view s_;
  size_t i_ = 0;
  bool ok_ = true;
  bool nested_gap_ = false;
};

}  // namespace

PatternSplit SplitAtGaps(std::string_view pattern) {
  PatternSplit out;
  out.alternatives = {{std::string(pattern)}};
  Scanner scanner(pattern);
  const std::vector<Item> items = scanner.Sequence(0);
  out.gap_kept = scanner.nested_gap();
  const bool top_gap = std::any_of(items.begin(), items.end(), IsGap);
  if (!scanner.ok() || !top_gap) return out;
  auto keep_whole = [&] {
    out.gap_kept = true;
    return out;
  };

  // Leading flags hold for the whole pattern, so every piece carries them.
  size_t k = 0;
  std::string prefix;
  while (k < items.size() && items[k].kind == ItemKind::kFlags) {
    prefix += pattern.substr(items[k].begin, items[k].end - items[k].begin);
    ++k;
  }
  for (size_t j = k; j < items.size(); ++j) {
    if (items[j].kind == ItemKind::kFlags) return keep_whole();
  }

  std::vector<std::vector<std::string>> alternatives;
  std::vector<std::string> pieces;
  size_t run_begin = std::string_view::npos, run_end = 0;
  bool run_has_content = false;
  auto flush = [&] {
    if (run_begin != std::string_view::npos && run_has_content) {
      pieces.push_back(prefix + std::string(pattern.substr(run_begin, run_end - run_begin)));
    }
    run_begin = std::string_view::npos;
    run_has_content = false;
  };
  for (size_t j = k; j < items.size(); ++j) {
    const Item& item = items[j];
    if (item.kind == ItemKind::kBar) {
      flush();
      if (pieces.empty()) return keep_whole();
      alternatives.push_back(std::move(pieces));
      pieces.clear();
      continue;
    }
    if (IsGap(item)) {
      flush();
      continue;
    }
    if (run_begin == std::string_view::npos) run_begin = item.begin;
    run_end = item.end;
    if (item.kind != ItemKind::kAssert) run_has_content = true;
  }
  flush();
  if (pieces.empty()) return keep_whole();
  alternatives.push_back(std::move(pieces));
  out.alternatives = std::move(alternatives);
  out.whole = false;
  return out;
}

}  // namespace earshot::rules::internal
