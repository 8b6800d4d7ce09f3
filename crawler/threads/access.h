// Who may do what on which organisation's part of a thread: the one place
// access is decided (Workflow and, later, the HTTP API ask here).
//
// - admin: everything, every organisation, and user management.
// - responder: reads and acts (status, assign, note, draft, approve,
//   publish) on the organisations in its scope; nothing else, not even read.
// - viewer: reads only, for the organisations in its scope or whose region
//   or ICB (from the gazetteer, OrgPlaces) is in its scope.
// A revoked user may do nothing.
//
// Pure functions over values; thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "crawler/threads/thread_store.h"

namespace earshot {

enum class Action {
  kRead,  // see the thread's part for the org: posts, state, notes, replies, audit
  kSetState,
  kAssign,
  kNote,
  kDraft,
  kApprove,
  kPublish,
  kManageUsers,  // org ignored
};
std::string_view ActionName(Action action);

// Where an organisation sits: its NHS England region and ICB codes (the
// gazetteer's `region` and `icb` columns; empty where it has none), and its
// name as the gazetteer gives it (empty when not known), for display.
struct OrgPlace {
  std::string region;
  std::string icb;
  std::string name;
};
using OrgPlaces = std::map<std::string, OrgPlace, std::less<>>;

// Whether `user` may do `action` on organisation `org`'s part of a thread.
// `places` resolves a viewer's region/ICB scope; an org it does not know is
// readable by org-code scope only.
bool Allowed(const User& user, Action action, std::string_view org, const OrgPlaces& places);

}  // namespace earshot
