// The discourse connector: listing cursor (newest id, walking back with
// `before`), posts and deletions, the conversation and reply capabilities and
// the rate-limit dialect, on our own fixtures (tests/fixtures/discourse,
// hostile ones included), on bodies generated here, and on every shared
// recording (read in place, never copied).
#include "connectors/discourse/discourse.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "connectors/registry.h"
#include "crawler/core/text.h"
#include "crawler/core/time_format.h"
#include "crawler/core/url.h"
#include "tests/support/fixtures.h"

namespace earshot {
namespace {

using connector_discourse::Descriptor;

constexpr char kForum[] = "https://forum.example.org";

SourceSpec Source(std::string url = kForum) {
  SourceSpec source;
  source.name = "riverside-forum";
  source.connector = "discourse";
  source.url = std::move(url);
  return source;
}

SourceSpec Account() {
  SourceSpec account = Source();
  account.name = "riverside-account";
  account.options["api_key"] = std::string("key-0123456789abcdef");
  account.options["api_username"] = std::string("riverside_nhs");
  return account;
}

std::string Own(const std::string& name) {
  return testing::ReadFile(testing::OwnFixture("discourse/" + name));
}

HttpResponse Response(std::string body, std::string url = std::string(kForum) + "/posts.json",
                      int status = 200) {
  HttpResponse r;
  r.status = status;
  r.url = std::move(url);
  r.body = std::move(body);
  return r;
}

Page ParseOk(const HttpResponse& response, const std::string& cursor = "",
             const SourceSpec& source = Source()) {
  SourceCursor c;
  c.cursor = cursor;
  auto page = Descriptor().parse(source, c, response);
  INFO(page.status().ToString());
  REQUIRE(page.ok());
  return std::move(page).value();
}

Status ParseFails(const HttpResponse& response) {
  auto page = Descriptor().parse(Source(), SourceCursor{}, response);
  REQUIRE_FALSE(page.ok());
  return page.status();
}

std::vector<std::string> Ids(const Page& page) {
  std::vector<std::string> ids;
  for (const Post& p : page.posts) ids.push_back(p.id);
  return ids;
}

const Post& PostWithId(const Page& page, const std::string& id) {
  auto it =
      std::find_if(page.posts.begin(), page.posts.end(), [&](const Post& p) { return p.id == id; });
  REQUIRE(it != page.posts.end());
  return *it;
}

// A /posts.json answer holding posts `ids` (newest first), all in topic 1.
std::string LatestBody(const std::vector<int>& ids) {
  std::string body = R"({"latest_posts":[)";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) body += ",";
    std::string id = std::to_string(ids[i]);
    body += R"({"id":)" + id + R"(,"topic_id":1,"post_number":)" + id +
            R"(,"post_type":1,"username":"u)" + id + R"(","cooked":"<p>post )" + id +
            R"(</p>","created_at":"2026-03-01T10:00:00Z"})";
  }
  return body + "]}";
}

std::vector<int> Range(int newest, int oldest) {
  std::vector<int> ids;
  for (int i = newest; i >= oldest; --i) ids.push_back(i);
  return ids;
}

std::vector<std::string> IdStrings(int newest, int oldest) {
  std::vector<std::string> ids;
  for (int i = newest; i >= oldest; --i) ids.push_back(std::to_string(i));
  return ids;
}

Post StoredPost(std::string id, std::string ref, std::string conversation = "") {
  Post p;
  p.platform = "discourse";
  p.id = std::move(id);
  p.uid = "forum.example.org/p/" + p.id;
  p.ref = std::move(ref);
  p.conversation = std::move(conversation);
  return p;
}

// ---------------------------------------------------------------------------

TEST_CASE("discourse: descriptor, keys and registry entry", "[discourse]") {
  const ConnectorDescriptor& d = Descriptor();
  CHECK(d.name == "discourse");
  CHECK(FindConnector("discourse") == &d);
  REQUIRE(d.keys.size() == 2);
  CHECK(d.keys[0].name == "api_key");
  CHECK(d.keys[0].secret);
  CHECK(d.keys[1].name == "api_username");
  CHECK_FALSE(d.keys[1].secret);
  for (const ConfigKeySpec& k : d.keys) CHECK(!k.doc.empty());
  CHECK(d.auth == nullptr);
  REQUIRE(d.conversation != nullptr);
  REQUIRE(d.reply != nullptr);
  CHECK(d.reply->max_length == 32000);
}

