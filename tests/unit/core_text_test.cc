// Text normalisation (crawler/core/text.h).
#include <atomic>
#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

#include "crawler/core/text.h"

namespace earshot {
namespace {

// "é" as one code point and as e + COMBINING ACUTE ACCENT.
constexpr std::string_view kEAcuteComposed = "\xC3\xA9";
constexpr std::string_view kEAcuteDecomposed = "e\xCC\x81";
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

std::string Str(std::string_view s) { return std::string(s); }

TEST_CASE("HtmlToText turns block elements into lines and paragraphs", "[text]") {
  CHECK(HtmlToText("<p>First</p><p>Second</p>") == "First\n\nSecond");
  CHECK(HtmlToText("<div>One</div><div>Two</div>") == "One\nTwo");
  CHECK(HtmlToText("<h1>Title</h1>Body text") == "Title\n\nBody text");
  CHECK(HtmlToText("<ul><li>a</li><li>b</li></ul><ol><li>c</li></ol>") == "a\nb\nc");
  CHECK(HtmlToText("<blockquote>quoted</blockquote>reply") == "quoted\n\nreply");
  CHECK(HtmlToText("<table><tr><td>a</td><td>b</td></tr><tr><th>c</th><td>d</td></tr></table>") ==
        "a b\nc d");
  CHECK(HtmlToText("before<hr>after") == "before\n\nafter");
}

TEST_CASE("HtmlToText handles nested blocks without extra blank lines", "[text]") {
  CHECK(HtmlToText("<div><div><p>deep</p></div></div><div><p>next</p></div>") == "deep\n\nnext");
  CHECK(HtmlToText("<div>\n  <p>\n    a\n  </p>\n\n\n  <p>b</p>\n</div>") == "a\n\nb");
  CHECK(HtmlToText("<ul><li>one<ul><li>inner</li></ul></li><li>two</li></ul>") ==
        "one\ninner\ntwo");
  CHECK(HtmlToText("<article><header><h2>Head</h2></header><section><p>Para</p></section>"
                   "<footer>Foot</footer></article>") == "Head\n\nPara\n\nFoot");
}

TEST_CASE("HtmlToText keeps inline elements inline", "[text]") {
  CHECK(HtmlToText("<p>Hello <b>bold</b> and <i>it</i><em>alic</em>!</p>") ==
        "Hello bold and italic!");
  CHECK(HtmlToText("<p>A <a href=\"https://x\">link</a>.</p>") == "A link.");
  // Mastodon's status content.
  CHECK(HtmlToText("<p>Thanks to the team at <span class=\"h-card\" translate=\"no\">"
                   "<a href=\"https://m.s/@ward7\" class=\"u-url mention\">@<span>ward7</span>"
                   "</a></span> <a href=\"https://m.s/tags/NHS\" class=\"mention hashtag\" "
                   "rel=\"tag\">#<span>NHS</span></a></p><p>Second para</p>") ==
        "Thanks to the team at @ward7 #NHS\n\nSecond para");
  CHECK(HtmlToText("<p><a href=\"https://example.org/a/very/long\" rel=\"nofollow noopener\">"
                   "<span class=\"invisible\">https://</span><span class=\"ellipsis\">"
                   "example.org/a/very</span><span class=\"invisible\">/long</span></a></p>") ==
        "https://example.org/a/very/long");
}

TEST_CASE("HtmlToText turns <br> into line breaks", "[text]") {
  CHECK(HtmlToText("line1<br>line2") == "line1\nline2");
  CHECK(HtmlToText("line1<br/>line2<br />line3") == "line1\nline2\nline3");
  CHECK(HtmlToText("a<br><br>b") == "a\n\nb");
  CHECK(HtmlToText("a<br><br><br><br>b") == "a\n\nb");  // at most one blank line
  CHECK(HtmlToText("<p>a<br></p><p>b</p>") == "a\n\nb");
  CHECK(HtmlToText("<br><br>x<br><br>") == "x");
  CHECK(HtmlToText("a <br> b") == "a\nb");
}

TEST_CASE("HtmlToText decodes entities", "[text]") {
  CHECK(HtmlToText("<p>Fish &amp; chips</p>") == "Fish & chips");
  CHECK(HtmlToText("<p>&lt;script&gt; &quot;q&quot; &#39;s&#39; &apos;</p>") ==
        "<script> \"q\" 's' '");
  CHECK(HtmlToText("<p>smile &#x1F600; &#128512;</p>") ==
        "smile \xF0\x9F\x98\x80 \xF0\x9F\x98\x80");
  CHECK(HtmlToText("<p>caf&eacute; &copy; &euro;5</p>") ==
        "caf\xC3\xA9 \xC2\xA9 \xE2\x82\xAC"
        "5");
  // &nbsp; is a space for search and classification.
  CHECK(HtmlToText("<p>a&nbsp;b&nbsp;&nbsp;&nbsp;c</p>") == "a b c");
  CHECK(HtmlToText("<p>&nbsp;padded&nbsp;</p>") == "padded");
  CHECK(HtmlToText("<p>AT&T &amp</p>") == "AT&T &amp");
}

TEST_CASE("HtmlToText drops script, style, template and head", "[text]") {
  CHECK(HtmlToText("<p>visible</p><script>alert('x')</script><p>also</p>") == "visible\n\nalso");
  CHECK(HtmlToText("<style>p { color: red }</style><p>styled</p>") == "styled");
  CHECK(HtmlToText("<template><p>hidden</p></template>shown") == "shown");
  CHECK(HtmlToText("<html><head><title>Page</title><meta charset=\"utf-8\">"
                   "<script>var x = '<p>no</p>';</script></head>"
                   "<body><p>Body</p></body></html>") == "Body");
  CHECK(HtmlToText("a<!-- comment -->b") == "ab");
  CHECK(HtmlToText("<p>x</p><script>unterminated <p>script") == "x");
  CHECK(HtmlToText("<noscript>Enable JavaScript</noscript>content") == "content");
}

TEST_CASE("HtmlToText collapses whitespace", "[text]") {
  CHECK(HtmlToText("<p>  lots   of\n\n  space\t\there  </p>") == "lots of space here");
  CHECK(HtmlToText("<span>a</span>\n<span>b</span>") == "a b");
  CHECK(HtmlToText("  <p>trim</p>  ") == "trim");
  CHECK(HtmlToText("") == "");
  CHECK(HtmlToText("   \n\t ") == "");
  CHECK(HtmlToText("<p></p><div> </div><br>") == "");
}

TEST_CASE("HtmlToText keeps <pre> formatting", "[text]") {
  CHECK(HtmlToText("<p>code:</p><pre>if (x) {\n    y();\n}</pre><p>done</p>") ==
        "code:\n\nif (x) {\n    y();\n}\n\ndone");
}

TEST_CASE("HtmlToText recovers from broken HTML", "[text]") {
  CHECK(HtmlToText("<div><p>unclosed <b>bold<p>next</div></span>") == "unclosed bold\n\nnext");
  CHECK(HtmlToText("<p>a</b></i></p>b") == "a\n\nb");
  // An unterminated attribute value swallows the rest, as in browsers; what
  // matters is that nothing breaks.
  CHECK(IsValidUtf8(HtmlToText("<p class=\"x>broken attr</p>after")));
  CHECK(HtmlToText("<<<>>>") == "<<<>>>");
  CHECK(HtmlToText("text <unknown-tag>inside</unknown-tag> end") == "text inside end");
  CHECK(HtmlToText("<p>1 < 2 and 3 > 2</p>") == "1 < 2 and 3 > 2");
  CHECK(HtmlToText("</p></div>stray closers") == "stray closers");
  CHECK(HtmlToText("<!DOCTYPE html><p>doc</p>") == "doc");
  CHECK(HtmlToText("<?xml version=\"1.0\"?><p>pi</p>") == "pi");
  // NUL bytes are dropped, not turned into spaces or truncating the text.
  CHECK(HtmlToText(std::string_view("<p>a\0b</p><p>after</p>", 22)) == "ab\n\nafter");
}

TEST_CASE("HtmlToText copes with invalid character references", "[text]") {
  for (const char* html :
       {"<p>a&#0;b</p>", "<p>a&#xD800;b</p>", "<p>a&#x110000;b</p>",
        "<p>a&#99999999999999999999;b</p>", "<p>a&#x;b&#;c</p>", "<p>a&#1;b&#x7F;c</p>"}) {
    INFO(html);
    std::string text = HtmlToText(html);
    CHECK(IsValidUtf8(text));
    CHECK(text.front() == 'a');
    CHECK(text.find('b') != std::string::npos);
  }
}

TEST_CASE("HtmlToText can run on several threads at once", "[text]") {
  const std::string html =
      "<p>Thanks <b>Ward&nbsp;7</b> &amp; staff &#x1F600;</p><script>x()</script><p>e\xCC\x81</p>";
  const std::string expected = HtmlToText(html);
  REQUIRE(expected == "Thanks Ward 7 & staff \xF0\x9F\x98\x80\n\n\xC3\xA9");
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (HtmlToText(html) != expected) ++mismatches;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(mismatches.load() == 0);
}

TEST_CASE("HtmlToText survives hostile nesting", "[text]") {
  std::string deep;
  for (int i = 0; i < 20000; ++i) deep += "<div><span>";
  deep += "bottom";
  CHECK(HtmlToText(deep) == "bottom");
  std::string wide;
  for (int i = 0; i < 5000; ++i) wide += "<p>x</p>";
  std::string text = HtmlToText(wide);
  CHECK(text.size() == 5000 + 4999 * 2);
}

TEST_CASE("HtmlToText leaves plain text alone except whitespace", "[text]") {
  CHECK(HtmlToText("Just a sentence.") == "Just a sentence.");
  CHECK(HtmlToText("  spaced   out\ttext  ") == "spaced out text");
  CHECK(HtmlToText("First paragraph\nwrapped line.\n\nSecond paragraph.") ==
        "First paragraph wrapped line.\n\nSecond paragraph.");
  CHECK(HtmlToText("a < b > c, 3<4, x&y; AT&T") == "a < b > c, 3<4, x&y; AT&T");
  CHECK(HtmlToText("I <3 the NHS") == "I <3 the NHS");
  CHECK(HtmlToText("Fish &amp; chips\n\nnext &#x1F600;") ==
        "Fish & chips\n\nnext \xF0\x9F\x98\x80");
  CHECK(HtmlToText("email me: a@b.c, \"quoted\" 'single'") ==
        "email me: a@b.c, \"quoted\" 'single'");
}

TEST_CASE("HtmlToText output is valid NFC UTF-8", "[text]") {
  CHECK(HtmlToText(Str("<p>caf") + Str(kEAcuteDecomposed) + "</p>") ==
        Str("caf") + Str(kEAcuteComposed));
  std::string repaired = HtmlToText("<p>bad \xFF\xFE bytes \xC3</p><p>ok \xC3\xA9</p>");
  CHECK(IsValidUtf8(repaired));
  CHECK(repaired == Str("bad ") + Str(kReplacement) + Str(kReplacement) + " bytes " +
                        Str(kReplacement) + "\n\nok " + Str(kEAcuteComposed));
  // A Latin-1 byte in otherwise UTF-8 text must not make libxml2 re-read the
  // whole document as Latin-1.
  CHECK(HtmlToText("<p>caf\xE9</p><p>\xE2\x82\xAC</p>") ==
        Str("caf") + Str(kReplacement) + "\n\n\xE2\x82\xAC");
}

TEST_CASE("NormalizeText collapses whitespace in plain text", "[text]") {
  CHECK(NormalizeText("  Ward   7\tthanks  ") == "Ward 7 thanks");
  CHECK(NormalizeText("\n   A title folded\n   across lines\n  ") == "A title folded across lines");
  CHECK(NormalizeText("para one\n\npara two") == "para one\n\npara two");
  CHECK(NormalizeText("para one\r\n\r\n\r\n\npara two") == "para one\n\npara two");
  CHECK(NormalizeText("para one\n  \n \t\npara two") == "para one\n\npara two");
  CHECK(NormalizeText("line\rline") == "line line");
  CHECK(NormalizeText("a\xC2\xA0\xC2\xA0"
                      "b") == "a b");
  CHECK(NormalizeText("") == "");
  CHECK(NormalizeText(" \n\n ") == "");
  // Never HTML: tags and entities stay as written.
  CHECK(NormalizeText("<b>not bold</b> &amp;") == "<b>not bold</b> &amp;");
  CHECK(NormalizeText(Str(kEAcuteDecomposed) + "  x") == Str(kEAcuteComposed) + " x");
  CHECK(NormalizeText("bad\xFFtext") == Str("bad") + Str(kReplacement) + "text");
}

TEST_CASE("ToNfc composes and leaves NFC text alone", "[text]") {
  CHECK(ToNfc(kEAcuteDecomposed) == kEAcuteComposed);
  CHECK(ToNfc(kEAcuteComposed) == kEAcuteComposed);
  CHECK(ToNfc("plain ascii") == "plain ascii");
  CHECK(ToNfc("") == "");
  // Angstrom sign U+212B -> U+00C5; Hangul jamo compose to a syllable.
  CHECK(ToNfc("\xE2\x84\xAB") == "\xC3\x85");
  CHECK(ToNfc("\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB") == "\xED\x95\x9C");
  // Canonical ordering of combining marks: dot below (ccc 220) before acute.
  CHECK(ToNfc("a\xCC\x81\xCC\xA3") == "\xE1\xBA\xA1\xCC\x81");
  // Emoji and CJK are unchanged.
  CHECK(ToNfc("\xF0\x9F\x98\x80 \xE4\xB8\xAD") == "\xF0\x9F\x98\x80 \xE4\xB8\xAD");
  // Invalid input is repaired first.
  CHECK(ToNfc("e\xCC\x81\xFF") == Str(kEAcuteComposed) + Str(kReplacement));
  std::string with_nul("a\0b", 3);
  CHECK(ToNfc(with_nul) == with_nul);
}

TEST_CASE("IsValidUtf8 follows the Unicode well-formedness table", "[text]") {
  CHECK(IsValidUtf8(""));
  CHECK(IsValidUtf8("ascii"));
  CHECK(IsValidUtf8("\xC3\xA9"));
  CHECK(IsValidUtf8("\xE2\x82\xAC"));
  CHECK(IsValidUtf8("\xF0\x9F\x98\x80"));
  CHECK(IsValidUtf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF
  CHECK(IsValidUtf8("\xED\x9F\xBF"));      // U+D7FF, just below the surrogates
  CHECK(IsValidUtf8(std::string_view("\0", 1)));

  CHECK_FALSE(IsValidUtf8("\x80"));              // lone continuation
  CHECK_FALSE(IsValidUtf8("\xC3"));              // truncated
  CHECK_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong '/'
  CHECK_FALSE(IsValidUtf8("\xC1\xBF"));          // overlong
  CHECK_FALSE(IsValidUtf8("\xE0\x80\xAF"));      // overlong 3-byte
  CHECK_FALSE(IsValidUtf8("\xF0\x80\x80\xAF"));  // overlong 4-byte
  CHECK_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate U+D800
  CHECK_FALSE(IsValidUtf8("\xED\xBF\xBF"));      // surrogate U+DFFF
  CHECK_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  CHECK_FALSE(IsValidUtf8("\xF5\x80\x80\x80"));
  CHECK_FALSE(IsValidUtf8("\xFF"));
  CHECK_FALSE(IsValidUtf8("\xE2\x82"));  // truncated 3-byte
  CHECK_FALSE(
      IsValidUtf8("ok\xE2\x82"
                  "x"));
}

TEST_CASE("RepairUtf8 replaces maximal ill-formed subparts with U+FFFD", "[text]") {
  const std::string r = Str(kReplacement);
  CHECK(RepairUtf8("valid \xC3\xA9") == "valid \xC3\xA9");
  CHECK(RepairUtf8("") == "");
  CHECK(RepairUtf8("a\xFF"
                   "b") == "a" + r + "b");
  CHECK(RepairUtf8("caf\xE9") == "caf" + r);       // Latin-1 e-acute
  CHECK(RepairUtf8("\xC0\xAF") == r + r);          // overlong: two bad bytes
  CHECK(RepairUtf8("\xED\xA0\x80") == r + r + r);  // surrogate
  CHECK(RepairUtf8("\xE2\x82"
                   "x") == r + "x");       // truncated: one U+FFFD
  CHECK(RepairUtf8("\xF0\x9F\x98") == r);  // truncated at end
  CHECK(RepairUtf8("\xF0\x9F\x98\x80\x80") == "\xF0\x9F\x98\x80" + r);
  CHECK(RepairUtf8("\xF4\x90\x80\x80") == r + r + r + r);  // above U+10FFFF
  // Unicode 15 §3.9 table 3-8 example.
  CHECK(RepairUtf8("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64") ==
        "a" + r + r + r + "b" + r + "c" + r + r + "d");
  for (std::string_view bad : {"\xC3", "\x80\x80", "\xF8\x88\x80\x80\x80", "a\xED\xBF\xBF"}) {
    CHECK(IsValidUtf8(RepairUtf8(bad)));
  }
}

TEST_CASE("Sha256Hex hashes bytes", "[text]") {
  CHECK(Sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(Sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(Sha256Hex(std::string_view("\0", 1)) ==
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  CHECK(Sha256Hex(std::string(1'000'000, 'a')) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

}  // namespace
}  // namespace earshot
