// The web inbox's embedded files (InboxAssets) and their HTTP answers
// (ServeInbox) as functions: content types, security headers on every
// answer, caching, 404s for unknown and traversing paths, and checks that
// our own files keep to the Content-Security-Policy and build the page from
// DOM nodes only (no HTML strings, no inline script or style).
#include <catch2/catch.hpp>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "crawler/inbox/inbox_assets.h"
#include "crawler/server/inbox_routes.h"

namespace earshot {
namespace {

const InboxAssets& Assets() { return InboxAssets::Embedded(); }

std::string Header(const ApiResponse& response, std::string_view name) {
  std::string found;
  int count = 0;
  for (const auto& [key, value] : response.headers) {
    if (key == name) {
      found = value;
      ++count;
    }
  }
  INFO(name);
  CHECK(count <= 1);
  return found;
}

ApiResponse Serve(std::string method, std::string target, std::string if_none_match = "") {
  ApiRequest request;
  request.method = std::move(method);
  request.target = std::move(target);
  request.if_none_match = std::move(if_none_match);
  return ServeInbox(Assets(), request);
}

void RequireSecurityHeaders(const ApiResponse& response) {
  CHECK(Header(response, "Content-Security-Policy") ==
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'");
  CHECK(Header(response, "X-Content-Type-Options") == "nosniff");
  CHECK(Header(response, "Referrer-Policy") == "no-referrer");
}

// Our own files: those not copied from nhsuk-frontend.
bool IsOurs(const InboxAsset& asset) {
  return !asset.url_path.starts_with("/assets/nhsuk/") &&
         !asset.url_path.starts_with("/assets/images/");
}

bool EndsWith(std::string_view text, std::string_view suffix) { return text.ends_with(suffix); }

TEST_CASE("inbox assets: the shell, our modules and nhsuk-frontend are embedded", "[inbox]") {
  for (const char* path :
       {"/", "/assets/app.css", "/assets/js/app.js", "/assets/js/api.js", "/assets/js/dom.js",
        "/assets/js/highlight.js", "/assets/js/pages/thread.js",
        "/assets/nhsuk/nhsuk-frontend.min.css", "/assets/nhsuk/nhsuk-frontend.min.js",
        "/assets/images/favicon.ico", "/assets/images/favicon.svg"}) {
    INFO(path);
    const InboxAsset* asset = Assets().Find(path);
    REQUIRE(asset != nullptr);
    CHECK(asset->url_path == path);
    CHECK(asset->bytes.size() > 10);
    CHECK(asset->etag.size() > 2);
    CHECK(asset->etag.front() == '"');
    CHECK(asset->etag.back() == '"');
  }
  const InboxAsset* shell = Assets().Find("/");
  CHECK(shell->html);
  CHECK(shell->content_type == "text/html; charset=utf-8");
  CHECK(shell->bytes.starts_with("<!DOCTYPE html>"));
  CHECK(Assets().Find("/assets/nhsuk/nhsuk-frontend.min.css")->bytes.find(".nhsuk-header") !=
        std::string_view::npos);
  // A PNG's bytes, zeros included, come through whole.
  const InboxAsset* png = Assets().Find("/assets/images/nhsuk-icon-180.png");
  REQUIRE(png != nullptr);
  CHECK(png->bytes.substr(0, 8) == std::string_view("\x89PNG\r\n\x1a\n", 8));
  CHECK(png->content_type == "image/png");
  // index.html is "/" only.
  CHECK(Assets().Find("/index.html") == nullptr);
  CHECK(Assets().Find("/assets/index.html") == nullptr);
}

TEST_CASE("inbox assets: content types by extension", "[inbox]") {
  CHECK(InboxAssets::ContentTypeFor("a.html") == "text/html; charset=utf-8");
  CHECK(InboxAssets::ContentTypeFor("/assets/app.css") == "text/css; charset=utf-8");
  CHECK(InboxAssets::ContentTypeFor("/assets/js/app.js") == "text/javascript; charset=utf-8");
  CHECK(InboxAssets::ContentTypeFor("x.svg") == "image/svg+xml");
  CHECK(InboxAssets::ContentTypeFor("x.ico") == "image/x-icon");
  CHECK(InboxAssets::ContentTypeFor("x.png") == "image/png");
  CHECK(InboxAssets::ContentTypeFor("/assets/js.d/README") == "application/octet-stream");
  CHECK(InboxAssets::ContentTypeFor("noextension") == "application/octet-stream");
  CHECK(InboxAssets::ContentTypeFor("x.exe") == "application/octet-stream");
  for (const InboxAsset& asset : Assets().All()) {
    INFO(asset.url_path);
    CHECK(asset.content_type != "application/octet-stream");
    CHECK(asset.html == (asset.url_path == "/"));
  }
}

TEST_CASE("inbox assets: unknown and traversing paths are not found", "[inbox]") {
  for (const char* path :
       {"", "/assets", "/assets/", "/assets/nope.js", "/assets/../assets/app.css",
        "/assets/./app.css", "/assets//app.css", "/assets/%2e%2e/app.css", "/assets/app.css/",
        "/assets/APP.CSS", "/../etc/passwd", "/assets/..%2fapp.css", "//assets/app.css",
        "/assets/app.css%00", "assets/app.css", "/assets/js/../app.css"}) {
    INFO(path);
    CHECK(Assets().Find(path) == nullptr);
    const ApiResponse response = Serve("GET", path);
    CHECK(response.status == 404);
    CHECK(Header(response, "Content-Type") == "text/plain; charset=utf-8");
    CHECK(response.body.find("app.css") == std::string::npos);
    RequireSecurityHeaders(response);
  }
  // The embedded table knows nothing outside "/" and "/assets/".
  for (const InboxAsset& asset : Assets().All()) {
    INFO(asset.url_path);
    CHECK((asset.url_path == "/" || asset.url_path.starts_with("/assets/")));
    CHECK(asset.url_path.find("..") == std::string_view::npos);
    CHECK(asset.url_path.find("//") == std::string_view::npos);
  }
}

TEST_CASE("inbox: every answer carries the security headers", "[inbox]") {
  for (const InboxAsset& asset : Assets().All()) {
    INFO(asset.url_path);
    for (const char* method : {"GET", "HEAD"}) {
      const ApiResponse response = Serve(method, std::string(asset.url_path));
      CHECK(response.status == 200);
      CHECK(Header(response, "Content-Type") == asset.content_type);
      CHECK(response.body == asset.bytes);  // ApiServer drops the body of a HEAD
      RequireSecurityHeaders(response);
    }
  }
  for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS", "PATCH"}) {
    INFO(method);
    const ApiResponse response = Serve(method, "/");
    CHECK(response.status == 405);
    CHECK(Header(response, "Allow") == "GET, HEAD");
    RequireSecurityHeaders(response);
  }
}

TEST_CASE("inbox: the shell is never cached, assets are revalidated by ETag", "[inbox]") {
  const ApiResponse shell = Serve("GET", "/?from=bookmark");
  CHECK(shell.status == 200);
  CHECK(Header(shell, "Cache-Control") == "no-store");
  CHECK(Header(shell, "ETag").empty());
  CHECK(Serve("GET", "/", "*").status == 200);

  const InboxAsset* css = Assets().Find("/assets/app.css");
  REQUIRE(css != nullptr);
  const std::string etag(css->etag);
  const ApiResponse fresh = Serve("GET", "/assets/app.css");
  CHECK(fresh.status == 200);
  CHECK(Header(fresh, "Cache-Control") == "no-cache");
  CHECK(Header(fresh, "ETag") == etag);

  for (const std::string& if_none_match :
       {etag, "W/" + etag, "\"other\", " + etag, std::string("*"), " " + etag + " "}) {
    INFO(if_none_match);
    const ApiResponse cached = Serve("GET", "/assets/app.css", if_none_match);
    CHECK(cached.status == 304);
    CHECK(cached.body.empty());
    CHECK(Header(cached, "ETag") == etag);
    RequireSecurityHeaders(cached);
  }
  for (const std::string& if_none_match :
       {std::string("\"other\""), std::string("W/\"x\""), etag.substr(0, etag.size() - 2) + "\""}) {
    INFO(if_none_match);
    CHECK(Serve("GET", "/assets/app.css", if_none_match).status == 200);
  }
  // Different files, different validators.
  std::set<std::string_view> etags;
  for (const InboxAsset& asset : Assets().All()) etags.insert(asset.etag);
  CHECK(etags.size() == Assets().All().size());
}

TEST_CASE("inbox: /api goes to the API, everything else to the inbox", "[inbox]") {
  CHECK(IsApiTarget("/api"));
  CHECK(IsApiTarget("/api/threads"));
  CHECK(IsApiTarget("/api/threads?q=x"));
  CHECK(IsApiTarget("/api?x"));
  CHECK_FALSE(IsApiTarget("/"));
  CHECK_FALSE(IsApiTarget("/apis"));
  CHECK_FALSE(IsApiTarget("/assets/api/x"));
  CHECK_FALSE(IsApiTarget("/?/api/"));
  CHECK_FALSE(IsApiTarget("/API/threads"));
}

// Our files keep to the CSP and never build HTML from strings: user content
// (posts, notes, names) only ever goes through textContent/createTextNode.
TEST_CASE("inbox assets: our files use no HTML strings, eval or inline script and style",
          "[inbox]") {
  const std::vector<std::string> forbidden = {
      "innerHTML",   "outerHTML",    "insertAdjacentHTML",      "document.write",
      "eval(",       "new Function", "setAttribute('on",        "srcdoc",
      "javascript:", "DOMParser",    "createContextualFragment"};
  int checked = 0;
  for (const InboxAsset& asset : Assets().All()) {
    if (!IsOurs(asset)) continue;
    ++checked;
    INFO(asset.url_path);
    const std::string bytes(asset.bytes);
    for (const std::string& word : forbidden) {
      INFO(word);
      CHECK(bytes.find(word) == std::string::npos);
    }
    if (asset.html) {
      // Every <script> loads a file and has no body; no style="" or on*="".
      const std::regex script(R"re(<script\b([^>]*)>([\s\S]*?)</script>)re", std::regex::icase);
      int scripts = 0;
      for (auto it = std::sregex_iterator(bytes.begin(), bytes.end(), script);
           it != std::sregex_iterator(); ++it) {
        ++scripts;
        CHECK((*it)[1].str().find("src=\"/assets/") != std::string::npos);
        CHECK((*it)[2].str().empty());
      }
      CHECK(scripts >= 1);
      CHECK_FALSE(std::regex_search(bytes, std::regex(R"re(\sstyle\s*=)re", std::regex::icase)));
      CHECK_FALSE(std::regex_search(bytes, std::regex(R"re(\son[a-z]+\s*=)re", std::regex::icase)));
      CHECK_FALSE(std::regex_search(bytes, std::regex(R"re(<style\b)re", std::regex::icase)));
    }
  }
  CHECK(checked >= 10);
}

// The bearer token lives in sessionStorage only and travels only in the
// Authorization header of api.js's same-origin fetch: no other storage, no
// cookies, no console output that could copy it, no other fetch.
TEST_CASE("inbox assets: the token is kept in sessionStorage and sent by api.js only", "[inbox]") {
  for (const InboxAsset& asset : Assets().All()) {
    if (!IsOurs(asset)) continue;
    INFO(asset.url_path);
    const std::string bytes(asset.bytes);
    for (const std::string word : {"localStorage", "document.cookie", "console.", "indexedDB",
                                   "XMLHttpRequest", "sendBeacon", "postMessage"}) {
      INFO(word);
      CHECK(bytes.find(word) == std::string::npos);
    }
    if (asset.url_path != "/assets/js/api.js") {
      CHECK(bytes.find("fetch(") == std::string::npos);
      CHECK(bytes.find("sessionStorage") == std::string::npos);
    }
  }
  const std::string api(Assets().Find("/assets/js/api.js")->bytes);
  CHECK(api.find("credentials: 'omit'") != std::string::npos);
}

// Nothing is fetched from elsewhere: the CSS has no remote fonts, and every
// asset the shell, the CSS and the modules name is embedded.
TEST_CASE("inbox assets: everything referenced is embedded, nothing remote", "[inbox]") {
  const std::string css(Assets().Find("/assets/nhsuk/nhsuk-frontend.min.css")->bytes);
  CHECK(css.find("@font-face") == std::string::npos);
  CHECK(css.find("sourceMappingURL") == std::string::npos);
  CHECK_FALSE(std::regex_search(css, std::regex(R"re(url\(\s*['"]?(https?:)?//)re")));
  const std::string nhsuk_js(Assets().Find("/assets/nhsuk/nhsuk-frontend.min.js")->bytes);
  CHECK(nhsuk_js.find("sourceMappingURL") == std::string::npos);
  CHECK(nhsuk_js.find("initHeader") != std::string::npos);

  std::set<std::string> referenced;
  const std::regex css_url(R"re(url\(\s*['"]?(/assets/[^)'"]+))re");
  for (auto it = std::sregex_iterator(css.begin(), css.end(), css_url);
       it != std::sregex_iterator(); ++it) {
    referenced.insert((*it)[1].str());
  }
  CHECK(referenced.size() >= 3);  // the CSS's icons

  const std::string shell(Assets().Find("/")->bytes);
  const std::regex shell_ref(R"re((?:href|src)="(/[^"]*)")re");
  for (auto it = std::sregex_iterator(shell.begin(), shell.end(), shell_ref);
       it != std::sregex_iterator(); ++it) {
    referenced.insert((*it)[1].str());
  }
  CHECK(referenced.count("/assets/js/app.js") == 1);

  // ES module imports, resolved against the importing file's folder.
  const std::regex import_from(R"re(\bfrom\s+'(\.{1,2}/[^']+)')re");
  for (const InboxAsset& asset : Assets().All()) {
    if (!EndsWith(asset.url_path, ".js") || !IsOurs(asset)) continue;
    const std::string source(asset.bytes);
    std::string folder(asset.url_path.substr(0, asset.url_path.rfind('/')));
    for (auto it = std::sregex_iterator(source.begin(), source.end(), import_from);
         it != std::sregex_iterator(); ++it) {
      std::string relative = (*it)[1].str();
      std::string base = folder;
      while (relative.starts_with("../")) {
        base = base.substr(0, base.rfind('/'));
        relative = relative.substr(3);
      }
      if (relative.starts_with("./")) relative = relative.substr(2);
      referenced.insert(base + "/" + relative);
    }
  }
  CHECK(referenced.count("/assets/nhsuk/nhsuk-frontend.min.js") == 1);
  CHECK(referenced.count("/assets/js/pages/thread.js") == 1);
  for (const std::string& path : referenced) {
    INFO(path);
    CHECK(Assets().Find(path) != nullptr);
  }
}

}  // namespace
}  // namespace earshot
