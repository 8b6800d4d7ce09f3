// `earshot serve`: the JSON API (docs/api.md) over the configured SQLite
// store until SIGINT or SIGTERM.
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <charconv>
#include <csignal>
#include <filesystem>
#include <iostream>

#include "classifiers/classifier.h"
#include "classifiers/orgs/gazetteer.h"
#include "crawler/cli/cli.h"
#include "crawler/server/api_routes.h"
#include "crawler/server/api_server.h"
#include "crawler/store/sqlite/sqlite_store.h"
#include "crawler/threads/access.h"

namespace earshot {

Result<std::unique_ptr<SqliteStore>> OpenStore(const Config& config);

namespace {

// "HOST:PORT" ("[::1]:8080" for IPv6).
Result<std::pair<std::string, uint16_t>> ParseListen(std::string_view listen) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Status::InvalidArgument("--listen must be HOST:PORT, got '" + std::string(listen) + "'");
  }
  std::string host(listen.substr(0, colon));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string_view port_text = listen.substr(colon + 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    return Status::InvalidArgument("--listen port must be 0 to 65535, got '" +
                                   std::string(port_text) + "'");
  }
  return std::pair{host, static_cast<uint16_t>(port)};
}

// Regions and ICBs of the gazetteer's organisations, for viewers scoped to a
// region; empty (org-code scopes only) when the gazetteer folder is absent.
Result<OrgPlaces> LoadPlaces(const Config& config) {
  std::filesystem::path dir = DefaultClassifierPaths().orgs_dir;
  if (!config.orgs_dir.empty()) dir = config.orgs_dir;
  std::error_code ec;
  OrgPlaces places;
  if (!std::filesystem::is_directory(dir, ec)) {
    spdlog::warn("serve: no gazetteer at {}: viewers see their organisations only", dir.string());
    return places;
  }
  Result<orgs::Gazetteer> gazetteer = orgs::LoadGazetteer(dir);
  if (!gazetteer.ok()) return gazetteer.status();
  for (const auto& [code, org] : gazetteer->orgs) {
    places[code] = OrgPlace{org.region, org.icb, org.name};
  }
  return places;
}

}  // namespace

int CmdServe(const GlobalOptions& global, const std::string& listen, std::ostream& out,
             std::ostream& err) {
  auto fail = [&](const Status& status, int code) {
    err << "earshot serve: " << status.message() << "\n";
    return code;
  };
  auto address = ParseListen(listen);
  if (!address.ok()) return fail(address.status(), 2);
  auto config = LoadEffectiveConfig(global);
  if (!config.ok()) return fail(config.status(), 2);
  auto places = LoadPlaces(*config);
  if (!places.ok()) return fail(places.status(), 2);
  auto store = OpenStore(*config);
  if (!store.ok()) return fail(store.status(), 1);
  SystemClock clock;
  ApiRoutes routes(**store, **store, clock, *places);
  ApiServerOptions options;
  options.host = address->first;
  options.port = address->second;

  // Signals are taken before the server starts, so none is lost to the
  // default handler in between.
  boost::asio::io_context signals_context;
  boost::asio::signal_set signals(signals_context, SIGINT, SIGTERM);
  int caught = 0;
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (!ec) caught = signal;
  });

  auto server = ApiServer::Start(routes, options);
  if (!server.ok()) return fail(server.status(), 1);
  out << "earshot: serving the API on " << (*server)->BaseUrl() << std::endl;
  spdlog::info("serve: listening on {}", (*server)->BaseUrl());
  signals_context.run();
  spdlog::info("serve: signal {}: stopping", caught);
  (*server)->Stop();
  out << "earshot: stopped" << std::endl;
  return 0;
}

}  // namespace earshot
