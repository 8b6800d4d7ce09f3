// `earshot users` and `earshot threads` with the real binary: tokens shown
// once and stored hashed, codes checked against the gazetteer, and threads
// opened by importing routed posts.
#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

#include "crawler/threads/tokens.h"
#include "tests/integration/harness.h"

namespace earshot::integration {
namespace {

namespace fs = std::filesystem;
using earshot::testing::Describe;
using earshot::testing::WriteFile;

std::string LastLine(const std::string& text) {
  std::string trimmed = text;
  while (!trimmed.empty() && trimmed.back() == '\n') trimmed.pop_back();
  const size_t newline = trimmed.rfind('\n');
  return newline == std::string::npos ? trimmed : trimmed.substr(newline + 1);
}

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST_CASE("users add prints a token once, stores its hash, list and revoke", "[integration]") {
  Sandbox box({});
  box.WriteConfig("");
  ProcessResult added =
      box.Earshot({"users", "add", "--name", "ann", "--role", "responder", "--org", "RHQ"});
  INFO(Describe(added));
  REQUIRE(added.exit_code == 0);
  const std::string token = LastLine(added.out);
  CHECK(token.size() == 43);
  CHECK(
      token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
      std::string::npos);

  ProcessResult viewer =
      box.Earshot({"users", "add", "--name", "mp", "--role", "viewer", "--region", "Y63"});
  INFO(Describe(viewer));
  REQUIRE(viewer.exit_code == 0);
  CHECK(LastLine(viewer.out) != token);

  // Bad input: unknown codes, a taken name, a responder without an org.
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"users", "add", "--name", "x", "--role", "responder", "--org", "NOPE1"},
           {"users", "add", "--name", "x", "--role", "viewer", "--region", "RHQ"},
           {"users", "add", "--name", "ann", "--role", "responder", "--org", "RHQ"},
           {"users", "add", "--name", "x", "--role", "responder"},
           {"users", "add", "--name", "x", "--role", "boss", "--org", "RHQ"},
       }) {
    ProcessResult refused = box.Earshot(args);
    INFO(Describe(refused));
    CHECK(refused.exit_code == 2);
  }

  ProcessResult listed = box.Earshot({"users", "list"});
  INFO(Describe(listed));
  REQUIRE(listed.exit_code == 0);
  CHECK(listed.out.find("ann  responder  orgs RHQ") != std::string::npos);
  CHECK(listed.out.find("mp  viewer  orgs -  regions Y63") != std::string::npos);
  CHECK(listed.out.find(token) == std::string::npos);
  CHECK(listed.out.find("revoked") == std::string::npos);

  {
    auto store = box.OpenStore();
    auto user = store->UserByTokenHash(TokenHash(token));
    REQUIRE(user.ok());
    REQUIRE(user->has_value());
    CHECK((*user)->name == "ann");
    CHECK((*user)->orgs == std::vector<std::string>{"RHQ"});
  }
  // The token itself is nowhere in the database files.
  for (const char* suffix : {"", "-wal"}) {
    const fs::path file = box.db().string() + suffix;
    if (fs::exists(file)) CHECK(ReadAll(file).find(token) == std::string::npos);
  }

  ProcessResult revoked = box.Earshot({"users", "revoke", "ann"});
  INFO(Describe(revoked));
  CHECK(revoked.exit_code == 0);
  CHECK(box.Earshot({"users", "revoke", "nobody"}).exit_code == 2);
  {
    auto store = box.OpenStore();
    CHECK_FALSE(store->UserByTokenHash(TokenHash(token)).value().has_value());
  }
  ProcessResult after = box.Earshot({"users", "list"});
  CHECK(after.out.find("ann  responder  orgs RHQ  regions -  created ") != std::string::npos);
  CHECK(after.out.find("revoked ") != std::string::npos);
}

