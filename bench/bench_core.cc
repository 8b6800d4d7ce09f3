// Core benchmarks: connector parsing and store commits, each measured against
// a baseline doing the irreducible part of the same work in the same run
// (libxml2 reading the document, simdjson parsing the bytes, SQLite inserting
// the rows bare). Ratios are what to watch: they survive slower machines.
//
// Output: one JSON object per line on stdout:
//   {"bench":NAME,"items":N,"seconds":S,"items_per_second":R,
//    "baseline":NAME,"baseline_seconds":B,"ratio":S/B}
// Usage: bench_core [--quick]
#include <libxml/parser.h>
#include <sqlite3.h>

#include <simdjson.h>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <string>

#include "bench/bench_util.h"
#include "connectors/feed/feed.h"
#include "connectors/mastodon/mastodon.h"
#include "crawler/cli/config.h"
#include "crawler/store/sqlite/sqlite_store.h"

namespace {

using earshot::bench::BestOf;
using earshot::bench::Report;

using earshot::HttpResponse;
using Clock = std::chrono::steady_clock;

std::string MakeFeed(int items) {
  std::string xml =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" "
      "xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" "
      "xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel><title>Bench</title>"
      "<link>https://blog.example/</link>";
  for (int i = 0; i < items; ++i) {
    std::string n = std::to_string(i);
    xml += "<item><title>Waiting at A&amp;E, visit " + n +
           "</title><link>https://blog.example/posts/" + n +
           "</link><guid>https://blog.example/?p=" + n + "</guid><dc:creator>patient" + n +
           "</dc:creator><pubDate>Sun, 22 Nov 2026 06:59:15 GMT</pubDate>"
           "<content:encoded><![CDATA[<p>We waited <b>six hours</b> at the Northern "
           "General before anyone saw my dad.</p><p>The nurses were kind &amp; "
           "rushed off their feet; the ward was cold.</p>]]></content:encoded></item>";
  }
  return xml + "</channel></rss>";
}

std::string MakeTimeline(int statuses) {
  boost::json::array arr;
  for (int i = 0; i < statuses; ++i) {
    std::string id = std::to_string(117000000000000000LL + i);
    arr.push_back(boost::json::object{
        {"id", id},
        {"created_at", "2026-11-22T06:59:15.000Z"},
        {"in_reply_to_id", nullptr},
        {"visibility", "public"},
        {"language", "en"},
        {"uri", "https://social.example/users/a/statuses/" + id},
        {"url", "https://social.example/@a/" + id},
        {"spoiler_text", ""},
        {"content",
         "<p>Six hours in A&amp;E at the <a href=\"https://social.example/tags/nhs\">#NHS</a> "
         "Northern General. Staff brilliant, system broken.</p>"},
        {"reblog", nullptr},
        {"account",
         boost::json::object{
             {"id", "1"}, {"username", "a"}, {"acct", "a"}, {"display_name", "A Patient"}}},
    });
  }
  return boost::json::serialize(arr);
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int runs = quick ? 2 : 5;

  // Feed parsing against libxml2 reading the same bytes.
  {
    const int items = quick ? 200 : 2000;
    HttpResponse response;
    response.status = 200;
    response.url = "https://blog.example/feed/";
    response.body = MakeFeed(items);
    const auto& feed = earshot::connector_feed::Descriptor();
    auto spec = earshot::DefaultSourceSpec(feed, "bench", response.url);
    spec.options["max_items"] = int64_t{items};
    size_t parsed = 0;
    double ours = BestOf(runs, [&] {
      auto page = feed.parse(spec, {}, response);
      parsed = page.ok() ? page->posts.size() : 0;
    });
    if (parsed != static_cast<size_t>(items)) {
      std::cerr << "feed bench: parsed " << parsed << " of " << items << "\n";
      return 1;
    }
    double base = BestOf(runs, [&] {
      xmlDocPtr doc = xmlReadMemory(response.body.data(), static_cast<int>(response.body.size()),
                                    nullptr, nullptr, XML_PARSE_NONET | XML_PARSE_NOERROR);
      xmlFreeDoc(doc);
    });
    Report("feed_parse", items, ours, "libxml2_read_memory", base);
  }

  // Mastodon parsing against simdjson parsing the same bytes.
  {
    const int statuses = quick ? 400 : 4000;
    HttpResponse response;
    response.status = 200;
    response.url = "https://social.example/api/v1/timelines/tag/nhs";
    response.body = MakeTimeline(statuses);
    const auto& mastodon = earshot::connector_mastodon::Descriptor();
    auto spec = earshot::DefaultSourceSpec(mastodon, "bench", "https://social.example");
    spec.options["tag"] = std::string("nhs");
    size_t parsed = 0;
    double ours = BestOf(runs, [&] {
      auto page = mastodon.parse(spec, {}, response);
      parsed = page.ok() ? page->posts.size() : 0;
    });
    if (parsed != static_cast<size_t>(statuses)) {
      std::cerr << "mastodon bench: parsed " << parsed << " of " << statuses << "\n";
      return 1;
    }
    simdjson::dom::parser parser;
    simdjson::padded_string padded(response.body);
    double base = BestOf(runs, [&] {
      auto doc = parser.parse(padded);
      (void)doc.error();
    });
    Report("mastodon_parse", statuses, ours, "simdjson_dom_parse", base);
  }

  // Store commits (posts + state + FTS in one transaction per 1000 posts)
  // against bare INSERTs of the same columns in one transaction.
  {
    const int total = quick ? 5000 : 50000;
    namespace fs = std::filesystem;
    fs::path dir = fs::temp_directory_path() / ("earshot-bench-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::vector<earshot::Post> posts;
    for (int i = 0; i < total; ++i) {
      earshot::Post p;
      p.platform = "mastodon";
      p.id = p.uid = std::to_string(i);
      p.url = "https://social.example/@a/" + p.id;
      p.author_handle = "@a@social.example";
      p.text = "Six hours in A&E at the Northern General, visit " + p.id +
               ". Staff brilliant, system broken.";
      p.created_at = earshot::FromUnixSeconds(1790000000 + i);
      p.fetched_at = p.created_at.value();
      p.content_hash = std::string(64, 'a');
      posts.push_back(std::move(p));
    }
    int run = 0;
    double ours = BestOf(runs, [&] {
      auto store = earshot::SqliteStore::Open(
          (dir / ("s" + std::to_string(run++) + ".db")).string(), earshot::SqliteOptions{});
      if (!store.ok()) std::abort();
      for (int start = 0; start < total; start += 1000) {
        earshot::SourceWrite w;
        w.source = "bench";
        w.state.cursor.cursor = std::to_string(start);
        w.posts.assign(posts.begin() + start, posts.begin() + std::min(total, start + 1000));
        if (!(*store)->Apply({w}).ok()) std::abort();
      }
    });
    double base = BestOf(runs, [&] {
      sqlite3* db = nullptr;
      sqlite3_open((dir / ("b" + std::to_string(run++) + ".db")).string().c_str(), &db);
      sqlite3_exec(db,
                   "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                   "CREATE TABLE p(id INTEGER PRIMARY KEY, platform TEXT, uid TEXT, url TEXT,"
                   " author TEXT, text TEXT, created_at INT, UNIQUE(platform, uid))",
                   nullptr, nullptr, nullptr);
      sqlite3_stmt* st = nullptr;
      sqlite3_prepare_v2(db,
                         "INSERT INTO p(platform,uid,url,author,text,created_at) "
                         "VALUES(?,?,?,?,?,?)",
                         -1, &st, nullptr);
      for (int start = 0; start < total; start += 1000) {
        sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
        for (int i = start; i < std::min(total, start + 1000); ++i) {
          const auto& p = posts[i];
          sqlite3_bind_text(st, 1, p.platform.c_str(), -1, SQLITE_STATIC);
          sqlite3_bind_text(st, 2, p.uid.c_str(), -1, SQLITE_STATIC);
          sqlite3_bind_text(st, 3, p.url.c_str(), -1, SQLITE_STATIC);
          sqlite3_bind_text(st, 4, p.author_handle.c_str(), -1, SQLITE_STATIC);
          sqlite3_bind_text(st, 5, p.text.c_str(), -1, SQLITE_STATIC);
          sqlite3_bind_int64(st, 6, earshot::ToUnixMillis(*p.created_at));
          sqlite3_step(st);
          sqlite3_reset(st);
        }
        sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
      }
      sqlite3_finalize(st);
      sqlite3_close(db);
    });
    fs::remove_all(dir);
    Report("store_apply_batch1000", total, ours, "sqlite_bare_insert", base);
  }
  return 0;
}
