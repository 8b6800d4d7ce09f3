// FixtureServer: a local HTTP source server on 127.0.0.1 (Boost.Beast) that
// serves scripted responses. It backs `earshot demo` (our bundled sample
// posts) and the integration tests (recorded responses and scripted faults:
// 429 + Retry-After, 5xx, slow responses, truncated and malformed bodies).
// Not for production traffic: it binds loopback only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "crawler/core/clock.h"
#include "crawler/core/status.h"

namespace earshot {

// One scripted response. Several routes with the same target are served in
// order, one request each; the last one repeats. Any method matches (GET,
// HEAD, POST...): tests acting as a platform's write API read what was sent
// from Requests().
struct FixtureRoute {
  // Request target to match: "/tags/nhs.rss". A target without '?' matches
  // any query string; one with '?' must match exactly.
  std::string target;
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Faults. `delay` holds the response back (client timeout tests);
  // `truncate_at` announces the full Content-Length but closes the connection
  // after that many body bytes.
  Duration delay{0};
  int64_t truncate_at = -1;
  // Answer 304 Not Modified when the request's If-None-Match equals this
  // route's ETag header (weak comparison; a list or "*" also matches) or,
  // without If-None-Match, when If-Modified-Since is not before its
  // Last-Modified header. Only 2xx routes answer 304.
  bool honour_conditional = true;
};

struct RecordedRequest {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // as received (a POST's form or JSON), at most 16 MiB
};

class FixtureServer {
 public:
  // Binds 127.0.0.1:`port` (0 picks a free port) and serves on a thread of
  // its own until Stop() or destruction.
  static Result<std::unique_ptr<FixtureServer>> Start(std::vector<FixtureRoute> routes,
                                                      uint16_t port = 0);
  virtual ~FixtureServer() = default;

  virtual uint16_t port() const = 0;
  // "http://127.0.0.1:PORT"
  virtual std::string BaseUrl() const = 0;
  // Replaces the script (thread-safe); request counters keep counting.
  virtual void SetRoutes(std::vector<FixtureRoute> routes) = 0;
  // Every request received so far, in order (thread-safe copy).
  virtual std::vector<RecordedRequest> Requests() const = 0;
  // Blocks until at least `n` requests have been received in all (the count
  // Requests() returns; a request counts once it has been read, before it is
  // answered) or `timeout` passes. True when they have. Thread-safe; for
  // tests that drive another process and must wait for its traffic.
  virtual bool WaitForRequests(size_t n, Duration timeout) const = 0;
  // Closes the listener and every connection (responses still being delayed
  // are dropped) and joins the server thread. Idempotent; the destructor
  // calls it.
  virtual void Stop() = 0;
};

// Reads a routes file (TOML, see config/demo/routes.toml for the format):
// [[route]] target, status, headers = { "Content-Type" = "..." }, body_file
// (relative to the routes file) or body, delay, truncate_at,
// honour_conditional. `{{base}}` in a body or a header value is replaced by
// the server's base URL when it is served; `{{request:NAME}}` in a body by
// form field NAME of the request's body (JSON-escaped; empty when absent),
// so a scripted write API can echo what it was sent. Errors name file:line:column.
Result<std::vector<FixtureRoute>> LoadFixtureRoutes(const std::filesystem::path& file);

}  // namespace earshot
