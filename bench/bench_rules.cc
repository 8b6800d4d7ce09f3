// Rules engine benchmarks: compiling rule files and matching ~200-byte posts.
// Baselines, in the same run, with the same RE2 options:
//   re2_set_compile      RE2::Set::Compile of the rule file's distinct patterns
//   re2_set_pieces_match RE2::Set::Match over the entries our set holds (the
//                        patterns with their gaps cut out, pattern_split.h):
//                        the irreducible scan; on top of it we do spans,
//                        negation, proximity and rule bookkeeping
//   re2_set_match        RE2::Set::Match over the whole patterns, as a plain
//                        engine would (on a subset of the posts: gaps make it
//                        slow; ratio below 1 means we are faster)
//
// Output: one JSON object per line on stdout, the shape of bench_core:
//   {"bench":NAME,"items":N,"seconds":S,"items_per_second":R,
//    "baseline":NAME,"baseline_seconds":B,"ratio":S/B, ...extra facts}
// Usage: bench_rules [--quick] [--rules DIR] [--posts CSV]
//   --rules DIR   also measure every *.toml in DIR as one default rule set
//                 (all stages, each post through every file); default
//                 config/rules when it exists under the working directory.
//   --posts CSV   real comments for the default rule set: the "FFT answer"
//                 column of a CSV in the shared feedback format, packed into
//                 posts of about 200 bytes; default
//                 ../shared/data/feedback/fft_v6_train.csv when present (read
//                 from there, never copied). Generated posts otherwise.
// Single-threaded: items_per_second is per core.
#include <csv.h>
#include <re2/re2.h>
#include <re2/set.h>

#include <toml++/toml.h>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "classifiers/rules/pattern_split.h"
#include "classifiers/rules/rule_set.h"

