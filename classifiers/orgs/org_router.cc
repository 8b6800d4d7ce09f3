// OrgRouter over the gazetteer: every name, alias and domain is one pattern
// of a single RE2::Set. A post is first checked by a word prefilter (most
// posts name no organisation and stop there), then scanned once by the Set;
// only the patterns that hit are run again on their own to find spans, and
// only an ambiguous or guarded mention looks for context (places, health
// words, the word after it).
#include "classifiers/orgs/org_router.h"
#include "crawler/core/strings.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "classifiers/orgs/gazetteer.h"
#include "classifiers/orgs/word_prefilter.h"

namespace earshot::orgs {
namespace {

// Bytes of text either side of a guarded mention searched for health words.
constexpr size_t kHealthWindow = 160;
// Memory for the RE2::Set DFA: enough that matching never runs out.
constexpr int64_t kSetMemory = int64_t{512} << 20;

struct Candidate {
  std::vector<std::string> codes;  // today's organisations; empty: closed
  std::string raw_code;            // the organisation as named or as parent
  std::string site_code;
  std::string site_name;
  std::string rule;
  std::vector<int> places;  // place ids, sorted
  Guard guard = Guard::kNone;
  bool needs_context = false;
  bool curated = false;
  bool is_default = false;
};

struct Pattern {
  std::string source;  // where it was defined, for error messages
  std::string regex;
  std::vector<std::string> required;  // words for the prefilter
  // Compiled on first use: most patterns never match, and compiling all of
  // them would double the start-up time. The Set has already checked them.
  std::unique_ptr<std::once_flag> once = std::make_unique<std::once_flag>();
  mutable std::unique_ptr<RE2> re;
  bool domain = false;  // the span is group 1
  std::vector<Candidate> candidates;
};

struct Mention {
  int start = 0;
  int end = 0;
  std::vector<const Candidate*> candidates;
};

std::string StripApostrophes(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c != '\'') out += c;
  }
  return out;
}

bool IsPostcodeDistrict(std::string_view s) {
  static const RE2 re("[A-Z]{1,2}[0-9][0-9A-Z]?");
  return RE2::FullMatch(re2::StringPiece(s.data(), s.size()), re);
}

std::string RulePrefix(std::string_view kind) {
  if (kind == "icb") return "icb:";
  if (kind == "region") return "region:";
  if (kind == "welsh_board" || kind == "scottish_board" || kind == "scottish_national") {
    return "board:";
  }
  return "trust:";
}

class RouterImpl final : public OrgRouter {
 public:
  static Result<std::shared_ptr<const OrgRouter>> Build(Gazetteer g);

  Routing Route(std::string_view text) const override;
  // Route() of a text whose hashtags are already split.
  Routing RouteText(std::string_view text) const;
  const std::string& version() const override { return version_; }
  std::string NameOf(std::string_view code) const override {
    auto it = names_.find(code);
    return it == names_.end() ? std::string() : it->second;
  }
  int64_t dfa_fallbacks() const override { return dfa_fallbacks_.load(std::memory_order_relaxed); }
  size_t pattern_count() const override { return patterns_.size(); }
  std::vector<std::string> patterns() const override {
    std::vector<std::string> out;
    out.reserve(patterns_.size());
    for (const auto& p : patterns_) out.push_back(p.regex);
    return out;
  }

 private:
  std::vector<std::string> Today(const std::string& code, int depth = 0) const;
  std::vector<std::string> SiteToday(const SiteRecord& site) const;
  int PlaceId(const std::string& place);
  void AddVariant(const std::string& variant, bool case_sensitive, const Candidate& candidate,
                  const std::string& source);
  Candidate SiteCandidate(const SiteRecord& site, const std::string& rule);
  Candidate OrgCandidate(const OrgRecord& org, const std::string& rule);
  Status Compile();

  bool NextWordOk(std::string_view text, int end) const;
  bool PrevWordOk(std::string_view text, int start) const;
  bool HealthNear(std::string_view text, int start, int end) const;
  std::vector<int> MatchingPatterns(std::string_view text) const;
  const RE2& Re(const Pattern& p) const {
    std::call_once(*p.once, [&] {
      RE2::Options options;
      options.set_log_errors(false);
      p.re = std::make_unique<RE2>(p.regex, options);
    });
    return *p.re;
  }

