// The commands that need no crawl, run as the built binary: parse (every
// shared recording and our own hostile fixtures), import, config check,
// demo, and --help on every command.
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <regex>
#include <sstream>

#include "tests/integration/harness.h"
#include "tests/support/fixtures.h"

namespace earshot::integration {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using earshot::testing::Describe;
using earshot::testing::EarshotBinary;
using earshot::testing::RunProcess;
using earshot::testing::TempDir;
using earshot::testing::WriteFile;

// Checks one line of `earshot parse` output against the documented form and
// returns it parsed.
json::object CheckPostLine(const std::string& line, const std::string& platform) {
  INFO("line: " << line);
  json::error_code ec;
  json::value v = json::parse(line, ec);
  REQUIRE(!ec);
  REQUIRE(v.is_object());
  json::object o = v.as_object();
  static const std::vector<std::string> kKeys = {
      "platform", "id",         "url",      "title",        "author",
      "text",     "created_at", "reply_to", "conversation", "language"};
  CHECK(o.size() == kKeys.size());
  for (const std::string& key : kKeys) {
    INFO("key " << key);
    REQUIRE(o.contains(key));
    if (key == "created_at") {
      const json::value& created = o.at(key);
      if (!created.is_null()) {
        REQUIRE(created.is_string());
        static const std::regex kRfc3339Utc(
            R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$)");
        CHECK(std::regex_match(std::string(created.as_string()), kRfc3339Utc));
      }
    } else {
      CHECK(o.at(key).is_string());
    }
  }
  CHECK(o.at("platform").as_string() == platform);
  CHECK(!o.at("id").as_string().empty());
  return o;
}

// A Mastodon search result without statuses has no posts to print.
bool HasNoStatuses(const fs::path& file) {
  json::error_code ec;
  json::value v = json::parse(earshot::testing::ReadFile(file), ec);
  if (ec || !v.is_object()) return false;
  const json::value* statuses = v.as_object().if_contains("statuses");
  return statuses != nullptr && statuses->is_array() && statuses->as_array().empty();
}

void ParseEverySharedFile(const fs::path& dir, const std::string& connector,
                          const std::vector<std::string>& extensions) {
  const auto files = earshot::testing::FilesIn(dir, extensions);
  REQUIRE(!files.empty());
  for (const fs::path& file : files) {
    INFO("file " << file);
    ProcessResult r =
        RunProcess({EarshotBinary(), "parse", "--connector", connector, file.string()});
    INFO(Describe(r));
    REQUIRE(r.exit_code == 0);
    const auto lines = Lines(r.out);
    if (connector == "mastodon" && HasNoStatuses(file)) {
      CHECK(lines.empty());
      continue;
    }
    CHECK(!lines.empty());
    for (const std::string& line : lines) CheckPostLine(line, connector);
  }
}

TEST_CASE("parse: every shared feed recording through the binary", "[integration]") {
  EARSHOT_REQUIRE_SHARED(dir, "feeds");
  ParseEverySharedFile(*dir, "feed", {".xml", ".rss", ".atom"});
}

TEST_CASE("parse: every shared Mastodon recording through the binary", "[integration]") {
  EARSHOT_REQUIRE_SHARED(dir, "mastodon");
  ParseEverySharedFile(*dir, "mastodon", {".json"});
}

TEST_CASE("parse: our own fixtures including hostile ones give posts or a clean exit 2",
          "[integration]") {
  for (const auto& [connector, subdir] : std::vector<std::pair<std::string, std::string>>{
           {"feed", "feed"}, {"mastodon", "mastodon"}}) {
    for (const fs::path& file : earshot::testing::FilesIn(earshot::testing::OwnFixture(subdir),
                                                          {".xml", ".json", ".html", ".dtd"})) {
      INFO("file " << file);
      ProcessResult r =
          RunProcess({EarshotBinary(), "parse", "--connector", connector, file.string()});
      INFO(Describe(r));
      REQUIRE(r.term_signal == 0);
      REQUIRE((r.exit_code == 0 || r.exit_code == 2));
      if (r.exit_code == 2) {
        CHECK(r.out.empty());
        CHECK(r.err.find(file.string()) != std::string::npos);
      } else {
        for (const std::string& line : Lines(r.out)) CheckPostLine(line, connector);
      }
    }
  }
}

TEST_CASE("parse: an unparseable file is exit 2 and named and prints nothing for it",
          "[integration]") {
  TempDir tmp;
  const fs::path garbage = tmp / "garbage.bin";
  WriteFile(garbage, std::string("\x00\x01\x02 this is { not < a feed", 26));
  for (const std::string connector : {"feed", "mastodon"}) {
    INFO("connector " << connector);
    ProcessResult r =
        RunProcess({EarshotBinary(), "parse", "--connector", connector, garbage.string()});
    INFO(Describe(r));
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(r.err.find(garbage.string()) != std::string::npos);
  }

  // A good file beside it still prints its posts.
  const fs::path good = tmp / "good.rss";
  WriteFile(good, RssFeed("Good", FeedItems("good", 1, 2)));
  ProcessResult both = RunProcess(
      {EarshotBinary(), "parse", "--connector", "feed", good.string(), garbage.string()});
  INFO(Describe(both));
  CHECK(both.exit_code == 2);
  CHECK(Lines(both.out).size() == 2);
  CHECK(both.err.find(garbage.string()) != std::string::npos);
  CHECK(both.err.find(good.string()) == std::string::npos);

  ProcessResult missing =
      RunProcess({EarshotBinary(), "parse", "--connector", "feed", (tmp / "absent.xml").string()});
  CHECK(missing.exit_code == 2);
  CHECK(missing.err.find("absent.xml") != std::string::npos);

  ProcessResult unknown =
      RunProcess({EarshotBinary(), "parse", "--connector", "nope", good.string()});
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err.find("nope") != std::string::npos);
}

