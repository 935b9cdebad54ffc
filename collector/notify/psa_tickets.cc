#include "collector/notify/psa_tickets.h"

#include <cjson/cJSON.h>

#include <utility>
#include <vector>

#include "collector/events/webhook_signature.h"
#include "collector/notify/channel_composer.h"
#include "collector/notify/channel_kinds.h"
#include "collector/notify/channel_messages.h"
#include "collector/notify/secret_box.h"
#include "common/json.h"
#include "common/text.h"

namespace vigil::collector {
namespace {

namespace kinds = channel_kinds;
namespace failures = webhook_failures;

constexpr size_t kAnswerLimit = size_t{256} * 1024;  // a service's answer read at most
constexpr char kNotRecorded[] = "ticket_not_recorded";
// ConnectWise bounds a ticket's summary to 100 characters, Autotask a title to 255 and a
// description to 8,000.
constexpr size_t kConnectWiseSummaryBytes = 100;
constexpr size_t kAutotaskTitleBytes = 255;
constexpr size_t kAutotaskDescriptionBytes = 8000;
// HaloPSA's summary: kept to a length any PSA's summary field takes.
constexpr size_t kHaloSummaryBytes = 250;

using json::textMember;

// An integer setting; `fallback` if absent.
int64_t integer(const cJSON* obj, const char* name, int64_t fallback) {
  const cJSON* item = cJSON_GetObjectItemCaseSensitive(obj, name);
  return json::isIntegerInRange(item, 0, json::kMaxExactInteger)
             ? static_cast<int64_t>(item->valuedouble)
             : fallback;
}

std::string withoutTrailingSlash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

// `s` cut to at most `max_bytes` at a UTF-8 boundary.
std::string cut(const std::string& s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return s.substr(0, end);
}

std::string print(cJSON* root) {
  json::JsonPtr owner(root);
  return json::print(root);
}

// The ticket id in a service's answer: `name` of the object, or of an array's first object;
// a number or a string. Empty if absent.
std::string idIn(const std::string& body, const char* name) {
  json::JsonPtr root = json::parse(body);
  const cJSON* obj = root.get();
  if (cJSON_IsArray(obj)) obj = cJSON_GetArrayItem(obj, 0);
  const cJSON* id = cJSON_GetObjectItemCaseSensitive(obj, name);
  if (json::isIntegerInRange(id, 1, json::kMaxExactInteger)) {
    return std::to_string(static_cast<int64_t>(id->valuedouble));
  }
  if (cJSON_IsString(id) && id->valuestring[0] != '\0') return id->valuestring;
  return "";
}

bool accepted(const WebhookResult& r) {
  return r.ok() && r.value().status >= 200 && r.value().status <= 299;
}

// "Nothing to send": status 0 (the dispatcher records the entry delivered without a status).
WebhookResult nothingToSend() { return WebhookResponse{}; }

WebhookRequest jsonRequest(const std::string& method, std::string url, std::string body) {
  WebhookRequest r;
  r.method = method;
  r.url = std::move(url);
  r.body = std::move(body);
  r.read_body_limit = kAnswerLimit;
  return r;
}

// A ticket id as its service writes it: a number if it is one.
cJSON* idValue(const std::string& ticket) {
  const bool digits = !ticket.empty() && ticket.size() <= 15 &&
                      ticket.find_first_not_of("0123456789") == std::string::npos;
  return digits ? cJSON_CreateNumber(static_cast<double>(std::stoll(ticket)))
                : cJSON_CreateString(ticket.c_str());
}

}  // namespace

bool isTicketKind(const std::string& kind) {
  return kind == kinds::kConnectWise || kind == kinds::kAutotask || kind == kinds::kHaloPsa;
}

struct TicketDesk::Access {
  std::string kind;
  std::string api;  // the service's API base, without a trailing slash
  std::vector<std::pair<std::string, std::string>> headers;
  json::JsonPtr settings;
  EventFacts facts;

