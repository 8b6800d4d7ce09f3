// Scheduler: the per-source state machine — when each source is polled, what
// its response does to its cursor and health, and how hard each host is hit.
//
// What each outcome does (DESIGN.md, Errors):
// - 2xx, parsed: posts + new cursor + health kOk in one SourceWrite. A page
//   that is not caught up keeps the source due at once (next page), up to
//   max_pages_per_poll pages per poll; otherwise next poll = interval ±
//   jitter.
// - 304: success without posts (caught up).
// - 2xx that cannot be parsed (or a connector that throws): body quarantined
//   with the error (once per distinct body), cursor kept, failure counted,
//   backoff.
// - transport errors (unavailable, timeout, body too large), HTTP 5xx, 408,
//   other 4xx, stray 3xx: failure, health kBackoff, next poll after
//   min(backoff_max, backoff_initial * 2^(failures-1)) ± jitter.
// - 429: health kRateLimited until max(Retry-After, the platform's reset /
//   retry time); backoff when the response names no time. The whole host
//   waits, not only this source (platform limits are per client).
// - 401/403, a request the connector cannot build, an unusable URL: health
//   kStopped; never polled again by this Scheduler. A source loaded in state
//   kStopped is skipped: resuming it is an operator's action (reset its
//   state), not a restart's.
// - A page whose rate-limit facts say remaining == 0: nothing more to that
//   host before the reset.
// Every outcome, failures included, is submitted to the Pipeline as one
// SourceWrite, so state writes stay ordered with page writes and commit with
// them. Failure messages name the source and URL and never contain userinfo,
// secret query values or the values of the connector's secret keys.
//
// Politeness: per host (UrlHost of the request URL) at most
// per_host_concurrency requests in flight and at least per_host_min_delay
// between request starts.
//
// Threading: single-threaded. Poll() and the transport callbacks run on the
// engine's io_context thread. Clock, transport and pipeline must outlive the
// Scheduler; callbacks arriving after it is destroyed are ignored.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "crawler/core/clock.h"
#include "crawler/core/connector.h"
#include "crawler/core/http.h"
#include "crawler/core/status.h"
#include "crawler/net/transport.h"
#include "crawler/pipeline/pipeline.h"
#include "crawler/store/store.h"

namespace earshot {

struct ScheduleOptions {
  // Fraction of an interval or backoff added or removed at random.
  double jitter = 0.1;
  Duration backoff_initial = std::chrono::seconds(30);
  Duration backoff_max = std::chrono::hours(1);
  int per_host_concurrency = 2;
  Duration per_host_min_delay = std::chrono::seconds(1);
  int max_pages_per_poll = 20;
  // Longest wait a Retry-After or rate-limit reset may impose; a server
  // naming next year gets this instead.
  Duration rate_limit_max_wait = std::chrono::hours(24);
};

// One configured source, resolved against the connector registry by the
// caller, with the state loaded from the store (default state if new).
struct ScheduledSource {
  SourceSpec spec;
  const ConnectorDescriptor* connector = nullptr;  // not owned; must outlive
  SourceState state;
};

// One step of a source, reported as it happens (the CLI's progress output).
struct SourceEvent {
  enum class Kind {
    kPage,         // a 2xx page parsed (posts may be 0)
    kNotModified,  // 304
    kFailure,      // any failure: transport, HTTP status, parse, config
  };
  Kind kind = Kind::kPage;
  std::string source;
  std::string url;                          // credentials removed
  int http_status = 0;                      // 0 when no response came
  size_t posts = 0;                         // posts on the page; duplicates are known at flush
  bool caught_up = true;                    // the platform said no more pages are waiting
  Status error;                             // OK unless kFailure
  SourceHealth health = SourceHealth::kOk;  // after this step
  std::optional<TimePoint> next_poll_at;    // absent: due again at once
};

struct SchedulerStats {
  int64_t polls = 0;     // polls begun (a poll may follow several pages)
  int64_t requests = 0;  // requests started
  int64_t pages = 0;     // 2xx pages parsed
  int64_t not_modified = 0;
  int64_t posts = 0;     // posts parsed (before de-duplication)
  int64_t failures = 0;  // failed steps of any kind
};

class Scheduler {
 public:
  Scheduler(std::vector<ScheduledSource> sources, const Clock& clock, HttpTransport& transport,
            Pipeline& pipeline, ScheduleOptions options = {},
            uint64_t seed = std::random_device{}());
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Starts a request for every source that is due now and allowed by
  // politeness, the pipeline's back-pressure and Single-pass/Drain mode.
  // Returns how many requests it started.
  int Poll();

