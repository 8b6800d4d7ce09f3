#include "crawler/schedule/scheduler.h"
#include "crawler/core/strings.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <exception>
#include <functional>
#include <string_view>
#include <utility>

#include "crawler/core/text.h"
#include "crawler/core/time_format.h"
#include "crawler/core/url.h"

namespace earshot {

namespace {

bool IsSecretParam(std::string_view name) {
  static constexpr std::string_view kHints[] = {"token",  "key",       "secret", "password",
                                                "passwd", "auth",      "sig",    "session",
                                                "code",   "credential"};
  const std::string lower = AsciiLower(name);
  for (std::string_view hint : kHints) {
    if (lower.find(hint) != std::string::npos) return true;
  }
  return false;
}

// The URL as it may appear in logs and stored errors: no userinfo, and the
// values of query parameters that look like credentials masked.
std::string RedactUrl(const std::string& url) {
  CURLU* handle = curl_url();
  if (handle == nullptr) return "<url>";
  std::string out = "<invalid URL>";
  if (curl_url_set(handle, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK) {
    curl_url_set(handle, CURLUPART_USER, nullptr, 0);
    curl_url_set(handle, CURLUPART_PASSWORD, nullptr, 0);
    char* query = nullptr;
    if (curl_url_get(handle, CURLUPART_QUERY, &query, 0) == CURLUE_OK && query != nullptr) {
      std::string_view rest(query);
      std::string masked;
      while (!rest.empty()) {
        size_t amp = rest.find('&');
        std::string_view part = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
        if (!masked.empty()) masked += '&';
        size_t eq = part.find('=');
        if (eq != std::string_view::npos && IsSecretParam(part.substr(0, eq))) {
          masked.append(part.substr(0, eq)).append("=***");
        } else {
          masked.append(part);
        }
      }
      curl_free(query);
      curl_url_set(handle, CURLUPART_QUERY, masked.c_str(), 0);
    }
    char* full = nullptr;
    if (curl_url_get(handle, CURLUPART_URL, &full, 0) == CURLUE_OK && full != nullptr) {
      out = full;
      curl_free(full);
    }
  }
  curl_url_cleanup(handle);
  return out;
}

void ReplaceAll(std::string& text, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  for (size_t pos = text.find(from); pos != std::string::npos;
       pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
}

std::string ReplaceAllCopy(std::string text, std::string_view from, std::string_view to) {
  ReplaceAll(text, from, to);
  return text;
}

// Connectors promise not to throw; a bug that does must cost one source one
// poll, not the whole crawl.
template <typename Fn>
auto GuardConnector(const std::string& source, std::string_view what, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return Status::Internal("source '" + source + "': connector threw while " + std::string(what) +
                            ": " + e.what());
  } catch (...) {
    return Status::Internal("source '" + source + "': connector threw while " + std::string(what));
  }
}

std::string HeaderOr(const Headers& headers, std::string_view name) {
  auto value = headers.Get(name);
  return value ? std::string(*value) : std::string();
}

}  // namespace

struct Scheduler::Slot {
  size_t index = 0;
  ScheduledSource source;
  // The next request, built whenever the cursor changes; or why it cannot be.
  std::optional<HttpRequest> request;
  Status request_error;
  std::string host;                  // UrlHost of `request`
  std::string redacted_url;          // `request->url` fit for logs
  std::vector<std::string> secrets;  // values of the connector's secret keys
  bool in_flight = false;
  int pages_this_poll = 0;
  bool in_pass = false;               // single pass: due when the pass began
  bool pass_done = false;             // single pass: its poll has finished
  std::string last_quarantined_hash;  // SHA-256 of the last body kept aside

