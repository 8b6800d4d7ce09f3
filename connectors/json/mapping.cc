#include "connectors/json/mapping.h"

#include <algorithm>
#include <utility>

#include "connectors/json/json.h"
#include "crawler/core/strings.h"
#include "crawler/core/url.h"

namespace earshot::connector_json {

namespace {

// Marks an empty placeholder value while a URL is expanded; templates never
// contain control characters (CompileMapping rejects them).
constexpr char kEmptyMark = '\x01';

Status KeyError(std::string_view key, std::string why) {
  return Status::InvalidArgument("`" + std::string(key) + "`: " + why);
}

std::string Quoted(std::string_view text) {
  constexpr size_t kMax = 80;
  std::string out = "\"" + std::string(text.substr(0, kMax));
  if (text.size() > kMax) out += "...";
  return out + "\"";
}

bool HasControl(std::string_view text) {
  return std::any_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

// RFC 9110 token characters (header names).
bool IsToken(std::string_view text) {
  if (text.empty()) return false;
  static constexpr std::string_view kExtra = "!#$%&'*+-.^_`|~";
  for (char c : text) {
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alnum && kExtra.find(c) == std::string_view::npos) return false;
  }
  return true;
}

bool HasOption(const SourceSpec& source, std::string_view key) {
  return source.options.find(std::string(key)) != source.options.end();
}

// A key that must hold a pointer (never a template).
Status ReadPointerKey(const SourceSpec& source, std::string_view key, std::string* out) {
  std::string value = source.GetString(key);
  if (value.empty()) {
    out->clear();
    return Status::Ok();
  }
  if (value.front() != '/') {
    return KeyError(key, Quoted(value) + " is not a JSON pointer: write \"/" + value +
                             "\" (RFC 6901 pointers start with '/')");
  }
  Status valid = CheckPointer(value);
  if (!valid.ok()) return KeyError(key, valid.message());
  *out = std::move(value);
  return Status::Ok();
}

Status ReadPointerField(const SourceSpec& source, std::string_view key, FieldSpec* field) {
  field->key = std::string(key);
  std::string pointer;
  EARSHOT_RETURN_IF_ERROR(ReadPointerKey(source, key, &pointer));
  if (!pointer.empty()) {
    field->kind = FieldSpec::Kind::kPointer;
    field->pointer = std::move(pointer);
  }
  return Status::Ok();
}

// A key that holds a pointer ("/a/b") or a template ("@{/name}", "...{id}").
Status ReadFlexibleField(const SourceSpec& source, std::string_view key, bool allow_constant,
                         FieldSpec* field) {
  field->key = std::string(key);
  std::string value = source.GetString(key);
  if (value.empty()) return Status::Ok();
  if (value.front() == '/') {
    Status valid = CheckPointer(value);
    if (!valid.ok()) return KeyError(key, valid.message());
    field->kind = FieldSpec::Kind::kPointer;
    field->pointer = std::move(value);
    return Status::Ok();
  }
  if (HasControl(value)) return KeyError(key, "contains a control character");
  auto parts = ParseTemplate(value, {"id"}, /*allow_pointers=*/true);
  if (!parts.ok()) return KeyError(key, parts.status().message());
  const bool has_placeholder = std::any_of(parts->begin(), parts->end(), [](const TemplatePart& p) {
    return p.kind != TemplatePart::Kind::kLiteral;
  });
  if (!has_placeholder && !allow_constant) {
    return KeyError(key, Quoted(value) +
                             " is neither a JSON pointer (starting with '/') nor a template "
                             "with a {id} or {/pointer} placeholder");
  }
  field->kind = has_placeholder ? FieldSpec::Kind::kTemplate : FieldSpec::Kind::kConstant;
  field->parts = std::move(parts).value();
  return Status::Ok();
}

template <typename Enum>
Status ReadEnum(const SourceSpec& source, std::string_view key,
                const std::vector<std::pair<std::string_view, Enum>>& choices, Enum* out) {
  if (!HasOption(source, key)) return Status::Ok();
  const std::string value = source.GetString(key);
  for (const auto& [name, choice] : choices) {
    if (value == name) {
      *out = choice;
      return Status::Ok();
    }
  }
  std::string names;
  for (const auto& [name, choice] : choices) {
    names += (names.empty() ? "\"" : ", \"") + std::string(name) + "\"";
  }
  return KeyError(key, Quoted(value) + " is not one of " + names);
}

bool HasPlaceholder(const std::vector<TemplatePart>& parts, std::string_view name) {
  return std::any_of(parts.begin(), parts.end(), [&](const TemplatePart& p) {
    return p.kind == TemplatePart::Kind::kPlaceholder && p.text == name;
  });
}

// True when every {cursor} of the template is the whole value of a query
// parameter ("&after={cursor}"), which an empty cursor leaves out.
bool CursorOnlyAsWholeParam(const std::vector<TemplatePart>& parts) {
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].kind != TemplatePart::Kind::kPlaceholder || parts[i].text != "cursor") continue;
    if (i == 0 || parts[i - 1].kind != TemplatePart::Kind::kLiteral) return false;
    const std::string& before = parts[i - 1].text;
    const size_t sep = before.find_last_of("?&");
    if (sep == std::string::npos || before.find('=', sep) == std::string::npos ||
        before.back() != '=') {
      return false;
    }
    if (i + 1 < parts.size()) {
      if (parts[i + 1].kind != TemplatePart::Kind::kLiteral) return false;
      const char next = parts[i + 1].text.front();
      if (next != '&' && next != '#') return false;
    }
  }
  return true;
}