namespace {

using earshot::bench::BestOf;
using earshot::bench::Report;

using earshot::rules::RuleMatch;
using earshot::rules::RuleSet;
using Clock = std::chrono::steady_clock;

// Deterministic so runs compare.
struct Lcg {
  uint64_t state = 0x9E3779B97F4A7C15ull;
  uint32_t Next() {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>(state >> 33);
  }
  size_t Below(size_t n) { return Next() % n; }
};

// Words of patient stories; rules and posts draw from the same pool, so a
// post hits a handful of rules, as real ones do.
const std::vector<std::string>& Vocabulary() {
  static const std::vector<std::string> words = [] {
    const char* base[] = {
        "wait",        "hour",       "delay",        "appointment", "cancel",     "nurse",
        "doctor",      "consultant", "receptionist", "porter",      "ward",       "bed",
        "discharge",   "referral",   "letter",       "phone",       "parking",    "food",
        "clean",       "dirty",      "noise",        "pain",        "medication", "prescription",
        "pharmacy",    "test",       "result",       "scan",        "x-ray",      "blood",
        "surgery",     "operation",  "theatre",      "anaesthetic", "midwife",    "baby",
        "birth",       "maternity",  "child",        "mental",      "crisis",     "therapy",
        "counselling", "ambulance",  "paramedic",    "emergency",   "triage",     "cubicle",
        "corridor",    "trolley",    "toilet",       "shower",      "visiting",   "family",
        "carer",       "dementia",   "stroke",       "cancer",      "chemo",      "dialysis",
        "diabetes",    "asthma",     "heart",        "kind",        "rude",       "caring",
        "dismissive",  "listened",   "ignored",      "explained",   "confused",   "respect",
        "dignity",     "privacy",    "language",     "interpreter", "wheelchair", "access",
        "transport",   "record",     "complaint",    "apology",     "thank",      "brilliant",
        "awful",       "safe",       "unsafe",       "neglect",     "fall",       "infection",
        "sepsis",      "wound",      "dressing",     "physio",      "dentist",    "optician",
        "gp",          "surgery",    "practice",     "online",      "booking",    "queue",
    };
    std::vector<std::string> out(std::begin(base), std::end(base));
    std::set<std::string> seen(out.begin(), out.end());
    std::vector<std::string> unique;
    for (const auto& w : out)
      if (seen.erase(w)) unique.push_back(w);
    return unique;
  }();
  return words;
}

// Everyday words no rule is about.
const std::vector<std::string>& Fillers() {
  static const std::vector<std::string> words = [] {
    std::istringstream in(
        "the a an was were we my our and but very so not for at in on with they she he it "
        "then after six two long today last night again still really no just all this that "
        "there here when what who how about into over from up down out off only also even "
        "because while before until though although since yesterday tomorrow week month year "
        "morning evening afternoon later soon quickly slowly finally eventually first second "
        "mum dad son daughter husband wife friend neighbour partner grandad nan brother sister "
        "went came got took made said told asked called rang left arrived stayed waited saw "
        "felt thought knew needed wanted tried seemed looked found gave kept let put ran "
        "home town city road bus train car street shop work school lunch dinner tea coffee "
        "good bad big small new old little great best worst whole same other own next few "
        "many much more most less some any every each both either neither such quite rather "
        "one three four five seven eight ten twenty hundred half hour's minutes o'clock");
    std::vector<std::string> out;
    for (std::string w; in >> w;) out.push_back(w);
    return out;
  }();
  return words;
}

// A rule file in the shape of the real ones: phrases with word boundaries and
// inflections, gaps, exclusions, negations and proximity.
std::string GenerateRules(int rules, Lcg& rng) {
  const auto& v = Vocabulary();
  auto word = [&] { return v[rng.Below(v.size())]; };
  std::ostringstream out;
  out << "[meta]\nstage = \"bench\"\nversion = \"1\"\n\n";
  for (int i = 0; i < rules; ++i) {
    out << "[[rule]]\nid = \"r" << i << "\"\nlabel = \"label" << (i % 33) << "\"\n";
    const std::string a = word(), b = word(), c = word();
    switch (i % 6) {
      case 0:
        out << "any = ['\\b" << a << "(s|ed|ing)?\\b.{0,30}\\b" << b << "s?\\b', '\\b" << c << " "
            << a << "\\b']\n";
        break;
      case 1:
        out << "any = ['\\b" << a << "s?\\b.{0,20}\\b" << b << "\\b']\nunless_preceded = "
            << "'\\b(not|never|no|wasn.?t|didn.?t)\\b'\n";
        break;
      case 2:
        out << "all = ['\\b" << a << "\\b', '\\b" << b << "(s|ed)?\\b']\nnone = ['\\b" << c << " "
            << a << "\\b']\n";
        break;
      case 3:
        out << "near = [{ a = '\\b" << a << "s?\\b', b = '\\b" << b << "\\b', within = 4 }]\n";
        break;
      case 4:
        out << "any = ['\\b(" << a << "|" << b << ") " << c << "(s|ed|ing)?\\b']\n";
        break;
      default:
        out << "any = ['\\b" << a << " (was|were|is) (very |so |really )?" << b << "\\b']\n"
            << "weight = -1\n";
    }
    out << "\n";
  }
  return out.str();
}

std::vector<std::string> GeneratePosts(int n, Lcg& rng) {
  const auto& v = Vocabulary();
  const auto& f = Fillers();
  std::vector<std::string> posts;
  posts.reserve(n);
  for (int i = 0; i < n; ++i) {
    std::string p;
    while (p.size() < 190) {
      // About one word in seven is one the rules are about.
      p += (rng.Below(7) == 0) ? v[rng.Below(v.size())] : f[rng.Below(f.size())];
      p += rng.Below(9) == 0 ? ". " : " ";
    }
    posts.push_back(std::move(p));
  }
  return posts;
}

// Comments from the "FFT answer" column, packed into posts of 180-220 bytes
// and cycled up to `n` posts; empty when the file is unreadable.
std::vector<std::string> ReadCommentPosts(const std::filesystem::path& csv_file, int n) {
  std::ifstream in(csv_file, std::ios::binary);
  if (!in) return {};
  std::ostringstream text;
  text << in.rdbuf();
  const std::string bytes = text.str();
  struct State {
    int column = 0;
    int answer_column = -1;
    bool header = true;
    std::vector<std::string> comments;
  } state;
  auto on_field = [](void* data, size_t len, void* st) {
    auto* s = static_cast<State*>(st);
    std::string field(static_cast<const char*>(data), len);
    if (s->header && field == "FFT answer") s->answer_column = s->column;
    if (!s->header && s->column == s->answer_column && !field.empty() &&
        field != "Did not answer") {
      s->comments.push_back(std::move(field));
    }
    ++s->column;
  };
  auto on_row = [](int, void* st) {
    auto* s = static_cast<State*>(st);
    s->header = false;
    s->column = 0;
  };
  csv_parser parser;
  if (csv_init(&parser, 0) != 0) return {};
  csv_parse(&parser, bytes.data(), bytes.size(), on_field, on_row, &state);
  csv_fini(&parser, on_field, on_row, &state);
  csv_free(&parser);
  // Words, so long comments split and short ones join into posts of
  // 180-220 bytes.
  std::vector<std::string> packed;
  std::string post;
  for (const auto& c : state.comments) {
    std::istringstream words(c);
    for (std::string w; words >> w;) {
      if (!post.empty() && post.size() + 1 + w.size() > 220) {
        if (post.size() >= 180) packed.push_back(std::move(post));
        post.clear();
      }
      post += post.empty() ? w : " " + w;
    }
  }
  std::vector<std::string> posts;
  for (size_t i = 0; !packed.empty() && posts.size() < static_cast<size_t>(n); ++i) {
    posts.push_back(packed[i % packed.size()]);
  }
  return posts;
}

// The distinct patterns of a compiled set, as the engine sees them.
std::vector<std::string> DistinctPatterns(const RuleSet& set) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  auto add = [&](const std::string& p) {
    if (!p.empty() && seen.insert(p).second) out.push_back(p);
  };
  for (const auto& r : set.rules()) {
    for (const auto& p : r.any) add(p);
    for (const auto& p : r.all) add(p);
    for (const auto& p : r.none) add(p);
    for (const auto& n : r.near) add(n.a), add(n.b);
    add(r.unless_preceded);
  }
  return out;
}

