#include "crawler/server/api_routes.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <map>
#include <optional>
#include <set>
#include <string_view>

#include "crawler/core/strings.h"
#include "crawler/core/time_format.h"
#include "crawler/core/url.h"
#include "crawler/threads/drafting.h"
#include "crawler/threads/tokens.h"
#include "crawler/threads/tone.h"
#include "crawler/threads/workflow.h"

namespace earshot {
namespace {

namespace json = boost::json;

constexpr int kDefaultLimit = 50;
constexpr int kMaxLimit = 200;
constexpr size_t kMaxNoteBytes = 20000;

ApiResponse Json(int status, const json::value& body) {
  ApiResponse response;
  response.status = status;
  response.body = json::serialize(body);
  return response;
}

int HttpStatusOf(const Status& status) {
  switch (status.code()) {
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kInvalidArgument:
    case StatusCode::kParseError:
      return 400;
    case StatusCode::kAlreadyExists:
      return 409;
    case StatusCode::kUnauthenticated:
      return 401;
    default:
      return 500;
  }
}

ApiResponse FromStatus(const Status& status) {
  const int code = HttpStatusOf(status);
  if (code == 500) {
    // Store failures name files and SQL steps: logged, not shown.
    spdlog::error("api: {}", status.ToString());
    return ApiRoutes::Error(500, "internal error");
  }
  return ApiRoutes::Error(code, status.message());
}

json::value When(const std::optional<TimePoint>& t) {
  if (!t) return nullptr;
  return json::value(FormatRfc3339(*t));
}

json::object OrgJson(const ThreadOrg& org) {
  json::object o;
  o["org"] = org.org;
  o["state"] = OrgStateName(org.state);
  o["assignee"] = org.assignee.empty() ? json::value(nullptr) : json::value(org.assignee);
  o["dismiss_reason"] =
      org.dismiss_reason.empty() ? json::value(nullptr) : json::value(org.dismiss_reason);
  o["rule"] = org.rule;
  o["alerted_at"] = When(org.alerted_at);
  o["updated_at"] = FormatRfc3339(org.updated_at);
  return o;
}

json::object DecisionJson(const Decision& d) {
  json::object o;
  o["kind"] = DecisionKindName(d.kind);
  o["value"] = d.value;
  o["detail"] = d.detail;
  o["rule"] = d.rule;
  o["rule_version"] = d.rule_version;
  if (d.start >= 0) {
    o["start"] = d.start;
    o["end"] = d.end;
  }
  return o;
}

json::object PostJson(const ThreadPost& post) {
  json::object o;
  o["id"] = post.post_id;
  o["uid"] = post.uid;
  o["author"] = post.author_handle;
  o["text"] = post.text;
  o["created_at"] = When(post.created_at);
  o["joined_at"] = FormatRfc3339(post.joined_at);
  o["how"] = JoinReasonName(post.how);
  o["deleted"] = post.deleted;
  return o;
}

json::object NoteJson(const Note& note) {
  json::object o;
  o["id"] = note.id;
  o["org"] = note.org;
  o["author"] = note.author;
  o["body"] = note.body;
  o["created_at"] = FormatRfc3339(note.created_at);
  return o;
}

json::object ReplyJson(const Reply& reply) {
  json::object o;
  o["id"] = reply.id;
  o["org"] = reply.org;
  o["in_reply_to"] = reply.in_reply_to;
  o["body"] = reply.body;
  o["state"] = ReplyStateName(reply.state);
  o["url"] = reply.url.empty() ? json::value(nullptr) : json::value(reply.url);
  o["platform_error"] =
      reply.platform_error.empty() ? json::value(nullptr) : json::value(reply.platform_error);
  o["author"] = reply.author;
  o["approver"] = reply.approver.empty() ? json::value(nullptr) : json::value(reply.approver);
  o["created_at"] = FormatRfc3339(reply.created_at);
  o["updated_at"] = FormatRfc3339(reply.updated_at);
  o["published_by"] =
      reply.published_by.empty() ? json::value(nullptr) : json::value(reply.published_by);
  o["published_at"] = When(reply.published_at);
  return o;
}

json::object AuditJson(const AuditEntry& entry) {
  json::object o;
  o["id"] = entry.id;
  o["at"] = FormatRfc3339(entry.at);
  o["actor"] = entry.actor;
  o["action"] = entry.action;
  o["org"] = entry.org;
  o["detail"] = entry.detail;
  return o;
}

json::array EventsJson(const std::vector<ListeningEvent>& events, bool with_url) {
  json::array out;
  for (const ListeningEvent& e : events) {
    json::object o;
    o["user"] = e.user;
    o["at"] = FormatRfc3339(e.at);
    if (with_url) o["url"] = e.url.empty() ? json::value(nullptr) : json::value(e.url);
    out.push_back(std::move(o));
  }
  return out;
}

json::array LedgerJson(const std::vector<Listening>& ledger) {
  json::array out;
  for (const Listening& l : ledger) {
    json::object o;
    o["org"] = l.org;
    o["alerted_at"] = When(l.alerted_at);
    o["opened"] = EventsJson(l.opened, false);
    o["drafted"] = EventsJson(l.drafted, false);
    o["replied"] = EventsJson(l.replied, true);
    o["first_response_at"] = When(l.first_response_at);
    out.push_back(std::move(o));
  }
  return out;
}

json::array HintsJson(const std::vector<ToneHint>& hints) {
  json::array out;
  for (const ToneHint& hint : hints) {
    json::object o;
    o["kind"] = hint.kind;
    o["rule"] = hint.rule;
    o["message"] = hint.message;
    o["start"] = hint.start;
    o["end"] = hint.end;
    out.push_back(std::move(o));
  }
  return out;
}

// The routing facts a list shows for a thread, from its opening post.
struct Classification {
  std::vector<Decision> topics;
  std::string sentiment;
  std::vector<std::string> criticality;
};

Classification Classify(const std::vector<Decision>& decisions) {
  Classification c;
  for (const Decision& d : decisions) {
    if (d.kind == Decision::Kind::kTopic) c.topics.push_back(d);
    if (d.kind == Decision::Kind::kSentiment) c.sentiment = d.value;
    if (d.kind == Decision::Kind::kCriticality) c.criticality.push_back(d.value);
  }
  return c;
}

std::optional<int64_t> ParseId(std::string_view text) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value <= 0) return std::nullopt;
  return value;
}