TEST_CASE("discourse: next_request for the newest page and for a walk", "[discourse]") {
  SECTION("first poll: the newest page, no credentials unless configured") {
    auto r = Descriptor().next_request(Source(), SourceCursor{});
    REQUIRE(r.ok());
    CHECK(r->method == "GET");
    CHECK(r->url == "https://forum.example.org/posts.json");
    CHECK(r->headers.Get("Accept") == "application/json");
    CHECK_FALSE(r->headers.Get("Api-Key").has_value());
    CHECK_FALSE(r->headers.Get("Api-Username").has_value());
  }
  SECTION("api key and username become headers") {
    SourceSpec s = Account();
    auto r = Descriptor().next_request(s, SourceCursor{});
    REQUIRE(r.ok());
    CHECK(r->headers.Get("Api-Key") == "key-0123456789abcdef");
    CHECK(r->headers.Get("Api-Username") == "riverside_nhs");
  }
  SECTION("idle cursor: newest page, conditional headers from the stored validators") {
    SourceCursor c{.cursor = "120", .etag = "W/\"abc\"", .last_modified = "Mon, 02 Mar 2026"};
    auto r = Descriptor().next_request(Source(), c);
    REQUIRE(r.ok());
    CHECK(r->url == "https://forum.example.org/posts.json");
    CHECK(r->headers.Get("If-None-Match") == "W/\"abc\"");
    CHECK(r->headers.Get("If-Modified-Since") == "Mon, 02 Mar 2026");
  }
  SECTION("walking cursor: before=, and no validators of another page") {
    SourceCursor c{.cursor = "300;before=251;stop=120", .etag = "W/\"abc\""};
    auto r = Descriptor().next_request(Source(), c);
    REQUIRE(r.ok());
    CHECK(r->url == "https://forum.example.org/posts.json?before=251");
    CHECK_FALSE(r->headers.Get("If-None-Match").has_value());
  }
  SECTION("a forum in a subfolder, trailing slashes") {
    auto r = Descriptor().next_request(Source("https://example.org/community/"), SourceCursor{});
    REQUIRE(r.ok());
    CHECK(r->url == "https://example.org/community/posts.json");
  }
  SECTION("an unreadable cursor starts again from the newest page") {
    for (std::string bad : {"abc", "12;before=x;stop=3", "12;before=5;stop=9", "-4", "12;"}) {
      INFO(bad);
      auto r = Descriptor().next_request(Source(), SourceCursor{.cursor = bad});
      REQUIRE(r.ok());
      CHECK(r->url == "https://forum.example.org/posts.json");
    }
  }
  SECTION("no url or an unusable one cannot be polled") {
    for (std::string url : {"", "   ", "not a url"}) {
      INFO(url);
      auto r = Descriptor().next_request(Source(url), SourceCursor{});
      REQUIRE_FALSE(r.ok());
      CHECK(r.status().code() == StatusCode::kInvalidArgument);
      CHECK(r.status().message().find("riverside-forum") != std::string::npos);
    }
  }
}

TEST_CASE("discourse: posts of our own /posts.json page", "[discourse]") {
  Page page = ParseOk(Response(Own("latest_posts.json")));
  CHECK(Ids(page) == std::vector<std::string>{"120", "119", "114", "113"});
  CHECK(page.skipped_items == 0);
  CHECK(page.caught_up);
  CHECK(page.next_cursor == "120");

  const Post& reply = PostWithId(page, "120");
  CHECK(reply.platform == "discourse");
  CHECK(reply.uid == "forum.example.org/p/120");
  CHECK(reply.url == "https://forum.example.org/t/waiting-times-at-riverside-walk-in-centre/501/3");
  CHECK(reply.title.empty());  // only the opening post carries the topic's title
  CHECK(reply.author_handle == "@priya_s");
  CHECK(reply.author_name == "Priya Shah");
  CHECK(reply.text ==
        "Replying to @tomw: the wait at the walk-in centre was 4 hours & nobody told us why.");
  REQUIRE(reply.created_at.has_value());
  CHECK(FormatRfc3339(*reply.created_at) == "2026-03-02T09:15:00.120Z");
  CHECK(reply.conversation == "501");
  CHECK(reply.ref == "501/3");
  CHECK(reply.reply_to == "119");  // post number 2 of topic 501, on the same page

  const Post& string_id = PostWithId(page, "119");
  CHECK(string_id.author_name == "Tom W");  // display_username when name is null
  CHECK(string_id.text == "Same here last Tuesday.\n\nStaff were lovely though.");
  CHECK(string_id.reply_to.empty());

  const Post& opener = PostWithId(page, "114");
  CHECK(opener.title == "Café hours & night shifts");
  CHECK(opener.text == "Café in the atrium closes at 6 — “not ideal” for night shifts.");
  CHECK(opener.url == "https://forum.example.org/t/%E5%8C%BB%E9%99%A2-cafe/498/1");
  CHECK(FormatRfc3339(*opener.created_at) == "2026-03-01T21:05:00Z");
  CHECK(opener.author_name == "Jo Ng");

  const Post& undated = PostWithId(page, "113");
  CHECK_FALSE(undated.created_at.has_value());
  CHECK(undated.url == "https://forum.example.org/t/497/1");  // unsafe slug left out
  CHECK(undated.author_name.empty());
  bool warned = std::any_of(page.warnings.begin(), page.warnings.end(), [](const std::string& w) {
    return w.find("/latest_posts/7 (id 113): created_at") != std::string::npos;
  });
  CHECK(warned);

  // Gone posts are deletions, never posts; the whisper (post_type 4) is neither.
  REQUIRE(page.deletions.size() == 3);
  CHECK(page.deletions[0].uid == "forum.example.org/p/118");
  CHECK(page.deletions[0].reason == "deleted by its author");
  CHECK(page.deletions[1].uid == "forum.example.org/p/116");
  CHECK(page.deletions[1].reason == "hidden by moderators after flags");
  CHECK(page.deletions[2].uid == "forum.example.org/p/115");
  CHECK(page.deletions[2].reason == "deleted");
}

