#include "crawler/store/sqlite/sqlite_store.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "crawler/store/sqlite/compression.h"
#include "crawler/store/sqlite/database.h"
#include "crawler/store/sqlite/migrations.h"
#include "crawler/store/sqlite/thread_sqlite.h"

namespace earshot {

using sqlite_internal::Database;
using sqlite_internal::Statement;
using sqlite_internal::Transaction;

namespace {

// Column lists shared by the reads; string literals so that whole queries
// stay literals (the statement cache is keyed by their text).
#define EARSHOT_SOURCE_COLUMNS                                  \
  "name, connector, url, cursor, etag, last_modified, health, " \
  "next_poll_at, last_success_at, last_error_at, last_error, "  \
  "consecutive_failures, blind_since, posts_total"
#define EARSHOT_POST_COLUMNS                                           \
  "p.id, p.source, p.platform, p.external_id, p.uid, p.url, p.title, " \
  "p.author_handle, p.author_name, p.text, p.language, p.created_at, " \
  "p.fetched_at, p.reply_to, p.conversation, p.content_hash, p.ref, "  \
  "p.deleted_at, p.deletion_reason"

constexpr std::string_view kSelectSources =
    "SELECT " EARSHOT_SOURCE_COLUMNS " FROM sources ORDER BY name";
constexpr std::string_view kSelectSource =
    "SELECT " EARSHOT_SOURCE_COLUMNS " FROM sources WHERE name = ?1";
constexpr std::string_view kRecentPosts =
    "SELECT " EARSHOT_POST_COLUMNS " FROM posts p ORDER BY p.fetched_at DESC, p.id DESC LIMIT ?1";
// clang-format off
constexpr std::string_view kSearchPosts =
    "SELECT " EARSHOT_POST_COLUMNS
    " FROM posts_fts JOIN posts p ON p.id = posts_fts.rowid"
    " WHERE posts_fts MATCH ?1"
    " ORDER BY bm25(posts_fts), p.id DESC LIMIT ?2";
// clang-format on
// Keyset pages: no read snapshot stays open while the caller visits a page.
constexpr std::string_view kFindPost =
    "SELECT " EARSHOT_POST_COLUMNS " FROM posts p WHERE p.platform = ?1 AND p.uid = ?2";
constexpr std::string_view kPostsAfter =
    "SELECT " EARSHOT_POST_COLUMNS " FROM posts p WHERE p.id > ?1 ORDER BY p.id LIMIT ?2";

#undef EARSHOT_SOURCE_COLUMNS
#undef EARSHOT_POST_COLUMNS

constexpr std::string_view kUpsertSpec =
    "INSERT INTO sources (name, connector, url) VALUES (?1, ?2, ?3)"
    " ON CONFLICT (name) DO UPDATE SET"
    " connector = excluded.connector, url = excluded.url";
// posts_total is the store's own count: never taken from the caller.
constexpr std::string_view kUpsertState =
    "INSERT INTO sources (name, cursor, etag, last_modified, health,"
    " next_poll_at, last_success_at, last_error_at, last_error,"
    " consecutive_failures, blind_since)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    " ON CONFLICT (name) DO UPDATE SET"
    " cursor = excluded.cursor, etag = excluded.etag,"
    " last_modified = excluded.last_modified, health = excluded.health,"
    " next_poll_at = excluded.next_poll_at,"
    " last_success_at = excluded.last_success_at,"
    " last_error_at = excluded.last_error_at,"
    " last_error = excluded.last_error,"
    " consecutive_failures = excluded.consecutive_failures,"
    " blind_since = excluded.blind_since";
constexpr std::string_view kMaxPostId = "SELECT coalesce(max(id), 0) FROM posts";
constexpr std::string_view kInsertRaw =
    "INSERT INTO raw_payloads (source, url, status, content_type, fetched_at,"
    " body, raw_size) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
constexpr std::string_view kInsertPost =
    "INSERT INTO posts (platform, external_id, uid, source, url, title,"
    " author_handle, author_name, text, language, created_at, fetched_at,"
    " reply_to, conversation, content_hash, raw_id, ref)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
    " ?15, ?16, ?17)"
    " ON CONFLICT (platform, uid) DO NOTHING";
constexpr std::string_view kInsertDecision =
    "INSERT INTO post_decisions (post_id, seq, kind, value, detail, rule,"
    " rule_version, span_start, span_end)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
constexpr std::string_view kAddRuleCount =
    "INSERT INTO rule_counts (source, stage, rule, fired, dropped)"
    " VALUES (?1, ?2, ?3, ?4, ?5)"
    " ON CONFLICT (source, stage, rule) DO UPDATE SET"
    " fired = fired + excluded.fired, dropped = dropped + excluded.dropped";
constexpr std::string_view kAddPostsTotal =
    "UPDATE sources SET posts_total = posts_total + ?2 WHERE name = ?1";
constexpr std::string_view kInsertBlindWindow =
    "INSERT INTO blind_windows (source, start_at, end_at, reason)"
    " VALUES (?1, ?2, ?3, ?4)";
constexpr std::string_view kInsertQuarantine =
    "INSERT INTO quarantine (source, url, status, content_type, fetched_at,"
    " error, body, raw_size) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
// One bulk feed per batch: every post row this batch added has an id above
// the largest id before it (rowids grow; posts are append-only).
constexpr std::string_view kFeedFts =
    "INSERT INTO posts_fts (rowid, title, text)"
    " SELECT id, title, text FROM posts WHERE id > ?1 ORDER BY id";

// A watch for a post this write has just inserted; a (platform, uid) already
// watched, finished or not, keeps its row.
constexpr std::string_view kInsertWatch =
    "INSERT INTO conversation_watch (platform, uid, source, anchor_at,"
    " next_fetch_at) VALUES (?1, ?2, ?3, ?4, ?5)"
    " ON CONFLICT (platform, uid) DO NOTHING";
constexpr std::string_view kUpdateWatch =
    "UPDATE conversation_watch SET next_fetch_at = ?3, fetches = ?4,"
    " attempts = ?5, failures = ?6, last_fetch_at = ?7, last_error = ?8"
    " WHERE platform = ?1 AND uid = ?2";
constexpr std::string_view kFinishWatch =
    "UPDATE conversation_watch SET next_fetch_at = NULL"
    " WHERE platform = ?1 AND uid = ?2";
#define EARSHOT_WATCH_COLUMNS                                           \
  "platform, uid, source, anchor_at, next_fetch_at, fetches, attempts," \
  " failures, last_fetch_at, last_error"
constexpr std::string_view kPendingWatches =
    "SELECT " EARSHOT_WATCH_COLUMNS
    " FROM conversation_watch WHERE source = ?1 AND next_fetch_at IS NOT NULL"
    " ORDER BY next_fetch_at, platform, uid LIMIT ?2";
constexpr std::string_view kFindWatch =
    "SELECT " EARSHOT_WATCH_COLUMNS " FROM conversation_watch WHERE platform = ?1 AND uid = ?2";
#undef EARSHOT_WATCH_COLUMNS
// Deletions: the stored row, its tombstone, and what goes with its text.
constexpr std::string_view kPostForDeletion =
    "SELECT id, title, text, deleted_at, raw_id FROM posts"
    " WHERE platform = ?1 AND uid = ?2";
constexpr std::string_view kUnindexPost =
    "INSERT INTO posts_fts (posts_fts, rowid, title, text)"
    " VALUES ('delete', ?1, ?2, ?3)";
// The index keeps a (now empty) entry for every row of posts, tombstones too:
// FTS5 checks an external-content index row for row against its table.
constexpr std::string_view kIndexTombstone =
    "INSERT INTO posts_fts (rowid, title, text) VALUES (?1, '', '')";
constexpr std::string_view kTombstonePost =
    "UPDATE posts SET title = '', text = '', author_handle = '',"
    " author_name = '', url = '', content_hash = '', raw_id = NULL,"
    " deleted_at = ?2, deletion_reason = ?3 WHERE id = ?1";
constexpr std::string_view kClearSpans =
    "UPDATE post_decisions SET span_start = -1, span_end = -1"
    " WHERE post_id = ?1 AND (span_start <> -1 OR span_end <> -1)";
constexpr std::string_view kDropOrphanRaw =
    "DELETE FROM raw_payloads WHERE id = ?1"
    " AND NOT EXISTS (SELECT 1 FROM posts WHERE raw_id = ?1)";

constexpr std::string_view kSelectBlindWindows =
    "SELECT start_at, end_at, reason FROM blind_windows WHERE source = ?1"
    " ORDER BY start_at, id";
constexpr std::string_view kSelectQuarantine =
    "SELECT id, source, error, url, status, content_type, fetched_at, body,"
    " raw_size FROM quarantine ORDER BY id DESC LIMIT ?1";
constexpr std::string_view kSelectRawForPost =
    "SELECT p.raw_id, r.url, r.status, r.content_type, r.fetched_at, r.body,"
    " r.raw_size FROM posts p LEFT JOIN raw_payloads r ON r.id = p.raw_id"
    " WHERE p.id = ?1";
constexpr std::string_view kCountPosts = "SELECT count(*) FROM posts";
// The post's row (so a missing post is told apart from one without
// decisions) and its decisions, NULL columns when it has none.
constexpr std::string_view kSelectDecisionsOfPost =
    "SELECT d.post_id, d.kind, d.value, d.detail, d.rule, d.rule_version,"
    " d.span_start, d.span_end FROM posts p"
    " LEFT JOIN post_decisions d ON d.post_id = p.id"
    " WHERE p.id = ?1 ORDER BY d.seq";
constexpr std::string_view kSelectDecisionsInRange =
    "SELECT post_id, kind, value, detail, rule, rule_version, span_start,"
    " span_end FROM post_decisions WHERE post_id BETWEEN ?1 AND ?2"
    " ORDER BY post_id, seq";
constexpr std::string_view kSelectRuleCounts =
    "SELECT source, stage, rule, fired, dropped FROM rule_counts"
    " ORDER BY source, stage, rule";

// Posts per page of ForEachPost(): bounds its memory, not its result.
constexpr int kForEachPage = 256;

Result<SourceRecord> ReadSource(const Database& db, const Statement& row) {
  SourceRecord record;
  record.name = row.Text(0);
  record.connector = row.Text(1);
  record.url = row.Text(2);
  SourceState& state = record.state;
  state.cursor.cursor = row.Text(3);
  state.cursor.etag = row.Text(4);
  state.cursor.last_modified = row.Text(5);
  std::string health = row.Text(6);
  std::optional<SourceHealth> parsed = SourceHealthFromName(health);
  if (!parsed) {
    return Status::IoError("sqlite " + db.path() + ": source '" + record.name +
                           "' has unknown health '" + health + "'");
  }
  state.health = *parsed;
  state.next_poll_at = row.Time(7);
  state.last_success_at = row.Time(8);
  state.last_error_at = row.Time(9);
  state.last_error = row.Text(10);
  state.consecutive_failures = static_cast<int>(row.Int(11));
  state.blind_since = row.Time(12);
  state.posts_total = row.Int(13);
  return record;
}

StoredPost ReadPost(const Statement& row) {
  StoredPost stored;
  stored.row_id = row.Int(0);
  stored.source = row.Text(1);
  Post& post = stored.post;
  post.platform = row.Text(2);
  post.id = row.Text(3);
  post.uid = row.Text(4);
  post.url = row.Text(5);
  post.title = row.Text(6);
  post.author_handle = row.Text(7);
  post.author_name = row.Text(8);
  post.text = row.Text(9);
  post.language = row.Text(10);
  post.created_at = row.Time(11);
  post.fetched_at = FromUnixMillis(row.Int(12));
  post.reply_to = row.Text(13);
  post.conversation = row.Text(14);
  post.content_hash = row.Text(15);
  post.ref = row.Text(16);
  stored.deleted_at = row.Time(17);
  stored.deletion_reason = row.Text(18);
  return stored;
}

Result<std::vector<StoredPost>> ReadPosts(Statement& stmt) {
  std::vector<StoredPost> posts;
  while (true) {
    Result<bool> row = stmt.Next();
    if (!row.ok()) return row.status();
    if (!*row) break;
    posts.push_back(ReadPost(stmt));
  }
  return posts;
}

ConversationWatch ReadWatch(const Statement& row) {
  ConversationWatch watch;
  watch.platform = row.Text(0);
  watch.uid = row.Text(1);
  watch.source = row.Text(2);
  watch.anchor_at = FromUnixMillis(row.Int(3));
  watch.next_fetch_at = row.Time(4);
  watch.fetches = static_cast<int>(row.Int(5));
  watch.attempts = static_cast<int>(row.Int(6));
  watch.failures = static_cast<int>(row.Int(7));
  watch.last_fetch_at = row.Time(8);
  watch.last_error = row.Text(9);
  return watch;
}

bool HasOrgDecision(const Post& post) {
  for (const Decision& decision : post.decisions) {
    if (decision.kind == Decision::Kind::kOrg) return true;
  }
  return false;
}

// Offsets of the conversation schedule count from the post's creation, but
// never from a time after it was fetched (a clock ahead, a future date).
TimePoint WatchAnchor(const Post& post) {
  if (post.created_at && *post.created_at <= post.fetched_at) return *post.created_at;
  return post.fetched_at;
}

// Columns kind, value, detail, rule, rule_version, span_start, span_end from
// column 1 (column 0 is the post id).
Result<Decision> ReadDecision(const Database& db, const Statement& row) {
  Decision decision;
  std::string kind = row.Text(1);
  std::optional<Decision::Kind> parsed = DecisionKindFromName(kind);
  if (!parsed) {
    return Status::IoError("sqlite " + db.path() + ": post " + std::to_string(row.Int(0)) +
                           " has a decision of unknown kind '" + kind + "'");
  }
  decision.kind = *parsed;
  decision.value = row.Text(2);
  decision.detail = row.Text(3);
  decision.rule = row.Text(4);
  decision.rule_version = row.Text(5);
  decision.start = static_cast<int32_t>(row.Int(6));
  decision.end = static_cast<int32_t>(row.Int(7));
  return decision;
}

// The decisions of post `post_row_id`, in order; nullopt when there is no
// such post.
Result<std::optional<std::vector<Decision>>> LoadDecisions(Database& db, int64_t post_row_id) {
  Result<Statement> stmt = db.Prepare(kSelectDecisionsOfPost, "decisions of post");
  if (!stmt.ok()) return stmt.status();
  stmt->BindInt(1, post_row_id);
  std::optional<std::vector<Decision>> decisions;
  while (true) {
    Result<bool> row = stmt->Next();
    if (!row.ok()) return row.status();
    if (!*row) break;
    if (!decisions) decisions.emplace();
    if (stmt->IsNull(0)) continue;  // the post has no decisions
    Result<Decision> decision = ReadDecision(db, *stmt);
    if (!decision.ok()) return decision.status();
    decisions->push_back(std::move(decision).value());
  }
  return decisions;
}

// Fills in each post's decisions. The posts were read just before, so a post
// missing now is reported rather than shown without its decisions.
Status AttachDecisions(Database& db, std::vector<StoredPost>& posts) {
  for (StoredPost& stored : posts) {
    Result<std::optional<std::vector<Decision>>> decisions = LoadDecisions(db, stored.row_id);
    if (!decisions.ok()) return decisions.status();
    if (!*decisions) {
      return Status::IoError("sqlite " + db.path() + ": post " + std::to_string(stored.row_id) +
                             " vanished while its decisions were read");
    }
    stored.post.decisions = std::move(**decisions);
  }
  return Status::Ok();
}

// Columns url, status, content_type, fetched_at, body, raw_size from `first`.
Result<RawPayload> ReadPayload(const Database& db, const Statement& row, int first,
                               std::string_view what) {
  RawPayload payload;
  payload.url = row.Text(first);
  payload.status = static_cast<int>(row.Int(first + 1));
  payload.content_type = row.Text(first + 2);
  payload.fetched_at = FromUnixMillis(row.Int(first + 3));
  Result<std::string> body =
      sqlite_internal::DecompressBody(row.Blob(first + 4), row.Int(first + 5));
  if (!body.ok()) {
    return body.status().Annotate("sqlite " + db.path() + ": " + std::string(what));
  }
  payload.body = std::move(body).value();
  return payload;
}

std::string_view UidOf(const Post& post) {
  return post.uid.empty() ? std::string_view(post.id) : std::string_view(post.uid);
}

Status Validate(const std::vector<SourceWrite>& writes) {
  for (size_t w = 0; w < writes.size(); ++w) {
    const SourceWrite& write = writes[w];
    if (write.source.empty()) {
      return Status::InvalidArgument("apply: write " + std::to_string(w) + " names no source");
    }
    const std::string in_source = "apply: source '" + write.source + "': ";
    for (size_t p = 0; p < write.posts.size(); ++p) {
      const Post& post = write.posts[p];
      if (post.platform.empty() || UidOf(post).empty()) {
        return Status::InvalidArgument(in_source + "post " + std::to_string(p) +
                                       " has no platform or no id, so it cannot be de-duplicated");
      }
      for (size_t d = 0; d < post.decisions.size(); ++d) {
        if (!DecisionKindFromName(DecisionKindName(post.decisions[d].kind))) {
          return Status::InvalidArgument(in_source + "post " + std::to_string(p) + ": decision " +
                                         std::to_string(d) + " has an unknown kind (" +
                                         std::to_string(static_cast<int>(post.decisions[d].kind)) +
                                         ")");
        }
      }
    }
    for (size_t d = 0; d < write.deletions.size(); ++d) {
      if (write.deletions[d].platform.empty() || write.deletions[d].uid.empty()) {
        return Status::InvalidArgument(in_source + "deletion " + std::to_string(d) +
                                       " names no platform or no uid");
      }
    }
    for (size_t u = 0; u < write.watch_updates.size(); ++u) {
      if (write.watch_updates[u].platform.empty() || write.watch_updates[u].uid.empty()) {
        return Status::InvalidArgument(in_source + "watch update " + std::to_string(u) +
                                       " names no platform or no uid");
      }
    }
    for (size_t c = 0; c < write.rule_counts.size(); ++c) {
      if (write.rule_counts[c].stage.empty()) {
        return Status::InvalidArgument(in_source + "rule count " + std::to_string(c) +
                                       " names no stage");
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path,
                                                       SqliteOptions options) {
  Result<std::unique_ptr<Database>> db =
      Database::Open(path, options.busy_timeout, std::move(options.fail_step));
  if (!db.ok()) return db.status();
  Database& database = **db;
  // WAL: readers never block the writer and a commit is one append.
  // NORMAL: in WAL mode a power cut may lose the last commits but never
  // corrupts; a crash of the process loses nothing committed.
  {
    Result<Statement> wal = database.Prepare("PRAGMA journal_mode = WAL", "set journal_mode");
    if (!wal.ok()) return wal.status();
    Result<bool> row = wal->Next();
    if (!row.ok()) return row.status();
  }
  EARSHOT_RETURN_IF_ERROR(database.Exec("PRAGMA synchronous = NORMAL", "set synchronous"));
  EARSHOT_RETURN_IF_ERROR(database.Exec("PRAGMA foreign_keys = ON", "set foreign_keys"));
  EARSHOT_RETURN_IF_ERROR(sqlite_internal::Migrate(database));
  static_assert(kSchemaVersion > 0);
  if (sqlite_internal::LatestSchemaVersion() != kSchemaVersion) {
    return Status::Internal("SqliteStore::kSchemaVersion is out of date");
  }
  return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(db).value()));
}

SqliteStore::SqliteStore(std::unique_ptr<Database> db) : db_(std::move(db)) {}

SqliteStore::~SqliteStore() = default;

const std::string& SqliteStore::path() const { return db_->path(); }

Result<std::string> SqliteStore::JournalMode() {
  Result<Statement> stmt = db_->Prepare("PRAGMA journal_mode", "read journal_mode");
  if (!stmt.ok()) return stmt.status();
  Result<bool> row = stmt->Next();
  if (!row.ok()) return row.status();
  return *row ? stmt->Text(0) : std::string();
}

Status SqliteStore::CheckIntegrity() {
  {
    Result<Statement> check = db_->Prepare("PRAGMA integrity_check", "integrity check");
    if (!check.ok()) return check.status();
    Result<bool> row = check->Next();
    if (!row.ok()) return row.status();
    if (!*row || check->Text(0) != "ok") {
      return Status::IoError("sqlite " + path() + ": integrity check: " +
                             (*row ? check->Text(0) : std::string("no answer")));
    }
  }
  {
    Result<Statement> check = db_->Prepare("PRAGMA foreign_key_check", "foreign key check");
    if (!check.ok()) return check.status();
    Result<bool> row = check->Next();
    if (!row.ok()) return row.status();
    if (*row) {
      return Status::IoError("sqlite " + path() + ": foreign key check: row " +
                             std::to_string(check->Int(1)) + " of " + check->Text(0) +
                             " points at a missing " + check->Text(2) + " row");
    }
  }
  // With rank 1, FTS5 also compares the index against the posts table.
  Result<Statement> fts =
      db_->Prepare("INSERT INTO posts_fts (posts_fts, rank) VALUES ('integrity-check', 1)",
                   "full-text index check");
  if (!fts.ok()) return fts.status();
  return fts->Run();
}

Status SqliteStore::UpsertSource(const SourceSpec& spec) {
  if (spec.name.empty()) {
    return Status::InvalidArgument("upsert source: the source has no name");
  }
  Result<Statement> upsert = db_->Prepare(kUpsertSpec, "upsert source");
  if (!upsert.ok()) return upsert.status();
  upsert->BindText(1, spec.name);
  upsert->BindText(2, spec.connector);
  upsert->BindText(3, spec.url);
  return upsert->Run().Annotate("source '" + spec.name + "'");
}

Result<std::vector<SourceRecord>> SqliteStore::ListSources() {
  Result<Statement> stmt = db_->Prepare(kSelectSources, "list sources");
  if (!stmt.ok()) return stmt.status();
  std::vector<SourceRecord> records;
  while (true) {
    Result<bool> row = stmt->Next();
    if (!row.ok()) return row.status();
    if (!*row) break;
    Result<SourceRecord> record = ReadSource(*db_, *stmt);
    if (!record.ok()) return record.status();
    records.push_back(std::move(record).value());
  }
  return records;
}

Result<SourceRecord> SqliteStore::GetSource(const std::string& name) {
  Result<Statement> stmt = db_->Prepare(kSelectSource, "get source");
  if (!stmt.ok()) return stmt.status();
  stmt->BindText(1, name);
  Result<bool> row = stmt->Next();
  if (!row.ok()) return row.status();
  if (!*row) {
    return Status::NotFound("source '" + name + "' is not in the store " + path());
  }
  return ReadSource(*db_, *stmt);
}

Result<ApplyStats> SqliteStore::Apply(const std::vector<SourceWrite>& writes) {
  EARSHOT_RETURN_IF_ERROR(Validate(writes));
  ApplyStats stats;
  if (writes.empty()) return stats;

  // Compress before taking the write lock: other writers wait less.
  struct Compressed {
    std::string raw;
    std::string quarantine;
  };
  std::vector<Compressed> compressed(writes.size());
  for (size_t w = 0; w < writes.size(); ++w) {
    if (writes[w].raw) {
      Result<std::string> body = sqlite_internal::CompressBody(writes[w].raw->body);
      if (!body.ok()) return body.status();
      compressed[w].raw = std::move(body).value();
    }
    if (writes[w].quarantine) {
      Result<std::string> body = sqlite_internal::CompressBody(writes[w].quarantine->body);
      if (!body.ok()) return body.status();
      compressed[w].quarantine = std::move(body).value();
    }
  }

  Transaction txn(*db_, "apply");
  EARSHOT_RETURN_IF_ERROR(txn.Begin());

  int64_t max_id_before = 0;
  {
    Result<Statement> max_id = db_->Prepare(kMaxPostId, "apply: read last post id");
    if (!max_id.ok()) return max_id.status();
    Result<bool> row = max_id->Next();
    if (!row.ok()) return row.status();
    if (*row) max_id_before = max_id->Int(0);
  }

  Result<Statement> upsert_state = db_->Prepare(kUpsertState, "apply: store source state");
  if (!upsert_state.ok()) return upsert_state.status();
  Result<Statement> insert_raw = db_->Prepare(kInsertRaw, "apply: store raw payload");
  if (!insert_raw.ok()) return insert_raw.status();
  Result<Statement> insert_post = db_->Prepare(kInsertPost, "apply: insert post");
  if (!insert_post.ok()) return insert_post.status();
  Result<Statement> insert_decision = db_->Prepare(kInsertDecision, "apply: store decision");
  if (!insert_decision.ok()) return insert_decision.status();
  Result<Statement> add_rule_count = db_->Prepare(kAddRuleCount, "apply: count rule");
  if (!add_rule_count.ok()) return add_rule_count.status();
  Result<Statement> add_total = db_->Prepare(kAddPostsTotal, "apply: count posts");
  if (!add_total.ok()) return add_total.status();
  Result<Statement> insert_window = db_->Prepare(kInsertBlindWindow, "apply: record blind window");
  if (!insert_window.ok()) return insert_window.status();
  Result<Statement> insert_quarantine = db_->Prepare(kInsertQuarantine, "apply: quarantine body");
  if (!insert_quarantine.ok()) return insert_quarantine.status();
  Result<Statement> insert_watch = db_->Prepare(kInsertWatch, "apply: watch conversation");
  if (!insert_watch.ok()) return insert_watch.status();
  Result<Statement> update_watch = db_->Prepare(kUpdateWatch, "apply: update watch");
  if (!update_watch.ok()) return update_watch.status();

  for (size_t w = 0; w < writes.size(); ++w) {
    const SourceWrite& write = writes[w];
    const SourceState& state = write.state;
    auto in_source = [&](const Status& status) {
      return status.Annotate("source '" + write.source + "'");
    };

    upsert_state->BindText(1, write.source);
    upsert_state->BindText(2, state.cursor.cursor);
    upsert_state->BindText(3, state.cursor.etag);
    upsert_state->BindText(4, state.cursor.last_modified);
    upsert_state->BindText(5, SourceHealthName(state.health));
    upsert_state->BindTime(6, state.next_poll_at);
    upsert_state->BindTime(7, state.last_success_at);
    upsert_state->BindTime(8, state.last_error_at);
    upsert_state->BindText(9, state.last_error);
    upsert_state->BindInt(10, state.consecutive_failures);
    upsert_state->BindTime(11, state.blind_since);
    Status status = upsert_state->Run();
    if (!status.ok()) return in_source(status);

    std::optional<int64_t> raw_id;
    if (write.raw) {
      const RawPayload& raw = *write.raw;
      insert_raw->BindText(1, write.source);
      insert_raw->BindText(2, raw.url);
      insert_raw->BindInt(3, raw.status);
      insert_raw->BindText(4, raw.content_type);
      insert_raw->BindTime(5, raw.fetched_at);
      insert_raw->BindBlob(6, compressed[w].raw);
      insert_raw->BindInt(7, static_cast<int64_t>(raw.body.size()));
      status = insert_raw->Run();
      if (!status.ok()) return in_source(status);
      raw_id = sqlite3_last_insert_rowid(db_->handle());
    }

    int64_t inserted = 0;
    std::vector<sqlite_internal::InsertedPost> to_thread;
    for (const Post& post : write.posts) {
      insert_post->BindText(1, post.platform);
      insert_post->BindText(2, post.id);
      insert_post->BindText(3, UidOf(post));
      insert_post->BindText(4, write.source);
      insert_post->BindText(5, post.url);
      insert_post->BindText(6, post.title);
      insert_post->BindText(7, post.author_handle);
      insert_post->BindText(8, post.author_name);
      insert_post->BindText(9, post.text);
      insert_post->BindText(10, post.language);
      insert_post->BindTime(11, post.created_at);
      insert_post->BindTime(12, post.fetched_at);
      insert_post->BindText(13, post.reply_to);
      insert_post->BindText(14, post.conversation);
      insert_post->BindText(15, post.content_hash);
      insert_post->BindText(17, post.ref);
      if (raw_id) {
        insert_post->BindInt(16, *raw_id);
      } else {
        insert_post->BindNull(16);
      }
      status = insert_post->Run();
      if (!status.ok()) return in_source(status);
      // DO NOTHING on a (platform, uid) already stored: no row changed, and
      // the stored post keeps the decisions it was first stored with.
      if (insert_post->Changes() == 0) {
        ++stats.duplicates;
        continue;
      }
      ++inserted;
      const int64_t post_id = sqlite3_last_insert_rowid(db_->handle());
      to_thread.push_back({post_id, &post});
      if (write.watch_routed_after && HasOrgDecision(post) &&
          write.unwatchable.count(UidOf(post)) == 0) {
        const TimePoint anchor = WatchAnchor(post);
        insert_watch->BindText(1, post.platform);
        insert_watch->BindText(2, UidOf(post));
        insert_watch->BindText(3, write.source);
        insert_watch->BindTime(4, anchor);
        // Never sooner than `after` past its storing either: a post found
        // late has its conversation read once it has had time to gather
        // replies, not by the poll that stored it.
        insert_watch->BindTime(5, std::max(anchor, post.fetched_at) + *write.watch_routed_after);
        status = insert_watch->Run();
        if (!status.ok()) return in_source(status);
        stats.watches_added += insert_watch->Changes();
      }
      for (size_t d = 0; d < post.decisions.size(); ++d) {
        const Decision& decision = post.decisions[d];
        insert_decision->BindInt(1, post_id);
        insert_decision->BindInt(2, static_cast<int64_t>(d));
        insert_decision->BindText(3, DecisionKindName(decision.kind));
        insert_decision->BindText(4, decision.value);
        insert_decision->BindText(5, decision.detail);
        insert_decision->BindText(6, decision.rule);
        insert_decision->BindText(7, decision.rule_version);
        insert_decision->BindInt(8, decision.start);
        insert_decision->BindInt(9, decision.end);
        status = insert_decision->Run();
        if (!status.ok()) return in_source(status);
      }
    }
    stats.inserted += inserted;
    status = sqlite_internal::ThreadInsertedPosts(*db_, std::move(to_thread));
    if (!status.ok()) return in_source(status);

    if (inserted > 0) {
      add_total->BindText(1, write.source);
      add_total->BindInt(2, inserted);
      status = add_total->Run();
      if (!status.ok()) return in_source(status);
    }

    for (const RuleCount& count : write.rule_counts) {
      add_rule_count->BindText(1, write.source);
      add_rule_count->BindText(2, count.stage);
      add_rule_count->BindText(3, count.rule);
      add_rule_count->BindInt(4, count.fired);
      add_rule_count->BindInt(5, count.dropped);
      status = add_rule_count->Run();
      if (!status.ok()) return in_source(status);
    }

    for (const PostDeletion& deletion : write.deletions) {
      status = ApplyDeletion(deletion, max_id_before, stats);
      if (!status.ok()) return in_source(status);
    }

    for (const ConversationWatch& watch : write.watch_updates) {
      update_watch->BindText(1, watch.platform);
      update_watch->BindText(2, watch.uid);
      update_watch->BindTime(3, watch.next_fetch_at);
      update_watch->BindInt(4, watch.fetches);
      update_watch->BindInt(5, watch.attempts);
      update_watch->BindInt(6, watch.failures);
      update_watch->BindTime(7, watch.last_fetch_at);
      update_watch->BindText(8, watch.last_error);
      status = update_watch->Run();
      if (!status.ok()) return in_source(status);
    }

    if (write.closed_blind_window) {
      const BlindWindow& window = *write.closed_blind_window;
      insert_window->BindText(1, write.source);
      insert_window->BindTime(2, window.start);
      insert_window->BindTime(3, window.end);
      insert_window->BindText(4, window.reason);
      status = insert_window->Run();
      if (!status.ok()) return in_source(status);
    }

    if (write.quarantine) {
      const RawPayload& body = *write.quarantine;
      insert_quarantine->BindText(1, write.source);
      insert_quarantine->BindText(2, body.url);
      insert_quarantine->BindInt(3, body.status);
      insert_quarantine->BindText(4, body.content_type);
      insert_quarantine->BindTime(5, body.fetched_at);
      insert_quarantine->BindText(6, write.quarantine_error);
      insert_quarantine->BindBlob(7, compressed[w].quarantine);
      insert_quarantine->BindInt(8, static_cast<int64_t>(body.body.size()));
      status = insert_quarantine->Run();
      if (!status.ok()) return in_source(status);
    }
  }

  if (stats.inserted > 0) {
    Result<Statement> feed = db_->Prepare(kFeedFts, "apply: index posts for search");
    if (!feed.ok()) return feed.status();
    feed->BindInt(1, max_id_before);
    EARSHOT_RETURN_IF_ERROR(feed->Run());
  }

  EARSHOT_RETURN_IF_ERROR(txn.Commit());
  return stats;
}

Status SqliteStore::ApplyDeletion(const PostDeletion& deletion, int64_t max_id_before,
                                  ApplyStats& stats) {
  int64_t post_id = 0;
  std::optional<int64_t> raw_id;
  {
    Result<Statement> find = db_->Prepare(kPostForDeletion, "apply: find deleted post");
    if (!find.ok()) return find.status();
    find->BindText(1, deletion.platform);
    find->BindText(2, deletion.uid);
    Result<bool> row = find->Next();
    if (!row.ok()) return row.status();
    if (!*row) {
      ++stats.deletions_unknown;
      return Status::Ok();
    }
    if (!find->IsNull(3)) {
      ++stats.deletions_repeated;
      return Status::Ok();
    }
    post_id = find->Int(0);
    if (!find->IsNull(4)) raw_id = find->Int(4);
    // A row this batch inserted is not indexed yet: the batch's bulk feed
    // will index its tombstone. An older row's index entry must go now,
    // with the values it was indexed under, and an empty one replace it.
    if (post_id <= max_id_before) {
      Result<Statement> unindex = db_->Prepare(kUnindexPost, "apply: unindex deleted post");
      if (!unindex.ok()) return unindex.status();
      unindex->BindInt(1, post_id);
      unindex->BindText(2, find->Text(1));
      unindex->BindText(3, find->Text(2));
      EARSHOT_RETURN_IF_ERROR(unindex->Run());
    }
  }
  Result<Statement> tombstone = db_->Prepare(kTombstonePost, "apply: tombstone post");
  if (!tombstone.ok()) return tombstone.status();
  tombstone->BindInt(1, post_id);
  tombstone->BindTime(2, deletion.at);
  tombstone->BindText(3, deletion.reason);
  EARSHOT_RETURN_IF_ERROR(tombstone->Run());
  if (post_id <= max_id_before) {
    Result<Statement> index = db_->Prepare(kIndexTombstone, "apply: index tombstone");
    if (!index.ok()) return index.status();
    index->BindInt(1, post_id);
    EARSHOT_RETURN_IF_ERROR(index->Run());
  }

  Result<Statement> spans = db_->Prepare(kClearSpans, "apply: clear spans of deleted post");
  if (!spans.ok()) return spans.status();
  spans->BindInt(1, post_id);
  EARSHOT_RETURN_IF_ERROR(spans->Run());
  EARSHOT_RETURN_IF_ERROR(sqlite_internal::MarkDeletedOnThread(*db_, post_id));

  if (raw_id) {
    Result<Statement> drop =
        db_->Prepare(kDropOrphanRaw, "apply: drop raw payload of deleted post");
    if (!drop.ok()) return drop.status();
    drop->BindInt(1, *raw_id);
    EARSHOT_RETURN_IF_ERROR(drop->Run());
  }

  Result<Statement> finish = db_->Prepare(kFinishWatch, "apply: finish watch of deleted post");
  if (!finish.ok()) return finish.status();
  finish->BindText(1, deletion.platform);
  finish->BindText(2, deletion.uid);
  EARSHOT_RETURN_IF_ERROR(finish->Run());
  ++stats.deleted;
  return Status::Ok();
}

Result<std::vector<ConversationWatch>> SqliteStore::PendingWatches(const std::string& source,
                                                                   int limit) {
  if (limit <= 0) return std::vector<ConversationWatch>{};
  Result<Statement> stmt = db_->Prepare(kPendingWatches, "pending watches");
  if (!stmt.ok()) return stmt.status();
  stmt->BindText(1, source);
  stmt->BindInt(2, limit);
  std::vector<ConversationWatch> watches;
  while (true) {
    Result<bool> row = stmt->Next();
    if (!row.ok()) return row.status();
    if (!*row) break;
    watches.push_back(ReadWatch(*stmt));
  }
  return watches;
}

Result<std::optional<ConversationWatch>> SqliteStore::FindWatch(const std::string& platform,
                                                                const std::string& uid) {
  Result<Statement> stmt = db_->Prepare(kFindWatch, "find watch");
  if (!stmt.ok()) return stmt.status();
  stmt->BindText(1, platform);
  stmt->BindText(2, uid);
  Result<bool> row = stmt->Next();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<ConversationWatch>();
  return std::optional<ConversationWatch>(ReadWatch(*stmt));
}

Result<int64_t> SqliteStore::CountPosts() {
  Result<Statement> stmt = db_->Prepare(kCountPosts, "count posts");
  if (!stmt.ok()) return stmt.status();
  Result<bool> row = stmt->Next();
  if (!row.ok()) return row.status();
  return *row ? stmt->Int(0) : int64_t{0};
}

Result<std::vector<StoredPost>> SqliteStore::RecentPosts(int limit) {
  if (limit <= 0) return std::vector<StoredPost>{};
  Result<Statement> stmt = db_->Prepare(kRecentPosts, "recent posts");
  if (!stmt.ok()) return stmt.status();
  stmt->BindInt(1, limit);
  Result<std::vector<StoredPost>> posts = ReadPosts(*stmt);
  if (!posts.ok()) return posts.status();
  EARSHOT_RETURN_IF_ERROR(AttachDecisions(*db_, *posts));
  return posts;
}

Result<std::optional<StoredPost>> SqliteStore::FindPost(const std::string& platform,
                                                        const std::string& uid) {
  Result<Statement> stmt = db_->Prepare(kFindPost, "find post");
  if (!stmt.ok()) return stmt.status();
  stmt->BindText(1, platform);
  stmt->BindText(2, uid);
  Result<std::vector<StoredPost>> posts = ReadPosts(*stmt);
  if (!posts.ok()) return posts.status();
  if (posts->empty()) return std::optional<StoredPost>();
  EARSHOT_RETURN_IF_ERROR(AttachDecisions(*db_, *posts));
  return std::optional<StoredPost>(std::move(posts->front()));
}

Result<std::vector<StoredPost>> SqliteStore::SearchPosts(const std::string& query, int limit) {
  if (limit <= 0) return std::vector<StoredPost>{};
  Result<Statement> stmt = db_->Prepare(kSearchPosts, "search posts");
  if (!stmt.ok()) return stmt.status();
  stmt->BindText(1, query);
  stmt->BindInt(2, limit);
  Result<std::vector<StoredPost>> posts = ReadPosts(*stmt);
  // SQLITE_ERROR from a MATCH is FTS5 rejecting the query text (syntax, an
  // unknown column filter): the caller's mistake, with SQLite's words.
  if (!posts.ok() && (stmt->last_error_code() & 0xff) == SQLITE_ERROR) {
    return Status::InvalidArgument(posts.status().message() + " (query: " + query + ")");
  }
  if (!posts.ok()) return posts.status();
  EARSHOT_RETURN_IF_ERROR(AttachDecisions(*db_, *posts));
  return posts;
}

Result<std::vector<BlindWindow>> SqliteStore::BlindWindows(const std::string& source) {
  Result<Statement> stmt = db_->Prepare(kSelectBlindWindows, "blind windows");
  if (!stmt.ok()) return stmt.status();
  stmt->BindText(1, source);
  std::vector<BlindWindow> windows;
  while (true) {
    Result<bool> row = stmt->Next();
    if (!row.ok()) return row.status();
    if (!*row) break;
    BlindWindow window;
    window.start = FromUnixMillis(stmt->Int(0));
    window.end = FromUnixMillis(stmt->Int(1));
    window.reason = stmt->Text(2);
    windows.push_back(std::move(window));
  }
  return windows;
}

Result<std::vector<QuarantinedBody>> SqliteStore::Quarantined(int limit) {
  if (limit <= 0) return std::vector<QuarantinedBody>{};
  Result<Statement> stmt = db_->Prepare(kSelectQuarantine, "quarantined bodies");
  if (!stmt.ok()) return stmt.status();
  stmt->BindInt(1, limit);
  std::vector<QuarantinedBody> bodies;
  while (true) {
    Result<bool> row = stmt->Next();
    if (!row.ok()) return row.status();
    if (!*row) break;
    QuarantinedBody body;
    body.id = stmt->Int(0);
    body.source = stmt->Text(1);
    body.error = stmt->Text(2);
    Result<RawPayload> payload =
        ReadPayload(*db_, *stmt, 3, "quarantined body " + std::to_string(body.id));
    if (!payload.ok()) return payload.status();
    body.payload = std::move(payload).value();
    bodies.push_back(std::move(body));
  }
  return bodies;
}

Result<RawPayload> SqliteStore::RawFor(int64_t post_row_id) {
  Result<Statement> stmt = db_->Prepare(kSelectRawForPost, "raw payload of post");
  if (!stmt.ok()) return stmt.status();
  stmt->BindInt(1, post_row_id);
  Result<bool> row = stmt->Next();
  if (!row.ok()) return row.status();
  const std::string post = "post " + std::to_string(post_row_id);
  if (!*row) {
    return Status::NotFound("no " + post + " in the store " + path());
  }
  if (stmt->IsNull(0)) {
    return Status::NotFound(post + " has no stored raw payload");
  }
  return ReadPayload(*db_, *stmt, 1, "raw payload of " + post);
}

Result<std::vector<Decision>> SqliteStore::DecisionsFor(int64_t post_row_id) {
  Result<std::optional<std::vector<Decision>>> decisions = LoadDecisions(*db_, post_row_id);
  if (!decisions.ok()) return decisions.status();
  if (!*decisions) {
    return Status::NotFound("no post " + std::to_string(post_row_id) + " in the store " + path());
  }
  return std::move(**decisions);
}

Status SqliteStore::ForEachPost(const std::function<bool(const StoredPost&)>& visit) {
  int64_t after = 0;
  while (true) {
    std::vector<StoredPost> page;
    {
      Result<Statement> posts = db_->Prepare(kPostsAfter, "visit posts");
      if (!posts.ok()) return posts.status();
      posts->BindInt(1, after);
      posts->BindInt(2, kForEachPage);
      Result<std::vector<StoredPost>> read = ReadPosts(*posts);
      if (!read.ok()) return read.status();
      page = std::move(read).value();
    }
    if (page.empty()) return Status::Ok();
    {
      // Posts are append-only and stored with their decisions in one
      // transaction, so the decisions of the posts just read are all there.
      Result<Statement> decisions = db_->Prepare(kSelectDecisionsInRange, "visit posts: decisions");
      if (!decisions.ok()) return decisions.status();
      decisions->BindInt(1, page.front().row_id);
      decisions->BindInt(2, page.back().row_id);
      size_t next = 0;  // page index of the post the rows are for; ids ascend
      while (true) {
        Result<bool> row = decisions->Next();
        if (!row.ok()) return row.status();
        if (!*row) break;
        const int64_t post_id = decisions->Int(0);
        while (next < page.size() && page[next].row_id < post_id) ++next;
        if (next == page.size() || page[next].row_id != post_id) {
          return Status::IoError("sqlite " + path() + ": decision for missing post " +
                                 std::to_string(post_id));
        }
        Result<Decision> decision = ReadDecision(*db_, *decisions);
        if (!decision.ok()) return decision.status();
        page[next].post.decisions.push_back(std::move(decision).value());
      }
    }
    // Both statements are reset: `visit` may use this store, even write to it.
    for (const StoredPost& stored : page) {
      if (!visit(stored)) return Status::Ok();
    }
    after = page.back().row_id;
    if (page.size() < static_cast<size_t>(kForEachPage)) return Status::Ok();
  }
}

Result<std::vector<std::pair<std::string, RuleCount>>> SqliteStore::RuleCounts() {
  Result<Statement> stmt = db_->Prepare(kSelectRuleCounts, "rule counts");
  if (!stmt.ok()) return stmt.status();
  std::vector<std::pair<std::string, RuleCount>> counts;
  while (true) {
    Result<bool> row = stmt->Next();
    if (!row.ok()) return row.status();
    if (!*row) break;
    RuleCount count;
    count.stage = stmt->Text(1);
    count.rule = stmt->Text(2);
    count.fired = stmt->Int(3);
    count.dropped = stmt->Int(4);
    counts.emplace_back(stmt->Text(0), std::move(count));
  }
  return counts;
}

}  // namespace earshot
