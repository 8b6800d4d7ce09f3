// libFuzzer target for the reddit connector: the bytes are a 200 response
// body for the listing parser, the conversation parser, the reply parser
// and the session parser, and a cursor for the request builders. Nothing
// may crash, hang or leak; every answer is a value or a Status.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "connectors/reddit/reddit.h"

namespace {

using namespace earshot;  // NOLINT: a fuzz target's one translation unit

const SourceSpec& Source() {
  static const SourceSpec source = [] {
    SourceSpec s;
    s.name = "fuzz";
    s.connector = "reddit";
    s.url = "https://oauth.reddit.com";
    s.options["subreddit"] = std::string("NHS");
    s.options["limit"] = int64_t{100};
    s.options["client_id"] = std::string("fuzz-app");
    s.options["client_secret"] = std::string("fuzz-secret");
    s.options["username"] = std::string("FuzzTrust");
    s.options["password"] = std::string("fuzz-password");
    return s;
  }();
  return source;
}

Post Stored() {
  Post post;
  post.platform = "reddit";
  post.id = "t1_k00005";
  post.uid = "t1_k00005";
  post.conversation = "t3_1h0b000";
  return post;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  HttpResponse response;
  response.status = 200;
  response.url = "https://oauth.reddit.com/r/NHS/new.json?limit=100&raw_json=1";
  response.body = bytes;
  response.headers.Add("x-ratelimit-remaining", bytes.substr(0, 16));
  response.headers.Add("x-ratelimit-reset", bytes.substr(0, 8));
  response.headers.Add("Date", "Sun, 22 Nov 2026 07:00:00 GMT");

  // A first poll, a steady cursor and a walk: each takes another branch.
  for (const char* cursor : {"", "t3_1h0a0a1", "t3_1h0a0a7;after=t3_1h0a0a1;stop=t3_1h00001"}) {
    SourceCursor state;
    state.cursor = cursor;
    (void)connector_reddit::Parse(Source(), state, response);
  }
  const Post stored = Stored();
  auto conversation = connector_reddit::ParseConversation(Source(), stored, response);
  if (conversation.ok() && !conversation->next_cursor.empty()) {
    (void)connector_reddit::ConversationRequest(Source(), stored, conversation->next_cursor);
  }
  (void)connector_reddit::ParseReply(Source(), stored, response);
  (void)connector_reddit::ParseSession(Source(), response, FromUnixSeconds(1'790'000'000));
  (void)connector_reddit::ReadRateLimit(response);

  // The bytes as a stored cursor and as a reply's text.
  SourceCursor cursor;
  cursor.cursor = bytes;
  auto page = connector_reddit::Parse(Source(), cursor, response);
  (void)connector_reddit::NextRequest(Source(), cursor);
  (void)connector_reddit::ConversationRequest(Source(), stored, bytes);
  AuthSession session;
  session.access_token = "fuzz-token";
  session.account = "FuzzTrust";
  ReplyDraft draft;
  draft.body = bytes;
  (void)connector_reddit::ReplyRequest(Source(), &session, stored, draft);
  (void)page;
  return 0;
}
