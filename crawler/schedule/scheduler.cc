#include "crawler/schedule/scheduler.h"
#include "crawler/core/strings.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <exception>
#include <functional>
#include <iterator>
#include <set>
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

namespace {

// Watches read from the store per source at a time: the soonest due.
constexpr int kWatchWindow = 64;
// Longest platform explanation kept in an error message, in bytes.
constexpr size_t kMaxErrorDetail = 300;

// `text` as one line of valid UTF-8: control characters as spaces, runs of
// spaces collapsed, at most kMaxErrorDetail bytes (cut on a character
// boundary, "..." marking the cut).
std::string OneLineDetail(std::string_view text) {
  const std::string repaired = RepairUtf8(text);
  std::string out;
  for (char c : repaired) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f || c == ' ') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (out.size() > kMaxErrorDetail) {
    size_t cut = kMaxErrorDetail - 3;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out.resize(cut);
    out += "...";
  }
  return out;
}

// Session tokens remembered for masking, per source (the current session's
// and a few before it, which may still appear in late messages).
constexpr size_t kMaxSessionSecrets = 8;

std::string WatchKey(const std::string& platform, const std::string& uid) {
  return platform + '\n' + uid;
}
std::string WatchKey(const ConversationWatch& watch) { return WatchKey(watch.platform, watch.uid); }

bool WatchBefore(const ConversationWatch& a, const ConversationWatch& b) {
  const TimePoint ta = a.next_fetch_at.value_or(TimePoint::max());
  const TimePoint tb = b.next_fetch_at.value_or(TimePoint::max());
  if (ta != tb) return ta < tb;
  if (a.platform != b.platform) return a.platform < b.platform;
  return a.uid < b.uid;
}

std::string_view UidOf(const Post& post) { return post.uid.empty() ? post.id : post.uid; }

}  // namespace

// A watched conversation being fetched, page by page.
struct Scheduler::Job {
  ConversationWatch watch;
  Post post;           // the stored post whose conversation it is
  std::string cursor;  // of the page to fetch; empty: the first
  int pages = 0;       // pages parsed so far
  HttpRequest request;
  std::string host;
  std::string redacted_url;
};

struct Scheduler::Slot {
  size_t index = 0;
  ScheduledSource source;
  // The next poll request, built whenever the cursor changes; or why it
  // cannot be.
  std::optional<HttpRequest> request;
  Status request_error;
  std::string host;                  // UrlHost of `request`
  std::string redacted_url;          // `request->url` fit for logs
  std::vector<std::string> secrets;  // values of the connector's secret keys
  bool in_flight = false;
  Task task = Task::kPoll;  // what is in flight
  std::string task_host;    // the host of the request in flight
  std::string task_url;     // its URL (not redacted: for matching only)
  int pages_this_poll = 0;
  bool in_pass = false;                // single pass: its poll was due when the pass began
  bool pass_done = false;              // single pass: its poll has finished
  bool pass_counted = false;           // single pass: counted in sources_polled_
  std::set<std::string> pass_watches;  // single pass: watches still to fetch (WatchKey)
  std::string last_quarantined_hash;   // SHA-256 of the last body kept aside

  // Auth (connectors with an AuthCapability).
  std::optional<AuthSession> session;
  TimePoint session_obtained_at{};
  bool session_retry_used = false;  // a 401 already renewed the session once
  std::optional<HttpRequest> session_request;
  Status session_request_error;
  std::string session_host;
  std::string session_redacted_url;
  std::vector<std::string> session_secrets;  // tokens to mask in messages

  // Conversation watching (connectors with a ConversationCapability).
  std::vector<ConversationWatch> watches;  // window of pending watches, soonest first
  bool watches_stale = true;               // re-read once our writes are committed
  std::optional<Job> job;

  const std::string& name() const { return source.spec.name; }
  SourceState& state() { return source.state; }
  const SourceState& state() const { return source.state; }
  bool stopped() const { return source.state.health == SourceHealth::kStopped; }
  const ConnectorDescriptor& connector() const { return *source.connector; }
  bool has_auth() const {
    const AuthCapability* auth = source.connector ? source.connector->auth : nullptr;
    return auth && auth->session_request && auth->parse_session && auth->authorize &&
           (!auth->configured || auth->configured(source.spec));
  }
  // A 401, or an answer the connector's AuthCapability reads as a session
  // the platform no longer accepts (Bluesky's 400 ExpiredToken).
  bool session_refused(const HttpResponse& response) const {
    if (response.status == 401) return true;
    if (!has_auth() || response.status < 400) return false;
    const AuthCapability& auth = *source.connector->auth;
    if (auth.session_refused == nullptr) return false;
    try {
      return auth.session_refused(response);
    } catch (...) {
      return false;  // a connector's bug must not stop the engine
    }
  }
  bool has_conversation() const {
    const ConversationCapability* c = source.connector ? source.connector->conversation : nullptr;
    return c && c->request && c->parse;
  }
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
  options_.conversation_max_failures = std::max(1, options_.conversation_max_failures);
  std::sort(options_.conversation_schedule.begin(), options_.conversation_schedule.end());
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
    if (slot->has_auth()) PrepareSession(*slot);
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
  slot.redacted_url = Redacted(slot, request->url);
  slot.request = std::move(request).value();
}

