// Status and Result<T>: the error currency of earshot.
//
// No exception crosses a module boundary. A function that can fail returns a
// Status (no value) or a Result<T> (a value or a Status). Foreign error codes
// (CURLcode, HTTP status, sqlite codes, simdjson and RE2 errors) are wrapped
// into a Status where they enter, and the message names the place: the source,
// the URL, the file and line. Status is a value type; copying is cheap enough
// for error paths and free on the OK path.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace earshot {

// What the caller should do about a failure is decided by its code; the
// scheduler's reaction to each code is documented in crawler/schedule.
enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // bad config, bad flag, bad request built by us
  kNotFound,         // missing file, source, row; HTTP 404/410
  kAlreadyExists,
  kParseError,         // a body or file that cannot be understood
  kUnavailable,        // network failure, HTTP 5xx/408: retry with backoff
  kDeadlineExceeded,   // timed out
  kResourceExhausted,  // body over the size limit, memory budget
  kRateLimited,        // HTTP 429 or a platform's rate-limit answer
  kUnauthenticated,    // HTTP 401: stop the source
  kPermissionDenied,   // HTTP 403: stop the source
  kIoError,            // local disk, sqlite
  kCancelled,          // shutdown
  kInternal,           // a bug in earshot
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status ParseError(std::string m) { return {StatusCode::kParseError, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status DeadlineExceeded(std::string m) {
    return {StatusCode::kDeadlineExceeded, std::move(m)};
  }
  static Status ResourceExhausted(std::string m) {
    return {StatusCode::kResourceExhausted, std::move(m)};
  }
  static Status RateLimited(std::string m) { return {StatusCode::kRateLimited, std::move(m)}; }
  static Status Unauthenticated(std::string m) {
    return {StatusCode::kUnauthenticated, std::move(m)};
  }
  static Status PermissionDenied(std::string m) {
    return {StatusCode::kPermissionDenied, std::move(m)};
  }
  static Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  static Status Cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "parse error: feed.xml:12:3: ..." — for logs and CLI output.
  std::string ToString() const;

  // Returns a copy whose message is "context: message"; OK stays OK.
  Status Annotate(std::string_view context) const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value or the reason there is none. Constructing a Result from an OK
// Status is a bug (asserted): there would be neither value nor error.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }

  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }

  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<Status, T> v_;
};

}  // namespace earshot

// Returns early from the enclosing function when `expr` (a Status) is not OK.
#define EARSHOT_RETURN_IF_ERROR(expr)                  \
  do {                                                 \
    ::earshot::Status earshot_status_ = (expr);        \
    if (!earshot_status_.ok()) return earshot_status_; \
  } while (0)
