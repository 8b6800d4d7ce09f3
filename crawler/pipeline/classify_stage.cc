#include "crawler/pipeline/classify_stage.h"

#include <deque>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "crawler/core/text.h"

namespace earshot {

namespace {
constexpr std::string_view kTitleSeparator = "\n\n";

std::string_view StageOf(Decision::Kind kind) { return DecisionKindName(kind); }
}  // namespace

std::string ClassifiedText(const Post& post) {
  if (post.title.empty()) return post.text;
  std::string full = post.title;
  full += kTitleSeparator;
  full += post.text;
  return full;
}

std::string ClassifyStage::RecentKey(std::string_view platform, std::string_view key) {
  std::string out(platform);
  out += '\x1f';
  out += key;
  return out;
}

void ClassifyStage::Remember(std::string key) {
  if (key.size() <= 1 || !recent_threaded_.insert(key).second) return;
  recent_order_.push_back(std::move(key));
  if (recent_order_.size() > kRecentThreaded) {
    recent_threaded_.erase(recent_order_.front());
    recent_order_.pop_front();
  }
}

Status ClassifyStage::Process(SourceWrite& write) {
  std::shared_ptr<const Classifier> classifier = holder_.Get();
  if (!classifier) return Status::Internal("no classifier loaded");

  std::map<std::pair<std::string, std::string>, int64_t> fired;
  int64_t dropped = 0;
  std::vector<Post> kept;
  kept.reserve(write.posts.size());
  // Ids and uids of this write's posts kept so far that will be on a thread
  // (routed, or answering one): replies to them join those threads.
  std::set<std::string, std::less<>> threaded_here;
  auto answers_held_thread = [&](const Post& post) {
    for (const std::string* key : {&post.reply_to, &post.conversation}) {
      if (key->empty()) continue;
      if (threaded_here.count(*key) > 0) return true;
      // Kept by an earlier write that may still be queued, unflushed.
      if (recent_threaded_.count(RecentKey(post.platform, *key)) > 0) return true;
    }
    return on_held_thread_ && (!post.reply_to.empty() || !post.conversation.empty()) &&
           on_held_thread_(post);
  };
  for (Post& post : write.posts) {
    // A title is one line; folding its line breaks keeps the first blank
    // line of the full text the title/text boundary.
    for (char& ch : post.title) {
      if (ch == '\n' || ch == '\r') ch = ' ';
    }
    const size_t title_size = post.title.size();
    Classification c = classifier->Classify(ClassifiedText(post));
    for (const Decision& d : c.ToDecisions()) {
      if (!d.rule.empty()) ++fired[{std::string(StageOf(d.kind)), d.rule}];
    }
    const bool answers = c.orgs.empty() && answers_held_thread(post);
    if (!c.relevant && !write.conversation_replies && !answers) {
      ++dropped;
      continue;
    }
    // Split the redacted full text back into title and text. Redaction never
    // spans the separator (it holds no identifier), but the title's length
    // may have changed, so find the separator after the redacted title.
    if (title_size > 0) {
      size_t sep = c.text.find(kTitleSeparator);
      if (sep == std::string::npos) {
        post.title.clear();
        post.text = c.text;
      } else {
        post.title = c.text.substr(0, sep);
        post.text = c.text.substr(sep + kTitleSeparator.size());
      }
    } else {
      post.text = c.text;
    }
    post.content_hash = Sha256Hex(post.text);
    post.decisions = c.ToDecisions();
    if (!c.orgs.empty() || answers || write.conversation_replies) {
      threaded_here.insert(post.id);
      threaded_here.insert(post.uid);
      Remember(RecentKey(post.platform, post.id));
      Remember(RecentKey(post.platform, post.uid));
    }
    kept.push_back(std::move(post));
  }
  write.posts = std::move(kept);
  for (const auto& [key, count] : fired) {
    write.rule_counts.push_back(RuleCount{key.first, key.second, count, 0});
  }
  if (dropped > 0) write.rule_counts.push_back(RuleCount{"relevance", "", 0, dropped});
  return Status::Ok();
}

}  // namespace earshot
