// libFuzzer target for the json connector: the input is a 200 response body
// read with two fixed mappings (Algolia-style hits with a time cursor, and a
// Lemmy-style newest-first walk with a body cursor), by the conversation
// parser, and as a Link and rate-limit header value.
#include <cstddef>
#include <cstdint>
#include <string>

#include "connectors/json/json.h"

namespace {

earshot::SourceSpec HitsSource() {
  earshot::SourceSpec source;
  source.name = "fuzz-hits";
  source.connector = "json";
  source.url = "https://api.example/search?numericFilters=created_at_i%3E{cursor}";
  source.options = {
      {"initial_cursor", std::string("0")},
      {"cursor_from", std::string("max_created_at")},
      {"cursor_overlap", int64_t{120}},
      {"items", std::string("/hits")},
      {"id", std::string("/objectID")},
      {"text", std::string("/comment_text")},
      {"text_is_html", true},
      {"title", std::string("/story_title")},
      {"author", std::string("/author")},
      {"created_at", std::string("/created_at_i")},
      {"post_url", std::string("https://news.example/item?id={id}")},
      {"reply_to", std::string("/parent_id")},
      {"conversation", std::string("/story_id")},
      {"conversation_url", std::string("https://api.example/thread/{conversation}?c={cursor}")},
  };
  return source;
}

earshot::SourceSpec WalkSource() {
  earshot::SourceSpec source;
  source.name = "fuzz-walk";
  source.connector = "json";
  source.url = "https://lemmy.example/api/v3/post/list?sort=New&page_cursor={cursor}";
  source.options = {
      {"cursor_from", std::string("body")},
      {"next_cursor", std::string("/next_page")},
      {"page_order", std::string("newest_first")},
      {"items", std::string("/posts")},
      {"id", std::string("/post/id")},
      {"uid", std::string("/post/ap_id")},
      {"title", std::string("/post/name")},
      {"text", std::string("/post/body")},
      {"author", std::string("{/creator/name}@lemmy.example")},
      {"created_at", std::string("/post/published")},
      {"post_url", std::string("/post/ap_id")},
      {"deleted", std::string("/post/deleted")},
      {"removed", std::string("/post/removed")},
      {"language", std::string("en")},
  };
  return source;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const earshot::SourceSpec kHits = HitsSource();
  static const earshot::SourceSpec kWalk = WalkSource();
  const std::string bytes(reinterpret_cast<const char*>(data), size);

  earshot::HttpResponse response;
  response.status = 200;
  response.url = "https://api.example/search";
  response.body = bytes;
  response.headers.Add("Link", bytes);
  response.headers.Add("X-RateLimit-Reset", bytes);
  response.headers.Add("Date", "Sun, 22 Nov 2026 06:59:15 GMT");

  namespace json = earshot::connector_json;
  earshot::SourceCursor cursor;
  (void)json::Parse(kHits, cursor, response);
  cursor.cursor = "1795000000";
  (void)json::Parse(kHits, cursor, response);
  cursor.cursor = "w=1795000000000&n=1795000000500&p=Pa1";
  (void)json::Parse(kWalk, cursor, response);
  cursor.cursor.clear();
  (void)json::Parse(kWalk, cursor, response);
  (void)json::ReadRateLimit(response);

  earshot::Post post;
  post.id = "42";
  post.uid = "api.example:42";
  (void)json::ParseConversation(kHits, post, response);
  response.status = 404;
  (void)json::ParseConversation(kHits, post, response);
  // The bytes as a stored cursor must still give a request or a clean error.
  cursor.cursor = bytes;
  (void)json::NextRequest(kHits, cursor);
  (void)json::NextRequest(kWalk, cursor);
  (void)json::ConversationRequest(kHits, post, bytes);
  return 0;
}
