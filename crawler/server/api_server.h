// ApiServer: the JSON API over HTTP/1.1 (Boost.Beast), answering with
// ApiRoutes (api_routes.h), and the web inbox on the same listener: paths
// under /api go to ApiRoutes, every other path to ServeInbox
// (inbox_routes.h, the files embedded in the binary).
//
// - One I/O thread runs the io_context: accepting, reading and writing are
//   asynchronous, and every request is handled on that thread, one at a
//   time, because the stores behind ApiRoutes are single-threaded.
// - Limits: request headers kMaxHeaderBytes (431 beyond), bodies
//   kMaxBodyBytes (413 beyond); a connection idle or slow for
//   kIdleTimeout is closed; beyond max_connections open at once, a new
//   connection is closed unanswered. Keep-alive is honoured.
// - Every API response carries Content-Type: application/json; charset=utf-8,
//   Cache-Control: no-store and X-Content-Type-Options: nosniff; the
//   inbox's name their own type, caching and security headers.
// - One log line per request (method, path without query, status, user,
//   milliseconds); never the Authorization header or the query string.
// Borrows `routes`, which must outlive the server.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "crawler/core/status.h"
#include "crawler/server/api_routes.h"

namespace earshot {

struct ApiServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0 picks a free port
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 1024 * 1024;
  std::chrono::seconds idle_timeout{30};
  // Connections open at once; one more is closed as soon as it is accepted,
  // so idle or slow clients cannot take every file descriptor of the
  // process (`earshot run` crawls in the same one).
  size_t max_connections = 256;
};

class ApiServer {
 public:
  // Binds and listens, then serves on a thread of its own until Stop().
  static Result<std::unique_ptr<ApiServer>> Start(ApiRoutes& routes, ApiServerOptions options);
  virtual ~ApiServer() = default;

  virtual uint16_t port() const = 0;
  // "http://HOST:PORT"
  virtual std::string BaseUrl() const = 0;
  // Stops accepting, closes every connection (a request being handled is
  // finished first: handling is synchronous on the I/O thread) and joins the
  // thread. Idempotent; the destructor calls it. Thread-safe.
  virtual void Stop() = 0;
};

}  // namespace earshot
