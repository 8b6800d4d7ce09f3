// The reddit connector on the shared recordings (read in place, never
// copied), on our own fixtures in tests/fixtures/reddit and on hostile
// bodies generated here: listings and the cursor, rate limits, OAuth
// sessions, conversations with "more" stubs, replies and deletions.
#include "connectors/reddit/reddit.h"

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

using connector_reddit::Authorize;
using connector_reddit::CompareIds;
using connector_reddit::ConversationRequest;
using connector_reddit::DefaultUserAgent;
using connector_reddit::Descriptor;
using connector_reddit::EscapeMarkdown;
using connector_reddit::FormatListingCursor;
using connector_reddit::IsFullname;
using connector_reddit::ListingCursor;
using connector_reddit::NextRequest;
using connector_reddit::Parse;
using connector_reddit::ParseConversation;
using connector_reddit::ParseConversationAfter;
using connector_reddit::ParseListingCursor;
using connector_reddit::ParseReply;
using connector_reddit::ParseSession;
using connector_reddit::ReadRateLimit;
using connector_reddit::ReplyRequest;
using connector_reddit::SessionRequest;

const TimePoint kNow = FromUnixSeconds(1'790'000'000);

SourceSpec Source(const std::string& subreddit = "NHS", const std::string& query = "") {
  SourceSpec source;
  source.name = "reddit-nhs";
  source.connector = "reddit";
  if (!subreddit.empty()) source.options["subreddit"] = subreddit;
  if (!query.empty()) source.options["query"] = query;
  source.options["limit"] = int64_t{100};
  source.options["client_id"] = std::string("app-id_123");
  source.options["client_secret"] = std::string("s3cret");
  source.options["token_url"] = std::string("https://www.reddit.com/api/v1/access_token");
  return source;
}

SourceSpec Account() {
  SourceSpec account = Source();
  account.name = "trust-reddit";
  account.options["username"] = std::string("ExampleTrust");
  account.options["password"] = std::string("pa ss&word");
  return account;
}

HttpResponse Response(
    std::string body,
    std::string url = "https://oauth.reddit.com/r/NHS/new.json?limit=100&raw_json=1",
    int status = 200) {
  HttpResponse response;
  response.status = status;
  response.url = std::move(url);
  response.body = std::move(body);
  return response;
}

std::string Own(const std::string& name) {
  return testing::ReadFile(testing::OwnFixture("reddit/" + name));
}

Page ParseOk(const HttpResponse& response, const std::string& cursor = "",
             const SourceSpec& source = Source()) {
  SourceCursor state;
  state.cursor = cursor;
  auto page = Parse(source, state, response);
  INFO(page.status().ToString());
  REQUIRE(page.ok());
  return std::move(page).value();
}

Status ParseFailure(const HttpResponse& response) {
  auto page = Parse(Source(), SourceCursor{}, response);
  REQUIRE_FALSE(page.ok());
  return page.status();
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

bool AnyWarningContains(const Page& page, const std::string& needle) {
  return std::any_of(page.warnings.begin(), page.warnings.end(),
                     [&](const std::string& w) { return Contains(w, needle); });
}

std::vector<std::string> Ids(const Page& page) {
  std::vector<std::string> ids;
  for (const Post& post : page.posts) ids.push_back(post.id);
  return ids;
}

const Post* FindPost(const Page& page, const std::string& id) {
  for (const Post& post : page.posts) {
    if (post.id == id) return &post;
  }
  return nullptr;
}

std::string DeletionReason(const Page& page, const std::string& uid) {
  for (const Deletion& deletion : page.deletions) {
    if (deletion.uid == uid) return deletion.reason;
  }
  return {};
}

// A minimal but complete self post, newest-first pages are built from it.
// Ids are 7-digit base 36, so numbers with the same width order like ids.
std::string PostId(int n) {
  std::string digits = std::to_string(n);
  return "t3_1h" + std::string(5 - digits.size(), '0') + digits;
}

std::string PostJson(int n, const std::string& extra = "", const std::string& title = "",
                     const std::string& selftext = "") {
  const std::string id = PostId(n).substr(3);
  return R"({"kind": "t3", "data": {"name": "t3_)" + id + R"(", "id": ")" + id +
         R"(", "title": ")" +
         (title.empty() ? "Generated post " + std::to_string(n) + " about the district nurses"
                        : title) +
         R"(", "selftext": ")" + (selftext.empty() ? "Body " + std::to_string(n) : selftext) +
         R"(", "author": "gen_user", "created_utc": )" + std::to_string(1790000000 + n) +
         R"(.0, "permalink": "/r/NHS/comments/)" + id + R"(/gen/")" + extra + "}}";
}

// A /new page with posts last..first (newest first) and `after`.
std::string NewPage(int first, int last, const std::string& after = "") {
  std::string children;
  for (int n = last; n >= first; --n) {
    if (!children.empty()) children += ", ";
    children += PostJson(n);
  }
  return R"({"kind": "Listing", "data": {"after": )" +
         (after.empty() ? std::string("null") : "\"" + after + "\"") +
         R"(, "before": null, "children": [)" + children + "]}}";
}

Post StoredPost(const std::string& id, const std::string& conversation = "") {
  Post post;
  post.platform = "reddit";
  post.id = id;
  post.uid = id;
  post.conversation = conversation.empty() ? id : conversation;
  return post;
}

AuthSession UserSession() {
  AuthSession session;
  session.access_token = "user-token-1";
  session.account = "ExampleTrust";
  return session;
}

ReplyDraft Draft(std::string body) {
  ReplyDraft draft;
  draft.body = std::move(body);
  draft.idempotency_key = "draft-42";
  return draft;
}

// ------------------------------------------------------------ descriptor ---

TEST_CASE("reddit descriptor: documented keys, secrets and every capability", "[reddit]") {
  const ConnectorDescriptor& d = Descriptor();
  CHECK(d.name == "reddit");
  CHECK(FindConnector("reddit") == &d);
  REQUIRE(d.auth != nullptr);
  REQUIRE(d.conversation != nullptr);
  REQUIRE(d.reply != nullptr);
  CHECK(d.reply->max_length == 10000);
  std::vector<std::string> names;
  for (const ConfigKeySpec& key : d.keys) {
    INFO(key.name);
    names.push_back(key.name);
    CHECK_FALSE(key.doc.empty());
    const bool should_be_secret =
        key.name == "client_id" || key.name == "client_secret" || key.name == "password";
    CHECK(key.secret == should_be_secret);
  }
  CHECK(names == std::vector<std::string>{"subreddit", "query", "limit", "client_id",
                                          "client_secret", "username", "password", "token_url",
                                          "user_agent"});
}

// ---------------------------------------------------------------- shared ---

