// The Classifier facade and the pipeline's classify stage, with small rule
// files written here (so these tests do not move when the tuned rules do)
// and the real gazetteer from config/orgs.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "classifiers/classifier.h"
#include "crawler/core/text.h"
#include "crawler/pipeline/classify_stage.h"

namespace earshot {
namespace {

namespace fs = std::filesystem;

const char kTopics[] = R"(
[meta]
stage = "topics"
version = "t1"
[[label]]
name = "Timeliness of care"
category = "Access to medical care & support"
[[label]]
name = "Contacting services"
category = "Access to medical care & support"
[[rule]]
id = "timeliness.wait"
label = "Timeliness of care"
any = ['\bwait(ed|ing)?\b']
[[rule]]
id = "contact.phone"
label = "Contacting services"
any = ['\bphone\b']
)";

const char kSentiment[] = R"(
[meta]
stage = "sentiment"
version = "s1"
[[label]]
name = "positive"
[[label]]
name = "negative"
[[rule]]
id = "pos.lovely"
label = "positive"
any = ['\blovely\b']
[[rule]]
id = "neg.rude"
label = "negative"
any = ['\brude\b']
unless_preceded = '\bnot\b'
within_words = 2
)";

const char kCriticality[] = R"(
[meta]
stage = "criticality"
version = "c1"
[[label]]
name = "self_harm"
priority = 1
[[label]]
name = "clinical_risk"
priority = 3
[[rule]]
id = "self-harm.kill-myself"
label = "self_harm"
any = ['\bkill myself\b']
[[rule]]
id = "clinical.floor"
label = "clinical_risk"
any = ['\bon the floor\b']
)";

const char kRelevance[] = R"(
[meta]
stage = "relevance"
version = "r1"
[[label]]
name = "health"
[[rule]]
id = "health.nhs"
label = "health"
any = ['\bnhs\b', '\bhospital\b', '\bnurse\b']
)";

class RulesDir {
 public:
  RulesDir() {
    dir_ = fs::temp_directory_path() / ("earshot-classifier-test-" + std::to_string(::getpid()) +
                                        "-" + std::to_string(counter_++));
    fs::create_directories(dir_);
    Write("topics.toml", kTopics);
    Write("sentiment.toml", kSentiment);
    Write("criticality.toml", kCriticality);
    Write("relevance.toml", kRelevance);
  }
  ~RulesDir() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  ClassifierPaths paths() const { return {dir_, fs::path(EARSHOT_SOURCE_DIR) / "config" / "orgs"}; }

 private:
  static inline int counter_ = 0;
  fs::path dir_;
};

std::shared_ptr<const Classifier> Load(const RulesDir& dir) {
  auto c = Classifier::Load(dir.paths());
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  return *c;
}

TEST_CASE("classifier: redacts first and every stage reads the redacted text", "[classifier]") {
  RulesDir dir;
  auto classifier = Load(dir);
  const std::string text =
      "Waited 9 hours at the Northern General, nurse was lovely. NHS no 943 476 5919, "
      "phone me on 07700 900123";
  Classification c = classifier->Classify(text);
  CHECK(c.text.find("943 476 5919") == std::string::npos);
  CHECK(c.text.find("07700 900123") == std::string::npos);
  REQUIRE(c.redactions.size() == 2);
  CHECK(c.text.substr(c.redactions[0].start, c.redactions[0].end - c.redactions[0].start) ==
        "[NHS number]");
  REQUIRE(c.orgs.size() == 1);
  CHECK(c.orgs[0].code == "RHQ");
  CHECK(c.text.substr(c.orgs[0].why.start, c.orgs[0].why.end - c.orgs[0].why.start) ==
        "Northern General");
  // "phone" in the text fires; the word inside the "[phone]" placeholder
  // does not (stages read the placeholders blanked out).
  REQUIRE(c.topics.size() == 2);
  CHECK(c.topics[0].name == "Timeliness of care");
  CHECK(c.topics[0].why.rule == "timeliness.wait");
  CHECK(c.topics[0].why.version == "t1");
  CHECK(c.topics[1].name == "Contacting services");
  CHECK(c.text.substr(c.topics[1].why.start, 5) == "phone");
  CHECK(c.topics[1].why.start < c.redactions[1].start);
  CHECK(c.sentiment == "positive");
  CHECK(c.relevant);

  Classification placeholder_only = classifier->Classify("call 07700 900123 please");
  CHECK(placeholder_only.topics.empty());
  CHECK_FALSE(placeholder_only.relevant);
}

