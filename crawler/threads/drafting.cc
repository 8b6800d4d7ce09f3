#include "crawler/threads/drafting.h"

#include <string>

namespace earshot {

Result<DraftWithHints> CreateDraftWithHints(Workflow& workflow, const ToneRules& rules,
                                            const User& user, int64_t thread_id,
                                            std::string_view org, int64_t in_reply_to,
                                            std::string_view body, int recent_threads) {
  Result<int64_t> id = workflow.CreateDraft(user, thread_id, org, in_reply_to, body);
  if (!id.ok()) return id.status();
  std::vector<EarlierReply> earlier;
  // The draft is kept whatever happens below: replies that cannot be read
  // for comparison cost a hint, not the staff member's words. (Read in one
  // query, not through GetThread, which would record opens.)
  Result<std::vector<Reply>> replies = workflow.RecentReplies(user, org, recent_threads);
  if (replies.ok()) {
    for (const Reply& reply : *replies) {
      if (reply.id != *id) earlier.push_back({reply.id, reply.body});
    }
  }
  return DraftWithHints{*id, ToneHints(rules, body, earlier)};
}

}  // namespace earshot
