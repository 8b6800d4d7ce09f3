// libFuzzer target for the bluesky connector: the input is a response body,
// fed to every reader (search page in each cursor state, thread, session,
// reply) as a 200 and, for the readers of failures, as a 400. Nothing may
// crash, hang or leak; every result is either a value or a Status.
#include <cstddef>
#include <cstdint>
#include <string>

#include "connectors/bluesky/bluesky.h"

namespace {

using namespace earshot;                     // NOLINT
using namespace earshot::connector_bluesky;  // NOLINT

SourceSpec FuzzSource() {
  SourceSpec source;
  source.name = "fuzz";
  source.connector = "bluesky";
  source.url = "https://bsky.example";
  source.options["query"] = std::string("nhs");
  source.options["limit"] = int64_t{100};
  return source;
}

Post FuzzTarget() {
  Post post;
  post.platform = "bluesky";
  post.uid = "at://did:plc:fuzzfuzzfuzzfuzzfuzzfuzz/app.bsky.feed.post/3mfuzz0000002";
  post.id = post.uid;
  post.ref =
      "{\"uri\":\"at://did:plc:fuzzfuzzfuzzfuzzfuzzfuzz/app.bsky.feed.post/3mfuzz0000002\","
      "\"cid\":\"bafyreifuzzfuzz\",\"root\":{\"uri\":\"at://did:plc:fuzzfuzzfuzzfuzzfuzzfuzz/"
      "app.bsky.feed.post/3mfuzz0000002\",\"cid\":\"bafyreifuzzfuzz\"}}";
  return post;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const SourceSpec source = FuzzSource();
  static const Post target = FuzzTarget();
  HttpResponse response;
  response.status = 200;
  response.url = "https://bsky.example/xrpc/app.bsky.feed.searchPosts?q=nhs";
  response.body.assign(reinterpret_cast<const char*>(data), size);
  response.headers.Add("RateLimit-Reset", "120");
  response.headers.Add("Date", "Sat, 21 Nov 2026 10:00:00 GMT");

  for (const char* cursor :
       {"", "2026-11-21T10:00:00Z", "2026-11-21T09:58:00Z 2026-11-21T10:00:00Z 25"}) {
    SourceCursor state;
    state.cursor = cursor;
    auto page = Parse(source, state, response);
    if (page.ok()) {
      // What a later request would be built from must still be buildable.
      state.cursor = page->next_cursor.empty() ? state.cursor : page->next_cursor;
      (void)NextRequest(source, state);
      for (const Post& post : page->posts) {
        ReplyDraft draft;
        draft.body = post.text.substr(0, 280);
        draft.idempotency_key = post.uid;
        draft.created_at = FromUnixSeconds(1795255200);
        AuthSession session;
        session.access_token = "a";
        session.account = "did:plc:fuzzfuzzfuzzfuzzfuzzfuzz";
        (void)ReplyRequest(source, &session, post, draft);
      }
    }
  }
  (void)ReadRateLimit(response);
  (void)ParseConversation(source, target, response);
  (void)ParseSession(source, response, FromUnixSeconds(1795255200));
  (void)ParseReply(source, target, response);
  (void)JwtExpiry(response.body);

  response.status = 400;
  (void)ParseConversation(source, target, response);
  (void)ParseSession(source, response, FromUnixSeconds(1795255200));
  (void)ParseReply(source, target, response);
  return 0;
}
