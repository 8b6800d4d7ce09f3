// The mastodon connector on the shared recordings (read in place, never
// copied), on our own fixtures in tests/fixtures/mastodon and on hostile
// bodies generated here.
#include "connectors/mastodon/mastodon.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "crawler/core/text.h"
#include "tests/support/fixtures.h"

namespace earshot {
namespace {

using connector_mastodon::CompareStatusIds;
using connector_mastodon::Descriptor;
using connector_mastodon::NextRequest;
using connector_mastodon::Parse;
using connector_mastodon::PrevLinkCursor;
using connector_mastodon::QualifiedHandle;
using connector_mastodon::ReadRateLimit;

SourceSpec TagSource(std::string url = "https://social.example", std::string tag = "NHS") {
  SourceSpec source;
  source.name = "nhs-tag";
  source.connector = "mastodon";
  source.url = std::move(url);
  source.options["tag"] = std::move(tag);
  source.options["limit"] = int64_t{40};
  return source;
}

HttpResponse Response(std::string body,
                      std::string url = "https://social.example/api/v1/timelines/tag/NHS") {
  HttpResponse response;
  response.status = 200;
  response.url = std::move(url);
  response.body = std::move(body);
  return response;
}

HttpResponse OwnResponse(const std::string& name) {
  return Response(testing::ReadFile(testing::OwnFixture("mastodon/" + name)));
}

Page ParseOk(const SourceSpec& source, const HttpResponse& response,
             const std::string& cursor = "") {
  SourceCursor state;
  state.cursor = cursor;
  auto page = Parse(source, state, response);
  INFO(page.status().ToString());
  REQUIRE(page.ok());
  return std::move(page).value();
}

Status ParseError(const HttpResponse& response) {
  auto page = Parse(TagSource(), SourceCursor{}, response);
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

// A minimal but complete public Status, for generated bodies.
std::string StatusJson(uint64_t id, const std::string& extra = "") {
  const std::string ids = std::to_string(id);
  return "{\"id\":\"" + ids +
         "\",\"created_at\":\"2026-11-22T06:00:00.000Z\",\"in_reply_to_id\":null,"
         "\"spoiler_text\":\"\",\"visibility\":\"public\",\"language\":\"en\","
         "\"uri\":\"https://social.example/users/gen/statuses/" +
         ids + "\",\"url\":\"https://social.example/@gen/" + ids +
         "\",\"content\":\"<p>Generated status " + ids +
         " about the district nurses</p>\",\"reblog\":null,"
         "\"account\":{\"id\":\"1\",\"acct\":\"gen\",\"display_name\":\"Gen\"}" +
         extra + "}";
}

// ---------------------------------------------------------------- shared ---

TEST_CASE("mastodon parses every shared recording", "[mastodon]") {
  EARSHOT_REQUIRE_SHARED(dir, "mastodon");
  const auto files = testing::FilesIn(*dir, {".json"});
  REQUIRE(files.size() >= 5);
  for (const auto& file : files) {
    INFO(file.string());
    SourceSpec source = TagSource("http://localhost:3000");
    auto page = ParseOk(source, Response(testing::ReadFile(file), "file://" + file.string()));
    CHECK(page.skipped_items == 0);
    for (const Post& post : page.posts) {
      INFO(post.id);
      CHECK(post.platform == "mastodon");
      CHECK(post.id.size() >= 18);
      CHECK_FALSE(post.uid.empty());
      CHECK(post.url.rfind("http", 0) == 0);
      CHECK(post.author_handle.rfind("@", 0) == 0);
      CHECK(std::count(post.author_handle.begin(), post.author_handle.end(), '@') == 2);
      CHECK_FALSE(post.text.empty());
      CHECK_FALSE(Contains(post.text, "<p>"));
      CHECK_FALSE(Contains(post.text, "<span"));
      CHECK_FALSE(Contains(post.text, "&#39;"));
      CHECK(IsValidUtf8(post.text));
      CHECK(post.created_at.has_value());
    }
  }
}

TEST_CASE("mastodon shared tag timeline page", "[mastodon]") {
  EARSHOT_REQUIRE_SHARED(dir, "mastodon");
  HttpResponse response = Response(testing::ReadFile(*dir / "timelines_tag_limit10_page1.json"),
                                   "http://localhost:3000/api/v1/timelines/tag/fgiztss?limit=10");
  SourceSpec source = TagSource("http://localhost:3000", "fgiztss");
  source.options["limit"] = int64_t{10};

  SECTION("first poll: newest page, cursor = newest id, caught up") {
    Page page = ParseOk(source, response);
    REQUIRE(page.posts.size() == 10);
    const Post& first = page.posts.front();
    CHECK(first.id == "117020582251615632");
    CHECK(first.uid ==
          "http://localhost:3000/ap/users/117020566092212359/statuses/117020582251615632");
    CHECK(first.url == "http://localhost:3000/@mastodonpy_test_2/117020582251615632");
    CHECK(first.author_handle == "@mastodonpy_test_2@localhost");
    CHECK(first.language == "ja");
    CHECK(first.created_at == FromUnixMillis(1785592380550));
    CHECK(first.text.rfind("Toot number 29! #fgiztss", 0) == 0);
    CHECK(first.reply_to.empty());
    CHECK(first.conversation.empty());
    CHECK(page.posts.back().id == "117020582177108552");
    CHECK(page.next_cursor == "117020582251615632");
    CHECK(page.caught_up);
  }
  SECTION("later poll: a full page means more are waiting") {
    response.headers.Add(
        "Link",
        "<http://localhost:3000/api/v1/timelines/tag/fgiztss?limit=10&max_id="
        "117020582177108552>; rel=\"next\", <http://localhost:3000/api/v1/timelines/tag/"
        "fgiztss?limit=10&min_id=117020582251615632>; rel=\"prev\"");
    response.headers.Add("x-ratelimit-limit", "300");
    response.headers.Add("x-ratelimit-remaining", "299");
    response.headers.Add("x-ratelimit-reset", "2026-08-01T13:55:00.729285Z");
    Page page = ParseOk(source, response, "117020582000000000");
    CHECK(page.posts.size() == 10);
    CHECK(page.next_cursor == "117020582251615632");
    CHECK_FALSE(page.caught_up);
    CHECK(page.rate_limit.limit == 300);
    CHECK(page.rate_limit.remaining == 299);
    CHECK(page.rate_limit.reset == FromUnixMillis(1785592500729));
  }
}

TEST_CASE("mastodon shared public timeline decodes HTML", "[mastodon]") {
  EARSHOT_REQUIRE_SHARED(dir, "mastodon");
  Page page = ParseOk(TagSource("http://localhost:3000"),
                      Response(testing::ReadFile(*dir / "timelines_public_anonymous.json")));
  REQUIRE(page.posts.size() == 8);
  CHECK(page.posts[1].id == "117020592137523525");
  CHECK(page.posts[1].text == "you can't say that on television");
  CHECK(page.posts[1].author_handle == "@admin@localhost");
  CHECK(page.posts[4].text == "@mastodonpy_test beep beep I'm a jeep");
  CHECK(page.next_cursor == "117020593134559451");
}

TEST_CASE("mastodon shared search result without statuses", "[mastodon]") {
  EARSHOT_REQUIRE_SHARED(dir, "mastodon");
  Page page = ParseOk(TagSource("http://localhost:3000"),
                      Response(testing::ReadFile(*dir / "search_v2_accounts_result.json")),
                      "117020000000000000");
  CHECK(page.posts.empty());
  CHECK(page.skipped_items == 0);
  CHECK(page.next_cursor.empty());
  CHECK(page.caught_up);
}

TEST_CASE("mastodon shared single statuses", "[mastodon]") {
  EARSHOT_REQUIRE_SHARED(dir, "mastodon");
  SECTION("a reply") {
    Page page = ParseOk(TagSource("http://localhost:3000"),
                        Response(testing::ReadFile(*dir / "status_reply_single.json")));
    REQUIRE(page.posts.size() == 1);
    const Post& post = page.posts[0];
    CHECK(post.id == "117020583258292382");
    CHECK(post.reply_to == "117020583245459824");
    CHECK(post.conversation == "117020583245459824");
    CHECK(post.text == "@mastodonpy_test_2 same!");
    CHECK(post.author_handle == "@admin@localhost");
    CHECK(post.author_name.empty());
    CHECK(page.next_cursor.empty());
  }
  SECTION("the documentation's example status") {
    Page page =
        ParseOk(TagSource("https://mastodon.social"),
                Response(testing::ReadFile(*dir / "status_entity_docs_example_gargron_2019.json")));
    REQUIRE(page.posts.size() == 1);
    const Post& post = page.posts[0];
    CHECK(post.id == "103270115826048975");
    CHECK(post.uid == "https://mastodon.social/users/Gargron/statuses/103270115826048975");
    CHECK(post.url == "https://mastodon.social/@Gargron/103270115826048975");
    CHECK(post.author_handle == "@Gargron@mastodon.social");
    CHECK(post.author_name == "Eugen");
    CHECK(post.language == "en");
    CHECK(post.created_at == FromUnixMillis(1575776913901));
    CHECK(post.text.rfind("\"I lost my inheritance with one wrong digit on my sort code\"", 0) ==
          0);
    CHECK(Contains(post.text, "theguardian.com/money/2019/dec"));
    CHECK(post.reply_to.empty());
  }
}

// ------------------------------------------------------------ own fixtures ---

TEST_CASE("mastodon hashtag timeline page", "[mastodon]") {
  const HttpResponse response = OwnResponse("tag_timeline_page.json");
  SECTION("posts") {
    Page page = ParseOk(TagSource(), response);
    REQUIRE(page.posts.size() == 5);
    CHECK(page.skipped_items == 0);
    const Post& first = page.posts[0];
    CHECK(first.platform == "mastodon");
    CHECK(first.id == "113500000000000105");
    CHECK(first.uid == "https://social.example/users/wardwatcher/statuses/113500000000000105");
    CHECK(first.url == "https://social.example/@wardwatcher/113500000000000105");
    CHECK(first.author_handle == "@wardwatcher@social.example");
    CHECK(first.author_name == "Ward Watcher");
    CHECK(first.text ==
          "Waited 9 hours in A&E at Riverside General last night. Staff were run off their "
          "feet but kind. #NHS");
    CHECK(first.title.empty());
    CHECK(first.language == "en");
    CHECK(first.created_at == FromUnixMillis(1795299330120));

    const Post& remote = page.posts[1];
    CHECK(remote.author_handle == "@clinicnotes@health.example.org");
    CHECK(remote.url == "https://health.example.org/@clinicnotes/113500000000000104");
    CHECK(Contains(remote.text, "Our GP surgery's new online booking \"just works\"."));
    CHECK(Contains(remote.text, "Credit where it's due. #NHS"));
    CHECK_FALSE(Contains(remote.text, "&quot;"));

    const Post& spoiler = page.posts[2];
    CHECK(spoiler.title == "Medication shortage");
    CHECK(Contains(spoiler.text, "Pharmacy ran out of my prescription again.\nThird time"));

    const Post& unlisted = page.posts[3];  // unlisted is public enough
    CHECK(unlisted.id == "113500000000000102");
    CHECK(unlisted.language.empty());  // "language": null
    CHECK(unlisted.author_name.empty());
    CHECK(Contains(unlisted.text, "Hillside were brilliant"));

    CHECK(page.posts[4].text == "Ambulance took 40 minutes <sigh> #NHS");
  }
  SECTION("first poll takes the newest id and stops") {
    Page page = ParseOk(TagSource(), response);
    CHECK(page.next_cursor == "113500000000000105");
    CHECK(page.caught_up);
  }
  SECTION("a full page after a cursor is not caught up") {
    SourceSpec source = TagSource();
    source.options["limit"] = int64_t{5};
    Page page = ParseOk(source, response, "113500000000000100");
    CHECK(page.next_cursor == "113500000000000105");
    CHECK_FALSE(page.caught_up);
  }
  SECTION("a short page after a cursor is caught up") {
    Page page = ParseOk(TagSource(), response, "113500000000000100");
    CHECK(page.next_cursor == "113500000000000105");
    CHECK(page.caught_up);
  }
  SECTION("the cursor never moves backwards") {
    Page page = ParseOk(TagSource(), response, "113500000000000999");
    CHECK(page.next_cursor.empty());
  }
  SECTION("a shorter id is older") {
    Page page = ParseOk(TagSource(), response, "99999999999999999");
    CHECK(page.next_cursor == "113500000000000105");
  }
  SECTION("the Link header's prev cursor wins when newer") {
    HttpResponse linked = response;
    linked.headers.Add(
        "Link",
        "<https://social.example/api/v1/timelines/tag/NHS?max_id=113500000000000101>;"
        " rel=\"next\", <https://social.example/api/v1/timelines/tag/NHS?"
        "min_id=113500000000000110>; rel=\"prev\"");
    Page page = ParseOk(TagSource(), linked);
    CHECK(page.next_cursor == "113500000000000110");
  }
  SECTION("without a source URL the response URL names the instance") {
    Page page = ParseOk(TagSource(""), Response(response.body, "https://mirror.example/api/v1/x"));
    CHECK(page.posts[0].author_handle == "@wardwatcher@mirror.example");
  }
  SECTION("without any URL the account's profile names the instance") {
    Page page = ParseOk(TagSource(""), Response(response.body, "file:///tmp/page.json"));
    CHECK(page.posts[0].author_handle == "@wardwatcher@social.example");
    CHECK(page.posts[1].author_handle == "@clinicnotes@health.example.org");
  }
}

TEST_CASE("mastodon search result", "[mastodon]") {
  SourceSpec source = TagSource();
  source.options.erase("tag");
  source.options["query"] = std::string("NHS App");
  source.options["token"] = std::string("t0ken");
  Page page = ParseOk(source, OwnResponse("search_statuses.json"));
  REQUIRE(page.posts.size() == 2);
  CHECK(page.posts[0].id == "113500000000000201");
  CHECK(page.posts[0].text ==
        "Booked a physio appointment through the NHS App in two minutes. Impressed.");
  CHECK(page.posts[1].author_handle == "@clinicnotes@health.example.org");
  CHECK(page.next_cursor == "113500000000000202");
}

TEST_CASE("mastodon reblogs are replaced by the reblogged status", "[mastodon]") {
  Page page = ParseOk(TagSource(), OwnResponse("timeline_with_reblogs.json"));
  // Two boosts of one status and one original post.
  REQUIRE(page.posts.size() == 2);
  CHECK(page.skipped_items == 0);
  const Post& boosted = page.posts[0];
  CHECK(boosted.id == "113400000000000050");
  CHECK(boosted.uid == "https://health.example.org/users/clinicnotes/statuses/113400000000000050");
  CHECK(boosted.url == "https://health.example.org/@clinicnotes/113400000000000050");
  CHECK(boosted.author_handle == "@clinicnotes@health.example.org");
  CHECK(boosted.text == "Hospital parking charges for carers should be scrapped.");
  CHECK(page.posts[1].id == "113500000000000300");
  // The server paginates by the boost's own id, not the older original's.
  CHECK(page.next_cursor == "113500000000000302");
}

TEST_CASE("mastodon single reply status", "[mastodon]") {
  Page page = ParseOk(TagSource(), OwnResponse("status_reply.json"));
  REQUIRE(page.posts.size() == 1);
  const Post& reply = page.posts[0];
  CHECK(reply.id == "113500000000000402");
  CHECK(reply.reply_to == "113500000000000105");
  CHECK(reply.conversation == "113500000000000105");
  CHECK(reply.text == "@wardwatcher Same at our hospital \u2013 the discharge lounge was full.");
  CHECK(reply.author_handle == "@patient_pat@social.example");
  CHECK(reply.author_name == "Pat (they/them) \U0001FA7A");
  CHECK(reply.created_at == FromUnixMillis(1795341600000));
  CHECK(page.next_cursor.empty());
  CHECK(page.caught_up);
}

TEST_CASE("mastodon skips statuses that are not public", "[mastodon]") {
  Page page = ParseOk(TagSource(), OwnResponse("private_and_direct.json"));
  REQUIRE(page.posts.size() == 1);
  CHECK(page.posts[0].id == "113500000000000501");
  CHECK(page.skipped_items == 2);
  CHECK(AnyWarningContains(page, "item 0 (status 113500000000000503): visibility \"private\""));
  CHECK(AnyWarningContains(page, "visibility \"direct\""));
  // Skipped statuses are still behind the cursor: they are not fetched again.
  CHECK(page.next_cursor == "113500000000000503");
}

// --------------------------------------------------------------- hostile ---

TEST_CASE("mastodon skips items of the wrong types", "[mastodon]") {
  Page page = ParseOk(TagSource(), OwnResponse("hostile_wrong_types.json"));
  REQUIRE(page.posts.size() == 1);
  CHECK(page.posts[0].id == "113500000000000606");
  CHECK(page.skipped_items == 11);
  REQUIRE(page.warnings.size() == 11);
  CHECK(Contains(page.warnings[0], "item 0: 'id' is number, expected string"));
  CHECK(Contains(page.warnings[1], "item 1 (status 113500000000000601): 'content' is array"));
  CHECK(Contains(page.warnings[2], "'account' is string, expected object"));
  CHECK(Contains(page.warnings[3], "'reblog' is string, expected object"));
  CHECK(Contains(page.warnings[4], "'in_reply_to_id' is number"));
  CHECK(Contains(page.warnings[5], "item 6: is string, expected a status object"));
  CHECK(Contains(page.warnings[6], "'created_at' \"yesterday afternoon\""));
  CHECK(Contains(page.warnings[7], "'language' is object"));
  CHECK(Contains(page.warnings[8], "item 9: 'id' \"../../admin?x=1\" is not a status id"));
  CHECK(Contains(page.warnings[9], "item 10: is null"));
  CHECK(Contains(page.warnings[10], "item 11: is number"));
  // Only well-formed ids can move the cursor.
  CHECK(page.next_cursor == "113500000000000608");
}

TEST_CASE("mastodon skips items with missing fields", "[mastodon]") {
  Page page = ParseOk(TagSource(), OwnResponse("hostile_missing_fields.json"));
  REQUIRE(page.posts.size() == 2);
  CHECK(page.skipped_items == 6);
  CHECK(AnyWarningContains(page, "item 0: 'id' is missing"));
  CHECK(AnyWarningContains(page, "item 1 (status 113500000000000701): 'content' is missing"));
  CHECK(AnyWarningContains(page, "item 2 (status 113500000000000702): 'account' is missing"));
  CHECK(AnyWarningContains(page, "'visibility' is missing"));
  CHECK(AnyWarningContains(page, "account: 'acct' is missing"));
  CHECK(AnyWarningContains(page, "item 5: 'id' is missing"));
  const Post& bare = page.posts[1];
  CHECK(bare.id == "113500000000000707");
  CHECK(bare.url == "https://social.example/users/carerchris/statuses/113500000000000707");
  CHECK(bare.url == bare.uid);
  CHECK(bare.author_handle == "@carerchris@social.example");
  CHECK(bare.language.empty());
  CHECK(bare.text == "Bare minimum status: GP phone line answered first time.");
  CHECK(page.next_cursor == "113500000000000707");
}

TEST_CASE("mastodon rejects bodies that are not JSON", "[mastodon]") {
  const std::string url = "https://social.example/api/v1/timelines/tag/NHS";
  SECTION("an HTML error page") {
    Status status = ParseError(OwnResponse("invalid_not_json.html"));
    CHECK(status.code() == StatusCode::kParseError);
    CHECK(Contains(status.message(), url));
    CHECK(Contains(status.message(), "invalid JSON"));
  }
  SECTION("a truncated body") {
    Status status = ParseError(OwnResponse("truncated.json"));
    CHECK(status.code() == StatusCode::kParseError);
    CHECK(Contains(status.message(), url));
    CHECK(Contains(status.message(), "string is opened, but never closed"));
  }
  SECTION("truncated between tokens") {
    Status status = ParseError(Response("[" + StatusJson(1) + ","));
    CHECK(status.code() == StatusCode::kParseError);
  }
  SECTION("an empty body") {
    Status status = ParseError(Response(""));
    CHECK(status.code() == StatusCode::kParseError);
    CHECK(Contains(status.message(), "Empty"));
  }
  SECTION("JSON that is neither array nor object") {
    for (const char* body : {"\"hello\"", "42", "null", "true"}) {
      INFO(body);
      Status status = ParseError(Response(body));
      CHECK(status.code() == StatusCode::kParseError);
      CHECK(Contains(status.message(), "expected an array of statuses"));
    }
  }
  SECTION("an object of unknown shape") {
    Status status = ParseError(Response("{\"accounts\":[]}"));
    CHECK(Contains(status.message(), "neither a search result nor a status"));
  }
  SECTION("a search result whose statuses is not an array") {
    Status status = ParseError(Response("{\"accounts\":[],\"statuses\":{\"id\":\"1\"}}"));
    CHECK(Contains(status.message(), "'statuses' is object, expected array"));
  }
  SECTION("Mastodon's error entity") {
    Status status = ParseError(OwnResponse("error_entity.json"));
    CHECK(Contains(status.message(), "server error: This method requires an authenticated user"));
  }
}

TEST_CASE("mastodon repairs invalid UTF-8 rather than losing the page", "[mastodon]") {
  Page page = ParseOk(TagSource(), OwnResponse("invalid_utf8.json"));
  REQUIRE(page.posts.size() == 2);
  CHECK(AnyWarningContains(page, "not valid UTF-8"));
  const std::string& text = page.posts[0].text;
  CHECK(IsValidUtf8(text));
  CHECK(Contains(text, "\xEF\xBF\xBD"));
  CHECK(Contains(text, "Booked a physio appointment"));
}

TEST_CASE("mastodon survives a huge array", "[mastodon]") {
  constexpr int kCount = 5000;
  std::string body = "[";
  for (int i = 0; i < kCount; ++i) {
    if (i) body += ",";
    body += StatusJson(113600000000000000ULL + kCount - i);
  }
  body += "]";
  Page page = ParseOk(TagSource(), Response(body), "113500000000000000");
  REQUIRE(page.posts.size() == kCount);
  CHECK(page.skipped_items == 0);
  CHECK(page.posts[0].text == "Generated status 113600000000005000 about the district nurses");
  CHECK(page.next_cursor == "113600000000005000");
  CHECK_FALSE(page.caught_up);  // more than `limit` statuses: surely more waiting
}

TEST_CASE("mastodon deeply nested JSON", "[mastodon]") {
  SECTION("beyond the parser's depth limit is a parse error, not a crash") {
    constexpr size_t kDepth = 100000;
    Status status = ParseError(Response(std::string(kDepth, '[') + std::string(kDepth, ']')));
    CHECK(status.code() == StatusCode::kParseError);
    CHECK(Contains(status.message(), "deep"));
  }
  SECTION("nesting inside an unknown field is ignored") {
    constexpr size_t kDepth = 500;
    std::string nested = std::string(kDepth, '[') + std::string(kDepth, ']');
    Page page = ParseOk(TagSource(), Response("[" + StatusJson(7, ",\"x\":" + nested) + "]"));
    REQUIRE(page.posts.size() == 1);
    CHECK(page.posts[0].id == "7");
  }
  SECTION("an object where a status should be nested deeply") {
    std::string body =
        "[{\"id\":\"8\",\"reblog\":{\"id\":\"9\",\"reblog\":" + StatusJson(10) + "}}]";
    Page page = ParseOk(TagSource(), Response(body));
    CHECK(page.posts.empty());
    CHECK(page.skipped_items == 1);
    CHECK(AnyWarningContains(page, "reblog of a reblog"));
    CHECK(page.next_cursor == "8");
  }
}

TEST_CASE("mastodon empty timeline", "[mastodon]") {
  Page page = ParseOk(TagSource(), Response("[]"), "113500000000000105");
  CHECK(page.posts.empty());
  CHECK(page.skipped_items == 0);
  CHECK(page.next_cursor.empty());
  CHECK(page.caught_up);
}

// ----------------------------------------------------------- NextRequest ---

TEST_CASE("mastodon hashtag timeline requests", "[mastodon]") {
  SourceSpec source = TagSource("https://mastodon.social/", "#NHS");
  SECTION("first poll: newest page") {
    auto request = NextRequest(source, SourceCursor{});
    REQUIRE(request.ok());
    CHECK(request->method == "GET");
    CHECK(request->url == "https://mastodon.social/api/v1/timelines/tag/NHS?limit=40");
    CHECK(request->headers.Get("Accept") == "application/json");
    CHECK_FALSE(request->headers.Get("Authorization").has_value());
  }
  SECTION("after a cursor: the statuses immediately newer") {
    SourceCursor cursor;
    cursor.cursor = "113500000000000105";
    auto request = NextRequest(source, cursor);
    REQUIRE(request.ok());
    CHECK(request->url ==
          "https://mastodon.social/api/v1/timelines/tag/NHS?limit=40&min_id=113500000000000105");
  }
  SECTION("limit, local, only_media and token") {
    source.options["limit"] = int64_t{20};
    source.options["local"] = true;
    source.options["only_media"] = true;
    source.options["token"] = std::string("s3cret");
    auto request = NextRequest(source, SourceCursor{});
    REQUIRE(request.ok());
    CHECK(request->url ==
          "https://mastodon.social/api/v1/timelines/tag/NHS?limit=20&local=true&only_media=true");
    CHECK(request->headers.Get("Authorization") == "Bearer s3cret");
  }
  SECTION("defaults when the loader passed no limit") {
    source.options.erase("limit");
    auto request = NextRequest(source, SourceCursor{});
    REQUIRE(request.ok());
    CHECK(Contains(request->url, "?limit=40"));
  }
  SECTION("the tag is URL-encoded") {
    source.options["tag"] = std::string("santé");
    auto request = NextRequest(source, SourceCursor{});
    REQUIRE(request.ok());
    CHECK(request->url == "https://mastodon.social/api/v1/timelines/tag/sant%C3%A9?limit=40");
  }
  SECTION("an instance under a path") {
    source.url = "https://example.org/mastodon";
    auto request = NextRequest(source, SourceCursor{});
    REQUIRE(request.ok());
    CHECK(request->url == "https://example.org/mastodon/api/v1/timelines/tag/NHS?limit=40");
  }
}

TEST_CASE("mastodon status search requests", "[mastodon]") {
  SourceSpec source = TagSource("https://mastodon.social");
  source.options.erase("tag");
  source.options["query"] = std::string("A&E waiting");
  source.options["token"] = std::string("s3cret");
  SourceCursor cursor;
  auto first = NextRequest(source, cursor);
  REQUIRE(first.ok());
  CHECK(first->url ==
        "https://mastodon.social/api/v2/search?q=A%26E%20waiting&type=statuses&resolve=false"
        "&limit=40");
  CHECK(first->headers.Get("Authorization") == "Bearer s3cret");
  cursor.cursor = "113500000000000202";
  auto later = NextRequest(source, cursor);
  REQUIRE(later.ok());
  CHECK(later->url ==
        "https://mastodon.social/api/v2/search?q=A%26E%20waiting&type=statuses&resolve=false"
        "&limit=40&min_id=113500000000000202");
}

TEST_CASE("mastodon rejects bad source settings", "[mastodon]") {
  auto expect_invalid = [](const SourceSpec& source, const std::string& needle) {
    auto request = NextRequest(source, SourceCursor{});
    REQUIRE_FALSE(request.ok());
    CHECK(request.status().code() == StatusCode::kInvalidArgument);
    CHECK(Contains(request.status().message(), "source \"nhs-tag\""));
    CHECK(Contains(request.status().message(), needle));
  };
  SourceSpec source = TagSource();
  SECTION("neither tag nor query") {
    source.options.erase("tag");
    expect_invalid(source, "set `tag`");
  }
  SECTION("both tag and query") {
    source.options["query"] = std::string("nhs");
    source.options["token"] = std::string("t");
    expect_invalid(source, "not both");
  }
  SECTION("query without token") {
    source.options.erase("tag");
    source.options["query"] = std::string("nhs");
    expect_invalid(source, "needs `token`");
  }
  SECTION("a bare '#'") {
    source.options["tag"] = std::string("#");
    expect_invalid(source, "`tag` is empty");
  }
  SECTION("limit out of range") {
    source.options["limit"] = int64_t{41};
    expect_invalid(source, "between 1 and 40");
    source.options["limit"] = int64_t{0};
    expect_invalid(source, "between 1 and 40");
  }
  SECTION("local with search") {
    source.options.erase("tag");
    source.options["query"] = std::string("nhs");
    source.options["token"] = std::string("t");
    source.options["local"] = true;
    expect_invalid(source, "`local`");
  }
  SECTION("no instance URL") {
    source.url = "";
    expect_invalid(source, "`url`");
  }
  SECTION("an instance URL with a query") {
    source.url = "https://mastodon.social/api/v1/timelines/tag/nhs?limit=5";
    expect_invalid(source, "not an instance base URL");
  }
  SECTION("not http(s)") {
    source.url = "ftp://mastodon.social";
    expect_invalid(source, "not an instance base URL");
  }
}

// ---------------------------------------------------- headers and helpers ---

TEST_CASE("mastodon Link header cursor", "[mastodon]") {
  Headers headers;
  SECTION("min_id of rel=prev") {
    headers.Add("Link",
                "<https://social.example/api/v1/timelines/tag/nhs?max_id=113500000000000101>; "
                "rel=\"next\", <https://social.example/api/v1/timelines/tag/nhs?"
                "min_id=113500000000000105>; rel=\"prev\"");
    CHECK(PrevLinkCursor(headers, "") == "113500000000000105");
  }
  SECTION("since_id when there is no min_id") {
    headers.Add("link",
                "<https://social.example/api/v1/timelines/public?since_id=42>; rel=\"prev\"");
    CHECK(PrevLinkCursor(headers, "") == "42");
  }
  SECTION("a relative link") {
    headers.Add("Link", "</api/v1/timelines/tag/nhs?min_id=77>; rel=\"prev\"");
    CHECK(PrevLinkCursor(headers, "https://social.example/api/v1/timelines/tag/nhs") == "77");
  }
  SECTION("links split over two header fields") {
    headers.Add("Link", "<https://social.example/x?max_id=1>; rel=\"next\"");
    headers.Add("Link", "<https://social.example/x?min_id=9>; rel=\"prev\"");
    CHECK(PrevLinkCursor(headers, "") == "9");
  }
  SECTION("only next, none, garbage") {
    headers.Add("Link", "<https://social.example/x?max_id=1>; rel=\"next\"");
    CHECK(PrevLinkCursor(headers, "").empty());
    CHECK(PrevLinkCursor(Headers{}, "").empty());
    Headers garbage;
    garbage.Add("Link", "not a link header at all");
    CHECK(PrevLinkCursor(garbage, "").empty());
    Headers hostile;
    hostile.Add("Link", "<https://social.example/x?min_id=1%26limit%3D1>; rel=\"prev\"");
    CHECK(PrevLinkCursor(hostile, "").empty());
  }
}

TEST_CASE("mastodon rate-limit headers", "[mastodon]") {
  HttpResponse response;
  response.status = 429;
  SECTION("the documented dialect with an ISO 8601 reset") {
    response.headers.Add("X-RateLimit-Limit", "300");
    response.headers.Add("X-RateLimit-Remaining", "0");
    response.headers.Add("X-RateLimit-Reset", "2026-11-22T07:05:00.123456Z");
    RateLimitInfo info = ReadRateLimit(response);
    CHECK(info.limit == 300);
    CHECK(info.remaining == 0);
    CHECK(info.reset == FromUnixMillis(1795331100123));
    CHECK_FALSE(info.retry_at.has_value());
  }
  SECTION("lower-case names and spaces") {
    response.headers.Add("x-ratelimit-remaining", " 12 ");
    RateLimitInfo info = ReadRateLimit(response);
    CHECK(info.remaining == 12);
    CHECK_FALSE(info.limit.has_value());
    CHECK_FALSE(info.reset.has_value());
  }
  SECTION("GoToSocial's Unix-seconds reset") {
    response.headers.Add("X-Ratelimit-Reset", "1795331100");
    CHECK(ReadRateLimit(response).reset == FromUnixSeconds(1795331100));
  }
  SECTION("nonsense is ignored") {
    response.headers.Add("X-RateLimit-Limit", "lots");
    response.headers.Add("X-RateLimit-Remaining", "-3");
    response.headers.Add("X-RateLimit-Reset", "soon");
    CHECK(ReadRateLimit(response).empty());
  }
  SECTION("none") { CHECK(ReadRateLimit(response).empty()); }
}

TEST_CASE("mastodon helpers", "[mastodon]") {
  CHECK(CompareStatusIds("113500000000000105", "113500000000000104") > 0);
  CHECK(CompareStatusIds("99999999999999999", "113500000000000104") < 0);
  CHECK(CompareStatusIds("18446744073709551616", "18446744073709551615") > 0);  // > uint64
  CHECK(CompareStatusIds("7", "7") == 0);
  CHECK(CompareStatusIds("1", "") > 0);
  CHECK(QualifiedHandle("alice", "social.example") == "@alice@social.example");
  CHECK(QualifiedHandle("bob@health.example.org", "social.example") == "@bob@health.example.org");
  CHECK(QualifiedHandle("alice", "") == "@alice");
}

TEST_CASE("mastodon descriptor", "[mastodon]") {
  const ConnectorDescriptor& d = Descriptor();
  CHECK(d.name == "mastodon");
  CHECK(d.next_request == &NextRequest);
  CHECK(d.parse == &Parse);
  CHECK(d.read_rate_limit == &ReadRateLimit);
  std::vector<std::string> names;
  for (const ConfigKeySpec& key : d.keys) {
    names.push_back(key.name);
    CHECK_FALSE(key.doc.empty());
    CHECK(key.secret == (key.name == "token"));
  }
  CHECK(names == std::vector<std::string>{"tag", "query", "token", "limit", "local", "only_media"});
  auto limit = std::find_if(d.keys.begin(), d.keys.end(),
                            [](const ConfigKeySpec& k) { return k.name == "limit"; });
  CHECK(limit->default_value == "40");
  CHECK(limit->type == ConfigKeySpec::Type::kInteger);
}

TEST_CASE("mastodon parse sets the page's rate limit", "[mastodon]") {
  HttpResponse response = Response("[]");
  response.headers.Add("X-RateLimit-Remaining", "299");
  Page page = ParseOk(TagSource(), response);
  CHECK(page.rate_limit.remaining == 299);
}

}  // namespace
}  // namespace earshot
