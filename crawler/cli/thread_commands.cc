// `earshot users add|list|revoke` and `earshot threads list|show`: staff
// accounts and the thread inbox from the command line. User management acts
// as an admin (whoever runs it can open the database), audited as "cli";
// `threads list|show` read as the user named by --as, else that admin.
#include <filesystem>
#include <iostream>
#include <set>
#include <tuple>

#include "classifiers/classifier.h"
#include "classifiers/orgs/gazetteer.h"
#include "crawler/cli/api_service.h"
#include "crawler/cli/cli.h"
#include "crawler/core/time_format.h"
#include "crawler/store/sqlite/sqlite_store.h"
#include "crawler/threads/access.h"
#include "crawler/threads/tokens.h"
#include "crawler/threads/workflow.h"

namespace earshot {

Result<std::unique_ptr<SqliteStore>> OpenStore(const Config& config);
Result<User> CliActingUser(SqliteStore& store, const std::string& name);

namespace {

constexpr std::string_view kCliActor = "cli";

std::string When(const std::optional<TimePoint>& t) {
  return t ? FormatRfc3339(*t) : std::string("-");
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ",") + item;
  return out.empty() ? "-" : out;
}

// The gazetteer `orgs_flag`, [classify] orgs or the default points at;
// nullopt when that folder does not exist (codes are then not checked).
Result<std::optional<orgs::Gazetteer>> LoadOrgs(const Config& config,
                                                const std::string& orgs_flag) {
  std::filesystem::path dir = DefaultClassifierPaths().orgs_dir;
  if (!config.orgs_dir.empty()) dir = config.orgs_dir;
  if (!orgs_flag.empty()) dir = orgs_flag;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return std::optional<orgs::Gazetteer>();
  Result<orgs::Gazetteer> gazetteer = orgs::LoadGazetteer(dir);
  if (!gazetteer.ok()) return gazetteer.status();
  return std::optional<orgs::Gazetteer>(std::move(gazetteer).value());
}

}  // namespace

Result<OrgPlaces> LoadOrgPlaces(const Config& config, bool* found) {
  auto gazetteer = LoadOrgs(config, "");
  if (!gazetteer.ok()) return gazetteer.status();
  if (found) *found = gazetteer->has_value();
  OrgPlaces places;
  if (!*gazetteer) return places;
  for (const auto& [code, org] : (*gazetteer)->orgs) {
    places[code] = OrgPlace{org.region, org.icb, org.name};
  }
  return places;
}

// Where organisations sit and their names, from the gazetteer, when `user`
// needs it (a viewer scoped to regions or ICBs) or `names` are wanted; else,
// or without a gazetteer folder, empty (org-code scopes only, as
// `earshot serve` without one). Also used by thread_action_commands.cc.
Result<OrgPlaces> CliPlaces(const Config& config, const User& user, bool names) {
  const bool regions = user.role == Role::kViewer && !user.regions.empty();
  if (!regions && !names) return OrgPlaces{};
  return LoadOrgPlaces(config);
}

