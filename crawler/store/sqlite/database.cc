#include "crawler/store/sqlite/database.h"

#include <utility>

namespace earshot::sqlite_internal {

Statement::Statement(Database* db, sqlite3_stmt* stmt, bool* in_use, std::string operation)
    : db_(db), stmt_(stmt), in_use_(in_use), operation_(std::move(operation)) {}

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_),
      stmt_(std::exchange(other.stmt_, nullptr)),
      in_use_(std::exchange(other.in_use_, nullptr)),
      operation_(std::move(other.operation_)),
      bind_error_(other.bind_error_),
      last_error_code_(other.last_error_code_) {}

Statement::~Statement() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  if (in_use_ != nullptr) {
    *in_use_ = false;
  } else {
    sqlite3_finalize(stmt_);
  }
}

void Statement::NoteBind(int rc) {
  if (rc != SQLITE_OK && bind_error_ == SQLITE_OK) bind_error_ = rc;
}

void Statement::BindInt(int index, int64_t value) {
  NoteBind(sqlite3_bind_int64(stmt_, index, value));
}

void Statement::BindText(int index, std::string_view value) {
  // A non-null pointer even for "": SQLite binds NULL for a null pointer.
  NoteBind(sqlite3_bind_text64(stmt_, index, value.empty() ? "" : value.data(), value.size(),
                               SQLITE_TRANSIENT, SQLITE_UTF8));
}

void Statement::BindBlob(int index, std::string_view value) {
  NoteBind(sqlite3_bind_blob64(stmt_, index, value.empty() ? "" : value.data(), value.size(),
                               SQLITE_TRANSIENT));
}

void Statement::BindNull(int index) { NoteBind(sqlite3_bind_null(stmt_, index)); }

void Statement::BindTime(int index, std::optional<TimePoint> value) {
  if (value) {
    BindInt(index, ToUnixMillis(*value));
  } else {
    BindNull(index);
  }
}

void Statement::BindTime(int index, TimePoint value) { BindInt(index, ToUnixMillis(value)); }

Result<bool> Statement::Next() {
  if (bind_error_ != SQLITE_OK) {
    last_error_code_ = bind_error_;
    return db_->Error(operation_, bind_error_);
  }
  Status fault = db_->InjectedFault(operation_);
  if (!fault.ok()) {
    sqlite3_reset(stmt_);
    return fault;
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  last_error_code_ = rc;
  Status error = db_->Error(operation_, rc);  // before reset: errmsg is live
  sqlite3_reset(stmt_);
  return error;
}

Status Statement::Run() {
  Result<bool> stepped = Next();
  sqlite3_reset(stmt_);
  bind_error_ = SQLITE_OK;
  if (!stepped.ok()) return stepped.status();
  return Status::Ok();
}

int64_t Statement::Changes() const { return sqlite3_changes64(db_->handle()); }

bool Statement::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

int64_t Statement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string Statement::Text(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::string Statement::Blob(int column) const {
  const void* blob = sqlite3_column_blob(stmt_, column);
  if (blob == nullptr) return {};
  return std::string(static_cast<const char*>(blob),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::optional<TimePoint> Statement::Time(int column) const {
  if (IsNull(column)) return std::nullopt;
  return FromUnixMillis(Int(column));
}

Result<std::unique_ptr<Database>> Database::Open(const std::string& path, Duration busy_timeout,
                                                 FaultHook fail_step) {
  sqlite3* db = nullptr;
  // NOMUTEX: one thread at a time per connection is the Store contract.
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return Status::IoError("sqlite " + path + ": open: " + message);
  }
  sqlite3_extended_result_codes(db, 1);
  // Defensive: SQL cannot corrupt the file (writable_schema and the like).
  sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_busy_timeout(db, static_cast<int>(busy_timeout.count()));
  return std::unique_ptr<Database>(new Database(db, path, std::move(fail_step)));
}

Database::Database(sqlite3* db, std::string path, FaultHook fail_step)
    : db_(db), path_(std::move(path)), fail_step_(std::move(fail_step)) {}

Database::~Database() {
  for (auto& [sql, slot] : cache_) sqlite3_finalize(slot.stmt);
  sqlite3_close_v2(db_);
}

Result<Statement> Database::Prepare(std::string_view sql, std::string_view operation) {
  auto it = cache_.find(sql);
  if (it != cache_.end() && !it->second.in_use) {
    it->second.in_use = true;
    return Statement(this, it->second.stmt, &it->second.in_use, std::string(operation));
  }
  // Already borrowed (a nested use of the same SQL): a one-off statement.
  bool cache_it = it == cache_.end();
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              cache_it ? SQLITE_PREPARE_PERSISTENT : 0, &stmt, nullptr);
  if (rc != SQLITE_OK) return Error(operation, rc);
  if (stmt == nullptr) {
    return Status::Internal("sqlite " + path_ + ": " + std::string(operation) + ": empty SQL");
  }
  if (!cache_it) return Statement(this, stmt, nullptr, std::string(operation));
  CachedStatement& slot = cache_[sql];
  slot.stmt = stmt;
  slot.in_use = true;
  return Statement(this, stmt, &slot.in_use, std::string(operation));
}

Result<Statement> Database::PrepareOnce(const std::string& sql, std::string_view operation) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), 0, &stmt, nullptr);
  if (rc != SQLITE_OK) return Error(operation, rc);
  if (stmt == nullptr) {
    return Status::Internal("sqlite " + path_ + ": " + std::string(operation) + ": empty SQL");
  }
  return Statement(this, stmt, nullptr, std::string(operation));
}

Status Database::Exec(const char* sql, std::string_view operation) {
  EARSHOT_RETURN_IF_ERROR(InjectedFault(operation));
  char* error = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &error);
  if (rc == SQLITE_OK) return Status::Ok();
  std::string message = error != nullptr ? error : sqlite3_errstr(rc);
  sqlite3_free(error);
  return Status::IoError("sqlite " + path_ + ": " + std::string(operation) + ": " + message);
}

void Database::Rollback() {
  // SQLite has already rolled back after some errors (IOERR, FULL, NOMEM).
  if (sqlite3_get_autocommit(db_) != 0) return;
  sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

Status Database::Error(std::string_view operation, int rc) const {
  std::string message = "sqlite " + path_ + ": " + std::string(operation) + ": ";
  const char* errmsg = sqlite3_errmsg(db_);
  // errmsg describes the latest call on the connection; when that is not the
  // failure at hand (a bind error), SQLite's text for the code is.
  if (errmsg != nullptr && sqlite3_errcode(db_) == rc) {
    message += errmsg;
  } else {
    message += sqlite3_errstr(rc);
  }
  return Status::IoError(std::move(message));
}

Status Database::InjectedFault(std::string_view operation) const {
  if (!fail_step_ || !fail_step_(operation)) return Status::Ok();
  return Status::IoError("sqlite " + path_ + ": " + std::string(operation) + ": injected fault");
}

Transaction::~Transaction() {
  if (open_) db_.Rollback();
}

Status Transaction::Begin() {
  Result<Statement> begin = db_.Prepare("BEGIN IMMEDIATE", operation_ + ": begin");
  if (!begin.ok()) return begin.status();
  EARSHOT_RETURN_IF_ERROR(begin->Run());
  open_ = true;
  return Status::Ok();
}

Status Transaction::Commit() {
  Result<Statement> commit = db_.Prepare("COMMIT", operation_ + ": commit");
  if (!commit.ok()) return commit.status();
  EARSHOT_RETURN_IF_ERROR(commit->Run());
  open_ = false;
  return Status::Ok();
}

}  // namespace earshot::sqlite_internal
