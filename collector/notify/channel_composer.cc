#include "collector/notify/channel_composer.h"

#include "collector/events/webhook_signature.h"
#include "collector/notify/channel_kinds.h"
#include "collector/notify/channel_messages.h"
#include "collector/notify/secret_box.h"
#include "common/json.h"
#include "common/text.h"

namespace vigil::collector {
namespace {

namespace kinds = channel_kinds;
namespace failures = compose_failures;

WebhookFailure failure(const char* reason, std::string detail) {
  return WebhookFailure{reason, std::move(detail)};
}

using json::textMember;

// `base` without a trailing slash, then `path`.
std::string joinUrl(std::string base, const std::string& path) {
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + path;
}

ComposeResult signedWebhook(const DueDelivery& due, int64_t now_ms) {
  const OutboxEntry& entry = due.entry;
  auto signature = signWebhook(due.secret, entry.message_id, now_ms / 1000, entry.payload);
  if (!signature.ok()) {
    return failure(failures::kCannotSign, "cannot sign: " + signature.error().message());
  }
  ComposedMessage m;
  m.request.url = due.url;
  m.request.body = entry.payload;
  m.request.headers = {{"webhook-id", entry.message_id},
                       {"webhook-timestamp", std::to_string(now_ms / 1000)},
                       {"webhook-signature", signature.value()}};
  return m;
}

}  // namespace

ComposeResult ChannelComposer::compose(const DueDelivery& due, int64_t now_ms) const {
  if (due.kind == kinds::kWebhook) return signedWebhook(due, now_ms);
  if (findChannelKind(due.kind) == nullptr) {
    return failure(failures::kNotSendable, "unknown channel kind '" + due.kind + "'");
  }
  if (credentials_ == nullptr) {
    return failure(failures::kCredentialsUnreadable, "this collector has no credentials key");
  }
  auto opened = credentials_->open(due.secret, kCredentialsContext);
  if (!opened.ok()) {
    return failure(failures::kCredentialsUnreadable, opened.error().message());
  }
  json::JsonPtr credentials = json::parse(opened.value());
  json::JsonPtr settings = json::parse(due.settings);
  if (!credentials || !settings) {
    return failure(failures::kNotSendable, "the channel's settings or credentials are not JSON");
  }
  auto facts = readEventFacts(due.entry.payload);
  if (!facts.ok()) return failure(failures::kNotSendable, facts.error().message());
  const EventFacts& f = facts.value();

  ComposedMessage m;
  if (due.kind == kinds::kEmail) {
    const cJSON* s = settings.get();
    MailRequest mail;
    mail.host = textMember(s, "smtp_host");
    const cJSON* port = cJSON_GetObjectItemCaseSensitive(s, "smtp_port");
    mail.port = cJSON_IsNumber(port) ? static_cast<int>(port->valuedouble) : 587;
    mail.security = textMember(s, "security");
    mail.username = textMember(s, "username");
    mail.password = textMember(credentials.get(), "password");
    mail.from = textMember(s, "from");
    const cJSON* to = nullptr;
    cJSON_ArrayForEach(to, cJSON_GetObjectItemCaseSensitive(s, "to")) {
      if (cJSON_IsString(to)) mail.to.emplace_back(to->valuestring);
    }
    mail.subject = "[Vigil] " + summaryLine(f);
    mail.text_body = plainTextBody(f);
    mail.html_body = htmlBody(f);
    mail.message_id = due.entry.message_id;
    if (mail.host.empty() || mail.from.empty() || mail.to.empty()) {
      return failure(failures::kNotSendable, "the email channel's settings are incomplete");
    }
    m.mail = std::move(mail);
    return m;
  }
  if (due.kind == kinds::kSlack || due.kind == kinds::kTeams) {
    m.request.url = textMember(credentials.get(), "webhook_url");
    m.request.body = due.kind == kinds::kSlack ? slackBody(f) : teamsBody(f);
  } else if (due.kind == kinds::kPagerDuty) {
    if (!pagerDutyAction(f)) {
      m.send = false;
      return m;
    }
    m.request.url = textMember(settings.get(), "api_url");
    m.request.body = pagerDutyBody(f, textMember(credentials.get(), "routing_key"),
                                   textMember(settings.get(), "severity"));
  } else if (due.kind == kinds::kOpsgenie) {
    const std::optional<OpsgenieAction> action = opsgenieAction(f);
    if (!action) {
      m.send = false;
      return m;
    }
    const std::string base = textMember(settings.get(), "api_url");
    if (*action == OpsgenieAction::kCreate) {
      m.request.url = joinUrl(base, "/v2/alerts");
      m.request.body = opsgenieCreateBody(f, textMember(settings.get(), "priority"));
    } else {
      m.request.url = joinUrl(base, "/v2/alerts/" + percentEncode(pagerDutyDedupKey(f)) +
                                        "/close?identifierType=alias");
      m.request.body = opsgenieCloseBody(f);
    }
    m.request.headers = {{"Authorization", "GenieKey " + textMember(credentials.get(), "api_key")}};
  } else {
    return failure(failures::kNotSendable, "channel kind '" + due.kind + "' has no composer");
  }
  if (m.request.url.empty()) {
    return failure(failures::kNotSendable, "the channel has no URL to send to");
  }
  return m;
}

}  // namespace vigil::collector
