#include "crawler/pipeline/pipeline.h"

#include <algorithm>
#include <string>
#include <utility>

#include "crawler/core/text.h"

namespace earshot {

void NormalisePost(Post& post) {
  if (post.uid.empty()) post.uid = post.id;
  post.title = ToNfc(post.title);
  post.text = ToNfc(post.text);
  post.author_name = ToNfc(post.author_name);
  post.content_hash = Sha256Hex(post.text);
}

Pipeline::Pipeline(Store& store, const Clock& clock, BatchOptions options)
    : store_(store), clock_(clock), options_(options) {}

Pipeline::~Pipeline() = default;

void Pipeline::AddStage(std::unique_ptr<PipelineStage> stage) {
  stages_.push_back(std::move(stage));
}

void Pipeline::SetFlushListener(std::function<void(const FlushReport&)> listener) {
  flush_listener_ = std::move(listener);
}

Status Pipeline::Submit(SourceWrite write) {
  const TimePoint now = clock_.Now();
  // Stage 1: normalise. Every later stage (redaction, classification,
  // relevance) sees normalised posts and is added through AddStage().
  for (Post& post : write.posts) {
    NormalisePost(post);
    if (post.fetched_at == TimePoint{}) post.fetched_at = now;
  }
  for (const auto& stage : stages_) {
    EARSHOT_RETURN_IF_ERROR(
        stage->Process(write).Annotate("pipeline: source '" + write.source + "'"));
  }

  if (queue_.empty()) oldest_queued_at_ = now;
  queued_posts_ += static_cast<int64_t>(write.posts.size());
  queue_.push_back(std::move(write));

  if (queued_posts_ >= options_.max_rows && !RetryPending(now)) return FlushNow();
  return Status::Ok();
}

bool Pipeline::RetryPending(TimePoint now) const { return retry_at_ && now < *retry_at_; }

Status Pipeline::FlushIfDue() {
  if (queue_.empty()) return Status::Ok();
  const TimePoint now = clock_.Now();
  if (RetryPending(now)) return Status::Ok();
  if (now - oldest_queued_at_ < options_.max_delay && queued_posts_ < options_.max_rows) {
    return Status::Ok();
  }
  return FlushNow();
}

Status Pipeline::Flush() {
  if (queue_.empty()) return Status::Ok();
  return FlushNow();
}

std::optional<TimePoint> Pipeline::FlushDeadline() const {
  if (queue_.empty()) return std::nullopt;
  TimePoint due = oldest_queued_at_ + options_.max_delay;
  if (queued_posts_ >= options_.max_rows) due = oldest_queued_at_;
  if (retry_at_) due = std::max(due, *retry_at_);
  return due;
}

bool Pipeline::Saturated() const { return queued_posts_ > options_.max_queued_rows; }

Status Pipeline::FlushNow() {
  FlushReport report;
  report.writes = queue_.size();
  report.posts = queued_posts_;

  auto applied = store_.Apply(queue_);
  if (!applied.ok()) {
    // Keep the queue exactly as it is: the next attempt commits the same
    // writes in the same order, so nothing is lost and nothing reordered.
    ++consecutive_failures_;
    ++stats_.failures;
    Duration wait = options_.retry_initial;
    for (int i = 1; i < consecutive_failures_ && wait < options_.retry_max; ++i) wait *= 2;
    retry_at_ = clock_.Now() + std::min(wait, options_.retry_max);
    report.status =
        applied.status().Annotate("store flush of " + std::to_string(report.writes) + " writes (" +
                                  std::to_string(report.posts) + " posts) failed; kept for retry");
    if (flush_listener_) flush_listener_(report);
    return report.status;
  }

  consecutive_failures_ = 0;
  retry_at_.reset();
  report.stats = *applied;
  ++stats_.flushes;
  stats_.stored += applied->inserted;
  stats_.duplicates += applied->duplicates;
  stats_.deleted += applied->deleted;
  stats_.deletions_ignored += applied->deletions_unknown + applied->deletions_repeated;
  stats_.watches_added += applied->watches_added;
  stats_.state_writes += static_cast<int64_t>(queue_.size());
  for (const SourceWrite& w : queue_) {
    if (w.raw) ++stats_.pages;
    if (w.quarantine) ++stats_.quarantined;
  }
  queue_.clear();
  queued_posts_ = 0;
  if (flush_listener_) flush_listener_(report);
  return Status::Ok();
}

}  // namespace earshot