// An http(s) URL template whose expansion curl can parse; its host.
Result<std::string> CheckUrlTemplate(std::string_view key, std::string_view text,
                                     const std::vector<std::string_view>& placeholders) {
  if (!(text.starts_with("https://") || text.starts_with("http://"))) {
    return KeyError(key, "must start with http:// or https://");
  }
  if (HasControl(text) || text.find(' ') != std::string_view::npos) {
    return KeyError(key, "contains a space or control character (percent-encode it)");
  }
  auto parts = ParseTemplate(text, placeholders, /*allow_pointers=*/false);
  if (!parts.ok()) return KeyError(key, parts.status().message());
  std::map<std::string, std::string, std::less<>> sample;
  for (std::string_view name : placeholders) sample[std::string(name)] = "0";
  const std::string expanded = ExpandUrlTemplate(*parts, sample);
  auto host = UrlHost(expanded);
  if (!host.ok() || host->empty()) {
    return KeyError(key, "is not a valid URL once {placeholders} are filled in");
  }
  return std::move(host).value();
}

}  // namespace

Result<std::vector<TemplatePart>> ParseTemplate(std::string_view text,
                                                const std::vector<std::string_view>& placeholders,
                                                bool allow_pointers) {
  std::vector<TemplatePart> parts;
  auto literal = [&](std::string_view piece) {
    if (piece.empty()) return;
    if (!parts.empty() && parts.back().kind == TemplatePart::Kind::kLiteral) {
      parts.back().text += piece;
    } else {
      parts.push_back({TemplatePart::Kind::kLiteral, std::string(piece)});
    }
  };
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t open = text.find('{', pos);
    if (open == std::string_view::npos) {
      literal(text.substr(pos));
      break;
    }
    literal(text.substr(pos, open - pos));
    const size_t close = text.find('}', open + 1);
    if (close == std::string_view::npos) {
      return Status::InvalidArgument("'{' at offset " + std::to_string(open) +
                                     " has no closing '}'");
    }
    const std::string_view name = text.substr(open + 1, close - open - 1);
    if (allow_pointers && !name.empty() && name.front() == '/') {
      Status valid = CheckPointer(name);
      if (!valid.ok()) return valid;
      parts.push_back({TemplatePart::Kind::kPointer, std::string(name)});
    } else if (std::find(placeholders.begin(), placeholders.end(), name) != placeholders.end()) {
      parts.push_back({TemplatePart::Kind::kPlaceholder, std::string(name)});
    } else {
      std::string known;
      for (std::string_view p : placeholders)
        known += (known.empty() ? "{" : ", {") + std::string(p) + "}";
      if (allow_pointers) known += (known.empty() ? "" : ", ") + std::string("{/json/pointer}");
      return Status::InvalidArgument("unknown placeholder {" + std::string(name.substr(0, 40)) +
                                     "} (known: " + (known.empty() ? "none" : known) + ")");
    }
    pos = close + 1;
  }
  return parts;
}

