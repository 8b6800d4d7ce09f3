// OrgRouter: which NHS organisations a post is about. Built from the
// gazetteer in config/orgs/ (generated from ../shared/data/orgs by
// classifiers/tools/build_gazetteer.py, plus curated aliases, successors,
// corrections and web domains), compiled once, immutable, thread-safe.
//
// Promises:
// - Output codes are today's organisations (ODS codes): a site whose parent
//   has merged routes to the successor.
// - A name shared by several organisations routes only when the post gives
//   context (town, city, county, region) that leaves one candidate;
//   otherwise it is reported as unrouted with its candidates. A wrong route
//   is worse than none.
// - Look-alikes do not route ("Trust me", "Victoria station", "Guy's
//   birthday", "Queen Elizabeth Olympic Park"), nor does a bare town name.
// - A CamelCase hashtag reads as its words ("#NorthernGeneral" as "Northern
//   General", "#NHSTrust" as "NHS Trust"); spans are into the text as given.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "crawler/core/status.h"

namespace earshot::orgs {

struct OrgMatch {
  std::string code;       // today's organisation, e.g. "RHQ"
  std::string name;       // its name
  std::string site_code;  // e.g. "RHQNG" when a site was named, else empty
  std::string site_name;
  std::string rule;     // gazetteer entry id that matched, e.g. "alias:northern-general"
  std::string version;  // gazetteer version
  int32_t start = 0;    // byte span of the mention in the text
  int32_t end = 0;
};

struct UnroutedMention {
  std::string mention;  // the text, e.g. "Queen Elizabeth Hospital"
  int32_t start = 0;
  int32_t end = 0;
  std::vector<std::string> candidates;  // ODS codes it could be
};

struct Routing {
  std::vector<OrgMatch> orgs;  // one per organisation, first mention
  std::vector<UnroutedMention> unrouted;
};

class OrgRouter {
 public:
  // `orgs_dir` is config/orgs.
  static Result<std::shared_ptr<const OrgRouter>> Load(const std::filesystem::path& orgs_dir);
  virtual ~OrgRouter() = default;
  virtual Routing Route(std::string_view text) const = 0;
  virtual const std::string& version() const = 0;
  // Name of an organisation by today's code, or empty.
  virtual std::string NameOf(std::string_view code) const = 0;
  // Texts matched pattern by pattern because the RE2::Set DFA ran out of
  // memory (same answer, slower); process-wide, relaxed counter.
  virtual int64_t dfa_fallbacks() const { return 0; }
  // Compiled name, alias and domain patterns (for benchmarks and reports).
  virtual size_t pattern_count() const { return 0; }
  // The RE2 syntax of those patterns, in set order (for the benchmark's
  // baseline: the same patterns in a bare RE2::Set).
  virtual std::vector<std::string> patterns() const { return {}; }
};

}  // namespace earshot::orgs
