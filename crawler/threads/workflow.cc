#include "crawler/threads/workflow.h"

#include <algorithm>
#include <string>

#include "crawler/threads/tokens.h"

namespace earshot {

namespace {

Status NoThread(int64_t thread_id) {
  return Status::NotFound("thread " + std::to_string(thread_id) + " not found");
}

}  // namespace

Status Workflow::Check(const User& user, Action action, int64_t thread_id, std::string_view org) {
  Result<ThreadDetail> thread = store_.GetThread(thread_id);
  if (!thread.ok()) return thread.status();
  const auto& orgs = thread->summary.orgs;
  const bool readable = std::any_of(orgs.begin(), orgs.end(), [&](const ThreadOrg& o) {
    return Allowed(user, Action::kRead, o.org, places_);
  });
  if (!readable) return NoThread(thread_id);
  const bool on_thread =
      std::any_of(orgs.begin(), orgs.end(), [&](const ThreadOrg& o) { return o.org == org; });
  if (!on_thread || !Allowed(user, Action::kRead, org, places_)) {
    return Status::NotFound("organisation '" + std::string(org) + "' is not on thread " +
                            std::to_string(thread_id));
  }
  if (!Allowed(user, action, org, places_)) {
    return Status::PermissionDenied("user '" + user.name + "' may not " +
                                    std::string(ActionName(action)) + " for '" + std::string(org) +
                                    "'");
  }
  return Status::Ok();
}

Result<Reply> Workflow::CheckReply(const User& user, Action action, int64_t reply_id) {
  Result<Reply> reply = store_.GetReply(reply_id);
  if (!reply.ok()) return reply.status();
  Status allowed = Check(user, action, reply->thread_id, reply->org);
  if (allowed.code() == StatusCode::kNotFound) {
    return Status::NotFound("reply " + std::to_string(reply_id) + " not found");
  }
  if (!allowed.ok()) return allowed;
  return reply;
}

Status Workflow::CheckApproved(const Reply& reply) const {
  if (!RequiresApproval(reply.org) || !reply.approver.empty()) return Status::Ok();
  return Status::InvalidArgument("reply " + std::to_string(reply.id) + " of '" + reply.org +
                                 "' needs approval by a second person before it is published");
}

std::optional<std::vector<std::string>> Workflow::VisibleOrgs(const User& user) const {
  if (user.revoked_at) return std::vector<std::string>{};
  if (user.role == Role::kAdmin) return std::nullopt;
  std::vector<std::string> orgs = user.orgs;
  if (user.role == Role::kViewer && !user.regions.empty()) {
    for (const auto& [code, place] : places_) {
      if (Allowed(user, Action::kRead, code, places_)) orgs.push_back(code);
    }
  }
  std::sort(orgs.begin(), orgs.end());
  orgs.erase(std::unique(orgs.begin(), orgs.end()), orgs.end());
  return orgs;
}

Result<std::vector<ThreadSummary>> Workflow::ListThreads(const User& user,
                                                         const ThreadFilter& filter) {
  if (!filter.org.empty() && !Allowed(user, Action::kRead, filter.org, places_)) {
    return std::vector<ThreadSummary>{};
  }
  ThreadFilter scoped = filter;
  scoped.visible_orgs = VisibleOrgs(user);
  Result<std::vector<ThreadSummary>> threads = store_.ListThreads(scoped);
  if (!threads.ok()) return threads.status();
  std::vector<ThreadSummary> visible;
  for (ThreadSummary& thread : *threads) {
    std::erase_if(thread.orgs, [&](const ThreadOrg& o) {
      return !Allowed(user, Action::kRead, o.org, places_);
    });
    if (!thread.orgs.empty()) visible.push_back(std::move(thread));
  }
  return visible;
}

Result<ThreadDetail> Workflow::GetThread(const User& user, int64_t thread_id, bool record_open) {
  Result<ThreadDetail> thread = store_.GetThread(thread_id);
  if (!thread.ok()) return thread.status();
  auto hidden = [&](const std::string& org) { return !Allowed(user, Action::kRead, org, places_); };
  std::erase_if(thread->summary.orgs, [&](const ThreadOrg& o) { return hidden(o.org); });
  if (thread->summary.orgs.empty()) return NoThread(thread_id);
  std::erase_if(thread->notes, [&](const Note& n) { return hidden(n.org); });
  std::erase_if(thread->replies, [&](const Reply& r) { return hidden(r.org); });
  std::erase_if(thread->audit, [&](const AuditEntry& a) { return hidden(a.org); });
  std::erase_if(thread->listening, [&](const Listening& l) { return hidden(l.org); });
  // "Who opened it" is about the organisation's own staff: a viewer (an MP's
  // office, a commissioner) reading the thread is not listed.
  std::vector<std::string> orgs;
  for (const ThreadOrg& org : thread->summary.orgs) {
    if (Allowed(user, Action::kNote, org.org, places_)) orgs.push_back(org.org);
  }
  if (user.id > 0 && record_open && !orgs.empty()) {
    const TimePoint now = clock_.Now();
    EARSHOT_RETURN_IF_ERROR(store_.RecordOpened(thread_id, orgs, user.name, now));
    // This read's own open, as the store now holds it.
    for (earshot::Listening& listening : thread->listening) {
      if (std::find(orgs.begin(), orgs.end(), listening.org) == orgs.end()) continue;
      const bool known = std::any_of(listening.opened.begin(), listening.opened.end(),
                                     [&](const ListeningEvent& e) { return e.user == user.name; });
      if (!known) listening.opened.push_back({user.name, now, ""});
    }
  }
  return thread;
}

Result<std::vector<OrgListening>> Workflow::ListeningSummary(const User& user,
                                                             std::optional<TimePoint> from,
                                                             std::optional<TimePoint> to) {
  Result<std::vector<OrgListening>> all = store_.ListeningSummary(from, to);
  if (!all.ok()) return all.status();
  std::erase_if(
      *all, [&](const OrgListening& o) { return !Allowed(user, Action::kRead, o.org, places_); });
  for (const std::string& org : user.orgs) {
    const bool listed =
        std::any_of(all->begin(), all->end(), [&](const OrgListening& o) { return o.org == org; });
    if (!listed && Allowed(user, Action::kRead, org, places_)) {
      OrgListening none;
      none.org = org;
      all->push_back(std::move(none));
    }
  }
  std::sort(all->begin(), all->end(),
            [](const OrgListening& a, const OrgListening& b) { return a.org < b.org; });
  return all;
}

Result<std::vector<OrgStateCount>> Workflow::CountThreadsByOrgState(const User& user) {
  Result<std::vector<OrgStateCount>> all = store_.CountThreadsByOrgState();
  if (!all.ok()) return all.status();
  std::erase_if(
      *all, [&](const OrgStateCount& c) { return !Allowed(user, Action::kRead, c.org, places_); });
  return all;
}

Result<std::vector<Reply>> Workflow::RecentReplies(const User& user, std::string_view org,
                                                   int recent_threads) {
  if (!Allowed(user, Action::kRead, org, places_)) {
    return Status::NotFound("organisation '" + std::string(org) + "' not found");
  }
  return store_.RecentReplies(org, recent_threads);
}

Result<Reply> Workflow::GetReply(const User& user, int64_t reply_id) {
  return CheckReply(user, Action::kRead, reply_id);
}

Status Workflow::SetState(const User& user, int64_t thread_id, std::string_view org, OrgState state,
                          std::string_view reason) {
  EARSHOT_RETURN_IF_ERROR(Check(user, Action::kSetState, thread_id, org));
  return store_.SetState(thread_id, org, state, reason, user.name, clock_.Now());
}

Status Workflow::Assign(const User& user, int64_t thread_id, std::string_view org,
                        std::string_view assignee) {
  EARSHOT_RETURN_IF_ERROR(Check(user, Action::kAssign, thread_id, org));
  return store_.Assign(thread_id, org, assignee, user.name, clock_.Now());
}

Result<int64_t> Workflow::AddNote(const User& user, int64_t thread_id, std::string_view org,
                                  std::string_view body) {
  EARSHOT_RETURN_IF_ERROR(Check(user, Action::kNote, thread_id, org));
  return store_.AddNote(thread_id, org, body, user.name, clock_.Now());
}

Result<int64_t> Workflow::CreateDraft(const User& user, int64_t thread_id, std::string_view org,
                                      int64_t in_reply_to, std::string_view body) {
  EARSHOT_RETURN_IF_ERROR(Check(user, Action::kDraft, thread_id, org));
  Result<std::string> key = NewIdempotencyKey();
  if (!key.ok()) return key.status();
  return store_.CreateDraft(thread_id, org, in_reply_to, body, *key, user.name, clock_.Now());
}

Status Workflow::Approve(const User& user, int64_t reply_id) {
  Result<Reply> reply = CheckReply(user, Action::kApprove, reply_id);
  if (!reply.ok()) return reply.status();
  return store_.Approve(reply_id, user.name, clock_.Now());
}

Status Workflow::MarkPublishing(const User& user, int64_t reply_id, std::string_view account) {
  Result<Reply> reply = CheckReply(user, Action::kPublish, reply_id);
  if (!reply.ok()) return reply.status();
  EARSHOT_RETURN_IF_ERROR(CheckApproved(*reply));
  return store_.MarkPublishing(reply_id, account, user.name, clock_.Now());
}

Status Workflow::MarkPublished(const User& user, int64_t reply_id, std::string_view published_id,
                               std::string_view url) {
  Result<Reply> reply = CheckReply(user, Action::kPublish, reply_id);
  if (!reply.ok()) return reply.status();
  return store_.MarkPublished(reply_id, published_id, url, user.name, clock_.Now());
}

Status Workflow::MarkFailed(const User& user, int64_t reply_id, std::string_view error) {
  Result<Reply> reply = CheckReply(user, Action::kPublish, reply_id);
  if (!reply.ok()) return reply.status();
  return store_.MarkFailed(reply_id, error, user.name, clock_.Now());
}

Status Workflow::MarkAnswerOnPlatform(const User& user, int64_t reply_id, std::string_view url) {
  Result<Reply> reply = CheckReply(user, Action::kPublish, reply_id);
  if (!reply.ok()) return reply.status();
  EARSHOT_RETURN_IF_ERROR(CheckApproved(*reply));
  return store_.MarkAnswerOnPlatform(reply_id, url, user.name, clock_.Now());
}

}  // namespace earshot
