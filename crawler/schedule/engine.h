// Engine: the crawl loop. One Boost.Asio io_context drives the transport, a
// timer that wakes for the scheduler's next due time or the pipeline's flush
// deadline, and the scheduler again after every response.
//
// Modes:
// - RunUntilStopped(): crawl until Stop(). Then no new request starts, the
//   requests in flight finish and are submitted, everything queued is
//   flushed, and it returns. A second Stop() cancels the requests in flight
//   (their sources record nothing and are due again next time).
// - RunOnce(): poll every source due at the start once — following its pages
//   until caught up or max_pages_per_poll — then flush and return. Sources
//   not due or stopped are skipped; a failing or rate-limited source records
//   its failure and does not hold up the exit.
// A failed flush while running is logged and retried (the pipeline backs
// off); queued writes are never dropped. The final flush's failure is the
// summary's `status`.
//
// Threading: Run*() runs handlers of the io_context on the calling thread
// until its work is done; other handlers on the same io_context (a signal
// set, a server) run too. Stop() may be called from any thread.
// The io_context, clock, transport, scheduler and pipeline must outlive the
// Engine, and the transport must complete on this io_context.
#pragma once

#include <cstdint>
#include <memory>

#include "crawler/core/clock.h"
#include "crawler/core/status.h"
#include "crawler/net/transport.h"
#include "crawler/pipeline/pipeline.h"
#include "crawler/schedule/scheduler.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace earshot {

// What one Run*() call did. Counts cover that call only.
struct RunSummary {
  // Polls begun (RunOnce: distinct sources that polled or fetched a
  // watched conversation).
  int64_t sources_polled = 0;
  int64_t requests = 0;
  int64_t pages = 0;               // 2xx poll pages parsed (conversation pages not included)
  int64_t not_modified = 0;        // 304s
  int64_t posts_stored = 0;        // new posts committed
  int64_t duplicates = 0;          // posts the store already had
  int64_t posts_deleted = 0;       // stored posts turned into tombstones
  int64_t conversations = 0;       // watched conversations fetched
  int64_t conversation_pages = 0;  // their pages parsed (not in `pages`)
  int64_t failures = 0;            // failed steps of any source
  int64_t quarantined = 0;         // unparseable bodies kept aside
  int64_t flush_failures = 0;
  // OK, or why the final flush failed (the writes were not committed).
  Status status;
};

class Engine {
 public:
  Engine(boost::asio::io_context& io, const Clock& clock, HttpTransport& transport,
         Scheduler& scheduler, Pipeline& pipeline);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  RunSummary RunUntilStopped();
  RunSummary RunOnce();

  // Asks the running (or next) Run*() to wind down; see the file comment.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace earshot