TEST_CASE("Imported routed posts open threads, threads list and show", "[integration]") {
  Sandbox box({});
  box.WriteConfig("");
  const fs::path posts = box.dir() / "posts.jsonl";
  WriteFile(
      posts,
      R"({"platform":"mastodon","id":"1","author":"@a@x.social",)"
      R"("created_at":"2026-10-01T09:00:00Z","text":"Six hours in A&E at the Northern General"})"
      "\n"
      R"({"platform":"mastodon","id":"2","author":"@a@x.social",)"
      R"("created_at":"2026-10-02T09:00:00Z","text":"Six hours in A&E at the Northern General"})"
      "\n"
      R"({"platform":"mastodon","id":"3","author":"@b@x.social",)"
      R"("created_at":"2026-10-03T09:00:00Z","text":"Brilliant midwives at Leeds General Infirmary"})"
      "\n");
  ProcessResult imported = box.Earshot({"import", posts.string()});
  INFO(Describe(imported));
  REQUIRE(imported.exit_code == 0);

  ProcessResult listed = box.Earshot({"threads", "list"});
  INFO(Describe(listed));
  REQUIRE(listed.exit_code == 0);
  // Two threads: the repeated story joined the first.
  CHECK(listed.out.find("#2  mastodon") != std::string::npos);
  CHECK(listed.out.find("#1  mastodon") != std::string::npos);
  CHECK(listed.out.find("#3 ") == std::string::npos);
  CHECK(listed.out.find("posts 2") != std::string::npos);
  CHECK(listed.out.find("RHQ  new") != std::string::npos);
  CHECK(listed.out.find("RR8  new") != std::string::npos);

  ProcessResult sheffield = box.Earshot({"threads", "list", "--org", "RHQ"});
  INFO(Describe(sheffield));
  CHECK(sheffield.out.find("RHQ") != std::string::npos);
  CHECK(sheffield.out.find("RR8") == std::string::npos);
  ProcessResult none = box.Earshot({"threads", "list", "--status", "responded"});
  CHECK(none.exit_code == 0);
  CHECK(none.out.empty());
  CHECK(box.Earshot({"threads", "list", "--status", "bogus"}).exit_code == 2);

  ProcessResult shown = box.Earshot({"threads", "show", "1"});
  INFO(Describe(shown));
  REQUIRE(shown.exit_code == 0);
  CHECK(shown.out.find("thread #1") != std::string::npos);
  CHECK(shown.out.find("[opened]") != std::string::npos);
  CHECK(shown.out.find("[repeat]") != std::string::npos);
  CHECK(shown.out.find("Six hours in A&E at the Northern General") != std::string::npos);
  CHECK(box.Earshot({"threads", "show", "99"}).exit_code == 2);

  // Replies that name no organisation are kept when they answer a thread we
  // hold: one in a later import, one to it in the same file; a reply to a
  // post we never stored is dropped as before.
  const fs::path replies = box.dir() / "replies.jsonl";
  WriteFile(replies, R"({"platform":"mastodon","id":"10","reply_to":"3","author":"@c@x.social",)"
                     R"("created_at":"2026-10-04T09:00:00Z","text":"so glad to hear it"})"
                     "\n"
                     R"({"platform":"mastodon","id":"11","reply_to":"10","author":"@d@x.social",)"
                     R"("created_at":"2026-10-04T10:00:00Z","text":"agreed"})"
                     "\n"
                     R"({"platform":"mastodon","id":"12","reply_to":"999","author":"@d@x.social",)"
                     R"("created_at":"2026-10-04T10:00:00Z","text":"agreed too"})"
                     "\n");
  ProcessResult answered = box.Earshot({"import", replies.string()});
  INFO(Describe(answered));
  REQUIRE(answered.exit_code == 0);
  CHECK(answered.out.find("2 new") != std::string::npos);
  ProcessResult leeds = box.Earshot({"threads", "show", "2"});
  INFO(Describe(leeds));
  CHECK(leeds.out.find("Leeds General Infirmary") != std::string::npos);
  CHECK(leeds.out.find("[reply] 2026-10-04T09:00:00Z  @c@x.social  10") != std::string::npos);
  CHECK(leeds.out.find("[reply] 2026-10-04T10:00:00Z  @d@x.social  11") != std::string::npos);

  // A viewer scoped to Sheffield's ICB (QF7, from the gazetteer) reads
  // Sheffield's threads from the CLI too, and not Leeds's.
  ProcessResult viewer =
      box.Earshot({"users", "add", "--name", "sheila", "--role", "viewer", "--region", "QF7"});
  INFO(Describe(viewer));
  REQUIRE(viewer.exit_code == 0);
  ProcessResult as_viewer = box.Earshot({"threads", "list", "--as", "sheila"});
  INFO(Describe(as_viewer));
  REQUIRE(as_viewer.exit_code == 0);
  CHECK(as_viewer.out.find("#1  mastodon") != std::string::npos);
  CHECK(as_viewer.out.find("#2 ") == std::string::npos);
  CHECK(box.Earshot({"threads", "show", "2", "--as", "sheila"}).exit_code == 2);
  CHECK(box.Earshot({"threads", "note", "1", "--org", "RHQ", "--body", "x", "--as", "sheila"})
            .exit_code == 2);

  // The listening ledger: sheila, a viewer, reads without being listed as
  // listening for the trust; the CLI's own admin leaves no trace.
  ProcessResult opened = box.Earshot({"threads", "show", "1", "--as", "sheila"});
  INFO(Describe(opened));
  REQUIRE(opened.exit_code == 0);
  CHECK(opened.out.find("listening:\n  RHQ  alerted 20") != std::string::npos);
  CHECK(opened.out.find("    opened  sheila  ") == std::string::npos);
  CHECK(
      box.Earshot({"threads", "reply", "1", "--org", "RHQ", "--body", "We are sorry"}).exit_code ==
      0);
  ProcessResult ledger = box.Earshot({"threads", "show", "1"});
  INFO(Describe(ledger));
  CHECK(ledger.out.find("    opened  sheila  ") == std::string::npos);
  CHECK(ledger.out.find("    opened  cli") == std::string::npos);
  CHECK(ledger.out.find("    drafted  cli  ") != std::string::npos);
  CHECK(ledger.out.find("first response -") != std::string::npos);

  // The summary per organisation, with the gazetteer's names.
  ProcessResult summary = box.Earshot({"threads", "listening"});
  INFO(Describe(summary));
  REQUIRE(summary.exit_code == 0);
  CHECK(summary.out.find("RHQ  1  0  0%  -  1  0  Sheffield Teaching Hospitals NHS Foundation "
                         "Trust\n") != std::string::npos);
  CHECK(summary.out.find("RR8  1  0  0%  -  1  0  Leeds Teaching Hospitals NHS Trust\n") !=
        std::string::npos);
  ProcessResult theirs = box.Earshot({"threads", "listening", "--as", "sheila"});
  INFO(Describe(theirs));
  CHECK(theirs.out.find("RHQ  1") != std::string::npos);
  CHECK(theirs.out.find("RR8") == std::string::npos);
  ProcessResult later =
      box.Earshot({"threads", "listening", "--from", "2999-01-01", "--as", "sheila"});
  CHECK(later.out.find("RHQ") == std::string::npos);
  CHECK(box.Earshot({"threads", "listening", "--from", "soon"}).exit_code == 2);
}

