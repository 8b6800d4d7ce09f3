#include "classifiers/orgs/gazetteer.h"
#include "crawler/core/strings.h"

#include <re2/re2.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <unordered_map>

namespace earshot::orgs {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    out.emplace_back(s.substr(start, pos == std::string_view::npos ? s.npos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\r' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\r' || s[e - 1] == '\t')) --e;
  return std::string(s.substr(b, e - b));
}

// "a|b|c" -> {"a","b","c"}; empty parts dropped.
std::vector<std::string> List(std::string_view s) {
  std::vector<std::string> out;
  for (auto& part : Split(s, '|')) {
    std::string t = Trim(part);
    if (!t.empty()) out.push_back(std::move(t));
  }
  return out;
}

// A tab-separated file: '#' comments, then a header row naming the columns.
struct Table {
  std::string path;
  std::vector<std::string> columns;
  struct Row {
    int line = 0;
    std::vector<std::string> cells;
  };
  std::vector<Row> rows;

  int Column(std::string_view name) const {
    for (size_t i = 0; i < columns.size(); ++i) {
      if (columns[i] == name) return static_cast<int>(i);
    }
    return -1;
  }
  std::string Get(const Row& row, int column) const {
    if (column < 0 || static_cast<size_t>(column) >= row.cells.size()) return "";
    return Trim(row.cells[column]);
  }
  std::string Where(const Row& row) const { return path + ":" + std::to_string(row.line); }
};

Result<std::string> ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<Table> ReadTable(const fs::path& path, const std::string& text,
                        const std::vector<std::string>& required) {
  Table table;
  table.path = path.string();
  int line_no = 0;
  for (auto& raw : Split(text, '\n')) {
    ++line_no;
    std::string line = raw;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (Trim(line).empty() || line[0] == '#') continue;
    if (table.columns.empty()) {
      for (auto& c : Split(line, '\t')) table.columns.push_back(Trim(c));
      continue;
    }
    table.rows.push_back({line_no, Split(line, '\t')});
  }
  for (const auto& col : required) {
    if (table.Column(col) < 0) {
      return Status::ParseError(table.path + ": missing column \"" + col + "\"");
    }
  }
  return table;
}

// FNV-1a, 64 bits: a stable fingerprint of the gazetteer's files.
uint64_t Fnv1a(uint64_t h, std::string_view bytes) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

struct Reader {
  fs::path dir;
  uint64_t hash = 1469598103934665603ULL;

  // Reads `relative`; a missing optional file is an empty table.
  Result<Table> Read(const std::string& relative, const std::vector<std::string>& required,
                     bool optional) {
    fs::path path = dir / relative;
    std::error_code ec;
    if (!fs::exists(path, ec)) {
      if (optional) return Table{path.string(), required, {}};
      return Status::NotFound(path.string() +
                              ": missing (run classifiers/tools/build_gazetteer.py)");
    }
    auto text = ReadAll(path);
    if (!text.ok()) return text.status();
    hash = Fnv1a(Fnv1a(hash, relative), *text);
    return ReadTable(path, *text, required);
  }
};

Status ReadOrgs(Reader& reader, const std::string& file, bool optional, Gazetteer* g) {
  auto table = reader.Read(file, {"code", "name"}, optional);
  if (!table.ok()) return table.status();
  const Table& t = *table;
  int code = t.Column("code"), kind = t.Column("kind"), name = t.Column("name"),
      status = t.Column("status"), close = t.Column("close_date"), region = t.Column("region"),
      icb = t.Column("icb"), places = t.Column("places"), variants = t.Column("variants");
  for (const auto& row : t.rows) {
    OrgRecord org;
    org.code = t.Get(row, code);
    if (org.code.empty()) return Status::ParseError(t.Where(row) + ": empty code");
    org.kind = t.Get(row, kind);
    if (org.kind.empty()) org.kind = "trust";
    org.name = t.Get(row, name);
    org.status = t.Get(row, status);
    if (org.status.empty()) org.status = "open";
    org.close_date = t.Get(row, close);
    org.region = t.Get(row, region);
    org.icb = t.Get(row, icb);
    org.places = List(t.Get(row, places));
    for (auto& v : List(t.Get(row, variants))) {
      // Curated rows may be written naturally; generated ones are already
      // normalised (idempotent either way).
      std::string prefix;
      size_t i = 0;
      while (i < v.size() && (v[i] == '?' || v[i] == '~')) prefix += v[i++];
      std::string n = NormaliseVariant(std::string_view(v).substr(i), false);
      if (!n.empty()) org.variants.push_back(prefix + n);
    }
    org.source = t.Where(row);
    g->orgs[org.code] = std::move(org);  // later files override earlier ones
  }
  return Status::Ok();
}

