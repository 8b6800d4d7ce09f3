// Internal to the SQLite store: the schema, as an ordered list of migrations
// kept in code. Each migration runs in its own transaction together with the
// PRAGMA user_version bump, so a crash leaves the database at the previous
// version, never half-way. Released migrations are never edited: a change is
// a new migration at the end of the list.
#pragma once

#include "crawler/core/status.h"
#include "crawler/store/sqlite/database.h"

namespace earshot::sqlite_internal {

// The version the last migration in the list produces.
int LatestSchemaVersion();

// The database's PRAGMA user_version (0 for a new file).
Result<int> SchemaVersion(Database& db);

// Applies every migration newer than the database's version. A database
// with a version newer than LatestSchemaVersion() (written by a newer
// earshot) is kInvalidArgument and left untouched.
Status Migrate(Database& db);

}  // namespace earshot::sqlite_internal