  Gazetteer g_;
  std::string version_;
  std::map<std::string, std::string, std::less<>> names_;
  std::vector<Pattern> patterns_;
  std::unordered_map<std::string, size_t> pattern_by_key_;
  std::unique_ptr<RE2::Set> set_;
  WordPrefilter prefilter_;
  std::vector<std::string> places_;
  std::unordered_map<std::string, int> place_ids_;
  std::unique_ptr<RE2::Set> places_set_;
  std::unique_ptr<RE2> health_re_;
  std::unordered_set<std::string> block_;
  std::unordered_set<std::string> place_words_;  // one-word places, lower case
  mutable std::atomic<int64_t> dfa_fallbacks_{0};
};

std::vector<std::string> RouterImpl::Today(const std::string& code, int depth) const {
  if (depth > 12) return {};  // a cycle in successors.tsv; Build() rejects these
  auto org = g_.orgs.find(code);
  bool closed = org != g_.orgs.end() && org->second.status == "closed";
  auto succ = g_.successors.find(code);
  if (!closed && (org != g_.orgs.end() || succ == g_.successors.end())) return {code};
  if (succ == g_.successors.end()) return {};
  std::vector<std::string> out;
  for (const auto& next : succ->second) {
    for (auto& c : Today(next, depth + 1)) {
      if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
    }
  }
  return out;
}

std::vector<std::string> RouterImpl::SiteToday(const SiteRecord& site) const {
  auto it = g_.site_successors.find(site.code);
  if (it == g_.site_successors.end()) return Today(site.parent);
  std::vector<std::string> out;
  for (const auto& code : it->second) {
    for (auto& c : Today(code)) {
      if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
    }
  }
  return out;
}

int RouterImpl::PlaceId(const std::string& place) {
  auto [it, fresh] = place_ids_.emplace(place, static_cast<int>(places_.size()));
  if (fresh) places_.push_back(place);
  return it->second;
}

Candidate RouterImpl::OrgCandidate(const OrgRecord& org, const std::string& rule) {
  Candidate c;
  c.codes = Today(org.code);
  c.raw_code = org.code;
  c.rule = rule;
  for (const auto& p : org.places) c.places.push_back(PlaceId(p));
  std::sort(c.places.begin(), c.places.end());
  c.places.erase(std::unique(c.places.begin(), c.places.end()), c.places.end());
  return c;
}

Candidate RouterImpl::SiteCandidate(const SiteRecord& site, const std::string& rule) {
  Candidate c;
  c.codes = SiteToday(site);
  c.raw_code = site.parent;
  // Rows of the devolved list without a code have a local key ("7A1:x").
  if (site.code.find(':') == std::string::npos) c.site_code = site.code;
  c.site_name = site.name;
  c.rule = rule;
  for (const auto& p : site.places) c.places.push_back(PlaceId(p));
  if (auto parent = g_.orgs.find(site.parent); parent != g_.orgs.end()) {
    for (const auto& p : parent->second.places) c.places.push_back(PlaceId(p));
  }
  std::sort(c.places.begin(), c.places.end());
  c.places.erase(std::unique(c.places.begin(), c.places.end()), c.places.end());
  return c;
}

void RouterImpl::AddVariant(const std::string& variant, bool case_sensitive, const Candidate& base,
                            const std::string& source) {
  Candidate c = base;
  size_t i = 0;
  while (i < variant.size() && (variant[i] == '?' || variant[i] == '~')) {
    if (variant[i] == '?') c.needs_context = true;
    if (variant[i] == '~' && c.guard == Guard::kNone) c.guard = Guard::kHealth;
    ++i;
  }
  std::string v = variant.substr(i);
  if (v.empty()) return;
  std::string key = (case_sensitive ? "cs:" : "ci:") + StripApostrophes(v);
  auto [it, fresh] = pattern_by_key_.emplace(key, patterns_.size());
  if (fresh) {
    Pattern p;
    p.source = source;
    p.regex = VariantPattern(v, case_sensitive);
    p.required = WordPrefilter::RequiredForms(v);
    patterns_.push_back(std::move(p));
  }
  auto& cands = patterns_[it->second].candidates;
  for (const auto& existing : cands) {
    if (existing.rule == c.rule && existing.codes == c.codes && existing.guard == c.guard &&
        existing.needs_context == c.needs_context) {
      return;
    }
  }
  cands.push_back(std::move(c));
}

