#include "collector/api/router.h"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/URI.h>

#include <string_view>

#include "common/protocol.h"

namespace vigil::collector {
namespace {

namespace errors = protocol::errors;
using Poco::Net::HTTPRequest;

constexpr std::string_view kAgentsPath = "/api/v1/agents";

}  // namespace

Poco::Net::HTTPRequestHandler* CollectorRouter::createRequestHandler(
    const Poco::Net::HTTPServerRequest& request) {
  std::string path;
  try {
    path = Poco::URI(request.getURI()).getPath();
  } catch (const Poco::Exception&) {
    path.clear();
  }
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
  if (path == kAgentsPath) {
    return only(HTTPRequest::HTTP_GET, [&] { return new ListAgentsHandler(services_); });
  }
  if (path.size() > kAgentsPath.size() + 1 &&
      path.compare(0, kAgentsPath.size(), kAgentsPath) == 0 && path[kAgentsPath.size()] == '/' &&
      path.find('/', kAgentsPath.size() + 1) == std::string::npos) {
    std::string id = path.substr(kAgentsPath.size() + 1);
    return only(HTTPRequest::HTTP_GET,
                [&] { return new GetAgentHandler(services_, std::move(id)); });
  }
  if (path == "/api/v1/health") {
    return only(HTTPRequest::HTTP_GET, [&] { return new HealthHandler(services_); });
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
