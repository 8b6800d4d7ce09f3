#include "crawler/cli/config.h"

#include <toml++/toml.h>
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "crawler/core/time_format.h"

namespace earshot {

namespace {

std::string Where(std::string_view file, const toml::source_region& r) {
  return std::string(file) + ":" + std::to_string(r.begin.line) + ":" +
         std::to_string(r.begin.column) + ": ";
}

// Reads typed keys out of one TOML table and rejects the keys it was not
// asked about. Errors are collected, first one wins.
class TableReader {
 public:
  TableReader(std::string_view file, const toml::table& table, std::string context)
      : file_(file), table_(table), context_(std::move(context)) {}

  const toml::node* Node(std::string_view key) {
    seen_.insert(std::string(key));
    return table_.get(key);
  }

  std::string At(const toml::node& n) const { return Where(file_, n.source()); }
  std::string AtTable() const { return Where(file_, table_.source()); }

  void Fail(std::string message) {
    if (status_.ok()) status_ = Status::InvalidArgument(std::move(message));
  }

  void String(std::string_view key, std::string& out) {
    const toml::node* n = Node(key);
    if (!n) return;
    if (auto v = n->value<std::string>(); v && n->is_string()) {
      out = *v;
    } else {
      Fail(At(*n) + context_ + "." + std::string(key) + " must be a string");
    }
  }

  void Integer(std::string_view key, int64_t& out, int64_t min, int64_t max) {
    const toml::node* n = Node(key);
    if (!n) return;
    if (!n->is_integer()) {
      Fail(At(*n) + context_ + "." + std::string(key) + " must be an integer");
      return;
    }
    int64_t v = *n->value<int64_t>();
    if (v < min || v > max) {
      Fail(At(*n) + context_ + "." + std::string(key) + " must be between " + std::to_string(min) +
           " and " + std::to_string(max));
      return;
    }
    out = v;
  }

  void Float(std::string_view key, double& out, double min, double max) {
    const toml::node* n = Node(key);
    if (!n) return;
    if (!n->is_number()) {
      Fail(At(*n) + context_ + "." + std::string(key) + " must be a number");
      return;
    }
    double v = *n->value<double>();
    if (v < min || v > max) {
      Fail(At(*n) + context_ + "." + std::string(key) + " must be between " + std::to_string(min) +
           " and " + std::to_string(max));
      return;
    }
    out = v;
  }

  // Durations are strings ("30s", "5m") or integer seconds.
  void DurationKey(std::string_view key, Duration& out, Duration min, Duration max) {
    const toml::node* n = Node(key);
    if (!n) return;
    Result<Duration> d = Status::InvalidArgument("");
    if (n->is_integer()) {
      d = Duration(std::chrono::seconds(*n->value<int64_t>()));
    } else if (n->is_string()) {
      d = ParseDuration(*n->value<std::string>());
    } else {
      Fail(At(*n) + context_ + "." + std::string(key) +
           " must be a duration such as \"30s\" or \"5m\"");
      return;
    }
    if (!d.ok()) {
      Fail(At(*n) + context_ + "." + std::string(key) + ": " + d.status().message());
      return;
    }
    if (*d < min || *d > max) {
      Fail(At(*n) + context_ + "." + std::string(key) + " must be between " + FormatDuration(min) +
           " and " + FormatDuration(max));
      return;
    }
    out = *d;
  }