Status RouterImpl::Compile() {
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(kSetMemory);
  set_ = std::make_unique<RE2::Set>(options, RE2::UNANCHORED);
  RE2::Options single;
  single.set_log_errors(false);
  for (auto& p : patterns_) {
    std::string error;
    if (set_->Add(p.regex, &error) < 0) {
      return Status::InvalidArgument(p.source + ": bad pattern /" + p.regex + "/: " + error);
    }
  }
  if (!set_->Compile()) return Status::ResourceExhausted("organisation patterns: RE2::Set too big");
  for (const auto& p : patterns_) {
    if (p.required.empty()) prefilter_.AddAlways();
    for (const auto& w : p.required) prefilter_.Add(w);
  }
  prefilter_.Build();

  places_set_ = std::make_unique<RE2::Set>(options, RE2::UNANCHORED);
  std::unordered_set<std::string> common(g_.common_places.begin(), g_.common_places.end());
  for (const auto& place : places_) {
    std::string pattern;
    if (IsPostcodeDistrict(place)) {
      pattern = "\\b" + place + "\\b";
    } else {
      std::string norm = NormaliseVariant(place, false);
      if (norm.size() >= 4 && !common.count(norm)) {
        pattern = VariantPattern(norm, false);
      } else {
        // "Deal", "Bath", "Ely": only with a capital letter.
        pattern = VariantPattern(NormaliseVariant(place, true), true);
      }
    }
    std::string error;
    if (places_set_->Add(pattern, &error) < 0) {
      return Status::InvalidArgument("place \"" + place + "\": " + error);
    }
  }
  if (!places_set_->Compile()) return Status::ResourceExhausted("place patterns: RE2::Set too big");

  std::string health;
  for (const auto& w : g_.health_words) {
    if (w.empty()) continue;
    if (!health.empty()) health += "|";
    health += VariantPattern(w, false);
  }
  health_re_ = std::make_unique<RE2>(health.empty() ? "(?!)" : "(?:" + health + ")", single);
  if (!health_re_->ok()) return Status::InvalidArgument("health words: " + health_re_->error());
  for (const auto& w : g_.block_words) block_.insert(StripApostrophes(w));
  for (const auto& place : places_) {
    std::string norm = NormaliseVariant(place, false);
    if (!norm.empty() && norm.find(' ') == std::string::npos) place_words_.insert(norm);
  }
  return Status::Ok();
}

Result<std::shared_ptr<const OrgRouter>> RouterImpl::Build(Gazetteer g) {
  auto router = std::make_shared<RouterImpl>();
  router->g_ = std::move(g);
  RouterImpl& r = *router;
  r.version_ = r.g_.version;

  // Successors must end somewhere.
  for (const auto& [code, next] : r.g_.successors) {
    std::set<std::string> seen{code};
    std::vector<std::string> frontier = next;
    for (int depth = 0; !frontier.empty(); ++depth) {
      if (depth > 12) return Status::InvalidArgument("successors.tsv: cycle through " + code);
      std::vector<std::string> following;
      for (const auto& c : frontier) {
        if (!seen.insert(c).second) {
          return Status::InvalidArgument("successors.tsv: cycle through " + code);
        }
        if (auto it = r.g_.successors.find(c); it != r.g_.successors.end()) {
          auto org = r.g_.orgs.find(c);
          if (org == r.g_.orgs.end() || org->second.status == "closed") {
            following.insert(following.end(), it->second.begin(), it->second.end());
          }
        }
      }
      frontier = std::move(following);
    }
  }

  for (const auto& [code, org] : r.g_.orgs) {
    r.names_[code] = org.name;
    Candidate base = r.OrgCandidate(org, RulePrefix(org.kind) + code);
    for (const auto& v : org.variants) r.AddVariant(v, false, base, org.source);
  }
  for (const auto& [code, site] : r.g_.sites) {
    Candidate base = r.SiteCandidate(site, "site:" + code);
    for (const auto& v : site.variants) r.AddVariant(v, false, base, site.source);
  }
  for (const auto& alias : r.g_.aliases) {
    for (const auto& target : alias.targets) {
      Candidate base;
      if (auto site = r.g_.sites.find(target); site != r.g_.sites.end()) {
        base = r.SiteCandidate(site->second, "alias:" + alias.id);
      } else if (auto org = r.g_.orgs.find(target); org != r.g_.orgs.end()) {
        base = r.OrgCandidate(org->second, "alias:" + alias.id);
      } else {
        return Status::InvalidArgument(alias.source + ": unknown target \"" + target + "\"");
      }
      base.curated = true;
      base.is_default = alias.is_default;
      base.guard = alias.guard;
      for (const auto& v : alias.variants)
        r.AddVariant(v, alias.case_sensitive, base, alias.source);
    }
  }
  for (const auto& d : r.g_.domains) {
    Candidate base;
    if (auto site = r.g_.sites.find(d.target); site != r.g_.sites.end()) {
      base = r.SiteCandidate(site->second, "domain:" + d.domain);
      base.site_code.clear();  // a trust's domain names the trust, not a site
      base.site_name.clear();
    } else if (auto org = r.g_.orgs.find(d.target); org != r.g_.orgs.end()) {
      base = r.OrgCandidate(org->second, "domain:" + d.domain);
    } else {
      continue;  // a domain of a provider we do not list
    }
    base.curated = true;
    std::string key = "domain:" + AsciiLower(d.domain);
    auto [it, fresh] = r.pattern_by_key_.emplace(key, r.patterns_.size());
    if (fresh) {
      Pattern p;
      p.source = d.source;
      p.regex = DomainPattern(d.domain);
      p.domain = true;
      std::string label;
      for (char ch : AsciiLower(d.domain)) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) break;
        label += ch;
      }
      if (!label.empty()) p.required.push_back(label);
      r.patterns_.push_back(std::move(p));
    }
    r.patterns_[it->second].candidates.push_back(std::move(base));
  }
  EARSHOT_RETURN_IF_ERROR(r.Compile());
  return std::shared_ptr<const OrgRouter>(std::move(router));
}

