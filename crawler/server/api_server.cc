#include "crawler/server/api_server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <list>
#include <mutex>
#include <optional>
#include <thread>

#include "crawler/inbox/inbox_assets.h"
#include "crawler/server/inbox_routes.h"

namespace earshot {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

class ApiSession;

// State the sessions share with the server; touched on the I/O thread only.
struct ServerCore {
  ApiRoutes& routes;
  const InboxAssets& inbox;
  ApiServerOptions options;
  std::list<std::weak_ptr<ApiSession>> sessions;
  bool stopping = false;
};

class ApiSession : public std::enable_shared_from_this<ApiSession> {
 public:
  ApiSession(tcp::socket socket, ServerCore& core) : stream_(std::move(socket)), core_(core) {}

  void Start() { Read(); }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

 private:
  void Read() {
    if (core_.stopping) return Close();
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(core_.options.max_header_bytes));
    parser_->body_limit(core_.options.max_body_bytes);
    stream_.expires_after(core_.options.idle_timeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || core_.stopping) {
      return Close();
    }
    if (ec == http::error::body_limit) {
      return Refuse(413, "the request body is over " +
                             std::to_string(core_.options.max_body_bytes) + " bytes");
    }
    if (ec == http::error::header_limit) {
      return Refuse(431, "the request headers are over " +
                             std::to_string(core_.options.max_header_bytes) + " bytes");
    }
    if (ec && ec.category() == beast::error_code(http::error::end_of_stream).category()) {
      return Refuse(400, "malformed HTTP request: " + ec.message());
    }
    if (ec) return Close();

    const auto started = std::chrono::steady_clock::now();
    const http::request<http::string_body>& request = parser_->get();
    ApiRequest api;
    api.method = std::string(request.method_string());
    api.target = std::string(request.target());
    api.authorization = std::string(request[http::field::authorization]);
    api.if_none_match = std::string(request[http::field::if_none_match]);
    api.body = request.body();
    ApiResponse answer;
    try {
      answer = IsApiTarget(api.target) ? core_.routes.Handle(api) : ServeInbox(core_.inbox, api);
    } catch (const std::exception& e) {
      spdlog::error("api: {} {}: {}", api.method, Path(api.target), e.what());
      answer = ApiRoutes::Error(500, "internal error");
    }
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - started)
                        .count();
    // A page load fetches a score of static files: logged only when verbose
    // or when they fail.
    const bool quiet = !IsApiTarget(api.target) && answer.status < 400;
    spdlog::log(quiet ? spdlog::level::debug : spdlog::level::info, "api {} {} {} user={} {}ms",
                api.method, Path(api.target), answer.status,
                answer.user.empty() ? "-" : answer.user, ms);
    Write(std::move(answer), request.keep_alive(), request.version(),
          request.method() == http::verb::head);
  }

  // The path alone: query strings may carry search words, never logged.
  static std::string Path(std::string_view target) {
    return std::string(target.substr(0, target.find('?')));
  }

  // Answers a request that could not be read, then closes.
  void Refuse(int status, std::string_view message) {
    spdlog::info("api - - {} {}", status, message);
    Write(ApiRoutes::Error(status, message), false, 11, false);
  }

  void Write(ApiResponse answer, bool keep_alive, unsigned version, bool head) {
    response_ = {};
    response_.version(version);
    response_.result(static_cast<unsigned>(answer.status));
    response_.set(http::field::server, "earshot");
    response_.set(http::field::content_type, "application/json; charset=utf-8");
    response_.set(http::field::cache_control, "no-store");
    response_.set("X-Content-Type-Options", "nosniff");
    for (const auto& [name, value] : answer.headers) response_.set(name, value);
    response_.body() = std::move(answer.body);
    response_.prepare_payload();
    if (head) response_.body().clear();  // Content-Length stays that of the GET
    response_.keep_alive(keep_alive && !core_.stopping);
    stream_.expires_after(core_.options.idle_timeout);
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec || !self->response_.keep_alive()) return self->Close();
                        self->Read();
                      });
  }

  beast::tcp_stream stream_;
  ServerCore& core_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
};

class ApiServerImpl final : public ApiServer {
 public:
  ApiServerImpl(ApiRoutes& routes, ApiServerOptions options)
      : core_{routes, InboxAssets::Embedded(), std::move(options), {}, false}, acceptor_(ioc_) {}

  ~ApiServerImpl() override { Stop(); }

  Status Listen() {
    beast::error_code ec;
    const asio::ip::address address = asio::ip::make_address(core_.options.host, ec);
    if (ec) return Status::InvalidArgument("bad listen address '" + core_.options.host + "'");
    const tcp::endpoint endpoint(address, core_.options.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Status::Unavailable("cannot listen on " + core_.options.host + ":" +
                                 std::to_string(core_.options.port) + ": " + ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    Accept();
    thread_ = std::thread([this] { ioc_.run(); });
    return Status::Ok();
  }

  uint16_t port() const override { return port_; }
  std::string BaseUrl() const override {
    return "http://" + core_.options.host + ":" + std::to_string(port_);
  }

  void Stop() override {
    std::lock_guard<std::mutex> lock(stop_mutex_);
    if (!thread_.joinable()) return;
    asio::post(ioc_, [this] {
      core_.stopping = true;
      beast::error_code ignored;
      acceptor_.close(ignored);
      accept_pause_.cancel();
      for (auto& weak : core_.sessions) {
        if (auto session = weak.lock()) session->Close();
      }
    });
    thread_.join();
  }

 private:
  void Accept() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec || core_.stopping) {
        if (ec != asio::error::operation_aborted && !core_.stopping) {
          spdlog::warn("api: accept failed: {}", ec.message());
        }
        if (core_.stopping || !acceptor_.is_open()) return;
        if (ec != asio::error::operation_aborted) {
          // Out of descriptors (EMFILE) fails every accept at once: a pause,
          // not a busy loop of warnings, until connections close.
          accept_pause_.expires_after(std::chrono::milliseconds(200));
          accept_pause_.async_wait([this](beast::error_code) {
            if (!core_.stopping && acceptor_.is_open()) Accept();
          });
          return;
        }
      } else {
        std::erase_if(core_.sessions, [](const auto& weak) { return weak.expired(); });
        if (core_.sessions.size() >= core_.options.max_connections) {
          // Logged once per spell, not once per connection refused.
          if (!refusing_) {
            spdlog::warn("api: {} connections open: refusing more until some close",
                         core_.sessions.size());
          }
          refusing_ = true;
          beast::error_code ignored;
          socket.close(ignored);
          return Accept();
        }
        refusing_ = false;
        auto session = std::make_shared<ApiSession>(std::move(socket), core_);
        core_.sessions.push_back(session);
        session->Start();
      }
      Accept();
    });
  }

  asio::io_context ioc_{1};
  ServerCore core_;
  tcp::acceptor acceptor_;
  asio::steady_timer accept_pause_{ioc_};
  bool refusing_ = false;  // over max_connections; I/O thread only
  uint16_t port_ = 0;
  std::thread thread_;
  std::mutex stop_mutex_;
};

}  // namespace

Result<std::unique_ptr<ApiServer>> ApiServer::Start(ApiRoutes& routes, ApiServerOptions options) {
  try {
    auto server = std::make_unique<ApiServerImpl>(routes, std::move(options));
    EARSHOT_RETURN_IF_ERROR(server->Listen());
    return std::unique_ptr<ApiServer>(std::move(server));
  } catch (const std::exception& e) {
    return Status::Internal(std::string("api server failed to start: ") + e.what());
  }
}

}  // namespace earshot
