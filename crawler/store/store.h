// Store: the one place posts and source state persist.
//
// Promises, for every implementation (SQLite now, PostgreSQL later; the same
// tests run on both):
// - Apply() writes a batch of SourceWrites in ONE transaction, in order: a
//   page's posts and its source's new state are durable together or not at
//   all, so a crash at any moment neither loses nor duplicates a post.
// - A post is unique by (platform, uid); storing it again is a counted
//   duplicate, not an error, and never changes the stored row. So a post
//   that arrives again after its deletion stays a tombstone.
// - A deletion (SourceWrite::deletions) turns the stored post into a
//   tombstone in the same transaction as the rest of its write; a deletion
//   of a post never stored is counted and ignored.
// - Every statement is prepared and parameterised.
// - Failures come back as Status (kIoError naming the database and step);
//   after a failed Apply nothing of that batch is visible.
// Thread-safety: one Store object is used from one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "crawler/core/clock.h"
#include "crawler/core/connector.h"
#include "crawler/core/post.h"
#include "crawler/core/status.h"

namespace earshot {

// How a source is doing, as the scheduler sees it.
enum class SourceHealth {
  kOk,           // last poll succeeded (or never polled yet)
  kBackoff,      // failing; retrying with exponential backoff
  kRateLimited,  // waiting for the platform's reset / Retry-After
  kStopped,      // 401/403 or a permanent error: needs an operator
};
std::string_view SourceHealthName(SourceHealth h);
std::optional<SourceHealth> SourceHealthFromName(std::string_view name);

// Everything persisted about one source between polls.
struct SourceState {
  SourceCursor cursor;
  SourceHealth health = SourceHealth::kOk;
  std::optional<TimePoint> next_poll_at;  // absent: due now
  std::optional<TimePoint> last_success_at;
  std::optional<TimePoint> last_error_at;
  std::string last_error;  // message of the last failure, empty when healthy
  int consecutive_failures = 0;
  // Start of the current blind window (first failure since last success).
  std::optional<TimePoint> blind_since;
  // Posts stored from this source, ever. Kept by the store: Apply() ignores
  // the value in a SourceWrite and adds the posts that write inserted.
  int64_t posts_total = 0;
};

// A source as registered from config, with its state.
struct SourceRecord {
  std::string name;
  std::string connector;
  std::string url;
  SourceState state;
};

// A time span during which a source could not be read, and why.
struct BlindWindow {
  TimePoint start{};
  TimePoint end{};
  std::string reason;
};

// A response body kept for audit and re-parsing (stored compressed).
struct RawPayload {
  std::string url;
  int status = 0;
  std::string content_type;
  std::string body;
  TimePoint fetched_at{};
};

// How often a classification rule fired, and how many posts the relevance
// stage dropped, for one write; added to the stored per-source totals.
struct RuleCount {
  std::string stage;    // "org", "topic", "relevance", ...
  std::string rule;     // rule id; "" with stage "relevance" counts dropped posts
  int64_t fired = 0;    // posts the rule fired on (kept or not)
  int64_t dropped = 0;  // posts dropped as irrelevant
};

// A post the platform reports gone (connector Page::deletions), as a write
// carries it to the store.
struct PostDeletion {
  std::string platform;
  std::string uid;     // Post::uid of the post that is gone
  std::string reason;  // shown to staff: "deleted by its author", ...
  TimePoint at{};      // when earshot learned it
};

// A stored post whose conversation the engine fetches again on a schedule
// (crawler/schedule/scheduler.h), so replies join its thread and deletions
// are noticed. One per (platform, uid), kept after the last fetch.
struct ConversationWatch {
  std::string platform;
  std::string uid;
  std::string source;  // the source that stored the post; its connector fetches
  // Schedule offsets count from here: the post's created_at, or its
  // fetched_at when created_at is absent or later.
  TimePoint anchor_at{};
  std::optional<TimePoint> next_fetch_at;  // absent: finished, never fetched again
  int fetches = 0;                         // conversation fetches completed
  int attempts = 0;                        // fetches begun, failed ones included
  int failures = 0;                        // consecutive failed attempts at the current step
  std::optional<TimePoint> last_fetch_at;  // the last attempt
  std::string last_error;                  // of the last attempt; empty when it succeeded
};

// One unit of Apply(): the new state of a source plus what came with it.
struct SourceWrite {
  std::string source;
  SourceState state;
  std::vector<Post> posts;                         // a fetched page (may be empty)
  std::optional<RawPayload> raw;                   // the body the posts came from
  std::optional<BlindWindow> closed_blind_window;  // recorded on recovery
  // A body that could not be parsed: kept aside with the error, never lost.
  std::optional<RawPayload> quarantine;
  std::string quarantine_error;
  std::vector<RuleCount> rule_counts;
  // Posts the platform reports gone, applied after this write's posts (so a
  // page that carries a post and its deletion leaves a tombstone). See
  // SqliteStore for what a tombstone keeps.
  std::vector<PostDeletion> deletions;
  // The posts are the conversation of a watched post: replies in a thread we
  // hold. The relevance stage keeps them even without an organisation.
  bool conversation_replies = false;
  // When set, every post this write newly stores with an organisation
  // decision (Decision::Kind::kOrg) is put on the conversation watch list,
  // its first fetch due this long after the later of its creation and its
  // fetching.
  std::optional<Duration> watch_routed_after;
  // Uids of this write's posts whose conversation the connector cannot fetch
  // (a feed item with no comment feed): never watched.
  std::set<std::string, std::less<>> unwatchable;
  // Progress of watched conversations, replacing the stored watch of the
  // same (platform, uid); an update for a watch that is not stored is
  // ignored (the post was never watched).
  std::vector<ConversationWatch> watch_updates;
};

struct ApplyStats {
  int64_t inserted = 0;
  int64_t duplicates = 0;
  int64_t deleted = 0;             // stored posts replaced by a tombstone
  int64_t deletions_unknown = 0;   // deletions of posts never stored: ignored
  int64_t deletions_repeated = 0;  // deletions of posts already tombstoned
  int64_t watches_added = 0;       // conversations newly watched
};

// A post as read back, with its row id and source.
struct StoredPost {
  int64_t row_id = 0;
  std::string source;
  Post post;
  // Set when the platform reported the post gone; it is then a tombstone
  // (text, title and author emptied; see SqliteStore for what is kept).
  std::optional<TimePoint> deleted_at;
  std::string deletion_reason;
};

struct QuarantinedBody {
  int64_t id = 0;
  std::string source;
  std::string error;
  RawPayload payload;
};

class Store {
 public:
  virtual ~Store() = default;

