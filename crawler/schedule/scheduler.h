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
// - A 4xx the connector's recover_cursor reads as a refusal of the cursor
//   itself (X: a since_id older than seven days): the cursor it offers is
//   stored as a page's next_cursor would be, and the source asks again at
//   once (within max_pages_per_poll); the same cursor again is a failure.
// Conversation pages are read with ConversationCapability::parse_after and
// the job's cursor when the connector sets it, else with parse.
// A non-2xx answer's failure message (polls, session requests, conversation
// fetches) ends with the platform's own explanation when the connector has
// an error_detail: "HTTP 401: InvalidToken: Bad token scope".
// Every outcome, failures included, is submitted to the Pipeline as one
// SourceWrite, so state writes stay ordered with page writes and commit with
// them. Failure messages name the source and URL and never contain userinfo,
// secret query values or the values of the connector's secret keys.
//
// - Page::deletions go into the same SourceWrite as the page, matched
//   against posts of the connector's platform (Post::platform defaults to
//   the connector's name); the store turns those it holds into tombstones.
//
// Auth sessions (connectors with an AuthCapability): before a source's first
// request the scheduler creates a session (session_request/parse_session),
// then authorizes every request of that source with it. A session is
// renewed before its expires_at (session_renew_ahead, by the injected
// clock) — with the refresh token when it has one, else by creating a new
// one — and a refresh the platform rejects (401/403/400) is followed by a
// fresh creation. A 401 on any other request of the source (or an answer
// AuthCapability::session_refused reads as a refused session, such as
// Bluesky's 400 ExpiredToken) drops the session and retries that request
// once with a new one; a second such answer in a row stops the source. A
// session request answered 401/403 stops the source with the platform's
// message; 429 waits like any rate limit; 5xx, other answers and network
// errors back off as polls do. Session requests obey the same per-host
// politeness and rate limits as every request; sessions live in this
// object's memory only, their bodies are never stored (not even
// quarantined), and their tokens are masked in every message like
// the connector's secret keys.
//
// Conversation watching (connectors with a ConversationCapability, and a
// non-empty conversation_schedule): every post a poll newly stores with an
// organisation decision is put on the store's watch list in the same
// transaction (SourceWrite::watch_routed_after). Its conversation is fetched
// at anchor + each offset of conversation_schedule (anchor: the post's
// created_at, else its fetched_at) but never sooner than the first offset
// after it was stored; steps already past at a fetch are skipped, and after
// the last one the watch is finished. A fetch goes
// through the source's session, politeness and rate limits, follows the
// capability's cursor for up to max_pages_per_poll pages, and submits each
// page as a write with conversation_replies set: its posts are redacted and
// classified but not dropped as irrelevant, and its deletions (404/410 on
// the watched post itself, which the capability's parse reports) tombstone
// stored posts; a watched post that is deleted is watched no more. The
// watch's progress commits with the fetch's last page, so a restart resumes
// the schedule from the store. Failures of a fetch touch the watch, not the
// source's health: 429 blocks the host and leaves the watch due; 403 ends
// the watch; a body the capability cannot parse is quarantined and the step
// is skipped; other failures retry the step after the usual backoff, up to
// conversation_max_failures times, then skip it. A 401 follows the session
// rule above (without a session capability it stops the source, as for
// polls). Watches wait while their source is backing off or rate-limited,
// and a source's watches and polls take turns (one request in flight per
// source). The watch list is read from the Pipeline's store (a window of
// the soonest per source), again whenever this scheduler's writes have all
// been committed since it last looked.
//
// Politeness: per host (UrlHost of the request URL) at most
// per_host_concurrency requests in flight and at least per_host_min_delay
// between request starts.
//
// Threading: single-threaded. Poll(), NextWakeup() and the transport
// callbacks run on the engine's io_context thread; the scheduler reads the
// Pipeline's store on that thread. Clock, transport and pipeline must
// outlive the Scheduler; callbacks arriving after it is destroyed are
// ignored.
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
  // An auth session is renewed this long before its expires_at.
  Duration session_renew_ahead = std::chrono::minutes(1);
  // When the conversation of a watched post is fetched, as offsets from the
  // post's creation, ascending. Empty: no conversation watching.
  std::vector<Duration> conversation_schedule = {std::chrono::minutes(10), std::chrono::hours(1),
                                                 std::chrono::hours(6), std::chrono::hours(24),
                                                 std::chrono::hours(72)};
  // Failed attempts at one step of a watch before the step is skipped.
  int conversation_max_failures = 3;
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
  // A step of a watched conversation's fetch rather than of a poll (kPage:
  // a conversation page; kFailure: the fetch failed, the source's health is
  // unchanged unless it stopped).
  bool conversation = false;
};

struct SchedulerStats {
  int64_t polls = 0;     // polls begun (a poll may follow several pages)
  int64_t requests = 0;  // requests started
  int64_t pages = 0;     // 2xx pages parsed
  int64_t not_modified = 0;
  int64_t posts = 0;                 // posts parsed (before de-duplication)
  int64_t failures = 0;              // failed steps of any kind
  int64_t sessions = 0;              // auth sessions obtained (created or refreshed)
  int64_t conversation_pages = 0;    // conversation pages parsed (not in `pages`)
  int64_t conversation_fetches = 0;  // watched conversations fetched to the end
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
  // pass is complete). Not const: it may first re-read the watch list.
  std::optional<TimePoint> NextWakeup();