Status ReadSites(Reader& reader, const std::string& file, Gazetteer* g) {
  auto table = reader.Read(file, {"code", "name", "parent"}, false);
  if (!table.ok()) return table.status();
  const Table& t = *table;
  int code = t.Column("code"), name = t.Column("name"), parent = t.Column("parent"),
      places = t.Column("places"), variants = t.Column("variants"), domain = t.Column("domain");
  for (const auto& row : t.rows) {
    SiteRecord site;
    site.code = t.Get(row, code);
    if (site.code.empty()) return Status::ParseError(t.Where(row) + ": empty code");
    site.name = t.Get(row, name);
    site.parent = t.Get(row, parent);
    site.places = List(t.Get(row, places));
    site.variants = List(t.Get(row, variants));
    site.domain = t.Get(row, domain);
    site.source = t.Where(row);
    g->sites[site.code] = std::move(site);
  }
  return Status::Ok();
}

Result<Guard> ParseGuard(std::string_view s) {
  if (s == "next") return Guard::kNext;
  if (s == "health") return Guard::kHealth;
  if (s == "place") return Guard::kPlace;
  return Status::ParseError("unknown flag \"" + std::string(s) + "\"");
}

Status ReadAliases(Reader& reader, Gazetteer* g) {
  auto table = reader.Read("aliases.tsv", {"id", "target", "flags", "variants"}, true);
  if (!table.ok()) return table.status();
  const Table& t = *table;
  int id = t.Column("id"), target = t.Column("target"), flags = t.Column("flags"),
      variants = t.Column("variants");
  std::unordered_map<std::string, std::string> seen;
  for (const auto& row : t.rows) {
    AliasRecord alias;
    alias.id = t.Get(row, id);
    alias.source = t.Where(row);
    if (alias.id.empty()) return Status::ParseError(alias.source + ": empty id");
    if (auto [it, fresh] = seen.emplace(alias.id, alias.source); !fresh) {
      return Status::ParseError(alias.source + ": alias id \"" + alias.id + "\" already used at " +
                                it->second);
    }
    alias.targets = List(t.Get(row, target));
    if (alias.targets.empty()) return Status::ParseError(alias.source + ": no target");
    for (auto& flag : Split(t.Get(row, flags), ',')) {
      std::string f = Trim(flag);
      if (f.empty() || f == "-") continue;
      if (f == "cs") {
        alias.case_sensitive = true;
      } else if (f == "default") {
        alias.is_default = true;
      } else {
        auto guard = ParseGuard(f);
        if (!guard.ok()) return Status::ParseError(alias.source + ": " + guard.status().message());
        alias.guard = *guard;
      }
    }
    for (auto& v : List(t.Get(row, variants))) {
      std::string n = NormaliseVariant(v, alias.case_sensitive);
      if (n.empty()) return Status::ParseError(alias.source + ": empty variant \"" + v + "\"");
      alias.variants.push_back(std::move(n));
    }
    if (alias.variants.empty()) return Status::ParseError(alias.source + ": no variants");
    g->aliases.push_back(std::move(alias));
  }
  return Status::Ok();
}

Status ReadSuccessors(Reader& reader, Gazetteer* g) {
  auto table = reader.Read("successors.tsv", {"old", "new"}, true);
  if (!table.ok()) return table.status();
  const Table& t = *table;
  int old_col = t.Column("old"), new_col = t.Column("new");
  for (const auto& row : t.rows) {
    std::string old_code = t.Get(row, old_col);
    auto targets = List(t.Get(row, new_col));
    if (old_code.empty() || targets.empty()) {
      return Status::ParseError(t.Where(row) + ": need old and new codes");
    }
    if (old_code.rfind("site:", 0) == 0) {
      g->site_successors[old_code.substr(5)] = std::move(targets);
    } else {
      g->successors[old_code] = std::move(targets);
    }
  }
  return Status::Ok();
}

