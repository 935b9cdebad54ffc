#include "collector/api/bulkhead_router.h"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/URI.h>

#include "collector/api/http_exchange.h"
#include "common/protocol.h"

namespace vigil::collector {
namespace {

std::string pathOf(const Poco::Net::HTTPServerRequest& request) {
  try {
    return Poco::URI(request.getURI()).getPath();
  } catch (const Poco::Exception&) {
    return {};
  }
}

// Runs an admitted request's handler while holding its ticket, and counts its answer.
class AdmittedHandler final : public Poco::Net::HTTPRequestHandler {
 public:
  AdmittedHandler(std::unique_ptr<Poco::Net::HTTPRequestHandler> inner,
                  AdmissionController::Ticket ticket, AdmissionController& admission,
                  const Clock& clock, std::function<ListenerLoad()> load)
      : inner_(std::move(inner)),
        ticket_(std::move(ticket)),
        admission_(admission),
        clock_(clock),
        load_(std::move(load)),
        started_(clock.monotonicNow()) {}

  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    if (!keepAliveAllowed(load_())) response.setKeepAlive(false);
    try {
      inner_->handleRequest(request, response);
    } catch (...) {
      record(response);
      throw;
    }
    record(response);
  }

 private:
  void record(const Poco::Net::HTTPServerResponse& response) {
    admission_.recordResponse(ticket_.requestClass(), static_cast<int>(response.getStatus()),
                              clock_.monotonicNow() - started_);
  }

  std::unique_ptr<Poco::Net::HTTPRequestHandler> inner_;
  AdmissionController::Ticket ticket_;
  AdmissionController& admission_;
  const Clock& clock_;
  std::function<ListenerLoad()> load_;
  const MonoTime started_;
};

// Answers a shed request: 503 or 429 `overloaded` with Retry-After, then closes.
class ShedHandler final : public Poco::Net::HTTPRequestHandler {
 public:
  ShedHandler(RequestClass request_class, ShedDecision decision, AdmissionController& admission,
              const Clock& clock, Poco::Logger& logger)
      : class_(request_class),
        decision_(decision),
        admission_(admission),
        clock_(clock),
        logger_(logger),
        started_(clock.monotonicNow()) {}

  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    HttpExchange exchange(request, response, logger_);
    response.set("Retry-After", std::to_string(decision_.retry_after_s));
    response.setKeepAlive(false);
    std::string message;
    switch (decision_.reason) {
      case ShedReason::kClientShare:
        message = "too many requests in progress from this client";
        break;
      case ShedReason::kClassFull:
      case ShedReason::kQueueHighWater:
        message = std::string("the collector is over capacity for ") + requestClassName(class_) +
                  " requests";
        break;
    }
    message += "; retry after " + std::to_string(decision_.retry_after_s) + " s";
    try {
      exchange.sendError(
          ApiError{decision_.http_status, protocol::errors::kOverloaded, message, std::nullopt});
    } catch (...) {
      admission_.recordResponse(class_, decision_.http_status, clock_.monotonicNow() - started_);
      throw;
    }
    admission_.recordResponse(class_, decision_.http_status, clock_.monotonicNow() - started_);
  }

 private:
  const RequestClass class_;
  const ShedDecision decision_;
  AdmissionController& admission_;
  const Clock& clock_;
  Poco::Logger& logger_;
  const MonoTime started_;
};

}  // namespace

BulkheadRouter::BulkheadRouter(std::unique_ptr<Poco::Net::HTTPRequestHandlerFactory> inner,
                               AdmissionController& admission, const MetricsRegistry& metrics,
                               const Clock& clock, Poco::Logger& logger, Poco::Logger& shed_logger)
    : inner_(std::move(inner)),
      admission_(admission),
      metrics_(metrics),
      clock_(clock),
      logger_(logger),
      shed_logger_(shed_logger) {}

Poco::Net::HTTPRequestHandler* BulkheadRouter::createRequestHandler(
    const Poco::Net::HTTPServerRequest& request) {
  const std::string path = pathOf(request);
  const RequestClass request_class = classifyPath(path);
  const uint64_t waiting = load().queued;
  std::string client;
  try {
    client = request.clientAddress().host().toString();
  } catch (const Poco::Exception&) {
    client.clear();
  }
  auto admitted = admission_.admit(request_class, client, waiting);
  if (!admitted.ok()) {
    return new ShedHandler(request_class, admitted.error(), admission_, clock_, shed_logger_);
  }
  std::unique_ptr<Poco::Net::HTTPRequestHandler> inner;
  if (path == "/metrics") {
    inner = std::make_unique<MetricsHandler>(metrics_, logger_);
  } else {
    inner.reset(inner_->createRequestHandler(request));
    if (!inner) return nullptr;  // the ticket is released here; Poco answers 501
  }
  return new AdmittedHandler(std::move(inner), std::move(admitted).value(), admission_, clock_,
                             [this] { return load(); });
}

}  // namespace vigil::collector
