// ApiService: the JSON API and the web inbox over the configured SQLite
// store, as `earshot serve`, `earshot run --listen` and `earshot demo` run
// them.
//
// - It opens a store connection of its own: SQLite in WAL mode lets the API
//   read and write (notes, drafts, states) while a crawl writes through
//   another connection in the same process; the busy timeout serialises the
//   writers. So `config.store_path` must name a file, not ":memory:".
// - Viewers' regions and ICBs, and organisation names, come from the
//   gazetteer (`[classify] orgs`, default config/orgs); without it viewers
//   see their own organisation codes only (logged).
// - POST /api/replies/{id}/publish goes out through ReplySender with the
//   organisations' [[account]]s; [[org]] require_approval is honoured. A
//   publish runs on the API's one I/O thread (requests wait behind it; it
//   takes at most the [http] timeout per request it sends).
// Stop() (or destruction) stops serving and joins the server's thread.
// Not thread-safe itself; the server runs on a thread of its own.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "crawler/cli/config.h"
#include "crawler/core/status.h"
#include "crawler/threads/access.h"

namespace earshot {

// Regions, ICBs and names of the gazetteer's organisations (`[classify]
// orgs`, default config/orgs), for viewers scoped to a region and for names
// shown; empty, with `*found` false, when that folder does not exist.
Result<OrgPlaces> LoadOrgPlaces(const Config& config, bool* found = nullptr);

// "HOST:PORT" ("[::1]:8080" for IPv6); port 0 picks a free one.
Result<std::pair<std::string, uint16_t>> ParseListen(std::string_view listen);

class ApiService {
 public:
  // Binds `listen` and starts serving. Errors: a bad address (kInvalidArgument),
  // an in-memory store, the gazetteer or store failing to open, a port in use.
  static Result<std::unique_ptr<ApiService>> Start(const Config& config, std::string_view listen);
  virtual ~ApiService() = default;

  // "http://HOST:PORT"
  virtual std::string BaseUrl() const = 0;
  virtual void Stop() = 0;
};

}  // namespace earshot