TEST_CASE("reddit parses every shared recording", "[reddit]") {
  EARSHOT_REQUIRE_SHARED(dir, "reddit");
  const auto files = testing::FilesIn(*dir, {".json"});
  REQUIRE(files.size() >= 4);
  for (const auto& file : files) {
    INFO(file.string());
    Page page = ParseOk(Response(testing::ReadFile(file), "file://" + file.string()));
    CHECK(page.skipped_items == 0);
    CHECK(page.warnings.empty());
    CHECK_FALSE(page.posts.empty());
    for (const Post& post : page.posts) {
      INFO(post.id);
      CHECK(post.platform == "reddit");
      CHECK(IsFullname(post.id));
      CHECK(post.uid == post.id);
      CHECK(post.url.rfind("https://www.reddit.com/r/", 0) == 0);
      CHECK_FALSE(Contains(post.url, "?"));
      // Empty only where the account was deleted and the post kept.
      CHECK((post.author_handle.rfind("u/", 0) == 0 || post.id == "t1_cu5th6m"));
      CHECK(post.created_at.has_value());
      CHECK(*post.created_at > FromUnixSeconds(1'300'000'000));
      CHECK(IsValidUtf8(post.text));
      CHECK(IsValidUtf8(post.title));
      CHECK_FALSE(Contains(post.text, "<p>"));
      CHECK_FALSE(Contains(post.text, "SC_OFF"));
      CHECK_FALSE(Contains(post.text, "&#39;"));
      CHECK_FALSE(Contains(post.text, "&amp;"));
      CHECK_FALSE(post.conversation.empty());
      if (post.id.rfind("t1_", 0) == 0) {
        CHECK(IsFullname(post.reply_to));
        CHECK(post.conversation.rfind("t3_", 0) == 0);
      } else {
        CHECK(post.reply_to.empty());
        CHECK(post.conversation == post.id);
        CHECK_FALSE(post.title.empty());
      }
    }
  }
}

TEST_CASE("reddit shared /r/askreddit/new page and the cursor", "[reddit]") {
  EARSHOT_REQUIRE_SHARED(dir, "reddit");
  HttpResponse response = Response(testing::ReadFile(*dir / "r_askreddit_new_limit100.json"),
                                   "https://oauth.reddit.com/r/askreddit/new?raw_json=1&limit=100");

  SECTION("first poll: the newest page, cursor = its newest fullname, caught up") {
    Page page = ParseOk(response);
    REQUIRE(page.posts.size() == 100);
    const Post& first = page.posts.front();
    CHECK(first.id == "t3_48fbm9");
    CHECK(first.created_at == FromUnixSeconds(1456821458));
    CHECK(first.url ==
          "https://www.reddit.com/r/AskReddit/comments/48fbm9/"
          "serious_parents_of_reddit_whats_the_biggest_lie/");
    CHECK(first.author_handle == "u/RedHeadQc");
    CHECK(first.text.empty());  // a self post with no body: the title is the story
    CHECK(page.posts.back().id == "t3_48f6io");
    CHECK(page.next_cursor == "t3_48fbm9");
    CHECK(page.caught_up);
    CHECK(page.deletions.empty());
  }
  SECTION("later poll: only posts newer than the cursor; reaching it is caught up") {
    Page page = ParseOk(response, "t3_48f9zx");
    CHECK(page.posts.size() == 31);
    CHECK(page.posts.back().id == "t3_48fa13");
    CHECK(page.next_cursor == "t3_48fbm9");
    CHECK(page.caught_up);
  }
  SECTION("later poll: the whole page is new, so the walk goes on with after") {
    Page page = ParseOk(response, "t3_48f000");
    CHECK(page.posts.size() == 100);
    CHECK(page.next_cursor == "t3_48fbm9;after=t3_48f6io;stop=t3_48f000");
    CHECK_FALSE(page.caught_up);
  }
  SECTION("nothing new: the cursor stays") {
    Page page = ParseOk(response, "t3_48fbm9");
    CHECK(page.posts.empty());
    CHECK(page.next_cursor.empty());
    CHECK(page.caught_up);
  }
}

TEST_CASE("reddit shared search page: permalinks without ?ref, edited floats, Japanese",
          "[reddit]") {
  EARSHOT_REQUIRE_SHARED(dir, "reddit");
  Page page = ParseOk(Response(testing::ReadFile(*dir / "r_all_search_q-praw-oauth-search.json"),
                               "https://oauth.reddit.com/r/all/search/?sort=relevance&raw_json=1"
                               "&syntax=cloudsearch&t=all&restrict_sr=False&limit=1024"
                               "&q=praw+oauth+search"));
  REQUIRE(page.posts.size() == 6);
  CHECK(Ids(page) == std::vector<std::string>{"t3_3gpbiu", "t3_3x4kt2", "t3_3b4erh", "t3_1qvzkd",
                                              "t3_3qc02b", "t3_4at068"});
  const Post& solved = page.posts[0];
  CHECK(solved.url ==
        "https://www.reddit.com/r/redditdev/comments/3gpbiu/"
        "prawoauth2util_problem_using_get_banned_raise/");
  CHECK(solved.created_at == FromUnixSeconds(1439370514));  // created_utc, not edited
  CHECK(solved.text.rfind("solved\n\nProblem solved with this:", 0) == 0);
  const Post& japanese = page.posts[5];
  CHECK(japanese.title == "たびたび話題になるサイドバーの閲覧中ユーザ数について（また）調べた");
  CHECK(japanese.url.rfind("https://www.reddit.com/r/p18s/comments/4at068/%E3%81%9F", 0) == 0);
  CHECK(UrlHost(japanese.url).ok());
  // Relevance order: the cursor is the highest id whatever the order.
  CHECK(page.next_cursor == "t3_4at068");
}

TEST_CASE("reddit shared comment tree: replies object or \"\", more stubs, deleted account",
          "[reddit]") {
  EARSHOT_REQUIRE_SHARED(dir, "reddit");
  const std::string body = testing::ReadFile(*dir / "comments_3hahrw_limit10_with_more.json");
  const std::string url =
      "https://oauth.reddit.com/comments/3hahrw/?limit=10&sort=confidence&raw_json=1";

  SECTION("as a saved page: the link and its ten comments") {
    Page page = ParseOk(Response(body, url));
    REQUIRE(page.posts.size() == 11);
    const Post& link = page.posts[0];
    CHECK(link.id == "t3_3hahrw");
    CHECK(link.title == "Ba Dum Tsss");
    CHECK(link.text == "http://i.imgur.com/eoF76hj.gifv");  // a link post's link
    const Post* top = FindPost(page, "t1_cu5pebp");
    REQUIRE(top != nullptr);
    CHECK(top->reply_to == "t3_3hahrw");
    CHECK(top->conversation == "t3_3hahrw");
    CHECK(top->text == "Man I am glad there isn't someone on a drum set every time I fall over.");
    CHECK(top->url == "https://www.reddit.com/r/funny/comments/3hahrw/ba_dum_tsss/cu5pebp/");
    const Post* nested = FindPost(page, "t1_cu5tgzu");
    REQUIRE(nested != nullptr);
    CHECK(nested->reply_to == "t1_cu5sye5");
    // The account was deleted, the comment was not: it stays, authorless.
    const Post* orphan = FindPost(page, "t1_cu5th6m");
    REQUIRE(orphan != nullptr);
    CHECK(orphan->author_handle.empty());
    CHECK(orphan->text.rfind("With that kind of comedic timi", 0) == 0);
    CHECK(page.deletions.empty());
    CHECK(page.next_cursor.empty());  // a thread is not a page of a listing
  }
  SECTION("as a conversation: the stubs' 200 ids become the cursor") {
    Post stored = StoredPost("t1_cu5sye5", "t3_3hahrw");
    auto page = ParseConversation(Source(), stored, Response(body, url));
    REQUIRE(page.ok());
    CHECK(page->posts.size() == 11);
    CHECK_FALSE(page->caught_up);
    const std::string& cursor = page->next_cursor;
    CHECK(std::count(cursor.begin(), cursor.end(), ',') == 199);
    CHECK(cursor.rfind("cu638nc,", 0) == 0);
    // The next request asks morechildren for all of them.
    auto next = ConversationRequest(Source(), stored, cursor);
    REQUIRE(next.ok());
    CHECK(next->method == "POST");
    CHECK(next->url == "https://oauth.reddit.com/api/morechildren?raw_json=1");
    CHECK(next->body.rfind("api_type=json&link_id=t3_3hahrw&children=cu638nc%2C", 0) == 0);
    CHECK(Contains(next->body, "&sort=new&limit_children=false"));
  }
}

TEST_CASE("reddit shared moderator view: removed comments are deletions, their replies stay",
          "[reddit]") {
  EARSHOT_REQUIRE_SHARED(dir, "reddit");
  HttpResponse response =
      Response(testing::ReadFile(*dir / "comments_jlbw48_modview.json"),
               "https://oauth.reddit.com/comments/jlbw48/?limit=2048&sort=confidence&raw_json=1");
  response.headers.Add("x-ratelimit-used", "1");
  response.headers.Add("x-ratelimit-remaining", "599.0");
  response.headers.Add("x-ratelimit-reset", "555");
  response.headers.Add("Date", "Sun, 03 Apr 2022 18:40:45 GMT");
  auto page = ParseConversation(Source(), StoredPost("t3_jlbw48"), response);
  REQUIRE(page.ok());
  CHECK(Ids(*page) == std::vector<std::string>{"t3_jlbw48", "t1_gao66wc", "t1_gius5s0",
                                               "t1_gt00mip", "t1_gt032vq"});
  REQUIRE(page->deletions.size() == 2);
  CHECK(DeletionReason(*page, "t1_gao5889") == "removed by moderators");
  CHECK(DeletionReason(*page, "t1_gao66g9") == "removed by moderators");
  const Post* reply = FindPost(*page, "t1_gao66wc");
  REQUIRE(reply != nullptr);
  CHECK(reply->reply_to == "t1_gao66g9");
  CHECK(reply->url ==
        "https://www.reddit.com/r/SubTestBot1/comments/jlbw48/test_self_post/gao66wc/");
  CHECK(page->caught_up);
  CHECK(page->next_cursor.empty());
  CHECK(page->rate_limit.remaining == 599);
  CHECK(page->rate_limit.limit == 600);
  CHECK(page->rate_limit.reset == *ParseHttpDate("Sun, 03 Apr 2022 18:50:00 GMT"));
}

// ------------------------------------------------------------ own: pages ---

TEST_CASE("reddit own /new page: self, link, removed, deleted and authorless posts", "[reddit]") {
  Page page = ParseOk(Response(Own("new_page.json")));
  CHECK(Ids(page) == std::vector<std::string>{"t3_1h0a0a7", "t3_1h0a0a5", "t3_1h0a0a3",
                                              "t3_1h0a0a2", "t3_1h0a0a1"});
  CHECK(page.skipped_items == 0);
  REQUIRE(page.deletions.size() == 2);
  CHECK(DeletionReason(page, "t3_1h0a0a6") == "removed by moderators");
  CHECK(DeletionReason(page, "t3_1h0a0a4") == "deleted by its author");

  const Post& thanks = page.posts[0];
  CHECK(thanks.title == "Thank you to the staff on Ward 7 at St Example's");
  CHECK(thanks.text ==
        "Mum was in for a week. The nurses were kind and the discharge team sorted "
        "everything.\n\nThank you!");
  CHECK(thanks.author_handle == "u/nurse_jo");
  CHECK(thanks.created_at == FromUnixSeconds(1790000700));
  CHECK(thanks.url == "https://www.reddit.com/r/NHS/comments/1h0a0a7/post/");
  CHECK(thanks.conversation == "t3_1h0a0a7");
  CHECK(thanks.ref.empty());

  const Post& link = page.posts[1];
  CHECK(link.title == "Our A&E is getting a new building");
  CHECK(link.text == "https://www.example-trust.nhs.uk/news/new-a-and-e");
  CHECK(link.created_at == FromUnixSeconds(1790000500));  // an integer created_utc

  CHECK(page.posts[2].author_handle.empty());  // account deleted, post kept
  CHECK(page.posts[3].title == "Café staff at the hospital — brilliant 👍");
  CHECK(page.posts[3].created_at == FromUnixMillis(1790000200500));  // a string created_utc
  CHECK(page.posts[4].text == "A&E was calm & quick.");
  CHECK(page.next_cursor == "t3_1h0a0a7");
}

TEST_CASE("reddit own search page and comment thread", "[reddit]") {
  SECTION("search: query strings dropped from permalinks, other subreddits kept") {
    Page page = ParseOk(Response(Own("search_page.json"),
                                 "https://oauth.reddit.com/search.json?q=ambulance&sort=new"
                                 "&raw_json=1"));
    REQUIRE(page.posts.size() == 2);
    CHECK(page.posts[0].url ==
          "https://www.reddit.com/r/unitedkingdom/comments/1h0b0b2/long_wait/");
    CHECK(page.posts[1].url ==
          "https://www.reddit.com/r/japanlife/comments/1h0b0b1/%E7%97%85%E9%99%A2/");
    CHECK(page.posts[1].title == "病院の看護師さんに感謝");
  }
  SECTION("thread: comments without permalinks get the thread's, deletions reported") {
    Page page = ParseOk(Response(Own("comments_thread.json")));
    CHECK(Ids(page) ==
          std::vector<std::string>{"t3_1h0b000", "t1_k00001", "t1_k00005", "t1_k00008"});
    CHECK(page.posts[2].reply_to == "t1_k00003");  // under a deleted comment
    CHECK(page.posts[2].url ==
          "https://www.reddit.com/r/NHS/comments/1h0b000/discharge_lounge_at_example_general/"
          "k00005/");
    CHECK(DeletionReason(page, "t1_k00003") == "deleted by its author");
    CHECK(DeletionReason(page, "t1_k00002") == "removed by moderators");
    CHECK(DeletionReason(page, "t1_k00004") == "removed by moderators");
    CHECK(page.deletions.size() == 3);
  }
}

TEST_CASE("reddit legacy escaping without raw_json=1 is undone once", "[reddit]") {
  SECTION("detected from the escaped selftext_html") {
    Page page = ParseOk(Response(Own("legacy_escaped.json"), ""));
    REQUIRE(page.posts.size() == 1);
    CHECK(page.posts[0].title == "Tea & toast after surgery <3");
    CHECK(page.posts[0].text == "Nurses were great & kind");
  }
  SECTION("detected from a reddit.com URL without raw_json=1") {
    const std::string body = R"({"kind": "Listing", "data": {"after": null, "children": [)" +
                             PostJson(1, "", "Fish &amp; chips") + "]}}";
    Page page = ParseOk(Response(body, "https://www.reddit.com/r/NHS/new.json?limit=1"));
    REQUIRE(page.posts.size() == 1);
    CHECK(page.posts[0].title == "Fish & chips");
    // With raw_json=1 the same characters are the author's own.
    Page raw = ParseOk(Response(body, "https://oauth.reddit.com/r/NHS/new.json?raw_json=1"));
    CHECK(raw.posts[0].title == "Fish &amp; chips");
  }
}

// --------------------------------------------------------------- cursor ---

TEST_CASE("reddit cursor: walk after pages down to the newest seen before", "[reddit]") {
  // The stored newest is post 10; posts 11..25 arrived; pages of 5.
  SECTION("newest page all new: walk on, the newest fixed at 25") {
    Page page = ParseOk(Response(NewPage(21, 25, PostId(21))), PostId(10));
    CHECK(page.posts.size() == 5);
    CHECK(page.next_cursor == PostId(25) + ";after=" + PostId(21) + ";stop=" + PostId(10));
    CHECK_FALSE(page.caught_up);
  }
  SECTION("a middle page of the walk: after moves, newest and stop stay") {
    const std::string walking = PostId(25) + ";after=" + PostId(21) + ";stop=" + PostId(10);
    Page page = ParseOk(Response(NewPage(16, 20, PostId(16))), walking);
    CHECK(page.posts.size() == 5);
    CHECK(page.next_cursor == PostId(25) + ";after=" + PostId(16) + ";stop=" + PostId(10));
    CHECK_FALSE(page.caught_up);
  }
  SECTION("the walk reaches the stop: only newer posts, cursor back to the newest") {
    const std::string walking = PostId(25) + ";after=" + PostId(11) + ";stop=" + PostId(10);
    Page page = ParseOk(Response(NewPage(7, 11, PostId(7))), walking);
    CHECK(Ids(page) == std::vector<std::string>{PostId(11)});
    CHECK(page.next_cursor == PostId(25));
    CHECK(page.caught_up);
  }
  SECTION("the listing ends (after null): the walk ends") {
    const std::string walking = PostId(25) + ";after=" + PostId(16) + ";stop=" + PostId(10);
    Page page = ParseOk(Response(NewPage(12, 15)), walking);
    CHECK(page.posts.size() == 4);
    CHECK(page.next_cursor == PostId(25));
    CHECK(page.caught_up);
  }
  SECTION("an empty walk page (its anchor removed) ends the walk") {
    const std::string walking = PostId(25) + ";after=" + PostId(16) + ";stop=" + PostId(10);
    Page page = ParseOk(Response(NewPage(1, 0)), walking);
    CHECK(page.posts.empty());
    CHECK(page.next_cursor == PostId(25));
    CHECK(page.caught_up);
  }
  SECTION("the newest seen was removed: comparing ids still finds the newer posts") {
    // Post 10 is gone from the listing; 9 and older are there.
    std::string children;
    for (int n : {13, 12, 11, 9, 8}) {
      if (!children.empty()) children += ", ";
      children += PostJson(n);
    }
    Page page =
        ParseOk(Response(R"({"kind": "Listing", "data": {"after": "t3_1h00008", "children": [)" +
                         children + "]}}"),
                PostId(10));
    CHECK(Ids(page) == std::vector<std::string>{PostId(13), PostId(12), PostId(11)});
    CHECK(page.next_cursor == PostId(13));
    CHECK(page.caught_up);
  }
  SECTION("an item without a readable id is counted on later polls too") {
    const std::string body = R"({"kind": "Listing", "data": {"after": null, "children": [)" +
                             PostJson(12) + R"(, "junk", )" + PostJson(9) + "]}}";
    Page page = ParseOk(Response(body), PostId(10));
    CHECK(Ids(page) == std::vector<std::string>{PostId(12)});
    CHECK(page.skipped_items == 1);
    CHECK(AnyWarningContains(page, "item 1: is string"));
    CHECK(page.next_cursor == PostId(12));
  }
  SECTION("a deletion of an already stored post is reported even though it is old") {
    const std::string body =
        R"({"kind": "Listing", "data": {"after": null, "children": [)" + PostJson(12) + ", " +
        PostJson(9, R"(, "removed_by_category": "automod_filtered")", "", "[removed]") + "]}}";
    Page page = ParseOk(Response(body), PostId(10));
    CHECK(Ids(page) == std::vector<std::string>{PostId(12)});
    CHECK(DeletionReason(page, PostId(9)) == "removed by moderators");
  }
}

TEST_CASE("reddit cursor text: round trip and refusal of foreign cursors", "[reddit]") {
  auto steady = ParseListingCursor("t3_abc");
  REQUIRE(steady.has_value());
  CHECK(steady->newest == "t3_abc");
  CHECK_FALSE(steady->walking());
  ListingCursor walking{"t3_abc", "t3_a0", "t3_9z"};
  CHECK(FormatListingCursor(walking) == "t3_abc;after=t3_a0;stop=t3_9z");
  auto back = ParseListingCursor(FormatListingCursor(walking));
  REQUIRE(back.has_value());
  CHECK(back->after == "t3_a0");
  CHECK(back->stop == "t3_9z");
  CHECK(ParseListingCursor("")->newest.empty());
  for (const char* bad : {"117020582251615632", "t3_ABC", "t3_abc;after=t3_x", "t3_abc;stop=t3_x",
                          "t3_abc;after=t3_x;stop=t3_y;after=t3_z", "t3_abc;", "t9_abc",
                          "t3_abc;after=zz;stop=t3_y"}) {
    INFO(bad);
    CHECK_FALSE(ParseListingCursor(bad).has_value());
  }
  auto request = NextRequest(Source(), SourceCursor{"117020582251615632", "", ""});
  REQUIRE_FALSE(request.ok());
  CHECK(request.status().code() == StatusCode::kInvalidArgument);
  CHECK(Contains(request.status().message(), "reddit-nhs"));
}

TEST_CASE("reddit ids order by length then bytes", "[reddit]") {
  CHECK(CompareIds("t3_48fbm9", "t3_48f6io") > 0);
  CHECK(CompareIds("t3_zz", "t3_100") < 0);
  CHECK(CompareIds("t1_abc", "t3_abc") == 0);
  CHECK(CompareIds("abc", "t3_abc") == 0);
  CHECK(IsFullname("t3_48fbm9"));
  CHECK(IsFullname("t1_a"));
  CHECK_FALSE(IsFullname("t7_abc"));
  CHECK_FALSE(IsFullname("t3_"));
  CHECK_FALSE(IsFullname("t3_ABC"));
  CHECK_FALSE(IsFullname("t3_zzzzzzzzzzzzzz"));
}

// ------------------------------------------------------------- requests ---

TEST_CASE("reddit NextRequest: listing, search, walk pages and the User-Agent", "[reddit]") {
  SECTION("a subreddit's newest posts on the OAuth host by default") {
    auto request = NextRequest(Source("r/NHS"), SourceCursor{});
    REQUIRE(request.ok());
    CHECK(request->method == "GET");
    CHECK(request->url == "https://oauth.reddit.com/r/NHS/new.json?limit=100&raw_json=1");
    CHECK(request->headers.Get("User-Agent") == DefaultUserAgent(""));
    CHECK(request->headers.Get("Accept") == "application/json");
    CHECK_FALSE(request->headers.Get("Authorization").has_value());  // Authorize adds it
  }
  SECTION("search within a subreddit, newest first; a walk page adds after") {
    SourceSpec source = Source("/r/nhs+unitedkingdom/", "A&E \"waiting time\"");
    source.url = "http://127.0.0.1:8080/";
    source.options["limit"] = int64_t{25};
    auto request = NextRequest(source, SourceCursor{"t3_abc;after=t3_a0;stop=t3_9z", "", ""});
    REQUIRE(request.ok());
    CHECK(request->url ==
          "http://127.0.0.1:8080/r/nhs+unitedkingdom/search.json?q=A%26E%20%22waiting%20time%22"
          "&restrict_sr=1&sort=new&t=all&type=link&limit=25&raw_json=1&after=t3_a0");
  }
  SECTION("search everywhere") {
    auto request = NextRequest(Source("", "Addenbrooke's"), SourceCursor{"t3_abc", "", ""});
    REQUIRE(request.ok());
    CHECK(request->url ==
          "https://oauth.reddit.com/search.json?q=Addenbrooke%27s&sort=new&t=all&type=link"
          "&limit=100&raw_json=1");
  }
  SECTION("the configured User-Agent wins; the default names the account") {
    SourceSpec source = Source();
    source.options["user_agent"] = std::string("server:nhs-listening:1.0 (by /u/ExampleTrust)");
    auto request = NextRequest(source, SourceCursor{});
    REQUIRE(request.ok());
    CHECK(request->headers.Get("User-Agent") == "server:nhs-listening:1.0 (by /u/ExampleTrust)");
    CHECK(DefaultUserAgent("ExampleTrust") ==
          "server:earshot:0.1 (NHS social-media listening; "
          "+https://github.com/earshot-nhs/earshot; by /u/ExampleTrust)");
    CHECK(Contains(DefaultUserAgent(""), "earshot"));
  }
  SECTION("misconfigurations name the source") {
    std::vector<SourceSpec> bad;
    bad.push_back(Source("", ""));
    bad.push_back(Source("NHS!"));
    bad.push_back(Source("a"));
    bad.push_back(Source("nhs++uk"));
    bad.push_back(Source("NHS", std::string(513, 'q')));
    SourceSpec limit = Source();
    limit.options["limit"] = int64_t{101};
    bad.push_back(limit);
    SourceSpec url = Source();
    url.url = "https://oauth.reddit.com/?x=1";
    bad.push_back(url);
    SourceSpec agent = Source();
    agent.options["user_agent"] = std::string("earshot\r\nX-Injected: 1");
    bad.push_back(agent);
    for (const SourceSpec& source : bad) {
      auto request = NextRequest(source, SourceCursor{});
      INFO(source.GetString("subreddit") << " / " << source.url);
      REQUIRE_FALSE(request.ok());
      CHECK(request.status().code() == StatusCode::kInvalidArgument);
      CHECK(Contains(request.status().message(), "reddit-nhs"));
    }
  }
}

// ----------------------------------------------------------- rate limits ---

TEST_CASE("reddit rate limits: float remaining, reset seconds from the Date header", "[reddit]") {
  HttpResponse response = Response("{}");
  response.headers.Add("X-Ratelimit-Used", "598");
  response.headers.Add("X-Ratelimit-Remaining", "2.0");
  response.headers.Add("X-Ratelimit-Reset", "120");
  response.headers.Add("Date", "Sun, 22 Nov 2026 07:00:00 GMT");
  RateLimitInfo info = ReadRateLimit(response);
  CHECK(info.limit == 600);
  CHECK(info.remaining == 2);
  CHECK(info.reset == *ParseHttpDate("Sun, 22 Nov 2026 07:02:00 GMT"));
  CHECK_FALSE(info.retry_at.has_value());

  SECTION("a fraction of a request left is none") {
    response.headers.Set("X-Ratelimit-Remaining", "0.7");
    CHECK(ReadRateLimit(response).remaining == 0);
  }
  SECTION("without a Date header there is no absolute reset") {
    HttpResponse bare = Response("{}");
    bare.headers.Add("x-ratelimit-remaining", "0.0");
    bare.headers.Add("x-ratelimit-reset", "300");
    RateLimitInfo no_date = ReadRateLimit(bare);
    CHECK(no_date.remaining == 0);
    CHECK_FALSE(no_date.reset.has_value());
    CHECK_FALSE(no_date.limit.has_value());
  }
  SECTION("garbage is ignored") {
    HttpResponse junk = Response("{}");
    junk.headers.Add("x-ratelimit-used", "lots");
    junk.headers.Add("x-ratelimit-remaining", "-3");
    junk.headers.Add("x-ratelimit-reset", "1e400");
    junk.headers.Add("Date", "yesterday");
    CHECK(ReadRateLimit(junk).empty());
  }
}

// -------------------------------------------------------------- hostile ---

TEST_CASE("reddit hostile items are skipped, counted and named", "[reddit]") {
  SECTION("wrong types") {
    Page page = ParseOk(Response(Own("hostile_wrong_types.json")));
    CHECK(Ids(page) == std::vector<std::string>{"t3_1h0c001", "t3_1h0c007", "t3_1h0c008"});
    CHECK(page.skipped_items == 15);
    CHECK(AnyWarningContains(page, "'data.after' is number"));
    CHECK(AnyWarningContains(page, "item 2 (t3_1h0c005): 'title' is number, expected string"));
    CHECK(AnyWarningContains(page, "item 3 (t3_1h0c004): 'created_utc' is object"));
    CHECK(AnyWarningContains(page, "item 5: kind \"t5\""));
    CHECK(AnyWarningContains(page, "'replies'"));
    CHECK(AnyWarningContains(page, "'created_utc' is not a time"));
    CHECK(AnyWarningContains(page, "is not a Reddit username"));
    // Permalinks that would leave reddit.com fall back to a built one.
    CHECK(page.posts[1].url == "https://www.reddit.com/comments/1h0c007/");
    CHECK(page.posts[2].url == "https://www.reddit.com/comments/1h0c008/");
    CHECK(page.next_cursor == "t3_1h0c00a");
  }
  SECTION("missing fields") {
    Page page = ParseOk(Response(Own("hostile_missing_fields.json")));
    CHECK(Ids(page) == std::vector<std::string>{"t3_1h0d003"});
    CHECK(page.skipped_items == 5);
    CHECK(AnyWarningContains(page, "'created_utc' is missing"));
    CHECK(AnyWarningContains(page, "'parent_id' is missing"));
  }
  SECTION("invalid UTF-8 is repaired with a warning") {
    Page page = ParseOk(Response(Own("invalid_utf8.json")));
    REQUIRE(page.posts.size() == 1);
    CHECK(IsValidUtf8(page.posts[0].title));
    CHECK(Contains(page.posts[0].title, "\xEF\xBF\xBD"));
    CHECK(AnyWarningContains(page, "not valid UTF-8"));
  }
  SECTION("unreadable pages are parse errors naming the URL") {
    for (const char* name :
         {"truncated.json", "not_json.html", "children_not_array.json", "error_forbidden.json"}) {
      INFO(name);
      Status status = ParseFailure(Response(Own(name)));
      CHECK(status.code() == StatusCode::kParseError);
      CHECK(Contains(status.message(), "https://oauth.reddit.com/r/NHS/new.json"));
    }
    CHECK(Contains(ParseFailure(Response(Own("error_forbidden.json"))).message(), "Forbidden"));
    CHECK(ParseFailure(Response("")).code() == StatusCode::kParseError);
    CHECK(ParseFailure(Response("42")).code() == StatusCode::kParseError);
    CHECK(ParseFailure(Response(R"({"kind": "t3", "data": {}})")).code() ==
          StatusCode::kParseError);
    CHECK(ParseFailure(Response(R"([{"kind": "Listing"}])")).code() == StatusCode::kParseError);
    CHECK(Contains(ParseFailure(Response(Own("morechildren_error.json"))).message(), "RATELIMIT"));
  }
  SECTION("huge pages") {
    std::string children;
    for (int n = 1; n <= 5000; ++n) {
      if (!children.empty()) children += ",";
      children += PostJson(n);
    }
    Page page = ParseOk(Response(R"({"kind":"Listing","data":{"children":[)" + children + "]}}"));
    CHECK(page.posts.size() == 5000);
    CHECK(page.next_cursor == PostId(5000));
  }
  SECTION("replies nested 150 deep are read without recursion") {
    std::string nested = R"("")";
    for (int depth = 150; depth >= 1; --depth) {
      const std::string parent = depth == 1 ? "t3_1h0b000" : "t1_d" + std::to_string(depth - 1);
      nested = R"({"kind":"Listing","data":{"children":[{"kind":"t1","data":{"name":"t1_d)" +
               std::to_string(depth) + R"(","body":"level )" + std::to_string(depth) +
               R"(","created_utc":1790000000,"parent_id":")" + parent +
               R"(","link_id":"t3_1h0b000","author":"deep","replies":)" + nested + "}}]}}";
    }
    Page page = ParseOk(Response(nested));
    CHECK(page.posts.size() == 150);
    CHECK(page.posts.back().id == "t1_d150");
    CHECK(page.posts.back().reply_to == "t1_d149");
  }
}

