#include "agent/core/stop_request.h"

#include "common/protocol.h"

namespace vigil::agent {

void StopRequest::request() {
  std::lock_guard<std::mutex> lock(mu_);
  if (reason_ == nullptr) {
    reason_ = shutdown_announced_ ? protocol::shutdown_reasons::kSystemShutdown
                                  : protocol::shutdown_reasons::kServiceStop;
  }
  requested_.store(true);
  waiter_.requestStop();
  if (!goodbye_started_) client_.cancel();
}

void StopRequest::requestForLogoff() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (reason_ == nullptr) reason_ = protocol::shutdown_reasons::kLogoff;
  }
  request();
}

void StopRequest::announceShutdown() {
  std::lock_guard<std::mutex> lock(mu_);
  shutdown_announced_ = true;
}

const char* StopRequest::beginGoodbye() {
  std::lock_guard<std::mutex> lock(mu_);
  goodbye_started_ = true;
  client_.resume();
  return reason_;
}

}  // namespace vigil::agent
