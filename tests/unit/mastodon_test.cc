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
using connector_mastodon::ConversationRequest;
using connector_mastodon::Descriptor;
using connector_mastodon::InstanceBase;
using connector_mastodon::NextRequest;
using connector_mastodon::Parse;
using connector_mastodon::ParseConversation;
using connector_mastodon::ParseReply;
using connector_mastodon::ParseResolvedStatusId;
using connector_mastodon::PrevLinkCursor;
using connector_mastodon::QualifiedHandle;
using connector_mastodon::ReadRateLimit;
using connector_mastodon::ReplyRequest;
using connector_mastodon::ResolveStatusRequest;
using connector_mastodon::ResolveTarget;
using connector_mastodon::ResolveTargetRequest;

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
    CHECK(key.secret == (key.name == "token" || key.name == "access_token"));
    CHECK_FALSE(key.required);
  }
  CHECK(names == std::vector<std::string>{"tag", "query", "token", "access_token", "limit", "local",
                                          "only_media"});
  CHECK(d.auth == nullptr);  // a static token, no session exchange
  REQUIRE(d.conversation != nullptr);
  CHECK(d.conversation->request == &ConversationRequest);
  CHECK(d.conversation->parse == &ParseConversation);
  REQUIRE(d.reply != nullptr);
  CHECK(d.reply->request == &ReplyRequest);
  CHECK(d.reply->parse == &ParseReply);
  CHECK(d.reply->max_length == 500);
  CHECK(d.reply->honours_idempotency_key);
  CHECK(d.reply->resolve_request == &ResolveTargetRequest);
  CHECK(d.reply->resolve_target == &ResolveTarget);
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

// ------------------------------------------------ instance and Post::ref ---

TEST_CASE("mastodon instance base of source and API URLs", "[mastodon]") {
  CHECK(InstanceBase("https://mastodon.social") == "https://mastodon.social");
  CHECK(InstanceBase(" https://Mastodon.Social/ ") == "https://mastodon.social");
  CHECK(InstanceBase("https://social.example/api/v1/timelines/tag/nhs?limit=40") ==
        "https://social.example");
  CHECK(InstanceBase("http://127.0.0.1:8080/api/v2/search?q=x") == "http://127.0.0.1:8080");
  CHECK(InstanceBase("https://example.org/mastodon/") == "https://example.org/mastodon");
  CHECK(InstanceBase("https://example.org/mastodon/api/v1/statuses") ==
        "https://example.org/mastodon");
  CHECK(InstanceBase("https://social.example#top") == "https://social.example");
  CHECK(InstanceBase("file:///tmp/x.json").empty());
  CHECK(InstanceBase("ftp://social.example").empty());
  CHECK(InstanceBase("https://user:pw@social.example").empty());
  CHECK(InstanceBase("").empty());
  CHECK(InstanceBase("https://").empty());
}

TEST_CASE("mastodon posts remember the instance their ids belong to", "[mastodon]") {
  SECTION("the source's instance") {
    Page page =
        ParseOk(TagSource("https://Social.Example/"), OwnResponse("tag_timeline_page.json"));
    REQUIRE_FALSE(page.posts.empty());
    for (const Post& post : page.posts) CHECK(post.ref == "https://social.example");
  }
  SECTION("without a source URL, the response's") {
    SourceSpec source = TagSource("");
    Page page = ParseOk(source, OwnResponse("status_reply.json"));
    REQUIRE(page.posts.size() == 1);
    CHECK(page.posts[0].ref == "https://social.example");
  }
}

TEST_CASE("mastodon reads with access_token when token is not set", "[mastodon]") {
  SourceSpec source = TagSource();
  source.options["access_token"] = std::string("acc3ss");
  SECTION("tag timeline") {
    auto request = NextRequest(source, SourceCursor{});
    REQUIRE(request.ok());
    CHECK(request->headers.Get("Authorization") == "Bearer acc3ss");
  }
  SECTION("token wins") {
    source.options["token"] = std::string("r3ad");
    auto request = NextRequest(source, SourceCursor{});
    REQUIRE(request.ok());
    CHECK(request->headers.Get("Authorization") == "Bearer r3ad");
  }
  SECTION("search needs one of them") {
    source.options.erase("tag");
    source.options["query"] = std::string("nhs");
    CHECK(NextRequest(source, SourceCursor{}).ok());
  }
}

// ---------------------------------------------------------- conversation ---

Post StoredStatus(std::string id, std::string ref = "https://social.example",
                  std::string reply_to = "") {
  Post post;
  post.platform = "mastodon";
  post.id = std::move(id);
  post.uid = "https://social.example/users/patient_pat/statuses/" + post.id;
  post.url = "https://social.example/@patient_pat/" + post.id;
  post.ref = std::move(ref);
  post.reply_to = std::move(reply_to);
  post.conversation = post.reply_to;
  return post;
}

HttpResponse StatusResponse(int status, std::string body, std::string url) {
  HttpResponse response = Response(std::move(body), std::move(url));
  response.status = status;
  return response;
}

