#pragma once

// Standard Webhooks signatures (https://www.standardwebhooks.com/, docs/webhooks.md):
//   webhook-signature: v1,<base64(HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>"))>
// where the key is the base64-decoded part of the secret after "whsec_".

#include <cstdint>
#include <string>

#include "common/status.h"

namespace vigil::collector {

constexpr char kWebhookSecretPrefix[] = "whsec_";

// A new secret: "whsec_" + base64 of 32 bytes from the system's CSPRNG.
Result<std::string> newWebhookSecret();

// The HMAC key of a "whsec_<base64>" secret. kInvalidArgument if the secret is malformed.
Result<std::string> webhookSigningKey(const std::string& secret);

// The webhook-signature header value, "v1,<base64>", of `body` sent as message `message_id` at
// `timestamp_s` (Unix seconds, the webhook-timestamp header).
Result<std::string> signWebhook(const std::string& secret, const std::string& message_id,
                                int64_t timestamp_s, const std::string& body);

// Standard base64 (with padding, no line breaks), and its strict inverse.
std::string base64Encode(const std::string& bytes);
Result<std::string> base64Decode(const std::string& text);

}  // namespace vigil::collector
