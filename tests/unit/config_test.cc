#include <catch2/catch.hpp>
#include <fstream>

#include "connectors/registry.h"
#include "crawler/cli/config.h"

namespace earshot {
namespace {

Result<HttpRequest> NoRequest(const SourceSpec&, const SourceCursor&) {
  return Status::Internal("unused");
}
Result<Page> NoParse(const SourceSpec&, const SourceCursor&, const HttpResponse&) {
  return Status::Internal("unused");
}
RateLimitInfo NoRate(const HttpResponse&) { return {}; }

const ConnectorDescriptor& TestConnector() {
  static const ConnectorDescriptor d{
      .name = "testc",
      .summary = "test connector",
      .keys = {{.name = "tag", .type = ConfigKeySpec::Type::kString, .doc = "a tag"},
               {.name = "limit",
                .type = ConfigKeySpec::Type::kInteger,
                .default_value = "40",
                .doc = "page size"},
               {.name = "token",
                .type = ConfigKeySpec::Type::kString,
                .secret = true,
                .doc = "bearer token"},
               {.name = "local", .type = ConfigKeySpec::Type::kBoolean, .default_value = "false"},
               {.name = "words", .type = ConfigKeySpec::Type::kStringArray}},
      .next_request = NoRequest,
      .parse = NoParse,
      .read_rate_limit = NoRate,
  };
  return d;
}

Result<HttpRequest> NoReplyRequest(const SourceSpec&, const AuthSession*, const Post&,
                                   const ReplyDraft&) {
  return Status::Internal("unused");
}
Result<PublishedReply> NoReplyParse(const SourceSpec&, const Post&, const HttpResponse&) {
  return Status::Internal("unused");
}

// A connector that can publish replies, for [[account]] tables.
const ConnectorDescriptor& ReplyingConnector() {
  static const ReplyCapability reply{.request = NoReplyRequest, .parse = NoReplyParse};
  static const ConnectorDescriptor d{
      .name = "testr",
      .summary = "test connector that publishes",
      .keys = {{.name = "access_token",
                .type = ConfigKeySpec::Type::kString,
                .secret = true,
                .doc = "write token"},
               {.name = "limit",
                .type = ConfigKeySpec::Type::kInteger,
                .default_value = "40",
                .doc = "page size"}},
      .next_request = NoRequest,
      .parse = NoParse,
      .read_rate_limit = NoRate,
      .reply = &reply,
  };
  return d;
}

const ConnectorDescriptor* Lookup(std::string_view name) {
  if (name == "testr") return &ReplyingConnector();
  return name == "testc" ? &TestConnector() : nullptr;
}

std::optional<std::string> Env(std::string_view name) {
  if (name == "TEST_TOKEN") return std::string("s3cret");
  if (name == "TRUST_TOKEN") return std::string("wr1te-s3cret");
  return std::nullopt;
}

Result<Config> Parse(std::string_view text) {
  return ParseConfig(text, "earshot.toml", Lookup, Env);
}

TEST_CASE("config: a full file loads with defaults and env substitution", "[config]") {
  auto c = Parse(R"(
[store]
path = "/var/lib/earshot/earshot.db"
batch_rows = 500

[http]
contact = "https://trust.example.nhs.uk/earshot"
timeout = "20s"
max_body = "8MiB"

[schedule]
backoff_max = "2h"

[[source]]
name = "tag"
connector = "testc"
url = "https://social.example"
interval = "90s"
tag = "nhs"
token = "${TEST_TOKEN}"
words = ["a", "b"]
)");
  REQUIRE(c.ok());
  CHECK(c->store_path == "/var/lib/earshot/earshot.db");
  CHECK(c->batch_rows == 500);
  CHECK(c->http.user_agent == "earshot/0.1 (+https://trust.example.nhs.uk/earshot)");
  CHECK(c->http.total_timeout == std::chrono::seconds(20));
  CHECK(c->http.max_body_bytes == 8 * 1024 * 1024);
  CHECK(c->backoff_max == std::chrono::hours(2));
  REQUIRE(c->sources.size() == 1);
  const SourceSpec& s = c->sources[0];
  CHECK(s.interval == std::chrono::seconds(90));
  CHECK(s.GetString("tag") == "nhs");
  CHECK(s.GetString("token") == "s3cret");
  CHECK(s.GetInt("limit") == 40);
  CHECK_FALSE(s.GetBool("local", true));
  CHECK(s.GetStrings("words") == std::vector<std::string>{"a", "b"});
  std::string described = DescribeSource(s, &TestConnector());
  CHECK(described.find("s3cret") == std::string::npos);
  CHECK(described.find("token=***") != std::string::npos);
}

TEST_CASE("config: errors name file, line and column", "[config]") {
  SECTION("unknown top-level key") {
    auto c = Parse("[store]\npath = \"x.db\"\n\nbogus = 1\n");
    REQUIRE_FALSE(c.ok());
    // 'bogus' sits inside [store] in TOML terms.
    CHECK(c.status().message() ==
          "earshot.toml:4:1: unknown key \"bogus\" in [store] "
          "(known keys: path, batch_rows, batch_interval)");
  }
  SECTION("wrong type") {
    auto c = Parse("[http]\ntimeout = true\n");
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().message().rfind("earshot.toml:2:11: [http].timeout must be a duration", 0) ==
          0);
  }
  SECTION("bad value") {
    auto c = Parse("[schedule]\njitter = 0.9\n");
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().message().rfind("earshot.toml:2:10: [schedule].jitter must be between", 0) ==
          0);
  }
  SECTION("bad duration text") {
    auto c = Parse("[http]\ntimeout = \"soon\"\n");
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().message().rfind("earshot.toml:2:11: [http].timeout: ", 0) == 0);
  }
  SECTION("TOML syntax error") {
    auto c = Parse("[store\npath = 1\n");
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().message().rfind("earshot.toml:1:", 0) == 0);
  }
  SECTION("unknown connector") {
    auto c = Parse("[[source]]\nname = \"a\"\nconnector = \"nope\"\n");
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().message() == "earshot.toml:3:13: source \"a\": unknown connector \"nope\"");
  }
  SECTION("unknown connector key lists the known ones") {
    auto c = Parse(
        "[[source]]\nname = \"a\"\nconnector = \"testc\"\nurl = \"https://x.example\"\n"
        "tags = \"nhs\"\n");
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().message() ==
          "earshot.toml:5:1: unknown key \"tags\" in source \"a\" (known keys: name, "
          "connector, url, interval, tag, limit, token, local, words)");
  }
  SECTION("connector key of the wrong type") {
    auto c = Parse("[[source]]\nname = \"a\"\nconnector = \"testc\"\nlimit = \"forty\"\n");
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().message() == "earshot.toml:4:9: source \"a\".limit must be an integer");
  }
  SECTION("missing environment variable does not leak values") {
    auto c = Parse("[[source]]\nname = \"a\"\nconnector = \"testc\"\ntoken = \"${NOPE}\"\n");
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().message() ==
          "earshot.toml:4:9: source \"a\".token: environment variable NOPE is not set");
  }
  SECTION("duplicate source names") {
    auto c = Parse(
        "[[source]]\nname = \"a\"\nconnector = \"testc\"\n"
        "[[source]]\nname = \"a\"\nconnector = \"testc\"\n");
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().message() == "earshot.toml:4:1: source name \"a\" is used twice");
  }
  SECTION("non-http url") {
    auto c =
        Parse("[[source]]\nname = \"a\"\nconnector = \"testc\"\nurl = \"file:///etc/passwd\"\n");
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().message().find("must start with http:// or https://") != std::string::npos);
  }
  SECTION("source without a name") {
    auto c = Parse("[[source]]\nconnector = \"testc\"\n");
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().message() == "earshot.toml:1:1: [[source]] #1 needs a non-empty name");
  }
}

