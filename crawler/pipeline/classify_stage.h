// ClassifyStage: the pipeline stage that redacts and classifies every post
// before anything is stored (DESIGN.md: normalise -> redact -> classify ->
// thread -> store).
//
// For each post of a write it classifies the post's full text — the title, a
// blank line, then the text (just the text when there is no title) — and
// then:
// - replaces title and text with their redacted forms and recomputes the
//   content hash from the redacted text (a hash of an NHS number is
//   guessable);
// - attaches the decisions (spans refer to that full text);
// - drops the post when it is not relevant (no organisation, no health
//   context), counting it — except in a write of conversation replies
//   (SourceWrite::conversation_replies): a reply in a thread we hold is
//   kept, redacted and classified like any post, whatever it talks about;
//   nor a post answering a thread we hold: one whose reply_to or
//   conversation names a post kept earlier in the same write that is routed
//   or itself answers a thread we hold, or kept so by one of the last
//   kRecentThreaded posts' earlier writes (which may still be queued in the
//   pipeline, unflushed, where the store cannot see them), or for which the
//   optional `on_held_thread` predicate says yes (the CLI asks the store's
//   threads);
// - adds a RuleCount per rule that fired, and one per source for the drops.
// It takes the classifier from a ClassifierHolder for each write, so a
// reload applies from the next write on.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>

#include "classifiers/classifier.h"
#include "crawler/pipeline/pipeline.h"

namespace earshot {

class ClassifyStage final : public PipelineStage {
 public:
  // `holder` must outlive the stage.
  explicit ClassifyStage(const ClassifierHolder& holder) : holder_(holder) {}
  // `on_held_thread(post)`: whether the post answers a thread we hold.
  ClassifyStage(const ClassifierHolder& holder, std::function<bool(const Post&)> on_held_thread)
      : holder_(holder), on_held_thread_(std::move(on_held_thread)) {}
  Status Process(SourceWrite& write) override;

  // How many kept, threaded post keys (ids and uids) are remembered across
  // writes: far more than a pipeline queues between flushes.
  static constexpr size_t kRecentThreaded = 100'000;

 private:
  static std::string RecentKey(std::string_view platform, std::string_view key);
  void Remember(std::string key);

  const ClassifierHolder& holder_;
  std::function<bool(const Post&)> on_held_thread_;
  // Keys of posts kept on (or opening) a thread by earlier writes, oldest
  // first in recent_order_; bounded by kRecentThreaded.
  std::unordered_set<std::string> recent_threaded_;
  std::deque<std::string> recent_order_;
};

// The text a post is classified as; Decision spans are offsets into it.
std::string ClassifiedText(const Post& post);

}  // namespace earshot