void Scheduler::PrepareSession(Slot& slot) {
  slot.session_request.reset();
  slot.session_request_error = Status::Ok();
  slot.session_host.clear();
  const AuthCapability& auth = *slot.connector().auth;
  // Renew with the refresh token when there is one; otherwise sign in anew.
  const AuthSession* current =
      slot.session && !slot.session->refresh_token.empty() ? &*slot.session : nullptr;
  auto request = GuardConnector(slot.name(), "building the session request",
                                [&] { return auth.session_request(slot.source.spec, current); });
  if (!request.ok()) {
    slot.session_request_error = Status(
        request.status().code(),
        Scrub(slot,
              request.status().Annotate("source '" + slot.name() + "': cannot sign in").message()));
    return;
  }
  auto host = UrlHost(request->url);
  if (!host.ok()) {
    slot.session_request_error =
        host.status().Annotate("source '" + slot.name() + "': session request");
    return;
  }
  slot.session_host = *host;
  slot.session_redacted_url = Redacted(slot, request->url);
  slot.session_request = std::move(request).value();
}

bool Scheduler::PollWanted(const Slot& slot) const {
  return !single_pass_ || (slot.in_pass && !slot.pass_done);
}

bool Scheduler::NeedsSession(const Slot& slot, TimePoint at) const {
  if (!slot.has_auth()) return false;
  if (!slot.session) return true;
  const auto& expires = slot.session->expires_at;
  // A session that is already near its end when it arrives still serves the
  // request it was made for; renewing at once would loop.
  return expires && at >= *expires - options_.session_renew_ahead && at > slot.session_obtained_at;
}

std::optional<TimePoint> Scheduler::Gate(const std::string& host_name, TimePoint at) const {
  auto it = hosts_.find(host_name);
  if (it == hosts_.end()) return at;
  const Host& host = it->second;
  if (host.in_flight >= options_.per_host_concurrency) return std::nullopt;
  if (host.last_start) at = std::max(at, *host.last_start + options_.per_host_min_delay);
  if (host.blocked_until) at = std::max(at, *host.blocked_until);
  return at;
}

TimePoint Scheduler::WatchDue(const Slot& slot, const ConversationWatch& watch) const {
  TimePoint at = watch.next_fetch_at.value_or(TimePoint::max());
  // A source that is failing or rate-limited is left alone, watches included.
  const SourceState& state = slot.state();
  if (state.health != SourceHealth::kOk && state.next_poll_at) {
    at = std::max(at, *state.next_poll_at);
  }
  return at;
}

const ConversationWatch* Scheduler::HeadWatch(const Slot& slot) const {
  for (const ConversationWatch& watch : slot.watches) {
    if (!watch.next_fetch_at) continue;
    if (single_pass_ && slot.pass_watches.count(WatchKey(watch)) == 0) continue;
    return &watch;
  }
  return nullptr;
}

std::optional<Scheduler::Step> Scheduler::NextStep(const Slot& slot) const {
  if (draining_ || slot.stopped() || slot.in_flight) return std::nullopt;
  std::optional<Step> best;
  auto consider = [&](Task task, std::optional<TimePoint> at) {
    if (at && (!best || *at < best->at)) best = Step{task, *at};
  };
  if (PollWanted(slot)) {
    const TimePoint at = slot.state().next_poll_at.value_or(TimePoint::min());
    // Without a request it fails (and stops) as soon as it is due.
    consider(Task::kPoll, slot.request ? Gate(slot.host, at) : std::optional<TimePoint>(at));
  }
  if (slot.has_conversation()) {
    if (slot.job) {
      if (!single_pass_ || slot.pass_watches.count(WatchKey(slot.job->watch)) > 0) {
        consider(Task::kConversation, Gate(slot.job->host, WatchDue(slot, slot.job->watch)));
      }
    } else if (const ConversationWatch* head = HeadWatch(slot)) {
      // Not a job yet: PrepareWatches makes it one when due, and then its
      // host's gates apply.
      consider(Task::kConversation, WatchDue(slot, *head));
    }
  }
  if (!best) return std::nullopt;
  const bool sends = best->task != Task::kPoll || slot.request.has_value();
  if (sends && NeedsSession(slot, std::max(best->at, clock_.Now()))) {
    if (!slot.session_request) return Step{Task::kSession, best->at};  // fails and stops
    auto at = Gate(slot.session_host, best->at);
    if (!at) return std::nullopt;
    return Step{Task::kSession, *at};
  }
  return best;
}

void Scheduler::RefreshWatches(Slot& slot) {
  if (!slot.has_conversation() || slot.stopped() || !slot.watches_stale) return;
  if (options_.conversation_schedule.empty()) return;
  // Until our writes are committed the store is behind this object.
  if (pipeline_.queued_writes() > 0) return;
  auto pending = pipeline_.store().PendingWatches(slot.name(), kWatchWindow);
  if (!pending.ok()) {
    spdlog::error("source '{}': cannot read the conversation watch list: {}", slot.name(),
                  pending.status().ToString());
    return;
  }
  slot.watches.clear();
  std::set<std::string> keys;
  for (ConversationWatch& watch : *pending) {
    if (slot.job && WatchKey(watch) == WatchKey(slot.job->watch)) continue;
    keys.insert(WatchKey(watch));
    slot.watches.push_back(std::move(watch));
  }
  slot.watches_stale = false;
  if (single_pass_) {
    // A watch finished or pushed out of the window meanwhile is not waited for.
    for (auto it = slot.pass_watches.begin(); it != slot.pass_watches.end();) {
      const bool is_job = slot.job && *it == WatchKey(slot.job->watch);
      it = (keys.count(*it) > 0 || is_job) ? std::next(it) : slot.pass_watches.erase(it);
    }
  }
}

void Scheduler::PrepareWatches(Slot& slot, TimePoint now) {
  if (!slot.has_conversation()) return;
  RefreshWatches(slot);
  if (!slot.job && !draining_ && !slot.stopped()) StartJob(slot, now);
}