std::vector<int> RouterImpl::MatchingPatterns(std::string_view text) const {
  std::vector<int> hits;
  re2::StringPiece input(text.data(), text.size());
  RE2::Set::ErrorInfo info{RE2::Set::kNoError};
  if (set_->Match(input, &hits, &info)) return hits;
  hits.clear();
  if (info.kind == RE2::Set::kNoError) return hits;
  // The DFA gave up: same answer, pattern by pattern.
  dfa_fallbacks_.fetch_add(1, std::memory_order_relaxed);
  for (size_t i = 0; i < patterns_.size(); ++i) {
    if (RE2::PartialMatch(input, Re(patterns_[i]))) hits.push_back(static_cast<int>(i));
  }
  return hits;
}

bool RouterImpl::NextWordOk(std::string_view text, int end) const {
  size_t i = static_cast<size_t>(end);
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
  if (i >= text.size()) return true;
  if (!std::isalpha(static_cast<unsigned char>(text[i]))) return true;  // punctuation, digit, emoji
  std::string word;
  while (i < text.size() &&
         (std::isalpha(static_cast<unsigned char>(text[i])) || text[i] == '&' || text[i] == '\'')) {
    word += static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
    ++i;
  }
  return block_.count(StripApostrophes(NormaliseVariant(word, false))) == 0;
}

// A capitalised word just before a short name, in mid-sentence, makes the
// name part of another proper name ("Morgan Freeman", "Captain James Cook"),
// unless that word is a place ("Newcastle Freeman"), a possessive
// ("Newcastle's Freeman"), an acronym or a function word of Title Case
// text ("At Freeman").
bool RouterImpl::PrevWordOk(std::string_view text, int start) const {
  auto is_alpha = [](char ch) { return std::isalpha(static_cast<unsigned char>(ch)) != 0; };
  size_t i = static_cast<size_t>(start);
  while (i > 0 && text[i - 1] == ' ') --i;
  if (i == 0 || !is_alpha(text[i - 1])) return true;
  size_t word_end = i;
  while (i > 0 && (is_alpha(text[i - 1]) || text[i - 1] == '\'')) --i;
  std::string_view word = text.substr(i, word_end - i);
  if (word.empty() || !std::isupper(static_cast<unsigned char>(word[0]))) return true;
  if (word.size() >= 2 && word.substr(word.size() - 2) == "'s") return true;
  if (std::all_of(word.begin(), word.end(),
                  [](char ch) { return !std::islower(static_cast<unsigned char>(ch)); })) {
    return true;
  }
  size_t j = i;
  while (j > 0 && text[j - 1] == ' ') --j;
  if (j == 0) return true;
  unsigned char before = static_cast<unsigned char>(text[j - 1]);
  if (before >= 0x80 || std::strchr(".!?:;\"()[]\n\t-|/#@", static_cast<char>(before)) != nullptr) {
    return true;  // the word starts a sentence, a clause or a hashtag
  }
  std::string lower = AsciiLower(word);
  static const std::unordered_set<std::string> kFunctionWords = {
      "the", "at", "in", "to", "from", "and", "or", "of", "for", "our", "my", "on", "by", "via"};
  if (kFunctionWords.count(lower)) return true;
  return place_words_.count(NormaliseVariant(lower, false)) != 0;
}

