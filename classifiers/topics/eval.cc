#include "classifiers/topics/eval.h"

#include <csv.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

namespace earshot::topics {
namespace {

// PROVENANCE.md of ../shared/data: v6 sub-categories merged in QDC.
constexpr std::pair<std::string_view, std::string_view> kV6Merged[] = {
    {"Number & deployment of staff", "Staffing levels & responsiveness"},
    {"Staff responsiveness", "Staffing levels & responsiveness"},
    {"Staff continuity", "Continuity of care"},
    {"Referals & continuity of care", "Continuity of care"},
    {"Diagnosis & triage", "Continuity of care"},
    {"Environment & Facilities", "Environment, facilities & equipment"},
    {"Provision of medical equipment", "Environment, facilities & equipment"},
    {"Existence of services", "Timeliness of care"},
};

// Columns of the feedback format that are not topics.
constexpr std::string_view kMetaColumns[] = {
    "Comment ID",
    "Trust",
    "Respondent ID",
    "Date",
    "Service type 1",
    "Service type 2",
    "FFT categorical answer",
    "FFT question",
    "FFT answer",
    "Person identifiable info?",
    "Comment sentiment",
};
constexpr std::string_view kTextColumn = "FFT answer";
constexpr std::string_view kSentimentColumn = "Comment sentiment";

// Collects records from libcsv's callbacks.
struct CsvReader {
  std::vector<std::string> fields;
  int64_t record_count = 0;
  // Called once per complete record; records are consumed as they come so
  // the file is never held twice.
  std::function<Status(std::vector<std::string>&)> on_record;
  Status status;

  static void OnField(void* data, size_t len, void* self) {
    auto* r = static_cast<CsvReader*>(self);
    r->fields.emplace_back(data ? static_cast<const char*>(data) : "", data ? len : 0);
  }
  static void OnRecord(int /*terminator*/, void* self) {
    auto* r = static_cast<CsvReader*>(self);
    ++r->record_count;
    if (r->status.ok()) r->status = r->on_record(r->fields);
    r->fields.clear();
  }
};

bool Truthy(std::string_view cell) {
  while (!cell.empty() && (cell.front() == ' ' || cell.front() == '\t')) cell.remove_prefix(1);
  while (!cell.empty() && (cell.back() == ' ' || cell.back() == '\t' || cell.back() == '\r')) {
    cell.remove_suffix(1);
  }
  if (cell.empty()) return false;
  if (cell == "true" || cell == "TRUE" || cell == "True") return true;
  // "1", "1.0", "2": any non-zero number; "0", "0.0": false.
  for (char c : cell) {
    if (c >= '1' && c <= '9') return true;
    if (c != '0' && c != '.') return false;
  }
  return false;
}

// 1..5 from "1", "1.0", " 4 "; 0 otherwise.
int SentimentValue(std::string_view cell) {
  while (!cell.empty() && cell.front() == ' ') cell.remove_prefix(1);
  if (cell.empty() || cell.front() < '1' || cell.front() > '5') return 0;
  const int v = cell.front() - '0';
  cell.remove_prefix(1);
  if (!cell.empty() && cell.front() == '.') {
    cell.remove_prefix(1);
    while (!cell.empty() && cell.front() == '0') cell.remove_prefix(1);
  }
  while (!cell.empty() && (cell.front() == ' ' || cell.front() == '\r')) cell.remove_prefix(1);
  return cell.empty() ? v : 0;
}

// 0 positive, 1 mixed, 2 negative.
int GoldClass(int sentiment) { return sentiment <= 2 ? 0 : sentiment == 3 ? 1 : 2; }

Sentiment GoldSentiment(int sentiment) {
  return sentiment <= 2   ? Sentiment::kPositive
         : sentiment == 3 ? Sentiment::kMixed
                          : Sentiment::kNegative;
}

double Ratio(int64_t a, int64_t b) {
  return b > 0 ? static_cast<double>(a) / static_cast<double>(b) : 0.0;
}

class Evaluation {
 public:
  Evaluation(std::string_view file_name, const TopicStage& topics, const SentimentStage* sentiment,
             const EvalOptions& options)
      : topics_(topics), sentiment_(sentiment), options_(options) {
    report_.file = std::string(file_name);
    report_.min_support = options.min_support;
    const auto& labels = topics.rules().labels();
    for (const rules::Label& l : labels) {
      report_.labels.push_back({.name = l.name, .category = l.category});
    }
  }

  Status OnRecord(std::vector<std::string>& fields) {
    ++line_;
    if (line_ == 1) return ReadHeader(fields);
    // A blank line between records is not a row.
    if (fields.size() == 1 && fields[0].empty()) return Status::Ok();
    return ScoreRow(fields);
  }