// -------------------------------------------------------------- sessions ---

TEST_CASE("reddit session requests: client credentials, installed client, password grant",
          "[reddit]") {
  SECTION("application-only with HTTP Basic app credentials") {
    auto request = SessionRequest(Source(), nullptr);
    REQUIRE(request.ok());
    CHECK(request->method == "POST");
    CHECK(request->url == "https://www.reddit.com/api/v1/access_token");
    CHECK(request->body == "grant_type=client_credentials");
    // base64("app-id_123:s3cret")
    CHECK(request->headers.Get("Authorization") == "Basic YXBwLWlkXzEyMzpzM2NyZXQ=");
    CHECK(request->headers.Get("Content-Type") == "application/x-www-form-urlencoded");
    CHECK(request->headers.Get("User-Agent") == DefaultUserAgent(""));
  }
  SECTION("an installed app (no secret) uses the installed_client grant") {
    SourceSpec source = Source();
    source.options["client_secret"] = std::string();
    auto request = SessionRequest(source, nullptr);
    REQUIRE(request.ok());
    CHECK(request->body ==
          "grant_type=https%3A%2F%2Foauth.reddit.com%2Fgrants%2Finstalled_client"
          "&device_id=DO_NOT_TRACK_THIS_DEVICE");
    CHECK(request->headers.Get("Authorization") == "Basic YXBwLWlkXzEyMzo=");
  }
  SECTION("the organisation's account: the password grant, form-encoded") {
    SourceSpec account = Account();
    account.options["token_url"] = std::string("http://127.0.0.1:9/api/v1/access_token");
    auto request = SessionRequest(account, nullptr);
    REQUIRE(request.ok());
    CHECK(request->url == "http://127.0.0.1:9/api/v1/access_token");
    CHECK(request->body == "grant_type=password&username=ExampleTrust&password=pa%20ss%26word");
    CHECK(Contains(std::string(*request->headers.Get("User-Agent")), "by /u/ExampleTrust"));
  }
  SECTION("a refresh token, when a session has one, renews it") {
    AuthSession current;
    current.access_token = "old";
    current.refresh_token = "refresh-1";
    auto request = SessionRequest(Source(), &current);
    REQUIRE(request.ok());
    CHECK(request->body == "grant_type=refresh_token&refresh_token=refresh-1");
  }
  SECTION("what cannot work is refused with the source's name") {
    std::vector<SourceSpec> bad;
    SourceSpec no_id = Source();
    no_id.options.erase("client_id");
    bad.push_back(no_id);
    SourceSpec half = Source();
    half.options["username"] = std::string("ExampleTrust");
    bad.push_back(half);
    SourceSpec script_without_secret = Account();
    script_without_secret.options["client_secret"] = std::string();
    bad.push_back(script_without_secret);
    SourceSpec colon = Source();
    colon.options["client_id"] = std::string("a:b");
    bad.push_back(colon);
    SourceSpec token_url = Source();
    token_url.options["token_url"] = std::string("ftp://example.org/token");
    bad.push_back(token_url);
    for (const SourceSpec& source : bad) {
      auto request = SessionRequest(source, nullptr);
      REQUIRE_FALSE(request.ok());
      CHECK(request.status().code() == StatusCode::kInvalidArgument);
      CHECK(Contains(request.status().message(), source.name));
    }
  }
}