TEST_CASE("config: [[account]] tables", "[config]") {
  auto c = Parse(R"(
[[source]]
name = "tag"
connector = "testc"
url = "https://social.example"

[[account]]
name = "sth"
org = "rhq"
connector = "testr"
url = "https://social.example"
access_token = "${TRUST_TOKEN}"

[[account]]
name = "tag"
org = "RR8"
connector = "testr"
url = "https://other.example"
)");
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  REQUIRE(c->accounts.size() == 2);
  const AccountSpec& sth = c->accounts[0];
  CHECK(sth.org == "RHQ");  // ODS codes are upper case
  CHECK(sth.spec.name == "sth");
  CHECK(sth.spec.connector == "testr");
  CHECK(sth.spec.url == "https://social.example");
  CHECK(sth.spec.GetString("access_token") == "wr1te-s3cret");
  CHECK(sth.spec.GetInt("limit") == 40);     // the connector's defaults apply
  CHECK(c->accounts[1].spec.name == "tag");  // a source's name is no obstacle
  CHECK(FindAccount(*c, "sth") == &c->accounts[0]);
  CHECK(FindAccount(*c, "nope") == nullptr);
  CHECK(DescribeSource(sth.spec, &ReplyingConnector()).find("wr1te") == std::string::npos);
}