void Scheduler::StartJob(Slot& slot, TimePoint now) {
  const ConversationCapability& capability = *slot.connector().conversation;
  while (!slot.job) {
    const ConversationWatch* head = HeadWatch(slot);
    if (head == nullptr || WatchDue(slot, *head) > now) return;
    ConversationWatch watch = *head;
    slot.watches.erase(slot.watches.begin() + (head - slot.watches.data()));
    auto found = pipeline_.store().FindPost(watch.platform, watch.uid);
    if (!found.ok()) {
      // The store will be retried; not in a tight loop.
      spdlog::error("source '{}': cannot read watched post {}: {}", slot.name(), watch.uid,
                    found.status().ToString());
      watch.next_fetch_at = now + options_.backoff_initial;
      slot.pass_watches.erase(WatchKey(watch));
      RequeueWatch(slot, watch);
      return;
    }
    if (!*found) {
      FinishWatch(slot, std::move(watch), "the watched post is not stored");
      continue;
    }
    if ((*found)->deleted_at) {
      FinishWatch(slot, std::move(watch), "the watched post was deleted");
      continue;
    }
    Post post = std::move((*found)->post);
    auto request = GuardConnector(slot.name(), "building the conversation request",
                                  [&] { return capability.request(slot.source.spec, post, ""); });
    Result<std::string> host = request.ok() ? UrlHost(request->url) : request.status();
    if (!host.ok()) {
      FinishWatch(slot, std::move(watch),
                  "cannot build its conversation request: " + host.status().ToString());
      continue;
    }
    Job job;
    job.watch = std::move(watch);
    job.post = std::move(post);
    job.host = *host;
    job.redacted_url = Redacted(slot, request->url);
    job.request = std::move(request).value();
    slot.job = std::move(job);
  }
}

std::optional<TimePoint> Scheduler::NextWakeup() {
  // A saturated pipeline must drain first; the engine wakes for its flush.
  if (pipeline_.Saturated()) return std::nullopt;
  const TimePoint now = clock_.Now();
  std::optional<TimePoint> earliest;
  for (const auto& slot : slots_) {
    PrepareWatches(*slot, now);
    auto step = NextStep(*slot);
    if (single_pass_ && step && step->task != Task::kPoll && !slot->pass_watches.empty() &&
        !(slot->in_pass && !slot->pass_done) && step->at > now + options_.per_host_min_delay) {
      // A single pass does what is due now: conversations held back by a
      // rate limit or a backoff wait for the next run instead of keeping
      // this one alive until the limit resets.
      slot->pass_watches.clear();
      step = NextStep(*slot);
    }
    if (step && (!earliest || step->at < *earliest)) earliest = step->at;
  }
  if (earliest && *earliest < now) earliest = now;
  return earliest;
}

int Scheduler::Poll() {
  if (draining_ || pipeline_.Saturated()) return 0;
  const TimePoint now = clock_.Now();
  for (const auto& slot : slots_) PrepareWatches(*slot, now);
  // Longest-waiting first, so a busy host serves its sources fairly.
  std::vector<Slot*> order;
  for (const auto& slot : slots_) order.push_back(slot.get());
  std::stable_sort(order.begin(), order.end(), [](const Slot* a, const Slot* b) {
    return a->state().next_poll_at.value_or(TimePoint::min()) <
           b->state().next_poll_at.value_or(TimePoint::min());
  });
  int started = 0;
  for (Slot* slot : order) {
    auto step = NextStep(*slot);
    if (!step || step->at > now) continue;
    if (Start(*slot, *step, now)) ++started;
  }
  return started;
}

void Scheduler::BeginSinglePass() {
  single_pass_ = true;
  const TimePoint now = clock_.Now();
  for (const auto& slot : slots_) {
    slot->pass_done = false;
    slot->pass_counted = false;
    slot->pass_watches.clear();
    slot->in_pass = !slot->stopped() && !slot->in_flight &&
                    slot->state().next_poll_at.value_or(TimePoint::min()) <= now;
    if (!slot->has_conversation() || slot->stopped()) continue;
    RefreshWatches(*slot);
    if (slot->job && WatchDue(*slot, slot->job->watch) <= now) {
      slot->pass_watches.insert(WatchKey(slot->job->watch));
    }
    for (const ConversationWatch& watch : slot->watches) {
      if (watch.next_fetch_at && WatchDue(*slot, watch) <= now) {
        slot->pass_watches.insert(WatchKey(watch));
      }
    }
  }
}

bool Scheduler::SinglePassDone() const {
  if (!single_pass_ || in_flight_ > 0) return false;
  for (const auto& slot : slots_) {
    if (slot->stopped()) continue;
    if (slot->in_pass && !slot->pass_done) return false;
    if (!slot->pass_watches.empty()) return false;
  }
  return true;
}

