#include "collector/http/router.h"

#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPServerRequest.h>

#include <string_view>

#include "collector/http/http_exchange.h"
#include "common/protocol.h"

namespace vigil::collector {
namespace {

namespace errors = protocol::errors;
using Poco::Net::HTTPRequest;

constexpr std::string_view kAdminPrefix = "/api/v1/";
constexpr char kOpenApiJsonPath[] = "/api/v1/openapi.json";
constexpr char kOpenApiYamlPath[] = "/api/v1/openapi.yaml";

}  // namespace

Poco::Net::HTTPRequestHandler* CollectorRouter::createRequestHandler(
    const Poco::Net::HTTPServerRequest& request) {
  const std::string path = requestPath(request.getURI()).value_or("");
  const std::string& method = request.getMethod();
  auto only = [&](const std::string& allowed, auto make) -> Poco::Net::HTTPRequestHandler* {
    if (method == allowed) return make();
    return new ErrorHandler(
        services_,
        ApiError{405, errors::kMethodNotAllowed, "use " + allowed + " on " + path, std::nullopt},
        allowed);
  };

  if (path == protocol::kEnrollPath) {
    return only(HTTPRequest::HTTP_POST, [&] { return new EnrollHandler(services_); });
  }
  if (path == protocol::kHeartbeatPath) {
    return only(HTTPRequest::HTTP_POST, [&] { return new HeartbeatHandler(services_); });
  }
  if (path == protocol::kClusterRelayPath && services_.relay) {
    return only(HTTPRequest::HTTP_POST, [&] { return new RelayHandler(services_); });
  }
  if (path == kOpenApiJsonPath && services_.openapi_json != nullptr) {
    return only(HTTPRequest::HTTP_GET, [&] {
      return new DocumentHandler(services_, "application/json", *services_.openapi_json);
    });
  }
  if (path == kOpenApiYamlPath && services_.openapi_yaml != nullptr) {
    return only(HTTPRequest::HTTP_GET, [&] {
      return new DocumentHandler(services_, "application/yaml", *services_.openapi_yaml);
    });
  }
  if (path.compare(0, kAdminPrefix.size(), kAdminPrefix) == 0) {
    std::string allow;
    std::optional<AdminRouteTable::Match> match =
        services_.admin_routes.match(method, path, &allow);
    if (match) return new AdminRouteHttpHandler(services_, std::move(*match));
    if (!allow.empty()) {
      return new ErrorHandler(
          services_,
          ApiError{405, errors::kMethodNotAllowed, "use " + allow + " on " + path, std::nullopt},
          allow);
    }
  }
  if (path == kConsolePath || path.compare(0, kConsolePrefix.size(), kConsolePrefix) == 0) {
    return only(HTTPRequest::HTTP_GET, [&] { return new ConsoleHandler(services_); });
  }
  if (path == "/metrics" && services_.metrics != nullptr) {
    return new MetricsHandler(*services_.metrics, services_.logger);
  }
  if (path == "/livez") {
    return only(HTTPRequest::HTTP_GET, [&] { return new LivezHandler(services_); });
  }
  if (path == "/readyz") {
    return only(HTTPRequest::HTTP_GET, [&] { return new ReadyzHandler(services_); });
  }
  return new ErrorHandler(services_,
                          ApiError{404, errors::kNotFound, "no such path", std::nullopt});
}

}  // namespace vigil::collector
