#include "crawler/threads/reply_sender.h"

#include <boost/asio/io_context.hpp>

#include "crawler/publish/publisher.h"
#include "crawler/store/store.h"

namespace earshot {

std::string StalePublishingError() {
  return std::string(kMayHaveBeenPosted) +
         "publishing was interrupted before the platform answered (earshot stopped); check the "
         "account, then publish again to retry with the same idempotency key";
}

Result<int> FailStalePublishing(ThreadStore& store, const Clock& clock, Duration older_than) {
  const TimePoint now = clock.Now();
  return store.FailStalePublishing(now - older_than, StalePublishingError(), "earshot", now);
}

Result<SendResult> ReplySender::Publish(const User& user, int64_t reply_id) {
  Result<Reply> reply = workflow_.GetReply(user, reply_id);
  if (!reply.ok()) return reply.status();
  if (reply->state == ReplyState::kPublishing &&
      workflow_.clock().Now() - reply->updated_at >= kStalePublishingAfter) {
    // Left publishing by a process that stopped before the platform
    // answered: failed, outcome unknown. Nothing is sent now; publishing it
    // again retries with the same idempotency key, once a person decides.
    EARSHOT_RETURN_IF_ERROR(workflow_.MarkFailed(user, reply_id, StalePublishingError()));
    Result<Reply> failed = workflow_.GetReply(user, reply_id);
    if (!failed.ok()) return failed.status();
    return SendResult{std::move(failed).value(), true};
  }
  if (reply->state != ReplyState::kDraft && reply->state != ReplyState::kApproved &&
      reply->state != ReplyState::kFailed) {
    return Status::InvalidArgument("reply " + std::to_string(reply_id) + " is " +
                                   std::string(ReplyStateName(reply->state)) +
                                   "; only a draft, approved or failed reply is published");
  }
  Result<ThreadDetail> thread = workflow_.GetThread(user, reply->thread_id);
  if (!thread.ok()) return thread.status();
  const int64_t answered =
      reply->in_reply_to != 0 ? reply->in_reply_to : thread->summary.root_post_id;
  const ThreadPost* on_thread = nullptr;
  for (const ThreadPost& post : thread->posts) {
    if (post.post_id == answered) on_thread = &post;
  }
  if (on_thread == nullptr) {
    return Status::NotFound("the post reply " + std::to_string(reply_id) +
                            " answers is not on its thread");
  }
  const std::string& platform = thread->summary.platform;
  Result<std::optional<StoredPost>> stored = posts_.FindPost(platform, on_thread->uid);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) {
    return Status::NotFound("post " + platform + ":" + on_thread->uid + " is not stored");
  }
  const StoredPost& target = **stored;
  if (target.deleted_at) {
    // Authors who delete are honoured: nobody answers a post that is gone.
    return Status::InvalidArgument(
        "post " + platform + ":" + on_thread->uid + " is gone (" +
        (target.deletion_reason.empty() ? std::string("deleted") : target.deletion_reason) +
        "); the reply is not published");
  }

  const ReplyAccount* account = nullptr;
  const ConnectorDescriptor* connector = nullptr;
  for (const ReplyAccount& candidate : accounts_) {
    if (candidate.org != reply->org) continue;
    const ConnectorDescriptor* c = connectors_(candidate.spec.connector);
    if (c == nullptr || c->reply == nullptr || c->name != platform) continue;
    account = &candidate;
    connector = c;
    break;
  }

  auto reread = [&](bool unknown) -> Result<SendResult> {
    Result<Reply> now = workflow_.GetReply(user, reply_id);
    if (!now.ok()) return now.status();
    return SendResult{std::move(now).value(), unknown};
  };

  if (account == nullptr) {
    // Feeds and platforms without an account of this organisation: staff
    // answer on the platform itself; the reply is kept, never "sent".
    EARSHOT_RETURN_IF_ERROR(workflow_.MarkAnswerOnPlatform(user, reply_id, target.post.url));
    return reread(false);
  }

  EARSHOT_RETURN_IF_ERROR(workflow_.MarkPublishing(user, reply_id, account->spec.name));
  ReplyDraft draft;
  draft.body = reply->body;
  draft.idempotency_key = reply->idempotency_key;
  PublishOutcome outcome =
      PublishAndWait(io_, publisher_, *connector, account->spec, target.post, std::move(draft));
  if (outcome.reply.ok()) {
    const PublishedReply& published = *outcome.reply;
    EARSHOT_RETURN_IF_ERROR(workflow_.MarkPublished(
        user, reply_id, published.uid.empty() ? published.id : published.uid, published.url));
    return reread(false);
  }
  std::string error = outcome.reply.status().message();
  if (outcome.outcome_unknown) error = std::string(kMayHaveBeenPosted) + error;
  EARSHOT_RETURN_IF_ERROR(workflow_.MarkFailed(user, reply_id, error));
  return reread(outcome.outcome_unknown);
}

}  // namespace earshot
