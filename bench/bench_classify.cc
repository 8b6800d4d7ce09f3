// The whole classifier (redact, route, topics, sentiment, criticality,
// relevance) with the default configuration, one thread: what issue 3's
// "posts per second per core" means, and each stage on its own over the
// same posts so the cost can be attributed. The baseline in the same run is
// one case-insensitive RE2 scan for a single word over the same texts — the
// cheapest possible look at every byte — so each ratio says how many such
// scans the work costs, whatever the machine.
//
// Posts: about 200 bytes, written for this bench in the voice of the
// platforms and assembled at random from sentences (so texts vary as real
// posts do); one in five names a hospital or trust, one in twenty carries a
// personal identifier, the rest neither.
//
// Output: JSON lines like bench_core (bench, items, seconds,
// items_per_second, baseline, baseline_seconds, ratio, extra fields):
//   classifier_load      Classifier::Load of config/ (every rule file and the
//                        gazetteer compiled); baseline: RE2::Set::Compile
//                        of the rule files' patterns; extra: rules, patterns
//   stage_redact, stage_orgs, stage_topics, stage_sentiment,
//   stage_criticality, stage_relevance
//                        one stage alone over the posts (the rule stages and
//                        the router read the redacted, masked text, as the
//                        classifier does)
//   classify_200b        Classifier::Classify over the posts; extra:
//                        dfa_out_of_memory and fallbacks (rule sets and
//                        router; both should be 0), target_items_per_second
// Usage (from the repository root): bench_classify [--quick]
//   bench_classify --profile STAGE: no timing; one untimed pass over the
//   posts warms every cache (RE2 DFA states, thread-local buffers), then one
//   pass of STAGE (classify, redact, orgs, topics, sentiment, criticality,
//   relevance) is the only code callgrind collects, for instructions per
//   post in the steady state:
//     valgrind --tool=callgrind --collect-atstart=no --dump-instr=no
//       build/bin/bench_classify --profile classify
#include <re2/re2.h>
#include <re2/set.h>
#include <valgrind/callgrind.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstring>
#include <functional>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "classifiers/classifier.h"
#include "classifiers/orgs/org_router.h"
#include "classifiers/redact/redactor.h"
#include "classifiers/rules/rule_set.h"
#include "classifiers/topics/stages.h"