TEST_CASE("discourse: the listing cursor walks back to the newest stored post", "[discourse]") {
  SECTION("first poll: one page, cursor = its newest id, caught up") {
    Page page = ParseOk(Response(LatestBody(Range(150, 101))));
    CHECK(page.posts.size() == 50);
    CHECK(page.next_cursor == "150");
    CHECK(page.caught_up);
  }
  SECTION("nothing new: no posts, cursor unchanged") {
    Page page = ParseOk(Response(LatestBody(Range(150, 101))), "150");
    CHECK(page.posts.empty());
    CHECK(page.next_cursor == "150");
    CHECK(page.caught_up);
  }
  SECTION("a few new posts: only those, caught up at once") {
    Page page = ParseOk(Response(LatestBody(Range(155, 106))), "150");
    CHECK(Ids(page) == IdStrings(155, 151));
    CHECK(page.next_cursor == "155");
    CHECK(page.caught_up);
  }
  SECTION("a busy spell: walk back page by page until the stored id") {
    // Stored up to 100; 230 posts since. Page 1 newest 330..281.
    Page p1 = ParseOk(Response(LatestBody(Range(330, 281))), "100");
    CHECK(Ids(p1) == IdStrings(330, 281));
    CHECK_FALSE(p1.caught_up);
    CHECK(p1.next_cursor == "330;before=281;stop=100");

    auto r2 = Descriptor().next_request(Source(), SourceCursor{.cursor = p1.next_cursor});
    REQUIRE(r2.ok());
    CHECK(r2->url == "https://forum.example.org/posts.json?before=281");
    Page p2 = ParseOk(Response(LatestBody(Range(280, 231)), r2->url), p1.next_cursor);
    CHECK(Ids(p2) == IdStrings(280, 231));
    CHECK_FALSE(p2.caught_up);
    CHECK(p2.next_cursor == "330;before=231;stop=100");

    // The last page reaches below the stored id: only the unseen ones, done.
    Page p3 = ParseOk(Response(LatestBody(Range(120, 71))), "330;before=121;stop=100");
    CHECK(Ids(p3) == IdStrings(120, 101));
    CHECK(p3.caught_up);
    CHECK(p3.next_cursor == "330");
  }
  SECTION("ids that are not consecutive (private messages, deleted posts) still end the walk") {
    Page page = ParseOk(Response(LatestBody({240, 230, 190, 101})), "330;before=241;stop=100");
    CHECK(page.caught_up);
    CHECK(page.next_cursor == "330");
  }
  SECTION("an inclusive before= (older servers) does not post the boundary twice") {
    Page page = ParseOk(Response(LatestBody(Range(281, 232))), "330;before=281;stop=100");
    CHECK(Ids(page) == IdStrings(280, 232));
    CHECK(page.next_cursor == "330;before=232;stop=100");
  }
  SECTION("an empty page ends a walk (the start of the forum)") {
    Page page = ParseOk(Response(LatestBody({})), "330;before=5;stop=0");
    CHECK(page.posts.empty());
    CHECK(page.caught_up);
    CHECK(page.next_cursor == "330");
  }
  SECTION("an empty forum keeps the cursor") {
    Page page = ParseOk(Response(LatestBody({})));
    CHECK(page.next_cursor.empty());
    CHECK(page.caught_up);
  }
  SECTION("a server that ignores before= does not loop") {
    Page page = ParseOk(Response(LatestBody(Range(330, 281))), "330;before=281;stop=100");
    CHECK(page.caught_up);
    CHECK(page.next_cursor == "330");
    CHECK(page.posts.empty());
    REQUIRE(!page.warnings.empty());
    CHECK(page.warnings[0].find("ignored before=281") != std::string::npos);
  }
  SECTION("deletions are reported even for posts stored long ago") {
    std::string body =
        R"({"latest_posts":[{"id":90,"topic_id":1,"post_number":3,"cooked":"<p>(post deleted by author)</p>","user_deleted":true}]})";
    Page page = ParseOk(Response(body), "150");
    CHECK(page.posts.empty());
    REQUIRE(page.deletions.size() == 1);
    CHECK(page.deletions[0].uid == "forum.example.org/p/90");
  }
}

