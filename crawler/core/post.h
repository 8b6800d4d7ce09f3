// Post: one public message as earshot stores it, whatever platform it came
// from. Every string is owned (parser views die at the next parse) and is
// valid UTF-8 in NFC.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "crawler/core/clock.h"
#include "crawler/core/decision.h"

namespace earshot {

struct Post {
  // Connector name that produced it ("feed", "mastodon", ...).
  std::string platform;
  // The platform's own id: a feed item's guid (or link), a status id.
  std::string id;
  // Globally unique identity used for de-duplication; the store keeps one row
  // per (platform, uid). Mastodon: the status URI (the same status seen via
  // two instances has two ids but one URI). Feeds: guid, else link. When a
  // connector leaves it empty the pipeline copies `id`.
  std::string uid;
  std::string url;                      // canonical web page of the post, absolute
  std::string title;                    // may be empty
  std::string author_handle;            // "@alice@example.social", feed author email/name
  std::string author_name;              // display name, may be empty
  std::string text;                     // plain text: HTML stripped, entities decoded
  std::string language;                 // BCP 47 when the platform says, else empty
  std::optional<TimePoint> created_at;  // UTC; absent when the source omits it
  TimePoint fetched_at{};               // set by the engine, never by parsers
  std::string reply_to;                 // platform id of the post this one answers
  std::string conversation;             // platform id of the conversation root (article)
  // What the connector needs, beyond `id`, to address this post later (reply
  // refs, re-fetch): opaque to everything else, e.g. Bluesky's CID and its
  // thread root, Discourse's post number. Stored with the post; may be empty.
  std::string ref;
  std::string content_hash;  // set by the pipeline: hex SHA-256 of the text
  // Set by the pipeline's classify stage: redactions, organisations, topics,
  // sentiment, criticality, each with its rule provenance. Spans refer to
  // `text` (already redacted).
  std::vector<Decision> decisions;
};

}  // namespace earshot
