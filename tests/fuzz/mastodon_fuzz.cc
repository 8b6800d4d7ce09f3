// libFuzzer target for the mastodon connector's readers: the bytes are a
// response body, read as a timeline page, a thread context, a reply answer
// (200, and a refusal whose error entity is read for its message) and a
// search for a status to resolve. Nothing may crash, hang or leak; errors
// are fine. Build: clang++ -fsanitize=fuzzer,address (wired in tests/fuzz/).
#include <cstddef>
#include <cstdint>
#include <string>

#include "connectors/mastodon/mastodon.h"

namespace {

earshot::SourceSpec Source() {
  earshot::SourceSpec source;
  source.name = "fuzz";
  source.connector = "mastodon";
  source.url = "https://social.example";
  source.options["tag"] = std::string("nhs");
  source.options["limit"] = int64_t{40};
  source.options["access_token"] = std::string("fuzz-token");
  return source;
}

earshot::Post Target() {
  earshot::Post post;
  post.platform = "mastodon";
  post.id = "113500000000000402";
  post.uid = "https://social.example/users/pat/statuses/113500000000000402";
  post.ref = "https://social.example";
  return post;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const earshot::SourceSpec source = Source();
  static const earshot::Post target = Target();
  using namespace earshot::connector_mastodon;

  earshot::HttpResponse response;
  response.status = 200;
  response.url = "https://social.example/api/v1/timelines/tag/nhs?limit=40";
  response.body.assign(reinterpret_cast<const char*>(data), size);
  response.headers.Add("Content-Type", "application/json; charset=utf-8");

  earshot::SourceCursor cursor;
  cursor.cursor = "113500000000000100";
  (void)Parse(source, cursor, response);
  (void)Parse(source, earshot::SourceCursor{}, response);
  (void)ParseConversation(source, target, response);
  (void)ParseReply(source, target, response);
  (void)ParseResolvedStatusId(source, target, response);
  response.status = 422;
  (void)ParseReply(source, target, response);
  return 0;
}
