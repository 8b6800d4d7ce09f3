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
// - adds a RuleCount per rule that fired, and one per source for the drops.
// It takes the classifier from a ClassifierHolder for each write, so a
// reload applies from the next write on.
#pragma once

#include "classifiers/classifier.h"
#include "crawler/pipeline/pipeline.h"

namespace earshot {

class ClassifyStage final : public PipelineStage {
 public:
  // `holder` must outlive the stage.
  explicit ClassifyStage(const ClassifierHolder& holder) : holder_(holder) {}
  Status Process(SourceWrite& write) override;

 private:
  const ClassifierHolder& holder_;
};

// The text a post is classified as; Decision spans are offsets into it.
std::string ClassifiedText(const Post& post);

}  // namespace earshot