// The mention itself counts: a name with a health word in it ("Yorkshire
// Ambulance Service", "East Kent Hospitals") is its own context.
bool RouterImpl::HealthNear(std::string_view text, int start, int end) const {
  auto widen_left = [&](size_t pos) {
    while (pos > 0 && !std::isspace(static_cast<unsigned char>(text[pos - 1]))) --pos;
    return pos;
  };
  auto widen_right = [&](size_t pos) {
    while (pos < text.size() && !std::isspace(static_cast<unsigned char>(text[pos]))) ++pos;
    return pos;
  };
  size_t left = widen_left(start > static_cast<int>(kHealthWindow) ? start - kHealthWindow : 0);
  size_t right = widen_right(std::min(text.size(), static_cast<size_t>(end) + kHealthWindow));
  re2::StringPiece window(text.data() + left, right - left);
  return RE2::PartialMatch(window, *health_re_);
}

// A CamelCase hashtag is a name written without its spaces: "#NorthernGeneral",
// "#StThomasHospital", "#NHSTrust". Writes to *spaced the text with a space
// put between the words of each such hashtag — before an upper-case letter
// that follows a lower-case one, and before the last capital of a run of
// capitals followed by a lower-case letter ("NHSTrust" -> "NHS Trust") — and
// to *origin, for every byte of *spaced, the offset of the byte of `text` it
// came from (an inserted space: that of the next byte). False, and nothing
// written, when no hashtag needs it: the text is routed as it is.
bool SplitHashtags(std::string_view text, std::string* spaced, std::vector<int32_t>* origin) {
  auto upper = [](char c) { return c >= 'A' && c <= 'Z'; };
  auto lower = [](char c) { return c >= 'a' && c <= 'z'; };
  auto alnum = [&](char c) { return upper(c) || lower(c) || (c >= '0' && c <= '9'); };
  // Where spaces go: before these offsets.
  std::vector<size_t> cuts;
  for (size_t i = text.find('#'); i != std::string_view::npos; i = text.find('#', i + 1)) {
    if (i > 0 && alnum(text[i - 1])) continue;  // "C#", "a#b": not a hashtag
    size_t end = i + 1;
    while (end < text.size() && alnum(text[end])) ++end;
    for (size_t k = i + 2; k < end; ++k) {
      const char prev = text[k - 1], c = text[k];
      if (!upper(c)) continue;
      if (lower(prev) || (upper(prev) && k + 1 < end && lower(text[k + 1]))) cuts.push_back(k);
    }
  }
  if (cuts.empty()) return false;
  spaced->clear();
  origin->clear();
  spaced->reserve(text.size() + cuts.size());
  origin->reserve(text.size() + cuts.size());
  size_t next_cut = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (next_cut < cuts.size() && cuts[next_cut] == i) {
      spaced->push_back(' ');
      origin->push_back(static_cast<int32_t>(i));
      ++next_cut;
    }
    spaced->push_back(text[i]);
    origin->push_back(static_cast<int32_t>(i));
  }
  return true;
}

Routing RouterImpl::Route(std::string_view text) const {
  std::string spaced;
  std::vector<int32_t> origin;
  if (!SplitHashtags(text, &spaced, &origin)) return RouteText(text);
  Routing routing = RouteText(spaced);
  // Spans back into `text`: a mention starts and ends with a character of
  // the text, never with an inserted space.
  auto start_of = [&](int32_t s) { return origin[s]; };
  auto end_of = [&](int32_t e) { return e == 0 ? 0 : origin[e - 1] + 1; };
  for (OrgMatch& m : routing.orgs) {
    m.start = start_of(m.start);
    m.end = end_of(m.end);
  }
  for (UnroutedMention& u : routing.unrouted) {
    u.start = start_of(u.start);
    u.end = end_of(u.end);
    u.mention = std::string(text.substr(u.start, u.end - u.start));
  }
  return routing;
}

