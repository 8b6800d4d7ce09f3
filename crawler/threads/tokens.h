// Bearer tokens for staff: random, shown once, stored hashed.
//
// Tokens carry 32 bytes from OpenSSL's CSPRNG (RAND_bytes), base64url
// without padding (43 characters). Only TokenHash() is stored. A plain
// SHA-256 suffices (no salt, no slow KDF): the token is 256 bits of
// randomness, not a password, so neither a dictionary nor brute force over
// the hash is feasible, and an unsalted hash lets the server find the user
// by an indexed lookup on each request. Thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "crawler/core/status.h"

namespace earshot {

// A new bearer token; kInternal if the CSPRNG cannot be seeded.
Result<std::string> NewBearerToken();
// Lower-case hex SHA-256 of the token, as stored.
std::string TokenHash(std::string_view token);
// A random idempotency key for a reply ("reply-" + 16 random bytes, base64url).
Result<std::string> NewIdempotencyKey();

}  // namespace earshot
