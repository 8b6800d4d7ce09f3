#include "crawler/server/inbox_routes.h"

#include <string>

namespace earshot {
namespace {

void AddSecurityHeaders(ApiResponse& response) {
  response.headers.emplace_back("Content-Security-Policy",
                                std::string(kInboxContentSecurityPolicy));
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  response.headers.emplace_back("Referrer-Policy", "no-referrer");
}

ApiResponse PlainText(int status, std::string_view text) {
  ApiResponse response;
  response.status = status;
  response.body = std::string(text) + "\n";
  response.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

// If-None-Match holds "*" or a list of entity tags, weak ones included
// (RFC 9110 13.1.2 compares them weakly).
bool EtagMatches(std::string_view if_none_match, std::string_view etag) {
  while (!if_none_match.empty()) {
    const size_t comma = if_none_match.find(',');
    std::string_view tag = if_none_match.substr(0, comma);
    while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t')) tag.remove_prefix(1);
    while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t')) tag.remove_suffix(1);
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == "*" || tag == etag) return true;
    if (comma == std::string_view::npos) break;
    if_none_match.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

bool IsApiTarget(std::string_view target) {
  const std::string_view path = target.substr(0, target.find('?'));
  return path == "/api" || path.starts_with("/api/");
}

ApiResponse ServeInbox(const InboxAssets& assets, const ApiRequest& request) {
  ApiResponse response;
  const std::string_view target = request.target;
  const std::string_view path = target.substr(0, target.find('?'));
  if (request.method != "GET" && request.method != "HEAD") {
    response = PlainText(405, "method not allowed");
    response.headers.emplace_back("Allow", "GET, HEAD");
  } else if (const InboxAsset* asset = assets.Find(path)) {
    response.headers.emplace_back("Content-Type", std::string(asset->content_type));
    if (asset->html) {
      // The shell names the assets; a stale one could load stale modules.
      response.headers.emplace_back("Cache-Control", "no-store");
    } else {
      response.headers.emplace_back("Cache-Control", "no-cache");
      response.headers.emplace_back("ETag", std::string(asset->etag));
    }
    if (!asset->html && EtagMatches(request.if_none_match, asset->etag)) {
      response.status = 304;
    } else {
      response.status = 200;
      response.body = std::string(asset->bytes);
    }
  } else {
    response = PlainText(404, "not found");
  }
  AddSecurityHeaders(response);
  return response;
}

}  // namespace earshot
