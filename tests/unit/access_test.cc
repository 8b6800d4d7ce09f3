// Who may do what: Allowed() as a matrix of roles x own/other organisation x
// actions, and the same rules end to end through Workflow over a real store
// (a responder of one trust neither sees nor changes another's part).
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "crawler/core/text.h"
#include "crawler/store/sqlite/sqlite_store.h"
#include "crawler/threads/access.h"
#include "crawler/threads/workflow.h"

namespace earshot {
namespace {

const std::vector<Action> kStaffActions = {Action::kSetState, Action::kAssign,  Action::kNote,
                                           Action::kDraft,    Action::kApprove, Action::kPublish};

User MakeUser(std::string name, Role role, std::vector<std::string> orgs,
              std::vector<std::string> regions = {}) {
  User user;
  user.name = std::move(name);
  user.role = role;
  user.orgs = std::move(orgs);
  user.regions = std::move(regions);
  return user;
}

// RR8 (Leeds) in the North East and Yorkshire region, ICB QWO; RHQ
// (Sheffield) in the same region, ICB QF7; RJ1 (Guy's) in London.
const OrgPlaces kPlaces = {
    {"RR8", {"Y63", "QWO"}},
    {"RHQ", {"Y63", "QF7"}},
    {"RJ1", {"Y56", "QKK"}},
};

TEST_CASE("Access matrix: roles x own or other organisation x actions", "[access]") {
  const User admin = MakeUser("root", Role::kAdmin, {});
  const User responder = MakeUser("ann", Role::kResponder, {"RR8"});
  const User viewer = MakeUser("mp-office", Role::kViewer, {"RR8"});
  const User region_viewer = MakeUser("commissioner", Role::kViewer, {}, {"QF7"});
  const User nhse_viewer = MakeUser("nhse", Role::kViewer, {}, {"Y63"});

  for (const char* org : {"RR8", "RHQ", "RJ1", "UNKNOWN"}) {
    INFO(org);
    CHECK(Allowed(admin, Action::kRead, org, kPlaces));
    for (Action action : kStaffActions) CHECK(Allowed(admin, action, org, kPlaces));
  }
  CHECK(Allowed(admin, Action::kManageUsers, "", kPlaces));

  // Responder: everything on its own organisation, nothing on another.
  CHECK(Allowed(responder, Action::kRead, "RR8", kPlaces));
  CHECK_FALSE(Allowed(responder, Action::kRead, "RHQ", kPlaces));
  for (Action action : kStaffActions) {
    INFO(ActionName(action));
    CHECK(Allowed(responder, action, "RR8", kPlaces));
    CHECK_FALSE(Allowed(responder, action, "RHQ", kPlaces));
    CHECK_FALSE(Allowed(responder, action, "", kPlaces));
  }
  CHECK_FALSE(Allowed(responder, Action::kManageUsers, "RR8", kPlaces));

  // Viewers read within their organisations, ICB or region; never act.
  CHECK(Allowed(viewer, Action::kRead, "RR8", kPlaces));
  CHECK_FALSE(Allowed(viewer, Action::kRead, "RHQ", kPlaces));
  CHECK(Allowed(region_viewer, Action::kRead, "RHQ", kPlaces));
  CHECK_FALSE(Allowed(region_viewer, Action::kRead, "RR8", kPlaces));
  CHECK_FALSE(Allowed(region_viewer, Action::kRead, "UNKNOWN", kPlaces));
  CHECK(Allowed(nhse_viewer, Action::kRead, "RR8", kPlaces));
  CHECK(Allowed(nhse_viewer, Action::kRead, "RHQ", kPlaces));
  CHECK_FALSE(Allowed(nhse_viewer, Action::kRead, "RJ1", kPlaces));
  for (const User* user : {&viewer, &region_viewer, &nhse_viewer}) {
    for (Action action : kStaffActions) {
      INFO(user->name << " " << ActionName(action));
      CHECK_FALSE(Allowed(*user, action, "RR8", kPlaces));
      CHECK_FALSE(Allowed(*user, action, "RHQ", kPlaces));
    }
    CHECK_FALSE(Allowed(*user, Action::kManageUsers, "", kPlaces));
  }

  // A revoked user may do nothing, admin or not.
  User revoked = admin;
  revoked.revoked_at = FromUnixMillis(1);
  CHECK_FALSE(Allowed(revoked, Action::kRead, "RR8", kPlaces));
  User revoked_responder = responder;
  revoked_responder.revoked_at = FromUnixMillis(1);
  CHECK_FALSE(Allowed(revoked_responder, Action::kNote, "RR8", kPlaces));
}

class WorkflowFixture {
 public:
  WorkflowFixture()
      : store_(SqliteStore::Open(":memory:").value()), workflow_(*store_, clock_, kPlaces) {
    Post post;
    post.platform = "mastodon";
    post.id = "1";
    post.uid = "https://example.social/statuses/1";
    post.author_handle = "@alice@example.social";
    post.text = "Leeds and Sheffield both kept us waiting";
    post.fetched_at = clock_.Now();
    post.content_hash = Sha256Hex(post.text);
    for (const char* org : {"RR8", "RHQ"}) {
      Decision decision;
      decision.kind = Decision::Kind::kOrg;
      decision.value = org;
      decision.rule = std::string("rule-") + org;
      post.decisions.push_back(decision);
    }
    Post other = post;
    other.id = "2";
    other.uid = "https://example.social/statuses/2";
    other.text = "Guy's was great";
    other.content_hash = Sha256Hex(other.text);
    other.decisions.resize(1);
    other.decisions[0].value = "RJ1";
    SourceWrite write;
    write.source = "masto";
    write.posts = {post, other};
    REQUIRE(store_->Apply({write}).ok());
    thread_ = store_->ThreadOfPost(store_->FindPost("mastodon", post.uid).value()->row_id)
                  .value()
                  .value();
    other_thread_ = store_->ThreadOfPost(store_->FindPost("mastodon", other.uid).value()->row_id)
                        .value()
                        .value();
  }

