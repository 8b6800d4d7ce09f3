#include "tests/support/fake_transport.h"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cstdint>
#include <map>

namespace earshot::testing {

HttpResponse MakeResponse(int status, std::string body,
                          std::vector<std::pair<std::string, std::string>> headers) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  for (auto& [name, value] : headers) response.headers.Add(std::move(name), std::move(value));
  return response;
}

namespace {
struct ScriptState {
  std::vector<FakeReply> replies;
  size_t next = 0;
  FakeTransport::Handler handler;

  FakeReply Take(const HttpRequest& request) {
    if (handler) return handler(request);
    FakeReply reply = replies[next];
    if (next + 1 < replies.size()) ++next;
    return reply;
  }
};
}  // namespace

struct FakeTransport::Impl : std::enable_shared_from_this<Impl> {
  explicit Impl(boost::asio::io_context& io) : io(io) {}

  struct Pending {
    Callback done;
    FakeReply reply;
    bool cancelled = false;
  };

  void Complete(uint64_t id) {
    auto it = pending.find(id);
    if (it == pending.end()) return;
    Pending p = std::move(it->second);
    pending.erase(it);
    if (p.cancelled) {
      p.done(Status::Cancelled("FakeTransport: request cancelled"));
    } else if (auto* status = std::get_if<Status>(&p.reply)) {
      p.done(*status);
    } else {
      p.done(std::get<HttpResponse>(std::move(p.reply)));
    }
  }

  void PostCompletion(uint64_t id) {
    // A completion that runs after the transport is gone does nothing.
    boost::asio::post(io, [self = weak_from_this(), id] {
      if (auto impl = self.lock()) impl->Complete(id);
    });
  }

  boost::asio::io_context& io;
  std::map<std::string, ScriptState> exact;
  std::map<std::string, ScriptState> prefixes;
  std::vector<HttpRequest> requests;
  std::map<uint64_t, Pending> pending;
  uint64_t next_id = 1;
  size_t unscripted = 0;
  size_t max_in_flight = 0;
  bool held = false;
};

FakeTransport::FakeTransport(boost::asio::io_context& io) : impl_(std::make_shared<Impl>(io)) {}

FakeTransport::~FakeTransport() = default;

void FakeTransport::Script(const std::string& url, std::vector<FakeReply> replies) {
  impl_->exact[url] = {std::move(replies), 0, nullptr};
}

void FakeTransport::ScriptPrefix(const std::string& prefix, std::vector<FakeReply> replies) {
  impl_->prefixes[prefix] = {std::move(replies), 0, nullptr};
}

void FakeTransport::Handle(const std::string& prefix, Handler handler) {
  impl_->prefixes[prefix] = {{}, 0, std::move(handler)};
}

void FakeTransport::Hold() { impl_->held = true; }

void FakeTransport::Release() {
  impl_->held = false;
  for (const auto& [id, pending] : impl_->pending) impl_->PostCompletion(id);
}

const std::vector<HttpRequest>& FakeTransport::requests() const { return impl_->requests; }

std::vector<HttpRequest> FakeTransport::RequestsTo(std::string_view prefix) const {
  std::vector<HttpRequest> out;
  for (const HttpRequest& r : impl_->requests) {
    if (std::string_view(r.url).substr(0, prefix.size()) == prefix) out.push_back(r);
  }
  return out;
}

size_t FakeTransport::unscripted() const { return impl_->unscripted; }
size_t FakeTransport::max_in_flight() const { return impl_->max_in_flight; }
size_t FakeTransport::InFlight() const { return impl_->pending.size(); }

void FakeTransport::Start(HttpRequest request, Callback done) {
  impl_->requests.push_back(request);
  ScriptState* script = nullptr;
  if (auto it = impl_->exact.find(request.url); it != impl_->exact.end()) {
    script = &it->second;
  } else {
    size_t best = 0;
    for (auto& [prefix, candidate] : impl_->prefixes) {
      if (request.url.compare(0, prefix.size(), prefix) == 0 && prefix.size() >= best) {
        best = prefix.size();
        script = &candidate;
      }
    }
  }
  FakeReply reply;
  if (script != nullptr && (script->handler || !script->replies.empty())) {
    reply = script->Take(request);
  } else {
    ++impl_->unscripted;
    reply = MakeResponse(404, "FakeTransport: no script for " + request.url);
  }
  if (auto* response = std::get_if<HttpResponse>(&reply); response && response->url.empty()) {
    response->url = request.url;
  }
  const uint64_t id = impl_->next_id++;
  impl_->pending.emplace(id, Impl::Pending{std::move(done), std::move(reply), false});
  impl_->max_in_flight = std::max(impl_->max_in_flight, impl_->pending.size());
  if (!impl_->held) impl_->PostCompletion(id);
}

void FakeTransport::CancelAll() {
  for (auto& [id, pending] : impl_->pending) {
    pending.cancelled = true;
    impl_->PostCompletion(id);
  }
}

}  // namespace earshot::testing
