// Threads in the SQLite store: how posts join threads inside Apply(), that a
// failed Apply leaves no post without its thread, and the workflow
// operations with their audit entries.
#include <catch2/catch.hpp>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "connectors/registry.h"
#include "crawler/cli/config.h"
#include "crawler/core/text.h"
#include "crawler/core/time_format.h"
#include "crawler/pipeline/classify_stage.h"
#include "crawler/pipeline/pipeline.h"
#include "crawler/store/sqlite/sqlite_store.h"
#include "crawler/threads/drafting.h"
#include "crawler/threads/thread_store.h"
#include "crawler/threads/tokens.h"
#include "crawler/threads/workflow.h"

namespace earshot {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kT0 = 1'790'000'000'000;
constexpr int64_t kMinute = 60'000;
constexpr int64_t kDay = 24 * 60 * kMinute;

TimePoint At(int64_t offset_ms) { return FromUnixMillis(kT0 + offset_ms); }

Post MakePost(const std::string& id, const std::string& text, int64_t created = 0) {
  Post post;
  post.platform = "mastodon";
  post.id = id;
  post.uid = "https://example.social/statuses/" + id;
  post.url = post.uid;
  post.author_handle = "@alice@example.social";
  post.text = text;
  post.created_at = At(created);
  post.fetched_at = At(created + kMinute);
  post.content_hash = Sha256Hex(text);
  return post;
}

Post Routed(Post post, const std::string& org, const std::string& rule = "orgs-name") {
  Decision decision;
  decision.kind = Decision::Kind::kOrg;
  decision.value = org;
  decision.rule = rule;
  post.decisions.push_back(decision);
  return post;
}

SourceWrite Page(std::vector<Post> posts) {
  SourceWrite write;
  write.source = "masto";
  write.posts = std::move(posts);
  return write;
}

std::unique_ptr<SqliteStore> OpenMemory() {
  auto store = SqliteStore::Open(":memory:");
  REQUIRE(store.ok());
  return std::move(store).value();
}

int64_t RowOf(SqliteStore& store, const Post& post) {
  auto found = store.FindPost(post.platform, post.uid);
  REQUIRE(found.ok());
  REQUIRE(found->has_value());
  return (*found)->row_id;
}

std::optional<int64_t> ThreadOf(SqliteStore& store, const Post& post) {
  auto thread = store.ThreadOfPost(RowOf(store, post));
  REQUIRE(thread.ok());
  return *thread;
}

void ApplyOrDie(SqliteStore& store, const std::vector<SourceWrite>& writes) {
  auto applied = store.Apply(writes);
  INFO(applied.status().ToString());
  REQUIRE(applied.ok());
}

std::vector<std::string> HowJoined(const ThreadDetail& thread) {
  std::vector<std::string> out;
  for (const ThreadPost& post : thread.posts) {
    out.push_back(post.uid.substr(post.uid.rfind('/') + 1) + ":" +
                  std::string(JoinReasonName(post.how)));
  }
  return out;
}

TEST_CASE("A routed post opens a thread with one row per organisation", "[threads]") {
  auto store = OpenMemory();
  Post post = Routed(Routed(Routed(MakePost("1", "A&E at Leeds and Sheffield"), "RR8", "leeds"),
                            "RHQ", "sheffield"),
                     "RR8", "leeds-again");
  Post unrouted = MakePost("2", "nothing about the NHS", kMinute);
  ApplyOrDie(*store, {Page({post, unrouted})});

  auto thread_id = ThreadOf(*store, post);
  REQUIRE(thread_id.has_value());
  CHECK_FALSE(ThreadOf(*store, unrouted).has_value());
  auto thread = store->GetThread(*thread_id);
  REQUIRE(thread.ok());
  CHECK(thread->summary.platform == "mastodon");
  CHECK(thread->summary.root_post_id == RowOf(*store, post));
  CHECK(thread->summary.opened_at == post.fetched_at);
  CHECK(thread->summary.posts == 1);
  REQUIRE(thread->summary.orgs.size() == 2);
  CHECK(thread->summary.orgs[0].org == "RHQ");
  CHECK(thread->summary.orgs[0].rule == "sheffield");
  CHECK(thread->summary.orgs[1].org == "RR8");
  CHECK(thread->summary.orgs[1].rule == "leeds");  // the first rule routing it
  for (const ThreadOrg& org : thread->summary.orgs) CHECK(org.state == OrgState::kNew);
  CHECK(HowJoined(*thread) == std::vector<std::string>{"1:opened"});
}

TEST_CASE("Replies join by external id or uid, on the same platform only", "[threads]") {
  auto store = OpenMemory();
  Post root = Routed(MakePost("1", "waited nine hours"), "RR8");
  ApplyOrDie(*store, {Page({root})});

  Post by_id = MakePost("2", "same here", 10 * kMinute);
  by_id.reply_to = "1";
  Post by_uid = MakePost("3", "and me", 20 * kMinute);
  by_uid.reply_to = root.uid;
  Post other_platform = MakePost("4", "elsewhere", 30 * kMinute);
  other_platform.platform = "bluesky";
  other_platform.reply_to = "1";
  Post unknown_parent = MakePost("5", "reply to a post we never stored", 40 * kMinute);
  unknown_parent.reply_to = "999";
  ApplyOrDie(*store, {Page({by_id, by_uid, other_platform, unknown_parent})});

  auto thread_id = ThreadOf(*store, root);
  REQUIRE(thread_id.has_value());
  CHECK(ThreadOf(*store, by_id) == thread_id);
  CHECK(ThreadOf(*store, by_uid) == thread_id);
  CHECK_FALSE(ThreadOf(*store, other_platform).has_value());
  CHECK_FALSE(ThreadOf(*store, unknown_parent).has_value());
  auto thread = store->GetThread(*thread_id);
  REQUIRE(thread.ok());
  CHECK(HowJoined(*thread) == std::vector<std::string>{"1:opened", "2:reply", "3:reply"});
  CHECK(thread->summary.last_activity_at == At(20 * kMinute));
}

TEST_CASE("A page's replies join in conversation order whatever the page order", "[threads]") {
  auto store = OpenMemory();
  Post a = Routed(MakePost("a", "root"), "RR8");
  Post b = MakePost("b", "reply to root", 5 * kMinute);
  b.reply_to = "a";
  Post c = MakePost("c", "reply to the reply", 9 * kMinute);
  c.reply_to = "b";
  // Newest first, as timelines come.
  ApplyOrDie(*store, {Page({c, b, a})});
  auto thread_id = ThreadOf(*store, a);
  REQUIRE(thread_id.has_value());
  auto thread = store->GetThread(*thread_id);
  REQUIRE(thread.ok());
  CHECK(HowJoined(*thread) == std::vector<std::string>{"a:opened", "b:reply", "c:reply"});
}

TEST_CASE("Conversation replies join their conversation's thread", "[threads]") {
  auto store = OpenMemory();
  Post article = Routed(MakePost("article", "a blog post about the ward"), "RHQ");
  ApplyOrDie(*store, {Page({article})});
  Post comment = MakePost("comment-1", "a comment", 30 * kMinute);
  comment.conversation = "article";
  comment.reply_to = "comment-0";  // a comment we never stored
  SourceWrite conversation = Page({comment});
  conversation.conversation_replies = true;
  ApplyOrDie(*store, {conversation});
  auto thread = store->GetThread(*ThreadOf(*store, article));
  REQUIRE(thread.ok());
  CHECK(HowJoined(*thread) == std::vector<std::string>{"article:opened", "comment-1:conversation"});
}

TEST_CASE("The same story posted again within 7 days joins as a repeat", "[threads]") {
  auto store = OpenMemory();
  const std::string story = "My mum waited 14 hours on a trolley at Leeds General";
  Post first = Routed(MakePost("1", story), "RR8");
  ApplyOrDie(*store, {Page({first})});

  Post again = Routed(MakePost("2", story, 3 * kDay), "RR8");
  Post other_author = Routed(MakePost("3", story, 3 * kDay), "RR8");
  other_author.author_handle = "@bob@example.social";
  Post much_later = Routed(MakePost("4", story, 30 * kDay), "RR8");
  Post different_text = Routed(MakePost("5", story + "!", 1 * kDay), "RR8");
  ApplyOrDie(*store, {Page({again, other_author, much_later, different_text})});

  const auto thread_id = ThreadOf(*store, first);
  CHECK(ThreadOf(*store, again) == thread_id);
  CHECK(ThreadOf(*store, other_author) != thread_id);
  CHECK(ThreadOf(*store, much_later) != thread_id);
  CHECK(ThreadOf(*store, different_text) != thread_id);
  auto thread = store->GetThread(*thread_id);
  REQUIRE(thread.ok());
  CHECK(HowJoined(*thread) == std::vector<std::string>{"1:opened", "2:repeat"});
}

TEST_CASE("A reply naming another organisation adds it to the thread", "[threads]") {
  auto store = OpenMemory();
  Post root = Routed(MakePost("1", "root"), "RR8");
  Post reply = Routed(MakePost("2", "and the same at Sheffield", kMinute), "RHQ", "sheffield");
  reply.reply_to = "1";
  ApplyOrDie(*store, {Page({root}), Page({reply})});
  auto thread = store->GetThread(*ThreadOf(*store, root));
  REQUIRE(thread.ok());
  REQUIRE(thread->summary.orgs.size() == 2);
  CHECK(thread->summary.orgs[0].org == "RHQ");
  CHECK(thread->summary.orgs[0].rule == "sheffield");
  CHECK(ThreadOf(*store, reply) == thread->summary.id);
}

TEST_CASE("Duplicates are not threaded twice", "[threads]") {
  auto store = OpenMemory();
  Post root = Routed(MakePost("1", "root"), "RR8");
  Post reply = MakePost("2", "reply", kMinute);
  reply.reply_to = "1";
  ApplyOrDie(*store, {Page({root, reply})});
  ApplyOrDie(*store, {Page({root, reply}), Page({reply, root})});
  auto threads = store->ListThreads({});
  REQUIRE(threads.ok());
  REQUIRE(threads->size() == 1);
  CHECK(threads->front().posts == 2);
}

TEST_CASE("A deleted post keeps its place and marks its thread", "[threads]") {
  auto store = OpenMemory();
  Post root = Routed(MakePost("1", "root"), "RR8");
  Post reply = MakePost("2", "reply with a name in it", kMinute);
  reply.reply_to = "1";
  ApplyOrDie(*store, {Page({root, reply})});
  SourceWrite deletion = Page({});
  deletion.deletions.push_back({"mastodon", reply.uid, "deleted by its author", At(kDay)});
  ApplyOrDie(*store, {deletion});
  // Deleted twice: counted once.
  ApplyOrDie(*store, {deletion});
  auto thread = store->GetThread(*ThreadOf(*store, root));
  REQUIRE(thread.ok());
  CHECK(thread->summary.deleted_posts == 1);
  REQUIRE(thread->posts.size() == 2);
  CHECK(thread->posts[1].deleted);
  CHECK(thread->posts[1].text.empty());
  CHECK_FALSE(thread->posts[0].deleted);
}

TEST_CASE("Our published reply comes back as ours", "[threads]") {
  auto store = OpenMemory();
  Post root = Routed(MakePost("1", "root"), "RR8");
  ApplyOrDie(*store, {Page({root})});
  const int64_t thread_id = *ThreadOf(*store, root);
  auto draft = store->CreateDraft(thread_id, "RR8", 0, "Sorry to hear this", "key-1", "ann", At(0));
  REQUIRE(draft.ok());
  REQUIRE(store->MarkPublishing(*draft, "rr8-mastodon", "ann", At(1)).ok());
  REQUIRE(
      store->MarkPublished(*draft, "777", "https://example.social/@rr8/777", "ann", At(2)).ok());

  Post ours = MakePost("777", "Sorry to hear this", kDay);
  ours.reply_to = "1";
  ApplyOrDie(*store, {Page({ours})});
  auto thread = store->GetThread(thread_id);
  REQUIRE(thread.ok());
  CHECK(HowJoined(*thread) == std::vector<std::string>{"1:opened", "777:ours"});
  CHECK(thread->summary.orgs.front().state == OrgState::kResponded);
}

class TempFile {
 public:
  TempFile() {
    std::random_device random;
    path_ = fs::temp_directory_path() / ("earshot-threads-" + std::to_string(random()) + ".db");
  }
  ~TempFile() {
    std::error_code ignored;
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path_.string() + suffix, ignored);
  }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

TEST_CASE("A failed Apply leaves no post without its thread", "[threads]") {
  Post root = Routed(MakePost("1", "root"), "RR8");
  Post reply = MakePost("2", "reply", kMinute);
  reply.reply_to = "1";
  Post repeat = Routed(MakePost("3", "root", 2 * kMinute), "RR8");
  int succeeded_at = 0;
  for (int n = 1; n < 200 && succeeded_at == 0; ++n) {
    TempFile file;
    int steps = 0;
    bool armed = false;
    SqliteOptions options;
    options.fail_step = [&](std::string_view) { return armed && ++steps == n; };
    {
      auto opened = SqliteStore::Open(file.path(), options);
      REQUIRE(opened.ok());
      auto& store = **opened;
      armed = true;
      auto applied = store.Apply({Page({root, reply, repeat})});
      armed = false;
      if (applied.ok()) {
        succeeded_at = n;
        continue;
      }
      CHECK(applied.status().message().find("injected fault") != std::string::npos);
      CHECK(store.CountPosts().value() == 0);
      CHECK(store.ListThreads({}).value().empty());
      // The same page applied again threads everything.
      ApplyOrDie(store, {Page({root, reply, repeat})});
      auto threads = store.ListThreads({});
      REQUIRE(threads->size() == 1);
      CHECK(threads->front().posts == 3);
      CHECK(store.CheckIntegrity().ok());
    }
  }
  // Every step of the batch was failed once before it went through.
  CHECK(succeeded_at > 10);
}

TEST_CASE("Workflow operations change state and are audited", "[threads]") {
  auto store = OpenMemory();
  Post root = Routed(Routed(MakePost("1", "root"), "RR8", "leeds"), "RHQ", "sheffield");
  ApplyOrDie(*store, {Page({root})});
  const int64_t id = *ThreadOf(*store, root);

  REQUIRE(store->Assign(id, "RR8", "ann", "admin", At(1)).ok());
  CHECK(store->SetState(id, "RHQ", OrgState::kDismissed, "", "bob", At(2)).code() ==
        StatusCode::kInvalidArgument);
  REQUIRE(store->SetState(id, "RHQ", OrgState::kDismissed, "not about us", "bob", At(3)).ok());
  CHECK(store->SetState(id, "XXX", OrgState::kClosed, "", "bob", At(3)).code() ==
        StatusCode::kNotFound);
  auto note = store->AddNote(id, "RR8", "called the ward", "ann", At(4));
  REQUIRE(note.ok());
  CHECK(store->AddNote(id, "XXX", "no", "ann", At(4)).status().code() == StatusCode::kNotFound);

  auto draft = store->CreateDraft(id, "RR8", 0, "We are sorry", "k1", "ann", At(5));
  REQUIRE(draft.ok());
  CHECK(store->CreateDraft(id, "RR8", 0, "again", "k1", "ann", At(5)).status().code() ==
        StatusCode::kAlreadyExists);
  CHECK(store->CreateDraft(id, "RR8", 424242, "x", "k2", "ann", At(5)).status().code() ==
        StatusCode::kNotFound);
  CHECK(store->Approve(*draft, "ann", At(6)).code() == StatusCode::kPermissionDenied);
  CHECK(store->MarkPublished(*draft, "9", "u", "ann", At(6)).code() ==
        StatusCode::kInvalidArgument);
  REQUIRE(store->Approve(*draft, "carol", At(7)).ok());
  REQUIRE(store->MarkPublishing(*draft, "rr8-account", "ann", At(8)).ok());
  REQUIRE(store->MarkFailed(*draft, "The access token is invalid", "ann", At(9)).ok());
  auto reply = store->GetReply(*draft);
  REQUIRE(reply.ok());
  CHECK(reply->state == ReplyState::kFailed);
  CHECK(reply->platform_error == "The access token is invalid");
  CHECK(reply->approver == "carol");
  CHECK(reply->idempotency_key == "k1");
  REQUIRE(store->MarkPublishing(*draft, "rr8-account", "ann", At(10)).ok());
  REQUIRE(store->MarkPublished(*draft, "55", "https://example.social/@rr8/55", "ann", At(11)).ok());

  auto feed_reply = store->CreateDraft(id, "RR8", 0, "Please see our reply", "k3", "ann", At(12));
  REQUIRE(feed_reply.ok());
  REQUIRE(store->MarkAnswerOnPlatform(*feed_reply, root.url, "ann", At(13)).ok());
  CHECK(store->MarkPublishing(*feed_reply, "a", "ann", At(14)).code() ==
        StatusCode::kInvalidArgument);

  auto thread = store->GetThread(id);
  REQUIRE(thread.ok());
  REQUIRE(thread->summary.orgs.size() == 2);
  CHECK(thread->summary.orgs[0].org == "RHQ");
  CHECK(thread->summary.orgs[0].state == OrgState::kDismissed);
  CHECK(thread->summary.orgs[0].dismiss_reason == "not about us");
  CHECK(thread->summary.orgs[1].state == OrgState::kResponded);
  CHECK(thread->summary.orgs[1].assignee == "ann");
  REQUIRE(thread->notes.size() == 1);
  CHECK(thread->notes[0].body == "called the ward");
  REQUIRE(thread->replies.size() == 2);
  CHECK(thread->replies[0].state == ReplyState::kPublished);
  CHECK(thread->replies[0].url == "https://example.social/@rr8/55");
  CHECK(thread->replies[1].state == ReplyState::kAnswerOnPlatform);
  std::vector<std::string> actions;
  for (const AuditEntry& entry : thread->audit) {
    actions.push_back(entry.actor + " " + entry.action + " " + entry.org);
  }
  CHECK(actions == std::vector<std::string>{"admin assign RR8", "bob status RHQ", "ann note RR8",
                                            "ann draft RR8", "carol approve RR8",
                                            "ann publishing RR8", "ann failed RR8",
                                            "ann publishing RR8", "ann published RR8",
                                            "ann draft RR8", "ann answer on platform RR8"});

  auto dismissals = store->DismissalsByRule();
  REQUIRE(dismissals.ok());
  REQUIRE(dismissals->size() == 1);
  CHECK(dismissals->front().rule == "sheffield");
  CHECK(dismissals->front().reason == "not about us");
  CHECK(dismissals->front().count == 1);

  ThreadFilter filter;
  filter.org = "RR8";
  filter.state = OrgState::kResponded;
  CHECK(store->ListThreads(filter).value().size() == 1);
  filter.state = OrgState::kNew;
  CHECK(store->ListThreads(filter).value().empty());
  filter.org = "";
  filter.state = OrgState::kDismissed;
  CHECK(store->ListThreads(filter).value().size() == 1);
}

TEST_CASE("Users are stored with a token hash and can be revoked", "[threads]") {
  auto store = OpenMemory();
  User user;
  user.name = "ann";
  user.role = Role::kResponder;
  user.orgs = {"RR8", "RHQ"};
  auto token = NewBearerToken();
  REQUIRE(token.ok());
  CHECK(token->size() == 43);
  CHECK(token->find_first_not_of(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
        std::string::npos);
  CHECK(*token != NewBearerToken().value());
  REQUIRE(store->AddUser(user, TokenHash(*token), "cli", At(0)).ok());
  CHECK(store->AddUser(user, TokenHash("other"), "cli", At(0)).status().code() ==
        StatusCode::kAlreadyExists);
  auto found = store->UserByTokenHash(TokenHash(*token));
  REQUIRE(found.ok());
  REQUIRE(found->has_value());
  CHECK((*found)->name == "ann");
  CHECK((*found)->orgs == std::vector<std::string>{"RHQ", "RR8"});
  REQUIRE(store->RevokeUser("ann", "cli", At(1)).ok());
  CHECK_FALSE(store->UserByTokenHash(TokenHash(*token)).value().has_value());
  CHECK(store->RevokeUser("nobody", "cli", At(1)).code() == StatusCode::kNotFound);
  auto users = store->ListUsers();
  REQUIRE(users->size() == 1);
  CHECK(users->front().revoked_at == At(1));
  auto log = store->AuditLog(10);
  REQUIRE(log->size() == 2);
  CHECK(log->at(0).action == "user add");
  CHECK(log->at(1).action == "user revoke");
}

TEST_CASE("The relevance stage keeps replies that answer a thread we hold", "[threads]") {
  auto loaded = Classifier::Load(DefaultClassifierPaths());
  INFO(loaded.status().ToString());
  REQUIRE(loaded.ok());
  ClassifierHolder holder(std::move(loaded).value());
  std::vector<std::string> asked;
  ClassifyStage stage(holder, [&](const Post& post) {
    asked.push_back(post.id);
    return post.reply_to == "held-1";
  });

  Post root = MakePost("a", "Six hours in A&E at the Northern General");
  Post reply = MakePost("b", "so sorry to hear that", kMinute);
  reply.reply_to = "a";
  Post reply_to_reply = MakePost("c", "me too", 2 * kMinute);
  reply_to_reply.reply_to = reply.uid;
  Post held = MakePost("d", "thanks for sharing", 3 * kMinute);
  held.reply_to = "held-1";
  Post stranger = MakePost("e", "what a lovely day", 4 * kMinute);
  stranger.reply_to = "nobody";
  Post no_parent = MakePost("f", "a cat picture", 5 * kMinute);
  SourceWrite write = Page({root, reply, reply_to_reply, held, stranger, no_parent});
  for (Post& post : write.posts) NormalisePost(post);
  REQUIRE(stage.Process(write).ok());
  std::vector<std::string> kept;
  for (const Post& post : write.posts) kept.push_back(post.id);
  CHECK(kept == std::vector<std::string>{"a", "b", "c", "d"});
  // The store is asked only about replies not answered within the write.
  CHECK(asked == std::vector<std::string>{"d", "e"});

  auto store = OpenMemory();
  ApplyOrDie(*store, {write});
  auto thread = store->GetThread(*ThreadOf(*store, root));
  REQUIRE(thread.ok());
  CHECK(HowJoined(*thread) == std::vector<std::string>{"a:opened", "b:reply", "c:reply"});
  CHECK(AnswersHeldThread(*store)(reply));
  CHECK_FALSE(AnswersHeldThread(*store)(stranger));
}

TEST_CASE("The relevance stage keeps a reply whose parent came in an earlier, unflushed write",
          "[threads]") {
  auto loaded = Classifier::Load(DefaultClassifierPaths());
  REQUIRE(loaded.ok());
  ClassifierHolder holder(std::move(loaded).value());
  // The store has not seen the first write yet: it answers no to everything.
  ClassifyStage stage(holder, [](const Post&) { return false; });

  SourceWrite first = Page({MakePost("a", "Six hours in A&E at the Northern General")});
  for (Post& post : first.posts) NormalisePost(post);
  REQUIRE(stage.Process(first).ok());
  REQUIRE(first.posts.size() == 1);

  Post reply = MakePost("b", "so sorry to hear that", kMinute);
  reply.reply_to = "a";
  Post by_uid = MakePost("c", "me too", 2 * kMinute);
  by_uid.conversation = first.posts[0].uid;
  Post other_platform = MakePost("d", "what a lovely day", 3 * kMinute);
  other_platform.platform = "bluesky";
  other_platform.reply_to = "a";
  SourceWrite second = Page({reply, by_uid, other_platform});
  for (Post& post : second.posts) NormalisePost(post);
  REQUIRE(stage.Process(second).ok());
  std::vector<std::string> kept;
  for (const Post& post : second.posts) kept.push_back(post.id);
  CHECK(kept == std::vector<std::string>{"b", "c"});

  // Both writes, flushed together, thread as one conversation.
  auto store = OpenMemory();
  ApplyOrDie(*store, {first, second});
  auto thread = store->GetThread(*ThreadOf(*store, first.posts[0]));
  REQUIRE(thread.ok());
  CHECK(HowJoined(*thread) == std::vector<std::string>{"a:opened", "b:reply", "c:conversation"});
}

Result<Config> ParseOrgs(const std::string& text) {
  return ParseConfig(text, "earshot.toml", FindConnector,
                     [](std::string_view) { return std::optional<std::string>(); });
}

TEST_CASE("config: [[org]] settings load and bad ones name the place", "[threads][config]") {
  auto c = ParseOrgs("[[org]]\ncode = \"rhq\"\nrequire_approval = true\n[[org]]\ncode = \"RR8\"\n");
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  REQUIRE(c->orgs.size() == 2);
  CHECK(c->orgs[0].code == "RHQ");
  CHECK(c->orgs[0].require_approval);
  CHECK_FALSE(c->orgs[1].require_approval);
  REQUIRE(FindOrg(*c, "RHQ") != nullptr);
  CHECK(FindOrg(*c, "XYZ") == nullptr);

  struct Case {
    std::string text;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"[[org]]\ncode = \"RHQ\"\napproval = true\n",
       "earshot.toml:3:1: unknown key \"approval\" in [[org]] #1 (known keys: code, "
       "require_approval)"},
      {"[[org]]\ncode = \"RHQ\"\nrequire_approval = \"yes\"\n",
       "earshot.toml:3:20: [[org]] #1.require_approval must be true or false"},
      {"[[org]]\nrequire_approval = true\n", "earshot.toml:1:1: [[org]] #1 needs code"},
      {"[[org]]\ncode = \"R!\"\n", "earshot.toml:2:8: [[org]] #1.code \"R!\" is not an ODS code"},
      {"[[org]]\ncode = \"RHQ\"\n[[org]]\ncode = \"rhq\"\n",
       "earshot.toml:3:1: [[org]] code \"RHQ\" is used twice"},
      {"org = \"RHQ\"\n", "earshot.toml:1:7: org must be written as [[org]] tables"},
  };
  for (const Case& test : cases) {
    INFO(test.text);
    auto bad = ParseOrgs(test.text);
    REQUIRE_FALSE(bad.ok());
    INFO(bad.status().message());
    CHECK(bad.status().message().rfind(test.error, 0) == 0);
  }
}

TEST_CASE("Workflow: an organisation requiring approval publishes only approved replies",
          "[threads]") {
  auto store = OpenMemory();
  Post root = Routed(Routed(MakePost("1", "root"), "RR8", "leeds"), "RHQ", "sheffield");
  ApplyOrDie(*store, {Page({root})});
  const int64_t id = *ThreadOf(*store, root);
  FakeClock clock(At(0));
  const OrgPlaces places;
  Workflow workflow(*store, clock, places);
  workflow.RequireApproval({"RHQ"});
  User ann;
  ann.name = "ann";
  ann.role = Role::kResponder;
  ann.orgs = {"RHQ", "RR8"};
  User bob = ann;
  bob.name = "bob";

  auto rhq = workflow.CreateDraft(ann, id, "RHQ", 0, "We are sorry");
  auto rr8 = workflow.CreateDraft(ann, id, "RR8", 0, "We are sorry too");
  REQUIRE(rhq.ok());
  REQUIRE(rr8.ok());
  Status early = workflow.MarkPublishing(ann, *rhq, "rhq-mastodon");
  CHECK(early.code() == StatusCode::kInvalidArgument);
  CHECK(early.message().find("needs approval by a second person") != std::string::npos);
  CHECK(workflow.MarkAnswerOnPlatform(ann, *rhq, "https://x").code() ==
        StatusCode::kInvalidArgument);
  CHECK(workflow.Approve(ann, *rhq).code() == StatusCode::kPermissionDenied);  // its author
  REQUIRE(workflow.Approve(bob, *rhq).ok());
  CHECK(workflow.MarkPublishing(ann, *rhq, "rhq-mastodon").ok());
  // RR8 does not require approval.
  CHECK(workflow.MarkPublishing(ann, *rr8, "rr8-mastodon").ok());
  auto reply = workflow.GetReply(ann, *rhq);
  REQUIRE(reply.ok());
  CHECK(reply->state == ReplyState::kPublishing);
  CHECK(reply->approver == "bob");
}

}  // namespace
}  // namespace earshot

