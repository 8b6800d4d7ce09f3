// `earshot run` reloads its rules on SIGHUP: a bad rule file is refused with
// its file and line while the running set keeps classifying; a good one is
// swapped in whole, and posts fetched afterwards carry the new rule's id.
#include <signal.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/integration/harness.h"

namespace earshot::integration {
namespace {

namespace fs = std::filesystem;
using earshot::testing::ChildProcess;
using earshot::testing::Describe;

const std::string kTimeline = "/api/v1/timelines/tag/nhs";

FixtureRoute Timeline(const std::string& query, const std::string& body) {
  return JsonRoute(kTimeline + query, body);
}

std::string StatusPage(int n, const std::string& text) {
  return "[" + MastodonStatusJson(StatusId(n), text) + "]";
}

void Append(const fs::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::app);
  out << text;
}

const Decision* FindDecision(const StoredPost& post, Decision::Kind kind) {
  for (const Decision& d : post.post.decisions) {
    if (d.kind == kind) return &d;
  }
  return nullptr;
}

TEST_CASE("run: SIGHUP refuses a bad rule set, then swaps in a good one", "[integration]") {
  const std::string first_text = "Waited nine hours in A&E at the Northern General last night.";
  const std::string second_text =
      "The Northern General porter took our zebrafish-shaped balloon, lovely man.";
  const std::string empty = "[]";
  Sandbox box({Timeline("?limit=40", StatusPage(1, first_text)),
               Timeline("?limit=40&min_id=" + StatusId(1), empty)});
  // A private copy of the default rules that the test edits under the
  // running process.
  const fs::path rules = box.dir() / "rules";
  fs::copy(fs::path(EARSHOT_SOURCE_DIR) / "config" / "rules", rules);
  box.WriteConfig("[classify]\nrules_dir = \"" + rules.string() + "\"\norgs_dir = \"" +
                  (fs::path(EARSHOT_SOURCE_DIR) / "config" / "orgs").string() +
                  "\"\n\n"
                  "[[source]]\nname = \"mastodon-nhs\"\nconnector = \"mastodon\"\n"
                  "url = \"{{base}}\"\ntag = \"nhs\"\ninterval = \"1s\"\n");

  ProcessOptions options;
  options.cwd = box.dir();
  std::string error;
  auto child = ChildProcess::Start(box.EarshotArgs({"run"}), options, &error);
  REQUIRE(child != nullptr);
  REQUIRE(box.server().WaitForRequests(1, std::chrono::seconds(20)));

  // A rule whose pattern RE2 rejects: refused, with the file and line.
  const fs::path criticality = rules / "criticality.toml";
  const std::string good = [&] {
    std::ifstream in(criticality);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }();
  Append(criticality,
         "\n[[rule]]\nid = \"test.broken\"\nlabel = \"clinical_risk\"\n"
         "any = ['(unclosed']\n");
  REQUIRE(child->Signal(SIGHUP));
  auto refused = child->WaitForStderr("rules not reloaded", std::chrono::seconds(30));
  INFO(child->StderrSoFar());
  REQUIRE(refused.has_value());
  CHECK(child->StderrSoFar().find("criticality.toml:") != std::string::npos);

  // A good set with one new rule: swapped in; the next page is classified
  // by it.
  {
    std::ofstream out(criticality, std::ios::trunc);
    out << good
        << "\n[[rule]]\nid = \"test.zebrafish\"\nlabel = \"clinical_risk\"\n"
           "any = ['\\bzebrafish\\b']\n";
  }
  REQUIRE(child->Signal(SIGHUP));
  REQUIRE(child->WaitForStderr("rules reloaded", std::chrono::seconds(30), *refused).has_value());
  const size_t before = box.server().Requests().size();
  box.server().SetRoutes({Timeline("?limit=40", StatusPage(1, first_text)),
                          Timeline("?limit=40&min_id=" + StatusId(1), StatusPage(2, second_text)),
                          Timeline("?limit=40&min_id=" + StatusId(2), empty)});
  REQUIRE(box.server().WaitForRequests(before + 2, std::chrono::seconds(20)));
  REQUIRE(child->Signal(SIGTERM));
  const auto result = child->Wait(std::chrono::seconds(20));
  REQUIRE(result.has_value());
  INFO(Describe(*result));
  CHECK(result->exit_code == 0);

  auto store = box.OpenStore();
  const std::vector<StoredPost> posts = AllPosts(*store);
  REQUIRE(posts.size() == 2);
  for (const StoredPost& post : posts) {
    const Decision* critical = FindDecision(post, Decision::Kind::kCriticality);
    if (post.post.id == StatusId(2)) {
      REQUIRE(critical != nullptr);
      CHECK(critical->rule == "test.zebrafish");
    } else {
      CHECK((critical == nullptr || critical->rule != "test.zebrafish"));
    }
  }
}

}  // namespace
}  // namespace earshot::integration
