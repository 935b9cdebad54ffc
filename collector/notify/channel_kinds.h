#pragma once

// The kinds of notification channel (docs/notifications.md) and what each is configured with:
// settings that are not secret (shown by the API), credentials (sealed at rest, never shown
// again, never logged), the event types it can carry, and where its messages go.
//
//   webhook    Standard Webhooks, signed (docs/webhooks.md); its secret is generated.
//   slack      credentials {webhook_url}: a Slack incoming webhook.
//   teams      credentials {webhook_url}: a Teams Workflows "when a webhook request is
//              received" URL; the message carries an Adaptive Card.
//   email      settings {smtp_host, smtp_port (587), security (starttls | tls), username,
//              from, to: [addresses]}; credentials {password} (with a username): SMTP
//              submission, never in the clear (mail_transport.h).
//   pagerduty  credentials {routing_key}; settings {api_url, severity}: Events API v2, trigger
//              and resolve under one dedup key per alert.
//   opsgenie   credentials {api_key}; settings {api_url, priority}: Alert API, create and
//              close by alias.
//   connectwise  credentials {company, public_key, private_key, client_id}; settings
//              {api_url (…/v4_6_release/apis/3.0), company_id, board_id, closed_status}:
//              Manage REST API tickets (psa_tickets.h).
//   autotask   credentials {integration_code, username, secret}; settings {api_url
//              (…/atservicesrest/v1.0), company_id, queue_id, priority, closed_status}.
//   halopsa    credentials {oauth_client_id, oauth_client_secret} (client credentials grant);
//              settings {api_url (…/api), auth_url (…/auth), client_id, tickettype_id,
//              closed_status_id}.
//
// Every URL of a service kind is https:// (it carries or accompanies a credential).
// Settings members are strings, integers (smtp_port) or arrays of strings (to).

#include <cjson/cJSON.h>

#include <string>
#include <vector>

#include "common/status.h"

namespace vigil::collector {

namespace channel_kinds {
constexpr char kWebhook[] = "webhook";
constexpr char kSlack[] = "slack";
constexpr char kTeams[] = "teams";
constexpr char kEmail[] = "email";
constexpr char kPagerDuty[] = "pagerduty";
constexpr char kOpsgenie[] = "opsgenie";
constexpr char kConnectWise[] = "connectwise";
constexpr char kAutotask[] = "autotask";
constexpr char kHaloPsa[] = "halopsa";
}  // namespace channel_kinds

struct ChannelKind {
  std::string name;
  // Every one required at creation, but an email server's password (only with a username).
  std::vector<std::string> credential_fields;
  std::vector<std::string> setting_fields;  // each optional
  std::vector<std::string> events;          // the event types it may receive
  std::vector<std::string> default_events;  // what it receives unless told
};

// In documentation order.
const std::vector<ChannelKind>& channelKinds();
// Null if unknown.
const ChannelKind* findChannelKind(const std::string& name);
// "webhook, slack, ..." for error messages.
std::string channelKindNames();

// A channel's configuration once checked.
struct ChannelSetup {
  std::string url;          // where its messages go (Webhook::url), nothing secret in it
  std::string settings;     // JSON object, defaults filled in
  std::string credentials;  // JSON object, to be sealed; "{}" for a webhook
};

// Checks the settings and credentials of a channel of kind `kind` (not "webhook"), as the
// admin gives them (`settings`, `credentials`: JSON objects or null), over the current ones
// when the channel exists (`current_settings`, `current_credentials`: JSON texts; empty when
// creating): members given replace the current ones, members given as null remove optional
// settings. kInvalidArgument names the member ("credentials.webhook_url: must be an https://
// URL"), never its value.
Result<ChannelSetup> checkChannelSetup(const std::string& kind, const cJSON* settings,
                                       const cJSON* credentials,
                                       const std::string& current_settings,
                                       const std::string& current_credentials);

// The context channel credentials are sealed under (secret_box.h): a sealed text of another
// purpose does not open as credentials.
constexpr char kCredentialsContext[] = "vigil channel credentials";

// The defaults of the services' endpoints.
constexpr char kPagerDutyEventsUrl[] = "https://events.pagerduty.com/v2/enqueue";
constexpr char kOpsgenieApiUrl[] = "https://api.opsgenie.com";

}  // namespace vigil::collector
