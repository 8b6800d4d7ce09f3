// ApiRoutes: the JSON API's request handling (docs/api.md), apart from the
// HTTP transport (api_server.h), so it can be read and tested as a function
// from request to response.
//
// - Every request is authenticated by `Authorization: Bearer TOKEN`, looked
//   up by its hash (tokens.h); a missing, unknown or revoked token is 401.
// - Every thread operation goes through Workflow, and so through Allowed():
//   another organisation's part of a thread is 404, an action the user may
//   read but not take is 403. Lists drop what the user may not read.
// - Request bodies are JSON objects with known fields only (400 otherwise).
// - Responses are JSON (Boost.JSON serialises every string, so hostile text
//   is data).
// Borrows the stores, clock and places, which must outlive it. Not
// thread-safe: one request at a time (the stores are single-threaded).
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "crawler/core/clock.h"
#include "crawler/store/store.h"
#include "crawler/threads/access.h"
#include "crawler/threads/reply_sender.h"
#include "crawler/threads/thread_store.h"
#include "crawler/threads/workflow.h"

namespace earshot {

struct ApiRequest {
  std::string method;         // "GET", "POST", ...
  std::string target;         // origin-form: "/api/threads?org=RHQ&limit=10"
  std::string authorization;  // the Authorization header's value, as sent
  std::string if_none_match;  // the If-None-Match header's value (the inbox's assets)
  std::string body;
};

struct ApiResponse {
  int status = 200;
  std::string body;  // JSON (the inbox's files: what Content-Type says)
  // Beyond the common ones; one named like a common one (Content-Type,
  // Cache-Control) replaces it.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string user;  // who made the request, for the log; empty when not authenticated
};

// Publishes reply `reply_id` as `user`, checked by `workflow` (ReplySender
// in the binary, a fake in tests). A platform's refusal is a SendResult, not
// an error; errors are Workflow's or the store's.
using ReplyPublishFn =
    std::function<Result<SendResult>(Workflow& workflow, const User& user, int64_t reply_id)>;

class ApiRoutes {
 public:
  ApiRoutes(Store& store, ThreadStore& threads, const Clock& clock, const OrgPlaces& places)
      : store_(store), threads_(threads), clock_(clock), places_(places) {}

  // Organisations whose replies need a second person's approval
  // (Workflow::RequireApproval). Call before serving.
  void RequireApproval(std::set<std::string, std::less<>> orgs) {
    approval_required_ = std::move(orgs);
  }
  // How POST /api/replies/{id}/publish publishes. Without it that endpoint
  // answers 503 ("publishing is not configured"). Call before serving.
  void SetPublishing(ReplyPublishFn publish) { publish_ = std::move(publish); }

  ApiResponse Handle(const ApiRequest& request);

  // An error response: {"error": {"status": ..., "message": ...}}.
  static ApiResponse Error(int status, std::string_view message);

 private:
  Store& store_;
  ThreadStore& threads_;
  const Clock& clock_;
  const OrgPlaces& places_;
  std::set<std::string, std::less<>> approval_required_;
  ReplyPublishFn publish_;
};

}  // namespace earshot