  // A list of durations (strings or integer seconds), strictly ascending,
  // each within [min, max]; at most `max_items`. Each error points at the
  // element it is about.
  void DurationList(std::string_view key, std::vector<Duration>& out, Duration min, Duration max,
                    size_t max_items) {
    const toml::node* n = Node(key);
    if (!n) return;
    const std::string name = context_ + "." + std::string(key);
    const toml::array* array = n->as_array();
    if (array == nullptr) {
      Fail(At(*n) + name + " must be a list of durations such as [\"10m\", \"1h\"]");
      return;
    }
    if (array->size() > max_items) {
      Fail(At(*n) + name + " has " + std::to_string(array->size()) + " steps; at most " +
           std::to_string(max_items));
      return;
    }
    std::vector<Duration> steps;
    for (const toml::node& item : *array) {
      Result<Duration> d = Status::InvalidArgument("");
      if (item.is_integer()) {
        const int64_t seconds = *item.value<int64_t>();
        // Out of range before conversion, which could overflow.
        const int64_t max_seconds = std::chrono::duration_cast<std::chrono::seconds>(max).count();
        d = Duration(std::chrono::seconds(std::clamp<int64_t>(seconds, -1, max_seconds + 1)));
      } else if (item.is_string()) {
        d = ParseDuration(*item.value<std::string>());
      } else {
        Fail(At(item) + name + " must contain only durations such as \"10m\" or \"1h\"");
        return;
      }
      if (!d.ok()) {
        Fail(At(item) + name + ": " + d.status().message());
        return;
      }
      if (*d < min || *d > max) {
        Fail(At(item) + name + ": each step must be between " + FormatDuration(min) + " and " +
             FormatDuration(max));
        return;
      }
      if (!steps.empty() && *d <= steps.back()) {
        Fail(At(item) + name + ": steps must be in ascending order without repeats (" +
             FormatDuration(*d) + " follows " + FormatDuration(steps.back()) + ")");
        return;
      }
      steps.push_back(*d);
    }
    out = std::move(steps);
  }

  void ByteSize(std::string_view key, int64_t& out, int64_t min, int64_t max) {
    const toml::node* n = Node(key);
    if (!n) return;
    Result<int64_t> size = Status::InvalidArgument("");
    if (n->is_integer()) {
      size = *n->value<int64_t>();
    } else if (n->is_string()) {
      size = ParseByteSize(*n->value<std::string>());
    } else {
      Fail(At(*n) + context_ + "." + std::string(key) +
           " must be a size such as \"16MiB\" or a number of bytes");
      return;
    }
    if (!size.ok()) {
      Fail(At(*n) + context_ + "." + std::string(key) + ": " + size.status().message());
      return;
    }
    if (*size < min || *size > max) {
      Fail(At(*n) + context_ + "." + std::string(key) + " must be between " + std::to_string(min) +
           " and " + std::to_string(max) + " bytes");
      return;
    }
    out = *size;
  }

  // Every key of the table that no accessor asked for is an error.
  void RejectUnknown(std::string_view hint = {}) {
    for (const auto& [k, v] : table_) {
      if (seen_.count(std::string(k.str()))) continue;
      std::string msg =
          Where(file_, k.source()) + "unknown key \"" + std::string(k.str()) + "\" in " + context_;
      if (!hint.empty()) msg += " (known keys: " + std::string(hint) + ")";
      Fail(std::move(msg));
    }
  }

  const Status& status() const { return status_; }
  std::string_view file() const { return file_; }
  const std::string& context() const { return context_; }

 private:
  std::string_view file_;
  const toml::table& table_;
  std::string context_;
  std::set<std::string> seen_;
  Status status_;
};

// Substitutes ${NAME} from the environment. "$${" stays a literal "${".
Result<std::string> ExpandEnv(std::string_view text, const EnvLookup& env) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    if (text.compare(i, 3, "$${") == 0) {
      out += "${";
      i += 3;
      continue;
    }
    if (text.compare(i, 2, "${") != 0) {
      out += text[i++];
      continue;
    }
    size_t end = text.find('}', i + 2);
    if (end == std::string_view::npos) {
      return Status::InvalidArgument("unterminated ${ in value");
    }
    std::string_view name = text.substr(i + 2, end - i - 2);
    if (name.empty()) return Status::InvalidArgument("empty ${} in value");
    std::optional<std::string> value = env(name);
    if (!value) {
      return Status::InvalidArgument("environment variable " + std::string(name) + " is not set");
    }
    out += *value;
    i = end + 1;
  }
  return out;
}

