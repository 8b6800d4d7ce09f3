// Text normalisation shared by every connector: HTML to plain text, entity
// decoding, Unicode NFC, UTF-8 repair. Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace earshot {

// Plain text of an HTML fragment or document, parsed with libxml2's HTML
// parser in recover mode with network access off. Block elements (p, div,
// li, h1-h6, blockquote, pre, tr) and <br> become line breaks; script, style,
// template and head are dropped; entities are decoded; runs of spaces collapse;
// at most one blank line between paragraphs; result trimmed and NFC.
// U+00A0 (&nbsp;) counts as a space. Input without markup (no '<' starting a
// tag) is treated as plain text: entities are decoded, then NormalizeText.
// Invalid UTF-8 is repaired first; NUL bytes are dropped.
std::string HtmlToText(std::string_view html);

// Collapses whitespace the way HtmlToText does, for text that was never
// HTML (an RSS title in plain text). Result is NFC and trimmed.
// Plain text has no tags to mark paragraphs, so a blank line (two or more
// line breaks) is kept as one paragraph break; any other whitespace run,
// including a single line break (a folded title), becomes one space.
std::string NormalizeText(std::string_view text);

// Unicode NFC of valid UTF-8 (libunistring). Invalid input is repaired first.
std::string ToNfc(std::string_view utf8);

// Replaces every invalid UTF-8 sequence by U+FFFD.
std::string RepairUtf8(std::string_view bytes);
bool IsValidUtf8(std::string_view bytes);

// Lower-case hex SHA-256 of the bytes.
std::string Sha256Hex(std::string_view bytes);

}  // namespace earshot
