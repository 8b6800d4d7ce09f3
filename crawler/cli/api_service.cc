#include "crawler/cli/api_service.h"

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <charconv>
#include <filesystem>
#include <iostream>
#include <set>
#include <vector>

#include "classifiers/classifier.h"
#include "connectors/registry.h"
#include "crawler/net/curl_transport.h"
#include "crawler/publish/publisher.h"
#include "crawler/server/api_routes.h"
#include "crawler/server/api_server.h"
#include "crawler/store/sqlite/sqlite_store.h"
#include "crawler/threads/access.h"
#include "crawler/threads/reply_sender.h"
#include "crawler/threads/tone.h"

namespace earshot {

Result<std::unique_ptr<SqliteStore>> OpenStore(const Config& config);
ToneRules ConfiguredToneRules(const Config& config, std::string_view command, std::ostream& err);

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

namespace {

class ApiServiceImpl final : public ApiService {
 public:
  ApiServiceImpl(const Config& config, std::unique_ptr<SqliteStore> store, OrgPlaces places)
      : http_(config.http),
        store_(std::move(store)),
        places_(std::move(places)),
        routes_(*store_, *store_, clock_, places_) {
    std::set<std::string, std::less<>> approval;
    for (const OrgSettings& org : config.orgs) {
      if (org.require_approval) approval.insert(org.code);
    }
    routes_.RequireApproval(std::move(approval));
    // Boilerplate hints on drafts (tone.toml beside the rules); without the
    // file only repeats and personal identifiers are hinted.
    tone_ = ConfiguredToneRules(config, "earshot api", std::cerr);
    routes_.SetToneRules(&tone_);
    for (const AccountSpec& account : config.accounts) {
      accounts_.push_back({account.org, account.spec});
    }
    // A fresh io_context and transport per publish: ReplySender runs its
    // io_context until the publish completes, and nothing else may run it.
    routes_.SetPublishing(
        [this](Workflow& workflow, const User& user, int64_t reply_id) -> Result<SendResult> {
          boost::asio::io_context io;
          CurlTransport transport(io, http_);
          ReplyPublisher publisher(io, transport, clock_);
          ReplySender sender(workflow, *store_, publisher, io, accounts_, FindConnector);
          return sender.Publish(user, reply_id);
        });
  }
  ~ApiServiceImpl() override { Stop(); }

  Status Listen(const std::string& host, uint16_t port) {
    ApiServerOptions options;
    options.host = host;
    options.port = port;
    auto server = ApiServer::Start(routes_, options);
    if (!server.ok()) return server.status();
    server_ = std::move(server).value();
    return Status::Ok();
  }

  std::string BaseUrl() const override { return server_ ? server_->BaseUrl() : std::string(); }
  void Stop() override {
    if (server_) server_->Stop();
  }

 private:
  TransportOptions http_;
  SystemClock clock_;
  std::unique_ptr<SqliteStore> store_;
  OrgPlaces places_;
  ToneRules tone_;
  std::vector<ReplyAccount> accounts_;
  ApiRoutes routes_;
  std::unique_ptr<ApiServer> server_;
};

}  // namespace

Result<std::unique_ptr<ApiService>> ApiService::Start(const Config& config,
                                                      std::string_view listen) {
  auto address = ParseListen(listen);
  if (!address.ok()) return address.status();
  if (config.store_path.empty() || config.store_path == ":memory:" ||
      config.store_path.rfind("file::memory:", 0) == 0) {
    return Status::InvalidArgument(
        "the API needs a store file that a second connection can open, not an in-memory "
        "database");
  }
  bool gazetteer_found = false;
  auto places = LoadOrgPlaces(config, &gazetteer_found);
  if (!places.ok()) return places.status();
  if (!gazetteer_found) {
    spdlog::warn(
        "serve: no gazetteer at {}: viewers see their organisations only",
        config.orgs_dir.empty() ? DefaultClassifierPaths().orgs_dir.string() : config.orgs_dir);
  }
  auto store = OpenStore(config);
  if (!store.ok()) return store.status();
  // A reply left `publishing` by a process that stopped mid-publish has an
  // unknown outcome: it becomes failed, "may have been posted", so staff
  // check the platform and may retry with the same idempotency key.
  SystemClock clock;
  if (Result<int> stale = FailStalePublishing(**store, clock); !stale.ok()) {
    return stale.status();
  } else if (*stale > 0) {
    spdlog::warn(
        "api: {} reply(ies) left publishing by an earlier run marked failed (may have "
        "been posted)",
        *stale);
  }
  auto service =
      std::make_unique<ApiServiceImpl>(config, std::move(store).value(), std::move(places).value());
  EARSHOT_RETURN_IF_ERROR(service->Listen(address->first, address->second));
  spdlog::info("api: listening on {}", service->BaseUrl());
  const std::string& host = address->first;
  if (host != "127.0.0.1" && host != "::1" && host != "localhost") {
    spdlog::warn(
        "api: listening on {} beyond this machine over plain HTTP: bearer tokens cross the "
        "network unencrypted; put a TLS-terminating proxy in front (docs/operations.md)",
        host);
  }
  return std::unique_ptr<ApiService>(std::move(service));
}

}  // namespace earshot
