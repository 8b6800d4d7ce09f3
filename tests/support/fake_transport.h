// FakeTransport: a scripted HttpTransport for component tests. Replies come
// from scripts keyed by URL, every request is recorded for assertions, and
// completions are posted to the given io_context (never run inline), as the
// HttpTransport contract demands: drive it with io.poll() / io.run().
//
// Matching: an exact-URL script wins; otherwise the longest matching prefix
// script or handler; otherwise a 404 reply, counted in unscripted().
// A script is a sequence: each request consumes one reply, the last repeats.
//
// Thread-safety: none; use from the io_context's thread.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "crawler/core/http.h"
#include "crawler/core/status.h"
#include "crawler/net/transport.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace earshot::testing {

// One scripted outcome: a response (any status) or a transport failure
// (a non-OK Status such as kUnavailable or kDeadlineExceeded).
using FakeReply = std::variant<HttpResponse, Status>;

// A response with the given status, body and header fields.
HttpResponse MakeResponse(int status, std::string body = {},
                          std::vector<std::pair<std::string, std::string>> headers = {});

class FakeTransport final : public HttpTransport {
 public:
  using Handler = std::function<FakeReply(const HttpRequest&)>;

  explicit FakeTransport(boost::asio::io_context& io);
  ~FakeTransport() override;
  FakeTransport(const FakeTransport&) = delete;
  FakeTransport& operator=(const FakeTransport&) = delete;

  // Replaces the script for exactly `url`.
  void Script(const std::string& url, std::vector<FakeReply> replies);
  void Script(const std::string& url, FakeReply reply) {
    Script(url, std::vector<FakeReply>{std::move(reply)});
  }
  // Replaces the script for every URL starting with `prefix`.
  void ScriptPrefix(const std::string& prefix, std::vector<FakeReply> replies);
  void ScriptPrefix(const std::string& prefix, FakeReply reply) {
    ScriptPrefix(prefix, std::vector<FakeReply>{std::move(reply)});
  }
  // Computes the reply for every URL starting with `prefix`.
  void Handle(const std::string& prefix, Handler handler);

  // While held, started requests stay in flight until Release() (to test
  // concurrency limits).
  void Hold();
  void Release();

  // Every request started, in order.
  const std::vector<HttpRequest>& requests() const;
  // Those whose URL starts with `prefix`.
  std::vector<HttpRequest> RequestsTo(std::string_view prefix) const;
  size_t unscripted() const;
  // The most requests that were ever in flight at once.
  size_t max_in_flight() const;

  void Start(HttpRequest request, Callback done) override;
  void CancelAll() override;
  size_t InFlight() const override;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace earshot::testing