const Post* PostWithId(const Page& page, const std::string& id) {
  for (const Post& post : page.posts) {
    if (post.id == id) return &post;
  }
  return nullptr;
}

TEST_CASE("mastodon conversation requests", "[mastodon]") {
  SourceSpec source = TagSource("https://social.example");
  source.options["token"] = std::string("r3ad");
  SECTION("on the instance the id belongs to, with the source's token") {
    auto request = ConversationRequest(source, StoredStatus("113500000000000402"), "");
    REQUIRE(request.ok());
    CHECK(request->method == "GET");
    CHECK(request->url == "https://social.example/api/v1/statuses/113500000000000402/context");
    CHECK(request->headers.Get("Accept") == "application/json");
    CHECK(request->headers.Get("Authorization") == "Bearer r3ad");
  }
  SECTION("a post read on another instance: asked there, without our token") {
    Post post = StoredStatus("113500000000000402", "https://other.example");
    auto request = ConversationRequest(source, post, "ignored-cursor");
    REQUIRE(request.ok());
    CHECK(request->url == "https://other.example/api/v1/statuses/113500000000000402/context");
    CHECK_FALSE(request->headers.Get("Authorization").has_value());
  }
  SECTION("no ref: the source's instance") {
    auto request = ConversationRequest(source, StoredStatus("113500000000000402", ""), "");
    REQUIRE(request.ok());
    CHECK(request->url == "https://social.example/api/v1/statuses/113500000000000402/context");
  }
  SECTION("ids that could steer the URL are refused") {
    for (const std::string& id :
         std::vector<std::string>{"", "../../admin", "1?x=1", std::string(40, '1')}) {
      auto request = ConversationRequest(source, StoredStatus(id), "");
      CHECK(request.status().code() == StatusCode::kInvalidArgument);
    }
  }
  SECTION("nowhere to ask") {
    source.url = "";
    auto request = ConversationRequest(source, StoredStatus("113500000000000402", ""), "");
    CHECK(request.status().code() == StatusCode::kInvalidArgument);
  }
}

TEST_CASE("mastodon conversation of a reply", "[mastodon]") {
  const std::string url = "https://social.example/api/v1/statuses/113500000000000402/context";
  Post target = StoredStatus("113500000000000402", "https://social.example", "113500000000000105");
  auto page = ParseConversation(
      TagSource(), target,
      StatusResponse(200, testing::ReadFile(testing::OwnFixture("mastodon/context_thread.json")),
                     url));
  INFO(page.status().ToString());
  REQUIRE(page.ok());
  CHECK(page->posts.size() == 3);
  CHECK(page->skipped_items == 1);  // the direct message
  CHECK(AnyWarningContains(*page, "descendants item 1 (status 113500000000000411)"));
  CHECK(page->deletions.empty());
  CHECK(page->caught_up);
  CHECK(page->next_cursor.empty());
  const Post* root = PostWithId(*page, "113500000000000105");
  REQUIRE(root != nullptr);
  CHECK(root->reply_to.empty());
  CHECK(root->conversation.empty());  // a root names no conversation, as Parse does
  CHECK(root->text == "Eight hours in the Northern General A&E last night.");
  CHECK(root->author_handle == "@wardwatcher@social.example");
  const Post* trust = PostWithId(*page, "113500000000000410");
  REQUIRE(trust != nullptr);
  CHECK(trust->reply_to == "113500000000000402");
  CHECK(trust->conversation == "113500000000000105");
  CHECK(trust->uid == "https://social.example/users/nhs_trust/statuses/113500000000000410");
  CHECK(trust->ref == "https://social.example");
  const Post* remote = PostWithId(*page, "113500000000000412");
  REQUIRE(remote != nullptr);
  CHECK(remote->author_handle == "@carer@health.example.org");
  CHECK(remote->conversation == "113500000000000105");
  CHECK(PostWithId(*page, "113500000000000402") == nullptr);  // the target itself is stored
}

TEST_CASE("mastodon conversation of a root post", "[mastodon]") {
  Post target = StoredStatus("113500000000000105");
  auto page = ParseConversation(
      TagSource(), target,
      StatusResponse(200, testing::ReadFile(testing::OwnFixture("mastodon/context_root.json")),
                     "https://social.example/api/v1/statuses/113500000000000105/context"));
  REQUIRE(page.ok());
  REQUIRE(page->posts.size() == 2);
  for (const Post& post : page->posts) CHECK(post.conversation == "113500000000000105");
  CHECK(PostWithId(*page, "113500000000000402")->reply_to == "113500000000000105");
  CHECK(PostWithId(*page, "113500000000000410")->reply_to == "113500000000000402");
}

