// `earshot publish`: an operator publishes one reply from a configured
// [[account]] to a stored post, to test the account end to end.
#include <openssl/rand.h>

#include <boost/asio/io_context.hpp>
#include <iostream>
#include <set>

#include "classifiers/redact/redactor.h"
#include "connectors/registry.h"
#include "crawler/cli/cli.h"
#include "crawler/net/curl_transport.h"
#include "crawler/publish/publisher.h"
#include "crawler/store/sqlite/sqlite_store.h"

namespace earshot {

Result<std::unique_ptr<SqliteStore>> OpenStore(const Config& config);

namespace {

constexpr const char* kName = "earshot publish";

// 128 random bits in hex: unique per reply, so a retry carrying it again is
// recognised by the platform.
Result<std::string> NewIdempotencyKey() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    return Status::Internal("no random bytes for an idempotency key");
  }
  static const char kHex[] = "0123456789abcdef";
  std::string key;
  for (unsigned char b : bytes) {
    key += kHex[b >> 4];
    key += kHex[b & 0xF];
  }
  return key;
}

std::string KnownAccounts(const Config& config) {
  if (config.accounts.empty()) return "none configured: add an [[account]] table";
  std::string names;
  for (const AccountSpec& a : config.accounts) names += (names.empty() ? "" : ", ") + a.spec.name;
  return "configured: " + names;
}

}  // namespace

int CmdPublish(const GlobalOptions& global, const PublishCommandOptions& options, std::ostream& out,
               std::ostream& err) {
  auto config = LoadEffectiveConfig(global);
  if (!config.ok()) {
    err << kName << ": " << config.status().message() << "\n";
    return 2;
  }
  const AccountSpec* account = FindAccount(*config, options.account);
  if (account == nullptr) {
    err << kName << ": no account \"" << options.account << "\" (" << KnownAccounts(*config)
        << ")\n";
    return 2;
  }
  const ConnectorDescriptor* connector = FindConnector(account->spec.connector);
  if (connector == nullptr || connector->reply == nullptr) {
    err << kName << ": account \"" << options.account << "\": connector \""
        << account->spec.connector << "\" cannot publish replies\n";
    return 2;
  }
  const size_t colon = options.post.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == options.post.size()) {
    err << kName
        << ": --post must be PLATFORM:UID, e.g. mastodon:https://social.example/users/"
           "alice/statuses/1 (`earshot posts` prints it on each post)\n";
    return 2;
  }
  const std::string platform = options.post.substr(0, colon);
  const std::string uid = options.post.substr(colon + 1);
  if (platform != connector->name) {
    err << kName << ": account \"" << options.account << "\" publishes on " << connector->name
        << ", not on " << platform << "\n";
    return 2;
  }
  // Staff must never publish someone's identifiers; the inbox shows this as
  // a hint, an operator's test is refused outright.
  const redact::Redacted redacted = redact::Redact(options.body);
  if (!redacted.redactions.empty()) {
    std::set<std::string> kinds;
    for (const redact::Redaction& r : redacted.redactions) kinds.insert(r.kind);
    std::string list;
    for (const std::string& k : kinds) list += (list.empty() ? "" : ", ") + k;
    err << kName << ": refused: the reply contains personal identifiers (" << list
        << "); remove them and publish again\n";
    return 2;
  }

  auto store = OpenStore(*config);
  if (!store.ok()) {
    err << kName << ": " << store.status().message() << "\n";
    return 1;
  }
  auto found = (*store)->FindPost(platform, uid);
  if (!found.ok()) {
    err << kName << ": " << found.status().message() << "\n";
    return 1;
  }
  if (!found->has_value()) {
    err << kName << ": no stored post " << options.post
        << " (`earshot posts` lists stored posts with their PLATFORM:UID)\n";
    return 2;
  }
  const StoredPost& stored = **found;
  if (stored.deleted_at) {
    // Authors who delete are honoured: nobody answers a post that is gone.
    err << kName << ": refused: post " << options.post << " is gone ("
        << (stored.deletion_reason.empty() ? "deleted" : stored.deletion_reason) << ")\n";
    return 2;
  }

  ReplyDraft draft;
  draft.body = options.body;
  draft.idempotency_key = options.idempotency_key;
  if (draft.idempotency_key.empty()) {
    auto key = NewIdempotencyKey();
    if (!key.ok()) {
      err << kName << ": " << key.status().message() << "\n";
      return 1;
    }
    draft.idempotency_key = *key;
  }

  boost::asio::io_context io;
  SystemClock clock;
  PublishOutcome outcome;
  {
    CurlTransport transport(io, config->http);
    ReplyPublisher publisher(io, transport, clock);
    outcome = PublishAndWait(io, publisher, *connector, account->spec, stored.post, draft);
  }
  if (!outcome.reply.ok()) {
    err << kName << ": " << outcome.reply.status().message() << "\n";
    if (outcome.outcome_unknown) {
      err << kName << ": the reply may have been published anyway: check the account before "
          << "publishing again, and then repeat with --idempotency-key " << draft.idempotency_key
          << (connector->reply->honours_idempotency_key
                  ? " (the platform then answers with the reply it already made)\n"
                  : " (this platform ignores it: a repeat may post twice)\n");
    }
    // Refused before anything was sent: the account, post or body is wrong.
    const bool bad_input = outcome.attempts == 0 && outcome.resolve_attempts == 0 &&
                           !outcome.outcome_unknown &&
                           outcome.reply.status().code() == StatusCode::kInvalidArgument;
    return bad_input ? 2 : 1;
  }
  if (!global.quiet) {
    err << kName << ": published reply " << outcome.reply->id << " from account \""
        << options.account << "\" (" << account->org << ") to " << options.post << "\n";
  }
  out << outcome.reply->url << "\n";
  return 0;
}

}  // namespace earshot
