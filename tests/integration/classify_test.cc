// `earshot classify` and `earshot rules ...` with the default config/.
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "tests/integration/harness.h"

namespace earshot::integration {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using earshot::testing::Describe;
using earshot::testing::WriteFile;

TEST_CASE("classify: JSON and plain lines in, one JSON result per line out", "[integration]") {
  Sandbox box({});
  box.WriteConfig("");
  const fs::path input = box.dir() / "in.jsonl";
  WriteFile(
      input,
      R"({"id": "a", "text": "Waited 9 hours in A&E at the Northern General. NHS no 943 476 5919"})"
      "\n"
      "Lovely walk along the canal today\n");
  ProcessOptions options;
  options.stdin_file = input;
  ProcessResult r = box.Earshot({"classify"}, options);
  INFO(Describe(r));
  REQUIRE(r.exit_code == 0);
  const auto lines = Lines(r.out);
  REQUIRE(lines.size() == 2);

  const json::object a = json::parse(lines[0]).as_object();
  CHECK(a.at("id").as_string() == "a");
  const std::string text(a.at("text").as_string());
  CHECK(text.find("943 476 5919") == std::string::npos);
  CHECK(text.find("[NHS number]") != std::string::npos);
  REQUIRE(a.at("redactions").as_array().size() == 1);
  CHECK(a.at("redactions").as_array()[0].as_object().at("kind").as_string() == "nhs_number");
  const json::array& orgs = a.at("orgs").as_array();
  REQUIRE(orgs.size() == 1);
  CHECK(orgs[0].as_object().at("code").as_string() == "RHQ");
  const json::array& span = orgs[0].as_object().at("span").as_array();
  CHECK(text.substr(span[0].as_int64(), span[1].as_int64() - span[0].as_int64()) ==
        "Northern General");
  bool timeliness = false;
  for (const json::value& t : a.at("topics").as_array()) {
    if (t.as_object().at("name").as_string() == "Timeliness of care") timeliness = true;
  }
  CHECK(timeliness);
  CHECK(a.at("relevant").as_bool());
  for (const char* key : {"unrouted", "criticality", "sentiment", "priority"}) {
    CHECK(a.contains(key));
  }

  const json::object b = json::parse(lines[1]).as_object();
  CHECK(b.at("id").as_int64() == 2);  // plain line: its line number
  CHECK_FALSE(b.at("relevant").as_bool());
}

TEST_CASE("rules check compiles the defaults, backtest reports without writing", "[integration]") {
  Sandbox box({});
  box.WriteConfig("");
  ProcessResult check = box.Earshot({"rules", "check"});
  INFO(Describe(check));
  CHECK(check.exit_code == 0);
  CHECK(check.out.find("compiled: topics ") != std::string::npos);

  // A broken rules folder fails with FILE:LINE:COLUMN.
  const fs::path bad = box.dir() / "rules";
  fs::create_directories(bad);
  for (const char* f : {"topics.toml", "sentiment.toml", "criticality.toml", "relevance.toml"}) {
    fs::copy_file(fs::path(EARSHOT_SOURCE_DIR) / "config" / "rules" / f, bad / f);
  }
  WriteFile(bad / "relevance.toml",
            "[meta]\nstage = \"relevance\"\nversion = \"x\"\n[[label]]\nname = \"health\"\n"
            "[[rule]]\nid = \"broken\"\nlabel = \"health\"\nany = ['(nhs']\n");
  ProcessResult broken = box.Earshot({"rules", "check", "--rules", bad.string()});
  INFO(Describe(broken));
  CHECK(broken.exit_code == 2);
  CHECK(broken.err.find("relevance.toml:") != std::string::npos);
  CHECK(broken.err.find("broken") != std::string::npos);

  const fs::path posts = box.dir() / "posts.jsonl";
  WriteFile(posts,
            R"({"platform":"mastodon","id":"1","text":"Six hours in A&E at the Northern General"})"
            "\n");
  ProcessResult imported = box.Earshot({"import", posts.string()});
  INFO(Describe(imported));
  REQUIRE(imported.exit_code == 0);
  ProcessResult backtest = box.Earshot({"rules", "backtest"});
  INFO(Describe(backtest));
  CHECK(backtest.exit_code == 0);
  CHECK(backtest.out.find("re-classified 1 stored post(s)") != std::string::npos);
  CHECK(backtest.out.find("0 would change") != std::string::npos);
}

}  // namespace
}  // namespace earshot::integration