  // Registers (or updates the connector/url of) a source; its state is kept.
  virtual Status UpsertSource(const SourceSpec& spec) = 0;
  virtual Result<std::vector<SourceRecord>> ListSources() = 0;
  virtual Result<SourceRecord> GetSource(const std::string& name) = 0;

  // See the file comment: one transaction, in order.
  virtual Result<ApplyStats> Apply(const std::vector<SourceWrite>& writes) = 0;

  virtual Result<int64_t> CountPosts() = 0;
  // Newest first by fetched_at then row id; `limit` rows at most.
  virtual Result<std::vector<StoredPost>> RecentPosts(int limit) = 0;
  // Full-text search over title and text (FTS5 query syntax), best first.
  virtual Result<std::vector<StoredPost>> SearchPosts(const std::string& query, int limit) = 0;
  virtual Result<std::vector<BlindWindow>> BlindWindows(const std::string& source) = 0;
  virtual Result<std::vector<QuarantinedBody>> Quarantined(int limit) = 0;
  // The decisions stored with a post, in the order they were made.
  virtual Result<std::vector<Decision>> DecisionsFor(int64_t post_row_id) = 0;
  // Calls `visit` for every stored post in row order (decisions included)
  // until it returns false. For re-classification (`earshot rules backtest`).
  virtual Status ForEachPost(const std::function<bool(const StoredPost&)>& visit) = 0;
  // Stored rule counts, per source, stage and rule.
  virtual Result<std::vector<std::pair<std::string, RuleCount>>> RuleCounts() = 0;
  // The stored raw body a post was parsed from (decompressed).
  virtual Result<RawPayload> RawFor(int64_t post_row_id) = 0;
  // The post stored as (platform, uid), with its decisions; nullopt if none.
  virtual Result<std::optional<StoredPost>> FindPost(const std::string& platform,
                                                     const std::string& uid) = 0;

  // The watches of `source` still to fetch (next_fetch_at set), soonest
  // first (ties by platform, uid); `limit` at most.
  virtual Result<std::vector<ConversationWatch>> PendingWatches(const std::string& source,
                                                                int limit) = 0;
  // The watch of (platform, uid), finished or not; nullopt when never watched.
  virtual Result<std::optional<ConversationWatch>> FindWatch(const std::string& platform,
                                                             const std::string& uid) = 0;
};

}  // namespace earshot
