#include "crawler/inbox/inbox_assets.h"

#include <algorithm>
#include <array>
#include <utility>

#include "crawler/inbox/embedded_files.h"

namespace earshot {

InboxAssets::InboxAssets(std::vector<InboxAsset> assets) : assets_(std::move(assets)) {
  std::sort(assets_.begin(), assets_.end(),
            [](const InboxAsset& a, const InboxAsset& b) { return a.url_path < b.url_path; });
}

const InboxAssets& InboxAssets::Embedded() {
  static const InboxAssets* const embedded = [] {
    std::vector<InboxAsset> assets;
    assets.reserve(inbox_embedded::kFileCount);
    for (size_t i = 0; i < inbox_embedded::kFileCount; ++i) {
      const inbox_embedded::EmbeddedFile& file = inbox_embedded::kFiles[i];
      InboxAsset asset;
      asset.url_path = file.url_path;
      asset.bytes = std::string_view(reinterpret_cast<const char*>(file.bytes), file.size);
      asset.etag = file.etag;
      // "/" is index.html, the one page.
      asset.html = asset.url_path == "/";
      asset.content_type = ContentTypeFor(asset.html ? "index.html" : asset.url_path);
      assets.push_back(asset);
    }
    return new InboxAssets(std::move(assets));  // never destroyed: used until exit
  }();
  return *embedded;
}

const InboxAsset* InboxAssets::Find(std::string_view url_path) const {
  auto it = std::lower_bound(
      assets_.begin(), assets_.end(), url_path,
      [](const InboxAsset& asset, std::string_view path) { return asset.url_path < path; });
  if (it == assets_.end() || it->url_path != url_path) return nullptr;
  return &*it;
}

std::string_view InboxAssets::ContentTypeFor(std::string_view file_name) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 10> kTypes = {{
      {".html", "text/html; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".json", "application/json; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
  }};
  const size_t dot = file_name.rfind('.');
  const size_t slash = file_name.rfind('/');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) {
    return "application/octet-stream";
  }
  const std::string_view extension = file_name.substr(dot);
  for (const auto& [ext, type] : kTypes) {
    if (ext == extension) return type;
  }
  return "application/octet-stream";
}

}  // namespace earshot
