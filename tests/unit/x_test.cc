// The x connector on the shared recordings (read in place, never copied), on
// our own fixtures in tests/fixtures/x and on hostile bodies generated here.
#include "connectors/x/x.h"

#include <algorithm>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "crawler/core/text.h"
#include "crawler/core/time_format.h"
#include "tests/support/fixtures.h"

namespace earshot {
namespace {

using connector_x::CompareTweetIds;
using connector_x::ConversationRequest;
using connector_x::DecodeCursor;
using connector_x::Descriptor;
using connector_x::EncodeCursor;
using connector_x::ErrorDetail;
using connector_x::IsTweetId;
using connector_x::NextRequest;
using connector_x::Parse;
using connector_x::ParseConversation;
using connector_x::ParseReply;
using connector_x::ReadRateLimit;
using connector_x::RecoverCursor;
using connector_x::ReplaceLoneSurrogateEscapes;
using connector_x::ReplyRequest;
using connector_x::SearchCursor;
using connector_x::TweetText;

constexpr const char* kFields =
    "&tweet.fields=author_id,conversation_id,created_at,entities,in_reply_to_user_id,lang,"
    "note_tweet,referenced_tweets&expansions=author_id,referenced_tweets.id&user.fields=name,"
    "username";

SourceSpec SearchSource(std::string query = "NHS -is:retweet") {
  SourceSpec source;
  source.name = "x-nhs";
  source.connector = "x";
  source.options["query"] = std::move(query);
  source.options["bearer_token"] = std::string("app-bearer");
  source.options["max_results"] = int64_t{100};
  return source;
}

SourceSpec Account() {
  SourceSpec account;
  account.name = "riverside-x";
  account.connector = "x";
  account.options["access_token"] = std::string("user-token");
  return account;
}

HttpResponse Response(std::string body, int status = 200,
                      std::string url = "https://api.x.com/2/tweets/search/recent?query=NHS") {
  HttpResponse response;
  response.status = status;
  response.url = std::move(url);
  response.body = std::move(body);
  return response;
}

std::string Own(const std::string& name) {
  return testing::ReadFile(testing::OwnFixture("x/" + name));
}

Page ParseOk(const HttpResponse& response, const std::string& cursor = "",
             const SourceSpec& source = SearchSource()) {
  SourceCursor state;
  state.cursor = cursor;
  auto page = Parse(source, state, response);
  INFO(page.status().ToString());
  REQUIRE(page.ok());
  return std::move(page).value();
}

Status ParseError(const HttpResponse& response) {
  auto page = Parse(SearchSource(), SourceCursor{}, response);
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

const Post* FindPost(const Page& page, const std::string& id) {
  for (const Post& post : page.posts) {
    if (post.id == id) return &post;
  }
  return nullptr;
}

Post StoredTweet(std::string id, std::string conversation = "") {
  Post post;
  post.platform = "x";
  post.id = id;
  post.uid = std::move(id);
  post.conversation = std::move(conversation);
  return post;
}

ReplyDraft Draft(std::string body) {
  ReplyDraft draft;
  draft.body = std::move(body);
  draft.idempotency_key = "draft-7";
  return draft;
}

// A minimal tweet for generated bodies.
std::string TweetJson(uint64_t id, const std::string& extra = "") {
  const std::string ids = std::to_string(id);
  return "{\"id\":\"" + ids + "\",\"text\":\"Generated tweet " + ids +
         " about the district nurses\",\"created_at\":\"2026-11-22T06:00:00.000Z\"" + extra + "}";
}

// ---------------------------------------------------------------- shared ---

TEST_CASE("x parses every shared recording", "[x]") {
  EARSHOT_REQUIRE_SHARED(dir, "twitter");
  const auto files = testing::FilesIn(*dir, {".json"});
  REQUIRE(files.size() >= 3);
  for (const auto& file : files) {
    INFO(file.string());
    Page page = ParseOk(Response(testing::ReadFile(file), 200, "file://" + file.string()));
    CHECK_FALSE(page.posts.empty());
    CHECK_FALSE(page.next_cursor.empty());
    CHECK(IsTweetId(page.next_cursor));  // first poll: the newest id only
    CHECK(page.caught_up);
    CHECK(page.deletions.empty());
    for (const Post& post : page.posts) {
      INFO(post.id);
      CHECK(post.platform == "x");
      CHECK(IsTweetId(post.id));
      CHECK(post.uid == post.id);
      CHECK(post.url.rfind("https://x.com/", 0) == 0);
      CHECK(Contains(post.url, "/status/" + post.id));
      CHECK_FALSE(post.text.empty());
      CHECK_FALSE(Contains(post.text, "&amp;"));
      CHECK_FALSE(Contains(post.text, "https://t.co/"));
      CHECK(IsValidUtf8(post.text));
      CHECK(post.text == ToNfc(post.text));
      CHECK_FALSE(Contains(post.text, "RT @"));
      if (!post.author_handle.empty()) CHECK(post.author_handle.rfind("@", 0) == 0);
      if (!post.reply_to.empty()) CHECK_FALSE(post.conversation.empty());
    }
  }
}

TEST_CASE("x shared tweepy page: default fields only", "[x]") {
  EARSHOT_REQUIRE_SHARED(dir, "twitter");
  HttpResponse response =
      Response(testing::ReadFile(*dir / "search_recent_tweepy_default_fields.json"));
  response.headers.Add("x-rate-limit-limit", "450");
  response.headers.Add("x-rate-limit-remaining", "448");
  response.headers.Add("x-rate-limit-reset", "1665183229");

  SECTION("first poll: the newest page, its newest id, caught up") {
    Page page = ParseOk(response);
    REQUIRE(page.posts.size() == 10);
    CHECK(page.skipped_items == 0);
    const Post& first = page.posts.front();
    CHECK(first.id == "1578516068309794817");
    CHECK(first.text == "2022-10-07 22:42:12.637103 tweepy");
    CHECK(first.url == "https://x.com/i/web/status/1578516068309794817");
    CHECK(first.author_handle.empty());
    CHECK_FALSE(first.created_at.has_value());
    CHECK(first.language.empty());
    CHECK(first.reply_to.empty());
    CHECK(first.conversation.empty());
    CHECK(page.posts.back().id == "1578511538419212288");
    CHECK(page.next_cursor == "1578516068309794817");
    CHECK(page.caught_up);
    CHECK(page.rate_limit.limit == 450);
    CHECK(page.rate_limit.remaining == 448);
    CHECK(page.rate_limit.reset == FromUnixSeconds(1665183229));
  }
  SECTION("a later poll with a backlog follows next_token") {
    Page page = ParseOk(response, "1578500000000000000");
    CHECK(page.next_cursor ==
          "1578516068309794817/1578500000000000000/b26v89c19zqg8o3fpzbn1e0ffhxjiofzw6po136rvbnul");
    CHECK_FALSE(page.caught_up);
  }
  SECTION("mid-backlog the newest id of the first page is kept") {
    Page page = ParseOk(response, "1578599999999999999/1578500000000000000/firsttoken");
    CHECK(page.next_cursor ==
          "1578599999999999999/1578500000000000000/b26v89c19zqg8o3fpzbn1e0ffhxjiofzw6po136rvbnul");
    CHECK_FALSE(page.caught_up);
  }
}

TEST_CASE("x shared full-archive page with expansions", "[x]") {
  EARSHOT_REQUIRE_SHARED(dir, "twitter");
  const HttpResponse response =
      Response(testing::ReadFile(*dir / "search_all_expansions_academictwitteR.json"));
  Page page = ParseOk(response);
  REQUIRE(page.posts.size() == 15);
  CHECK(page.skipped_items == 0);
  CHECK(page.warnings.empty());

  const Post& first = page.posts.front();
  CHECK(first.id == "1403438596695134209");
  CHECK(first.author_handle == "@SoDoMedia");
  CHECK(first.author_name == "So Do Media");
  CHECK(first.url == "https://x.com/SoDoMedia/status/1403438596695134209");
  CHECK(first.text == "was hat es mit den 12 jahren auf sich und wer ist hanna? #IchbinHanna");
  CHECK(first.language == "de");
  CHECK(first.created_at == ParseIso8601("2021-06-11T19:46:50Z").value());
  CHECK(first.conversation == "1403438596695134209");
  CHECK(first.reply_to.empty());

  CHECK(std::count_if(page.posts.begin(), page.posts.end(),
                      [](const Post& p) { return !p.reply_to.empty(); }) == 6);
  const Post* reply = FindPost(page, "1403292134736814082");
  REQUIRE(reply != nullptr);
  CHECK(reply->reply_to == "1403196903794294784");
  CHECK(reply->conversation == "1402982550675488784");
  CHECK(reply->author_handle == "@Sponobil");
  // Line breaks and blank lines survive.
  CHECK(Contains(reply->text, "mit Mode zu arbeiten.\n\nUnd von einer Konsumentin"));

  const Post* escaped = FindPost(page, "1403054114259484675");
  REQUIRE(escaped != nullptr);
  CHECK(Contains(escaped->text, "Psychologe & Neurowissenschaftler"));
  // \uD83C\uDDE9\uD83C\uDDEA, a surrogate-pair escaped flag, beside raw UTF-8.
  CHECK(Contains(escaped->text, "nach \xF0\x9F\x87\xA9\xF0\x9F\x87\xAA um evtl."));
  CHECK(Contains(escaped->text,
                 "besch\xC3\xA4"
                 "ftigt"));

  const Post* quote = FindPost(page, "1402939532849319939");
  REQUIRE(quote != nullptr);
  CHECK(Contains(quote->text, "https://twitter.com/DrKEichhorn/status/1402595115043115008"));
  CHECK_FALSE(Contains(quote->text, "t.co"));
  CHECK(quote->reply_to.empty());

  CHECK(page.next_cursor == "1403438596695134209");
  CHECK(page.caught_up);
  SECTION("the last page of a backlog ends the paging") {
    Page last = ParseOk(response, "1403438596695134209/1402000000000000000/sometoken");
    CHECK(last.next_cursor == "1403438596695134209");
    CHECK(last.caught_up);
  }
}

TEST_CASE("x shared page of retweets with next_token", "[x]") {
  EARSHOT_REQUIRE_SHARED(dir, "twitter");
  Page page =
      ParseOk(Response(testing::ReadFile(*dir / "search_v2_includes_next_token_twitwi.json")));
  REQUIRE(page.posts.size() == 1);
  CHECK(page.skipped_items == 9);
  CHECK(AnyWarningContains(page, "9 retweet(s) skipped"));
  CHECK(AnyWarningContains(page, "1383055313276964865"));
  const Post& post = page.posts[0];
  CHECK(post.id == "1383054846186639361");
  CHECK(post.reply_to == "1383054056906711040");
  CHECK(post.conversation == "1383003504734781442");
  CHECK(post.language == "sv");
  CHECK(post.author_handle == "@toknell");
  // Four surrogate-pair escapes: two flags.
  CHECK(post.author_name ==
        "Toknell \xF0\x9F\x87\xB8\xF0\x9F\x87\xAA\xF0\x9F\x87\xB8\xF0\x9F\x87\xAA");
  CHECK(post.url == "https://x.com/toknell/status/1383054846186639361");
  CHECK(post.text ==
        "@johanwadenback @Andromake000 @Expressen Det \xC3\xA4r bara att l\xC3\xA4sa vad som "
        "sj\xC3\xA4lva CDC s\xC3\xA4ger och sluta vilseleda j\xC3\xA4vla #covidiot "
        "https://twitter.com/toknell/status/1383054846186639361/photo/1");
  // The cursor moves past the skipped retweets too.
  CHECK(page.next_cursor == "1383055313276964865");
  Page later =
      ParseOk(Response(testing::ReadFile(*dir / "search_v2_includes_next_token_twitwi.json")),
              "1383000000000000000");
  CHECK(later.next_cursor ==
        "1383055313276964865/1383000000000000000/b26v89c19zqg8o3fosts1md1wmmwtk662avly1ptlc2v1");
  CHECK_FALSE(later.caught_up);
}

// ------------------------------------------------------------ own fixtures ---

TEST_CASE("x search page", "[x]") {
  const HttpResponse response = Response(Own("search_page.json"));
  Page page = ParseOk(response);
  REQUIRE(page.posts.size() == 5);
  CHECK(page.skipped_items == 1);  // the retweet
  CHECK(AnyWarningContains(page, "1 retweet(s) skipped"));

  const Post& first = page.posts[0];
  CHECK(first.id == "1870000000000000105");
  CHECK(first.uid == "1870000000000000105");
  CHECK(first.author_handle == "@wardwatcher");
  CHECK(first.author_name == "Ward Watcher");
  CHECK(first.url == "https://x.com/wardwatcher/status/1870000000000000105");
  CHECK(first.text ==
        "Waited 9 hours in A&E at Riverside General last night \xF0\x9F\x98\xA9 #NHS "
        "https://www.riverside-general.example/ae?ref=x&utm=1");
  CHECK(first.language == "en");
  CHECK(first.created_at == FromUnixMillis(1795335330000));
  CHECK(first.conversation == "1870000000000000105");
  CHECK(first.reply_to.empty());
  CHECK(first.title.empty());

  const Post& reply = page.posts[1];
  CHECK(reply.reply_to == "1870000000000000100");
  CHECK(reply.conversation == "1870000000000000105");
  CHECK(reply.author_name == "Pat (they/them) \xF0\x9F\xA9\xBA");
  CHECK(reply.text ==
        "@wardwatcher Same at ours \xE2\x80\x93 the discharge lounge was full.\n\nStaff were "
        "lovely though \xE2\x9D\xA4\xEF\xB8\x8F");

  const Post& quote = page.posts[2];
  CHECK(quote.author_handle == "@ClinicNotes");
  CHECK(quote.reply_to.empty());
  CHECK(Contains(quote.text, "\"just works\". 3 < 5 minutes"));
  CHECK(Contains(quote.text, "https://x.com/healthdesk/status/1869000000000000001"));

  const Post& note = page.posts[3];
  CHECK(note.id == "1870000000000000102");
  CHECK(Contains(note.text,
                 "were brilliant.\n\nFull write-up: https://blog.example/nhs-physio-full "
                 "\xF0\x9F\xA9\xBA"));
  CHECK_FALSE(Contains(note.text, "\xE2\x80\xA6"));  // not the truncated `text`

  const Post& emoji = page.posts[4];
  CHECK(emoji.id == "1870000000000000100");
  CHECK(emoji.text == "\xF0\x9F\x8F\xA5\xF0\x9F\x9A\x91\xF0\x9F\x91\x8D");
  CHECK(emoji.language.empty());       // "und"
  CHECK(emoji.author_handle.empty());  // author not in includes
  CHECK(emoji.url == "https://x.com/i/web/status/1870000000000000100");

  SECTION("partial errors: warnings, and a deletion for the tweet X cannot find") {
    REQUIRE(page.deletions.size() == 1);
    CHECK(page.deletions[0].uid == "1869000000000000002");
    CHECK(Contains(page.deletions[0].reason, "not found"));
    CHECK(AnyWarningContains(page, "Not Found Error: Could not find tweet"));
    CHECK(AnyWarningContains(page, "Authorization Error: Sorry, you are not authorized"));
  }
  SECTION("first poll") {
    CHECK(page.next_cursor == "1870000000000000105");
    CHECK(page.caught_up);
  }
  SECTION("a later poll pages through its backlog") {
    Page later = ParseOk(response, "1870000000000000050");
    CHECK(later.next_cursor ==
          "1870000000000000105/1870000000000000050/b26v89c19zqg8o3fpe17zkbnzhwxfu1vmsqpv91xsbfh");
    CHECK_FALSE(later.caught_up);
    Page last = ParseOk(Response(Own("search_last_page.json")), later.next_cursor);
    REQUIRE(last.posts.size() == 1);
    CHECK(last.posts[0].text == "Ambulance took 40 minutes <sigh> #NHS");
    CHECK(last.next_cursor == "1870000000000000105");
    CHECK(last.caught_up);
  }
  SECTION("the same next_token again stops the paging") {
    Page again = ParseOk(
        response,
        "1870000000000000105/1870000000000000050/b26v89c19zqg8o3fpe17zkbnzhwxfu1vmsqpv91xsbfh");
    CHECK(again.next_cursor == "1870000000000000105");
    CHECK(again.caught_up);
    CHECK(AnyWarningContains(again, "repeated the next_token"));
  }
  SECTION("the cursor never moves backwards") {
    Page newer = ParseOk(Response(Own("search_last_page.json")), "1870000000000000999");
    CHECK(newer.next_cursor.empty());
    CHECK(newer.caught_up);
  }
  SECTION("an unreadable stored cursor is read as none, with a warning") {
    Page odd = ParseOk(response, "not/a/cursor at all");
    CHECK(odd.next_cursor == "1870000000000000105");
    CHECK(AnyWarningContains(odd, "is not NEWEST"));
  }
}

TEST_CASE("x empty result", "[x]") {
  Page page = ParseOk(Response(Own("search_empty.json")), "1870000000000000105");
  CHECK(page.posts.empty());
  CHECK(page.skipped_items == 0);
  CHECK(page.next_cursor.empty());
  CHECK(page.caught_up);
  Page first = ParseOk(Response(Own("search_empty.json")));
  CHECK(first.next_cursor.empty());
}

TEST_CASE("x hostile items are skipped, counted and named", "[x]") {
  Page page = ParseOk(Response(Own("hostile_wrong_types.json")), "1870000000000000000");
  REQUIRE(page.posts.size() == 2);
  CHECK(page.skipped_items == 14);
  const Post& good = page.posts[0];
  CHECK(good.id == "1870000000000000420");
  CHECK(good.author_handle == "@wardwatcher");
  CHECK(good.text == "Good tweet among bad ones: the district nurses were great");
  const Post& evil = page.posts[1];
  CHECK(evil.id == "1870000000000000421");
  CHECK(evil.author_handle.empty());  // the username could not be a username
  CHECK(evil.url == "https://x.com/i/web/status/1870000000000000421");
  CHECK(AnyWarningContains(page, "3 of 4 entries of 'includes.users' unreadable"));
  CHECK(AnyWarningContains(page, "item 0: 'id' is number, expected string"));
  CHECK(AnyWarningContains(page, "item 1 (tweet 1870000000000000402): 'text' is missing"));
  CHECK(AnyWarningContains(page, "item 2 (tweet 1870000000000000403): 'text' is array"));
  CHECK(AnyWarningContains(page, "'created_at' is number"));
  CHECK(AnyWarningContains(page, "'created_at' \"yesterday-ish\""));
  CHECK(AnyWarningContains(page, "'referenced_tweets' is object, expected array"));
  CHECK(AnyWarningContains(page, "\"../../etc/passwd\" is not a tweet id"));
  CHECK(AnyWarningContains(page, "'entities' is string, expected object"));
  CHECK(AnyWarningContains(page, "'conversation_id' \"abc\" is not a tweet id"));
  CHECK(AnyWarningContains(page, "note_tweet: 'text' is missing"));
  CHECK(AnyWarningContains(page, "'id' \"not-an-id\" is not a tweet id"));
  CHECK(AnyWarningContains(page, "item 12: is string, expected a tweet object"));
  CHECK(AnyWarningContains(page, "item 13: is null"));
  CHECK(AnyWarningContains(page, "'meta.next_token' \"bad token with spaces\""));
  // The bad token is never followed; the cursor is the newest id seen.
  CHECK(page.next_cursor == "1870000000000000421");
  CHECK(page.caught_up);
}

TEST_CASE("x tweets with only some fields", "[x]") {
  Page page = ParseOk(Response(Own("hostile_missing_fields.json")));
  REQUIRE(page.posts.size() == 1);
  CHECK(page.skipped_items == 3);
  CHECK(page.posts[0].id == "1870000000000000502");
  CHECK(page.posts[0].text == "Only id and text: the minimal tweet");
  CHECK(AnyWarningContains(page, "item 0: 'id' is missing"));
  CHECK(AnyWarningContains(page, "item 1 (tweet 1870000000000000501): 'text' is missing"));
  CHECK(page.next_cursor == "1870000000000000502");
}

TEST_CASE("x decodes surrogate pairs and survives lone surrogates", "[x]") {
  SECTION("a pair is one character") {
    Page page = ParseOk(Response(
        R"({"data":[{"id":"1","text":"Grinning \ud83d\ude00 and \uD83C\uDDEC\uD83C\uDDE7"}]})"));
    REQUIRE(page.posts.size() == 1);
    CHECK(page.posts[0].text == "Grinning \xF0\x9F\x98\x80 and \xF0\x9F\x87\xAC\xF0\x9F\x87\xA7");
    CHECK(page.warnings.empty());
  }
  SECTION("lone surrogates cost a character, not the page") {
    Page page = ParseOk(Response(Own("lone_surrogate.json")));
    REQUIRE(page.posts.size() == 4);
    CHECK(page.skipped_items == 0);
    CHECK(AnyWarningContains(page, "3 lone UTF-16 surrogate escape(s)"));
    CHECK(page.posts[0].text == "Truncated emoji at the end \xEF\xBF\xBD");
    CHECK(page.posts[1].text == "Low alone \xEF\xBF\xBD here");
    CHECK(page.posts[2].text ==
          "High then letter \xEF\xBF\xBD"
          "A and a good pair \xF0\x9F\x98\x80");
    CHECK(page.posts[3].text == "Backslash then u: \\ud83d is text");
    for (const Post& post : page.posts) CHECK(IsValidUtf8(post.text));
  }
  SECTION("the repair itself") {
    int replaced = -1;
    CHECK(ReplaceLoneSurrogateEscapes(R"({"a":"\ud800"})", &replaced) == R"({"a":"\uFFFD"})");
    CHECK(replaced == 1);
    CHECK(ReplaceLoneSurrogateEscapes(R"(["\udfff\ud800\udc00"])", &replaced) ==
          R"(["\uFFFD\ud800\udc00"])");
    CHECK(replaced == 1);
    CHECK(ReplaceLoneSurrogateEscapes(R"(["\\ud800", "\"\ud800"])", &replaced) ==
          R"(["\\ud800", "\"\uFFFD"])");
    CHECK(replaced == 1);
    CHECK(ReplaceLoneSurrogateEscapes(R"(["\ud83d\ude00 ok \u00e9"])", &replaced) ==
          R"(["\ud83d\ude00 ok \u00e9"])");
    CHECK(replaced == 0);
    // Malformed escapes and a dangling end are left for the parser.
    CHECK(ReplaceLoneSurrogateEscapes(R"(["\uZZ", "\ud8)", &replaced) == R"(["\uZZ", "\ud8)");
    CHECK(ReplaceLoneSurrogateEscapes("[\"\\", &replaced) == "[\"\\");
    // Outside strings nothing is touched.
    CHECK(ReplaceLoneSurrogateEscapes(R"(\ud800)", &replaced) == R"(\ud800)");
  }
}

TEST_CASE("x repairs invalid UTF-8 rather than losing the page", "[x]") {
  Page page = ParseOk(Response(Own("invalid_utf8.json")));
  REQUIRE(page.posts.size() == 2);
  CHECK(AnyWarningContains(page, "not valid UTF-8"));
  CHECK(IsValidUtf8(page.posts[0].text));
  CHECK(Contains(page.posts[0].text, "Bad byte \xEF\xBF\xBD here"));
  CHECK(page.posts[1].text == "Clean tweet about the pharmacy");
}

TEST_CASE("x unreadable bodies are errors naming the URL", "[x]") {
  const std::string url = "https://api.x.com/2/tweets/search/recent?query=NHS";
  SECTION("truncated") {
    Status status = ParseError(Response(Own("truncated.json")));
    CHECK(status.code() == StatusCode::kParseError);
    CHECK(Contains(status.message(), url));
    CHECK(Contains(status.message(), "invalid JSON"));
  }
  SECTION("HTML") {
    Status status = ParseError(Response(Own("not_json.html")));
    CHECK(status.code() == StatusCode::kParseError);
    CHECK(Contains(status.message(), url));
  }
  SECTION("empty") { CHECK(ParseError(Response("")).code() == StatusCode::kParseError); }
  SECTION("an array") {
    Status status = ParseError(Response(Own("wrong_root.json")));
    CHECK(Contains(status.message(), "body is a JSON array, expected a search result object"));
  }
  SECTION("scalars") {
    for (const char* body : {"\"hello\"", "42", "null", "true"}) {
      INFO(body);
      CHECK(ParseError(Response(body)).code() == StatusCode::kParseError);
    }
  }
  SECTION("data that is not an array") {
    Status status = ParseError(Response(Own("data_not_array.json")));
    CHECK(Contains(status.message(), "'data' is object, expected an array of tweets"));
  }
  SECTION("a problem object with a 200") {
    Status status = ParseError(Response(Own("problem_200.json")));
    CHECK(
        Contains(status.message(),
                 "X error: Invalid Request: One or more parameters to your request was invalid."));
  }
  SECTION("an unknown object") {
    Status status = ParseError(Response("{\"statuses\":[]}"));
    CHECK(Contains(status.message(), "not a search result"));
  }
  SECTION("nesting beyond the parser's limit") {
    constexpr size_t kDepth = 100000;
    Status status = ParseError(Response(std::string(kDepth, '[') + std::string(kDepth, ']')));
    CHECK(status.code() == StatusCode::kParseError);
  }
}

TEST_CASE("x wrong page-level types degrade, not fail", "[x]") {
  Page page = ParseOk(Response("{\"data\":[" + TweetJson(5, ",\"author_id\":\"9\"") +
                               "],\"includes\":[],\"meta\":\"x\",\"errors\":{}}"));
  REQUIRE(page.posts.size() == 1);
  CHECK(page.posts[0].author_handle.empty());
  CHECK(AnyWarningContains(page, "'includes' is array"));
  CHECK(AnyWarningContains(page, "'meta' is string"));
  CHECK(AnyWarningContains(page, "'errors' is object"));
  Page users = ParseOk(Response("{\"data\":[],\"includes\":{\"users\":{}}}"));
  CHECK(AnyWarningContains(users, "'includes.users' is object"));
}

TEST_CASE("x survives a huge array", "[x]") {
  constexpr int kCount = 5000;
  std::string body = "{\"data\":[";
  for (int i = 0; i < kCount; ++i) {
    if (i) body += ",";
    body += TweetJson(1870000000000010000ULL + kCount - i);
  }
  body += "],\"meta\":{\"result_count\":5000}}";
  Page page = ParseOk(Response(body), "1870000000000000000");
  REQUIRE(page.posts.size() == kCount);
  CHECK(page.skipped_items == 0);
  CHECK(page.next_cursor == "1870000000000015000");
  CHECK(page.caught_up);
}

TEST_CASE("x many partial errors are bounded", "[x]") {
  std::string errors;
  for (int i = 0; i < 500; ++i) {
    if (i) errors += ",";
    errors += "{\"title\":\"Not Found Error\",\"resource_type\":\"tweet\",\"resource_id\":\"" +
              std::to_string(1860000000000000000ULL + i) +
              "\",\"type\":\"https://api.twitter.com/2/problems/resource-not-found\"}";
  }
  Page page = ParseOk(Response("{\"errors\":[" + errors + "],\"meta\":{\"result_count\":0}}"));
  CHECK(page.deletions.size() == 500);
  CHECK(page.warnings.size() == 21);
  CHECK(AnyWarningContains(page, "X reported 480 more error(s)"));
}

TEST_CASE("x duplicate tweets in a page are one post", "[x]") {
  Page page = ParseOk(Response("{\"data\":[" + TweetJson(7) + "," + TweetJson(7) + "]}"));
  CHECK(page.posts.size() == 1);
}

TEST_CASE("x tweet text", "[x]") {
  using Urls = std::vector<std::pair<std::string, std::string>>;
  CHECK(TweetText("a &amp;amp; b &lt;3 &gt; &quot;q&quot; &copy", {}) ==
        "a &amp; b <3 > &quot;q&quot; &copy");
  CHECK(TweetText("  lots   of\tspace \r\nnext line\r\n\r\n\r\n\r\nlast  ", {}) ==
        "lots of space\nnext line\n\nlast");
  CHECK(TweetText("\n\nleading blank lines", {}) == "leading blank lines");
  // NFC: e + combining acute is one character.
  CHECK(TweetText("cafe\xCC\x81", {}) == "caf\xC3\xA9");
  const Urls urls = {{"https://t.co/abc", "https://short.example/"},
                     {"https://t.co/abcd", "https://longer.example/x?a=1&amp=2"}};
  CHECK(TweetText("see https://t.co/abcd and https://t.co/abc. https://t.co/abc", urls) ==
        "see https://longer.example/x?a=1&amp=2 and https://short.example/. "
        "https://short.example/");
  // A link followed by more word characters is another link.
  CHECK(TweetText("https://t.co/abcX", {{"https://t.co/abc", "https://no.example/"}}) ==
        "https://t.co/abcX");
  // An expansion is never expanded again.
  CHECK(TweetText("https://t.co/a", {{"https://t.co/a", "https://t.co/b"},
                                     {"https://t.co/b", "https://c.example/"}}) ==
        "https://t.co/b");
  // Invalid UTF-8 is repaired.
  CHECK(IsValidUtf8(TweetText("bad \xFF byte", {})));
}

// ----------------------------------------------------------- NextRequest ---

TEST_CASE("x search requests", "[x]") {
  SourceSpec source = SearchSource("(NHS OR #NHS) lang:en -is:retweet");
  const std::string base = "https://api.x.com/2/tweets/search/recent?query=";
  const std::string query = "%28NHS%20OR%20%23NHS%29%20lang%3Aen%20-is%3Aretweet";
  SECTION("first poll") {
    auto request = NextRequest(source, SourceCursor{});
    REQUIRE(request.ok());
    CHECK(request->method == "GET");
    CHECK(request->url == base + query + "&max_results=100" + kFields);
    CHECK(request->headers.Get("Authorization") == "Bearer app-bearer");
    CHECK(request->headers.Get("Accept") == "application/json");
    CHECK(request->body.empty());
  }
  SECTION("later polls: since_id") {
    SourceCursor cursor;
    cursor.cursor = "1870000000000000105";
    auto request = NextRequest(source, cursor);
    REQUIRE(request.ok());
    CHECK(request->url ==
          base + query + "&max_results=100" + kFields + "&since_id=1870000000000000105");
  }
  SECTION("paging a backlog: the poll's since_id and the next_token") {
    SourceCursor cursor;
    cursor.cursor = "1870000000000000105/1870000000000000050/b26v89c19zqg8o3f";
    auto request = NextRequest(source, cursor);
    REQUIRE(request.ok());
    CHECK(request->url == base + query + "&max_results=100" + kFields +
                              "&since_id=1870000000000000050&next_token=b26v89c19zqg8o3f");
  }
  SECTION("another API base and max_results") {
    source.url = "http://127.0.0.1:8080/";
    source.options["max_results"] = int64_t{10};
    auto request = NextRequest(source, SourceCursor{});
    REQUIRE(request.ok());
    CHECK(request->url.rfind("http://127.0.0.1:8080/2/tweets/search/recent?query=", 0) == 0);
    CHECK(Contains(request->url, "&max_results=10&"));
  }
  SECTION("defaults when the loader passed none") {
    source.options.erase("max_results");
    auto request = NextRequest(source, SourceCursor{});
    REQUIRE(request.ok());
    CHECK(Contains(request->url, "&max_results=100&"));
  }
}

TEST_CASE("x rejects bad source settings", "[x]") {
  auto expect_invalid = [](const SourceSpec& source, const std::string& needle,
                           const std::string& cursor = "") {
    SourceCursor state;
    state.cursor = cursor;
    auto request = NextRequest(source, state);
    REQUIRE_FALSE(request.ok());
    CHECK(request.status().code() == StatusCode::kInvalidArgument);
    CHECK(Contains(request.status().message(), "source \"x-nhs\" (x)"));
    CHECK(Contains(request.status().message(), needle));
  };
  SourceSpec source = SearchSource();
  SECTION("no query") {
    source.options.erase("query");
    expect_invalid(source, "needs `query`");
  }
  SECTION("blank query") {
    source.options["query"] = std::string("   ");
    expect_invalid(source, "needs `query`");
  }
  SECTION("no bearer token") {
    source.options.erase("bearer_token");
    expect_invalid(source, "needs `bearer_token`");
  }
  SECTION("max_results out of range") {
    source.options["max_results"] = int64_t{9};
    expect_invalid(source, "between 10 and 100");
    source.options["max_results"] = int64_t{101};
    expect_invalid(source, "between 10 and 100");
  }
  SECTION("a URL with a query") {
    source.url = "https://api.x.com/2/tweets?x=1";
    expect_invalid(source, "not an API base URL");
  }
  SECTION("not http(s)") {
    source.url = "ftp://api.x.com";
    expect_invalid(source, "not an API base URL");
  }
  SECTION("a cursor we did not write") {
    expect_invalid(source, "is not NEWEST", "1870000000000000105/abc");
    expect_invalid(source, "is not NEWEST", "1870/1860/token&evil=1");
    expect_invalid(source, "is not NEWEST", "latest");
  }
}

TEST_CASE("x cursor encoding", "[x]") {
  auto empty = DecodeCursor("");
  REQUIRE(empty.ok());
  CHECK(empty->newest.empty());
  CHECK_FALSE(empty->paging());
  auto idle = DecodeCursor("1870000000000000105");
  REQUIRE(idle.ok());
  CHECK(idle->newest == "1870000000000000105");
  CHECK_FALSE(idle->paging());
  CHECK(EncodeCursor(*idle) == "1870000000000000105");
  auto paging = DecodeCursor("1870000000000000105/1870000000000000050/b26v89c19zqg8o3f");
  REQUIRE(paging.ok());
  CHECK(paging->newest == "1870000000000000105");
  CHECK(paging->since == "1870000000000000050");
  CHECK(paging->next_token == "b26v89c19zqg8o3f");
  CHECK(EncodeCursor(*paging) == "1870000000000000105/1870000000000000050/b26v89c19zqg8o3f");
  auto start = DecodeCursor("@2026-11-15T14:05:42Z");
  REQUIRE(start.ok());
  CHECK(start->newest.empty());
  CHECK(start->start_time == "2026-11-15T14:05:42Z");
  CHECK_FALSE(start->paging());
  CHECK(EncodeCursor(*start) == "@2026-11-15T14:05:42Z");
  auto start_paging = DecodeCursor("1870000000000000105/@2026-11-15T14:05:42Z/b26v89c19zqg8o3f");
  REQUIRE(start_paging.ok());
  CHECK(start_paging->newest == "1870000000000000105");
  CHECK(start_paging->since.empty());
  CHECK(start_paging->start_time == "2026-11-15T14:05:42Z");
  CHECK(start_paging->next_token == "b26v89c19zqg8o3f");
  CHECK(EncodeCursor(*start_paging) ==
        "1870000000000000105/@2026-11-15T14:05:42Z/b26v89c19zqg8o3f");
  for (const char* bad : {"/", "1//t", "1/2/", "1/2/t/u", "x", "1/2", "123456789012345678901",
                          "1/2/has space", "@", "@yesterday", "@2026-11-15", "1/@/t",
                          "/@2026-11-15T14:05:42Z/t", "@2026-11-15T14:05:42Z&evil=1"}) {
    INFO(bad);
    CHECK_FALSE(DecodeCursor(bad).ok());
  }
}

TEST_CASE("x recovers from a since_id older than seven days with a start_time", "[x]") {
  REQUIRE(Descriptor().recover_cursor == &RecoverCursor);
  auto recover = [](const std::string& cursor, const HttpResponse& response) {
    SourceCursor state;
    state.cursor = cursor;
    return RecoverCursor(SearchSource(), state, response);
  };
  HttpResponse too_old = Response(Own("search_error_400_since_id_too_old.json"), 400);
  SECTION("from the answer's Date: seven days back, one hour inside the window") {
    too_old.headers.Add("Date", "Sun, 22 Nov 2026 13:05:42 GMT");
    CHECK(recover("1850000000000000105", too_old) == "@2026-11-15T14:05:42Z");
    // A backlog's since_id refused the same way.
    CHECK(recover("1850000000000000300/1850000000000000105/b26v89c19zqg8o3f", too_old) ==
          "@2026-11-15T14:05:42Z");
  }
  SECTION("without Date: from the time X's message names") {
    CHECK(recover("1850000000000000105", too_old) == "@2026-11-15T14:05:00Z");
  }
  SECTION("a recovered start_time that slipped out of the window recovers again") {
    HttpResponse start_refused = Response(Own("search_error_400_start_time_too_old.json"), 400);
    start_refused.headers.Add("Date", "Sun, 22 Nov 2026 15:00:00 GMT");
    CHECK(recover("@2026-11-15T12:00:00Z", start_refused) == "@2026-11-15T16:00:00Z");
    CHECK(recover("1870000000000000105/@2026-11-15T12:00:00Z/b26v89c19zqg8o3f", start_refused) ==
          "@2026-11-15T16:00:00Z");
    start_refused.headers = Headers();
    CHECK(recover("@2026-11-15T12:00:00Z", start_refused) == "@2026-11-15T14:05:00Z");
  }
  SECTION("anything else is an ordinary failure") {
    too_old.headers.Add("Date", "Sun, 22 Nov 2026 13:05:42 GMT");
    // No lower bound was sent: the first poll cannot have had one refused.
    CHECK_FALSE(recover("", too_old).has_value());
    CHECK_FALSE(recover("not a cursor", too_old).has_value());
    HttpResponse bad_query = Response(Own("search_error_400_bad_query.json"), 400);
    bad_query.headers.Add("Date", "Sun, 22 Nov 2026 13:05:42 GMT");
    CHECK_FALSE(recover("1850000000000000105", bad_query).has_value());
    for (int status : {200, 401, 403, 429, 503}) {
      HttpResponse other = too_old;
      other.status = status;
      INFO(status);
      CHECK_FALSE(recover("1850000000000000105", other).has_value());
    }
    for (const char* body :
         {"", "<html>400</html>", "{\"errors\":\"since_id\"}", "{\"errors\":[\"'since_id'\"]}",
          "[1,2]", "{\"title\":\"Invalid Request\"}"}) {
      INFO(body);
      HttpResponse odd = Response(body, 400);
      odd.headers.Add("Date", "Sun, 22 Nov 2026 13:05:42 GMT");
      CHECK_FALSE(recover("1850000000000000105", odd).has_value());
    }
    // Named, but no time to start from anywhere.
    HttpResponse timeless = Response(
        R"({"errors":[{"parameters":{"since_id":["1"]},"message":"Invalid 'since_id'"}]})", 400);
    CHECK_FALSE(recover("1850000000000000105", timeless).has_value());
    timeless.headers.Add("Date", "yesterday");
    CHECK_FALSE(recover("1850000000000000105", timeless).has_value());
  }
}

TEST_CASE("x polls from a recovered start_time, pages it, then goes back to since_id", "[x]") {
  SourceSpec source = SearchSource();
  const std::string prefix =
      "https://api.x.com/2/tweets/search/recent?query=NHS%20-is%3Aretweet"
      "&max_results=100" +
      std::string(kFields);
  SECTION("requests") {
    SourceCursor cursor;
    cursor.cursor = "@2026-11-15T14:05:42Z";
    auto request = NextRequest(source, cursor);
    REQUIRE(request.ok());
    CHECK(request->url == prefix + "&start_time=2026-11-15T14%3A05%3A42Z");
    cursor.cursor = "1870000000000000105/@2026-11-15T14:05:42Z/b26v89c19zqg8o3f";
    request = NextRequest(source, cursor);
    REQUIRE(request.ok());
    CHECK(request->url ==
          prefix + "&start_time=2026-11-15T14%3A05%3A42Z&next_token=b26v89c19zqg8o3f");
  }
  SECTION("a first page with more: page the window, keeping the start_time") {
    Page page = ParseOk(Response(Own("search_page.json")), "@2026-11-15T14:05:42Z");
    CHECK(page.posts.size() == 5);
    CHECK_FALSE(page.caught_up);
    CHECK(page.next_cursor ==
          "1870000000000000105/@2026-11-15T14:05:42Z/b26v89c19zqg8o3fpe17zkbnzhwxfu1vmsqpv91xsbfh");
    // The last page of the window: back to an ordinary since_id cursor.
    Page last = ParseOk(Response(Own("search_last_page.json")), page.next_cursor);
    CHECK(last.caught_up);
    CHECK(last.next_cursor == "1870000000000000105");
  }
  SECTION("a single page: its newest id is the cursor") {
    Page page = ParseOk(Response(Own("search_last_page.json")), "@2026-11-15T14:05:42Z");
    CHECK(page.caught_up);
    CHECK(page.next_cursor == "1870000000000000090");
  }
  SECTION("nothing in the window yet: the start_time stays") {
    Page page = ParseOk(Response(Own("search_empty.json")), "@2026-11-15T14:05:42Z");
    CHECK(page.caught_up);
    CHECK(page.next_cursor.empty());  // unchanged
  }
}

TEST_CASE("x rate-limit headers", "[x]") {
  HttpResponse response;
  response.status = 429;
  SECTION("the documented dialect") {
    response.headers.Add("x-rate-limit-limit", "450");
    response.headers.Add("x-rate-limit-remaining", "0");
    response.headers.Add("x-rate-limit-reset", "1795335300");
    RateLimitInfo info = ReadRateLimit(response);
    CHECK(info.limit == 450);
    CHECK(info.remaining == 0);
    CHECK(info.reset == FromUnixSeconds(1795335300));
    CHECK_FALSE(info.retry_at.has_value());
  }
  SECTION("case and spaces") {
    response.headers.Add("X-Rate-Limit-Remaining", " 12 ");
    CHECK(ReadRateLimit(response).remaining == 12);
  }
  SECTION("nonsense is ignored") {
    response.headers.Add("x-rate-limit-limit", "lots");
    response.headers.Add("x-rate-limit-remaining", "-1");
    response.headers.Add("x-rate-limit-reset", "99999999999999999999");
    CHECK(ReadRateLimit(response).empty());
    HttpResponse iso;
    iso.headers.Add("x-rate-limit-reset", "2026-11-22T07:05:00Z");
    CHECK(ReadRateLimit(iso).empty());
  }
  SECTION("none") { CHECK(ReadRateLimit(response).empty()); }
}

// ---------------------------------------------------------- conversation ---

TEST_CASE("x conversation requests", "[x]") {
  const SourceSpec source = SearchSource();
  SECTION("by the stored conversation id") {
    auto request =
        ConversationRequest(source, StoredTweet("1870000000000000104", "1870000000000000105"), "");
    REQUIRE(request.ok());
    CHECK(request->url ==
          "https://api.x.com/2/tweets/search/recent?query=conversation_id%3A1870000000000000105"
          "&max_results=100" +
              std::string(kFields));
    CHECK(request->headers.Get("Authorization") == "Bearer app-bearer");
  }
  SECTION("a root tweet without a stored conversation: its own id, next page") {
    auto request = ConversationRequest(source, StoredTweet("1870000000000000105"), "tok123");
    REQUIRE(request.ok());
    CHECK(Contains(request->url, "?query=conversation_id%3A1870000000000000105&"));
    CHECK(request->url.ends_with("&next_token=tok123"));
  }
  SECTION("refusals") {
    CHECK(ConversationRequest(source, StoredTweet("abc"), "").status().code() ==
          StatusCode::kInvalidArgument);
    CHECK(ConversationRequest(source, StoredTweet("1"), "tok&x=1").status().code() ==
          StatusCode::kInvalidArgument);
    SourceSpec no_token = source;
    no_token.options.erase("bearer_token");
    CHECK(ConversationRequest(no_token, StoredTweet("1"), "").status().code() ==
          StatusCode::kInvalidArgument);
  }
}

TEST_CASE("x conversation pages", "[x]") {
  const SourceSpec source = SearchSource();
  const Post root = StoredTweet("1870000000000000105", "1870000000000000105");
  SECTION("replies, and more to come") {
    auto page = ParseConversation(source, root, Response(Own("conversation_page.json")));
    REQUIRE(page.ok());
    REQUIRE(page->posts.size() == 2);
    CHECK(page->posts[0].author_handle == "@RiversideNHS");
    CHECK(page->posts[0].reply_to == "1870000000000000105");
    CHECK(page->posts[0].conversation == "1870000000000000105");
    CHECK(page->posts[1].reply_to == "1870000000000000201");
    CHECK(page->next_cursor == "b26v89c19zqg8o3fpe17zkbnzhwxfu1vmsqpv91xscon");
    CHECK_FALSE(page->caught_up);
    CHECK(page->deletions.empty());
  }
  SECTION("the root reported missing is a deletion") {
    const Post gone = StoredTweet("1870000000000000300", "1870000000000000300");
    auto page = ParseConversation(source, gone, Response(Own("conversation_root_deleted.json")));
    REQUIRE(page.ok());
    REQUIRE(page->posts.size() == 1);
    REQUIRE(page->deletions.size() == 1);
    CHECK(page->deletions[0].uid == "1870000000000000300");
    CHECK(page->next_cursor.empty());
    CHECK(page->caught_up);
  }
  SECTION("404 and 410: the post is gone") {
    for (int status : {404, 410}) {
      INFO(status);
      auto page = ParseConversation(source, root, Response(Own("reply_error_401.json"), status));
      REQUIRE(page.ok());
      CHECK(page->posts.empty());
      REQUIRE(page->deletions.size() == 1);
      CHECK(page->deletions[0].uid == "1870000000000000105");
      CHECK(Contains(page->deletions[0].reason, std::to_string(status)));
    }
  }
  SECTION("other failures carry X's words") {
    auto page = ParseConversation(source, root, Response(Own("reply_error_429.json"), 429));
    REQUIRE_FALSE(page.ok());
    CHECK(page.status().code() == StatusCode::kRateLimited);
    CHECK(Contains(page.status().message(), "Too Many Requests"));
    CHECK(Contains(page.status().message(), "conversation of tweet 1870000000000000105"));
  }
  SECTION("an unreadable body") {
    auto page = ParseConversation(source, root, Response(Own("truncated.json")));
    REQUIRE_FALSE(page.ok());
    CHECK(page.status().code() == StatusCode::kParseError);
  }
}

// ------------------------------------------------------------------ reply ---

TEST_CASE("x reply request", "[x]") {
  const Post target = StoredTweet("1870000000000000105", "1870000000000000105");
  SECTION("the documented body") {
    auto request =
        ReplyRequest(Account(), nullptr, target,
                     Draft("@wardwatcher We are sorry \xE2\x80\x94 please call \"PALS\"\n\\ 0800"));
    REQUIRE(request.ok());
    CHECK(request->method == "POST");
    CHECK(request->url == "https://api.x.com/2/tweets");
    CHECK(request->headers.Get("Authorization") == "Bearer user-token");
    CHECK(request->headers.Get("Content-Type") == "application/json");
    CHECK_FALSE(request->headers.Get("Idempotency-Key").has_value());
    boost::json::value body = boost::json::parse(request->body);
    CHECK(body.at("text").as_string() ==
          "@wardwatcher We are sorry \xE2\x80\x94 please call \"PALS\"\n\\ 0800");
    CHECK(body.at("reply").at("in_reply_to_tweet_id").as_string() == "1870000000000000105");
    CHECK(body.as_object().size() == 2);
  }
  SECTION("280 characters, not bytes") {
    std::string longest;
    for (int i = 0; i < 280; ++i) longest += "\xC3\xA9";
    CHECK(ReplyRequest(Account(), nullptr, target, Draft(longest)).ok());
    auto too_long = ReplyRequest(Account(), nullptr, target, Draft(longest + "x"));
    REQUIRE_FALSE(too_long.ok());
    CHECK(Contains(too_long.status().message(), "281 characters"));
  }
  SECTION("refusals") {
    auto expect_invalid = [](const Result<HttpRequest>& request, const std::string& needle) {
      REQUIRE_FALSE(request.ok());
      CHECK(request.status().code() == StatusCode::kInvalidArgument);
      CHECK(Contains(request.status().message(), needle));
    };
    SourceSpec no_token = Account();
    no_token.options.erase("access_token");
    expect_invalid(ReplyRequest(no_token, nullptr, target, Draft("hi")), "needs `access_token`");
    expect_invalid(ReplyRequest(Account(), nullptr, StoredTweet("x1"), Draft("hi")), "tweet id");
    expect_invalid(ReplyRequest(Account(), nullptr, target, Draft("  \n")), "empty");
    expect_invalid(ReplyRequest(Account(), nullptr, target, Draft("bad \xFF")), "UTF-8");
  }
}

TEST_CASE("x reply responses", "[x]") {
  const Post target = StoredTweet("1870000000000000105");
  auto reply = [&](const std::string& fixture, int status) {
    return ParseReply(Account(), target,
                      Response(Own(fixture), status, "https://api.x.com/2/tweets"));
  };
  SECTION("created") {
    auto published = reply("reply_created.json", 201);
    REQUIRE(published.ok());
    CHECK(published->id == "1870000000000000999");
    CHECK(published->uid == "1870000000000000999");
    CHECK(published->url == "https://x.com/i/web/status/1870000000000000999");
  }
  struct Failure {
    const char* fixture;
    int status;
    StatusCode code;
    const char* words;
  };
  const Failure failure = GENERATE(
      Failure{"reply_error_401.json", 401, StatusCode::kUnauthenticated, "HTTP 401: Unauthorized"},
      Failure{"reply_error_v11_expired_token.json", 401, StatusCode::kUnauthenticated,
              "Invalid or expired token."},
      Failure{"reply_error_403_duplicate.json", 403, StatusCode::kPermissionDenied,
              "Forbidden: You are not allowed to create a Tweet with duplicate content."},
      Failure{"reply_error_403_not_permitted.json", 403, StatusCode::kPermissionDenied,
              "You are not permitted to perform this action."},
      Failure{"reply_error_429.json", 429, StatusCode::kRateLimited, "Too Many Requests"},
      Failure{"reply_error_400_invalid.json", 400, StatusCode::kInvalidArgument,
              "Invalid Request: One or more parameters to your request was invalid.: The "
              "`reply.in_reply_to_tweet_id` query parameter value [1870000000000000105x] is not "
              "valid"},
      Failure{"reply_error_503.html", 503, StatusCode::kUnavailable, "HTTP 503"},
      Failure{"reply_created_without_id.json", 201, StatusCode::kParseError,
              "may have been published"},
      Failure{"truncated.json", 200, StatusCode::kParseError, "not JSON"},
      Failure{"not_json.html", 201, StatusCode::kParseError, "may have been published"});
  SECTION("failures come back as failures with X's words") {
    INFO(failure.fixture);
    auto published = reply(failure.fixture, failure.status);
    REQUIRE_FALSE(published.ok());
    CHECK(published.status().code() == failure.code);
    CHECK(Contains(published.status().message(), failure.words));
    CHECK(Contains(published.status().message(),
                   "x reply to tweet 1870000000000000105: POST https://api.x.com/2/tweets"));
    CHECK_FALSE(Contains(published.status().message(), "<html>"));
  }
}

TEST_CASE("x reply rate limits say which limit and when", "[x]") {
  const Post target = StoredTweet("1870000000000000105");
  HttpResponse response = Response(Own("reply_error_429.json"), 429, "https://api.x.com/2/tweets");
  response.headers.Add("x-rate-limit-reset", "1795335300");
  SECTION("the endpoint window") {
    auto published = ParseReply(Account(), target, response);
    REQUIRE_FALSE(published.ok());
    CHECK(Contains(published.status().message(),
                   "Too Many Requests (rate limit resets at 2026-11-22T08:15:00Z)"));
  }
  SECTION("the 24-hour posting cap") {
    response.headers.Add("x-user-limit-24hour-limit", "100");
    response.headers.Add("x-user-limit-24hour-remaining", "0");
    response.headers.Add("x-user-limit-24hour-reset", "1795400000");
    auto published = ParseReply(Account(), target, response);
    REQUIRE_FALSE(published.ok());
    CHECK(Contains(published.status().message(),
                   "24-hour posting limit reached; resets at "
                   "2026-11-23T02:13:20Z"));
  }
}

TEST_CASE("x error details", "[x]") {
  CHECK(ErrorDetail(Own("reply_error_401.json")) == "Unauthorized");
  CHECK(ErrorDetail("{\"error\":\"invalid_request\",\"error_description\":\"Value passed for the "
                    "token was invalid.\"}") == "Value passed for the token was invalid.");
  CHECK(ErrorDetail("{\"error\":\"invalid_client\"}") == "invalid_client");
  CHECK(ErrorDetail("") == "");
  CHECK(ErrorDetail(Own("reply_error_503.html")) == "");
  CHECK(ErrorDetail("upstream connect error") == "upstream connect error");
  CHECK(ErrorDetail("{\"title\":\"T\\ud800\",\"detail\":\"line\\nbreak\"}") ==
        "T\xEF\xBF\xBD: line break");
  const std::string huge = "{\"detail\":\"" + std::string(5000, 'a') + "\"}";
  CHECK(ErrorDetail(huge).size() <= 404);
}

TEST_CASE("x: a refused app-only bearer token says to replace it", "[x]") {
  const auto error_detail = Descriptor().error_detail;
  REQUIRE(error_detail != nullptr);
  // Polls and conversation fetches: the engine stops the source on a 401.
  const std::string detail = error_detail(Response(Own("reply_error_401.json"), 401));
  CHECK(detail.rfind("Unauthorized (the bearer_token was refused", 0) == 0);
  CHECK(Contains(detail, "app-only tokens do not expire"));
  CHECK(Contains(detail, "replace it, then `earshot sources --reset`"));
  CHECK(error_detail(Response("", 401)).rfind("(the bearer_token was refused", 0) == 0);
  // Other failures keep X's words alone.
  CHECK(error_detail(Response(Own("search_error_400_bad_query.json"), 400)) ==
        "Invalid Request: One or more parameters to your request was invalid.: There were errors "
        "processing your request: Unbalanced parentheses (at position 5)");
  // Replies: the user-context access_token expires after two hours.
  auto published = ParseReply(
      Account(), StoredTweet("1870000000000000105"),
      Response(Own("reply_error_v11_expired_token.json"), 401, "https://api.x.com/2/tweets"));
  REQUIRE_FALSE(published.ok());
  CHECK(published.status().code() == StatusCode::kUnauthenticated);
  CHECK(Contains(published.status().message(), "Invalid or expired token."));
  CHECK(Contains(published.status().message(),
                 "access_token was refused: OAuth 2.0 user tokens expire after two hours"));
}

// -------------------------------------------------------------- metadata ---

TEST_CASE("x descriptor", "[x]") {
  const ConnectorDescriptor& d = Descriptor();
  CHECK(d.name == "x");
  CHECK(d.next_request == &NextRequest);
  CHECK(d.parse == &Parse);
  CHECK(d.read_rate_limit == &ReadRateLimit);
  CHECK(d.auth == nullptr);
  REQUIRE(d.conversation != nullptr);
  CHECK(d.conversation->request == &ConversationRequest);
  CHECK(d.conversation->parse == &ParseConversation);
  REQUIRE(d.reply != nullptr);
  CHECK(d.reply->request == &ReplyRequest);
  CHECK(d.reply->parse == &ParseReply);
  CHECK(d.reply->max_length == 280);
  std::vector<std::string> names;
  for (const ConfigKeySpec& key : d.keys) {
    names.push_back(key.name);
    CHECK_FALSE(key.doc.empty());
    CHECK(key.secret == (key.name == "bearer_token" || key.name == "access_token"));
  }
  CHECK(names == std::vector<std::string>{"query", "bearer_token", "max_results", "access_token"});
  CHECK(d.keys[2].default_value == "100");
  CHECK(d.keys[2].type == ConfigKeySpec::Type::kInteger);
}

TEST_CASE("x tweet ids", "[x]") {
  CHECK(IsTweetId("1870000000000000105"));
  CHECK(IsTweetId("18446744073709551615"));
  CHECK_FALSE(IsTweetId("184467440737095516150"));
  CHECK_FALSE(IsTweetId(""));
  CHECK_FALSE(IsTweetId("12a"));
  CHECK_FALSE(IsTweetId("-1"));
  CHECK(CompareTweetIds("1870000000000000105", "1870000000000000104") > 0);
  CHECK(CompareTweetIds("999999999999999999", "1870000000000000104") < 0);
  CHECK(CompareTweetIds("7", "7") == 0);
  CHECK(CompareTweetIds("1", "") > 0);
}

}  // namespace
}  // namespace earshot
