// ReplySender: publishes a staff reply from its organisation's own account,
// recording each step honestly in the ThreadStore (through Workflow, so every
// step is checked and audited under the acting user).
//
// One Publish() is:
// - a reply stale in `publishing` (kStalePublishingAfter; a crash between
//   sending and recording) becomes failed with StalePublishingError() and
//   nothing is sent: a person decides to publish again (same idempotency
//   key), so the platform's idempotency or the person prevents a double post;
// - the reply must be a draft, approved, or failed (a retry); an
//   organisation that requires approval (Workflow::RequireApproval) needs a
//   second person's approval first;
// - the post it answers is looked up; a deleted post is not answered;
// - no account of the organisation for the thread's platform, or a
//   connector that cannot publish (feeds): the reply becomes
//   answer_on_platform with the post's link, never "sent";
// - otherwise `publishing` is recorded BEFORE anything is sent, then the
//   reply goes out through ReplyPublisher with the draft's stable
//   idempotency key (a retry of a failed reply reuses it), and `published`
//   (the platform's uid, else its id, so the reply is recognised when it
//   comes back in a poll; and its URL) or `failed` (the platform's words;
//   prefixed kMayHaveBeenPosted when the outcome is unknown) is recorded.
// Borrows everything it is given, which must outlive it. Not thread-safe:
// Publish() runs `io` until the publish completes (as PublishAndWait), so
// `io` must not be running elsewhere.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "crawler/core/connector.h"
#include "crawler/core/status.h"
#include "crawler/threads/workflow.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace earshot {

class ReplyPublisher;
class Store;

// An organisation's own account on a platform (a validated [[account]]).
struct ReplyAccount {
  std::string org;  // ODS code
  SourceSpec spec;  // spec.connector names its connector
};

// Connector descriptors by name (the registry's FindConnector in the binary).
using ConnectorFinder = std::function<const ConnectorDescriptor*(std::string_view)>;

// The start of a failed reply's platform_error when the platform may have
// posted it anyway (the answer was lost): a retry reuses the idempotency key.
inline constexpr std::string_view kMayHaveBeenPosted = "may have been posted: ";

// A reply left `publishing` this long (earshot stopped between sending it
// and recording the platform's answer) is stale: its outcome is unknown.
inline constexpr Duration kStalePublishingAfter = std::chrono::minutes(10);

// The platform_error of a stale reply (starts kMayHaveBeenPosted).
std::string StalePublishingError();

// Marks every reply stale in `publishing` failed (StalePublishingError(),
// audited as "earshot"); returns how many. Safe while another process
// publishes: only replies older than `older_than` are touched. Borrows its
// arguments for the call.
Result<int> FailStalePublishing(ThreadStore& store, const Clock& clock,
                                Duration older_than = kStalePublishingAfter);

struct SendResult {
  Reply reply;                   // as stored afterwards
  bool outcome_unknown = false;  // failed, but the platform may have posted it
};

class ReplySender {
 public:
  ReplySender(Workflow& workflow, Store& posts, ReplyPublisher& publisher,
              boost::asio::io_context& io, std::vector<ReplyAccount> accounts,
              ConnectorFinder connectors)
      : workflow_(workflow),
        posts_(posts),
        publisher_(publisher),
        io_(io),
        accounts_(std::move(accounts)),
        connectors_(std::move(connectors)) {}

  // Publishes reply `reply_id` as `user`. A failure of the platform is not
  // an error here: it is recorded and returned in SendResult. Errors are
  // Workflow's (kNotFound, kPermissionDenied, kInvalidArgument for a reply
  // in the wrong state or lacking approval, a deleted post) or the store's.
  Result<SendResult> Publish(const User& user, int64_t reply_id);

 private:
  Workflow& workflow_;
  Store& posts_;
  ReplyPublisher& publisher_;
  boost::asio::io_context& io_;
  std::vector<ReplyAccount> accounts_;
  ConnectorFinder connectors_;
};

}  // namespace earshot
