// libFuzzer target: arbitrary bytes as the body of every Discourse answer the
// connector reads (a /posts.json page with and without a walking cursor, a
// topic page, a reply answer, a 429 for the rate-limit reader). Nothing may
// crash, hang or leak; errors are fine.
#include <cstddef>
#include <cstdint>
#include <string>

#include "connectors/discourse/discourse.h"

namespace {

using earshot::HttpResponse;
using earshot::Post;
using earshot::SourceCursor;
using earshot::SourceSpec;

const SourceSpec& Source() {
  static const SourceSpec source = [] {
    SourceSpec s;
    s.name = "fuzz";
    s.connector = "discourse";
    s.url = "https://forum.example.org";
    s.options["api_key"] = std::string("fuzz-key");
    return s;
  }();
  return source;
}

const Post& Target() {
  static const Post post = [] {
    Post p;
    p.platform = "discourse";
    p.id = "905";
    p.uid = "forum.example.org/p/905";
    p.ref = "77/3";
    p.conversation = "77";
    return p;
  }();
  return post;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& d = earshot::connector_discourse::Descriptor();
  HttpResponse response;
  response.status = 200;
  response.url = "https://forum.example.org/posts.json?before=281";
  response.body.assign(reinterpret_cast<const char*>(data), size);

  (void)d.parse(Source(), SourceCursor{}, response);
  (void)d.parse(Source(), SourceCursor{.cursor = "330;before=281;stop=100"}, response);
  (void)d.parse(Source(), SourceCursor{.cursor = "150"}, response);

  response.url = "https://forum.example.org/t/77.json?page=2";
  (void)d.conversation->parse(Source(), Target(), response);

  response.url = "https://forum.example.org/posts.json";
  (void)d.reply->parse(Source(), Target(), response);
  response.status = 422;
  (void)d.reply->parse(Source(), Target(), response);

  response.status = 429;
  response.headers.Add("Date", "Mon, 02 Mar 2026 10:00:00 GMT");
  (void)d.read_rate_limit(response);
  return 0;
}
