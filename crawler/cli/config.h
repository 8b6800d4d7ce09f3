// The operator's configuration file (TOML): [store], [http], [schedule],
// [classify], one [[source]] table per source, one [[account]] table per
// organisation account that publishes replies and one [[org]] table per
// organisation with settings of its own. See config/earshot.example.toml and
// docs/configuration in README.md.
//
// Promise: a file that loads is fully valid — every key known, every type
// and value checked, every connector key declared by its connector, every
// ${ENV_VAR} resolved. Anything else is an InvalidArgument whose message
// starts "FILE:LINE:COLUMN: " and names the key. Secret values are never
// part of an error message.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crawler/core/clock.h"
#include "crawler/core/connector.h"
#include "crawler/core/status.h"
#include "crawler/net/transport.h"

namespace earshot {

// One validated [[account]] table: an organisation's own account on a
// platform, from which its staff's replies are published. `spec` is read
// like a [[source]] (name, connector, url, the connector's keys with
// defaults and ${ENV_VAR} substituted; `interval` is not used); the
// connector has a reply capability.
struct AccountSpec {
  SourceSpec spec;
  std::string org;  // ODS code of the organisation, upper case: "RHQ"
};

// One validated [[org]] table: how an organisation's staff work.
struct OrgSettings {
  std::string code;               // ODS code, upper case: "RHQ"
  bool require_approval = false;  // a draft is published only after a second person approved it
};

struct Config {
  std::string file;  // where it was read from ("<string>" for text)

  // [store]
  std::string store_path = "earshot.db";
  int64_t batch_rows = 1000;
  Duration batch_interval = std::chrono::milliseconds(100);

  // [http]
  TransportOptions http;
  int64_t per_host_concurrency = 2;
  Duration per_host_delay = std::chrono::seconds(1);

  // [schedule]
  double jitter = 0.1;  // fraction of the interval or backoff, 0..0.5
  Duration backoff_initial = std::chrono::seconds(30);
  Duration backoff_max = std::chrono::hours(1);
  int64_t max_pages_per_poll = 20;
  // `conversations`: when a watched post's conversation is fetched, as
  // offsets from the post's creation, strictly ascending ("0s" only first).
  // Empty: conversation watching is off.
  std::vector<Duration> conversation_schedule = {std::chrono::minutes(10), std::chrono::hours(1),
                                                 std::chrono::hours(6), std::chrono::hours(24),
                                                 std::chrono::hours(72)};

  // [classify]: where the rules and gazetteer live; empty means the
  // defaults (DefaultClassifierPaths in classifiers/classifier.h).
  std::string rules_dir;
  std::string orgs_dir;

  // [[source]], in file order; names unique.
  std::vector<SourceSpec> sources;

  // [[account]], in file order; names unique (apart from source names).
  std::vector<AccountSpec> accounts;

  // [[org]], in file order; codes unique.
  std::vector<OrgSettings> orgs;
};

// The settings of organisation `code`, or nullptr (defaults apply).
const OrgSettings* FindOrg(const Config& config, std::string_view code);

// The account named `name`, or nullptr.
const AccountSpec* FindAccount(const Config& config, std::string_view name);

// Looks up an environment variable; injected so tests need no real env.
using EnvLookup = std::function<std::optional<std::string>(std::string_view)>;
EnvLookup ProcessEnv();

// Connector descriptors by name; injected so the loader does not depend on
// which connectors are compiled in.
using ConnectorLookup = std::function<const ConnectorDescriptor*(std::string_view)>;

Result<Config> ParseConfig(std::string_view text, std::string_view file_name,
                           const ConnectorLookup& connectors, const EnvLookup& env);
Result<Config> LoadConfig(const std::string& path, const ConnectorLookup& connectors,
                          const EnvLookup& env);

// A source for `earshot parse` and tests: the connector's defaults and
// nothing else.
SourceSpec DefaultSourceSpec(const ConnectorDescriptor& connector, std::string name,
                             std::string url);

// "16MiB", "512KiB", "1MB", "2048" (bytes).
Result<int64_t> ParseByteSize(std::string_view text);

// A secret-free, one-line description of a source for logs and tables:
// "nhs-tag (mastodon https://mastodon.social tag=nhs token=***)".
std::string DescribeSource(const SourceSpec& spec, const ConnectorDescriptor* connector);

}  // namespace earshot