bool Scheduler::Start(Slot& slot, const Step& step, TimePoint now) {
  if (single_pass_ && !slot.pass_counted &&
      ((step.task == Task::kPoll && slot.in_pass) || step.task == Task::kConversation ||
       step.task == Task::kSession)) {
    slot.pass_counted = true;
    ++sources_polled_;
  }
  HttpRequest request;
  std::string host;
  std::string redacted;
  switch (step.task) {
    case Task::kPoll:
      if (slot.pages_this_poll == 0) ++stats_.polls;
      if (!slot.request) {
        // A source whose request cannot be built is misconfigured: retrying
        // cannot help, so it stops until an operator fixes it.
        HandleFailure(slot, slot.source.spec.url, 0, slot.request_error, SourceHealth::kStopped,
                      std::nullopt, std::nullopt);
        return false;
      }
      request = *slot.request;
      host = slot.host;
      redacted = slot.redacted_url;
      break;
    case Task::kSession:
      if (!slot.session_request) {
        HandleFailure(slot, slot.source.spec.url, 0, slot.session_request_error,
                      SourceHealth::kStopped, std::nullopt, std::nullopt);
        return false;
      }
      request = *slot.session_request;
      host = slot.session_host;
      redacted = slot.session_redacted_url;
      break;
    case Task::kConversation:
      if (!slot.job) return false;
      request = slot.job->request;
      host = slot.job->host;
      redacted = slot.job->redacted_url;
      break;
  }
  if (step.task != Task::kSession && slot.has_auth() && slot.session) {
    try {
      slot.connector().auth->authorize(*slot.session, request);
    } catch (...) {
      HandleFailure(slot, request.url, 0,
                    Status::Internal("source '" + slot.name() +
                                     "': connector threw while authorizing a request"),
                    SourceHealth::kStopped, std::nullopt, std::nullopt);
      return false;
    }
  }
  Host& h = hosts_[host];
  ++h.in_flight;
  h.last_start = now;
  slot.in_flight = true;
  slot.task = step.task;
  slot.task_host = host;
  slot.task_url = request.url;
  ++in_flight_;
  ++stats_.requests;
  spdlog::debug("source '{}': {} {}{}", slot.name(), request.method, redacted,
                step.task == Task::kSession        ? " (session)"
                : step.task == Task::kConversation ? " (conversation)"
                                                   : "");
  std::weak_ptr<bool> alive = alive_;
  const size_t index = slot.index;
  transport_.Start(std::move(request), [this, alive, index](Result<HttpResponse> result) {
    if (alive.expired()) return;
    OnResponse(index, std::move(result));
  });
  return true;
}

void Scheduler::OnResponse(size_t index, Result<HttpResponse> result) {
  Slot& slot = *slots_[index];
  slot.in_flight = false;
  --in_flight_;
  --hosts_[slot.task_host].in_flight;
  switch (slot.task) {
    case Task::kPoll:
      OnPollResponse(slot, std::move(result));
      break;
    case Task::kSession:
      OnSessionResponse(slot, std::move(result));
      break;
    case Task::kConversation:
      OnConversationResponse(slot, std::move(result));
      break;
  }
  Prepare(slot);
  if (step_listener_) step_listener_();
}

Scheduler::Limits Scheduler::ReadLimits(const Slot& slot, const HttpResponse& response,
                                        TimePoint now) {
  Limits limits;
  const ConnectorDescriptor& connector = slot.connector();
  if (connector.read_rate_limit != nullptr) {
    auto read = GuardConnector(slot.name(), "reading rate limits", [&]() -> Result<RateLimitInfo> {
      return connector.read_rate_limit(response);
    });
    if (read.ok()) limits.info = *read;
  }
  if (auto header = response.headers.Get("Retry-After")) {
    limits.retry_after = ParseRetryAfter(*header, now);
    if (limits.retry_after) {
      limits.retry_after = std::min(*limits.retry_after, now + options_.rate_limit_max_wait);
    }
  }
  return limits;
}

std::optional<TimePoint> Scheduler::BlockFor429(const std::string& host_name, const Limits& limits,
                                                TimePoint now) {
  std::optional<TimePoint> until = limits.retry_after;
  for (const auto& t : {limits.info.reset, limits.info.retry_at}) {
    if (t && (!until || *t > *until)) until = t;
  }
  // "Now" (or a past date) would invite a hammering loop: back off.
  if (until && *until <= now) until.reset();
  if (until) {
    until = std::min(*until, now + options_.rate_limit_max_wait);
    Host& host = hosts_[host_name];
    host.blocked_until = std::max(host.blocked_until.value_or(*until), *until);
  }
  return until;
}

void Scheduler::OnPollResponse(Slot& slot, Result<HttpResponse> result) {
  const std::string url = slot.task_url;
  const TimePoint now = clock_.Now();
  const ConnectorDescriptor& connector = slot.connector();

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
    return;
  }
  const HttpResponse& response = *result;
  const int status = response.status;
  const Limits limits = ReadLimits(slot, response, now);
  ApplyRateLimit(slot.task_host, limits.info, now);
  const std::string where = "source '" + slot.name() + "': GET " + url;

  if (status >= 200 && status < 300) {
    Result<Page> page = GuardConnector(slot.name(), "parsing", [&]() -> Result<Page> {
      if (connector.parse == nullptr) return Status::Internal("connector has no parser");
      return connector.parse(slot.source.spec, slot.state().cursor, response);
    });
    if (page.ok()) {
      HandleSuccess(slot, response, std::move(page).value());
    } else {
      RawPayload body{url, status, HeaderOr(response.headers, "Content-Type"), response.body, now};
      HandleFailure(slot, url, status, page.status().Annotate(where), SourceHealth::kBackoff,
                    std::nullopt, std::move(body));
    }
  } else if (status == 304) {
    HandleNotModified(slot, response);
  } else if (status == 429) {
    HandleFailure(slot, url, status, HttpFailure(slot, response, where), SourceHealth::kRateLimited,
                  BlockFor429(slot.task_host, limits, now), std::nullopt);
  } else if (slot.session_refused(response) && slot.has_auth() && !slot.session_retry_used) {
    RetryWithNewSession(slot, "GET " + Redacted(slot, url), status);
  } else if (status == 403 || slot.session_refused(response)) {
    HandleFailure(slot, url, status, HttpFailure(slot, response, where), SourceHealth::kStopped,
                  std::nullopt, std::nullopt);
  } else if (auto recovered = RecoveredCursor(slot, response)) {
    // The platform refused the cursor itself: start again from what the
    // connector says it will accept, as if a page had moved the cursor.
    spdlog::warn(
        "source '{}': HTTP {} refused the cursor{}; asking again from cursor '{}'", slot.name(),
        status,
        [&] {
          const std::string detail = ErrorDetail(slot, response);
          return detail.empty() ? std::string() : " (" + detail + ")";
        }(),
        Scrub(slot, *recovered));
    Page page;
    page.next_cursor = std::move(*recovered);
    page.caught_up = false;
    HandleSuccess(slot, response, std::move(page));
  } else {
    // 5xx, 408, other 4xx, stray 1xx/3xx: back off. A Retry-After on a
    // 503 is honoured when it asks for longer than the backoff.
    HandleFailure(slot, url, status, HttpFailure(slot, response, where), SourceHealth::kBackoff,
                  limits.retry_after, std::nullopt);
  }
}

