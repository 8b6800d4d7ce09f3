// Pipeline against a real (in-memory) SqliteStore: normalisation, batching by
// rows and by delay with FakeClock, one Apply per flush in submission order,
// and a failed Apply keeping the queue intact.
#include "crawler/pipeline/pipeline.h"

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "crawler/core/text.h"
#include "crawler/store/sqlite/sqlite_store.h"

namespace earshot {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Forwards to a SqliteStore, recording every Apply call; can be told to fail.
class RecordingStore final : public Store {
 public:
  RecordingStore() {
    auto opened = SqliteStore::Open(":memory:");
    REQUIRE(opened.ok());
    inner_ = std::move(opened).value();
  }

  Status UpsertSource(const SourceSpec& spec) override { return inner_->UpsertSource(spec); }
  Result<std::vector<SourceRecord>> ListSources() override { return inner_->ListSources(); }
  Result<SourceRecord> GetSource(const std::string& name) override {
    return inner_->GetSource(name);
  }
  Result<ApplyStats> Apply(const std::vector<SourceWrite>& writes) override {
    std::vector<std::string> batch;
    for (const auto& w : writes) batch.push_back(w.source + ":" + w.state.cursor.cursor);
    calls.push_back(batch);
    if (fail) return Status::IoError("disk full (test)");
    return inner_->Apply(writes);
  }
  Result<int64_t> CountPosts() override { return inner_->CountPosts(); }
  Result<std::vector<StoredPost>> RecentPosts(int limit) override {
    return inner_->RecentPosts(limit);
  }
  Result<std::vector<StoredPost>> SearchPosts(const std::string& query, int limit) override {
    return inner_->SearchPosts(query, limit);
  }
  Result<std::vector<BlindWindow>> BlindWindows(const std::string& source) override {
    return inner_->BlindWindows(source);
  }
  Result<std::vector<QuarantinedBody>> Quarantined(int limit) override {
    return inner_->Quarantined(limit);
  }
  Result<RawPayload> RawFor(int64_t id) override { return inner_->RawFor(id); }
  Result<std::optional<StoredPost>> FindPost(const std::string& platform,
                                             const std::string& uid) override {
    return inner_->FindPost(platform, uid);
  }
  Result<std::vector<Decision>> DecisionsFor(int64_t id) override {
    return inner_->DecisionsFor(id);
  }
  Status ForEachPost(const std::function<bool(const StoredPost&)>& visit) override {
    return inner_->ForEachPost(visit);
  }
  Result<std::vector<std::pair<std::string, RuleCount>>> RuleCounts() override {
    return inner_->RuleCounts();
  }
  Result<std::vector<ConversationWatch>> PendingWatches(const std::string& source,
                                                        int limit) override {
    return inner_->PendingWatches(source, limit);
  }
  Result<std::optional<ConversationWatch>> FindWatch(const std::string& platform,
                                                     const std::string& uid) override {
    return inner_->FindWatch(platform, uid);
  }

  int64_t Posts() {
    auto n = inner_->CountPosts();
    REQUIRE(n.ok());
    return *n;
  }

  // Each Apply call: "source:cursor" of its writes, in order.
  std::vector<std::vector<std::string>> calls;
  bool fail = false;

