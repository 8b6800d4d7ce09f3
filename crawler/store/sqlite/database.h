// Internal to the SQLite store: a connection with a cache of prepared
// statements, a borrowed-statement wrapper that binds parameters (values never
// enter SQL text), and a transaction guard that rolls back unless committed.
// Every failure is a Status naming the database path and the operation.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "crawler/core/clock.h"
#include "crawler/core/status.h"

namespace earshot::sqlite_internal {

class Database;

// A prepared statement borrowed from the cache for one use. Bind with
// 1-based indexes, then Run() (no rows expected) or Next() per row. On
// destruction the statement is reset and its bindings cleared, so a cached
// statement never keeps a read snapshot open or a stale value bound.
// Bound values are copied (SQLITE_TRANSIENT): temporaries are safe.
// `operation` names the step in error messages and for the fault hook.
class Statement {
 public:
  // `in_use` is the cache slot's flag, cleared on destruction; null for a
  // statement owned (and finalized) by this object.
  Statement(Database* db, sqlite3_stmt* stmt, bool* in_use, std::string operation);
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  void BindInt(int index, int64_t value);
  void BindText(int index, std::string_view value);
  void BindBlob(int index, std::string_view value);
  void BindNull(int index);
  void BindTime(int index, std::optional<TimePoint> value);  // NULL if absent
  void BindTime(int index, TimePoint value);

  // Steps a statement that returns no rows, then resets it for reuse.
  Status Run();
  // Steps once: true with a row ready to read, false when done.
  Result<bool> Next();
  // Rows changed by the last Run() (sqlite3_changes).
  int64_t Changes() const;
  // The SQLite result code of the last failed step (SQLITE_OK when none or
  // when the failure was injected).
  int last_error_code() const { return last_error_code_; }

  bool IsNull(int column) const;
  int64_t Int(int column) const;
  std::string Text(int column) const;
  std::string Blob(int column) const;
  std::optional<TimePoint> Time(int column) const;

 private:
  void NoteBind(int rc);

  Database* db_;
  sqlite3_stmt* stmt_;
  bool* in_use_;
  std::string operation_;
  int bind_error_ = SQLITE_OK;
  int last_error_code_ = SQLITE_OK;
};

class Database {
 public:
  using FaultHook = std::function<bool(std::string_view operation)>;

  static Result<std::unique_ptr<Database>> Open(const std::string& path, Duration busy_timeout,
                                                FaultHook fail_step);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // A statement for `sql`, prepared once and cached. `sql` must have static
  // storage duration (a literal): its text keys the cache.
  Result<Statement> Prepare(std::string_view sql, std::string_view operation);
  // A statement for `sql` built at run time (from constant fragments and
  // placeholders), prepared for this one use and not cached.
  Result<Statement> PrepareOnce(const std::string& sql, std::string_view operation);
  // Runs one or more statements without parameters (pragmas, schema).
  Status Exec(const char* sql, std::string_view operation);
  // Rolls back the open transaction, if any. Never fault-injected: it is how
  // a failed batch is undone.
  void Rollback();

  // The Status for a failed SQLite call `rc` during `operation`.
  Status Error(std::string_view operation, int rc) const;
  // Consults the test-only fault hook.
  Status InjectedFault(std::string_view operation) const;

  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }

 private:
  struct CachedStatement {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };

  Database(sqlite3* db, std::string path, FaultHook fail_step);

  sqlite3* db_;
  std::string path_;
  FaultHook fail_step_;
  // Node-based: a slot's address (and its in_use flag) is stable.
  std::unordered_map<std::string_view, CachedStatement> cache_;
};

// A write transaction: Begin() is BEGIN IMMEDIATE (takes the write lock at
// once, so it never fails half-way for lock upgrade); the destructor rolls
// back unless Commit() succeeded, whatever path leaves the scope. Its steps
// are named "<operation>: begin" and "<operation>: commit".
class Transaction {
 public:
  Transaction(Database& db, std::string_view operation) : db_(db), operation_(operation) {}
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  Status Begin();
  Status Commit();

 private:
  Database& db_;
  std::string operation_;
  bool open_ = false;
};

}  // namespace earshot::sqlite_internal