std::optional<std::string> Scheduler::RecoveredCursor(const Slot& slot,
                                                      const HttpResponse& response) const {
  const ConnectorDescriptor& connector = slot.connector();
  if (connector.recover_cursor == nullptr || response.status < 400 || response.status >= 500) {
    return std::nullopt;
  }
  auto recovered = GuardConnector(
      slot.name(), "recovering a refused cursor", [&]() -> Result<std::optional<std::string>> {
        return connector.recover_cursor(slot.source.spec, slot.state().cursor, response);
      });
  if (!recovered.ok() || !recovered->has_value()) return std::nullopt;
  std::string cursor = std::move(**recovered);
  if (cursor.empty() || cursor == slot.state().cursor.cursor) return std::nullopt;
  return cursor;
}

void Scheduler::OnSessionResponse(Slot& slot, Result<HttpResponse> result) {
  const std::string url = slot.task_url;
  const TimePoint now = clock_.Now();
  const std::string where = "source '" + slot.name() + "': signing in";
  if (!result.ok()) {
    const Status& error = result.status();
    if (error.code() == StatusCode::kCancelled) {
      spdlog::info("source '{}': session request cancelled", slot.name());
      FinishPoll(slot);
      return;
    }
    const SourceHealth health = error.code() == StatusCode::kInvalidArgument
                                    ? SourceHealth::kStopped
                                    : SourceHealth::kBackoff;
    const bool names_url = error.message().find(url) != std::string::npos;
    HandleFailure(slot, url, 0, error.Annotate(where + (names_url ? "" : " at " + url)), health,
                  std::nullopt, std::nullopt);
    return;
  }
  const HttpResponse& response = *result;
  const Limits limits = ReadLimits(slot, response, now);
  ApplyRateLimit(slot.task_host, limits.info, now);
  // What was sent: a refresh when the current session has a refresh token.
  const bool refreshing = slot.session && !slot.session->refresh_token.empty();
  const AuthCapability& auth = *slot.connector().auth;
  Result<AuthSession> parsed = GuardConnector(slot.name(), "reading the session", [&] {
    return auth.parse_session(slot.source.spec, response, now);
  });
  if (parsed.ok() && parsed->access_token.empty()) {
    parsed = Status::ParseError("the session answer holds no access token");
  }
  if (parsed.ok()) {
    // Remember the tokens before anything could print them.
    for (const std::string* token : {&parsed->access_token, &parsed->refresh_token}) {
      if (token->empty()) continue;
      if (std::find(slot.session_secrets.begin(), slot.session_secrets.end(), *token) ==
          slot.session_secrets.end()) {
        slot.session_secrets.push_back(*token);
      }
    }
    while (slot.session_secrets.size() > kMaxSessionSecrets) {
      slot.session_secrets.erase(slot.session_secrets.begin());
    }
    slot.session = std::move(parsed).value();
    slot.session_obtained_at = now;
    ++stats_.sessions;
    spdlog::debug("source '{}': signed in{}", slot.name(),
                  slot.session->expires_at ? " until " + FormatRfc3339(*slot.session->expires_at)
                                           : std::string());
    PrepareSession(slot);
    return;
  }
  // Connectors usually name the URL themselves; say it once.
  const bool names_url = parsed.status().message().find(url) != std::string::npos;
  Status error = parsed.status().Annotate(names_url ? where : where + " at " + url);
  if (response.status < 200 || response.status >= 300) {
    // parse_session usually quotes the platform already; add its words only
    // when it did not.
    const std::string detail = ErrorDetail(slot, response);
    std::string_view core = detail;
    if (core.size() >= 3 && core.substr(core.size() - 3) == "...") core.remove_suffix(3);
    if (!core.empty() && Scrub(slot, error.message()).find(core) == std::string::npos) {
      error = Status(error.code(), error.message() + ": " + detail);
    }
  }
  const StatusCode code = error.code();
  const bool rejected = code == StatusCode::kUnauthenticated ||
                        code == StatusCode::kPermissionDenied ||
                        code == StatusCode::kInvalidArgument;
  if (refreshing && rejected) {
    // The refresh token is spent or revoked: sign in anew, once; a rejected
    // creation then stops the source.
    spdlog::info("source '{}': session refresh refused ({}); signing in anew", slot.name(),
                 StatusCodeName(code));
    slot.session.reset();
    PrepareSession(slot);
    return;
  }
  if (code == StatusCode::kUnauthenticated || code == StatusCode::kPermissionDenied) {
    HandleFailure(slot, url, response.status, error, SourceHealth::kStopped, std::nullopt,
                  std::nullopt);
  } else if (code == StatusCode::kRateLimited || response.status == 429) {
    HandleFailure(slot, url, response.status, error, SourceHealth::kRateLimited,
                  BlockFor429(slot.task_host, limits, now), std::nullopt);
  } else {
    // Session bodies carry tokens: never quarantined.
    HandleFailure(slot, url, response.status, error, SourceHealth::kBackoff, limits.retry_after,
                  std::nullopt);
  }
}

