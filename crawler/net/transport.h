// HttpTransport: how the engine moves HttpRequests. Connectors never see it.
//
// Contract for every implementation:
// - Start() never calls `done` inline; `done` runs exactly once, later, on the
//   transport's executor (the engine's io_context thread).
// - Any HTTP status (200, 304, 429, 500, ...) is a response, not an error.
//   Errors are failures to get a complete response, wrapped with the URL:
//   kUnavailable (DNS, connect, TLS, reset, truncated body),
//   kDeadlineExceeded (connect or total timeout), kResourceExhausted (body
//   over the limit, detected while streaming), kInvalidArgument (bad URL),
//   kCancelled (CancelAll or shutdown).
// - Bodies arrive decoded (gzip, deflate, br).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "crawler/core/clock.h"
#include "crawler/core/http.h"
#include "crawler/core/status.h"

namespace earshot {

struct TransportOptions {
  Duration connect_timeout = std::chrono::seconds(10);
  Duration total_timeout = std::chrono::seconds(30);
  int64_t max_body_bytes = 16 * 1024 * 1024;
  int max_redirects = 5;
  // Sent on every request; operators set a contact URL in it ([http]).
  std::string user_agent = "earshot/0.1 (+https://github.com/earshot-nhs/earshot)";
  // Extra CA bundle (PEM) for tests against a local TLS server; empty: system.
  std::string ca_file;
};

class HttpTransport {
 public:
  using Callback = std::function<void(Result<HttpResponse>)>;
  virtual ~HttpTransport() = default;
  virtual void Start(HttpRequest request, Callback done) = 0;
  // Fails every request in flight with kCancelled (their callbacks still run).
  virtual void CancelAll() = 0;
  virtual size_t InFlight() const = 0;
};

}  // namespace earshot
