#include "crawler/store/sqlite/compression.h"

#include <zlib.h>

namespace earshot::sqlite_internal {

namespace {
// Deflate cannot expand data more than about 1032:1; a stored size beyond
// that is corruption, and trusting it would mean a huge allocation.
constexpr int64_t kMaxInflateRatio = 1032;
}  // namespace

Result<std::string> CompressBody(std::string_view body) {
  uLongf size = compressBound(static_cast<uLong>(body.size()));
  std::string out(size, '\0');
  int rc = compress2(reinterpret_cast<Bytef*>(out.data()), &size,
                     reinterpret_cast<const Bytef*>(body.data()), static_cast<uLong>(body.size()),
                     Z_DEFAULT_COMPRESSION);
  if (rc != Z_OK) {
    return Status::Internal(std::string("zlib compress failed: ") + zError(rc));
  }
  out.resize(size);
  return out;
}

Result<std::string> DecompressBody(std::string_view compressed, int64_t raw_size) {
  if (raw_size < 0 || raw_size > kMaxInflateRatio * static_cast<int64_t>(compressed.size()) + 64) {
    return Status::IoError("stored body size " + std::to_string(raw_size) + " does not fit its " +
                           std::to_string(compressed.size()) + " compressed bytes");
  }
  // One spare byte: inflating into exactly raw_size bytes could not tell a
  // complete stream from a longer one that was cut.
  std::string out(static_cast<size_t>(raw_size) + 1, '\0');
  uLongf size = static_cast<uLongf>(out.size());
  int rc = uncompress(reinterpret_cast<Bytef*>(out.data()), &size,
                      reinterpret_cast<const Bytef*>(compressed.data()),
                      static_cast<uLong>(compressed.size()));
  if (rc != Z_OK || size != static_cast<uLongf>(raw_size)) {
    return Status::IoError(std::string("stored body does not inflate: ") +
                           (rc != Z_OK ? zError(rc) : "size differs"));
  }
  out.resize(size);
  return out;
}

}  // namespace earshot::sqlite_internal
