#pragma once

// How a service refuses a request, in the terms of the wire protocol. Shared by the agent-facing
// services (collector/ingest), the admin services (collector/admin) and the HTTP edge that
// writes the refusal (collector/http), so none of them includes another only for this type.

#include <cstdint>
#include <optional>
#include <string>

#include "common/protocol.h"
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

// Seconds a client waits before it tries again a request the store could not take just now.
inline constexpr int64_t kStoreUnavailableRetryAfterS = 5;

// The refusal of a request whose store access failed (the caller logs `failure`): 503
// store_unavailable with Retry-After when the store could not be reached (kUnavailable) or
// concurrent writers kept conflicting (kAborted): nothing was changed, and the same request
// sent again after Retry-After is right; 500 internal for anything else.
inline ApiError storeFailure(const Status& failure) {
  if (failure.code() == StatusCode::kUnavailable || failure.code() == StatusCode::kAborted) {
    ApiError error{503, protocol::errors::kStoreUnavailable,
                   failure.code() == StatusCode::kUnavailable
                       ? "the collector cannot reach its database just now; try again"
                       : "the database is busy with conflicting writes just now; try again",
                   std::nullopt};
    error.retry_after_s = kStoreUnavailableRetryAfterS;
    return error;
  }
  return ApiError{500, protocol::errors::kInternal, "the collector failed to access its store",
                  std::nullopt};
}

}  // namespace vigil::collector