Status ReadCorrections(Reader& reader, Gazetteer* g) {
  auto table = reader.Read("corrections.tsv", {"site", "action", "value"}, true);
  if (!table.ok()) return table.status();
  const Table& t = *table;
  int site_col = t.Column("site"), action_col = t.Column("action"), value_col = t.Column("value");
  for (const auto& row : t.rows) {
    std::string code = t.Get(row, site_col), action = t.Get(row, action_col),
                value = t.Get(row, value_col);
    auto it = g->sites.find(code);
    if (it == g->sites.end()) {
      // A correction for a row the data no longer has is harmless; one for
      // a site we add is done with action "add".
      if (action != "add") continue;
    }
    if (action == "parent") {
      it->second.parent = value;
    } else if (action == "drop") {
      g->sites.erase(it);
    } else if (action == "name") {
      it->second.name = value;
    } else if (action == "variant") {
      std::string n = NormaliseVariant(value, false);
      if (n.empty()) return Status::ParseError(t.Where(row) + ": empty variant");
      it->second.variants.push_back(n);
    } else if (action == "add") {
      // value: "parent|name|variant;variant|place;place"
      auto parts = Split(value, '|');
      if (parts.size() < 2) return Status::ParseError(t.Where(row) + ": add needs parent|name");
      SiteRecord site;
      site.code = code;
      site.parent = Trim(parts[0]);
      site.name = Trim(parts[1]);
      if (parts.size() > 2) {
        for (auto& v : Split(parts[2], ';')) {
          std::string n = NormaliseVariant(v, false);
          if (!n.empty()) site.variants.push_back(n);
        }
      }
      if (parts.size() > 3) {
        for (auto& p : Split(parts[3], ';')) {
          if (!Trim(p).empty()) site.places.push_back(Trim(p));
        }
      }
      site.source = t.Where(row);
      g->sites[code] = std::move(site);
    } else {
      return Status::ParseError(t.Where(row) + ": unknown action \"" + action + "\"");
    }
  }
  return Status::Ok();
}

Status ReadDomains(Reader& reader, Gazetteer* g) {
  auto generated = reader.Read("generated/domains.tsv", {"domain", "code"}, false);
  if (!generated.ok()) return generated.status();
  std::map<std::string, DomainRecord> by_domain;
  {
    const Table& t = *generated;
    int d = t.Column("domain"), c = t.Column("code");
    for (const auto& row : t.rows) {
      DomainRecord r{t.Get(row, d), t.Get(row, c), t.Where(row)};
      if (!r.domain.empty()) by_domain[r.domain] = r;
    }
  }
  auto curated = reader.Read("domains.tsv", {"domain", "target"}, true);
  if (!curated.ok()) return curated.status();
  const Table& t = *curated;
  int d = t.Column("domain"), c = t.Column("target");
  for (const auto& row : t.rows) {
    DomainRecord r{t.Get(row, d), t.Get(row, c), t.Where(row)};
    if (r.domain.empty()) return Status::ParseError(r.source + ": empty domain");
    if (r.target == "-" || r.target.empty()) {
      by_domain.erase(r.domain);
    } else {
      by_domain[r.domain] = r;
    }
  }
  for (auto& [domain, record] : by_domain) g->domains.push_back(record);
  return Status::Ok();
}

Status ReadPlaces(Reader& reader, Gazetteer* g) {
  auto table = reader.Read("places.tsv", {"target", "places"}, true);
  if (!table.ok()) return table.status();
  const Table& t = *table;
  int target = t.Column("target"), places = t.Column("places");
  for (const auto& row : t.rows) {
    std::string code = t.Get(row, target);
    auto extra = List(t.Get(row, places));
    if (auto site = g->sites.find(code); site != g->sites.end()) {
      site->second.places.insert(site->second.places.end(), extra.begin(), extra.end());
    } else if (auto org = g->orgs.find(code); org != g->orgs.end()) {
      org->second.places.insert(org->second.places.end(), extra.begin(), extra.end());
    } else {
      return Status::ParseError(t.Where(row) + ": unknown site or organisation \"" + code + "\"");
    }
  }
  return Status::Ok();
}

