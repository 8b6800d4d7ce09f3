// Internal to the SQLite store: threading of newly stored posts, run by
// SqliteStore::Apply() inside its transaction (the rules are in
// docs/threads.md and SqliteStore's header).
#pragma once

#include <cstdint>
#include <vector>

#include "crawler/core/post.h"
#include "crawler/core/status.h"
#include "crawler/store/sqlite/database.h"

namespace earshot::sqlite_internal {

struct InsertedPost {
  int64_t row_id = 0;
  const Post* post = nullptr;  // borrowed from the write being applied
};

// Puts each of `posts` (one write's newly inserted posts) on a thread where
// a rule says so; posts no rule threads stay off threads. Must run inside a
// write transaction; a failure leaves that transaction to be rolled back.
Status ThreadInsertedPosts(Database& db, std::vector<InsertedPost> posts);

// Counts a newly tombstoned post on its thread, if it is on one.
Status MarkDeletedOnThread(Database& db, int64_t post_id);

}  // namespace earshot::sqlite_internal
