// SqliteStore: schema migrations, the Apply() transaction and its atomicity
// under injected faults, de-duplication, full-text search, raw payloads,
// quarantine, blind windows, classification decisions and rule counts.
#include <sqlite3.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <climits>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "crawler/store/sqlite/sqlite_store.h"
#include "crawler/store/store.h"

namespace earshot {
namespace {

namespace fs = std::filesystem;

// A fresh directory under the system temp dir, removed with its contents.
class TempDir {
 public:
  TempDir() {
    std::random_device random;
    path_ = fs::temp_directory_path() /
            ("earshot-store-test-" + std::to_string(random()) + "-" + std::to_string(random()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

constexpr int64_t kT0 = 1'790'000'000'000;  // ms since the epoch

TimePoint At(int64_t offset_ms) { return FromUnixMillis(kT0 + offset_ms); }

Post MakePost(std::string uid, std::string text, int64_t fetched_offset = 0) {
  Post post;
  post.platform = "mastodon";
  post.id = "id-" + uid;
  post.uid = std::move(uid);
  post.url = "https://example.social/@alice/" + post.id;
  post.title = "";
  post.author_handle = "@alice@example.social";
  post.author_name = "Alice";
  post.text = std::move(text);
  post.language = "en";
  post.created_at = At(fetched_offset - 60'000);
  post.fetched_at = At(fetched_offset);
  post.reply_to = "";
  post.conversation = "";
  post.content_hash = "hash-" + post.uid;
  return post;
}

SourceSpec Spec(std::string name, std::string url = "https://example.social") {
  SourceSpec spec;
  spec.name = std::move(name);
  spec.connector = "mastodon";
  spec.url = std::move(url);
  return spec;
}

SourceState StateWithCursor(std::string cursor) {
  SourceState state;
  state.cursor.cursor = std::move(cursor);
  state.cursor.etag = "\"etag-" + state.cursor.cursor + "\"";
  state.cursor.last_modified = "Tue, 15 Nov 2026 08:12:31 GMT";
  state.last_success_at = At(0);
  state.next_poll_at = At(300'000);
  return state;
}

std::unique_ptr<SqliteStore> OpenOrDie(const std::string& path, SqliteOptions options = {}) {
  auto store = SqliteStore::Open(path, std::move(options));
  INFO(store.status().ToString());
  REQUIRE(store.ok());
  return std::move(store).value();
}

// A raw connection, for looking under the store's interface.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    REQUIRE(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
  }
  ~RawDb() { sqlite3_close_v2(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  void Exec(const std::string& sql) {
    char* error = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
    std::string message = error != nullptr ? error : "";
    sqlite3_free(error);
    INFO(sql << ": " << message);
    REQUIRE(rc == SQLITE_OK);
  }

  // Every row of the query, each cell rendered (blobs in hex), one line a row.
  std::string Rows(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    REQUIRE(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
    std::string out;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
        if (c > 0) out += " | ";
        switch (sqlite3_column_type(stmt, c)) {
          case SQLITE_NULL:
            out += "NULL";
            break;
          case SQLITE_BLOB: {
            const auto* bytes = static_cast<const unsigned char*>(sqlite3_column_blob(stmt, c));
            static constexpr char kHex[] = "0123456789abcdef";
            out += "x'";
            for (int i = 0; i < sqlite3_column_bytes(stmt, c); ++i) {
              out += kHex[bytes[i] >> 4];
              out += kHex[bytes[i] & 15];
            }
            out += "'";
            break;
          }
          default:
            out += reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
        }
      }
      out += "\n";
    }
    sqlite3_finalize(stmt);
    INFO(sql);
    REQUIRE(rc == SQLITE_DONE);
    return out;
  }

  int64_t Int(const std::string& sql) {
    std::string rows = Rows(sql);
    REQUIRE_FALSE(rows.empty());
    return std::stoll(rows);
  }

  // The whole database: schema version and every stored table, including
  // the FTS5 index's shadow tables, in rowid order.
  std::string Dump() {
    std::string out = "user_version " + Rows("PRAGMA user_version");
    std::string tables = Rows(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND sql NOT LIKE "
        "'CREATE VIRTUAL%' ORDER BY name");
    size_t start = 0;
    while (start < tables.size()) {
      size_t end = tables.find('\n', start);
      std::string table = tables.substr(start, end - start);
      start = end + 1;
      out += "== " + table + "\n";
      // Table names come from sqlite_schema of our own file.
      out += Rows("SELECT * FROM \"" + table + "\"");
    }
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

Decision MakeDecision(Decision::Kind kind, std::string value, std::string detail = "",
                      std::string rule = "", int32_t start = -1, int32_t end = -1) {
  Decision decision;
  decision.kind = kind;
  decision.value = std::move(value);
  decision.detail = std::move(detail);
  decision.rule = std::move(rule);
  decision.rule_version = decision.rule.empty() ? "" : "2026-11-01";
  decision.start = start;
  decision.end = end;
  return decision;
}

// One line per decision, every field: readable when a comparison fails.
std::string Render(const std::vector<Decision>& decisions) {
  std::string out;
  for (const Decision& d : decisions) {
    out += std::string(DecisionKindName(d.kind)) + "|" + d.value + "|" + d.detail + "|" + d.rule +
           "|" + d.rule_version + "|" + std::to_string(d.start) + "|" + std::to_string(d.end) +
           "\n";
  }
  return out;
}

RuleCount Count(std::string stage, std::string rule, int64_t fired, int64_t dropped = 0) {
  return RuleCount{std::move(stage), std::move(rule), fired, dropped};
}

// RuleCounts() as "source|stage|rule|fired|dropped" lines.
std::string Render(const std::vector<std::pair<std::string, RuleCount>>& counts) {
  std::string out;
  for (const auto& [source, c] : counts) {
    out += source + "|" + c.stage + "|" + c.rule + "|" + std::to_string(c.fired) + "|" +
           std::to_string(c.dropped) + "\n";
  }
  return out;
}

std::string StoredRuleCounts(SqliteStore& store) {
  auto counts = store.RuleCounts();
  INFO(counts.status().ToString());
  REQUIRE(counts.ok());
  return Render(*counts);
}

void CheckSamePost(const Post& got, const Post& want) {
  CHECK(got.platform == want.platform);
  CHECK(got.id == want.id);
  CHECK(got.uid == want.uid);
  CHECK(got.url == want.url);
  CHECK(got.title == want.title);
  CHECK(got.author_handle == want.author_handle);
  CHECK(got.author_name == want.author_name);
  CHECK(got.text == want.text);
  CHECK(got.language == want.language);
  CHECK(got.created_at == want.created_at);
  CHECK(got.fetched_at == want.fetched_at);
  CHECK(got.reply_to == want.reply_to);
  CHECK(got.conversation == want.conversation);
  CHECK(got.content_hash == want.content_hash);
  CHECK(Render(got.decisions) == Render(want.decisions));
}

std::vector<std::string> Uids(const std::vector<StoredPost>& posts) {
  std::vector<std::string> uids;
  for (const auto& p : posts) uids.push_back(p.post.uid);
  return uids;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST_CASE("source health names round-trip", "[store]") {
  for (SourceHealth h : {SourceHealth::kOk, SourceHealth::kBackoff, SourceHealth::kRateLimited,
                         SourceHealth::kStopped}) {
    CHECK(SourceHealthFromName(SourceHealthName(h)) == h);
  }
  CHECK(SourceHealthName(SourceHealth::kRateLimited) == "rate_limited");
  CHECK(SourceHealthName(SourceHealth::kOk) == "ok");
  CHECK_FALSE(SourceHealthFromName("OK").has_value());
  CHECK_FALSE(SourceHealthFromName("").has_value());
}

TEST_CASE("a new database is migrated, in WAL mode, and reopens with its data", "[store]") {
  TempDir dir;
  const std::string path = dir.File("earshot.db");
  {
    auto store = OpenOrDie(path);
    CHECK(store->path() == path);
    auto mode = store->JournalMode();
    REQUIRE(mode.ok());
    CHECK(*mode == "wal");
    CHECK(store->CheckIntegrity().ok());
    REQUIRE(store->UpsertSource(Spec("alpha")).ok());
    SourceWrite write{"alpha", StateWithCursor("c1"), {MakePost("u1", "hello")}};
    REQUIRE(store->Apply({write}).ok());
  }
  {
    RawDb raw(path);
    CHECK(raw.Int("PRAGMA user_version") == SqliteStore::kSchemaVersion);
    CHECK(raw.Rows("SELECT name FROM sqlite_schema WHERE type = 'table' AND name IN "
                   "('sources', 'posts', 'raw_payloads', 'quarantine', "
                   "'blind_windows', 'posts_fts', 'post_decisions', 'rule_counts') "
                   "ORDER BY name") ==
          "blind_windows\npost_decisions\nposts\nposts_fts\nquarantine\nraw_payloads\n"
          "rule_counts\nsources\n");
    CHECK(raw.Rows("PRAGMA journal_mode") == "wal\n");
  }
  auto store = OpenOrDie(path);
  auto count = store->CountPosts();
  REQUIRE(count.ok());
  CHECK(*count == 1);
  auto source = store->GetSource("alpha");
  REQUIRE(source.ok());
  CHECK(source->state.cursor.cursor == "c1");
  auto found = store->SearchPosts("hello", 10);
  REQUIRE(found.ok());
  CHECK(Uids(*found) == std::vector<std::string>{"u1"});
}

TEST_CASE("an in-memory database works for tests", "[store]") {
  auto store = OpenOrDie(":memory:");
  auto mode = store->JournalMode();
  REQUIRE(mode.ok());
  CHECK(*mode == "memory");
  auto count = store->CountPosts();
  REQUIRE(count.ok());
  CHECK(*count == 0);
}

TEST_CASE("a database from a newer earshot is refused and left alone", "[store]") {
  TempDir dir;
  const std::string path = dir.File("future.db");
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  auto store = SqliteStore::Open(path);
  REQUIRE_FALSE(store.ok());
  CHECK(store.status().code() == StatusCode::kInvalidArgument);
  CHECK(Contains(store.status().message(), path));
  CHECK(Contains(store.status().message(), "99"));
  RawDb raw(path);
  CHECK(raw.Int("PRAGMA user_version") == 99);
  CHECK(raw.Rows("SELECT name FROM sqlite_schema") == "");
}

TEST_CASE("open failures name the path", "[store]") {
  TempDir dir;
  SECTION("missing directory") {
    const std::string path = dir.File("no/such/dir/earshot.db");
    auto store = SqliteStore::Open(path);
    REQUIRE_FALSE(store.ok());
    CHECK(store.status().code() == StatusCode::kIoError);
    CHECK(Contains(store.status().message(), path));
  }
  SECTION("not a database") {
    const std::string path = dir.File("notes.txt");
    std::ofstream(path) << std::string(4096, 'x');
    auto store = SqliteStore::Open(path);
    REQUIRE_FALSE(store.ok());
    CHECK(store.status().code() == StatusCode::kIoError);
    CHECK(Contains(store.status().message(), path));
    CHECK(Contains(store.status().message(), "not a database"));
  }
}

TEST_CASE("a failed migration leaves the file at the old version", "[store]") {
  TempDir dir;
  int failures = 0;
  for (int n = 1;; ++n) {
    const std::string path = dir.File("migrate-" + std::to_string(n) + ".db");
    int steps = 0;
    SqliteOptions options;
    options.fail_step = [&](std::string_view) { return ++steps == n; };
    auto store = SqliteStore::Open(path, options);
    if (store.ok()) {
      CHECK(steps < n);
      break;
    }
    ++failures;
    CHECK(Contains(store.status().message(), "injected fault"));
    {
      // Each migration commits on its own: a fault leaves the file at the
      // last version that committed, never half-way through one.
      RawDb raw(path);
      const int64_t version = raw.Int("PRAGMA user_version");
      CHECK(version < SqliteStore::kSchemaVersion);
      if (version == 0) CHECK(raw.Rows("SELECT name FROM sqlite_schema") == "");
      if (version == 1)
        CHECK(raw.Int("SELECT count(*) FROM pragma_table_info('posts') WHERE name = 'ref'") == 0);
    }
    auto again = OpenOrDie(path);
    CHECK(again->CheckIntegrity().ok());
    RawDb raw(path);
    CHECK(raw.Int("PRAGMA user_version") == SqliteStore::kSchemaVersion);
  }
  CHECK(failures >= 4);  // pragmas, version read, begin, schema, bump, commit
}

TEST_CASE("UpsertSource registers a source and keeps its state", "[store]") {
  auto store = OpenOrDie(":memory:");
  REQUIRE(store->UpsertSource(Spec("beta", "https://b.example")).ok());
  REQUIRE(store->UpsertSource(Spec("alpha", "https://a.example")).ok());

  auto fresh = store->GetSource("alpha");
  REQUIRE(fresh.ok());
  CHECK(fresh->connector == "mastodon");
  CHECK(fresh->url == "https://a.example");
  CHECK(fresh->state.cursor.cursor.empty());
  CHECK(fresh->state.health == SourceHealth::kOk);
  CHECK_FALSE(fresh->state.next_poll_at.has_value());
  CHECK(fresh->state.posts_total == 0);

  SourceState state = StateWithCursor("c9");
  state.health = SourceHealth::kBackoff;
  state.last_error_at = At(5);
  state.last_error = "unavailable: HTTP 503 from https://a.example";
  state.consecutive_failures = 3;
  state.blind_since = At(1);
  state.last_success_at.reset();
  REQUIRE(store->Apply({SourceWrite{"alpha", state}}).ok());

  // A config reload re-registers the source with a new URL.
  SourceSpec moved = Spec("alpha", "https://a2.example");
  moved.connector = "feed";
  REQUIRE(store->UpsertSource(moved).ok());

  auto got = store->GetSource("alpha");
  REQUIRE(got.ok());
  CHECK(got->connector == "feed");
  CHECK(got->url == "https://a2.example");
  CHECK(got->state.cursor.cursor == "c9");
  CHECK(got->state.cursor.etag == "\"etag-c9\"");
  CHECK(got->state.cursor.last_modified == "Tue, 15 Nov 2026 08:12:31 GMT");
  CHECK(got->state.health == SourceHealth::kBackoff);
  CHECK(got->state.next_poll_at == At(300'000));
  CHECK_FALSE(got->state.last_success_at.has_value());
  CHECK(got->state.last_error_at == At(5));
  CHECK(got->state.last_error == state.last_error);
  CHECK(got->state.consecutive_failures == 3);
  CHECK(got->state.blind_since == At(1));

  auto all = store->ListSources();
  REQUIRE(all.ok());
  REQUIRE(all->size() == 2);
  CHECK((*all)[0].name == "alpha");
  CHECK((*all)[1].name == "beta");
  CHECK((*all)[1].url == "https://b.example");

  auto missing = store->GetSource("gamma");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == StatusCode::kNotFound);
  CHECK(Contains(missing.status().message(), "gamma"));

  CHECK(store->UpsertSource(Spec("")).code() == StatusCode::kInvalidArgument);
}

TEST_CASE("Apply stores posts and state together", "[store]") {
  auto store = OpenOrDie(":memory:");
  REQUIRE(store->UpsertSource(Spec("alpha")).ok());

  Post full = MakePost("https://example.social/users/alice/statuses/1",
                       "Waited 9 hours in A&E at St Elsewhere — café was shut", 10);
  full.title = "A long night";
  full.reply_to = "109";
  full.conversation = "100";
  Post bare = MakePost("u2", "", 20);
  bare.created_at.reset();
  bare.language = "";
  bare.author_name = "";

  SourceState state = StateWithCursor("c1");
  state.posts_total = 12345;  // ignored: the store keeps the count
  auto stats = store->Apply({SourceWrite{"alpha", state, {full, bare}}});
  REQUIRE(stats.ok());
  CHECK(stats->inserted == 2);
  CHECK(stats->duplicates == 0);

  auto source = store->GetSource("alpha");
  REQUIRE(source.ok());
  CHECK(source->state.cursor.cursor == "c1");
  CHECK(source->state.posts_total == 2);
  CHECK(source->state.last_success_at == At(0));

  auto recent = store->RecentPosts(10);
  REQUIRE(recent.ok());
  REQUIRE(recent->size() == 2);
  CHECK((*recent)[0].source == "alpha");
  CheckSamePost((*recent)[0].post, bare);  // newest fetched first
  CheckSamePost((*recent)[1].post, full);
  CHECK((*recent)[0].row_id > (*recent)[1].row_id);

  auto one = store->RecentPosts(1);
  REQUIRE(one.ok());
  CHECK(one->size() == 1);
  auto none = store->RecentPosts(0);
  REQUIRE(none.ok());
  CHECK(none->empty());

  SECTION("an empty batch is a no-op") {
    auto empty = store->Apply({});
    REQUIRE(empty.ok());
    CHECK(empty->inserted == 0);
  }
  SECTION("a write for an unregistered source creates it") {
    auto created = store->Apply({SourceWrite{"new", StateWithCursor("n1"), {MakePost("u3", "x")}}});
    REQUIRE(created.ok());
    auto record = store->GetSource("new");
    REQUIRE(record.ok());
    CHECK(record->connector.empty());
    CHECK(record->state.cursor.cursor == "n1");
    CHECK(record->state.posts_total == 1);
  }
  SECTION("posts_total accumulates across batches") {
    REQUIRE(store
                ->Apply({SourceWrite{
                    "alpha", StateWithCursor("c2"), {MakePost("u3", "x"), MakePost("u4", "y")}}})
                .ok());
    auto record = store->GetSource("alpha");
    REQUIRE(record.ok());
    CHECK(record->state.posts_total == 4);
    CHECK(record->state.cursor.cursor == "c2");
  }
  SECTION("a post that cannot be de-duplicated fails the batch") {
    Post nameless = MakePost("u5", "x");
    nameless.platform.clear();
    auto bad = store->Apply(
        {SourceWrite{"alpha", StateWithCursor("c3"), {MakePost("u6", "y"), nameless}}});
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().code() == StatusCode::kInvalidArgument);
    CHECK(*store->CountPosts() == 2);
    CHECK(store->GetSource("alpha")->state.cursor.cursor == "c1");
  }
}

TEST_CASE("posts are unique by (platform, uid), and duplicates are counted", "[store]") {
  auto store = OpenOrDie(":memory:");
  Post first = MakePost("shared-uri", "original text", 0);
  Post again = MakePost("shared-uri", "edited text", 5);
  again.id = "other-instance-id";  // same status seen through another instance
  Post other_platform = MakePost("shared-uri", "from a feed", 6);
  other_platform.platform = "feed";
  Post no_uid = MakePost("", "uid falls back to id", 7);
  no_uid.id = "only-id";

  auto stats = store->Apply(
      {SourceWrite{"alpha", StateWithCursor("c1"), {first, again, other_platform, no_uid, first}}});
  REQUIRE(stats.ok());
  CHECK(stats->inserted == 3);
  CHECK(stats->duplicates == 2);

  auto stats2 = store->Apply({SourceWrite{"alpha", StateWithCursor("c2"), {again, no_uid}},
                              SourceWrite{"beta", StateWithCursor("b1"), {first}}});
  REQUIRE(stats2.ok());
  CHECK(stats2->inserted == 0);
  CHECK(stats2->duplicates == 3);

  CHECK(*store->CountPosts() == 3);
  CHECK(store->GetSource("alpha")->state.posts_total == 3);
  CHECK(store->GetSource("beta")->state.posts_total == 0);
  auto recent = store->RecentPosts(10);
  REQUIRE(recent.ok());
  REQUIRE(recent->size() == 3);
  CHECK((*recent)[0].post.uid == "only-id");
  CHECK((*recent)[0].post.id == "only-id");
  CHECK((*recent)[1].post.platform == "feed");
  CheckSamePost((*recent)[2].post, first);  // the stored row never changes
  auto edited = store->SearchPosts("edited", 10);
  REQUIRE(edited.ok());
  CHECK(edited->empty());
  CHECK(store->CheckIntegrity().ok());
}

TEST_CASE("full-text search over title and text", "[store]") {
  auto store = OpenOrDie(":memory:");
  Post title_only = MakePost("t", "nothing here", 1);
  title_only.title = "Ambulance delays";
  Post once = MakePost("o", "The ambulance came eventually", 2);
  Post twice = MakePost("w", "ambulance ambulance ambulance, waited all night", 3);
  Post accent = MakePost("a", "The café at Addenbrooke's is closed", 4);
  REQUIRE(
      store->Apply({SourceWrite{"alpha", StateWithCursor("c1"), {title_only, once, twice}}}).ok());
  REQUIRE(store->Apply({SourceWrite{"beta", StateWithCursor("c1"), {accent}}}).ok());

  auto found = store->SearchPosts("ambulance", 10);
  REQUIRE(found.ok());
  REQUIRE(found->size() == 3);
  CHECK((*found)[0].post.uid == "w");  // bm25: most occurrences first
  CHECK((*found)[0].source == "alpha");

  auto limited = store->SearchPosts("ambulance", 1);
  REQUIRE(limited.ok());
  CHECK(Uids(*limited) == std::vector<std::string>{"w"});

  auto titled = store->SearchPosts("title: delays", 10);
  REQUIRE(titled.ok());
  CHECK(Uids(*titled) == std::vector<std::string>{"t"});

  auto diacritics = store->SearchPosts("cafe", 10);
  REQUIRE(diacritics.ok());
  CHECK(Uids(*diacritics) == std::vector<std::string>{"a"});

  auto phrase = store->SearchPosts("\"waited all night\"", 10);
  REQUIRE(phrase.ok());
  CHECK(Uids(*phrase) == std::vector<std::string>{"w"});

  auto nothing = store->SearchPosts("helicopter", 10);
  REQUIRE(nothing.ok());
  CHECK(nothing->empty());

  for (const std::string bad :
       {"AND OR", "\"unterminated", "", "nosuchcolumn: x", "Addenbrooke's"}) {
    auto result = store->SearchPosts(bad, 10);
    INFO("query: " << bad);
    REQUIRE_FALSE(result.ok());
    CHECK(result.status().code() == StatusCode::kInvalidArgument);
    CHECK(Contains(result.status().message(), "search posts"));
  }
  auto syntax = store->SearchPosts("AND OR", 10);
  CHECK(Contains(syntax.status().message(), "fts5: syntax error"));
  // The store is still usable after a bad query.
  auto after = store->SearchPosts("eventually", 10);
  REQUIRE(after.ok());
  CHECK(Uids(*after) == std::vector<std::string>{"o"});
  CHECK(store->CheckIntegrity().ok());
}

TEST_CASE("raw payloads are stored compressed and read back whole", "[store]") {
  TempDir dir;
  const std::string path = dir.File("raw.db");
  auto store = OpenOrDie(path);

  RawPayload raw;
  raw.url = "https://example.social/api/v1/timelines/tag/nhs?since_id=1";
  raw.status = 200;
  raw.content_type = "application/json; charset=utf-8";
  raw.fetched_at = At(42);
  for (int i = 0; i < 2000; ++i)
    raw.body += R"({"id":")" + std::to_string(i) + R"(","content":"<p>NHS</p>"},)";
  raw.body += std::string("\0\x01\xff binary tail", 15);

  SourceWrite write{"alpha", StateWithCursor("c1"), {MakePost("u1", "a"), MakePost("u2", "b")}};
  write.raw = raw;
  REQUIRE(store->Apply({write}).ok());
  REQUIRE(
      store->Apply({SourceWrite{"alpha", StateWithCursor("c2"), {MakePost("u3", "c", 9)}}}).ok());

  auto recent = store->RecentPosts(10);
  REQUIRE(recent.ok());
  REQUIRE(recent->size() == 3);
  for (int i : {1, 2}) {
    auto got = store->RawFor((*recent)[i].row_id);
    REQUIRE(got.ok());
    CHECK(got->url == raw.url);
    CHECK(got->status == 200);
    CHECK(got->content_type == raw.content_type);
    CHECK(got->fetched_at == At(42));
    CHECK(got->body == raw.body);
  }

  auto no_raw = store->RawFor((*recent)[0].row_id);
  REQUIRE_FALSE(no_raw.ok());
  CHECK(no_raw.status().code() == StatusCode::kNotFound);
  auto no_post = store->RawFor(999'999);
  REQUIRE_FALSE(no_post.ok());
  CHECK(no_post.status().code() == StatusCode::kNotFound);
  CHECK(Contains(no_post.status().message(), "999999"));

  RawDb db(path);
  CHECK(db.Int("SELECT count(*) FROM raw_payloads") == 1);
  CHECK(db.Int("SELECT raw_size FROM raw_payloads") == static_cast<int64_t>(raw.body.size()));
  CHECK(db.Int("SELECT length(body) FROM raw_payloads") * 5 <
        static_cast<int64_t>(raw.body.size()));

  SECTION("a corrupt stored body is an I/O error, not a crash") {
    db.Exec("UPDATE raw_payloads SET raw_size = raw_size + 1");
    auto bad = store->RawFor((*recent)[1].row_id);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().code() == StatusCode::kIoError);
    db.Exec("UPDATE raw_payloads SET raw_size = 1000000000000");
    bad = store->RawFor((*recent)[1].row_id);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().code() == StatusCode::kIoError);
    db.Exec("UPDATE raw_payloads SET body = x'00010203', raw_size = 10");
    bad = store->RawFor((*recent)[1].row_id);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().code() == StatusCode::kIoError);
  }
}

TEST_CASE("unparseable bodies are quarantined with their error", "[store]") {
  auto store = OpenOrDie(":memory:");
  for (int i = 0; i < 3; ++i) {
    SourceWrite write{"alpha", StateWithCursor("c1")};
    write.state.health = SourceHealth::kBackoff;
    write.quarantine =
        RawPayload{"https://blog.example/feed/" + std::to_string(i), 200, "application/rss+xml",
                   "<rss><channel><item>" + std::to_string(i), At(i)};
    write.quarantine_error = "parse error: feed " + std::to_string(i) + ":1:20";
    REQUIRE(store->Apply({write}).ok());
  }
  auto bodies = store->Quarantined(2);
  REQUIRE(bodies.ok());
  REQUIRE(bodies->size() == 2);
  const QuarantinedBody& newest = (*bodies)[0];
  CHECK(newest.source == "alpha");
  CHECK(newest.error == "parse error: feed 2:1:20");
  CHECK(newest.payload.url == "https://blog.example/feed/2");
  CHECK(newest.payload.status == 200);
  CHECK(newest.payload.content_type == "application/rss+xml");
  CHECK(newest.payload.body == "<rss><channel><item>2");
  CHECK(newest.payload.fetched_at == At(2));
  CHECK((*bodies)[1].id < newest.id);
  CHECK(*store->CountPosts() == 0);
  CHECK(store->GetSource("alpha")->state.health == SourceHealth::kBackoff);
  auto all = store->Quarantined(100);
  REQUIRE(all.ok());
  CHECK(all->size() == 3);
}

TEST_CASE("closed blind windows are recorded per source", "[store]") {
  auto store = OpenOrDie(":memory:");
  SourceWrite recovery{"alpha", StateWithCursor("c1")};
  recovery.closed_blind_window = BlindWindow{At(100), At(900), "unavailable: HTTP 503"};
  SourceWrite earlier{"alpha", StateWithCursor("c1")};
  earlier.closed_blind_window = BlindWindow{At(10), At(20), "deadline exceeded"};
  SourceWrite other{"beta", StateWithCursor("b1")};
  other.closed_blind_window = BlindWindow{At(5), At(6), "rate limited"};
  REQUIRE(store->Apply({recovery, other}).ok());
  REQUIRE(store->Apply({earlier}).ok());

  auto windows = store->BlindWindows("alpha");
  REQUIRE(windows.ok());
  REQUIRE(windows->size() == 2);
  CHECK((*windows)[0].start == At(10));
  CHECK((*windows)[0].end == At(20));
  CHECK((*windows)[0].reason == "deadline exceeded");
  CHECK((*windows)[1].start == At(100));
  CHECK((*windows)[1].end == At(900));
  CHECK((*windows)[1].reason == "unavailable: HTTP 503");
  auto beta = store->BlindWindows("beta");
  REQUIRE(beta.ok());
  CHECK(beta->size() == 1);
  auto none = store->BlindWindows("gamma");
  REQUIRE(none.ok());
  CHECK(none->empty());
}

// Every kind DecisionKindName() knows, found by walking the enum's values
// until it says "unknown": a kind added later is covered without editing.
std::vector<Decision::Kind> AllDecisionKinds() {
  std::vector<Decision::Kind> kinds;
  for (int k = 0;; ++k) {
    const auto kind = static_cast<Decision::Kind>(k);
    if (DecisionKindName(kind) == "unknown") break;
    kinds.push_back(kind);
  }
  return kinds;
}

TEST_CASE("decision kind names round-trip", "[store]") {
  const std::vector<Decision::Kind> kinds = AllDecisionKinds();
  CHECK(kinds.size() == 7);
  std::set<std::string_view> names;
  for (Decision::Kind kind : kinds) {
    INFO(DecisionKindName(kind));
    CHECK(DecisionKindFromName(DecisionKindName(kind)) == kind);
    names.insert(DecisionKindName(kind));
  }
  CHECK(names.size() == kinds.size());
  CHECK(DecisionKindFromName("criticality") == Decision::Kind::kCriticality);
  CHECK_FALSE(DecisionKindFromName("Topic").has_value());
  CHECK_FALSE(DecisionKindFromName("unknown").has_value());
  CHECK_FALSE(DecisionKindFromName("").has_value());
}

TEST_CASE("decisions of every kind are stored with their post and read back", "[store]") {
  TempDir dir;
  const std::string path = dir.File("decisions.db");
  auto store = OpenOrDie(path);

  Post classified = MakePost("c", "Call 07700 900123 about ward 7 at St Elsewhere, café shut", 5);
  // One decision of each kind, in an order that is not the kinds' order.
  std::vector<Decision::Kind> kinds = AllDecisionKinds();
  std::reverse(kinds.begin(), kinds.end());
  for (size_t i = 0; i < kinds.size(); ++i) {
    classified.decisions.push_back(MakeDecision(
        kinds[i], "value-" + std::to_string(i), "détail, " + std::to_string(i) + " | x",
        "rule." + std::to_string(i), static_cast<int32_t>(i), static_cast<int32_t>(i + 3)));
  }
  // Edge values: no rule, no span, empty strings, the largest offsets.
  classified.decisions.push_back(MakeDecision(Decision::Kind::kRedaction, "phone", "", "", 5, 18));
  classified.decisions.push_back(MakeDecision(Decision::Kind::kSentiment, "mixed"));
  classified.decisions.push_back(
      MakeDecision(Decision::Kind::kUnrouted, "", "RX1,RX2", "u.x", INT32_MAX - 1, INT32_MAX));
  Post plain = MakePost("p", "no classification yet", 6);

  auto stats = store->Apply({SourceWrite{"alpha", StateWithCursor("c1"), {classified, plain}}});
  REQUIRE(stats.ok());
  CHECK(stats->inserted == 2);

  auto recent = store->RecentPosts(10);
  REQUIRE(recent.ok());
  REQUIRE(recent->size() == 2);
  CheckSamePost((*recent)[0].post, plain);
  CheckSamePost((*recent)[1].post, classified);
  const int64_t classified_id = (*recent)[1].row_id;
  const int64_t plain_id = (*recent)[0].row_id;

  auto decisions = store->DecisionsFor(classified_id);
  REQUIRE(decisions.ok());
  CHECK(decisions->size() == kinds.size() + 3);
  CHECK(Render(*decisions) == Render(classified.decisions));
  auto none = store->DecisionsFor(plain_id);
  REQUIRE(none.ok());
  CHECK(none->empty());
  auto missing = store->DecisionsFor(999'999);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == StatusCode::kNotFound);
  CHECK(Contains(missing.status().message(), "999999"));

  auto found = store->SearchPosts("cafe", 10);
  REQUIRE(found.ok());
  REQUIRE(found->size() == 1);
  CheckSamePost((*found)[0].post, classified);

  // Under the interface: one row per decision, seq in order, kinds by name.
  RawDb raw(path);
  CHECK(raw.Rows("SELECT seq, kind, span_start FROM post_decisions WHERE post_id = " +
                 std::to_string(classified_id) + " AND seq IN (0, 7, 9)") ==
        "0 | " + std::string(DecisionKindName(kinds[0])) +
            " | 0\n7 | redaction | 5\n9 | unrouted | " + std::to_string(INT32_MAX - 1) + "\n");
  CHECK(raw.Rows("SELECT count(*) FROM post_decisions WHERE post_id = " +
                 std::to_string(plain_id)) == "0\n");
  CHECK(raw.Rows("SELECT kind, value, post_id FROM post_decisions WHERE kind = 'unrouted'"
                 " AND value = ''") == "unrouted |  | " + std::to_string(classified_id) + "\n");
  CHECK(store->CheckIntegrity().ok());

  SECTION("the schema refuses a kind it does not know") {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
    const std::string insert = "INSERT INTO post_decisions VALUES (" + std::to_string(plain_id) +
                               ", 0, 'Topic', 'v', '', '', '', -1, -1)";
    char* error = nullptr;
    CHECK(sqlite3_exec(db, insert.c_str(), nullptr, nullptr, &error) == SQLITE_CONSTRAINT);
    CHECK(Contains(error != nullptr ? error : "", "CHECK constraint failed"));
    sqlite3_free(error);
    sqlite3_close_v2(db);
  }
  SECTION("a decision of an unnamed kind fails the batch before anything is written") {
    Post bad = MakePost("b", "x");
    bad.decisions = {MakeDecision(Decision::Kind::kTopic, "ok"),
                     MakeDecision(static_cast<Decision::Kind>(99), "bad")};
    auto result =
        store->Apply({SourceWrite{"alpha", StateWithCursor("c2"), {MakePost("fine", "y"), bad}}});
    REQUIRE_FALSE(result.ok());
    CHECK(result.status().code() == StatusCode::kInvalidArgument);
    CHECK(Contains(result.status().message(), "decision 1"));
    CHECK(*store->CountPosts() == 2);
    CHECK(store->GetSource("alpha")->state.cursor.cursor == "c1");
  }
  SECTION("a stored kind this earshot cannot read is an I/O error") {
    raw.Exec("PRAGMA ignore_check_constraints = ON");
    raw.Exec("UPDATE post_decisions SET kind = 'mood' WHERE seq = 1");
    auto bad = store->DecisionsFor(classified_id);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().code() == StatusCode::kIoError);
    CHECK(Contains(bad.status().message(), "'mood'"));
    CHECK_FALSE(store->RecentPosts(10).ok());
    CHECK_FALSE(store->ForEachPost([](const StoredPost&) { return true; }).ok());
  }
}

TEST_CASE("a duplicate post keeps the decisions it was first stored with", "[store]") {
  TempDir dir;
  const std::string path = dir.File("dup-decisions.db");
  auto store = OpenOrDie(path);
  Post first = MakePost("same", "the ward was lovely", 0);
  first.decisions = {MakeDecision(Decision::Kind::kSentiment, "positive", "", "s.lovely", 12, 18),
                     MakeDecision(Decision::Kind::kTopic, "staff attitude", "staff", "t.ward")};
  Post reclassified = first;
  reclassified.decisions = {MakeDecision(Decision::Kind::kSentiment, "negative", "", "s.v2")};
  Post undecided = first;
  undecided.decisions.clear();

  // In one batch: the second copy is a duplicate of the first.
  auto stats = store->Apply(
      {SourceWrite{"alpha", StateWithCursor("c1"), {first, reclassified, MakePost("x", "y")}}});
  REQUIRE(stats.ok());
  CHECK(stats->inserted == 2);
  CHECK(stats->duplicates == 1);
  // In later batches, from another source too.
  stats = store->Apply({SourceWrite{"alpha", StateWithCursor("c2"), {undecided}},
                        SourceWrite{"beta", StateWithCursor("b1"), {reclassified}}});
  REQUIRE(stats.ok());
  CHECK(stats->inserted == 0);
  CHECK(stats->duplicates == 2);

  auto posts = store->SearchPosts("lovely", 10);
  REQUIRE(posts.ok());
  REQUIRE(posts->size() == 1);
  CHECK((*posts)[0].source == "alpha");
  CheckSamePost((*posts)[0].post, first);
  auto decisions = store->DecisionsFor((*posts)[0].row_id);
  REQUIRE(decisions.ok());
  CHECK(Render(*decisions) == Render(first.decisions));
  RawDb raw(path);
  CHECK(raw.Int("SELECT count(*) FROM post_decisions") == 2);
}

TEST_CASE("rule counts accumulate across Apply calls and per source", "[store]") {
  auto store = OpenOrDie(":memory:");
  CHECK(StoredRuleCounts(*store).empty());

  SourceWrite alpha{"alpha", StateWithCursor("c1"), {MakePost("a1", "x")}};
  alpha.rule_counts = {Count("topic", "t.waiting", 3), Count("relevance", "", 0, 5),
                       Count("org", "org.rx1", 1), Count("topic", "t.waiting", 2)};
  SourceWrite beta{"beta", StateWithCursor("b1")};  // no posts: counts still count
  beta.rule_counts = {Count("topic", "t.waiting", 7), Count("relevance", "r.nhs", 4, 0)};
  REQUIRE(store->Apply({alpha, beta}).ok());
  CHECK(StoredRuleCounts(*store) ==
        "alpha|org|org.rx1|1|0\n"
        "alpha|relevance||0|5\n"
        "alpha|topic|t.waiting|5|0\n"
        "beta|relevance|r.nhs|4|0\n"
        "beta|topic|t.waiting|7|0\n");

  SourceWrite again{"alpha", StateWithCursor("c2"), {MakePost("a1", "x")}};  // a duplicate
  again.rule_counts = {Count("topic", "t.waiting", 1), Count("relevance", "", 2, 3),
                       Count("sentiment", "s.new", 0)};
  SourceWrite gamma{"gamma", StateWithCursor("g1")};  // a source Apply() creates
  gamma.rule_counts = {Count("org", "org.rx1", 9)};
  REQUIRE(store->Apply({again}).ok());
  REQUIRE(store->Apply({gamma}).ok());
  CHECK(StoredRuleCounts(*store) ==
        "alpha|org|org.rx1|1|0\n"
        "alpha|relevance||2|8\n"
        "alpha|sentiment|s.new|0|0\n"
        "alpha|topic|t.waiting|6|0\n"
        "beta|relevance|r.nhs|4|0\n"
        "beta|topic|t.waiting|7|0\n"
        "gamma|org|org.rx1|9|0\n");
  CHECK(store->CheckIntegrity().ok());

  SourceWrite stageless{"alpha", StateWithCursor("c3")};
  stageless.rule_counts = {Count("topic", "t.waiting", 1), Count("", "t.waiting", 1)};
  auto bad = store->Apply({stageless});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == StatusCode::kInvalidArgument);
  CHECK(Contains(bad.status().message(), "rule count 1"));
  CHECK(Contains(StoredRuleCounts(*store), "alpha|topic|t.waiting|6|0\n"));
}

TEST_CASE("ForEachPost visits every post in row order with its decisions", "[store]") {
  auto store = OpenOrDie(":memory:");
  std::vector<StoredPost> visited;
  auto record = [&](const StoredPost& p) {
    visited.push_back(p);
    return true;
  };
  REQUIRE(store->ForEachPost(record).ok());
  CHECK(visited.empty());

  // Enough posts for several pages, fetched newest-first so that row order
  // and fetched_at order disagree; every third post has decisions.
  constexpr int kPosts = 700;
  std::vector<Post> posts;
  for (int i = 0; i < kPosts; ++i) {
    Post post = MakePost("u" + std::to_string(i), "post " + std::to_string(i), kPosts - i);
    if (i % 3 == 0) {
      post.decisions = {MakeDecision(Decision::Kind::kTopic, "t" + std::to_string(i)),
                        MakeDecision(Decision::Kind::kOrg, "RX" + std::to_string(i), "", "o")};
    }
    posts.push_back(std::move(post));
  }
  for (int start = 0; start < kPosts; start += 100) {
    SourceWrite write{start < 300 ? "alpha" : "beta", StateWithCursor(std::to_string(start))};
    write.posts.assign(posts.begin() + start, posts.begin() + start + 100);
    REQUIRE(store->Apply({write}).ok());
  }

  REQUIRE(store->ForEachPost(record).ok());
  REQUIRE(visited.size() == kPosts);
  for (int i = 0; i < kPosts; ++i) {
    INFO("post " << i);
    if (i > 0) CHECK(visited[i].row_id > visited[i - 1].row_id);
    CHECK(visited[i].source == (i < 300 ? "alpha" : "beta"));
    CheckSamePost(visited[i].post, posts[i]);
  }

  SECTION("it stops when visit returns false") {
    int calls = 0;
    REQUIRE(store
                ->ForEachPost([&](const StoredPost& p) {
                  ++calls;
                  return p.post.uid != "u300";
                })
                .ok());
    CHECK(calls == 301);
    calls = 0;
    REQUIRE(store
                ->ForEachPost([&](const StoredPost&) {
                  ++calls;
                  return false;
                })
                .ok());
    CHECK(calls == 1);
  }
  SECTION("visit may use the store, even write to it") {
    int calls = 0;
    REQUIRE(store
                ->ForEachPost([&](const StoredPost& p) {
                  ++calls;
                  auto decisions = store->DecisionsFor(p.row_id);
                  REQUIRE(decisions.ok());
                  CHECK(Render(*decisions) == Render(p.post.decisions));
                  if (p.post.uid == "u10") {
                    SourceWrite write{"gamma", StateWithCursor("g1"), {MakePost("late", "x")}};
                    write.rule_counts = {Count("topic", "t", 1)};
                    REQUIRE(store->Apply({write}).ok());
                  }
                  return true;
                })
                .ok());
    CHECK(calls >= kPosts);
    CHECK(*store->CountPosts() == kPosts + 1);
  }
  SECTION("a failed read is an I/O error") {
    auto failing = OpenOrDie(":memory:", [] {
      SqliteOptions options;
      options.fail_step = [](std::string_view operation) {
        return operation == "visit posts: decisions";
      };
      return options;
    }());
    REQUIRE(failing->Apply({SourceWrite{"alpha", StateWithCursor("c1"), {posts[0]}}}).ok());
    int calls = 0;
    Status status = failing->ForEachPost([&](const StoredPost&) {
      ++calls;
      return true;
    });
    CHECK(status.code() == StatusCode::kIoError);
    CHECK(Contains(status.message(), "injected fault"));
    CHECK(calls == 0);
  }
}

TEST_CASE("a locked database is an I/O error naming it, and nothing is applied", "[store]") {
  TempDir dir;
  const std::string path = dir.File("locked.db");
  SqliteOptions options;
  options.busy_timeout = Duration(0);  // fail at once instead of waiting
  auto store = OpenOrDie(path, options);
  RawDb other(path);
  other.Exec("BEGIN IMMEDIATE");
  SourceWrite write{"alpha", StateWithCursor("c1"), {MakePost("u1", "x")}};
  auto locked = store->Apply({write});
  REQUIRE_FALSE(locked.ok());
  CHECK(locked.status().code() == StatusCode::kIoError);
  CHECK(Contains(locked.status().message(), path));
  CHECK(Contains(locked.status().message(), "apply: begin"));
  CHECK(Contains(locked.status().message(), "locked"));
  other.Exec("COMMIT");
  auto retried = store->Apply({write});
  REQUIRE(retried.ok());
  CHECK(retried->inserted == 1);
  // A second store on the same file sees what the first committed.
  auto second = OpenOrDie(path);
  CHECK(*second->CountPosts() == 1);
}

// The seed the fault loop applies first: two posts, one with a decision.
SourceWrite FaultSeed() {
  SourceWrite seed{
      "alpha", StateWithCursor("c1"), {MakePost("u1", "seed one"), MakePost("u2", "seed two")}};
  seed.posts[1].decisions = {
      MakeDecision(Decision::Kind::kOrg, "RX1", "St Elsewhere", "org.rx1", 0, 4)};
  seed.rule_counts = {Count("org", "org.rx1", 1)};
  return seed;
}

// The batch used by the fault loop: a page with a duplicate (whose different
// decisions must not be stored), decisions and rule counts, a raw body, a
// new source with a quarantined body, a closed blind window and a count.
std::vector<SourceWrite> FaultBatch() {
  SourceWrite page{"alpha",
                   StateWithCursor("c2"),
                   {MakePost("u2", "duplicate of the seed", 10),
                    MakePost("u3", "outpatients letter never arrived", 11),
                    MakePost("u4", "thank you to ward 7 nurses", 12)}};
  page.posts[0].decisions = {MakeDecision(Decision::Kind::kTopic, "other", "", "t.other")};
  page.posts[1].decisions = {
      MakeDecision(Decision::Kind::kTopic, "waiting", "access", "t.waiting", 0, 11),
      MakeDecision(Decision::Kind::kSentiment, "negative", "", "s.never", 20, 25)};
  page.raw = RawPayload{"https://example.social/api?since_id=2", 200, "application/json",
                        "[{\"id\":\"3\"},{\"id\":\"4\"}]", At(10)};
  page.rule_counts = {Count("topic", "t.other", 1), Count("topic", "t.waiting", 1),
                      Count("relevance", "", 0, 2)};
  SourceWrite recovered{"beta", StateWithCursor("b1"), {MakePost("u5", "parking charges", 13)}};
  recovered.posts[0].decisions = {
      MakeDecision(Decision::Kind::kCriticality, "clinical_risk", "", "c.parking")};
  recovered.closed_blind_window = BlindWindow{At(1), At(13), "unavailable: HTTP 502"};
  recovered.quarantine = RawPayload{"https://blog.example/feed", 200, "text/xml", "<rss", At(13)};
  recovered.quarantine_error = "parse error: feed:1:5";
  recovered.rule_counts = {Count("criticality", "c.parking", 1)};
  return {page, recovered};
}

// The stored rule counts after the seed and `batches` FaultBatch()es.
std::string FaultRuleCounts(int batches) {
  const std::string n = std::to_string(batches);
  return "alpha|org|org.rx1|1|0\n"
         "alpha|relevance||0|" +
         std::to_string(2 * batches) +
         "\n"
         "alpha|topic|t.other|" +
         n +
         "|0\n"
         "alpha|topic|t.waiting|" +
         n +
         "|0\n"
         "beta|criticality|c.parking|" +
         n + "|0\n";
}

void CheckFaultBatchCommittedOnce(SqliteStore& store) {
  CHECK(*store.CountPosts() == 5);
  auto alpha = store.GetSource("alpha");
  REQUIRE(alpha.ok());
  CHECK(alpha->state.cursor.cursor == "c2");
  CHECK(alpha->state.posts_total == 4);
  auto beta = store.GetSource("beta");
  REQUIRE(beta.ok());
  CHECK(beta->state.cursor.cursor == "b1");
  CHECK(beta->state.posts_total == 1);
  CHECK(store.BlindWindows("beta")->size() == 1);
  CHECK(store.Quarantined(10)->size() == 1);
  auto found = store.SearchPosts("outpatients OR nurses OR parking", 10);
  REQUIRE(found.ok());
  CHECK(found->size() == 3);
  auto recent = store.RecentPosts(10);
  REQUIRE(recent.ok());
  REQUIRE(recent->size() == 5);
  auto raw = store.RawFor((*recent)[1].row_id);  // u4, from the page
  REQUIRE(raw.ok());
  CHECK(raw->body == "[{\"id\":\"3\"},{\"id\":\"4\"}]");
  // Newest first: u5, u4, u3, then the seed's u1 and u2 (same fetched_at).
  const std::vector<SourceWrite> batch = FaultBatch();
  CHECK(Uids(*recent) == std::vector<std::string>{"u5", "u4", "u3", "u2", "u1"});
  CHECK(Render((*recent)[0].post.decisions) == Render(batch[1].posts[0].decisions));
  CHECK((*recent)[1].post.decisions.empty());
  CHECK(Render((*recent)[2].post.decisions) == Render(batch[0].posts[1].decisions));
  CHECK(Render((*recent)[3].post.decisions) == Render(FaultSeed().posts[1].decisions));
  auto u2 = store.DecisionsFor((*recent)[3].row_id);
  REQUIRE(u2.ok());
  CHECK(Render(*u2) == Render(FaultSeed().posts[1].decisions));
  CHECK(StoredRuleCounts(store) == FaultRuleCounts(1));
  Status integrity = store.CheckIntegrity();
  INFO(integrity.ToString());
  CHECK(integrity.ok());
}

TEST_CASE("fail the n-th step of Apply for every n: all or nothing", "[store]") {
  TempDir dir;
  std::set<std::string> failed_operations;
  int failures = 0;
  for (int n = 1;; ++n) {
    const std::string path = dir.File("fault-" + std::to_string(n) + ".db");
    int steps = 0;
    int fail_at = 0;  // 0: no fault armed
    std::string last_operation;
    SqliteOptions options;
    options.fail_step = [&](std::string_view operation) {
      last_operation = operation;
      return fail_at > 0 && ++steps == fail_at;
    };
    auto store = OpenOrDie(path, options);
    REQUIRE(store->UpsertSource(Spec("alpha")).ok());
    REQUIRE(store->Apply({FaultSeed()}).ok());
    RawDb raw(path);
    const std::string before = raw.Dump();

    fail_at = n;
    auto result = store->Apply(FaultBatch());
    fail_at = 0;
    if (result.ok()) {
      // n is past the last step: every step has been failed once.
      CHECK(steps == n - 1);
      CHECK(result->inserted == 3);
      CHECK(result->duplicates == 1);
      CheckFaultBatchCommittedOnce(*store);
      break;
    }
    ++failures;
    INFO("failed step " << n << " (" << last_operation << ")");
    failed_operations.insert(last_operation);
    CHECK(result.status().code() == StatusCode::kIoError);
    CHECK(Contains(result.status().message(), "injected fault"));
    CHECK(Contains(result.status().message(), path));
    CHECK(raw.Dump() == before);
    CHECK(store->GetSource("alpha")->state.cursor.cursor == "c1");
    CHECK(*store->CountPosts() == 2);

    auto retry = store->Apply(FaultBatch());
    REQUIRE(retry.ok());
    CHECK(retry->inserted == 3);
    CHECK(retry->duplicates == 1);
    CheckFaultBatchCommittedOnce(*store);

    auto replay = store->Apply(FaultBatch());  // e.g. a page fetched twice
    REQUIRE(replay.ok());
    CHECK(replay->inserted == 0);
    CHECK(replay->duplicates == 4);
    CHECK(store->GetSource("alpha")->state.posts_total == 4);
    CHECK(StoredRuleCounts(*store) == FaultRuleCounts(2));
    CHECK(raw.Int("SELECT count(*) FROM post_decisions") == 4);  // seed 1, batch 3
  }
  CHECK(failures >= 10);
  for (const char* operation :
       {"apply: begin", "apply: store source state", "apply: store raw payload",
        "apply: insert post", "apply: store decision", "apply: count rule", "apply: count posts",
        "apply: record blind window", "apply: quarantine body", "apply: index posts for search",
        "apply: commit"}) {
    INFO(operation);
    CHECK(failed_operations.count(operation) == 1);
  }
}

// Not run by default: `unit_tests "[store-bench]"`. Timing varies by machine,
// so it reports and does not assert.
TEST_CASE("insert throughput in batches of 1000", "[.][store-bench]") {
  TempDir dir;
  auto store = OpenOrDie(dir.File("bench.db"));
  constexpr int kBatches = 50;
  constexpr int kBatchSize = 1000;
  std::vector<std::vector<SourceWrite>> batches(kBatches);
  for (int b = 0; b < kBatches; ++b) {
    SourceWrite write{"alpha", StateWithCursor("c" + std::to_string(b))};
    for (int i = 0; i < kBatchSize; ++i) {
      const int n = b * kBatchSize + i;
      write.posts.push_back(
          MakePost("https://example.social/users/u/statuses/" + std::to_string(n),
                   "Post " + std::to_string(n) +
                       ": waited four hours at the walk-in centre, staff were kind but "
                       "the ward was short of nurses and the parking machine was broken",
                   n));
    }
    batches[b].push_back(std::move(write));
  }
  const auto start = std::chrono::steady_clock::now();
  for (const auto& batch : batches) {
    auto stats = store->Apply(batch);
    REQUIRE(stats.ok());
    REQUIRE(stats->inserted == kBatchSize);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  WARN("SqliteStore: " << kBatches * kBatchSize << " posts in " << seconds
                       << " s = " << static_cast<int>(kBatches * kBatchSize / seconds)
                       << " posts/s (batches of " << kBatchSize << ", with FTS)");
  CHECK(*store->CountPosts() == kBatches * kBatchSize);
}

TEST_CASE("FindPost returns a stored post with its ref, or nothing", "[store]") {
  TempDir dir;
  auto store = SqliteStore::Open(dir.File("find.db"));
  REQUIRE(store.ok());
  SourceSpec spec;
  spec.name = "s";
  spec.connector = "feed";
  spec.url = "http://example.test/feed";
  REQUIRE((*store)->UpsertSource(spec).ok());
  Post post;
  post.platform = "feed";
  post.id = "a1";
  post.uid = "urn:a1";
  post.text = "hello";
  post.ref = "cid:abc root:xyz";
  SourceWrite write;
  write.source = "s";
  write.posts.push_back(post);
  REQUIRE((*store)->Apply({write}).ok());
  auto found = (*store)->FindPost("feed", "urn:a1");
  REQUIRE(found.ok());
  REQUIRE(found->has_value());
  CHECK((*found)->post.ref == "cid:abc root:xyz");
  CHECK((*found)->post.text == "hello");
  CHECK_FALSE((*found)->deleted_at.has_value());
  auto missing = (*store)->FindPost("feed", "urn:nope");
  REQUIRE(missing.ok());
  CHECK_FALSE(missing->has_value());
}

// ---------------------------------------------------------------------------
// Deletions (tombstones) and conversation watches (schema v3).

constexpr Duration kTenMinutes = std::chrono::minutes(10);

// A routed post: an org decision with a span, a redaction, a sentiment.
Post RoutedPost(std::string uid, std::string text, int64_t fetched_offset = 0) {
  Post post = MakePost(std::move(uid), std::move(text), fetched_offset);
  post.title = "About the ward";
  post.ref = "cid:" + post.uid;
  post.reply_to = "id-root";
  post.conversation = "id-root";
  post.decisions = {
      MakeDecision(Decision::Kind::kRedaction, "phone", "", "", 4, 17),
      MakeDecision(Decision::Kind::kOrg, "RHQ", "Sheffield Teaching Hospitals", "org.sth", 20, 37),
      MakeDecision(Decision::Kind::kSentiment, "negative", "", "sent.neg")};
  return post;
}

PostDeletion Deleted(std::string uid, std::string reason = "deleted by its author",
                     int64_t at_offset = 600'000) {
  return PostDeletion{"mastodon", std::move(uid), std::move(reason), At(at_offset)};
}

StoredPost FindOrDie(SqliteStore& store, const std::string& uid) {
  auto found = store.FindPost("mastodon", uid);
  INFO(found.status().ToString());
  REQUIRE(found.ok());
  REQUIRE(found->has_value());
  return **found;
}

std::optional<ConversationWatch> WatchOf(SqliteStore& store, const std::string& uid) {
  auto found = store.FindWatch("mastodon", uid);
  INFO(found.status().ToString());
  REQUIRE(found.ok());
  return *found;
}

TEST_CASE("a deletion turns the stored post into a tombstone with its write", "[store][deletion]") {
  TempDir dir;
  const std::string path = dir.File("deletion.db");
  auto store = OpenOrDie(path);
  REQUIRE(store->UpsertSource(Spec("alpha")).ok());
  SourceWrite page{"alpha", StateWithCursor("c1")};
  page.posts = {RoutedPost("u1", "Call [phone] about Northern General: waited hours"),
                RoutedPost("u2", "Northern General was fine")};
  page.raw = RawPayload{"https://example.social/api", 200, "application/json", "[{...}]", At(0)};
  REQUIRE(store->Apply({page}).ok());
  const int64_t row = FindOrDie(*store, "u1").row_id;
  REQUIRE(store->RawFor(row).ok());
  REQUIRE(store->SearchPosts("waited", 10)->size() == 1);

  SourceWrite deleting{"alpha", StateWithCursor("c2")};
  deleting.deletions = {Deleted("u1")};
  auto stats = store->Apply({deleting});
  REQUIRE(stats.ok());
  CHECK(stats->deleted == 1);
  CHECK(stats->deletions_unknown == 0);
  CHECK(store->GetSource("alpha")->state.cursor.cursor == "c2");

  const StoredPost gone = FindOrDie(*store, "u1");
  CHECK(gone.row_id == row);
  CHECK(gone.deleted_at == At(600'000));
  CHECK(gone.deletion_reason == "deleted by its author");
  // Emptied.
  CHECK(gone.post.text.empty());
  CHECK(gone.post.title.empty());
  CHECK(gone.post.author_name.empty());
  CHECK(gone.post.author_handle.empty());
  CHECK(gone.post.url.empty());
  CHECK(gone.post.content_hash.empty());
  // Kept: identity and the skeleton of the thread.
  CHECK(gone.post.id == "id-u1");
  CHECK(gone.post.ref == "cid:u1");
  CHECK(gone.post.reply_to == "id-root");
  CHECK(gone.post.conversation == "id-root");
  CHECK(gone.post.created_at == At(-60'000));
  CHECK(gone.source == "alpha");
  // Routing stays, spans go.
  CHECK(Render(gone.post.decisions) ==
        "redaction|phone||||-1|-1\n"
        "org|RHQ|Sheffield Teaching Hospitals|org.sth|2026-11-01|-1|-1\n"
        "sentiment|negative||sent.neg|2026-11-01|-1|-1\n");
  // Not searchable, no raw body for it; the other post of the page keeps its own.
  CHECK(store->SearchPosts("waited", 10)->empty());
  CHECK(Uids(*store->SearchPosts("Northern", 10)) == std::vector<std::string>{"u2"});
  auto raw_body = store->RawFor(row);
  REQUIRE_FALSE(raw_body.ok());
  CHECK(raw_body.status().code() == StatusCode::kNotFound);
  CHECK(store->RawFor(FindOrDie(*store, "u2").row_id).ok());
  CHECK(FindOrDie(*store, "u2").post.text == "Northern General was fine");
  INFO(store->CheckIntegrity().ToString());
  CHECK(store->CheckIntegrity().ok());

  // The last post citing the body goes: so does the body.
  SourceWrite second{"alpha", StateWithCursor("c3")};
  second.deletions = {Deleted("u2", "removed by moderators")};
  REQUIRE(store->Apply({second})->deleted == 1);
  RawDb raw(path);
  CHECK(raw.Int("SELECT count(*) FROM raw_payloads") == 0);
  CHECK(raw.Int("SELECT count(*) FROM posts") == 2);
  CHECK(FindOrDie(*store, "u2").deletion_reason == "removed by moderators");
  CHECK(store->CheckIntegrity().ok());
}

TEST_CASE("deletions of posts never stored, or already deleted, are counted and ignored",
          "[store][deletion]") {
  auto store = OpenOrDie(":memory:");
  SourceWrite page{"alpha", StateWithCursor("c1")};
  page.posts = {RoutedPost("u1", "text one")};
  REQUIRE(store->Apply({page}).ok());
  SourceWrite deleting{"alpha", StateWithCursor("c2")};
  deleting.deletions = {Deleted("never-seen"), Deleted("u1"), Deleted("u1", "again", 700'000)};
  auto stats = store->Apply({deleting});
  REQUIRE(stats.ok());
  CHECK(stats->deleted == 1);
  CHECK(stats->deletions_unknown == 1);
  CHECK(stats->deletions_repeated == 1);
  CHECK(*store->CountPosts() == 1);
  auto never = store->FindPost("mastodon", "never-seen");
  REQUIRE(never.ok());
  CHECK_FALSE(never->has_value());
  // The first deletion's time and reason stand.
  CHECK(FindOrDie(*store, "u1").deleted_at == At(600'000));
  CHECK(FindOrDie(*store, "u1").deletion_reason == "deleted by its author");
  // A deletion of another platform's post with the same uid is not this one.
  SourceWrite other{"alpha", StateWithCursor("c3")};
  other.deletions = {PostDeletion{"bluesky", "u1", "gone", At(0)}};
  CHECK(store->Apply({other})->deletions_unknown == 1);
  // Unnamed deletions are refused.
  SourceWrite bad{"alpha", StateWithCursor("c4")};
  bad.deletions = {PostDeletion{"mastodon", "", "gone", At(0)}};
  auto refused = store->Apply({bad});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("a deleted post that arrives again stays a tombstone", "[store][deletion]") {
  auto store = OpenOrDie(":memory:");
  const Post post = RoutedPost("u1", "Waited six hours in A&E");
  SourceWrite page{"alpha", StateWithCursor("c1")};
  page.posts = {post};
  REQUIRE(store->Apply({page}).ok());
  SourceWrite deleting{"alpha", StateWithCursor("c2")};
  deleting.deletions = {Deleted("u1")};
  REQUIRE(store->Apply({deleting}).ok());

  SourceWrite again{"alpha", StateWithCursor("c3")};
  again.posts = {post};
  again.raw = RawPayload{"https://example.social/api", 200, "application/json", "again", At(0)};
  auto stats = store->Apply({again});
  REQUIRE(stats.ok());
  CHECK(stats->inserted == 0);
  CHECK(stats->duplicates == 1);
  const StoredPost stored = FindOrDie(*store, "u1");
  CHECK(stored.post.text.empty());
  CHECK(stored.deleted_at.has_value());
  CHECK(store->SearchPosts("waited", 10)->empty());
  CHECK_FALSE(store->RawFor(stored.row_id).ok());
  CHECK(store->CheckIntegrity().ok());
}

TEST_CASE("a post deleted in the batch that stores it leaves a consistent index",
          "[store][deletion]") {
  auto store = OpenOrDie(":memory:");
  SourceWrite first{"alpha", StateWithCursor("c1")};
  first.posts = {RoutedPost("old", "an older post about parking")};
  REQUIRE(store->Apply({first}).ok());

  SourceWrite page{"alpha", StateWithCursor("c2")};
  page.posts = {RoutedPost("u1", "parking was impossible"), RoutedPost("u2", "parking fine")};
  page.deletions = {Deleted("u1")};  // the page names one of its own posts as deleted
  SourceWrite later{"alpha", StateWithCursor("c3")};
  later.deletions = {Deleted("u2"), Deleted("old")};
  auto stats = store->Apply({page, later});
  REQUIRE(stats.ok());
  CHECK(stats->inserted == 2);
  CHECK(stats->deleted == 3);
  CHECK(store->SearchPosts("parking", 10)->empty());
  CHECK(store->CheckIntegrity().ok());
  for (const char* uid : {"u1", "u2", "old"}) CHECK(FindOrDie(*store, uid).post.text.empty());
}

TEST_CASE("routed posts newly stored are watched, duplicates and unrouted posts are not",
          "[store][watch]") {
  auto store = OpenOrDie(":memory:");
  SourceWrite page{"alpha", StateWithCursor("c1")};
  page.watch_routed_after = kTenMinutes;
  Post unrouted = MakePost("plain", "nothing to route");
  Post undated = RoutedPost("undated", "no created_at", 5'000);
  undated.created_at.reset();
  Post future = RoutedPost("future", "created in the future", 5'000);
  future.created_at = At(3'600'000);
  page.posts = {RoutedPost("u1", "routed one"), unrouted, undated, future};
  auto stats = store->Apply({page});
  REQUIRE(stats.ok());
  CHECK(stats->watches_added == 3);

  auto watch = WatchOf(*store, "u1");
  REQUIRE(watch.has_value());
  CHECK(watch->source == "alpha");
  CHECK(watch->anchor_at == At(-60'000));  // created_at
  // Due ten minutes after the later of its creation and its fetching.
  CHECK(watch->next_fetch_at == At(0) + kTenMinutes);
  CHECK(watch->fetches == 0);
  CHECK(watch->attempts == 0);
  CHECK_FALSE(watch->last_fetch_at.has_value());
  CHECK_FALSE(WatchOf(*store, "plain").has_value());
  CHECK(WatchOf(*store, "undated")->anchor_at == At(5'000));  // fetched_at
  CHECK(WatchOf(*store, "future")->anchor_at == At(5'000));

  // Without watch_routed_after (a conversation page, a connector without
  // the capability), nothing is watched.
  SourceWrite unwatched{"alpha", StateWithCursor("c2")};
  unwatched.posts = {RoutedPost("u9", "routed but not watched")};
  REQUIRE(store->Apply({unwatched})->watches_added == 0);
  CHECK_FALSE(WatchOf(*store, "u9").has_value());

  // A duplicate does not add or reset a watch.
  SourceWrite progress{"alpha", StateWithCursor("c3")};
  ConversationWatch done = *watch;
  done.fetches = 1;
  done.attempts = 2;
  done.failures = 0;
  done.last_fetch_at = At(900'000);
  done.last_error = "";
  done.next_fetch_at = At(3'600'000);
  progress.watch_updates = {done};
  REQUIRE(store->Apply({progress}).ok());
  SourceWrite again{"alpha", StateWithCursor("c4")};
  again.watch_routed_after = kTenMinutes;
  again.posts = {RoutedPost("u1", "routed one")};
  stats = store->Apply({again});
  REQUIRE(stats.ok());
  CHECK(stats->duplicates == 1);
  CHECK(stats->watches_added == 0);
  watch = WatchOf(*store, "u1");
  CHECK(watch->fetches == 1);
  CHECK(watch->attempts == 2);
  CHECK(watch->next_fetch_at == At(3'600'000));
  CHECK(watch->last_fetch_at == At(900'000));
}

TEST_CASE("posts named unwatchable are stored but not watched", "[store][watch]") {
  auto store = OpenOrDie(":memory:");
  SourceWrite page{"alpha", StateWithCursor("c1")};
  page.watch_routed_after = kTenMinutes;
  page.posts = {RoutedPost("w1", "routed, has a comment feed"),
                RoutedPost("w2", "routed, no comment feed")};
  page.unwatchable.insert("w2");
  auto stats = store->Apply({page});
  REQUIRE(stats.ok());
  CHECK(stats->inserted == 2);
  CHECK(stats->watches_added == 1);
  CHECK(WatchOf(*store, "w1").has_value());
  CHECK_FALSE(WatchOf(*store, "w2").has_value());
}

TEST_CASE("pending watches: per source, soonest first, finished ones left out", "[store][watch]") {
  auto store = OpenOrDie(":memory:");
  SourceWrite alpha{"alpha", StateWithCursor("a")};
  alpha.watch_routed_after = kTenMinutes;
  alpha.posts = {RoutedPost("a-late", "x", 0), RoutedPost("a-soon", "x", 0),
                 RoutedPost("a-done", "x", 0)};
  alpha.posts[0].created_at = At(50'000);
  alpha.posts[1].created_at = At(-500'000);
  alpha.posts[0].fetched_at = At(50'000);
  SourceWrite beta{"beta", StateWithCursor("b")};
  beta.watch_routed_after = kTenMinutes;
  beta.posts = {RoutedPost("b-1", "x", 0)};
  REQUIRE(store->Apply({alpha, beta}).ok());
  ConversationWatch finished = *WatchOf(*store, "a-done");
  finished.next_fetch_at.reset();
  finished.last_error = "the watched post was deleted";
  SourceWrite finish{"alpha", StateWithCursor("a2")};
  finish.watch_updates = {finished};
  // An update of a watch that does not exist changes nothing.
  ConversationWatch stray = finished;
  stray.uid = "never-watched";
  finish.watch_updates.push_back(stray);
  REQUIRE(store->Apply({finish}).ok());
  CHECK_FALSE(WatchOf(*store, "never-watched").has_value());

  auto pending = store->PendingWatches("alpha", 10);
  REQUIRE(pending.ok());
  std::vector<std::string> uids;
  for (const auto& w : *pending) uids.push_back(w.uid);
  CHECK(uids == std::vector<std::string>{"a-soon", "a-late"});
  auto one = store->PendingWatches("alpha", 1);
  REQUIRE(one.ok());
  REQUIRE(one->size() == 1);
  CHECK(one->front().uid == "a-soon");
  CHECK(store->PendingWatches("beta", 10)->size() == 1);
  CHECK(store->PendingWatches("nobody", 10)->empty());
  CHECK(store->PendingWatches("alpha", 0)->empty());
  auto done = WatchOf(*store, "a-done");
  REQUIRE(done.has_value());
  CHECK_FALSE(done->next_fetch_at.has_value());
  CHECK(done->last_error == "the watched post was deleted");
}

TEST_CASE("a deletion finishes the watch of its post", "[store][watch][deletion]") {
  auto store = OpenOrDie(":memory:");
  SourceWrite page{"alpha", StateWithCursor("c1")};
  page.watch_routed_after = kTenMinutes;
  page.posts = {RoutedPost("u1", "routed")};
  REQUIRE(store->Apply({page}).ok());
  REQUIRE(store->PendingWatches("alpha", 10)->size() == 1);
  SourceWrite deleting{"alpha", StateWithCursor("c2")};
  deleting.deletions = {Deleted("u1")};
  REQUIRE(store->Apply({deleting}).ok());
  CHECK(store->PendingWatches("alpha", 10)->empty());
  auto watch = WatchOf(*store, "u1");
  REQUIRE(watch.has_value());
  CHECK_FALSE(watch->next_fetch_at.has_value());
}

TEST_CASE("a v2 database is migrated to v3 with its posts", "[store][watch]") {
  TempDir dir;
  const std::string path = dir.File("v2.db");
  {
    auto store = OpenOrDie(path);
    SourceWrite page{"alpha", StateWithCursor("c1")};
    page.posts = {RoutedPost("u1", "kept across the migration")};
    REQUIRE(store->Apply({page}).ok());
  }
  {
    // Back to what v2 wrote: no watch table, no raw_id index, version 2.
    RawDb raw(path);
    raw.Exec(
        "DROP TABLE thread_opens; DROP TABLE audit; DROP TABLE notes; DROP TABLE replies;"
        " DROP TABLE thread_orgs;"
        " DROP TABLE thread_posts; DROP TABLE threads; DROP TABLE user_scopes; DROP TABLE users;"
        " DROP INDEX posts_by_external_id; DROP INDEX posts_by_author_hash;"
        " DROP TABLE conversation_watch; DROP INDEX posts_by_raw_id; PRAGMA user_version = 2;");
  }
  auto store = OpenOrDie(path);
  RawDb raw(path);
  CHECK(raw.Int("PRAGMA user_version") == SqliteStore::kSchemaVersion);
  CHECK(FindOrDie(*store, "u1").post.text == "kept across the migration");
  CHECK_FALSE(WatchOf(*store, "u1").has_value());
  CHECK(store->CheckIntegrity().ok());
}

TEST_CASE("a v4 database is migrated to v5: alerted_at and publishers are backfilled",
          "[store][threads]") {
  TempDir dir;
  const std::string path = dir.File("v4.db");
  int64_t thread = 0, reply = 0;
  {
    auto store = OpenOrDie(path);
    SourceWrite page{"alpha", StateWithCursor("c1")};
    page.posts = {RoutedPost("u1", "a story about the ward")};
    REQUIRE(store->Apply({page}).ok());
    auto on = store->ThreadOfPost(FindOrDie(*store, "u1").row_id);
    REQUIRE(on.ok());
    REQUIRE(on->has_value());
    thread = **on;
    auto draft = store->CreateDraft(thread, "RHQ", 0, "Sorry", "key-1", "ann", At(1000));
    REQUIRE(draft.ok());
    reply = *draft;
    REQUIRE(store->MarkPublishing(reply, "acct", "pat", At(2000)).ok());
    REQUIRE(store->MarkPublished(reply, "p1", "https://example.social/p1", "pat", At(3000)).ok());
  }
  {
    // Back to what v4 wrote: no ledger, no publisher columns, no alerted_at.
    RawDb raw(path);
    raw.Exec(
        "DROP INDEX replies_by_org; DROP INDEX replies_by_state; DROP INDEX thread_orgs_by_alerted;"
        " DROP TABLE thread_opens; ALTER TABLE replies DROP COLUMN published_by;"
        " ALTER TABLE replies DROP COLUMN published_at; UPDATE thread_orgs SET alerted_at = NULL;"
        " PRAGMA user_version = 4;");
  }
  auto store = OpenOrDie(path);
  RawDb raw(path);
  CHECK(raw.Int("PRAGMA user_version") == 5);
  CHECK(SqliteStore::kSchemaVersion == 5);
  auto read = store->GetThread(thread);
  REQUIRE(read.ok());
  REQUIRE(read->summary.orgs.size() == 1);
  CHECK(read->summary.orgs[0].alerted_at == read->summary.orgs[0].created_at);
  REQUIRE(read->replies.size() == 1);
  CHECK(read->replies[0].published_by == "pat");  // from its "published" audit entry
  CHECK(read->replies[0].published_at == At(3000));
  REQUIRE(read->listening.size() == 1);
  CHECK(read->listening[0].first_response_at == At(3000));
  CHECK(store->RecordOpened(thread, {"RHQ"}, "ann", At(4000)).ok());
  CHECK(store->GetThread(thread)->listening[0].opened.size() == 1);
  CHECK(store->CheckIntegrity().ok());
}

TEST_CASE("fail the n-th step of an Apply with deletions and watches: all or nothing",
          "[store][deletion][watch]") {
  TempDir dir;
  std::set<std::string> failed_operations;
  for (int n = 1;; ++n) {
    const std::string path = dir.File("fault-" + std::to_string(n) + ".db");
    int steps = 0;
    int fail_at = 0;
    std::string last_operation;
    SqliteOptions options;
    options.fail_step = [&](std::string_view operation) {
      last_operation = operation;
      return fail_at > 0 && ++steps == fail_at;
    };
    auto store = OpenOrDie(path, options);
    SourceWrite seed{"alpha", StateWithCursor("c1")};
    seed.watch_routed_after = kTenMinutes;
    seed.posts = {RoutedPost("u1", "first routed post"), RoutedPost("u2", "second routed post")};
    seed.raw = RawPayload{"https://example.social/api", 200, "application/json", "seed", At(0)};
    REQUIRE(store->Apply({seed}).ok());
    RawDb raw(path);
    const std::string before = raw.Dump();

    SourceWrite batch{"alpha", StateWithCursor("c2")};
    batch.watch_routed_after = kTenMinutes;
    batch.posts = {RoutedPost("u3", "third routed post")};
    batch.raw = RawPayload{"https://example.social/api", 200, "application/json", "b", At(0)};
    batch.deletions = {Deleted("u1"), Deleted("missing")};
    ConversationWatch progress = *WatchOf(*store, "u2");
    progress.fetches = 1;
    progress.attempts = 1;
    progress.next_fetch_at = At(3'600'000);
    batch.watch_updates = {progress};
    SourceWrite conversation{"alpha", StateWithCursor("c2")};
    conversation.conversation_replies = true;
    conversation.posts = {RoutedPost("r1", "a reply")};
    conversation.deletions = {Deleted("u2", "not found on re-fetch")};

    fail_at = n;
    auto result = store->Apply({batch, conversation});
    fail_at = 0;
    if (!result.ok()) {
      INFO("failed step " << n << " (" << last_operation << ")");
      failed_operations.insert(last_operation);
      CHECK(result.status().code() == StatusCode::kIoError);
      CHECK(raw.Dump() == before);
      result = store->Apply({batch, conversation});
    }
    REQUIRE(result.ok());
    CHECK(result->inserted == 2);
    CHECK(result->deleted == 2);
    CHECK(result->deletions_unknown == 1);
    CHECK(result->watches_added == 1);
    CHECK(FindOrDie(*store, "u1").post.text.empty());
    CHECK(FindOrDie(*store, "u2").post.text.empty());
    CHECK(FindOrDie(*store, "u3").post.text == "third routed post");
    CHECK_FALSE(WatchOf(*store, "u1")->next_fetch_at.has_value());
    CHECK_FALSE(WatchOf(*store, "u2")->next_fetch_at.has_value());
    CHECK(WatchOf(*store, "u2")->fetches == 1);
    CHECK(WatchOf(*store, "u3").has_value());
    CHECK_FALSE(WatchOf(*store, "r1").has_value());
    CHECK(store->SearchPosts("routed", 10)->size() == 1);
    CHECK(store->CheckIntegrity().ok());
    if (steps < n) break;  // n was past the last step: every step has failed once
  }
  for (const char* operation :
       {"apply: find deleted post", "apply: unindex deleted post", "apply: tombstone post",
        "apply: clear spans of deleted post", "apply: drop raw payload of deleted post",
        "apply: index tombstone", "apply: finish watch of deleted post",
        "apply: watch conversation", "apply: update watch"}) {
    INFO(operation);
    CHECK(failed_operations.count(operation) == 1);
  }
}

}  // namespace
}  // namespace earshot