 private:
  std::unique_ptr<SqliteStore> inner_;
};

Post MakePost(const std::string& id, const std::string& text = "some text") {
  Post post;
  post.platform = "test";
  post.id = id;
  post.url = "https://posts.example/" + id;
  post.text = text;
  return post;
}

// A write for `source` with cursor `cursor` and `n` posts "<source>-<cursor>-i".
SourceWrite Write(const std::string& source, const std::string& cursor, int n) {
  SourceWrite write;
  write.source = source;
  write.state.cursor.cursor = cursor;
  for (int i = 0; i < n; ++i) {
    write.posts.push_back(MakePost(source + "-" + cursor + "-" + std::to_string(i)));
  }
  return write;
}

TEST_CASE("normalise: uid from id, NFC text, content hash, fetched_at", "[pipeline]") {
  FakeClock clock;
  RecordingStore store;
  Pipeline pipeline(store, clock);
  SourceWrite write;
  write.source = "s";
  // "e" + COMBINING ACUTE ACCENT (NFD) must be stored as U+00E9 (NFC).
  Post post = MakePost("42", "Caf\x65\xCC\x81 at the hospital");
  post.title = "Re\xCC\x81sume\xCC\x81";
  Post keeps_uid = MakePost("43");
  keeps_uid.uid = "https://posts.example/uid/43";
  keeps_uid.fetched_at = clock.Now() - seconds(5);
  write.posts = {post, keeps_uid};
  REQUIRE(pipeline.Submit(write).ok());
  REQUIRE(pipeline.Flush().ok());

  auto stored = store.RecentPosts(10);
  REQUIRE(stored.ok());
  REQUIRE(stored->size() == 2);
  for (const StoredPost& p : *stored) {
    if (p.post.id == "42") {
      CHECK(p.post.uid == "42");
      CHECK(p.post.text == "Caf\xC3\xA9 at the hospital");
      CHECK(p.post.title == "R\xC3\xA9sum\xC3\xA9");
      CHECK(p.post.content_hash == Sha256Hex("Caf\xC3\xA9 at the hospital"));
      CHECK(p.post.fetched_at == clock.Now());
    } else {
      CHECK(p.post.uid == "https://posts.example/uid/43");
      CHECK(p.post.fetched_at == clock.Now() - seconds(5));
      CHECK(p.post.content_hash.size() == 64);
    }
  }
}

TEST_CASE("batches flush when max_rows posts are queued", "[pipeline]") {
  FakeClock clock;
  RecordingStore store;
  Pipeline pipeline(store, clock, BatchOptions{.max_rows = 5});
  REQUIRE(pipeline.Submit(Write("a", "1", 2)).ok());
  REQUIRE(pipeline.Submit(Write("b", "1", 2)).ok());
  CHECK(store.calls.empty());
  CHECK(pipeline.queued_posts() == 4);
  REQUIRE(pipeline.Submit(Write("a", "2", 2)).ok());  // 6 >= 5
  REQUIRE(store.calls.size() == 1);
  CHECK(store.calls[0] == std::vector<std::string>{"a:1", "b:1", "a:2"});
  CHECK(store.Posts() == 6);
  CHECK(pipeline.queued_writes() == 0);
  CHECK(pipeline.stats().stored == 6);
  CHECK(pipeline.stats().state_writes == 3);
  CHECK(pipeline.stats().flushes == 1);
  CHECK_FALSE(pipeline.FlushDeadline().has_value());

  // State-only writes (no posts) never reach the row threshold on their own.
  REQUIRE(pipeline.Submit(Write("a", "3", 0)).ok());
  CHECK(store.calls.size() == 1);
  REQUIRE(pipeline.Flush().ok());
  CHECK(store.calls.size() == 2);
  auto a = store.GetSource("a");
  REQUIRE(a.ok());
  CHECK(a->state.cursor.cursor == "3");
}

TEST_CASE("batches flush when the oldest write is max_delay old", "[pipeline]") {
  FakeClock clock;
  RecordingStore store;
  Pipeline pipeline(store, clock, BatchOptions{.max_rows = 1000, .max_delay = milliseconds(100)});
  const TimePoint t0 = clock.Now();
  CHECK_FALSE(pipeline.FlushDeadline().has_value());
  REQUIRE(pipeline.FlushIfDue().ok());
  CHECK(store.calls.empty());  // an empty queue is never flushed

  REQUIRE(pipeline.Submit(Write("a", "1", 1)).ok());
  CHECK(pipeline.FlushDeadline() == t0 + milliseconds(100));
  clock.Advance(milliseconds(60));
  REQUIRE(pipeline.Submit(Write("a", "2", 1)).ok());
  CHECK(pipeline.FlushDeadline() == t0 + milliseconds(100));  // the oldest counts
  clock.Advance(milliseconds(39));
  REQUIRE(pipeline.FlushIfDue().ok());
  CHECK(store.calls.empty());
  clock.Advance(milliseconds(1));
  REQUIRE(pipeline.FlushIfDue().ok());
  REQUIRE(store.calls.size() == 1);
  CHECK(store.calls[0] == std::vector<std::string>{"a:1", "a:2"});
  CHECK(store.Posts() == 2);

  // The next deadline counts from the next write.
  clock.Advance(seconds(10));
  REQUIRE(pipeline.Submit(Write("a", "3", 1)).ok());
  CHECK(pipeline.FlushDeadline() == clock.Now() + milliseconds(100));
}

TEST_CASE("a failed Apply keeps the queue intact and retries with backoff", "[pipeline]") {
  FakeClock clock;
  RecordingStore store;
  BatchOptions options{.max_rows = 4, .max_delay = milliseconds(100)};
  options.retry_initial = seconds(1);
  options.retry_max = seconds(4);
  Pipeline pipeline(store, clock, options);
  std::vector<FlushReport> reports;
  pipeline.SetFlushListener([&](const FlushReport& r) { reports.push_back(r); });

  store.fail = true;
  REQUIRE(pipeline.Submit(Write("a", "1", 2)).ok());
  Status status = pipeline.Submit(Write("b", "1", 2));  // threshold: flush, fails
  CHECK(status.code() == StatusCode::kIoError);
  CHECK(status.message().find("disk full") != std::string::npos);
  CHECK(pipeline.queued_writes() == 2);
  CHECK(pipeline.queued_posts() == 4);
  CHECK(pipeline.stats().failures == 1);
  REQUIRE(reports.size() == 1);
  CHECK_FALSE(reports[0].status.ok());
  CHECK(reports[0].writes == 2);

  // While the retry is pending, neither the threshold nor the deadline
  // hammers the failing store.
  const TimePoint failed_at = clock.Now();
  CHECK(pipeline.FlushDeadline() == failed_at + seconds(1));
  REQUIRE(pipeline.Submit(Write("a", "2", 2)).ok());
  clock.Advance(milliseconds(999));
  REQUIRE(pipeline.FlushIfDue().ok());
  CHECK(store.calls.size() == 1);

  clock.Advance(milliseconds(1));
  CHECK_FALSE(pipeline.FlushIfDue().ok());  // retried, failed again
  CHECK(store.calls.size() == 2);
  CHECK(pipeline.FlushDeadline() == clock.Now() + seconds(2));  // doubled
  CHECK_FALSE(pipeline.Flush().ok());                           // an explicit Flush always tries
  CHECK(pipeline.FlushDeadline() == clock.Now() + seconds(4));
  CHECK_FALSE(pipeline.Flush().ok());
  CHECK(pipeline.FlushDeadline() == clock.Now() + seconds(4));  // capped
  CHECK(store.Posts() == 0);
  CHECK(pipeline.queued_writes() == 3);

  store.fail = false;
  REQUIRE(pipeline.Flush().ok());
  CHECK(store.calls.back() == std::vector<std::string>{"a:1", "b:1", "a:2"});
  CHECK(store.Posts() == 6);
  CHECK(pipeline.stats().stored == 6);
  CHECK(pipeline.queued_writes() == 0);
  CHECK_FALSE(pipeline.FlushDeadline().has_value());
  auto a = store.GetSource("a");
  REQUIRE(a.ok());
  CHECK(a->state.cursor.cursor == "2");

  // Success resets the backoff.
  store.fail = true;
  REQUIRE(pipeline.Submit(Write("c", "1", 1)).ok());
  CHECK_FALSE(pipeline.Flush().ok());
  CHECK(pipeline.FlushDeadline() == clock.Now() + seconds(1));
}

TEST_CASE("duplicates are counted, not stored twice", "[pipeline]") {
  FakeClock clock;
  RecordingStore store;
  Pipeline pipeline(store, clock);
  REQUIRE(pipeline.Submit(Write("a", "1", 3)).ok());
  REQUIRE(pipeline.Flush().ok());
  REQUIRE(pipeline.Submit(Write("a", "1", 3)).ok());
  REQUIRE(pipeline.Flush().ok());
  CHECK(pipeline.stats().stored == 3);
  CHECK(pipeline.stats().duplicates == 3);
  CHECK(store.Posts() == 3);
}

class DropSpam final : public PipelineStage {
 public:
  Status Process(SourceWrite& write) override {
    std::erase_if(write.posts, [](const Post& p) {
      // Sees normalised posts: the uid is already filled in.
      return p.uid.empty() || p.text.find("spam") != std::string::npos;
    });
    return Status::Ok();
  }
};

TEST_CASE("stages run after normalisation and may drop posts", "[pipeline]") {
  FakeClock clock;
  RecordingStore store;
  Pipeline pipeline(store, clock);
  pipeline.AddStage(std::make_unique<DropSpam>());
  SourceWrite write;
  write.source = "s";
  write.posts = {MakePost("1", "a real story"), MakePost("2", "buy spam now")};
  REQUIRE(pipeline.Submit(write).ok());
  REQUIRE(pipeline.Flush().ok());
  CHECK(store.Posts() == 1);
}

TEST_CASE("the pipeline reports saturation above max_queued_rows", "[pipeline]") {
  FakeClock clock;
  RecordingStore store;
  store.fail = true;
  BatchOptions options{.max_rows = 2};
  options.max_queued_rows = 5;
  Pipeline pipeline(store, clock, options);
  (void)pipeline.Submit(Write("a", "1", 3));
  CHECK_FALSE(pipeline.Saturated());
  (void)pipeline.Submit(Write("a", "2", 3));
  CHECK(pipeline.Saturated());
  store.fail = false;
  REQUIRE(pipeline.Flush().ok());
  CHECK_FALSE(pipeline.Saturated());
}

TEST_CASE("Post::ref survives the pipeline and the store", "[pipeline]") {
  FakeClock clock;
  RecordingStore store;
  Pipeline pipeline(store, clock);
  pipeline.AddStage(std::make_unique<DropSpam>());
  SourceWrite write;
  write.source = "s";
  Post post = MakePost("1", "a real story");
  post.ref = "cid:bafyrei\u00e9 root:at://did:plc:x/app.bsky.feed.post/3k";
  post.conversation = "root-1";
  write.posts = {post};
  REQUIRE(pipeline.Submit(write).ok());
  REQUIRE(pipeline.Flush().ok());
  auto found = store.FindPost("test", "1");
  REQUIRE(found.ok());
  REQUIRE(found->has_value());
  CHECK((*found)->post.ref == post.ref);
  CHECK((*found)->post.conversation == "root-1");
}

TEST_CASE("deletions and watch updates pass the stages and commit with their write", "[pipeline]") {
  FakeClock clock;
  RecordingStore store;
  Pipeline pipeline(store, clock);
  pipeline.AddStage(std::make_unique<DropSpam>());
  REQUIRE(pipeline.Submit(Write("s", "1", 2)).ok());
  REQUIRE(pipeline.Flush().ok());

  SourceWrite write = Write("s", "2", 0);
  write.posts = {MakePost("spam", "buy spam now")};  // dropped by the stage
  write.deletions = {PostDeletion{"test", "s-1-0", "deleted by its author", clock.Now()},
                     PostDeletion{"test", "spam", "never stored", clock.Now()}};
  REQUIRE(pipeline.Submit(write).ok());
  store.fail = true;
  CHECK_FALSE(pipeline.Flush().ok());
  CHECK(pipeline.stats().deleted == 0);
  store.fail = false;
  REQUIRE(pipeline.Flush().ok());
  CHECK(pipeline.stats().deleted == 1);
  CHECK(pipeline.stats().deletions_ignored == 1);
  auto gone = store.FindPost("test", "s-1-0");
  REQUIRE(gone.ok());
  REQUIRE(gone->has_value());
  CHECK((*gone)->deleted_at == clock.Now());
  CHECK((*gone)->post.text.empty());
  CHECK(store.GetSource("s")->state.cursor.cursor == "2");
}

}  // namespace
}  // namespace earshot