TEST_CASE("mastodon conversation whose root is out of reach", "[mastodon]") {
  Post target = StoredStatus("113500000000000350", "https://social.example", "113500000000000300");
  auto page = ParseConversation(
      TagSource(), target,
      StatusResponse(200,
                     testing::ReadFile(testing::OwnFixture("mastodon/context_cut_ancestors.json")),
                     "https://social.example/api/v1/statuses/113500000000000350/context"));
  REQUIRE(page.ok());
  REQUIRE(page->posts.size() == 1);
  // Provisional, as in a timeline: the parent; the threader follows reply_to.
  CHECK(page->posts[0].conversation == "113500000000000200");
}

TEST_CASE("mastodon conversation skips bad items and counts them", "[mastodon]") {
  auto page = ParseConversation(
      TagSource(), StoredStatus("113500000000000402", "https://social.example", "x"),
      StatusResponse(200,
                     testing::ReadFile(testing::OwnFixture("mastodon/context_hostile_items.json")),
                     "https://social.example/api/v1/statuses/113500000000000402/context"));
  REQUIRE(page.ok());
  CHECK(page->posts.size() == 2);
  CHECK(page->skipped_items == 4);
  CHECK(AnyWarningContains(*page, "ancestors item 1: is string"));
  CHECK(AnyWarningContains(*page, "descendants item 0: is null"));
}

TEST_CASE("mastodon conversation of a post that is gone", "[mastodon]") {
  Post target = StoredStatus("113500000000000402");
  for (int status : {404, 410}) {
    INFO(status);
    auto page = ParseConversation(TagSource(), target,
                                  StatusResponse(status, "{\"error\":\"Record not found\"}", ""));
    REQUIRE(page.ok());
    CHECK(page->posts.empty());
    REQUIRE(page->deletions.size() == 1);
    CHECK(page->deletions[0].uid == target.uid);
    CHECK(Contains(page->deletions[0].reason, "not found on re-fetch"));
  }
  target.uid.clear();
  auto page = ParseConversation(TagSource(), target, StatusResponse(404, "", ""));
  REQUIRE(page.ok());
  CHECK(page->deletions.at(0).uid == target.id);
}

TEST_CASE("mastodon conversation failures", "[mastodon]") {
  const std::string url = "https://social.example/api/v1/statuses/113500000000000402/context";
  Post target = StoredStatus("113500000000000402");
  auto fail = [&](int status, std::string body) {
    auto page =
        ParseConversation(TagSource(), target, StatusResponse(status, std::move(body), url));
    REQUIRE_FALSE(page.ok());
    return page.status();
  };
  Status unauthorized = fail(401, "{\"error\":\"This method requires an authenticated user\"}");
  CHECK(unauthorized.code() == StatusCode::kUnauthenticated);
  CHECK(Contains(unauthorized.message(), "HTTP 401: This method requires an authenticated user"));
  CHECK(Contains(unauthorized.message(), url));
  CHECK(fail(503, "<html>busy</html>").code() == StatusCode::kUnavailable);
  CHECK(fail(200, "[]").code() == StatusCode::kParseError);
  CHECK(fail(200, "{\"ancestors\":[]}").code() == StatusCode::kParseError);
  CHECK(fail(200, "{\"ancestors\":[],\"descendants\":{}}").code() == StatusCode::kParseError);
  CHECK(fail(200, "{\"ancestors\":[],\"desc").code() == StatusCode::kParseError);
  // Invalid UTF-8 is repaired, not fatal.
  auto page =
      ParseConversation(TagSource(), target,
                        StatusResponse(200,
                                       "{\"ancestors\":[" + StatusJson(113500000000000105, "") +
                                           "],\"descendants\":[]}\xff",
                                       url));
  CHECK_FALSE(page.ok());  // bytes after the document are not JSON
  std::string bad = StatusJson(113500000000000105);
  bad.replace(bad.find("Generated"), 1, "\xC3");
  page = ParseConversation(
      TagSource(), target,
      StatusResponse(200, "{\"ancestors\":[" + bad + "],\"descendants\":[]}", url));
  REQUIRE(page.ok());
  CHECK(page->posts.size() == 1);
  CHECK(AnyWarningContains(*page, "not valid UTF-8"));
}

// ----------------------------------------------------------------- reply ---

SourceSpec Account(std::string url = "https://social.example") {
  SourceSpec account;
  account.name = "sth-mastodon";
  account.connector = "mastodon";
  account.url = std::move(url);
  account.options["access_token"] = std::string("wr1te-T0KEN");
  account.options["limit"] = int64_t{40};
  return account;
}

ReplyDraft Draft(std::string body = "Thank you for telling us. Please contact our team.",
                 std::string key = "reply-7f3a") {
  ReplyDraft draft;
  draft.body = std::move(body);
  draft.idempotency_key = std::move(key);
  return draft;
}

// The message of the refusal, checked for what every refusal shares.
std::string ReplyRequestError(const SourceSpec& account, const Post& target,
                              const ReplyDraft& draft) {
  auto request = ReplyRequest(account, nullptr, target, draft);
  REQUIRE_FALSE(request.ok());
  CHECK(request.status().code() == StatusCode::kInvalidArgument);
  CHECK_FALSE(Contains(request.status().message(), "wr1te-T0KEN"));
  CHECK(Contains(request.status().message(), "account \"sth-mastodon\""));
  return request.status().message();
}