// [[source]] and [[account]] tables share their shape: common keys plus the
// connector's own.
enum class TableKind { kSource, kAccount };

std::string KnownKeys(const ConnectorDescriptor& c, TableKind kind) {
  std::string out =
      kind == TableKind::kSource ? "name, connector, url, interval" : "name, org, connector, url";
  for (const ConfigKeySpec& k : c.keys) out += ", " + k.name;
  return out;
}

// ODS codes: 3 to 8 letters and digits ("RHQ", "RHQ01", "Y02345").
bool IsOdsCode(std::string_view code) {
  if (code.size() < 3 || code.size() > 8) return false;
  for (char c : code) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

// Converts a connector key's default text into a typed value.
Result<OptionValue> DefaultValue(const ConfigKeySpec& key) {
  switch (key.type) {
    case ConfigKeySpec::Type::kString:
      return OptionValue(key.default_value);
    case ConfigKeySpec::Type::kInteger:
      return OptionValue(
          static_cast<int64_t>(std::strtoll(key.default_value.c_str(), nullptr, 10)));
    case ConfigKeySpec::Type::kBoolean:
      return OptionValue(key.default_value == "true");
    case ConfigKeySpec::Type::kStringArray:
      return OptionValue(std::vector<std::string>{});
  }
  return Status::Internal("unknown key type");
}

// Reads one [[source]] (kind kSource) or [[account]] (kAccount, whose
// `org` goes to *org) table.
Result<SourceSpec> ReadConnectorTable(std::string_view file, const toml::table& table, size_t index,
                                      TableKind kind, const ConnectorLookup& connectors,
                                      const EnvLookup& env, std::string* org) {
  const std::string kind_name = kind == TableKind::kSource ? "source" : "account";
  SourceSpec spec;
  TableReader r(file, table, "[[" + kind_name + "]] #" + std::to_string(index + 1));
  r.String("name", spec.name);
  r.String("connector", spec.connector);
  EARSHOT_RETURN_IF_ERROR(r.status());
  if (spec.name.empty()) {
    return Status::InvalidArgument(r.AtTable() + r.context() + " needs a non-empty name");
  }
  TableReader sr(file, table, kind_name + " \"" + spec.name + "\"");
  sr.Node("name");
  sr.String("connector", spec.connector);
  if (kind == TableKind::kAccount) {
    sr.String("org", *org);
    EARSHOT_RETURN_IF_ERROR(sr.status());
    if (org->empty()) {
      return Status::InvalidArgument(sr.AtTable() + sr.context() +
                                     " needs org = \"ODS code\" (the organisation it answers for)");
    }
    for (char& c : *org) {
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
    if (!IsOdsCode(*org)) {
      return Status::InvalidArgument(sr.At(*table.get("org")) + sr.context() + ".org \"" + *org +
                                     "\" is not an ODS code (3 to 8 letters and digits, "
                                     "e.g. \"RHQ\")");
    }
  }
  if (spec.connector.empty()) {
    return Status::InvalidArgument(sr.AtTable() + sr.context() + " needs connector = \"...\"");
  }
  const ConnectorDescriptor* connector = connectors(spec.connector);
  if (!connector) {
    const toml::node* n = table.get("connector");
    return Status::InvalidArgument(sr.At(*n) + sr.context() + ": unknown connector \"" +
                                   spec.connector + "\"");
  }
  if (kind == TableKind::kAccount && connector->reply == nullptr) {
    return Status::InvalidArgument(sr.At(*table.get("connector")) + sr.context() +
                                   ": connector \"" + spec.connector +
                                   "\" cannot publish replies, so it takes no accounts (staff "
                                   "answer such posts on the platform itself)");
  }
  if (kind == TableKind::kAccount && !table.get("url")) {
    return Status::InvalidArgument(sr.AtTable() + sr.context() +
                                   " needs url = \"...\" (where the account lives, e.g. its "
                                   "instance)");
  }
  if (const toml::node* n = sr.Node("url")) {
    if (!n->is_string()) {
      return Status::InvalidArgument(sr.At(*n) + sr.context() + ".url must be a string");
    }
    auto expanded = ExpandEnv(*n->value<std::string>(), env);
    if (!expanded.ok()) {
      return Status::InvalidArgument(sr.At(*n) + sr.context() +
                                     ".url: " + expanded.status().message());
    }
    spec.url = *expanded;
    if (spec.url.rfind("http://", 0) != 0 && spec.url.rfind("https://", 0) != 0) {
      return Status::InvalidArgument(sr.At(*n) + sr.context() +
                                     ".url must start with http:// or https://");
    }
  }
  if (kind == TableKind::kSource) {
    sr.DurationKey("interval", spec.interval, std::chrono::seconds(1), std::chrono::hours(24 * 7));
  }

  for (const ConfigKeySpec& key : connector->keys) {
    const toml::node* n = sr.Node(key.name);
    if (!n) {
      // `required` is about reading (a search query, a subreddit); an
      // account only publishes, and its connector's reply request names
      // whatever it lacks.
      if (key.required && kind == TableKind::kSource) {
        return Status::InvalidArgument(sr.AtTable() + sr.context() + " needs " + key.name +
                                       " (connector " + spec.connector + ": " + key.doc + ")");
      }
      if (!key.default_value.empty() || key.type != ConfigKeySpec::Type::kString) {
        auto v = DefaultValue(key);
        EARSHOT_RETURN_IF_ERROR(v.status());
        spec.options[key.name] = *v;
      }
      continue;
    }
    std::string where = sr.At(*n) + sr.context() + "." + key.name;
    switch (key.type) {
      case ConfigKeySpec::Type::kString: {
        if (!n->is_string()) return Status::InvalidArgument(where + " must be a string");
        auto v = ExpandEnv(*n->value<std::string>(), env);
        if (!v.ok()) return Status::InvalidArgument(where + ": " + v.status().message());
        spec.options[key.name] = *v;
        break;
      }
      case ConfigKeySpec::Type::kInteger:
        if (!n->is_integer()) return Status::InvalidArgument(where + " must be an integer");
        spec.options[key.name] = *n->value<int64_t>();
        break;
      case ConfigKeySpec::Type::kBoolean:
        if (!n->is_boolean()) {
          return Status::InvalidArgument(where + " must be true or false");
        }
        spec.options[key.name] = *n->value<bool>();
        break;
      case ConfigKeySpec::Type::kStringArray: {
        const toml::array* arr = n->as_array();
        if (!arr) return Status::InvalidArgument(where + " must be an array of strings");
        std::vector<std::string> values;
        for (const toml::node& item : *arr) {
          if (!item.is_string()) {
            return Status::InvalidArgument(sr.At(item) + sr.context() + "." + key.name +
                                           " must contain only strings");
          }
          auto v = ExpandEnv(*item.value<std::string>(), env);
          if (!v.ok()) return Status::InvalidArgument(where + ": " + v.status().message());
          values.push_back(*v);
        }
        spec.options[key.name] = std::move(values);
        break;
      }
    }
  }
  sr.RejectUnknown(KnownKeys(*connector, kind));
  EARSHOT_RETURN_IF_ERROR(sr.status());
  if (connector->validate != nullptr) {
    Status valid = connector->validate(spec);
    if (!valid.ok()) {
      // Point at the key the message names ("`items`: ..."), else the table.
      std::string where = sr.AtTable();
      const std::string& message = valid.message();
      if (message.size() > 2 && message.front() == '`') {
        const size_t close = message.find('`', 1);
        if (close != std::string::npos) {
          const toml::node* n = table.get(std::string_view(message).substr(1, close - 1));
          if (n != nullptr) where = sr.At(*n);
        }
      }
      return Status::InvalidArgument(where + sr.context() + " (connector " + spec.connector +
                                     "): " + message);
    }
  }
  return spec;
}

}  // namespace

EnvLookup ProcessEnv() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

Result<int64_t> ParseByteSize(std::string_view text) {
  size_t i = 0;
  int64_t number = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    if (number > (int64_t{1} << 50)) return Status::InvalidArgument("size too large");
    number = number * 10 + (text[i] - '0');
    ++i;
  }
  if (i == 0) return Status::InvalidArgument("not a size: \"" + std::string(text) + "\"");
  std::string_view unit = text.substr(i);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  static const std::pair<std::string_view, int64_t> kUnits[] = {
      {"", 1},
      {"B", 1},
      {"KB", 1000},
      {"MB", 1000 * 1000},
      {"GB", 1000 * 1000 * 1000},
      {"KiB", 1 << 10},
      {"MiB", 1 << 20},
      {"GiB", int64_t{1} << 30},
  };
  for (const auto& [name, factor] : kUnits) {
    if (unit == name) return number * factor;
  }
  return Status::InvalidArgument("unknown size unit \"" + std::string(unit) +
                                 "\" (use B, KB, MB, GB, KiB, MiB or GiB)");
}

