#include "crawler/store/sqlite/migrations.h"

#include <string>

namespace earshot::sqlite_internal {

namespace {

struct Migration {
  int version;
  const char* sql;
};

// Times are INTEGER milliseconds since the Unix epoch, UTC. Bodies are zlib
// streams with their uncompressed size in raw_size.
//
// posts_fts is an external-content FTS5 index over posts(title, text): it
// stores only the index, and Apply() feeds it in bulk after each batch's
// inserts. posts was append-only until v3 (see there).
constexpr char kSchemaV1[] = R"sql(
CREATE TABLE sources (
  name TEXT PRIMARY KEY NOT NULL,
  connector TEXT NOT NULL DEFAULT '',
  url TEXT NOT NULL DEFAULT '',
  cursor TEXT NOT NULL DEFAULT '',
  etag TEXT NOT NULL DEFAULT '',
  last_modified TEXT NOT NULL DEFAULT '',
  health TEXT NOT NULL DEFAULT 'ok'
    CHECK (health IN ('ok', 'backoff', 'rate_limited', 'stopped')),
  next_poll_at INTEGER,
  last_success_at INTEGER,
  last_error_at INTEGER,
  last_error TEXT NOT NULL DEFAULT '',
  consecutive_failures INTEGER NOT NULL DEFAULT 0,
  blind_since INTEGER,
  posts_total INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE raw_payloads (
  id INTEGER PRIMARY KEY,
  source TEXT NOT NULL REFERENCES sources (name),
  url TEXT NOT NULL,
  status INTEGER NOT NULL,
  content_type TEXT NOT NULL,
  fetched_at INTEGER NOT NULL,
  body BLOB NOT NULL,
  raw_size INTEGER NOT NULL
) STRICT;

CREATE TABLE posts (
  id INTEGER PRIMARY KEY,
  platform TEXT NOT NULL,
  external_id TEXT NOT NULL,
  uid TEXT NOT NULL,
  source TEXT NOT NULL REFERENCES sources (name),
  url TEXT NOT NULL,
  title TEXT NOT NULL,
  author_handle TEXT NOT NULL,
  author_name TEXT NOT NULL,
  text TEXT NOT NULL,
  language TEXT NOT NULL,
  created_at INTEGER,
  fetched_at INTEGER NOT NULL,
  reply_to TEXT NOT NULL,
  conversation TEXT NOT NULL,
  content_hash TEXT NOT NULL,
  raw_id INTEGER REFERENCES raw_payloads (id),
  UNIQUE (platform, uid)
) STRICT;
CREATE INDEX posts_by_fetched_at ON posts (fetched_at, id);

CREATE TABLE quarantine (
  id INTEGER PRIMARY KEY,
  source TEXT NOT NULL REFERENCES sources (name),
  url TEXT NOT NULL,
  status INTEGER NOT NULL,
  content_type TEXT NOT NULL,
  fetched_at INTEGER NOT NULL,
  error TEXT NOT NULL,
  body BLOB NOT NULL,
  raw_size INTEGER NOT NULL
) STRICT;

CREATE TABLE blind_windows (
  id INTEGER PRIMARY KEY,
  source TEXT NOT NULL REFERENCES sources (name),
  start_at INTEGER NOT NULL,
  end_at INTEGER NOT NULL,
  reason TEXT NOT NULL
) STRICT;
CREATE INDEX blind_windows_by_source ON blind_windows (source, start_at);

-- A post's classification decisions (crawler/core/decision.h), written with
-- the post and never changed; seq is the decision's index in Post::decisions.
-- kind lists DecisionKindName()'s values. Spans are byte offsets into
-- posts.text, -1 when a decision has none.
CREATE TABLE post_decisions (
  post_id INTEGER NOT NULL REFERENCES posts (id),
  seq INTEGER NOT NULL,
  kind TEXT NOT NULL
    CHECK (kind IN ('redaction', 'org', 'unrouted', 'topic', 'sentiment',
                    'criticality', 'relevance')),
  value TEXT NOT NULL,
  detail TEXT NOT NULL,
  rule TEXT NOT NULL,
  rule_version TEXT NOT NULL,
  span_start INTEGER NOT NULL,
  span_end INTEGER NOT NULL,
  PRIMARY KEY (post_id, seq)
) STRICT, WITHOUT ROWID;
-- Inbox filters: posts with a given organisation, topic, flag, ...
CREATE INDEX post_decisions_by_value ON post_decisions (kind, value, post_id);

-- Per-source totals of how often each classification rule fired and how
-- many posts the relevance stage dropped; Apply() adds each write's counts.
CREATE TABLE rule_counts (
  source TEXT NOT NULL REFERENCES sources (name),
  stage TEXT NOT NULL,
  rule TEXT NOT NULL,
  fired INTEGER NOT NULL DEFAULT 0,
  dropped INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (source, stage, rule)
) STRICT, WITHOUT ROWID;

CREATE VIRTUAL TABLE posts_fts USING fts5 (
  title, text,
  content = 'posts', content_rowid = 'id',
  tokenize = 'unicode61 remove_diacritics 2'
);
)sql";

// v2: what a connector needs to address a post later (Post::ref), and
// deletions reported by the platform (the text is then a tombstone).
constexpr char kSchemaV2[] = R"sql(
ALTER TABLE posts ADD COLUMN ref TEXT NOT NULL DEFAULT '';
ALTER TABLE posts ADD COLUMN deleted_at INTEGER;
ALTER TABLE posts ADD COLUMN deletion_reason TEXT NOT NULL DEFAULT '';
)sql";

// v3: conversations the engine fetches again (ConversationWatch), and what
// deletions need. From v3 on, posts are no longer append-only: Apply() turns
// a deleted post into a tombstone, issuing the FTS5 'delete' command for its
// old title and text first; and deletes a raw payload no post cites any more
// (hence the index on raw_id). A watch stays after its last fetch with
// next_fetch_at NULL, so a post stored again is not watched again.
constexpr char kSchemaV3[] = R"sql(
CREATE TABLE conversation_watch (
  platform TEXT NOT NULL,
  uid TEXT NOT NULL,
  source TEXT NOT NULL REFERENCES sources (name),
  anchor_at INTEGER NOT NULL,
  next_fetch_at INTEGER,
  fetches INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  failures INTEGER NOT NULL DEFAULT 0,
  last_fetch_at INTEGER,
  last_error TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (platform, uid),
  FOREIGN KEY (platform, uid) REFERENCES posts (platform, uid)
) STRICT, WITHOUT ROWID;
CREATE INDEX conversation_watch_due ON conversation_watch (source, next_fetch_at)
  WHERE next_fetch_at IS NOT NULL;
CREATE INDEX posts_by_raw_id ON posts (raw_id) WHERE raw_id IS NOT NULL;
)sql";