  WebhookRequest request(const std::string& method, const std::string& path,
                         std::string body) const {
    WebhookRequest r = jsonRequest(method, api + path, std::move(body));
    r.headers = headers;
    return r;
  }
};

TicketDesk::TicketDesk(WebhookStore& store, WebhookTransport& transport,
                       const SecretBox* credentials)
    : store_(store), transport_(transport), credentials_(credentials) {}

WebhookResult TicketDesk::deliver(const DueDelivery& due, int64_t now_ms) {
  if (credentials_ == nullptr) {
    return WebhookFailure{compose_failures::kCredentialsUnreadable,
                          "this collector has no credentials key"};
  }
  auto opened = credentials_->open(due.secret, kCredentialsContext);
  if (!opened.ok()) {
    return WebhookFailure{compose_failures::kCredentialsUnreadable, opened.error().message()};
  }
  json::JsonPtr credentials = json::parse(opened.value());
  Access access;
  access.kind = due.kind;
  access.settings = json::parse(due.settings);
  auto facts = readEventFacts(due.entry.payload);
  if (!credentials || !access.settings || !facts.ok()) {
    return WebhookFailure{compose_failures::kNotSendable,
                          facts.ok() ? "the channel's settings or credentials are not JSON"
                                     : facts.error().message()};
  }
  access.facts = std::move(facts.value());
  const std::optional<OpsgenieAction> action = opsgenieAction(access.facts);
  if (!action) return nothingToSend();
  const cJSON* c = credentials.get();
  access.api = withoutTrailingSlash(textMember(access.settings.get(), "api_url"));
  if (due.kind == kinds::kConnectWise) {
    const std::string login = textMember(c, "company") + "+" + textMember(c, "public_key") + ":" +
                              textMember(c, "private_key");
    access.headers = {{"Authorization", "Basic " + base64Encode(login)},
                      {"clientId", textMember(c, "client_id")}};
  } else if (due.kind == kinds::kAutotask) {
    access.headers = {{"ApiIntegrationcode", textMember(c, "integration_code")},
                      {"UserName", textMember(c, "username")},
                      {"Secret", textMember(c, "secret")}};
  } else if (due.kind == kinds::kHaloPsa) {
    std::string auth_url = textMember(access.settings.get(), "auth_url");
    std::string token;
    WebhookResult got =
        haloToken(due, withoutTrailingSlash(auth_url), textMember(c, "oauth_client_id"),
                  textMember(c, "oauth_client_secret"), &token);
    if (!accepted(got)) return got;
    access.headers = {{"Authorization", "Bearer " + token}};
  } else {
    return WebhookFailure{compose_failures::kNotSendable, "not a PSA kind: " + due.kind};
  }

  if (*action == OpsgenieAction::kCreate) {
    std::string ticket;
    WebhookResult created = openTicket(due, access, now_ms, &ticket);
    // A channel test closes the ticket it opened at once.
    if (!accepted(created) || !access.facts.isTest()) return created;
    return closeTicket(due, access, ticket);
  }
  auto known = store_.findChannelTicket(due.entry.webhook_id, due.entry.ordering_key);
  if (!known.ok()) return WebhookFailure{kNotRecorded, known.error().message()};
  // No ticket was opened for this alert (the channel came later, or was disabled): nothing
  // to close. A closed one stays closed.
  if (!known.value() || known.value()->closed_at_ms) return nothingToSend();
  WebhookResult closed = closeTicket(due, access, known.value()->ticket);
  if (!accepted(closed)) return closed;
  ChannelTicket done = *known.value();
  done.closed_at_ms = now_ms;
  if (Status s = store_.recordChannelTicket(done); !s.ok() && s.code() != StatusCode::kNotFound) {
    return WebhookFailure{kNotRecorded, s.message()};
  }
  return closed;
}

WebhookResult TicketDesk::openTicket(const DueDelivery& due, const Access& access, int64_t now_ms,
                                     std::string* ticket) {
  if (!access.facts.isTest()) {
    auto known = store_.findChannelTicket(due.entry.webhook_id, due.entry.ordering_key);
    if (!known.ok()) return WebhookFailure{kNotRecorded, known.error().message()};
    // Opened on an earlier attempt, whose delivery was not recorded: not again.
    if (known.value() && !known.value()->closed_at_ms) {
      *ticket = known.value()->ticket;
      return nothingToSend();
    }
  }
  const EventFacts& f = access.facts;
  const cJSON* s = access.settings.get();
  // The alert's key in the summary: a technician can tell a twin ticket (see the header).
  const std::string marker = " [" + pagerDutyDedupKey(f) + "]";
  // The summary within `max_bytes`, its marker kept whole at the end.
  auto summary = [&](size_t max_bytes) {
    return cut(summaryLine(f), max_bytes - marker.size()) + marker;
  };
  const std::string details = plainTextBody(f);
  const bool urgent = eventGravity(f) == "danger";
  WebhookResult answer = WebhookFailure{};
  const char* id_member = "id";
  if (access.kind == kinds::kConnectWise) {
    cJSON* body = cJSON_CreateObject();
    json::addText(body, "summary", summary(kConnectWiseSummaryBytes));
    cJSON_AddNumberToObject(cJSON_AddObjectToObject(body, "board"), "id",
                            static_cast<double>(integer(s, "board_id", 0)));
    cJSON_AddNumberToObject(cJSON_AddObjectToObject(body, "company"), "id",
                            static_cast<double>(integer(s, "company_id", 0)));
    json::addText(body, "initialDescription", details);
    answer = transport_.post(access.request("POST", "/service/tickets", print(body)));
  } else if (access.kind == kinds::kAutotask) {
    cJSON* body = cJSON_CreateObject();
    cJSON_AddNumberToObject(body, "companyID", static_cast<double>(integer(s, "company_id", 0)));
    json::addText(body, "title", summary(kAutotaskTitleBytes));
    json::addText(body, "description", cut(details, kAutotaskDescriptionBytes));
    cJSON_AddNumberToObject(body, "status", 1);  // New
    cJSON_AddNumberToObject(body, "priority",
                            static_cast<double>(integer(s, "priority", urgent ? 1 : 2)));
    if (const int64_t queue = integer(s, "queue_id", 0); queue > 0) {
      cJSON_AddNumberToObject(body, "queueID", static_cast<double>(queue));
    }
    answer = transport_.post(access.request("POST", "/Tickets", print(body)));
    id_member = "itemId";
  } else {
    cJSON* ticket_obj = cJSON_CreateObject();
    json::addText(ticket_obj, "summary", summary(kHaloSummaryBytes));
    json::addText(ticket_obj, "details", details);
    cJSON_AddNumberToObject(ticket_obj, "client_id",
                            static_cast<double>(integer(s, "client_id", 0)));
    if (const int64_t type = integer(s, "tickettype_id", 0); type > 0) {
      cJSON_AddNumberToObject(ticket_obj, "tickettype_id", static_cast<double>(type));
    }
    cJSON* body = cJSON_CreateArray();
    cJSON_AddItemToArray(body, ticket_obj);
    answer = transport_.post(access.request("POST", "/Tickets", print(body)));
    if (answer.ok() && answer.value().status == 401) forgetHaloToken(due.entry.webhook_id);
  }
  if (!accepted(answer)) return answer;
  *ticket = idIn(answer.value().body, id_member);
  if (ticket->empty()) {
    return WebhookFailure{failures::kInvalidAnswer, access.kind + " answered " +
                                                        std::to_string(answer.value().status) +
                                                        " without the new ticket's " + id_member};
  }
  if (access.facts.isTest()) return answer;
  ChannelTicket record{due.entry.webhook_id, due.entry.ordering_key, *ticket, now_ms, std::nullopt};
  if (Status recorded = store_.recordChannelTicket(record); !recorded.ok()) {
    if (recorded.code() == StatusCode::kNotFound) return answer;  // the channel was deleted
    return WebhookFailure{kNotRecorded,
                          "ticket " + *ticket + " opened, not recorded: " + recorded.message()};
  }
  return answer;
}

WebhookResult TicketDesk::closeTicket(const DueDelivery& due, const Access& access,
                                      const std::string& ticket) {
  const EventFacts& f = access.facts;
  const cJSON* s = access.settings.get();
  const std::string note =
      f.isTest() ? "Vigil test notification: closed at once." : plainTextBody(f);
  WebhookResult noted = WebhookFailure{};
  WebhookResult closed = WebhookFailure{};
  if (access.kind == kinds::kConnectWise) {
    cJSON* body = cJSON_CreateObject();
    json::addText(body, "text", note);
    cJSON_AddBoolToObject(body, "detailDescriptionFlag", 1);
    noted = transport_.post(
        access.request("POST", "/service/tickets/" + ticket + "/notes", print(body)));
    if (!accepted(noted)) return noted;
    std::string status = textMember(s, "closed_status");
    if (status.empty()) status = "Closed";
    cJSON* patch = cJSON_CreateArray();
    cJSON* op = cJSON_CreateObject();
    json::addText(op, "op", "replace");
    json::addText(op, "path", "status");
    json::addText(cJSON_AddObjectToObject(op, "value"), "name", status);
    cJSON_AddItemToArray(patch, op);
    closed = transport_.post(access.request("PATCH", "/service/tickets/" + ticket, print(patch)));
  } else if (access.kind == kinds::kAutotask) {
    cJSON* body = cJSON_CreateObject();
    json::addText(body, "title", cut(summaryLine(f), kAutotaskTitleBytes));
    json::addText(body, "description", cut(note, kAutotaskDescriptionBytes));
    cJSON_AddNumberToObject(body, "noteType", 1);
    cJSON_AddNumberToObject(body, "publish", 1);
    noted = transport_.post(access.request("POST", "/Tickets/" + ticket + "/Notes", print(body)));
    if (!accepted(noted)) return noted;
    cJSON* update = cJSON_CreateObject();
    cJSON_AddItemToObject(update, "id", idValue(ticket));
    cJSON_AddNumberToObject(update, "status",
                            static_cast<double>(integer(s, "closed_status", 5)));  // Complete
    closed = transport_.post(access.request("PATCH", "/Tickets", print(update)));
  } else {
    cJSON* action = cJSON_CreateObject();
    cJSON_AddItemToObject(action, "ticket_id", idValue(ticket));
    json::addText(action, "note", note);
    json::addText(action, "outcome", "Note");
    cJSON* actions = cJSON_CreateArray();
    cJSON_AddItemToArray(actions, action);
    noted = transport_.post(access.request("POST", "/Actions", print(actions)));
    if (noted.ok() && noted.value().status == 401) forgetHaloToken(due.entry.webhook_id);
    if (!accepted(noted)) return noted;
    cJSON* update = cJSON_CreateObject();
    cJSON_AddItemToObject(update, "id", idValue(ticket));
    cJSON_AddNumberToObject(update, "status_id",
                            static_cast<double>(integer(s, "closed_status_id", 9)));  // Closed
    cJSON* updates = cJSON_CreateArray();
    cJSON_AddItemToArray(updates, update);
    closed = transport_.post(access.request("POST", "/Tickets", print(updates)));
    if (closed.ok() && closed.value().status == 401) forgetHaloToken(due.entry.webhook_id);
  }
  return closed;
}

WebhookResult TicketDesk::haloToken(const DueDelivery& due, const std::string& auth_url,
                                    const std::string& client_id, const std::string& client_secret,
                                    std::string* token) {
  const auto now = std::chrono::steady_clock::now();
  {
    MutexLock lock(tokens_mu_);
    auto cached = tokens_.find(due.entry.webhook_id);
    if (cached != tokens_.end() && cached->second.expires > now) {
      *token = cached->second.token;
      return WebhookResponse{200, "", ""};
    }
  }
  WebhookRequest r;
  r.url = auth_url + "/token";
  r.content_type = "application/x-www-form-urlencoded";
  r.body = "grant_type=client_credentials&client_id=" + percentEncode(client_id) +
           "&client_secret=" + percentEncode(client_secret) + "&scope=all";
  r.read_body_limit = kAnswerLimit;
  WebhookResult answer = transport_.post(r);
  if (!accepted(answer)) return answer;
  json::JsonPtr root = json::parse(answer.value().body);
  const std::string access_token = textMember(root.get(), "access_token");
  if (access_token.empty()) {
    return WebhookFailure{failures::kInvalidAnswer, "HaloPSA's token answer has no access_token"};
  }
  const int64_t lifetime_s = integer(root.get(), "expires_in", 3600);
  MutexLock lock(tokens_mu_);
  // Kept until a minute before it expires.
  tokens_[due.entry.webhook_id] =
      CachedToken{access_token, now + std::chrono::seconds(std::max<int64_t>(lifetime_s - 60, 0))};
  *token = access_token;
  return answer;
}

void TicketDesk::forgetHaloToken(int64_t channel_id) {
  MutexLock lock(tokens_mu_);
  tokens_.erase(channel_id);
}

}  // namespace vigil::collector
