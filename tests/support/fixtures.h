// Locating test data. Our own fixtures live in tests/fixtures (written by us);
// third-party recordings are read from ../shared/fixtures beside the checkout
// and never copied into the repository.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace earshot::testing {

// tests/fixtures/<relative>.
std::filesystem::path OwnFixture(const std::string& relative);

// ../shared/fixtures/<subdir>, or nullopt when the shared folder is absent
// (set EARSHOT_SHARED_FIXTURES to override the location).
std::optional<std::filesystem::path> SharedFixtureDir(const std::string& subdir);

// Every regular file under `dir` with one of `extensions` (".json"), sorted.
std::vector<std::filesystem::path> FilesIn(const std::filesystem::path& dir,
                                           const std::vector<std::string>& extensions);

std::string ReadFile(const std::filesystem::path& path);

}  // namespace earshot::testing

// Ends the current test case with a visible message when the shared fixtures
// are absent (Catch2 v2 has no SKIP).
#define EARSHOT_REQUIRE_SHARED(var, subdir)                \
  auto var = ::earshot::testing::SharedFixtureDir(subdir); \
  if (!var) {                                              \
    WARN("SKIPPED: ../shared/fixtures/" subdir             \
         " is absent; shared-fixture "                     \
         "checks not run");                                \
    return;                                                \
  }