TEST_CASE("mastodon reply request", "[mastodon]") {
  Post target = StoredStatus("113500000000000402");
  auto request = ReplyRequest(Account("https://Social.Example/"), nullptr, target,
                              Draft("Sorry, Pat & family: 100% of us care.\nCall us?"));
  INFO(request.status().ToString());
  REQUIRE(request.ok());
  CHECK(request->method == "POST");
  CHECK(request->url == "https://social.example/api/v1/statuses");
  CHECK(request->headers.Get("Authorization") == "Bearer wr1te-T0KEN");
  CHECK(request->headers.Get("Idempotency-Key") == "reply-7f3a");
  CHECK(request->headers.Get("Content-Type") == "application/x-www-form-urlencoded");
  CHECK(request->headers.Get("Accept") == "application/json");
  CHECK(request->body ==
        "status=Sorry%2C%20Pat%20%26%20family%3A%20100%25%20of%20us%20care.%0ACall%20us%3F"
        "&in_reply_to_id=113500000000000402&visibility=public");
  SECTION("no key, no header") {
    auto plain = ReplyRequest(Account(), nullptr, target, Draft("Thanks", ""));
    REQUIRE(plain.ok());
    CHECK_FALSE(plain->headers.Get("Idempotency-Key").has_value());
  }
  SECTION("500 characters of any script fit") {
    std::string body;
    for (int i = 0; i < 500; ++i) body += "é";
    CHECK(ReplyRequest(Account(), nullptr, target, Draft(body)).ok());
    body += "!";
    CHECK(Contains(ReplyRequestError(Account(), target, Draft(body)), "501 characters"));
  }
}

TEST_CASE("mastodon reply request refusals", "[mastodon]") {
  Post target = StoredStatus("113500000000000402");
  SECTION("no access_token") {
    SourceSpec account = Account();
    account.options.erase("access_token");
    account.options["token"] = std::string("read-only");  // a reading token is not used
    CHECK(Contains(ReplyRequestError(account, target, Draft()), "`access_token`"));
  }
  SECTION("a post read on another instance") {
    target.ref = "https://mastodon.social";
    const std::string message = ReplyRequestError(Account(), target, Draft());
    CHECK(Contains(message, "read from https://mastodon.social"));
    CHECK(Contains(message, "account is on https://social.example"));
    CHECK(Contains(message, "local to an instance"));
  }
  SECTION("another port is another instance") {
    target.ref = "https://social.example:8443";
    ReplyRequestError(Account(), target, Draft());
  }
  SECTION("a post with no instance on record") {
    target.ref.clear();
    CHECK(Contains(ReplyRequestError(Account(), target, Draft()), "imported"));
  }
  SECTION("empty and blank bodies") {
    ReplyRequestError(Account(), target, Draft(""));
    ReplyRequestError(Account(), target, Draft(" \n\t"));
  }
  SECTION("invalid UTF-8") { ReplyRequestError(Account(), target, Draft("caf\xC3")); }
  SECTION("a key that would inject a header") {
    ReplyRequestError(Account(), target, Draft("Thanks", "k\r\nX-Evil: 1"));
  }
  SECTION("not a status id") {
    target.id = "1/../../admin";
    ReplyRequestError(Account(), target, Draft());
  }
  SECTION("another platform's post") {
    target.platform = "feed";
    ReplyRequestError(Account(), target, Draft());
  }
  SECTION("no instance URL") { ReplyRequestError(Account("mastodon.social"), target, Draft()); }
}

TEST_CASE("mastodon reply answers: the published status", "[mastodon]") {
  Post target = StoredStatus("113500000000000402");
  SECTION("our own fixture") {
    auto reply = ParseReply(
        Account(), target,
        StatusResponse(200, testing::ReadFile(testing::OwnFixture("mastodon/reply_created.json")),
                       "https://social.example/api/v1/statuses"));
    INFO(reply.status().ToString());
    REQUIRE(reply.ok());
    CHECK(reply->id == "113500000000000500");
    CHECK(reply->uid == "https://social.example/users/nhs_trust/statuses/113500000000000500");
    CHECK(reply->url == "https://social.example/@nhs_trust/113500000000000500");
  }
  SECTION("without a web URL, the URI") {
    std::string body = StatusJson(113500000000000501, ",\"in_reply_to_id\":\"113500000000000402\"");
    body.replace(body.find("\"in_reply_to_id\":null,"), 22, "");
    body.replace(body.find("\"url\":\"https://social.example/@gen/113500000000000501\""), 54,
                 "\"url\":null");
    auto reply = ParseReply(Account(), target, StatusResponse(200, body, ""));
    INFO(body);
    REQUIRE(reply.ok());
    CHECK(reply->url == "https://social.example/users/gen/statuses/113500000000000501");
  }
}

