#include "crawler/schedule/engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

namespace earshot {

namespace {
// The timer never sleeps longer than this, so a wall-clock jump (NTP, a
// suspended laptop) is noticed within a minute.
constexpr Duration kMaxSleep = std::chrono::minutes(1);
}  // namespace

struct Engine::Impl {
  Impl(boost::asio::io_context& io, const Clock& clock, HttpTransport& transport,
       Scheduler& scheduler, Pipeline& pipeline)
      : io(io),
        clock(clock),
        transport(transport),
        scheduler(scheduler),
        pipeline(pipeline),
        timer(io) {}

  RunSummary Run(bool once);
  void Tick();
  void Arm();
  void Finish();
  void RequestStop();

  boost::asio::io_context& io;
  const Clock& clock;
  HttpTransport& transport;
  Scheduler& scheduler;
  Pipeline& pipeline;
  boost::asio::steady_timer timer;

  bool once = false;
  bool finished = true;
  int stop_requests = 0;
  Status final_status;
};

RunSummary Engine::Impl::Run(bool single_pass) {
  const PipelineStats pipeline_before = pipeline.stats();
  const SchedulerStats scheduler_before = scheduler.stats();
  const int polled_before = scheduler.sources_polled();

  once = single_pass;
  finished = false;
  final_status = Status::Ok();
  scheduler.SetStepListener([this] { Tick(); });
  if (once) scheduler.BeginSinglePass();
  boost::asio::post(io, [this] { Tick(); });
  while (!finished) {
    if (io.stopped()) io.restart();
    // No work left at all would mean no timer and nothing in flight: look
    // again rather than spin (Tick either finishes or arms the timer).
    if (io.run_one() == 0 && !finished) Tick();
  }
  scheduler.SetStepListener(nullptr);
  if (once) scheduler.EndSinglePass();
  stop_requests = 0;

  const PipelineStats& p = pipeline.stats();
  const SchedulerStats& s = scheduler.stats();
  RunSummary summary;
  summary.sources_polled =
      once ? scheduler.sources_polled() - polled_before : s.polls - scheduler_before.polls;
  summary.requests = s.requests - scheduler_before.requests;
  summary.pages = s.pages - scheduler_before.pages;
  summary.not_modified = s.not_modified - scheduler_before.not_modified;
  summary.failures = s.failures - scheduler_before.failures;
  summary.posts_stored = p.stored - pipeline_before.stored;
  summary.duplicates = p.duplicates - pipeline_before.duplicates;
  summary.posts_deleted = p.deleted - pipeline_before.deleted;
  summary.conversations = s.conversation_fetches - scheduler_before.conversation_fetches;
  summary.conversation_pages = s.conversation_pages - scheduler_before.conversation_pages;
  summary.quarantined = p.quarantined - pipeline_before.quarantined;
  summary.flush_failures = p.failures - pipeline_before.failures;
  summary.status = final_status;
  return summary;
}

void Engine::Impl::Tick() {
  if (finished) return;
  if (Status flushed = pipeline.FlushIfDue(); !flushed.ok()) {
    spdlog::error("{}", flushed.ToString());
  }
  if (stop_requests > 0) {
    scheduler.Drain();
    if (scheduler.InFlight() == 0) return Finish();
  } else {
    if (once && scheduler.SinglePassDone()) return Finish();
    scheduler.Poll();
    // Every due source may have failed without a request (bad config).
    if (once && scheduler.SinglePassDone()) return Finish();
  }
  Arm();
}

void Engine::Impl::Arm() {
  std::optional<TimePoint> wake = scheduler.NextWakeup();
  if (auto flush = pipeline.FlushDeadline(); flush && (!wake || *flush < *wake)) wake = flush;
  Duration delay = kMaxSleep;
  if (wake) delay = std::clamp<Duration>(*wake - clock.Now(), Duration(0), kMaxSleep);
  timer.expires_after(delay);
  timer.async_wait([this](const boost::system::error_code& error) {
    if (error == boost::asio::error::operation_aborted) return;
    Tick();
  });
}

void Engine::Impl::Finish() {
  final_status = pipeline.Flush();
  if (!final_status.ok()) {
    spdlog::error("final {}", final_status.ToString());
  }
  finished = true;
  timer.cancel();
}

void Engine::Impl::RequestStop() {
  if (finished) return;
  ++stop_requests;
  if (stop_requests == 2) {
    spdlog::warn("second stop request: cancelling {} requests in flight", scheduler.InFlight());
    transport.CancelAll();
  }
  Tick();
}

Engine::Engine(boost::asio::io_context& io, const Clock& clock, HttpTransport& transport,
               Scheduler& scheduler, Pipeline& pipeline)
    : impl_(std::make_unique<Impl>(io, clock, transport, scheduler, pipeline)) {}

Engine::~Engine() = default;

RunSummary Engine::RunUntilStopped() { return impl_->Run(false); }
RunSummary Engine::RunOnce() { return impl_->Run(true); }

void Engine::Stop() {
  Impl* impl = impl_.get();
  boost::asio::post(impl->io, [impl] { impl->RequestStop(); });
}

}  // namespace earshot
