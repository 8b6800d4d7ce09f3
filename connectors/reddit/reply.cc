// Publishing a reply: POST /api/comment with the organisation's own
// (password-grant) session, and reading Reddit's answer, which reports
// refusals as json.errors inside an HTTP 200.
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/reddit/internal.h"
#include "connectors/reddit/reddit.h"
#include "crawler/core/strings.h"

namespace earshot::connector_reddit {

namespace {

namespace dom = simdjson::dom;
using internal::Excerpt;

constexpr size_t kMaxCommentLength = 10000;  // Reddit's limit, in characters

size_t CodePoints(std::string_view utf8) {
  return static_cast<size_t>(std::count_if(utf8.begin(), utf8.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

bool IsReplyTarget(std::string_view id) {
  return IsFullname(id) && (id.starts_with("t1_") || id.starts_with("t3_"));
}

// json.errors codes that mean "this reply cannot go here" rather than "this
// request was malformed".
Status StatusForReplyError(std::string_view code, std::string message) {
  if (code == "RATELIMIT") return Status::RateLimited(std::move(message));
  if (code == "USER_REQUIRED" || code == "INVALID_USER") {
    return Status::Unauthenticated(std::move(message));
  }
  if (code == "DELETED_COMMENT" || code == "DELETED_LINK" || code == "DELETED_THING" ||
      code == "SUBREDDIT_NOEXIST" || code == "NO_THING_ID") {
    return Status::NotFound(std::move(message));
  }
  if (code == "THREAD_LOCKED" || code == "TOO_OLD" || code == "SUBREDDIT_NOTALLOWED" ||
      code == "BANNED_FROM_SUBREDDIT" || code == "USER_BLOCKED" || code == "USER_MUTED" ||
      code == "INVALID_PERMISSION" || code == "COMMENT_GUIDANCE_VALIDATION_FAILED") {
    return Status::PermissionDenied(std::move(message));
  }
  if (code == "SOMETHING_IS_BROKEN") return Status::Unavailable(std::move(message));
  return Status::InvalidArgument(std::move(message));
}

bool StartsUrl(std::string_view rest) {
  return rest.starts_with("https://") || rest.starts_with("http://");
}

std::string EscapeLine(std::string_view line) {
  // Four leading spaces would make a code block; indentation is dropped.
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  while (!line.empty() && IsAsciiSpace(line.back())) line.remove_suffix(1);
  std::string out;
  out.reserve(line.size() + 8);
  // Line-start markers: heading, quote, list item, setext underline.
  if (!line.empty() && std::string_view("#>-+=").find(line.front()) != std::string_view::npos) {
    out += '\\';
  }
  size_t digits = 0;
  while (digits < line.size() && line[digits] >= '0' && line[digits] <= '9') ++digits;
  const bool ordered_item =
      digits > 0 && digits < line.size() && (line[digits] == '.' || line[digits] == ')');
  for (size_t i = 0; i < line.size();) {
    const bool word_start = i == 0 || IsAsciiSpace(line[i - 1]) || line[i - 1] == '(';
    if (word_start && StartsUrl(line.substr(i))) {
      // A bare URL is autolinked as written; escapes inside would break it.
      while (i < line.size() && !IsAsciiSpace(line[i])) out += line[i++];
      continue;
    }
    const char c = line[i];
    if (std::string_view("\\`*_~^[]").find(c) != std::string_view::npos ||
        (ordered_item && i == digits)) {
      out += '\\';
    }
    out += c;
    ++i;
  }
  return out;
}

}  // namespace

std::string EscapeMarkdown(std::string_view text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t newline = std::min(text.find('\n', start), text.size());
    lines.push_back(EscapeLine(text.substr(start, newline - start)));
    start = newline + 1;
  }
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    out += lines[i];
    if (i + 1 == lines.size()) break;
    // Markdown joins adjacent lines; two trailing spaces keep the break.
    out += (lines[i].empty() || lines[i + 1].empty()) ? "\n" : "  \n";
  }
  while (!out.empty() && IsAsciiSpace(out.back())) out.pop_back();
  return out;
}

Result<HttpRequest> ReplyRequest(const SourceSpec& account, const AuthSession* session,
                                 const Post& target, const ReplyDraft& draft) {
  const std::string who = "reddit reply from account \"" + account.name + "\"";
  if (session == nullptr || session->access_token.empty()) {
    return Status::Unauthenticated(who + ": no signed-in session");
  }
  if (session->account.empty()) {
    return Status::InvalidArgument(
        who +
        ": an application-only token cannot comment; configure `username` and "
        "`password` of the organisation's Reddit account (a \"script\" app)");
  }
  if (!IsReplyTarget(target.id)) {
    return Status::InvalidArgument(who + ": target \"" + Excerpt(target.id, 40) +
                                   "\" is not a Reddit post or comment fullname");
  }
  if (TrimAsciiSpace(draft.body).empty()) {
    return Status::InvalidArgument(who + " to " + target.id + ": the reply is empty");
  }
  const std::string text = EscapeMarkdown(draft.body);
  const size_t length = CodePoints(text);
  if (length > kMaxCommentLength) {
    return Status::InvalidArgument(who + " to " + target.id + ": the reply is " +
                                   std::to_string(length) +
                                   " characters as Markdown; Reddit accepts 10000");
  }
  auto base = internal::ApiBase(account);
  if (!base.ok()) return base.status();
  auto agent = internal::UserAgent(account);
  if (!agent.ok()) return agent.status();

  HttpRequest request;
  request.method = "POST";
  request.url = *base + "/api/comment?raw_json=1";
  internal::AppendParam(&request.body, "api_type", "json");
  internal::AppendParam(&request.body, "thing_id", target.id);
  internal::AppendParam(&request.body, "text", text);
  request.headers.Set("Content-Type", "application/x-www-form-urlencoded");
  request.headers.Set("Accept", "application/json");
  request.headers.Set("User-Agent", *agent);
  Authorize(*session, request);
  return request;
}

Result<PublishedReply> ParseReply(const SourceSpec& account, const Post& target,
                                  const HttpResponse& response) {
  (void)account;
  const std::string where = "reddit reply to " + target.id + ": POST " +
                            (response.url.empty() ? std::string("<unknown URL>") : response.url);
  if (response.status < 200 || response.status >= 300) {
    return StatusFromHttp(response.status, where, internal::ErrorDetail(response.body));
  }
  const std::string http = where + ": HTTP " + std::to_string(response.status);
  // Reddit may have stored the comment even when its answer is unreadable:
  // say so, since it has no idempotency key to make a retry safe.
  const std::string unsure =
      "; the comment may have been posted: check the thread before sending it again";
  internal::JsonDocument doc;
  if (auto error = internal::ParseJson(response.body, &doc, nullptr)) {
    return Status::ParseError(http + ": body is not JSON (" + *error + ")" + unsure);
  }
  const auto errors = internal::ApiErrors(doc.root);
  if (!errors.empty()) {
    std::string detail;
    for (const internal::ApiError& error : errors) {
      if (!detail.empty()) detail += "; ";
      detail += error.ToString();
    }
    return StatusForReplyError(errors.front().code, http + ": " + detail);
  }
  dom::element thing;
  dom::object data;
  std::string_view kind;
  if (doc.root.at_pointer("/json/data/things/0").get(thing) != simdjson::SUCCESS ||
      thing.at_pointer("/kind").get_string().get(kind) != simdjson::SUCCESS || kind != "t1" ||
      thing.at_pointer("/data").get_object().get(data) != simdjson::SUCCESS) {
    return Status::ParseError(http + ": the answer names no new comment" + unsure);
  }
  auto string_at = [&](std::string_view key) -> std::string {
    std::string_view text;
    if (data.at_key(key).get_string().get(text) != simdjson::SUCCESS) return {};
    return std::string(text);
  };
  std::string fullname = string_at("name");
  if (!IsFullname(fullname)) {
    // Older answers carry the fullname in `id`; newer ones the bare ID36.
    const std::string id = string_at("id");
    fullname = IsFullname(id) ? id : (IsId36(id) ? "t1_" + id : std::string());
  }
  if (!fullname.starts_with("t1_")) {
    return Status::ParseError(http + ": the new comment has no readable id" + unsure);
  }
  PublishedReply reply;
  reply.id = fullname;
  reply.uid = fullname;
  reply.url = internal::PermalinkUrl(string_at("permalink"));
  if (reply.url.empty()) {
    std::string link = string_at("link_id");
    if (!IsFullname(link)) link = string_at("link");
    if (!IsFullname(link)) link = target.id.starts_with("t3_") ? target.id : target.conversation;
    reply.url = internal::FallbackUrl(link, fullname);
  }
  return reply;
}

}  // namespace earshot::connector_reddit
