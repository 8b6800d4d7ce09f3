// Restarts: a second `once` resumes from the stored cursor (Mastodon min_id,
// feed conditional GET); `earshot run` finishes its pages on SIGTERM/SIGINT;
// a SIGKILL at any moment neither loses nor duplicates a post.
#include <signal.h>

#include <algorithm>
#include <catch2/catch.hpp>

#include "tests/integration/harness.h"

namespace earshot::integration {
namespace {

using earshot::testing::ChildProcess;
using earshot::testing::Describe;

const std::string kTimeline = "/api/v1/timelines/tag/nhs";

std::vector<std::string> NewestFirst(int first, int last) {
  std::vector<std::string> ids;
  for (int i = last; i >= first; --i) ids.push_back(StatusId(i));
  return ids;
}

std::vector<std::string> SortedIds(int first, int last) {
  std::vector<std::string> ids = NewestFirst(first, last);
  std::sort(ids.begin(), ids.end());
  return ids;
}

// A timeline that answers like a real instance: without a cursor the newest
// `limit` statuses; with min_id the `limit` statuses just above it.
FixtureRoute TimelinePage(const std::string& query, int first, int last) {
  return JsonRoute(kTimeline + query,
                   first > last ? "[]" : MastodonTimeline(NewestFirst(first, last)));
}

const char* const kMastodonAndFeed = R"(
[[source]]
name = "mastodon-nhs"
connector = "mastodon"
url = "{{base}}"
tag = "nhs"
interval = "1m"

[[source]]
name = "blog"
connector = "feed"
url = "{{base}}/feeds/blog.rss"
interval = "1m"
)";

TEST_CASE("once resumes from the stored cursor: min_id and conditional GET", "[integration]") {
  FixtureRoute feed =
      RssRoute("/feeds/blog.rss", RssFeed("Blog", FeedItems("blog", 1, 3)), "blog-v1");
  feed.headers.emplace_back("Last-Modified", "Sat, 21 Nov 2026 09:00:00 GMT");
  Sandbox box({
      TimelinePage("?limit=40", 1, 3),
      TimelinePage("?limit=40&min_id=" + StatusId(3), 4, 5),
      TimelinePage("?limit=40&min_id=" + StatusId(5), 1, 0),
      feed,
  });
  box.WriteConfig(kMastodonAndFeed);

  ProcessResult first = box.Earshot({"once"});
  INFO(Describe(first));
  REQUIRE(first.exit_code == 0);
  CHECK(first.out.find("6 new post(s)") != std::string::npos);
  {
    auto store = box.OpenStore();
    CHECK(SourceNamed(*store, "mastodon-nhs").state.cursor.cursor == StatusId(3));
    CHECK(SourceNamed(*store, "blog").state.cursor.etag == "\"blog-v1\"");
  }

  // Not due yet (interval 1m): a plain `once` polls nothing.
  ProcessResult idle = box.Earshot({"once"});
  INFO(Describe(idle));
  REQUIRE(idle.exit_code == 0);
  CHECK(idle.out.find("polled 0 source(s)") != std::string::npos);
  CHECK(box.server().Requests().size() == 2);

  ProcessResult second = box.Earshot({"once", "--force"});
  INFO(Describe(second));
  REQUIRE(second.exit_code == 0);
  CHECK(second.out.find("polled 2 source(s)") != std::string::npos);
  CHECK(second.out.find("1 not modified") != std::string::npos);
  CHECK(second.out.find("2 new post(s), 0 already stored") != std::string::npos);

  auto timeline = RequestsTo(box.server(), kTimeline);
  REQUIRE(timeline.size() == 2);
  CHECK(timeline[0].target == kTimeline + "?limit=40");
  CHECK(timeline[1].target == kTimeline + "?limit=40&min_id=" + StatusId(3));
  auto feeds = RequestsTo(box.server(), "/feeds/blog.rss");
  REQUIRE(feeds.size() == 2);
  CHECK(HeaderOf(feeds[0], "If-None-Match").empty());
  CHECK(HeaderOf(feeds[1], "If-None-Match") == "\"blog-v1\"");
  CHECK(HeaderOf(feeds[1], "If-Modified-Since") == "Sat, 21 Nov 2026 09:00:00 GMT");

  // Third pass: caught up everywhere, nothing stored twice.
  ProcessResult third = box.Earshot({"once", "--force"});
  INFO(Describe(third));
  REQUIRE(third.exit_code == 0);
  CHECK(third.out.find("0 new post(s), 0 already stored") != std::string::npos);
  timeline = RequestsTo(box.server(), kTimeline);
  REQUIRE(timeline.size() == 3);
  CHECK(timeline[2].target == kTimeline + "?limit=40&min_id=" + StatusId(5));

  auto store = box.OpenStore();
  CHECK(store->CountPosts().value() == 8);
  CHECK(PostIds(*store, "mastodon-nhs") == SortedIds(1, 5));
  CHECK(PostIds(*store, "blog") == std::vector<std::string>{"blog-1", "blog-2", "blog-3"});
  const SourceRecord m = SourceNamed(*store, "mastodon-nhs");
  CHECK(m.state.cursor.cursor == StatusId(5));
  CHECK(m.state.posts_total == 5);
  CHECK(SourceNamed(*store, "blog").state.health == SourceHealth::kOk);
}

TEST_CASE("run: SIGTERM or SIGINT finishes the page in flight, commits and exits 0",
          "[integration]") {
  const int signal = GENERATE(SIGTERM, SIGINT);
  INFO("signal " << signal);
  // The timeline answers after 700 ms: it is in flight when the signal comes.
  FixtureRoute slow_page = TimelinePage("?limit=40", 1, 3);
  slow_page.delay = std::chrono::milliseconds(700);
  Sandbox box({slow_page, TimelinePage("?limit=40&min_id=" + StatusId(3), 1, 0),
               RssRoute("/feeds/blog.rss", RssFeed("Blog", FeedItems("blog", 1, 3)), "v1")});
  box.WriteConfig(kMastodonAndFeed);

  ProcessOptions options;
  options.cwd = box.dir();
  std::string error;
  auto child = ChildProcess::Start(box.EarshotArgs({"run"}), options, &error);
  REQUIRE(child != nullptr);
  REQUIRE(box.server().WaitForRequests(2, std::chrono::seconds(10)));
  REQUIRE(child->Signal(signal));
  const auto result = child->Wait(std::chrono::seconds(10));
  REQUIRE(result.has_value());
  INFO(Describe(*result));
  CHECK(result->exit_code == 0);
  CHECK(result->err.find("finishing the pages in flight") != std::string::npos);
  CHECK(result->out.find("6 new post(s)") != std::string::npos);
  CHECK(box.server().Requests().size() == 2);  // nothing started after the signal

  auto store = box.OpenStore();
  CHECK(store->CountPosts().value() == 6);
  CHECK(PostIds(*store, "mastodon-nhs") == SortedIds(1, 3));
  CHECK(SourceNamed(*store, "mastodon-nhs").state.cursor.cursor == StatusId(3));
}

// Sixteen statuses, four per page: the first poll takes the newest page
// (1..4, no history crawl); a later poll pages 5..8, 9..12, 13..16.
std::vector<FixtureRoute> PagedTimeline(int delayed_page) {
  std::vector<FixtureRoute> routes = {TimelinePage("?limit=4", 1, 4)};
  for (int page = 1; page <= 4; ++page) {
    const int cursor = page * 4;
    routes.push_back(
        TimelinePage("?limit=4&min_id=" + StatusId(cursor), cursor + 1, std::min(cursor + 4, 16)));
    if (page == delayed_page) routes.back().delay = std::chrono::seconds(5);
  }
  return routes;
}

TEST_CASE("SIGKILL mid-crawl then once --force loses no post and stores none twice",
          "[integration]") {
  // Where the kill lands. The server holds one page back (in flight) so the
  // moment is known; the batching decides what was committed by then.
  struct KillPoint {
    const char* what;
    const char* store;  // [store] table
    int delayed_page;   // 0: none
    size_t at_request;  // kill once the server has received this many
    int committed;      // posts stored when the kill lands; -1: either way
  };
  const KillPoint point = GENERATE(
      // A commit per page: 5..8 is committed before 9..12 is asked for.
      KillPoint{"9..12 in flight, 5..8 committed", "batch_rows = 1", 2, 3, 8},
      // Pages 5..8 and 9..12 parsed but still queued (a long batch window)
      // when the process dies: neither they nor their cursor were written.
      KillPoint{"5..12 queued in memory, 13..16 in flight",
                "batch_rows = 1000\nbatch_interval = \"10s\"", 3, 4, 4},
      // No page held back: the kill races the commits.
      KillPoint{"racing the commits", "batch_interval = \"1ms\"", 0, 4, -1});
  INFO("kill: " << point.what);
  Sandbox box(PagedTimeline(point.delayed_page));
  box.WriteConfig(std::string("[store]\n") + point.store + R"(

[[source]]
name = "paged"
connector = "mastodon"
url = "{{base}}"
tag = "nhs"
limit = 4
interval = "1m"
)");
  ProcessResult first = box.Earshot({"once"});
  INFO(Describe(first));
  REQUIRE(first.exit_code == 0);
  REQUIRE(box.server().Requests().size() == 1);

  ProcessOptions options;
  options.cwd = box.dir();
  auto child = ChildProcess::Start(box.EarshotArgs({"once", "--force"}), options);
  REQUIRE(child != nullptr);
  REQUIRE(box.server().WaitForRequests(point.at_request, std::chrono::seconds(10)));
  REQUIRE(child->Signal(SIGKILL));
  const auto killed = child->Wait(std::chrono::seconds(10));
  REQUIRE(killed.has_value());
  CHECK(killed->term_signal == SIGKILL);

  // What the crash left: a consistent prefix (cursor == newest stored post).
  std::string cursor_after_kill;
  {
    auto store = box.OpenStore();
    REQUIRE(store->CheckIntegrity().ok());
    const SourceRecord r = SourceNamed(*store, "paged");
    const std::vector<std::string> ids = PostIds(*store, "paged");
    REQUIRE(!ids.empty());
    if (point.committed >= 0) CHECK(ids.size() == static_cast<size_t>(point.committed));
    CHECK(ids == SortedIds(1, static_cast<int>(ids.size())));
    CHECK(r.state.cursor.cursor == ids.back());
    CHECK(r.state.posts_total == static_cast<int64_t>(ids.size()));
    cursor_after_kill = r.state.cursor.cursor;
  }

  box.server().SetRoutes(PagedTimeline(0));
  const size_t requests_before = box.server().Requests().size();
  ProcessResult rerun = box.Earshot({"once", "--force"});
  INFO(Describe(rerun));
  REQUIRE(rerun.exit_code == 0);
  // It resumes from the stored cursor ...
  const auto requests = box.server().Requests();
  REQUIRE(requests.size() > requests_before);
  CHECK(requests[requests_before].target == kTimeline + "?limit=4&min_id=" + cursor_after_kill);
  // ... and had posts been committed without their cursor, they would come
  // again as duplicates.
  CHECK(rerun.out.find(" 0 already stored") != std::string::npos);

  auto store = box.OpenStore();
  CHECK(store->CountPosts().value() == 16);
  CHECK(PostIds(*store, "paged") == SortedIds(1, 16));
  const SourceRecord r = SourceNamed(*store, "paged");
  CHECK(r.state.cursor.cursor == StatusId(16));
  CHECK(r.state.posts_total == 16);
  CHECK(r.state.health == SourceHealth::kOk);
  CHECK(store->CheckIntegrity().ok());
}

}  // namespace
}  // namespace earshot::integration