int CmdUsersAdd(const GlobalOptions& global, const UsersAddOptions& options, std::ostream& out,
                std::ostream& err) {
  auto fail = [&](const Status& status, int code) {
    err << "earshot users add: " << status.message() << "\n";
    return code;
  };
  auto config = LoadEffectiveConfig(global);
  if (!config.ok()) return fail(config.status(), 2);
  std::optional<Role> role = RoleFromName(options.role);
  if (!role) {
    return fail(Status::InvalidArgument("--role must be admin, responder or viewer"), 2);
  }
  if (*role == Role::kResponder && options.orgs.empty()) {
    return fail(Status::InvalidArgument("a responder needs at least one --org"), 2);
  }
  if (*role == Role::kViewer && options.orgs.empty() && options.regions.empty()) {
    return fail(Status::InvalidArgument("a viewer needs at least one --org or --region"), 2);
  }
  if (*role == Role::kResponder && !options.regions.empty()) {
    return fail(Status::InvalidArgument("--region scopes viewers only"), 2);
  }
  auto gazetteer = LoadOrgs(*config, options.orgs_dir);
  if (!gazetteer.ok()) return fail(gazetteer.status(), 2);
  if (*gazetteer) {
    const auto& known = (*gazetteer)->orgs;
    for (const std::string& code : options.orgs) {
      if (known.find(code) == known.end()) {
        return fail(Status::InvalidArgument("unknown organisation code '" + code +
                                            "' (not in the gazetteer)"),
                    2);
      }
    }
    for (const std::string& code : options.regions) {
      auto found = known.find(code);
      if (found == known.end() || (found->second.kind != "region" && found->second.kind != "icb")) {
        return fail(Status::InvalidArgument("unknown region or ICB code '" + code + "'"), 2);
      }
    }
  } else {
    err << "earshot users add: no gazetteer found; organisation codes are not checked\n";
  }
  auto store = OpenStore(*config);
  if (!store.ok()) return fail(store.status(), 1);
  Result<std::string> token = NewBearerToken();
  if (!token.ok()) return fail(token.status(), 1);
  User user;
  user.name = options.name;
  user.role = *role;
  user.orgs = options.orgs;
  user.regions = options.regions;
  Result<int64_t> id = (*store)->AddUser(user, TokenHash(*token), kCliActor, SystemClock().Now());
  if (!id.ok()) {
    const bool bad_input = id.status().code() == StatusCode::kAlreadyExists ||
                           id.status().code() == StatusCode::kInvalidArgument;
    return fail(id.status(), bad_input ? 2 : 1);
  }
  out << "added user '" << user.name << "' (" << RoleName(user.role) << ")";
  if (!user.orgs.empty()) out << " orgs " << Join(user.orgs);
  if (!user.regions.empty()) out << " regions " << Join(user.regions);
  out << "\nbearer token (shown once; only its hash is stored):\n" << *token << "\n";
  return 0;
}

int CmdUsersList(const GlobalOptions& global, std::ostream& out, std::ostream& err) {
  auto config = LoadEffectiveConfig(global);
  if (!config.ok()) {
    err << "earshot users list: " << config.status().message() << "\n";
    return 2;
  }
  auto store = OpenStore(*config);
  if (!store.ok()) {
    err << "earshot users list: " << store.status().message() << "\n";
    return 1;
  }
  auto users = (*store)->ListUsers();
  if (!users.ok()) {
    err << "earshot users list: " << users.status().message() << "\n";
    return 1;
  }
  for (const User& user : *users) {
    out << user.name << "  " << RoleName(user.role) << "  orgs " << Join(user.orgs) << "  regions "
        << Join(user.regions) << "  created " << When(user.created_at)
        << (user.revoked_at ? "  revoked " + When(user.revoked_at) : std::string()) << "\n";
  }
  return 0;
}

int CmdUsersRevoke(const GlobalOptions& global, const std::string& name, std::ostream& out,
                   std::ostream& err) {
  auto config = LoadEffectiveConfig(global);
  if (!config.ok()) {
    err << "earshot users revoke: " << config.status().message() << "\n";
    return 2;
  }
  auto store = OpenStore(*config);
  if (!store.ok()) {
    err << "earshot users revoke: " << store.status().message() << "\n";
    return 1;
  }
  Status revoked = (*store)->RevokeUser(name, kCliActor, SystemClock().Now());
  if (!revoked.ok()) {
    err << "earshot users revoke: " << revoked.message() << "\n";
    return revoked.code() == StatusCode::kNotFound ? 2 : 1;
  }
  out << "revoked user '" << name << "'\n";
  return 0;
}

