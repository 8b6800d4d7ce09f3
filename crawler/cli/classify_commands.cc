// `earshot classify` and `earshot rules ...`: classification without crawling.
#include <boost/json.hpp>
#include <fstream>
#include <iostream>
#include <map>
#include <set>

#include "classifiers/classifier.h"
#include "classifiers/rules/lint.h"
#include "classifiers/topics/eval.h"
#include "classifiers/topics/stages.h"
#include "crawler/cli/cli.h"
#include "crawler/pipeline/classify_stage.h"
#include "crawler/store/sqlite/sqlite_store.h"

namespace earshot {

Result<std::unique_ptr<SqliteStore>> OpenStore(const Config& config);

namespace json = boost::json;

Result<std::shared_ptr<const Classifier>> LoadClassifier(const Config& config,
                                                         const std::string& rules_flag,
                                                         const std::string& orgs_flag) {
  ClassifierPaths paths = DefaultClassifierPaths();
  if (!config.rules_dir.empty()) paths.rules_dir = config.rules_dir;
  if (!config.orgs_dir.empty()) paths.orgs_dir = config.orgs_dir;
  if (!rules_flag.empty()) paths.rules_dir = rules_flag;
  if (!orgs_flag.empty()) paths.orgs_dir = orgs_flag;
  return Classifier::Load(paths);
}

namespace {

json::array Span(int32_t start, int32_t end) { return json::array{start, end}; }

std::string ClassificationJson(const json::value& id, const Classification& c) {
  json::object o;
  o["id"] = id;
  o["text"] = c.text;
  json::array redactions;
  for (const RedactionSpan& r : c.redactions) {
    redactions.push_back({{"kind", r.kind}, {"start", r.start}, {"end", r.end}});
  }
  o["redactions"] = std::move(redactions);
  json::array orgs;
  for (const ClassifiedOrg& org : c.orgs) {
    orgs.push_back({{"code", org.code},
                    {"name", org.name},
                    {"site", org.site},
                    {"rule", org.why.rule},
                    {"span", Span(org.why.start, org.why.end)}});
  }
  o["orgs"] = std::move(orgs);
  json::array unrouted;
  for (const UnroutedCandidates& u : c.unrouted) {
    json::array candidates;
    for (const std::string& code : u.candidates) candidates.push_back(json::string(code));
    unrouted.push_back({{"mention", u.mention},
                        {"span", Span(u.start, u.end)},
                        {"candidates", std::move(candidates)}});
  }
  o["unrouted"] = std::move(unrouted);
  json::array topics;
  for (const ClassifiedTopic& t : c.topics) {
    topics.push_back({{"name", t.name},
                      {"category", t.category},
                      {"rule", t.why.rule},
                      {"span", Span(t.why.start, t.why.end)}});
  }
  o["topics"] = std::move(topics);
  o["sentiment"] = c.sentiment;
  json::array flags;
  for (const ClassifiedFlag& f : c.criticality) {
    flags.push_back({{"flag", f.flag},
                     {"priority", f.priority},
                     {"rule", f.why.rule},
                     {"span", Span(f.why.start, f.why.end)}});
  }
  o["criticality"] = std::move(flags);
  o["priority"] = c.priority;
  o["relevant"] = c.relevant;
  return json::serialize(o);
}

// A line is JSON {"id": ..., "text": ...} or, failing that, plain text.
bool ReadInput(const std::string& line, int64_t line_no, json::value& id, std::string& text) {
  json::error_code ec;
  json::value v = json::parse(line, ec);
  if (!ec && v.is_object()) {
    const json::object& o = v.as_object();
    const json::value* t = o.if_contains("text");
    if (!t || !t->is_string()) return false;
    text.assign(t->as_string().data(), t->as_string().size());
    const json::value* i = o.if_contains("id");
    id = i ? *i : json::value(line_no);
    return true;
  }
  id = line_no;
  text = line;
  return true;
}

}  // namespace

int CmdClassify(const GlobalOptions& global, const std::string& rules_dir,
                const std::string& orgs_dir, std::istream& in, std::ostream& out,
                std::ostream& err) {
  auto config = LoadEffectiveConfig(global);
  if (!config.ok()) {
    err << "earshot classify: " << config.status().message() << "\n";
    return 2;
  }
  auto classifier = LoadClassifier(*config, rules_dir, orgs_dir);
  if (!classifier.ok()) {
    err << "earshot classify: " << classifier.status().message() << "\n";
    return 2;
  }
  std::string line;
  int64_t line_no = 0;
  int code = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    json::value id;
    std::string text;
    if (!ReadInput(line, line_no, id, text)) {
      err << "earshot classify: <stdin>:" << line_no << ": a JSON line needs a string \"text\"\n";
      code = 2;
      continue;
    }
    out << ClassificationJson(id, (*classifier)->Classify(text)) << "\n";
  }
  out.flush();
  return code;
}

