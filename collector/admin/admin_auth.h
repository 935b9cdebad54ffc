#pragma once

// Bearer-token authentication of the admin API (/api/v1/*). Tokens are known only by their
// SHA-256 hash; the presented token's hash is looked up (an index) and compared in constant
// time. The store is read on every call, so a token created or revoked by the CLI
// (another process) takes effect at the next request, without a restart.
//
// Thread safety: safe to call concurrently.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "collector/admin/admin_api.h"
#include "collector/store/store.h"

namespace vigil::collector {

class AdminAuthenticator {
 public:
  // `store` must outlive the authenticator.
  explicit AdminAuthenticator(TokenStore& store) : store_(store) {}

  // The principal of `authorization` if it is "Bearer <token>" (scheme case-insensitive) and
  // the token is an admin token usable at `now_ms` (not revoked, not expired). Its scope is
  // every tenant or the token's tenants, ascending (empty if they were all deleted); its role
  // and expiry are the token's. A token whose ancestor was revoked or expired is not usable:
  // the store revokes descendants with their ancestor and keeps each within its parent's
  // expiry (store.h, AdminToken). A store failure authenticates nobody.
  std::optional<AdminPrincipal> authenticate(const std::optional<std::string>& authorization,
                                             int64_t now_ms) const;

  // The token of an "Authorization: Bearer <token>" value, or nullopt.
  static std::optional<std::string_view> bearerToken(std::string_view authorization);

 private:
  TokenStore& store_;
};

}  // namespace vigil::collector