  EvalReport Finish() {
    double sum = 0;
    for (LabelEval& l : report_.labels) {
      l.precision = Ratio(l.true_positives, l.predicted);
      l.recall = Ratio(l.true_positives, l.support);
      l.f1 = l.precision + l.recall > 0 ? 2 * l.precision * l.recall / (l.precision + l.recall) : 0;
      l.scored = l.support >= options_.min_support;
      if (l.scored) {
        ++report_.scored_labels;
        sum += l.f1;
      }
    }
    report_.macro_f1 = report_.scored_labels ? sum / report_.scored_labels : 0;
    report_.sentiment_accuracy = Ratio(report_.sentiment_correct, report_.sentiment_rows);
    return std::move(report_);
  }

  bool saw_header() const { return line_ >= 1; }

 private:
  Status ReadHeader(std::vector<std::string>& header) {
    if (!header.empty() && header[0].rfind("\xEF\xBB\xBF", 0) == 0) header[0].erase(0, 3);
    const auto& labels = topics_.rules().labels();
    for (size_t i = 0; i < header.size(); ++i) {
      const std::string& name = header[i];
      if (name == kTextColumn) text_column_ = static_cast<int>(i);
      if (name == kSentimentColumn) sentiment_column_ = static_cast<int>(i);
      if (std::find(std::begin(kMetaColumns), std::end(kMetaColumns), name) !=
          std::end(kMetaColumns)) {
        continue;
      }
      const rules::Label* label = topics_.rules().FindLabel(V6ToQdc(name));
      if (label) {
        label_columns_.push_back({static_cast<int>(i), static_cast<int>(label - labels.data())});
      } else if (sentiment_column_ >= 0) {
        // Past the sentiment column every column is a topic.
        report_.unscored_columns.push_back(name);
      }
    }
    if (text_column_ < 0) {
      return Status::ParseError(report_.file + ": no \"" + std::string(kTextColumn) +
                                "\" column in the header");
    }
    return Status::Ok();
  }

  Status ScoreRow(const std::vector<std::string>& fields) {
    ++report_.rows;
    const auto& labels = topics_.rules().labels();
    auto cell = [&](int column) -> std::string_view {
      return column >= 0 && static_cast<size_t>(column) < fields.size()
                 ? std::string_view(fields[column])
                 : std::string_view();
    };
    const std::string_view text = cell(text_column_);

    gold_.assign(labels.size(), false);
    for (const auto& [column, label] : label_columns_) {
      if (Truthy(cell(column))) gold_[label] = true;
    }
    predicted_.assign(labels.size(), false);
    for (const LabelDecision& d : topics_.Classify(text)) {
      predicted_[static_cast<size_t>(d.label - labels.data())] = true;
    }
    for (size_t i = 0; i < labels.size(); ++i) {
      LabelEval& l = report_.labels[i];
      l.support += gold_[i];
      l.predicted += predicted_[i];
      l.true_positives += gold_[i] && predicted_[i];
    }

    std::optional<SentimentDecision> sentiment;
    const int gold_sentiment = sentiment_column_ >= 0 ? SentimentValue(cell(sentiment_column_)) : 0;
    if (sentiment_) {
      sentiment = sentiment_->Classify(text);
      if (gold_sentiment) {
        ++report_.sentiment_rows;
        report_.sentiment_correct += sentiment->sentiment == GoldSentiment(gold_sentiment);
        ++report_.sentiment_confusion[GoldClass(gold_sentiment)]
                                     [static_cast<int>(sentiment->sentiment)];
      }
    }

    if (options_.on_row) {
      EvalRow row{.line = line_, .text = text, .gold_sentiment = gold_sentiment};
      for (size_t i = 0; i < labels.size(); ++i) {
        if (gold_[i]) row.gold.push_back(&labels[i]);
        if (predicted_[i]) row.predicted.push_back(&labels[i]);
      }
      if (sentiment) row.sentiment = &*sentiment;
      options_.on_row(row);
    }
    return Status::Ok();
  }

