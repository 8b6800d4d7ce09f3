#include "crawler/server/fixture_server.h"
#include "crawler/core/strings.h"

#include <spdlog/spdlog.h>
#include <toml++/toml.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string_view>
#include <thread>

#include "crawler/core/http.h"
#include "crawler/core/time_format.h"
#include "crawler/core/url.h"

namespace earshot {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

constexpr std::string_view kBasePlaceholder = "{{base}}";

// Replaces each `{{request:NAME}}` with form field NAME of `form_body`
// (application/x-www-form-urlencoded, decoded), escaped for a JSON string;
// empty when absent. Lets a scripted write API echo what it was sent.
std::string FillRequestFields(std::string text, std::string_view form_body) {
  constexpr std::string_view kOpen = "{{request:";
  size_t at = 0;
  while ((at = text.find(kOpen, at)) != std::string::npos) {
    const size_t close = text.find("}}", at + kOpen.size());
    if (close == std::string::npos) break;
    const std::string name = text.substr(at + kOpen.size(), close - at - kOpen.size());
    const std::string value = QueryParam("http://fixture.invalid/?" + std::string(form_body), name);
    std::string escaped = boost::json::serialize(boost::json::string(value));
    escaped = escaped.substr(1, escaped.size() - 2);  // without the quotes
    text.replace(at, close + 2 - at, escaped);
    at += escaped.size();
  }
  return text;
}

std::string ReplaceAll(std::string text, std::string_view from, std::string_view to) {
  for (size_t pos = text.find(from); pos != std::string::npos;
       pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

// If-None-Match uses the weak comparison (RFC 9110 §13.1.2): W/ is ignored.
std::string_view StripWeak(std::string_view tag) {
  tag = TrimAsciiSpace(tag);
  if (tag.size() >= 2 && (tag[0] == 'W' || tag[0] == 'w') && tag[1] == '/') {
    tag.remove_prefix(2);
  }
  return tag;
}

bool IfNoneMatchHits(std::string_view if_none_match, std::string_view etag) {
  if (TrimAsciiSpace(if_none_match) == "*") return true;
  const std::string_view wanted = StripWeak(etag);
  while (!if_none_match.empty()) {
    const size_t comma = if_none_match.find(',');
    if (StripWeak(if_none_match.substr(0, comma)) == wanted) return true;
    if (comma == std::string_view::npos) break;
    if_none_match.remove_prefix(comma + 1);
  }
  return false;
}

const std::string* FindHeader(const std::vector<std::pair<std::string, std::string>>& headers,
                              std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return &value;
  }
  return nullptr;
}

bool IsNotModified(const FixtureRoute& route, const http::request<http::string_body>& req) {
  // A scripted fault (429, 5xx) stays a fault whatever the client holds.
  if (!route.honour_conditional || route.status / 100 != 2) return false;
  const auto inm = req.find(http::field::if_none_match);
  if (inm != req.end()) {
    const std::string* etag = FindHeader(route.headers, "ETag");
    return etag != nullptr && IfNoneMatchHits(inm->value(), *etag);
  }
  // If-Modified-Since only counts when there is no If-None-Match (RFC 9110 §13.1.3).
  const auto ims = req.find(http::field::if_modified_since);
  const std::string* last_modified = FindHeader(route.headers, "Last-Modified");
  if (ims == req.end() || last_modified == nullptr) return false;
  if (ims->value() == *last_modified) return true;
  Result<TimePoint> since = ParseHttpDate(ims->value());
  Result<TimePoint> modified = ParseHttpDate(*last_modified);
  return since.ok() && modified.ok() && *modified <= *since;
}

// Headers a 304 repeats from the 200 it stands for (RFC 9110 §15.4.5).
bool KeptOnNotModified(std::string_view name) {
  for (std::string_view kept :
       {"ETag", "Cache-Control", "Expires", "Vary", "Last-Modified", "Content-Location", "Date"}) {
    if (EqualsIgnoreCase(name, kept)) return true;
  }
  return false;
}

class FixtureServerImpl;

// One accepted connection: reads requests one after another (keep-alive) and
// answers each from the script. Lives as long as an asynchronous operation
// holds it.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, FixtureServerImpl* server)
      : stream_(std::move(socket)), timer_(stream_.get_executor()), server_(server) {}

  void Start() { ReadRequest(); }

 private:
  void ReadRequest();
  void OnRequest(beast::error_code ec);
  void Respond();
  void OnWritten(beast::error_code ec, bool close);
  void WriteTruncated(size_t body_bytes);
  void Close();

  beast::tcp_stream stream_;
  asio::steady_timer timer_;
  FixtureServerImpl* server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
  std::optional<http::response_serializer<http::string_body>> serializer_;
};

class FixtureServerImpl final : public FixtureServer {
 public:
  FixtureServerImpl(std::vector<FixtureRoute> routes) : routes_(std::move(routes)) {}
  ~FixtureServerImpl() override { Stop(); }

