// The json connector: the shipped examples' mappings (config/examples) on our
// own fixtures in their APIs' documented shapes (tests/fixtures/json), every
// cursor mode, the config-time validation, and hostile bodies. There are no
// shared recordings for it.
#include "connectors/json/json.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "connectors/json/mapping.h"
#include "connectors/registry.h"
#include "crawler/cli/config.h"
#include "crawler/core/time_format.h"
#include "tests/support/fixtures.h"

namespace earshot {
namespace {

using connector_json::CheckPointer;
using connector_json::CompareIds;
using connector_json::ConversationRequest;
using connector_json::Descriptor;
using connector_json::NextRequest;
using connector_json::Parse;
using connector_json::ParseConversation;
using connector_json::ReadRateLimit;
using connector_json::Validate;

constexpr int64_t kT = 1795000000;  // the HN fixtures' base time
constexpr int64_t kL = 1795100000;  // the Lemmy fixtures' base time

std::optional<std::string> NoEnv(std::string_view) { return std::nullopt; }

// The [[source]] named `name` of a shipped example, as the loader reads it.
SourceSpec ExampleSource(const std::string& file, const std::string& name) {
  auto config = LoadConfig(std::string(EARSHOT_SOURCE_DIR) + "/config/examples/" + file,
                           FindConnector, NoEnv);
  INFO(config.status().ToString());
  REQUIRE(config.ok());
  for (const SourceSpec& source : config->sources) {
    if (source.name == name) return source;
  }
  FAIL("no source " << name << " in " << file);
  return {};
}

// A source with the descriptor's defaults, then `options` on top.
SourceSpec MakeSource(std::string url, std::map<std::string, OptionValue> options) {
  SourceSpec source = DefaultSourceSpec(Descriptor(), "test-json", std::move(url));
  for (auto& [key, value] : options) source.options[key] = std::move(value);
  return source;
}

// The mapping the hostile fixtures are read with (Algolia comment shape).
SourceSpec HitsSource() {
  return MakeSource("https://api.example/search?after={cursor}",
                    {{"items", std::string("/hits")},
                     {"id", std::string("/objectID")},
                     {"text", std::string("/comment_text")},
                     {"text_is_html", true},
                     {"author", std::string("/author")},
                     {"created_at", std::string("/created_at_i")},
                     {"reply_to", std::string("/parent_id")},
                     {"conversation", std::string("/story_id")},
                     {"post_url", std::string("/url")},
                     {"deleted", std::string("/deleted")},
                     {"cursor_from", std::string("max_id")},
                     {"uid_prefix", std::string("hn:")}});
}

HttpResponse Response(std::string body, std::string url = "https://api.example/search") {
  HttpResponse response;
  response.status = 200;
  response.url = std::move(url);
  response.body = std::move(body);
  return response;
}

HttpResponse Fixture(const std::string& name, std::string url = "https://api.example/search") {
  return Response(testing::ReadFile(testing::OwnFixture("json/" + name)), std::move(url));
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

Status ParseFails(const SourceSpec& source, const HttpResponse& response) {
  auto page = Parse(source, SourceCursor{}, response);
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

const Post* FindById(const Page& page, const std::string& id) {
  for (const Post& post : page.posts) {
    if (post.id == id) return &post;
  }
  return nullptr;
}

std::string RequestUrl(const SourceSpec& source, const std::string& cursor = "") {
  SourceCursor state;
  state.cursor = cursor;
  auto request = NextRequest(source, state);
  INFO(request.status().ToString());
  REQUIRE(request.ok());
  return request->url;
}

std::string ValidationError(SourceSpec source) {
  Status status = Validate(source);
  REQUIRE_FALSE(status.ok());
  CHECK(status.code() == StatusCode::kInvalidArgument);
  return status.message();
}

TEST_CASE("json: descriptor documents every key and offers validation and conversations",
          "[json]") {
  const ConnectorDescriptor& d = Descriptor();
  CHECK(d.name == "json");
  CHECK(FindConnector("json") == &d);
  CHECK(d.validate != nullptr);
  REQUIRE(d.conversation != nullptr);
  CHECK(d.reply == nullptr);
  CHECK(d.auth == nullptr);
  std::vector<std::string> secrets;
  for (const ConfigKeySpec& key : d.keys) {
    INFO(key.name);
    CHECK_FALSE(key.doc.empty());
    CHECK(key.name != "url");  // the common key; the item's link is post_url
    if (key.secret) secrets.push_back(key.name);
  }
  CHECK(secrets == std::vector<std::string>{"headers", "token"});
}

TEST_CASE("json: the shipped examples load and pass validation", "[json]") {
  for (const auto& [file, count] :
       {std::pair<std::string, size_t>{"hackernews.toml", 2}, {"lemmy.toml", 1}}) {
    INFO(file);
    auto config = LoadConfig(std::string(EARSHOT_SOURCE_DIR) + "/config/examples/" + file,
                             FindConnector, NoEnv);
    INFO(config.status().ToString());
    REQUIRE(config.ok());
    CHECK(config->sources.size() == count);
    for (const SourceSpec& source : config->sources) {
      CHECK(source.connector == "json");
      CHECK(Validate(source).ok());
    }
  }
}

TEST_CASE("json: Hacker News stories with the example's mapping", "[json]") {
  const SourceSpec source = ExampleSource("hackernews.toml", "hn-nhs-stories");
  CHECK(RequestUrl(source) ==
        "https://hn.algolia.com/api/v1/search_by_date?query=NHS&tags=story&hitsPerPage=100"
        "&numericFilters=created_at_i%3E0");

  const Page page = ParseOk(source, Fixture("hn_stories_page1.json"));
  CHECK(page.skipped_items == 0);
  CHECK(page.warnings.empty());
  REQUIRE(page.posts.size() == 3);
  const Post& ask = page.posts[0];
  CHECK(ask.platform == "json");
  CHECK(ask.id == "46100003");
  CHECK(ask.uid == "hn:46100003");
  CHECK(ask.title == "Ask HN: How do you get an NHS GP appointment before 8am?");
  CHECK(ask.text ==
        "Every morning at 8:00 the phone line at our practice is engaged for 40 minutes.\n\n"
        "Is anyone building something better than the 8am scramble? The practice told me to "
        "\"keep trying\".");
  CHECK(ask.author_handle == "carer_kim");
  CHECK(ask.url == "https://news.ycombinator.com/item?id=46100003");
  CHECK(ask.language == "en");
  REQUIRE(ask.created_at.has_value());
  CHECK(*ask.created_at == FromUnixSeconds(kT + 300));
  // A link story: story_text is null, the title carries it.
  const Post& link = page.posts[1];
  CHECK(link.text.empty());
  CHECK(link.title == "NHS waiting list falls for the third month running");
  // The newest created_at_i is the cursor; one page per poll.
  CHECK(page.next_cursor == std::to_string(kT + 300));
  CHECK(page.caught_up);

  // The next poll asks from two minutes (cursor_overlap) before the cursor.
  CHECK(RequestUrl(source, std::to_string(kT + 300)) ==
        "https://hn.algolia.com/api/v1/search_by_date?query=NHS&tags=story&hitsPerPage=100"
        "&numericFilters=created_at_i%3E" +
            std::to_string(kT + 180));
  const Page second = ParseOk(source, Fixture("hn_stories_page2.json"), std::to_string(kT + 300));
  CHECK(second.posts.size() == 3);  // one repeat, stored once by the store
  CHECK(second.next_cursor == std::to_string(kT + 900));
  // Never backwards: a cursor newer than every item stays.
  CHECK(ParseOk(source, Fixture("hn_stories_page2.json"), std::to_string(kT + 5000))
            .next_cursor.empty());
}

TEST_CASE("json: Hacker News comments carry reply_to and conversation from numbers", "[json]") {
  const SourceSpec source = ExampleSource("hackernews.toml", "hn-nhs-comments");
  const Page page = ParseOk(source, Fixture("hn_comments_page1.json"));
  REQUIRE(page.posts.size() == 3);
  const Post* nurse = FindById(page, "46100012");
  REQUIRE(nurse != nullptr);
  CHECK(nurse->reply_to == "46100002");
  CHECK(nurse->conversation == "46100002");
  CHECK(nurse->title == "NHS waiting list falls for the third month running");
  CHECK(nurse->text == "The figures hide the people waiting for a bed on the ward & in corridors.");
  const Post* kim = FindById(page, "46100011");
  REQUIRE(kim != nullptr);
  CHECK(kim->text == "Try the NHS App: it lists appointments released at 8am.");
  CHECK(page.next_cursor == std::to_string(kT + 700));
}

TEST_CASE("json: Lemmy walks back from the newest page to the posts already seen", "[json]") {
  const SourceSpec source = ExampleSource("lemmy.toml", "lemmy-unitedkingdom");
  const std::string top =
      "https://feddit.uk/api/v3/post/list?community_name=unitedkingdom&type_=All&sort=New"
      "&limit=50";
  // No cursor yet: page_cursor is left out rather than sent empty.
  CHECK(RequestUrl(source) == top);

  // First poll: the newest page only; its newest post is the watermark.
  const Page first = ParseOk(source, Fixture("lemmy_post_list_page1.json"));
  CHECK(first.caught_up);
  REQUIRE(first.posts.size() == 3);
  const Post& clerk = first.posts[0];
  CHECK(clerk.id == "1010");
  CHECK(clerk.uid == "https://feddit.example/post/1010");
  CHECK(clerk.url == "https://feddit.example/post/1010");
  CHECK(clerk.title == "Blood test results took three weeks at Northgate General");
  CHECK(Contains(clerk.text, "**Three weeks** for a routine blood test"));
  CHECK(clerk.author_handle == "https://feddit.example/u/ward_clerk");
  CHECK(clerk.author_name == "ward_clerk");
  REQUIRE(clerk.created_at.has_value());
  const int64_t watermark = ToUnixMillis(*clerk.created_at);
  CHECK(watermark / 1000 == kL + 1000);
  // A link post without a body: kept for its title.
  CHECK(first.posts[2].text.empty());
  CHECK(first.posts[2].uid == "https://lemmy.example/post/1008");
  const std::string after_first = "w=" + std::to_string(watermark);
  CHECK(first.next_cursor == after_first);

  // Next poll: from the top again; a full page of new posts continues the walk.
  CHECK(RequestUrl(source, after_first) == top);
  const Page second = ParseOk(source, Fixture("lemmy_post_list_page2.json"), after_first);
  CHECK_FALSE(second.caught_up);
  std::vector<std::string> ids;
  for (const Post& post : second.posts) ids.push_back(post.id);
  CHECK(ids == std::vector<std::string>{"990", "1014", "1012"});
  REQUIRE(second.deletions.size() == 1);
  CHECK(second.deletions[0].uid == "https://feddit.example/post/1013");
  CHECK(second.deletions[0].reason == "deleted by its author");
  const std::string newest = std::to_string(ToUnixMillis(*FindById(second, "1014")->created_at));
  CHECK(second.next_cursor == after_first + "&n=" + newest + "&p=Pa1012");
  CHECK(RequestUrl(source, second.next_cursor) == top + "&page_cursor=Pa1012");

  // The older page reaches the watermark: the walk ends, the watermark moves.
  const Page third = ParseOk(source, Fixture("lemmy_post_list_page3.json"), second.next_cursor);
  CHECK(third.caught_up);
  CHECK(third.next_cursor == "w=" + newest);
  CHECK(third.posts.size() == 2);  // 1010 and 1009 again: stored once
  REQUIRE(third.deletions.size() == 1);
  CHECK(third.deletions[0].reason == "removed by moderators");
  CHECK(RequestUrl(source, third.next_cursor) == top);
}

TEST_CASE("json: a top-level array, pointer escapes, templates, times in milliseconds", "[json]") {
  const SourceSpec source = MakeSource("https://forum.example/api/latest.json",
                                       {{"id", std::string("/id")},
                                        {"text", std::string("/body")},
                                        {"text_is_html", true},
                                        {"title", std::string("/a~1b/c~0d")},
                                        {"author", std::string("@{/author/handle}")},
                                        {"author_name", std::string("/author/name")},
                                        {"created_at", std::string("/ts")},
                                        {"post_url", std::string("/path")},
                                        {"reply_to", std::string("/thread/parent")},
                                        {"conversation", std::string("/thread/root")},
                                        {"language", std::string("/lang")}});
  const Page page =
      ParseOk(source, Fixture("generic_array.json", "https://forum.example/api/latest.json"));
  CHECK(page.skipped_items == 0);
  REQUIRE(page.posts.size() == 3);
  const Post& first = page.posts[0];
  CHECK(first.id == "9001");
  CHECK(first.uid == "forum.example:9001");  // the default uid_prefix
  CHECK(first.text == "The phlebotomy clinic at Riverside Health Centre now opens at 7:30.");
  CHECK(first.author_handle == "@clinic_news");
  CHECK(first.author_name == "Clinic News");
  CHECK(first.url == "https://forum.example/posts/9001");  // resolved against the response
  CHECK(first.reply_to == "9000");
  CHECK(first.conversation == "9000");
  CHECK(first.language == "en");
  REQUIRE(first.created_at.has_value());
  CHECK(ToUnixMillis(*first.created_at) == 1795000000123);  // auto: a number >= 1e11 is ms
  const Post& second = page.posts[1];
  CHECK(second.text == "Second post, plain text.\n\nWith a second paragraph.");
  CHECK(second.url == "https://other.example/p/9002");
  CHECK(ToUnixMillis(*second.created_at) == 1795000060000);  // a digit string, too
  CHECK(second.author_name.empty());
  const Post& third = page.posts[2];
  CHECK(third.title == "pointer escapes work");
  CHECK(third.author_handle.empty());  // a template with a missing value is absent
  CHECK(third.url.empty());
  CHECK(page.next_cursor.empty());  // cursor_from = "none"
}

TEST_CASE("json: values of the wrong type are converted, or skipped and named", "[json]") {
  const Page page = ParseOk(HitsSource(), Fixture("hostile_wrong_types.json"));
  std::vector<std::string> ids;
  for (const Post& post : page.posts) ids.push_back(post.id);
  CHECK(ids == std::vector<std::string>{"46200002", "46200005", "46200006", "46200008", "46200009",
                                        "46200010", "46200011"});
  CHECK(page.skipped_items == 8);
  CHECK(AnyWarningContains(page,
                           "item 0: `id` \"/objectID\" is an object, expected a string or "
                           "number; skipped"));
  CHECK(AnyWarningContains(page, "item 2 (id 46200003): `text` \"/comment_text\" is an object"));
  CHECK(AnyWarningContains(page, "item 3 (id 46200004): `text` \"/comment_text\" is an array"));
  CHECK(AnyWarningContains(page, "item 6: `id` \"/objectID\" is a boolean"));
  CHECK(AnyWarningContains(page, "item 11: is a string, expected an object; skipped"));
  CHECK(AnyWarningContains(page, "item 12: is a number"));
  CHECK(AnyWarningContains(page, "item 13: is null"));
  CHECK(AnyWarningContains(page, "item 14: no id at `id` \"/objectID\"; skipped"));

  const Post* numeric = FindById(page, "46200002");
  REQUIRE(numeric != nullptr);
  CHECK(numeric->uid == "hn:46200002");
  CHECK(numeric->reply_to == "46200001");
  CHECK(numeric->conversation == "46100002");
  CHECK(FindById(page, "46200005")->text == "1234.5");
  // Optional fields of the wrong type are left empty with a warning.
  const Post* odd = FindById(page, "46200006");
  REQUIRE(odd != nullptr);
  CHECK(odd->author_handle.empty());
  CHECK_FALSE(odd->created_at.has_value());
  CHECK(odd->reply_to.empty());
  CHECK(
      AnyWarningContains(page, "`author` \"/author\" is an array, expected a string; left empty"));
  CHECK(AnyWarningContains(page, "`created_at` \"/created_at_i\" \"yesterday\""));
  CHECK(AnyWarningContains(page, "`reply_to` \"/parent_id\" is a boolean"));
  // An integral double id; a fractional Unix time keeps its milliseconds.
  const Post* dbl = FindById(page, "46200008");
  REQUIRE(dbl != nullptr);
  CHECK(ToUnixMillis(*dbl->created_at) == 1795000008750);
  CHECK_FALSE(FindById(page, "46200010")->created_at.has_value());
  CHECK(AnyWarningContains(page, "out of range"));
  // Only http(s) links reach the inbox.
  CHECK(FindById(page, "46200011")->url.empty());
  CHECK(AnyWarningContains(page, "\"javascript:alert(1)\" is not an http(s) URL"));
  // The cursor is the highest id read, skipped items included.
  CHECK(page.next_cursor == "46200011");
}

TEST_CASE("json: missing ids and texts are skipped and counted, duplicates are one post",
          "[json]") {
  const Page page = ParseOk(HitsSource(), Fixture("hostile_missing_fields.json"));
  std::vector<std::string> ids;
  for (const Post& post : page.posts) ids.push_back(post.id);
  CHECK(ids == std::vector<std::string>{"46200108", "46200109"});
  CHECK(FindById(page, "46200109")->text == "Duplicate inside one page, first copy.");
  CHECK(page.skipped_items == 8);
  CHECK(AnyWarningContains(page, "item 0: no id at `id` \"/objectID\"; skipped"));
  CHECK(AnyWarningContains(page, "item 1: no id"));
  CHECK(AnyWarningContains(page, "item 2: no id"));
  CHECK(AnyWarningContains(page, "item 3 (id 46200104): no text at `text` \"/comment_text\""));
  CHECK(AnyWarningContains(page, "item 6 (id 46200107): no text"));  // "<p></p>"
  CHECK(AnyWarningContains(page, "item 10: no id"));
  CHECK_FALSE(FindById(page, "46200108")->created_at.has_value());
}

TEST_CASE("json: unreadable bodies are parse errors naming the URL and position", "[json]") {
  const SourceSpec source = HitsSource();
  Status truncated = ParseFails(source, Fixture("truncated.json"));
  CHECK(truncated.code() == StatusCode::kParseError);
  CHECK(Contains(truncated.message(), "https://api.example/search"));
  CHECK(Contains(truncated.message(), "at byte 700"));
  CHECK(Contains(truncated.message(), "the body ends early"));

  Status html = ParseFails(source, Fixture("not_json.html"));
  CHECK(html.code() == StatusCode::kParseError);
  CHECK(Contains(html.message(), "at byte 0 (line 1, column 1)"));

  Status not_array = ParseFails(source, Fixture("hits_not_array.json"));
  CHECK(Contains(not_array.message(), "`items` \"/hits\" is an object, expected an array"));

  Status error_body = ParseFails(source, Fixture("error_body.json"));
  CHECK(Contains(error_body.message(), "no value at `items` \"/hits\""));
  CHECK(Contains(error_body.message(), "top-level keys: message, status"));
  CHECK(Contains(error_body.message(), "the body says \"invalid parameter: numericFilters\""));

  // The body itself must be the array when `items` is "".
  SourceSpec top_level = source;
  top_level.options.erase("items");
  Status object_body = ParseFails(top_level, Fixture("error_body.json"));
  CHECK(Contains(object_body.message(), "the body is an object, expected an array of items"));

  for (const std::string& body : {std::string(), std::string("   "), std::string("nul"),
                                  std::string(3000, '[') + std::string(3000, ']')}) {
    INFO(body.substr(0, 20));
    CHECK(ParseFails(source, Response(body)).code() == StatusCode::kParseError);
  }
}

TEST_CASE("json: invalid UTF-8 is repaired with a warning", "[json]") {
  const Page page = ParseOk(HitsSource(), Fixture("invalid_utf8.json"));
  REQUIRE(page.posts.size() == 1);
  CHECK(Contains(page.posts[0].text, "\xEF\xBF\xBD"));  // U+FFFD
  CHECK(Contains(page.posts[0].text, "outpatients wing"));
  CHECK(AnyWarningContains(page, "not valid UTF-8"));
}

TEST_CASE("json: a huge array is read whole, warnings are capped", "[json]") {
  std::string body = "{\"hits\":[";
  constexpr int kItems = 20000;
  for (int i = 0; i < kItems; ++i) {
    if (i > 0) body += ",";
    // Every tenth item has no text.
    body += "{\"objectID\":\"" + std::to_string(i + 1) + "\"" +
            (i % 10 == 0 ? std::string() : ",\"comment_text\":\"post " + std::to_string(i) + "\"") +
            ",\"created_at_i\":" + std::to_string(kT + i) + "}";
  }
  body += "]}";
  const Page page = ParseOk(HitsSource(), Response(body));
  CHECK(page.posts.size() == kItems - kItems / 10);
  CHECK(page.skipped_items == kItems / 10);
  CHECK(page.warnings.size() == 51);
  CHECK(page.warnings.back() == "1950 more warning(s) not shown");
  CHECK(page.next_cursor == std::to_string(kItems));
}

TEST_CASE("json: validation names the key and what is wrong with it", "[json]") {
  const SourceSpec good = HitsSource();
  CHECK(Validate(good).ok());
  auto with = [&](std::string key, OptionValue value) {
    SourceSpec source = good;
    source.options[key] = std::move(value);
    return source;
  };
  auto without = [&](std::string key) {
    SourceSpec source = good;
    source.options.erase(key);
    return source;
  };
  CHECK(Contains(ValidationError(without("id")), "`id`: is required"));
  CHECK(Contains(ValidationError(with("id", std::string("objectID"))),
                 "`id`: \"objectID\" is not a JSON pointer: write \"/objectID\""));
  CHECK(Contains(ValidationError(with("items", std::string("/hits~2"))),
                 "`items`: \"/hits~2\": '~' must be followed by 0"));
  {
    SourceSpec source = without("text");
    CHECK(Contains(ValidationError(source), "`text`: is required (or `title`)"));
    source.options["title"] = std::string("/title");
    CHECK(Validate(source).ok());
  }
  CHECK(Contains(ValidationError(with("title", std::string("title"))),
                 "`title`: \"title\" is neither a JSON pointer"));
  CHECK(Validate(with("language", std::string("en"))).ok());  // a constant is fine here
  CHECK(Contains(ValidationError(with("post_url", std::string("https://x.example/{idd}"))),
                 "`post_url`: unknown placeholder {idd}"));
  CHECK(Contains(ValidationError(with("post_url", std::string("https://x.example/{id"))),
                 "has no closing '}'"));
  CHECK(Contains(ValidationError(with("created_at_format", std::string("epoch"))),
                 "`created_at_format`: \"epoch\" is not one of \"auto\", \"iso8601\""));
  CHECK(Contains(ValidationError(with("cursor_from", std::string("body"))),
                 "`next_cursor`: is required with cursor_from = \"body\""));
  CHECK(Contains(ValidationError(with("next_cursor", std::string("/next"))),
                 "`next_cursor`: is only read with cursor_from = \"body\""));
  CHECK(Contains(ValidationError(with("page_order", std::string("newest_first"))),
                 "`page_order`: applies to cursor_from = \"body\" or \"link\" only"));
  CHECK(Contains(ValidationError(with("cursor_overlap", int64_t{60})),
                 "`cursor_overlap`: applies to cursor_from = \"max_created_at\" only"));
  CHECK(Contains(ValidationError(with("cursor_overlap", int64_t{-1})), "between 0 and"));
  {
    SourceSpec source = with("cursor_from", std::string("max_created_at"));
    source.options.erase("created_at");
    CHECK(Contains(ValidationError(source), "`created_at`: is required with cursor_from"));
  }
  {
    SourceSpec source = good;
    source.url = "https://api.example/search";
    CHECK(Contains(ValidationError(source), "`url`: has no {cursor} placeholder"));
    source.url = "https://api.example/search?q={query}";
    CHECK(
        Contains(ValidationError(source), "`url`: unknown placeholder {query} (known: {cursor})"));
    source.url = "ftp://api.example/{cursor}";
    CHECK(Contains(ValidationError(source), "`url`: must start with http:// or https://"));
    source.url = "";
    CHECK(Contains(ValidationError(source), "`url`: is required"));
    // {cursor} inside a larger value needs a first value.
    source.url = "https://api.example/search?f=created>{cursor}";
    CHECK(Contains(ValidationError(source), "`initial_cursor`: must be set"));
    source.options["initial_cursor"] = std::string("0");
    CHECK(Validate(source).ok());
  }
  CHECK(Contains(ValidationError(with("headers", std::vector<std::string>{"X-Key secret"})),
                 "`headers`: each entry must be \"Name: value\""));
  const std::string bad_header =
      ValidationError(with("headers", std::vector<std::string>{"Bad Name: s3cr3t-value"}));
  CHECK_FALSE(Contains(bad_header, "s3cr3t-value"));  // never a credential in a message
  CHECK(
      Contains(ValidationError(with("conversation_url", std::string("https://x.example/{cursr}"))),
               "`conversation_url`: unknown placeholder {cursr}"));
  CHECK(Contains(ValidationError(with("token_header", std::string("X Key"))),
                 "`token_header`: \"X Key\" is not a header name"));
  // Next_request and parse refuse the same mistakes, naming the source.
  SourceSpec broken = with("id", std::string("objectID"));
  auto request = NextRequest(broken, SourceCursor{});
  REQUIRE_FALSE(request.ok());
  CHECK(request.status().code() == StatusCode::kInvalidArgument);
  CHECK(Contains(request.status().message(), "source \"test-json\" (json): `id`:"));
  CHECK(Parse(broken, SourceCursor{}, Fixture("hn_comments_page1.json")).status().code() ==
        StatusCode::kInvalidArgument);
}

TEST_CASE("json: config check reports a bad mapping at the key's line with the source name",
          "[json]") {
  const std::string text =
      "[[source]]\n"
      "name = \"hn\"\n"
      "connector = \"json\"\n"
      "url = \"https://hn.algolia.com/api/v1/search_by_date?query=NHS\"\n"
      "items = \"/hits\"\n"
      "id = \"objectID\"\n"
      "text = \"/comment_text\"\n";
  auto config = ParseConfig(text, "earshot.toml", FindConnector, NoEnv);
  REQUIRE_FALSE(config.ok());
  CHECK(config.status().code() == StatusCode::kInvalidArgument);
  CHECK(Contains(config.status().message(),
                 "earshot.toml:6:6: source \"hn\" (connector json): `id`: \"objectID\" is not a "
                 "JSON pointer"));
  // A problem of the table as a whole points at the table.
  auto missing = ParseConfig(
      "[[source]]\nname = \"hn\"\nconnector = \"json\"\n"
      "url = \"https://hn.algolia.com/api/v1/search_by_date\"\nid = \"/objectID\"\n",
      "earshot.toml", FindConnector, NoEnv);
  REQUIRE_FALSE(missing.ok());
  CHECK(Contains(missing.status().message(),
                 "earshot.toml:1:1: source \"hn\" (connector json): "
                 "`text`: is required"));
}

TEST_CASE("json: URL templates leave out an empty whole-value cursor and encode the rest",
          "[json]") {
  using connector_json::ExpandUrlTemplate;
  using connector_json::ParseTemplate;
  auto expand = [](const std::string& text, const std::string& cursor) {
    auto parts = ParseTemplate(text, {"cursor"}, false);
    REQUIRE(parts.ok());
    return ExpandUrlTemplate(*parts, {{"cursor", cursor}});
  };
  CHECK(expand("https://a.example/x?after={cursor}", "") == "https://a.example/x");
  CHECK(expand("https://a.example/x?q=1&after={cursor}&n=2", "") == "https://a.example/x?q=1&n=2");
  CHECK(expand("https://a.example/x?after={cursor}#top", "") == "https://a.example/x#top");
  CHECK(expand("https://a.example/x?after={cursor}", "a b&c/d") ==
        "https://a.example/x?after=a%20b%26c%2Fd");
  CHECK(expand("https://a.example/x?f=t%3E{cursor}", "") == "https://a.example/x?f=t%3E");
  CHECK(expand("https://a.example/p/{cursor}/x", "7") == "https://a.example/p/7/x");
}

TEST_CASE("json: cursor from the body, read forwards", "[json]") {
  SourceSpec source = HitsSource();
  source.options["cursor_from"] = std::string("body");
  source.options["next_cursor"] = std::string("/next");
  const std::string with_next = R"({"hits":[{"objectID":"1","comment_text":"one"}],"next":"c2"})";
  Page page = ParseOk(source, Response(with_next), "c1");
  CHECK(page.next_cursor == "c2");
  CHECK_FALSE(page.caught_up);
  CHECK(RequestUrl(source, "c2") == "https://api.example/search?after=c2");
  CHECK(RequestUrl(source) == "https://api.example/search");
  // The same cursor again, none at all, or an empty page: caught up.
  page = ParseOk(source, Response(with_next), "c2");
  CHECK(page.next_cursor.empty());
  CHECK(page.caught_up);
  page = ParseOk(source,
                 Response(R"({"hits":[{"objectID":"1","comment_text":"one"}],"next":null})"), "c2");
  CHECK(page.next_cursor.empty());
  CHECK(page.caught_up);
  page = ParseOk(source, Response(R"({"hits":[],"next":"c3"})"), "c2");
  CHECK(page.next_cursor == "c3");
  CHECK(page.caught_up);
  // A number is a cursor too; an object is not.
  CHECK(ParseOk(source, Response(R"({"hits":[],"next":40})"), "c2").next_cursor == "40");
  page = ParseOk(source, Response(R"({"hits":[],"next":{"a":1}})"), "c2");
  CHECK(page.next_cursor.empty());
  CHECK(AnyWarningContains(page, "`next_cursor` \"/next\" is an object"));
}

TEST_CASE("json: cursor from the Link header stays on the source's host", "[json]") {
  SourceSpec source = HitsSource();
  source.url = "https://api.example/items?per_page=50";
  source.options["cursor_from"] = std::string("link");
  const std::string body = R"({"hits":[{"objectID":"5","comment_text":"five"}]})";
  HttpResponse response = Response(body, "https://api.example/items?per_page=50");
  response.headers.Add("Link",
                       "</items?per_page=50&page=2>; rel=\"next\", </items>; rel=\"first\"");
  Page page = ParseOk(source, response);
  CHECK(page.next_cursor == "https://api.example/items?per_page=50&page=2");
  CHECK_FALSE(page.caught_up);
  CHECK(RequestUrl(source, page.next_cursor) == page.next_cursor);

  HttpResponse away = Response(body, "https://api.example/items?per_page=50");
  away.headers.Add("Link", "<https://evil.example/steal>; rel=\"next\"");
  page = ParseOk(source, away);
  CHECK(page.next_cursor.empty());
  CHECK(AnyWarningContains(page, "points away from api.example"));
  // A stored cursor on another host is never requested.
  CHECK(RequestUrl(source, "https://evil.example/steal") ==
        "https://api.example/items?per_page=50");

  source.options["link_rel"] = std::string("prev");
  HttpResponse prev = Response(body, "https://api.example/items");
  prev.headers.Add("Link", "<https://api.example/items?min_id=9>; rel=\"prev\"");
  CHECK(ParseOk(source, prev).next_cursor == "https://api.example/items?min_id=9");
}

TEST_CASE("json: max_id compares numbers of any length and never moves back", "[json]") {
  CHECK(CompareIds("9", "10") < 0);
  CHECK(CompareIds("00010", "9") > 0);
  CHECK(CompareIds("123456789012345678901234567890", "99") > 0);
  CHECK(CompareIds("abc", "abd") < 0);
  CHECK(CompareIds("", "1") < 0);
  CHECK(CompareIds("42", "42") == 0);

  const SourceSpec source = HitsSource();
  const std::string body =
      R"({"hits":[{"objectID":"98","comment_text":"a"},{"objectID":"100","comment_text":"b"},)"
      R"({"objectID":"99","comment_text":"c"}]})";
  CHECK(ParseOk(source, Response(body)).next_cursor == "100");
  CHECK(ParseOk(source, Response(body), "99").next_cursor == "100");
  CHECK(ParseOk(source, Response(body), "1000").next_cursor.empty());
  CHECK(RequestUrl(source, "100") == "https://api.example/search?after=100");
  // A walk cursor left by another cursor_from is not an id.
  CHECK(ParseOk(source, Response(body), "w=5").next_cursor == "100");
  CHECK(RequestUrl(source, "w=5") == "https://api.example/search");
}

TEST_CASE("json: max_created_at writes the cursor in the chosen format", "[json]") {
  SourceSpec source = HitsSource();
  source.options["cursor_from"] = std::string("max_created_at");
  const std::string body =
      R"({"hits":[{"objectID":"1","comment_text":"a","created_at_i":1795000000.9},)"
      R"({"objectID":"2","comment_text":"b","created_at_i":1794999000}]})";
  CHECK(ParseOk(source, Response(body)).next_cursor == "1795000000");  // floored
  source.options["cursor_time_format"] = std::string("unix_ms");
  CHECK(ParseOk(source, Response(body)).next_cursor == "1795000000900");
  source.options["cursor_time_format"] = std::string("iso8601");
  const Page page = ParseOk(source, Response(body));
  CHECK(page.next_cursor == "2026-11-18T11:06:40.900Z");
  source.options["cursor_overlap"] = int64_t{60};
  CHECK(RequestUrl(source, page.next_cursor) ==
        "https://api.example/search?after=2026-11-18T11%3A05%3A40.900Z");
  // An unreadable stored cursor counts as none.
  CHECK(RequestUrl(source, "yesterday") == "https://api.example/search");
}

TEST_CASE("json: request headers, token and conditional GET", "[json]") {
  SourceSpec source = HitsSource();
  source.options["token"] = std::string("t0k3n");
  source.options["headers"] =
      std::vector<std::string>{"Accept: application/vnd.api+json", "X-Client:  earshot "};
  SourceCursor cursor;
  cursor.etag = "\"v1\"";
  cursor.last_modified = "Sat, 21 Nov 2026 09:00:00 GMT";
  auto request = NextRequest(source, cursor);
  REQUIRE(request.ok());
  CHECK(request->method == "GET");
  CHECK(request->headers.GetAll("Accept") ==
        std::vector<std::string_view>{"application/vnd.api+json"});
  CHECK(request->headers.Get("X-Client") == "earshot");
  CHECK(request->headers.Get("Authorization") == "Bearer t0k3n");
  // Validators only where every poll asks the same URL.
  CHECK_FALSE(request->headers.Get("If-None-Match").has_value());
  source.options["cursor_from"] = std::string("none");
  request = NextRequest(source, cursor);
  REQUIRE(request.ok());
  CHECK(request->headers.Get("If-None-Match") == "\"v1\"");
  CHECK(request->headers.Get("If-Modified-Since") == "Sat, 21 Nov 2026 09:00:00 GMT");

  source.options["token_header"] = std::string("X-Api-Key");
  source.options["token_scheme"] = std::string("");
  request = NextRequest(source, SourceCursor{});
  REQUIRE(request.ok());
  CHECK(request->headers.Get("X-Api-Key") == "t0k3n");
  CHECK_FALSE(request->headers.Get("Authorization").has_value());
}

TEST_CASE("json: rate-limit headers in the common dialects", "[json]") {
  HttpResponse response;
  response.status = 429;
  response.headers.Add("X-RateLimit-Limit", "100");
  response.headers.Add("X-RateLimit-Remaining", "0");
  response.headers.Add("X-RateLimit-Reset", "1795000600");
  RateLimitInfo info = ReadRateLimit(response);
  CHECK(info.limit == 100);
  CHECK(info.remaining == 0);
  CHECK(info.reset == FromUnixSeconds(1795000600));

  HttpResponse relative;
  relative.headers.Add("RateLimit-Remaining", "598.0");
  relative.headers.Add("RateLimit-Reset", "30");
  relative.headers.Add("Date", FormatHttpDate(FromUnixSeconds(kT)));
  info = ReadRateLimit(relative);
  CHECK(info.remaining == 598);
  CHECK(info.reset == FromUnixSeconds(kT + 30));
  relative.headers = {};
  relative.headers.Add("RateLimit-Reset", "30");  // no Date: unknown
  CHECK_FALSE(ReadRateLimit(relative).reset.has_value());

  HttpResponse iso;
  iso.headers.Add("X-RateLimit-Reset", "2026-11-22T07:05:00Z");
  iso.headers.Add("X-RateLimit-Remaining", "lots");
  info = ReadRateLimit(iso);
  CHECK(info.reset == ParseIso8601("2026-11-22T07:05:00Z").value());
  CHECK_FALSE(info.remaining.has_value());
  CHECK(ReadRateLimit(HttpResponse{}).empty());
}

TEST_CASE("json: conversation fetch with the same mapping, 404 is a deletion", "[json]") {
  const SourceSpec source = ExampleSource("hackernews.toml", "hn-nhs-comments");
  Post comment;
  comment.id = "46100012";
  comment.uid = "hn:46100012";
  comment.conversation = "46100002";
  auto request = ConversationRequest(source, comment, "");
  REQUIRE(request.ok());
  CHECK(request->url ==
        "https://hn.algolia.com/api/v1/search_by_date?tags=comment,story_46100002"
        "&hitsPerPage=1000");
  Post story;
  story.id = "46100003";
  request = ConversationRequest(source, story, "");
  REQUIRE(request.ok());
  CHECK(Contains(request->url, "story_46100003"));

  HttpResponse thread = Fixture("hn_story_comments.json", request->url);
  auto page = ParseConversation(source, comment, thread);
  REQUIRE(page.ok());
  REQUIRE(page->posts.size() == 2);
  for (const Post& post : page->posts) CHECK(post.conversation == "46100002");
  CHECK(page->caught_up);

  for (int status : {404, 410}) {
    HttpResponse gone;
    gone.status = status;
    gone.body = R"({"message":"not found"})";
    page = ParseConversation(source, comment, gone);
    REQUIRE(page.ok());
    REQUIRE(page->deletions.size() == 1);
    CHECK(page->deletions[0].uid == "hn:46100012");
    CHECK(Contains(page->deletions[0].reason, "not found on re-fetch"));
  }
  HttpResponse forbidden;
  forbidden.status = 403;
  forbidden.url = "https://hn.algolia.com/x";
  forbidden.body = R"({"message":"Invalid Application-ID or API key","status":403})";
  page = ParseConversation(source, comment, forbidden);
  REQUIRE_FALSE(page.ok());
  CHECK(page.status().code() == StatusCode::kPermissionDenied);
  CHECK(Contains(page.status().message(), "Invalid Application-ID or API key"));
  HttpResponse down;
  down.status = 503;
  down.body = "<html>busy</html>";
  page = ParseConversation(source, comment, down);
  REQUIRE_FALSE(page.ok());
  CHECK(page.status().code() == StatusCode::kUnavailable);
  HttpResponse garbage = Response("{\"hits\":[", request->url);
  CHECK(ParseConversation(source, comment, garbage).status().code() == StatusCode::kParseError);

  // Without conversation_url the capability declines, naming the key.
  const SourceSpec stories = ExampleSource("hackernews.toml", "hn-nhs-stories");
  request = ConversationRequest(stories, story, "");
  REQUIRE_FALSE(request.ok());
  CHECK(Contains(request.status().message(), "`conversation_url` is not set"));
}

TEST_CASE("json: CheckPointer follows RFC 6901", "[json]") {
  CHECK(CheckPointer("").ok());
  CHECK(CheckPointer("/").ok());
  CHECK(CheckPointer("/a/0/b~0c~1d").ok());
  CHECK_FALSE(CheckPointer("a").ok());
  CHECK_FALSE(CheckPointer("/a~").ok());
  CHECK_FALSE(CheckPointer("/a~2").ok());
}

}  // namespace
}  // namespace earshot
