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

// v4: threads staff answer (crawler/threads/thread_store.h). Apply() threads
// each newly stored post in its own transaction. Posts stored before v4 are
// not threaded. thread_posts.post_id is unique: a post is on one thread.
// deleted_posts counts the thread's tombstones. Audit rows are never changed.
constexpr char kSchemaV4[] = R"sql(
CREATE TABLE threads (
  id INTEGER PRIMARY KEY,
  platform TEXT NOT NULL,
  root_post_id INTEGER NOT NULL UNIQUE REFERENCES posts (id),
  opened_at INTEGER NOT NULL,
  last_activity_at INTEGER NOT NULL,
  deleted_posts INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE thread_posts (
  post_id INTEGER PRIMARY KEY REFERENCES posts (id),
  thread_id INTEGER NOT NULL REFERENCES threads (id),
  joined_at INTEGER NOT NULL,
  how TEXT NOT NULL
    CHECK (how IN ('opened', 'reply', 'conversation', 'repeat', 'ours'))
) STRICT;
CREATE INDEX thread_posts_by_thread ON thread_posts (thread_id, post_id);

CREATE TABLE thread_orgs (
  thread_id INTEGER NOT NULL REFERENCES threads (id),
  org TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'new'
    CHECK (state IN ('new', 'assigned', 'responded', 'closed', 'dismissed')),
  assignee TEXT NOT NULL DEFAULT '',
  dismiss_reason TEXT NOT NULL DEFAULT '',
  rule TEXT NOT NULL,
  alerted_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (thread_id, org)
) STRICT, WITHOUT ROWID;
CREATE INDEX thread_orgs_by_org ON thread_orgs (org, state, thread_id);

CREATE TABLE notes (
  id INTEGER PRIMARY KEY,
  thread_id INTEGER NOT NULL REFERENCES threads (id),
  org TEXT NOT NULL,
  author TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX notes_by_thread ON notes (thread_id, id);

CREATE TABLE replies (
  id INTEGER PRIMARY KEY,
  thread_id INTEGER NOT NULL REFERENCES threads (id),
  org TEXT NOT NULL,
  in_reply_to INTEGER NOT NULL REFERENCES posts (id),
  body TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'draft'
    CHECK (state IN ('draft', 'approved', 'publishing', 'published', 'failed',
                     'answer_on_platform')),
  idempotency_key TEXT NOT NULL UNIQUE,
  account TEXT NOT NULL DEFAULT '',
  url TEXT NOT NULL DEFAULT '',
  published_id TEXT NOT NULL DEFAULT '',
  platform_error TEXT NOT NULL DEFAULT '',
  author TEXT NOT NULL,
  approver TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX replies_by_thread ON replies (thread_id, id);
CREATE INDEX replies_by_published_id ON replies (published_id) WHERE published_id != '';

CREATE TABLE audit (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  org TEXT NOT NULL,
  thread_id INTEGER REFERENCES threads (id),
  detail TEXT NOT NULL
) STRICT;
CREATE INDEX audit_by_thread ON audit (thread_id, id);

CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('admin', 'responder', 'viewer')),
  token_hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
) STRICT;

-- kind 'org': an ODS code; 'region': an NHS England region or ICB code.
CREATE TABLE user_scopes (
  user_id INTEGER NOT NULL REFERENCES users (id),
  kind TEXT NOT NULL CHECK (kind IN ('org', 'region')),
  code TEXT NOT NULL,
  PRIMARY KEY (user_id, kind, code)
) STRICT, WITHOUT ROWID;

-- Join lookups: a reply's parent by platform id, a repeat by author and hash.
CREATE INDEX posts_by_external_id ON posts (platform, external_id);
CREATE INDEX posts_by_author_hash ON posts (platform, author_handle, content_hash)
  WHERE content_hash != '';
)sql";

// v5: the listening ledger. thread_orgs.alerted_at is set when an
// organisation is put on a thread (backfilled from created_at, the same
// moment); each user's first open of an organisation's part of a thread is a
// thread_opens row (not an audit entry: reading is not an action); a
// published reply records who published it and when (backfilled from its
// "published" audit entry, else its author and last update).
constexpr char kSchemaV5[] = R"sql(
UPDATE thread_orgs SET alerted_at = created_at WHERE alerted_at IS NULL;

CREATE TABLE thread_opens (
  thread_id INTEGER NOT NULL REFERENCES threads (id),
  org TEXT NOT NULL,
  user_name TEXT NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (thread_id, org, user_name)
) STRICT, WITHOUT ROWID;

ALTER TABLE replies ADD COLUMN published_by TEXT NOT NULL DEFAULT '';
ALTER TABLE replies ADD COLUMN published_at INTEGER;
UPDATE replies SET published_at = updated_at,
  published_by = COALESCE((SELECT a.actor FROM audit a
    WHERE a.thread_id = replies.thread_id AND a.action = 'published'
      AND (a.detail = 'reply ' || replies.id OR a.detail LIKE 'reply ' || replies.id || ':%')
    ORDER BY a.id DESC LIMIT 1), author)
  WHERE state = 'published';

-- Tone hints compare a draft with the organisation's recent replies; the
-- stale-publishing sweep finds replies left publishing.
CREATE INDEX replies_by_org ON replies (org, thread_id);
CREATE INDEX replies_by_state ON replies (state, updated_at);
-- The listening summary and the organisation counts read thread_orgs by org.
CREATE INDEX thread_orgs_by_alerted ON thread_orgs (org, alerted_at);
)sql";

constexpr Migration kMigrations[] = {
    {1, kSchemaV1}, {2, kSchemaV2}, {3, kSchemaV3}, {4, kSchemaV4}, {5, kSchemaV5},
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