  Status Listen(uint16_t port) {
    try {
      const tcp::endpoint endpoint(asio::ip::make_address_v4("127.0.0.1"), port);
      acceptor_.open(endpoint.protocol());
      acceptor_.set_option(asio::socket_base::reuse_address(true));
      acceptor_.bind(endpoint);
      acceptor_.listen(asio::socket_base::max_listen_connections);
      port_ = acceptor_.local_endpoint().port();
    } catch (const boost::system::system_error& e) {
      return Status::Unavailable("fixture server cannot listen on 127.0.0.1:" +
                                 std::to_string(port) + ": " + e.code().message());
    }
    base_url_ = "http://127.0.0.1:" + std::to_string(port_);
    Accept();
    thread_ = std::thread([this] { Run(); });
    return Status::Ok();
  }

  uint16_t port() const override { return port_; }
  std::string BaseUrl() const override { return base_url_; }

  void SetRoutes(std::vector<FixtureRoute> routes) override {
    std::lock_guard<std::mutex> lock(mu_);
    routes_ = std::move(routes);
  }

  std::vector<RecordedRequest> Requests() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

  bool WaitForRequests(size_t n, Duration timeout) const override {
    std::unique_lock<std::mutex> lock(mu_);
    return request_received_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
  }

  void Stop() override {
    if (stopped_.exchange(true)) return;
    // Pending handlers (and the sessions they own) are destroyed with the
    // io_context; closing the acceptor first refuses new connections.
    asio::post(ioc_, [this] {
      beast::error_code ignored;
      acceptor_.close(ignored);
      ioc_.stop();
    });
    if (thread_.joinable()) thread_.join();
  }

  // Records the request and picks the route that answers it, with
  // `{{base}}` already substituted. nullopt: no route for that target.
  std::optional<FixtureRoute> Choose(const http::request<http::string_body>& req) {
    RecordedRequest record;
    record.method = std::string(req.method_string());
    record.target = std::string(req.target());
    for (const auto& field : req) {
      record.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    record.body = req.body();
    const std::string target = record.target;
    const std::string path = target.substr(0, target.find('?'));

    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back(std::move(record));
    request_received_.notify_all();
    // A route naming the query exactly wins over one that ignores it.
    std::string script_key;
    for (const FixtureRoute& route : routes_) {
      if (route.target == target && route.target.find('?') != std::string::npos) {
        script_key = route.target;
        break;
      }
    }
    if (script_key.empty()) {
      for (const FixtureRoute& route : routes_) {
        if (route.target == path && route.target.find('?') == std::string::npos) {
          script_key = route.target;
          break;
        }
      }
    }
    if (script_key.empty()) return std::nullopt;

    const size_t served = served_[script_key]++;
    const FixtureRoute* chosen = nullptr;
    size_t index = 0;
    for (const FixtureRoute& route : routes_) {
      if (route.target != script_key) continue;
      chosen = &route;
      if (index++ == served) break;
    }
    FixtureRoute out = *chosen;
    out.body = ReplaceAll(std::move(out.body), kBasePlaceholder, base_url_);
    out.body = FillRequestFields(std::move(out.body), requests_.back().body);
    for (auto& header : out.headers) {
      header.second = ReplaceAll(std::move(header.second), kBasePlaceholder, base_url_);
    }
    return out;
  }

 private:
  void Accept() {
    // One thread runs the io_context, so handlers never race; no strands.
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
      if (ec) {
        spdlog::warn("fixture server: accept failed: {}", ec.message());
      } else {
        std::make_shared<Session>(std::move(socket), this)->Start();
      }
      Accept();
    });
  }

