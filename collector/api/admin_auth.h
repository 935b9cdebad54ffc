#pragma once

// Bearer-token authentication of the admin API (/api/v1/*). Tokens are known only by their
// SHA-256 hash; the presented token's hash is compared with every unrevoked admin token's hash
// in constant time.
//
// Thread safety: safe to call concurrently.

#include <optional>
#include <string>
#include <string_view>

#include "collector/store/store.h"

namespace vigil::collector {

class AdminAuthenticator {
 public:
  explicit AdminAuthenticator(Store& store) : store_(store) {}

  // True if `authorization` is "Bearer <token>" (scheme case-insensitive) and the token is a
  // valid admin token. A store failure authenticates nobody.
  bool authenticate(const std::optional<std::string>& authorization) const;

  // The token of an "Authorization: Bearer <token>" value, or nullopt.
  static std::optional<std::string_view> bearerToken(std::string_view authorization);

 private:
  Store& store_;
};

}  // namespace vigil::collector
