// Discourse forums: the latest public posts of a whole forum (/posts.json,
// paged backwards with `before`), a topic's conversation (/t/ID.json) and
// replies (POST /posts.json). See README.md for endpoints, cursor, rate-limit
// dialect, auth and limits.
#pragma once

#include "crawler/core/connector.h"

namespace earshot::connector_discourse {

// The registry entry; lives for the whole program.
const ConnectorDescriptor& Descriptor();

}  // namespace earshot::connector_discourse
