// libFuzzer target for the feed connector's readers: the bytes are a
// response body, read as a feed page and as an article's comment feed.
// Nothing may crash, hang or leak; errors are fine. Build: clang++
// -fsanitize=fuzzer,address (wired in tests/fuzz/).
#include <cstddef>
#include <cstdint>
#include <string>

#include "connectors/feed/feed.h"

namespace {

earshot::SourceSpec Source() {
  earshot::SourceSpec source;
  source.name = "fuzz";
  source.connector = "feed";
  source.url = "https://blog.example/feed/";
  source.options["max_items"] = int64_t{1000};
  source.options["max_text_bytes"] = int64_t{256 * 1024};
  return source;
}

earshot::Post Article() {
  earshot::Post post;
  post.platform = "feed";
  post.id = "https://blog.example/?p=101";
  post.uid = post.id;
  post.url = "https://blog.example/2026/03/story/";
  post.conversation = post.id;
  post.ref = "https://blog.example/2026/03/story/feed/";
  return post;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const earshot::SourceSpec source = Source();
  static const earshot::Post article = Article();
  using namespace earshot::connector_feed;

  earshot::HttpResponse response;
  response.status = 200;
  response.url = source.url;
  response.body.assign(reinterpret_cast<const char*>(data), size);
  (void)Parse(source, earshot::SourceCursor{}, response);
  response.url = article.ref;
  response.headers.Add("Content-Type", "application/rss+xml; charset=windows-1252");
  (void)ParseConversation(source, article, response);
  return 0;
}
