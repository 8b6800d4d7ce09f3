// Running the built `earshot` binary from integration tests: a child process
// with its standard streams captured, waited for with a timeout (pidfd +
// poll: no sleeping), and signalled while it runs.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace earshot::testing {

// EARSHOT_BINARY_DIR "/bin/earshot".
std::string EarshotBinary();

struct ProcessOptions {
  // Changes to the test's environment for the child: a value sets the
  // variable, nullopt removes it. EARSHOT_CONFIG is always removed unless set
  // here, so a developer's own configuration never leaks into a test.
  std::map<std::string, std::optional<std::string>> env;
  // Working directory of the child; empty: the test's.
  std::filesystem::path cwd;
  // File the child reads as standard input; empty: /dev/null.
  std::filesystem::path stdin_file;
  // RunProcess and Wait: how long to wait before SIGKILL.
  std::chrono::milliseconds timeout{20'000};
};

struct ProcessResult {
  int exit_code = -1;      // exit status when the child exited, else -1
  int term_signal = 0;     // the signal that ended it, else 0
  bool timed_out = false;  // killed by us after ProcessOptions::timeout
  std::string out;         // everything written to stdout
  std::string err;         // everything written to stderr
};

// A started child. Its stdout and stderr go to temporary files read back by
// Wait(). Destroying a child that is still running kills (SIGKILL) and reaps
// it. Not thread-safe.
class ChildProcess {
 public:
  // Starts `args` (args[0] is the program path, not searched in PATH).
  // nullptr (with the reason in *error) when it cannot be started.
  static std::unique_ptr<ChildProcess> Start(const std::vector<std::string>& args,
                                             const ProcessOptions& options,
                                             std::string* error = nullptr);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Sends `signal` unless the child has already been reaped.
  bool Signal(int signal);
  // Waits up to `timeout` for the child to end. nullopt when it is still
  // running then (it keeps running; call again, or Signal()).
  std::optional<ProcessResult> Wait(std::chrono::milliseconds timeout);
  // Waits; kills the child (SIGKILL) if it outlives `timeout`.
  ProcessResult WaitOrKill(std::chrono::milliseconds timeout);
  // What the child has written to stdout/stderr so far.
  std::string StdoutSoFar() const;
  std::string StderrSoFar() const;
  // Waits up to `timeout` until stderr holds `needle` at or after byte
  // `from` (so a test can wait for the n-th log line of a kind). Returns the
  // offset just past the match, or nullopt on timeout or when the child ends
  // without writing it. Polls the capture file every few milliseconds: a wait
  // for a condition, not a timed sleep.
  std::optional<size_t> WaitForStderr(std::string_view needle, std::chrono::milliseconds timeout,
                                      size_t from = 0);
  // The same for stdout.
  std::optional<size_t> WaitForStdout(std::string_view needle, std::chrono::milliseconds timeout,
                                      size_t from = 0);

 private:
  ChildProcess() = default;
  ProcessResult Collect(int wait_status);
  std::optional<size_t> WaitForOutput(bool stdout_stream, std::string_view needle,
                                      std::chrono::milliseconds timeout, size_t from);

  pid_t pid_ = -1;
  int pidfd_ = -1;
  bool reaped_ = false;
  std::filesystem::path capture_dir_;
};

// Runs `args` to completion (or kills it after options.timeout).
ProcessResult RunProcess(const std::vector<std::string>& args, const ProcessOptions& options = {});

// A readable summary for failed assertions: exit, signal, stdout and stderr.
std::string Describe(const ProcessResult& result);

// A fresh directory under the system temp dir, removed with everything in it
// when the object is destroyed.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Writes `content` to `path` (creating or truncating it).
void WriteFile(const std::filesystem::path& path, const std::string& content);

}  // namespace earshot::testing