TEST_CASE("mastodon reply answers: the shared recording of a reply", "[mastodon]") {
  EARSHOT_REQUIRE_SHARED(dir, "mastodon");
  Post target = StoredStatus("117020583245459824", "http://localhost:3000");
  auto reply = ParseReply(Account("http://localhost:3000"), target,
                          StatusResponse(200, testing::ReadFile(*dir / "status_reply_single.json"),
                                         "http://localhost:3000/api/v1/statuses"));
  INFO(reply.status().ToString());
  REQUIRE(reply.ok());
  CHECK(reply->id == "117020583258292382");
  CHECK(reply->uid ==
        "http://localhost:3000/ap/users/117020565693913441/statuses/117020583258292382");
  CHECK(reply->url == "http://localhost:3000/@admin/117020583258292382");
  // Read back by a later poll, the reply has the same identity: it joins
  // its thread as ours.
  auto page = ParseOk(TagSource("http://localhost:3000"),
                      Response(testing::ReadFile(*dir / "status_reply_single.json")));
  REQUIRE(page.posts.size() == 1);
  CHECK(page.posts[0].uid == reply->uid);
  CHECK(page.posts[0].reply_to == target.id);
}

TEST_CASE("mastodon reply answers: refusals carry the platform's message", "[mastodon]") {
  const std::string url = "https://social.example/api/v1/statuses";
  Post target = StoredStatus("113500000000000402");
  auto fail = [&](int status, const std::string& fixture,
                  std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpResponse response =
        StatusResponse(status, testing::ReadFile(testing::OwnFixture("mastodon/" + fixture)), url);
    for (auto& [name, value] : headers) response.headers.Add(name, value);
    auto reply = ParseReply(Account(), target, response);
    REQUIRE_FALSE(reply.ok());
    CHECK(Contains(reply.status().message(), url));
    CHECK(Contains(reply.status().message(), "status 113500000000000402"));
    CHECK_FALSE(Contains(reply.status().message(), "wr1te-T0KEN"));
    return reply.status();
  };
  Status expired = fail(401, "error_unauthorized.json");
  CHECK(expired.code() == StatusCode::kUnauthenticated);
  CHECK(Contains(expired.message(), "HTTP 401: The access token is invalid"));
  Status revoked = fail(401, "error_oauth.json");
  CHECK(Contains(revoked.message(), "invalid_token (The access token was revoked)"));
  Status forbidden = fail(403, "error_forbidden.json");
  CHECK(forbidden.code() == StatusCode::kPermissionDenied);
  CHECK(Contains(forbidden.message(), "This action is not allowed"));
  Status blank = fail(422, "error_validation.json");
  CHECK(blank.code() == StatusCode::kInvalidArgument);
  CHECK(Contains(blank.message(), "HTTP 422: Validation failed: Text can't be blank"));
  Status limited = fail(429, "error_rate_limited.json",
                        {{"X-RateLimit-Limit", "300"},
                         {"X-RateLimit-Remaining", "0"},
                         {"X-RateLimit-Reset", "2026-11-22T12:05:00.000Z"}});
  CHECK(limited.code() == StatusCode::kRateLimited);
  CHECK(Contains(limited.message(), "Too many requests; limit resets at 2026-11-22T12:05:00"));
  Status broken = fail(500, "invalid_not_json.html");
  CHECK(broken.code() == StatusCode::kUnavailable);
  CHECK(Contains(broken.message(), "HTTP 500"));
  Status gateway = fail(502, "invalid_not_json.html", {{"Content-Type", "text/html"}});
  CHECK(gateway.code() == StatusCode::kUnavailable);
  // A plain-text body is the message, on one line.
  HttpResponse text = StatusResponse(503, "Down for\nmaintenance\n", url);
  text.headers.Add("Content-Type", "text/plain; charset=utf-8");
  auto down = ParseReply(Account(), target, text);
  CHECK(Contains(down.status().message(), "HTTP 503: Down for maintenance"));
}

TEST_CASE("mastodon reply answers: a 2xx that names no reply is not success", "[mastodon]") {
  const std::string url = "https://social.example/api/v1/statuses";
  Post target = StoredStatus("113500000000000402");
  for (const std::string& body : std::vector<std::string>{
           std::string(), std::string("<html>ok</html>"), std::string("[]"), std::string("{}"),
           std::string("{\"id\":\"113500000000000500\"}"),
           std::string("{\"id\":\"113500000000000500\",\"uri\":\"\"}"),
           std::string("{\"id\":7,\"uri\":\"https://social.example/s/7\"}"),
           std::string("{\"id\":\"../x\",\"uri\":\"https://social.example/s/7\"}"),
           std::string("{\"id\":\"113500000000000500\",\"uri\":\"https://social.example/s/1\"")}) {
    INFO(body);
    auto reply = ParseReply(Account(), target, StatusResponse(200, body, url));
    REQUIRE_FALSE(reply.ok());
    CHECK(reply.status().code() == StatusCode::kParseError);
    CHECK(Contains(reply.status().message(), "may have been published"));
  }
  SECTION("an earlier reply returned for a reused idempotency key") {
    std::string body = testing::ReadFile(testing::OwnFixture("mastodon/reply_created.json"));
    target.id = "113500000000000105";
    auto reply = ParseReply(Account(), target, StatusResponse(200, body, url));
    REQUIRE_FALSE(reply.ok());
    CHECK(reply.status().code() == StatusCode::kAlreadyExists);
    CHECK(Contains(reply.status().message(), "answers status 113500000000000402"));
    CHECK(Contains(reply.status().message(), "idempotency key"));
  }
}