TEST_CASE("reddit session answers: token and expiry, or Reddit's own refusal", "[reddit]") {
  const std::string token_url = "https://www.reddit.com/api/v1/access_token";
  SECTION("a bearer token valid for expires_in seconds") {
    auto session = ParseSession(Source(), Response(Own("token_ok.json"), token_url), kNow);
    REQUIRE(session.ok());
    CHECK(session->access_token == "eyJhbGciOiJSUzI1NiJ9.test-token");
    CHECK(session->expires_at == kNow + std::chrono::hours(24));
    CHECK(session->refresh_token.empty());
    CHECK(session->account.empty());  // application-only
    auto user = ParseSession(Account(), Response(Own("token_ok.json"), token_url), kNow);
    REQUIRE(user.ok());
    CHECK(user->account == "ExampleTrust");
  }
  SECTION("expires_in as a float or a string; absent means no known expiry") {
    auto as_float = ParseSession(
        Source(), Response(R"({"access_token":"t","token_type":"bearer","expires_in":3600.5})"),
        kNow);
    REQUIRE(as_float.ok());
    CHECK(as_float->expires_at == kNow + std::chrono::milliseconds(3600500));
    auto as_string =
        ParseSession(Source(), Response(R"({"access_token":"t","expires_in":"60"})"), kNow);
    REQUIRE(as_string.ok());
    CHECK(as_string->expires_at == kNow + std::chrono::seconds(60));
    auto none = ParseSession(Source(), Response(R"({"access_token":"t"})"), kNow);
    REQUIRE(none.ok());
    CHECK_FALSE(none->expires_at.has_value());
  }
  struct Case {
    const char* what;
    std::string body;
    int status;
    StatusCode code;
    const char* detail;
  };
  const Case cases[] = {
      {"wrong password: HTTP 200 with an error", Own("token_invalid_grant.json"), 200,
       StatusCode::kUnauthenticated, "invalid_grant"},
      {"unsupported grant", Own("token_unsupported_grant.json"), 200, StatusCode::kInvalidArgument,
       "unsupported_grant_type"},
      {"bad app credentials", Own("error_unauthorized.json"), 401, StatusCode::kUnauthenticated,
       "Unauthorized"},
      {"server trouble", "<html>oops</html>", 503, StatusCode::kUnavailable, "HTTP 503"},
      {"rate limited", Own("error_too_many_requests.json"), 429, StatusCode::kRateLimited,
       "Too Many Requests"},
      {"no token", R"({"token_type":"bearer"})", 200, StatusCode::kParseError, "access_token"},
      {"a token with a line break", R"({"access_token":"a\r\nX: y"})", 200, StatusCode::kParseError,
       "access_token"},
      {"not a bearer token", R"({"access_token":"t","token_type":"mac"})", 200,
       StatusCode::kParseError, "token_type"},
      {"bad expiry", R"({"access_token":"t","expires_in":"soon"})", 200, StatusCode::kParseError,
       "expires_in"},
      {"truncated", R"({"access_tok)", 200, StatusCode::kParseError, "not JSON"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    auto session = ParseSession(Source(), Response(c.body, token_url, c.status), kNow);
    REQUIRE_FALSE(session.ok());
    CHECK(session.status().code() == c.code);
    CHECK(Contains(session.status().message(), c.detail));
    CHECK(Contains(session.status().message(), "reddit-nhs"));
  }
}