std::unique_ptr<RE2::Set> BaselineSet(const std::vector<std::string>& patterns,
                                      bool case_sensitive) {
  RE2::Options opts;
  opts.set_case_sensitive(case_sensitive);
  opts.set_max_mem(earshot::rules::RuleSetOptions{}.max_mem);
  opts.set_never_capture(true);
  opts.set_log_errors(false);
  auto set = std::make_unique<RE2::Set>(opts, RE2::UNANCHORED);
  for (const auto& p : patterns) set->Add(p, nullptr);
  if (!set->Compile()) std::abort();
  return set;
}

struct Stage {
  std::string file;
  std::string text;
  bool case_sensitive = false;
  std::shared_ptr<const RuleSet> set;
  std::vector<std::string> patterns;
  std::unique_ptr<RE2::Set> baseline;         // whole patterns
  std::unique_ptr<RE2::Set> pieces_baseline;  // what our set holds
};

std::vector<std::string> Pieces(const std::vector<std::string>& patterns) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& p : patterns) {
    for (const auto& alternative : earshot::rules::internal::SplitAtGaps(p).alternatives) {
      for (const auto& piece : alternative)
        if (seen.insert(piece).second) out.push_back(piece);
    }
  }
  return out;
}

bool ReadCaseSensitive(const std::string& text) {
  try {
    toml::table t = toml::parse(std::string_view(text));
    return t["meta"]["case_sensitive"].value_or(false);
  } catch (const toml::parse_error&) {
    return false;
  }
}