void Scheduler::OnConversationResponse(Slot& slot, Result<HttpResponse> result) {
  if (!slot.job) return;
  const std::string url = slot.task_url;
  const TimePoint now = clock_.Now();
  const std::string where =
      "source '" + slot.name() + "': conversation of " + slot.job->post.uid + ": GET " + url;
  if (!result.ok()) {
    const Status& error = result.status();
    if (error.code() == StatusCode::kCancelled) {
      // Shutdown: the watch stays due, exactly as stored.
      spdlog::info("source '{}': conversation request cancelled", slot.name());
      ConversationWatch watch = slot.job->watch;
      slot.job.reset();
      slot.pass_watches.erase(WatchKey(watch));
      RequeueWatch(slot, watch);
      return;
    }
    const bool names_url = error.message().find(url) != std::string::npos;
    HandleWatchFailure(
        slot, 0,
        error.Annotate("source '" + slot.name() + "': conversation of " + slot.job->post.uid +
                       (names_url ? std::string() : ": GET " + url)),
        /*skip_step=*/false, /*end=*/false, std::nullopt);
    return;
  }
  const HttpResponse& response = *result;
  const int status = response.status;
  const Limits limits = ReadLimits(slot, response, now);
  ApplyRateLimit(slot.task_host, limits.info, now);
  const ConversationCapability& capability = *slot.connector().conversation;

  if ((status >= 200 && status < 300) || status == 404 || status == 410) {
    Result<Page> page = GuardConnector(slot.name(), "parsing a conversation", [&] {
      if (capability.parse_after != nullptr) {
        return capability.parse_after(slot.source.spec, slot.job->post, slot.job->cursor, response);
      }
      return capability.parse(slot.source.spec, slot.job->post, response);
    });
    if (page.ok()) {
      HandleConversationPage(slot, response, std::move(page).value());
    } else {
      RawPayload body{url, status, HeaderOr(response.headers, "Content-Type"), response.body, now};
      HandleWatchFailure(slot, status, page.status().Annotate(where), /*skip_step=*/true,
                         /*end=*/false, std::move(body));
    }
  } else if (status == 429) {
    const std::optional<TimePoint> until = BlockFor429(slot.task_host, limits, now);
    if (!until) {
      HandleWatchFailure(slot, status, HttpFailure(slot, response, where), false, false,
                         std::nullopt);
      return;
    }
    // Not the watch's fault: it stays due, and waits with its host.
    spdlog::warn("source '{}': rate limited on a conversation fetch until {}", slot.name(),
                 FormatRfc3339(*until));
    if (single_pass_) slot.pass_watches.clear();
    ++stats_.failures;
    SourceEvent event;
    event.kind = SourceEvent::Kind::kFailure;
    event.conversation = true;
    event.source = slot.name();
    event.url = Redacted(slot, url);
    event.http_status = status;
    event.error =
        Status(StatusCode::kRateLimited, Scrub(slot, HttpFailure(slot, response, where).message()));
    event.health = slot.state().health;
    event.next_poll_at = slot.state().next_poll_at;
    Emit(event);
  } else if (slot.session_refused(response) && slot.has_auth() && !slot.session_retry_used) {
    RetryWithNewSession(slot, "conversation GET " + Redacted(slot, url), status);
  } else if (slot.session_refused(response)) {
    // The source's credentials, not this conversation: as for polls.
    slot.job.reset();
    HandleFailure(slot, url, status, HttpFailure(slot, response, where), SourceHealth::kStopped,
                  std::nullopt, std::nullopt);
  } else if (status == 403) {
    // This conversation is closed to us; the source may read others.
    HandleWatchFailure(slot, status, HttpFailure(slot, response, where), false, /*end=*/true,
                       std::nullopt);
  } else {
    HandleWatchFailure(slot, status, HttpFailure(slot, response, where), false, false,
                       std::nullopt);
  }
}

void Scheduler::RetryWithNewSession(Slot& slot, const std::string& what, int status) {
  spdlog::info("source '{}': {} answered {} (session refused); signing in again", slot.name(), what,
               status);
  slot.session_retry_used = true;
  DropSession(slot);
}

void Scheduler::DropSession(Slot& slot) {
  slot.session.reset();
  PrepareSession(slot);
}

void Scheduler::ApplyRateLimit(const std::string& host_name, const RateLimitInfo& info,
                               TimePoint now) {
  if (!info.remaining || *info.remaining > 0 || !info.reset) return;
  const TimePoint until = std::clamp(*info.reset, now, now + options_.rate_limit_max_wait);
  Host& host = hosts_[host_name];
  host.blocked_until = std::max(host.blocked_until.value_or(until), until);
}

