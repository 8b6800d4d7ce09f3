// Names of the thread model's enums, as stored and shown.
#include <array>
#include <utility>

#include "crawler/threads/thread_store.h"

namespace earshot {

namespace {

template <typename E, size_t N>
std::string_view NameOf(const std::array<std::pair<E, std::string_view>, N>& names, E value) {
  for (const auto& [e, name] : names) {
    if (e == value) return name;
  }
  return "unknown";
}

template <typename E, size_t N>
std::optional<E> FromName(const std::array<std::pair<E, std::string_view>, N>& names,
                          std::string_view name) {
  for (const auto& [e, n] : names) {
    if (n == name) return e;
  }
  return std::nullopt;
}

constexpr std::array<std::pair<JoinReason, std::string_view>, 5> kJoinReasons{{
    {JoinReason::kOpened, "opened"},
    {JoinReason::kReply, "reply"},
    {JoinReason::kConversation, "conversation"},
    {JoinReason::kRepeat, "repeat"},
    {JoinReason::kOurs, "ours"},
}};
constexpr std::array<std::pair<OrgState, std::string_view>, 5> kOrgStates{{
    {OrgState::kNew, "new"},
    {OrgState::kAssigned, "assigned"},
    {OrgState::kResponded, "responded"},
    {OrgState::kClosed, "closed"},
    {OrgState::kDismissed, "dismissed"},
}};
constexpr std::array<std::pair<ReplyState, std::string_view>, 6> kReplyStates{{
    {ReplyState::kDraft, "draft"},
    {ReplyState::kApproved, "approved"},
    {ReplyState::kPublishing, "publishing"},
    {ReplyState::kPublished, "published"},
    {ReplyState::kFailed, "failed"},
    {ReplyState::kAnswerOnPlatform, "answer_on_platform"},
}};
constexpr std::array<std::pair<Role, std::string_view>, 3> kRoles{{
    {Role::kAdmin, "admin"},
    {Role::kResponder, "responder"},
    {Role::kViewer, "viewer"},
}};

}  // namespace

std::string_view JoinReasonName(JoinReason reason) { return NameOf(kJoinReasons, reason); }
std::optional<JoinReason> JoinReasonFromName(std::string_view name) {
  return FromName(kJoinReasons, name);
}
std::string_view OrgStateName(OrgState state) { return NameOf(kOrgStates, state); }
std::optional<OrgState> OrgStateFromName(std::string_view name) {
  return FromName(kOrgStates, name);
}
std::string_view ReplyStateName(ReplyState state) { return NameOf(kReplyStates, state); }
std::optional<ReplyState> ReplyStateFromName(std::string_view name) {
  return FromName(kReplyStates, name);
}
std::string_view RoleName(Role role) { return NameOf(kRoles, role); }
std::optional<Role> RoleFromName(std::string_view name) { return FromName(kRoles, name); }

}  // namespace earshot