TEST_CASE("discourse: rate-limit dialect", "[discourse]") {
  SECTION("429 with Date and extras.wait_seconds") {
    HttpResponse r = Response(Own("error_rate_limit.json"), kForum, 429);
    r.headers.Add("Date", "Mon, 02 Mar 2026 10:00:00 GMT");
    r.headers.Add("Retry-After", "23");
    r.headers.Add("Discourse-Rate-Limit-Error-Code", "ip_10_secs_limit");
    RateLimitInfo info = Descriptor().read_rate_limit(r);
    REQUIRE(info.retry_at.has_value());
    CHECK(FormatRfc3339(*info.retry_at) == "2026-03-02T10:00:23Z");
    CHECK(info.remaining == 0);
    CHECK(info.reset == info.retry_at);
  }
  SECTION("without a Date there is no clock to anchor wait_seconds: the engine's Retry-After") {
    HttpResponse r = Response(Own("error_rate_limit.json"), kForum, 429);
    r.headers.Add("Retry-After", "23");
    CHECK(Descriptor().read_rate_limit(r).empty());
  }
  SECTION("a plain-text 429 (the per-IP limiter) and ordinary pages give nothing extra") {
    HttpResponse plain = Response(Own("rate_limit_plain.txt"), kForum, 429);
    plain.headers.Add("Date", "Mon, 02 Mar 2026 10:00:00 GMT");
    CHECK(Descriptor().read_rate_limit(plain).empty());
    HttpResponse ok = Response(LatestBody({1}));
    ok.headers.Add("Date", "Mon, 02 Mar 2026 10:00:00 GMT");
    CHECK(Descriptor().read_rate_limit(ok).empty());
  }
  SECTION("a huge wait is capped at a day") {
    HttpResponse r = Response(R"({"extras":{"wait_seconds":999999999999}})", kForum, 429);
    r.headers.Add("Date", "Mon, 02 Mar 2026 10:00:00 GMT");
    RateLimitInfo info = Descriptor().read_rate_limit(r);
    REQUIRE(info.retry_at.has_value());
    CHECK(FormatRfc3339(*info.retry_at) == "2026-03-03T10:00:00Z");
  }
}

// ---------------------------------------------------------------------------
// Conversation

TEST_CASE("discourse: conversation request for a stored post", "[discourse]") {
  const ConversationCapability& conv = *Descriptor().conversation;
  Post post = StoredPost("905", "77/3", "77");
  auto first = conv.request(Source(), post, "");
  REQUIRE(first.ok());
  CHECK(first->url == "https://forum.example.org/t/77.json");
  CHECK(first->headers.Get("Accept") == "application/json");
  auto second = conv.request(Account(), post, "2");
  REQUIRE(second.ok());
  CHECK(second->url == "https://forum.example.org/t/77.json?page=2");
  CHECK(second->headers.Get("Api-Key") == "key-0123456789abcdef");

  SECTION("the conversation stands in for a missing ref") {
    auto r = conv.request(Source(), StoredPost("905", "", "77"), "");
    REQUIRE(r.ok());
    CHECK(r->url == "https://forum.example.org/t/77.json");
  }
  SECTION("no topic or a bad cursor is a request that cannot be built") {
    auto none = conv.request(Source(), StoredPost("905", "", ""), "");
    REQUIRE_FALSE(none.ok());
    CHECK(none.status().code() == StatusCode::kInvalidArgument);
    auto bad = conv.request(Source(), post, "two");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().code() == StatusCode::kInvalidArgument);
  }
}