// The cursor is opaque to clients; it is the id the next page starts below.
std::string EncodeCursor(int64_t before_id) { return "t" + std::to_string(before_id); }
std::optional<int64_t> DecodeCursor(std::string_view cursor) {
  if (cursor.size() < 2 || cursor[0] != 't') return std::nullopt;
  return ParseId(cursor.substr(1));
}

// Splits "a/b/c" into its segments.
std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    const size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash);
  }
  return out;
}

// The names in a query string, to refuse those the endpoint does not know.
std::vector<std::string> QueryNames(std::string_view query) {
  std::vector<std::string> names;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    if (!pair.empty()) names.emplace_back(pair.substr(0, pair.find('=')));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return names;
}

// A request body: a JSON object with only `known` fields, each a string.
// Fields not given are empty; `required` ones must be present.
Result<std::map<std::string, std::string>> ParseBody(std::string_view body,
                                                     const std::vector<std::string>& known,
                                                     const std::vector<std::string>& required) {
  boost::system::error_code ec;
  json::value value = json::parse(body, ec);
  if (ec) return Status::InvalidArgument("the body is not JSON: " + ec.message());
  if (!value.is_object()) return Status::InvalidArgument("the body must be a JSON object");
  std::map<std::string, std::string> fields;
  for (const auto& [key, field] : value.as_object()) {
    const std::string name(key);
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string list;
      for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
      return Status::InvalidArgument("unknown field '" + name + "' (known: " + list + ")");
    }
    if (!field.is_string()) return Status::InvalidArgument("field '" + name + "' must be a string");
    fields[name] = std::string(field.as_string());
  }
  for (const std::string& name : required) {
    if (!fields.count(name)) return Status::InvalidArgument("field '" + name + "' is required");
  }
  return fields;
}