TEST_CASE("reddit Authorize sets the bearer token, replacing any other", "[reddit]") {
  auto request = NextRequest(Source(), SourceCursor{});
  REQUIRE(request.ok());
  request->headers.Add("authorization", "Basic stale");
  AuthSession session;
  session.access_token = "tok-123";
  Authorize(session, *request);
  CHECK(request->headers.GetAll("Authorization").size() == 1);
  CHECK(request->headers.Get("Authorization") == "bearer tok-123");
}

// --------------------------------------------------------- conversation ---

TEST_CASE("reddit conversation requests", "[reddit]") {
  SECTION("a link's comment page, newest first, up to 500") {
    auto request = ConversationRequest(Source(), StoredPost("t3_1h0b000"), "");
    REQUIRE(request.ok());
    CHECK(request->method == "GET");
    CHECK(request->url ==
          "https://oauth.reddit.com/comments/1h0b000.json?limit=500&sort=new&raw_json=1");
    CHECK(request->headers.Get("User-Agent") == DefaultUserAgent(""));
  }
  SECTION("a comment's conversation is its link's page") {
    auto request = ConversationRequest(Source(), StoredPost("t1_k00005", "t3_1h0b000"), "");
    REQUIRE(request.ok());
    CHECK(request->url.rfind("https://oauth.reddit.com/comments/1h0b000.json?", 0) == 0);
  }
  SECTION("the cursor's ids go to morechildren") {
    auto request = ConversationRequest(Source(), StoredPost("t3_1h0b000"), "k00006,k00007");
    REQUIRE(request.ok());
    CHECK(request->method == "POST");
    CHECK(request->body ==
          "api_type=json&link_id=t3_1h0b000&children=k00006%2Ck00007&sort=new"
          "&limit_children=false");
    CHECK(request->headers.Get("Content-Type") == "application/x-www-form-urlencoded");
  }
  SECTION("refusals") {
    for (const auto& [id, cursor] :
         std::vector<std::pair<std::string, std::string>>{{"12345", ""},
                                                          {"t3_1h0b000", "k00006,,k7"},
                                                          {"t3_1h0b000", "K00006"},
                                                          {"t3_1h0b000", "k1;DROP"}}) {
      Post post = StoredPost(id);
      post.conversation = "";
      auto request = ConversationRequest(Source(), post, cursor);
      INFO(id << " " << cursor);
      REQUIRE_FALSE(request.ok());
      CHECK(request.status().code() == StatusCode::kInvalidArgument);
    }
  }
}

