#include "crawler/threads/access.h"

#include <algorithm>

namespace earshot {

namespace {

bool Contains(const std::vector<std::string>& codes, std::string_view code) {
  return !code.empty() && std::find(codes.begin(), codes.end(), code) != codes.end();
}

}  // namespace

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kRead:
      return "read";
    case Action::kSetState:
      return "status";
    case Action::kAssign:
      return "assign";
    case Action::kNote:
      return "note";
    case Action::kDraft:
      return "draft";
    case Action::kApprove:
      return "approve";
    case Action::kPublish:
      return "publish";
    case Action::kManageUsers:
      return "manage users";
  }
  return "unknown";
}

bool Allowed(const User& user, Action action, std::string_view org, const OrgPlaces& places) {
  if (user.revoked_at) return false;
  switch (user.role) {
    case Role::kAdmin:
      return true;
    case Role::kResponder:
      return action != Action::kManageUsers && Contains(user.orgs, org);
    case Role::kViewer: {
      if (action != Action::kRead) return false;
      if (Contains(user.orgs, org)) return true;
      auto place = places.find(org);
      if (place == places.end()) return false;
      return Contains(user.regions, place->second.region) ||
             Contains(user.regions, place->second.icb);
    }
  }
  return false;
}

}  // namespace earshot