int CmdThreadsList(const GlobalOptions& global, const ThreadsListOptions& options,
                   std::ostream& out, std::ostream& err) {
  auto config = LoadEffectiveConfig(global);
  if (!config.ok()) {
    err << "earshot threads list: " << config.status().message() << "\n";
    return 2;
  }
  ThreadFilter filter;
  filter.org = options.org;
  filter.limit = options.limit;
  if (!options.status.empty()) {
    filter.state = OrgStateFromName(options.status);
    if (!filter.state) {
      err << "earshot threads list: --status must be new, assigned, responded, closed or "
             "dismissed\n";
      return 2;
    }
  }
  auto store = OpenStore(*config);
  if (!store.ok()) {
    err << "earshot threads list: " << store.status().message() << "\n";
    return 1;
  }
  SystemClock clock;
  Result<User> user = CliActingUser(**store, options.as);
  if (!user.ok()) {
    err << "earshot threads list: " << user.status().message() << "\n";
    return 2;
  }
  Result<OrgPlaces> places = CliPlaces(*config, *user, false);
  if (!places.ok()) {
    err << "earshot threads list: " << places.status().message() << "\n";
    return 2;
  }
  Workflow workflow(**store, clock, *places);
  auto threads = workflow.ListThreads(*user, filter);
  if (!threads.ok()) {
    err << "earshot threads list: " << threads.status().message() << "\n";
    return 1;
  }
  for (const ThreadSummary& thread : *threads) {
    out << "#" << thread.id << "  " << thread.platform << "  opened " << When(thread.opened_at)
        << "  last " << When(thread.last_activity_at) << "  posts " << thread.posts;
    if (thread.deleted_posts > 0) out << " (" << thread.deleted_posts << " deleted)";
    out << "\n";
    for (const ThreadOrg& org : thread.orgs) {
      out << "    " << org.org << "  " << OrgStateName(org.state);
      if (!org.assignee.empty()) out << "  assignee " << org.assignee;
      if (!org.dismiss_reason.empty()) out << "  reason \"" << org.dismiss_reason << "\"";
      out << "  rule " << (org.rule.empty() ? "-" : org.rule) << "\n";
    }
  }
  return 0;
}

int CmdThreadsShow(const GlobalOptions& global, int64_t thread_id, const std::string& as,
                   std::ostream& out, std::ostream& err) {
  auto config = LoadEffectiveConfig(global);
  if (!config.ok()) {
    err << "earshot threads show: " << config.status().message() << "\n";
    return 2;
  }
  auto store = OpenStore(*config);
  if (!store.ok()) {
    err << "earshot threads show: " << store.status().message() << "\n";
    return 1;
  }
  SystemClock clock;
  Result<User> user = CliActingUser(**store, as);
  if (!user.ok()) {
    err << "earshot threads show: " << user.status().message() << "\n";
    return 2;
  }
  Result<OrgPlaces> places = CliPlaces(*config, *user, false);
  if (!places.ok()) {
    err << "earshot threads show: " << places.status().message() << "\n";
    return 2;
  }
  Workflow workflow(**store, clock, *places);
  auto thread = workflow.GetThread(*user, thread_id);
  if (!thread.ok()) {
    err << "earshot threads show: " << thread.status().message() << "\n";
    return thread.status().code() == StatusCode::kNotFound ? 2 : 1;
  }
  const ThreadSummary& s = thread->summary;
  out << "thread #" << s.id << "  " << s.platform << "  opened " << When(s.opened_at)
      << "  last activity " << When(s.last_activity_at) << "\n";
  out << "organisations:\n";
  for (const ThreadOrg& org : s.orgs) {
    out << "  " << org.org << "  " << OrgStateName(org.state) << "  rule "
        << (org.rule.empty() ? "-" : org.rule);
    if (!org.assignee.empty()) out << "  assignee " << org.assignee;
    if (!org.dismiss_reason.empty()) out << "  reason \"" << org.dismiss_reason << "\"";
    out << "\n";
  }
  out << "posts:\n";
  for (const ThreadPost& post : thread->posts) {
    out << "  [" << JoinReasonName(post.how) << "] " << When(post.created_at) << "  "
        << (post.author_handle.empty() ? "-" : post.author_handle) << "  " << post.uid << "\n";
    out << "      " << (post.deleted ? std::string("[deleted]") : post.text) << "\n";
  }
  if (!thread->notes.empty()) out << "notes:\n";
  for (const Note& note : thread->notes) {
    out << "  " << When(note.created_at) << "  " << note.org << "  " << note.author << ": "
        << note.body << "\n";
  }
  if (!thread->replies.empty()) out << "replies:\n";
  for (const Reply& reply : thread->replies) {
    out << "  #" << reply.id << "  " << reply.org << "  " << ReplyStateName(reply.state) << "  by "
        << reply.author;
    if (!reply.approver.empty()) out << "  approved by " << reply.approver;
    if (!reply.url.empty()) out << "  " << reply.url;
    if (!reply.platform_error.empty()) out << "  error: " << reply.platform_error;
    out << "\n      " << reply.body << "\n";
  }
  out << "listening:\n";
  for (const Listening& l : thread->listening) {
    out << "  " << l.org << "  alerted " << When(l.alerted_at) << "  first response "
        << When(l.first_response_at) << "\n";
    auto events = [&](std::string_view what, const std::vector<ListeningEvent>& list) {
      for (const ListeningEvent& e : list) {
        out << "    " << what << "  " << e.user << "  " << When(e.at);
        if (!e.url.empty()) out << "  " << e.url;
        out << "\n";
      }
    };
    events("opened", l.opened);
    events("drafted", l.drafted);
    events("replied", l.replied);
  }
  if (!thread->audit.empty()) out << "audit:\n";
  for (const AuditEntry& entry : thread->audit) {
    out << "  " << When(entry.at) << "  " << entry.actor << "  " << entry.action << "  "
        << entry.org << "  " << entry.detail << "\n";
  }
  return 0;
}

