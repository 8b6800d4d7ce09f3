// SqliteStore: the embedded Store — one SQLite file in WAL mode, FTS5 search
// over post titles and text, raw bodies kept zlib-compressed for audit.
//
// Beyond the Store promises (store.h):
// - Open() applies the schema migrations this binary knows (PRAGMA
//   user_version; each migration in its own transaction) and refuses a
//   database written by a newer earshot (kInvalidArgument).
// - Every SQLite failure is a Status naming the database path and the
//   operation, with SQLite's own message: kIoError, except a malformed FTS5
//   query in SearchPosts(), which is kInvalidArgument.
// - Apply() runs inside BEGIN IMMEDIATE ... COMMIT. It creates a source row
//   that UpsertSource() has not (connector and url empty until it does), keeps
//   `posts_total` itself (the value in SourceWrite::state is ignored; the
//   posts the batch inserted are added to the stored count), and stores a
//   post whose `uid` is empty under its `id`. A post without platform, or
//   without both uid and id, is kInvalidArgument and nothing is written.
// - A newly inserted post's decisions are stored with it, in the same
//   transaction; a duplicate's decisions are dropped (the stored post keeps
//   those it was first stored with). Every write's rule counts are added to
//   the source's totals, duplicates or not. A decision whose kind has no
//   name, or a rule count without a stage, is kInvalidArgument.
// - DecisionsFor() of a row id that is not stored is kNotFound; RecentPosts(),
//   SearchPosts() and ForEachPost() return posts with their decisions.
// - ForEachPost() reads posts in pages and calls `visit` with no statement
//   open, so `visit` may use this store; posts stored while it runs may or
//   may not be visited. Memory is bounded by a page, not by the store.
//
// Thread-safety: as Store — one thread at a time per object. Several objects
// (threads or processes) may open the same file; writers queue on the lock
// for up to `busy_timeout`.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crawler/store/store.h"

namespace earshot {

namespace sqlite_internal {
class Database;
}  // namespace sqlite_internal

struct SqliteOptions {
  // How long a statement waits for another connection's write lock before it
  // fails with kIoError ("database is locked").
  Duration busy_timeout = std::chrono::seconds(5);

  // TEST-ONLY fault injection; leave empty in production. Called before every
  // sqlite3_step and exec the store makes (BEGIN, COMMIT, every read and
  // write, migrations) except ROLLBACK, with the name of the operation
  // ("apply: insert post"). Returning true makes that step fail with
  // kIoError "injected fault" exactly where a real SQLite error would surface,
  // so a test can fail the n-th call for every n and check atomicity.
  std::function<bool(std::string_view operation)> fail_step;
};

class SqliteStore final : public Store {
 public:
  // The schema version this binary writes (PRAGMA user_version).
  static constexpr int kSchemaVersion = 2;

  // Opens (creating if needed) the database at `path` and migrates it;
  // ":memory:" gives a private in-memory database (tests). The parent
  // directory must exist.
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path,
                                                   SqliteOptions options = {});
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  Status UpsertSource(const SourceSpec& spec) override;
  Result<std::vector<SourceRecord>> ListSources() override;
  Result<SourceRecord> GetSource(const std::string& name) override;
  Result<ApplyStats> Apply(const std::vector<SourceWrite>& writes) override;
  Result<int64_t> CountPosts() override;
  Result<std::vector<StoredPost>> RecentPosts(int limit) override;
  Result<std::vector<StoredPost>> SearchPosts(const std::string& query, int limit) override;
  Result<std::vector<BlindWindow>> BlindWindows(const std::string& source) override;
  Result<std::vector<QuarantinedBody>> Quarantined(int limit) override;
  Result<RawPayload> RawFor(int64_t post_row_id) override;
  Result<std::optional<StoredPost>> FindPost(const std::string& platform,
                                             const std::string& uid) override;
  Result<std::vector<Decision>> DecisionsFor(int64_t post_row_id) override;
  Status ForEachPost(const std::function<bool(const StoredPost&)>& visit) override;
  Result<std::vector<std::pair<std::string, RuleCount>>> RuleCounts() override;

  const std::string& path() const;
  // "wal" for a file database; "memory" for ":memory:".
  Result<std::string> JournalMode();
  // SQLite's integrity_check, foreign_key_check and the FTS5 index checked
  // against the posts table; kIoError describing the first problem found.
  Status CheckIntegrity();

 private:
  explicit SqliteStore(std::unique_ptr<sqlite_internal::Database> db);

  std::unique_ptr<sqlite_internal::Database> db_;
};

}  // namespace earshot
