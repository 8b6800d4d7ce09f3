// Internal to the SQLite store: bodies are kept as zlib streams (RFC 1950,
// zlib's compress2) next to their uncompressed size.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "crawler/core/status.h"

namespace earshot::sqlite_internal {

Result<std::string> CompressBody(std::string_view body);

// `raw_size` is the stored uncompressed size; a stream that does not inflate
// to exactly that many bytes is corrupt (kIoError).
Result<std::string> DecompressBody(std::string_view compressed, int64_t raw_size);

}  // namespace earshot::sqlite_internal