TEST_CASE("parse: the content-type charset overrides the XML declaration", "[integration]") {
  // Our fixture declares ISO-8859-1 but its bytes are UTF-8, as a
  // misconfigured blog serves it; the HTTP charset is right.
  const fs::path file = earshot::testing::OwnFixture("feed/charset_conflict.xml");
  ProcessResult as_declared =
      RunProcess({EarshotBinary(), "parse", "--connector", "feed", file.string()});
  ProcessResult overridden = RunProcess({EarshotBinary(), "parse", "--connector", "feed", "--url",
                                         "https://mixed.example/feed/", "--content-type",
                                         "application/rss+xml; charset=UTF-8", file.string()});
  INFO(Describe(as_declared));
  INFO(Describe(overridden));
  REQUIRE(as_declared.exit_code == 0);
  REQUIRE(overridden.exit_code == 0);
  const auto declared_lines = Lines(as_declared.out);
  const auto lines = Lines(overridden.out);
  REQUIRE(lines.size() == 1);
  REQUIRE(declared_lines.size() == 1);
  const json::object post = CheckPostLine(lines[0], "feed");
  CHECK(post.at("title").as_string() == "Café at the hospital: £3.50 for a sandwich");
  CHECK(post.at("url").as_string() == "https://mixed.example/cafe");
  const json::object mojibake = CheckPostLine(declared_lines[0], "feed");
  CHECK(mojibake.at("title").as_string() != post.at("title").as_string());
}

