// A driver for the fuzz targets when libFuzzer is not there (g++ builds, the
// ordinary test run): feeds every seed file, then deterministic mutations of
// each seed (truncations, byte flips, spliced syntax), to
// LLVMFuzzerTestOneInput. A crash or sanitizer report fails the test; the
// exit status is 0 otherwise. The real fuzzing runs under clang's libFuzzer
// (`.ci/fuzz`); this keeps every target compiled and exercised in every run.
//
// Usage: NAME_fuzz_replay [--mutations N] PATH...   (files or directories)
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

void Run(const std::string& input) {
  // A copy in its own allocation, so reads past the end are caught by
  // sanitizers when they are on.
  std::vector<uint8_t> bytes(input.begin(), input.end());
  LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
}

// xorshift64*: deterministic, so a failure reproduces with the same seeds.
struct Random {
  uint64_t state;
  uint64_t Next() {
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 2685821657736338717ULL;
  }
  size_t Below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(Next() % n); }
};

constexpr std::string_view kSplices[] = {"{",
                                         "}",
                                         "[",
                                         "]",
                                         "\"",
                                         ":",
                                         ",",
                                         "null",
                                         "-1",
                                         "1e999",
                                         "\xff",
                                         "\xc3",
                                         "\xed\xa0\x80",
                                         "<",
                                         "</",
                                         "&amp",
                                         "<!--",
                                         "]]>",
                                         "\\u",
                                         "\\ud83d",
                                         "\0",
                                         "99999999999999999999",
                                         "true",
                                         "{}",
                                         "[[[[[[[[[",
                                         "<a><b>"};

std::string Mutate(const std::string& seed, Random& random) {
  std::string out = seed;
  const int edits = 1 + static_cast<int>(random.Below(4));
  for (int e = 0; e < edits; ++e) {
    const size_t at = random.Below(out.size() + 1);
    switch (random.Below(4)) {
      case 0:  // truncate
        out.resize(at);
        break;
      case 1:  // flip a byte
        if (!out.empty()) out[random.Below(out.size())] ^= static_cast<char>(1 + random.Below(255));
        break;
      case 2: {  // splice syntax
        const std::string_view piece = kSplices[random.Below(std::size(kSplices))];
        out.insert(at, piece.data(), piece.size());
        break;
      }
      default:  // delete a span
        if (at < out.size()) out.erase(at, random.Below(out.size() - at + 1));
        break;
    }
  }
  return out;
}

bool ReadFile(const fs::path& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  int mutations = 200;
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--mutations" && i + 1 < argc) {
      mutations = std::atoi(argv[++i]);
      continue;
    }
    std::error_code error;
    if (fs::is_directory(arg, error)) {
      for (const auto& entry : fs::recursive_directory_iterator(arg, error)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
    } else if (fs::is_regular_file(arg, error)) {
      files.emplace_back(arg);
    } else {
      std::fprintf(stderr, "fuzz replay: skipping %s (not found)\n", argv[i]);
    }
  }
  Run("");
  Random random{0x9E3779B97F4A7C15ULL};
  size_t runs = 1;
  for (const fs::path& file : files) {
    std::string seed;
    if (!ReadFile(file, seed)) {
      std::fprintf(stderr, "fuzz replay: cannot read %s\n", file.c_str());
      return 1;
    }
    Run(seed);
    for (int m = 0; m < mutations; ++m) Run(Mutate(seed, random));
    runs += 1 + static_cast<size_t>(mutations);
  }
  std::printf("fuzz replay: %zu inputs from %zu seed files\n", runs, files.size());
  return 0;
}
