#include "crawler/net/curl_transport.h"
#include "crawler/core/strings.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace earshot {

Status CurlGlobalInit() {
  // A function-local static: initialised once, thread-safely, on first use.
  static const Status status = [] {
    const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
      return Status::Internal(std::string("curl_global_init failed: ") + curl_easy_strerror(rc) +
                              " (CURLcode " + std::to_string(static_cast<int>(rc)) + ")");
    }
    return Status::Ok();
  }();
  return status;
}

namespace {

namespace asio = boost::asio;
using ErrorCode = boost::system::error_code;

// One socket libcurl asked us to watch. Sockets curl opens for connections
// (through OnOpenSocket) are owned here and closed when curl says so. Any
// other descriptor curl reports (the threaded resolver's wake-up socketpair)
// is watched through a dup() of it, so that curl closing its copy at any
// moment can never leave the reactor holding a number that is reused.
struct Watch {
  Watch(asio::io_context& io, curl_socket_t fd, bool owned_by_us)
      : curl_fd(fd), descriptor(io), owned(owned_by_us) {}

  const curl_socket_t curl_fd;  // the number curl knows it by
  asio::posix::stream_descriptor descriptor;
  const bool owned;
  int wanted = 0;  // CURL_POLL_IN / CURL_POLL_OUT bits curl currently wants
  bool read_pending = false;
  bool write_pending = false;
  // Set when the descriptor is closed; queued handlers then do nothing.
  bool closed = false;

  void Close() {
    closed = true;
    if (owned) {
      ErrorCode ignored;
      descriptor.close(ignored);
    } else if (descriptor.is_open()) {
      // asio's close() leaves the epoll registration for the kernel to drop
      // when the last descriptor of that socket closes, and curl's original
      // may still be open: release() deregisters it explicitly first.
      ::close(descriptor.release());
    }
  }
};

// One request in flight. Heap-allocated and never moved: curl holds
// pointers to it (callbacks' user data, the POST body, the error buffer).
struct Transfer {
  ~Transfer() {
    if (easy != nullptr) curl_easy_cleanup(easy);
    curl_slist_free_all(header_list);
  }

  std::string Describe() const { return request.method + " " + request.url; }

  HttpRequest request;
  HttpTransport::Callback done;
  HttpResponse response;
  // Fields of the response being received; the last response's become
  // response.headers.
  std::vector<std::pair<std::string, std::string>> header_fields;
  CURL* easy = nullptr;
  curl_slist* header_list = nullptr;
  int64_t max_body_bytes = 0;
  bool body_too_large = false;
  char error[CURL_ERROR_SIZE] = {};
};

// How a failed transfer is reported; see the contract in transport.h.
StatusCode StatusCodeFor(CURLcode code) {
  switch (code) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return StatusCode::kInvalidArgument;
    case CURLE_OPERATION_TIMEDOUT:
      return StatusCode::kDeadlineExceeded;
    case CURLE_FILESIZE_EXCEEDED:
    case CURLE_OUT_OF_MEMORY:
      return StatusCode::kResourceExhausted;
    case CURLE_ABORTED_BY_CALLBACK:
      return StatusCode::kCancelled;
    case CURLE_FAILED_INIT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_UNKNOWN_OPTION:
    case CURLE_WRITE_ERROR:
    case CURLE_READ_ERROR:
      return StatusCode::kInternal;
    default:
      // DNS, connect, TLS, send/receive, truncated or garbled responses,
      // redirect loops: the network or the server, worth retrying later.
      return StatusCode::kUnavailable;
  }
}

std::string CurlCodeSuffix(CURLcode code) {
  return " (CURLcode " + std::to_string(static_cast<int>(code)) + ")";
}

}  // namespace