TEST_CASE("import: parse output goes into the store idempotently and bad lines are named",
          "[integration]") {
  Sandbox box({});
  box.WriteConfig("");
  const fs::path feed = box.dir() / "blog.rss";
  WriteFile(feed, RssFeed("Blog", FeedItems("imp", 1, 4)));
  ProcessResult parsed = box.Earshot(
      {"parse", "--connector", "feed", "--url", "https://blog.example/feed/", feed.string()});
  INFO(Describe(parsed));
  REQUIRE(parsed.exit_code == 0);
  const auto lines = Lines(parsed.out);
  REQUIRE(lines.size() == 4);
  const fs::path jsonl = box.dir() / "posts.jsonl";
  WriteFile(jsonl, parsed.out);

  ProcessResult first = box.Earshot({"import", jsonl.string()});
  INFO(Describe(first));
  REQUIRE(first.exit_code == 0);
  CHECK(first.out.find(
            "imported 4 post(s): 4 new, 0 already stored, 0 not relevant (dropped), 0 rejected") !=
        std::string::npos);

  ProcessResult again = box.Earshot({"import", jsonl.string()});
  INFO(Describe(again));
  REQUIRE(again.exit_code == 0);
  CHECK(again.out.find(
            "imported 4 post(s): 0 new, 4 already stored, 0 not relevant (dropped), 0 rejected") !=
        std::string::npos);
  {
    auto store = box.OpenStore();
    CHECK(store->CountPosts().value() == 4);
    // What was stored is what parse printed.
    for (const StoredPost& p : AllPosts(*store)) {
      CHECK(p.source == "import");
      bool found = false;
      for (const std::string& line : lines) {
        const json::object o = json::parse(line).as_object();
        if (o.at("id").as_string() != p.post.id) continue;
        found = true;
        CHECK(o.at("text").as_string() == p.post.text);
        CHECK(o.at("title").as_string() == p.post.title);
        CHECK(o.at("author").as_string() == p.post.author_handle);
        CHECK(o.at("url").as_string() == p.post.url);
      }
      CHECK(found);
    }
  }

  // Good, broken, incomplete, good: the bad lines are named, the good stored.
  const fs::path mixed = box.dir() / "mixed.jsonl";
  const std::string good_a =
      R"({"platform":"feed","id":"mixed-a","url":"","title":"","author":"","text":"First good line: our GP surgery called back","created_at":"2026-11-21T10:00:00Z","reply_to":"","conversation":"","language":"en"})";
  const std::string good_b =
      R"({"platform":"feed","id":"mixed-b","text":"Second good line: A&E was busy but kind","created_at":null})";
  WriteFile(mixed, good_a + "\n{this is not json\n" + R"({"platform":"feed","text":"no id"})" +
                       "\n" + good_b + "\n");
  ProcessResult bad = box.Earshot({"import", mixed.string()});
  INFO(Describe(bad));
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find(mixed.string() + ":2:") != std::string::npos);
  CHECK(bad.err.find(mixed.string() + ":3:") != std::string::npos);
  CHECK(bad.out.find(
            "imported 2 post(s): 2 new, 0 already stored, 0 not relevant (dropped), 2 rejected") !=
        std::string::npos);

  // '-' reads standard input.
  const fs::path one = box.dir() / "one.jsonl";
  WriteFile(
      one,
      R"({"platform":"mastodon","id":"stdin-1","text":"From standard input: the hospital nurse was lovely"})"
      "\n");
  ProcessOptions from_stdin;
  from_stdin.stdin_file = one;
  ProcessResult piped = box.Earshot({"import", "-"}, from_stdin);
  INFO(Describe(piped));
  CHECK(piped.exit_code == 0);
  CHECK(piped.out.find("1 new") != std::string::npos);

  // A post with no organisation and no health context is dropped, counted.
  const fs::path offtopic = box.dir() / "offtopic.jsonl";
  WriteFile(offtopic,
            R"({"platform":"mastodon","id":"walk-1","text":"Lovely walk along the canal today"})"
            "\n");
  ProcessResult dropped = box.Earshot({"import", offtopic.string()});
  INFO(Describe(dropped));
  CHECK(dropped.exit_code == 0);
  CHECK(dropped.out.find("0 new, 0 already stored, 1 not relevant (dropped)") != std::string::npos);

  auto store = box.OpenStore();
  CHECK(store->CountPosts().value() == 7);
  // The drop is counted per source and rule; kept posts carry decisions.
  bool counted_drop = false;
  auto counts = store->RuleCounts();
  REQUIRE(counts.ok());
  for (const auto& [source, count] : *counts) {
    if (source == "import" && count.stage == "relevance" && count.rule.empty()) {
      counted_drop = count.dropped == 1;
    }
  }
  CHECK(counted_drop);
  for (const StoredPost& p : AllPosts(*store)) {
    CHECK_FALSE(p.post.decisions.empty());
  }
  store.reset();

  // What came in can be listed and searched.
  ProcessResult newest = box.Earshot({"posts", "--limit", "3"});
  INFO(Describe(newest));
  CHECK(newest.exit_code == 0);
  // Three lines per post: header, text, and what the classifier decided.
  CHECK(Lines(newest.out).size() == 9);
  CHECK(newest.out.find("    -> ") != std::string::npos);
  ProcessResult search = box.Earshot({"posts", "--search", "plaster"});
  INFO(Describe(search));
  CHECK(search.exit_code == 0);
  CHECK(Lines(search.out).size() == 12);  // the four blog entries
  CHECK(search.out.find("RR8 Leeds Teaching Hospitals") != std::string::npos);
  ProcessResult bad_query = box.Earshot({"posts", "--search", "\"unbalanced"});
  INFO(Describe(bad_query));
  CHECK(bad_query.exit_code == 2);
}