  const TopicStage& topics_;
  const SentimentStage* sentiment_;
  const EvalOptions& options_;
  EvalReport report_;
  int64_t line_ = 0;
  int text_column_ = -1;
  int sentiment_column_ = -1;
  std::vector<std::pair<int, int>> label_columns_;  // (column, label index)
  std::vector<bool> gold_;
  std::vector<bool> predicted_;
};

// Feeds `chunks` of CSV bytes through libcsv into `eval`.
template <typename NextChunk>
Result<EvalReport> Run(std::string_view file_name, Evaluation& eval, NextChunk next_chunk) {
  csv_parser parser;
  if (csv_init(&parser, CSV_APPEND_NULL) != 0) {
    return Status::Internal(std::string(file_name) + ": cannot initialise libcsv");
  }
  CsvReader reader;
  reader.on_record = [&](std::vector<std::string>& fields) { return eval.OnRecord(fields); };
  std::string_view chunk;
  Status read_status;
  while (reader.status.ok() && next_chunk(&chunk, &read_status) && !chunk.empty()) {
    if (csv_parse(&parser, chunk.data(), chunk.size(), CsvReader::OnField, CsvReader::OnRecord,
                  &reader) != chunk.size()) {
      const std::string error = csv_strerror(csv_error(&parser));
      csv_free(&parser);
      return Status::ParseError(std::string(file_name) + ": record " +
                                std::to_string(reader.record_count + 1) + ": " + error);
    }
  }
  if (reader.status.ok() && read_status.ok()) {
    csv_fini(&parser, CsvReader::OnField, CsvReader::OnRecord, &reader);
  }
  csv_free(&parser);
  EARSHOT_RETURN_IF_ERROR(read_status);
  EARSHOT_RETURN_IF_ERROR(reader.status);
  if (!eval.saw_header())
    return Status::ParseError(std::string(file_name) + ": empty file, no header");
  return eval.Finish();
}

}  // namespace

std::string_view V6ToQdc(std::string_view column) {
  for (const auto& [v6, qdc] : kV6Merged) {
    if (v6 == column) return qdc;
  }
  return column;
}

Result<EvalReport> EvaluateTopicsText(std::string_view csv_text, std::string_view file_name,
                                      const TopicStage& topics, const SentimentStage* sentiment,
                                      const EvalOptions& options) {
  Evaluation eval(file_name, topics, sentiment, options);
  bool given = false;
  return Run(file_name, eval, [&](std::string_view* chunk, Status*) {
    *chunk = given ? std::string_view() : csv_text;
    given = true;
    return true;
  });
}

Result<EvalReport> EvaluateTopics(const std::filesystem::path& csv_file, const TopicStage& topics,
                                  const SentimentStage* sentiment, const EvalOptions& options) {
  std::ifstream in(csv_file, std::ios::binary);
  if (!in) return Status::NotFound(csv_file.string() + ": cannot open labelled CSV");
  Evaluation eval(csv_file.string(), topics, sentiment, options);
  std::string buffer(1 << 16, '\0');
  return Run(csv_file.string(), eval, [&](std::string_view* chunk, Status* status) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    if (in.bad()) {
      *status = Status::IoError(csv_file.string() + ": read failed");
      return false;
    }
    *chunk = std::string_view(buffer.data(), static_cast<size_t>(in.gcount()));
    return true;
  });
}

std::string EvalReportToJson(const EvalReport& r) {
  boost::json::object o;
  o["file"] = r.file;
  o["rows"] = r.rows;
  o["macro_f1"] = r.macro_f1;
  o["scored_labels"] = r.scored_labels;
  o["min_support"] = r.min_support;
  boost::json::array labels;
  for (const LabelEval& l : r.labels) {
    labels.push_back(boost::json::object{{"name", l.name},
                                         {"category", l.category},
                                         {"support", l.support},
                                         {"predicted", l.predicted},
                                         {"true_positives", l.true_positives},
                                         {"precision", l.precision},
                                         {"recall", l.recall},
                                         {"f1", l.f1},
                                         {"scored", l.scored}});
  }
  o["labels"] = std::move(labels);
  boost::json::array unscored;
  for (const std::string& c : r.unscored_columns) unscored.push_back(boost::json::string(c));
  o["unscored_columns"] = std::move(unscored);
  boost::json::object confusion;
  constexpr std::string_view kGold[] = {"positive", "mixed", "negative"};
  for (int g = 0; g < 3; ++g) {
    boost::json::object row;
    for (int p = 0; p < 4; ++p) {
      row[SentimentName(static_cast<Sentiment>(p))] = r.sentiment_confusion[g][p];
    }
    confusion[kGold[g]] = std::move(row);
  }
  o["sentiment"] = boost::json::object{{"rows", r.sentiment_rows},
                                       {"correct", r.sentiment_correct},
                                       {"accuracy", r.sentiment_accuracy},
                                       {"confusion", std::move(confusion)}};
  return boost::json::serialize(o);
}

std::string EvalReportToText(const EvalReport& r) {
  std::ostringstream o;
  char line[256];
  o << r.file << ": " << r.rows << " rows\n";
  std::snprintf(line, sizeof line, "%-58s %7s %7s %7s %6s %6s %6s\n", "topic", "support", "pred",
                "tp", "prec", "recall", "f1");
  o << line;
  for (const LabelEval& l : r.labels) {
    std::snprintf(line, sizeof line, "%-58.58s %7lld %7lld %7lld %6.3f %6.3f %6.3f%s\n",
                  l.name.c_str(), static_cast<long long>(l.support),
                  static_cast<long long>(l.predicted), static_cast<long long>(l.true_positives),
                  l.precision, l.recall, l.f1, l.scored ? "" : "  (not scored)");
    o << line;
  }
  std::snprintf(line, sizeof line, "macro-F1 over %d labels with support >= %lld: %.4f\n",
                r.scored_labels, static_cast<long long>(r.min_support), r.macro_f1);
  o << line;
  if (r.sentiment_rows > 0) {
    std::snprintf(line, sizeof line, "sentiment accuracy: %.4f (%lld of %lld rows)\n",
                  r.sentiment_accuracy, static_cast<long long>(r.sentiment_correct),
                  static_cast<long long>(r.sentiment_rows));
    o << line;
  }
  for (const std::string& c : r.unscored_columns) o << "not scored (no QDC label): " << c << "\n";
  return o.str();
}

}  // namespace earshot::topics
