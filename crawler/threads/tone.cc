#include "crawler/threads/tone.h"

#include <re2/re2.h>

#include <toml++/toml.h>
#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>

#include "classifiers/redact/redactor.h"

namespace earshot {

struct ToneRulesData {
  struct Boilerplate {
    std::string id;
    std::string hint;
    std::unique_ptr<RE2> pattern;
  };
  std::vector<Boilerplate> boilerplate;
};

ToneRules::ToneRules() : data_(std::make_unique<ToneRulesData>()) {}
ToneRules::~ToneRules() = default;
ToneRules::ToneRules(ToneRules&&) noexcept = default;
ToneRules& ToneRules::operator=(ToneRules&&) noexcept = default;
size_t ToneRules::size() const { return data_->boilerplate.size(); }

namespace {

std::string Where(std::string_view file, const toml::source_position& p) {
  return std::string(file) + ":" + std::to_string(p.line) + ":" + std::to_string(p.column) + ": ";
}

// Lower-case ASCII words (letters and digits); other bytes separate words.
std::vector<std::string> Words(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || u >= 0x80) {
      word += static_cast<char>(std::tolower(u));
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

}  // namespace

Result<ToneRules> ParseToneRules(std::string_view text, std::string_view file_name) {
  toml::table root;
  try {
    root = toml::parse(text, file_name);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(Where(file_name, e.source().begin) +
                                   std::string(e.description()));
  }
  ToneRules rules;
  for (const auto& [key, node] : root) {
    if (key.str() != "boilerplate") {
      return Status::InvalidArgument(Where(file_name, key.source().begin) + "unknown key \"" +
                                     std::string(key.str()) + "\" (known: [[boilerplate]])");
    }
  }
  const toml::node* list = root.get("boilerplate");
  if (list == nullptr) return rules;
  const toml::array* tables = list->as_array();
  if (tables == nullptr || !tables->is_array_of_tables()) {
    return Status::InvalidArgument(Where(file_name, list->source().begin) +
                                   "boilerplate must be written as [[boilerplate]] tables");
  }
  std::set<std::string> ids;
  for (const toml::node& item : *tables) {
    const toml::table& table = *item.as_table();
    const std::string at = Where(file_name, table.source().begin);
    ToneRulesData::Boilerplate entry;
    std::string pattern;
    for (const auto& [key, value] : table) {
      const std::string name(key.str());
      std::string* out = name == "id"        ? &entry.id
                         : name == "pattern" ? &pattern
                         : name == "hint"    ? &entry.hint
                                             : nullptr;
      if (out == nullptr) {
        return Status::InvalidArgument(Where(file_name, key.source().begin) + "unknown key \"" +
                                       name + "\" in [[boilerplate]] (known: id, pattern, hint)");
      }
      if (!value.is_string()) {
        return Status::InvalidArgument(Where(file_name, value.source().begin) + "[[boilerplate]]." +
                                       name + " must be a string");
      }
      *out = value.as_string()->get();
    }
    if (entry.id.empty() || pattern.empty() || entry.hint.empty()) {
      return Status::InvalidArgument(at + "[[boilerplate]] needs id, pattern and hint");
    }
    if (!ids.insert(entry.id).second) {
      return Status::InvalidArgument(at + "[[boilerplate]] id \"" + entry.id + "\" is used twice");
    }
    RE2::Options options;
    options.set_case_sensitive(false);
    options.set_log_errors(false);
    entry.pattern = std::make_unique<RE2>(pattern, options);
    if (!entry.pattern->ok()) {
      return Status::InvalidArgument(Where(file_name, table.get("pattern")->source().begin) +
                                     "[[boilerplate]] \"" + entry.id +
                                     "\": bad pattern: " + entry.pattern->error());
    }
    rules.data_->boilerplate.push_back(std::move(entry));
  }
  return rules;
}

Result<ToneRules> LoadToneRules(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read tone rules " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return ParseToneRules(text.str(), path);
}

bool NearIdentical(std::string_view a, std::string_view b) {
  const std::vector<std::string> wa = Words(a);
  const std::vector<std::string> wb = Words(b);
  if (wa.empty() || wb.empty()) return false;
  if (wa == wb) return true;
  if (wa.size() < 6 || wb.size() < 6) return false;
  const std::set<std::string> sa(wa.begin(), wa.end());
  const std::set<std::string> sb(wb.begin(), wb.end());
  size_t shared = 0;
  for (const std::string& w : sa) shared += sb.count(w);
  const size_t all = sa.size() + sb.size() - shared;
  return shared * 10 >= all * 9;
}

std::vector<ToneHint> ToneHints(const ToneRules& rules, std::string_view draft,
                                const std::vector<EarlierReply>& earlier) {
  std::vector<ToneHint> hints;
  for (const ToneRulesData::Boilerplate& entry : rules.data().boilerplate) {
    re2::StringPiece input(draft.data(), draft.size());
    re2::StringPiece match;
    size_t from = 0;
    while (from <= draft.size() &&
           entry.pattern->Match(input, from, draft.size(), RE2::UNANCHORED, &match, 1)) {
      ToneHint hint;
      hint.kind = "boilerplate";
      hint.rule = entry.id;
      hint.message = entry.hint;
      hint.start = static_cast<int32_t>(match.data() - draft.data());
      hint.end = static_cast<int32_t>(hint.start + match.size());
      hints.push_back(std::move(hint));
      from = static_cast<size_t>(hints.back().end) + (match.empty() ? 1 : 0);
    }
  }
  for (const EarlierReply& reply : earlier) {
    if (!NearIdentical(draft, reply.body)) continue;
    ToneHint hint;
    hint.kind = "repeat";
    hint.rule = "reply #" + std::to_string(reply.id);
    hint.message = "the same words as an earlier reply (#" + std::to_string(reply.id) +
                   "): people notice a copied answer; say something about their story";
    hint.end = static_cast<int32_t>(draft.size());
    hints.push_back(std::move(hint));
    break;
  }
  // The redactor reports placeholder offsets in its own output; the text
  // between placeholders is copied unchanged, so each identifier's place in
  // the draft is found by walking both texts.
  const redact::Redacted redacted = redact::Redact(draft);
  size_t draft_at = 0;
  size_t redacted_at = 0;
  for (size_t i = 0; i < redacted.redactions.size(); ++i) {
    const redact::Redaction& r = redacted.redactions[i];
    const size_t start = draft_at + (static_cast<size_t>(r.start) - redacted_at);
    const size_t next_start = i + 1 < redacted.redactions.size()
                                  ? static_cast<size_t>(redacted.redactions[i + 1].start)
                                  : redacted.text.size();
    const std::string_view gap =
        std::string_view(redacted.text)
            .substr(static_cast<size_t>(r.end), next_start - static_cast<size_t>(r.end));
    size_t end = 0;
    if (i + 1 == redacted.redactions.size()) {
      end = draft.size() - gap.size();
    } else {
      end = gap.empty() ? start + 1 : draft.find(gap, start + 1);
      if (end == std::string_view::npos) end = draft.size();
    }
    ToneHint hint;
    hint.kind = "personal_identifier";
    hint.rule = r.kind;
    hint.message = "a personal identifier (" + r.kind +
                   ") in a public reply: remove it; answer privately if it is needed";
    hint.start = static_cast<int32_t>(start);
    hint.end = static_cast<int32_t>(end);
    hints.push_back(std::move(hint));
    draft_at = end;
    redacted_at = static_cast<size_t>(r.end);
  }
  return hints;
}

}  // namespace earshot
