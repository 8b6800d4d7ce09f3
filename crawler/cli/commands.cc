// The subcommands that read files or the store without crawling.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "classifiers/classifier.h"
#include "connectors/registry.h"
#include "crawler/cli/cli.h"
#include "crawler/cli/post_json.h"
#include "crawler/core/time_format.h"
#include "crawler/pipeline/classify_stage.h"
#include "crawler/pipeline/pipeline.h"
#include "crawler/store/sqlite/sqlite_store.h"
#include "crawler/threads/thread_store.h"

namespace earshot {

namespace {

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string When(const std::optional<TimePoint>& t) {
  return t ? FormatRfc3339(*t) : std::string("-");
}

std::string Shorten(std::string text, size_t max_bytes) {
  for (char& c : text) {
    if (c == '\n' || c == '\t') c = ' ';
  }
  if (text.size() <= max_bytes) return text;
  size_t cut = max_bytes;
  // Never cut inside a UTF-8 sequence.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut) + "…";
}

// `text` in at most about `max_bytes`, keeping its start and its end: an
// error's end holds the platform's own words ("HTTP 401: Invalid
// identifier or password"), its start which source and step failed.
std::string ShortenMiddle(std::string text, size_t max_bytes) {
  for (char& c : text) {
    if (c == '\n' || c == '\t') c = ' ';
  }
  if (text.size() <= max_bytes) return text;
  size_t head = max_bytes / 3;
  while (head > 0 && (static_cast<unsigned char>(text[head]) & 0xC0) == 0x80) --head;
  size_t tail = text.size() - (max_bytes - max_bytes / 3);
  while (tail < text.size() && (static_cast<unsigned char>(text[tail]) & 0xC0) == 0x80) ++tail;
  return text.substr(0, head) + " … " + text.substr(tail);
}

// One line of what the classifier decided: organisations, topics,
// sentiment, criticality; "" when the post carries no decisions.
std::string DecisionSummary(const std::vector<Decision>& decisions) {
  std::string orgs, topics, sentiment, flags;
  auto add = [](std::string& list, const std::string& item) {
    if (list.find(item) != std::string::npos) return;
    list += (list.empty() ? "" : ", ") + item;
  };
  for (const Decision& d : decisions) {
    switch (d.kind) {
      case Decision::Kind::kOrg:
        add(orgs, d.value + " " + d.detail);
        break;
      case Decision::Kind::kUnrouted:
        add(orgs, "unrouted \"" + d.value + "\" (" + d.detail + ")");
        break;
      case Decision::Kind::kTopic:
        add(topics, d.value);
        break;
      case Decision::Kind::kSentiment:
        sentiment = d.value;
        break;
      case Decision::Kind::kCriticality:
        add(flags, d.value + " (priority " + d.detail + ")");
        break;
      default:
        break;
    }
  }
  std::string out;
  for (const std::string* part : {&orgs, &topics, &sentiment, &flags}) {
    if (part->empty()) continue;
    out += (out.empty() ? "" : " · ") + *part;
  }
  return out;
}

}  // namespace

Result<std::shared_ptr<const Classifier>> LoadClassifier(const Config& config,
                                                         const std::string& rules_flag,
                                                         const std::string& orgs_flag);

Result<std::unique_ptr<SqliteStore>> OpenStore(const Config& config) {
  return SqliteStore::Open(config.store_path, SqliteOptions{});
}

namespace {

// Runs `connector`'s parser over each file with `spec` as its source.
int ParseFiles(const ConnectorDescriptor& connector, const SourceSpec& spec, const std::string& url,
               const std::string& content_type, const std::vector<std::string>& files,
               std::ostream& out, std::ostream& err) {
  int code = 0;
  for (const std::string& file : files) {
    auto body = ReadWholeFile(file);
    if (!body.ok()) {
      err << "earshot parse: " << body.status().message() << "\n";
      code = 2;
      continue;
    }
    HttpResponse response;
    response.status = 200;
    // Without --url there is no base: relative links stay unresolved (the
    // connector warns) rather than pointing into this machine's disk.
    response.url = url;
    if (!content_type.empty()) response.headers.Add("Content-Type", content_type);
    response.body = std::move(body).value();
    auto page = connector.parse(spec, SourceCursor{}, response);
    if (!page.ok()) {
      err << "earshot parse: " << file << ": " << page.status().message() << "\n";
      code = 2;
      continue;
    }
    for (const std::string& w : page->warnings) {
      err << "earshot parse: " << file << ": warning: " << w << "\n";
    }
    for (const Post& post : page->posts) out << PostToJsonLine(post) << "\n";
  }
  out.flush();
  return code;
}

}  // namespace

int CmdParse(const std::string& connector_name, const std::string& url,
             const std::string& content_type, const std::vector<std::string>& files,
             std::ostream& out, std::ostream& err) {
  const ConnectorDescriptor* connector = FindConnector(connector_name);
  if (!connector) {
    err << "earshot parse: unknown connector \"" << connector_name
        << "\" (see `earshot connectors`)\n";
    return 2;
  }
  return ParseFiles(*connector, DefaultSourceSpec(*connector, "parse", url), url, content_type,
                    files, out, err);
}

int CmdParseSource(const GlobalOptions& global, const std::string& source_name,
                   const std::string& connector_name, const std::string& url,
                   const std::string& content_type, const std::vector<std::string>& files,
                   std::ostream& out, std::ostream& err) {
  auto config = LoadEffectiveConfig(global);
  if (!config.ok()) {
    err << "earshot parse: " << config.status().message() << "\n";
    return 2;
  }
  for (const SourceSpec& spec : config->sources) {
    if (spec.name != source_name) continue;
    if (spec.connector != connector_name) {
      err << "earshot parse: source \"" << source_name << "\" uses connector \"" << spec.connector
          << "\", not \"" << connector_name << "\"\n";
      return 2;
    }
    const ConnectorDescriptor* connector = FindConnector(connector_name);
    if (!connector) return 2;  // the loader has already checked it
    return ParseFiles(*connector, spec, url, content_type, files, out, err);
  }
  err << "earshot parse: no [[source]] named \"" << source_name << "\" in "
      << (config->file.empty() ? std::string("the configuration") : config->file) << "\n";
  return 2;
}

int CmdConfigCheck(const GlobalOptions& global, std::ostream& out, std::ostream& err) {
  auto config = LoadEffectiveConfig(global);
  if (!config.ok()) {
    err << "earshot config check: " << config.status().message() << "\n";
    return 2;
  }
  out << (config->file.empty() ? "(no configuration file: defaults)" : config->file) << ": OK, "
      << config->sources.size() << " source(s), " << config->accounts.size()
      << " account(s), store " << config->store_path << "\n";
  if (config->conversation_schedule.empty()) {
    out << "  conversations: not watched\n";
  } else {
    out << "  conversations of routed posts fetched at";
    for (size_t i = 0; i < config->conversation_schedule.size(); ++i) {
      out << (i == 0 ? " " : ", ") << FormatDuration(config->conversation_schedule[i]);
    }
    out << " after they were written\n";
  }
  for (const SourceSpec& s : config->sources) {
    out << "  " << DescribeSource(s, FindConnector(s.connector)) << " every "
        << FormatDuration(s.interval) << "\n";
  }
  // Secret keys (access tokens) are masked by DescribeSource.
  for (const AccountSpec& a : config->accounts) {
    out << "  account for " << a.org << ": "
        << DescribeSource(a.spec, FindConnector(a.spec.connector)) << "\n";
  }
  for (const OrgSettings& o : config->orgs) {
    out << "  org " << o.code << ": "
        << (o.require_approval ? "replies need a second person's approval"
                               : "replies published without approval")
        << "\n";
  }
  return 0;
}

int CmdConnectors(std::ostream& out) {
  for (const ConnectorDescriptor* c : AllConnectors()) {
    out << c->name << ": " << c->summary << "\n";
    for (const ConfigKeySpec& k : c->keys) {
      static const char* kTypes[] = {"string", "integer", "boolean", "array of strings"};
      out << "  " << k.name << " (" << kTypes[static_cast<int>(k.type)];
      if (k.required) out << ", required";
      if (k.secret) out << ", secret: use ${ENV_VAR}";
      if (!k.default_value.empty()) out << ", default " << k.default_value;
      out << "): " << k.doc << "\n";
    }
  }
  return 0;
}

int CmdSources(const GlobalOptions& global, const SourcesOptions& options, std::ostream& out,
               std::ostream& err) {
  auto config = LoadEffectiveConfig(global);
  if (!config.ok()) {
    err << "earshot sources: " << config.status().message() << "\n";
    return 2;
  }
  auto store = OpenStore(*config);
  if (!store.ok()) {
    err << "earshot sources: " << store.status().message() << "\n";
    return 1;
  }
  for (const SourceSpec& s : config->sources) {
    if (Status st = (*store)->UpsertSource(s); !st.ok()) {
      err << "earshot sources: " << st.message() << "\n";
      return 1;
    }
  }
  if (!options.reset.empty()) {
    auto record = (*store)->GetSource(options.reset);
    if (!record.ok()) {
      err << "earshot sources: " << record.status().message() << "\n";
      return 2;
    }
    SourceWrite write;
    write.source = options.reset;
    write.state = record->state;
    write.state.health = SourceHealth::kOk;
    write.state.consecutive_failures = 0;
    write.state.next_poll_at.reset();
    write.state.last_error.clear();
    // The blind window stays open until a poll succeeds.
    if (auto st = (*store)->Apply({write}); !st.ok()) {
      err << "earshot sources: " << st.status().message() << "\n";
      return 1;
    }
    out << "source " << options.reset << " reset: due now, cursor kept\n";
  }
  if (!options.blind.empty()) {
    auto windows = (*store)->BlindWindows(options.blind);
    if (!windows.ok()) {
      err << "earshot sources: " << windows.status().message() << "\n";
      return 1;
    }
    auto record = (*store)->GetSource(options.blind);
    if (record.ok() && record->state.blind_since) {
      out << FormatRfc3339(*record->state.blind_since) << "  (still blind)  "
          << record->state.last_error << "\n";
    }
    for (const BlindWindow& w : *windows) {
      out << FormatRfc3339(w.start) << "  " << FormatRfc3339(w.end) << "  "
          << FormatDuration(w.end - w.start) << "  " << w.reason << "\n";
    }
    return 0;
  }
  auto sources = (*store)->ListSources();
  if (!sources.ok()) {
    err << "earshot sources: " << sources.status().message() << "\n";
    return 1;
  }
  std::vector<std::vector<std::string>> rows = {{"SOURCE", "CONNECTOR", "HEALTH", "POSTS",
                                                 "LAST SUCCESS", "NEXT POLL", "FAILS",
                                                 "CURSOR / LAST ERROR"}};
  for (const SourceRecord& r : *sources) {
    const SourceState& s = r.state;
    std::string tail = s.cursor.cursor.empty() ? "-" : s.cursor.cursor;
    if (!s.last_error.empty()) tail += "  error: " + ShortenMiddle(s.last_error, 200);
    rows.push_back({r.name, r.connector, std::string(SourceHealthName(s.health)),
                    std::to_string(s.posts_total), When(s.last_success_at),
                    s.next_poll_at ? FormatRfc3339(*s.next_poll_at) : std::string("now"),
                    std::to_string(s.consecutive_failures), tail});
  }
  std::vector<size_t> widths(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    for (size_t i = 0; i + 1 < row.size(); ++i) {
      out << std::left << std::setw(static_cast<int>(widths[i] + 2)) << row[i];
    }
    out << row.back() << "\n";
  }
  return 0;
}

int CmdPosts(const GlobalOptions& global, const std::string& search, int limit, std::ostream& out,
             std::ostream& err) {
  auto config = LoadEffectiveConfig(global);
  if (!config.ok()) {
    err << "earshot posts: " << config.status().message() << "\n";
    return 2;
  }
  auto store = OpenStore(*config);
  if (!store.ok()) {
    err << "earshot posts: " << store.status().message() << "\n";
    return 1;
  }
  auto posts = search.empty() ? (*store)->RecentPosts(limit) : (*store)->SearchPosts(search, limit);
  if (!posts.ok()) {
    err << "earshot posts: " << posts.status().message() << "\n";
    return posts.status().code() == StatusCode::kInvalidArgument ? 2 : 1;
  }
  for (const StoredPost& p : *posts) {
    // PLATFORM:UID last: what `earshot publish --post` takes.
    out << When(p.post.created_at) << "  " << p.post.platform << "  "
        << (p.post.author_handle.empty() ? "-" : p.post.author_handle) << "  [" << p.source << "]  "
        << p.post.platform << ":" << p.post.uid << "\n    ";
    if (p.deleted_at) {
      // A tombstone: its text is gone; say why instead of printing nothing.
      out << "[deleted: "
          << Shorten(p.deletion_reason.empty() ? std::string("no reason given") : p.deletion_reason,
                     120)
          << "]\n";
    } else {
      out << Shorten(p.post.title.empty() ? p.post.text : p.post.title + " — " + p.post.text, 200)
          << "\n";
    }
    std::string summary = DecisionSummary(p.post.decisions);
    if (!summary.empty()) out << "    -> " << summary << "\n";
  }
  return 0;
}

int CmdImport(const GlobalOptions& global, const std::string& source,
              const std::vector<std::string>& files, std::ostream& out, std::ostream& err) {
  auto config = LoadEffectiveConfig(global);
  if (!config.ok()) {
    err << "earshot import: " << config.status().message() << "\n";
    return 2;
  }
  auto store = OpenStore(*config);
  if (!store.ok()) {
    err << "earshot import: " << store.status().message() << "\n";
    return 1;
  }
  SourceSpec spec;
  spec.name = source;
  spec.connector = "import";
  if (Status st = (*store)->UpsertSource(spec); !st.ok()) {
    err << "earshot import: " << st.message() << "\n";
    return 1;
  }
  auto record = (*store)->GetSource(source);
  if (!record.ok()) {
    err << "earshot import: " << record.status().message() << "\n";
    return 1;
  }
  auto classifier = LoadClassifier(*config, "", "");
  if (!classifier.ok()) {
    err << "earshot import: " << classifier.status().message() << "\n";
    return 2;
  }
  ClassifierHolder holder(std::move(classifier).value());
  SystemClock clock;
  Pipeline pipeline(**store, clock,
                    BatchOptions{.max_rows = static_cast<int>(config->batch_rows),
                                 .max_delay = config->batch_interval});
  pipeline.AddStage(std::make_unique<ClassifyStage>(holder, AnswersHeldThread(**store)));
  SourceState state = record->state;
  int64_t read = 0, rejected = 0;
  int code = 0;
  auto import_stream = [&](std::istream& in, const std::string& name) -> Status {
    std::string line;
    int64_t line_no = 0;
    std::vector<Post> batch;
    auto submit = [&]() -> Status {
      if (batch.empty()) return Status::Ok();
      SourceWrite write;
      write.source = source;
      write.state = state;
      write.state.last_success_at = clock.Now();
      write.posts = std::move(batch);
      batch.clear();
      return pipeline.Submit(std::move(write));
    };
    while (std::getline(in, line)) {
      ++line_no;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      auto post = PostFromJsonLine(line);
      if (!post.ok()) {
        err << "earshot import: " << name << ":" << line_no << ": " << post.status().message()
            << "\n";
        ++rejected;
        code = 2;
        continue;
      }
      post->fetched_at = clock.Now();
      batch.push_back(std::move(post).value());
      ++read;
      if (batch.size() >= 1000) EARSHOT_RETURN_IF_ERROR(submit());
    }
    return submit();
  };
  for (const std::string& file : files) {
    Status st;
    if (file == "-") {
      st = import_stream(std::cin, "<stdin>");
    } else {
      std::ifstream in(file, std::ios::binary);
      if (!in) {
        err << "earshot import: cannot read " << file << "\n";
        code = 2;
        continue;
      }
      st = import_stream(in, file);
    }
    if (!st.ok()) {
      err << "earshot import: " << st.message() << "\n";
      return 1;
    }
  }
  if (Status st = pipeline.Flush(); !st.ok()) {
    err << "earshot import: " << st.message() << "\n";
    return 1;
  }
  const PipelineStats& stats = pipeline.stats();
  // The classify stage drops posts with no organisation and no health
  // context before they reach the store.
  const int64_t irrelevant = read - stats.stored - stats.duplicates;
  out << "imported " << read << " post(s): " << stats.stored << " new, " << stats.duplicates
      << " already stored, " << irrelevant << " not relevant (dropped), " << rejected
      << " rejected\n";
  return code;
}

}  // namespace earshot