class RequestContext {
 public:
  RequestContext(Store& store, ThreadStore& threads, const Clock& clock, const OrgPlaces& places,
                 const std::set<std::string, std::less<>>& approval_required,
                 const ReplyPublishFn& publish, const ToneRules* tone, const User& user,
                 const ApiRequest& request)
      : store_(store),
        threads_(threads),
        places_(places),
        publish_(publish),
        tone_(tone),
        user_(user),
        request_(request),
        workflow_(threads, clock, places) {
    workflow_.RequireApproval(approval_required);
    const size_t q = request.target.find('?');
    path_ = std::string_view(request.target).substr(0, q);
    if (q != std::string::npos) query_ = std::string_view(request.target).substr(q + 1);
  }

  ApiResponse Route() {
    const std::vector<std::string_view> parts = Segments(path_);
    if (parts.size() < 2 || parts[0] != "api") return ApiRoutes::Error(404, "no such endpoint");
    if (parts[1] == "threads" && parts.size() == 2) {
      if (!Method("GET")) return NotAllowed("GET");
      return ListThreads();
    }
    if (parts[1] == "threads" && parts.size() >= 3) {
      std::optional<int64_t> id = ParseId(parts[2]);
      if (!id) return ApiRoutes::Error(404, "no such thread");
      if (parts.size() == 3) {
        if (!Method("GET")) return NotAllowed("GET");
        return GetThread(*id);
      }
      if (parts.size() == 4 && parts[3] == "notes") {
        if (!Method("POST")) return NotAllowed("POST");
        return AddNote(*id);
      }
      if (parts.size() == 4 && parts[3] == "status") {
        if (!Method("POST")) return NotAllowed("POST");
        return SetStatus(*id);
      }
      if (parts.size() == 4 && parts[3] == "assign") {
        if (!Method("POST")) return NotAllowed("POST");
        return Assign(*id);
      }
      if (parts.size() == 4 && parts[3] == "replies") {
        if (!Method("POST")) return NotAllowed("POST");
        return Draft(*id);
      }
      return ApiRoutes::Error(404, "no such endpoint");
    }
    if (parts[1] == "replies" && parts.size() == 4 && parts[3] == "approve") {
      std::optional<int64_t> id = ParseId(parts[2]);
      if (!id) return ApiRoutes::Error(404, "no such reply");
      if (!Method("POST")) return NotAllowed("POST");
      return Approve(*id);
    }
    if (parts[1] == "replies" && parts.size() == 4 && parts[3] == "publish") {
      std::optional<int64_t> id = ParseId(parts[2]);
      if (!id) return ApiRoutes::Error(404, "no such reply");
      if (!Method("POST")) return NotAllowed("POST");
      return Publish(*id);
    }
    if (parts[1] == "me" && parts.size() == 2) {
      if (!Method("GET")) return NotAllowed("GET");
      return Me();
    }
    if (parts[1] == "listening" && parts.size() == 2) {
      if (!Method("GET")) return NotAllowed("GET");
      return ListeningSummary();
    }
    if (parts[1] == "orgs" && parts.size() == 2) {
      if (!Method("GET")) return NotAllowed("GET");
      return ListOrgs();
    }
    if (parts[1] == "sources" && parts.size() == 2) {
      if (!Method("GET")) return NotAllowed("GET");
      return ListSources();
    }
    return ApiRoutes::Error(404, "no such endpoint");
  }

 private:
  bool Method(std::string_view method) const {
    return request_.method == method || (method == "GET" && request_.method == "HEAD");
  }

  ApiResponse NotAllowed(std::string_view allow) const {
    ApiResponse response = ApiRoutes::Error(
        405, "method " + request_.method + " not allowed here (use " + std::string(allow) + ")");
    response.headers.emplace_back("Allow", std::string(allow));
    return response;
  }

  std::string Param(std::string_view name) const {
    return QueryParam("http://api.invalid/?" + std::string(query_), name);
  }