class CurlTransport::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& io, TransportOptions options)
      : io_(io), options_(std::move(options)), timer_(io) {}

  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  ~Impl() { Shutdown(); }

  void Init() {
    init_status_ = CurlGlobalInit();
    if (!init_status_.ok()) return;
    multi_ = curl_multi_init();
    if (multi_ == nullptr) {
      init_status_ = Status::Internal("curl_multi_init failed");
      return;
    }
    curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &Impl::OnSocket);
    curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &Impl::OnTimer);
    curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
  }

  void Start(HttpRequest request, Callback done) {
    auto transfer = std::make_unique<Transfer>();
    transfer->request = std::move(request);
    transfer->done = std::move(done);
    transfer->max_body_bytes = options_.max_body_bytes;
    if (!init_status_.ok()) {
      Post(std::move(transfer->done), init_status_.Annotate(transfer->Describe()));
      return;
    }
    if (Status status = Configure(*transfer); !status.ok()) {
      Post(std::move(transfer->done), std::move(status));
      return;
    }
    const CURLMcode rc = curl_multi_add_handle(multi_, transfer->easy);
    if (rc != CURLM_OK) {
      Post(std::move(transfer->done),
           Status::Internal(transfer->Describe() +
                            ": curl_multi_add_handle: " + curl_multi_strerror(rc)));
      return;
    }
    CURL* easy = transfer->easy;
    transfers_.emplace(easy, std::move(transfer));
  }

  void CancelAll() {
    // Taken out first: removing a handle calls back into OnSocket and
    // OnCloseSocket, which must see a consistent map.
    auto cancelled = std::move(transfers_);
    transfers_.clear();
    for (auto& [easy, transfer] : cancelled) {
      curl_multi_remove_handle(multi_, easy);
      Post(std::move(transfer->done), Status::Cancelled(transfer->Describe() + ": cancelled"));
    }
  }

  size_t InFlight() const { return transfers_.size(); }

 private:
  void Shutdown() {
    if (multi_ != nullptr) {
      CancelAll();
      // Closes cached connections through OnCloseSocket, so it runs while
      // the watch map is still here.
      curl_multi_cleanup(multi_);
      multi_ = nullptr;
    }
    for (auto& [fd, watch] : watches_) watch->Close();
    watches_.clear();
    ++timer_generation_;
    timer_.cancel();
  }

  Status Configure(Transfer& t) {
    t.easy = curl_easy_init();
    if (t.easy == nullptr) return Status::Internal(t.Describe() + ": curl_easy_init failed");

    CURLcode rc = CURLE_OK;
    CURLoption failed_option{};
    // Every option is set; the first failure is reported (all are expected
    // to succeed with the libcurl we build against).
    auto set = [&](CURLoption option, auto value) {
      if (rc != CURLE_OK) return;
      rc = curl_easy_setopt(t.easy, option, value);
      if (rc != CURLE_OK) failed_option = option;
    };
    set(CURLOPT_URL, t.request.url.c_str());
    set(CURLOPT_ERRORBUFFER, t.error);
    set(CURLOPT_NOSIGNAL, 1L);
    set(CURLOPT_PROTOCOLS_STR, "http,https");
    set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    set(CURLOPT_FOLLOWLOCATION, 1L);
    set(CURLOPT_MAXREDIRS, static_cast<long>(options_.max_redirects));
    set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
    set(CURLOPT_TIMEOUT_MS, static_cast<long>(options_.total_timeout.count()));
    set(CURLOPT_ACCEPT_ENCODING, "");  // every encoding this libcurl decodes
    set(CURLOPT_SSL_VERIFYPEER, 1L);
    set(CURLOPT_SSL_VERIFYHOST, 2L);
    if (!options_.ca_file.empty()) set(CURLOPT_CAINFO, options_.ca_file.c_str());
    set(CURLOPT_USERAGENT, options_.user_agent.c_str());
    if (options_.max_body_bytes > 0) {
      set(CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options_.max_body_bytes));
    }
    set(CURLOPT_WRITEFUNCTION, &Impl::OnBody);
    set(CURLOPT_WRITEDATA, &t);
    set(CURLOPT_HEADERFUNCTION, &Impl::OnHeader);
    set(CURLOPT_HEADERDATA, &t);
    set(CURLOPT_OPENSOCKETFUNCTION, &Impl::OnOpenSocket);
    set(CURLOPT_OPENSOCKETDATA, this);
    set(CURLOPT_CLOSESOCKETFUNCTION, &Impl::OnCloseSocket);
    set(CURLOPT_CLOSESOCKETDATA, this);

    const std::string& method = t.request.method;
    const bool bodyless = method == "GET" || method == "HEAD";
    const bool sends_body = method == "POST" || (!bodyless && !t.request.body.empty());
    if (method == "HEAD") set(CURLOPT_NOBODY, 1L);
    if (!bodyless && method != "POST") set(CURLOPT_CUSTOMREQUEST, method.c_str());
    if (sends_body) {
      set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t.request.body.size()));
      set(CURLOPT_POSTFIELDS, t.request.body.data());
    }

    bool has_expect = false;
    for (const auto& [name, value] : t.request.headers.fields()) {
      if (EqualsIgnoreCase(name, "Expect")) has_expect = true;
      // "Name;" is curl's spelling of a header sent with an empty value.
      const std::string line = value.empty() ? name + ";" : name + ": " + value;
      curl_slist* appended = curl_slist_append(t.header_list, line.c_str());
      if (appended == nullptr) return Status::ResourceExhausted(t.Describe() + ": out of memory");
      t.header_list = appended;
    }
    if (sends_body && !has_expect) {
      // Without this curl waits up to a second for "100 Continue" before
      // sending a larger body.
      curl_slist* appended = curl_slist_append(t.header_list, "Expect:");
      if (appended == nullptr) return Status::ResourceExhausted(t.Describe() + ": out of memory");
      t.header_list = appended;
    }
    if (t.header_list != nullptr) set(CURLOPT_HTTPHEADER, t.header_list);

    if (rc != CURLE_OK) {
      return Status::Internal(t.Describe() + ": curl_easy_setopt(" +
                              std::to_string(static_cast<int>(failed_option)) +
                              "): " + curl_easy_strerror(rc) + CurlCodeSuffix(rc));
    }
    return Status::Ok();
  }

  // --- libcurl callbacks. None of them calls back into libcurl. ---

  static size_t OnBody(char* data, size_t size, size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const size_t bytes = size * count;
    if (t->max_body_bytes > 0 &&
        static_cast<int64_t>(t->response.body.size() + bytes) > t->max_body_bytes) {
      t->body_too_large = true;
      return CURL_WRITEFUNC_ERROR;
    }
    t->response.body.append(data, bytes);
    return bytes;
  }

  static size_t OnHeader(char* data, size_t size, size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const size_t bytes = size * count;
    std::string_view line(data, bytes);
    if (line.starts_with("HTTP/")) {
      // A new response begins (after a redirect, a 1xx, or a proxy's
      // CONNECT answer): only the final one's fields and body are kept.
      t->header_fields.clear();
      t->response.body.clear();
      return bytes;
    }
    if (line.starts_with(' ') || line.starts_with('\t')) {
      // obs-fold continuation (RFC 9112 §5.2): part of the previous value.
      const std::string_view more = TrimAsciiSpace(line);
      if (!t->header_fields.empty() && !more.empty()) {
        t->header_fields.back().second += ' ';
        t->header_fields.back().second += more;
      }
      return bytes;
    }
    line = TrimAsciiSpace(line);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return bytes;  // blank or junk
    t->header_fields.emplace_back(std::string(TrimAsciiSpace(line.substr(0, colon))),
                                  std::string(TrimAsciiSpace(line.substr(colon + 1))));
    return bytes;
  }

  static curl_socket_t OnOpenSocket(void* user, curlsocktype purpose, curl_sockaddr* address) {
    auto* self = static_cast<Impl*>(user);
    if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
    const int fd = ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
    if (fd < 0) return CURL_SOCKET_BAD;
    // The kernel reused a number we still had an entry for: that entry is
    // stale (its descriptor is gone), so drop it without closing `fd`.
    if (auto it = self->watches_.find(fd); it != self->watches_.end()) {
      Watch& stale = *it->second;
      if (stale.owned) {
        stale.closed = true;
        stale.descriptor.release();
      } else {
        stale.Close();
      }
      self->watches_.erase(it);
    }
    auto watch = std::make_shared<Watch>(self->io_, fd, /*owned_by_us=*/true);
    ErrorCode ec;
    watch->descriptor.assign(fd, ec);
    if (ec) {
      ::close(fd);
      return CURL_SOCKET_BAD;
    }
    self->watches_.emplace(fd, std::move(watch));
    return fd;
  }

  static int OnCloseSocket(void* user, curl_socket_t fd) {
    auto* self = static_cast<Impl*>(user);
    auto it = self->watches_.find(fd);
    if (it == self->watches_.end() || !it->second->owned) return ::close(fd);
    // Closing through asio deregisters it from the reactor and aborts the
    // waits still queued; their handlers see `closed` and return.
    it->second->Close();
    self->watches_.erase(it);
    return 0;
  }

  static int OnSocket(CURL* /*easy*/, curl_socket_t fd, int what, void* user, void* /*socketp*/) {
    auto* self = static_cast<Impl*>(user);
    auto it = self->watches_.find(fd);
    if (what == CURL_POLL_REMOVE) {
      if (it == self->watches_.end()) return 0;
      if (it->second->owned) {
        // The socket stays open (a cached connection, or about to be closed
        // through OnCloseSocket) but is no longer watched.
        self->Want(it->second, 0);
      } else {
        it->second->Close();
        self->watches_.erase(it);
      }
      return 0;
    }
    std::shared_ptr<Watch> watch;
    if (it != self->watches_.end()) {
      watch = it->second;
    } else {
      const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
      if (copy < 0) return 0;  // curl's own timeouts end the transfer
      watch = std::make_shared<Watch>(self->io_, fd, /*owned_by_us=*/false);
      ErrorCode ec;
      watch->descriptor.assign(copy, ec);
      if (ec) {
        ::close(copy);
        return 0;
      }
      self->watches_.emplace(fd, watch);
    }
    self->Want(watch, what & (CURL_POLL_IN | CURL_POLL_OUT));
    return 0;
  }

  static int OnTimer(CURLM* /*multi*/, long timeout_ms, void* user) {
    auto* self = static_cast<Impl*>(user);
    // Also invalidates a wait that already completed and is queued.
    const uint64_t generation = ++self->timer_generation_;
    if (timeout_ms < 0) {
      self->timer_.cancel();
      return 0;
    }
    // Zero means "now", but curl must not be re-entered from its own
    // callback: an already expired timer runs it from the io_context.
    self->timer_.expires_after(std::chrono::milliseconds(timeout_ms));
    self->timer_.async_wait([weak = self->weak_from_this(), generation](const ErrorCode& ec) {
      if (ec == asio::error::operation_aborted) return;
      auto impl = weak.lock();
      if (!impl || impl->timer_generation_ != generation) return;
      impl->Act(CURL_SOCKET_TIMEOUT, 0);
    });
    return 0;
  }

  // --- driving libcurl from asio ---

  // Records what curl wants. A queued wait curl no longer wants is
  // cancelled, so an idle io_context has no work left and run() returns;
  // cancel() aborts both directions, and the aborted handlers re-arm the
  // ones still wanted.
  void Want(const std::shared_ptr<Watch>& watch, int wanted) {
    watch->wanted = wanted;
    const bool stale_read = watch->read_pending && (wanted & CURL_POLL_IN) == 0;
    const bool stale_write = watch->write_pending && (wanted & CURL_POLL_OUT) == 0;
    if (stale_read || stale_write) {
      ErrorCode ignored;
      watch->descriptor.cancel(ignored);
    }
    Arm(watch);
  }

  // Queues a readiness wait for each direction curl wants that has none
  // queued. asio's wait re-checks readiness when queued, so curl gets the
  // level-triggered notifications it expects.
  void Arm(const std::shared_ptr<Watch>& watch) {
    if (watch->closed) return;
    if ((watch->wanted & CURL_POLL_IN) && !watch->read_pending) {
      watch->read_pending = true;
      watch->descriptor.async_wait(asio::posix::stream_descriptor::wait_read,
                                   [weak = weak_from_this(), watch](const ErrorCode& ec) {
                                     watch->read_pending = false;
                                     if (watch->closed) return;
                                     if (auto impl = weak.lock())
                                       impl->OnReady(watch, CURL_POLL_IN, ec);
                                   });
    }
    if ((watch->wanted & CURL_POLL_OUT) && !watch->write_pending) {
      watch->write_pending = true;
      watch->descriptor.async_wait(asio::posix::stream_descriptor::wait_write,
                                   [weak = weak_from_this(), watch](const ErrorCode& ec) {
                                     watch->write_pending = false;
                                     if (watch->closed) return;
                                     if (auto impl = weak.lock())
                                       impl->OnReady(watch, CURL_POLL_OUT, ec);
                                   });
    }
  }

  void OnReady(const std::shared_ptr<Watch>& watch, int direction, const ErrorCode& ec) {
    if (ec == asio::error::operation_aborted) {
      Arm(watch);
      return;
    }
    // Curl stopped wanting this direction while the wait was queued.
    if ((watch->wanted & direction) == 0) return;
    if (ec) {
      // Not re-armed: a descriptor error would fire again at once. Curl sees
      // the error and closes the connection, or its timeout ends the transfer.
      Act(watch->curl_fd, CURL_CSELECT_ERR);
      return;
    }
    Act(watch->curl_fd, direction == CURL_POLL_IN ? CURL_CSELECT_IN : CURL_CSELECT_OUT);
    // Curl may have closed the socket, changed what it wants (and armed it
    // through OnSocket), or still want the same: Arm() sorts that out.
    Arm(watch);
  }

  void Act(curl_socket_t fd, int events) {
    if (multi_ == nullptr) return;
    int running = 0;
    curl_multi_socket_action(multi_, fd, events, &running);
    CollectFinished();
  }

  // Called after every curl_multi_socket_action: hands each finished
  // transfer's outcome to its callback (posted, never inline).
  void CollectFinished() {
    int queued = 0;
    while (CURLMsg* message = curl_multi_info_read(multi_, &queued)) {
      if (message->msg != CURLMSG_DONE) continue;
      CURL* easy = message->easy_handle;
      const CURLcode code = message->data.result;  // `message` dies on removal
      auto it = transfers_.find(easy);
      curl_multi_remove_handle(multi_, easy);
      if (it == transfers_.end()) continue;
      std::unique_ptr<Transfer> transfer = std::move(it->second);
      transfers_.erase(it);
      Result<HttpResponse> outcome = Outcome(*transfer, code);
      Post(std::move(transfer->done), std::move(outcome));
    }
  }

  Result<HttpResponse> Outcome(Transfer& t, CURLcode code) {
    if (code == CURLE_OK) {
      long status = 0;
      curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
      char* effective_url = nullptr;
      curl_easy_getinfo(t.easy, CURLINFO_EFFECTIVE_URL, &effective_url);
      t.response.status = static_cast<int>(status);
      t.response.url = effective_url != nullptr ? effective_url : t.request.url;
      for (auto& [name, value] : t.header_fields) {
        t.response.headers.Add(std::move(name), std::move(value));
      }
      return std::move(t.response);
    }
    if ((code == CURLE_WRITE_ERROR && t.body_too_large) || code == CURLE_FILESIZE_EXCEEDED) {
      return Status::ResourceExhausted(t.Describe() + ": response body exceeds the limit of " +
                                       std::to_string(t.max_body_bytes) + " bytes" +
                                       CurlCodeSuffix(code));
    }
    const std::string detail = t.error[0] != '\0' ? std::string(t.error) : curl_easy_strerror(code);
    return Status(StatusCodeFor(code), t.Describe() + ": " + detail + CurlCodeSuffix(code));
  }

  void Post(Callback done, Result<HttpResponse> outcome) {
    asio::post(io_, [done = std::move(done), outcome = std::move(outcome)]() mutable {
      if (done) done(std::move(outcome));
    });
  }

  asio::io_context& io_;
  const TransportOptions options_;
  Status init_status_;
  CURLM* multi_ = nullptr;
  asio::steady_timer timer_;
  uint64_t timer_generation_ = 0;
  // Keyed by the descriptor number curl uses.
  std::unordered_map<curl_socket_t, std::shared_ptr<Watch>> watches_;
  std::unordered_map<CURL*, std::unique_ptr<Transfer>> transfers_;
};

CurlTransport::CurlTransport(boost::asio::io_context& io, TransportOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(options))) {
  impl_->Init();
}

CurlTransport::~CurlTransport() = default;

void CurlTransport::Start(HttpRequest request, Callback done) {
  impl_->Start(std::move(request), std::move(done));
}

void CurlTransport::CancelAll() { impl_->CancelAll(); }

size_t CurlTransport::InFlight() const { return impl_->InFlight(); }

}  // namespace earshot
