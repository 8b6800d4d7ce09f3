// The organisation gazetteer as data: what config/orgs/ says, before it is
// compiled into regular expressions (org_router.cc). Generated files
// (config/orgs/generated/*.tsv, facts from ODS data) and hand-written ones
// (config/orgs/*.tsv: aliases, successors, corrections, domains, places,
// extra organisations, context words) are read and merged here; see
// config/orgs/README.md for the formats.
//
// Everything here is plain values; nothing is shared or cached.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "crawler/core/status.h"

namespace earshot::orgs {

// What a short or risky name needs before it may route.
enum class Guard {
  kNone,
  kNext,    // the next word does not make it something else ("Charing Cross
            // station", "Guy's birthday"): context_words.tsv "block"
  kHealth,  // kNext, and a health word is near ("Guy's A&E was rammed")
  kPlace,   // kNext, and a place of the target is named in the post ("MRI" +
            // Manchester; not "MRI scan")
};

struct OrgRecord {
  std::string code;
  std::string kind;  // trust, independent, icb, region, welsh_board,
                     // scottish_board, scottish_national, ni_trust
  std::string name;
  std::string status;  // open, closed, unknown
  std::string close_date;
  std::string region;
  std::string icb;
  std::vector<std::string> places;
  std::vector<std::string> variants;  // normalised; "?" and "~" prefixes kept
  std::string source;                 // file:line it came from
};

struct SiteRecord {
  std::string code;
  std::string name;
  std::string parent;  // raw parent code, after corrections
  std::string domain;
  std::vector<std::string> places;
  std::vector<std::string> variants;
  std::string source;
};

struct AliasRecord {
  std::string id;                    // "northern-general"
  std::vector<std::string> targets;  // site or organisation codes
  bool case_sensitive = false;
  bool is_default = false;  // wins its span when the post's context is silent
  Guard guard = Guard::kNone;
  std::vector<std::string> variants;  // normalised
  std::string source;                 // file:line
};

struct DomainRecord {
  std::string domain;  // "sth.nhs.uk"
  std::string target;  // organisation or site code
  std::string source;
};

struct Gazetteer {
  std::map<std::string, OrgRecord, std::less<>> orgs;
  std::map<std::string, SiteRecord, std::less<>> sites;
  std::vector<AliasRecord> aliases;
  // Closed organisation -> its successors (several when it was split).
  std::map<std::string, std::vector<std::string>, std::less<>> successors;
  // Site -> today's organisation, where a site went its own way.
  std::map<std::string, std::vector<std::string>, std::less<>> site_successors;
  std::vector<DomainRecord> domains;
  std::vector<std::string> health_words;   // context for guarded names
  std::vector<std::string> block_words;    // may not follow a guarded name
  std::vector<std::string> common_places;  // place names that are also words
  std::string version;
};

// Reads `dir` (config/orgs). Errors name the file and line.
Result<Gazetteer> LoadGazetteer(const std::filesystem::path& dir);

// The variant form of `text` (see build_gazetteer.py): lower case unless
// `keep_case`, "&" -> "and", "saint" -> "st", punctuation other than
// apostrophes dropped, single spaces.
std::string NormaliseVariant(std::string_view text, bool keep_case);

// An RE2 pattern matching a normalised variant as written in posts: word
// boundaries, "'"/"’", optional possessive, "St"/"St."/"Saint",
// "and"/"&", "Hospital"/"Hosp", "Centre"/"Center", spaces, commas or
// hyphens between words.
// Case-insensitive unless `case_sensitive` (then only "the", "st", "and"
// and facility nouns ignore case).
std::string VariantPattern(std::string_view variant, bool case_sensitive);

// An RE2 pattern for a web domain; group 1 is the domain as written.
std::string DomainPattern(std::string_view domain);

}  // namespace earshot::orgs
