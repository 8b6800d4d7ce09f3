// Organisation routing benchmarks: OrgRouter::Load and OrgRouter::Route over
// the default config/orgs, each against a baseline doing the irreducible
// part in the same run: a bare RE2::Set of the same patterns (compiled, and
// matched over the same texts). Ratios are what to watch.
//
// Output: one JSON object per line on stdout:
//   {"bench":NAME,"items":N,"seconds":S,"items_per_second":R,
//    "baseline":NAME,"baseline_seconds":B,"ratio":S/B, ...extra fields}
// Usage: bench_orgs [--quick] [--orgs DIR]   (DIR defaults to config/orgs of
// the source tree)
#include <re2/re2.h>
#include <re2/set.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "classifiers/orgs/org_router.h"

namespace {

using earshot::bench::BestOf;
using earshot::bench::Report;

using Clock = std::chrono::steady_clock;

// Posts of about 200 bytes (a typical short post) that name no
// organisation: words drawn from a few hundred everyday and health words, so
// the text varies as real posts do (repeated sentences would flatter the
// DFA, whose cache then holds every state it meets).
std::vector<std::string> PostsWithoutNames(int count, uint32_t seed) {
  static const char* kWords[] = {
      "the",          "a",           "and",          "to",           "of",
      "in",           "was",         "is",           "my",           "we",
      "they",         "it",          "for",          "on",           "at",
      "with",         "but",         "not",          "no",           "so",
      "had",          "have",        "been",         "were",         "our",
      "his",          "her",         "their",        "this",         "that",
      "after",        "before",      "again",        "still",        "never",
      "always",       "just",        "really",       "very",         "too",
      "all",          "every",       "some",         "nobody",       "everyone",
      "staff",        "nurse",       "nurses",       "doctor",       "doctors",
      "consultant",   "surgeon",     "midwife",      "midwives",     "porter",
      "receptionist", "paramedics",  "ambulance",    "ward",         "wards",
      "bed",          "beds",        "trolley",      "corridor",     "waiting",
      "waited",       "hours",       "minutes",      "days",         "weeks",
      "months",       "night",       "morning",      "today",        "yesterday",
      "tonight",      "appointment", "appointments", "cancelled",    "letter",
      "letters",      "phone",       "called",       "rang",         "answered",
      "email",        "text",        "results",      "scan",         "x-ray",
      "bloods",       "test",        "tests",        "referral",     "referred",
      "discharge",    "discharged",  "admitted",     "operation",    "surgery",
      "clinic",       "outpatients", "pharmacy",     "prescription", "medication",
      "pain",         "relief",      "dad",          "mum",          "nan",
      "grandad",      "son",         "daughter",     "husband",      "wife",
      "baby",         "toddler",     "brother",      "sister",       "friend",
      "neighbour",    "kind",        "rude",         "caring",       "brilliant",
      "awful",        "terrible",    "amazing",      "lovely",       "shocking",
      "professional", "dirty",       "clean",        "cold",         "hot",
      "busy",         "quiet",       "slow",         "quick",        "late",
      "early",        "long",        "short",        "parking",      "car",
      "park",         "machine",     "cards",        "cash",         "food",
      "drink",        "water",       "toilet",       "shower",       "noise",
      "sleep",        "visiting",    "visitors",     "time",         "times",
      "policy",       "system",      "computer",     "notes",        "records",
      "lost",         "found",       "missing",      "wrong",        "right",
      "name",         "date",        "birth",        "address",      "explained",
      "listened",     "ignored",     "rushed",       "helped",       "saved",
      "life",         "thank",       "thanks",       "you",          "grateful",
      "complaint",    "complain",    "feedback",     "survey",       "manager",
      "team",         "service",     "services",     "care",         "health",
      "mental",       "crisis",      "support",      "worker",       "social",
      "community",    "district",    "home",         "visit",        "visits",
      "gp",           "surgery",     "dentist",      "optician",     "eye",
      "ear",          "knee",        "hip",          "back",         "chest",
      "heart",        "breathing",   "fall",         "fell",         "broken",
      "wrist",        "ankle",       "head",         "injury",       "stitches",
      "plaster",      "cast",        "crutches",     "wheelchair",   "lift",
      "stairs",       "door",        "entrance",     "sign",         "signs",
      "lost",         "confusing",   "maze",         "building",     "old",
      "new",          "leaking",     "roof",         "window",       "heating",
      "cold",         "blanket",     "pillow",       "tea",          "toast",
      "sandwich",     "chips",       "menu",         "diet",         "allergy",
      "diabetes",     "insulin",     "asthma",       "inhaler",      "cancer",
      "chemo",        "treatment",   "plan",         "diagnosis",    "waiting",
      "list",         "months",      "year",         "years",        "pain",
      "worse",        "better",      "same",         "again",        "week",
      "fortnight",    "weekend",     "bank",         "holiday",      "strike",
      "strikes",      "junior",      "senior",       "agency",       "bank",
      "shift",        "shifts",      "tired",        "exhausted",    "understaffed",
      "overwhelmed",  "queue",       "queues",       "chairs",       "seat",
      "floor",
  };
  std::mt19937 rng(seed);
  std::vector<std::string> posts;
  posts.reserve(count);
  const int n = static_cast<int>(sizeof kWords / sizeof *kWords);
  for (int i = 0; i < count; ++i) {
    std::string post;
    while (post.size() < 195) {
      if (!post.empty()) post += (rng() % 9 == 0) ? ". " : " ";
      post += kWords[rng() % n];
    }
    posts.push_back(std::move(post));
  }
  return posts;
}

// One post in ten names an organisation, the way posts do.
std::vector<std::string> MixedPosts(int count, uint32_t seed) {
  static const char* kNamed[] = {
      "Six hours in A&E at the Northern General last night and still no bed for my dad.",
      "The nurses at Addenbrooke's were so kind to my grandad in his last days.",
      "GOSH saved my son's life, forever grateful to the cardiac team there.",
      "Queen Elizabeth Hospital in Gateshead was clean and the nurses friendly.",
      "Guy's A&E was rammed today, waited 5 hours to be seen by anyone.",
      "St Mary's Hospital was very good with me, thank you to the team.",
      "North Bristol NHS Trust sent me someone else's letter, again.",
      "New visiting times are up at https://www.sth.nhs.uk/patients/visiting",
  };
  auto posts = PostsWithoutNames(count, seed);
  std::mt19937 rng(seed + 1);
  const int n = static_cast<int>(sizeof kNamed / sizeof *kNamed);
  for (size_t i = 0; i < posts.size(); i += 10) {
    posts[i] = std::string(kNamed[rng() % n]) + " " + posts[i].substr(0, 120);
    posts[i].resize(std::min<size_t>(posts[i].size(), 200));
  }
  return posts;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::filesystem::path orgs_dir =
      std::filesystem::path(__FILE__).parent_path().parent_path() / "config" / "orgs";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (std::strcmp(argv[i], "--orgs") == 0 && i + 1 < argc) {
      orgs_dir = argv[++i];
    } else {
      std::cerr << "usage: bench_orgs [--quick] [--orgs DIR]\n";
      return 2;
    }
  }
  const int runs = quick ? 2 : 5;

