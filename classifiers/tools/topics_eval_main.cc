// earshot_topics_eval: evaluates a topics rule file (and optionally a
// sentiment rule file) against labelled CSVs in the shared feedback format.
// The same figures as `earshot rules eval`, without the rest of the binary, so
// classifiers/tools/eval_topics.py can score rules re-derived on each
// cross-validation fold.
//
//   earshot_topics_eval --topics T.toml [--sentiment S.toml] [--json]
//                       [--min-support N] [--rows] FILE.csv...
//
// --json prints one JSON object per file (EvalReportToJson); --rows prints,
// per row, the gold and predicted labels as JSON lines to stderr (the row's
// text is not printed).
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <iostream>

#include "classifiers/rules/rule_set.h"
#include "classifiers/topics/eval.h"
#include "classifiers/topics/stages.h"

namespace {

using earshot::topics::EvalRow;

void PrintRow(const EvalRow& row) {
  boost::json::array gold, predicted;
  for (const auto* l : row.gold) gold.push_back(boost::json::string(l->name));
  for (const auto* l : row.predicted) predicted.push_back(boost::json::string(l->name));
  boost::json::object o{
      {"line", row.line}, {"gold", std::move(gold)}, {"predicted", std::move(predicted)}};
  if (row.gold_sentiment) o["gold_sentiment"] = row.gold_sentiment;
  if (row.sentiment) {
    o["sentiment"] = std::string(earshot::topics::SentimentName(row.sentiment->sentiment));
    o["positive_score"] = row.sentiment->positive_score;
    o["negative_score"] = row.sentiment->negative_score;
  }
  std::cerr << boost::json::serialize(o) << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Evaluate topic and sentiment rules against labelled feedback CSVs"};
  std::string topics_file;
  std::string sentiment_file;
  std::vector<std::string> csv_files;
  bool json = false;
  bool rows = false;
  int64_t min_support = 15;
  app.add_option("--topics", topics_file, "topics rule file (TOML)")->required();
  app.add_option("--sentiment", sentiment_file, "sentiment rule file (TOML)");
  app.add_option("--min-support", min_support, "labels with fewer gold examples are not scored")
      ->capture_default_str();
  app.add_flag("--json", json, "print JSON instead of a table");
  app.add_flag("--rows", rows, "print each row's gold and predicted labels to stderr");
  app.add_option("files", csv_files, "labelled CSV files")->required();
  CLI11_PARSE(app, argc, argv);

  auto topic_rules = earshot::rules::RuleSet::LoadFile(topics_file);
  if (!topic_rules.ok()) {
    std::cerr << topic_rules.status().ToString() << "\n";
    return 2;
  }
  auto topics = earshot::topics::TopicStage::Create(*topic_rules);
  if (!topics.ok()) {
    std::cerr << topics.status().ToString() << "\n";
    return 2;
  }
  std::optional<earshot::topics::SentimentStage> sentiment;
  if (!sentiment_file.empty()) {
    auto sentiment_rules = earshot::rules::RuleSet::LoadFile(sentiment_file);
    if (!sentiment_rules.ok()) {
      std::cerr << sentiment_rules.status().ToString() << "\n";
      return 2;
    }
    auto stage = earshot::topics::SentimentStage::Create(*sentiment_rules);
    if (!stage.ok()) {
      std::cerr << stage.status().ToString() << "\n";
      return 2;
    }
    sentiment.emplace(std::move(stage).value());
  }

  earshot::topics::EvalOptions options;
  options.min_support = min_support;
  if (rows) options.on_row = PrintRow;
  int rc = 0;
  for (const std::string& file : csv_files) {
    auto report =
        earshot::topics::EvaluateTopics(file, *topics, sentiment ? &*sentiment : nullptr, options);
    if (!report.ok()) {
      std::cerr << report.status().ToString() << "\n";
      rc = 1;
      continue;
    }
    std::cout << (json ? earshot::topics::EvalReportToJson(*report) + "\n"
                       : earshot::topics::EvalReportToText(*report));
  }
  return rc;
}
