#include "classifiers/rules/lint.h"

#include "classifiers/rules/pattern_split.h"

#include <re2/re2.h>

#include <array>
#include <cstdio>

namespace earshot::rules {
namespace {

// Whether `pattern` can match zero bytes somewhere. Trying an empty match at
// every position of a few short contexts covers the anchors and word
// boundaries (^, $, \b, \B) that decide where an empty match is possible.
bool CanMatchEmpty(const std::string& pattern) {
  RE2::Options opts;
  opts.set_log_errors(false);
  opts.set_never_capture(true);
  RE2 re(pattern, opts);
  if (!re.ok()) return false;
  static constexpr std::array<std::string_view, 6> kContexts = {"", " ", "a", "a b", "-", "1"};
  for (std::string_view ctx : kContexts) {
    for (size_t pos = 0; pos <= ctx.size(); ++pos) {
      if (re.Match(ctx, pos, pos, RE2::ANCHOR_BOTH, nullptr, 0)) return true;
    }
  }
  return false;
}

std::string Percent(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", fraction * 100);
  return buf;
}

}  // namespace

std::string_view LintKindName(LintFinding::Kind kind) {
  switch (kind) {
    case LintFinding::Kind::kMatchesNothing:
      return "matches-nothing";
    case LintFinding::Kind::kMatchesTooMuch:
      return "matches-too-much";
    case LintFinding::Kind::kMatchesEmpty:
      return "matches-empty";
    case LintFinding::Kind::kSlowGap:
      return "slow-gap";
  }
  return "unknown";
}

LintReport Lint(const RuleSet& rules, const std::vector<std::string>& sample_texts,
                const LintOptions& options) {
  const std::vector<Rule>& all = rules.rules();
  LintReport report;
  report.sample_size = static_cast<int64_t>(sample_texts.size());
  report.hits.assign(all.size(), 0);
  std::vector<RuleMatch> matches;
  for (const std::string& text : sample_texts) {
    matches.clear();
    rules.Match(text, &matches);
    for (const RuleMatch& m : matches) ++report.hits[m.rule - all.data()];
  }

  for (size_t i = 0; i < all.size(); ++i) {
    const Rule& rule = all[i];
    const std::string where =
        rule.file + ":" + std::to_string(rule.line) + ": rule '" + rule.id + "' ";
    auto finding = [&](LintFinding::Kind kind, std::string pattern, std::string message) {
      LintFinding f;
      f.kind = kind;
      f.rule_id = rule.id;
      f.file = rule.file;
      f.line = rule.line;
      f.pattern = std::move(pattern);
      f.hits = report.hits[i];
      f.fraction = report.sample_size ? static_cast<double>(f.hits) / report.sample_size : 0;
      f.message = where + message;
      report.findings.push_back(std::move(f));
    };

    std::vector<std::pair<std::string_view, const std::string*>> patterns;
    for (const auto& p : rule.any) patterns.emplace_back("any", &p);
    for (const auto& p : rule.all) patterns.emplace_back("all", &p);
    for (const auto& p : rule.none) patterns.emplace_back("none", &p);
    for (const auto& n : rule.near) {
      patterns.emplace_back("near.a", &n.a);
      patterns.emplace_back("near.b", &n.b);
    }
    if (!rule.unless_preceded.empty())
      patterns.emplace_back("unless_preceded", &rule.unless_preceded);
    for (const auto& [clause, pattern] : patterns) {
      if (CanMatchEmpty(*pattern)) {
        finding(LintFinding::Kind::kMatchesEmpty, *pattern,
                std::string(clause) + " pattern '" + *pattern + "' can match the empty string");
      }
      // Only a pattern in the RE2::Set costs every text its gap (the word
      // index looks only where its words are).
      if (internal::InRe2Set(rules, *pattern) && internal::SplitAtGaps(*pattern).gap_kept) {
        finding(LintFinding::Kind::kSlowGap, *pattern,
                std::string(clause) + " pattern '" + *pattern +
                    "' has a gap (.{m,n}, .*, a repeated group) the RE2::Set must keep; every "
                    "text pays for it: move the gap to the top level of the pattern");
      }
    }

    if (report.sample_size == 0) continue;
    const double fraction = static_cast<double>(report.hits[i]) / report.sample_size;
    if (report.hits[i] == 0) {
      finding(LintFinding::Kind::kMatchesNothing, "",
              "matched none of the " + std::to_string(report.sample_size) + " sample texts");
    } else if (fraction > options.max_fraction) {
      finding(LintFinding::Kind::kMatchesTooMuch, "",
              "matched " + std::to_string(report.hits[i]) + " of " +
                  std::to_string(report.sample_size) + " sample texts (" + Percent(fraction) +
                  ", more than " + Percent(options.max_fraction) + ")");
    }
  }
  return report;
}

}  // namespace earshot::rules
