#include "collector/store/store.h"

namespace vigil::collector {

bool EnrollmentToken::usableAt(int64_t now_ms) const {
  if (revoked) return false;
  if (expires_at_ms && now_ms >= *expires_at_ms) return false;
  if (max_uses && uses >= *max_uses) return false;
  return true;
}

}  // namespace vigil::collector