namespace earshot {
namespace {

User Person(int64_t id, const std::string& name, Role role, std::vector<std::string> orgs,
            std::vector<std::string> regions = {}) {
  User user;
  user.id = id;
  user.name = name;
  user.role = role;
  user.orgs = std::move(orgs);
  user.regions = std::move(regions);
  return user;
}

TEST_CASE("Listening: alerted_at is when an organisation was put on the thread", "[threads]") {
  auto store = OpenMemory();
  Post root = Routed(MakePost("1", "root"), "RHQ");
  ApplyOrDie(*store, {Page({root})});
  Post reply = Routed(MakePost("2", "and Leeds too", 30 * kMinute), "RR8");
  reply.reply_to = "1";
  ApplyOrDie(*store, {Page({reply})});
  auto thread = store->GetThread(*ThreadOf(*store, root));
  REQUIRE(thread.ok());
  REQUIRE(thread->summary.orgs.size() == 2);
  CHECK(thread->summary.orgs[0].org == "RHQ");
  CHECK(thread->summary.orgs[0].alerted_at == root.fetched_at);
  CHECK(thread->summary.orgs[1].org == "RR8");
  CHECK(thread->summary.orgs[1].alerted_at == reply.fetched_at);
  REQUIRE(thread->listening.size() == 2);
  CHECK(thread->listening[1].org == "RR8");
  CHECK(thread->listening[1].alerted_at == reply.fetched_at);
  CHECK(thread->listening[1].opened.empty());
}

TEST_CASE("Listening: Workflow records each user's first open of what it may read", "[threads]") {
  auto store = OpenMemory();
  Post root = Routed(Routed(MakePost("1", "root"), "RHQ"), "RR8");
  ApplyOrDie(*store, {Page({root})});
  const int64_t id = *ThreadOf(*store, root);
  FakeClock clock(At(kDay));
  OrgPlaces places;
  Workflow workflow(*store, clock, places);
  const User rita = Person(1, "rita", Role::kResponder, {"RHQ"});
  const User cli = Person(0, "cli", Role::kAdmin, {});  // not a stored user

  auto first = workflow.GetThread(rita, id);
  REQUIRE(first.ok());
  REQUIRE(first->listening.size() == 1);  // RR8's ledger is not rita's to see
  CHECK(first->listening[0].org == "RHQ");
  REQUIRE(first->listening[0].opened.size() == 1);
  CHECK(first->listening[0].opened[0].user == "rita");
  CHECK(first->listening[0].opened[0].at == At(kDay));
  clock.Advance(std::chrono::hours(2));
  REQUIRE(workflow.GetThread(rita, id).ok());
  REQUIRE(workflow.GetThread(cli, id).ok());

  auto raw = store->GetThread(id);
  REQUIRE(raw.ok());
  REQUIRE(raw->listening.size() == 2);
  CHECK(raw->listening[0].org == "RHQ");
  REQUIRE(raw->listening[0].opened.size() == 1);  // the first open only
  CHECK(raw->listening[0].opened[0].at == At(kDay));
  CHECK(raw->listening[1].org == "RR8");
  CHECK(raw->listening[1].opened.empty());  // the CLI's implicit admin leaves no trace
  CHECK(raw->audit.empty());                // reading is not an audited action

  // A viewer reads, but is not listening on the trust's behalf.
  const User mp = Person(3, "mp-office", Role::kViewer, {"RHQ", "RR8"});
  auto viewed = workflow.GetThread(mp, id);
  REQUIRE(viewed.ok());
  CHECK(viewed->listening.size() == 2);
  auto after_viewer = store->GetThread(id);
  REQUIRE(after_viewer.ok());
  CHECK(after_viewer->listening[0].opened.size() == 1);
  CHECK(after_viewer->listening[1].opened.empty());

  // Drafts and published replies, per organisation.
  auto draft = workflow.CreateDraft(rita, id, "RHQ", 0, "Sorry to hear this");
  REQUIRE(draft.ok());
  REQUIRE(workflow.MarkPublishing(rita, *draft, "acct").ok());
  clock.Advance(std::chrono::minutes(30));
  REQUIRE(workflow.MarkPublished(rita, *draft, "p1", "https://example.social/@rhq/p1").ok());
  auto after = store->GetThread(id);
  REQUIRE(after.ok());
  const Listening& rhq = after->listening[0];
  REQUIRE(rhq.drafted.size() == 1);
  CHECK(rhq.drafted[0].user == "rita");
  CHECK(rhq.drafted[0].at == At(kDay) + std::chrono::hours(2));
  REQUIRE(rhq.replied.size() == 1);
  CHECK(rhq.replied[0].user == "rita");
  CHECK(rhq.replied[0].url == "https://example.social/@rhq/p1");
  CHECK(rhq.first_response_at == At(kDay) + std::chrono::minutes(150));
  CHECK(after->replies[0].published_by == "rita");
  CHECK(after->replies[0].published_at == At(kDay) + std::chrono::minutes(150));
  CHECK(after->listening[1].replied.empty());
}

TEST_CASE("In one page, posts join threads opened earlier in the same page", "[threads]") {
  auto store = OpenMemory();
  Post a = Routed(MakePost("a", "first story"), "RHQ");
  Post b = Routed(MakePost("b", "second story", kMinute), "RR8");
  Post c = MakePost("c", "a reply to the second", 2 * kMinute);
  c.reply_to = "b";
  Post d = MakePost("d", "a reply to the reply", 3 * kMinute);
  d.reply_to = c.uid;
  Post e = Routed(MakePost("e", "first story", 4 * kMinute), "RR8");  // a repeat of a
  Post f = MakePost("f", "in the conversation of a", 5 * kMinute);
  f.conversation = "a";
  Post g = Routed(MakePost("g", "a third story", 6 * kMinute), "RHQ");
  // Newest first, as a timeline page comes.
  ApplyOrDie(*store, {Page({g, f, e, d, c, b, a})});
  const int64_t ta = *ThreadOf(*store, a), tb = *ThreadOf(*store, b), tg = *ThreadOf(*store, g);
  CHECK(ta != tb);
  CHECK(tg != ta);
  CHECK(tg != tb);
  CHECK(HowJoined(store->GetThread(ta).value()) ==
        std::vector<std::string>{"a:opened", "e:repeat", "f:conversation"});
  CHECK(HowJoined(store->GetThread(tb).value()) ==
        std::vector<std::string>{"b:opened", "c:reply", "d:reply"});
  CHECK(store->GetThread(ta)->summary.orgs.size() == 2);  // the repeat added RR8
}

TEST_CASE("Drafting compares with the organisation's recent replies without opening threads",
          "[threads]") {
  auto store = OpenMemory();
  std::vector<int64_t> ids;
  for (int i = 0; i < 3; ++i) {
    Post post = Routed(
        Routed(MakePost("d" + std::to_string(i), "story " + std::to_string(i), i * kMinute), "RHQ"),
        "RR8");
    ApplyOrDie(*store, {Page({post})});
    ids.push_back(*ThreadOf(*store, post));
  }
  FakeClock clock(At(kDay));
  OrgPlaces places;
  Workflow workflow(*store, clock, places);
  const User rita = Person(1, "rita", Role::kResponder, {"RHQ"});
  const User leo = Person(2, "leo", Role::kResponder, {"RR8"});
  const std::string words = "We are so sorry to hear about your experience with us";
  REQUIRE(workflow.CreateDraft(rita, ids[0], "RHQ", 0, words).ok());
  REQUIRE(workflow.CreateDraft(leo, ids[1], "RR8", 0, "Leeds says sorry").ok());
  const ToneRules none;
  auto drafted = CreateDraftWithHints(workflow, none, rita, ids[2], "RHQ", 0, words);
  REQUIRE(drafted.ok());
  REQUIRE(drafted->hints.size() == 1);
  CHECK(drafted->hints[0].kind == "repeat");
  auto recent = workflow.RecentReplies(rita, "RHQ", 200);
  REQUIRE(recent.ok());
  CHECK(recent->size() == 2);  // RHQ's only, newest first
  CHECK(recent->front().id == drafted->reply_id);
  CHECK(workflow.RecentReplies(rita, "RR8", 200).status().code() == StatusCode::kNotFound);
  CHECK(store->RecentReplies("RHQ", 1).value().size() == 1);  // its most recent thread only
  for (int64_t id : ids) {
    auto thread = store->GetThread(id);
    REQUIRE(thread.ok());
    for (const Listening& l : thread->listening) CHECK(l.opened.empty());
  }
}

TEST_CASE("Listening: the summary counts answered threads and the median first response",
          "[threads]") {
  auto store = OpenMemory();
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i) {
    Post post = Routed(
        MakePost("p" + std::to_string(i), "story " + std::to_string(i), i * 60 * kMinute), "RHQ");
    ApplyOrDie(*store, {Page({post})});
    ids.push_back(*ThreadOf(*store, post));
  }
  // Alerted at i hours + 1 minute. Published after 1h, then after 3h: median 2h.
  auto publish = [&](int64_t thread, int64_t at_ms, const std::string& key) {
    auto draft = store->CreateDraft(thread, "RHQ", 0, "reply", key, "rita", At(at_ms));
    REQUIRE(draft.ok());
    REQUIRE(store->MarkPublishing(*draft, "acct", "rita", At(at_ms)).ok());
    REQUIRE(store->MarkPublished(*draft, key, "u", "rita", At(at_ms)).ok());
  };
  publish(ids[0], kMinute + 60 * kMinute, "k0");
  publish(ids[0], kMinute + 600 * kMinute, "k0b");  // a later reply: not the first
  publish(ids[1], 60 * kMinute + kMinute + 180 * kMinute, "k1");
  // Marked responded by hand: answered, no time to count.
  REQUIRE(store->SetState(ids[2], "RHQ", OrgState::kResponded, "", "rita", At(0)).ok());
  REQUIRE(store->SetState(ids[3], "RHQ", OrgState::kDismissed, "spam", "rita", At(0)).ok());

