// Fuzz target: the feed connector's parser over arbitrary bytes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "connectors/feed/feed.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const earshot::SourceSpec* source = [] {
    auto* s = new earshot::SourceSpec();
    s->name = "fuzz";
    s->connector = "feed";
    s->url = "https://example.org/feed.xml";
    return s;
  }();
  earshot::HttpResponse response;
  response.status = 200;
  response.url = source->url;
  response.headers.Add("Content-Type", "application/xml");
  response.body.assign(reinterpret_cast<const char*>(data), size);
  auto page = earshot::connector_feed::Parse(*source, earshot::SourceCursor{}, response);
  (void)page;
  return 0;
}
