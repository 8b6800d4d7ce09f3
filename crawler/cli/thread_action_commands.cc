// `earshot threads note|reply|approve|publish|assign|status`: the thread
// actions staff take in the inbox, for scripts and operators without a
// browser. Each acts as a named user (`--as NAME`, a user of `earshot users
// add`, with that user's access) or, by default, as an implicit admin
// recorded as "cli" in the audit (whoever runs it can open the database).
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <iostream>
#include <set>

#include "classifiers/classifier.h"
#include "connectors/registry.h"
#include "crawler/cli/cli.h"
#include "crawler/net/curl_transport.h"
#include "crawler/publish/publisher.h"
#include "crawler/store/sqlite/sqlite_store.h"
#include "crawler/threads/drafting.h"
#include "crawler/threads/reply_sender.h"
#include "crawler/threads/tone.h"
#include "crawler/threads/workflow.h"

namespace earshot {

Result<std::unique_ptr<SqliteStore>> OpenStore(const Config& config);
Result<OrgPlaces> CliPlaces(const Config& config, const User& user, bool names);

namespace {

// Bad input (unknown thread, reply, user or state; an action the user may
// not take; a reply lacking approval) exits 2; the store failing exits 1.
int ExitFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kNotFound:
    case StatusCode::kPermissionDenied:
    case StatusCode::kAlreadyExists:
      return 2;
    default:
      return 1;
  }
}

}  // namespace

// The boilerplate patterns of the configured rules folder's tone.toml
// (`[classify] rules_dir`, default config/rules); none, with a warning on
// `err` naming `command`, when it is missing or bad. Also for the server's
// ApiRoutes::SetToneRules.
ToneRules ConfiguredToneRules(const Config& config, std::string_view command, std::ostream& err) {
  std::filesystem::path dir = DefaultClassifierPaths().rules_dir;
  if (!config.rules_dir.empty()) dir = config.rules_dir;
  Result<ToneRules> rules = LoadToneRules((dir / "tone.toml").string());
  if (rules.ok()) return std::move(rules).value();
  err << command << ": " << rules.status().message() << "; boilerplate is not hinted\n";
  return ToneRules();
}

// The user named by --as, or the implicit admin "cli" (also used by
// thread_commands.cc).
Result<User> CliActingUser(SqliteStore& store, const std::string& name) {
  if (name.empty()) {
    User admin;
    admin.name = "cli";
    admin.role = Role::kAdmin;
    return admin;
  }
  Result<std::vector<User>> users = store.ListUsers();
  if (!users.ok()) return users.status();
  for (User& user : *users) {
    if (user.name != name) continue;
    if (user.revoked_at) return Status::PermissionDenied("user '" + name + "' is revoked");
    return std::move(user);
  }
  return Status::NotFound("no user '" + name + "' (`earshot users list` lists them)");
}

int CmdThreadsAct(const GlobalOptions& global, const std::string& action,
                  const ThreadActionOptions& options, std::ostream& out, std::ostream& err) {
  const std::string name = "earshot threads " + action;
  auto fail = [&](const Status& status) {
    err << name << ": " << status.message() << "\n";
    return ExitFor(status);
  };
  auto config = LoadEffectiveConfig(global);
  if (!config.ok()) {
    err << name << ": " << config.status().message() << "\n";
    return 2;
  }
  auto store = OpenStore(*config);
  if (!store.ok()) {
    err << name << ": " << store.status().message() << "\n";
    return 1;
  }
  Result<User> user = CliActingUser(**store, options.as);
  if (!user.ok()) return fail(user.status());
  Result<OrgPlaces> places = CliPlaces(*config, *user, false);
  if (!places.ok()) return fail(places.status());
  SystemClock clock;
  Workflow workflow(**store, clock, *places);
  std::set<std::string, std::less<>> approval;
  for (const OrgSettings& org : config->orgs) {
    if (org.require_approval) approval.insert(org.code);
  }
  workflow.RequireApproval(std::move(approval));

  if (action == "note") {
    Result<int64_t> id = workflow.AddNote(*user, options.id, options.org, options.body);
    if (!id.ok()) return fail(id.status());
    out << "note " << *id << " on thread " << options.id << " (" << options.org << ")\n";
    return 0;
  }
  if (action == "reply") {
    const ToneRules rules = ConfiguredToneRules(*config, name, err);
    Result<DraftWithHints> draft =
        CreateDraftWithHints(workflow, rules, *user, options.id, options.org, 0, options.body);
    if (!draft.ok()) return fail(draft.status());
    out << "draft " << draft->reply_id << " on thread " << options.id << " (" << options.org
        << ")\n";
    for (const ToneHint& hint : draft->hints) {
      out << "  hint " << hint.kind << " " << hint.rule << " at " << hint.start << "-" << hint.end
          << ": " << hint.message << "\n";
    }
    return 0;
  }
  if (action == "approve") {
    Status approved = workflow.Approve(*user, options.id);
    if (!approved.ok()) return fail(approved);
    out << "approved reply " << options.id << "\n";
    return 0;
  }
  if (action == "assign") {
    Status assigned = workflow.Assign(*user, options.id, options.org, options.to);
    if (!assigned.ok()) return fail(assigned);
    out << "thread " << options.id << " (" << options.org << ") assigned to "
        << (options.to.empty() ? std::string("nobody") : options.to) << "\n";
    return 0;
  }
  if (action == "status") {
    std::optional<OrgState> state = OrgStateFromName(options.status);
    if (!state) {
      return fail(Status::InvalidArgument(
          "--status must be new, assigned, responded, closed or dismissed"));
    }
    Status set = workflow.SetState(*user, options.id, options.org, *state, options.reason);
    if (!set.ok()) return fail(set);
    out << "thread " << options.id << " (" << options.org << ") is " << OrgStateName(*state)
        << "\n";
    return 0;
  }
  if (action == "publish") {
    std::vector<ReplyAccount> accounts;
    for (const AccountSpec& account : config->accounts) {
      accounts.push_back({account.org, account.spec});
    }
    boost::asio::io_context io;
    CurlTransport transport(io, config->http);
    ReplyPublisher publisher(io, transport, clock);
    ReplySender sender(workflow, **store, publisher, io, std::move(accounts), FindConnector);
    Result<SendResult> sent = sender.Publish(*user, options.id);
    if (!sent.ok()) return fail(sent.status());
    const Reply& reply = sent->reply;
    switch (reply.state) {
      case ReplyState::kPublished:
        out << "published reply " << reply.id << " from account \"" << reply.account
            << "\": " << reply.url << "\n";
        return 0;
      case ReplyState::kAnswerOnPlatform:
        out << "reply " << reply.id << ": " << reply.org
            << " has no account that can publish there: answer on the platform at " << reply.url
            << "\n";
        return 0;
      default:
        err << name << ": reply " << reply.id << " failed: " << reply.platform_error << "\n";
        if (sent->outcome_unknown) {
          err << name << ": check the account before publishing again; a retry (`earshot "
              << "threads publish " << reply.id << "`) sends the same idempotency key\n";
        }
        return 1;
    }
  }
  err << name << ": unknown action\n";
  return 2;
}

}  // namespace earshot