Result<Config> ParseConfig(std::string_view text, std::string_view file_name,
                           const ConnectorLookup& connectors, const EnvLookup& env) {
  Config config;
  config.file = std::string(file_name);
  toml::table root;
  try {
    root = toml::parse(text, file_name);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(Where(file_name, e.source()) + std::string(e.description()));
  }

  TableReader top(file_name, root, "the top level");
  auto sub_table = [&](std::string_view key) -> Result<const toml::table*> {
    const toml::node* n = top.Node(key);
    if (!n) return static_cast<const toml::table*>(nullptr);
    if (!n->is_table()) {
      return Status::InvalidArgument(top.At(*n) + "[" + std::string(key) + "] must be a table");
    }
    return n->as_table();
  };

  auto store = sub_table("store");
  EARSHOT_RETURN_IF_ERROR(store.status());
  if (*store) {
    TableReader r(file_name, **store, "[store]");
    r.String("path", config.store_path);
    r.Integer("batch_rows", config.batch_rows, 1, 100000);
    r.DurationKey("batch_interval", config.batch_interval, std::chrono::milliseconds(1),
                  std::chrono::seconds(60));
    r.RejectUnknown("path, batch_rows, batch_interval");
    EARSHOT_RETURN_IF_ERROR(r.status());
    if (config.store_path.empty()) {
      return Status::InvalidArgument(r.AtTable() + "[store] path must not be empty");
    }
  }

  auto http = sub_table("http");
  EARSHOT_RETURN_IF_ERROR(http.status());
  if (*http) {
    TableReader r(file_name, **http, "[http]");
    std::string contact;
    r.String("user_agent", config.http.user_agent);
    r.String("contact", contact);
    r.DurationKey("connect_timeout", config.http.connect_timeout, std::chrono::milliseconds(100),
                  std::chrono::minutes(5));
    r.DurationKey("timeout", config.http.total_timeout, std::chrono::milliseconds(100),
                  std::chrono::hours(1));
    r.ByteSize("max_body", config.http.max_body_bytes, 1024, int64_t{1} << 32);
    int64_t redirects = config.http.max_redirects;
    r.Integer("max_redirects", redirects, 0, 20);
    config.http.max_redirects = static_cast<int>(redirects);
    r.Integer("per_host_concurrency", config.per_host_concurrency, 1, 64);
    r.DurationKey("per_host_delay", config.per_host_delay, Duration(0), std::chrono::minutes(10));
    r.String("ca_file", config.http.ca_file);
    r.RejectUnknown(
        "user_agent, contact, connect_timeout, timeout, max_body, max_redirects, "
        "per_host_concurrency, per_host_delay, ca_file");
    EARSHOT_RETURN_IF_ERROR(r.status());
    if (!contact.empty()) {
      config.http.user_agent = "earshot/0.1 (+" + contact + ")";
    }
  }

  auto schedule = sub_table("schedule");
  EARSHOT_RETURN_IF_ERROR(schedule.status());
  if (*schedule) {
    TableReader r(file_name, **schedule, "[schedule]");
    r.Float("jitter", config.jitter, 0.0, 0.5);
    r.DurationKey("backoff_initial", config.backoff_initial, std::chrono::seconds(1),
                  std::chrono::hours(24));
    r.DurationKey("backoff_max", config.backoff_max, std::chrono::seconds(1),
                  std::chrono::hours(24 * 7));
    r.Integer("max_pages_per_poll", config.max_pages_per_poll, 1, 10000);
    r.DurationList("conversations", config.conversation_schedule, Duration(0),
                   std::chrono::hours(24 * 365), 100);
    r.RejectUnknown("jitter, backoff_initial, backoff_max, max_pages_per_poll, conversations");
    EARSHOT_RETURN_IF_ERROR(r.status());
    if (config.backoff_max < config.backoff_initial) {
      return Status::InvalidArgument(r.AtTable() +
                                     "[schedule] backoff_max is below backoff_initial");
    }
  }

  auto classify = sub_table("classify");
  EARSHOT_RETURN_IF_ERROR(classify.status());
  if (*classify) {
    TableReader r(file_name, **classify, "[classify]");
    r.String("rules_dir", config.rules_dir);
    r.String("orgs_dir", config.orgs_dir);
    r.RejectUnknown("rules_dir, orgs_dir");
    EARSHOT_RETURN_IF_ERROR(r.status());
    // Relative folders are relative to the configuration file.
    auto anchor = [&](std::string& dir) {
      if (dir.empty() || std::filesystem::path(dir).is_absolute()) return;
      dir = (std::filesystem::path(std::string(file_name)).parent_path() / dir).string();
    };
    anchor(config.rules_dir);
    anchor(config.orgs_dir);
  }

  if (const toml::node* n = top.Node("source")) {
    const toml::array* sources = n->as_array();
    if (!sources || !sources->is_array_of_tables()) {
      return Status::InvalidArgument(top.At(*n) + "source must be written as [[source]] tables");
    }
    std::set<std::string> names;
    for (size_t i = 0; i < sources->size(); ++i) {
      const toml::table& t = *(*sources)[i].as_table();
      auto spec = ReadConnectorTable(file_name, t, i, TableKind::kSource, connectors, env, nullptr);
      EARSHOT_RETURN_IF_ERROR(spec.status());
      if (!names.insert(spec->name).second) {
        return Status::InvalidArgument(Where(file_name, t.source()) + "source name \"" +
                                       spec->name + "\" is used twice");
      }
      config.sources.push_back(std::move(spec).value());
    }
  }
  if (const toml::node* n = top.Node("account")) {
    const toml::array* accounts = n->as_array();
    if (!accounts || !accounts->is_array_of_tables()) {
      return Status::InvalidArgument(top.At(*n) + "account must be written as [[account]] tables");
    }
    std::set<std::string> names;
    for (size_t i = 0; i < accounts->size(); ++i) {
      const toml::table& t = *(*accounts)[i].as_table();
      AccountSpec account;
      auto spec =
          ReadConnectorTable(file_name, t, i, TableKind::kAccount, connectors, env, &account.org);
      EARSHOT_RETURN_IF_ERROR(spec.status());
      if (!names.insert(spec->name).second) {
        return Status::InvalidArgument(Where(file_name, t.source()) + "account name \"" +
                                       spec->name + "\" is used twice");
      }
      account.spec = std::move(spec).value();
      config.accounts.push_back(std::move(account));
    }
  }
  if (const toml::node* n = top.Node("org")) {
    const toml::array* orgs = n->as_array();
    if (!orgs || !orgs->is_array_of_tables()) {
      return Status::InvalidArgument(top.At(*n) + "org must be written as [[org]] tables");
    }
    for (size_t i = 0; i < orgs->size(); ++i) {
      const toml::table& t = *(*orgs)[i].as_table();
      OrgSettings org;
      TableReader r(file_name, t, "[[org]] #" + std::to_string(i + 1));
      r.String("code", org.code);
      if (const toml::node* approval = r.Node("require_approval")) {
        if (!approval->is_boolean()) {
          r.Fail(r.At(*approval) + r.context() + ".require_approval must be true or false");
        } else {
          org.require_approval = approval->as_boolean()->get();
        }
      }
      r.RejectUnknown("code, require_approval");
      EARSHOT_RETURN_IF_ERROR(r.status());
      for (char& c : org.code) {
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      }
      if (org.code.empty()) {
        return Status::InvalidArgument(r.AtTable() + r.context() +
                                       " needs code = \"ODS code\" (e.g. \"RHQ\")");
      }
      if (!IsOdsCode(org.code)) {
        return Status::InvalidArgument(r.At(*t.get("code")) + r.context() + ".code \"" + org.code +
                                       "\" is not an ODS code (3 to 8 letters and digits, "
                                       "e.g. \"RHQ\")");
      }
      if (FindOrg(config, org.code) != nullptr) {
        return Status::InvalidArgument(r.AtTable() + "[[org]] code \"" + org.code +
                                       "\" is used twice");
      }
      config.orgs.push_back(std::move(org));
    }
  }
  top.RejectUnknown("store, http, schedule, classify, source, account, org");
  EARSHOT_RETURN_IF_ERROR(top.status());
  return config;
}

