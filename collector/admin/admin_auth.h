#pragma once

// Bearer-token authentication of the admin API (/api/v1/*). Tokens are known only by their
// SHA-256 hash; the presented token's hash is looked up (an index) and compared in constant
// time. The store is read on every call, so a token created or revoked by the CLI
// (another process) takes effect at the next request, without a restart.
//
// While the store's database cannot be reached (kUnavailable: a PostgreSQL server down), a
// token this collector authenticated within the last kStaleIfUnavailable is accepted as it was
// then (same role, scope and expiry), so operators can read the collector's health in the
// outage; a revocation made meanwhile through another collector takes effect once the
// database answers again. Any other store failure authenticates nobody.
//
// Thread safety: safe to call concurrently.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "collector/admin/admin_api.h"
#include "collector/store/store.h"
#include "common/mutex.h"

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
  // expiry (store.h, AdminToken). A store failure authenticates nobody but as said above.
  std::optional<AdminPrincipal> authenticate(const std::optional<std::string>& authorization,
                                             int64_t now_ms) const;

  static constexpr int64_t kStaleIfUnavailableMs = int64_t{10} * 60 * 1000;
  // Tokens remembered for that (the most recently used; older ones are forgotten).
  static constexpr size_t kRemembered = 1024;

  // The token of an "Authorization: Bearer <token>" value, or nullopt.
  static std::optional<std::string_view> bearerToken(std::string_view authorization);

 private:
  struct Remembered {
    AdminToken token;
    int64_t read_at_ms = 0;
  };

  TokenStore& store_;
  mutable Mutex mu_;
  mutable std::unordered_map<std::string, Remembered> remembered_ GUARDED_BY(mu_);  // by hash
};

}  // namespace vigil::collector
