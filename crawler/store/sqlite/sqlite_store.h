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
// - Deletions (SourceWrite::deletions), applied after the write's posts. The
//   post stored as (platform, uid) becomes a tombstone:
//   - emptied: title, text, author_handle, author_name, url, content_hash
//     (tombstones are told apart by deleted_at, not by a marker in the text:
//     the inbox shows "deleted" from deleted_at and deletion_reason);
//   - its full-text index entry is replaced by an empty one, so no search
//     finds it;
//   - its decisions keep kind, value, rule and provenance (its thread stays
//     routed and marked) but lose their spans (-1), which pointed into the
//     text that is gone;
//   - RawFor() no longer finds a body for it (kNotFound). The body itself
//     is deleted when no other post cites it; a body other posts of the same
//     page still cite stays, as their audit record;
//   - its conversation watch, if any, is finished.
//   Kept: the row and its identity (platform, id, uid), source, language,
//   created_at, fetched_at, reply_to, conversation and ref (the skeleton of
//   the thread), deleted_at and deletion_reason. A deletion of a post never
//   stored, or of one already a tombstone, changes nothing and is counted
//   (ApplyStats). Since a stored post is never changed by storing it again,
//   a deleted post that arrives again stays a tombstone.
// - Conversation watches: a write with watch_routed_after adds a watch for
//   each post it newly inserts that has an org decision (never for a
//   duplicate, nor for a post watched before); watch_updates replace the
//   stored progress of existing watches.
// - Threads (ThreadStore, crawler/threads/thread_store.h; schema v4, the
//   listening ledger v5): every post Apply() newly inserts is threaded in
//   the same transaction, in the order of its created_at (else fetched_at),
//   so a parent in the same page comes before its replies. An organisation
//   put on a thread is alerted then (alerted_at = the post's fetched_at).
//   First rule that matches wins:
//   1. ours: its id or uid is the published id of one of our replies on a
//      thread of its platform;
//   2. reply: its reply_to names (external id or uid) a post on a thread,
//      same platform;
//   3. conversation: likewise its conversation root;
//   4. repeat: a post on a thread with the same platform, author handle and
//      content hash, created within 7 days either side;
//   5. opened: it has an org decision: a new thread, one thread_orgs row per
//      organisation (state new, the first rule that routed it there).
//   A post that joins (other than ours) adds its organisations to the thread.
//   Posts no rule matches stay off threads. A duplicate is never threaded
//   again. A tombstoned post stays on its thread, counted in deleted_posts.
//   Posts stored before v4 are not threaded.
// - ForEachPost() reads posts in pages and calls `visit` with no statement
//   open, so `visit` may use this store; posts stored while it runs may or
//   may not be visited. Memory is bounded by a page, not by the store.
//
// Thread-safety: as Store — one thread at a time per object. Several objects
// (threads or processes) may open the same file; writers queue on the lock
// for up to `busy_timeout`.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crawler/store/store.h"
#include "crawler/threads/thread_store.h"

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

class SqliteStore final : public Store, public ThreadStore {
 public:
  // The schema version this binary writes (PRAGMA user_version).
  static constexpr int kSchemaVersion = 5;

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
  Result<std::vector<ConversationWatch>> PendingWatches(const std::string& source,
                                                        int limit) override;
  Result<std::optional<ConversationWatch>> FindWatch(const std::string& platform,
                                                     const std::string& uid) override;

  // ThreadStore (see thread_store.h; implemented in thread_sqlite.cc).
  Result<std::vector<ThreadSummary>> ListThreads(const ThreadFilter& filter) override;
  Result<ThreadDetail> GetThread(int64_t thread_id) override;
  Result<std::optional<ThreadPost>> OpeningPost(int64_t thread_id, int64_t root_post_id) override;
  Result<std::optional<int64_t>> ThreadOfPost(int64_t post_id) override;
  Result<std::optional<int64_t>> ThreadOfPostNamed(std::string_view platform,
                                                   std::string_view key) override;
  Status SetState(int64_t thread_id, std::string_view org, OrgState state, std::string_view reason,
                  std::string_view actor, TimePoint now) override;
  Status Assign(int64_t thread_id, std::string_view org, std::string_view assignee,
                std::string_view actor, TimePoint now) override;
  Result<int64_t> AddNote(int64_t thread_id, std::string_view org, std::string_view body,
                          std::string_view actor, TimePoint now) override;
  Result<int64_t> CreateDraft(int64_t thread_id, std::string_view org, int64_t in_reply_to,
                              std::string_view body, std::string_view idempotency_key,
                              std::string_view actor, TimePoint now) override;
  Result<Reply> GetReply(int64_t reply_id) override;
  Status Approve(int64_t reply_id, std::string_view actor, TimePoint now) override;
  Status MarkPublishing(int64_t reply_id, std::string_view account, std::string_view actor,
                        TimePoint now) override;
  Status MarkPublished(int64_t reply_id, std::string_view published_id, std::string_view url,
                       std::string_view actor, TimePoint now) override;
  Status MarkFailed(int64_t reply_id, std::string_view error, std::string_view actor,
                    TimePoint now) override;
  Status MarkAnswerOnPlatform(int64_t reply_id, std::string_view url, std::string_view actor,
                              TimePoint now) override;
  Status RecordOpened(int64_t thread_id, const std::vector<std::string>& orgs,
                      std::string_view user, TimePoint at) override;
  Result<std::vector<OrgListening>> ListeningSummary(std::optional<TimePoint> from,
                                                     std::optional<TimePoint> to) override;
  Result<std::vector<OrgStateCount>> CountThreadsByOrgState() override;
  Result<std::vector<Reply>> RecentReplies(std::string_view org, int recent_threads) override;
  Result<int> FailStalePublishing(TimePoint updated_before, std::string_view error,
                                  std::string_view actor, TimePoint now) override;
  Result<std::vector<RuleDismissals>> DismissalsByRule() override;
  Result<std::vector<AuditEntry>> AuditLog(int limit) override;
  Result<int64_t> AddUser(const User& user, std::string_view token_hash, std::string_view actor,
                          TimePoint now) override;
  Result<std::vector<User>> ListUsers() override;
  Status RevokeUser(std::string_view name, std::string_view actor, TimePoint now) override;
  Result<std::optional<User>> UserByTokenHash(std::string_view token_hash) override;

  const std::string& path() const;
  // "wal" for a file database; "memory" for ":memory:".
  Result<std::string> JournalMode();
  // SQLite's integrity_check, foreign_key_check and the FTS5 index checked
  // against the posts table; kIoError describing the first problem found.
  Status CheckIntegrity();

 private:
  explicit SqliteStore(std::unique_ptr<sqlite_internal::Database> db);
  // One deletion inside Apply's transaction; `max_id_before` is the largest
  // post id before the batch (rows above it are not indexed yet).
  Status ApplyDeletion(const PostDeletion& deletion, int64_t max_id_before, ApplyStats& stats);

  std::unique_ptr<sqlite_internal::Database> db_;
};

}  // namespace earshot