Status ReadContextWords(Reader& reader, Gazetteer* g) {
  auto table = reader.Read("context_words.tsv", {"kind", "words"}, true);
  if (!table.ok()) return table.status();
  const Table& t = *table;
  int kind = t.Column("kind"), words = t.Column("words");
  for (const auto& row : t.rows) {
    std::string k = t.Get(row, kind);
    std::vector<std::string>* dest = nullptr;
    if (k == "health")
      dest = &g->health_words;
    else if (k == "block")
      dest = &g->block_words;
    else if (k == "common_place")
      dest = &g->common_places;
    else
      return Status::ParseError(t.Where(row) + ": unknown kind \"" + k + "\"");
    for (auto& w : List(t.Get(row, words))) dest->push_back(NormaliseVariant(w, false));
  }
  return Status::Ok();
}

}  // namespace

std::string NormaliseVariant(std::string_view text, bool keep_case) {
  // Typographic apostrophes and the ampersand first, on bytes.
  std::string s;
  s.reserve(text.size() + 8);
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == 0xE2 && i + 2 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0x80 &&
        (static_cast<unsigned char>(text[i + 2]) == 0x98 ||
         static_cast<unsigned char>(text[i + 2]) == 0x99)) {
      s += '\'';
      i += 2;
    } else if (c == '`') {
      s += '\'';
    } else if (c == '&' || c == '+') {
      s += " and ";
    } else if (c < 0x80) {
      bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '\'' || c == '.';
      if (c >= 'A' && c <= 'Z') {
        s += keep_case ? static_cast<char>(c) : static_cast<char>(c - 'A' + 'a');
      } else {
        s += keep ? static_cast<char>(c) : ' ';
      }
    } else {
      s += static_cast<char>(c);  // non-ASCII letters (Welsh) pass through
    }
  }
  std::string out;
  for (auto& word : Split(s, ' ')) {
    // "St." -> "st"; other dots separate words ("N.Forest").
    std::vector<std::string> pieces = Split(word, '.');
    for (auto& piece : pieces) {
      std::string p;
      for (char c : piece) {
        if (c == '\'' && !p.empty() && p.back() == '\'') continue;
        p += c;
      }
      while (!p.empty() && p.front() == '\'') p.erase(p.begin());
      bool ends_s_quote =
          p.size() >= 2 && p.back() == '\'' && (p[p.size() - 2] == 's' || p[p.size() - 2] == 'S');
      while (!p.empty() && p.back() == '\'' && !ends_s_quote) p.pop_back();
      if (p.empty()) continue;
      std::string pl = p;
      std::transform(pl.begin(), pl.end(), pl.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (pl == "saint") p = keep_case ? "St" : "st";
      if (!out.empty()) out += ' ';
      out += p;
    }
  }
  return out;
}

namespace {

constexpr std::string_view kApostrophe = "(?:'|\xE2\x80\x99|\xE2\x80\x98)";

bool IsWordByte(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '_';
}

// One word of a variant as a pattern, without boundaries.
std::string TokenPattern(const std::string& token, bool case_sensitive) {
  std::string lower = AsciiLower(token);
  auto ci = [&](std::string_view p) {
    return case_sensitive ? "(?i:" + std::string(p) + ")" : std::string(p);
  };
  if (lower == "st") return ci("(?:st\\b\\.?|saint)");
  if (lower == "hospital") return ci("(?:hospital|hosp\\b\\.?)");
  if (lower == "hospitals") return ci("hospitals?");
  if (lower == "infirmary") return ci("(?:infirmary|inf\\b\\.?)");
  if (lower == "centre" || lower == "center") return ci("cent(?:re|er)");
  if (lower == "the") return ci("the");
  if (lower == "nhs") return ci("nhs");
  if (lower == "trust") return ci("trust");
  if (lower == "ft") return case_sensitive ? "FT" : "ft";
  // An acronym may be written with dots ("R.V.I.").
  if (case_sensitive && token.size() >= 2 && token.size() <= 6 &&
      std::all_of(token.begin(), token.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
    std::string out;
    for (size_t i = 0; i < token.size(); ++i) {
      out += token[i];
      if (i + 1 < token.size()) out += "\\.?";
    }
    return out;
  }
  std::string body = token;
  bool explicit_s = false;
  // "james's" / "thomas'": the possessive is optional ("St James Hospital").
  if (body.size() > 3 && body.compare(body.size() - 2, 2, "'s") == 0 &&
      (body[body.size() - 3] == 's' || body[body.size() - 3] == 'S')) {
    body.resize(body.size() - 2);
    explicit_s = true;
  } else if (body.size() > 2 && body.back() == '\'') {
    body.pop_back();
    explicit_s = true;
  }
  std::string out;
  bool has_quote = body.find('\'') != std::string::npos;
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c == '\'') {
      out += std::string(kApostrophe) + "?";
      continue;
    }
    // "addenbrookes" also matches "addenbrooke's".
    if (!has_quote && !explicit_s && i + 1 == body.size() && body.size() >= 4 &&
        (c == 's' || c == 'S') && body[i - 1] != 's' && body[i - 1] != 'S' && body[i - 1] != '\'') {
      out += std::string(kApostrophe) + "?";
    }
    if (IsWordByte(c) || static_cast<unsigned char>(c) >= 0x80) {
      out += c;
    } else {
      out += RE2::QuoteMeta(std::string(1, c));
    }
  }
  if (explicit_s) out += "\\b(?:" + std::string(kApostrophe) + "s?)?";
  return out;
}

}  // namespace