  // Single pass (`earshot once`): from now on only the sources due at this
  // moment are polled, each once (following its pages until caught up or
  // max_pages_per_poll), failures included, and the watched conversations
  // due at this moment are fetched, each once (at most a window of them per
  // source); then SinglePassDone(). A source's first failure ends its part
  // in the pass.
  void BeginSinglePass();
  bool SinglePassDone() const;
  // Back to polling every due source.
  void EndSinglePass() { single_pass_ = false; }
  // Number of sources that took part (a poll or a conversation fetch begun)
  // in the single pass so far.
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
  struct Job;
  // Politeness state of one host.
  struct Host {
    int in_flight = 0;
    std::optional<TimePoint> last_start;
    // Rate limit exhausted or 429: nothing to this host before then.
    std::optional<TimePoint> blocked_until;
  };
  // What a source sends next.
  enum class Task { kPoll, kSession, kConversation };
  struct Step {
    Task task = Task::kPoll;
    TimePoint at{};  // earliest start, politeness included
  };
  // Rate-limit facts of one response.
  struct Limits {
    RateLimitInfo info;
    std::optional<TimePoint> retry_after;  // Retry-After, capped
  };

  // Builds the slot's next poll request from its cursor (or records why not).
  void Prepare(Slot& slot);
  // Builds the request that creates or renews the slot's session.
  void PrepareSession(Slot& slot);
  // The slot's next step and when it could start; nullopt: not waiting on
  // time (stopped, in flight, nothing wanted, or its host is at the
  // concurrency limit).
  std::optional<Step> NextStep(const Slot& slot) const;
  // `at`, or later if `host` needs it; nullopt at the concurrency limit.
  std::optional<TimePoint> Gate(const std::string& host, TimePoint at) const;
  bool PollWanted(const Slot& slot) const;
  bool NeedsSession(const Slot& slot, TimePoint at) const;
  // The first watch of the slot this run may fetch (single pass: in the
  // pass), and when, the source's health permitting.
  const ConversationWatch* HeadWatch(const Slot& slot) const;
  TimePoint WatchDue(const Slot& slot, const ConversationWatch& watch) const;
  // Re-reads the slot's watch window when stale and everything submitted is
  // committed; then turns a due head watch into the slot's job.
  void PrepareWatches(Slot& slot, TimePoint now);
  void RefreshWatches(Slot& slot);
  void StartJob(Slot& slot, TimePoint now);
  bool Start(Slot& slot, const Step& step, TimePoint now);
  void OnResponse(size_t index, Result<HttpResponse> result);
  void OnPollResponse(Slot& slot, Result<HttpResponse> result);
  void OnSessionResponse(Slot& slot, Result<HttpResponse> result);
  void OnConversationResponse(Slot& slot, Result<HttpResponse> result);
  Limits ReadLimits(const Slot& slot, const HttpResponse& response, TimePoint now);
  // The time a 429 asks to wait (blocking `host` until then), if any.
  std::optional<TimePoint> BlockFor429(const std::string& host, const Limits& limits,
                                       TimePoint now);
  void HandleSuccess(Slot& slot, const HttpResponse& response, Page page);
  void HandleNotModified(Slot& slot, const HttpResponse& response);
  void HandleFailure(Slot& slot, const std::string& url, int http_status, Status error,
                     SourceHealth health, std::optional<TimePoint> retry_at,
                     std::optional<RawPayload> quarantine);
  void HandleConversationPage(Slot& slot, const HttpResponse& response, Page page);
  // A fetch of the slot's job failed: the watch records it and is retried
  // after a backoff, or moves to its next step (`skip_step`), or ends
  // (`end`).
  void HandleWatchFailure(Slot& slot, int http_status, const Status& error, bool skip_step,
                          bool end, std::optional<RawPayload> quarantine);
  // Records `watch` as finished without a fetch (its post is gone, or no
  // request can be built for it).
  void FinishWatch(Slot& slot, ConversationWatch watch, const std::string& why);
  // Keeps `watch` in the slot's window while it has a next fetch.
  void RequeueWatch(Slot& slot, const ConversationWatch& watch);
  // The first conversation_schedule step after `now`; nullopt: none left.
  std::optional<TimePoint> NextWatchFetch(TimePoint anchor, TimePoint now) const;
  // A 401 (or a refused session) with a session to renew: drop it and send
  // the request again. `status` is the answer's, for the log.
  void RetryWithNewSession(Slot& slot, const std::string& what, int status);
  // The cursor the connector's recover_cursor offers for a refused poll, if
  // it differs from the stored one.
  std::optional<std::string> RecoveredCursor(const Slot& slot, const HttpResponse& response) const;
  void DropSession(Slot& slot);
  void FinishPoll(Slot& slot);
  void ApplyRateLimit(const std::string& host, const RateLimitInfo& info, TimePoint now);
  Duration Jittered(Duration d);
  Duration BackoffDelay(int failures);
  // The connector's error_detail for a non-2xx `response`: secrets masked,
  // one line of valid UTF-8, at most kMaxErrorDetail bytes; "" without one.
  std::string ErrorDetail(const Slot& slot, const HttpResponse& response) const;
  // StatusFromHttp for a non-2xx `response`, with its ErrorDetail.
  Status HttpFailure(const Slot& slot, const HttpResponse& response,
                     const std::string& where) const;
  std::string Scrub(const Slot& slot, std::string text) const;
  std::string Redacted(const Slot& slot, const std::string& url) const;
  void Emit(const SourceEvent& event);
  void SubmitWrite(Slot& slot, SourceWrite write);

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
