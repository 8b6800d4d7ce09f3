// What the integration tests share: a sandbox (a temp dir, a fixture server
// on 127.0.0.1, a configuration file and a SQLite file) in which the BUILT
// `earshot` binary runs as a child process, and builders for the bodies the
// fixture server serves (our own invented posts, in Mastodon and RSS form).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "crawler/server/fixture_server.h"
#include "crawler/store/sqlite/sqlite_store.h"
#include "tests/support/process.h"

namespace earshot::integration {

using earshot::testing::ProcessOptions;
using earshot::testing::ProcessResult;

// [http] and [schedule] tables fit for tests: no politeness gap to our own
// server, no jitter, `timeout` for the whole request.
// The lines of a command's output, without their line breaks.
std::vector<std::string> Lines(const std::string& text);

std::string TestConfigPreamble(const std::string& timeout = "5s");

// An 18-digit Mastodon-style status id; ids of one length order by number.
std::string StatusId(int n);

// A Mastodon Status entity (JSON object) for the tag timeline; invented
// people and stories. `id` also orders the statuses (same length ids).
std::string MastodonStatusJson(const std::string& id, const std::string& text);
// A timeline page: the statuses with these ids, in the order given (Mastodon
// sends newest first).
std::string MastodonTimeline(const std::vector<std::string>& ids);
// The text MastodonTimeline gives status `id`.
std::string MastodonText(const std::string& id);

struct FeedItem {
  std::string guid;
  std::string title;
  std::string text;
  std::string pub_date;  // RFC 822
};
// An RSS 2.0 document with these items. A fixed template: every value comes
// from the tests themselves and carries no markup characters.
std::string RssFeed(const std::string& title, const std::vector<FeedItem>& items);
// `n` dated items "<prefix>-1".."<prefix>-n".
std::vector<FeedItem> FeedItems(const std::string& prefix, int first, int last);

// Routes for the common cases.
FixtureRoute JsonRoute(const std::string& target, std::string body, int status = 200);
FixtureRoute RssRoute(const std::string& target, std::string body, const std::string& etag);

// A unique temp dir holding earshot.toml and earshot.db, plus a fixture
// server; everything is removed/stopped on destruction.
class Sandbox {
 public:
  explicit Sandbox(std::vector<FixtureRoute> routes);
  ~Sandbox();

  FixtureServer& server() { return *server_; }
  std::string base() const { return server_->BaseUrl(); }
  const std::filesystem::path& dir() const { return dir_.path(); }
  std::filesystem::path db() const { return dir_.path() / "earshot.db"; }
  std::filesystem::path config() const { return dir_.path() / "earshot.toml"; }

  // Writes earshot.toml: TestConfigPreamble(timeout) + `sources`, with
  // "{{base}}" replaced by the server's base URL.
  void WriteConfig(const std::string& sources, const std::string& timeout = "5s");

  // Runs `earshot --config <config> --db <db> ARGS...` in dir().
  ProcessResult Earshot(const std::vector<std::string>& args, ProcessOptions options = {}) const;
  // The same argument list, for ChildProcess::Start.
  std::vector<std::string> EarshotArgs(const std::vector<std::string>& args) const;

  // Opens the database the child wrote (only while no child runs).
  std::unique_ptr<SqliteStore> OpenStore() const;

 private:
  earshot::testing::TempDir dir_;
  std::unique_ptr<FixtureServer> server_;
};

// Every stored post (up to a large limit), by the store's own reading.
std::vector<StoredPost> AllPosts(Store& store);
// Ids of stored posts of `source`, sorted.
std::vector<std::string> PostIds(Store& store, const std::string& source);
SourceRecord SourceNamed(Store& store, const std::string& name);
// The target path of every recorded request whose path starts with `path`.
std::vector<RecordedRequest> RequestsTo(const FixtureServer& server, const std::string& path);
// A header of a recorded request ("" when absent).
std::string HeaderOf(const RecordedRequest& request, const std::string& name);

}  // namespace earshot::integration