TEST_CASE("classifier: sentiment, criticality, relevance and decisions", "[classifier]") {
  RulesDir dir;
  auto classifier = Load(dir);
  Classification mixed = classifier->Classify("The nurse was lovely, the porter was rude");
  CHECK(mixed.sentiment == "mixed");
  CHECK(mixed.sentiment_why.size() == 2);
  CHECK(classifier->Classify("The nurse was not rude at all").sentiment == "neutral");

  Classification urgent =
      classifier->Classify("Lay on the floor for hours at the hospital and I want to kill myself");
  REQUIRE(urgent.criticality.size() == 2);
  CHECK(urgent.criticality[0].flag == "self_harm");
  CHECK(urgent.priority == 1);

  Classification walk = classifier->Classify("Lovely walk along the canal");
  CHECK_FALSE(walk.relevant);

  std::vector<Decision> d = urgent.ToDecisions();
  // Fixed order: (no redactions, no orgs) topics, sentiment, criticality, relevance.
  REQUIRE_FALSE(d.empty());
  CHECK(d.back().kind == Decision::Kind::kRelevance);
  CHECK(d.back().rule == "health.nhs");
  int crit = 0;
  for (const Decision& x : d) crit += x.kind == Decision::Kind::kCriticality;
  CHECK(crit == 2);
}

TEST_CASE("classifier: a bad rule fails with file:line, and a reload keeps the old set",
          "[classifier]") {
  RulesDir dir;
  ClassifierHolder holder(Load(dir));
  dir.Write("topics.toml", std::string(kTopics) +
                               "\n[[rule]]\nid = \"bad\"\nlabel = "
                               "\"Timeliness of care\"\nany = ['(unclosed']\n");
  Status st = holder.Reload();
  REQUIRE_FALSE(st.ok());
  CHECK(st.message().find("topics.toml:") != std::string::npos);
  CHECK(st.message().find("bad") != std::string::npos);
  // The running set is untouched.
  CHECK(holder.Get()->Classify("we waited").topics.size() == 1);

  dir.Write("topics.toml", std::string(kTopics) + R"(
[[rule]]
id = "timeliness.queue"
label = "Timeliness of care"
any = ['\bqueue\b']
)");
  REQUIRE(holder.Reload().ok());
  CHECK(holder.Get()->Classify("a long queue").topics.size() == 1);
}

TEST_CASE("classify stage: redacts title and text, drops the irrelevant, counts rules",
          "[classifier]") {
  RulesDir dir;
  ClassifierHolder holder(Load(dir));
  ClassifyStage stage(holder);
  SourceWrite write;
  write.source = "s";
  Post kept;
  kept.platform = "feed";
  kept.id = "1";
  kept.title = "Call 07700 900123\nabout the ward";
  kept.text = "We waited at the Northern General";
  kept.content_hash = Sha256Hex(kept.text);
  Post dropped = kept;
  dropped.id = "2";
  dropped.title.clear();
  dropped.text = "Lovely walk along the canal";
  write.posts = {kept, dropped};
  REQUIRE(stage.Process(write).ok());
  REQUIRE(write.posts.size() == 1);
  const Post& p = write.posts[0];
  CHECK(p.title == "Call [phone] about the ward");
  CHECK(p.text == "We waited at the Northern General");
  CHECK(p.content_hash == Sha256Hex(p.text));
  // Spans refer to title + blank line + text.
  const std::string full = ClassifiedText(p);
  bool routed = false;
  for (const Decision& d : p.decisions) {
    if (d.kind != Decision::Kind::kOrg) continue;
    routed = true;
    CHECK(d.value == "RHQ");
    CHECK(full.substr(d.start, d.end - d.start) == "Northern General");
  }
  CHECK(routed);
  bool counted_drop = false, counted_rule = false;
  for (const RuleCount& rc : write.rule_counts) {
    if (rc.stage == "relevance" && rc.rule.empty()) counted_drop = rc.dropped == 1;
    if (rc.stage == "topic" && rc.rule == "timeliness.wait") counted_rule = rc.fired == 1;
  }
  CHECK(counted_drop);
  CHECK(counted_rule);
}