TEST_CASE("rules dismissals: which routing rules staff dismiss, and why", "[integration]") {
  Sandbox box({});
  box.WriteConfig("");
  const fs::path posts = box.dir() / "posts.jsonl";
  WriteFile(
      posts,
      R"({"platform":"mastodon","id":"1","author":"@a@x.social",)"
      R"("created_at":"2026-10-01T09:00:00Z","text":"Six hours in A&E at the Northern General"})"
      "\n");
  REQUIRE(box.Earshot({"import", posts.string()}).exit_code == 0);
  ProcessResult none = box.Earshot({"rules", "dismissals"});
  INFO(Describe(none));
  REQUIRE(none.exit_code == 0);
  CHECK(none.out == "no dismissed threads\n");

  ProcessResult dismissed = box.Earshot(
      {"threads", "status", "1", "--org", "RHQ", "--status", "dismissed", "--reason", "spam"});
  INFO(Describe(dismissed));
  REQUIRE(dismissed.exit_code == 0);
  ProcessResult listed = box.Earshot({"rules", "dismissals", "--json"});
  INFO(Describe(listed));
  REQUIRE(listed.exit_code == 0);
  const std::vector<std::string> lines = Lines(listed.out);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].find(R"("reason":"spam","count":1)") != std::string::npos);
  CHECK(lines[0].find(R"("rule":")") != std::string::npos);
}

}  // namespace
}  // namespace earshot::integration
