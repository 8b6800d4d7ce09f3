#include "crawler/publish/publisher.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <map>
#include <optional>
#include <utility>

#include "crawler/core/strings.h"
#include "crawler/core/text.h"

namespace earshot {

struct ReplyPublisherState {
  ReplyPublisherState(boost::asio::io_context& io, HttpTransport& transport, const Clock& clock,
                      PublishOptions options)
      : io(io), transport(transport), clock(clock), options(options) {}

  boost::asio::io_context& io;
  HttpTransport& transport;
  const Clock& clock;
  PublishOptions options;
  // Sessions by account name: in memory only, never stored or logged.
  std::map<std::string, AuthSession> sessions;
};

namespace {

// One publish in flight. Holds copies of everything it reads, so the
// caller's objects may go away once Publish() returns.
struct Operation {
  std::weak_ptr<ReplyPublisherState> owner;
  const ConnectorDescriptor* connector = nullptr;
  SourceSpec account;
  Post target;
  ReplyDraft draft;
  ReplyPublisher::Callback done;

  std::optional<AuthSession> session;
  bool session_from_cache = false;
  bool tried_fresh_session = false;
  // `target` is as the account's server knows it (resolved, or needing no
  // resolving).
  bool target_resolved = false;
  int attempts = 0;
  int resolve_attempts = 0;
  bool finished = false;
};

using OperationPtr = std::shared_ptr<Operation>;

std::string AccountContext(const Operation& op) {
  return "account \"" + op.account.name + "\" (" + std::string(op.connector->name) + ")";
}

void Finish(const OperationPtr& op, Status status, bool outcome_unknown) {
  if (op->finished) return;
  op->finished = true;
  PublishOutcome outcome;
  outcome.reply = std::move(status);
  outcome.outcome_unknown = outcome_unknown;
  outcome.attempts = op->attempts;
  outcome.resolve_attempts = op->resolve_attempts;
  op->done(std::move(outcome));
}

void Succeed(const OperationPtr& op, PublishedReply reply) {
  if (op->finished) return;
  op->finished = true;
  PublishOutcome outcome;
  outcome.reply = std::move(reply);
  outcome.attempts = op->attempts;
  outcome.resolve_attempts = op->resolve_attempts;
  op->done(std::move(outcome));
}

void StartSession(const OperationPtr& op, bool fresh);
void Proceed(const OperationPtr& op);
void SendReply(const OperationPtr& op);

bool SessionUsable(const AuthSession& session, TimePoint now, Duration margin) {
  return !session.access_token.empty() &&
         (!session.expires_at || *session.expires_at - margin > now);
}

// Resending is safe only when the platform recognises the repeat.
bool MayResend(const Operation& op, const ReplyPublisherState& impl) {
  return op.connector->reply->honours_idempotency_key && !op.draft.idempotency_key.empty() &&
         op.attempts < impl.options.max_attempts;
}

void OnSession(const OperationPtr& op, const AuthSession* renewing, Result<HttpResponse> response) {
  auto impl = op->owner.lock();
  if (!impl) {
    Finish(op,
           Status::Cancelled(AccountContext(*op) + ": publisher gone before the reply was sent"),
           false);
    return;
  }
  const std::string context = AccountContext(*op) + ": signing in";
  Result<AuthSession> session =
      response.ok() ? op->connector->auth->parse_session(op->account, *response, impl->clock.Now())
                    : Result<AuthSession>(response.status());
  if (!session.ok()) {
    if (renewing != nullptr && !op->tried_fresh_session) {
      // A refresh token can expire too; the credentials may still work.
      impl->sessions.erase(op->account.name);
      StartSession(op, /*fresh=*/true);
      return;
    }
    Finish(op, session.status().Annotate(context), false);
    return;
  }
  impl->sessions[op->account.name] = *session;
  op->session = std::move(session).value();
  op->session_from_cache = false;
  Proceed(op);
}

void StartSession(const OperationPtr& op, bool fresh) {
  auto impl = op->owner.lock();
  if (!impl) {
    Finish(op,
           Status::Cancelled(AccountContext(*op) + ": publisher gone before the reply was sent"),
           false);
    return;
  }
  const AuthCapability& auth = *op->connector->auth;
  std::optional<AuthSession> cached;
  if (auto it = impl->sessions.find(op->account.name); it != impl->sessions.end()) {
    cached = it->second;
  }
  if (fresh) {
    op->tried_fresh_session = true;
    cached.reset();
  }
  if (cached && SessionUsable(*cached, impl->clock.Now(), impl->options.session_margin)) {
    op->session = std::move(cached);
    op->session_from_cache = true;
    Proceed(op);
    return;
  }
  // An expiring session with a refresh token is renewed; otherwise a new
  // one is created from the account's credentials.
  std::shared_ptr<const AuthSession> renewing;
  if (cached && !cached->refresh_token.empty()) {
    renewing = std::make_shared<const AuthSession>(std::move(*cached));
  } else {
    op->tried_fresh_session = true;
  }
  Result<HttpRequest> request = auth.session_request(op->account, renewing.get());
  if (!request.ok()) {
    Finish(op, request.status().Annotate(AccountContext(*op) + ": signing in"), false);
    return;
  }
  impl->transport.Start(std::move(request).value(), [op, renewing](Result<HttpResponse> response) {
    OnSession(op, renewing.get(), std::move(response));
  });
}

// A 401, or an answer the connector reads as a refused session (Bluesky's
// 400 ExpiredToken): a kept session the platform no longer accepts.
bool SessionRefused(const Operation& op, const HttpResponse& response) {
  if (response.status == 401) return true;
  const AuthCapability* auth = op.connector->auth;
  if (response.status < 400 || auth == nullptr || auth->session_refused == nullptr) return false;
  try {
    return auth->session_refused(response);
  } catch (...) {
    return false;
  }
}

void OnReply(const OperationPtr& op, Result<HttpResponse> response) {
  auto impl = op->owner.lock();
  const std::string context = AccountContext(*op) + ": publishing";
  if (!response.ok()) {
    // Only a request the transport refused to build surely never left.
    const StatusCode code = response.status().code();
    const bool unknown = code != StatusCode::kInvalidArgument;
    if (unknown && code != StatusCode::kCancelled && impl && MayResend(*op, *impl)) {
      SendReply(op);
      return;
    }
    Finish(op, response.status().Annotate(context), unknown);
    return;
  }
  Result<PublishedReply> reply = op->connector->reply->parse(op->account, op->target, *response);
  if (reply.ok()) {
    Succeed(op, std::move(reply).value());
    return;
  }
  const int http = response->status;
  if (SessionRefused(*op, *response) && op->session_from_cache && !op->tried_fresh_session &&
      impl) {
    // The platform refused the session we kept: nothing was posted, so a
    // fresh session may try once more.
    impl->sessions.erase(op->account.name);
    StartSession(op, /*fresh=*/true);
    return;
  }
  const bool accepted = http >= 200 && http <= 299;
  // A 2xx the connector cannot read (kParseError) may still be a posted
  // reply; a 2xx it read as a refusal (Reddit's json.errors, Discourse's
  // errors: any other code) posted nothing. A gateway's 5xx or 408 may
  // hide a posted reply too.
  const bool unknown =
      (accepted && reply.status().code() == StatusCode::kParseError) || http >= 500 || http == 408;
  if (unknown && impl && MayResend(*op, *impl)) {
    SendReply(op);
    return;
  }
  Finish(op, reply.status().Annotate(context), unknown);
}

bool HasResolveStep(const ConnectorDescriptor& connector) {
  return connector.reply->resolve_request != nullptr && connector.reply->resolve_target != nullptr;
}

std::string ResolveContext(const Operation& op) {
  return AccountContext(op) + ": finding the post on the account's server";
}

void SendResolve(const OperationPtr& op);

void OnResolve(const OperationPtr& op, Result<HttpResponse> response) {
  auto impl = op->owner.lock();
  // Nothing below was published: every failure is a plain failure.
  auto may_retry = [&] {
    return impl && op->resolve_attempts < impl->options.max_resolve_attempts;
  };
  if (!response.ok()) {
    const StatusCode code = response.status().code();
    if (code != StatusCode::kInvalidArgument && code != StatusCode::kCancelled && may_retry()) {
      SendResolve(op);
      return;
    }
    Finish(op, response.status().Annotate(ResolveContext(*op)), false);
    return;
  }
  Result<Post> resolved = op->connector->reply->resolve_target(op->account, op->target, *response);
  if (resolved.ok()) {
    op->target = std::move(resolved).value();
    op->target_resolved = true;
    SendReply(op);
    return;
  }
  const int http = response->status;
  if (SessionRefused(*op, *response) && op->session_from_cache && !op->tried_fresh_session &&
      impl) {
    impl->sessions.erase(op->account.name);
    StartSession(op, /*fresh=*/true);
    return;
  }
  if ((http >= 500 || http == 408) && may_retry()) {
    SendResolve(op);
    return;
  }
  Finish(op, resolved.status().Annotate(ResolveContext(*op)), false);
}

// Asks the connector whether the target must be found on the account's
// server first, and sends that request when it must.
void SendResolve(const OperationPtr& op) {
  auto impl = op->owner.lock();
  if (!impl) {
    Finish(op,
           Status::Cancelled(AccountContext(*op) + ": publisher gone before the reply was sent"),
           false);
    return;
  }
  const AuthSession* session = op->session ? &*op->session : nullptr;
  Result<std::optional<HttpRequest>> request =
      op->connector->reply->resolve_request(op->account, session, op->target);
  if (!request.ok()) {
    Finish(op, request.status(), false);
    return;
  }
  if (!request->has_value()) {
    op->target_resolved = true;
    SendReply(op);
    return;
  }
  HttpRequest resolve = std::move(**request);
  if (op->connector->auth != nullptr && session != nullptr) {
    op->connector->auth->authorize(*session, resolve);
  }
  ++op->resolve_attempts;
  impl->transport.Start(std::move(resolve), [op](Result<HttpResponse> response) {
    OnResolve(op, std::move(response));
  });
}

// With a session when one is needed: the resolve step once, then the reply.
void Proceed(const OperationPtr& op) {
  if (!op->target_resolved && HasResolveStep(*op->connector)) {
    SendResolve(op);
  } else {
    SendReply(op);
  }
}

void SendReply(const OperationPtr& op) {
  auto impl = op->owner.lock();
  if (!impl) {
    Finish(op,
           Status::Cancelled(AccountContext(*op) + ": publisher gone before the reply was sent"),
           op->attempts > 0);
    return;
  }
  const AuthSession* session = op->session ? &*op->session : nullptr;
  Result<HttpRequest> request =
      op->connector->reply->request(op->account, session, op->target, op->draft);
  if (!request.ok()) {
    Finish(op, request.status(), op->attempts > 0);
    return;
  }
  if (op->connector->auth != nullptr && session != nullptr) {
    op->connector->auth->authorize(*session, *request);
  }
  ++op->attempts;
  impl->transport.Start(std::move(request).value(),
                        [op](Result<HttpResponse> response) { OnReply(op, std::move(response)); });
}

// What can be known to be wrong before anything is sent.
Status CheckBeforeSending(const ConnectorDescriptor& connector, const SourceSpec& account,
                          const Post& target, const ReplyDraft& draft) {
  const std::string context =
      "account \"" + account.name + "\" (" + std::string(connector.name) + ")";
  if (connector.reply == nullptr) {
    return Status::InvalidArgument(context + ": " + std::string(connector.name) +
                                   " cannot take replies; answer on the platform" +
                                   (target.url.empty() ? std::string() : " at " + target.url));
  }
  if (!account.connector.empty() && account.connector != connector.name) {
    return Status::InvalidArgument(context + ": the account is configured for connector \"" +
                                   account.connector + "\"");
  }
  if (target.platform != connector.name) {
    return Status::InvalidArgument(context + ": cannot answer a post from \"" + target.platform +
                                   "\"");
  }
  if (TrimAsciiSpace(draft.body).empty()) {
    return Status::InvalidArgument(context + ": the reply is empty");
  }
  if (!IsValidUtf8(draft.body)) {
    return Status::InvalidArgument(context + ": the reply is not valid UTF-8");
  }
  const size_t length = CountCodePoints(draft.body);
  if (connector.reply->max_length > 0 &&
      length > static_cast<size_t>(connector.reply->max_length)) {
    return Status::InvalidArgument(context + ": the reply has " + std::to_string(length) +
                                   " characters; " + std::string(connector.name) + " takes " +
                                   std::to_string(connector.reply->max_length));
  }
  return Status::Ok();
}

}  // namespace

size_t CountCodePoints(std::string_view utf8) {
  size_t count = 0;
  for (char c : utf8) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++count;
  }
  return count;
}

