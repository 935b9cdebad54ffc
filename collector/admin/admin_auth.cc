#include "collector/admin/admin_auth.h"

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

std::optional<AdminPrincipal> AdminAuthenticator::authenticate(
    const std::optional<std::string>& authorization, int64_t now_ms) const {
  if (!authorization) return std::nullopt;
  std::optional<std::string_view> token = bearerToken(*authorization);
  if (!token) return std::nullopt;
  auto digest = crypto::sha256(*token);
  if (!digest.ok()) return std::nullopt;
  const std::string presented = crypto::toHex(digest.value());
  // An index lookup by the hash: the hash of an unknown token tells an attacker nothing
  // about stored ones, so the lookup's timing does not matter; the final comparison is
  // constant-time all the same. Read per request, so a token revoked or created through the
  // CLI counts from the next request.
  auto found = store_.findAdminTokenByHash(presented);
  std::optional<AdminToken> token_record;
  if (found.ok()) {
    token_record = found.value();
    MutexLock lock(mu_);
    if (token_record && token_record->usableAt(now_ms)) {
      if (remembered_.size() >= kRemembered) remembered_.clear();
      remembered_[presented] = Remembered{*token_record, now_ms};
    } else {
      remembered_.erase(presented);
    }
  } else if (found.error().code() == StatusCode::kUnavailable) {
    MutexLock lock(mu_);
    auto it = remembered_.find(presented);
    if (it != remembered_.end() && now_ms - it->second.read_at_ms <= kStaleIfUnavailableMs) {
      token_record = it->second.token;
    }
  }
  if (!token_record) return std::nullopt;
  const AdminToken* match = &*token_record;
  if (!crypto::constantTimeEquals(presented, match->token_hash) || !match->usableAt(now_ms)) {
    return std::nullopt;
  }
  AdminPrincipal principal;
  principal.token_id = match->id;
  principal.token_name = match->name;
  principal.role = match->role;
  principal.expires_at_ms = match->expires_at_ms;
  principal.scope =
      match->all_tenants ? TenantScope::everything() : TenantScope{false, match->tenant_ids};
  return principal;
}

}  // namespace vigil::collector
