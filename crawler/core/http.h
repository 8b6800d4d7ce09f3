// HTTP value types shared by connectors (which build requests and read
// responses) and the transport (which moves them). No I/O here.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace earshot {

// An ordered list of header fields with case-insensitive lookup. Repeated
// fields are kept in arrival order.
class Headers {
 public:
  void Add(std::string name, std::string value) {
    fields_.emplace_back(std::move(name), std::move(value));
  }
  // Replaces every field named `name` (case-insensitively) by one.
  void Set(std::string_view name, std::string value);
  // First field named `name`, if any.
  std::optional<std::string_view> Get(std::string_view name) const;
  std::vector<std::string_view> GetAll(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }
  bool empty() const { return fields_.empty(); }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

bool EqualsIgnoreCase(std::string_view a, std::string_view b);

struct HttpRequest {
  std::string method = "GET";
  std::string url;  // absolute
  Headers headers;
  std::string body;
};

struct HttpResponse {
  int status = 0;
  std::string url;  // effective URL after redirects; base for relative links
  Headers headers;
  std::string body;  // decoded (gzip/br already undone by the transport)
};

// The media type and charset of a Content-Type value, lower-cased:
// "text/xml; charset=ISO-8859-1" -> {"text/xml", "iso-8859-1"}.
struct ContentType {
  std::string media_type;
  std::string charset;  // empty when not given
};
ContentType ParseContentType(std::string_view value);

}  // namespace earshot