ReplyPublisher::ReplyPublisher(boost::asio::io_context& io, HttpTransport& transport,
                               const Clock& clock, PublishOptions options)
    : impl_(std::make_shared<ReplyPublisherState>(io, transport, clock, options)) {}

ReplyPublisher::~ReplyPublisher() = default;

void ReplyPublisher::Publish(const ConnectorDescriptor& connector, const SourceSpec& account,
                             const Post& target, ReplyDraft draft, Callback done) {
  if (Status st = CheckBeforeSending(connector, account, target, draft); !st.ok()) {
    boost::asio::post(impl_->io, [done = std::move(done), st = std::move(st)]() mutable {
      PublishOutcome outcome;
      outcome.reply = std::move(st);
      done(std::move(outcome));
    });
    return;
  }
  if (draft.created_at == TimePoint{}) draft.created_at = impl_->clock.Now();
  auto op = std::make_shared<Operation>();
  op->owner = impl_;
  op->connector = &connector;
  op->account = account;
  op->target = target;
  op->draft = std::move(draft);
  op->done = std::move(done);
  // Starting (even the first request) from the io_context keeps `done` off
  // this call's stack whatever the transport does.
  boost::asio::post(impl_->io, [op] {
    if (op->connector->auth != nullptr) {
      StartSession(op, /*fresh=*/false);
    } else {
      Proceed(op);
    }
  });
}

void ReplyPublisher::ForgetSession(const std::string& account_name) {
  impl_->sessions.erase(account_name);
}

PublishOutcome PublishAndWait(boost::asio::io_context& io, ReplyPublisher& publisher,
                              const ConnectorDescriptor& connector, const SourceSpec& account,
                              const Post& target, ReplyDraft draft) {
  // Shared: should the loop end early, a late callback still has a home.
  auto outcome = std::make_shared<std::optional<PublishOutcome>>();
  publisher.Publish(connector, account, target, std::move(draft),
                    [outcome](PublishOutcome o) { *outcome = std::move(o); });
  io.restart();
  while (!*outcome && io.run_one() > 0) {
  }
  if (!*outcome) {
    PublishOutcome lost;
    lost.reply = Status::Internal("the publish never completed (its io_context ran out of work)");
    lost.outcome_unknown = true;
    return lost;
  }
  return std::move(*outcome).value();
}

}  // namespace earshot