std::string ExpandUrlTemplate(const std::vector<TemplatePart>& parts,
                              const std::map<std::string, std::string, std::less<>>& values) {
  std::string out;
  for (const TemplatePart& part : parts) {
    if (part.kind == TemplatePart::Kind::kLiteral) {
      out += part.text;
      continue;
    }
    auto it = values.find(part.text);
    if (it == values.end() || it->second.empty()) {
      out += kEmptyMark;
    } else {
      out += UrlEncode(it->second);
    }
  }
  const size_t question = out.find('?');
  if (question != std::string::npos) {
    const size_t hash = out.find('#', question);
    const std::string_view query = std::string_view(out).substr(
        question + 1, hash == std::string::npos ? std::string_view::npos : hash - question - 1);
    std::string kept;
    std::string_view rest = query;
    while (true) {
      const size_t amp = rest.find('&');
      const std::string_view param = rest.substr(0, amp);
      const size_t eq = param.find('=');
      const bool empty_placeholder =
          eq != std::string_view::npos && param.substr(eq + 1) == std::string_view(&kEmptyMark, 1);
      if (!param.empty() && !empty_placeholder) {
        if (!kept.empty()) kept += '&';
        kept += param;
      }
      if (amp == std::string_view::npos) break;
      rest = rest.substr(amp + 1);
    }
    const std::string tail = hash == std::string::npos ? std::string() : out.substr(hash);
    out = out.substr(0, question) + (kept.empty() ? std::string() : "?" + kept) + tail;
  }
  out.erase(std::remove(out.begin(), out.end(), kEmptyMark), out.end());
  return out;
}

