#pragma once

// HTTP handlers of the collector. Each is thin: parse the transport, call a service, answer
// through HttpExchange. Any exception is caught at this edge and answered 500 `internal`.

#include <Poco/Logger.h>
#include <Poco/Net/HTTPRequestHandler.h>

#include <string>

#include "collector/api/admin_auth.h"
#include "collector/api/agent_query.h"
#include "collector/api/http_exchange.h"
#include "collector/api/readiness.h"
#include "collector/ingest/ingest_service.h"

namespace vigil::collector {

// What the handlers call; everything must outlive the HTTP server.
struct ApiServices {
  IngestService& ingest;
  AgentQueryService& agents;
  AdminAuthenticator& admin_auth;
  ReadinessProbe& readiness;
  Poco::Logger& logger;
};

class JsonHandler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit JsonHandler(ApiServices& services) : services_(services) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) final;

 protected:
  virtual void handle(HttpExchange& exchange) = 0;
  ApiServices& services_;
};

class EnrollHandler final : public JsonHandler {
 public:
  using JsonHandler::JsonHandler;

 protected:
  void handle(HttpExchange& exchange) override;
};

class HeartbeatHandler final : public JsonHandler {
 public:
  using JsonHandler::JsonHandler;

 protected:
  void handle(HttpExchange& exchange) override;
};

// Base of /api/v1/*: answers 401 unless the request carries a valid admin bearer token.
class AdminHandler : public JsonHandler {
 public:
  using JsonHandler::JsonHandler;

 protected:
  void handle(HttpExchange& exchange) final;
  virtual void handleAuthenticated(HttpExchange& exchange) = 0;
};

class ListAgentsHandler final : public AdminHandler {
 public:
  using AdminHandler::AdminHandler;

 protected:
  void handleAuthenticated(HttpExchange& exchange) override;
};

// GET /api/v1/health: the collector's own health and degradation reasons.
class HealthHandler final : public AdminHandler {
 public:
  using AdminHandler::AdminHandler;

 protected:
  void handleAuthenticated(HttpExchange& exchange) override;
};

class GetAgentHandler final : public AdminHandler {
 public:
  GetAgentHandler(ApiServices& services, std::string agent_id)
      : AdminHandler(services), agent_id_(std::move(agent_id)) {}

 protected:
  void handleAuthenticated(HttpExchange& exchange) override;

 private:
  std::string agent_id_;
};

class LivezHandler final : public JsonHandler {
 public:
  using JsonHandler::JsonHandler;

 protected:
  void handle(HttpExchange& exchange) override;
};

class ReadyzHandler final : public JsonHandler {
 public:
  using JsonHandler::JsonHandler;

 protected:
  void handle(HttpExchange& exchange) override;
};

// Answers a fixed error: 404 for unknown paths, 405 (with Allow) for a wrong method.
class ErrorHandler final : public JsonHandler {
 public:
  ErrorHandler(ApiServices& services, ApiError error, std::string allow = "")
      : JsonHandler(services), error_(std::move(error)), allow_(std::move(allow)) {}

 protected:
  void handle(HttpExchange& exchange) override;

 private:
  ApiError error_;
  std::string allow_;
};

}  // namespace vigil::collector
