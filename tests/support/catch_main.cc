// The test runner. Tests talk only to servers on 127.0.0.1; a proxy set in
// the environment (which libcurl honours) must not capture that traffic.
#define CATCH_CONFIG_RUNNER
#include <cstdlib>
#include <string>

#include <catch2/catch.hpp>

int main(int argc, char* argv[]) {
  for (const char* name : {"no_proxy", "NO_PROXY"}) {
    std::string value = "127.0.0.1,localhost";
    if (const char* old = std::getenv(name); old && *old) value += std::string(",") + old;
    ::setenv(name, value.c_str(), 1);
  }
  return Catch::Session().run(argc, argv);
}