TEST_CASE("mastodon resolving a status from another instance", "[mastodon]") {
  Post target = StoredStatus("113500000000000402", "https://mastodon.social");
  auto request = ResolveStatusRequest(Account(), target);
  REQUIRE(request.ok());
  CHECK(request->url ==
        "https://social.example/api/v2/search?q=https%3A%2F%2Fsocial.example%2Fusers%2Fpatient_"
        "pat%2Fstatuses%2F113500000000000402&resolve=true&type=statuses&limit=1");
  CHECK(request->headers.Get("Authorization") == "Bearer wr1te-T0KEN");
  const std::string found =
      "{\"accounts\":[],\"hashtags\":[],\"statuses\":[" +
      StatusJson(113500000000000900)
          .replace(
              StatusJson(113500000000000900).find("https://social.example/users/gen/statuses/"),
              std::string("https://social.example/users/gen/statuses/113500000000000900").size(),
              target.uid) +
      "]}";
  auto id = ParseResolvedStatusId(Account(), target, Response(found));
  INFO(id.status().ToString());
  REQUIRE(id.ok());
  CHECK(*id == "113500000000000900");
  auto other = ParseResolvedStatusId(
      Account(), target, Response("{\"statuses\":[" + StatusJson(113500000000000901) + "]}"));
  CHECK(other.status().code() == StatusCode::kNotFound);
  auto none = ParseResolvedStatusId(Account(), target, Response("{\"statuses\":[]}"));
  CHECK(none.status().code() == StatusCode::kNotFound);
  auto refused = ParseResolvedStatusId(
      Account(), target,
      StatusResponse(401, "{\"error\":\"The access token is invalid\"}", "https://x/"));
  CHECK(refused.status().code() == StatusCode::kUnauthenticated);
  SourceSpec no_token = Account();
  no_token.options.clear();
  CHECK_FALSE(ResolveStatusRequest(no_token, target).ok());
}

// ------------------------------------------------------- resolve step ---
//
// The account lives on https://nhs.social (instance B); the post was read on
// https://social.example (instance A, also its author's home), where its id
// is 113500000000000402. B knows the same status (same uri) as
// 113500000777000042.

constexpr char kAccountInstance[] = "https://nhs.social";
constexpr char kResolveUrl[] =
    "https://nhs.social/api/v2/search?q=https%3A%2F%2Fsocial.example%2Fusers%2Fpatient_pat%2F"
    "statuses%2F113500000000000402&resolve=true&type=statuses&limit=1";

HttpResponse SearchResponse(int status, const std::string& fixture) {
  return StatusResponse(status, testing::ReadFile(testing::OwnFixture("mastodon/" + fixture)),
                        kResolveUrl);
}

Post ReadElsewhere() {
  Post target = StoredStatus("113500000000000402", "https://social.example", "113500000000000401");
  target.text = "Four hours in the waiting room at the walk-in centre.";
  return target;
}

TEST_CASE("mastodon resolve step: a post read on the account's instance needs none", "[mastodon]") {
  Post target = StoredStatus("113500000000000402");
  SECTION("same base") {
    auto request = ResolveTargetRequest(Account(), nullptr, target);
    INFO(request.status().ToString());
    REQUIRE(request.ok());
    CHECK_FALSE(request->has_value());
  }
  SECTION("same instance written differently") {
    auto request = ResolveTargetRequest(Account("https://Social.Example/"), nullptr, target);
    REQUIRE(request.ok());
    CHECK_FALSE(request->has_value());
  }
  SECTION("no token is needed to know that") {
    SourceSpec account = Account();
    account.options.clear();
    auto request = ResolveTargetRequest(account, nullptr, target);
    REQUIRE(request.ok());
    CHECK_FALSE(request->has_value());
  }
  SECTION("another path prefix on one host is another instance") {
    target.ref = "https://host.example/a";
    auto request = ResolveTargetRequest(Account("https://host.example/b"), nullptr, target);
    REQUIRE(request.ok());
    REQUIRE(request->has_value());
    CHECK((*request)->url.starts_with("https://host.example/b/api/v2/search?q="));
  }
}

