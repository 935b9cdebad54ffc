#pragma once

// Enrollment tokens and admin tokens of the admin API (docs/api.md): list, read, create (the
// token is in the 201 answer only; the store keeps its SHA-256 hash) and revoke.
//
// Scope: an enrollment token belongs to its site's tenant and is answered 404 outside the
// principal's scope. Admin tokens: an all-tenant principal sees and creates any; a scoped
// principal sees (and revokes) itself and the scoped tokens whose tenants are all in its
// scope, and creates only such tokens (403 for an all-tenant token or a tenant outside its
// scope). Any token may revoke itself.
//
// Token trees: a token created here is the creating token's child. It has the creator's role
// unless `role` asks for a lower one (403 for a higher one), and the creator's expiry unless
// `expires_at` asks for an earlier one (400 for a later one); the store refuses anything else
// (store.h) and revokes a token's descendants with it.
//
// Thread safety: safe to call concurrently (the store is).

#include <cstdint>
#include <string>
#include <string_view>

#include "collector/admin/admin_api.h"
#include "collector/store/store.h"
#include "common/status.h"

namespace vigil::collector {

// Prefixes of generated tokens, so a leaked one is recognisable (secret scanners, logs).
// Enrollment compares only hashes, so any token text works; bootstrap's generated tokens
// (64 hex characters, kept for compatibility) carry none.
constexpr char kEnrollmentTokenPrefix[] = "vge_";
constexpr char kAdminTokenPrefix[] = "vga_";

// A newly generated token and the hash the store keeps.
struct IssuedToken {
  std::string token;  // prefix + 64 hex characters (32 random bytes); secret
  std::string hash;   // SHA-256 hex of `token`
};

// Generates a token; fails only if the CSPRNG or the hash does.
Result<IssuedToken> issueToken(std::string_view prefix);

// True if `principal` may see and revoke `token` (see the scope rules above).
bool adminTokenVisibleTo(const AdminPrincipal& principal, const AdminToken& token);

class TokenService {
 public:
  // Both must outlive the service.
  TokenService(TokenStore& store, TenancyStore& tenancy) : store_(store), tenancy_(tenancy) {}

  // GET/POST /api/v1/sites/{site_id}/enrollment-tokens,
  // GET/DELETE /api/v1/enrollment-tokens/{token_id}, GET/POST /api/v1/admin-tokens,
  // GET/DELETE /api/v1/admin-tokens/{token_id}.
  void registerRoutes(AdminRouteTable& table);

  ApiResult<AdminAnswer> listEnrollmentTokens(const AdminRequest& request);
  ApiResult<AdminAnswer> createEnrollmentToken(const AdminRequest& request);
  ApiResult<AdminAnswer> getEnrollmentToken(const AdminRequest& request);
  ApiResult<AdminAnswer> revokeEnrollmentToken(const AdminRequest& request);
  ApiResult<AdminAnswer> listAdminTokens(const AdminRequest& request);
  ApiResult<AdminAnswer> createAdminToken(const AdminRequest& request);
  ApiResult<AdminAnswer> getAdminToken(const AdminRequest& request);
  ApiResult<AdminAnswer> revokeAdminToken(const AdminRequest& request);

 private:
  // The object named by the path parameter if the principal may see it; 404 otherwise.
  ApiResult<Site> visibleSite(const AdminRequest& request);
  ApiResult<EnrollmentToken> visibleEnrollmentToken(const AdminRequest& request,
                                                    int64_t* tenant_id);
  ApiResult<AdminToken> visibleAdminToken(const AdminRequest& request);

  TokenStore& store_;
  TenancyStore& tenancy_;
};

}  // namespace vigil::collector
