#pragma once

// HTTP handlers of the collector. Each is thin: parse the transport, call a service, answer
// through HttpExchange. Any exception is caught at this edge and answered 500 `internal`.

#include <Poco/Logger.h>
#include <Poco/Net/HTTPRequestHandler.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "collector/admin/admin_api.h"
#include "collector/admin/admin_auth.h"
#include "collector/http/http_exchange.h"
#include "collector/http/metrics.h"
#include "collector/http/readiness.h"
#include "collector/ingest/ingest_service.h"
#include "common/clock.h"

namespace vigil::collector {

// What the handlers call; everything must outlive the HTTP server.
struct ApiServices {
  IngestService& ingest;
  AdminAuthenticator& admin_auth;
  const AdminRouteTable& admin_routes;  // every authenticated /api/v1 route
  ReadinessProbe& readiness;
  // The OpenAPI description (docs/openapi.yaml) and its JSON form; null: not served.
  const std::string* openapi_yaml = nullptr;
  const std::string* openapi_json = nullptr;
  const Clock& clock;
  Poco::Logger& logger;
  // GET /metrics renders this registry; null: not served.
  const MetricsRegistry* metrics = nullptr;
  // In a cluster, POST /v1/cluster/relay: a batch another collector relays (its signature
  // header and body) and the answer's body, or a refusal (collector/cluster/relay.h). Empty: a
  // collector alone, where the path does not exist.
  std::function<ApiResult<std::string>(const std::optional<std::string>& signature,
                                       const std::string& body)>
      relay = {};
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

class RelayHandler final : public JsonHandler {
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

// An authenticated admin route (/api/v1/*): 401 unless the request carries a usable admin
// bearer token; then the route's function runs with the token's scope
// (collector/admin/admin_api.h).
class AdminRouteHttpHandler final : public JsonHandler {
 public:
  AdminRouteHttpHandler(ApiServices& services, AdminRouteTable::Match match)
      : JsonHandler(services), match_(std::move(match)) {}

 protected:
  void handle(HttpExchange& exchange) override;

 private:
  AdminRouteTable::Match match_;
};

// GET /console and /console/...: the admin console's embedded files (docs/console.md), without
// a token (the console signs in with an admin token of its own), each with the console's
// security headers and an entity tag.
inline constexpr char kConsolePath[] = "/console";
inline constexpr std::string_view kConsolePrefix = "/console/";
class ConsoleHandler final : public JsonHandler {
 public:
  using JsonHandler::JsonHandler;

 protected:
  void handle(HttpExchange& exchange) override;
};

// GET /api/v1/openapi.json and /api/v1/openapi.yaml: the API's description, without a token.
class DocumentHandler final : public JsonHandler {
 public:
  DocumentHandler(ApiServices& services, std::string content_type, const std::string& document)
      : JsonHandler(services), content_type_(std::move(content_type)), document_(document) {}

 protected:
  void handle(HttpExchange& exchange) override;

 private:
  std::string content_type_;
  const std::string& document_;
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
