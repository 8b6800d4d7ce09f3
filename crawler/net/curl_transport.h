// CurlTransport: the production HttpTransport. libcurl's multi-socket
// interface driven by one Boost.Asio io_context, so many requests are in
// flight at once on the single thread that runs that io_context.
//
// Cheap to include: no libcurl or Boost headers here (pimpl).
//
// Per request, from TransportOptions: connect and total timeouts, the body
// size limit (enforced while streaming and from Content-Length), decoded
// gzip/deflate/br bodies, at most `max_redirects` redirects (http and https
// only, as is the request itself), TLS peer and host verification (system CA
// store, or `ca_file`), proxies from the environment (http_proxy,
// https_proxy, no_proxy: libcurl's own handling), the User-Agent.
// HttpResponse::headers holds the fields of the final response only (after
// redirects); HttpResponse::url is the effective URL.
//
// Threading: not thread-safe. Construct, call, and destroy it on the thread
// that runs the io_context (or before that thread starts running it). Every
// callback is posted to the io_context, never run inside Start(), CancelAll()
// or libcurl, so a callback may call Start() and CancelAll() freely.
//
// Lifetime: the io_context must outlive the transport. Destroying the
// transport with requests in flight fails them with kCancelled; those
// callbacks are posted and run the next time the io_context runs.
#pragma once

#include <cstddef>
#include <memory>

#include "crawler/core/status.h"
#include "crawler/net/transport.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace earshot {

// Initialises libcurl for the process exactly once (thread-safe; later calls
// return the first call's outcome). CurlTransport calls it itself; a program
// may call it early to fail fast. libcurl is never cleaned up: it lives as
// long as the process.
Status CurlGlobalInit();

class CurlTransport final : public HttpTransport {
 public:
  CurlTransport(boost::asio::io_context& io, TransportOptions options = {});
  ~CurlTransport() override;
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  // Methods: GET and HEAD (request.body ignored), POST (request.body sent
  // as is, even when empty), any other verb verbatim with its body if any.
  // request.headers are sent as given; a User-Agent there overrides the
  // options' one.
  void Start(HttpRequest request, Callback done) override;
  void CancelAll() override;
  size_t InFlight() const override;

 private:
  class Impl;
  // Shared so that asio handlers still queued after destruction can see it
  // is gone (they hold weak references).
  std::shared_ptr<Impl> impl_;
};

}  // namespace earshot