void Scheduler::HandleSuccess(Slot& slot, const HttpResponse& response, Page page) {
  const TimePoint now = clock_.Now();
  const std::string url = slot.task_url;
  SourceState& state = slot.state();
  const ConnectorDescriptor& connector = slot.connector();

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
  for (Deletion& deletion : page.deletions) {
    if (deletion.uid.empty()) continue;
    write.deletions.push_back(PostDeletion{std::string(connector.name), std::move(deletion.uid),
                                           std::move(deletion.reason), now});
  }
  if (slot.has_conversation() && !options_.conversation_schedule.empty()) {
    write.watch_routed_after = options_.conversation_schedule.front();
    // Only posts whose conversation request can be built are watched; the
    // request is pure, so building it here costs no I/O.
    const ConversationCapability& capability = *connector.conversation;
    for (const Post& post : write.posts) {
      auto probe = GuardConnector(slot.name(), "building a conversation request",
                                  [&] { return capability.request(slot.source.spec, post, ""); });
      if (!probe.ok()) write.unwatchable.insert(post.uid.empty() ? post.id : post.uid);
    }
  }

  if (!page.next_cursor.empty()) state.cursor.cursor = page.next_cursor;
  state.cursor.etag = HeaderOr(response.headers, "ETag");
  state.cursor.last_modified = HeaderOr(response.headers, "Last-Modified");
  RecordSuccess(state, write, now);
  slot.session_retry_used = false;
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
  ApplyRateLimit(slot.task_host, page.rate_limit, now);
  if (auto it = hosts_.find(slot.task_host);
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
  spdlog::debug("source '{}': HTTP {} {} posts, {} deletion(s) from {}", slot.name(),
                response.status, write.posts.size(), write.deletions.size(), slot.redacted_url);

  write.state = state;
  SubmitWrite(slot, std::move(write));
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
  slot.session_retry_used = false;
  state.next_poll_at = now + Jittered(slot.source.spec.interval);
  if (auto it = hosts_.find(slot.task_host);
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
  SubmitWrite(slot, std::move(write));
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
    slot.job.reset();  // its watch stays due in the store
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
  // A source's first failure ends its part in a single pass.
  if (single_pass_) slot.pass_watches.clear();

  SourceWrite write;
  write.source = slot.name();
  write.state = state;
  if (quarantine) {
    // A source that keeps serving the same bad body is recorded once, not at
    // every retry.
    std::string hash = Sha256Hex(quarantine->body);
    if (hash != slot.last_quarantined_hash) {
      write.quarantine = std::move(quarantine);
      write.quarantine->url = Redacted(slot, write.quarantine->url);
      write.quarantine_error = message;
      slot.last_quarantined_hash = std::move(hash);
    }
  }
  ++stats_.failures;
  SourceEvent event;
  event.kind = SourceEvent::Kind::kFailure;
  event.source = slot.name();
  event.url = url.empty() ? std::string() : Redacted(slot, url);
  event.http_status = http_status;
  event.error = error;
  event.health = state.health;
  event.next_poll_at = state.next_poll_at;
  SubmitWrite(slot, std::move(write));
  FinishPoll(slot);
  Emit(event);
}

std::optional<TimePoint> Scheduler::NextWatchFetch(TimePoint anchor, TimePoint now) const {
  for (Duration offset : options_.conversation_schedule) {
    if (anchor + offset > now) return anchor + offset;
  }
  return std::nullopt;
}

void Scheduler::RequeueWatch(Slot& slot, const ConversationWatch& watch) {
  if (!watch.next_fetch_at) return;
  auto at = std::upper_bound(slot.watches.begin(), slot.watches.end(), watch, WatchBefore);
  slot.watches.insert(at, watch);
}

void Scheduler::HandleConversationPage(Slot& slot, const HttpResponse& response, Page page) {
  const TimePoint now = clock_.Now();
  Job& job = *slot.job;
  if (!page.warnings.empty() || page.skipped_items > 0) {
    spdlog::warn("source '{}': conversation of {}: {} item(s) skipped, {} warning(s){}{}",
                 slot.name(), job.post.uid, page.skipped_items, page.warnings.size(),
                 page.warnings.empty() ? "" : "; first: ",
                 page.warnings.empty() ? std::string() : Scrub(slot, page.warnings.front()));
  }
  SourceWrite write;
  write.source = slot.name();
  write.conversation_replies = true;
  for (Post& post : page.posts) {
    if (post.id.empty() && post.uid.empty()) continue;
    if (post.platform.empty()) post.platform = job.post.platform;
    // The watched post itself is stored already.
    if (post.platform == job.post.platform && UidOf(post) == job.post.uid) continue;
    post.fetched_at = now;
    write.posts.push_back(std::move(post));
  }
  if (!write.posts.empty()) {
    write.raw = RawPayload{slot.task_url, response.status,
                           HeaderOr(response.headers, "Content-Type"), response.body, now};
  }
  bool post_deleted = false;
  for (Deletion& deletion : page.deletions) {
    if (deletion.uid.empty()) continue;
    if (deletion.uid == job.post.uid) post_deleted = true;
    write.deletions.push_back(
        PostDeletion{job.post.platform, std::move(deletion.uid), std::move(deletion.reason), now});
  }
  slot.session_retry_used = false;
  ++job.pages;
  ++stats_.conversation_pages;
  stats_.posts += static_cast<int64_t>(write.posts.size());
  ApplyRateLimit(job.host, page.rate_limit, now);

  bool more = !page.caught_up && !page.next_cursor.empty() && !post_deleted &&
              job.pages < options_.max_pages_per_poll;
  if (more) {
    const ConversationCapability& capability = *slot.connector().conversation;
    auto request = GuardConnector(slot.name(), "building the conversation request", [&] {
      return capability.request(slot.source.spec, job.post, page.next_cursor);
    });
    Result<std::string> host = request.ok() ? UrlHost(request->url) : request.status();
    if (host.ok()) {
      job.cursor = page.next_cursor;
      job.host = *host;
      job.redacted_url = Redacted(slot, request->url);
      job.request = std::move(request).value();
    } else {
      spdlog::warn("source '{}': conversation of {}: no next page: {}", slot.name(), job.post.uid,
                   Scrub(slot, host.status().ToString()));
      more = false;
    }
  }
  SourceEvent event;
  event.kind = SourceEvent::Kind::kPage;
  event.conversation = true;
  event.source = slot.name();
  event.url = Redacted(slot, slot.task_url);
  event.http_status = response.status;
  event.posts = write.posts.size();
  event.caught_up = !more;
  event.health = slot.state().health;
  event.next_poll_at = slot.state().next_poll_at;
  if (!more) {
    ConversationWatch watch = job.watch;
    ++watch.fetches;
    ++watch.attempts;
    watch.failures = 0;
    watch.last_fetch_at = now;
    watch.last_error.clear();
    watch.next_fetch_at = post_deleted ? std::nullopt : NextWatchFetch(watch.anchor_at, now);
    write.watch_updates.push_back(watch);
    slot.job.reset();
    slot.pass_watches.erase(WatchKey(watch));
    RequeueWatch(slot, watch);
    ++stats_.conversation_fetches;
  }
  spdlog::debug("source '{}': conversation page: {} post(s), {} deletion(s)", slot.name(),
                write.posts.size(), write.deletions.size());
  write.state = slot.state();
  SubmitWrite(slot, std::move(write));
  Emit(event);
}

void Scheduler::HandleWatchFailure(Slot& slot, int http_status, const Status& error, bool skip_step,
                                   bool end, std::optional<RawPayload> quarantine) {
  const TimePoint now = clock_.Now();
  const std::string url = slot.task_url;
  const std::string message = Scrub(slot, ReplaceAllCopy(error.ToString(), url, RedactUrl(url)));
  ConversationWatch watch = slot.job->watch;
  slot.job.reset();
  ++watch.attempts;
  ++watch.failures;
  watch.last_fetch_at = now;
  watch.last_error = message;
  if (end) {
    watch.next_fetch_at.reset();
  } else if (skip_step || watch.failures >= options_.conversation_max_failures) {
    watch.failures = 0;
    watch.next_fetch_at = NextWatchFetch(watch.anchor_at, now);
  } else {
    watch.next_fetch_at = now + BackoffDelay(watch.failures);
  }
  spdlog::warn("source '{}': conversation fetch failed ({}): {}", slot.name(),
               !watch.next_fetch_at ? std::string("watch ended")
                                    : "next try " + FormatRfc3339(*watch.next_fetch_at),
               message);
  SourceWrite write;
  write.source = slot.name();
  write.state = slot.state();
  write.watch_updates.push_back(watch);
  if (quarantine) {
    std::string hash = Sha256Hex(quarantine->body);
    if (hash != slot.last_quarantined_hash) {
      write.quarantine = std::move(quarantine);
      write.quarantine->url = Redacted(slot, write.quarantine->url);
      write.quarantine_error = message;
      slot.last_quarantined_hash = std::move(hash);
    }
  }
  slot.pass_watches.erase(WatchKey(watch));
  RequeueWatch(slot, watch);
  ++stats_.failures;
  SourceEvent event;
  event.kind = SourceEvent::Kind::kFailure;
  event.conversation = true;
  event.source = slot.name();
  event.url = url.empty() ? std::string() : Redacted(slot, url);
  event.http_status = http_status;
  event.error = Status(error.code(), message);
  event.health = slot.state().health;
  event.next_poll_at = slot.state().next_poll_at;
  SubmitWrite(slot, std::move(write));
  Emit(event);
}

void Scheduler::FinishWatch(Slot& slot, ConversationWatch watch, const std::string& why) {
  spdlog::info("source '{}': stops watching {}: {}", slot.name(), watch.uid, Scrub(slot, why));
  watch.next_fetch_at.reset();
  watch.last_error = Scrub(slot, why);
  slot.pass_watches.erase(WatchKey(watch));
  SourceWrite write;
  write.source = slot.name();
  write.state = slot.state();
  write.watch_updates.push_back(std::move(watch));
  SubmitWrite(slot, std::move(write));
}

void Scheduler::FinishPoll(Slot& slot) {
  slot.pages_this_poll = 0;
  if (single_pass_ && slot.in_pass) slot.pass_done = true;
}

void Scheduler::SubmitWrite(Slot& slot, SourceWrite write) {
  // New posts may add watches and deletions may end them: look again once
  // this is committed.
  if (slot.has_conversation()) slot.watches_stale = true;
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

std::string Scheduler::ErrorDetail(const Slot& slot, const HttpResponse& response) const {
  const ConnectorDescriptor* connector = slot.source.connector;
  if (connector == nullptr || connector->error_detail == nullptr) return {};
  std::string detail;
  try {
    detail = connector->error_detail(response);
  } catch (...) {
    // The promise is "never throws"; a connector that does loses its words.
    return {};
  }
  // Masked before the cut, so no prefix of a secret survives it.
  return OneLineDetail(Scrub(slot, std::move(detail)));
}

Status Scheduler::HttpFailure(const Slot& slot, const HttpResponse& response,
                              const std::string& where) const {
  return StatusFromHttp(response.status, where, ErrorDetail(slot, response));
}

std::string Scheduler::Scrub(const Slot& slot, std::string text) const {
  for (const std::string& secret : slot.secrets) ReplaceAll(text, secret, "***");
  for (const std::string& token : slot.session_secrets) ReplaceAll(text, token, "***");
  return text;
}

std::string Scheduler::Redacted(const Slot& slot, const std::string& url) const {
  return Scrub(slot, RedactUrl(url));
}

}  // namespace earshot