std::string VariantPattern(std::string_view variant, bool case_sensitive) {
  std::vector<std::string> toks;
  for (auto& t : Split(variant, ' ')) {
    if (!t.empty()) toks.push_back(t);
  }
  std::string out;
  const std::string sep = "[\\s,\\-]+";
  auto is_and = [&](size_t i) {
    return i > 0 && i + 1 < toks.size() && AsciiLower(toks[i]) == "and";
  };
  for (size_t i = 0; i < toks.size(); ++i) {
    if (i > 0) {
      if (is_and(i)) {
        out +=
            case_sensitive ? "(?:\\s*[&+]\\s*|\\s+(?i:and)\\s+)" : "(?:\\s*[&+]\\s*|\\s+and\\s+)";
        continue;
      }
      if (!is_and(i - 1)) out += sep;
    }
    out += TokenPattern(toks[i], case_sensitive);
  }
  if (toks.empty()) return "(?!)";
  // Word boundaries where the variant starts and ends with a word character.
  std::string prefix = IsWordByte(toks.front()[0]) ? "\\b" : "";
  std::string suffix;
  const std::string& tail = toks.back();
  if (IsWordByte(tail.back())) {
    suffix = "\\b(?:" + std::string(kApostrophe) + "s\\b|" + std::string(kApostrophe) + ")?";
  }
  std::string body = prefix + out + suffix;
  return case_sensitive ? body : "(?i:" + body + ")";
}

std::string DomainPattern(std::string_view domain) {
  return "(?i)(?:^|[^a-z0-9.\\-])((?:[a-z0-9\\-]+\\.)*" + RE2::QuoteMeta(std::string(domain)) +
         ")\\b";
}

Result<Gazetteer> LoadGazetteer(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return Status::NotFound(dir.string() + ": not a directory (expected config/orgs)");
  }
  Gazetteer g;
  Reader reader{dir};
  for (const char* file : {"generated/regions.tsv", "generated/icbs.tsv", "generated/trusts.tsv",
                           "generated/wales.tsv", "generated/devolved.tsv"}) {
    EARSHOT_RETURN_IF_ERROR(ReadOrgs(reader, file, false, &g));
  }
  EARSHOT_RETURN_IF_ERROR(ReadOrgs(reader, "organisations.tsv", true, &g));
  EARSHOT_RETURN_IF_ERROR(ReadSites(reader, "generated/sites.tsv", &g));
  EARSHOT_RETURN_IF_ERROR(ReadSites(reader, "generated/devolved_sites.tsv", &g));
  EARSHOT_RETURN_IF_ERROR(ReadCorrections(reader, &g));
  EARSHOT_RETURN_IF_ERROR(ReadSuccessors(reader, &g));
  EARSHOT_RETURN_IF_ERROR(ReadAliases(reader, &g));
  EARSHOT_RETURN_IF_ERROR(ReadDomains(reader, &g));
  EARSHOT_RETURN_IF_ERROR(ReadPlaces(reader, &g));
  EARSHOT_RETURN_IF_ERROR(ReadContextWords(reader, &g));
  // VERSION is part of the fingerprint; its data line says which input.
  if (auto version = ReadAll(dir / "generated" / "VERSION"); version.ok()) {
    reader.hash = Fnv1a(reader.hash, *version);
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(reader.hash));
  g.version = "orgs-" + std::string(hex, 12);
  return g;
}

}  // namespace earshot::orgs