TEST_CASE("reddit conversation answers: tree, stubs, morechildren, gone", "[reddit]") {
  const Post stored = StoredPost("t1_k00005", "t3_1h0b000");
  SECTION("the comment page: posts, deletions, stub ids as the cursor") {
    auto page = ParseConversation(
        Source(), stored,
        Response(Own("comments_thread.json"),
                 "https://oauth.reddit.com/comments/1h0b000.json?limit=500&sort=new&raw_json=1"));
    REQUIRE(page.ok());
    CHECK(Ids(*page) ==
          std::vector<std::string>{"t3_1h0b000", "t1_k00001", "t1_k00005", "t1_k00008"});
    CHECK(page->deletions.size() == 3);
    // The "more" stubs' ids, then the "continue this thread" under k00008.
    CHECK(page->next_cursor == "k00006,k00007,k00009,k0000c,k0000d,~k00008");
    CHECK_FALSE(page->caught_up);
    CHECK_FALSE(AnyWarningContains(*page, "continue this thread"));
  }
  SECTION("a morechildren answer: flat comments and a new stub") {
    auto page = ParseConversation(
        Source(), stored,
        Response(Own("morechildren.json"), "https://oauth.reddit.com/api/morechildren?raw_json=1"));
    REQUIRE(page.ok());
    CHECK(Ids(*page) == std::vector<std::string>{"t1_k00006", "t1_k00007"});
    CHECK(page->posts[1].reply_to == "t1_k00006");
    CHECK(page->posts[1].url == "https://www.reddit.com/comments/1h0b000/_/k00007/");
    CHECK(page->next_cursor == "k0000e");
    CHECK_FALSE(page->caught_up);
  }
  SECTION("an answer of stubs only stops instead of asking forever") {
    auto page = ParseConversation(Source(), stored, Response(Own("morechildren_only_stubs.json")));
    REQUIRE(page.ok());
    CHECK(page->posts.empty());
    CHECK(page->caught_up);
    CHECK(page->next_cursor.empty());
    CHECK(AnyWarningContains(*page, "loaded no comment"));
  }
  SECTION("404 and 410: the stored post is gone") {
    for (int status : {404, 410}) {
      auto page = ParseConversation(Source(), stored, Response("{}", "", status));
      REQUIRE(page.ok());
      CHECK(page->posts.empty());
      REQUIRE(page->deletions.size() == 1);
      CHECK(page->deletions[0].uid == "t1_k00005");
      CHECK(page->deletions[0].reason == "not found on re-fetch");
    }
  }
  SECTION("failures keep Reddit's words") {
    auto forbidden =
        ParseConversation(Source(), stored, Response(Own("error_forbidden.json"), "u", 403));
    REQUIRE_FALSE(forbidden.ok());
    CHECK(forbidden.status().code() == StatusCode::kPermissionDenied);
    CHECK(Contains(forbidden.status().message(), "HTTP 403: Forbidden"));
    auto limited = ParseConversation(Source(), stored, Response(Own("morechildren_error.json")));
    REQUIRE_FALSE(limited.ok());
    CHECK(limited.status().code() == StatusCode::kRateLimited);
    auto broken = ParseConversation(Source(), stored, Response(Own("truncated.json")));
    REQUIRE_FALSE(broken.ok());
    CHECK(broken.status().code() == StatusCode::kParseError);
    auto down = ParseConversation(Source(), stored, Response("", "u", 502));
    REQUIRE_FALSE(down.ok());
    CHECK(down.status().code() == StatusCode::kUnavailable);
  }
  SECTION("a stub with thousands of children is capped") {
    std::string children;
    for (int n = 0; n < 2500; ++n) {
      if (!children.empty()) children += ",";
      children += "\"c" + std::to_string(n) + "\"";
    }
    const std::string body =
        R"({"json":{"errors":[],"data":{"things":[{"kind":"t1","data":{"name":"t1_k1","body":"b",)"
        R"("created_utc":1790000000,"parent_id":"t3_1h0b000","link_id":"t3_1h0b000"}},)"
        R"({"kind":"more","data":{"name":"t1_k2","parent_id":"t3_1h0b000","children":[)" +
        children + "]}}]}}}";
    auto page = ParseConversation(Source(), stored, Response(body));
    REQUIRE(page.ok());
    CHECK(std::count(page->next_cursor.begin(), page->next_cursor.end(), ',') == 1999);
    CHECK(AnyWarningContains(*page, "not followed"));
    CHECK(ConversationRequest(Source(), stored, page->next_cursor).ok());
  }
}

