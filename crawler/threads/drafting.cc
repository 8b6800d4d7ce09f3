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
  ThreadFilter filter;
  filter.org = std::string(org);
  filter.limit = recent_threads;
  // The draft is kept whatever happens below: a thread that cannot be read
  // for comparison costs a hint, not the staff member's words.
  Result<std::vector<ThreadSummary>> threads = workflow.ListThreads(user, filter);
  if (threads.ok()) {
    for (const ThreadSummary& summary : *threads) {
      Result<ThreadDetail> thread = workflow.GetThread(user, summary.id);
      if (!thread.ok()) continue;
      for (const Reply& reply : thread->replies) {
        if (reply.org == org && reply.id != *id) earlier.push_back({reply.id, reply.body});
      }
    }
  }
  return DraftWithHints{*id, ToneHints(rules, body, earlier)};
}

}  // namespace earshot