Routing RouterImpl::RouteText(std::string_view text) const {
  Routing routing;
  if (!prefilter_.MayMatch(text)) return routing;
  std::vector<int> hits = MatchingPatterns(text);
  if (hits.empty()) return routing;
  std::sort(hits.begin(), hits.end());

  // Spans of every hit pattern.
  std::map<std::pair<int, int>, Mention> by_span;
  re2::StringPiece input(text.data(), text.size());
  for (int index : hits) {
    const Pattern& p = patterns_[index];
    re2::StringPiece groups[2];
    int n = p.domain ? 2 : 1;
    size_t pos = 0;
    const RE2& re = Re(p);
    while (pos <= text.size() && re.Match(input, pos, text.size(), RE2::UNANCHORED, groups, n)) {
      const re2::StringPiece& g = groups[n - 1];
      int start = static_cast<int>(g.data() - text.data());
      int end = start + static_cast<int>(g.size());
      Mention& m = by_span[{start, end}];
      m.start = start;
      m.end = end;
      for (const auto& c : p.candidates) m.candidates.push_back(&c);
      size_t next = static_cast<size_t>(groups[0].data() - text.data()) + groups[0].size();
      pos = std::max(next, pos + 1);
    }
  }

  // Guards: a short or risky name counts only in its context.
  std::vector<int> place_hits;
  bool places_done = false;
  auto has_place = [&](const Candidate& c) {
    if (!places_done) {
      places_done = true;
      places_set_->Match(input, &place_hits);
      std::sort(place_hits.begin(), place_hits.end());
    }
    for (int id : c.places) {
      if (std::binary_search(place_hits.begin(), place_hits.end(), id)) return true;
    }
    return false;
  };
  std::vector<Mention> mentions;
  for (auto& [span, m] : by_span) {
    std::vector<const Candidate*> kept;
    int health = -1, next = -1, prev = -1;
    for (const Candidate* c : m.candidates) {
      bool ok = true;
      switch (c->guard) {
        case Guard::kNone:
          break;
        case Guard::kNext:
          if (next < 0) next = NextWordOk(text, m.end);
          ok = next;
          break;
        case Guard::kHealth:
          if (next < 0) next = NextWordOk(text, m.end);
          if (prev < 0) prev = PrevWordOk(text, m.start);
          if (next && prev && health < 0) health = HealthNear(text, m.start, m.end);
          ok = next && prev && health;
          break;
        case Guard::kPlace:
          if (next < 0) next = NextWordOk(text, m.end);
          if (prev < 0) prev = PrevWordOk(text, m.start);
          ok = next && prev && has_place(*c);
          break;
      }
      if (ok) kept.push_back(c);
    }
    if (kept.empty()) continue;
    m.candidates = std::move(kept);
    mentions.push_back(std::move(m));
  }

  // A name inside a longer name is part of it ("Queen Elizabeth Hospital"
  // in "Queen Elizabeth Hospital Birmingham").
  std::vector<Mention> outer;
  for (auto& m : mentions) {
    bool inside = false;
    for (const auto& o : mentions) {
      if (&o != &m && o.start <= m.start && o.end >= m.end &&
          (o.end - o.start) > (m.end - m.start)) {
        inside = true;
        break;
      }
    }
    if (!inside) outer.push_back(std::move(m));
  }

  // Resolve each mention: one organisation, or context that leaves one.
  struct Decision {
    const Mention* mention = nullptr;
    const Candidate* chosen = nullptr;
    std::vector<std::string> candidates;  // when unresolved
  };
  auto rank = [](const Candidate* c) {
    return (c->curated ? 4 : 0) + (c->site_code.empty() ? 0 : 2) + (c->is_default ? 1 : 0);
  };
  auto best_of = [&](const std::vector<const Candidate*>& cs, const std::string& code) {
    const Candidate* best = nullptr;
    for (const Candidate* c : cs) {
      if (c->codes.size() != 1 || c->codes[0] != code) continue;
      if (!best || rank(c) > rank(best)) best = c;
    }
    return best;
  };
  auto orgs_of = [](const std::vector<const Candidate*>& cs) {
    std::vector<std::string> codes;
    bool clean = true;
    for (const Candidate* c : cs) {
      if (c->codes.size() != 1) clean = false;
      const auto& list = c->codes.empty() ? std::vector<std::string>{c->raw_code} : c->codes;
      for (const auto& code : list) {
        if (std::find(codes.begin(), codes.end(), code) == codes.end()) codes.push_back(code);
      }
    }
    std::sort(codes.begin(), codes.end());
    return std::make_pair(codes, clean);
  };

  std::vector<Decision> decisions;
  for (const auto& m : outer) {
    Decision d;
    d.mention = &m;
    auto [codes, clean] = orgs_of(m.candidates);
    bool needs_context = !clean || codes.size() != 1;
    for (const Candidate* c : m.candidates) needs_context = needs_context || c->needs_context;
    if (!needs_context) {
      d.chosen = best_of(m.candidates, codes[0]);
    } else {
      std::vector<const Candidate*> placed;
      for (const Candidate* c : m.candidates) {
        if (c->codes.size() == 1 && has_place(*c)) placed.push_back(c);
      }
      auto [placed_codes, placed_clean] = orgs_of(placed);
      if (placed_codes.size() == 1) d.chosen = best_of(placed, placed_codes[0]);
      d.candidates = codes;
    }
    decisions.push_back(std::move(d));
  }

  // Organisations already named are context for the rest ("Sheffield
  // Teaching Hospitals ... the NGH"); then curated defaults.
  std::set<std::string> routed;
  for (const auto& d : decisions) {
    if (d.chosen) routed.insert(d.chosen->codes[0]);
  }
  for (auto& d : decisions) {
    if (d.chosen) continue;
    std::vector<const Candidate*> known;
    for (const Candidate* c : d.mention->candidates) {
      if (c->codes.size() == 1 && routed.count(c->codes[0])) known.push_back(c);
    }
    auto [known_codes, known_clean] = orgs_of(known);
    if (known_codes.size() == 1) {
      d.chosen = best_of(known, known_codes[0]);
      continue;
    }
    const Candidate* fallback = nullptr;
    for (const Candidate* c : d.mention->candidates) {
      if (c->is_default && c->codes.size() == 1 && (!fallback || rank(c) > rank(fallback))) {
        fallback = c;
      }
    }
    d.chosen = fallback;
  }

  std::map<std::string, OrgMatch> first;  // by code: the earliest mention
  std::set<std::pair<std::string, std::vector<std::string>>> seen_unrouted;
  for (const auto& d : decisions) {
    const Mention& m = *d.mention;
    if (d.chosen) {
      const Candidate& c = *d.chosen;
      const std::string& code = c.codes[0];
      auto it = first.find(code);
      if (it != first.end() && it->second.start <= m.start) continue;
      OrgMatch match;
      match.code = code;
      match.name = NameOf(code);
      match.site_code = c.site_code;
      match.site_name = c.site_name;
      match.rule = c.rule;
      match.version = version_;
      match.start = m.start;
      match.end = m.end;
      first[code] = std::move(match);
      continue;
    }
    std::string mention(text.substr(m.start, m.end - m.start));
    if (!seen_unrouted.insert({AsciiLower(mention), d.candidates}).second) continue;
    // "the Tavistock" and "Tavistock Clinic": one mention, reported once.
    bool overlaps = false;
    for (const auto& u : routing.unrouted) {
      if (u.candidates == d.candidates && u.start < m.end && m.start < u.end) overlaps = true;
    }
    if (overlaps) continue;
    UnroutedMention u;
    u.mention = std::move(mention);
    u.start = m.start;
    u.end = m.end;
    u.candidates = d.candidates;
    routing.unrouted.push_back(std::move(u));
  }
  for (auto& [code, match] : first) routing.orgs.push_back(std::move(match));
  std::sort(routing.orgs.begin(), routing.orgs.end(),
            [](const OrgMatch& a, const OrgMatch& b) { return a.start < b.start; });
  std::sort(routing.unrouted.begin(), routing.unrouted.end(),
            [](const UnroutedMention& a, const UnroutedMention& b) { return a.start < b.start; });
  return routing;
}

}  // namespace

Result<std::shared_ptr<const OrgRouter>> OrgRouter::Load(const std::filesystem::path& orgs_dir) {
  auto gazetteer = LoadGazetteer(orgs_dir);
  if (!gazetteer.ok()) return gazetteer.status();
  return RouterImpl::Build(std::move(*gazetteer));
}

}  // namespace earshot::orgs
