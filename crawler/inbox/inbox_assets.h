// InboxAssets: the web inbox's static files (docs/inbox.md), looked up by
// URL path. The bytes are embedded into the binary at build time
// (embed_assets.cmake): our app shell, stylesheet and ES modules from
// crawler/inbox/static, and nhsuk-frontend's compiled CSS, JS and images from
// npm. Nothing is read from disk at run time.
//
// Paths are matched exactly ("/", "/assets/app.css"): no percent-decoding,
// no normalisation, so "/assets/../x" or "/assets/%2e%2e/x" simply are not
// found; the query string is the caller's to strip.
// Immutable after construction; Embedded() is thread-safe and its assets
// live for the whole program.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace earshot {

struct InboxAsset {
  std::string_view url_path;      // "/" or "/assets/..."
  std::string_view content_type;  // e.g. "text/css; charset=utf-8"
  std::string_view bytes;
  std::string_view etag;  // a quoted strong validator, changes with the bytes
  bool html = false;      // the app shell: never cached
};

class InboxAssets {
 public:
  // The files built into this binary.
  static const InboxAssets& Embedded();

  explicit InboxAssets(std::vector<InboxAsset> assets);

  // The asset at exactly `url_path`, or nullptr.
  const InboxAsset* Find(std::string_view url_path) const;
  const std::vector<InboxAsset>& All() const { return assets_; }

  // The Content-Type served for a file name, by its extension
  // ("application/octet-stream" when unknown).
  static std::string_view ContentTypeFor(std::string_view file_name);

 private:
  std::vector<InboxAsset> assets_;  // sorted by url_path
};

}  // namespace earshot