  void Run() {
    for (;;) {
      try {
        ioc_.run();
        return;
      } catch (const std::exception& e) {
        spdlog::error("fixture server: {}", e.what());
      }
    }
  }

  // Declared first so that it outlives the acceptor and every session.
  asio::io_context ioc_{1};
  tcp::acceptor acceptor_{ioc_};
  uint16_t port_ = 0;
  std::string base_url_;
  std::thread thread_;
  std::atomic<bool> stopped_{false};

  mutable std::mutex mu_;
  std::vector<FixtureRoute> routes_;
  std::map<std::string, size_t> served_;
  std::vector<RecordedRequest> requests_;
  mutable std::condition_variable request_received_;
};

void Session::ReadRequest() {
  parser_.emplace();
  parser_->body_limit(16 * 1024 * 1024);
  http::async_read(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRequest(ec); });
}

void Session::OnRequest(beast::error_code ec) {
  if (ec) {
    if (ec != http::error::end_of_stream && ec != asio::error::operation_aborted &&
        ec != asio::error::connection_reset) {
      spdlog::debug("fixture server: read failed: {}", ec.message());
    }
    Close();
    return;
  }
  request_ = parser_->release();
  std::optional<FixtureRoute> route = server_->Choose(request_);
  response_ = {};
  response_.version(request_.version());
  response_.keep_alive(request_.keep_alive());
  response_.set(http::field::server, "earshot-fixture-server");

  size_t truncate_at = std::string::npos;
  Duration delay{0};
  if (!route) {
    response_.result(http::status::not_found);
    response_.set(http::field::content_type, "text/plain; charset=utf-8");
    response_.body() = "no fixture route for " + std::string(request_.target()) + "\n";
    response_.prepare_payload();
  } else if (IsNotModified(*route, request_)) {
    response_.result(http::status::not_modified);
    for (const auto& [name, value] : route->headers) {
      if (KeptOnNotModified(name)) response_.insert(name, value);
    }
    delay = route->delay;
  } else {
    response_.result(static_cast<unsigned>(route->status));
    for (const auto& [name, value] : route->headers) {
      if (EqualsIgnoreCase(name, "Content-Length") || EqualsIgnoreCase(name, "Transfer-Encoding")) {
        continue;  // framing is ours to get right (or wrong, via truncate_at)
      }
      response_.insert(name, value);
    }
    const int status_class = route->status / 100;
    if (status_class != 1 && route->status != 204 && route->status != 304) {
      response_.body() = std::move(route->body);
      response_.prepare_payload();
    }
    if (route->truncate_at >= 0 &&
        static_cast<uint64_t>(route->truncate_at) < response_.body().size()) {
      truncate_at = static_cast<size_t>(route->truncate_at);
    }
    delay = route->delay;
  }
  if (request_.method() == http::verb::head) {
    const size_t length = response_.body().size();
    response_.body().clear();
    if (response_.result() != http::status::not_modified) response_.content_length(length);
    truncate_at = std::string::npos;
  }

  auto send = [self = shared_from_this(), truncate_at] {
    if (truncate_at != std::string::npos) {
      self->WriteTruncated(truncate_at);
    } else {
      self->Respond();
    }
  };
  if (delay > Duration::zero()) {
    timer_.expires_after(delay);
    timer_.async_wait([send](beast::error_code wait_ec) {
      if (!wait_ec) send();
    });
  } else {
    send();
  }
}