TEST_CASE("reddit conversation: \"continue this thread\" chains are followed", "[reddit]") {
  REQUIRE(Descriptor().conversation->parse_after == &ParseConversationAfter);
  const Post stored = StoredPost("t1_k00005", "t3_1h0b000");
  const std::string deeper_url =
      "https://oauth.reddit.com/comments/1h0b000.json?comment=k00008&limit=500&sort=new&raw_json=1";
  SECTION("a chain waits behind the morechildren ids, then is its comment's page") {
    auto more = ConversationRequest(Source(), stored, "k00006,k00007,~k00008");
    REQUIRE(more.ok());
    CHECK(more->method == "POST");
    CHECK(Contains(more->body, "children=k00006%2Ck00007&"));
    CHECK_FALSE(Contains(more->body, "k00008"));
    auto deeper = ConversationRequest(Source(), stored, "~k00008,~k0000x");
    REQUIRE(deeper.ok());
    CHECK(deeper->method == "GET");
    CHECK(deeper->url == deeper_url);
    CHECK(deeper->body.empty());
  }
  SECTION("a morechildren answer keeps the chains queued in its cursor") {
    auto page = ParseConversationAfter(
        Source(), stored, "k00006,k00007,~k00008",
        Response(Own("morechildren.json"), "https://oauth.reddit.com/api/morechildren?raw_json=1"));
    REQUIRE(page.ok());
    CHECK(Ids(*page) == std::vector<std::string>{"t1_k00006", "t1_k00007"});
    CHECK(page->next_cursor == "k0000e,~k00008");
    CHECK_FALSE(page->caught_up);
    // Without the cursor (`parse`), only what the answer names.
    auto bare = ParseConversation(
        Source(), stored,
        Response(Own("morechildren.json"), "https://oauth.reddit.com/api/morechildren?raw_json=1"));
    REQUIRE(bare.ok());
    CHECK(bare->next_cursor == "k0000e");
  }
  SECTION("the deeper page: its comments, its stubs, the rest of the queue") {
    auto page = ParseConversationAfter(Source(), stored, "~k00008,~k0000x",
                                       Response(Own("comments_continue_thread.json"), deeper_url));
    REQUIRE(page.ok());
    CHECK(Ids(*page) ==
          std::vector<std::string>{"t3_1h0b000", "t1_k00008", "t1_k0000f", "t1_k0000g"});
    const Post* deep = FindPost(*page, "t1_k0000g");
    REQUIRE(deep != nullptr);
    CHECK(deep->reply_to == "t1_k0000f");
    CHECK(deep->conversation == "t3_1h0b000");
    CHECK(deep->text == "Eleven levels down and still about the porters.");
    // k0000h behind a "more" stub; k0000x still queued; the chain under
    // k0000g found here. The stub under k00008 itself is not queued again.
    CHECK(page->next_cursor == "k0000h,~k0000x,~k0000g");
    CHECK_FALSE(page->caught_up);
    CHECK(ConversationRequest(Source(), stored, page->next_cursor).ok());
  }
  SECTION("the last chain loaded: caught up") {
    const std::string body =
        R"([{"kind":"Listing","data":{"children":[]}},{"kind":"Listing","data":{"children":[)"
        R"({"kind":"t1","data":{"name":"t1_k0000x","body":"Last words","created_utc":1790002600,)"
        R"("parent_id":"t1_k0000w","link_id":"t3_1h0b000"}},)"
        R"({"kind":"more","data":{"count":0,"name":"t1__","id":"_","parent_id":"t1_k0000x",)"
        R"("children":[]}}]}}])";
    auto page = ParseConversationAfter(Source(), stored, "~k0000x", Response(body, deeper_url));
    REQUIRE(page.ok());
    CHECK(Ids(*page) == std::vector<std::string>{"t1_k0000x"});
    CHECK(page->next_cursor.empty());
    CHECK(page->caught_up);
  }
  SECTION("bounded: at most 20 chains queued, the rest counted") {
    std::string stubs;
    for (int n = 0; n < 25; ++n) {
      if (!stubs.empty()) stubs += ",";
      stubs += R"({"kind":"more","data":{"count":0,"name":"t1__","id":"_","parent_id":"t1_d)" +
               std::to_string(n) + R"(","children":[]}})";
    }
    stubs +=
        R"(,{"kind":"more","data":{"count":0,"id":"_","parent_id":"t3_1h0b000","children":[]}})";
    const std::string body =
        R"([{"kind":"Listing","data":{"children":[]}},{"kind":"Listing","data":{"children":[)" +
        stubs + "]}}]";
    auto page = ParseConversation(Source(), stored, Response(body));
    REQUIRE(page.ok());
    CHECK(std::count(page->next_cursor.begin(), page->next_cursor.end(), '~') == 20);
    CHECK(page->next_cursor.rfind("~d0,~d1,", 0) == 0);
    CHECK(AnyWarningContains(*page, "5 deeper reply chain(s)"));
    CHECK(AnyWarningContains(*page, "1 \"continue this thread\" stub(s) without a comment"));
    CHECK(ConversationRequest(Source(), stored, page->next_cursor).ok());
  }
  SECTION("cursors we did not write are refused") {
    std::string too_many;
    for (int n = 0; n < 21; ++n) too_many += (n ? ",~d" : "~d") + std::to_string(n);
    for (const std::string& cursor :
         {std::string("~k00008,k00006"), std::string("~"), std::string("~~k1"),
          std::string("~K00008"), std::string("~k00008,"), too_many}) {
      INFO(cursor);
      auto request = ConversationRequest(Source(), stored, cursor);
      REQUIRE_FALSE(request.ok());
      CHECK(request.status().code() == StatusCode::kInvalidArgument);
    }
  }
}