TEST_CASE("config check: OK and FILE:LINE:COL errors and the shipped example", "[integration]") {
  Sandbox box({});
  box.WriteConfig(R"(
[[source]]
name = "blog"
connector = "feed"
url = "https://blog.example/feed/"
interval = "30m"

[[source]]
name = "tag"
connector = "mastodon"
url = "https://social.example"
tag = "nhs"
)");
  ProcessResult ok = box.Earshot({"config", "check"});
  INFO(Describe(ok));
  CHECK(ok.exit_code == 0);
  CHECK(ok.out.find("OK, 2 source(s)") != std::string::npos);

  const fs::path bad = box.dir() / "bad.toml";
  WriteFile(bad,
            "[http]\ntimeout = \"5s\"\n\n[[source]]\nname = \"blog\"\n"
            "connector = \"feed\"\nurl = \"https://blog.example/feed/\"\n"
            "colour = \"blue\"\n");
  ProcessResult unknown =
      RunProcess({EarshotBinary(), "--config", bad.string(), "config", "check"});
  INFO(Describe(unknown));
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err.find(bad.string() + ":8:1:") != std::string::npos);
  CHECK(unknown.err.find("colour") != std::string::npos);
  CHECK(unknown.out.empty());

  const fs::path example = fs::path(EARSHOT_SOURCE_DIR) / "config" / "earshot.example.toml";
  ProcessOptions with_token;
  with_token.env["MASTODON_TOKEN"] = "integration-secret-token-123";
  ProcessResult shipped =
      RunProcess({EarshotBinary(), "--config", example.string(), "config", "check"}, with_token);
  INFO(Describe(shipped));
  CHECK(shipped.exit_code == 0);
  CHECK(shipped.out.find("OK, 4 source(s)") != std::string::npos);
  CHECK(shipped.out.find("integration-secret-token-123") == std::string::npos);
  CHECK(shipped.err.find("integration-secret-token-123") == std::string::npos);

  ProcessOptions without_token;
  without_token.env["MASTODON_TOKEN"] = std::nullopt;
  ProcessResult unset =
      RunProcess({EarshotBinary(), "--config", example.string(), "config", "check"}, without_token);
  INFO(Describe(unset));
  CHECK(unset.exit_code == 2);
  CHECK(unset.err.find("MASTODON_TOKEN") != std::string::npos);
  CHECK(std::regex_search(unset.err, std::regex(R"(earshot\.example\.toml:\d+:\d+:)")));

  // EARSHOT_CONFIG is the default --config.
  ProcessOptions via_env;
  via_env.env["EARSHOT_CONFIG"] = box.config().string();
  ProcessResult env_config = RunProcess({EarshotBinary(), "config", "check"}, via_env);
  INFO(Describe(env_config));
  CHECK(env_config.exit_code == 0);
  CHECK(env_config.out.find(box.config().string()) != std::string::npos);
}

int NewPosts(const std::string& summary_line) {
  std::smatch m;
  static const std::regex kNew(R"((\d+) new post\(s\))");
  if (!std::regex_search(summary_line, m, kNew)) return -1;
  return std::stoi(m[1]);
}

TEST_CASE("demo: crawls the bundled samples into the db it is given", "[integration]") {
  TempDir tmp;
  ProcessOptions options;
  options.cwd = tmp.path();
  ProcessResult r = RunProcess(
      {EarshotBinary(), "demo", "--no-serve", "--db", (tmp / "demo.db").string()}, options);
  INFO(Describe(r));
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("first pass") != std::string::npos);
  CHECK(r.out.find("newest posts:") != std::string::npos);
  int total = 0, passes = 0;
  for (const std::string& line : Lines(r.out)) {
    if (line.rfind("polled ", 0) != 0) continue;
    ++passes;
    total += NewPosts(line);
  }
  CHECK(passes == 2);
  CHECK(total > 0);
  REQUIRE(fs::exists(tmp / "demo.db"));
  CHECK(!fs::exists(tmp / "earshot-demo.db"));
  auto store = SqliteStore::Open((tmp / "demo.db").string());
  REQUIRE(store.ok());
  CHECK((*store)->CountPosts().value() == total);
  auto sources = (*store)->ListSources();
  REQUIRE(sources.ok());
  CHECK(sources->size() == 4);
  for (const SourceRecord& s : *sources) CHECK(s.state.health == SourceHealth::kOk);
}

TEST_CASE("help works on every command", "[integration]") {
  const std::vector<std::vector<std::string>> commands = {
      {},          {"run"},   {"once"},   {"parse"},           {"import"},
      {"sources"}, {"posts"}, {"config"}, {"config", "check"}, {"connectors"},
      {"demo"}};
  for (const auto& command : commands) {
    std::vector<std::string> args = {EarshotBinary()};
    args.insert(args.end(), command.begin(), command.end());
    args.push_back("--help");
    ProcessResult r = RunProcess(args);
    INFO(args.size() - 2 << " word(s): " << (command.empty() ? "" : command.back()));
    INFO(Describe(r));
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("Usage") != std::string::npos);
    CHECK(r.out.find("--help") != std::string::npos);
  }
  ProcessResult version = RunProcess({EarshotBinary(), "--version"});
  CHECK(version.exit_code == 0);
  CHECK(version.out.find("earshot") != std::string::npos);

  ProcessResult bad_flag = RunProcess({EarshotBinary(), "once", "--no-such-flag"});
  CHECK(bad_flag.exit_code == 2);
  ProcessResult no_command = RunProcess({EarshotBinary()});
  CHECK(no_command.exit_code == 2);
}

}  // namespace
}  // namespace earshot::integration