Result<Config> LoadConfig(const std::string& path, const ConnectorLookup& connectors,
                          const EnvLookup& env) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read config file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return ParseConfig(text.str(), path, connectors, env);
}

const OrgSettings* FindOrg(const Config& config, std::string_view code) {
  for (const OrgSettings& org : config.orgs) {
    if (org.code == code) return &org;
  }
  return nullptr;
}

const AccountSpec* FindAccount(const Config& config, std::string_view name) {
  for (const AccountSpec& account : config.accounts) {
    if (account.spec.name == name) return &account;
  }
  return nullptr;
}

SourceSpec DefaultSourceSpec(const ConnectorDescriptor& connector, std::string name,
                             std::string url) {
  SourceSpec spec;
  spec.name = std::move(name);
  spec.connector = std::string(connector.name);
  spec.url = std::move(url);
  for (const ConfigKeySpec& key : connector.keys) {
    if (key.default_value.empty() && key.type == ConfigKeySpec::Type::kString) continue;
    if (auto v = DefaultValue(key); v.ok()) spec.options[key.name] = *v;
  }
  return spec;
}

std::string DescribeSource(const SourceSpec& spec, const ConnectorDescriptor* connector) {
  std::string out = spec.name + " (" + spec.connector;
  if (!spec.url.empty()) out += " " + spec.url;
  for (const auto& [key, value] : spec.options) {
    bool secret = false;
    if (connector) {
      for (const ConfigKeySpec& k : connector->keys) {
        if (k.name == key) secret = k.secret;
      }
    }
    out += " " + key + "=";
    if (secret) {
      out += "***";
    } else if (const auto* s = std::get_if<std::string>(&value)) {
      out += *s;
    } else if (const auto* i = std::get_if<int64_t>(&value)) {
      out += std::to_string(*i);
    } else if (const auto* b = std::get_if<bool>(&value)) {
      out += *b ? "true" : "false";
    } else if (const auto* a = std::get_if<std::vector<std::string>>(&value)) {
      out += "[";
      for (size_t i = 0; i < a->size(); ++i) out += (i ? "," : "") + (*a)[i];
      out += "]";
    }
  }
  return out + ")";
}

}  // namespace earshot