namespace {

using earshot::bench::BestOf;
using earshot::bench::Report;

// Sentences posts are made of: health experiences good and bad, everyday
// chatter that has nothing to do with health, hashtags and numbers.
const char* const kSentences[] = {
    "Spent the whole night in A&E with my dad and nobody told us anything.",
    "Just had my booster at the local pharmacy, in and out in ten minutes.",
    "Can't get a GP appointment for love nor money this week.",
    "The midwives were wonderful to us, could not have asked for more.",
    "Train delayed again this morning, third time this week.",
    "Finally got the results letter after waiting eleven weeks.",
    "Anyone else waiting months for a physio referral?",
    "Lovely walk along the canal after work today.",
    "The staff were kind but clearly stretched to breaking point.",
    "Took about four hours longer than it should have done.",
    "The receptionist was rude and the phone line kept cutting off.",
    "Honestly could not fault the care from start to finish.",
    "The car park was full and the machines only took coins.",
    "Nothing to do with the NHS, just a good day out with the kids.",
    "Thank you all so much.",
    "Not good enough.",
    "Still waiting for a call back.",
    "Feeling grateful tonight.",
    "What a shambles.",
    "#NHS #nhsheroes",
    "Mum has been on a trolley in the corridor since 9am.",
    "The consultant explained everything clearly and took time to listen.",
    "Ward 10 was freezing and there were no blankets anywhere.",
    "Food was cold again, tea was lovely though.",
    "Ambulance took over three hours to arrive for my nan after her fall.",
    "My prescription was wrong twice and the pharmacy blamed the surgery.",
    "Mental health crisis team never rang back like they promised.",
    "Discharged at 2am with no transport home and no explanation.",
    "Brilliant physio, really understood what I needed.",
    "Parking cost more than my lunch, absolute joke.",
    "Rang 111 and they sent an ambulance within the hour, impressed.",
    "The new app for booking appointments does not work at all.",
    "Watched the match at the pub, what a result for United.",
    "Weather is grim again, roll on summer.",
    "New coffee place on the high street is great.",
    "Bin collection missed again, council are useless.",
    "Kids are off school with chickenpox so it is a quiet week.",
    "Waiting list for the hip operation is now eighteen months.",
    "Nurses on the night shift were amazing with my grandad.",
    "They cancelled my operation on the day, second time now.",
    "Why is it so hard to get a dentist round here?",
    "The cleaners do a great job, everything spotless.",
    "Felt listened to for the first time in years.",
    "Was treated with dignity and respect by everyone I met.",
    "Nobody seemed to know what was happening with his medication.",
    "Pain relief took hours to come and he was in agony.",
    "Short staffed again, one nurse for the whole bay.",
    "Video appointment was quick and easy, saved me a trip.",
    "Really poor communication between the ward and the GP.",
    "I do not want to complain but the toilets were filthy.",
    "Happy birthday to my little sister, have a great day!",
    "Does anyone know if the number 52 bus is running today?",
    "Got my flu jab and covid booster at the same time.",
    "Staff at reception were friendly and helpful.",
};

// Sentences that name an organisation the way posts do.
const char* const kNamed[] = {
    "Six hours in A&E at the Northern General last night.",
    "The nurses at Addenbrooke's were so kind to my grandad.",
    "GOSH saved my son's life, forever grateful.",
    "Maternity at the Jessop Wing was excellent.",
    "Leeds General Infirmary sent me someone else's letter again.",
    "Had my scan at the Royal Hallamshire Hospital this morning.",
    "North Bristol NHS Trust cancelled my appointment by text.",
    "Sheffield Teaching Hospitals need more staff on the wards.",
    "The RVI children's ward has been amazing with us.",
    "Great Ormond Street were brilliant with my daughter.",
};

// Personal identifiers, redacted before any stage reads the text.
const char* const kIdentifiers[] = {
    "Call me on 07700 900123 if you can help.",
    "My NHS number is 943 476 5919 if that helps.",
    "Email me at jo.bloggs@example.com please.",
    "We live at S5 7AU, it is a long way to travel.",
};

std::vector<std::string> MakePosts(size_t n) {
  std::mt19937 rng(42);
  std::vector<std::string> posts;
  posts.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    std::string p;
    if (i % 5 == 0) p = kNamed[rng() % std::size(kNamed)];
    if (i % 20 == 7) p = kIdentifiers[rng() % std::size(kIdentifiers)];
    while (p.size() < 170) {
      if (!p.empty()) p += ' ';
      p += kSentences[rng() % std::size(kSentences)];
    }
    posts.push_back(std::move(p));
  }
  return posts;
}

// The text the stages read: redacted, each placeholder blanked (as in
// Classifier::Classify).
std::string Masked(std::string_view post) {
  earshot::redact::Redacted r = earshot::redact::Redact(post);
  for (const auto& red : r.redactions) {
    std::fill(r.text.begin() + red.start, r.text.begin() + red.end, ' ');
  }
  return std::move(r.text);
}

template <typename Stage>
std::shared_ptr<Stage> LoadStage(const std::filesystem::path& file) {
  auto set = earshot::rules::RuleSet::LoadFile(file);
  if (!set.ok()) {
    std::cerr << "bench_classify: " << set.status().message() << "\n";
    std::exit(1);
  }
  auto stage = Stage::Create(*set);
  if (!stage.ok()) {
    std::cerr << "bench_classify: " << stage.status().message() << "\n";
    std::exit(1);
  }
  return std::make_shared<Stage>(std::move(stage).value());
}