  const std::string& name() const { return source.spec.name; }
  SourceState& state() { return source.state; }
  const SourceState& state() const { return source.state; }
  bool stopped() const { return source.state.health == SourceHealth::kStopped; }
};

// A poll that succeeded (page or 304): healthy again, and a blind window,
// if one was open, closes now and is written with this step.
static void RecordSuccess(SourceState& state, SourceWrite& write, TimePoint now) {
  if (state.blind_since) {
    write.closed_blind_window = BlindWindow{*state.blind_since, now, state.last_error};
    state.blind_since.reset();
  }
  state.health = SourceHealth::kOk;
  state.consecutive_failures = 0;
  state.last_error.clear();
  state.last_success_at = now;
}

Scheduler::Scheduler(std::vector<ScheduledSource> sources, const Clock& clock,
                     HttpTransport& transport, Pipeline& pipeline, ScheduleOptions options,
                     uint64_t seed)
    : clock_(clock), transport_(transport), pipeline_(pipeline), options_(options), rng_(seed) {
  options_.per_host_concurrency = std::max(1, options_.per_host_concurrency);
  options_.max_pages_per_poll = std::max(1, options_.max_pages_per_poll);
  for (auto& source : sources) {
    auto slot = std::make_unique<Slot>();
    slot->index = slots_.size();
    slot->source = std::move(source);
    if (slot->source.connector != nullptr) {
      for (const ConfigKeySpec& key : slot->source.connector->keys) {
        if (!key.secret) continue;
        std::string value = slot->source.spec.GetString(key.name);
        if (!value.empty()) slot->secrets.push_back(std::move(value));
      }
    }
    Prepare(*slot);
    slots_.push_back(std::move(slot));
  }
}

Scheduler::~Scheduler() { *alive_ = false; }

void Scheduler::SetStepListener(std::function<void()> listener) {
  step_listener_ = std::move(listener);
}

void Scheduler::SetEventListener(std::function<void(const SourceEvent&)> listener) {
  event_listener_ = std::move(listener);
}

const SourceState* Scheduler::StateOf(const std::string& source) const {
  for (const auto& slot : slots_) {
    if (slot->name() == source) return &slot->state();
  }
  return nullptr;
}

void Scheduler::Prepare(Slot& slot) {
  slot.request.reset();
  slot.request_error = Status::Ok();
  slot.host.clear();
  const ConnectorDescriptor* connector = slot.source.connector;
  if (connector == nullptr || connector->next_request == nullptr) {
    slot.request_error = Status::InvalidArgument(
        "source '" + slot.name() + "': unknown connector '" + slot.source.spec.connector + "'");
    return;
  }
  auto request = GuardConnector(slot.name(), "building the request", [&] {
    return connector->next_request(slot.source.spec, slot.state().cursor);
  });
  if (!request.ok()) {
    slot.request_error =
        request.status().Annotate("source '" + slot.name() + "': cannot build the request");
    return;
  }
  auto host = UrlHost(request->url);
  if (!host.ok()) {
    slot.request_error = host.status().Annotate("source '" + slot.name() + "'");
    return;
  }
  slot.host = *host;
  slot.redacted_url = RedactUrl(request->url);
  slot.request = std::move(request).value();
}

bool Scheduler::Eligible(const Slot& slot) const {
  if (draining_ || slot.stopped() || slot.in_flight) return false;
  if (single_pass_ && (!slot.in_pass || slot.pass_done)) return false;
  return true;
}

std::optional<TimePoint> Scheduler::EarliestStart(const Slot& slot) const {
  if (!Eligible(slot)) return std::nullopt;
  TimePoint at = slot.state().next_poll_at.value_or(TimePoint::min());
  if (!slot.request) return at;  // fails (and stops) as soon as it is due
  auto it = hosts_.find(slot.host);
  if (it == hosts_.end()) return at;
  const Host& host = it->second;
  if (host.in_flight >= options_.per_host_concurrency) return std::nullopt;
  if (host.last_start) at = std::max(at, *host.last_start + options_.per_host_min_delay);
  if (host.blocked_until) at = std::max(at, *host.blocked_until);
  return at;
}

std::optional<TimePoint> Scheduler::NextWakeup() const {
  // A saturated pipeline must drain first; the engine wakes for its flush.
  if (pipeline_.Saturated()) return std::nullopt;
  std::optional<TimePoint> earliest;
  for (const auto& slot : slots_) {
    auto at = EarliestStart(*slot);
    if (at && (!earliest || *at < *earliest)) earliest = at;
  }
  if (earliest && *earliest == TimePoint::min()) earliest = clock_.Now();
  return earliest;
}

int Scheduler::Poll() {
  if (draining_ || pipeline_.Saturated()) return 0;
  const TimePoint now = clock_.Now();
  // Longest-waiting first, so a busy host serves its sources fairly.
  std::vector<Slot*> order;
  for (const auto& slot : slots_) order.push_back(slot.get());
  std::stable_sort(order.begin(), order.end(), [](const Slot* a, const Slot* b) {
    return a->state().next_poll_at.value_or(TimePoint::min()) <
           b->state().next_poll_at.value_or(TimePoint::min());
  });
  int started = 0;
  for (Slot* slot : order) {
    auto at = EarliestStart(*slot);
    if (!at || *at > now) continue;
    if (Start(*slot, now)) ++started;
  }
  return started;
}

void Scheduler::BeginSinglePass() {
  single_pass_ = true;
  const TimePoint now = clock_.Now();
  for (const auto& slot : slots_) {
    slot->pass_done = false;
    slot->in_pass = !slot->stopped() && !slot->in_flight &&
                    slot->state().next_poll_at.value_or(TimePoint::min()) <= now;
  }
}

bool Scheduler::SinglePassDone() const {
  if (!single_pass_ || in_flight_ > 0) return false;
  for (const auto& slot : slots_) {
    if (slot->in_pass && !slot->pass_done && !slot->stopped()) return false;
  }
  return true;
}

bool Scheduler::Start(Slot& slot, TimePoint now) {
  if (slot.pages_this_poll == 0) {
    ++stats_.polls;
    if (single_pass_ && slot.in_pass) ++sources_polled_;
  }
  if (!slot.request) {
    // A source whose request cannot be built is misconfigured: retrying
    // cannot help, so it stops until an operator fixes it.
    HandleFailure(slot, slot.source.spec.url, 0, slot.request_error, SourceHealth::kStopped,
                  std::nullopt, std::nullopt);
    return false;
  }
  Host& host = hosts_[slot.host];
  ++host.in_flight;
  host.last_start = now;
  slot.in_flight = true;
  ++in_flight_;
  ++stats_.requests;
  spdlog::debug("source '{}': GET {}", slot.name(), slot.redacted_url);
  std::weak_ptr<bool> alive = alive_;
  const size_t index = slot.index;
  transport_.Start(*slot.request, [this, alive, index](Result<HttpResponse> result) {
    if (alive.expired()) return;
    OnResponse(index, std::move(result));
  });
  return true;
}

void Scheduler::OnResponse(size_t index, Result<HttpResponse> result) {
  Slot& slot = *slots_[index];
  slot.in_flight = false;
  --in_flight_;
  --hosts_[slot.host].in_flight;
  const std::string& url = slot.request->url;
  const TimePoint now = clock_.Now();
  const ConnectorDescriptor& connector = *slot.source.connector;

  if (!result.ok()) {
    const Status& error = result.status();
    if (error.code() == StatusCode::kCancelled) {
      // Shutdown, not the source's fault: nothing recorded, due again at the
      // next start.
      spdlog::info("source '{}': request cancelled", slot.name());
      FinishPoll(slot);
    } else {
      const SourceHealth health = error.code() == StatusCode::kInvalidArgument
                                      ? SourceHealth::kStopped
                                      : SourceHealth::kBackoff;
      // Transports name the URL themselves ("GET <url>: ..."); say it once.
      const bool names_url = error.message().find(url) != std::string::npos;
      HandleFailure(slot, url, 0,
                    error.Annotate("source '" + slot.name() + "'" +
                                   (names_url ? std::string() : ": GET " + url)),
                    health, std::nullopt, std::nullopt);
    }
  } else {
    const HttpResponse& response = *result;
    const int status = response.status;
    RateLimitInfo limits;
    if (connector.read_rate_limit != nullptr) {
      auto read = GuardConnector(
          slot.name(), "reading rate limits",
          [&]() -> Result<RateLimitInfo> { return connector.read_rate_limit(response); });
      if (read.ok()) limits = *read;
    }
    std::optional<TimePoint> retry_after;
    if (auto header = response.headers.Get("Retry-After")) {
      retry_after = ParseRetryAfter(*header, now);
      if (retry_after) retry_after = std::min(*retry_after, now + options_.rate_limit_max_wait);
    }
    ApplyRateLimit(slot, limits, now);
    const std::string where = "source '" + slot.name() + "': GET " + url;

    if (status >= 200 && status < 300) {
      Result<Page> page = GuardConnector(slot.name(), "parsing", [&]() -> Result<Page> {
        if (connector.parse == nullptr) return Status::Internal("connector has no parser");
        return connector.parse(slot.source.spec, slot.state().cursor, response);
      });
      if (page.ok()) {
        HandleSuccess(slot, response, std::move(page).value());
      } else {
        RawPayload body{url, status, HeaderOr(response.headers, "Content-Type"), response.body,
                        now};
        HandleFailure(slot, url, status, page.status().Annotate(where), SourceHealth::kBackoff,
                      std::nullopt, std::move(body));
      }
    } else if (status == 304) {
      HandleNotModified(slot, response);
    } else if (status == 429) {
      std::optional<TimePoint> until = retry_after;
      for (const auto& t : {limits.reset, limits.retry_at}) {
        if (t && (!until || *t > *until)) until = t;
      }
      // "Now" (or a past date) would invite a hammering loop: back off.
      if (until && *until <= now) until.reset();
      if (until) {
        until = std::min(*until, now + options_.rate_limit_max_wait);
        Host& host = hosts_[slot.host];
        host.blocked_until = std::max(host.blocked_until.value_or(*until), *until);
      }
      HandleFailure(slot, url, status, StatusFromHttp(status, where), SourceHealth::kRateLimited,
                    until, std::nullopt);
    } else if (status == 401 || status == 403) {
      HandleFailure(slot, url, status, StatusFromHttp(status, where), SourceHealth::kStopped,
                    std::nullopt, std::nullopt);
    } else {
      // 5xx, 408, other 4xx, stray 1xx/3xx: back off. A Retry-After on a
      // 503 is honoured when it asks for longer than the backoff.
      HandleFailure(slot, url, status, StatusFromHttp(status, where), SourceHealth::kBackoff,
                    retry_after, std::nullopt);
    }
  }
  Prepare(slot);
  if (step_listener_) step_listener_();
}

void Scheduler::ApplyRateLimit(Slot& slot, const RateLimitInfo& info, TimePoint now) {
  if (!info.remaining || *info.remaining > 0 || !info.reset) return;
  const TimePoint until = std::clamp(*info.reset, now, now + options_.rate_limit_max_wait);
  Host& host = hosts_[slot.host];
  host.blocked_until = std::max(host.blocked_until.value_or(until), until);
}

void Scheduler::HandleSuccess(Slot& slot, const HttpResponse& response, Page page) {
  const TimePoint now = clock_.Now();
  const std::string& url = slot.request->url;
  SourceState& state = slot.state();
  const ConnectorDescriptor& connector = *slot.source.connector;

  // One line per page at warning level; the details when debugging.
  if (!page.warnings.empty() || page.skipped_items > 0) {
    spdlog::warn("source '{}': {} item(s) skipped, {} warning(s){}{}", slot.name(),
                 page.skipped_items, page.warnings.size(), page.warnings.empty() ? "" : "; first: ",
                 page.warnings.empty() ? std::string() : Scrub(slot, page.warnings.front()));
    for (const std::string& warning : page.warnings) {
      spdlog::debug("source '{}': {}", slot.name(), Scrub(slot, warning));
    }
  }
  SourceWrite write;
  write.source = slot.name();
  write.posts.reserve(page.posts.size());
  for (Post& post : page.posts) {
    // A post the store would refuse must not poison the whole batch.
    if (post.id.empty() && post.uid.empty()) {
      spdlog::warn("source '{}': dropped a post without an id from {}", slot.name(),
                   slot.redacted_url);
      continue;
    }
    if (post.platform.empty()) post.platform = std::string(connector.name);
    post.fetched_at = now;
    write.posts.push_back(std::move(post));
  }
  if (!write.posts.empty()) {
    write.raw = RawPayload{url, response.status, HeaderOr(response.headers, "Content-Type"),
                           response.body, now};
  }

  if (!page.next_cursor.empty()) state.cursor.cursor = page.next_cursor;
  state.cursor.etag = HeaderOr(response.headers, "ETag");
  state.cursor.last_modified = HeaderOr(response.headers, "Last-Modified");
  RecordSuccess(state, write, now);
  ++slot.pages_this_poll;

  bool more = !page.caught_up;
  if (more && page.next_cursor.empty()) {
    // The same request again would return the same page.
    spdlog::warn("source '{}': page not caught up but without a next cursor; {}", slot.name(),
                 "treated as caught up");
    more = false;
  }
  more = more && slot.pages_this_poll < options_.max_pages_per_poll;
  state.next_poll_at = more ? now : now + Jittered(slot.source.spec.interval);
  // Rate limit spent: the rest of the backlog (or the next poll) waits.
  ApplyRateLimit(slot, page.rate_limit, now);
  if (auto it = hosts_.find(slot.host);
      it != hosts_.end() && it->second.blocked_until && *it->second.blocked_until > now) {
    state.next_poll_at = std::max(*state.next_poll_at, *it->second.blocked_until);
  }
  const bool continues = more && *state.next_poll_at <= now;

  ++stats_.pages;
  stats_.posts += static_cast<int64_t>(write.posts.size());
  SourceEvent event;
  event.kind = SourceEvent::Kind::kPage;
  event.source = slot.name();
  event.url = slot.redacted_url;
  event.http_status = response.status;
  event.posts = write.posts.size();
  event.caught_up = page.caught_up;
  event.health = state.health;
  event.next_poll_at = state.next_poll_at;
  spdlog::debug("source '{}': HTTP {} {} posts from {}", slot.name(), response.status,
                write.posts.size(), slot.redacted_url);

  write.state = state;
  SubmitWrite(std::move(write));
  if (!continues) FinishPoll(slot);
  Emit(event);
}

void Scheduler::HandleNotModified(Slot& slot, const HttpResponse& response) {
  const TimePoint now = clock_.Now();
  SourceState& state = slot.state();
  SourceWrite write;
  write.source = slot.name();
  // A 304 may refresh the validators; absent ones keep the stored values.
  if (auto etag = response.headers.Get("ETag")) state.cursor.etag = std::string(*etag);
  if (auto lm = response.headers.Get("Last-Modified")) {
    state.cursor.last_modified = std::string(*lm);
  }
  RecordSuccess(state, write, now);
  state.next_poll_at = now + Jittered(slot.source.spec.interval);
  if (auto it = hosts_.find(slot.host);
      it != hosts_.end() && it->second.blocked_until && *it->second.blocked_until > now) {
    state.next_poll_at = std::max(*state.next_poll_at, *it->second.blocked_until);
  }
  ++stats_.not_modified;
  SourceEvent event;
  event.kind = SourceEvent::Kind::kNotModified;
  event.source = slot.name();
  event.url = slot.redacted_url;
  event.http_status = response.status;
  event.health = state.health;
  event.next_poll_at = state.next_poll_at;
  spdlog::debug("source '{}': not modified", slot.name());
  write.state = state;
  SubmitWrite(std::move(write));
  FinishPoll(slot);
  Emit(event);
}

void Scheduler::HandleFailure(Slot& slot, const std::string& url, int http_status, Status error,
                              SourceHealth health, std::optional<TimePoint> retry_at,
                              std::optional<RawPayload> quarantine) {
  const TimePoint now = clock_.Now();
  SourceState& state = slot.state();
  const std::string message = Scrub(slot, ReplaceAllCopy(error.ToString(), url, RedactUrl(url)));
  error = Status(error.code(), message);

  state.health = health;
  ++state.consecutive_failures;
  state.last_error = message;
  state.last_error_at = now;
  if (!state.blind_since) state.blind_since = now;
  if (health == SourceHealth::kStopped) {
    state.next_poll_at.reset();
    spdlog::error("source '{}' STOPPED, needs an operator: {}", slot.name(), message);
  } else {
    TimePoint next = now + BackoffDelay(state.consecutive_failures);
    if (retry_at) {
      // Rate limits name their own time; elsewhere Retry-After only extends.
      next = health == SourceHealth::kRateLimited ? *retry_at : std::max(next, *retry_at);
    }
    state.next_poll_at = next;
    spdlog::warn("source '{}' failing ({} in a row, next try {}): {}", slot.name(),
                 state.consecutive_failures, FormatRfc3339(next), message);
  }

  SourceWrite write;
  write.source = slot.name();
  write.state = state;
  if (quarantine) {
    // A source that keeps serving the same bad body is recorded once, not at
    // every retry.
    std::string hash = Sha256Hex(quarantine->body);
    if (hash != slot.last_quarantined_hash) {
      write.quarantine = std::move(quarantine);
      write.quarantine->url = RedactUrl(write.quarantine->url);
      write.quarantine_error = message;
      slot.last_quarantined_hash = std::move(hash);
    }
  }
  ++stats_.failures;
  SourceEvent event;
  event.kind = SourceEvent::Kind::kFailure;
  event.source = slot.name();
  event.url = url.empty() ? std::string() : RedactUrl(url);
  event.http_status = http_status;
  event.error = error;
  event.health = state.health;
  event.next_poll_at = state.next_poll_at;
  SubmitWrite(std::move(write));
  FinishPoll(slot);
  Emit(event);
}

void Scheduler::FinishPoll(Slot& slot) {
  slot.pages_this_poll = 0;
  if (single_pass_ && slot.in_pass) slot.pass_done = true;
}

void Scheduler::SubmitWrite(SourceWrite write) {
  const std::string source = write.source;
  Status status = pipeline_.Submit(std::move(write));
  // A failed flush keeps the write queued (Pipeline's promise): log only.
  if (!status.ok()) {
    spdlog::error("store: {} (while saving source '{}')", status.ToString(), source);
  }
}

void Scheduler::Emit(const SourceEvent& event) {
  if (event_listener_) event_listener_(event);
}

Duration Scheduler::Jittered(Duration d) {
  if (options_.jitter <= 0 || d.count() <= 0) return d;
  std::uniform_real_distribution<double> spread(-options_.jitter, options_.jitter);
  const double factor = 1.0 + spread(rng_);
  return Duration(static_cast<int64_t>(std::llround(static_cast<double>(d.count()) * factor)));
}

Duration Scheduler::BackoffDelay(int failures) {
  Duration d = options_.backoff_initial;
  for (int i = 1; i < failures && d < options_.backoff_max; ++i) d *= 2;
  return Jittered(std::min(d, options_.backoff_max));
}

std::string Scheduler::Scrub(const Slot& slot, std::string text) const {
  for (const std::string& secret : slot.secrets) ReplaceAll(text, secret, "***");
  return text;
}

}  // namespace earshot
