// Threading inside Apply(), and SqliteStore's ThreadStore operations.
#include "crawler/store/sqlite/thread_sqlite.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "crawler/core/decision.h"
#include "crawler/store/sqlite/sqlite_store.h"

namespace earshot {

using sqlite_internal::Database;
using sqlite_internal::Statement;
using sqlite_internal::Transaction;

namespace sqlite_internal {

namespace {

// The same story posted again counts as a repeat within this window.
constexpr auto kRepeatWindow = std::chrono::hours(24 * 7);

TimePoint ActivityAt(const Post& post) { return post.created_at.value_or(post.fetched_at); }

std::string_view UidOfPost(const Post& post) { return post.uid.empty() ? post.id : post.uid; }

// The thread of the post stored as (platform, id or uid == key), other than
// `self`.
Result<std::optional<int64_t>> ThreadOfPostNamed(Database& db, const Post& post,
                                                 const std::string& key, int64_t self) {
  Result<Statement> find = db.Prepare(
      "SELECT tp.thread_id FROM posts p JOIN thread_posts tp ON tp.post_id = p.id"
      " WHERE p.platform = ?1 AND (p.external_id = ?2 OR p.uid = ?2) AND p.id != ?3"
      " ORDER BY p.id LIMIT 1",
      "apply: find parent's thread");
  if (!find.ok()) return find.status();
  find->BindText(1, post.platform);
  find->BindText(2, key);
  find->BindInt(3, self);
  Result<bool> row = find->Next();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<int64_t>();
  return std::optional<int64_t>(find->Int(0));
}

Result<std::optional<int64_t>> ThreadOfOurReply(Database& db, const Post& post) {
  Result<Statement> find = db.Prepare(
      "SELECT r.thread_id FROM replies r JOIN threads t ON t.id = r.thread_id"
      " WHERE t.platform = ?1 AND r.published_id != '' AND r.published_id IN (?2, ?3)"
      " ORDER BY r.id LIMIT 1",
      "apply: find our reply");
  if (!find.ok()) return find.status();
  find->BindText(1, post.platform);
  find->BindText(2, post.id);
  find->BindText(3, UidOfPost(post));
  Result<bool> row = find->Next();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<int64_t>();
  return std::optional<int64_t>(find->Int(0));
}

Result<std::optional<int64_t>> ThreadOfRepeat(Database& db, const Post& post, int64_t self) {
  if (post.author_handle.empty() || post.content_hash.empty()) return std::optional<int64_t>();
  Result<Statement> find = db.Prepare(
      "SELECT tp.thread_id FROM posts p JOIN thread_posts tp ON tp.post_id = p.id"
      " WHERE p.platform = ?1 AND p.author_handle = ?2 AND p.content_hash = ?3"
      // Repeated as a literal so the planner may use the partial index
      // posts_by_author_hash (it cannot see that ?3 is never '').
      " AND p.content_hash != ''"
      " AND p.id != ?4 AND COALESCE(p.created_at, p.fetched_at) BETWEEN ?5 AND ?6"
      " ORDER BY p.id LIMIT 1",
      "apply: find repeated story");
  if (!find.ok()) return find.status();
  const TimePoint at = ActivityAt(post);
  find->BindText(1, post.platform);
  find->BindText(2, post.author_handle);
  find->BindText(3, post.content_hash);
  find->BindInt(4, self);
  find->BindTime(5, at - kRepeatWindow);
  find->BindTime(6, at + kRepeatWindow);
  Result<bool> row = find->Next();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<int64_t>();
  return std::optional<int64_t>(find->Int(0));
}

// Each organisation the post is routed to, with the first rule routing it.
std::vector<std::pair<std::string, std::string>> OrgsOf(const Post& post) {
  std::vector<std::pair<std::string, std::string>> orgs;
  std::set<std::string> seen;
  for (const Decision& decision : post.decisions) {
    if (decision.kind != Decision::Kind::kOrg || decision.value.empty()) continue;
    if (seen.insert(decision.value).second) orgs.emplace_back(decision.value, decision.rule);
  }
  return orgs;
}

Status AddOrgs(Database& db, int64_t thread_id, const Post& post) {
  for (const auto& [org, rule] : OrgsOf(post)) {
    Result<Statement> add = db.Prepare(
        "INSERT INTO thread_orgs (thread_id, org, rule, alerted_at, created_at, updated_at)"
        " VALUES (?1, ?2, ?3, ?4, ?4, ?4) ON CONFLICT (thread_id, org) DO NOTHING",
        "apply: put organisation on thread");
    if (!add.ok()) return add.status();
    add->BindInt(1, thread_id);
    add->BindText(2, org);
    add->BindText(3, rule);
    add->BindTime(4, post.fetched_at);
    EARSHOT_RETURN_IF_ERROR(add->Run());
  }
  return Status::Ok();
}

Status Join(Database& db, int64_t thread_id, const InsertedPost& inserted, JoinReason how) {
  const Post& post = *inserted.post;
  Result<Statement> join = db.Prepare(
      "INSERT INTO thread_posts (post_id, thread_id, joined_at, how) VALUES (?1, ?2, ?3, ?4)",
      "apply: join thread");
  if (!join.ok()) return join.status();
  join->BindInt(1, inserted.row_id);
  join->BindInt(2, thread_id);
  join->BindTime(3, post.fetched_at);
  join->BindText(4, JoinReasonName(how));
  EARSHOT_RETURN_IF_ERROR(join->Run());
  Result<Statement> touch =
      db.Prepare("UPDATE threads SET last_activity_at = MAX(last_activity_at, ?2) WHERE id = ?1",
                 "apply: touch thread");
  if (!touch.ok()) return touch.status();
  touch->BindInt(1, thread_id);
  touch->BindTime(2, ActivityAt(post));
  EARSHOT_RETURN_IF_ERROR(touch->Run());
  // Our own reply routes nowhere new; anyone else's may name another trust.
  if (how == JoinReason::kOurs) return Status::Ok();
  return AddOrgs(db, thread_id, post);
}

Status Open(Database& db, const InsertedPost& inserted) {
  const Post& post = *inserted.post;
  Result<Statement> open = db.Prepare(
      "INSERT INTO threads (platform, root_post_id, opened_at, last_activity_at)"
      " VALUES (?1, ?2, ?3, ?4)",
      "apply: open thread");
  if (!open.ok()) return open.status();
  open->BindText(1, post.platform);
  open->BindInt(2, inserted.row_id);
  open->BindTime(3, post.fetched_at);
  open->BindTime(4, ActivityAt(post));
  EARSHOT_RETURN_IF_ERROR(open->Run());
  const int64_t thread_id = sqlite3_last_insert_rowid(db.handle());
  return Join(db, thread_id, inserted, JoinReason::kOpened);
}

// Joins `inserted` to an existing thread if a rule says so.
Result<bool> TryJoin(Database& db, const InsertedPost& inserted) {
  const Post& post = *inserted.post;
  auto join = [&](Result<std::optional<int64_t>> found, JoinReason how) -> Result<bool> {
    if (!found.ok()) return found.status();
    if (!*found) return false;
    EARSHOT_RETURN_IF_ERROR(Join(db, **found, inserted, how));
    return true;
  };
  Result<bool> joined = join(ThreadOfOurReply(db, post), JoinReason::kOurs);
  if (!joined.ok() || *joined) return joined;
  if (!post.reply_to.empty()) {
    joined = join(ThreadOfPostNamed(db, post, post.reply_to, inserted.row_id), JoinReason::kReply);
    if (!joined.ok() || *joined) return joined;
  }
  if (!post.conversation.empty()) {
    joined = join(ThreadOfPostNamed(db, post, post.conversation, inserted.row_id),
                  JoinReason::kConversation);
    if (!joined.ok() || *joined) return joined;
  }
  return join(ThreadOfRepeat(db, post, inserted.row_id), JoinReason::kRepeat);
}

// Whether `post` could join the thread of one of `placed` (a necessary
// condition of TryJoin's reply, conversation and repeat rules; TryJoin
// decides). Our own replies are matched against stored replies, which an
// Apply never changes.
bool MayJoinOneOf(const Post& post, const std::vector<const Post*>& placed) {
  for (const Post* other : placed) {
    if (other->platform != post.platform) continue;
    auto names = [&](const std::string& key) {
      return !key.empty() && (key == other->id || key == UidOfPost(*other));
    };
    if (names(post.reply_to) || names(post.conversation)) return true;
    if (!post.author_handle.empty() && !post.content_hash.empty() &&
        post.author_handle == other->author_handle && post.content_hash == other->content_hash) {
      return true;
    }
  }
  return false;
}

}  // namespace

Status ThreadInsertedPosts(Database& db, std::vector<InsertedPost> posts) {
  // Oldest first, so a parent in the same page is threaded before its replies.
  std::stable_sort(posts.begin(), posts.end(), [](const InsertedPost& a, const InsertedPost& b) {
    return ActivityAt(*a.post) < ActivityAt(*b.post);
  });
  // After the first pass, the store changes only by the posts this call
  // places, so a post that did not join can join later only by naming one
  // of them (reply, conversation) or repeating one: the others are not asked
  // again, which keeps a page of many new threads from costing a query per
  // pair of posts.
  bool first_pass = true;
  std::vector<const Post*> placed;  // since the last pass
  while (!posts.empty()) {
    // Joins first, until none is possible: a reply may name a reply.
    bool progress = true;
    while (progress && !posts.empty()) {
      progress = false;
      std::vector<const Post*> newly_placed;
      for (auto it = posts.begin(); it != posts.end();) {
        if (!first_pass && !MayJoinOneOf(*it->post, placed)) {
          ++it;
          continue;
        }
        Result<bool> joined = TryJoin(db, *it);
        if (!joined.ok()) return joined.status();
        if (*joined) {
          newly_placed.push_back(it->post);
          it = posts.erase(it);
          progress = true;
        } else {
          ++it;
        }
      }
      first_pass = false;
      placed = std::move(newly_placed);
    }
    // Then the oldest routed post left opens a thread, which later posts of
    // the page may join.
    auto routed = std::find_if(posts.begin(), posts.end(),
                               [](const InsertedPost& p) { return !OrgsOf(*p.post).empty(); });
    if (routed == posts.end()) break;
    EARSHOT_RETURN_IF_ERROR(Open(db, *routed));
    placed = {routed->post};
    posts.erase(routed);
  }
  return Status::Ok();
}

Status MarkDeletedOnThread(Database& db, int64_t post_id) {
  Result<Statement> mark = db.Prepare(
      "UPDATE threads SET deleted_posts = deleted_posts + 1"
      " WHERE id = (SELECT thread_id FROM thread_posts WHERE post_id = ?1)",
      "apply: mark deleted post on thread");
  if (!mark.ok()) return mark.status();
  mark->BindInt(1, post_id);
  return mark->Run();
}

}  // namespace sqlite_internal

namespace {

Status Audit(Database& db, TimePoint at, std::string_view actor, std::string_view action,
             std::string_view org, std::optional<int64_t> thread_id, std::string_view detail) {
  Result<Statement> add = db.Prepare(
      "INSERT INTO audit (at, actor, action, org, thread_id, detail)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
      "audit");
  if (!add.ok()) return add.status();
  add->BindTime(1, at);
  add->BindText(2, actor);
  add->BindText(3, action);
  add->BindText(4, org);
  if (thread_id) {
    add->BindInt(5, *thread_id);
  } else {
    add->BindNull(5);
  }
  add->BindText(6, detail);
  return add->Run();
}

Status NotOnThread(int64_t thread_id, std::string_view org) {
  return Status::NotFound("organisation '" + std::string(org) + "' is not on thread " +
                          std::to_string(thread_id));
}

#define EARSHOT_REPLY_COLUMNS                                                     \
  "id, thread_id, org, in_reply_to, body, state, idempotency_key, account, url, " \
  "published_id, platform_error, author, approver, created_at, updated_at, "      \
  "published_by, published_at"

Reply ReadReply(const Statement& s) {
  Reply r;
  r.id = s.Int(0);
  r.thread_id = s.Int(1);
  r.org = s.Text(2);
  r.in_reply_to = s.Int(3);
  r.body = s.Text(4);
  r.state = ReplyStateFromName(s.Text(5)).value_or(ReplyState::kFailed);
  r.idempotency_key = s.Text(6);
  r.account = s.Text(7);
  r.url = s.Text(8);
  r.published_id = s.Text(9);
  r.platform_error = s.Text(10);
  r.author = s.Text(11);
  r.approver = s.Text(12);
  r.created_at = s.Time(13).value_or(TimePoint{});
  r.updated_at = s.Time(14).value_or(TimePoint{});
  r.published_by = s.Text(15);
  r.published_at = s.Time(16);
  return r;
}

ThreadOrg ReadOrg(const Statement& s, int first) {
  ThreadOrg o;
  o.org = s.Text(first);
  o.state = OrgStateFromName(s.Text(first + 1)).value_or(OrgState::kNew);
  o.assignee = s.Text(first + 2);
  o.dismiss_reason = s.Text(first + 3);
  o.rule = s.Text(first + 4);
  o.alerted_at = s.Time(first + 5);
  o.created_at = s.Time(first + 6).value_or(TimePoint{});
  o.updated_at = s.Time(first + 7).value_or(TimePoint{});
  return o;
}

Status ReadOrgs(Database& db, ThreadSummary& thread) {
  Result<Statement> orgs = db.Prepare(
      "SELECT org, state, assignee, dismiss_reason, rule, alerted_at, created_at, updated_at"
      " FROM thread_orgs WHERE thread_id = ?1 ORDER BY org",
      "read thread organisations");
  if (!orgs.ok()) return orgs.status();
  orgs->BindInt(1, thread.id);
  while (true) {
    Result<bool> row = orgs->Next();
    if (!row.ok()) return row.status();
    if (!*row) return Status::Ok();
    thread.orgs.push_back(ReadOrg(*orgs, 0));
  }
}

ThreadSummary ReadSummary(const Statement& s) {
  ThreadSummary t;
  t.id = s.Int(0);
  t.platform = s.Text(1);
  t.root_post_id = s.Int(2);
  t.opened_at = s.Time(3).value_or(TimePoint{});
  t.last_activity_at = s.Time(4).value_or(TimePoint{});
  t.deleted_posts = s.Int(5);
  t.posts = s.Int(6);
  return t;
}

#define EARSHOT_THREAD_COLUMNS                                                           \
  "t.id, t.platform, t.root_post_id, t.opened_at, t.last_activity_at, t.deleted_posts, " \
  "(SELECT COUNT(*) FROM thread_posts tp WHERE tp.thread_id = t.id)"

Result<Reply> ReplyById(Database& db, int64_t reply_id) {
  Result<Statement> read =
      db.Prepare("SELECT " EARSHOT_REPLY_COLUMNS " FROM replies WHERE id = ?1", "read reply");
  if (!read.ok()) return read.status();
  read->BindInt(1, reply_id);
  Result<bool> row = read->Next();
  if (!row.ok()) return row.status();
  if (!*row) return Status::NotFound("reply " + std::to_string(reply_id) + " not found");
  return ReadReply(*read);
}

// One reply transition in its own transaction with its audit entry. `apply`
// checks the reply (state, actor) and writes the change.
Status ReplyTransition(Database& db, int64_t reply_id, std::string_view action,
                       std::string_view actor, TimePoint now, std::string_view detail,
                       const std::function<Status(const Reply&)>& apply) {
  Transaction txn(db, "reply " + std::string(action));
  EARSHOT_RETURN_IF_ERROR(txn.Begin());
  Result<Reply> reply = ReplyById(db, reply_id);
  if (!reply.ok()) return reply.status();
  EARSHOT_RETURN_IF_ERROR(apply(*reply));
  EARSHOT_RETURN_IF_ERROR(Audit(
      db, now, actor, action, reply->org, reply->thread_id,
      "reply " + std::to_string(reply_id) + (detail.empty() ? "" : ": " + std::string(detail))));
  return txn.Commit();
}

Status WrongState(const Reply& reply, std::string_view wanted) {
  return Status::InvalidArgument("reply " + std::to_string(reply.id) + " is " +
                                 std::string(ReplyStateName(reply.state)) + "; it must be " +
                                 std::string(wanted));
}

// Sets columns of a reply: state, plus one text column chosen by `sql`.
Status UpdateReply(Database& db, std::string_view sql, int64_t reply_id, ReplyState state,
                   std::string_view a, std::string_view b, TimePoint now) {
  Result<Statement> update = db.Prepare(sql, "update reply");
  if (!update.ok()) return update.status();
  update->BindInt(1, reply_id);
  update->BindText(2, ReplyStateName(state));
  update->BindText(3, a);
  update->BindText(4, b);
  update->BindTime(5, now);
  return update->Run();
}

}  // namespace

namespace {

// A WHERE clause built from constant fragments and numbered placeholders:
// the SQL text never holds input, every value is bound.
class Conditions {
 public:
  // A placeholder ("?N") for a value `bind` binds.
  std::string Param(std::function<void(Statement&, int)> bind) {
    binds_.push_back(std::move(bind));
    return "?" + std::to_string(binds_.size());
  }
  std::string Text(std::string value) {
    return Param([value = std::move(value)](Statement& s, int i) { s.BindText(i, value); });
  }
  std::string Int(int64_t value) {
    return Param([value](Statement& s, int i) { s.BindInt(i, value); });
  }
  std::string Time(TimePoint value) {
    return Param([value](Statement& s, int i) { s.BindTime(i, value); });
  }
  void Add(const std::string& condition) {
    sql_ += (sql_.empty() ? " WHERE " : " AND ") + condition;
  }
  const std::string& sql() const { return sql_; }
  void Bind(Statement& statement) const {
    for (size_t i = 0; i < binds_.size(); ++i) binds_[i](statement, static_cast<int>(i) + 1);
  }