TEST_CASE("mastodon resolve step: a post read on another instance is found on the account's",
          "[mastodon]") {
  const SourceSpec account = Account(kAccountInstance);
  const Post target = ReadElsewhere();
  auto request = ResolveTargetRequest(account, nullptr, target);
  INFO(request.status().ToString());
  REQUIRE(request.ok());
  REQUIRE(request->has_value());
  const HttpRequest& search = **request;
  CHECK(search.method == "GET");
  CHECK(search.url == kResolveUrl);
  CHECK(search.body.empty());
  CHECK(search.headers.Get("Authorization") == "Bearer wr1te-T0KEN");
  CHECK(search.headers.Get("Accept") == "application/json");

  auto resolved = ResolveTarget(account, target, SearchResponse(200, "search_resolved.json"));
  INFO(resolved.status().ToString());
  REQUIRE(resolved.ok());
  CHECK(resolved->id == "113500000777000042");
  CHECK(resolved->ref == kAccountInstance);
  // Ids read on instance A never survive: the parent is B's.
  CHECK(resolved->reply_to == "113500000777000041");
  CHECK(resolved->conversation == "113500000777000041");
  // Its identity and content are the stored post's.
  CHECK(resolved->platform == "mastodon");
  CHECK(resolved->uid == target.uid);
  CHECK(resolved->url == target.url);
  CHECK(resolved->text == target.text);

  // The reply then goes to B with B's id, and B's answer is read against it.
  auto reply = ReplyRequest(account, nullptr, *resolved, Draft("Thank you, Pat."));
  INFO(reply.status().ToString());
  REQUIRE(reply.ok());
  CHECK(reply->url == "https://nhs.social/api/v1/statuses");
  CHECK(reply->body ==
        "status=Thank%20you%2C%20Pat.&in_reply_to_id=113500000777000042"
        "&visibility=public");
  std::string answer = StatusJson(113500000777000500, "");
  answer.replace(answer.find("\"in_reply_to_id\":null"), 21,
                 "\"in_reply_to_id\":\"113500000777000042\"");
  auto published = ParseReply(account, *resolved,
                              StatusResponse(200, answer, "https://nhs.social/api/v1/statuses"));
  INFO(published.status().ToString());
  REQUIRE(published.ok());
  CHECK(published->id == "113500000777000500");
  // Unresolved, the same target is still refused by the reply itself.
  CHECK(Contains(ReplyRequestError(account, target, Draft()), "resolve it on https://nhs.social"));
}

TEST_CASE("mastodon resolve step: posts with no instance or no URI on record", "[mastodon]") {
  const SourceSpec account = Account(kAccountInstance);
  SECTION("an imported post (no ref) is found by its URI") {
    Post target = ReadElsewhere();
    target.ref.clear();
    auto request = ResolveTargetRequest(account, nullptr, target);
    REQUIRE(request.ok());
    REQUIRE(request->has_value());
    CHECK((*request)->url == kResolveUrl);
    auto resolved = ResolveTarget(account, target, SearchResponse(200, "search_resolved.json"));
    REQUIRE(resolved.ok());
    CHECK(resolved->ref == kAccountInstance);
    CHECK(ReplyRequest(account, nullptr, *resolved, Draft()).ok());
  }
  SECTION("no uid: found by its web URL") {
    Post target = ReadElsewhere();
    target.uid.clear();
    auto request = ResolveTargetRequest(account, nullptr, target);
    REQUIRE(request.ok());
    REQUIRE(request->has_value());
    CHECK((*request)->url ==
          "https://nhs.social/api/v2/search?q=https%3A%2F%2Fsocial.example%2F%40patient_pat%2F"
          "113500000000000402&resolve=true&type=statuses&limit=1");
    auto resolved = ResolveTarget(account, target, SearchResponse(200, "search_resolved.json"));
    INFO(resolved.status().ToString());
    REQUIRE(resolved.ok());
    CHECK(resolved->id == "113500000777000042");
  }
  SECTION("no address at all") {
    Post target = ReadElsewhere();
    target.uid.clear();
    target.url = "at://did:plc:abc/app.bsky.feed.post/3k";
    auto request = ResolveTargetRequest(account, nullptr, target);
    REQUIRE_FALSE(request.ok());
    CHECK(request.status().code() == StatusCode::kInvalidArgument);
    CHECK(Contains(request.status().message(), "has no URI to find it by on https://nhs.social"));
  }
}