void Session::Respond() {
  const bool close = response_.need_eof();
  http::async_write(stream_, response_,
                    [self = shared_from_this(), close](beast::error_code ec, size_t) {
                      self->OnWritten(ec, close);
                    });
}

void Session::OnWritten(beast::error_code ec, bool close) {
  if (ec) {
    spdlog::debug("fixture server: write failed: {}", ec.message());
    Close();
    return;
  }
  if (close) {
    Close();
    return;
  }
  ReadRequest();
}

// Sends the header (announcing the full Content-Length) and only the first
// `body_bytes` of the body, then closes: the client sees a short body.
void Session::WriteTruncated(size_t body_bytes) {
  serializer_.emplace(response_);
  http::async_write_header(
      stream_, *serializer_, [self = shared_from_this(), body_bytes](beast::error_code ec, size_t) {
        if (ec) {
          self->Close();
          return;
        }
        asio::async_write(self->stream_.socket(),
                          asio::buffer(self->response_.body().data(), body_bytes),
                          [self](beast::error_code, size_t) { self->Close(); });
      });
}

void Session::Close() {
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.socket().close(ignored);
}

std::string Where(const std::filesystem::path& file, const toml::source_region& region) {
  return file.string() + ":" + std::to_string(region.begin.line) + ":" +
         std::to_string(region.begin.column);
}

Result<std::string> ReadWholeFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return Status::IoError("error reading " + path.string());
  return out.str();
}

Result<FixtureRoute> ParseRoute(const std::filesystem::path& file, const toml::table& table) {
  FixtureRoute route;
  const std::string where = Where(file, table.source());
  const toml::node* target = table.get("target");
  if (target == nullptr || !target->is_string()) {
    return Status::InvalidArgument(where + ": route needs a string `target`");
  }
  route.target = target->as_string()->get();
  if (route.target.empty() || route.target.front() != '/') {
    return Status::InvalidArgument(Where(file, target->source()) + ": route target '" +
                                   route.target + "' must start with '/'");
  }
  const std::string name = "route '" + route.target + "'";
  bool has_body = false;
  for (const auto& [key, node] : table) {
    const std::string at = Where(file, node.source());
    const std::string_view k = key.str();
    auto wrong_type = [&](std::string_view wanted) {
      return Status::InvalidArgument(at + ": " + name + ": `" + std::string(k) + "` must be " +
                                     std::string(wanted));
    };
    if (k == "target") continue;
    if (k == "status") {
      const auto value = node.value<int64_t>();
      if (!node.is_integer() || !value || *value < 100 || *value > 599) {
        return wrong_type("an integer HTTP status from 100 to 599");
      }
      route.status = static_cast<int>(*value);
    } else if (k == "headers") {
      const toml::table* headers = node.as_table();
      if (headers == nullptr) return wrong_type("a table of strings");
      // toml::table is ordered by key; the file's order is what the author meant.
      std::vector<std::pair<const toml::key*, const toml::node*>> in_file_order;
      for (const auto& [header_name, header_value] : *headers) {
        in_file_order.emplace_back(&header_name, &header_value);
      }
      std::sort(in_file_order.begin(), in_file_order.end(), [](const auto& a, const auto& b) {
        const auto& pa = a.first->source().begin;
        const auto& pb = b.first->source().begin;
        return pa.line != pb.line ? pa.line < pb.line : pa.column < pb.column;
      });
      for (const auto& [header_name, header_value] : in_file_order) {
        const std::string header = std::string(header_name->str());
        auto bad_header = [&] {
          return Status::InvalidArgument(Where(file, header_value->source()) + ": " + name +
                                         ": header '" + header +
                                         "' must be a string or an array of strings");
        };
        if (const toml::array* values = header_value->as_array()) {
          // Repeated header lines (several Link or Set-Cookie headers).
          for (const toml::node& value : *values) {
            if (!value.is_string()) return bad_header();
            route.headers.emplace_back(header, value.as_string()->get());
          }
        } else if (header_value->is_string()) {
          route.headers.emplace_back(header, header_value->as_string()->get());
        } else {
          return bad_header();
        }
      }
    } else if (k == "body" || k == "body_file") {
      if (!node.is_string()) return wrong_type("a string");
      if (has_body) {
        return Status::InvalidArgument(at + ": " + name + ": give `body` or `body_file`, not both");
      }
      has_body = true;
      if (k == "body") {
        route.body = node.as_string()->get();
      } else {
        const std::filesystem::path body_path =
            file.parent_path() / std::filesystem::path(node.as_string()->get());
        Result<std::string> body = ReadWholeFile(body_path);
        if (!body.ok()) {
          return Status(body.status().code(), at + ": " + name + ": body_file '" +
                                                  node.as_string()->get() +
                                                  "': " + body.status().message());
        }
        route.body = std::move(body).value();
      }
    } else if (k == "delay") {
      if (!node.is_string()) return wrong_type("a duration string such as \"250ms\" or \"2s\"");
      Result<Duration> delay = ParseDuration(node.as_string()->get());
      if (!delay.ok()) {
        return Status::InvalidArgument(at + ": " + name + ": bad delay '" +
                                       node.as_string()->get() + "': " + delay.status().message());
      }
      route.delay = *delay;
    } else if (k == "truncate_at") {
      const auto value = node.value<int64_t>();
      if (!node.is_integer() || !value || *value < 0) {
        return wrong_type("a non-negative integer (body bytes sent before closing)");
      }
      route.truncate_at = *value;
    } else if (k == "honour_conditional") {
      if (!node.is_boolean()) return wrong_type("true or false");
      route.honour_conditional = node.as_boolean()->get();
    } else {
      return Status::InvalidArgument(Where(file, key.source()) + ": " + name + ": unknown key '" +
                                     std::string(k) +
                                     "' (known: target, status, headers, body, body_file, "
                                     "delay, truncate_at, honour_conditional)");
    }
  }
  return route;
}

}  // namespace

