// The feed connector on the shared recordings (read in place, never copied),
// on our own fixtures in tests/fixtures/feed and on hostile bodies, some of
// them generated here.
#include "connectors/feed/feed.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "crawler/core/text.h"
#include "crawler/core/time_format.h"
#include "tests/support/fixtures.h"

namespace earshot {
namespace {

using connector_feed::ConversationRequest;
using connector_feed::Descriptor;
using connector_feed::FeedItem;
using connector_feed::FeedParseOptions;
using connector_feed::NextRequest;
using connector_feed::Parse;
using connector_feed::ParseConversation;
using connector_feed::ParsedFeed;
using connector_feed::ParseFeed;
using connector_feed::ReadRateLimit;
using connector_feed::WordPressCommentParent;

constexpr char kBlogFeed[] = "https://waitingroom.example.org/feed/";

SourceSpec FeedSource(std::string url = kBlogFeed) {
  SourceSpec source;
  source.name = "waiting-room";
  source.connector = "feed";
  source.url = std::move(url);
  return source;
}

std::string Own(const std::string& name) {
  return testing::ReadFile(testing::OwnFixture("feed/" + name));
}

FeedParseOptions Options(std::string url = kBlogFeed, std::string charset = "") {
  FeedParseOptions options;
  options.document_url = std::move(url);
  options.http_charset = std::move(charset);
  return options;
}

ParsedFeed ParseOk(std::string_view body, const FeedParseOptions& options = Options()) {
  auto feed = ParseFeed(body, options);
  INFO(feed.status().ToString());
  REQUIRE(feed.ok());
  return std::move(feed).value();
}

Status ParseFails(std::string_view body, const FeedParseOptions& options = Options()) {
  auto feed = ParseFeed(body, options);
  REQUIRE_FALSE(feed.ok());
  return feed.status();
}

const Post& PostWithId(const ParsedFeed& feed, const std::string& id) {
  for (const FeedItem& item : feed.items) {
    if (item.post.id == id) return item.post;
  }
  FAIL("no post with id " << id);
  throw std::logic_error("unreachable");
}

std::string Date(const Post& post) {
  return post.created_at ? FormatRfc3339(*post.created_at) : std::string("(none)");
}

bool AnyWarningContains(const std::vector<std::string>& warnings, std::string_view needle) {
  return std::any_of(warnings.begin(), warnings.end(),
                     [&](const std::string& w) { return w.find(needle) != std::string::npos; });
}

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// Every string of every post is valid UTF-8 in NFC, as post.h promises.
void RequireCleanText(const ParsedFeed& feed) {
  for (const FeedItem& item : feed.items) {
    const Post& p = item.post;
    for (const std::string* s : {&p.id, &p.uid, &p.url, &p.title, &p.author_handle, &p.author_name,
                                 &p.text, &p.language, &p.reply_to, &p.conversation}) {
      INFO("post " << p.id << " field value: " << s->substr(0, 200));
      REQUIRE(IsValidUtf8(*s));
      REQUIRE(ToNfc(*s) == *s);
    }
    REQUIRE(p.platform == "feed");
    REQUIRE_FALSE(p.id.empty());
    REQUIRE(p.uid == p.id);
    REQUIRE_FALSE(p.conversation.empty());
    if (!p.url.empty()) {
      REQUIRE((p.url.rfind("http://", 0) == 0 || p.url.rfind("https://", 0) == 0));
    }
  }
}

// ---------------------------------------------------------------------------
// Descriptor, requests, rate limits

TEST_CASE("feed descriptor documents its keys", "[feed]") {
  const ConnectorDescriptor& d = Descriptor();
  CHECK(d.name == "feed");
  CHECK_FALSE(d.summary.empty());
  REQUIRE(d.keys.size() == 2);
  CHECK(d.keys[0].name == "max_items");
  CHECK(d.keys[0].type == ConfigKeySpec::Type::kInteger);
  CHECK(d.keys[0].default_value == "1000");
  CHECK(d.keys[1].name == "max_text_bytes");
  CHECK(d.keys[1].default_value == std::to_string(connector_feed::kDefaultMaxTextBytes));
  for (const ConfigKeySpec& key : d.keys) {
    CHECK_FALSE(key.required);
    CHECK_FALSE(key.secret);
    CHECK_FALSE(key.doc.empty());
  }
  CHECK(d.next_request == &NextRequest);
  CHECK(d.parse == &Parse);
  CHECK(d.read_rate_limit == &ReadRateLimit);
}

TEST_CASE("feed NextRequest is a GET of the source URL, conditional when it can be", "[feed]") {
  SECTION("first poll: no validators") {
    auto request = NextRequest(FeedSource(), SourceCursor{});
    REQUIRE(request.ok());
    CHECK(request->method == "GET");
    CHECK(request->url == kBlogFeed);
    auto accept = request->headers.Get("Accept");
    REQUIRE(accept);
    CHECK(Contains(*accept, "application/rss+xml"));
    CHECK(Contains(*accept, "application/atom+xml"));
    CHECK_FALSE(request->headers.Get("If-None-Match"));
    CHECK_FALSE(request->headers.Get("If-Modified-Since"));
    CHECK(request->body.empty());
  }
  SECTION("later polls send the stored ETag and Last-Modified") {
    SourceCursor cursor;
    cursor.cursor = "2026-03-10T21:15:00Z";
    cursor.etag = "W/\"abc123\"";
    cursor.last_modified = "Tue, 10 Mar 2026 21:15:00 GMT";
    auto request = NextRequest(FeedSource(), cursor);
    REQUIRE(request.ok());
    CHECK(request->url == kBlogFeed);  // the cursor never changes the URL
    CHECK(request->headers.Get("If-None-Match") == std::optional<std::string_view>("W/\"abc123\""));
    CHECK(request->headers.Get("If-Modified-Since") ==
          std::optional<std::string_view>("Tue, 10 Mar 2026 21:15:00 GMT"));
  }
  SECTION("only the validator that is known") {
    SourceCursor cursor;
    cursor.last_modified = "Tue, 10 Mar 2026 21:15:00 GMT";
    auto request = NextRequest(FeedSource(), cursor);
    REQUIRE(request.ok());
    CHECK_FALSE(request->headers.Get("If-None-Match"));
    CHECK(request->headers.Get("If-Modified-Since"));
  }
  SECTION("bad sources are refused") {
    CHECK(NextRequest(FeedSource(""), SourceCursor{}).status().code() ==
          StatusCode::kInvalidArgument);
    CHECK(NextRequest(FeedSource("ftp://example.org/feed"), SourceCursor{}).status().code() ==
          StatusCode::kInvalidArgument);
    SourceSpec zero = FeedSource();
    zero.options["max_items"] = int64_t{0};
    CHECK(NextRequest(zero, SourceCursor{}).status().code() == StatusCode::kInvalidArgument);
    SourceSpec tiny = FeedSource();
    tiny.options["max_text_bytes"] = int64_t{10};
    CHECK(NextRequest(tiny, SourceCursor{}).status().code() == StatusCode::kInvalidArgument);
    HttpResponse response;
    response.status = 200;
    response.url = kBlogFeed;
    response.body = Own("rss091.xml");
    CHECK(Parse(zero, SourceCursor{}, response).status().code() == StatusCode::kInvalidArgument);
  }
}

TEST_CASE("feed has no rate-limit dialect", "[feed]") {
  HttpResponse response;
  response.status = 429;
  response.headers.Add("X-RateLimit-Limit", "300");
  response.headers.Add("X-RateLimit-Remaining", "0");
  response.headers.Add("Retry-After", "120");
  CHECK(ReadRateLimit(response).empty());
}

TEST_CASE("WordPressCommentParent strips only #comment-N", "[feed]") {
  CHECK(WordPressCommentParent("https://b.example/?p=1#comment-12") == "https://b.example/?p=1");
  CHECK(WordPressCommentParent("https://b.example/post/#comment-3") == "https://b.example/post/");
  CHECK(WordPressCommentParent("https://b.example/post/#comments").empty());
  CHECK(WordPressCommentParent("https://b.example/post/#comment-").empty());
  CHECK(WordPressCommentParent("https://b.example/post/#comment-1a").empty());
  CHECK(WordPressCommentParent("tag:x,2016:1").empty());
}

// ---------------------------------------------------------------------------
// Our own fixtures: formats

TEST_CASE("feed reads RSS 0.91 without fetching its DTD", "[feed]") {
  ParsedFeed feed =
      ParseOk(Own("rss091.xml"), Options("https://patients.riverside-surgery.example/rss.xml"));
  RequireCleanText(feed);
  CHECK(feed.format == "rss");
  CHECK(feed.title == "Riverside Surgery Patient Group");
  CHECK(feed.link == "https://patients.riverside-surgery.example/");
  CHECK(feed.language == "en-gb");
  REQUIRE(feed.items.size() == 3);
  const Post& first = feed.items[0].post;
  CHECK(first.id == "https://patients.riverside-surgery.example/news/flu-clinics");
  CHECK(first.url == first.id);
  CHECK(first.title == "Flu clinic dates for the autumn");
  CHECK(first.text == "Saturday flu clinics run from 9am. Bring your NHS letter if you have one.");
  CHECK(first.language == "en-gb");
  CHECK_FALSE(first.created_at);
  CHECK(first.conversation == first.id);
  CHECK(first.reply_to.empty());
  // A relative link resolves against the document URL and becomes the id.
  CHECK(feed.items[1].post.url ==
        "https://patients.riverside-surgery.example/news/reception-thanks");
  CHECK(feed.items[1].post.id == feed.items[1].post.url);
  CHECK(feed.skipped_items == 0);
  CHECK(feed.warnings.empty());
}

TEST_CASE("feed reads RSS 2.0 with CDATA, escaped HTML and guid rules", "[feed]") {
  ParsedFeed feed = ParseOk(Own("rss20_cdata_escaped.xml"));
  RequireCleanText(feed);
  CHECK(feed.format == "rss");
  CHECK(feed.language == "en-GB");
  REQUIRE(feed.items.size() == 7);

  SECTION("CDATA content:encoded is the fullest text; guid isPermaLink=false is only an id") {
    const FeedItem& item = feed.items[0];
    const Post& p = item.post;
    CHECK(p.id == "https://waitingroom.example.org/?p=101");
    CHECK(p.url == "https://waitingroom.example.org/2026/03/eight-hours-in-ae/");
    CHECK(p.title == "Eight hours in A&E \u2013 and a nurse who made it bearable");
    CHECK(Contains(p.text, "We waited eight hours at the emergency department."));
    CHECK(Contains(p.text, "every hour & brought him tea."));
    CHECK(Contains(p.text, "That kindness mattered more than the wait."));
    CHECK_FALSE(Contains(p.text, "alert"));
    CHECK_FALSE(Contains(p.text, "<p>"));
    CHECK(p.author_name == "Sam Example");
    CHECK(p.author_handle == "Sam Example");
    CHECK(Date(p) == "2026-03-10T21:15:00Z");
    CHECK(p.language == "en-GB");
    CHECK(p.conversation == p.id);
    CHECK(p.reply_to.empty());
    CHECK(item.comment_feed_url ==
          "https://waitingroom.example.org/2026/03/eight-hours-in-ae/feed/");
    CHECK(item.comment_count == std::optional<int64_t>(3));
  }
  SECTION("escaped HTML description, RSS author with address, relative link") {
    const Post& p = feed.items[1].post;
    CHECK(p.id == "https://waitingroom.example.org/?p=99");
    CHECK(p.url == "https://waitingroom.example.org/2026/03/booking-a-blood-test/");
    CHECK(p.text ==
          "The new booking page for the phlebotomy clinic is much easier & quicker.\n\n"
          "Second paragraph.");
    CHECK(p.author_handle == "sam@waitingroom.example.org");
    CHECK(p.author_name == "Sam Example");
    CHECK(Date(p) == "2026-03-09T08:30:00Z");
  }
  SECTION("guid with the default isPermaLink is the URL when there is no link") {
    const Post& p = feed.items[2].post;
    CHECK(p.id == "https://waitingroom.example.org/2026/03/pharmacy-first/");
    CHECK(p.url == p.id);
    CHECK(Date(p) == "2026-03-08T11:00:00Z");  // ISO 8601 in pubDate
  }
  SECTION("an unparseable date is a warning naming the item; the item is kept") {
    const Post& p = feed.items[3].post;
    CHECK(p.id == "wr-2026-0007");
    CHECK(p.url == "https://waitingroom.example.org/2026/03/physio-update/");
    CHECK_FALSE(p.created_at);
    CHECK(AnyWarningContains(feed.warnings, "item 4"));
    CHECK(AnyWarningContains(feed.warnings, "sometime last week"));
  }
  SECTION("an item with neither guid nor link gets a stable content-hash id") {
    const Post& p = feed.items[4].post;
    CHECK(p.id.rfind("sha256:", 0) == 0);
    CHECK(p.id.size() == 7 + 64);
    CHECK(p.url.empty());
    CHECK(Date(p) == "2026-03-07T10:00:00Z");
    CHECK(AnyWarningContains(feed.warnings, "item 5"));
    ParsedFeed again = ParseOk(Own("rss20_cdata_escaped.xml"));
    CHECK(again.items[4].post.id == p.id);
  }
  SECTION("a javascript: link is dropped") {
    const Post& p = feed.items[5].post;
    CHECK(p.id == "wr-2026-0009");
    CHECK(p.url.empty());
    CHECK(AnyWarningContains(feed.warnings, "item 6"));
  }
  SECTION("a title escaped twice is read as HTML") {
    CHECK(feed.items[6].post.title == "Double escaped & title");
  }
  SECTION("through the descriptor: a page with an informational cursor") {
    HttpResponse response;
    response.status = 200;
    response.url = kBlogFeed;
    response.headers.Add("Content-Type", "application/rss+xml; charset=UTF-8");
    response.body = Own("rss20_cdata_escaped.xml");
    auto page = Parse(FeedSource(), SourceCursor{}, response);
    REQUIRE(page.ok());
    CHECK(page->posts.size() == 7);
    CHECK(page->caught_up);
    CHECK(page->next_cursor == "2026-03-10T21:15:00Z");
    CHECK(page->rate_limit.empty());
    CHECK(page->skipped_items == 0);
    CHECK(page->warnings.size() == feed.warnings.size());
    for (const Post& p : page->posts) {
      CHECK(p.fetched_at == TimePoint{});
      CHECK(p.content_hash.empty());
    }
  }
}

TEST_CASE("feed reads RSS 1.0 (RDF)", "[feed]") {
  ParsedFeed feed =
      ParseOk(Own("rss10_rdf.xml"), Options("https://forum.healthwatch-dale.example/rss"));
  RequireCleanText(feed);
  CHECK(feed.format == "rss1");
  CHECK(feed.title == "Dale Health Forum");
  CHECK(feed.language == "cy-GB");
  REQUIRE(feed.items.size() == 2);
  const Post& first = feed.items[0].post;
  CHECK(first.id == "https://forum.healthwatch-dale.example/t/101");
  CHECK(first.url == "https://forum.healthwatch-dale.example/t/101");
  CHECK(first.text ==
        "The ambulance took forty minutes to reach the farm, but the crew were brilliant.");
  CHECK(first.author_name == "Valley Resident");
  CHECK(Date(first) == "2026-02-14T09:45:30Z");
  CHECK(first.language == "cy-GB");
  const Post& second = feed.items[1].post;
  CHECK(second.language == "en-GB");
  CHECK(second.text == "Has anyone managed to register with an NHS dentist in town?");
  CHECK(Date(second) == "2026-02-13T18:00:00Z");
}

TEST_CASE("feed reads Atom 0.3", "[feed]") {
  ParsedFeed feed = ParseOk(Own("atom03.xml"), Options("https://ward7.example.net/atom.xml"));
  RequireCleanText(feed);
  CHECK(feed.format == "atom0.3");
  CHECK(feed.title == "Ward 7 Volunteers");
  CHECK(feed.link == "https://ward7.example.net/");
  REQUIRE(feed.items.size() == 2);
  const Post& tea = feed.items[0].post;
  CHECK(tea.id == "tag:ward7.example.net,2025:tea-trolley");
  CHECK(tea.url == "https://ward7.example.net/2025/11/tea-trolley");
  CHECK(tea.text ==
        "Patients on the ward said the afternoon tea round is the highlight of the day.");
  CHECK(Date(tea) == "2025-11-19T14:30:00Z");         // issued beats modified
  CHECK(tea.author_name == "Volunteer Coordinator");  // inherited from the feed
  CHECK(tea.author_handle == "coordinator@ward7.example.net");
  CHECK(tea.language == "en");
  const Post& lounge = feed.items[1].post;
  CHECK(lounge.text ==
        "Waiting for medicines to take home took three hours.\n\n"
        "The lounge needs more chairs.");
  CHECK(Date(lounge) == "2025-11-18T16:00:00Z");  // only modified
  CHECK(lounge.author_name == "Duty Volunteer");
  CHECK(lounge.author_handle == "https://ward7.example.net/people/duty");
}

TEST_CASE("feed reads Atom 1.0 with xhtml content and nested xml:base", "[feed]") {
  ParsedFeed feed =
      ParseOk(Own("atom10_xhtml_base.xml"), Options("https://mirror.example.com/feeds/mv.atom"));
  RequireCleanText(feed);
  CHECK(feed.format == "atom1");
  CHECK(feed.title == "Maternity Voices");
  CHECK(feed.link == "https://blog.maternity-voices.example/");
  CHECK(feed.language == "en-GB");
  REQUIRE(feed.items.size() == 2);

  const FeedItem& night = feed.items[0];
  CHECK(night.post.id == "urn:uuid:6f1e0f64-5b1d-4f0e-9a47-000000000002");
  CHECK(night.post.url == "https://blog.maternity-voices.example/posts/2026/night-shift.html");
  CHECK(night.comment_feed_url ==
        "https://blog.maternity-voices.example/posts/2026/night-shift/comments.atom");
  CHECK(night.comment_count == std::optional<int64_t>(2));
  CHECK(night.post.title == "Night shift midwives");
  CHECK(Contains(night.post.text, "The midwives on the night shift were calm & kind."));
  CHECK(Contains(night.post.text, "One stayed past the end of her shift\nto help with feeding."));
  CHECK(Contains(night.post.text, "Clear explanations"));
  CHECK(Contains(night.post.text, "Quiet ward"));
  CHECK_FALSE(Contains(night.post.text, "Short summary"));  // content is fuller
  CHECK_FALSE(Contains(night.post.text, "<"));
  CHECK(Date(night.post) == "2026-01-04T23:10:00Z");  // published beats updated
  CHECK(night.post.author_name == "Maternity Voices Editors");
  CHECK(night.post.author_handle == "https://blog.maternity-voices.example/about");
  CHECK(night.post.language == "en-GB");

  const Post& classes = feed.items[1].post;
  CHECK(classes.title == "Antenatal classes < enough places");  // type="text" is not HTML
  CHECK(classes.url == "https://blog.maternity-voices.example/posts/antenatal.html");
  CHECK(Date(classes) == "2025-12-30T14:00:00Z");
  CHECK(classes.author_name == "Guest Writer");
  CHECK(classes.author_handle == "guest@maternity-voices.example");
  CHECK(classes.language == "fr");
  CHECK(classes.text == "The antenatal classes are fully booked until spring.");
}

// ---------------------------------------------------------------------------
// Our own fixtures: encodings

TEST_CASE("feed decodes an ISO-8859-1 feed from its declaration", "[feed]") {
  const std::string body = Own("iso8859_1.xml");
  REQUIRE_FALSE(IsValidUtf8(body));  // really Latin-1 bytes
  ParsedFeed feed = ParseOk(body, Options("https://cafe-sante.example/rss"));
  RequireCleanText(feed);
  CHECK(feed.title == "Caf\u00e9 de la Sant\u00e9");
  REQUIRE(feed.items.size() == 1);
  const Post& p = feed.items[0].post;
  CHECK(p.title == "Prescription charge \u00a39.90 \u00bd price?");
  CHECK(p.text ==
        "The na\u00efve question: is the pr\u00e9-payment certificate worth it? \u00a9 us");
  CHECK(Date(p) == "2026-04-01T09:00:00Z");
}

TEST_CASE("feed: the HTTP charset beats the XML declaration", "[feed]") {
  SECTION("declared ISO-8859-1, really UTF-8, HTTP says UTF-8") {
    const std::string body = Own("charset_conflict.xml");
    ParsedFeed right = ParseOk(body, Options("https://mixed.example/rss", "utf-8"));
    RequireCleanText(right);
    REQUIRE(right.items.size() == 1);
    CHECK(right.items[0].post.title == "Caf\u00e9 at the hospital: \u00a33.50 for a sandwich");
    CHECK(right.items[0].post.text == "Na\u00efve pricing \u2014 patients\u2019 families pay it.");
    // Without the HTTP charset the (wrong) declaration decides.
    ParsedFeed wrong = ParseOk(body, Options("https://mixed.example/rss"));
    RequireCleanText(wrong);
    CHECK(wrong.items[0].post.title ==
          "Caf\u00c3\u00a9 at the hospital: \u00c2\u00a33.50 for a sandwich");
  }
  SECTION("through Parse, from the Content-Type header") {
    HttpResponse response;
    response.status = 200;
    response.url = "https://mixed.example/rss";
    response.headers.Add("Content-Type", "application/rss+xml; charset=\"UTF-8\"");
    response.body = Own("charset_conflict.xml");
    auto page = Parse(FeedSource(response.url), SourceCursor{}, response);
    REQUIRE(page.ok());
    REQUIRE(page->posts.size() == 1);
    CHECK(page->posts[0].title == "Caf\u00e9 at the hospital: \u00a33.50 for a sandwich");
  }
  SECTION("declared UTF-8, really windows-1252, HTTP says windows-1252") {
    const std::string body = Own("charset_conflict_cp1252.xml");
    ParsedFeed right = ParseOk(body, Options("https://cp1252.example/rss", "windows-1252"));
    RequireCleanText(right);
    REQUIRE(right.items.size() == 1);
    CHECK(right.items[0].post.title ==
          "\u201cBrilliant\u201d care on the stroke unit \u2013 thank you");
    CHECK(right.items[0].post.text == "Staff were \u201cbrilliant\u201d \u2026 \u20ac no charge.");
    // Without it the stray bytes are replaced, never passed on.
    ParsedFeed repaired = ParseOk(body, Options("https://cp1252.example/rss"));
    RequireCleanText(repaired);
    REQUIRE(repaired.items.size() == 1);
    CHECK(Contains(repaired.items[0].post.title, "\uFFFD"));
    CHECK(Contains(repaired.items[0].post.title, "care on the stroke unit"));
    CHECK(AnyWarningContains(repaired.warnings, "invalid UTF-8"));
  }
  SECTION("an unknown HTTP charset falls back to the declaration, with a warning") {
    ParsedFeed feed = ParseOk(Own("iso8859_1.xml"),
                              Options("https://cafe-sante.example/rss", "x-no-such-charset"));
    CHECK(feed.items[0].post.title == "Prescription charge \u00a39.90 \u00bd price?");
    CHECK(AnyWarningContains(feed.warnings, "x-no-such-charset"));
  }
}

TEST_CASE("feed honours a byte order mark", "[feed]") {
  SECTION("UTF-8 BOM") {
    ParsedFeed feed = ParseOk(Own("bom_utf8.xml"), Options("https://bom.example/rss"));
    RequireCleanText(feed);
    CHECK(feed.title == "BOM first");
    REQUIRE(feed.items.size() == 1);
    CHECK(feed.items[0].post.title == "Caf\u00e9 opening hours at the community hospital");
    CHECK(Date(feed.items[0].post) == "2026-04-02T07:30:00Z");
    CHECK(feed.warnings.empty());
  }
  SECTION("UTF-8 BOM wins over a contradicting HTTP charset") {
    ParsedFeed feed =
        ParseOk(Own("bom_utf8.xml"), Options("https://bom.example/rss", "iso-8859-1"));
    REQUIRE(feed.items.size() == 1);
    CHECK(feed.items[0].post.title == "Caf\u00e9 opening hours at the community hospital");
    CHECK(AnyWarningContains(feed.warnings, "byte order mark"));
  }
  SECTION("UTF-16LE with BOM") {
    ParsedFeed feed = ParseOk(Own("bom_utf16le.xml"), Options("https://utf16.example/rss"));
    RequireCleanText(feed);
    CHECK(feed.title == "UTF-16 feed");
    REQUIRE(feed.items.size() == 1);
    CHECK(feed.items[0].post.title == "Caf\u00e9 \u20ac and \U0001F3E5 hospital emoji");
    CHECK(feed.items[0].post.url == "https://utf16.example/one");
  }
}

// ---------------------------------------------------------------------------
// Our own fixtures: comment feeds

TEST_CASE("feed groups WordPress RSS comments under their article", "[feed]") {
  ParsedFeed articles = ParseOk(Own("rss20_cdata_escaped.xml"));
  ParsedFeed comments = ParseOk(Own("wordpress_comments_rss2.xml"),
                                Options("https://waitingroom.example.org/comments/feed/"));
  RequireCleanText(comments);
  CHECK(comments.title == "Comments for Waiting Room Diaries");
  REQUIRE(comments.items.size() == 2);
  const Post& jo = comments.items[0].post;
  CHECK(jo.id == "https://waitingroom.example.org/?p=101#comment-12");
  CHECK(jo.url == "https://waitingroom.example.org/2026/03/eight-hours-in-ae/#comment-12");
  CHECK(jo.title ==
        "Comment on Eight hours in A&E \u2013 and a nurse who made it bearable by Jo Reader");
  CHECK(jo.author_name == "Jo Reader");
  CHECK(
      jo.text ==
      "Same at our hospital last month \u2013 the nurses were run off their feet but still kind.");
  CHECK(Date(jo) == "2026-03-11T09:05:00Z");
  // The article's own id, as its posts feed gives it.
  CHECK(jo.conversation == articles.items[0].post.id);
  CHECK(jo.reply_to == articles.items[0].post.id);
  const Post& pat = comments.items[1].post;
  CHECK(pat.conversation == articles.items[1].post.id);
  CHECK(pat.reply_to == articles.items[1].post.id);
}

TEST_CASE("feed reads thr:in-reply-to in a WordPress Atom comment feed", "[feed]") {
  ParsedFeed feed =
      ParseOk(Own("wordpress_comments_atom.xml"),
              Options("https://waitingroom.example.org/2026/03/eight-hours-in-ae/feed/atom/"));
  RequireCleanText(feed);
  CHECK(feed.title == "Comments on: Eight hours in A&E \u2013 and a nurse who made it bearable");
  REQUIRE(feed.items.size() == 2);
  const Post& nurse = feed.items[0].post;
  CHECK(nurse.id == "https://waitingroom.example.org/?p=101#comment-13");
  CHECK(nurse.reply_to ==
        "https://waitingroom.example.org/?p=101#comment-12");             // the parent comment
  CHECK(nurse.conversation == "https://waitingroom.example.org/?p=101");  // the article
  CHECK(nurse.text == "Thank you for saying so \u2013 I\u2019ll pass this on to the team.");
  CHECK(nurse.author_name == "Nurse Reply");
  CHECK(nurse.language == "en-GB");
  const Post& jo = feed.items[1].post;
  CHECK(jo.reply_to == "https://waitingroom.example.org/?p=101");
  CHECK(jo.conversation == "https://waitingroom.example.org/?p=101");
  CHECK(jo.author_handle == "https://jo-reader.example/");
  // The same comment read from the RSS comments feed has the same id.
  ParsedFeed rss = ParseOk(Own("wordpress_comments_rss2.xml"));
  CHECK(rss.items[0].post.id == jo.id);
  CHECK(rss.items[0].post.conversation == jo.conversation);
}

TEST_CASE("feed reads thr:in-reply-to outside WordPress", "[feed]") {
  ParsedFeed feed = ParseOk(Own("blogger_style_comments_atom.xml"),
                            Options("https://clinicnotes.example/feeds/comments/default"));
  RequireCleanText(feed);
  REQUIRE(feed.items.size() == 2);
  const Post& first = feed.items[0].post;
  CHECK(first.reply_to == "tag:blog.example,1999:blog-42.post-500");
  CHECK(first.conversation == "tag:blog.example,1999:blog-42.post-500");
  CHECK(Date(first) == "2026-05-02T09:00:00Z");
  CHECK(first.url == "https://clinicnotes.example/2026/05/hearing.html?showComment=1#c7001");
  const Post& second = feed.items[1].post;  // only an href, relative
  CHECK(second.reply_to == "https://clinicnotes.example/2026/05/hearing.html");
  CHECK(second.conversation == second.reply_to);
  CHECK(second.author_name.empty());
}

// ---------------------------------------------------------------------------
// Hostile and broken bodies

TEST_CASE("feed refuses an entity expansion bomb", "[feed]") {
  const Status status = ParseFails(Own("billion_laughs.xml"), Options("https://bomb.example/rss"));
  CHECK(status.code() == StatusCode::kParseError);
  CHECK(Contains(status.message(), "https://bomb.example/rss:19:"));  // the <title> line
  CHECK(Contains(status.message(), "entity"));
}

TEST_CASE("feed keeps entity expansion within bounds when libxml2 lets it through", "[feed]") {
  // 2,000 references to a 10 kB entity: 20 MB if expanded naively.
  std::string body = "<?xml version=\"1.0\"?>\n<!DOCTYPE rss [<!ENTITY big \"" +
                     std::string(10'000, 'x') +
                     "\">]>\n<rss version=\"2.0\"><channel>"
                     "<title>quadratic</title><item><link>https://q.example/1</link>"
                     "<description>";
  for (int i = 0; i < 2000; ++i) body += "&big;";
  body += "</description></item></channel></rss>";
  FeedParseOptions options = Options("https://q.example/rss");
  auto feed = ParseFeed(body, options);
  if (feed.ok()) {
    REQUIRE(feed->items.size() == 1);
    CHECK(feed->items[0].post.text.size() <= static_cast<size_t>(options.max_text_bytes));
  } else {
    CHECK(feed.status().code() == StatusCode::kParseError);
  }
}

TEST_CASE("feed survives wide fan-out of entities that expand to nothing", "[feed]") {
  for (const auto& [levels, fanout] : std::vector<std::pair<int, int>>{{9, 10}, {3, 1000}}) {
    std::string body = "<?xml version=\"1.0\"?>\n<!DOCTYPE rss [<!ENTITY e0 \"\">";
    for (int level = 1; level <= levels; ++level) {
      std::string refs;
      for (int i = 0; i < fanout; ++i) refs += "&e" + std::to_string(level - 1) + ";";
      body += "<!ENTITY e" + std::to_string(level) + " \"" + refs + "\">";
    }
    const std::string top = "&e" + std::to_string(levels) + ";";
    body += "]>\n<rss version=\"2.0\"><channel><item><title>a" + top +
            "b</title>"
            "<link>https://e.example/1</link><description>" +
            top +
            "</description>"
            "</item></channel></rss>";
    auto feed = ParseFeed(body, Options("https://e.example/rss"));
    if (feed.ok()) {
      REQUIRE(feed->items.size() == 1);
      CHECK(feed->items[0].post.title == "ab");
    } else {
      CHECK(feed.status().code() == StatusCode::kParseError);
    }
  }
}

TEST_CASE("feed never reads external entities (XXE)", "[feed]") {
  auto no_leak = [](const ParsedFeed& feed) {
    for (const FeedItem& item : feed.items) {
      for (const std::string* s : {&item.post.title, &item.post.text, &item.post.id}) {
        CHECK_FALSE(Contains(*s, "root:"));
        CHECK_FALSE(Contains(*s, "/bin/"));
        CHECK_FALSE(Contains(*s, "LEAKED"));
      }
    }
  };
  SECTION("general entity pointing at file:///etc/passwd") {
    ParsedFeed feed = ParseOk(Own("xxe_file.xml"), Options("https://xxe.example/rss"));
    no_leak(feed);
    REQUIRE(feed.items.size() == 1);
    // Internal entities still expand; the external one is left out.
    CHECK(feed.items[0].post.title == "Leak: from Example Community NHS Trust");
    CHECK(feed.items[0].post.text == "before after");
  }
  SECTION("parameter entity pointing at file:///etc/passwd") {
    auto feed = ParseFeed(Own("xxe_parameter.xml"), Options("https://xxe.example/rss"));
    if (feed.ok()) {
      no_leak(*feed);
      REQUIRE(feed->items.size() == 1);
      CHECK(feed->items[0].post.title == "Nothing to see");
    } else {
      CHECK(feed.status().code() == StatusCode::kParseError);
    }
  }
  SECTION("external DTD on a closed local port") {
    ParsedFeed feed = ParseOk(Own("external_dtd.xml"), Options("https://dtd.example/rss"));
    no_leak(feed);
    REQUIRE(feed.items.size() == 1);
    CHECK(Contains(feed.items[0].post.title, "Minor injuries unit"));
    CHECK(feed.items[0].post.text == "The minor injuries unit now opens at 8am.");
  }
  SECTION("external DTD and entity on the local disk that would define text") {
    const std::string dtd = "file://" + testing::OwnFixture("feed/evil.dtd").string();
    REQUIRE(Contains(testing::ReadFile(testing::OwnFixture("feed/evil.dtd")), "LEAKED"));
    const std::string body =
        "<?xml version=\"1.0\"?>\n<!DOCTYPE rss SYSTEM \"" + dtd + "\" [<!ENTITY ext SYSTEM \"" +
        dtd +
        "\">]>\n<rss version=\"2.0\"><channel><title>t"
        "</title><item><title>A &secret; B &ext; C</title><link>https://dtd.example/2</link>"
        "</item></channel></rss>";
    ParsedFeed feed = ParseOk(body, Options("https://dtd.example/rss"));
    no_leak(feed);
    REQUIRE(feed.items.size() == 1);
    CHECK(feed.items[0].post.title == "A B C");
  }
}

TEST_CASE("feed rejects bodies that are not feeds, naming URL and position", "[feed]") {
  const FeedParseOptions options = Options("https://broken.example/feed.xml");
  SECTION("truncated XML") {
    const Status status = ParseFails(Own("truncated.xml"), options);
    CHECK(status.code() == StatusCode::kParseError);
    CHECK(Contains(status.message(), "https://broken.example/feed.xml:"));
    CHECK(Contains(status.message(), "truncated"));
    // line:column of where the data ended
    CHECK(Contains(status.message(), "feed.xml:15:50: truncated XML"));
  }
  SECTION("JSON") {
    const Status status = ParseFails(Own("not_xml.json"), options);
    CHECK(status.code() == StatusCode::kParseError);
    CHECK(Contains(status.message(), "https://broken.example/feed.xml:1:1: not XML"));
  }
  SECTION("an HTML page") {
    const Status status = ParseFails(Own("html_page.html"), options);
    CHECK(status.code() == StatusCode::kParseError);
    CHECK(Contains(status.message(), "https://broken.example/feed.xml"));
    CHECK(Contains(status.message(), "not a feed: root element <html>"));
  }
  SECTION("some other XML document") {
    const Status status =
        ParseFails("<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"/>", options);
    CHECK(Contains(status.message(), "not a feed: root element <svg>"));
  }
  SECTION("empty and blank bodies") {
    CHECK(Contains(ParseFails(Own("empty.xml"), options).message(), "empty body"));
    CHECK(Contains(ParseFails(" \n\t\n", options).message(), "empty body"));
  }
  SECTION("binary garbage") {
    std::string garbage;
    uint32_t x = 2463534242u;
    for (int i = 0; i < 100'000; ++i) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      garbage.push_back(static_cast<char>(x & 0xFF));
    }
    const Status status = ParseFails(garbage, options);
    CHECK(status.code() == StatusCode::kParseError);
    CHECK(Contains(status.message(), "https://broken.example/feed.xml"));
  }
  SECTION("a deeply nested document") {
    std::string body =
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><item>"
        "<link>https://deep.example/1</link><description>";
    for (int i = 0; i < 100'000; ++i) body += "<a>";
    for (int i = 0; i < 100'000; ++i) body += "</a>";
    body += "</description></item></channel></rss>";
    const Status status = ParseFails(body, options);
    CHECK(status.code() == StatusCode::kParseError);
    CHECK(Contains(status.message(), "depth"));
  }
  SECTION("through the descriptor") {
    HttpResponse response;
    response.status = 200;
    response.url = "https://broken.example/feed.xml";
    response.body = Own("html_page.html");
    auto page = Parse(FeedSource(response.url), SourceCursor{}, response);
    REQUIRE_FALSE(page.ok());
    CHECK(page.status().code() == StatusCode::kParseError);
  }
}

TEST_CASE("feed survives a 2 MB description", "[feed]") {
  std::string paragraph = "<p>The discharge letter was clear and the pharmacy was quick. </p>";
  std::string description;
  while (description.size() < 2 * 1024 * 1024) description += paragraph;
  const std::string body =
      "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>big</title><item>"
      "<title>Long story</title><link>https://big.example/1</link><description><![CDATA[" +
      description +
      "]]></description></item><item><title>Next</title>"
      "<link>https://big.example/2</link></item></channel></rss>";
  SECTION("cut to max_text_bytes with a warning") {
    ParsedFeed feed = ParseOk(body, Options("https://big.example/rss"));
    RequireCleanText(feed);
    REQUIRE(feed.items.size() == 2);
    const Post& p = feed.items[0].post;
    CHECK(p.text.size() <= static_cast<size_t>(connector_feed::kDefaultMaxTextBytes));
    CHECK(p.text.size() > static_cast<size_t>(connector_feed::kDefaultMaxTextBytes) / 2);
    CHECK(p.text.rfind("The discharge letter was clear", 0) == 0);
    CHECK(AnyWarningContains(feed.warnings, "item 1"));
    CHECK(AnyWarningContains(feed.warnings, "max_text_bytes"));
    CHECK(feed.items[1].post.title == "Next");
  }
  SECTION("kept whole when the limit allows") {
    FeedParseOptions options = Options("https://big.example/rss");
    options.max_text_bytes = 8 * 1024 * 1024;
    ParsedFeed feed = ParseOk(body, options);
    REQUIRE(feed.items.size() == 2);
    CHECK(feed.items[0].post.text.size() > 1024 * 1024);
  }
}

TEST_CASE("feed limits, duplicates and sloppy documents", "[feed]") {
  SECTION("items beyond max_items are skipped and counted") {
    std::string body = "<rss version=\"2.0\"><channel><title>many</title>";
    for (int i = 0; i < 30; ++i) {
      body += "<item><title>Post " + std::to_string(i) + "</title><link>https://many.example/" +
              std::to_string(i) + "</link></item>";
    }
    body += "</channel></rss>";
    SourceSpec source = FeedSource("https://many.example/rss");
    source.options["max_items"] = int64_t{10};
    HttpResponse response;
    response.status = 200;
    response.url = source.url;
    response.body = body;
    auto page = Parse(source, SourceCursor{}, response);
    REQUIRE(page.ok());
    CHECK(page->posts.size() == 10);
    CHECK(page->posts.back().id == "https://many.example/9");
    CHECK(page->skipped_items == 20);
    CHECK(AnyWarningContains(page->warnings, "max_items=10"));
    CHECK(page->next_cursor.empty());  // no dates: keep the stored cursor
  }
  SECTION("a repeated id is kept once") {
    ParsedFeed feed = ParseOk(
        "<rss version=\"2.0\"><channel><item><guid>https://d.example/1</guid><title>a</title>"
        "</item><item><guid>https://d.example/1</guid><title>b</title></item></channel></rss>");
    REQUIRE(feed.items.size() == 1);
    CHECK(feed.items[0].post.title == "a");
    CHECK(feed.skipped_items == 1);
    CHECK(AnyWarningContains(feed.warnings, "item 2"));
  }
  SECTION("an empty item is skipped and counted") {
    ParsedFeed feed = ParseOk(
        "<rss version=\"2.0\"><channel><item></item><item>"
        "<link>https://e.example/1</link></item></channel></rss>");
    REQUIRE(feed.items.size() == 1);
    CHECK(feed.skipped_items == 1);
    CHECK(AnyWarningContains(feed.warnings, "item 1"));
  }
  SECTION("bare ampersands and undefined entities are recovered, with a warning") {
    ParsedFeed feed = ParseOk(
        "<rss version=\"2.0\"><channel><item><title>Fish & chips &nbsp; at the canteen"
        "</title><link>https://s.example/1</link></item></channel></rss>",
        Options("https://s.example/rss"));
    REQUIRE(feed.items.size() == 1);
    CHECK(Contains(feed.items[0].post.title, "chips"));
    CHECK(Contains(feed.items[0].post.title, "canteen"));
    CHECK(AnyWarningContains(feed.warnings, "https://s.example/rss:1:"));
    CHECK(AnyWarningContains(feed.warnings, "not well-formed"));
  }
  SECTION("relative links without a document URL are left out with a warning") {
    ParsedFeed feed = ParseOk(
        "<rss version=\"2.0\"><channel><item><guid isPermaLink=\"false\">"
        "x1</guid><link>/relative</link></item></channel></rss>",
        Options(""));
    REQUIRE(feed.items.size() == 1);
    CHECK(feed.items[0].post.url.empty());
    CHECK(feed.items[0].post.id == "x1");
    CHECK(AnyWarningContains(feed.warnings, "/relative"));
  }
}

TEST_CASE("feed parsing is thread-safe", "[feed]") {
  const std::string rss = Own("rss20_cdata_escaped.xml");
  const std::string atom = Own("atom10_xhtml_base.xml");
  const std::string latin1 = Own("iso8859_1.xml");
  const std::string bomb = Own("billion_laughs.xml");
  const ParsedFeed expected = ParseOk(rss);
  std::vector<int> failures(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        auto a = ParseFeed(rss, Options());
        auto b = ParseFeed(atom, Options("https://mirror.example.com/feeds/mv.atom"));
        auto c = ParseFeed(latin1, Options("https://cafe-sante.example/rss"));
        auto d = ParseFeed(bomb, Options("https://bomb.example/rss"));
        const bool good =
            a.ok() && b.ok() && c.ok() && !d.ok() && a->items.size() == expected.items.size() &&
            a->items[0].post.text == expected.items[0].post.text && b->items.size() == 2 &&
            c->items[0].post.title == "Prescription charge \u00a39.90 \u00bd price?";
        if (!good) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failures == std::vector<int>(4, 0));
}

// ---------------------------------------------------------------------------
// Shared recordings (read in place)

std::string DocumentUrlFor(const std::string& file) {
  static const std::map<std::string, std::string> kUrls = {
      {"gnusocial_user_timeline_atom_thr_quitter_2016.xml",
       "https://quitter.no/api/statuses/user_timeline/7477.atom"},
      {"wordpress_comments_rss2_sitewide_simplystatic.xml",
       "https://riskprofiler.example/comments/feed/"},
      {"wordpress_post_comments_rss2_simplystatic.xml",
       "https://riskprofiler.example/2021/05/14/hello-world/feed/"},
      {"wordpress_blog_rss2_tenderlovemaking_2009.xml", "http://tenderlovemaking.com/feed/"},
      {"blogger_atom_via_feedburner.xml", "http://feeds.feedburner.com/blogspot/lQlzL"},
  };
  auto it = kUrls.find(file);
  return it == kUrls.end() ? "https://feeds.example/feed" : it->second;
}

ParsedFeed ParseShared(const std::filesystem::path& dir, const std::string& file) {
  const std::string body = testing::ReadFile(dir / file);
  return ParseOk(body, Options(DocumentUrlFor(file)));
}

TEST_CASE("feed parses every shared feed recording", "[feed]") {
  EARSHOT_REQUIRE_SHARED(dir, "feeds");
  const auto files = testing::FilesIn(*dir, {".xml", ".rss", ".atom"});
  REQUIRE_FALSE(files.empty());
  for (const auto& path : files) {
    INFO(path.filename().string());
    ParsedFeed feed = ParseShared(*dir, path.filename().string());
    CHECK_FALSE(feed.items.empty());
    CHECK(feed.skipped_items == 0);
    RequireCleanText(feed);
    // Through the descriptor too, as the engine calls it.
    HttpResponse response;
    response.status = 200;
    response.url = DocumentUrlFor(path.filename().string());
    response.body = testing::ReadFile(path);
    auto page = Parse(FeedSource(response.url), SourceCursor{}, response);
    REQUIRE(page.ok());
    CHECK(page->posts.size() == feed.items.size());
  }
}

TEST_CASE("feed: GNU social Atom timeline with thr:in-reply-to", "[feed]") {
  EARSHOT_REQUIRE_SHARED(dir, "feeds");
  ParsedFeed feed = ParseShared(*dir, "gnusocial_user_timeline_atom_thr_quitter_2016.xml");
  CHECK(feed.format == "atom1");
  CHECK(feed.title == "gargron timeline");
  CHECK(feed.link == "https://quitter.no/gargron");
  REQUIRE(feed.items.size() == 18);
  const auto replies = std::count_if(feed.items.begin(), feed.items.end(),
                                     [](const FeedItem& i) { return !i.post.reply_to.empty(); });
  CHECK(replies == 8);

  const Post& first = feed.items[0].post;
  CHECK(first.id == "tag:quitter.no,2016-03-20:noticeId=1276923:objectType=note");
  CHECK(first.url == "https://quitter.no/notice/1276923");
  CHECK(first.title == "New note by gargron");
  CHECK(first.text == "@catsrgr8 this is a mention");
  CHECK(Date(first) == "2016-03-20T11:05:31Z");
  CHECK(first.author_name == "gargron");  // inherited from the feed's author
  CHECK(first.author_handle == "https://quitter.no/user/7477");
  CHECK(first.language == "en-US");
  CHECK(first.reply_to.empty());
  CHECK(first.conversation == "tag:quitter.no,2016-03-20:objectType=thread:nonce=7c998112e39a6685");

  const Post& reply =
      PostWithId(feed, "tag:quitter.no,2016-03-19:noticeId=1269381:objectType=comment");
  CHECK(reply.reply_to == "tag:mastodon.social,2016-03-18:objectId=60:objectType=Status");
  CHECK(reply.conversation == "tag:quitter.no,2016-03-18:objectType=thread:nonce=d05c6330fbe23fb9");
  CHECK(Date(reply) == "2016-03-19T00:10:14Z");

  // A note and the comment answering within it share the conversation.
  const Post& note = PostWithId(feed, "tag:quitter.no,2016-03-15:noticeId=1250653:objectType=note");
  const Post& comment =
      PostWithId(feed, "tag:quitter.no,2016-03-15:noticeId=1250742:objectType=comment");
  CHECK(note.conversation == comment.conversation);
  CHECK(comment.reply_to ==
        "tag:social.umeahackerspace.se,2016-03-15:noticeId=424348:objectType=comment");

  // The delete entry nests an activity:object with its own id; the entry's is used.
  const Post& deletion = feed.items[2].post;
  CHECK(deletion.title == "Delete");
  CHECK(deletion.url == "https://quitter.no/notice/1273012");
  // Entities inside escaped HTML inside XML: decoded exactly once.
  const Post& mmn =
      PostWithId(feed, "tag:quitter.no,2016-03-15:noticeId=1250742:objectType=comment");
  CHECK(mmn.text.rfind("@mmn I'm like reeeeally close", 0) == 0);
}

TEST_CASE("feed: WordPress comment feeds (Simply Static export)", "[feed]") {
  EARSHOT_REQUIRE_SHARED(dir, "feeds");
  ParsedFeed sitewide = ParseShared(*dir, "wordpress_comments_rss2_sitewide_simplystatic.xml");
  CHECK(sitewide.title == "Comments for RiskProfiler");
  REQUIRE(sitewide.items.size() == 1);
  const Post& c = sitewide.items[0].post;
  CHECK(c.title == "Comment on Hello world! by A WordPress Commenter");
  CHECK(c.url == "https://riskprofiler.example/2021/05/14/hello-world/index.html#comment-1");
  CHECK(c.id == "https://riskprofiler.example/index.html?p=1#comment-1");
  CHECK(c.reply_to == "https://riskprofiler.example/index.html?p=1");
  CHECK(c.conversation == "https://riskprofiler.example/index.html?p=1");
  CHECK(c.author_name == "A WordPress Commenter");
  CHECK(Date(c) == "2021-05-14T23:55:04Z");
  CHECK(c.text.rfind("Hi, this is a comment.", 0) == 0);
  CHECK(Contains(c.text, "Commenter avatars come from Gravatar."));
  CHECK_FALSE(Contains(c.text, "<"));
  CHECK_FALSE(Contains(c.text, "&quot;"));

  ParsedFeed per_post = ParseShared(*dir, "wordpress_post_comments_rss2_simplystatic.xml");
  CHECK(per_post.title == "Comments on: Hello world!");
  REQUIRE(per_post.items.size() == 1);
  const Post& same = per_post.items[0].post;
  CHECK(same.title == "By: A WordPress Commenter");
  // One comment, two feeds, two different relative spellings: one id.
  CHECK(same.id == c.id);
  CHECK(same.conversation == c.conversation);
  CHECK(same.url == c.url);
}

TEST_CASE("feed: WordPress 2.7 blog RSS with wfw:commentRss", "[feed]") {
  EARSHOT_REQUIRE_SHARED(dir, "feeds");
  ParsedFeed feed = ParseShared(*dir, "wordpress_blog_rss2_tenderlovemaking_2009.xml");
  CHECK(feed.title == "Tender Lovemaking");
  CHECK(feed.language == "en");
  REQUIRE(feed.items.size() == 10);
  const FeedItem& first = feed.items[0];
  CHECK(first.post.title == "Nokogiri\u2019s Slop Feature");
  CHECK(first.post.id == "http://tenderlovemaking.com/?p=198");
  CHECK(first.post.url == "http://tenderlovemaking.com/2008/12/04/nokogiris-slop-feature/");
  CHECK(Date(first.post) == "2008-12-04T17:17:49Z");
  CHECK(first.post.author_name == "Aaron Patterson");
  CHECK(first.post.conversation == first.post.id);
  CHECK(first.post.reply_to.empty());
  CHECK(first.comment_feed_url ==
        "http://tenderlovemaking.com/2008/12/04/nokogiris-slop-feature/feed/");
  // content:encoded, not the "[...]" description.
  CHECK(Contains(first.post.text, "Module#extend is used to add functionality"));
  CHECK_FALSE(Contains(first.post.text, "[...]"));
  CHECK_FALSE(Contains(first.post.text, "urchinTracker"));
  const Post& last = feed.items[9].post;
  CHECK(last.title == "Meow meow meow meow meow");
  CHECK(Date(last) == "2008-06-06T19:56:52Z");
}

TEST_CASE("feed: Blogger Atom via FeedBurner", "[feed]") {
  EARSHOT_REQUIRE_SHARED(dir, "feeds");
  ParsedFeed feed = ParseShared(*dir, "blogger_atom_via_feedburner.xml");
  CHECK(feed.format == "atom1");
  CHECK(feed.title == "Google Ads Developer Blog");
  REQUIRE(feed.items.size() == 25);
  const Post& first = feed.items[0].post;
  CHECK(first.id == "tag:blogger.com,1999:blog-7815614485808579332.post-8394866751819460570");
  // feedburner:origLink is the real page; the alternate link is a redirector.
  CHECK(first.url ==
        "http://googleadsdeveloper.blogspot.com/2016/06/adwords-and-dfp-java-client-library.html");
  CHECK(first.title == "AdWords and DFP Java client library will soon require Java 7+");
  CHECK(Date(first) == "2016-06-03T14:38:00Z");
  CHECK(first.author_name == "Google Ads Developer Advisor");
  CHECK(first.author_handle == "http://www.blogger.com/profile/16700526826531306391");
  CHECK_FALSE(first.text.empty());
  CHECK_FALSE(Contains(first.text, "<div"));
  for (const FeedItem& item : feed.items) {
    CHECK(item.post.url.rfind("http://googleadsdeveloper.blogspot.com/", 0) == 0);
    CHECK(item.post.created_at);
  }
}

// ---------------------------------------------------------------------------
// Conversations: an article's own comment feed

constexpr char kArticleComments[] =
    "https://waitingroom.example.org/2026/03/eight-hours-in-ae/feed/";

Post Article(std::string id = "https://waitingroom.example.org/?p=101",
             std::string url = "https://waitingroom.example.org/2026/03/eight-hours-in-ae/",
             std::string comments = kArticleComments) {
  Post post;
  post.platform = "feed";
  post.id = std::move(id);
  post.uid = post.id;
  post.url = std::move(url);
  post.conversation = post.id;
  post.ref = std::move(comments);
  return post;
}

HttpResponse FeedResponse(int status, std::string body, std::string url = kArticleComments) {
  HttpResponse response;
  response.status = status;
  response.url = std::move(url);
  response.body = std::move(body);
  return response;
}

const Post* FindPost(const Page& page, const std::string& id) {
  for (const Post& post : page.posts) {
    if (post.id == id) return &post;
  }
  return nullptr;
}

TEST_CASE("feed can fetch conversations but takes no replies", "[feed]") {
  const ConnectorDescriptor& d = Descriptor();
  REQUIRE(d.conversation != nullptr);
  CHECK(d.conversation->request == &ConversationRequest);
  CHECK(d.conversation->parse == &ParseConversation);
  CHECK(d.reply == nullptr);
  CHECK(d.auth == nullptr);
}

TEST_CASE("feed posts keep their comment feed in ref", "[feed]") {
  auto page = Parse(FeedSource(), SourceCursor{},
                    FeedResponse(200, Own("rss20_cdata_escaped.xml"), kBlogFeed));
  REQUIRE(page.ok());
  REQUIRE(page->posts.size() == 7);
  CHECK(page->posts[0].ref == kArticleComments);
  CHECK(page->posts[1].ref.empty());  // no comment feed named
  ParsedFeed atom = ParseOk(Own("atom10_xhtml_base.xml"));
  for (const FeedItem& item : atom.items) CHECK(item.post.ref == item.comment_feed_url);
}

TEST_CASE("feed conversation request is a GET of the comment feed", "[feed]") {
  auto request = ConversationRequest(FeedSource(), Article(), "");
  REQUIRE(request.ok());
  CHECK(request->method == "GET");
  CHECK(request->url == kArticleComments);
  CHECK(Contains(std::string(request->headers.Get("Accept").value_or("")), "application/rss+xml"));
  auto none = ConversationRequest(FeedSource(), Article("x", "y", ""), "");
  CHECK(none.status().code() == StatusCode::kNotFound);
  CHECK(Contains(none.status().message(), "no comment feed"));
  auto hostile = ConversationRequest(FeedSource(), Article("x", "y", "file:///etc/passwd"), "");
  CHECK(hostile.status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("feed conversation: a WordPress Atom comment feed under its article", "[feed]") {
  const Post article = Article();
  auto page = ParseConversation(FeedSource(), article,
                                FeedResponse(200, Own("wordpress_comments_atom.xml")));
  INFO(page.status().ToString());
  REQUIRE(page.ok());
  REQUIRE(page->posts.size() == 2);
  CHECK(page->next_cursor.empty());
  CHECK(page->deletions.empty());
  const Post* jo = FindPost(*page, "https://waitingroom.example.org/?p=101#comment-12");
  REQUIRE(jo != nullptr);
  CHECK(jo->reply_to == article.id);
  CHECK(jo->conversation == article.id);
  const Post* nurse = FindPost(*page, "https://waitingroom.example.org/?p=101#comment-13");
  REQUIRE(nurse != nullptr);
  CHECK(nurse->reply_to == jo->id);  // a reply to a comment keeps its parent
  CHECK(nurse->conversation == article.id);
}

TEST_CASE("feed conversation: a comment feed that says nothing of threads", "[feed]") {
  // The article as stored from the blog feed, under a conversation of its
  // own (a thread the threader already put it in).
  Post article = Article("https://waitingroom.example.org/?p=99",
                         "https://waitingroom.example.org/2026/03/booking-a-blood-test/",
                         "https://waitingroom.example.org/2026/03/booking-a-blood-test/feed/");
  article.conversation = "thread-root-of-99";
  auto page = ParseConversation(
      FeedSource(), article, FeedResponse(200, Own("article_comments_plain_rss.xml"), article.ref));
  REQUIRE(page.ok());
  REQUIRE(page->posts.size() == 2);  // the repeated article is left out
  for (const Post& comment : page->posts) {
    CHECK(comment.reply_to == article.id);
    CHECK(comment.conversation == "thread-root-of-99");
    CHECK(comment.platform == "feed");
  }
  CHECK(page->posts[0].author_name == "Pat Visitor");
}

TEST_CASE("feed conversation: gone, failing and unreadable comment feeds", "[feed]") {
  const Post article = Article();
  for (int status : {404, 410}) {
    auto page = ParseConversation(FeedSource(), article, FeedResponse(status, "<html/>"));
    REQUIRE(page.ok());
    CHECK(page->posts.empty());
    REQUIRE(page->deletions.size() == 1);
    CHECK(page->deletions[0].uid == article.uid);
    CHECK(Contains(page->deletions[0].reason, std::to_string(status)));
  }
  auto busy = ParseConversation(FeedSource(), article, FeedResponse(503, "busy"));
  CHECK(busy.status().code() == StatusCode::kUnavailable);
  CHECK(Contains(busy.status().message(), kArticleComments));
  auto denied = ParseConversation(FeedSource(), article, FeedResponse(403, ""));
  CHECK(denied.status().code() == StatusCode::kPermissionDenied);
  auto html = ParseConversation(FeedSource(), article, FeedResponse(200, Own("html_page.html")));
  CHECK(html.status().code() == StatusCode::kParseError);
  auto bomb =
      ParseConversation(FeedSource(), article, FeedResponse(200, Own("billion_laughs.xml")));
  CHECK_FALSE(bomb.ok());
}

TEST_CASE("feed conversation: the shared WordPress per-post comment feed", "[feed]") {
  EARSHOT_REQUIRE_SHARED(dir, "feeds");
  Post article = Article("https://riskprofiler.example/index.html?p=1",
                         "https://riskprofiler.example/2021/05/14/hello-world/index.html",
                         "https://riskprofiler.example/2021/05/14/hello-world/feed/");
  auto page = ParseConversation(
      FeedSource(), article,
      FeedResponse(200, testing::ReadFile(*dir / "wordpress_post_comments_rss2_simplystatic.xml"),
                   article.ref));
  INFO(page.status().ToString());
  REQUIRE(page.ok());
  REQUIRE(page->posts.size() == 1);
  CHECK(page->posts[0].reply_to == article.id);
  CHECK(page->posts[0].conversation == article.id);
  CHECK(page->posts[0].id == "https://riskprofiler.example/index.html?p=1#comment-1");
}

}  // namespace
}  // namespace earshot