TEST_CASE("mastodon resolve step: only the status itself is taken", "[mastodon]") {
  const SourceSpec account = Account(kAccountInstance);
  const Post target = ReadElsewhere();
  SECTION("a status mentioning the URI comes first") {
    auto resolved =
        ResolveTarget(account, target, SearchResponse(200, "search_resolved_mentions.json"));
    INFO(resolved.status().ToString());
    REQUIRE(resolved.ok());
    CHECK(resolved->id == "113500000777000042");
    CHECK(resolved->reply_to.empty());  // B does not know a parent
    CHECK(resolved->conversation.empty());
  }
  auto not_found = [&](const HttpResponse& response) {
    auto resolved = ResolveTarget(account, target, response);
    REQUIRE_FALSE(resolved.ok());
    CHECK(resolved.status().code() == StatusCode::kNotFound);
    CHECK(Contains(resolved.status().message(), "the account's server could not find the post"));
    CHECK(Contains(resolved.status().message(), "on https://nhs.social"));
    CHECK(Contains(resolved.status().message(), target.uid));
  };
  SECTION("nothing found") { not_found(SearchResponse(200, "search_empty.json")); }
  SECTION("only other statuses") {
    not_found(StatusResponse(200, "{\"statuses\":[" + StatusJson(113500000777000901) + "]}",
                             kResolveUrl));
  }
  SECTION("hostile items: wrong types, ids that are no ids, a near-miss URI") {
    not_found(SearchResponse(200, "search_resolved_hostile.json"));
    auto id =
        ParseResolvedStatusId(account, target, SearchResponse(200, "search_resolved_hostile.json"));
    CHECK(id.status().code() == StatusCode::kNotFound);
  }
  SECTION("a huge result") {
    std::string body = "{\"statuses\":[";
    for (int i = 0; i < 5000; ++i) {
      body += (i == 0 ? "" : ",") + StatusJson(113500000777010000 + i);
    }
    not_found(StatusResponse(200, body + "]}", kResolveUrl));
  }
}

TEST_CASE("mastodon resolve step: refusals and the platform's failures", "[mastodon]") {
  const Post target = ReadElsewhere();
  auto refused = [&](const SourceSpec& account, const std::string& why) {
    auto request = ResolveTargetRequest(account, nullptr, target);
    REQUIRE_FALSE(request.ok());
    CHECK(request.status().code() == StatusCode::kInvalidArgument);
    CHECK(Contains(request.status().message(), "account \"sth-mastodon\" (mastodon)"));
    CHECK(Contains(request.status().message(), why));
    CHECK_FALSE(Contains(request.status().message(), "wr1te-T0KEN"));
  };
  SECTION("no access_token: Mastodon resolves only for signed-in users") {
    SourceSpec account = Account(kAccountInstance);
    account.options.erase("access_token");
    account.options["token"] = std::string("read-only");
    refused(account, "needs `access_token`");
  }
  SECTION("a token that would inject a header") {
    SourceSpec account = Account(kAccountInstance);
    account.options["access_token"] = std::string("wr1te-T0KEN\r\nX-Evil: 1");
    refused(account, "control characters");
  }
  SECTION("no instance URL") { refused(Account("nhs.social"), "not an instance base URL"); }

  const SourceSpec account = Account(kAccountInstance);
  auto failed = [&](const HttpResponse& response, StatusCode code) {
    auto resolved = ResolveTarget(account, target, response);
    REQUIRE_FALSE(resolved.ok());
    CHECK(resolved.status().code() == code);
    CHECK_FALSE(Contains(resolved.status().message(), "wr1te-T0KEN"));
    return resolved.status().message();
  };
  SECTION("401: the token is refused") {
    CHECK(Contains(
        failed(SearchResponse(401, "error_unauthorized.json"), StatusCode::kUnauthenticated),
        "HTTP 401: The access token is invalid"));
  }
  SECTION("403: the platform's words, and the scope it may lack") {
    const std::string message =
        failed(SearchResponse(403, "error_forbidden.json"), StatusCode::kPermissionDenied);
    CHECK(Contains(message, "HTTP 403: This action is not allowed"));
    CHECK(Contains(message, "needs a token with the read:search scope"));
  }
  SECTION("404: the status could not be fetched") {
    const std::string message =
        failed(StatusResponse(404, "{\"error\":\"Record not found\"}", kResolveUrl),
               StatusCode::kNotFound);
    CHECK(Contains(message, "HTTP 404: the account's server could not find the post"));
    CHECK(Contains(message, "(Record not found)"));
  }
  SECTION("429 says when the limit resets") {
    HttpResponse limited = SearchResponse(429, "error_rate_limited.json");
    limited.headers.Add("X-RateLimit-Reset", "2026-11-22T12:05:00.000Z");
    CHECK(
        Contains(failed(limited, StatusCode::kRateLimited), "limit resets at 2026-11-22T12:05:00"));
  }
  SECTION("5xx") {
    CHECK(Contains(failed(SearchResponse(503, "invalid_not_json.html"), StatusCode::kUnavailable),
                   "HTTP 503"));
  }
  SECTION("a 200 that is not a search result") {
    CHECK(Contains(failed(SearchResponse(200, "invalid_not_json.html"), StatusCode::kParseError),
                   kResolveUrl));
    CHECK(Contains(failed(StatusResponse(200, "[]", kResolveUrl), StatusCode::kParseError),
                   "no 'statuses' array"));
    CHECK(Contains(
        failed(StatusResponse(200, "{\"statuses\":{}}", kResolveUrl), StatusCode::kParseError),
        "no 'statuses' array"));
    failed(SearchResponse(200, "truncated.json"), StatusCode::kParseError);
  }
}

}  // namespace
}  // namespace earshot
