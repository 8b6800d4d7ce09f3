// ReplyPublisher: publishes an approved reply through a connector's
// ReplyCapability, with the organisation's own account.
//
// One publish is: (when the connector has an AuthCapability) a session for
// the account, reused while it is valid; (when the connector has a resolve
// step and asks for it) a request finding the target on the account's own
// server, whose answer replaces the target for what follows; the reply
// request the connector builds, authorised with that session; and the
// connector's reading of the answer. The publisher owns no policy beyond
// honesty about the outcome:
// - it never resends a reply whose request may have reached the platform,
//   except when the connector honours the draft's idempotency key (the
//   platform answers a repeat with the reply it already made), and then at
//   most PublishOptions::max_attempts requests in all;
// - a refusal (4xx) is a failure that posted nothing; a lost or unreadable
//   answer is a failure flagged `outcome_unknown`, which the caller records
//   as such (and never as "not sent");
// - a cached session the platform rejects (401) is dropped and one fresh
//   session tried, since a 401 posted nothing;
// - the resolve step publishes nothing: a lost answer, 408 or 5xx there is
//   retried (PublishOptions::max_resolve_attempts), and its failure is
//   never `outcome_unknown`.
// The caller records the states around it (publishing, published, failed).
//
// Threading: not thread-safe. Use it from the thread that runs the
// io_context the transport completes on. Every callback is posted to that
// io_context, never run inside Publish(). A publish still in flight when the
// publisher is destroyed completes normally (its callback still runs, and
// nothing it learns is cached).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "crawler/core/clock.h"
#include "crawler/core/connector.h"
#include "crawler/core/post.h"
#include "crawler/core/status.h"
#include "crawler/net/transport.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace earshot {

struct PublishOptions {
  // Requests carrying one reply, in all, when the connector honours the
  // draft's non-empty idempotency key and an answer was lost, unreadable or
  // a 5xx. Without that guarantee a reply is sent once, whatever this says.
  int max_attempts = 2;
  // Requests finding the target on the account's server, in all, when an
  // answer was lost or a 408/5xx. They publish nothing, so they are resent
  // whatever the idempotency guarantee.
  int max_resolve_attempts = 2;
  // A cached session is renewed this long before it expires.
  Duration session_margin = std::chrono::minutes(1);
};

// How one publish ended.
struct PublishOutcome {
  // The reply where it now lives, or why there is none. Failure messages
  // carry the platform's own words ("The access token is invalid") and
  // never a credential.
  Result<PublishedReply> reply = Status::Internal("publish not finished");
  // Set on failure when the reply may nevertheless have been published:
  // the request was sent and the answer was lost (timeout, connection
  // dropped), came from a failing gateway (5xx, 408) or could not be read.
  // Resend only with the same idempotency key, and check the account first
  // when the platform does not honour one.
  bool outcome_unknown = false;
  // Reply requests sent (0 when it failed before sending one).
  int attempts = 0;
  // Requests sent to find the target on the account's server first (0 when
  // the connector has no such step or the target needed none).
  int resolve_attempts = 0;
};

struct ReplyPublisherState;  // publisher.cc

class ReplyPublisher {
 public:
  using Callback = std::function<void(PublishOutcome)>;

  // `transport` and `clock` must outlive the publisher; `io` is the
  // io_context the transport completes on.
  ReplyPublisher(boost::asio::io_context& io, HttpTransport& transport, const Clock& clock,
                 PublishOptions options = {});
  ~ReplyPublisher();
  ReplyPublisher(const ReplyPublisher&) = delete;
  ReplyPublisher& operator=(const ReplyPublisher&) = delete;

  // Publishes `draft` as a reply to `target` from `account` (a validated
  // [[account]]: its connector is `connector`). `connector` points at a
  // descriptor with static storage duration (the registry's). The draft's
  // created_at is set to the clock's now when unset. `done` runs once.
  // Fails without sending anything when the connector has no reply
  // capability, the target is another platform's, or the body is empty or
  // longer than the platform takes.
  void Publish(const ConnectorDescriptor& connector, const SourceSpec& account, const Post& target,
               ReplyDraft draft, Callback done);

  // Drops the session cached for `account_name` (after its credentials
  // change).
  void ForgetSession(const std::string& account_name);

 private:
  std::shared_ptr<ReplyPublisherState> impl_;
};

// Publishes and runs `io` until the publish completes: for the CLI. `io`
// must not be running on another thread.
PublishOutcome PublishAndWait(boost::asio::io_context& io, ReplyPublisher& publisher,
                              const ConnectorDescriptor& connector, const SourceSpec& account,
                              const Post& target, ReplyDraft draft);

// Characters (Unicode code points) in valid UTF-8, as platforms count a
// reply's length.
size_t CountCodePoints(std::string_view utf8);

}  // namespace earshot
