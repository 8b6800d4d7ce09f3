#include "tests/support/fixtures.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace earshot::testing {

namespace fs = std::filesystem;

fs::path OwnFixture(const std::string& relative) {
  return fs::path(EARSHOT_SOURCE_DIR) / "tests" / "fixtures" / relative;
}

std::optional<fs::path> SharedFixtureDir(const std::string& subdir) {
  fs::path root;
  if (const char* env = std::getenv("EARSHOT_SHARED_FIXTURES")) {
    root = env;
  } else {
    root = fs::path(EARSHOT_SOURCE_DIR).parent_path() / "shared" / "fixtures";
  }
  fs::path dir = root / subdir;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return std::nullopt;
  return dir;
}

std::vector<fs::path> FilesIn(const fs::path& dir, const std::vector<std::string>& extensions) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const std::string ext = entry.path().extension().string();
    if (std::find(extensions.begin(), extensions.end(), ext) != extensions.end()) {
      out.push_back(entry.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace earshot::testing
