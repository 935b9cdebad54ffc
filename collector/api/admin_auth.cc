#include "collector/api/admin_auth.h"

#include <cctype>

#include "common/crypto.h"

namespace vigil::collector {

std::optional<std::string_view> AdminAuthenticator::bearerToken(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size() + 1) return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) {
      return std::nullopt;
    }
  }
  if (authorization[kScheme.size()] != ' ') return std::nullopt;
  std::string_view token = authorization.substr(kScheme.size() + 1);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return std::nullopt;
  return token;
}

bool AdminAuthenticator::authenticate(const std::optional<std::string>& authorization) const {
  if (!authorization) return false;
  std::optional<std::string_view> token = bearerToken(*authorization);
  if (!token) return false;
  auto digest = crypto::sha256(*token);
  if (!digest.ok()) return false;
  const std::string presented = crypto::toHex(digest.value());
  auto tokens = store_.listAdminTokens();
  if (!tokens.ok()) return false;
  bool match = false;
  for (const AdminToken& t : tokens.value()) {
    // No early exit: the time taken does not depend on which token matched.
    const bool equal = crypto::constantTimeEquals(presented, t.token_hash);
    match = match || (equal && !t.revoked);
  }
  return match;
}

}  // namespace vigil::collector