  auto summary = store->ListeningSummary(std::nullopt, std::nullopt);
  REQUIRE(summary.ok());
  REQUIRE(summary->size() == 1);
  const OrgListening& rhq = summary->front();
  CHECK(rhq.org == "RHQ");
  CHECK(rhq.threads == 4);
  CHECK(rhq.dismissed == 1);
  CHECK(rhq.answered == 3);
  CHECK(rhq.open == 1);
  REQUIRE(rhq.median_first_response_seconds.has_value());
  CHECK(*rhq.median_first_response_seconds == 2 * 3600);

  // A window over alerted_at: only the second thread.
  auto window = store->ListeningSummary(At(60 * kMinute), At(120 * kMinute));
  REQUIRE(window.ok());
  REQUIRE(window->size() == 1);
  CHECK(window->front().threads == 1);
  CHECK(window->front().median_first_response_seconds == 3 * 3600);

  // Workflow keeps to what the user may read, with a zero row for its scope.
  FakeClock clock(At(kDay));
  OrgPlaces places;
  Workflow workflow(*store, clock, places);
  auto theirs = workflow.ListeningSummary(Person(2, "bob", Role::kResponder, {"RXX"}), std::nullopt,
                                          std::nullopt);
  REQUIRE(theirs.ok());
  REQUIRE(theirs->size() == 1);
  CHECK(theirs->front().org == "RXX");
  CHECK(theirs->front().threads == 0);
  CHECK_FALSE(theirs->front().median_first_response_seconds.has_value());
}

TEST_CASE("ListThreads filters in the query: a page is full past many unreadable threads",
          "[threads]") {
  auto store = OpenMemory();
  std::vector<Post> rhq;
  for (int i = 0; i < 3; ++i) {
    rhq.push_back(
        Routed(MakePost("r" + std::to_string(i), "Riverside " + std::to_string(i), i), "RHQ"));
  }
  ApplyOrDie(*store, {Page(rhq)});
  // 6,000 newer threads of another organisation, none of them the
  // responder's: more than the 5,000 the API once read before it gave up.
  // In pages of 1,000: after a thread opens, only posts that name or repeat
  // a post just placed are asked again (not every pair of the page).
  for (int i = 0; i < 6000; i += 1000) {
    std::vector<Post> others;
    for (int j = i; j < i + 1000; ++j) {
      others.push_back(Routed(
          MakePost("o" + std::to_string(j), "Northgate " + std::to_string(j), kMinute + j), "RXX"));
    }
    ApplyOrDie(*store, {Page(others)});
  }
  FakeClock clock(At(kDay));
  OrgPlaces places;
  places["RHQ"] = OrgPlace{"Y63", "QHM", "Riverside"};
  places["RXX"] = OrgPlace{"Y61", "QXX", "Northgate"};
  Workflow workflow(*store, clock, places);
  ThreadFilter filter;
  filter.limit = 2;
  auto page = workflow.ListThreads(Person(1, "rita", Role::kResponder, {"RHQ"}), filter);
  REQUIRE(page.ok());
  REQUIRE(page->size() == 2);
  CHECK(page->at(0).orgs.at(0).org == "RHQ");
  filter.before_id = page->back().id;
  page = workflow.ListThreads(Person(1, "rita", Role::kResponder, {"RHQ"}), filter);
  REQUIRE(page.ok());
  CHECK(page->size() == 1);

  // A viewer by region reads the organisations there.
  const User viewer = Person(2, "rhoda", Role::kViewer, {}, {"Y63"});
  CHECK(workflow.VisibleOrgs(viewer) == std::vector<std::string>{"RHQ"});
  CHECK_FALSE(workflow.VisibleOrgs(Person(3, "ann", Role::kAdmin, {})).has_value());
  filter = ThreadFilter{};
  filter.limit = 10;
  page = workflow.ListThreads(viewer, filter);
  REQUIRE(page.ok());
  CHECK(page->size() == 3);
  // Search, platform and dates are in the query too.
  filter.text_query = "Riverside";
  filter.platform = "mastodon";
  filter.opened_from = rhq[0].fetched_at;
  filter.opened_to = rhq[2].fetched_at;
  page = workflow.ListThreads(Person(3, "ann", Role::kAdmin, {}), filter);
  REQUIRE(page.ok());
  CHECK(page->size() == 2);
  filter.text_query = "\"unbalanced";
  CHECK(workflow.ListThreads(Person(3, "ann", Role::kAdmin, {}), filter).status().code() ==
        StatusCode::kInvalidArgument);
  // An empty scope reads nothing.
  ThreadFilter none;
  none.visible_orgs = std::vector<std::string>{};
  CHECK(store->ListThreads(none).value().empty());

  auto counts = store->CountThreadsByOrgState();
  REQUIRE(counts.ok());
  REQUIRE(counts->size() == 2);
  CHECK(counts->at(0).org == "RHQ");
  CHECK(counts->at(0).threads == 3);
  CHECK(counts->at(1).org == "RXX");
  CHECK(counts->at(1).threads == 6000);
}

}  // namespace
}  // namespace earshot
