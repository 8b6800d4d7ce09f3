// The bluesky connector on the shared recordings (read in place, never
// copied), on our own fixtures in tests/fixtures/bluesky and on hostile
// bodies generated here: search pages and the cursor, threads and
// deletions, sessions, replies and rate limits.
#include "connectors/bluesky/bluesky.h"

#include <algorithm>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "connectors/registry.h"
#include "crawler/core/text.h"
#include "tests/support/fixtures.h"

namespace earshot {
namespace {

namespace json = boost::json;
using namespace connector_bluesky;  // NOLINT: the functions under test

const std::string kSearchUrl = "https://bsky.social/xrpc/app.bsky.feed.searchPosts?q=NHS";

SourceSpec Source(std::string url = "https://bsky.social") {
  SourceSpec source;
  source.name = "bsky-nhs";
  source.connector = "bluesky";
  source.url = std::move(url);
  source.options["query"] = std::string("NHS");
  return source;
}

HttpResponse Response(std::string body, std::string url = kSearchUrl, int status = 200) {
  HttpResponse response;
  response.status = status;
  response.url = std::move(url);
  response.body = std::move(body);
  return response;
}

HttpResponse Own(const std::string& name, int status = 200, std::string url = kSearchUrl) {
  return Response(testing::ReadFile(testing::OwnFixture("bluesky/" + name)), std::move(url),
                  status);
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

Status ParseFails(const HttpResponse& response) {
  auto page = Parse(Source(), SourceCursor{}, response);
  REQUIRE_FALSE(page.ok());
  return page.status();
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

bool AnyContains(const std::vector<std::string>& lines, const std::string& needle) {
  return std::any_of(lines.begin(), lines.end(),
                     [&](const std::string& l) { return Contains(l, needle); });
}

const Post* FindUid(const Page& page, const std::string& uid) {
  for (const Post& post : page.posts) {
    if (post.uid == uid) return &post;
  }
  return nullptr;
}

std::string Did(int n) {
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "did:plc:nhsw%02dabcdefghijklmnopqr", n);
  return buffer;
}

std::string Uri(int n, const std::string& rkey) {
  return "at://" + Did(n) + "/app.bsky.feed.post/" + rkey;
}

// A minimal postView for generated bodies.
std::string PostViewJson(int i, const std::string& created = "2026-11-21T10:00:00.000Z") {
  json::object record{
      {"$type", "app.bsky.feed.post"},
      {"text", "Generated post " + std::to_string(i) + " about the district nurses"},
      {"createdAt", created}};
  json::object view{{"uri", Uri(1, "3mgen" + std::to_string(1000000 + i))},
                    {"cid", "bafyreigen" + std::to_string(1000000 + i)},
                    {"author", json::object{{"did", Did(1)}, {"handle", "gen.bsky.social"}}},
                    {"record", std::move(record)},
                    {"indexedAt", created}};
  return json::serialize(view);
}

json::object JsonObject(const std::string& text) {
  json::error_code ec;
  json::value value = json::parse(text, ec);
  REQUIRE_FALSE(ec);
  REQUIRE(value.is_object());
  return value.as_object();
}

// ---------------------------------------------------------------- shared ---

TEST_CASE("bluesky parses every shared recording", "[bluesky]") {
  EARSHOT_REQUIRE_SHARED(dir, "bluesky");
  const auto files = testing::FilesIn(*dir, {".json"});
  REQUIRE(files.size() >= 4);
  for (const auto& file : files) {
    INFO(file.string());
    Page page = ParseOk(Response(testing::ReadFile(file), "file://" + file.string()));
    CHECK(page.skipped_items == 0);
    CHECK(page.warnings.empty());
    CHECK(page.deletions.empty());
    REQUIRE_FALSE(page.posts.empty());
    for (const Post& post : page.posts) {
      INFO(post.uid);
      CHECK(post.platform == "bluesky");
      CHECK(post.id.rfind("at://did:plc:", 0) == 0);
      CHECK(post.uid == post.id);
      CHECK(post.url.rfind("https://bsky.app/profile/", 0) == 0);
      CHECK(post.author_handle.rfind("@", 0) == 0);
      CHECK_FALSE(post.text.empty());
      CHECK(IsValidUtf8(post.text));
      CHECK(post.created_at.has_value());
      CHECK(post.reply_to.empty() == post.conversation.empty());
      json::object ref = JsonObject(post.ref);
      CHECK(ref.at("uri").as_string() == post.uid);
      CHECK(ref.at("cid").as_string().starts_with("bafyrei"));
      CHECK(ref.at("root").as_object().at("uri").as_string() ==
            (post.conversation.empty() ? post.uid : post.conversation));
    }
  }
}

TEST_CASE("bluesky shared search page", "[bluesky]") {
  EARSHOT_REQUIRE_SHARED(dir, "bluesky");
  HttpResponse response = Response(testing::ReadFile(*dir / "searchPosts_q-redistricting.json"),
                                   "https://bsky.social/xrpc/app.bsky.feed.searchPosts?"
                                   "q=redistricting");
  response.headers.Add("RateLimit-Limit", "3000");
  response.headers.Add("RateLimit-Remaining", "2983");
  response.headers.Add("RateLimit-Reset", "1747676784");
  response.headers.Add("RateLimit-Policy", "3000;w=300");

  SECTION("posts") {
    Page page = ParseOk(response);
    REQUIRE(page.posts.size() == 25);
    CHECK(std::count_if(page.posts.begin(), page.posts.end(),
                        [](const Post& p) { return !p.reply_to.empty(); }) == 12);
    const Post& first = page.posts[0];
    CHECK(first.uid == "at://did:plc:kkergqgbhb56ptpwj2wenkje/app.bsky.feed.post/3lpk2u6qo222m");
    CHECK(first.url == "https://bsky.app/profile/socpaperbot.bsky.social/post/3lpk2u6qo222m");
    CHECK(first.author_handle == "@socpaperbot.bsky.social");
    CHECK(first.author_name == "Sociology papers (journals + SocArXiv)");
    CHECK(first.language.empty());  // no langs
    // 17:10:09.561858Z: microseconds truncated to milliseconds.
    CHECK(first.created_at == FromUnixMillis(1747674609561));
    CHECK(first.text.rfind("Ends Versus Means: Public Opinion on Congressional Redistricting "
                           "https://osf.io/v87fn State-level",
                           0) == 0);

    // A truncated link's display text becomes the full address.
    const Post& second = page.posts[1];
    CHECK(second.language == "en");
    CHECK(Contains(second.text,
                   "share it!\n\nhttps://open.substack.com/pub/christackett/p/"
                   "the-pawn-or-the-collaborator?r=92vnq&utm_medium=ios"));
    CHECK_FALSE(Contains(second.text, "christac..."));

    const Post& reply = page.posts[2];
    CHECK(reply.reply_to ==
          "at://did:plc:7nagdvjqrzaquzk7mueohne5/app.bsky.feed.post/3lpjzgltpa22l");
    CHECK(reply.conversation ==
          "at://did:plc:7nagdvjqrzaquzk7mueohne5/app.bsky.feed.post/3lpjy3eabqs2l");
    json::object ref = JsonObject(reply.ref);
    CHECK(ref.at("cid").as_string() ==
          "bafyreicdjkxnigvqtk3fk4rytjmqkd4qltjprl2rfkoxf2sza2eqmk7gdu");
    CHECK(ref.at("root").as_object().at("cid").as_string() ==
          "bafyreihqff4vmp7k7ldtvzsirl7g65e7gaxizjb4nffkgfjrqehwm4q4vm");
    CHECK(Contains(reply.text, "drive.google.com/file/d/1rporOuFeT8tvgIITtUCWAw6W_iM_RgfH"));

    // "+00:00" offset with microseconds.
    const Post* offset =
        FindUid(page, "at://did:plc:qogyzvlh3vivathu2piavvpv/app.bsky.feed.post/3lpii6nwbyt2m");
    REQUIRE(offset != nullptr);
    CHECK(offset->created_at == FromUnixMillis(1747620200286));

    CHECK(page.rate_limit.limit == 3000);
    CHECK(page.rate_limit.remaining == 2983);
    CHECK(page.rate_limit.reset == FromUnixSeconds(1747676784));
  }
  SECTION("first poll: the newest sort time becomes the cursor; history is not crawled") {
    Page page = ParseOk(response);
    CHECK(page.next_cursor == "2025-05-19T17:10:09.561Z");
    CHECK(page.caught_up);
  }
  SECTION("a later poll follows the page cursor") {
    Page page = ParseOk(response, "2025-05-19T12:00:00Z");
    CHECK(page.next_cursor == "2025-05-19T11:58:00Z 2025-05-19T17:10:09.561Z 25");
    CHECK_FALSE(page.caught_up);
  }
  SECTION("a page entirely older than `since` ends the pass") {
    Page page = ParseOk(response, "2025-05-20T00:00:00Z");
    CHECK(page.next_cursor.empty());  // nothing newer than the stored watermark
    CHECK(page.caught_up);
  }
}

TEST_CASE("bluesky shared threads flatten to the same conversation", "[bluesky]") {
  EARSHOT_REQUIRE_SHARED(dir, "bluesky");
  const std::string base = "at://did:plc:ntd53albt5ffa4rgervvgibd/app.bsky.feed.post/";
  Page from_root =
      ParseOk(Response(testing::ReadFile(*dir / "getPostThread_root_nested_replies.json")));
  Page from_middle = ParseOk(
      Response(testing::ReadFile(*dir / "getPostThread_mid_thread_parent_and_replies.json")));
  auto uids = [](const Page& page) {
    std::vector<std::string> out;
    for (const Post& post : page.posts) out.push_back(post.uid);
    return out;
  };
  // Root first, then replies depth first.
  CHECK(uids(from_root) == std::vector<std::string>{base + "3kbi55xm6u62v", base + "3kbi56mwx5j2q",
                                                    base + "3kbi57u4sys2l",
                                                    base + "3kbi5dzaujr2n"});
  // Parent chain (root first), the anchor, then its replies.
  CHECK(uids(from_middle) == uids(from_root));
  CHECK(from_root.next_cursor.empty());
  CHECK(from_root.caught_up);
  for (const Page* page : {&from_root, &from_middle}) {
    const Post& root = page->posts[0];
    CHECK(root.reply_to.empty());
    CHECK(root.created_at == FromUnixMillis(1697030830477));
    CHECK(Contains(root.text, "I introduce: {atr}"));
    for (size_t i = 1; i < page->posts.size(); ++i) {
      CHECK(page->posts[i].conversation == base + "3kbi55xm6u62v");
      CHECK(page->posts[i].reply_to == page->posts[i - 1].uid);
    }
  }
}

TEST_CASE("bluesky shared single thread keeps byte offsets after emoji", "[bluesky]") {
  EARSHOT_REQUIRE_SHARED(dir, "bluesky");
  Page page = ParseOk(Response(testing::ReadFile(*dir / "getPostThread.json")));
  REQUIRE(page.posts.size() == 1);
  const Post& post = page.posts[0];
  CHECK(post.author_handle == "@soubhikbarari.bsky.social");
  // Both links are shown whole without their scheme: kept as written.
  CHECK(Contains(post.text, "of LocalView (localview.net), a local"));
  CHECK(Contains(post.text, "#rstats #rgov\n\nrstats.ai/gov.html"));
  CHECK(Contains(post.text, "Oct 19 @Georgetown! \U0001F4C8 I'll"));
}

TEST_CASE("bluesky shared thread through the conversation capability", "[bluesky]") {
  EARSHOT_REQUIRE_SHARED(dir, "bluesky");
  Post anchor;
  anchor.uid = "at://did:plc:ntd53albt5ffa4rgervvgibd/app.bsky.feed.post/3kbi57u4sys2l";
  auto page = ParseConversation(
      Source(), anchor,
      Response(testing::ReadFile(*dir / "getPostThread_mid_thread_parent_and_replies.json")));
  REQUIRE(page.ok());
  CHECK(page->posts.size() == 4);
  CHECK(page->deletions.empty());
}

// ------------------------------------------------------------ own fixtures ---

TEST_CASE("bluesky search page", "[bluesky]") {
  const HttpResponse response = Own("search_page.json");
  Page page = ParseOk(response);
  REQUIRE(page.posts.size() == 5);
  CHECK(page.skipped_items == 0);

  const Post& first = page.posts[0];
  CHECK(first.platform == "bluesky");
  CHECK(first.id == Uri(1, "3mabcdefgh5a2"));
  CHECK(first.uid == first.id);
  CHECK(first.url == "https://bsky.app/profile/wardwatcher.bsky.social/post/3mabcdefgh5a2");
  CHECK(first.author_handle == "@wardwatcher.bsky.social");
  CHECK(first.author_name == "Ward Watcher");
  CHECK(first.language == "en");
  CHECK(first.created_at == FromUnixMillis(1795255500250));
  CHECK(first.text ==
        "Flu jab walk-in at Riverside General today, no appointment needed: "
        "https://www.nhs.uk/conditions/vaccinations/flu-influenza-vaccine/ #NHS");
  CHECK(first.reply_to.empty());
  CHECK(first.conversation.empty());

  // A reply whose link follows multi-byte characters; microseconds and "+00:00".
  const Post& reply = page.posts[1];
  CHECK(reply.text ==
        "@wardwatcher.bsky.social Caf\u00e9 at A&E shut again \U0001F629 so bring water. "
        "Details: https://bsky.app/profile/xyz.example/post/3mzzz ok");
  CHECK(reply.created_at == FromUnixMillis(1795255470123));
  CHECK(reply.reply_to == Uri(1, "3mabcdefgh5a2"));
  CHECK(reply.conversation == Uri(1, "3mabcdefgh5a2"));
  CHECK(reply.author_name == "Carer Chris \u00e9");
  json::object ref = JsonObject(reply.ref);
  CHECK(ref.at("uri").as_string() == Uri(2, "3mabcdefgh4a2"));
  CHECK(ref.at("root").as_object().at("uri").as_string() == Uri(1, "3mabcdefgh5a2"));

  // Anchor text keeps its words and gains its address; an offset of +01:00.
  const Post& anchor = page.posts[2];
  CHECK(anchor.text ==
        "Filled in our trust's survey (https://survey.example.nhs.uk/discharge?src=bsky) about "
        "discharge delays, please do too");
  CHECK(anchor.created_at == FromUnixMillis(1795255380000));
  CHECK(anchor.language.empty());
  CHECK(anchor.author_handle == "@clinicnotes.example.org");

  // An invalid handle: the DID names the author and the web page.
  const Post& invalid = page.posts[3];
  CHECK(invalid.author_handle == "@" + Did(4));
  CHECK(invalid.url == "https://bsky.app/profile/" + Did(4) + "/post/3mabcdefgh2a2");
  // No createdAt: indexedAt stands in, with a warning.
  CHECK(invalid.created_at == FromUnixMillis(1795255320000));
  CHECK(AnyContains(page.warnings,
                    "post 3 (" + Uri(4, "3mabcdefgh2a2") + "): 'record.createdAt' is missing"));

  // A createdAt in 2099 is not believed.
  const Post& future = page.posts[4];
  CHECK(future.created_at == FromUnixMillis(1795255260000));
  CHECK(future.author_name == "Future Clock");
  CHECK(AnyContains(page.warnings, "2099-01-01T00:00:00Z is later than indexedAt"));
  CHECK(page.warnings.size() == 3);
}

TEST_CASE("bluesky search cursor across a poll", "[bluesky]") {
  const std::string watermark = "2026-11-21T10:00:00Z";
  SECTION("first poll") {
    Page page = ParseOk(Own("search_page.json"));
    CHECK(page.next_cursor == "2026-11-21T10:05:00.250Z");
    CHECK(page.caught_up);
  }
  SECTION("first poll with `since`: pages back to it") {
    SourceSpec source = Source();
    source.options["since"] = std::string("2026-11-21");
    Page page = ParseOk(Own("search_page.json"), "", source);
    CHECK(page.next_cursor == "2026-11-21T00:00:00Z 2026-11-21T10:05:00.250Z 5");
    CHECK_FALSE(page.caught_up);
  }
  SECTION("a later poll pages, then settles on the newest time seen") {
    Page first = ParseOk(Own("search_page.json"), watermark);
    CHECK(first.next_cursor == "2026-11-21T09:58:00Z 2026-11-21T10:05:00.250Z 5");
    CHECK_FALSE(first.caught_up);
    Page last = ParseOk(Own("search_page2.json"), first.next_cursor);
    REQUIRE(last.posts.size() == 1);
    CHECK(last.next_cursor == "2026-11-21T10:05:00.250Z");
    CHECK(last.caught_up);
  }
  SECTION("the overlap is configurable") {
    SourceSpec source = Source();
    source.options["overlap"] = std::string("0s");
    Page page = ParseOk(Own("search_page.json"), watermark, source);
    CHECK(page.next_cursor == "2026-11-21T10:00:00Z 2026-11-21T10:05:00.250Z 5");
  }
  SECTION("an empty page keeps the cursor") {
    Page page = ParseOk(Own("search_empty.json"), watermark);
    CHECK(page.posts.empty());
    CHECK(page.next_cursor.empty());
    CHECK(page.caught_up);
  }
  SECTION("an empty last page of a pass settles the cursor") {
    Page page = ParseOk(Own("search_empty.json"), "2026-11-21T09:58:00Z 2026-11-21T10:05:00Z 5");
    CHECK(page.next_cursor == "2026-11-21T10:05:00Z");
    CHECK(page.caught_up);
  }
  SECTION("the cursor never moves backwards") {
    Page page = ParseOk(Own("search_page.json"), "2026-11-21T11:00:00Z");
    CHECK(page.next_cursor.empty());
    CHECK(page.caught_up);  // every post older than since - overlap
  }
  SECTION("a server repeating the cursor it was sent is not followed") {
    Page page = ParseOk(Own("search_page.json"), "2026-11-21T09:58:00Z 2026-11-21T10:00:00Z 5");
    CHECK(page.caught_up);
    CHECK(page.next_cursor == "2026-11-21T10:05:00.250Z");
    CHECK(AnyContains(page.warnings, "returned the cursor it was sent"));
  }
  SECTION("an unusable page cursor is not followed") {
    for (const char* cursor : {"\"with space\"", "\"\"", "42"}) {
      INFO(cursor);
      Page page = ParseOk(
          Response("{\"posts\":[" + PostViewJson(1) + "],\"cursor\":" + cursor + "}"), watermark);
      CHECK(page.caught_up);
      CHECK(AnyContains(page.warnings, "not followed"));
    }
  }
}

TEST_CASE("bluesky thread: parents, replies, deletions", "[bluesky]") {
  Page page = ParseOk(Own("thread_mid.json"));
  std::vector<std::string> uids;
  for (const Post& post : page.posts) uids.push_back(post.uid);
  CHECK(uids == std::vector<std::string>{Uri(1, "3mroot0000002"), Uri(1, "3mroot0000012"),
                                         Uri(1, "3mroot0000022"), Uri(2, "3mrepl0000012"),
                                         Uri(3, "3mrepl0000112")});
  const Post& nested = page.posts[4];
  CHECK(nested.reply_to == Uri(2, "3mrepl0000012"));
  CHECK(nested.conversation == Uri(1, "3mroot0000002"));
  REQUIRE(page.deletions.size() == 2);
  CHECK(page.deletions[0].uid == Uri(7, "3mgone0000012"));
  CHECK(Contains(page.deletions[0].reason, "not found"));
  CHECK(page.deletions[1].uid == Uri(8, "3mblok0000012"));
  CHECK(Contains(page.deletions[1].reason, "blocked"));
  CHECK(page.skipped_items == 2);
  CHECK(AnyContains(page.warnings, "(" + Uri(6, "3mrepl0000992") +
                                       "): record: 'text' is number, expected string"));
  CHECK(AnyContains(page.warnings, "unknown $type \"app.bsky.feed.defs#somethingNew\""));
  CHECK(page.next_cursor.empty());
}

TEST_CASE("bluesky thread nodes without $type are read by shape", "[bluesky]") {
  const std::string body =
      "{\"thread\":{\"post\":" + PostViewJson(1) + ",\"replies\":[{\"post\":" + PostViewJson(2) +
      "},{\"uri\":\"" + Uri(7, "3mgone") + "\",\"notFound\":true},{\"uri\":\"" + Uri(8, "3mblok") +
      "\",\"blocked\":true},{\"uri\":\"" + Uri(9, "3mwhat") + "\"}]}}";
  Page page = ParseOk(Response(body));
  CHECK(page.posts.size() == 2);
  CHECK(page.deletions.size() == 2);
  CHECK(page.skipped_items == 1);
  CHECK(AnyContains(page.warnings, "neither a post, a not-found post nor a blocked post"));
}

// ----------------------------------------------------------- conversation ---

TEST_CASE("bluesky conversation requests", "[bluesky]") {
  Post post;
  post.uid = Uri(1, "3mroot0000022");
  post.id = post.uid;
  SECTION("default depth and parent height") {
    auto request = ConversationRequest(Source("https://api.bsky.app/"), post, "");
    REQUIRE(request.ok());
    CHECK(request->method == "GET");
    CHECK(request->url ==
          "https://api.bsky.app/xrpc/app.bsky.feed.getPostThread?uri=at%3A%2F%2Fdid%3Aplc%"
          "3Anhsw01abcdefghijklmnopqr%2Fapp.bsky.feed.post%2F3mroot0000022&depth=6&"
          "parentHeight=80");
    CHECK(request->headers.Get("Accept") == "application/json");
  }
  SECTION("configured depth") {
    SourceSpec source = Source();
    source.options["thread_depth"] = int64_t{20};
    source.options["thread_parent_height"] = int64_t{0};
    auto request = ConversationRequest(source, post, "");
    REQUIRE(request.ok());
    CHECK(Contains(request->url, "&depth=20&parentHeight=0"));
    source.options["thread_depth"] = int64_t{1001};
    auto bad = ConversationRequest(source, post, "");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().code() == StatusCode::kInvalidArgument);
    CHECK(Contains(bad.status().message(), "`thread_depth` must be between 0 and 1000"));
  }
  SECTION("a post that is not a Bluesky post") {
    Post other;
    other.uid = "https://social.example/users/a/statuses/1";
    auto request = ConversationRequest(Source(), other, "");
    REQUIRE_FALSE(request.ok());
    CHECK(request.status().code() == StatusCode::kInvalidArgument);
  }
}

TEST_CASE("bluesky conversation answers", "[bluesky]") {
  Post post;
  post.uid = Uri(7, "3mgone0000012");
  const std::string url = "https://bsky.social/xrpc/app.bsky.feed.getPostThread?uri=x";
  auto parse = [&](const HttpResponse& response) {
    auto page = ParseConversation(Source(), post, response);
    INFO(page.status().ToString());
    REQUIRE(page.ok());
    return std::move(page).value();
  };
  SECTION("404 and 410: the post is gone") {
    for (int status : {404, 410}) {
      Page page = parse(Response("", url, status));
      REQUIRE(page.deletions.size() == 1);
      CHECK(page.deletions[0].uid == post.uid);
      CHECK(page.posts.empty());
    }
  }
  SECTION("400 NotFound, as the AppView answers") {
    Page page = parse(Own("error_not_found.json", 400, url));
    REQUIRE(page.deletions.size() == 1);
    CHECK(page.deletions[0].uid == post.uid);
    CHECK(page.deletions[0].reason == "not found on re-fetch");
  }
  SECTION("a thread whose anchor is a notFoundPost") {
    Page page = parse(Own("thread_not_found.json", 200, url));
    REQUIRE(page.deletions.size() == 1);
    CHECK(page.deletions[0].uid == post.uid);
  }
  SECTION("other failures carry Bluesky's message") {
    auto expired = ParseConversation(Source(), post, Own("error_expired_token.json", 400, url));
    REQUIRE_FALSE(expired.ok());
    CHECK(expired.status().code() == StatusCode::kUnauthenticated);
    CHECK(Contains(expired.status().message(), "HTTP 400: ExpiredToken: Token has expired"));
    auto invalid = ParseConversation(Source(), post, Own("error_body.json", 400, url));
    REQUIRE_FALSE(invalid.ok());
    CHECK(invalid.status().code() == StatusCode::kInvalidArgument);
    auto broken = ParseConversation(Source(), post, Own("error_internal.json", 502, url));
    REQUIRE_FALSE(broken.ok());
    CHECK(broken.status().code() == StatusCode::kUnavailable);
  }
  SECTION("a 200 without a thread") {
    auto page = ParseConversation(Source(), post, Response("{\"posts\":[]}", url));
    REQUIRE_FALSE(page.ok());
    CHECK(page.status().code() == StatusCode::kParseError);
  }
}

// ------------------------------------------------------------------ facets ---

TEST_CASE("bluesky link facets use UTF-8 byte offsets", "[bluesky]") {
  std::vector<std::string> notes;
  const std::string text = "\u00c9mile \U0001F3E5 see example.org/ab... now";
  const auto start = static_cast<int64_t>(text.find("example.org"));
  const int64_t end = start + 17;
  SECTION("a truncated display becomes the full URI") {
    CHECK(ApplyLinkFacets(text, {{start, end, "https://example.org/about"}}, &notes) ==
          "\u00c9mile \U0001F3E5 see https://example.org/about now");
    CHECK(notes.empty());
  }
  SECTION("a unicode ellipsis, www. dropped") {
    const std::string shown = "go nhs.uk/a\u2026!";
    CHECK(ApplyLinkFacets(shown, {{3, 14, "https://www.nhs.uk/abc"}}, &notes) ==
          "go https://www.nhs.uk/abc!");
  }
  SECTION("a complete address without its scheme is kept") {
    CHECK(ApplyLinkFacets("at nhs.uk today", {{3, 9, "https://nhs.uk"}}, &notes) ==
          "at nhs.uk today");
  }
  SECTION("an address written out differently is kept") {
    CHECK(ApplyLinkFacets("at nhs.uk/ today", {{3, 10, "https://nhs.uk"}}, &notes) ==
          "at nhs.uk/ today");
    CHECK(ApplyLinkFacets("at https://a.example/x now", {{3, 22, "https://a.example/x/"}},
                          &notes) == "at https://a.example/x now");
  }
  SECTION("anchor text gains its address") {
    CHECK(ApplyLinkFacets("our survey here", {{0, 10, "https://s.example/x"}}, &notes) ==
          "our survey (https://s.example/x) here");
  }
  SECTION("non-web links are left alone") {
    CHECK(ApplyLinkFacets("write to us", {{0, 5, "mailto:a@b.example"}}, &notes) == "write to us");
  }
  SECTION("out of order facets are applied in order") {
    CHECK(ApplyLinkFacets("a b", {{2, 3, "https://b.example"}, {0, 1, "https://a.example"}},
                          &notes) == "a (https://a.example) b (https://b.example)");
  }
  SECTION("a facet inside a multi-byte character is not applied") {
    CHECK(ApplyLinkFacets(text, {{1, 4, "https://x.example"}}, &notes) == text);
    CHECK(AnyContains(notes, "[1, 4) splits a multi-byte character"));
    notes.clear();
    const auto emoji = static_cast<int64_t>(text.find("\U0001F3E5"));
    CHECK(ApplyLinkFacets(text, {{emoji, emoji + 2, "https://x.example"}}, &notes) == text);
    CHECK(AnyContains(notes, "splits a multi-byte character"));
  }
  SECTION("out of range, empty, negative and overlapping facets are not applied") {
    const auto size = static_cast<int64_t>(text.size());
    CHECK(ApplyLinkFacets(text,
                          {{0, size + 1, "https://x.example"},
                           {5, 5, "https://x.example"},
                           {-1, 3, "https://x.example"},
                           {start, end, "https://example.org/about"},
                           {start + 2, end + 2, "https://y.example"}},
                          &notes) == "\u00c9mile \U0001F3E5 see https://example.org/about now");
    CHECK(notes.size() == 4);
    CHECK(AnyContains(notes, "overlaps the previous one"));
  }
}

TEST_CASE("bluesky hostile facets never cost the post", "[bluesky]") {
  Page page = ParseOk(Own("hostile_facets.json"));
  REQUIRE(page.posts.size() == 2);
  CHECK(page.skipped_items == 0);
  CHECK(page.posts[0].text ==
        "\u00c9mile\u2019s clinic \U0001F3E5 link: https://example.org/about/us end");
  CHECK(page.posts[1].text == "Facets of the wrong type");
  CHECK(AnyContains(page.warnings, "splits a multi-byte character"));
  CHECK(AnyContains(page.warnings, "is outside the text's"));
  CHECK(AnyContains(page.warnings, "overlaps the previous one"));
  CHECK(AnyContains(page.warnings, "facet 6: is string, expected object; ignored"));
  CHECK(AnyContains(page.warnings, "1 more malformed facet(s) ignored"));
  CHECK(AnyContains(page.warnings, "'record.facets' is object, expected array"));
}

TEST_CASE("bluesky post web URLs", "[bluesky]") {
  CHECK(PostWebUrl(Uri(1, "3mabc"), "alice.bsky.social") ==
        "https://bsky.app/profile/alice.bsky.social/post/3mabc");
  CHECK(PostWebUrl(Uri(1, "3mabc"), "handle.invalid") ==
        "https://bsky.app/profile/" + Did(1) + "/post/3mabc");
  CHECK(PostWebUrl(Uri(1, "3mabc"), "") == "https://bsky.app/profile/" + Did(1) + "/post/3mabc");
  CHECK(PostWebUrl(Uri(1, "3mabc"), "evil/../x") ==
        "https://bsky.app/profile/" + Did(1) + "/post/3mabc");
  CHECK(PostWebUrl("at://" + Did(1) + "/app.bsky.feed.like/3mabc", "a.b").empty());
  CHECK(PostWebUrl("https://bsky.app/profile/a/post/b", "a.b").empty());
  CHECK(PostWebUrl("at://" + Did(1) + "/app.bsky.feed.post/a/b", "a.b").empty());
}

// --------------------------------------------------------------- hostile ---

TEST_CASE("bluesky skips posts of the wrong types", "[bluesky]") {
  Page page = ParseOk(Own("hostile_wrong_types.json"));
  REQUIRE(page.posts.size() == 1);
  CHECK(page.posts[0].uid == Uri(11, "3mgood0000012"));
  CHECK(page.skipped_items == 13);
  REQUIRE(page.warnings.size() == 13);
  CHECK(Contains(page.warnings[0], "post 0: 'uri' is number, expected string"));
  CHECK(Contains(page.warnings[1], "'cid' is array, expected string"));
  CHECK(Contains(page.warnings[2], "'author' is string, expected object"));
  CHECK(Contains(page.warnings[3], "record: 'text' is object, expected string"));
  CHECK(Contains(page.warnings[4], "record: reply: 'root' is string, expected object"));
  CHECK(Contains(page.warnings[5], "post 5: is string, expected a post view object"));
  CHECK(Contains(page.warnings[6], "neither 'record.createdAt' nor 'indexedAt'"));
  CHECK(Contains(page.warnings[7], "'langs' is string, expected array"));
  CHECK(Contains(page.warnings[8], "is not an app.bsky.feed.post at-uri"));
  CHECK(Contains(page.warnings[9], "post 9: is null"));
  CHECK(Contains(page.warnings[10], "post 10: is number"));
  CHECK(Contains(page.warnings[11], "'did' \"not-a-did\" is not a DID"));
  CHECK(Contains(page.warnings[12], "'$type' \"app.bsky.feed.like\" is not a post"));
  // Unreadable posts cannot move the watermark.
  CHECK(page.next_cursor == "2026-11-21T10:00:00Z");
}

TEST_CASE("bluesky skips posts with missing fields", "[bluesky]") {
  Page page = ParseOk(Own("hostile_missing_fields.json"));
  REQUIRE(page.posts.size() == 1);
  CHECK(page.skipped_items == 7);
  CHECK(AnyContains(page.warnings, "post 0: 'uri' is missing"));
  CHECK(AnyContains(page.warnings, "'cid' is missing"));
  CHECK(AnyContains(page.warnings, "'author' is missing"));
  CHECK(AnyContains(page.warnings, "'record' is missing"));
  CHECK(AnyContains(page.warnings, "record: 'text' is missing"));
  CHECK(AnyContains(page.warnings, "author: 'did' is missing"));
  const Post& bare = page.posts[0];
  CHECK(bare.text == "Bare minimum post: walk-in centre open till 8.");
  CHECK(bare.author_handle == "@" + Did(12));
  CHECK(bare.language.empty());
  CHECK(bare.created_at == FromUnixMillis(1795251601000));
}

TEST_CASE("bluesky rejects bodies it cannot read", "[bluesky]") {
  SECTION("an HTML error page") {
    Status status = ParseFails(Own("invalid_not_json.html"));
    CHECK(status.code() == StatusCode::kParseError);
    CHECK(Contains(status.message(), kSearchUrl));
    CHECK(Contains(status.message(), "invalid JSON"));
  }
  SECTION("a truncated body") {
    Status status = ParseFails(Own("truncated.json"));
    CHECK(status.code() == StatusCode::kParseError);
    CHECK(Contains(status.message(), kSearchUrl));
  }
  SECTION("an empty body") { CHECK(ParseFails(Response("")).code() == StatusCode::kParseError); }
  SECTION("JSON that is not an object") {
    for (const char* body : {"[]", "\"posts\"", "42", "null"}) {
      INFO(body);
      Status status = ParseFails(Response(body));
      CHECK(Contains(status.message(), "expected a searchPosts or getPostThread object"));
    }
  }
  SECTION("an object of another shape") {
    CHECK(
        Contains(ParseFails(Response("{\"feed\":[]}")).message(), "neither 'posts' nor 'thread'"));
    CHECK(Contains(ParseFails(Response("{\"posts\":{}}")).message(),
                   "'posts' is object, expected array"));
  }
  SECTION("XRPC error JSON in a 200") {
    Status status = ParseFails(Own("error_body.json"));
    CHECK(Contains(status.message(),
                   "server error: InvalidRequest: Error: Params must have the property \"q\""));
  }
  SECTION("nesting beyond the parser's limit") {
    constexpr size_t kDepth = 100000;
    Status status = ParseFails(
        Response("{\"posts\":" + std::string(kDepth, '[') + std::string(kDepth, ']') + "}"));
    CHECK(status.code() == StatusCode::kParseError);
  }
}

TEST_CASE("bluesky repairs invalid UTF-8 rather than losing the page", "[bluesky]") {
  Page page = ParseOk(Own("invalid_utf8.json"));
  REQUIRE(page.posts.size() == 2);
  CHECK(AnyContains(page.warnings, "not valid UTF-8"));
  CHECK(IsValidUtf8(page.posts[0].text));
  CHECK(Contains(page.posts[0].text, "appointment \xEF\xBF\xBD"));
}

TEST_CASE("bluesky survives a huge page and a deep thread", "[bluesky]") {
  SECTION("5000 posts") {
    std::string body = "{\"posts\":[";
    for (int i = 0; i < 5000; ++i) body += (i ? "," : "") + PostViewJson(i);
    body += "],\"cursor\":\"5000\"}";
    Page page = ParseOk(Response(body), "2026-11-21T09:00:00Z");
    CHECK(page.posts.size() == 5000);
    CHECK_FALSE(page.caught_up);
  }
  SECTION("a reply chain 300 levels deep") {
    std::string body = "{\"thread\":";
    constexpr int kLevels = 300;
    for (int i = 0; i < kLevels; ++i) body += "{\"post\":" + PostViewJson(i) + ",\"replies\":[";
    for (int i = 0; i < kLevels; ++i) body += "]}";
    body += "}";
    Page page = ParseOk(Response(body));
    CHECK(page.posts.size() == kLevels);
    CHECK(page.skipped_items == 0);
  }
  SECTION("control characters in text are dropped, line breaks kept") {
    json::object view = JsonObject(PostViewJson(1));
    view["record"].as_object()["text"] = std::string("A\r\nB\rC\x01\x7f\tD\0E  \n", 16);
    Page page = ParseOk(Response("{\"posts\":[" + json::serialize(view) + "]}"));
    REQUIRE(page.posts.size() == 1);
    CHECK(page.posts[0].text == "A\nB\nC\tDE");
  }
}

// ----------------------------------------------------------- NextRequest ---

TEST_CASE("bluesky search requests", "[bluesky]") {
  SourceSpec source = Source("https://bsky.social/");
  source.options["query"] = std::string(" \"A&E\" waiting ");
  SECTION("first poll: the newest page") {
    auto request = NextRequest(source, SourceCursor{});
    REQUIRE(request.ok());
    CHECK(request->method == "GET");
    CHECK(request->url ==
          "https://bsky.social/xrpc/app.bsky.feed.searchPosts?q=%22A%26E%22%20waiting&sort=latest&"
          "limit=100");
    CHECK(request->headers.Get("Accept") == "application/json");
    CHECK_FALSE(request->headers.Get("Authorization").has_value());
  }
  SECTION("a later poll asks since the watermark less the overlap") {
    SourceCursor cursor;
    cursor.cursor = "2026-11-21T10:05:00.250Z";
    auto request = NextRequest(source, cursor);
    REQUIRE(request.ok());
    CHECK(Contains(request->url, "&limit=100&since=2026-11-21T10%3A03%3A00.250Z"));
    CHECK_FALSE(Contains(request->url, "cursor="));
  }
  SECTION("paging carries since and the server's cursor") {
    SourceCursor cursor;
    cursor.cursor = "2026-11-21T10:03:00.250Z 2026-11-21T10:05:00.250Z 2026-11-21T10:04:00/7";
    auto request = NextRequest(source, cursor);
    REQUIRE(request.ok());
    CHECK(Contains(request->url,
                   "&since=2026-11-21T10%3A03%3A00.250Z&cursor=2026-11-21T10%3A04%3A00%2F7"));
  }
  SECTION("since, until, lang and limit") {
    source.options["since"] = std::string("2026-11-01");
    source.options["until"] = std::string("2026-11-30T00:00:00+01:00");
    source.options["lang"] = std::string("en");
    source.options["limit"] = int64_t{25};
    auto request = NextRequest(source, SourceCursor{});
    REQUIRE(request.ok());
    CHECK(Contains(request->url,
                   "&limit=25&lang=en&since=2026-11-01T00%3A00%3A00Z&until=2026-11-29T23%3A00%3A"
                   "00Z"));
  }
  SECTION("a service under a path") {
    auto request = NextRequest(Source("http://127.0.0.1:8080/bsky"), SourceCursor{});
    REQUIRE(request.ok());
    CHECK(request->url.rfind("http://127.0.0.1:8080/bsky/xrpc/app.bsky.feed.searchPosts?", 0) == 0);
  }
}

TEST_CASE("bluesky rejects bad source settings", "[bluesky]") {
  auto expect_invalid = [](const SourceSpec& source, const std::string& needle,
                           const std::string& cursor = "") {
    SourceCursor state;
    state.cursor = cursor;
    auto request = NextRequest(source, state);
    REQUIRE_FALSE(request.ok());
    CHECK(request.status().code() == StatusCode::kInvalidArgument);
    CHECK(Contains(request.status().message(), "source \"bsky-nhs\" (bluesky)"));
    CHECK(Contains(request.status().message(), needle));
  };
  SourceSpec source = Source();
  SECTION("no url") { expect_invalid(Source(""), "`url` must be the service's base URL"); }
  SECTION("a url with a query") {
    expect_invalid(Source("https://bsky.social/?x=1"), "is not a service base URL");
  }
  SECTION("no query") {
    source.options["query"] = std::string("  ");
    expect_invalid(source, "set `query`");
  }
  SECTION("limit out of range") {
    for (int64_t limit : {0, 101, -5}) {
      source.options["limit"] = limit;
      expect_invalid(source, "`limit` must be between 1 and 100");
    }
  }
  SECTION("half the credentials") {
    source.options["identifier"] = std::string("trust.bsky.social");
    expect_invalid(source, "set both `identifier` and `app_password`, or neither");
  }
  SECTION("bad times") {
    source.options["since"] = std::string("last Tuesday");
    expect_invalid(source, "`since` \"last Tuesday\" is not a date or time");
    source.options.erase("since");
    source.options["until"] = std::string("soon");
    expect_invalid(source, "`until` \"soon\"");
  }
  SECTION("a bad overlap") {
    source.options["overlap"] = std::string("2 weeks");
    expect_invalid(source, "`overlap`", "2026-11-21T10:00:00Z");
    source.options["overlap"] = std::string("48h");
    expect_invalid(source, "`overlap` must be between 0s and 24h", "2026-11-21T10:00:00Z");
  }
  SECTION("a stored cursor this connector did not write") {
    for (const char* bad :
         {"25", "x y z", "2026-11-21T10:00:00Z x", "2026-11-21T10:00:00Z 2026-11-21T10:00:00Z "}) {
      INFO(bad);
      expect_invalid(source, "reset the source's cursor", bad);
    }
  }
}

// ------------------------------------------------------------ rate limits ---

TEST_CASE("bluesky RateLimit headers", "[bluesky]") {
  HttpResponse response = Response("{}");
  SECTION("epoch-seconds reset") {
    response.headers.Add("ratelimit-limit", "3000");
    response.headers.Add("ratelimit-remaining", "0");
    response.headers.Add("ratelimit-reset", "1751619206");
    response.headers.Add("ratelimit-policy", "3000;w=300");
    RateLimitInfo info = ReadRateLimit(response);
    CHECK(info.limit == 3000);
    CHECK(info.remaining == 0);
    CHECK(info.reset == FromUnixSeconds(1751619206));
    CHECK_FALSE(info.retry_at.has_value());
  }
  SECTION("the limit from the policy when RateLimit-Limit is absent") {
    response.headers.Add("RateLimit-Policy", "30;w=300");
    CHECK(ReadRateLimit(response).limit == 30);
  }
  SECTION("seconds remaining, from the Date header") {
    response.headers.Add("RateLimit-Reset", "120");
    response.headers.Add("Date", "Sat, 21 Nov 2026 10:00:00 GMT");
    CHECK(ReadRateLimit(response).reset == FromUnixSeconds(1795255200 + 120));
  }
  SECTION("seconds remaining without a Date header are not guessed") {
    response.headers.Add("RateLimit-Reset", "120");
    CHECK_FALSE(ReadRateLimit(response).reset.has_value());
  }
  SECTION("garbage is ignored") {
    response.headers.Add("RateLimit-Limit", "lots");
    response.headers.Add("RateLimit-Remaining", "-1");
    response.headers.Add("RateLimit-Reset", "soon");
    response.headers.Add("RateLimit-Policy", ";w=300");
    CHECK(ReadRateLimit(response).empty());
  }
  SECTION("a page carries its limits") {
    HttpResponse page_response = Own("search_empty.json");
    page_response.headers.Add("RateLimit-Remaining", "2986");
    CHECK(ParseOk(page_response).rate_limit.remaining == 2986);
  }
}

// ------------------------------------------------------------------ auth ---

std::string FixtureAccessJwt() {
  return JsonObject(testing::ReadFile(testing::OwnFixture("bluesky/session_create.json")))
      .at("accessJwt")
      .as_string()
      .c_str();
}

TEST_CASE("bluesky JWT expiry", "[bluesky]") {
  CHECK(JwtExpiry(FixtureAccessJwt()) == FromUnixSeconds(1795257200));
  // {"exp":1795257200} with and without padding characters' worth of length.
  CHECK(JwtExpiry("h.eyJleHAiOjE3OTUyNTcyMDB9.s") == FromUnixSeconds(1795257200));
  CHECK(JwtExpiry("h.eyJleHAiOjE3OTUyNTcyMDAsInN1YiI6ImEifQ.s") == FromUnixSeconds(1795257200));
  CHECK(JwtExpiry("h.eyJleHAiOjE3OTUyNTcyMDAsInN1YiI6ImFiIn0.s") == FromUnixSeconds(1795257200));
  CHECK(JwtExpiry("h.eyJleHAiOjE3OTUyNTcyMDAuOX0.s") ==
        FromUnixSeconds(1795257200));  // 1795257200.9
  CHECK_FALSE(JwtExpiry("no-dots").has_value());
  CHECK_FALSE(JwtExpiry("h.!!!!.s").has_value());
  CHECK_FALSE(JwtExpiry("h.eyJleHAiOjE3OTUyNTcyMDB9=.s").has_value());  // padding is not base64url
  CHECK_FALSE(JwtExpiry("h.e.s").has_value());
  CHECK_FALSE(JwtExpiry("h.eyJzdWIiOiJhIn0.s").has_value());              // {"sub":"a"}
  CHECK_FALSE(JwtExpiry("h.eyJleHAiOiIxNzk1MjU3MjAwIn0.s").has_value());  // "exp" a string
  CHECK_FALSE(JwtExpiry("h.eyJleHAiOjFlMzAwfQ.s").has_value());           // 1e300
  CHECK_FALSE(JwtExpiry("h.W10.s").has_value());                          // []
  CHECK_FALSE(JwtExpiry("..").has_value());
}

TEST_CASE("bluesky session requests", "[bluesky]") {
  SourceSpec source = Source();
  SECTION("anonymous sources ask for no session") {
    CHECK_FALSE(HasCredentials(source));
    CHECK(Descriptor().auth->configured != nullptr);
    CHECK_FALSE(Descriptor().auth->configured(source));
    auto request = SessionRequest(source, nullptr);
    REQUIRE_FALSE(request.ok());
    CHECK(request.status().code() == StatusCode::kInvalidArgument);
    CHECK(Contains(request.status().message(), "needs both `identifier`"));
  }
  source.options["identifier"] = std::string("trust-team.bsky.social");
  source.options["app_password"] = std::string("abcd-efgh-ijkl-mnop");
  SECTION("createSession with the app password") {
    CHECK(HasCredentials(source));
    auto request = SessionRequest(source, nullptr);
    REQUIRE(request.ok());
    CHECK(request->method == "POST");
    CHECK(request->url == "https://bsky.social/xrpc/com.atproto.server.createSession");
    CHECK(request->headers.Get("Content-Type") == "application/json");
    json::object body = JsonObject(request->body);
    CHECK(body.size() == 2);
    CHECK(body.at("identifier").as_string() == "trust-team.bsky.social");
    CHECK(body.at("password").as_string() == "abcd-efgh-ijkl-mnop");
  }
  SECTION("a password with quotes and backslashes is escaped, not spliced") {
    source.options["app_password"] = std::string("a\"b\\c\n");
    auto request = SessionRequest(source, nullptr);
    REQUIRE(request.ok());
    // The newline a secrets file leaves at the end is not part of it.
    CHECK(JsonObject(request->body).at("password").as_string() == "a\"b\\c");
  }
  SECTION("refreshSession with the refresh JWT as bearer") {
    AuthSession current;
    current.access_token = "old-access";
    current.refresh_token = "the-refresh-jwt";
    auto request = SessionRequest(source, &current);
    REQUIRE(request.ok());
    CHECK(request->method == "POST");
    CHECK(request->url == "https://bsky.social/xrpc/com.atproto.server.refreshSession");
    CHECK(request->headers.Get("Authorization") == "Bearer the-refresh-jwt");
    CHECK(request->body.empty());
  }
  SECTION("a session without a refresh token is created anew") {
    AuthSession current;
    current.access_token = "old-access";
    auto request = SessionRequest(source, &current);
    REQUIRE(request.ok());
    CHECK(Contains(request->url, "createSession"));
  }
}

TEST_CASE("bluesky: an expired or invalid access token is a refused session at any 4xx",
          "[bluesky]") {
  const auto& auth = *Descriptor().auth;
  REQUIRE(auth.session_refused == &SessionRefused);
  // Bluesky's own answer to an expired access JWT is 400, not 401.
  CHECK(SessionRefused(Own("error_expired_token.json", 400)));
  CHECK(SessionRefused(Own("error_invalid_token.json", 400)));
  CHECK(SessionRefused(Own("error_expired_token.json", 401)));
  // Ordinary failures are not: they back off or stop as before.
  CHECK_FALSE(SessionRefused(Own("error_body.json", 400)));
  CHECK_FALSE(SessionRefused(Own("error_not_found.json", 400)));
  CHECK_FALSE(SessionRefused(Own("error_auth_required.json", 401)));
  CHECK_FALSE(SessionRefused(Own("error_rate_limit.json", 429)));
  CHECK_FALSE(SessionRefused(Own("error_internal.json", 502)));
  CHECK_FALSE(SessionRefused(Response(R"({"error":"ExpiredToken"})", kSearchUrl, 502)));
  CHECK_FALSE(SessionRefused(Response("ExpiredToken", kSearchUrl, 400)));
  CHECK_FALSE(SessionRefused(Response("<html>ExpiredToken</html>", kSearchUrl, 400)));
  CHECK_FALSE(SessionRefused(Response(R"({"error":["ExpiredToken"]})", kSearchUrl, 400)));
  CHECK_FALSE(SessionRefused(Response("", kSearchUrl, 400)));
}

TEST_CASE("bluesky session answers", "[bluesky]") {
  SourceSpec source = Source();
  const TimePoint now = FromUnixSeconds(1795250100);
  const std::string url = "https://bsky.social/xrpc/com.atproto.server.createSession";
  auto parse = [&](const std::string& name, int status = 200) {
    return ParseSession(source, Own(name, status, url), now);
  };
  SECTION("created: tokens, DID, expiry from the access JWT") {
    auto session = parse("session_create.json");
    INFO(session.status().ToString());
    REQUIRE(session.ok());
    CHECK(session->access_token == FixtureAccessJwt());
    CHECK(session->refresh_token.rfind("eyJ", 0) == 0);
    CHECK(session->account == Did(10));
    CHECK(session->expires_at == FromUnixSeconds(1795257200));
  }
  SECTION("refreshed: a fractional exp") {
    auto session = parse("session_refresh.json");
    REQUIRE(session.ok());
    CHECK(session->expires_at == FromUnixSeconds(1795264200));
  }
  SECTION("an access token we cannot read: the documented default") {
    auto session = parse("session_opaque_token.json");
    REQUIRE(session.ok());
    CHECK(session->expires_at == now + std::chrono::minutes(15));
  }
  SECTION("an expiry already past: the default, not an immediate renewal loop") {
    auto session =
        ParseSession(source, Own("session_create.json", 200, url), FromUnixSeconds(1795300000));
    REQUIRE(session.ok());
    CHECK(session->expires_at == FromUnixSeconds(1795300000) + std::chrono::minutes(15));
  }
  SECTION("a deactivated account") {
    auto session = parse("session_deactivated.json");
    REQUIRE_FALSE(session.ok());
    CHECK(session.status().code() == StatusCode::kPermissionDenied);
    CHECK(Contains(session.status().message(), "not active (deactivated)"));
  }
  SECTION("a 2xx that is not a session") {
    auto missing = parse("session_missing_did.json");
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.status().code() == StatusCode::kParseError);
    CHECK(Contains(missing.status().message(), "'did' is missing"));
    auto html = parse("invalid_not_json.html");
    REQUIRE_FALSE(html.ok());
    CHECK(html.status().code() == StatusCode::kParseError);
  }
  SECTION("a wrong password") {
    auto session = parse("error_auth_required.json", 401);
    REQUIRE_FALSE(session.ok());
    CHECK(session.status().code() == StatusCode::kUnauthenticated);
    CHECK(Contains(session.status().message(), "source 'bsky-nhs'"));
    CHECK(Contains(session.status().message(),
                   "HTTP 401: AuthenticationRequired: Invalid identifier or password"));
  }
  SECTION("an expired refresh token answers 400") {
    auto session = parse("error_expired_token.json", 400);
    REQUIRE_FALSE(session.ok());
    CHECK(session.status().code() == StatusCode::kUnauthenticated);
    CHECK(Contains(session.status().message(), "HTTP 400: ExpiredToken: Token has expired"));
  }
  SECTION("too many sign-ins") {
    auto session = parse("error_rate_limit.json", 429);
    REQUIRE_FALSE(session.ok());
    CHECK(session.status().code() == StatusCode::kRateLimited);
  }
  SECTION("an outage") {
    auto session = ParseSession(source, Response("upstream connect error", url, 503), now);
    REQUIRE_FALSE(session.ok());
    CHECK(session.status().code() == StatusCode::kUnavailable);
    CHECK(Contains(session.status().message(), "HTTP 503: upstream connect error"));
  }
  SECTION("authorize adds the access token") {
    AuthSession session;
    session.access_token = "acc";
    HttpRequest request;
    request.headers.Add("authorization", "Bearer stale");
    Authorize(session, request);
    CHECK(request.headers.GetAll("Authorization").size() == 1);
    CHECK(request.headers.Get("Authorization") == "Bearer acc");
  }
}

// ----------------------------------------------------------------- reply ---

Post ReplyTarget() {
  Page page = ParseOk(Own("search_page.json"));
  return page.posts[1];  // a reply itself: root and parent differ
}

AuthSession Session() {
  AuthSession session;
  session.access_token = "access-jwt";
  session.refresh_token = "refresh-jwt";
  session.account = Did(10);
  return session;
}

ReplyDraft Draft(std::string body = "Thank you for telling us. Please contact our PALS team.") {
  ReplyDraft draft;
  draft.body = std::move(body);
  draft.idempotency_key = "reply-42";
  draft.created_at = FromUnixMillis(1795260000123);
  return draft;
}

TEST_CASE("bluesky reply record keys", "[bluesky]") {
  const std::string key = ReplyRecordKey("reply-42", FromUnixMillis(1795260000123));
  CHECK(std::regex_match(key,
                         std::regex("^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")));
  CHECK(key == ReplyRecordKey("reply-42", FromUnixMillis(1795260000123)));
  CHECK(key != ReplyRecordKey("reply-43", FromUnixMillis(1795260000123)));
  CHECK(key != ReplyRecordKey("reply-42", FromUnixMillis(1795260000124)));
  // The timestamp part decodes to the draft's time.
  uint64_t value = 0;
  for (char c : key) {
    value = value * 32 +
            static_cast<uint64_t>(std::string_view("234567abcdefghijklmnopqrstuvwxyz").find(c));
  }
  CHECK((value >> 10) / 1000 == 1795260000123ULL);
  // Keys sort with time, as TIDs should.
  CHECK(ReplyRecordKey("a", FromUnixMillis(1795260000000)) <
        ReplyRecordKey("a", FromUnixMillis(1795260060000)));
}

TEST_CASE("bluesky reply requests", "[bluesky]") {
  SourceSpec account = Source();
  account.name = "trust-account";
  const Post target = ReplyTarget();
  const AuthSession session = Session();
  SECTION("createRecord with reply refs, link facets and a stable record key") {
    ReplyDraft draft = Draft(
        "Sorry to hear this \u2014 caf\u00e9 hours are at "
        "https://www.example.nhs.uk/caf\u00e9-hours. "
        "(see https://example.nhs.uk/a_(b)) and https://x.example/path).");
    auto request = ReplyRequest(account, &session, target, draft);
    INFO(request.status().ToString());
    REQUIRE(request.ok());
    CHECK(request->method == "POST");
    CHECK(request->url == "https://bsky.social/xrpc/com.atproto.repo.createRecord");
    CHECK(request->headers.Get("Authorization") == "Bearer access-jwt");
    CHECK(request->headers.Get("Content-Type") == "application/json");
    json::object body = JsonObject(request->body);
    CHECK(body.at("repo").as_string() == Did(10));
    CHECK(body.at("collection").as_string() == "app.bsky.feed.post");
    CHECK(body.at("rkey").as_string() == ReplyRecordKey("reply-42", draft.created_at));
    const json::object& record = body.at("record").as_object();
    CHECK(record.at("$type").as_string() == "app.bsky.feed.post");
    CHECK(record.at("text").as_string() == draft.body);
    CHECK(record.at("createdAt").as_string() == "2026-11-21T11:20:00.123Z");
    const json::object& reply = record.at("reply").as_object();
    CHECK(reply.at("parent").as_object().at("uri").as_string() == Uri(2, "3mabcdefgh4a2"));
    CHECK(reply.at("parent").as_object().at("cid").as_string().starts_with("bafyreig02"));
    CHECK(reply.at("root").as_object().at("uri").as_string() == Uri(1, "3mabcdefgh5a2"));
    CHECK(reply.at("root").as_object().at("cid").as_string().starts_with("bafyreig01"));
    const json::array& facets = record.at("facets").as_array();
    REQUIRE(facets.size() == 3);
    std::vector<std::string> links;
    for (const json::value& facet : facets) {
      const auto& index = facet.as_object().at("index").as_object();
      const auto start = static_cast<size_t>(index.at("byteStart").as_int64());
      const auto end = static_cast<size_t>(index.at("byteEnd").as_int64());
      const auto& feature = facet.as_object().at("features").as_array()[0].as_object();
      CHECK(feature.at("$type").as_string() == "app.bsky.richtext.facet#link");
      // Byte offsets: the span is exactly the link's bytes.
      CHECK(draft.body.substr(start, end - start) == feature.at("uri").as_string());
      links.emplace_back(feature.at("uri").as_string());
    }
    CHECK(links == std::vector<std::string>{"https://www.example.nhs.uk/caf\u00e9-hours",
                                            "https://example.nhs.uk/a_(b)",
                                            "https://x.example/path"});
  }
  SECTION("a reply to a root post names it as root and parent") {
    Post root = ParseOk(Own("search_page.json")).posts[0];
    auto request = ReplyRequest(account, &session, root, Draft());
    REQUIRE(request.ok());
    json::object body = JsonObject(request->body);
    const json::object& reply = body.at("record").as_object().at("reply").as_object();
    CHECK(reply.at("root") == reply.at("parent"));
    CHECK(reply.at("root").as_object().at("uri").as_string() == root.uid);
    CHECK_FALSE(body.at("record").as_object().contains("facets"));
  }
  SECTION("300 characters are fine, 301 are not") {
    // 300 emoji: 300 code points, 1200 bytes.
    std::string emoji;
    for (int i = 0; i < 300; ++i) emoji += "\U0001F44D";
    CHECK(ReplyRequest(account, &session, target, Draft(emoji)).ok());
    auto too_long = ReplyRequest(account, &session, target, Draft(emoji + "!"));
    REQUIRE_FALSE(too_long.ok());
    CHECK(too_long.status().code() == StatusCode::kInvalidArgument);
    CHECK(Contains(too_long.status().message(), "301 characters"));
    CHECK(Descriptor().reply->max_length == 300);
  }
  SECTION("drafts that cannot be sent") {
    auto fails = [&](const ReplyDraft& draft, const std::string& needle) {
      auto request = ReplyRequest(account, &session, target, draft);
      REQUIRE_FALSE(request.ok());
      CHECK(request.status().code() == StatusCode::kInvalidArgument);
      CHECK(Contains(request.status().message(), needle));
    };
    fails(Draft("   "), "empty");
    fails(Draft("bad \xff byte"), "not valid UTF-8");
    ReplyDraft no_key = Draft();
    no_key.idempotency_key.clear();
    fails(no_key, "no idempotency key");
    ReplyDraft no_time = Draft();
    no_time.created_at = TimePoint{};
    fails(no_time, "no creation time");
  }
  SECTION("targets that cannot be answered") {
    Post no_ref = target;
    no_ref.ref.clear();
    auto missing = ReplyRequest(account, &session, no_ref, Draft());
    REQUIRE_FALSE(missing.ok());
    CHECK(Contains(missing.status().message(), "no stored CID and thread root"));
    Post other = target;
    other.ref = ParseOk(Own("search_page.json")).posts[0].ref;  // another post's ref
    CHECK_FALSE(ReplyRequest(account, &session, other, Draft()).ok());
    Post foreign = target;
    foreign.uid = foreign.id = "https://social.example/@a/1";
    CHECK_FALSE(ReplyRequest(account, &session, foreign, Draft()).ok());
  }
  SECTION("no session") {
    auto request = ReplyRequest(account, nullptr, target, Draft());
    REQUIRE_FALSE(request.ok());
    CHECK(request.status().code() == StatusCode::kUnauthenticated);
    AuthSession no_did = session;
    no_did.account.clear();
    CHECK(ReplyRequest(account, &no_did, target, Draft()).status().code() ==
          StatusCode::kUnauthenticated);
  }
}

TEST_CASE("bluesky reply answers", "[bluesky]") {
  SourceSpec account = Source();
  const Post target = ReplyTarget();
  const std::string url = "https://bsky.social/xrpc/com.atproto.repo.createRecord";
  auto fails = [&](const HttpResponse& response, StatusCode code, const std::string& needle) {
    auto published = ParseReply(account, target, response);
    REQUIRE_FALSE(published.ok());
    CHECK(published.status().code() == code);
    CHECK(Contains(published.status().message(), needle));
  };
  SECTION("published") {
    auto published = ParseReply(account, target, Own("create_record.json", 200, url));
    INFO(published.status().ToString());
    REQUIRE(published.ok());
    CHECK(published->id == "at://" + Did(10) + "/app.bsky.feed.post/3mreply000012");
    CHECK(published->uid == published->id);
    CHECK(published->url == "https://bsky.app/profile/" + Did(10) + "/post/3mreply000012");
  }
  SECTION("an expired access token is 400 ExpiredToken, still unauthenticated") {
    fails(Own("error_expired_token.json", 400, url), StatusCode::kUnauthenticated,
          "HTTP 400: ExpiredToken: Token has expired");
    fails(Own("error_invalid_token.json", 401, url), StatusCode::kUnauthenticated,
          "InvalidToken: Token could not be verified");
  }
  SECTION("forbidden, with a plain-text answer") {
    fails(Response("Request forbidden by administrative rules.", url, 403),
          StatusCode::kPermissionDenied, "HTTP 403: Request forbidden by administrative rules.");
  }
  SECTION("rate limited") {
    fails(Own("error_rate_limit.json", 429, url), StatusCode::kRateLimited,
          "RateLimitExceeded: Rate Limit Exceeded");
  }
  SECTION("refused") {
    fails(Own("error_invalid_request.json", 400, url), StatusCode::kInvalidArgument,
          "must not be longer than 300 graphemes");
  }
  SECTION("a retry of a reply already made") {
    fails(Own("error_already_exists.json", 400, url), StatusCode::kAlreadyExists,
          "RecordAlreadyExists");
  }
  SECTION("server trouble") {
    fails(Own("error_internal.json", 500, url), StatusCode::kUnavailable,
          "InternalServerError: Internal Server Error");
    fails(Own("invalid_not_json.html", 502, url), StatusCode::kUnavailable, "HTTP 502");
  }
  SECTION("a 2xx that does not name the post is not success") {
    fails(Own("create_record_no_uri.json", 200, url), StatusCode::kParseError,
          "'uri' is missing; the reply may have been published");
    fails(Response("", url, 200), StatusCode::kParseError, "not JSON");
    fails(Response("[]", url, 201), StatusCode::kParseError, "not a JSON object");
    fails(Response("{\"uri\":\"at://did:plc:x/app.bsky.feed.like/3m\",\"cid\":\"bafyreiabc\"}", url,
                   200),
          StatusCode::kParseError, "not a post at-uri");
  }
  SECTION("long and hostile error text is cut to one line") {
    std::string message(5000, 'x');
    auto published = ParseReply(
        account, target,
        Response("{\"error\":\"Bad\\nThing\",\"message\":\"" + message + "\"}", url, 400));
    REQUIRE_FALSE(published.ok());
    CHECK(published.status().message().size() < 700);
    CHECK(Contains(published.status().message(), "Bad Thing: xxx"));
  }
}

// ------------------------------------------------------------- descriptor ---

TEST_CASE("bluesky descriptor", "[bluesky]") {
  const ConnectorDescriptor* found = FindConnector("bluesky");
  REQUIRE(found == &Descriptor());
  CHECK(found->auth != nullptr);
  CHECK(found->conversation != nullptr);
  CHECK(found->reply != nullptr);
  std::set<std::string> names;
  for (const ConfigKeySpec& key : found->keys) {
    INFO(key.name);
    CHECK_FALSE(key.doc.empty());
    names.insert(key.name);
  }
  CHECK(names == std::set<std::string>{"query", "identifier", "app_password", "limit", "lang",
                                       "since", "until", "overlap", "thread_depth",
                                       "thread_parent_height"});
  for (const ConfigKeySpec& key : found->keys) {
    CHECK(key.secret == (key.name == "identifier" || key.name == "app_password"));
  }
}

}  // namespace
}  // namespace earshot