  // Start-up: the whole gazetteer read and compiled, against compiling a
  // bare RE2::Set of the same patterns.
  std::shared_ptr<const earshot::orgs::OrgRouter> router;
  double load = BestOf(runs, [&] {
    auto loaded = earshot::orgs::OrgRouter::Load(orgs_dir);
    if (!loaded.ok()) {
      std::cerr << "bench_orgs: " << loaded.status().ToString() << "\n";
      std::exit(1);
    }
    router = *loaded;
  });
  const std::vector<std::string> patterns = router->patterns();
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(int64_t{512} << 20);
  std::unique_ptr<RE2::Set> bare;
  double bare_compile = BestOf(runs, [&] {
    bare = std::make_unique<RE2::Set>(options, RE2::UNANCHORED);
    for (const auto& p : patterns) bare->Add(p, nullptr);
    bare->Compile();
  });
  Report("orgs_load", static_cast<int64_t>(patterns.size()), load, "re2_set_compile", bare_compile,
         {{"version", router->version()}});

  auto route_bench = [&](const std::string& name, const std::vector<std::string>& posts) {
    size_t bytes = 0;
    for (const auto& p : posts) bytes += p.size();
    int64_t routed = 0;
    double ours = BestOf(runs, [&] {
      routed = 0;
      for (const auto& p : posts) routed += static_cast<int64_t>(router->Route(p).orgs.size());
    });
    int64_t matched = 0;
    std::vector<int> hits;
    double baseline = BestOf(runs, [&] {
      matched = 0;
      for (const auto& p : posts) {
        hits.clear();
        matched += bare->Match(p, &hits) ? 1 : 0;
      }
    });
    Report(name, static_cast<int64_t>(posts.size()), ours, "re2_set_match_same_patterns", baseline,
           {{"mean_bytes", static_cast<double>(bytes) / posts.size()},
            {"organisations_routed", routed},
            {"baseline_posts_matched", matched},
            {"dfa_fallbacks", router->dfa_fallbacks()}});
  };
  const int count = quick ? 20000 : 200000;
  route_bench("orgs_route_no_mention", PostsWithoutNames(count, 7));
  route_bench("orgs_route_one_in_ten_named", MixedPosts(count, 11));
  return 0;
}