constexpr Migration kMigrations[] = {
    {1, kSchemaV1},
    {2, kSchemaV2},
    {3, kSchemaV3},
};

}  // namespace

int LatestSchemaVersion() { return std::end(kMigrations)[-1].version; }

Result<int> SchemaVersion(Database& db) {
  Result<Statement> read = db.Prepare("PRAGMA user_version", "read schema version");
  if (!read.ok()) return read.status();
  Result<bool> row = read->Next();
  if (!row.ok()) return row.status();
  return *row ? static_cast<int>(read->Int(0)) : 0;
}

Status Migrate(Database& db) {
  const int latest = LatestSchemaVersion();
  auto too_new = [&](int found) {
    return Status::InvalidArgument("sqlite " + db.path() + ": schema version " +
                                   std::to_string(found) + " is newer than this earshot knows (" +
                                   std::to_string(latest) +
                                   "); use a newer earshot or another database");
  };
  Result<int> current = SchemaVersion(db);
  if (!current.ok()) return current.status();
  if (*current > latest) return too_new(*current);

  for (const Migration& migration : kMigrations) {
    if (migration.version <= *current) continue;
    const std::string operation = "migrate to schema v" + std::to_string(migration.version);
    Transaction txn(db, operation);
    EARSHOT_RETURN_IF_ERROR(txn.Begin());
    // Another process may have migrated between our read and the lock.
    current = SchemaVersion(db);
    if (!current.ok()) return current.status();
    if (*current > latest) return too_new(*current);
    if (migration.version <= *current) continue;
    EARSHOT_RETURN_IF_ERROR(db.Exec(migration.sql, operation));
    // The version is a constant from the list above, not input.
    const std::string bump = "PRAGMA user_version = " + std::to_string(migration.version);
    EARSHOT_RETURN_IF_ERROR(db.Exec(bump.c_str(), operation));
    EARSHOT_RETURN_IF_ERROR(txn.Commit());
    *current = migration.version;
  }
  return Status::Ok();
}

}  // namespace earshot::sqlite_internal
