// Creating a draft together with its tone hints (tone.h): what the CLI's
// `threads reply` and the API's POST /api/threads/{id}/replies return.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "crawler/threads/tone.h"
#include "crawler/threads/workflow.h"

namespace earshot {

struct DraftWithHints {
  int64_t reply_id = 0;
  std::vector<ToneHint> hints;
};

// Creates the draft through `workflow` (checked and audited as `user`), then
// hints at boilerplate, personal identifiers and repeats of the
// organisation's replies on its `recent_threads` most recent threads (the
// new draft itself excluded). Hints never stop the draft being kept.
Result<DraftWithHints> CreateDraftWithHints(Workflow& workflow, const ToneRules& rules,
                                            const User& user, int64_t thread_id,
                                            std::string_view org, int64_t in_reply_to,
                                            std::string_view body, int recent_threads = 200);

}  // namespace earshot
