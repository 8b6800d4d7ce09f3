// Workflow: the thread operations staff perform, each checked with
// Allowed() (access.h) before it reaches the ThreadStore.
//
// - An action the user may not take on an organisation it can read is
//   kPermissionDenied; on a thread where it can read no organisation, or an
//   organisation not on the thread, it is kNotFound (a responder of one trust
//   learns nothing of another's threads).
// - Reads are filtered: a thread's summary lists only the organisations the
//   user may read, and its notes, replies and audit entries only theirs.
//   Threads with none are left out of lists, in the store's query (a page
//   is full whenever more visible threads match).
// - GetThread records the user's first open of each organisation's part it
//   may act on (the listening ledger; not audited): the organisation's own
//   staff and admins, not viewers. A user that is not stored
//   (id 0: the CLI's implicit admin) leaves no trace. The store failing to
//   record it fails the read (as any store failure would).
// - Time comes from the injected clock; audit entries name the user.
// Borrows the store, clock and places, which must outlive it. One thread at a
// time (as ThreadStore).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "crawler/core/clock.h"
#include "crawler/threads/access.h"
#include "crawler/threads/thread_store.h"

namespace earshot {

class Workflow {
 public:
  Workflow(ThreadStore& store, const Clock& clock, const OrgPlaces& places)
      : store_(store), clock_(clock), places_(places) {}

  // Organisations ([[org]] require_approval) whose drafts are published, or
  // marked answer-on-platform, only once a second person (not the author)
  // approved them; otherwise that is kInvalidArgument. Default: none.
  void RequireApproval(std::set<std::string, std::less<>> orgs) {
    approval_required_ = std::move(orgs);
  }
  bool RequiresApproval(std::string_view org) const {
    return approval_required_.find(org) != approval_required_.end();
  }

  // `filter.visible_orgs` is replaced by what the user may read.
  Result<std::vector<ThreadSummary>> ListThreads(const User& user, const ThreadFilter& filter);
  // `record_open` false reads without a trace (a HEAD request: nobody read).
  Result<ThreadDetail> GetThread(const User& user, int64_t thread_id, bool record_open = true);

  // The organisations the user may read, for a store query: nullopt for an
  // admin (every one); for a viewer with regions, those of `places` in them.
  std::optional<std::vector<std::string>> VisibleOrgs(const User& user) const;
  // The listening summary (ThreadStore::ListeningSummary) of the
  // organisations the user may read, with a zero row for each organisation
  // in its scope that has no thread.
  Result<std::vector<OrgListening>> ListeningSummary(const User& user,
                                                     std::optional<TimePoint> from,
                                                     std::optional<TimePoint> to);
  // Thread counts per state of the organisations the user may read.
  Result<std::vector<OrgStateCount>> CountThreadsByOrgState(const User& user);
  // `org`'s replies on its recent threads (ThreadStore::RecentReplies), if
  // the user may read `org` (kNotFound otherwise).
  Result<std::vector<Reply>> RecentReplies(const User& user, std::string_view org,
                                           int recent_threads);
  const Clock& clock() const { return clock_; }

  // A reply the user may read (kNotFound otherwise).
  Result<Reply> GetReply(const User& user, int64_t reply_id);

  Status SetState(const User& user, int64_t thread_id, std::string_view org, OrgState state,
                  std::string_view reason);
  Status Assign(const User& user, int64_t thread_id, std::string_view org,
                std::string_view assignee);
  Result<int64_t> AddNote(const User& user, int64_t thread_id, std::string_view org,
                          std::string_view body);
  // A draft answering `in_reply_to` (0: the thread's opening post), with a
  // fresh random idempotency key.
  Result<int64_t> CreateDraft(const User& user, int64_t thread_id, std::string_view org,
                              int64_t in_reply_to, std::string_view body);
  Status Approve(const User& user, int64_t reply_id);
  Status MarkPublishing(const User& user, int64_t reply_id, std::string_view account);
  Status MarkPublished(const User& user, int64_t reply_id, std::string_view published_id,
                       std::string_view url);
  Status MarkFailed(const User& user, int64_t reply_id, std::string_view error);
  Status MarkAnswerOnPlatform(const User& user, int64_t reply_id, std::string_view url);

 private:
  // kOk when `user` may do `action` on `org`'s part of the thread; see above.
  Status Check(const User& user, Action action, int64_t thread_id, std::string_view org);
  // The reply, after checking `action` on its organisation.
  Result<Reply> CheckReply(const User& user, Action action, int64_t reply_id);
  // kOk unless the reply's organisation requires approval it lacks.
  Status CheckApproved(const Reply& reply) const;

  ThreadStore& store_;
  const Clock& clock_;
  const OrgPlaces& places_;
  std::set<std::string, std::less<>> approval_required_;
};

}  // namespace earshot