TEST_CASE("config: [[account]] errors name file, line and column", "[config]") {
  auto error = [](const std::string& body) {
    auto c = Parse("[[account]]\nname = \"sth\"\n" + body);
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().code() == StatusCode::kInvalidArgument);
    CHECK(c.status().message().find("wr1te-s3cret") == std::string::npos);
    return c.status().message();
  };
  const std::string ok_rest = "connector = \"testr\"\nurl = \"https://social.example\"\n";
  SECTION("no org") {
    CHECK(error(ok_rest) ==
          "earshot.toml:1:1: account \"sth\" needs org = \"ODS code\" (the organisation it "
          "answers for)");
  }
  SECTION("not an ODS code") {
    CHECK(error("org = \"Sheffield\"\n" + ok_rest)
              .rfind("earshot.toml:3:7: account \"sth\".org \"SHEFFIELD\" is not an ODS code", 0) ==
          0);
    CHECK(error("org = \"R-H\"\n" + ok_rest).find("is not an ODS code") != std::string::npos);
    CHECK(error("org = 7\n" + ok_rest) == "earshot.toml:3:7: account \"sth\".org must be a string");
  }
  SECTION("a connector that cannot publish") {
    CHECK(error("org = \"RHQ\"\nconnector = \"testc\"\nurl = \"https://x.example\"\n") ==
          "earshot.toml:4:13: account \"sth\": connector \"testc\" cannot publish replies, so it "
          "takes no accounts (staff answer such posts on the platform itself)");
  }
  SECTION("an unknown connector") {
    CHECK(error("org = \"RHQ\"\nconnector = \"nope\"\n") ==
          "earshot.toml:4:13: account \"sth\": unknown connector \"nope\"");
  }
  SECTION("no url") {
    CHECK(error("org = \"RHQ\"\nconnector = \"testr\"\n")
              .rfind("earshot.toml:1:1: account \"sth\" needs url = ", 0) == 0);
  }
  SECTION("interval belongs to sources") {
    CHECK(error("org = \"RHQ\"\n" + ok_rest + "interval = \"5m\"\n") ==
          "earshot.toml:6:1: unknown key \"interval\" in account \"sth\" (known keys: name, org, "
          "connector, url, access_token, limit)");
  }
  SECTION("a missing environment variable") {
    CHECK(error("org = \"RHQ\"\n" + ok_rest + "access_token = \"${NOPE}\"\n") ==
          "earshot.toml:6:16: account \"sth\".access_token: environment variable NOPE is not set");
  }
  SECTION("a name used twice") {
    const std::string table = "org = \"RHQ\"\n" + ok_rest;
    CHECK(error(table + "[[account]]\nname = \"sth\"\n" + table) ==
          "earshot.toml:6:1: account name \"sth\" is used twice");
  }
  SECTION("no name") {
    auto c = Parse("[[account]]\norg = \"RHQ\"\n" + ok_rest);
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().message() == "earshot.toml:1:1: [[account]] #1 needs a non-empty name");
  }
  SECTION("not a table array") {
    auto c = Parse("account = \"sth\"\n");
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().message() ==
          "earshot.toml:1:11: account must be written as [[account]] tables");
  }
}

