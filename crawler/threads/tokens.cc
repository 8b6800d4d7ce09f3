#include "crawler/threads/tokens.h"

#include <openssl/rand.h>

#include <array>

#include "crawler/core/text.h"

namespace earshot {

namespace {

std::string Base64Url(const unsigned char* bytes, size_t size) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (size_t i = 0; i < size; ++i) {
    buffer = (buffer << 8) | bytes[i];
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(buffer >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (6 - bits)) & 0x3f]);
  return out;
}

template <size_t N>
Result<std::string> RandomText() {
  std::array<unsigned char, N> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return Status::Internal("the system's random number generator is not available");
  }
  return Base64Url(bytes.data(), bytes.size());
}

}  // namespace

Result<std::string> NewBearerToken() { return RandomText<32>(); }

std::string TokenHash(std::string_view token) { return Sha256Hex(token); }

Result<std::string> NewIdempotencyKey() {
  Result<std::string> random = RandomText<16>();
  if (!random.ok()) return random.status();
  return "reply-" + *random;
}

}  // namespace earshot
