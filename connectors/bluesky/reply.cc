// Publishing a reply: com.atproto.repo.createRecord of an app.bsky.feed.post
// with reply refs, link facets and a record key derived from the draft.
#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/bluesky/bluesky.h"
#include "connectors/bluesky/internal.h"
#include "crawler/core/strings.h"
#include "crawler/core/text.h"
#include "crawler/core/time_format.h"
#include "crawler/core/url.h"

namespace earshot::connector_bluesky {

namespace {

namespace dom = simdjson::dom;

constexpr size_t kMaxReplyBytes = 3000;  // app.bsky.feed.post text maxLength
constexpr std::string_view kTidAlphabet = "234567abcdefghijklmnopqrstuvwxyz";

size_t CodePoints(std::string_view utf8) {
  size_t count = 0;
  for (char c : utf8) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++count;
  }
  return count;
}

// Trailing characters that end a sentence rather than a URL.
bool IsTrailingPunctuation(char c) {
  return c == '.' || c == ',' || c == ';' || c == ':' || c == '!' || c == '?' || c == '\'' ||
         c == '"';
}

// http(s) URLs written out in `text`, as link facets (UTF-8 byte offsets).
std::vector<LinkFacet> DetectLinks(std::string_view text) {
  std::vector<LinkFacet> links;
  size_t at = 0;
  while (at < text.size()) {
    size_t start = std::string_view::npos;
    for (std::string_view scheme : {std::string_view("https://"), std::string_view("http://")}) {
      size_t found = AsciiLower(text.substr(at)).find(scheme);
      if (found != std::string::npos && (start == std::string_view::npos || at + found < start)) {
        start = at + found;
      }
    }
    if (start == std::string_view::npos) break;
    size_t end = start;
    while (end < text.size() && static_cast<unsigned char>(text[end]) > 0x20) ++end;
    at = end;
    // "(see https://x.org/a)": a ')' ends the sentence unless the URL opened one.
    auto count = [&](char c) {
      return std::count(text.begin() + static_cast<std::ptrdiff_t>(start),
                        text.begin() + static_cast<std::ptrdiff_t>(end), c);
    };
    while (end > start) {
      const char last = text[end - 1];
      if (IsTrailingPunctuation(last) || (last == ')' && count('(') < count(')'))) {
        --end;
      } else {
        break;
      }
    }
    const bool word_start = start == 0 || IsAsciiSpace(text[start - 1]) || text[start - 1] == '(' ||
                            text[start - 1] == '"' || text[start - 1] == '\'';
    std::string uri(text.substr(start, end - start));
    auto host = UrlHost(uri);
    if (word_start && host.ok() && host->find('.') != std::string::npos &&
        uri.size() <= internal::kMaxUriLength) {
      links.push_back({static_cast<int64_t>(start), static_cast<int64_t>(end), std::move(uri)});
    }
  }
  return links;
}

uint64_t HashBits(std::string_view key, size_t offset) {
  const std::string hex = Sha256Hex(key);
  uint64_t value = 0;
  std::from_chars(hex.data() + offset, hex.data() + offset + 16, value, 16);
  return value;
}

}  // namespace

std::string ReplyRecordKey(std::string_view idempotency_key, TimePoint created_at) {
  // TID layout: 1 zero bit, 53 bits of microseconds since the epoch, 10
  // bits of clock id. The sub-millisecond digits and the clock id come from
  // the key, so two drafts of one millisecond still get different keys.
  const int64_t millis = std::max<int64_t>(0, ToUnixMillis(created_at));
  const uint64_t micros =
      static_cast<uint64_t>(millis) * 1000 + HashBits(idempotency_key, 0) % 1000;
  const uint64_t clock_id = HashBits(idempotency_key, 16) & 0x3FF;
  uint64_t value = ((micros & ((uint64_t{1} << 53) - 1)) << 10) | clock_id;
  std::string tid(13, '2');
  for (size_t i = tid.size(); i-- > 0;) {
    tid[i] = kTidAlphabet[value & 0x1F];
    value >>= 5;
  }
  return tid;
}