 private:
  std::string sql_;
  std::vector<std::function<void(Statement&, int)>> binds_;
};

}  // namespace

// The listening ledger of each organisation on the thread, from its
// alerted_at, its opens, and the replies already read into `detail`.
static Status ReadListening(Database& db, ThreadDetail& detail) {
  std::map<std::string, Listening> by_org;
  for (const ThreadOrg& org : detail.summary.orgs) {
    Listening& l = by_org[org.org];
    l.org = org.org;
    l.alerted_at = org.alerted_at;
  }
  Result<Statement> opens = db.Prepare(
      "SELECT org, user_name, at FROM thread_opens WHERE thread_id = ?1 ORDER BY at, user_name",
      "read thread opens");
  if (!opens.ok()) return opens.status();
  opens->BindInt(1, detail.summary.id);
  while (true) {
    Result<bool> row = opens->Next();
    if (!row.ok()) return row.status();
    if (!*row) break;
    auto found = by_org.find(opens->Text(0));
    if (found == by_org.end()) continue;
    found->second.opened.push_back({opens->Text(1), opens->Time(2).value_or(TimePoint{}), ""});
  }
  for (const Reply& reply : detail.replies) {
    auto found = by_org.find(reply.org);
    if (found == by_org.end()) continue;
    Listening& l = found->second;
    l.drafted.push_back({reply.author, reply.created_at, ""});
    if (reply.state != ReplyState::kPublished) continue;
    const TimePoint at = reply.published_at.value_or(reply.updated_at);
    l.replied.push_back(
        {reply.published_by.empty() ? reply.author : reply.published_by, at, reply.url});
    if (!l.first_response_at || at < *l.first_response_at) l.first_response_at = at;
  }
  for (auto& [org, listening] : by_org) {
    std::stable_sort(listening.replied.begin(), listening.replied.end(),
                     [](const ListeningEvent& a, const ListeningEvent& b) { return a.at < b.at; });
    detail.listening.push_back(std::move(listening));
  }
  return Status::Ok();
}

Result<std::vector<ThreadSummary>> SqliteStore::ListThreads(const ThreadFilter& filter) {
  if (filter.limit <= 0) return std::vector<ThreadSummary>{};
  Conditions where;
  const std::string state = filter.state ? std::string(OrgStateName(*filter.state)) : "";
  if (filter.before_id > 0) where.Add("t.id < " + where.Int(filter.before_id));
  std::string visible;  // a condition on `o.org`, or empty
  if (filter.visible_orgs) {
    if (filter.visible_orgs->empty()) return std::vector<ThreadSummary>{};
    // One placeholder per code (SQLite allows 32,766 per statement).
    std::string codes;
    for (const std::string& org : *filter.visible_orgs) {
      codes += (codes.empty() ? "" : ", ") + where.Text(org);
    }
    visible = "o.org IN (" + codes + ")";
    where.Add("EXISTS (SELECT 1 FROM thread_orgs o WHERE o.thread_id = t.id AND " + visible + ")");
  }
  if (!filter.org.empty()) {
    std::string condition =
        "EXISTS (SELECT 1 FROM thread_orgs o WHERE o.thread_id = t.id AND o.org = " +
        where.Text(filter.org);
    if (!state.empty()) condition += " AND o.state = " + where.Text(state);
    where.Add(condition + ")");
  } else if (!state.empty()) {
    std::string condition =
        "EXISTS (SELECT 1 FROM thread_orgs o WHERE o.thread_id = t.id AND o.state = " +
        where.Text(state);
    if (!visible.empty()) condition += " AND " + visible;
    where.Add(condition + ")");
  }
  if (!filter.platform.empty()) where.Add("t.platform = " + where.Text(filter.platform));
  if (filter.opened_from) where.Add("t.opened_at >= " + where.Time(*filter.opened_from));
  if (filter.opened_to) where.Add("t.opened_at < " + where.Time(*filter.opened_to));
  auto root_decision = [&](std::string_view kind, const std::string& test) {
    where.Add(
        "EXISTS (SELECT 1 FROM post_decisions d WHERE d.post_id = t.root_post_id"
        " AND d.kind = '" +
        std::string(kind) + "' AND " + test + ")");
  };
  if (!filter.topic.empty()) {
    const std::string topic = where.Text(filter.topic);
    root_decision("topic", "(d.value = " + topic + " OR d.detail = " + topic + ")");
  }
  if (!filter.sentiment.empty()) {
    root_decision("sentiment", "d.value = " + where.Text(filter.sentiment));
  }
  if (!filter.criticality.empty()) {
    root_decision("criticality", "d.value = " + where.Text(filter.criticality));
  }
  if (!filter.text_query.empty()) {
    where.Add(
        "t.id IN (SELECT tp.thread_id FROM posts_fts JOIN thread_posts tp"
        " ON tp.post_id = posts_fts.rowid WHERE posts_fts MATCH " +
        where.Text(filter.text_query) + ")");
  }
  const std::string sql = "SELECT " EARSHOT_THREAD_COLUMNS " FROM threads t" + where.sql() +
                          " ORDER BY t.id DESC LIMIT " + where.Int(filter.limit);
  Result<Statement> list = db_->PrepareOnce(sql, "list threads");
  if (!list.ok()) return list.status();
  where.Bind(*list);
  std::vector<ThreadSummary> threads;
  while (true) {
    Result<bool> row = list->Next();
    if (!row.ok()) {
      // SQLITE_ERROR from a MATCH is FTS5 rejecting the query: the caller's.
      if (!filter.text_query.empty() && (list->last_error_code() & 0xff) == SQLITE_ERROR) {
        return Status::InvalidArgument(row.status().message() + " (query: " + filter.text_query +
                                       ")");
      }
      return row.status();
    }
    if (!*row) break;
    threads.push_back(ReadSummary(*list));
  }
  for (ThreadSummary& thread : threads) EARSHOT_RETURN_IF_ERROR(ReadOrgs(*db_, thread));
  return threads;
}

// The columns ReadThreadPost reads, in its order (thread_posts tp, posts p).
#define EARSHOT_THREAD_POST_COLUMNS                                                         \
  "p.id, p.uid, p.author_handle, p.text, p.created_at, tp.joined_at, tp.how, p.deleted_at " \
  "IS NOT NULL"

namespace {
ThreadPost ReadThreadPost(Statement& row) {
  ThreadPost post;
  post.post_id = row.Int(0);
  post.uid = row.Text(1);
  post.author_handle = row.Text(2);
  post.text = row.Text(3);
  post.created_at = row.Time(4);
  post.joined_at = row.Time(5).value_or(TimePoint{});
  post.how = JoinReasonFromName(row.Text(6)).value_or(JoinReason::kOpened);
  post.deleted = row.Int(7) != 0;
  return post;
}
}  // namespace

Result<std::optional<ThreadPost>> SqliteStore::OpeningPost(int64_t thread_id,
                                                           int64_t root_post_id) {
  Result<Statement> read = db_->Prepare("SELECT " EARSHOT_THREAD_POST_COLUMNS
                                        " FROM thread_posts tp JOIN posts p ON p.id = tp.post_id"
                                        " WHERE tp.thread_id = ?1 AND tp.post_id = ?2",
                                        "read opening post");
  if (!read.ok()) return read.status();
  read->BindInt(1, thread_id);
  read->BindInt(2, root_post_id);
  Result<bool> row = read->Next();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<ThreadPost>();
  return std::optional<ThreadPost>(ReadThreadPost(*read));
}

Result<ThreadDetail> SqliteStore::GetThread(int64_t thread_id) {
  ThreadDetail detail;
  {
    Result<Statement> read = db_->Prepare(
        "SELECT " EARSHOT_THREAD_COLUMNS " FROM threads t WHERE t.id = ?1", "read thread");
    if (!read.ok()) return read.status();
    read->BindInt(1, thread_id);
    Result<bool> row = read->Next();
    if (!row.ok()) return row.status();
    if (!*row) return Status::NotFound("thread " + std::to_string(thread_id) + " not found");
    detail.summary = ReadSummary(*read);
  }
  EARSHOT_RETURN_IF_ERROR(ReadOrgs(*db_, detail.summary));
  {
    Result<Statement> posts =
        db_->Prepare("SELECT " EARSHOT_THREAD_POST_COLUMNS
                     " FROM thread_posts tp JOIN posts p ON p.id = tp.post_id"
                     " WHERE tp.thread_id = ?1 ORDER BY COALESCE(p.created_at, p.fetched_at), p.id",
                     "read thread posts");
    if (!posts.ok()) return posts.status();
    posts->BindInt(1, thread_id);
    while (true) {
      Result<bool> row = posts->Next();
      if (!row.ok()) return row.status();
      if (!*row) break;
      detail.posts.push_back(ReadThreadPost(*posts));
    }
  }
  {
    Result<Statement> notes = db_->Prepare(
        "SELECT id, org, author, body, created_at FROM notes WHERE thread_id = ?1 ORDER BY id",
        "read notes");
    if (!notes.ok()) return notes.status();
    notes->BindInt(1, thread_id);
    while (true) {
      Result<bool> row = notes->Next();
      if (!row.ok()) return row.status();
      if (!*row) break;
      detail.notes.push_back(Note{notes->Int(0), thread_id, notes->Text(1), notes->Text(2),
                                  notes->Text(3), notes->Time(4).value_or(TimePoint{})});
    }
  }
  {
    Result<Statement> replies = db_->Prepare("SELECT " EARSHOT_REPLY_COLUMNS
                                             " FROM replies WHERE thread_id = ?1 ORDER BY id",
                                             "read replies");
    if (!replies.ok()) return replies.status();
    replies->BindInt(1, thread_id);
    while (true) {
      Result<bool> row = replies->Next();
      if (!row.ok()) return row.status();
      if (!*row) break;
      detail.replies.push_back(ReadReply(*replies));
    }
  }
  {
    Result<Statement> audit = db_->Prepare(
        "SELECT id, at, actor, action, org, detail FROM audit WHERE thread_id = ?1 ORDER BY id",
        "read audit");
    if (!audit.ok()) return audit.status();
    audit->BindInt(1, thread_id);
    while (true) {
      Result<bool> row = audit->Next();
      if (!row.ok()) return row.status();
      if (!*row) break;
      detail.audit.push_back(AuditEntry{audit->Int(0), audit->Time(1).value_or(TimePoint{}),
                                        audit->Text(2), audit->Text(3), audit->Text(4), thread_id,
                                        audit->Text(5)});
    }
  }
  EARSHOT_RETURN_IF_ERROR(ReadListening(*db_, detail));
  return detail;
}

Result<std::optional<int64_t>> SqliteStore::ThreadOfPost(int64_t post_id) {
  Result<Statement> read =
      db_->Prepare("SELECT thread_id FROM thread_posts WHERE post_id = ?1", "thread of post");
  if (!read.ok()) return read.status();
  read->BindInt(1, post_id);
  Result<bool> row = read->Next();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<int64_t>();
  return std::optional<int64_t>(read->Int(0));
}

Result<std::optional<int64_t>> SqliteStore::ThreadOfPostNamed(std::string_view platform,
                                                              std::string_view key) {
  if (key.empty()) return std::optional<int64_t>();
  Result<Statement> find = db_->Prepare(
      "SELECT tp.thread_id FROM posts p JOIN thread_posts tp ON tp.post_id = p.id"
      " WHERE p.platform = ?1 AND (p.external_id = ?2 OR p.uid = ?2) ORDER BY p.id LIMIT 1",
      "thread of named post");
  if (!find.ok()) return find.status();
  find->BindText(1, platform);
  find->BindText(2, key);
  Result<bool> row = find->Next();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<int64_t>();
  return std::optional<int64_t>(find->Int(0));
}

Status SqliteStore::SetState(int64_t thread_id, std::string_view org, OrgState state,
                             std::string_view reason, std::string_view actor, TimePoint now) {
  if (state == OrgState::kDismissed && reason.empty()) {
    return Status::InvalidArgument("a dismissal needs a reason");
  }
  const std::string_view kept_reason = state == OrgState::kDismissed ? reason : "";
  Transaction txn(*db_, "set thread state");
  EARSHOT_RETURN_IF_ERROR(txn.Begin());
  Result<Statement> update = db_->Prepare(
      "UPDATE thread_orgs SET state = ?3, dismiss_reason = ?4, updated_at = ?5"
      " WHERE thread_id = ?1 AND org = ?2",
      "set thread state");
  if (!update.ok()) return update.status();
  update->BindInt(1, thread_id);
  update->BindText(2, org);
  update->BindText(3, OrgStateName(state));
  update->BindText(4, kept_reason);
  update->BindTime(5, now);
  EARSHOT_RETURN_IF_ERROR(update->Run());
  if (update->Changes() == 0) return NotOnThread(thread_id, org);
  std::string detail(OrgStateName(state));
  if (!kept_reason.empty()) detail += ": " + std::string(kept_reason);
  EARSHOT_RETURN_IF_ERROR(Audit(*db_, now, actor, "status", org, thread_id, detail));
  return txn.Commit();
}

Status SqliteStore::Assign(int64_t thread_id, std::string_view org, std::string_view assignee,
                           std::string_view actor, TimePoint now) {
  Transaction txn(*db_, "assign thread");
  EARSHOT_RETURN_IF_ERROR(txn.Begin());
  Result<Statement> update = db_->Prepare(
      "UPDATE thread_orgs SET assignee = ?3, updated_at = ?4,"
      " state = CASE WHEN state = 'new' AND ?3 != '' THEN 'assigned' ELSE state END"
      " WHERE thread_id = ?1 AND org = ?2",
      "assign thread");
  if (!update.ok()) return update.status();
  update->BindInt(1, thread_id);
  update->BindText(2, org);
  update->BindText(3, assignee);
  update->BindTime(4, now);
  EARSHOT_RETURN_IF_ERROR(update->Run());
  if (update->Changes() == 0) return NotOnThread(thread_id, org);
  EARSHOT_RETURN_IF_ERROR(Audit(*db_, now, actor, "assign", org, thread_id,
                                assignee.empty() ? "unassigned" : std::string(assignee)));
  return txn.Commit();
}

// Whether `org` is on the thread, read inside the caller's transaction.
static Status RequireOrg(Database& db, int64_t thread_id, std::string_view org) {
  Result<Statement> read = db.Prepare("SELECT 1 FROM thread_orgs WHERE thread_id = ?1 AND org = ?2",
                                      "check thread organisation");
  if (!read.ok()) return read.status();
  read->BindInt(1, thread_id);
  read->BindText(2, org);
  Result<bool> row = read->Next();
  if (!row.ok()) return row.status();
  return *row ? Status::Ok() : NotOnThread(thread_id, org);
}

Result<int64_t> SqliteStore::AddNote(int64_t thread_id, std::string_view org, std::string_view body,
                                     std::string_view actor, TimePoint now) {
  if (body.empty()) return Status::InvalidArgument("a note needs a body");
  Transaction txn(*db_, "add note");
  EARSHOT_RETURN_IF_ERROR(txn.Begin());
  EARSHOT_RETURN_IF_ERROR(RequireOrg(*db_, thread_id, org));
  Result<Statement> insert = db_->Prepare(
      "INSERT INTO notes (thread_id, org, author, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
      "add note");
  if (!insert.ok()) return insert.status();
  insert->BindInt(1, thread_id);
  insert->BindText(2, org);
  insert->BindText(3, actor);
  insert->BindText(4, body);
  insert->BindTime(5, now);
  EARSHOT_RETURN_IF_ERROR(insert->Run());
  const int64_t id = sqlite3_last_insert_rowid(db_->handle());
  EARSHOT_RETURN_IF_ERROR(
      Audit(*db_, now, actor, "note", org, thread_id, "note " + std::to_string(id)));
  EARSHOT_RETURN_IF_ERROR(txn.Commit());
  return id;
}

Result<int64_t> SqliteStore::CreateDraft(int64_t thread_id, std::string_view org,
                                         int64_t in_reply_to, std::string_view body,
                                         std::string_view idempotency_key, std::string_view actor,
                                         TimePoint now) {
  if (body.empty()) return Status::InvalidArgument("a reply needs a body");
  if (idempotency_key.empty()) return Status::InvalidArgument("a reply needs an idempotency key");
  Transaction txn(*db_, "create draft");
  EARSHOT_RETURN_IF_ERROR(txn.Begin());
  EARSHOT_RETURN_IF_ERROR(RequireOrg(*db_, thread_id, org));
  int64_t target = in_reply_to;
  {
    Result<Statement> read = db_->Prepare(
        "SELECT CASE WHEN ?2 = 0 THEN (SELECT root_post_id FROM threads WHERE id = ?1)"
        " ELSE (SELECT post_id FROM thread_posts WHERE thread_id = ?1 AND post_id = ?2) END",
        "find post answered");
    if (!read.ok()) return read.status();
    read->BindInt(1, thread_id);
    read->BindInt(2, in_reply_to);
    Result<bool> row = read->Next();
    if (!row.ok()) return row.status();
    if (!*row || read->IsNull(0)) {
      return Status::NotFound("post " + std::to_string(in_reply_to) + " is not on thread " +
                              std::to_string(thread_id));
    }
    target = read->Int(0);
  }
  {
    Result<Statement> key =
        db_->Prepare("SELECT 1 FROM replies WHERE idempotency_key = ?1", "check idempotency key");
    if (!key.ok()) return key.status();
    key->BindText(1, idempotency_key);
    Result<bool> row = key->Next();
    if (!row.ok()) return row.status();
    if (*row) return Status::AlreadyExists("a reply with this idempotency key exists");
  }
  Result<Statement> insert = db_->Prepare(
      "INSERT INTO replies (thread_id, org, in_reply_to, body, idempotency_key, author,"
      " created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
      "create draft");
  if (!insert.ok()) return insert.status();
  insert->BindInt(1, thread_id);
  insert->BindText(2, org);
  insert->BindInt(3, target);
  insert->BindText(4, body);
  insert->BindText(5, idempotency_key);
  insert->BindText(6, actor);
  insert->BindTime(7, now);
  EARSHOT_RETURN_IF_ERROR(insert->Run());
  const int64_t id = sqlite3_last_insert_rowid(db_->handle());
  EARSHOT_RETURN_IF_ERROR(
      Audit(*db_, now, actor, "draft", org, thread_id, "reply " + std::to_string(id)));
  EARSHOT_RETURN_IF_ERROR(txn.Commit());
  return id;
}

Result<Reply> SqliteStore::GetReply(int64_t reply_id) { return ReplyById(*db_, reply_id); }

Status SqliteStore::Approve(int64_t reply_id, std::string_view actor, TimePoint now) {
  return ReplyTransition(*db_, reply_id, "approve", actor, now, "", [&](const Reply& reply) {
    if (reply.state != ReplyState::kDraft) return WrongState(reply, "a draft");
    if (reply.author == actor) {
      return Status::PermissionDenied("a reply is approved by someone other than its author");
    }
    return UpdateReply(*db_,
                       "UPDATE replies SET state = ?2, approver = ?3, updated_at = ?5"
                       " WHERE id = ?1 AND ?4 = ?4",
                       reply_id, ReplyState::kApproved, actor, "", now);
  });
}

Status SqliteStore::MarkPublishing(int64_t reply_id, std::string_view account,
                                   std::string_view actor, TimePoint now) {
  return ReplyTransition(
      *db_, reply_id, "publishing", actor, now, account, [&](const Reply& reply) {
        if (reply.state != ReplyState::kDraft && reply.state != ReplyState::kApproved &&
            reply.state != ReplyState::kFailed) {
          return WrongState(reply, "a draft, approved or failed");
        }
        return UpdateReply(*db_,
                           "UPDATE replies SET state = ?2, account = ?3, platform_error = ?4,"
                           " updated_at = ?5 WHERE id = ?1",
                           reply_id, ReplyState::kPublishing, account, "", now);
      });
}

Status SqliteStore::MarkPublished(int64_t reply_id, std::string_view published_id,
                                  std::string_view url, std::string_view actor, TimePoint now) {
  return ReplyTransition(*db_, reply_id, "published", actor, now, url, [&](const Reply& reply) {
    if (reply.state != ReplyState::kPublishing) return WrongState(reply, "publishing");
    EARSHOT_RETURN_IF_ERROR(UpdateReply(*db_,
                                        "UPDATE replies SET state = ?2, published_id = ?3,"
                                        " url = ?4, updated_at = ?5, published_at = ?5"
                                        " WHERE id = ?1",
                                        reply_id, ReplyState::kPublished, published_id, url, now));
    Result<Statement> by =
        db_->Prepare("UPDATE replies SET published_by = ?2 WHERE id = ?1", "record publisher");
    if (!by.ok()) return by.status();
    by->BindInt(1, reply_id);
    by->BindText(2, actor);
    EARSHOT_RETURN_IF_ERROR(by->Run());
    Result<Statement> responded = db_->Prepare(
        "UPDATE thread_orgs SET state = 'responded', updated_at = ?3"
        " WHERE thread_id = ?1 AND org = ?2 AND state IN ('new', 'assigned')",
        "mark thread responded");
    if (!responded.ok()) return responded.status();
    responded->BindInt(1, reply.thread_id);
    responded->BindText(2, reply.org);
    responded->BindTime(3, now);
    return responded->Run();
  });
}

Status SqliteStore::MarkFailed(int64_t reply_id, std::string_view error, std::string_view actor,
                               TimePoint now) {
  return ReplyTransition(*db_, reply_id, "failed", actor, now, error, [&](const Reply& reply) {
    if (reply.state != ReplyState::kPublishing) return WrongState(reply, "publishing");
    return UpdateReply(*db_,
                       "UPDATE replies SET state = ?2, platform_error = ?3, updated_at = ?5"
                       " WHERE id = ?1 AND ?4 = ?4",
                       reply_id, ReplyState::kFailed, error, "", now);
  });
}

Status SqliteStore::MarkAnswerOnPlatform(int64_t reply_id, std::string_view url,
                                         std::string_view actor, TimePoint now) {
  return ReplyTransition(
      *db_, reply_id, "answer on platform", actor, now, url, [&](const Reply& reply) {
        if (reply.state != ReplyState::kDraft && reply.state != ReplyState::kApproved) {
          return WrongState(reply, "a draft or approved");
        }
        return UpdateReply(*db_,
                           "UPDATE replies SET state = ?2, url = ?3, updated_at = ?5"
                           " WHERE id = ?1 AND ?4 = ?4",
                           reply_id, ReplyState::kAnswerOnPlatform, url, "", now);
      });
}

Status SqliteStore::RecordOpened(int64_t thread_id, const std::vector<std::string>& orgs,
                                 std::string_view user, TimePoint at) {
  if (orgs.empty() || user.empty()) return Status::Ok();
  Transaction txn(*db_, "record thread open");
  EARSHOT_RETURN_IF_ERROR(txn.Begin());
  for (const std::string& org : orgs) {
    Result<Statement> record = db_->Prepare(
        "INSERT INTO thread_opens (thread_id, org, user_name, at)"
        " SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM thread_orgs"
        " WHERE thread_id = ?1 AND org = ?2) ON CONFLICT DO NOTHING",
        "record thread open");
    if (!record.ok()) return record.status();
    record->BindInt(1, thread_id);
    record->BindText(2, org);
    record->BindText(3, user);
    record->BindTime(4, at);
    EARSHOT_RETURN_IF_ERROR(record->Run());
  }
  return txn.Commit();
}

Result<std::vector<OrgListening>> SqliteStore::ListeningSummary(std::optional<TimePoint> from,
                                                                std::optional<TimePoint> to) {
  // One narrow row per (organisation, thread); the median needs every
  // response time, so the counting is done here rather than in SQL.
  Result<Statement> read = db_->Prepare(
      "SELECT o.org, o.state, COALESCE(o.alerted_at, o.created_at),"
      " (SELECT MIN(COALESCE(r.published_at, r.updated_at)) FROM replies r"
      "  WHERE r.thread_id = o.thread_id AND r.org = o.org AND r.state = 'published')"
      " FROM thread_orgs o"
      " WHERE (?1 IS NULL OR COALESCE(o.alerted_at, o.created_at) >= ?1)"
      " AND (?2 IS NULL OR COALESCE(o.alerted_at, o.created_at) < ?2)"
      " ORDER BY o.org",
      "listening summary");
  if (!read.ok()) return read.status();
  read->BindTime(1, from);
  read->BindTime(2, to);
  std::vector<OrgListening> out;
  std::vector<int64_t> seconds;
  auto finish = [&] {
    if (out.empty() || seconds.empty()) return;
    std::sort(seconds.begin(), seconds.end());
    const size_t mid = seconds.size() / 2;
    out.back().median_first_response_seconds =
        seconds.size() % 2 == 1 ? seconds[mid] : (seconds[mid - 1] + seconds[mid]) / 2;
    seconds.clear();
  };
  while (true) {
    Result<bool> row = read->Next();
    if (!row.ok()) return row.status();
    if (!*row) break;
    const std::string org = read->Text(0);
    if (out.empty() || out.back().org != org) {
      finish();
      out.push_back(OrgListening{});
      out.back().org = org;
    }
    OrgListening& summary = out.back();
    const OrgState state = OrgStateFromName(read->Text(1)).value_or(OrgState::kNew);
    if (state == OrgState::kDismissed) {
      ++summary.dismissed;
      continue;
    }
    ++summary.threads;
    if (state == OrgState::kNew || state == OrgState::kAssigned) ++summary.open;
    const std::optional<TimePoint> first = read->Time(3);
    if (first || state == OrgState::kResponded) ++summary.answered;
    if (first) {
      const TimePoint alerted = read->Time(2).value_or(*first);
      seconds.push_back(std::max<int64_t>(
          0, std::chrono::duration_cast<std::chrono::seconds>(*first - alerted).count()));
    }
  }
  finish();
  return out;
}

Result<std::vector<OrgStateCount>> SqliteStore::CountThreadsByOrgState() {
  Result<Statement> read = db_->Prepare(
      "SELECT org, state, COUNT(*) FROM thread_orgs GROUP BY org, state ORDER BY org, state",
      "count threads by organisation");
  if (!read.ok()) return read.status();
  std::vector<OrgStateCount> out;
  while (true) {
    Result<bool> row = read->Next();
    if (!row.ok()) return row.status();
    if (!*row) return out;
    out.push_back(OrgStateCount{
        read->Text(0), OrgStateFromName(read->Text(1)).value_or(OrgState::kNew), read->Int(2)});
  }
}

Result<std::vector<Reply>> SqliteStore::RecentReplies(std::string_view org, int recent_threads) {
  if (recent_threads <= 0) return std::vector<Reply>{};
  Result<Statement> read = db_->Prepare(
      "SELECT " EARSHOT_REPLY_COLUMNS
      " FROM replies WHERE org = ?1 AND thread_id IN"
      " (SELECT thread_id FROM thread_orgs WHERE org = ?1 ORDER BY thread_id DESC LIMIT ?2)"
      " ORDER BY id DESC",
      "recent replies");
  if (!read.ok()) return read.status();
  read->BindText(1, org);
  read->BindInt(2, recent_threads);
  std::vector<Reply> out;
  while (true) {
    Result<bool> row = read->Next();
    if (!row.ok()) return row.status();
    if (!*row) return out;
    out.push_back(ReadReply(*read));
  }
}

Result<int> SqliteStore::FailStalePublishing(TimePoint updated_before, std::string_view error,
                                             std::string_view actor, TimePoint now) {
  std::vector<int64_t> stale;
  {
    Result<Statement> read = db_->Prepare(
        "SELECT id FROM replies WHERE state = 'publishing' AND updated_at < ?1 ORDER BY id",
        "find stale publishing replies");
    if (!read.ok()) return read.status();
    read->BindTime(1, updated_before);
    while (true) {
      Result<bool> row = read->Next();
      if (!row.ok()) return row.status();
      if (!*row) break;
      stale.push_back(read->Int(0));
    }
  }
  int failed = 0;
  for (int64_t id : stale) {
    Status marked = MarkFailed(id, error, actor, now);
    // Another process may have recorded the outcome meanwhile: not stale.
    if (marked.code() == StatusCode::kInvalidArgument) continue;
    EARSHOT_RETURN_IF_ERROR(marked);
    ++failed;
  }
  return failed;
}

Result<std::vector<RuleDismissals>> SqliteStore::DismissalsByRule() {
  Result<Statement> read = db_->Prepare(
      "SELECT rule, dismiss_reason, COUNT(*) FROM thread_orgs WHERE state = 'dismissed'"
      " GROUP BY rule, dismiss_reason ORDER BY 3 DESC, rule, dismiss_reason",
      "dismissals by rule");
  if (!read.ok()) return read.status();
  std::vector<RuleDismissals> out;
  while (true) {
    Result<bool> row = read->Next();
    if (!row.ok()) return row.status();
    if (!*row) return out;
    out.push_back(RuleDismissals{read->Text(0), read->Text(1), read->Int(2)});
  }
}

Result<std::vector<AuditEntry>> SqliteStore::AuditLog(int limit) {
  Result<Statement> read = db_->Prepare(
      "SELECT id, at, actor, action, org, detail FROM audit WHERE thread_id IS NULL"
      " ORDER BY id LIMIT ?1",
      "read audit log");
  if (!read.ok()) return read.status();
  read->BindInt(1, limit);
  std::vector<AuditEntry> out;
  while (true) {
    Result<bool> row = read->Next();
    if (!row.ok()) return row.status();
    if (!*row) return out;
    out.push_back(AuditEntry{read->Int(0), read->Time(1).value_or(TimePoint{}), read->Text(2),
                             read->Text(3), read->Text(4), std::nullopt, read->Text(5)});
  }
}

Result<int64_t> SqliteStore::AddUser(const User& user, std::string_view token_hash,
                                     std::string_view actor, TimePoint now) {
  if (user.name.empty()) return Status::InvalidArgument("a user needs a name");
  if (token_hash.empty()) return Status::InvalidArgument("a user needs a token hash");
  Transaction txn(*db_, "add user");
  EARSHOT_RETURN_IF_ERROR(txn.Begin());
  {
    Result<Statement> exists = db_->Prepare("SELECT 1 FROM users WHERE name = ?1", "find user");
    if (!exists.ok()) return exists.status();
    exists->BindText(1, user.name);
    Result<bool> row = exists->Next();
    if (!row.ok()) return row.status();
    if (*row) return Status::AlreadyExists("user '" + user.name + "' exists");
  }
  Result<Statement> insert = db_->Prepare(
      "INSERT INTO users (name, role, token_hash, created_at) VALUES (?1, ?2, ?3, ?4)", "add user");
  if (!insert.ok()) return insert.status();
  insert->BindText(1, user.name);
  insert->BindText(2, RoleName(user.role));
  insert->BindText(3, token_hash);
  insert->BindTime(4, now);
  EARSHOT_RETURN_IF_ERROR(insert->Run());
  const int64_t id = sqlite3_last_insert_rowid(db_->handle());
  std::string detail = user.name + " (" + std::string(RoleName(user.role)) + ")";
  auto add_scope = [&](std::string_view kind, const std::string& code) -> Status {
    Result<Statement> scope = db_->Prepare(
        "INSERT INTO user_scopes (user_id, kind, code) VALUES (?1, ?2, ?3)"
        " ON CONFLICT DO NOTHING",
        "add user scope");
    if (!scope.ok()) return scope.status();
    scope->BindInt(1, id);
    scope->BindText(2, kind);
    scope->BindText(3, code);
    detail += " " + std::string(kind) + ":" + code;
    return scope->Run();
  };
  for (const std::string& org : user.orgs) EARSHOT_RETURN_IF_ERROR(add_scope("org", org));
  for (const std::string& region : user.regions) {
    EARSHOT_RETURN_IF_ERROR(add_scope("region", region));
  }
  EARSHOT_RETURN_IF_ERROR(Audit(*db_, now, actor, "user add", "", std::nullopt, detail));
  EARSHOT_RETURN_IF_ERROR(txn.Commit());
  return id;
}

namespace {

Result<std::vector<User>> ReadUsers(Database& db, Statement& users) {
  std::vector<User> out;
  while (true) {
    Result<bool> row = users.Next();
    if (!row.ok()) return row.status();
    if (!*row) break;
    User user;
    user.id = users.Int(0);
    user.name = users.Text(1);
    user.role = RoleFromName(users.Text(2)).value_or(Role::kViewer);
    user.created_at = users.Time(3).value_or(TimePoint{});
    user.revoked_at = users.Time(4);
    out.push_back(std::move(user));
  }
  for (User& user : out) {
    Result<Statement> scopes =
        db.Prepare("SELECT kind, code FROM user_scopes WHERE user_id = ?1 ORDER BY kind, code",
                   "read user scopes");
    if (!scopes.ok()) return scopes.status();
    scopes->BindInt(1, user.id);
    while (true) {
      Result<bool> row = scopes->Next();
      if (!row.ok()) return row.status();
      if (!*row) break;
      (scopes->Text(0) == "org" ? user.orgs : user.regions).push_back(scopes->Text(1));
    }
  }
  return out;
}

}  // namespace

Result<std::vector<User>> SqliteStore::ListUsers() {
  Result<Statement> users = db_->Prepare(
      "SELECT id, name, role, created_at, revoked_at FROM users ORDER BY name", "list users");
  if (!users.ok()) return users.status();
  return ReadUsers(*db_, *users);
}

Status SqliteStore::RevokeUser(std::string_view name, std::string_view actor, TimePoint now) {
  Transaction txn(*db_, "revoke user");
  EARSHOT_RETURN_IF_ERROR(txn.Begin());
  Result<Statement> revoke = db_->Prepare(
      "UPDATE users SET revoked_at = COALESCE(revoked_at, ?2) WHERE name = ?1", "revoke user");
  if (!revoke.ok()) return revoke.status();
  revoke->BindText(1, name);
  revoke->BindTime(2, now);
  EARSHOT_RETURN_IF_ERROR(revoke->Run());
  if (revoke->Changes() == 0) return Status::NotFound("no user '" + std::string(name) + "'");
  EARSHOT_RETURN_IF_ERROR(Audit(*db_, now, actor, "user revoke", "", std::nullopt, name));
  return txn.Commit();
}

Result<std::optional<User>> SqliteStore::UserByTokenHash(std::string_view token_hash) {
  Result<Statement> users = db_->Prepare(
      "SELECT id, name, role, created_at, revoked_at FROM users"
      " WHERE token_hash = ?1 AND revoked_at IS NULL",
      "find user by token");
  if (!users.ok()) return users.status();
  users->BindText(1, token_hash);
  Result<std::vector<User>> found = ReadUsers(*db_, *users);
  if (!found.ok()) return found.status();
  if (found->empty()) return std::optional<User>();
  return std::optional<User>(std::move(found->front()));
}

}  // namespace earshot
