#pragma once

// The collector's HTTP router: maps method and path to a handler. Unknown paths get an
// explicit 404 `not_found` handler (never a null handler, which Poco turns into a 501); a known
// path with the wrong method gets 405 `method_not_allowed` with an Allow header.
//
//   POST /v1/enroll            EnrollHandler
//   POST /v1/heartbeat         HeartbeatHandler
//   GET  /api/v1/openapi.json|yaml  DocumentHandler (no token)
//   *    /api/v1/...           AdminRouteHttpHandler: the AdminRouteTable's routes (admin
//                              bearer token; docs/api.md)
//   GET  /console, /console/*  ConsoleHandler (no token; docs/console.md)
//   GET  /livez, /readyz       health

#include <Poco/Net/HTTPRequestHandlerFactory.h>

#include "collector/http/handlers.h"

namespace vigil::collector {

class CollectorRouter final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  // `services` must outlive the router and the server that owns it.
  explicit CollectorRouter(ApiServices& services) : services_(services) {}

  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest& request) override;

 private:
  ApiServices& services_;
};

}  // namespace vigil::collector