TEST_CASE("discourse: conversation pages, deletions and a topic gone", "[discourse]") {
  const ConversationCapability& conv = *Descriptor().conversation;
  Post post = StoredPost("905", "77/3", "77");

  SECTION("first page: posts with threading, deletions, and the next page") {
    auto page = conv.parse(Source(), post,
                           Response(Own("topic_page1.json"), std::string(kForum) + "/t/77.json"));
    INFO(page.status().ToString());
    REQUIRE(page.ok());
    CHECK(Ids(*page) == std::vector<std::string>{"900", "905", "907", "909", "910"});
    const Post& op = PostWithId(*page, "900");
    CHECK(op.title == "Discharged without a medication list");
    CHECK(op.url == "https://forum.example.org/t/discharged-without-a-medication-list/77/1");
    CHECK(op.conversation == "77");
    CHECK(op.reply_to.empty());
    CHECK(PostWithId(*page, "905").reply_to == "900");
    CHECK(PostWithId(*page, "907").reply_to == "905");
    CHECK(PostWithId(*page, "909").reply_to == "908");  // the deleted post keeps its place
    CHECK(PostWithId(*page, "910").reply_to.empty());   // post 30 is on another page
    REQUIRE(page->deletions.size() == 1);
    CHECK(page->deletions[0].uid == "forum.example.org/p/908");
    CHECK(page->next_cursor == "2");
    CHECK_FALSE(page->caught_up);
  }
  SECTION("page 2 of 3 asks for page 3; page 3 is the last") {
    auto p2 =
        conv.parse(Source(), post,
                   Response(Own("topic_page1.json"), std::string(kForum) + "/t/77.json?page=2"));
    REQUIRE(p2.ok());
    CHECK(p2->next_cursor == "3");
    auto p3 =
        conv.parse(Source(), post,
                   Response(Own("topic_page1.json"), std::string(kForum) + "/t/77.json?page=3"));
    REQUIRE(p3.ok());
    CHECK(p3->next_cursor.empty());
    CHECK(p3->caught_up);
  }
  SECTION("an answer without a stream (a later page of an old forum) is the end") {
    auto page =
        conv.parse(Source(), post,
                   Response(Own("topic_page3.json"), std::string(kForum) + "/t/77.json?page=3"));
    REQUIRE(page.ok());
    CHECK(Ids(*page) == std::vector<std::string>{"945"});
    CHECK(PostWithId(*page, "945").url == "https://forum.example.org/t/77/42");
    CHECK(page->caught_up);
  }
  SECTION("a deleted topic: every post it shows is a deletion") {
    auto page = conv.parse(Source(), StoredPost("600", "60/1"),
                           Response(Own("topic_deleted.json"), std::string(kForum) + "/t/60.json"));
    REQUIRE(page.ok());
    CHECK(page->posts.empty());
    REQUIRE(page->deletions.size() == 1);
    CHECK(page->deletions[0].reason == "topic deleted");
  }
  SECTION("404 and 410: the stored post is gone") {
    for (int status : {404, 410}) {
      auto page = conv.parse(Source(), post,
                             Response(R"({"errors":["not found"],"error_type":"not_found"})",
                                      std::string(kForum) + "/t/77.json", status));
      REQUIRE(page.ok());
      CHECK(page->posts.empty());
      REQUIRE(page->deletions.size() == 1);
      CHECK(page->deletions[0].uid == "forum.example.org/p/905");
      CHECK(page->deletions[0].reason == "not found on re-fetch");
    }
  }
  SECTION("403 (a topic made private) and 5xx are errors, not deletions") {
    auto denied = conv.parse(
        Source(), post,
        Response(Own("error_invalid_access.json"), std::string(kForum) + "/t/77.json", 403));
    REQUIRE_FALSE(denied.ok());
    CHECK(denied.status().code() == StatusCode::kPermissionDenied);
    CHECK(denied.status().message().find("not permitted") != std::string::npos);
    auto down = conv.parse(
        Source(), post,
        Response("<html>502 Bad Gateway</html>", std::string(kForum) + "/t/77.json", 502));
    REQUIRE_FALSE(down.ok());
    CHECK(down.status().code() == StatusCode::kUnavailable);
  }
  SECTION("an unreadable 2xx is a parse error naming the URL") {
    auto page =
        conv.parse(Source(), post,
                   Response(R"({"post_stream":{"posts":{}}})", std::string(kForum) + "/t/77.json"));
    REQUIRE_FALSE(page.ok());
    CHECK(page.status().code() == StatusCode::kParseError);
    CHECK(page.status().message().find("https://forum.example.org/t/77.json") != std::string::npos);
    CHECK(page.status().message().find("/post_stream/posts") != std::string::npos);
  }
}

// ---------------------------------------------------------------------------
// Reply