int CmdRulesCheck(const GlobalOptions& global, const std::string& rules_dir,
                  const std::string& orgs_dir, const std::string& sample_file, std::ostream& out,
                  std::ostream& err) {
  auto config = LoadEffectiveConfig(global);
  if (!config.ok()) {
    err << "earshot rules check: " << config.status().message() << "\n";
    return 2;
  }
  auto classifier = LoadClassifier(*config, rules_dir, orgs_dir);
  if (!classifier.ok()) {
    err << "earshot rules check: " << classifier.status().message() << "\n";
    return 2;
  }
  out << "compiled: " << (*classifier)->Versions() << "\n";
  std::vector<std::string> sample;
  if (!sample_file.empty()) {
    std::ifstream in(sample_file);
    if (!in) {
      err << "earshot rules check: cannot read " << sample_file << "\n";
      return 2;
    }
    std::string line;
    int64_t line_no = 0;
    while (std::getline(in, line)) {
      json::value id;
      std::string text;
      if (ReadInput(line, ++line_no, id, text) && !text.empty()) sample.push_back(text);
    }
  } else if (auto store = OpenStore(*config); store.ok()) {
    // The stored posts are the most honest sample there is.
    Status st = (*store)->ForEachPost([&](const StoredPost& p) {
      sample.push_back(ClassifiedText(p.post));
      return sample.size() < 20000;
    });
    if (!st.ok()) sample.clear();
  }
  out << "sample: " << sample.size() << " text(s)"
      << (sample_file.empty() ? " from the store" : " from " + sample_file) << "\n";
  int findings = 0;
  for (const auto& set : (*classifier)->rule_sets()) {
    rules::LintReport report = rules::Lint(*set, sample);
    out << set->stage() << " " << set->version() << ": " << set->rules().size() << " rule(s), "
        << report.findings.size() << " finding(s)\n";
    for (const rules::LintFinding& f : report.findings) {
      out << "  " << rules::LintKindName(f.kind) << ": " << f.message << "\n";
      ++findings;
    }
  }
  return 0;
}

int CmdRulesBacktest(const GlobalOptions& global, const std::string& rules_dir,
                     const std::string& orgs_dir, std::ostream& out, std::ostream& err) {
  auto config = LoadEffectiveConfig(global);
  if (!config.ok()) {
    err << "earshot rules backtest: " << config.status().message() << "\n";
    return 2;
  }
  auto classifier = LoadClassifier(*config, rules_dir, orgs_dir);
  if (!classifier.ok()) {
    err << "earshot rules backtest: " << classifier.status().message() << "\n";
    return 2;
  }
  auto store = OpenStore(*config);
  if (!store.ok()) {
    err << "earshot rules backtest: " << store.status().message() << "\n";
    return 1;
  }
  // Per organisation: posts it would gain and lose; per topic likewise.
  struct Change {
    int64_t before = 0, after = 0, gained = 0, lost = 0;
  };
  std::map<std::string, Change> orgs, topics;
  int64_t posts = 0, changed = 0;
  std::map<std::string, std::string> names;
  Status st = (*store)->ForEachPost([&](const StoredPost& p) {
    ++posts;
    std::set<std::string> old_orgs, new_orgs, old_topics, new_topics;
    for (const Decision& d : p.post.decisions) {
      if (d.kind == Decision::Kind::kOrg) old_orgs.insert(d.value);
      if (d.kind == Decision::Kind::kTopic) old_topics.insert(d.value);
    }
    Classification c = (*classifier)->Classify(ClassifiedText(p.post));
    for (const ClassifiedOrg& o : c.orgs) {
      new_orgs.insert(o.code);
      names[o.code] = o.name;
    }
    for (const ClassifiedTopic& t : c.topics) new_topics.insert(t.name);
    auto tally = [](std::map<std::string, Change>& m, const std::set<std::string>& before,
                    const std::set<std::string>& after) {
      bool any = false;
      for (const auto& k : before) {
        ++m[k].before;
        if (!after.count(k)) ++m[k].lost, any = true;
      }
      for (const auto& k : after) {
        ++m[k].after;
        if (!before.count(k)) ++m[k].gained, any = true;
      }
      return any;
    };
    bool a = tally(orgs, old_orgs, new_orgs);
    bool b = tally(topics, old_topics, new_topics);
    if (a || b) ++changed;
    return true;
  });
  if (!st.ok()) {
    err << "earshot rules backtest: " << st.message() << "\n";
    return 1;
  }
  out << "re-classified " << posts << " stored post(s) with " << (*classifier)->Versions()
      << " (nothing written): " << changed << " would change\n";
  auto print = [&](const char* title, const std::map<std::string, Change>& m, bool with_names) {
    out << title << "\n";
    for (const auto& [k, c] : m) {
      if (c.gained == 0 && c.lost == 0) continue;
      out << "  " << k;
      if (with_names && names.count(k)) out << " " << names[k];
      out << ": " << c.before << " -> " << c.after << " (+" << c.gained << " -" << c.lost << ")\n";
    }
  };
  print("organisations (posts before -> after):", orgs, true);
  print("topics (posts before -> after):", topics, false);
  return 0;
}

}  // namespace earshot

