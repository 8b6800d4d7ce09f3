// Sentiment of social-media posts: the default config/rules/sentiment.toml
// over tests/fixtures/classify/social_sentiment.csv, 164 posts about NHS care
// written for the project (positive, negative, mixed, neutral; news
// headlines, questions, negation, "X but Y"). The set was written before any
// tuning and split in two, alternating within each class: the derivation
// (classifiers/tools/derive_topic_rules.py) reads the "tune" half to choose
// its thresholds and decision-rule weights; the "holdout" half is read only
// here. Both halves are reported; the held-out one is the honest figure.
#include <csv.h>
#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "classifiers/rules/rule_set.h"
#include "classifiers/topics/stages.h"

namespace earshot::topics {
namespace {

namespace fs = std::filesystem;

struct LabelledPost {
  std::string id;
  std::string split;  // "tune" or "holdout"
  std::string sentiment;
  std::string text;
};

// Collects libcsv's fields into records.
struct Records {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> current;
  static void OnField(void* field, size_t size, void* self) {
    static_cast<Records*>(self)->current.emplace_back(static_cast<const char*>(field), size);
  }
  static void OnRecord(int, void* self) {
    auto* r = static_cast<Records*>(self);
    r->rows.push_back(std::move(r->current));
    r->current.clear();
  }
};

std::vector<LabelledPost> ReadPosts() {
  const fs::path path =
      fs::path(EARSHOT_SOURCE_DIR) / "tests" / "fixtures" / "classify" / "social_sentiment.csv";
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::stringstream bytes;
  bytes << in.rdbuf();
  const std::string csv = bytes.str();
  csv_parser parser;
  REQUIRE(csv_init(&parser, CSV_APPEND_NULL) == 0);
  Records records;
  REQUIRE(csv_parse(&parser, csv.data(), csv.size(), Records::OnField, Records::OnRecord,
                    &records) == csv.size());
  csv_fini(&parser, Records::OnField, Records::OnRecord, &records);
  csv_free(&parser);
  REQUIRE(records.rows.size() > 1);
  REQUIRE(records.rows.front() == std::vector<std::string>{"id", "split", "sentiment", "text"});
  std::vector<LabelledPost> posts;
  for (size_t i = 1; i < records.rows.size(); ++i) {
    const auto& r = records.rows[i];
    REQUIRE(r.size() == 4);
    posts.push_back({r[0], r[1], r[2], r[3]});
  }
  return posts;
}

const SentimentStage& DefaultSentiment() {
  static const SentimentStage stage = [] {
    auto set = rules::RuleSet::LoadFile(fs::path(EARSHOT_SOURCE_DIR) / "config" / "rules" /
                                        "sentiment.toml");
    INFO(set.status().ToString());
    REQUIRE(set.ok());
    auto s = SentimentStage::Create(*set);
    INFO(s.status().ToString());
    REQUIRE(s.ok());
    return *s;
  }();
  return stage;
}

constexpr std::array<const char*, 4> kClasses = {"positive", "negative", "mixed", "neutral"};

struct Score {
  int rows = 0;
  int correct = 0;
  std::map<std::string, std::pair<int, int>> per_class;  // class -> (right, support)
  double Accuracy() const { return rows ? static_cast<double>(correct) / rows : 0.0; }
  double Recall(const std::string& c) const {
    auto it = per_class.find(c);
    return it == per_class.end() || it->second.second == 0
               ? 0.0
               : static_cast<double>(it->second.first) / it->second.second;
  }
  std::string Describe(const std::string& name) const {
    char line[256];
    std::snprintf(line, sizeof line,
                  "%s: accuracy %.3f (%d/%d); recall positive %.3f, negative %.3f, mixed %.3f, "
                  "neutral %.3f",
                  name.c_str(), Accuracy(), correct, rows, Recall("positive"), Recall("negative"),
                  Recall("mixed"), Recall("neutral"));
    return line;
  }
};

// Scores the posts of `split` ("" for all) and lists the misses.
Score ScoreSplit(const std::vector<LabelledPost>& posts, const std::string& split,
                 std::string* misses) {
  Score s;
  for (const LabelledPost& p : posts) {
    if (!split.empty() && p.split != split) continue;
    const std::string got(SentimentName(DefaultSentiment().Classify(p.text).sentiment));
    ++s.rows;
    auto& c = s.per_class[p.sentiment];
    ++c.second;
    if (got == p.sentiment) {
      ++s.correct;
      ++c.first;
    } else if (misses) {
      *misses +=
          "  " + p.split + " #" + p.id + " " + p.sentiment + " -> " + got + ": " + p.text + "\n";
    }
  }
  return s;
}

TEST_CASE("social sentiment set: labelled posts, balanced halves", "[sentiment][social]") {
  const std::vector<LabelledPost> posts = ReadPosts();
  CHECK(posts.size() >= 150);
  std::map<std::string, std::map<std::string, int>> counts;
  for (const LabelledPost& p : posts) ++counts[p.split][p.sentiment];
  REQUIRE(counts.size() == 2);
  for (const char* c : kClasses) {
    INFO(c);
    CHECK(counts["tune"][c] >= 15);
    CHECK(counts["holdout"][c] >= 15);
    // Alternating within each class: the halves differ by at most one post.
    CHECK(std::abs(counts["tune"][c] - counts["holdout"][c]) <= 1);
  }
}

TEST_CASE("social sentiment set: accuracy >= 0.85, every class recall >= 0.6",
          "[sentiment][social]") {
  const std::vector<LabelledPost> posts = ReadPosts();
  std::string misses;
  const Score all = ScoreSplit(posts, "", &misses);
  const Score tune = ScoreSplit(posts, "tune", nullptr);
  const Score holdout = ScoreSplit(posts, "holdout", nullptr);
  WARN(all.Describe("all") << "\n"
                           << tune.Describe("tune (thresholds chosen on it)") << "\n"
                           << holdout.Describe("holdout (never read by the derivation)"));
  INFO("misses:\n" << misses);
  CHECK(all.Accuracy() >= 0.85);
  for (const char* c : kClasses) {
    INFO(c);
    CHECK(all.Recall(c) >= 0.6);
    // The held-out half falls short of the bar (docs/rules.md, "Sentiment":
    // 0.79, neutral recall 0.56); these floors keep it from sliding further
    // unnoticed.
    CHECK(holdout.Recall(c) >= 0.55);
  }
  CHECK(holdout.Accuracy() >= 0.78);
}

TEST_CASE("social sentiment: negation, contrast and news", "[sentiment][social]") {
  struct Case {
    const char* text;
    Sentiment expected;
  };
  // Written for this test, not taken from the set above.
  const std::vector<Case> cases = {
      {"Couldn't fault the physio team this week, kind and on time.", Sentiment::kPositive},
      {"The receptionist was not rude at all, she sorted my repeat prescription in minutes.",
       Sentiment::kPositive},
      {"Three hours in A&E with my son and nobody explained anything. Disgraceful.",
       Sentiment::kNegative},
      {"Lovely midwives, but the ward was filthy and the buzzer went unanswered.",
       Sentiment::kMixed},
      {"Trust announces new chief nurse.", Sentiment::kNeutral},
      {"Does anyone know if the walk-in centre is open on Sunday?", Sentiment::kNeutral},
  };
  for (const Case& c : cases) {
    const SentimentDecision d = DefaultSentiment().Classify(c.text);
    INFO("\"" << c.text << "\" -> " << SentimentName(d.sentiment) << " (positive "
              << d.positive_score << ", negative " << d.negative_score << ")");
    CHECK(d.sentiment == c.expected);
  }
}

}  // namespace
}  // namespace earshot::topics
