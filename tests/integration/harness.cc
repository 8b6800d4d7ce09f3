#include "tests/integration/harness.h"

#include <algorithm>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <cctype>
#include <cstdio>
#include <sstream>

namespace earshot::integration {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

namespace json = boost::json;
using earshot::testing::EarshotBinary;
using earshot::testing::RunProcess;

std::string TestConfigPreamble(const std::string& timeout) {
  return "[http]\n"
         "contact = \"https://earshot.test/integration\"\n"
         "timeout = \"" +
         timeout +
         "\"\n"
         "connect_timeout = \"2s\"\n"
         "per_host_delay = \"0s\"\n"
         "per_host_concurrency = 16\n"
         "\n"
         "[schedule]\n"
         "jitter = 0.0\n"
         "backoff_initial = \"30s\"\n"
         "\n";
}

std::string StatusId(int n) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "11700000000000%04d", n);
  return buffer;
}

std::string MastodonText(const std::string& id) {
  return "Status " + id + ": seen within the hour at the Northern General walk-in centre.";
}

std::string MastodonStatusJson(const std::string& id, const std::string& text) {
  const std::string user = "carer" + id.substr(id.size() - 2);
  json::object account{
      {"id", "110000000000000" + id.substr(id.size() - 3)},
      {"username", user},
      {"acct", user},
      {"display_name", "Carer " + id.substr(id.size() - 2)},
      {"url", "https://social.example/@" + user},
  };
  json::object status{
      {"id", id},
      {"created_at", "2026-11-21T10:" + id.substr(id.size() - 2) + ":00.000Z"},
      {"in_reply_to_id", nullptr},
      {"in_reply_to_account_id", nullptr},
      {"sensitive", false},
      {"spoiler_text", ""},
      {"visibility", "public"},
      {"language", "en"},
      {"uri", "https://social.example/users/" + user + "/statuses/" + id},
      {"url", "https://social.example/@" + user + "/" + id},
      {"content", "<p>" + text +
                      " <a href=\"https://social.example/tags/nhs\" "
                      "class=\"mention hashtag\" rel=\"tag\">#<span>NHS</span></a></p>"},
      {"reblog", nullptr},
      {"account", std::move(account)},
      {"media_attachments", json::array{}},
      {"mentions", json::array{}},
      {"tags",
       json::array{json::object{{"name", "nhs"}, {"url", "https://social.example/tags/nhs"}}}},
  };
  return json::serialize(status);
}

std::string MastodonTimeline(const std::vector<std::string>& ids) {
  std::string out = "[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out += ",\n";
    out += MastodonStatusJson(ids[i], MastodonText(ids[i]));
  }
  return out + "]";
}

std::string RssFeed(const std::string& title, const std::vector<FeedItem>& items) {
  std::string out =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\">\n<channel>\n"
      "<title>" +
      title +
      "</title>\n<link>https://blog.example/</link>\n"
      "<description>Invented test feed</description>\n<language>en-GB</language>\n";
  for (const FeedItem& item : items) {
    out += "<item>\n<title>" + item.title + "</title>\n<link>https://blog.example/" + item.guid +
           "/</link>\n<guid isPermaLink=\"false\">" + item.guid +
           "</guid>\n<dc:creator>blogger</dc:creator>\n<pubDate>" + item.pub_date +
           "</pubDate>\n<description><![CDATA[<p>" + item.text + "</p>]]></description>\n</item>\n";
  }
  return out + "</channel>\n</rss>\n";
}

std::vector<FeedItem> FeedItems(const std::string& prefix, int first, int last) {
  std::vector<FeedItem> items;
  for (int i = last; i >= first; --i) {  // newest first, as blogs do
    char date[64];
    std::snprintf(date, sizeof date, "Sat, %02d Nov 2026 09:00:00 +0000", i);
    const std::string guid = prefix + "-" + std::to_string(i);
    items.push_back({guid, "Visit " + std::to_string(i) + " to the fracture clinic",
                     "Entry " + guid +
                         ": the plaster room at the Leeds General Infirmary "
                         "ran on time.",
                     date});
  }
  return items;
}

FixtureRoute JsonRoute(const std::string& target, std::string body, int status) {
  FixtureRoute route;
  route.target = target;
  route.status = status;
  route.body = std::move(body);
  route.headers = {{"Content-Type", "application/json; charset=utf-8"}};
  return route;
}

FixtureRoute RssRoute(const std::string& target, std::string body, const std::string& etag) {
  FixtureRoute route;
  route.target = target;
  route.body = std::move(body);
  route.headers = {{"Content-Type", "application/rss+xml; charset=utf-8"},
                   {"ETag", "\"" + etag + "\""}};
  return route;
}

Sandbox::Sandbox(std::vector<FixtureRoute> routes) {
  auto server = FixtureServer::Start(std::move(routes));
  if (!server.ok()) FAIL("fixture server: " << server.status().ToString());
  server_ = std::move(server).value();
}

Sandbox::~Sandbox() {
  if (server_) server_->Stop();
}

void Sandbox::WriteConfig(const std::string& sources, const std::string& timeout) {
  std::string text = TestConfigPreamble(timeout) + sources;
  const std::string base = server_->BaseUrl();
  for (size_t pos = text.find("{{base}}"); pos != std::string::npos;
       pos = text.find("{{base}}", pos + base.size())) {
    text.replace(pos, 8, base);
  }
  earshot::testing::WriteFile(config(), text);
}

std::vector<std::string> Sandbox::EarshotArgs(const std::vector<std::string>& args) const {
  std::vector<std::string> all = {EarshotBinary(), "--config", config().string(), "--db",
                                  db().string()};
  all.insert(all.end(), args.begin(), args.end());
  return all;
}

ProcessResult Sandbox::Earshot(const std::vector<std::string>& args, ProcessOptions options) const {
  if (options.cwd.empty()) options.cwd = dir();
  return RunProcess(EarshotArgs(args), options);
}

std::unique_ptr<SqliteStore> Sandbox::OpenStore() const {
  auto store = SqliteStore::Open(db().string());
  if (!store.ok()) FAIL("open " << db() << ": " << store.status().ToString());
  return std::move(store).value();
}

std::vector<StoredPost> AllPosts(Store& store) {
  auto posts = store.RecentPosts(100000);
  if (!posts.ok()) FAIL("RecentPosts: " << posts.status().ToString());
  return std::move(posts).value();
}

std::vector<std::string> PostIds(Store& store, const std::string& source) {
  std::vector<std::string> ids;
  for (const StoredPost& p : AllPosts(store)) {
    if (p.source == source) ids.push_back(p.post.id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

SourceRecord SourceNamed(Store& store, const std::string& name) {
  auto record = store.GetSource(name);
  if (!record.ok()) FAIL("GetSource(" << name << "): " << record.status().ToString());
  return std::move(record).value();
}

std::vector<RecordedRequest> RequestsTo(const FixtureServer& server, const std::string& path) {
  std::vector<RecordedRequest> out;
  for (RecordedRequest& r : server.Requests()) {
    if (r.target.compare(0, path.size(), path) == 0) out.push_back(std::move(r));
  }
  return out;
}

std::string HeaderOf(const RecordedRequest& request, const std::string& name) {
  for (const auto& [key, value] : request.headers) {
    if (key.size() == name.size() &&
        std::equal(key.begin(), key.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return value;
    }
  }
  return "";
}

}  // namespace earshot::integration
