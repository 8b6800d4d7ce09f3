// Pipeline: what happens to a fetched page between the connector and the
// store — normalise (then, in later issues, redact and classify) — and the
// batching of writes into few, large transactions.
//
// Promises:
// - Every queued SourceWrite reaches Store::Apply exactly once after it was
//   queued, in submission order, and all writes queued at the moment of a
//   flush go to ONE Apply call (one transaction). So a page's posts and its
//   source's new cursor commit together, and the state writes of one source
//   never overtake each other.
// - A failed Apply keeps the whole queue, unchanged, for the next attempt:
//   nothing is dropped, and the error comes back to the caller. Automatic
//   flushes (row threshold, FlushIfDue) then wait `retry_initial`, doubling
//   up to `retry_max`, before trying again; Flush() always tries at once.
// Thread-safety: none; use from the engine's thread. The Store and Clock must
// outlive the Pipeline.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "crawler/core/clock.h"
#include "crawler/core/post.h"
#include "crawler/core/status.h"
#include "crawler/store/store.h"

namespace earshot {

struct BatchOptions {
  // Flush as soon as this many posts are queued.
  int64_t max_rows = 1000;
  // Flush (via FlushIfDue) once the oldest queued write is this old.
  Duration max_delay = std::chrono::milliseconds(100);
  // After a failed Apply, automatic flushes wait this long, doubling per
  // consecutive failure up to retry_max.
  Duration retry_initial = std::chrono::seconds(1);
  Duration retry_max = std::chrono::minutes(1);
  // Above this many queued posts the pipeline reports Saturated(), so the
  // scheduler stops starting requests until the store catches up (a store
  // that keeps failing must not make memory grow without bound).
  int64_t max_queued_rows = 50'000;
};

// Running totals since construction, for progress output and summaries.
struct PipelineStats {
  int64_t stored = 0;        // posts inserted by successful flushes
  int64_t duplicates = 0;    // posts the store already had
  int64_t pages = 0;         // committed writes that carried a fetched page
  int64_t quarantined = 0;   // committed bodies that could not be parsed
  int64_t state_writes = 0;  // committed SourceWrites of any kind
  int64_t flushes = 0;       // successful Apply calls
  int64_t failures = 0;      // failed Apply calls
  int64_t deleted = 0;       // stored posts turned into tombstones
  // Deletions that changed nothing: the post was never stored, or was a
  // tombstone already.
  int64_t deletions_ignored = 0;
  int64_t watches_added = 0;  // conversations newly watched
};

// What one flush attempt did, for listeners (the CLI's progress line).
struct FlushReport {
  size_t writes = 0;
  int64_t posts = 0;
  ApplyStats stats;  // zero when the flush failed
  Status status;
};

// The normalise stage, exposed for `earshot import` and tests: uid defaults
// to id, title/text/author name to NFC, content_hash = SHA-256 of the text.
// fetched_at is left as the caller set it.
void NormalisePost(Post& post);

// A stage after normalisation (redaction, classification, relevance, later
// issues). It may edit or drop posts of the write, never reorder writes, and
// leaves deletions and watch updates alone. A non-OK Status rejects the
// write (Submit returns it; nothing is queued).
class PipelineStage {
 public:
  virtual ~PipelineStage() = default;
  virtual Status Process(SourceWrite& write) = 0;
};

class Pipeline {
 public:
  Pipeline(Store& store, const Clock& clock, BatchOptions options = {});
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Appended after the built-in normaliser; stages run in the order added.
  void AddStage(std::unique_ptr<PipelineStage> stage);

  // Runs the stages and queues the write. Posts with a zero fetched_at get
  // the clock's now. When the queue then holds max_rows posts or more (and
  // no failure retry is pending) it flushes; the returned Status is that
  // flush's. Either way the write is queued or committed, never lost.
  Status Submit(SourceWrite write);

  // Flushes when the oldest queued write is max_delay old (and any failure
  // retry delay has passed). OK when nothing was due.
  Status FlushIfDue();

  // Writes everything queued now, in one Apply. OK when the queue is empty.
  Status Flush();

  // When FlushIfDue will next have work: nullopt when the queue is empty.
  std::optional<TimePoint> FlushDeadline() const;

  // True while more than max_queued_rows posts wait (see BatchOptions).
  bool Saturated() const;

  // The store the pipeline writes to. The scheduler reads its conversation
  // watch list from it (between flushes, on the same thread).
  Store& store() const { return store_; }

  size_t queued_writes() const { return queue_.size(); }
  int64_t queued_posts() const { return queued_posts_; }
  const PipelineStats& stats() const { return stats_; }

  // Called after every flush attempt with a non-empty queue.
  void SetFlushListener(std::function<void(const FlushReport&)> listener);

 private:
  Status FlushNow();
  bool RetryPending(TimePoint now) const;

  Store& store_;
  const Clock& clock_;
  BatchOptions options_;
  std::vector<std::unique_ptr<PipelineStage>> stages_;
  std::vector<SourceWrite> queue_;
  int64_t queued_posts_ = 0;
  TimePoint oldest_queued_at_{};
  int consecutive_failures_ = 0;
  std::optional<TimePoint> retry_at_;
  PipelineStats stats_;
  std::function<void(const FlushReport&)> flush_listener_;
};

}  // namespace earshot
