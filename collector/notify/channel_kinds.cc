#include "collector/notify/channel_kinds.h"

#include <algorithm>
#include <set>
#include <string_view>

#include "collector/events/event_json.h"
#include "collector/notify/outbound_policy.h"
#include "common/json.h"

namespace vigil::collector {
namespace {

namespace ev = webhook_events;
namespace kinds = channel_kinds;

constexpr size_t kMaxUrlBytes = 2048;
constexpr size_t kMaxKeyBytes = 256;

const std::vector<std::string>& allEvents() { return ev::subscribableTypes(); }

// PagerDuty and Opsgenie open and close incidents: a held alert has no incident to open, and a
// released one none to close.
std::vector<std::string> incidentEvents() {
  return {ev::kAlertOpened, ev::kAlertResolved, ev::kCollectorDegraded, ev::kCollectorRecovered};
}

// An https:// URL (parseOutboundUrl's form) of at most kMaxUrlBytes: its origin, or an error
// naming `member`.
Result<std::string> httpsOrigin(const std::string& member, const std::string& url) {
  if (url.size() > kMaxUrlBytes) return Status::invalidArgument(member + ": is too long");
  auto destination = parseOutboundUrl(url);
  if (!destination.ok()) {
    return Status::invalidArgument(member + ": " + destination.error().message());
  }
  if (destination.value().scheme != "https") {
    return Status::invalidArgument(member + ": must be an https:// URL");
  }
  const OutboundDestination& d = destination.value();
  const bool ipv6 = d.numeric_host && d.host.find(':') != std::string::npos;
  std::string origin = "https://" + (ipv6 ? "[" + d.host + "]" : d.host);
  if (d.port != 443) origin += ":" + std::to_string(d.port);
  return origin;
}

// A key or token: printable ASCII without spaces, 1 to kMaxKeyBytes bytes.
Status checkKey(const std::string& member, const std::string& key) {
  if (key.empty() || key.size() > kMaxKeyBytes) {
    return Status::invalidArgument(member + ": must be 1 to 256 characters");
  }
  for (char c : key) {
    if (c <= ' ' || c > '~') {
      return Status::invalidArgument(member + ": must be printable ASCII without spaces");
    }
  }
  return Status::okStatus();
}

Status checkOneOf(const std::string& member, const std::string& value,
                  const std::set<std::string>& allowed) {
  if (allowed.count(value) > 0) return Status::okStatus();
  std::string names;
  for (const std::string& a : allowed) names += (names.empty() ? "" : ", ") + a;
  return Status::invalidArgument(member + ": must be one of " + names);
}

// The members of `given` (a JSON object, or null: nothing given) laid over `current` (a JSON
// object text, or empty): given strings replace, given nulls remove. Only `fields` may be
// given, each a string; kInvalidArgument otherwise, naming "<group>.<member>".
Result<json::JsonPtr> overlay(const std::string& group, const cJSON* given,
                              const std::string& current, const std::vector<std::string>& fields) {
  json::JsonPtr merged =
      current.empty() ? json::JsonPtr(cJSON_CreateObject()) : json::parse(current);
  if (!merged || !cJSON_IsObject(merged.get())) merged.reset(cJSON_CreateObject());
  if (given == nullptr || cJSON_IsNull(given)) return merged;
  if (!cJSON_IsObject(given)) return Status::invalidArgument(group + ": must be an object");
  const cJSON* item = nullptr;
  cJSON_ArrayForEach(item, given) {
    const std::string name = item->string;
    if (std::find(fields.begin(), fields.end(), name) == fields.end()) {
      std::string known;
      for (const std::string& f : fields) known += (known.empty() ? "" : ", ") + f;
      return Status::invalidArgument(
          group + "." + name + ": unknown member" +
          (known.empty() ? " (none are known)" : " (known: " + known + ")"));
    }
    cJSON_DeleteItemFromObjectCaseSensitive(merged.get(), name.c_str());
    if (cJSON_IsNull(item)) continue;
    // A string, an integer, or an array of strings; each kind checks which it wants.
    bool fits = cJSON_IsString(item) || json::isIntegerInRange(item, 0, json::kMaxExactInteger);
    if (cJSON_IsArray(item)) {
      fits = true;
      const cJSON* e = nullptr;
      cJSON_ArrayForEach(e, item) fits = fits && cJSON_IsString(e);
    }
    if (!fits) {
      return Status::invalidArgument(group + "." + name +
                                     ": must be a string, an integer or an array of strings");
    }
    cJSON_AddItemToObject(merged.get(), name.c_str(), cJSON_Duplicate(item, /*recurse=*/1));
  }
  return merged;
}

using json::textMember;

// A member that must be a string if present: its text (empty if absent), or an error.
Result<std::string> stringMember(const std::string& group, const cJSON* obj, const char* name) {
  const cJSON* item = cJSON_GetObjectItemCaseSensitive(obj, name);
  if (item == nullptr) return std::string();
  if (!cJSON_IsString(item)) {
    return Status::invalidArgument(group + "." + name + ": must be a string");
  }
  return std::string(item->valuestring);
}

// An address for an SMTP envelope and a header: local@domain, printable ASCII without spaces
// or the characters that would end a header or an address (no header injection).
bool isMailAddress(const std::string& address) {
  if (address.size() < 3 || address.size() > 254) return false;
  const size_t at = address.find('@');
  if (at == 0 || at == std::string::npos || at + 1 == address.size() ||
      address.find('@', at + 1) != std::string::npos) {
    return false;
  }
  for (char c : address) {
    if (c <= ' ' || c > '~' || std::string_view("<>,;\"()\\").find(c) != std::string_view::npos) {
      return false;
    }
  }
  return true;
}

constexpr int kMaxMailRecipients = 20;

// The email kind's settings and credentials (docs/notifications.md, "Email"): fills
// `settings`' defaults; the destination "smtp://host:port".
Result<std::string> checkEmail(cJSON* settings, const cJSON* credentials) {
  auto host = stringMember("settings", settings, "smtp_host");
  if (!host.ok()) return host.error();
  if (host.value().empty()) return Status::invalidArgument("settings.smtp_host: is required");
  const cJSON* port_item = cJSON_GetObjectItemCaseSensitive(settings, "smtp_port");
  int port = 587;
  if (port_item != nullptr) {
    if (!json::isIntegerInRange(port_item, 1, 65535)) {
      return Status::invalidArgument("settings.smtp_port: must be an integer from 1 to 65535");
    }
    port = static_cast<int>(port_item->valuedouble);
  } else {
    cJSON_AddNumberToObject(settings, "smtp_port", port);
  }
  // The host's form, as a URL would carry it.
  auto form = parseOutboundUrl("https://" + host.value() + ":" + std::to_string(port) + "/");
  if (!form.ok() || host.value().find_first_of("/@?#[]:") != std::string::npos) {
    return Status::invalidArgument("settings.smtp_host: must be a host name or an IPv4 address");
  }
  auto security = stringMember("settings", settings, "security");
  if (!security.ok()) return security.error();
  if (security.value().empty()) {
    cJSON_AddStringToObject(settings, "security", "starttls");
  } else if (Status v = checkOneOf("settings.security", security.value(), {"starttls", "tls"});
             !v.ok()) {
    return v;
  }
  auto from = stringMember("settings", settings, "from");
  if (!from.ok()) return from.error();
  if (!isMailAddress(from.value())) {
    return Status::invalidArgument("settings.from: must be one email address (name@domain)");
  }
  const cJSON* to = cJSON_GetObjectItemCaseSensitive(settings, "to");
  if (!cJSON_IsArray(to) || cJSON_GetArraySize(to) < 1 ||
      cJSON_GetArraySize(to) > kMaxMailRecipients) {
    return Status::invalidArgument("settings.to: must be an array of 1 to 20 email addresses");
  }
  const cJSON* address = nullptr;
  cJSON_ArrayForEach(address, to) {
    if (!cJSON_IsString(address) || !isMailAddress(address->valuestring)) {
      return Status::invalidArgument("settings.to: each item must be one email address");
    }
  }
  auto username = stringMember("settings", settings, "username");
  if (!username.ok()) return username.error();
  if (username.value().size() > 256) {
    return Status::invalidArgument("settings.username: must be at most 256 characters");
  }
  const std::string password = textMember(credentials, "password");
  if (!username.value().empty() && password.empty()) {
    return Status::invalidArgument("credentials.password: is required with settings.username");
  }
  if (username.value().empty() && !password.empty()) {
    return Status::invalidArgument("settings.username: is required with credentials.password");
  }
  return "smtp://" + form.value().host + ":" + std::to_string(port);
}

// An integer setting in [min, max]: its value, `fallback` if absent and allowed (-1: required).
Result<int64_t> integerSetting(const cJSON* settings, const char* name, int64_t min, int64_t max,
                               int64_t fallback) {
  const cJSON* item = cJSON_GetObjectItemCaseSensitive(settings, name);
  if (item == nullptr) {
    if (fallback >= 0) return fallback;
    return Status::invalidArgument(std::string("settings.") + name + ": is required");
  }
  if (!json::isIntegerInRange(item, min, max)) {
    return Status::invalidArgument(std::string("settings.") + name + ": must be an integer from " +
                                   std::to_string(min) + " to " + std::to_string(max));
  }
  return static_cast<int64_t>(item->valuedouble);
}

// The PSA kinds' settings (docs/notifications.md, "PSA tickets"); the destination: the API URL.
Result<std::string> checkTicketDesk(const std::string& kind, cJSON* settings,
                                    const cJSON* credentials) {
  for (const char* key : {"company", "public_key", "private_key", "client_id", "integration_code",
                          "username", "secret", "oauth_client_id", "oauth_client_secret"}) {
    const std::string value = textMember(credentials, key);
    if (value.size() > 512) {
      return Status::invalidArgument(std::string("credentials.") + key +
                                     ": must be at most 512 characters");
    }
  }
  auto api = stringMember("settings", settings, "api_url");
  if (!api.ok()) return api.error();
  if (api.value().empty()) return Status::invalidArgument("settings.api_url: is required");
  auto origin = httpsOrigin("settings.api_url", api.value());
  if (!origin.ok()) return origin.error();
  constexpr int64_t kMaxId = 1'000'000'000'000;
  if (kind == kinds::kConnectWise) {
    for (const char* name : {"company_id", "board_id"}) {
      if (auto id = integerSetting(settings, name, 1, kMaxId, -1); !id.ok()) return id.error();
    }
    auto status = stringMember("settings", settings, "closed_status");
    if (!status.ok()) return status.error();
    if (status.value().empty()) cJSON_AddStringToObject(settings, "closed_status", "Closed");
  } else if (kind == kinds::kAutotask) {
    if (auto id = integerSetting(settings, "company_id", 0, kMaxId, -1); !id.ok()) {
      return id.error();
    }
    if (auto q = integerSetting(settings, "queue_id", 1, kMaxId, 0); !q.ok()) return q.error();
    if (auto p = integerSetting(settings, "priority", 1, 4, 0); !p.ok()) return p.error();
    auto closed = integerSetting(settings, "closed_status", 1, 1000, 5);
    if (!closed.ok()) return closed.error();
    if (!cJSON_HasObjectItem(settings, "closed_status")) {
      cJSON_AddNumberToObject(settings, "closed_status", 5);
    }
  } else {
    if (auto id = integerSetting(settings, "client_id", 1, kMaxId, -1); !id.ok()) {
      return id.error();
    }
    if (auto t = integerSetting(settings, "tickettype_id", 1, kMaxId, 0); !t.ok()) {
      return t.error();
    }
    auto closed = integerSetting(settings, "closed_status_id", 1, kMaxId, 9);
    if (!closed.ok()) return closed.error();
    if (!cJSON_HasObjectItem(settings, "closed_status_id")) {
      cJSON_AddNumberToObject(settings, "closed_status_id", 9);
    }
    // The authorisation server: beside the API ("…/api" -> "…/auth") unless given.
    auto auth = stringMember("settings", settings, "auth_url");
    if (!auth.ok()) return auth.error();
    if (auth.value().empty()) {
      std::string base = api.value();
      while (!base.empty() && base.back() == '/') base.pop_back();
      const std::string suffix = "/api";
      if (base.size() < suffix.size() ||
          base.compare(base.size() - suffix.size(), suffix.size(), suffix) != 0) {
        return Status::invalidArgument(
            "settings.auth_url: is required when settings.api_url does not end in /api");
      }
      cJSON_AddStringToObject(settings, "auth_url",
                              (base.substr(0, base.size() - suffix.size()) + "/auth").c_str());
    } else if (auto checked = httpsOrigin("settings.auth_url", auth.value()); !checked.ok()) {
      return checked.error();
    }
  }
  return api.value();
}

}  // namespace

const std::vector<ChannelKind>& channelKinds() {
  static const std::vector<ChannelKind> kKinds = {
      {kinds::kWebhook, {}, {}, allEvents(), allEvents()},
      {kinds::kSlack, {"webhook_url"}, {}, allEvents(), allEvents()},
      {kinds::kTeams, {"webhook_url"}, {}, allEvents(), allEvents()},
      {kinds::kEmail,
       {"password"},
       {"smtp_host", "smtp_port", "security", "username", "from", "to"},
       allEvents(),
       allEvents()},
      {kinds::kPagerDuty,
       {"routing_key"},
       {"api_url", "severity"},
       incidentEvents(),
       {ev::kAlertOpened, ev::kAlertResolved}},
      {kinds::kOpsgenie,
       {"api_key"},
       {"api_url", "priority"},
       incidentEvents(),
       {ev::kAlertOpened, ev::kAlertResolved}},
      {kinds::kConnectWise,
       {"company", "public_key", "private_key", "client_id"},
       {"api_url", "company_id", "board_id", "closed_status"},
       incidentEvents(),
       {ev::kAlertOpened, ev::kAlertResolved}},
      {kinds::kAutotask,
       {"integration_code", "username", "secret"},
       {"api_url", "company_id", "queue_id", "priority", "closed_status"},
       incidentEvents(),
       {ev::kAlertOpened, ev::kAlertResolved}},
      {kinds::kHaloPsa,
       {"oauth_client_id", "oauth_client_secret"},
       {"api_url", "auth_url", "client_id", "tickettype_id", "closed_status_id"},
       incidentEvents(),
       {ev::kAlertOpened, ev::kAlertResolved}},
  };
  return kKinds;
}

const ChannelKind* findChannelKind(const std::string& name) {
  for (const ChannelKind& k : channelKinds()) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

std::string channelKindNames() {
  std::string names;
  for (const ChannelKind& k : channelKinds()) names += (names.empty() ? "" : ", ") + k.name;
  return names;
}

Result<ChannelSetup> checkChannelSetup(const std::string& kind, const cJSON* settings,
                                       const cJSON* credentials,
                                       const std::string& current_settings,
                                       const std::string& current_credentials) {
  const ChannelKind* spec = findChannelKind(kind);
  if (spec == nullptr || kind == kinds::kWebhook) {
    return Status::invalidArgument("kind: must be one of " + channelKindNames());
  }
  auto merged_settings = overlay("settings", settings, current_settings, spec->setting_fields);
  if (!merged_settings.ok()) return merged_settings.error();
  auto merged_credentials =
      overlay("credentials", credentials, current_credentials, spec->credential_fields);
  if (!merged_credentials.ok()) return merged_credentials.error();
  cJSON* s = merged_settings.value().get();
  cJSON* c = merged_credentials.value().get();
  for (const std::string& field : spec->credential_fields) {
    if (const cJSON* given = cJSON_GetObjectItemCaseSensitive(c, field.c_str());
        given != nullptr && !cJSON_IsString(given)) {
      return Status::invalidArgument("credentials." + field + ": must be a string");
    }
    // An email server may take mail without authentication (checkEmail).
    if (kind != kinds::kEmail && textMember(c, field.c_str()).empty()) {
      return Status::invalidArgument("credentials." + field + ": is required");
    }
  }
  ChannelSetup setup;
  if (kind == kinds::kEmail) {
    auto destination = checkEmail(s, c);
    if (!destination.ok()) return destination.error();
    setup.url = destination.value();
  } else if (kind == kinds::kConnectWise || kind == kinds::kAutotask || kind == kinds::kHaloPsa) {
    auto destination = checkTicketDesk(kind, s, c);
    if (!destination.ok()) return destination.error();
    setup.url = destination.value();
  } else if (kind == kinds::kSlack || kind == kinds::kTeams) {
    auto origin = httpsOrigin("credentials.webhook_url", textMember(c, "webhook_url"));
    if (!origin.ok()) return origin.error();
    setup.url = origin.value();
  } else {
    const bool pagerduty = kind == kinds::kPagerDuty;
    const char* key_field = pagerduty ? "routing_key" : "api_key";
    if (Status k = checkKey(std::string("credentials.") + key_field, textMember(c, key_field));
        !k.ok()) {
      return k;
    }
    if (textMember(s, "api_url").empty()) {
      cJSON_DeleteItemFromObjectCaseSensitive(s, "api_url");
      cJSON_AddStringToObject(s, "api_url", pagerduty ? kPagerDutyEventsUrl : kOpsgenieApiUrl);
    }
    // The API URL is where the credential goes: shown whole (it is not secret), checked.
    const std::string api_url = textMember(s, "api_url");
    if (auto origin = httpsOrigin("settings.api_url", api_url); !origin.ok()) {
      return origin.error();
    }
    setup.url = api_url;
    const char* choice_field = pagerduty ? "severity" : "priority";
    if (const std::string choice = textMember(s, choice_field); !choice.empty()) {
      const std::set<std::string> allowed =
          pagerduty ? std::set<std::string>{"critical", "error", "warning", "info"}
                    : std::set<std::string>{"P1", "P2", "P3", "P4", "P5"};
      if (Status v = checkOneOf(std::string("settings.") + choice_field, choice, allowed);
          !v.ok()) {
        return v;
      }
    }
  }
  setup.settings = json::print(s);
  setup.credentials = json::print(c);
  return setup;
}

}  // namespace vigil::collector