Result<Mapping> CompileMapping(const SourceSpec& source) {
  Mapping m;

  // The request.
  m.url_template = std::string(TrimAsciiSpace(source.url));
  if (m.url_template.empty()) {
    return KeyError("url", "is required: the API's URL, with {cursor} where the cursor goes");
  }
  auto host = CheckUrlTemplate("url", m.url_template, {"cursor"});
  EARSHOT_RETURN_IF_ERROR(host.status());
  m.url_host = std::move(host).value();
  m.initial_cursor = source.GetString("initial_cursor");
  if (HasControl(m.initial_cursor))
    return KeyError("initial_cursor", "contains a control character");

  for (const std::string& line : source.GetStrings("headers")) {
    const size_t colon = line.find(':');
    const std::string name(TrimAsciiSpace(std::string_view(line).substr(0, colon)));
    if (colon == std::string::npos || !IsToken(name)) {
      // The value may be a credential: only the name is shown.
      return KeyError("headers", "each entry must be \"Name: value\" with a valid header name (" +
                                     Quoted(name) + ")");
    }
    const std::string value(TrimAsciiSpace(std::string_view(line).substr(colon + 1)));
    if (HasControl(value)) {
      return KeyError("headers", "the value of " + Quoted(name) + " contains a control character");
    }
    m.headers.emplace_back(name, value);
  }
  m.token = std::string(TrimAsciiSpace(source.GetString("token")));
  if (HasControl(m.token)) return KeyError("token", "contains a control character");
  m.token_header = source.GetString("token_header", "Authorization");
  if (!IsToken(m.token_header)) {
    return KeyError("token_header", Quoted(m.token_header) + " is not a header name");
  }
  m.token_scheme = std::string(TrimAsciiSpace(source.GetString("token_scheme", "Bearer")));
  if (HasControl(m.token_scheme)) return KeyError("token_scheme", "contains a control character");

  // The body.
  EARSHOT_RETURN_IF_ERROR(ReadPointerKey(source, "items", &m.items));
  EARSHOT_RETURN_IF_ERROR(ReadPointerField(source, "id", &m.id));
  if (!m.id.set()) {
    return KeyError("id", "is required: the pointer to each item's id, e.g. \"/id\"");
  }
  EARSHOT_RETURN_IF_ERROR(ReadPointerField(source, "text", &m.text));
  EARSHOT_RETURN_IF_ERROR(ReadFlexibleField(source, "title", false, &m.title));
  if (!m.text.set() && !m.title.set()) {
    return KeyError("text", "is required (or `title`): the pointer to each item's text");
  }
  EARSHOT_RETURN_IF_ERROR(ReadFlexibleField(source, "uid", false, &m.uid));
  EARSHOT_RETURN_IF_ERROR(ReadFlexibleField(source, "author", false, &m.author));
  EARSHOT_RETURN_IF_ERROR(ReadFlexibleField(source, "author_name", false, &m.author_name));
  // `url` is the common key (the request); the item's own link is `post_url`.
  EARSHOT_RETURN_IF_ERROR(ReadFlexibleField(source, "post_url", false, &m.url));
  EARSHOT_RETURN_IF_ERROR(ReadPointerField(source, "created_at", &m.created_at));
  EARSHOT_RETURN_IF_ERROR(ReadPointerField(source, "reply_to", &m.reply_to));
  EARSHOT_RETURN_IF_ERROR(ReadPointerField(source, "conversation", &m.conversation));
  EARSHOT_RETURN_IF_ERROR(ReadFlexibleField(source, "language", true, &m.language));
  EARSHOT_RETURN_IF_ERROR(ReadPointerKey(source, "deleted", &m.deleted));
  EARSHOT_RETURN_IF_ERROR(ReadPointerKey(source, "removed", &m.removed));
  m.text_is_html = source.GetBool("text_is_html", false);
  static const std::vector<std::pair<std::string_view, TimeFormat>> kTimeFormats = {
      {"auto", TimeFormat::kAuto},
      {"iso8601", TimeFormat::kIso8601},
      {"rfc822", TimeFormat::kRfc822},
      {"unix", TimeFormat::kUnix},
      {"unix_ms", TimeFormat::kUnixMs}};
  EARSHOT_RETURN_IF_ERROR(
      ReadEnum(source, "created_at_format", kTimeFormats, &m.created_at_format));
  if (HasOption(source, "uid_prefix")) {
    m.uid_prefix = source.GetString("uid_prefix");
  } else {
    m.uid_prefix = m.url_host + ":";
  }

  // The cursor.
  EARSHOT_RETURN_IF_ERROR(ReadEnum(source, "cursor_from",
                                   std::vector<std::pair<std::string_view, CursorFrom>>{
                                       {"none", CursorFrom::kNone},
                                       {"body", CursorFrom::kBody},
                                       {"link", CursorFrom::kLink},
                                       {"max_id", CursorFrom::kMaxId},
                                       {"max_created_at", CursorFrom::kMaxCreatedAt}},
                                   &m.cursor_from));
  EARSHOT_RETURN_IF_ERROR(ReadPointerKey(source, "next_cursor", &m.next_cursor));
  EARSHOT_RETURN_IF_ERROR(ReadEnum(
      source, "page_order",
      std::vector<std::pair<std::string_view, PageOrder>>{
          {"oldest_first", PageOrder::kOldestFirst}, {"newest_first", PageOrder::kNewestFirst}},
      &m.page_order));
  EARSHOT_RETURN_IF_ERROR(ReadEnum(
      source, "cursor_time_format",
      std::vector<std::pair<std::string_view, TimeFormat>>{{"unix", TimeFormat::kUnix},
                                                           {"unix_ms", TimeFormat::kUnixMs},
                                                           {"iso8601", TimeFormat::kIso8601}},
      &m.cursor_time_format));
  m.link_rel = source.GetString("link_rel", "next");
  if (!IsToken(m.link_rel))
    return KeyError("link_rel", Quoted(m.link_rel) + " is not a relation type");
  m.cursor_overlap_seconds = source.GetInt("cursor_overlap", 0);
  if (m.cursor_overlap_seconds < 0 || m.cursor_overlap_seconds > 7 * 24 * 3600) {
    return KeyError("cursor_overlap", "must be between 0 and 604800 seconds");
  }

  auto url_parts = ParseTemplate(m.url_template, {"cursor"}, false);
  EARSHOT_RETURN_IF_ERROR(url_parts.status());
  const bool has_cursor = HasPlaceholder(*url_parts, "cursor");
  switch (m.cursor_from) {
    case CursorFrom::kNone:
      break;
    case CursorFrom::kBody:
      if (m.next_cursor.empty()) {
        return KeyError("next_cursor",
                        "is required with cursor_from = \"body\": the pointer to the next "
                        "page's cursor in the response, e.g. \"/next_page\"");
      }
      [[fallthrough]];
    case CursorFrom::kMaxId:
    case CursorFrom::kMaxCreatedAt:
      if (!has_cursor) {
        return KeyError("url", "has no {cursor} placeholder, which cursor_from = \"" +
                                   source.GetString("cursor_from") + "\" fills in");
      }
      break;
    case CursorFrom::kLink:
      break;
  }
  if (!m.next_cursor.empty() && m.cursor_from != CursorFrom::kBody) {
    return KeyError("next_cursor", "is only read with cursor_from = \"body\"");
  }
  if (m.cursor_from == CursorFrom::kMaxCreatedAt && !m.created_at.set()) {
    return KeyError("created_at", "is required with cursor_from = \"max_created_at\"");
  }
  if (m.page_order != PageOrder::kOldestFirst && m.cursor_from != CursorFrom::kBody &&
      m.cursor_from != CursorFrom::kLink) {
    return KeyError("page_order", "applies to cursor_from = \"body\" or \"link\" only");
  }
  if (m.cursor_overlap_seconds > 0 && m.cursor_from != CursorFrom::kMaxCreatedAt) {
    return KeyError("cursor_overlap", "applies to cursor_from = \"max_created_at\" only");
  }
  if (m.cursor_time_format != TimeFormat::kUnix && m.cursor_from != CursorFrom::kMaxCreatedAt) {
    return KeyError("cursor_time_format", "applies to cursor_from = \"max_created_at\" only");
  }
  if (has_cursor && m.initial_cursor.empty() && !CursorOnlyAsWholeParam(*url_parts)) {
    return KeyError("initial_cursor",
                    "must be set: {cursor} is part of a larger value in `url`, which an empty "
                    "cursor on the first poll would leave malformed");
  }

  // The conversation fetch.
  m.conversation_url = std::string(TrimAsciiSpace(source.GetString("conversation_url")));
  if (!m.conversation_url.empty()) {
    EARSHOT_RETURN_IF_ERROR(
        CheckUrlTemplate("conversation_url", m.conversation_url, {"id", "conversation", "cursor"})
            .status());
  }
  if (HasOption(source, "conversation_items")) {
    EARSHOT_RETURN_IF_ERROR(ReadPointerKey(source, "conversation_items", &m.conversation_items));
  } else {
    m.conversation_items = m.items;
  }
  return m;
}

}  // namespace earshot::connector_json
