#include "collector/core/records.h"

#include <algorithm>

namespace vigil::collector {

bool EnrollmentToken::usableAt(int64_t now_ms) const {
  if (revoked) return false;
  if (expires_at_ms && now_ms >= *expires_at_ms) return false;
  if (max_uses && uses >= *max_uses) return false;
  return true;
}

bool AdminToken::usableAt(int64_t now_ms) const {
  return !revoked && (!expires_at_ms || now_ms < *expires_at_ms);
}

const char* adminRoleName(AdminRole role) {
  switch (role) {
    case AdminRole::kReadOnly:
      return "read-only";
    case AdminRole::kOperator:
      return "operator";
    case AdminRole::kAdmin:
      return "admin";
  }
  return "read-only";
}

std::optional<AdminRole> parseAdminRole(std::string_view name) {
  for (AdminRole role : {AdminRole::kReadOnly, AdminRole::kOperator, AdminRole::kAdmin}) {
    if (name == adminRoleName(role)) return role;
  }
  return std::nullopt;
}

bool TenantScope::allows(int64_t tenant_id) const {
  return all || std::binary_search(tenant_ids.begin(), tenant_ids.end(), tenant_id);
}

}  // namespace vigil::collector