Result<HttpRequest> ReplyRequest(const SourceSpec& account, const AuthSession* session,
                                 const Post& target, const ReplyDraft& draft) {
  auto invalid = [&](std::string why) {
    return Status::InvalidArgument("bluesky reply from \"" + account.name + "\": " + why);
  };
  if (session == nullptr || session->access_token.empty() ||
      !internal::IsPlausibleDid(session->account)) {
    return Status::Unauthenticated("bluesky reply from \"" + account.name +
                                   "\": needs a session with the account's DID (configure "
                                   "`identifier` and `app_password`)");
  }
  auto base = internal::ServiceBase(account);
  if (!base.ok()) return base.status();

  std::string_view parent_uri = internal::IsPostUri(target.uid) ? target.uid : target.id;
  if (!internal::IsPostUri(parent_uri)) {
    return invalid("the post answered (\"" + target.uid.substr(0, 200) +
                   "\") has no app.bsky.feed.post at-uri");
  }
  auto ref = internal::DecodeRef(target.ref);
  if (!ref || ref->post.uri != parent_uri) {
    return invalid("the post answered (" + std::string(parent_uri) +
                   ") has no stored CID and thread root (Post::ref); fetch its thread again");
  }

  const std::string& text = draft.body;
  if (TrimAsciiSpace(text).empty()) return invalid("the reply is empty");
  if (!IsValidUtf8(text)) return invalid("the reply is not valid UTF-8");
  const size_t length = CodePoints(text);
  if (length > static_cast<size_t>(kMaxReplyLength) || text.size() > kMaxReplyBytes) {
    return invalid("the reply has " + std::to_string(length) + " characters (" +
                   std::to_string(text.size()) + " bytes); Bluesky takes at most " +
                   std::to_string(kMaxReplyLength) + " (and 3000 bytes)");
  }
  if (draft.idempotency_key.empty()) {
    return invalid(
        "the draft has no idempotency key (it names the record, so a retry cannot post "
        "twice)");
  }
  if (ToUnixMillis(draft.created_at) <= 0) return invalid("the draft has no creation time");

  boost::json::array facets;
  for (const LinkFacet& link : DetectLinks(text)) {
    facets.push_back(boost::json::object{
        {"index", boost::json::object{{"byteStart", link.byte_start}, {"byteEnd", link.byte_end}}},
        {"features", boost::json::array{boost::json::object{
                         {"$type", "app.bsky.richtext.facet#link"}, {"uri", link.uri}}}},
    });
  }
  boost::json::object record{
      {"$type", internal::kPostCollection},
      {"text", text},
      {"createdAt", FormatRfc3339(draft.created_at)},
      {"reply",
       boost::json::object{
           {"root", boost::json::object{{"uri", ref->root.uri}, {"cid", ref->root.cid}}},
           {"parent", boost::json::object{{"uri", ref->post.uri}, {"cid", ref->post.cid}}},
       }},
  };
  if (!facets.empty()) record["facets"] = std::move(facets);
  boost::json::object body{
      {"repo", session->account},
      {"collection", internal::kPostCollection},
      {"rkey", ReplyRecordKey(draft.idempotency_key, draft.created_at)},
      {"record", std::move(record)},
  };

  HttpRequest request;
  request.method = "POST";
  request.url = *base + "/xrpc/com.atproto.repo.createRecord";
  request.headers.Add("Accept", "application/json");
  request.headers.Add("Content-Type", "application/json");
  Authorize(*session, request);
  request.body = boost::json::serialize(body);
  return request;
}

Result<PublishedReply> ParseReply(const SourceSpec& account, const Post& target,
                                  const HttpResponse& response) {
  const std::string where = "bluesky reply from \"" + account.name + "\" to " +
                            target.uid.substr(0, 200) + " (" + response.url + ")";
  if (response.status < 200 || response.status >= 300) {
    return internal::XrpcStatus(response, where);
  }
  // The record may well exist: a retry names the same record key, so it
  // cannot post twice, but this answer cannot say where the reply is.
  auto unreadable = [&](const std::string& why) {
    return Status::ParseError(where + ": HTTP " + std::to_string(response.status) + " but " + why +
                              "; the reply may have been published");
  };
  dom::parser parser;
  std::string repaired;
  auto root = internal::ParseBody(parser, response, repaired, nullptr);
  if (!root.ok()) return unreadable("the body is not JSON");
  dom::object object;
  if (root->get_object().get(object) != simdjson::SUCCESS) {
    return unreadable("the body is not a JSON object");
  }
  internal::Fields fields(object);
  std::string_view uri = fields.RequiredString("uri");
  std::string_view cid = fields.RequiredString("cid");
  if (!fields.ok()) return unreadable(fields.error());
  if (!internal::IsPostUri(uri)) return unreadable("'uri' is not a post at-uri");
  if (!internal::IsPlausibleCid(cid)) return unreadable("'cid' is not a CID");
  PublishedReply published;
  published.id = std::string(uri);
  published.uid = published.id;
  published.url = PostWebUrl(uri, "");
  return published;
}

}  // namespace earshot::connector_bluesky
