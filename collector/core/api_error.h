#pragma once

// How a service refuses a request, in the terms of the wire protocol. Shared by the agent-facing
// services (collector/ingest), the admin services (collector/admin) and the HTTP edge that
// writes the refusal (collector/http), so none of them includes another only for this type.

#include <cstdint>
#include <optional>
#include <string>

#include "common/status.h"

namespace vigil::collector {

// A refused request, in the terms of the wire protocol: HTTP status, `error` code, message.
struct ApiError {
  int http_status = 500;
  std::string code;
  std::string message;
  std::optional<int64_t> server_time_ms;                // set on stale_timestamp
  std::optional<int64_t> retry_after_s = std::nullopt;  // sent as Retry-After (429 rate_limited)
};

template <typename T>
using ApiResult = Result<T, ApiError>;

}  // namespace vigil::collector