Result<std::unique_ptr<FixtureServer>> FixtureServer::Start(std::vector<FixtureRoute> routes,
                                                            uint16_t port) {
  try {
    auto server = std::make_unique<FixtureServerImpl>(std::move(routes));
    EARSHOT_RETURN_IF_ERROR(server->Listen(port));
    return std::unique_ptr<FixtureServer>(std::move(server));
  } catch (const std::exception& e) {
    return Status::Internal(std::string("fixture server failed to start: ") + e.what());
  }
}

Result<std::vector<FixtureRoute>> LoadFixtureRoutes(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    return Status::NotFound("routes file " + file.string() + " does not exist");
  }
  toml::table root;
  try {
    root = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    return Status::ParseError(Where(file, e.source()) + ": " + std::string(e.description()));
  }
  std::vector<FixtureRoute> routes;
  for (const auto& [key, node] : root) {
    if (key.str() != "route") {
      return Status::InvalidArgument(Where(file, key.source()) + ": unknown key '" +
                                     std::string(key.str()) + "' (expected [[route]] tables)");
    }
    const toml::array* array = node.as_array();
    if (array == nullptr || !array->is_array_of_tables()) {
      return Status::InvalidArgument(Where(file, node.source()) +
                                     ": `route` must be an array of tables ([[route]])");
    }
    for (const toml::node& element : *array) {
      Result<FixtureRoute> route = ParseRoute(file, *element.as_table());
      if (!route.ok()) return route.status();
      routes.push_back(std::move(route).value());
    }
  }
  if (routes.empty()) {
    return Status::InvalidArgument(file.string() + ": no [[route]] tables");
  }
  return routes;
}

}  // namespace earshot