// ---------------------------------------------------------------- reply ---

TEST_CASE("reddit reply request: /api/comment with the account's session", "[reddit]") {
  const AuthSession session = UserSession();
  auto request =
      ReplyRequest(Account(), &session, StoredPost("t1_k00005", "t3_1h0b000"),
                   Draft("Thank you for telling us.\nPlease contact PALS: 01234 567890"));
  REQUIRE(request.ok());
  CHECK(request->method == "POST");
  CHECK(request->url == "https://oauth.reddit.com/api/comment?raw_json=1");
  CHECK(request->body ==
        "api_type=json&thing_id=t1_k00005&text=Thank%20you%20for%20telling%20us.%20%20%0A"
        "Please%20contact%20PALS%3A%2001234%20567890");
  CHECK(request->headers.Get("Authorization") == "bearer user-token-1");
  CHECK(request->headers.Get("Content-Type") == "application/x-www-form-urlencoded");
  CHECK(Contains(std::string(*request->headers.Get("User-Agent")), "by /u/ExampleTrust"));
  CHECK_FALSE(Contains(request->body, "draft-42"));  // Reddit has no idempotency key

  SECTION("refusals before sending") {
    const AuthSession app_only = [] {
      AuthSession s;
      s.access_token = "app-token";
      return s;
    }();
    struct Case {
      const char* what;
      const AuthSession* session;
      Post target;
      std::string body;
      StatusCode code;
    };
    const Case cases[] = {
        {"no session", nullptr, StoredPost("t3_1h0b000"), "Hello", StatusCode::kUnauthenticated},
        {"application-only token", &app_only, StoredPost("t3_1h0b000"), "Hello",
         StatusCode::kInvalidArgument},
        {"not a fullname", &session, StoredPost("117020582251615632"), "Hello",
         StatusCode::kInvalidArgument},
        {"an account cannot be answered", &session, StoredPost("t2_abc"), "Hello",
         StatusCode::kInvalidArgument},
        {"empty", &session, StoredPost("t3_1h0b000"), " \n ", StatusCode::kInvalidArgument},
        {"too long once escaped", &session, StoredPost("t3_1h0b000"), std::string(5001, '*'),
         StatusCode::kInvalidArgument},
    };
    for (const Case& c : cases) {
      INFO(c.what);
      auto refused = ReplyRequest(Account(), c.session, c.target, Draft(c.body));
      REQUIRE_FALSE(refused.ok());
      CHECK(refused.status().code() == c.code);
    }
    CHECK(
        ReplyRequest(Account(), &session, StoredPost("t3_1h0b000"), Draft(std::string(10000, 'a')))
            .ok());
  }
}

TEST_CASE("reddit reply answers: the new comment, or a failure with Reddit's message", "[reddit]") {
  const Post target = StoredPost("t3_1h0b000");
  const std::string url = "https://oauth.reddit.com/api/comment?raw_json=1";
  SECTION("success names the comment") {
    auto reply = ParseReply(Account(), target, Response(Own("comment_reply_ok.json"), url));
    REQUIRE(reply.ok());
    CHECK(reply->id == "t1_k0000z");
    CHECK(reply->uid == "t1_k0000z");
    CHECK(reply->url ==
          "https://www.reddit.com/r/NHS/comments/1h0b000/discharge_lounge_at_example_general/"
          "k0000z/");
  }
  SECTION("the older answer form: fullname in id, no permalink") {
    auto reply = ParseReply(Account(), target, Response(Own("comment_reply_legacy.json"), url));
    REQUIRE(reply.ok());
    CHECK(reply->id == "t1_k0000y");
    CHECK(reply->url == "https://www.reddit.com/comments/1h0b000/_/k0000y/");
  }
  struct Case {
    const char* what;
    std::string body;
    int status;
    StatusCode code;
    const char* detail;
  };
  const Case cases[] = {
      {"RATELIMIT inside an HTTP 200", Own("comment_reply_ratelimit.json"), 200,
       StatusCode::kRateLimited, "you are doing that too much. try again in 5 minutes."},
      {"THREAD_LOCKED inside an HTTP 200", Own("comment_reply_locked.json"), 200,
       StatusCode::kPermissionDenied, "THREAD_LOCKED: Comments are locked."},
      {"an application-only token", Own("comment_reply_user_required.json"), 200,
       StatusCode::kUnauthenticated, "USER_REQUIRED"},
      {"expired token", Own("error_unauthorized.json"), 401, StatusCode::kUnauthenticated,
       "HTTP 401: Unauthorized"},
      {"forbidden", Own("error_forbidden.json"), 403, StatusCode::kPermissionDenied,
       "HTTP 403: Forbidden"},
      {"rate limited", Own("error_too_many_requests.json"), 429, StatusCode::kRateLimited,
       "HTTP 429: Too Many Requests"},
      {"a 400 with json errors", Own("comment_reply_locked.json"), 400,
       StatusCode::kInvalidArgument, "THREAD_LOCKED"},
      {"server trouble", Own("not_json.html"), 500, StatusCode::kUnavailable, "HTTP 500"},
      {"an unreadable 200", Own("truncated.json"), 200, StatusCode::kParseError,
       "may have been posted"},
      {"a 200 without the comment", Own("comment_reply_no_things.json"), 200,
       StatusCode::kParseError, "names no new comment"},
      {"a 200 with another kind",
       R"({"json":{"errors":[],"data":{"things":[{"kind":"t3","data":{"name":"t3_x"}}]}}})", 200,
       StatusCode::kParseError, "names no new comment"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    auto reply = ParseReply(Account(), target, Response(c.body, url, c.status));
    REQUIRE_FALSE(reply.ok());
    CHECK(reply.status().code() == c.code);
    CHECK(Contains(reply.status().message(), c.detail));
    CHECK(Contains(reply.status().message(), "t3_1h0b000"));
  }
}

TEST_CASE("reddit Markdown escaping keeps a reply exactly as written", "[reddit]") {
  CHECK(EscapeMarkdown("Hello") == "Hello");
  CHECK(EscapeMarkdown("Call 111 *now* or see [PALS]") == "Call 111 \\*now\\* or see \\[PALS\\]");
  CHECK(EscapeMarkdown("# not a heading\n> not a quote\n- not a list\n1. not numbered") ==
        "\\# not a heading  \n\\> not a quote  \n\\- not a list  \n1\\. not numbered");
  CHECK(EscapeMarkdown("First paragraph.\n\nSecond.\r\n") == "First paragraph.\n\nSecond.");
  CHECK(EscapeMarkdown("See https://www.nhs.uk/some_page_here (it_helps)") ==
        "See https://www.nhs.uk/some_page_here (it\\_helps)");
  CHECK(EscapeMarkdown("    indented code? no") == "indented code? no");
  CHECK(EscapeMarkdown("A&E <3 ~~x~~ ^y `z` \\") == "A&E <3 \\~\\~x\\~\\~ \\^y \\`z\\` \\\\");
}

}  // namespace
}  // namespace earshot
