// `earshot serve`: the JSON API (docs/api.md) and the web inbox over the
// configured SQLite store until SIGINT or SIGTERM.
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <iostream>

#include "crawler/cli/api_service.h"
#include "crawler/cli/cli.h"

namespace earshot {

int CmdServe(const GlobalOptions& global, const std::string& listen, std::ostream& out,
             std::ostream& err) {
  auto fail = [&](const Status& status, int code) {
    err << "earshot serve: " << status.message() << "\n";
    return code;
  };
  if (auto address = ParseListen(listen); !address.ok()) return fail(address.status(), 2);
  auto config = LoadEffectiveConfig(global);
  if (!config.ok()) return fail(config.status(), 2);

  // Signals are taken before the server starts, so none is lost to the
  // default handler in between.
  boost::asio::io_context signals_context;
  boost::asio::signal_set signals(signals_context, SIGINT, SIGTERM);
  int caught = 0;
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (!ec) caught = signal;
  });

  auto service = ApiService::Start(*config, listen);
  if (!service.ok()) {
    return fail(service.status(), service.status().code() == StatusCode::kInvalidArgument ? 2 : 1);
  }
  out << "earshot: serving the API on " << (*service)->BaseUrl() << std::endl;
  out << "earshot: inbox at " << (*service)->BaseUrl() << "/" << std::endl;
  signals_context.run();
  spdlog::info("serve: signal {}: stopping", caught);
  (*service)->Stop();
  out << "earshot: stopped" << std::endl;
  return 0;
}

}  // namespace earshot