TEST_CASE("classify stage keeps irrelevant replies of a held conversation", "[classifier]") {
  RulesDir dir;
  ClassifierHolder holder(Load(dir));
  ClassifyStage stage(holder);
  SourceWrite write;
  write.source = "s";
  write.conversation_replies = true;
  Post reply;
  reply.platform = "feed";
  reply.id = "r1";
  reply.text = "Lovely walk, call me on 07700 900123";
  reply.reply_to = "1";
  write.posts = {reply};
  REQUIRE(stage.Process(write).ok());
  REQUIRE(write.posts.size() == 1);
  // Redacted and classified like any post, but not dropped.
  CHECK(write.posts[0].text == "Lovely walk, call me on [phone]");
  CHECK(write.posts[0].content_hash == Sha256Hex(write.posts[0].text));
  bool redacted = false, sentiment = false;
  for (const Decision& d : write.posts[0].decisions) {
    redacted |= d.kind == Decision::Kind::kRedaction;
    sentiment |= d.kind == Decision::Kind::kSentiment && d.value == "positive";
  }
  CHECK(redacted);
  CHECK(sentiment);
  for (const RuleCount& rc : write.rule_counts) CHECK(rc.dropped == 0);

  // The same post in an ordinary write is dropped.
  write.conversation_replies = false;
  write.posts = {reply};
  write.rule_counts.clear();
  REQUIRE(stage.Process(write).ok());
  CHECK(write.posts.empty());
}

TEST_CASE("classifier: the default config answers the same from many threads", "[classifier]") {
  // The four default rule files share one word index; texts with U+212A
  // (read by RE2 pattern by pattern) make the threads compile the same
  // patterns' RE2s for the first time concurrently.
  const ClassifierPaths paths{fs::path(EARSHOT_SOURCE_DIR) / "config" / "rules",
                              fs::path(EARSHOT_SOURCE_DIR) / "config" / "orgs"};
  auto loaded = Classifier::Load(paths);
  auto reference = Classifier::Load(paths);  // answers first, single-threaded
  INFO(loaded.status().ToString());
  REQUIRE(loaded.ok());
  REQUIRE(reference.ok());
  const std::vector<std::string> texts = {
      "Six hours in A&E at the Northern General, the nurse was kind but nobody told us anything.",
      "Couldn't fault the midwives at #JessopWing, thank you! Call me on 07700 900123",
      "Not rude at all, very helpful receptionist. Waited 20 minutes.",
      "The \u212Aitchen at the RVI was filthy and my nan was left for hours",
      "Train delayed again this morning, third time this week.",
      "Mum has been on a trolley in the corridor since 9am, no food or water for 12 hours.",
  };
  auto summary = [&](const Classifier& classifier, const std::string& text) {
    const Classification c = classifier.Classify(text);
    std::string out = c.text + "|" + c.sentiment + "|" + std::to_string(c.priority) + "|" +
                      (c.relevant ? "r" : "-");
    for (const auto& o : c.orgs) out += "|" + o.code + "@" + std::to_string(o.why.start);
    for (const auto& t : c.topics)
      out += "|" + t.name + ":" + t.why.rule + "@" + std::to_string(t.why.start);
    for (const auto& f : c.criticality) out += "|" + f.flag + ":" + f.why.rule;
    for (const auto& p : c.sentiment_why) out += "|" + p.rule + "@" + std::to_string(p.start);
    return out;
  };
  std::vector<std::string> expected;
  for (const auto& t : texts) expected.push_back(summary(**reference, t));
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        for (size_t i = 0; i < texts.size(); ++i) {
          const size_t k = (i + static_cast<size_t>(t + round)) % texts.size();
          if (summary(**loaded, texts[k]) != expected[k]) ++mismatches[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(mismatches == std::vector<int>(4, 0));
  for (const auto& set : (*loaded)->rule_sets()) {
    CHECK(set->stats().dfa_out_of_memory.load() == 0);
    CHECK(set->stats().slow_texts.load() == 4 * 20);  // the U+212A text, each time
  }
}

}  // namespace
}  // namespace earshot
