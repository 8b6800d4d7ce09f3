// ThreadStore: conversations staff answer, and who may do what with them.
//
// Model (docs/threads.md): a routed post opens a thread; later posts join it
// (a reply to a post on it, the conversation of its root, the same story
// posted again, our own published reply). Each organisation on a thread has
// its own state, assignee, notes and replies; every change is audited.
//
// Promises, for every implementation:
// - Threading is not done here but by Store::Apply(), in the transaction that
//   stores the posts (see SqliteStore): a stored post is never left without
//   the thread it belongs to.
// - Each mutating operation is ONE transaction together with its audit
//   entry: the change and the record of who made it are durable together or
//   not at all.
// - Operations do not check access: they are the trusted layer below
//   Workflow (workflow.h), which checks every call with Allowed()
//   (access.h). `actor` is recorded, not verified.
// - A thread, organisation, reply or user that does not exist is kNotFound;
//   a transition the state machine forbids is kInvalidArgument.
// - Every statement is parameterised.
// Thread-safety: as Store — one thread at a time per object.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crawler/core/clock.h"
#include "crawler/core/status.h"

namespace earshot {

struct Post;

// How a post came to be on a thread.
enum class JoinReason {
  kOpened,        // the routed post that opened it
  kReply,         // its reply_to names a post on the thread
  kConversation,  // its conversation root is on the thread
  kRepeat,        // the same author posted the same text within 7 days
  kOurs,          // our own published reply, come back in a poll
};
std::string_view JoinReasonName(JoinReason reason);
std::optional<JoinReason> JoinReasonFromName(std::string_view name);

// An organisation's state on a thread: new -> assigned -> responded ->
// closed, or dismissed (with a reason) from any state. A closed or
// dismissed thread may be reopened (new or assigned).
enum class OrgState { kNew, kAssigned, kResponded, kClosed, kDismissed };
std::string_view OrgStateName(OrgState state);
std::optional<OrgState> OrgStateFromName(std::string_view name);

// A staff reply's honest state: never "published" before the platform said so.
enum class ReplyState {
  kDraft,
  kApproved,
  kPublishing,        // handed to the connector; outcome not known yet
  kPublished,         // the platform accepted it; url set
  kFailed,            // the platform refused, or the outcome is unknown; error set
  kAnswerOnPlatform,  // the platform takes no replies: staff answer there (url: the post)
};
std::string_view ReplyStateName(ReplyState state);
std::optional<ReplyState> ReplyStateFromName(std::string_view name);

enum class Role { kAdmin, kResponder, kViewer };
std::string_view RoleName(Role role);
std::optional<Role> RoleFromName(std::string_view name);

struct ThreadPost {
  int64_t post_id = 0;  // posts row id (Store::StoredPost::row_id)
  std::string uid;
  std::string author_handle;
  std::string text;  // empty for a tombstone
  std::optional<TimePoint> created_at;
  TimePoint joined_at{};
  JoinReason how = JoinReason::kOpened;
  bool deleted = false;
};

struct ThreadOrg {
  std::string org;  // ODS code
  OrgState state = OrgState::kNew;
  std::string assignee;                 // user name; empty when unassigned
  std::string dismiss_reason;           // set while dismissed
  std::string rule;                     // the routing rule that put the org on the thread
  std::optional<TimePoint> alerted_at;  // when it was put on the thread (in its inbox)
  TimePoint created_at{};
  TimePoint updated_at{};
};

struct Note {
  int64_t id = 0;
  int64_t thread_id = 0;
  std::string org;
  std::string author;
  std::string body;
  TimePoint created_at{};
};

struct Reply {
  int64_t id = 0;
  int64_t thread_id = 0;
  std::string org;
  int64_t in_reply_to = 0;  // post row id answered
  std::string body;
  ReplyState state = ReplyState::kDraft;
  std::string idempotency_key;  // unique; the same for every retry of this reply
  std::string account;          // the organisation's account it went out from
  std::string url;              // where it lives (published / answer on platform)
  std::string published_id;     // the platform's id of the published reply
  std::string platform_error;   // the platform's words when failed
  std::string author;
  std::string approver;
  TimePoint created_at{};
  TimePoint updated_at{};
  std::string published_by;               // who published it (set with published)
  std::optional<TimePoint> published_at;  // when the platform accepted it
};

struct AuditEntry {
  int64_t id = 0;
  TimePoint at{};
  std::string actor;
  std::string action;  // "status", "assign", "note", "draft", "approve", ...
  std::string org;
  std::optional<int64_t> thread_id;
  std::string detail;
};

struct ThreadSummary {
  int64_t id = 0;
  std::string platform;
  int64_t root_post_id = 0;
  TimePoint opened_at{};
  TimePoint last_activity_at{};
  int64_t posts = 0;
  int64_t deleted_posts = 0;  // tombstones on the thread (shown, not hidden)
  std::vector<ThreadOrg> orgs;
};

// "Who is listening": one user's step on an organisation's part of a thread.
struct ListeningEvent {
  std::string user;
  TimePoint at{};
  std::string url;  // replied: where the published reply lives
};

// The listening ledger of one organisation on a thread.
struct Listening {
  std::string org;
  std::optional<TimePoint> alerted_at;         // when the org was put on the thread (its inbox)
  std::vector<ListeningEvent> opened;          // each user's first open, oldest first
  std::vector<ListeningEvent> drafted;         // each reply drafted: author, created_at
  std::vector<ListeningEvent> replied;         // each published reply: publisher, published_at, url
  std::optional<TimePoint> first_response_at;  // the first published reply's time
};

struct ThreadDetail {
  ThreadSummary summary;
  std::vector<ThreadPost> posts;  // in conversation order (created_at, then row id)
  std::vector<Note> notes;
  std::vector<Reply> replies;
  std::vector<AuditEntry> audit;
  std::vector<Listening> listening;  // one per organisation on the thread, by org
};

// Which threads ListThreads returns; every condition given must hold.
struct ThreadFilter {
  std::string org;                // empty: any
  std::optional<OrgState> state;  // of `org` when set, else of any org (of visible_orgs)
  int64_t before_id = 0;          // keyset: threads with id < before_id; 0: newest
  int limit = 50;
  // Only threads with at least one of these organisations (nullopt: any).
  // Workflow sets it to what the user may read, so a page is never thinned
  // after it is read.
  std::optional<std::vector<std::string>> visible_orgs;
  std::string platform;     // the thread's platform
  std::string topic;        // the opening post has this topic (value) or category (detail)
  std::string sentiment;    // the opening post's sentiment decision
  std::string criticality;  // the opening post has this criticality flag
  std::string text_query;   // FTS5 query matching any post on the thread (kInvalidArgument
                            // when FTS5 rejects it)
  std::optional<TimePoint> opened_from;  // opened_at >= opened_from
  std::optional<TimePoint> opened_to;    // opened_at < opened_to
};

// An organisation's threads in a window, for the listening summary.
struct OrgListening {
  std::string org;
  int64_t threads = 0;    // threads it is on, dismissed ones excluded
  int64_t answered = 0;   // of those: a published reply of the org, or state responded
  int64_t open = 0;       // of those: new or assigned
  int64_t dismissed = 0;  // threads it dismissed (not counted in `threads`)
  // Median of (first published reply - alerted_at) over the threads with a
  // published reply; nullopt when none.
  std::optional<int64_t> median_first_response_seconds;
};

// How many threads an organisation has in a state.
struct OrgStateCount {
  std::string org;
  OrgState state = OrgState::kNew;
  int64_t threads = 0;
};

struct User {
  int64_t id = 0;
  std::string name;
  Role role = Role::kViewer;
  std::vector<std::string> orgs;     // ODS codes it acts for (responder) or reads (viewer)
  std::vector<std::string> regions;  // region / ICB codes a viewer reads
  TimePoint created_at{};
  std::optional<TimePoint> revoked_at;
};

// How often organisations dismissed threads a routing rule put them on.
struct RuleDismissals {
  std::string rule;
  std::string reason;
  int64_t count = 0;
};

class ThreadStore {
 public:
  virtual ~ThreadStore() = default;

