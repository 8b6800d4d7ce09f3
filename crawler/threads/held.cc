#include "crawler/core/post.h"
#include "crawler/threads/thread_store.h"

namespace earshot {

std::function<bool(const Post&)> AnswersHeldThread(ThreadStore& store) {
  return [&store](const Post& post) {
    for (const std::string* key : {&post.reply_to, &post.conversation}) {
      if (key->empty()) continue;
      Result<std::optional<int64_t>> thread = store.ThreadOfPostNamed(post.platform, *key);
      if (thread.ok() && thread->has_value()) return true;
    }
    return false;
  };
}

}  // namespace earshot