// --profile STAGE (see the file comment).
int Profile(const earshot::ClassifierPaths& paths, std::string_view stage) {
  auto loaded = earshot::Classifier::Load(paths);
  auto router = earshot::orgs::OrgRouter::Load(paths.orgs_dir);
  if (!loaded.ok() || !router.ok()) {
    std::cerr << "bench_classify: cannot load " << paths.rules_dir << "\n";
    return 1;
  }
  namespace topics = earshot::topics;
  auto topic = LoadStage<topics::TopicStage>(paths.rules_dir / "topics.toml");
  auto sentiment = LoadStage<topics::SentimentStage>(paths.rules_dir / "sentiment.toml");
  auto criticality = LoadStage<topics::CriticalityStage>(paths.rules_dir / "criticality.toml");
  auto relevance = LoadStage<topics::RelevanceStage>(paths.rules_dir / "relevance.toml");
  const std::vector<std::string> posts = MakePosts(5000);
  std::vector<std::string> masked;
  for (const auto& p : posts) masked.push_back(Masked(p));
  int64_t sink = 0;
  std::function<void()> pass;
  if (stage == "classify") {
    pass = [&] {
      for (const auto& p : posts) sink += (*loaded)->Classify(p).topics.size();
    };
  } else if (stage == "redact") {
    pass = [&] {
      for (const auto& p : posts) sink += earshot::redact::Redact(p).text.size();
    };
  } else if (stage == "orgs") {
    pass = [&] {
      for (const auto& p : masked) sink += (*router)->Route(p).orgs.size();
    };
  } else if (stage == "topics") {
    pass = [&] {
      for (const auto& p : masked) sink += topic->Classify(p).size();
    };
  } else if (stage == "sentiment") {
    pass = [&] {
      for (const auto& p : masked) sink += static_cast<int>(sentiment->Classify(p).sentiment);
    };
  } else if (stage == "criticality") {
    pass = [&] {
      for (const auto& p : masked) sink += criticality->Classify(p).priority;
    };
  } else if (stage == "relevance") {
    pass = [&] {
      for (const auto& p : masked) sink += relevance->Classify(p).health_context;
    };
  } else {
    std::cerr << "bench_classify: unknown stage " << stage << "\n";
    return 2;
  }
  pass();  // warm
  CALLGRIND_TOGGLE_COLLECT;
  pass();
  CALLGRIND_TOGGLE_COLLECT;
  std::cout << "{\"profile\":\"" << stage << "\",\"posts\":" << posts.size() << ",\"sink\":" << sink
            << "}" << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const size_t n = quick ? 20000 : 200000;
  const int runs = quick ? 2 : 3;
  const earshot::ClassifierPaths paths = earshot::DefaultClassifierPaths();
  if (argc > 2 && std::strcmp(argv[1], "--profile") == 0) return Profile(paths, argv[2]);

  // Load: the first load in the process, as at start-up.
  std::shared_ptr<const earshot::Classifier> classifier;
  const double load = BestOf(1, [&] {
    auto loaded = earshot::Classifier::Load(paths);
    if (!loaded.ok()) {
      std::cerr << "bench_classify: " << loaded.status().message() << "\n";
      std::exit(1);
    }
    classifier = *loaded;
  });
  // Baseline: the rule files' distinct patterns compiled into one RE2::Set
  // each, as a plain rules engine would.
  int64_t rules = 0, patterns = 0;
  std::vector<std::vector<std::string>> set_patterns;
  for (const auto& set : classifier->rule_sets()) {
    std::vector<std::string> distinct;
    for (const auto& r : set->rules()) {
      ++rules;
      for (const auto* list : {&r.any, &r.all, &r.none}) {
        distinct.insert(distinct.end(), list->begin(), list->end());
      }
      for (const auto& nc : r.near) distinct.insert(distinct.end(), {nc.a, nc.b});
      if (!r.unless_preceded.empty()) distinct.push_back(r.unless_preceded);
    }
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    patterns += static_cast<int64_t>(distinct.size());
    set_patterns.push_back(std::move(distinct));
  }
  const double set_compile = BestOf(1, [&] {
    for (const auto& list : set_patterns) {
      RE2::Options o;
      o.set_case_sensitive(false);
      o.set_max_mem(int64_t{64} << 20);
      o.set_log_errors(false);
      RE2::Set s(o, RE2::UNANCHORED);
      for (const auto& p : list) s.Add(p, nullptr);
      s.Compile();
    }
  });
  Report("classifier_load", 1, load, "re2_set_compile_rule_patterns", set_compile,
         {{"rules", rules}, {"patterns", patterns}, {"versions", classifier->Versions()}});

  std::vector<std::string> posts = MakePosts(n);
  size_t bytes = 0;
  for (const auto& p : posts) bytes += p.size();
  std::vector<std::string> masked;
  masked.reserve(n);
  for (const auto& p : posts) masked.push_back(Masked(p));

  RE2 word("(?i)\\bnhs\\b");
  int64_t hits = 0;
  const double base = BestOf(runs, [&] {
    hits = 0;
    for (const std::string& p : posts) hits += RE2::PartialMatch(p, word);
  });
  auto report = [&](const std::string& name, double seconds, boost::json::object extra) {
    extra["mean_bytes"] = static_cast<double>(bytes) / static_cast<double>(n);
    Report(name, static_cast<int64_t>(n), seconds, "re2_single_word_scan", base, std::move(extra));
  };

  // Stages alone.
  int64_t count = 0;
  {
    const double t = BestOf(runs, [&] {
      count = 0;
      for (const auto& p : posts) {
        count += static_cast<int64_t>(earshot::redact::Redact(p).redactions.size());
      }
    });
    report("stage_redact", t, {{"redactions", count}});
  }
  auto router = earshot::orgs::OrgRouter::Load(paths.orgs_dir);
  if (!router.ok()) {
    std::cerr << "bench_classify: " << router.status().message() << "\n";
    return 1;
  }
  {
    const double t = BestOf(runs, [&] {
      count = 0;
      for (const auto& p : masked) count += (*router)->Route(p).orgs.size();
    });
    report("stage_orgs", t, {{"orgs_routed", count}});
  }
  namespace topics = earshot::topics;
  auto topic = LoadStage<topics::TopicStage>(paths.rules_dir / "topics.toml");
  {
    const double t = BestOf(runs, [&] {
      count = 0;
      for (const auto& p : masked) count += topic->Classify(p).size();
    });
    report("stage_topics", t, {{"topics", count}});
  }
  auto sentiment = LoadStage<topics::SentimentStage>(paths.rules_dir / "sentiment.toml");
  {
    const double t = BestOf(runs, [&] {
      count = 0;
      for (const auto& p : masked) {
        count += sentiment->Classify(p).sentiment != topics::Sentiment::kNeutral;
      }
    });
    report("stage_sentiment", t, {{"not_neutral", count}});
  }
  auto criticality = LoadStage<topics::CriticalityStage>(paths.rules_dir / "criticality.toml");
  {
    const double t = BestOf(runs, [&] {
      count = 0;
      for (const auto& p : masked) count += criticality->Classify(p).flags.size();
    });
    report("stage_criticality", t, {{"flags", count}});
  }
  auto relevance = LoadStage<topics::RelevanceStage>(paths.rules_dir / "relevance.toml");
  {
    const double t = BestOf(runs, [&] {
      count = 0;
      for (const auto& p : masked) count += relevance->Classify(p).health_context;
    });
    report("stage_relevance", t, {{"health_context", count}});
  }

  // The whole classifier.
  int64_t decisions = 0, relevant = 0;
  const double full = BestOf(runs, [&] {
    decisions = relevant = 0;
    for (const std::string& p : posts) {
      earshot::Classification c = classifier->Classify(p);
      decisions += static_cast<int64_t>(c.orgs.size() + c.topics.size() + c.criticality.size());
      relevant += c.relevant;
    }
  });
  int64_t dfa_oom = 0, fallbacks = (*router)->dfa_fallbacks();
  for (const auto& set : classifier->rule_sets()) {
    dfa_oom += set->stats().dfa_out_of_memory.load();
    fallbacks += set->stats().fallbacks.load();
  }
  for (const auto* stage_set :
       {&topic->rules(), &sentiment->rules(), &criticality->rules(), &relevance->rules()}) {
    dfa_oom += stage_set->stats().dfa_out_of_memory.load();
    fallbacks += stage_set->stats().fallbacks.load();
  }
  report("classify_200b", full,
         {{"decisions", decisions},
          {"relevant", relevant},
          {"dfa_out_of_memory", dfa_oom},
          {"fallbacks", fallbacks},
          {"target_items_per_second", 1e6}});
  return 0;
}