TEST_CASE("config: [schedule] conversations", "[config]") {
  using std::chrono::hours;
  using std::chrono::minutes;
  using std::chrono::seconds;
  SECTION("the default: 10m, 1h, 6h, 24h, 72h") {
    auto c = Parse("[schedule]\njitter = 0.1\n");
    REQUIRE(c.ok());
    CHECK(c->conversation_schedule ==
          std::vector<Duration>{minutes(10), hours(1), hours(6), hours(24), hours(72)});
  }
  SECTION("durations and integer seconds, 0s first") {
    auto c = Parse("[schedule]\nconversations = [\"0s\", 90, \"1h30m\", \"2d\"]\n");
    INFO(c.status().ToString());
    REQUIRE(c.ok());
    CHECK(c->conversation_schedule ==
          std::vector<Duration>{Duration(0), seconds(90), minutes(90), hours(48)});
  }
  SECTION("an empty list turns watching off") {
    auto c = Parse("[schedule]\nconversations = []\n");
    REQUIRE(c.ok());
    CHECK(c->conversation_schedule.empty());
  }
  SECTION("errors point at the element") {
    struct Case {
      std::string text;
      std::string message;
    };
    const std::vector<Case> cases = {
        {"conversations = \"10m\"",
         "earshot.toml:2:17: [schedule].conversations must be a list of durations"},
        {"conversations = [\"10m\", \"soon\"]",
         "earshot.toml:2:25: [schedule].conversations: invalid duration \"soon\""},
        {"conversations = [\"10m\", true]",
         "earshot.toml:2:25: [schedule].conversations must contain only durations"},
        {"conversations = [\"1h\", \"10m\"]",
         "earshot.toml:2:24: [schedule].conversations: steps must be in ascending order"},
        {"conversations = [\"0s\", \"0s\"]",
         "earshot.toml:2:24: [schedule].conversations: steps must be in ascending order"},
        {"conversations = [\"10m\", -5]",
         "earshot.toml:2:25: [schedule].conversations: each step must be between 0s and"},
        {"conversations = [\"400d\"]",
         "earshot.toml:2:18: [schedule].conversations: each step must be between 0s and"},
        {"conversations = [99999999999999999]",
         "earshot.toml:2:18: [schedule].conversations: each step must be between 0s and"},
    };
    for (const Case& test : cases) {
      INFO(test.text);
      auto c = Parse("[schedule]\n" + test.text + "\n");
      REQUIRE_FALSE(c.ok());
      INFO(c.status().message());
      CHECK(c.status().message().rfind(test.message, 0) == 0);
    }
  }
}

TEST_CASE("config: byte sizes", "[config]") {
  CHECK(*ParseByteSize("16MiB") == 16 * 1024 * 1024);
  CHECK(*ParseByteSize("1MB") == 1000 * 1000);
  CHECK(*ParseByteSize("2048") == 2048);
  CHECK_FALSE(ParseByteSize("MiB").ok());
  CHECK_FALSE(ParseByteSize("3 parsecs").ok());
}

}  // namespace
}  // namespace earshot

namespace earshot {
namespace {

TEST_CASE("config: the shipped example and demo configs load", "[config]") {
  auto env = [](std::string_view name) -> std::optional<std::string> {
    if (name == "MASTODON_TOKEN") return std::string("t");
    if (name == "EARSHOT_DEMO_BASE") return std::string("http://127.0.0.1:1");
    return std::nullopt;
  };
  for (const char* file : {"config/earshot.example.toml", "config/demo/earshot.toml"}) {
    INFO(file);
    auto c = LoadConfig(std::string(EARSHOT_SOURCE_DIR) + "/" + file, FindConnector, env);
    REQUIRE(c.ok());
    CHECK(c->sources.size() >= 4);
  }
}

TEST_CASE("config: the example's commented [[account]] loads once uncommented", "[config]") {
  std::ifstream in(std::string(EARSHOT_SOURCE_DIR) + "/config/earshot.example.toml");
  REQUIRE(in);
  std::string text;
  bool in_account = false;
  int uncommented = 0;
  for (std::string line; std::getline(in, line);) {
    if (line == "#[[account]]") in_account = true;
    if (in_account && line.empty()) in_account = false;
    if (in_account && line.rfind("#", 0) == 0) {
      line.erase(0, 1);
      ++uncommented;
    }
    text += line + "\n";
  }
  REQUIRE(uncommented >= 5);
  auto env = [](std::string_view name) -> std::optional<std::string> {
    if (name == "MASTODON_TOKEN") return std::string("t");
    if (name == "STH_MASTODON_TOKEN") return std::string("w");
    return std::nullopt;
  };
  auto c = ParseConfig(text, "earshot.example.toml", FindConnector, env);
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  REQUIRE(c->accounts.size() == 1);
  CHECK(c->accounts[0].spec.connector == "mastodon");
  CHECK(c->accounts[0].spec.GetString("access_token") == "w");
  CHECK_FALSE(c->accounts[0].org.empty());
}

}  // namespace
}  // namespace earshot