  // Newest first (by id). Each summary carries all its organisations;
  // Workflow drops those the caller may not read.
  virtual Result<std::vector<ThreadSummary>> ListThreads(const ThreadFilter& filter) = 0;
  virtual Result<ThreadDetail> GetThread(int64_t thread_id) = 0;
  // The post that opened the thread, as GetThread lists it (nullopt when the
  // thread has none on it): what a list of threads shows, for one query.
  virtual Result<std::optional<ThreadPost>> OpeningPost(int64_t thread_id,
                                                        int64_t root_post_id) = 0;
  // The thread a post is on, if any.
  virtual Result<std::optional<int64_t>> ThreadOfPost(int64_t post_id) = 0;
  // The thread of the post stored on `platform` whose external id or uid is
  // `key` (what a reply's reply_to or conversation names), if any.
  virtual Result<std::optional<int64_t>> ThreadOfPostNamed(std::string_view platform,
                                                           std::string_view key) = 0;

  // Sets `org`'s state on the thread. kDismissed needs a non-empty reason;
  // other states clear the reason. Audited as "status".
  virtual Status SetState(int64_t thread_id, std::string_view org, OrgState state,
                          std::string_view reason, std::string_view actor, TimePoint now) = 0;
  // Assigns `org`'s part of the thread to `assignee` (a user name; empty
  // unassigns). A new thread becomes assigned. Audited as "assign".
  virtual Status Assign(int64_t thread_id, std::string_view org, std::string_view assignee,
                        std::string_view actor, TimePoint now) = 0;
  // An internal note, visible to `org` only. Returns its id. Audited as "note".
  virtual Result<int64_t> AddNote(int64_t thread_id, std::string_view org, std::string_view body,
                                  std::string_view actor, TimePoint now) = 0;
  // A draft reply to `in_reply_to` (a post on the thread) with the given
  // idempotency key (unique: kAlreadyExists otherwise). Audited as "draft".
  virtual Result<int64_t> CreateDraft(int64_t thread_id, std::string_view org, int64_t in_reply_to,
                                      std::string_view body, std::string_view idempotency_key,
                                      std::string_view actor, TimePoint now) = 0;
  virtual Result<Reply> GetReply(int64_t reply_id) = 0;
  // draft -> approved; the approver must not be the author (a second pair of
  // eyes): kPermissionDenied. Audited as "approve".
  virtual Status Approve(int64_t reply_id, std::string_view actor, TimePoint now) = 0;
  // draft|approved|failed -> publishing, from `account`. Audited "publishing".
  virtual Status MarkPublishing(int64_t reply_id, std::string_view account, std::string_view actor,
                                TimePoint now) = 0;
  // publishing -> published with the platform's id and URL, by `actor` at
  // `now` (published_by, published_at); the org's state becomes responded
  // (unless closed or dismissed). Audited "published".
  virtual Status MarkPublished(int64_t reply_id, std::string_view published_id,
                               std::string_view url, std::string_view actor, TimePoint now) = 0;
  // publishing -> failed with the platform's words. Audited "failed".
  virtual Status MarkFailed(int64_t reply_id, std::string_view error, std::string_view actor,
                            TimePoint now) = 0;
  // draft|approved -> answer_on_platform, with the link staff answer at.
  virtual Status MarkAnswerOnPlatform(int64_t reply_id, std::string_view url,
                                      std::string_view actor, TimePoint now) = 0;

