#include "crawler/cli/post_json.h"

#include <boost/json.hpp>

#include "crawler/core/time_format.h"

namespace earshot {

namespace json = boost::json;

std::string PostToJsonLine(const Post& post) {
  json::object o;
  o["platform"] = post.platform;
  o["id"] = post.id;
  o["url"] = post.url;
  o["title"] = post.title;
  o["author"] = post.author_handle;
  o["text"] = post.text;
  if (post.created_at) {
    o["created_at"] = FormatRfc3339(*post.created_at);
  } else {
    o["created_at"] = nullptr;
  }
  o["reply_to"] = post.reply_to;
  o["conversation"] = post.conversation;
  o["language"] = post.language;
  return json::serialize(o);
}

Result<Post> PostFromJsonLine(std::string_view line) {
  json::error_code ec;
  json::value v = json::parse(line, ec);
  if (ec) return Status::ParseError("invalid JSON: " + ec.message());
  const json::object* o = v.if_object();
  if (!o) return Status::ParseError("expected a JSON object");

  Post post;
  auto read = [&](std::string_view key, std::string& out, bool required) -> Status {
    const json::value* f = o->if_contains(key);
    if (!f || f->is_null()) {
      if (required) return Status::ParseError("missing \"" + std::string(key) + "\"");
      return Status::Ok();
    }
    if (const json::string* s = f->if_string()) {
      out.assign(s->data(), s->size());
      return Status::Ok();
    }
    if (f->is_int64() || f->is_uint64()) {  // numeric ids are common
      out = json::serialize(*f);
      return Status::Ok();
    }
    return Status::ParseError("\"" + std::string(key) + "\" must be a string");
  };
  EARSHOT_RETURN_IF_ERROR(read("platform", post.platform, true));
  EARSHOT_RETURN_IF_ERROR(read("id", post.id, true));
  EARSHOT_RETURN_IF_ERROR(read("text", post.text, true));
  EARSHOT_RETURN_IF_ERROR(read("url", post.url, false));
  EARSHOT_RETURN_IF_ERROR(read("title", post.title, false));
  EARSHOT_RETURN_IF_ERROR(read("author", post.author_handle, false));
  EARSHOT_RETURN_IF_ERROR(read("reply_to", post.reply_to, false));
  EARSHOT_RETURN_IF_ERROR(read("conversation", post.conversation, false));
  EARSHOT_RETURN_IF_ERROR(read("language", post.language, false));
  if (post.platform.empty() || post.id.empty()) {
    return Status::ParseError("\"platform\" and \"id\" must not be empty");
  }
  std::string created;
  EARSHOT_RETURN_IF_ERROR(read("created_at", created, false));
  if (!created.empty()) {
    auto t = ParseIso8601(created);
    if (!t.ok()) return Status::ParseError("created_at: " + t.status().message());
    post.created_at = *t;
  }
  return post;
}

}  // namespace earshot