  Status OnlyParams(const std::vector<std::string>& known) const {
    for (const std::string& name : QueryNames(query_)) {
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        return Status::InvalidArgument("unknown query parameter '" + name + "'");
      }
    }
    return Status::Ok();
  }

  bool Readable(std::string_view org) const { return Allowed(user_, Action::kRead, org, places_); }

  // Decisions as the user may see them: organisations it may not read are
  // left out (a responder learns nothing of another trust's routing).
  json::array DecisionsJson(int64_t post_id) {
    json::array out;
    Result<std::vector<Decision>> decisions = store_.DecisionsFor(post_id);
    if (!decisions.ok()) return out;
    for (const Decision& d : *decisions) {
      if (d.kind == Decision::Kind::kOrg && !Readable(d.value)) continue;
      if (d.kind == Decision::Kind::kUnrouted) continue;
      out.push_back(DecisionJson(d));
    }
    return out;
  }

  Result<json::object> SummaryJson(const ThreadSummary& thread, const ThreadDetail* detail) {
    json::object o;
    o["id"] = thread.id;
    o["platform"] = thread.platform;
    o["opened_at"] = FormatRfc3339(thread.opened_at);
    o["last_activity_at"] = FormatRfc3339(thread.last_activity_at);
    o["posts"] = thread.posts;
    o["deleted_posts"] = thread.deleted_posts;
    json::array orgs;
    for (const ThreadOrg& org : thread.orgs) orgs.push_back(OrgJson(org));
    o["orgs"] = std::move(orgs);
    Result<std::vector<Decision>> decisions = store_.DecisionsFor(thread.root_post_id);
    if (!decisions.ok()) return decisions.status();
    const Classification c = Classify(*decisions);
    json::array topics;
    for (const Decision& t : c.topics) {
      json::object topic;
      topic["topic"] = t.value;
      topic["category"] = t.detail;
      topic["rule"] = t.rule;
      topics.push_back(std::move(topic));
    }
    o["topics"] = std::move(topics);
    o["sentiment"] = c.sentiment.empty() ? json::value(nullptr) : json::value(c.sentiment);
    json::array criticality;
    for (const std::string& flag : c.criticality) criticality.push_back(json::value(flag));
    o["criticality"] = std::move(criticality);
    o["opening_post"] = nullptr;
    if (detail == nullptr) {
      Result<std::optional<ThreadPost>> root = threads_.OpeningPost(thread.id, thread.root_post_id);
      if (!root.ok()) return root.status();
      if (root->has_value()) o["opening_post"] = PostJson(**root);
      return o;
    }
    for (const ThreadPost& post : detail->posts) {
      if (post.post_id == thread.root_post_id) o["opening_post"] = PostJson(post);
    }
    return o;
  }

  ApiResponse ListThreads() {
    Status params = OnlyParams({"org", "status", "topic", "sentiment", "criticality", "platform",
                                "q", "from", "to", "limit", "next"});
    if (!params.ok()) return FromStatus(params);
    ThreadFilter filter;
    filter.org = Param("org");
    const std::string status = Param("status");
    if (!status.empty()) {
      filter.state = OrgStateFromName(status);
      if (!filter.state) {
        return ApiRoutes::Error(400,
                                "status must be new, assigned, responded, closed or dismissed");
      }
    }
    int limit = kDefaultLimit;
    if (const std::string text = Param("limit"); !text.empty()) {
      std::optional<int64_t> parsed = ParseId(text);
      if (!parsed || *parsed > kMaxLimit) {
        return ApiRoutes::Error(400, "limit must be 1 to " + std::to_string(kMaxLimit));
      }
      limit = static_cast<int>(*parsed);
    }
    if (const std::string cursor = Param("next"); !cursor.empty()) {
      std::optional<int64_t> before = DecodeCursor(cursor);
      if (!before) return ApiRoutes::Error(400, "next is not a cursor this API gave");
      filter.before_id = *before;
    }
    for (auto [name, bound] :
         {std::pair{"from", &filter.opened_from}, std::pair{"to", &filter.opened_to}}) {
      const std::string text = Param(name);
      if (text.empty()) continue;
      Result<TimePoint> t = ParseIso8601(text);
      if (!t.ok()) {
        return ApiRoutes::Error(400, std::string(name) + " must be an ISO 8601 date or time");
      }
      *bound = *t;
    }
    filter.topic = Param("topic");
    filter.sentiment = Param("sentiment");
    filter.criticality = Param("criticality");
    filter.platform = Param("platform");
    filter.text_query = Param("q");
    // Every filter, access included, is in the store's query: one more
    // than a page tells whether another page follows.
    filter.limit = limit + 1;
    Result<std::vector<ThreadSummary>> threads = workflow_.ListThreads(user_, filter);
    if (!threads.ok()) {
      if (threads.status().code() == StatusCode::kInvalidArgument && !filter.text_query.empty()) {
        return ApiRoutes::Error(400, "q is not a valid search: " + filter.text_query);
      }
      return FromStatus(threads.status());
    }
    const bool more = static_cast<int>(threads->size()) > limit;
    if (more) threads->resize(limit);
    json::array out;
    for (const ThreadSummary& thread : *threads) {
      Result<json::object> summary = SummaryJson(thread, nullptr);
      if (!summary.ok()) return FromStatus(summary.status());
      out.push_back(std::move(summary).value());
    }
    json::object body;
    body["threads"] = std::move(out);
    body["next"] = more ? json::value(EncodeCursor(threads->back().id)) : json::value(nullptr);
    return Json(200, body);
  }

  ApiResponse GetThread(int64_t id) {
    Status params = OnlyParams({});
    if (!params.ok()) return FromStatus(params);
    // HEAD (a link checker, a prefetch) is nobody reading the thread.
    Result<ThreadDetail> detail = workflow_.GetThread(user_, id, request_.method == "GET");
    if (!detail.ok()) return FromStatus(detail.status());
    Result<json::object> thread = SummaryJson(detail->summary, &*detail);
    if (!thread.ok()) return FromStatus(thread.status());
    Result<std::set<std::string>> hidden_replies = HiddenPublishedIds(*detail);
    if (!hidden_replies.ok()) return FromStatus(hidden_replies.status());
    json::array posts;
    for (const ThreadPost& post : detail->posts) {
      json::object p = PostJson(post);
      // Another organisation's reply come back is, to this user, a reply
      // on the thread like any other: not "ours".
      if (post.how == JoinReason::kOurs && hidden_replies->count(post.uid)) {
        p["how"] = JoinReasonName(JoinReason::kReply);
      }
      p["decisions"] = DecisionsJson(post.post_id);
      posts.push_back(std::move(p));
    }
    (*thread)["conversation"] = std::move(posts);
    json::array notes, replies, audit;
    for (const Note& note : detail->notes) notes.push_back(NoteJson(note));
    for (const Reply& reply : detail->replies) replies.push_back(ReplyJson(reply));
    for (const AuditEntry& entry : detail->audit) audit.push_back(AuditJson(entry));
    (*thread)["notes"] = std::move(notes);
    (*thread)["replies"] = std::move(replies);
    (*thread)["audit"] = std::move(audit);
    (*thread)["listening"] = LedgerJson(detail->listening);
    return Json(200, json::object{{"thread", std::move(thread).value()}});
  }

  // The platform ids of the thread's published replies of organisations the
  // user may not read (none when no post came back as ours).
  Result<std::set<std::string>> HiddenPublishedIds(const ThreadDetail& visible) {
    std::set<std::string> ids;
    const bool any_ours =
        std::any_of(visible.posts.begin(), visible.posts.end(),
                    [](const ThreadPost& p) { return p.how == JoinReason::kOurs; });
    if (!any_ours) return ids;
    Result<ThreadDetail> all = threads_.GetThread(visible.summary.id);
    if (!all.ok()) return all.status();
    for (const Reply& reply : all->replies) {
      if (!reply.published_id.empty() && !Readable(reply.org)) ids.insert(reply.published_id);
    }
    return ids;
  }

  // The thread after a change, as the user sees it.
  ApiResponse Changed(int status, int64_t id, json::object extra = {}) {
    Result<ThreadDetail> detail = workflow_.GetThread(user_, id);
    if (!detail.ok()) return FromStatus(detail.status());
    Result<json::object> thread = SummaryJson(detail->summary, &*detail);
    if (!thread.ok()) return FromStatus(thread.status());
    extra["thread"] = std::move(thread).value();
    return Json(status, extra);
  }

  ApiResponse AddNote(int64_t id) {
    auto fields = ParseBody(request_.body, {"org", "body"}, {"org", "body"});
    if (!fields.ok()) return FromStatus(fields.status());
    const std::string& body = (*fields)["body"];
    if (TrimAsciiSpace(body).empty()) return ApiRoutes::Error(400, "body must not be empty");
    if (body.size() > kMaxNoteBytes) {
      return ApiRoutes::Error(400,
                              "body is longer than " + std::to_string(kMaxNoteBytes) + " bytes");
    }
    Result<int64_t> note = workflow_.AddNote(user_, id, (*fields)["org"], body);
    if (!note.ok()) return FromStatus(note.status());
    return Changed(201, id, json::object{{"note", *note}});
  }

  ApiResponse SetStatus(int64_t id) {
    auto fields = ParseBody(request_.body, {"org", "status", "reason"}, {"org", "status"});
    if (!fields.ok()) return FromStatus(fields.status());
    std::optional<OrgState> state = OrgStateFromName((*fields)["status"]);
    if (!state) {
      return ApiRoutes::Error(400, "status must be new, assigned, responded, closed or dismissed");
    }
    if (*state == OrgState::kDismissed && TrimAsciiSpace((*fields)["reason"]).empty()) {
      return ApiRoutes::Error(400, "a dismissal needs a reason");
    }
    Status set = workflow_.SetState(user_, id, (*fields)["org"], *state, (*fields)["reason"]);
    if (!set.ok()) return FromStatus(set);
    return Changed(200, id);
  }

  ApiResponse Assign(int64_t id) {
    auto fields = ParseBody(request_.body, {"org", "user"}, {"org", "user"});
    if (!fields.ok()) return FromStatus(fields.status());
    const std::string& org = (*fields)["org"];
    const std::string& assignee = (*fields)["user"];
    // Only someone who may assign here learns whether a user exists; the
    // others get Workflow's 403 or 404.
    if (!assignee.empty() && Allowed(user_, Action::kAssign, org, places_)) {
      Result<std::vector<User>> users = threads_.ListUsers();
      if (!users.ok()) return FromStatus(users.status());
      auto found = std::find_if(users->begin(), users->end(),
                                [&](const User& u) { return u.name == assignee; });
      // One answer whether or not the name exists: staff of one trust
      // learn nothing of another's users.
      if (found == users->end() || !Allowed(*found, Action::kAssign, org, places_)) {
        return ApiRoutes::Error(400, "no user '" + assignee + "' who can act for '" + org + "'");
      }
    }
    Status assigned = workflow_.Assign(user_, id, org, assignee);
    if (!assigned.ok()) return FromStatus(assigned);
    return Changed(200, id);
  }

  // A draft answering the thread's opening post, with its tone hints
  // (drafting.h): hints never stop the draft being kept.
  ApiResponse Draft(int64_t id) {
    auto fields = ParseBody(request_.body, {"org", "body"}, {"org", "body"});
    if (!fields.ok()) return FromStatus(fields.status());
    const std::string& body = (*fields)["body"];
    if (TrimAsciiSpace(body).empty()) return ApiRoutes::Error(400, "body must not be empty");
    if (body.size() > kMaxNoteBytes) {
      return ApiRoutes::Error(400,
                              "body is longer than " + std::to_string(kMaxNoteBytes) + " bytes");
    }
    static const ToneRules kNoBoilerplate;
    Result<DraftWithHints> draft = CreateDraftWithHints(workflow_, tone_ ? *tone_ : kNoBoilerplate,
                                                        user_, id, (*fields)["org"], 0, body);
    if (!draft.ok()) return FromStatus(draft.status());
    return ReplyAnswer(201, draft->reply_id, json::object{{"hints", HintsJson(draft->hints)}});
  }

  ApiResponse Approve(int64_t reply_id) {
    if (!TrimAsciiSpace(request_.body).empty()) {
      auto fields = ParseBody(request_.body, {}, {});
      if (!fields.ok()) return FromStatus(fields.status());
    }
    Status approved = workflow_.Approve(user_, reply_id);
    if (!approved.ok()) return FromStatus(approved);
    return ReplyAnswer(200, reply_id);
  }

  // The platform's answer is the reply's state (published, failed with the
  // platform's words, answer_on_platform), so a refusal is still 200: the
  // request to earshot succeeded and the reply says what happened.
  ApiResponse Publish(int64_t reply_id) {
    if (!TrimAsciiSpace(request_.body).empty()) {
      auto fields = ParseBody(request_.body, {}, {});
      if (!fields.ok()) return FromStatus(fields.status());
    }
    if (!publish_) return ApiRoutes::Error(503, "publishing is not configured on this server");
    Result<SendResult> sent = publish_(workflow_, user_, reply_id);
    if (!sent.ok()) return FromStatus(sent.status());
    return Json(200, json::object{{"reply", ReplyJson(sent->reply)},
                                  {"outcome_unknown", sent->outcome_unknown}});
  }

  // The reply, read after Workflow has checked the user may act on it.
  ApiResponse ReplyAnswer(int status, int64_t reply_id, json::object extra = {}) {
    Result<Reply> reply = threads_.GetReply(reply_id);
    if (!reply.ok()) return FromStatus(reply.status());
    extra["reply"] = ReplyJson(*reply);
    return Json(status, extra);
  }

  json::value OrgName(const std::string& org) const {
    auto place = places_.find(org);
    if (place == places_.end() || place->second.name.empty()) return nullptr;
    return json::value(place->second.name);
  }

  ApiResponse ListOrgs() {
    Status params = OnlyParams({});
    if (!params.ok()) return FromStatus(params);
    std::map<std::string, std::map<OrgState, int64_t>> counts;
    for (const std::string& org : user_.orgs) counts[org];
    Result<std::vector<OrgStateCount>> rows = workflow_.CountThreadsByOrgState(user_);
    if (!rows.ok()) return FromStatus(rows.status());
    for (const OrgStateCount& row : *rows) counts[row.org][row.state] += row.threads;
    json::array orgs;
    for (const auto& [org, states] : counts) {
      json::object o;
      o["org"] = org;
      o["name"] = OrgName(org);
      int64_t total = 0;
      json::object by_state;
      for (OrgState s : {OrgState::kNew, OrgState::kAssigned, OrgState::kResponded,
                         OrgState::kClosed, OrgState::kDismissed}) {
        auto it = states.find(s);
        const int64_t n = it == states.end() ? 0 : it->second;
        by_state[OrgStateName(s)] = n;
        total += n;
      }
      o["threads"] = total;
      o["by_state"] = std::move(by_state);
      o["can_act"] = Allowed(user_, Action::kNote, org, places_);
      orgs.push_back(std::move(o));
    }
    return Json(200, json::object{{"orgs", std::move(orgs)}});
  }

  // GET /api/me: who the token belongs to and where it may act.
  ApiResponse Me() {
    Status params = OnlyParams({});
    if (!params.ok()) return FromStatus(params);
    json::object user;
    user["name"] = user_.name;
    user["role"] = RoleName(user_.role);
    json::array orgs, regions, can_act;
    for (const std::string& org : user_.orgs) orgs.push_back(json::value(org));
    for (const std::string& region : user_.regions) regions.push_back(json::value(region));
    user["orgs"] = std::move(orgs);
    user["regions"] = std::move(regions);
    std::set<std::string> acting;
    if (user_.role == Role::kAdmin) {
      // Everything; listed are the organisations on threads.
      Result<std::vector<OrgStateCount>> rows = workflow_.CountThreadsByOrgState(user_);
      if (!rows.ok()) return FromStatus(rows.status());
      for (const OrgStateCount& row : *rows) acting.insert(row.org);
    }
    for (const std::string& org : user_.orgs) {
      if (Allowed(user_, Action::kNote, org, places_)) acting.insert(org);
    }
    for (const std::string& org : acting) can_act.push_back(json::value(org));
    json::object body;
    body["user"] = std::move(user);
    body["can_act"] = std::move(can_act);
    body["can_act_everywhere"] = user_.role == Role::kAdmin;
    return Json(200, body);
  }

  // GET /api/listening: the listening summary per readable organisation.
  ApiResponse ListeningSummary() {
    Status params = OnlyParams({"from", "to"});
    if (!params.ok()) return FromStatus(params);
    std::optional<TimePoint> from, to;
    for (auto [name, bound] : {std::pair{"from", &from}, std::pair{"to", &to}}) {
      const std::string text = Param(name);
      if (text.empty()) continue;
      Result<TimePoint> t = ParseIso8601(text);
      if (!t.ok()) {
        return ApiRoutes::Error(400, std::string(name) + " must be an ISO 8601 date or time");
      }
      *bound = *t;
    }
    Result<std::vector<OrgListening>> summary = workflow_.ListeningSummary(user_, from, to);
    if (!summary.ok()) return FromStatus(summary.status());
    json::array orgs;
    for (const OrgListening& org : *summary) {
      json::object o;
      o["org"] = org.org;
      o["name"] = OrgName(org.org);
      o["threads"] = org.threads;
      o["answered"] = org.answered;
      o["share_answered"] =
          org.threads == 0 ? 0.0
                           : static_cast<double>(org.answered) / static_cast<double>(org.threads);
      o["median_first_response_seconds"] = org.median_first_response_seconds
                                               ? json::value(*org.median_first_response_seconds)
                                               : json::value(nullptr);
      o["open"] = org.open;
      o["dismissed"] = org.dismissed;
      orgs.push_back(std::move(o));
    }
    return Json(200, json::object{{"orgs", std::move(orgs)}});
  }

  ApiResponse ListSources() {
    Status params = OnlyParams({});
    if (!params.ok()) return FromStatus(params);
    if (user_.role == Role::kViewer) {
      return ApiRoutes::Error(403, "source health is for admins and responders");
    }
    Result<std::vector<SourceRecord>> sources = store_.ListSources();
    if (!sources.ok()) return FromStatus(sources.status());
    json::array out;
    for (const SourceRecord& source : *sources) {
      const SourceState& s = source.state;
      json::object o;
      o["name"] = source.name;
      o["connector"] = source.connector;
      o["health"] = SourceHealthName(s.health);
      o["last_success_at"] = When(s.last_success_at);
      o["last_error_at"] = When(s.last_error_at);
      o["last_error"] = s.last_error.empty() ? json::value(nullptr) : json::value(s.last_error);
      o["next_poll_at"] = When(s.next_poll_at);
      o["blind_since"] = When(s.blind_since);
      o["consecutive_failures"] = s.consecutive_failures;
      o["posts_total"] = s.posts_total;
      out.push_back(std::move(o));
    }
    return Json(200, json::object{{"sources", std::move(out)}});
  }

  Store& store_;
  ThreadStore& threads_;
  const OrgPlaces& places_;
  const ReplyPublishFn& publish_;
  const ToneRules* tone_;
  const User& user_;
  const ApiRequest& request_;
  Workflow workflow_;
  std::string_view path_;
  std::string_view query_;
};

}  // namespace

ApiResponse ApiRoutes::Error(int status, std::string_view message) {
  json::object error;
  error["status"] = status;
  error["message"] = message;
  return Json(status, json::object{{"error", std::move(error)}});
}

ApiResponse ApiRoutes::Handle(const ApiRequest& request) {
  auto unauthenticated = [](std::string_view message) {
    ApiResponse response = Error(401, message);
    response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"earshot\"");
    return response;
  };
  constexpr std::string_view kScheme = "bearer ";
  std::string_view auth = TrimAsciiSpace(request.authorization);
  if (auth.size() <= kScheme.size() || AsciiLower(auth.substr(0, kScheme.size())) != kScheme) {
    return unauthenticated("an Authorization: Bearer token is required");
  }
  const std::string_view token = TrimAsciiSpace(auth.substr(kScheme.size()));
  Result<std::optional<User>> user = threads_.UserByTokenHash(TokenHash(token));
  if (!user.ok()) return FromStatus(user.status());
  if (!user->has_value()) return unauthenticated("the token is unknown or revoked");
  RequestContext context(store_, threads_, clock_, places_, approval_required_, publish_, tone_,
                         **user, request);
  ApiResponse response = context.Route();
  response.user = (*user)->name;
  return response;
}

}  // namespace earshot
