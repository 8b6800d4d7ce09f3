// libFuzzer target for the x connector: the bytes are a 200 response body
// for the search parser (first poll and mid-backlog), the conversation parser
// and the reply parser, and a raw error body and JSON text for the helpers.
// Nothing may crash, hang or return a post whose text is not valid UTF-8.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "connectors/x/x.h"
#include "crawler/core/text.h"

namespace {

using namespace earshot;

const SourceSpec& Source() {
  static const SourceSpec* source = [] {
    auto* s = new SourceSpec;
    s->name = "fuzz";
    s->connector = "x";
    s->url = "https://api.x.com";
    s->options["query"] = std::string("NHS");
    s->options["bearer_token"] = std::string("fuzz-bearer");
    s->options["access_token"] = std::string("fuzz-user");
    s->options["max_results"] = int64_t{100};
    return s;
  }();
  return *source;
}

void CheckPage(const Result<Page>& page) {
  if (!page.ok()) return;
  for (const Post& post : page->posts) {
    if (!IsValidUtf8(post.text) || !IsValidUtf8(post.author_name) ||
        !connector_x::IsTweetId(post.id)) {
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  HttpResponse response;
  response.status = 200;
  response.url = "https://api.x.com/2/tweets/search/recent?query=NHS";
  response.body = body;

  CheckPage(connector_x::Parse(Source(), SourceCursor{}, response));
  SourceCursor paging;
  paging.cursor = "1870000000000000105/1870000000000000050/b26v89c19zqg8o3f";
  CheckPage(connector_x::Parse(Source(), paging, response));

  Post target;
  target.platform = "x";
  target.id = "1870000000000000105";
  target.uid = target.id;
  target.conversation = target.id;
  CheckPage(connector_x::ParseConversation(Source(), target, response));

  response.url = "https://api.x.com/2/tweets";
  response.status = 201;
  (void)connector_x::ParseReply(Source(), target, response);
  response.status = 400;
  (void)connector_x::ParseReply(Source(), target, response);

  (void)connector_x::ErrorDetail(body);
  (void)connector_x::ReplaceLoneSurrogateEscapes(body);
  if (!IsValidUtf8(connector_x::TweetText(body, {{"https://t.co/a", "https://b.example/"}}))) {
    std::abort();
  }
  return 0;
}
