#pragma once

// The listener's request handler factory: classifies each request (admission.h), admits it to
// its class's bulkhead or answers it at once with 503/429 `overloaded` and Retry-After, and
// hands admitted requests to the wrapped router (CollectorRouter). GET /metrics is answered
// here (probe class).
//
// Keep-alive is offered only while the pool has room (keepAliveAllowed): otherwise every
// answer carries `Connection: close`, so a keep-alive connection gives its worker back to the
// queue after each request instead of holding it, and waiting connections are served in
// arrival order.
//
// Sheds are not logged one by one (the HTTP log would grow with the overload); they are
// counted (AdmissionController, /metrics) and summarised by the composition root.

#include <Poco/Logger.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>

#include <functional>
#include <memory>

#include "collector/api/admission.h"
#include "collector/api/metrics.h"
#include "common/clock.h"

namespace vigil::collector {

class BulkheadRouter final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  // The pool's state (Poco's TCPServer::queuedConnections(), currentThreads(), maxThreads()).
  using LoadProbe = std::function<ListenerLoad()>;

  // `admission`, `metrics`, `clock` and `logger` must outlive the router and its server.
  // `logger` is the HTTP log of metrics requests; `shed_logger` that of shed answers.
  BulkheadRouter(std::unique_ptr<Poco::Net::HTTPRequestHandlerFactory> inner,
                 AdmissionController& admission, const MetricsRegistry& metrics, const Clock& clock,
                 Poco::Logger& logger, Poco::Logger& shed_logger);

  // REQUIRES: called before the server starts (the server is built after its factory).
  void setLoadProbe(LoadProbe probe) { load_ = std::move(probe); }

  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest& request) override;

 private:
  ListenerLoad load() const { return load_ ? load_() : ListenerLoad{0, 0, 1}; }

  std::unique_ptr<Poco::Net::HTTPRequestHandlerFactory> inner_;
  AdmissionController& admission_;
  const MetricsRegistry& metrics_;
  const Clock& clock_;
  Poco::Logger& logger_;
  Poco::Logger& shed_logger_;
  LoadProbe load_;
};

}  // namespace vigil::collector
