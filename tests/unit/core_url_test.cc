// URL helpers (crawler/core/url.h).
#include <catch2/catch.hpp>
#include <string>

#include "crawler/core/url.h"

namespace earshot {
namespace {

constexpr std::string_view kRfcBase = "http://a/b/c/d;p?q";

std::string Resolve(std::string_view base, std::string_view ref) {
  Result<std::string> r = ResolveUrl(base, ref);
  return r.ok() ? *r : "error: " + r.status().message();
}

TEST_CASE("ResolveUrl follows RFC 3986 5.4.1 normal examples", "[url]") {
  struct Case {
    const char* reference;
    const char* expected;
  };
  const Case cases[] = {
      {"g", "http://a/b/c/g"},
      {"./g", "http://a/b/c/g"},
      {"g/", "http://a/b/c/g/"},
      {"/g", "http://a/g"},
      // RFC: "http://g"; libcurl adds the empty path's "/", which is equivalent.
      {"//g", "http://g/"},
      {"?y", "http://a/b/c/d;p?y"},
      {"g?y", "http://a/b/c/g?y"},
      {"#s", "http://a/b/c/d;p?q#s"},
      {"g#s", "http://a/b/c/g#s"},
      {"g?y#s", "http://a/b/c/g?y#s"},
      {";x", "http://a/b/c/;x"},
      {"g;x", "http://a/b/c/g;x"},
      {"g;x?y#s", "http://a/b/c/g;x?y#s"},
      {"", "http://a/b/c/d;p?q"},
      {".", "http://a/b/c/"},
      {"./", "http://a/b/c/"},
      {"..", "http://a/b/"},
      {"../", "http://a/b/"},
      {"../g", "http://a/b/g"},
      {"../..", "http://a/"},
      {"../../", "http://a/"},
      {"../../g", "http://a/g"},
  };
  for (const Case& c : cases) {
    INFO("reference \"" << c.reference << "\"");
    CHECK(Resolve(kRfcBase, c.reference) == c.expected);
  }
  // "g:h" is an absolute URI with an opaque path; libcurl only handles
  // hierarchical URLs, so it is an error rather than a wrong URL.
  Result<std::string> opaque = ResolveUrl(kRfcBase, "g:h");
  if (opaque.ok()) {
    CHECK(*opaque == "g:h");
  } else {
    CHECK(opaque.status().message().find("g:h") != std::string::npos);
  }
}

TEST_CASE("ResolveUrl follows RFC 3986 5.4.2 abnormal examples", "[url]") {
  CHECK(Resolve(kRfcBase, "../../../g") == "http://a/g");
  CHECK(Resolve(kRfcBase, "../../../../g") == "http://a/g");
  CHECK(Resolve(kRfcBase, "/./g") == "http://a/g");
  CHECK(Resolve(kRfcBase, "/../g") == "http://a/g");
  CHECK(Resolve(kRfcBase, "g.") == "http://a/b/c/g.");
  CHECK(Resolve(kRfcBase, ".g") == "http://a/b/c/.g");
  CHECK(Resolve(kRfcBase, "g..") == "http://a/b/c/g..");
  CHECK(Resolve(kRfcBase, "..g") == "http://a/b/c/..g");
  CHECK(Resolve(kRfcBase, "./../g") == "http://a/b/g");
  CHECK(Resolve(kRfcBase, "./g/.") == "http://a/b/c/g/");
  CHECK(Resolve(kRfcBase, "g/./h") == "http://a/b/c/g/h");
  CHECK(Resolve(kRfcBase, "g/../h") == "http://a/b/c/h");
  CHECK(Resolve(kRfcBase, "g;x=1/./y") == "http://a/b/c/g;x=1/y");
  CHECK(Resolve(kRfcBase, "g;x=1/../y") == "http://a/b/c/y");
  CHECK(Resolve(kRfcBase, "g?y/./x") == "http://a/b/c/g?y/./x");
  CHECK(Resolve(kRfcBase, "g#s/../x") == "http://a/b/c/g#s/../x");
}

TEST_CASE("ResolveUrl handles what feeds really contain", "[url]") {
  const std::string_view feed = "https://blog.example.nhs.uk/news/feed/?type=rss";
  CHECK(Resolve(feed, "/2026/11/post-1") == "https://blog.example.nhs.uk/2026/11/post-1");
  CHECK(Resolve(feed, "post-2/") == "https://blog.example.nhs.uk/news/feed/post-2/");
  CHECK(Resolve(feed, "https://other.example.org/x") == "https://other.example.org/x");
  CHECK(Resolve(feed, "//cdn.example.org/a.png") == "https://cdn.example.org/a.png");
  SECTION("absolute references are normalised") {
    CHECK(Resolve(feed, "HTTPS://other.example.org/a/./b/../c") == "https://other.example.org/a/c");
  }
  SECTION("whitespace from pretty-printed XML is ignored, inner spaces encoded") {
    CHECK(Resolve(feed, "\n   /post-3\n  ") == "https://blog.example.nhs.uk/post-3");
    CHECK(Resolve(feed, "/a b") == "https://blog.example.nhs.uk/a%20b");
    CHECK(Resolve(feed, "/a\n b") == "https://blog.example.nhs.uk/a%20b");
  }
  SECTION("a fragment-only reference keeps the base query") {
    CHECK(Resolve(feed, "#comments") == "https://blog.example.nhs.uk/news/feed/?type=rss#comments");
    CHECK(Resolve("https://h/p?q#old", "#new") == "https://h/p?q#new");
  }
  SECTION("the base fragment never carries over") {
    CHECK(Resolve("http://a/b/c?q#f", "?y") == "http://a/b/c?y");
    CHECK(Resolve("http://a/b/c?q#f", "g") == "http://a/b/g");
    CHECK(Resolve("https://u:p@a/b", "//h/x") == "https://h/x");
  }
  SECTION("an empty reference is the base") {
    CHECK(Resolve(feed, "") == feed);
    CHECK(Resolve(feed, "   ") == feed);
  }
  SECTION("percent-encoding is kept") {
    CHECK(Resolve(feed, "/caf%C3%A9?q=a%26b") == "https://blog.example.nhs.uk/caf%C3%A9?q=a%26b");
  }
  SECTION("a base with a port") {
    CHECK(Resolve("http://127.0.0.1:8080/feeds/a.xml", "b.xml") ==
          "http://127.0.0.1:8080/feeds/b.xml");
  }
}

TEST_CASE("ResolveUrl reports bad bases and references", "[url]") {
  for (const char* base :
       {"", "not a url", "/relative/only", "example.org/feed", "http://h:99999/"}) {
    INFO("base \"" << base << "\"");
    Result<std::string> r = ResolveUrl(base, "x");
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
    CHECK(r.status().message().find(std::string("\"") + base + "\"") != std::string::npos);
  }
  Result<std::string> r = ResolveUrl("https://h/", "https://h:99999/x");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("https://h:99999/x") != std::string::npos);
}

TEST_CASE("UrlHost returns the lower-cased host without port", "[url]") {
  auto host = [](std::string_view url) {
    Result<std::string> r = UrlHost(url);
    return r.ok() ? *r : "error: " + r.status().message();
  };
  CHECK(host("https://Mastodon.Social/@nhs") == "mastodon.social");
  CHECK(host("https://mastodon.social:443/api/v1/timelines/tag/nhs") == "mastodon.social");
  CHECK(host("http://127.0.0.1:8080/feed.xml") == "127.0.0.1");
  CHECK(host("http://[::1]:8080/") == "[::1]");
  CHECK(host("https://user:pw@Example.ORG/x") == "example.org");
  CHECK_FALSE(UrlHost("").ok());
  CHECK_FALSE(UrlHost("/just/a/path").ok());
  CHECK_FALSE(UrlHost("not a url").ok());
}

TEST_CASE("UrlEncode percent-encodes everything but unreserved characters", "[url]") {
  CHECK(UrlEncode("") == "");
  CHECK(UrlEncode("nhs") == "nhs");
  CHECK(UrlEncode("AZaz09-._~") == "AZaz09-._~");
  CHECK(UrlEncode("a b&c=d/e?f#g+h") == "a%20b%26c%3Dd%2Fe%3Ff%23g%2Bh");
  CHECK(UrlEncode("caf\xC3\xA9") == "caf%C3%A9");
  CHECK(UrlEncode("#NHS") == "%23NHS");
  CHECK(UrlEncode(std::string_view("a\0b", 3)) == "a%00b");
}

TEST_CASE("QueryParam extracts and decodes one parameter", "[url]") {
  const std::string_view next =
      "https://mastodon.social/api/v1/timelines/tag/nhs?max_id=113456789012345678&limit=40";
  CHECK(QueryParam(next, "max_id") == "113456789012345678");
  CHECK(QueryParam(next, "limit") == "40");
  CHECK(QueryParam(next, "min_id") == "");
  CHECK(QueryParam(next, "max") == "");
  CHECK(QueryParam("https://h/s?q=a%20b+c&x=%26%3D", "q") == "a b c");
  CHECK(QueryParam("https://h/s?q=a%20b+c&x=%26%3D", "x") == "&=");
  CHECK(QueryParam("https://h/s?max_id_x=1&max_id=2", "max_id") == "2");
  CHECK(QueryParam("https://h/s?a=1&a=2", "a") == "1");
  CHECK(QueryParam("https://h/s?flag&b=2", "flag") == "");
  CHECK(QueryParam("https://h/s?&&b=2&", "b") == "2");
  CHECK(QueryParam("https://h/s?k%20y=v", "k y") == "v");
  CHECK(QueryParam("https://h/s?a=x=y", "a") == "x=y");
  CHECK(QueryParam("https://h/s?a=1#b=2", "b") == "");
  CHECK(QueryParam("https://h/s", "a") == "");
  CHECK(QueryParam("garbage", "a") == "");
  CHECK(QueryParam("", "a") == "");
}

TEST_CASE("ParseLinkHeader reads Mastodon pagination links", "[url]") {
  std::vector<WebLink> links = ParseLinkHeader(
      "<https://mastodon.social/api/v1/timelines/tag/nhs?max_id=1134>; rel=\"next\", "
      "<https://mastodon.social/api/v1/timelines/tag/nhs?min_id=1140>; rel=\"prev\"");
  REQUIRE(links.size() == 2);
  CHECK(links[0].url == "https://mastodon.social/api/v1/timelines/tag/nhs?max_id=1134");
  CHECK(links[0].rel == "next");
  CHECK(links[1].url == "https://mastodon.social/api/v1/timelines/tag/nhs?min_id=1140");
  CHECK(links[1].rel == "prev");
  CHECK(FindLink(links, "next") == links[0].url);
  CHECK(FindLink(links, "prev") == links[1].url);
  CHECK(FindLink(links, "last") == "");
}

TEST_CASE("ParseLinkHeader copes with spacing, quoting and several relations", "[url]") {
  SECTION("odd spacing and unquoted rel") {
    std::vector<WebLink> links = ParseLinkHeader(
        "  <https://h/a>;rel=next ,<https://h/b>  ;  rel = prev  ,\t<https://h/c>;rel=\"last\"");
    REQUIRE(links.size() == 3);
    CHECK(links[0].url == "https://h/a");
    CHECK(links[0].rel == "next");
    CHECK(links[1].url == "https://h/b");
    CHECK(links[1].rel == "prev");
    CHECK(links[2].url == "https://h/c");
    CHECK(links[2].rel == "last");
  }
  SECTION("quoted parameters containing commas and semicolons") {
    std::vector<WebLink> links = ParseLinkHeader(
        "<https://h/a>; title=\"a, b; c\"; rel=\"next\", "
        "<https://h/b>; title*=UTF-8'de'n%c3%a4chstes; anchor=\"#x,y\"; rel=prev, "
        "<https://h/c>; title=\"escaped \\\" quote, here\"; rel=last");
    REQUIRE(links.size() == 3);
    CHECK(links[0].url == "https://h/a");
    CHECK(links[0].rel == "next");
    CHECK(links[1].url == "https://h/b");
    CHECK(links[1].rel == "prev");
    CHECK(links[2].url == "https://h/c");
    CHECK(links[2].rel == "last");
  }
  SECTION("several relation types, case-insensitive") {
    std::vector<WebLink> links =
        ParseLinkHeader("<https://h/a>; REL=\"Next  Last\", <https://h/b>; rel=\"prev first\"");
    REQUIRE(links.size() == 2);
    CHECK(links[0].rel == "next last");
    CHECK(FindLink(links, "last") == "https://h/a");
    CHECK(FindLink(links, "NEXT") == "https://h/a");
    CHECK(FindLink(links, "first") == "https://h/b");
    CHECK(FindLink(links, "nex") == "");
    CHECK(FindLink(links, "") == "");
  }
  SECTION("the first rel parameter wins") {
    std::vector<WebLink> links = ParseLinkHeader("<https://h/a>; rel=next; rel=prev");
    REQUIRE(links.size() == 1);
    CHECK(links[0].rel == "next");
  }
  SECTION("URLs with commas and relative URLs are kept as written") {
    std::vector<WebLink> links =
        ParseLinkHeader("<https://h/a?ids=1,2,3>; rel=next, < /page/2 >; rel=prev");
    REQUIRE(links.size() == 2);
    CHECK(links[0].url == "https://h/a?ids=1,2,3");
    CHECK(links[1].url == "/page/2");
  }
  SECTION("empty list elements") {
    std::vector<WebLink> links = ParseLinkHeader(", ,<https://h/a>; rel=next,, ,");
    REQUIRE(links.size() == 1);
    CHECK(links[0].url == "https://h/a");
  }
}

TEST_CASE("ParseLinkHeader skips malformed entries and keeps the rest", "[url]") {
  CHECK(ParseLinkHeader("").empty());
  CHECK(ParseLinkHeader("   ").empty());
  CHECK(ParseLinkHeader("garbage").empty());
  CHECK(ParseLinkHeader("https://h/a; rel=next").empty());      // no angle brackets
  CHECK(ParseLinkHeader("<https://h/a>").empty());              // no rel
  CHECK(ParseLinkHeader("<https://h/a>; rel=").empty());        // empty rel
  CHECK(ParseLinkHeader("<https://h/a; rel=next").empty());     // unterminated URL
  CHECK(ParseLinkHeader("<https://h/a>; rel=\"next").empty());  // unterminated quote

  std::vector<WebLink> links = ParseLinkHeader(
      "garbage, <https://h/1>; rel=next junk, <https://h/2>; =x; rel=prev, "
      "<https://h/3>; title=\"has, comma\" extra; rel=up, <https://h/4>; rel=last");
  REQUIRE(links.size() == 1);
  CHECK(links[0].url == "https://h/4");
  CHECK(links[0].rel == "last");

  links = ParseLinkHeader("<https://h/a>, <https://h/b>; rel=next");
  REQUIRE(links.size() == 1);
  CHECK(links[0].url == "https://h/b");
  CHECK(FindLink(links, "next") == "https://h/b");
}

}  // namespace
}  // namespace earshot
