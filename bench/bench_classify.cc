// The whole classifier (redact, route, topics, sentiment, criticality,
// relevance) with the default configuration, one thread: what issue 3's
// "posts per second per core" means. The baseline in the same run is one
// case-insensitive RE2 scan for a single word over the same texts — the
// cheapest possible look at every byte — so the ratio says how many such
// scans our classification costs, whatever the machine.
//
// Output: JSON lines like bench_core (bench, items, seconds,
// items_per_second, baseline, baseline_seconds, ratio) plus, for the load,
// the compile time and, for matching, the DFA out-of-memory count.
// Usage (from the repository root): bench_classify [--quick]
#include <re2/re2.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstring>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "classifiers/classifier.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// ~200-byte posts in the voice of the platforms, written for this bench.
std::vector<std::string> MakePosts(size_t n) {
  const char* openings[] = {
      "Spent the whole night in A&E at the Northern General with my dad, ",
      "Just had my booster at the local pharmacy, ",
      "Can't get a GP appointment for love nor money this week, ",
      "The midwives at the Jessop Wing were wonderful to us, ",
      "Train delayed again at Victoria station this morning, ",
      "Finally got the results letter from Addenbrooke's, ",
      "Anyone else waiting months for a physio referral? ",
      "Lovely walk along the canal after work today, ",
  };
  const char* middles[] = {
      "the staff were kind but clearly stretched and nobody told us anything ",
      "which took about four hours longer than it should have done ",
      "the receptionist was rude and the phone line kept cutting off ",
      "and honestly I could not fault the care from start to finish ",
      "the car park was full and the machines only took coins ",
      "nothing to do with the NHS, just a good day out ",
  };
  const char* endings[] = {
      "#NHS",           "thank you all.",    "not good enough.",
      "still waiting.", "feeling grateful.", "what a shambles.",
  };
  std::mt19937 rng(42);
  std::vector<std::string> posts;
  posts.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    std::string p = openings[rng() % std::size(openings)];
    p += middles[rng() % std::size(middles)];
    p += endings[rng() % std::size(endings)];
    posts.push_back(std::move(p));
  }
  return posts;
}

void Report(boost::json::object o) { std::cout << boost::json::serialize(o) << std::endl; }

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const size_t n = quick ? 20000 : 200000;

  auto start = Clock::now();
  auto classifier = earshot::Classifier::Load(earshot::DefaultClassifierPaths());
  double load_seconds = Seconds(start);
  if (!classifier.ok()) {
    std::cerr << "bench_classify: " << classifier.status().message() << "\n";
    return 1;
  }
  Report({{"bench", "classifier_load"},
          {"seconds", load_seconds},
          {"versions", (*classifier)->Versions()}});

  std::vector<std::string> posts = MakePosts(n);
  size_t bytes = 0;
  for (const auto& p : posts) bytes += p.size();

  int64_t decisions = 0;
  double best = 1e300;
  for (int run = 0; run < (quick ? 2 : 3); ++run) {
    start = Clock::now();
    decisions = 0;
    for (const std::string& p : posts) {
      earshot::Classification c = (*classifier)->Classify(p);
      decisions += static_cast<int64_t>(c.orgs.size() + c.topics.size() + c.criticality.size());
    }
    best = std::min(best, Seconds(start));
  }

  RE2 word("(?i)\\bnhs\\b");
  double base = 1e300;
  int64_t hits = 0;
  for (int run = 0; run < (quick ? 2 : 3); ++run) {
    start = Clock::now();
    hits = 0;
    for (const std::string& p : posts) hits += RE2::PartialMatch(p, word);
    base = std::min(base, Seconds(start));
  }

  int64_t dfa_oom = 0;
  for (const auto& set : (*classifier)->rule_sets()) {
    dfa_oom += set->stats().dfa_out_of_memory.load();
  }
  Report({{"bench", "classify_200b"},
          {"items", static_cast<int64_t>(n)},
          {"mean_bytes", static_cast<double>(bytes) / n},
          {"seconds", best},
          {"items_per_second", n / best},
          {"decisions", decisions},
          {"dfa_out_of_memory", dfa_oom},
          {"baseline", "re2_single_word_scan"},
          {"baseline_seconds", base},
          {"baseline_hits", hits},
          {"ratio", best / base}});
  return 0;
}