// Compiles `stages` and matches `posts` through all of them, reporting both
// against RE2::Set alone.
int Measure(const std::string& name, std::vector<Stage>& stages,
            const std::vector<std::string>& posts, int runs) {
  int64_t pattern_count = 0;
  double compile = BestOf(runs, [&] {
    for (auto& s : stages) {
      auto set = RuleSet::LoadText(s.text, s.file);
      if (!set.ok()) {
        std::cerr << set.status().ToString() << "\n";
        std::exit(1);
      }
      s.set = *set;
    }
  });
  int64_t piece_count = 0;
  for (auto& s : stages) {
    s.patterns = DistinctPatterns(*s.set);
    pattern_count += static_cast<int64_t>(s.patterns.size());
    auto pieces = Pieces(s.patterns);
    piece_count += static_cast<int64_t>(pieces.size());
    s.pieces_baseline = BaselineSet(pieces, s.case_sensitive);
  }
  double baseline_compile = BestOf(runs, [&] {
    for (auto& s : stages) s.baseline = BaselineSet(s.patterns, s.case_sensitive);
  });
  int64_t rules = 0, by_words = 0, filtered = 0, in_set = 0;
  for (auto& s : stages) {
    rules += static_cast<int64_t>(s.set->rules().size());
    const RuleSet::PatternCounts counts = s.set->pattern_counts();
    by_words += static_cast<int64_t>(counts.word_index);
    filtered += static_cast<int64_t>(counts.word_filter);
    in_set += static_cast<int64_t>(counts.re2_set);
  }
  // set_entries: the gap-free pieces a plain RE2::Set needs (the baseline's);
  // the patterns_* fields say how our sets find the patterns.
  Report(name + "_compile", pattern_count, compile, "re2_set_compile", baseline_compile,
         {{"rules", rules},
          {"files", static_cast<int64_t>(stages.size())},
          {"set_entries", piece_count},
          {"patterns_by_word_index", by_words},
          {"patterns_filtered_by_word_index", filtered},
          {"patterns_in_re2_set", in_set}});

  // Warm the DFA caches once, as a long-running process has them.
  std::vector<RuleMatch> matches;
  std::vector<int> ids;
  int64_t fired = 0, posts_hit = 0;
  for (const auto& p : posts) {
    size_t before = fired;
    for (auto& s : stages) {
      matches.clear();
      s.set->Match(p, &matches);
      fired += static_cast<int64_t>(matches.size());
      s.pieces_baseline->Match(p, &ids);
    }
    posts_hit += fired > static_cast<int64_t>(before);
  }
  double ours = BestOf(runs, [&] {
    for (const auto& p : posts) {
      for (auto& s : stages) {
        matches.clear();
        s.set->Match(p, &matches);
      }
    }
  });
  double base = BestOf(runs, [&] {
    for (const auto& p : posts)
      for (auto& s : stages) s.pieces_baseline->Match(p, &ids);
  });
  int64_t oom = 0, fallbacks = 0;
  for (auto& s : stages) {
    oom += s.set->stats().dfa_out_of_memory.load();
    fallbacks += s.set->stats().fallbacks.load();
  }
  size_t bytes = 0;
  for (const auto& p : posts) bytes += p.size();
  Report(name + "_match", static_cast<int64_t>(posts.size()), ours, "re2_set_pieces_match", base,
         {{"mean_post_bytes", static_cast<double>(bytes) / posts.size()},
          {"rule_matches_per_post", static_cast<double>(fired) / posts.size()},
          {"posts_with_a_match", static_cast<double>(posts_hit) / posts.size()},
          {"dfa_out_of_memory", oom},
          {"fallbacks", fallbacks}});

  // Against a plain RE2::Set of the whole patterns, on a subset: warm, then
  // the best of two.
  const std::vector<std::string> subset(posts.begin(),
                                        posts.begin() + std::min<size_t>(posts.size(), 5000));
  for (const auto& p : subset)
    for (auto& s : stages) s.baseline->Match(p, &ids);
  double ours_subset = BestOf(2, [&] {
    for (const auto& p : subset) {
      for (auto& s : stages) {
        matches.clear();
        s.set->Match(p, &matches);
      }
    }
  });
  double whole = BestOf(2, [&] {
    for (const auto& p : subset)
      for (auto& s : stages) s.baseline->Match(p, &ids);
  });
  Report(name + "_match_vs_whole_patterns", static_cast<int64_t>(subset.size()), ours_subset,
         "re2_set_match", whole);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::filesystem::path rules_dir = "config/rules";
  std::filesystem::path posts_csv = "../shared/data/feedback/fft_v6_train.csv";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (std::strcmp(argv[i], "--rules") == 0 && i + 1 < argc) {
      rules_dir = argv[++i];
    } else if (std::strcmp(argv[i], "--posts") == 0 && i + 1 < argc) {
      posts_csv = argv[++i];
    } else {
      std::cerr << "usage: bench_rules [--quick] [--rules DIR] [--posts CSV]\n";
      return 2;
    }
  }
  const int runs = quick ? 2 : 5;
  Lcg rng;
  const std::vector<std::string> posts = GeneratePosts(quick ? 20000 : 200000, rng);

  // A generated file of a few thousand rules (about twice as many patterns).
  {
    std::vector<Stage> stages(1);
    stages[0].file = "generated.toml";
    stages[0].text = GenerateRules(quick ? 1000 : 3000, rng);
    Measure("rules_generated", stages, posts, runs);
  }

  // The default rule set: every stage's file, each post through all of them.
  std::error_code ec;
  if (std::filesystem::is_directory(rules_dir, ec)) {
    std::vector<Stage> stages;
    for (const auto& entry : std::filesystem::directory_iterator(rules_dir)) {
      if (entry.path().extension() != ".toml") continue;
      Stage s;
      s.file = entry.path().string();
      std::ifstream in(entry.path(), std::ios::binary);
      std::ostringstream text;
      text << in.rdbuf();
      s.text = text.str();
      s.case_sensitive = ReadCaseSensitive(s.text);
      stages.push_back(std::move(s));
    }
    std::sort(stages.begin(), stages.end(),
              [](const Stage& a, const Stage& b) { return a.file < b.file; });
    std::vector<std::string> comments = ReadCommentPosts(posts_csv, quick ? 20000 : 200000);
    if (comments.empty()) {
      std::cerr << "bench_rules: " << posts_csv << " not readable; default rules measured on "
                << "generated posts\n";
    }
    if (!stages.empty()) {
      Measure(comments.empty() ? "rules_default" : "rules_default_fft_comments", stages,
              comments.empty() ? posts : comments, runs);
    }
  } else {
    std::cerr << "bench_rules: " << rules_dir << " not found; default rule set not measured\n";
  }
  return 0;
}