TEST_CASE("discourse: reply request", "[discourse]") {
  const ReplyCapability& reply = *Descriptor().reply;
  ReplyDraft draft{.body = "Sorry to hear about the wait & the lack of news.\nPlease call PALS.",
                   .idempotency_key = "reply-17"};
  SECTION("a reply to a post in a topic") {
    auto r = reply.request(Account(), nullptr, StoredPost("120", "501/3", "501"), draft);
    REQUIRE(r.ok());
    CHECK(r->method == "POST");
    CHECK(r->url == "https://forum.example.org/posts.json");
    CHECK(r->headers.Get("Api-Key") == "key-0123456789abcdef");
    CHECK(r->headers.Get("Api-Username") == "riverside_nhs");
    CHECK(r->headers.Get("Content-Type") == "application/x-www-form-urlencoded");
    CHECK(r->body == "topic_id=501&raw=" + UrlEncode(draft.body) + "&reply_to_post_number=3");
    CHECK(r->body.find('\n') == std::string::npos);
    CHECK(r->body.find("reply-17") == std::string::npos);  // Discourse has no idempotency key
  }
  SECTION("answering the opening post answers the topic") {
    auto r = reply.request(Account(), nullptr, StoredPost("114", "498/1"), draft);
    REQUIRE(r.ok());
    CHECK(r->body == "topic_id=498&raw=" + UrlEncode(draft.body));
  }
  SECTION("without a ref the conversation gives the topic") {
    auto r = reply.request(Account(), nullptr, StoredPost("114", "", "498"), draft);
    REQUIRE(r.ok());
    CHECK(r->body == "topic_id=498&raw=" + UrlEncode(draft.body));
  }
  SECTION("requests that cannot be built") {
    SourceSpec no_key = Source();
    auto keyless = reply.request(no_key, nullptr, StoredPost("120", "501/3"), draft);
    REQUIRE_FALSE(keyless.ok());
    CHECK(keyless.status().code() == StatusCode::kInvalidArgument);
    CHECK(keyless.status().message().find("api_key") != std::string::npos);

    auto no_topic = reply.request(Account(), nullptr, StoredPost("120", "", ""), draft);
    REQUIRE_FALSE(no_topic.ok());
    CHECK(no_topic.status().code() == StatusCode::kInvalidArgument);

    auto empty =
        reply.request(Account(), nullptr, StoredPost("120", "501/3"), ReplyDraft{.body = " \n "});
    REQUIRE_FALSE(empty.ok());

    std::string long_body;
    for (int i = 0; i < 32001; ++i) long_body += "é";  // code points, not bytes
    auto too_long = reply.request(Account(), nullptr, StoredPost("120", "501/3"),
                                  ReplyDraft{.body = long_body});
    REQUIRE_FALSE(too_long.ok());
    long_body.resize(long_body.size() - 2);
    CHECK(
        reply.request(Account(), nullptr, StoredPost("120", "501/3"), ReplyDraft{.body = long_body})
            .ok());
  }
}

TEST_CASE("discourse: reply answers, failures included", "[discourse]") {
  const ReplyCapability& reply = *Descriptor().reply;
  Post target = StoredPost("120", "501/3", "501");
  const std::string posts_url = std::string(kForum) + "/posts.json";

  SECTION("created: the new post's id, uid and url") {
    auto r = reply.parse(Account(), target, Response(Own("reply_created.json"), posts_url));
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    CHECK(r->id == "1234");
    CHECK(r->uid == "forum.example.org/p/1234");
    CHECK(r->url == "https://forum.example.org/t/waiting-times-at-riverside-walk-in-centre/501/4");
  }
  SECTION("created, in the nested {\"post\":{...}} form") {
    auto r = reply.parse(Account(), target, Response(Own("reply_created_nested.json"), posts_url));
    REQUIRE(r.ok());
    CHECK(r->id == "1235");
    CHECK(r->url == "https://forum.example.org/t/waiting-times-at-riverside-walk-in-centre/501/5");
  }
  SECTION("queued for approval is not 'sent' and must not be resent") {
    auto r = reply.parse(Account(), target, Response(Own("reply_enqueued.json"), posts_url));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kAlreadyExists);
    CHECK(r.status().message().find("approval") != std::string::npos);
  }
  struct Failure {
    int status;
    std::string body;
    StatusCode code;
    std::string mentions;
  };
  const std::vector<Failure> failures = {
      {422, Own("error_invalid_parameters.json"), StatusCode::kInvalidArgument,
       "Body is too similar to what you recently posted (invalid_parameters)"},
      {403, Own("error_invalid_access.json"), StatusCode::kPermissionDenied,
       "The API username or key is invalid."},
      {401, Own("error_not_logged_in.json"), StatusCode::kUnauthenticated,
       "You need to be logged in"},
      {429, Own("error_rate_limit.json"), StatusCode::kRateLimited, "wait 23s"},
      {429, Own("rate_limit_plain.txt"), StatusCode::kRateLimited,
       "Slow down, too many requests from this IP address"},
      {502, "<html><body><h1>502 Bad Gateway</h1></body></html>", StatusCode::kUnavailable,
       "502 Bad Gateway"},
      {200, R"({"errors":["Topic is closed"],"error_type":"invalid_access"})",
       StatusCode::kInvalidArgument, "Topic is closed"},
      {200, "<html>maintenance</html>", StatusCode::kParseError, "may have been published"},
      {201, R"({"success":true})", StatusCode::kParseError, "names no post id"},
      {200, R"({"id":"abc"})", StatusCode::kParseError, "names no post id"},
      {200, R"([1,2])", StatusCode::kParseError, "not an object"},
      {200, "", StatusCode::kParseError, "not JSON"},
  };
  for (const Failure& f : failures) {
    INFO(f.status << " " << f.body);
    auto r = reply.parse(Account(), target, Response(f.body, posts_url, f.status));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == f.code);
    CHECK(r.status().message().find(posts_url) != std::string::npos);
    CHECK(r.status().message().find(f.mentions) != std::string::npos);
    CHECK(r.status().message().find("key-0123456789abcdef") == std::string::npos);
  }
}

