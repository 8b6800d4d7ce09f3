// HTTP value types shared by connectors (which build requests and read
// responses) and the transport (which moves them). No I/O here.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crawler/core/status.h"

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

// The Status for a non-2xx HTTP answer: 401 kUnauthenticated, 403
// kPermissionDenied, 429 kRateLimited, 404/410 kNotFound, 408
// kDeadlineExceeded, other 4xx kInvalidArgument, else kUnavailable. The
// message is "WHERE: HTTP STATUS" plus ": DETAIL" (the platform's own error
// text) when given; connectors and the engine share this one mapping.
Status StatusFromHttp(int status, std::string_view where, std::string_view detail = {});

}  // namespace earshot