  // The earliest time Poll() could start something (a due time, a host's
  // min-delay gate or rate-limit reset), at or before now when something can
  // start at once; nullopt when nothing is waiting on time (all stopped,
  // only requests in flight, draining, pipeline saturated, or the single
  // pass is complete).
  std::optional<TimePoint> NextWakeup() const;

  // Single pass (`earshot once`): from now on only the sources due at this
  // moment are polled, each once (following its pages until caught up or
  // max_pages_per_poll), failures included; then SinglePassDone().
  void BeginSinglePass();
  bool SinglePassDone() const;
  // Back to polling every due source.
  void EndSinglePass() { single_pass_ = false; }
  // Number of sources that took part in the single pass so far.
  int sources_polled() const { return sources_polled_; }

  // Starts nothing more; requests in flight still complete and submit.
  void Drain() { draining_ = true; }
  bool draining() const { return draining_; }

  size_t InFlight() const { return in_flight_; }

  // Called after each response (or request failure) has been handled, e.g.
  // so the engine can Poll() again.
  void SetStepListener(std::function<void()> listener);
  void SetEventListener(std::function<void(const SourceEvent&)> listener);

  // The in-memory state (ahead of the store until the pipeline flushes);
  // nullptr for an unknown name.
  const SourceState* StateOf(const std::string& source) const;
  const SchedulerStats& stats() const { return stats_; }

 private:
  struct Slot;
  // Politeness state of one host.
  struct Host {
    int in_flight = 0;
    std::optional<TimePoint> last_start;
    // Rate limit exhausted or 429: nothing to this host before then.
    std::optional<TimePoint> blocked_until;
  };

  // Builds the slot's next request from its cursor (or records why not).
  void Prepare(Slot& slot);
  // Not stopped, not in flight, not excluded by Drain or the single pass.
  bool Eligible(const Slot& slot) const;
  // When `slot` could start, politeness permitting; nullopt: not waiting on
  // time (ineligible, or its host is at the concurrency limit).
  std::optional<TimePoint> EarliestStart(const Slot& slot) const;
  bool Start(Slot& slot, TimePoint now);
  void OnResponse(size_t index, Result<HttpResponse> result);
  void HandleSuccess(Slot& slot, const HttpResponse& response, Page page);
  void HandleNotModified(Slot& slot, const HttpResponse& response);
  void HandleFailure(Slot& slot, const std::string& url, int http_status, Status error,
                     SourceHealth health, std::optional<TimePoint> retry_at,
                     std::optional<RawPayload> quarantine);
  void FinishPoll(Slot& slot);
  void ApplyRateLimit(Slot& slot, const RateLimitInfo& info, TimePoint now);
  Duration Jittered(Duration d);
  Duration BackoffDelay(int failures);
  std::string Scrub(const Slot& slot, std::string text) const;
  void Emit(const SourceEvent& event);
  void SubmitWrite(SourceWrite write);

  const Clock& clock_;
  HttpTransport& transport_;
  Pipeline& pipeline_;
  ScheduleOptions options_;
  std::mt19937_64 rng_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::map<std::string, Host> hosts_;
  size_t in_flight_ = 0;
  bool single_pass_ = false;
  bool draining_ = false;
  int sources_polled_ = 0;
  SchedulerStats stats_;
  std::function<void()> step_listener_;
  std::function<void(const SourceEvent&)> event_listener_;
  // Expires with the Scheduler, so late transport callbacks do nothing.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace earshot