namespace earshot {

int CmdRulesEval(const GlobalOptions& global, const std::string& rules_dir,
                 const std::string& orgs_dir, const std::string& csv_file, std::ostream& out,
                 std::ostream& err) {
  (void)orgs_dir;  // topics and sentiment only: the feedback file names no organisation
  auto config = LoadEffectiveConfig(global);
  if (!config.ok()) {
    err << "earshot rules eval: " << config.status().message() << "\n";
    return 2;
  }
  ClassifierPaths paths = DefaultClassifierPaths();
  if (!config->rules_dir.empty()) paths.rules_dir = config->rules_dir;
  if (!rules_dir.empty()) paths.rules_dir = rules_dir;
  auto load = [&](const char* name) { return rules::RuleSet::LoadFile(paths.rules_dir / name); };
  auto topic_set = load("topics.toml");
  auto sentiment_set = load("sentiment.toml");
  for (const auto* r : {&topic_set, &sentiment_set}) {
    if (!r->ok()) {
      err << "earshot rules eval: " << r->status().message() << "\n";
      return 2;
    }
  }
  auto topic = topics::TopicStage::Create(*topic_set);
  auto sentiment = topics::SentimentStage::Create(*sentiment_set);
  if (!topic.ok() || !sentiment.ok()) {
    err << "earshot rules eval: " << (!topic.ok() ? topic.status() : sentiment.status()).message()
        << "\n";
    return 2;
  }
  auto report = topics::EvaluateTopics(csv_file, *topic, &*sentiment);
  if (!report.ok()) {
    err << "earshot rules eval: " << report.status().message() << "\n";
    return 2;
  }
  if (global.json_output) {
    out << topics::EvalReportToJson(*report) << "\n";
  } else {
    out << topics::EvalReportToText(*report);
  }
  return 0;
}

int CmdRulesDismissals(const GlobalOptions& global, std::ostream& out, std::ostream& err) {
  auto config = LoadEffectiveConfig(global);
  if (!config.ok()) {
    err << "earshot rules dismissals: " << config.status().message() << "\n";
    return 2;
  }
  auto store = OpenStore(*config);
  if (!store.ok()) {
    err << "earshot rules dismissals: " << store.status().message() << "\n";
    return 1;
  }
  Result<std::vector<RuleDismissals>> rows = (*store)->DismissalsByRule();
  if (!rows.ok()) {
    err << "earshot rules dismissals: " << rows.status().message() << "\n";
    return 1;
  }
  if (global.json_output) {
    for (const RuleDismissals& row : *rows) {
      out << boost::json::serialize(boost::json::object{
                 {"rule", row.rule}, {"reason", row.reason}, {"count", row.count}})
          << "\n";
    }
    return 0;
  }
  if (rows->empty()) {
    out << "no dismissed threads\n";
    return 0;
  }
  for (const RuleDismissals& row : *rows) {
    out << row.count << "\t" << (row.rule.empty() ? "(no rule)" : row.rule) << "\t" << row.reason
        << "\n";
  }
  return 0;
}

}  // namespace earshot