  Workflow& workflow() { return workflow_; }
  SqliteStore& store() { return *store_; }
  int64_t thread() const { return thread_; }
  int64_t other_thread() const { return other_thread_; }

 private:
  FakeClock clock_;
  std::unique_ptr<SqliteStore> store_;
  Workflow workflow_;
  int64_t thread_ = 0;
  int64_t other_thread_ = 0;
};

TEST_CASE("Workflow: a responder acts on its organisation only and sees only its part",
          "[access]") {
  WorkflowFixture f;
  Workflow& w = f.workflow();
  const User leeds = MakeUser("ann", Role::kResponder, {"RR8"});
  const User leeds2 = MakeUser("carol", Role::kResponder, {"RR8"});
  const User sheffield = MakeUser("bob", Role::kResponder, {"RHQ"});
  const User viewer = MakeUser("mp", Role::kViewer, {"RR8"});
  const User admin = MakeUser("root", Role::kAdmin, {});

  REQUIRE(w.AddNote(leeds, f.thread(), "RR8", "Leeds-only note").ok());
  REQUIRE(w.AddNote(sheffield, f.thread(), "RHQ", "Sheffield-only note").ok());
  auto leeds_draft = w.CreateDraft(leeds, f.thread(), "RR8", 0, "Leeds draft");
  REQUIRE(leeds_draft.ok());
  REQUIRE(w.Assign(sheffield, f.thread(), "RHQ", "bob").ok());

  // Sheffield cannot act for Leeds: 403-like on a thread it shares...
  CHECK(w.AddNote(sheffield, f.thread(), "RR8", "x").status().code() == StatusCode::kNotFound);
  CHECK(w.SetState(sheffield, f.thread(), "RR8", OrgState::kClosed, "").code() ==
        StatusCode::kNotFound);
  CHECK(w.Approve(sheffield, *leeds_draft).code() == StatusCode::kNotFound);
  CHECK(w.MarkPublishing(sheffield, *leeds_draft, "acct").code() == StatusCode::kNotFound);
  // ...and the other trust's thread does not exist for it.
  CHECK(w.GetThread(sheffield, f.other_thread()).status().code() == StatusCode::kNotFound);
  CHECK(w.AddNote(sheffield, f.other_thread(), "RJ1", "x").status().code() ==
        StatusCode::kNotFound);

  auto seen_by_sheffield = w.GetThread(sheffield, f.thread());
  REQUIRE(seen_by_sheffield.ok());
  REQUIRE(seen_by_sheffield->summary.orgs.size() == 1);
  CHECK(seen_by_sheffield->summary.orgs[0].org == "RHQ");
  REQUIRE(seen_by_sheffield->notes.size() == 1);
  CHECK(seen_by_sheffield->notes[0].body == "Sheffield-only note");
  CHECK(seen_by_sheffield->replies.empty());
  for (const AuditEntry& entry : seen_by_sheffield->audit) CHECK(entry.org == "RHQ");
  CHECK(seen_by_sheffield->audit.size() == 2);
  CHECK(seen_by_sheffield->posts.size() == 1);

  auto listed = w.ListThreads(sheffield, {});
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  CHECK(listed->front().id == f.thread());
  ThreadFilter other_org;
  other_org.org = "RJ1";
  CHECK(w.ListThreads(sheffield, other_org).value().empty());
  CHECK(w.ListThreads(admin, {}).value().size() == 2);

  // A viewer reads its organisation's part and may change nothing.
  auto seen_by_viewer = w.GetThread(viewer, f.thread());
  REQUIRE(seen_by_viewer.ok());
  CHECK(seen_by_viewer->notes.size() == 1);
  CHECK(seen_by_viewer->replies.size() == 1);
  CHECK(w.AddNote(viewer, f.thread(), "RR8", "x").status().code() == StatusCode::kPermissionDenied);
  CHECK(w.SetState(viewer, f.thread(), "RR8", OrgState::kDismissed, "spam").code() ==
        StatusCode::kPermissionDenied);
  CHECK(w.Approve(viewer, *leeds_draft).code() == StatusCode::kPermissionDenied);

  // A second Leeds responder approves and publishes; the author may not approve.
  CHECK(w.Approve(leeds, *leeds_draft).code() == StatusCode::kPermissionDenied);
  REQUIRE(w.Approve(leeds2, *leeds_draft).ok());
  REQUIRE(w.MarkPublishing(leeds2, *leeds_draft, "rr8-mastodon").ok());
  REQUIRE(w.MarkPublished(leeds2, *leeds_draft, "99", "https://example.social/@rr8/99").ok());
  auto reply = f.store().GetReply(*leeds_draft);
  REQUIRE(reply.ok());
  CHECK(reply->state == ReplyState::kPublished);
  CHECK(reply->idempotency_key.rfind("reply-", 0) == 0);
  CHECK(reply->approver == "carol");

  // Sheffield's state was untouched by all of Leeds' work.
  auto thread = f.store().GetThread(f.thread()).value();
  for (const ThreadOrg& org : thread.summary.orgs) {
    if (org.org == "RHQ") CHECK(org.state == OrgState::kAssigned);
    if (org.org == "RR8") CHECK(org.state == OrgState::kResponded);
  }
  // Admin dismisses for Sheffield; the dismissal is counted against its rule.
  REQUIRE(w.SetState(admin, f.thread(), "RHQ", OrgState::kDismissed, "not about us").ok());
  auto dismissals = f.store().DismissalsByRule().value();
  REQUIRE(dismissals.size() == 1);
  CHECK(dismissals[0].rule == "rule-RHQ");
}

}  // namespace
}  // namespace earshot
