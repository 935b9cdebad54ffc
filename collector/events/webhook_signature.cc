#include "collector/events/webhook_signature.h"

#include <Poco/Base64Decoder.h>
#include <Poco/Base64Encoder.h>
#include <Poco/Exception.h>

#include <sstream>

#include "common/crypto.h"

namespace vigil::collector {
namespace {

constexpr size_t kSecretRandomBytes = 32;

bool isBase64Char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

}  // namespace

std::string base64Encode(const std::string& bytes) {
  std::ostringstream encoded;
  Poco::Base64Encoder encoder(encoded);
  encoder.rdbuf()->setLineLength(0);
  encoder << bytes;
  encoder.close();
  return encoded.str();
}

Result<std::string> base64Decode(const std::string& text) {
  // Poco's decoder skips what it does not know; the check here makes decoding strict.
  size_t padding = 0;
  while (padding < text.size() && padding < 2 && text[text.size() - 1 - padding] == '=') {
    ++padding;
  }
  if (text.size() % 4 != 0) return Status::invalidArgument("base64 length is not a multiple of 4");
  for (size_t i = 0; i < text.size() - padding; ++i) {
    if (!isBase64Char(text[i])) return Status::invalidArgument("not base64");
  }
  try {
    std::istringstream in(text);
    Poco::Base64Decoder decoder(in);
    std::string out((std::istreambuf_iterator<char>(decoder)), std::istreambuf_iterator<char>());
    return out;
  } catch (const Poco::Exception&) {
    return Status::invalidArgument("not base64");
  }
}

Result<std::string> newWebhookSecret() {
  auto hex = crypto::randomHex(kSecretRandomBytes);
  if (!hex.ok()) return hex.error();
  auto bytes = crypto::fromHex(hex.value());
  if (!bytes.ok()) return bytes.error();
  return kWebhookSecretPrefix + base64Encode(bytes.value());
}

Result<std::string> webhookSigningKey(const std::string& secret) {
  const std::string prefix = kWebhookSecretPrefix;
  if (secret.compare(0, prefix.size(), prefix) != 0 || secret.size() == prefix.size()) {
    return Status::invalidArgument("webhook secret does not start with whsec_");
  }
  auto key = base64Decode(secret.substr(prefix.size()));
  if (!key.ok()) return Status::invalidArgument("webhook secret is not whsec_<base64>");
  if (key.value().empty()) return Status::invalidArgument("webhook secret is empty");
  return key;
}

Result<std::string> signWebhook(const std::string& secret, const std::string& message_id,
                                int64_t timestamp_s, const std::string& body) {
  auto key = webhookSigningKey(secret);
  if (!key.ok()) return key.error();
  const std::string content = message_id + "." + std::to_string(timestamp_s) + "." + body;
  auto mac = crypto::hmacSha256(key.value(), content);
  if (!mac.ok()) return mac.error();
  const std::string raw(reinterpret_cast<const char*>(mac.value().data()), mac.value().size());
  return "v1," + base64Encode(raw);
}

}  // namespace vigil::collector