  // Records `user`'s first open of each of `orgs`' parts of the thread (a
  // later open changes nothing). Ledger rows, not audit entries.
  virtual Status RecordOpened(int64_t thread_id, const std::vector<std::string>& orgs,
                              std::string_view user, TimePoint at) = 0;
  // Per organisation on any thread, ordered by org: the listening summary of
  // the threads it was alerted to (alerted_at) in [from, to) (either open).
  virtual Result<std::vector<OrgListening>> ListeningSummary(std::optional<TimePoint> from,
                                                             std::optional<TimePoint> to) = 0;
  // Thread counts per organisation and state (only non-zero ones), by org.
  virtual Result<std::vector<OrgStateCount>> CountThreadsByOrgState() = 0;
  // The replies of `org` on its `recent_threads` most recent threads (by
  // thread id), newest first: what a new draft is compared with.
  virtual Result<std::vector<Reply>> RecentReplies(std::string_view org, int recent_threads) = 0;
  // Every reply left `publishing` since before `updated_before` (earshot
  // stopped between sending and recording the outcome) becomes failed with
  // `error`, audited "failed" as `actor`. Returns how many.
  virtual Result<int> FailStalePublishing(TimePoint updated_before, std::string_view error,
                                          std::string_view actor, TimePoint now) = 0;

  // Dismissals per routing rule and reason, most first.
  virtual Result<std::vector<RuleDismissals>> DismissalsByRule() = 0;
  // Audit entries not tied to a thread (user management), oldest first.
  virtual Result<std::vector<AuditEntry>> AuditLog(int limit) = 0;

  // Users. Names are unique (kAlreadyExists); the token is stored only as
  // `token_hash`. Audited as "user add" / "user revoke".
  virtual Result<int64_t> AddUser(const User& user, std::string_view token_hash,
                                  std::string_view actor, TimePoint now) = 0;
  virtual Result<std::vector<User>> ListUsers() = 0;
  virtual Status RevokeUser(std::string_view name, std::string_view actor, TimePoint now) = 0;
  // The unrevoked user holding the token with this hash; nullopt when none.
  virtual Result<std::optional<User>> UserByTokenHash(std::string_view token_hash) = 0;
};

// A predicate for ClassifyStage: whether `post` answers (reply_to or
// conversation names) a post on a thread in `store`. A failed lookup counts
// as no. Borrows `store`, which must outlive the predicate; same thread rules.
std::function<bool(const Post&)> AnswersHeldThread(ThreadStore& store);

}  // namespace earshot
