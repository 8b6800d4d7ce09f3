// Measuring the topic and sentiment rules against a labelled CSV in the
// shared feedback format (../shared/data/feedback, PROVENANCE.md there): one
// comment per row in the column "FFT answer", its sentiment in "Comment
// sentiment" (1 very positive ... 5 very negative, blank when unlabelled) and
// one 0/1 column per topic of the v6 framework. v6 columns are mapped to
// QDC sub-categories (merged ones included, see V6ToQdc); columns with no QDC
// counterpart are not scored.
//
// What is measured (the figures `earshot rules eval FILE.csv` prints):
// - per topic label: support, predictions, true positives, precision,
//   recall, F1; macro-F1 is the mean F1 over labels with at least
//   `min_support` gold examples in the file;
// - sentiment accuracy over rows with a sentiment: 1-2 positive, 3 mixed,
//   4-5 negative. The file has no neutral class, so a "neutral" prediction
//   is always counted wrong.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "classifiers/topics/stages.h"
#include "crawler/core/status.h"

namespace earshot::topics {

// The QDC sub-category a v6-framework column was merged into
// ("Staff responsiveness" -> "Staffing levels & responsiveness"), or the
// column name itself when it is not one of the merged columns.
std::string_view V6ToQdc(std::string_view column);

struct LabelEval {
  std::string name;      // QDC sub-category
  std::string category;  // its QDC category
  int64_t support = 0;   // rows whose gold labels include it
  int64_t predicted = 0;
  int64_t true_positives = 0;
  double precision = 0;  // 0 when nothing was predicted
  double recall = 0;     // 0 when support is 0
  double f1 = 0;
  bool scored = false;  // support >= min_support: counts towards macro-F1
};

// One evaluated row, for callers that want to look at mistakes.
struct EvalRow {
  int64_t line = 0;  // 1-based record number in the file (header = 1)
  std::string_view text;
  std::vector<const rules::Label*> gold;         // topics labelled in the file
  std::vector<const rules::Label*> predicted;    // topics the stage gave
  int gold_sentiment = 0;                        // 1..5, 0 when unlabelled
  const SentimentDecision* sentiment = nullptr;  // null without a sentiment stage
};

struct EvalOptions {
  int64_t min_support = 15;
  // Called for every data row, in file order (optional).
  std::function<void(const EvalRow&)> on_row;
};

struct EvalReport {
  std::string file;
  int64_t rows = 0;
  std::vector<LabelEval> labels;              // one per topics label, in declaration order
  std::vector<std::string> unscored_columns;  // topic columns with no QDC label
  int64_t min_support = 0;                    // EvalOptions::min_support used
  int scored_labels = 0;
  double macro_f1 = 0;
  // Sentiment (zero when no sentiment stage was given).
  int64_t sentiment_rows = 0;  // rows with a 1-5 sentiment
  int64_t sentiment_correct = 0;
  double sentiment_accuracy = 0;
  // sentiment_confusion[gold][predicted]: gold 0 positive, 1 mixed,
  // 2 negative; predicted in Sentiment order (neutral, positive, negative,
  // mixed).
  std::array<std::array<int64_t, 4>, 3> sentiment_confusion{};
};

// Reads `csv_file` (UTF-8, optional BOM, RFC 4180 quoting with newlines in
// cells) and evaluates `topics` and, when given, `sentiment` on every row.
// Errors: NotFound/IoError for the file, ParseError for malformed CSV or a
// missing "FFT answer" column.
Result<EvalReport> EvaluateTopics(const std::filesystem::path& csv_file, const TopicStage& topics,
                                  const SentimentStage* sentiment, const EvalOptions& options = {});

// The same over CSV text held in memory; `file_name` is used in messages.
Result<EvalReport> EvaluateTopicsText(std::string_view csv_text, std::string_view file_name,
                                      const TopicStage& topics, const SentimentStage* sentiment,
                                      const EvalOptions& options = {});

// The report as one JSON object: file, rows, macro_f1, scored_labels, min_support,
// labels [{name, category, support, predicted, true_positives, precision,
// recall, f1, scored}], unscored_columns, sentiment {rows, correct, accuracy,
// confusion {gold: {predicted: count}}}.
std::string EvalReportToJson(const EvalReport& report);

// A human-readable table of the same figures.
std::string EvalReportToText(const EvalReport& report);

}  // namespace earshot::topics