// ---------------------------------------------------------------------------
// Hostile bodies

TEST_CASE("discourse: wrong types and missing fields skip the item, never the page",
          "[discourse]") {
  Page wrong = ParseOk(Response(Own("wrong_types.json")));
  CHECK(Ids(wrong) == std::vector<std::string>{"54"});
  const Post& survivor = wrong.posts[0];
  CHECK(survivor.author_handle.empty());
  CHECK(survivor.author_name.empty());
  CHECK_FALSE(survivor.created_at.has_value());
  CHECK(survivor.reply_to.empty());
  CHECK(survivor.url == "https://forum.example.org/t/1/2");
  CHECK(wrong.skipped_items == 11);
  CHECK(wrong.warnings.size() == 11);
  CHECK(wrong.warnings[0] == "/latest_posts/0: not an object");
  CHECK(wrong.warnings[3] == "/latest_posts/3: no usable id");
  CHECK(wrong.warnings[9] == "/latest_posts/9 (id 52): cooked is missing or not a string");
  CHECK(wrong.warnings[10] == "/latest_posts/10 (id 53): post_type is not an integer");

  Page missing = ParseOk(Response(Own("missing_fields.json")));
  CHECK(Ids(missing) == std::vector<std::string>{"63"});
  CHECK(missing.skipped_items == 4);
  CHECK(missing.next_cursor == "63");  // every readable id counts for the cursor
}

TEST_CASE("discourse: unreadable pages are parse errors naming the URL", "[discourse]") {
  const std::string url = std::string(kForum) + "/posts.json?before=40";
  for (const std::string& body :
       {Own("truncated.json"), Own("bigint_id.json"), std::string(""), std::string("[]"),
        std::string("null"), std::string(R"({"latest_posts":{"id":1}})"),
        std::string(R"({"something_else":[]})"), std::string(R"({"post_stream":{"posts":7}})"),
        std::string(2000, '[') + std::string(2000, ']')}) {
    INFO(body.substr(0, 80));
    Status s = ParseFails(Response(body, url));
    CHECK(s.code() == StatusCode::kParseError);
    CHECK(s.message().find(url) != std::string::npos);
  }
  CHECK(ParseFails(Response(R"({"latest_posts":{"id":1}})", url))
            .message()
            .find("/latest_posts: not an array") != std::string::npos);
}

TEST_CASE("discourse: invalid UTF-8 is repaired, not fatal", "[discourse]") {
  Page page = ParseOk(Response(Own("invalid_utf8.json")));
  REQUIRE(page.posts.size() == 2);
  for (const Post& p : page.posts) {
    CHECK(IsValidUtf8(p.text));
    CHECK(IsValidUtf8(p.author_handle));
  }
  CHECK(page.posts[1].text.find("\xEF\xBF\xBD") != std::string::npos);  // U+FFFD
  REQUIRE(!page.warnings.empty());
  CHECK(page.warnings[0].find("not valid UTF-8") != std::string::npos);
}

TEST_CASE("discourse: a huge page is read in full, warnings stay bounded", "[discourse]") {
  std::vector<int> ids = Range(20000, 1);
  Page page = ParseOk(Response(LatestBody(ids)));
  CHECK(page.posts.size() == 20000);
  CHECK(page.next_cursor == "20000");

  std::string junk = R"({"latest_posts":[)";
  for (int i = 0; i < 50000; ++i) junk += (i ? ",7" : "7");
  junk += "]}";
  Page bad = ParseOk(Response(junk));
  CHECK(bad.posts.empty());
  CHECK(bad.skipped_items == 50000);
  CHECK(bad.warnings.size() == 101);
  CHECK(bad.warnings.back() == "further warnings suppressed");
}

