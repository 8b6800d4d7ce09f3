#include "tests/support/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace earshot::testing {

namespace fs = std::filesystem;

namespace {

// Through syscall(): Debian 12's <sys/pidfd.h> lacks C linkage for C++.
int PidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
int PidfdSendSignal(int pidfd, int signal) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0));
}

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

fs::path MakeTempDir(const std::string& prefix) {
  std::string pattern = (fs::temp_directory_path() / (prefix + "XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
  }
  return pattern;
}

// KEY=VALUE strings: the test's environment with `changes` applied.
std::vector<std::string> ChildEnvironment(
    const std::map<std::string, std::optional<std::string>>& changes) {
  std::map<std::string, std::optional<std::string>> effective = changes;
  effective.emplace("EARSHOT_CONFIG", std::nullopt);  // unless the test sets it
  std::vector<std::string> out;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    const std::string name = entry.substr(0, entry.find('='));
    if (effective.count(name) == 0) out.push_back(std::move(entry));
  }
  for (const auto& [name, value] : effective) {
    if (value) out.push_back(name + "=" + *value);
  }
  return out;
}

}  // namespace

std::string EarshotBinary() { return std::string(EARSHOT_BINARY_DIR) + "/bin/earshot"; }

std::unique_ptr<ChildProcess> ChildProcess::Start(const std::vector<std::string>& args,
                                                  const ProcessOptions& options,
                                                  std::string* error) {
  auto fail = [&](const std::string& why) -> std::unique_ptr<ChildProcess> {
    if (error != nullptr) *error = why;
    return nullptr;
  };
  if (args.empty()) return fail("no program given");
  std::unique_ptr<ChildProcess> child(new ChildProcess());
  child->capture_dir_ = MakeTempDir("earshot-child-");
  const std::string out_path = (child->capture_dir_ / "stdout").string();
  const std::string err_path = (child->capture_dir_ / "stderr").string();
  const std::string in_path =
      options.stdin_file.empty() ? std::string("/dev/null") : options.stdin_file.string();

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, in_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  const std::string cwd = options.cwd.string();
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());

  // The child starts with default signal dispositions and an empty mask,
  // whatever the test runner changed.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::vector<std::string> env = ChildEnvironment(options.env);
  std::vector<char*> argv, envp;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args[0].c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return fail("posix_spawn " + args[0] + ": " + std::strerror(rc));
  child->pid_ = pid;
  child->pidfd_ = PidfdOpen(pid);
  if (child->pidfd_ < 0) return fail(std::string("pidfd_open: ") + std::strerror(errno));
  return child;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (pidfd_ >= 0) ::close(pidfd_);
  std::error_code ec;
  if (!capture_dir_.empty()) fs::remove_all(capture_dir_, ec);
}

bool ChildProcess::Signal(int signal) {
  if (reaped_ || pid_ <= 0) return false;
  return PidfdSendSignal(pidfd_, signal) == 0;
}

std::optional<ProcessResult> ChildProcess::Wait(std::chrono::milliseconds timeout) {
  if (reaped_) return std::nullopt;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd fd{pidfd_, POLLIN, 0};
    const int ready = ::poll(&fd, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return std::nullopt;  // timed out (or poll failed)
    int status = 0;
    pid_t done = ::waitpid(pid_, &status, 0);
    if (done < 0 && errno == EINTR) continue;
    reaped_ = true;
    return Collect(status);
  }
}

ProcessResult ChildProcess::WaitOrKill(std::chrono::milliseconds timeout) {
  if (auto result = Wait(timeout)) return *result;
  Signal(SIGKILL);
  auto result = Wait(std::chrono::seconds(10));
  ProcessResult out = result.value_or(ProcessResult{});
  out.timed_out = true;
  return out;
}

ProcessResult ChildProcess::Collect(int wait_status) {
  ProcessResult result;
  if (WIFEXITED(wait_status)) result.exit_code = WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) result.term_signal = WTERMSIG(wait_status);
  result.out = StdoutSoFar();
  result.err = StderrSoFar();
  return result;
}

std::string ChildProcess::StdoutSoFar() const { return ReadAll(capture_dir_ / "stdout"); }
std::string ChildProcess::StderrSoFar() const { return ReadAll(capture_dir_ / "stderr"); }

std::optional<size_t> ChildProcess::WaitForStderr(std::string_view needle,
                                                  std::chrono::milliseconds timeout, size_t from) {
  return WaitForOutput(false, needle, timeout, from);
}

std::optional<size_t> ChildProcess::WaitForStdout(std::string_view needle,
                                                  std::chrono::milliseconds timeout, size_t from) {
  return WaitForOutput(true, needle, timeout, from);
}

std::optional<size_t> ChildProcess::WaitForOutput(bool stdout_stream, std::string_view needle,
                                                  std::chrono::milliseconds timeout, size_t from) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    // Whether the child has ended is read before its output, so output
    // written just before it ended is not missed; the child is not reaped.
    pollfd fd{pidfd_, POLLIN, 0};
    const bool ended = reaped_ || ::poll(&fd, 1, 0) > 0;
    const std::string text = stdout_stream ? StdoutSoFar() : StderrSoFar();
    if (from <= text.size()) {
      if (size_t at = text.find(needle, from); at != std::string::npos) return at + needle.size();
    }
    if (ended || std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    // Output arrives in a file: nothing to wait on but a short interval.
    ::poll(nullptr, 0, 5);
  }
}

ProcessResult RunProcess(const std::vector<std::string>& args, const ProcessOptions& options) {
  std::string error;
  auto child = ChildProcess::Start(args, options, &error);
  if (!child) {
    ProcessResult result;
    result.err = error;
    return result;
  }
  return child->WaitOrKill(options.timeout);
}

std::string Describe(const ProcessResult& result) {
  std::ostringstream s;
  s << "exit " << result.exit_code;
  if (result.term_signal != 0) s << ", signal " << result.term_signal;
  if (result.timed_out) s << ", TIMED OUT";
  s << "\n--- stdout ---\n" << result.out << "\n--- stderr ---\n" << result.err;
  return s.str();
}

TempDir::TempDir() : path_(MakeTempDir("earshot-test-")) {}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void WriteFile(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot write " + path.string());
  out << content;
  if (!out.flush()) throw std::runtime_error("error writing " + path.string());
}

}  // namespace earshot::testing