int CmdThreadsListening(const GlobalOptions& global, const ThreadsListeningOptions& options,
                        std::ostream& out, std::ostream& err) {
  auto fail = [&](const Status& status, int code) {
    err << "earshot threads listening: " << status.message() << "\n";
    return code;
  };
  auto config = LoadEffectiveConfig(global);
  if (!config.ok()) return fail(config.status(), 2);
  std::optional<TimePoint> from, to;
  for (auto [name, text, bound] :
       {std::tuple{"--from", &options.from, &from}, std::tuple{"--to", &options.to, &to}}) {
    if (text->empty()) continue;
    Result<TimePoint> t = ParseIso8601(*text);
    if (!t.ok()) {
      return fail(Status::InvalidArgument(std::string(name) + " must be an ISO 8601 date or time"),
                  2);
    }
    *bound = *t;
  }
  auto store = OpenStore(*config);
  if (!store.ok()) return fail(store.status(), 1);
  Result<User> user = CliActingUser(**store, options.as);
  if (!user.ok()) return fail(user.status(), 2);
  Result<OrgPlaces> places = CliPlaces(*config, *user, true);
  if (!places.ok()) return fail(places.status(), 2);
  SystemClock clock;
  Workflow workflow(**store, clock, *places);
  auto summary = workflow.ListeningSummary(*user, from, to);
  if (!summary.ok()) return fail(summary.status(), 1);
  out << "org  threads  answered  share  median first response  open  dismissed  name\n";
  for (const OrgListening& org : *summary) {
    auto place = places->find(org.org);
    const std::string name =
        place == places->end() || place->second.name.empty() ? "-" : place->second.name;
    const int share = org.threads == 0
                          ? 0
                          : static_cast<int>((org.answered * 100 + org.threads / 2) / org.threads);
    std::string median = "-";
    if (org.median_first_response_seconds) {
      const int64_t seconds = *org.median_first_response_seconds;
      median = std::to_string(seconds / 3600) + "h" + (seconds % 3600 / 60 < 10 ? "0" : "") +
               std::to_string(seconds % 3600 / 60) + "m";
    }
    out << org.org << "  " << org.threads << "  " << org.answered << "  " << share << "%  "
        << median << "  " << org.open << "  " << org.dismissed << "  " << name << "\n";
  }
  return 0;
}

}  // namespace earshot