TEST_CASE("discourse: parse without a forum URL (earshot parse without --url)", "[discourse]") {
  SourceSpec bare = Source("");
  Page page = ParseOk(Response(Own("latest_posts.json"), ""), "", bare);
  REQUIRE(!page.posts.empty());
  CHECK(page.posts[0].url.empty());
  CHECK(page.warnings[0].find("no forum URL") != std::string::npos);
  // A saved-response URL stands for its forum.
  Page named = ParseOk(Response(Own("latest_posts.json"), "https://forum.example.org/posts.json"),
                       "", Source("https://forum.example.org/posts.json?before=10"));
  CHECK(named.posts[0].uid == "forum.example.org/p/120");
  CHECK(named.posts[0].url.rfind("https://forum.example.org/t/", 0) == 0);
}

// ---------------------------------------------------------------------------
// Shared recordings (third-party; read in place)

TEST_CASE("discourse: every shared recording parses", "[discourse]") {
  EARSHOT_REQUIRE_SHARED(dir, "discourse");
  const auto files = testing::FilesIn(*dir, {".json"});
  REQUIRE(files.size() >= 2);
  for (const auto& file : files) {
    INFO(file);
    Page page = ParseOk(Response(testing::ReadFile(file), "https://try.discourse.org/x.json"), "",
                        Source("https://try.discourse.org"));
    CHECK(!page.posts.empty());
    CHECK(page.skipped_items == 0);
    for (const Post& p : page.posts) {
      CHECK(!p.id.empty());
      CHECK(p.uid == "try.discourse.org/p/" + p.id);
      CHECK(p.url.rfind("https://try.discourse.org/t/", 0) == 0);
      CHECK(p.created_at.has_value());
      CHECK(!p.conversation.empty());
      CHECK(IsValidUtf8(p.text));
    }
  }
}

TEST_CASE("discourse: the shared /posts.json recording in detail", "[discourse]") {
  EARSHOT_REQUIRE_SHARED(dir, "discourse");
  Page page = ParseOk(Response(testing::ReadFile(*dir / "posts_latest.json")), "",
                      Source("http://localhost"));
  CHECK(Ids(page) == std::vector<std::string>{"15", "14", "10", "2"});
  CHECK(page.next_cursor == "15");
  CHECK(page.deletions.empty());
  const Post& p15 = PostWithId(page, "15");
  CHECK(p15.text == "holla bullhonky.");
  CHECK(p15.url == "http://localhost/t/this-is-an-uncategorized-title/11/2");
  CHECK(p15.ref == "11/2");
  CHECK(p15.author_handle == "@johndoe");
  CHECK(FormatRfc3339(*p15.created_at) == "2020-01-25T02:10:07.971Z");
  const Post& p10 = PostWithId(page, "10");
  CHECK(p10.title == "Welcome to Discourse");
  CHECK(p10.author_name == "system");
  CHECK(p10.text.find("Who is it for?\nWhat can they find here?") != std::string::npos);

  // With a stored cursor of 10 only the two newer posts are new.
  Page later = ParseOk(Response(testing::ReadFile(*dir / "posts_latest.json")), "10",
                       Source("http://localhost"));
  CHECK(Ids(later) == std::vector<std::string>{"15", "14"});
}

TEST_CASE("discourse: the shared topic recording as a conversation", "[discourse]") {
  EARSHOT_REQUIRE_SHARED(dir, "discourse");
  auto page = Descriptor().conversation->parse(
      Source("https://try.discourse.org"), StoredPost("226", "57/14", "57"),
      Response(testing::ReadFile(*dir / "topic_57_try_discourse.json"),
               "https://try.discourse.org/t/57.json"));
  REQUIRE(page.ok());
  // Post 84 is a moderator action ("This topic is now pinned"), not a post.
  CHECK(Ids(*page) == std::vector<std::string>{"83", "86", "226"});
  CHECK(page->caught_up);  // the stream holds the four posts of this answer
  const Post& op = PostWithId(*page, "83");
  CHECK(op.title == "THIS SITE IS A SANDBOX -- it is reset every day");
  CHECK(FormatRfc3339(*op.created_at) == "2013-02-04T20:26:26.278Z");  // -05:00
  CHECK(op.text.rfind("Welcome!\n\nTry is a sandbox", 0) == 0);
  CHECK(PostWithId(*page, "226").reply_to == "83");
  CHECK(PostWithId(*page, "226").ref == "57/14");
  CHECK(PostWithId(*page, "226").url ==
        "https://try.discourse.org/t/this-site-is-a-sandbox-it-is-reset-every-day/57/14");
}

}  // namespace
}  // namespace earshot
