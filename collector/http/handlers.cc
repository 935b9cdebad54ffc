#include "collector/http/handlers.h"

#include <Poco/Exception.h>
#include <Poco/URI.h>

#include "collector/console/console_assets.h"
#include "common/json.h"
#include "common/protocol.h"

namespace vigil::collector {
namespace {

namespace errors = protocol::errors;

std::string statusJson(const std::string& status, const std::string& reason = "") {
  json::JsonPtr root(cJSON_CreateObject());
  cJSON_AddStringToObject(root.get(), "status", status.c_str());
  if (!reason.empty()) cJSON_AddStringToObject(root.get(), "reason", reason.c_str());
  return json::print(root.get());
}

}  // namespace

void JsonHandler::handleRequest(Poco::Net::HTTPServerRequest& request,
                                Poco::Net::HTTPServerResponse& response) {
  HttpExchange exchange(request, response, services_.logger);
  std::string failure;
  try {
    handle(exchange);
    return;
  } catch (const Poco::Exception& e) {
    failure = e.displayText();
  } catch (const std::exception& e) {
    failure = e.what();
  }
  services_.logger.error("request " + request.getMethod() + " " + exchange.path() +
                         " failed: " + failure);
  if (!exchange.sent()) {
    exchange.sendError(ApiError{500, errors::kInternal,
                                "the collector failed to process the request", std::nullopt});
  }
}

void EnrollHandler::handle(HttpExchange& exchange) {
  std::optional<std::string> body = exchange.readJsonBody();
  if (!body) return;
  auto result = services_.ingest.enroll(*body);
  if (!result.ok()) {
    exchange.sendError(result.error());
    return;
  }
  exchange.setAgentId(result.value().agent_id);
  exchange.sendJson(201, protocol::encode(result.value()));
}

void HeartbeatHandler::handle(HttpExchange& exchange) {
  std::optional<std::string> agent_id = exchange.header(protocol::kHeaderAgentId);
  if (agent_id) exchange.setAgentId(*agent_id);
  std::optional<std::string> body = exchange.readJsonBody();
  if (!body) return;
  HeartbeatRequest request;
  request.agent_id = std::move(agent_id);
  request.timestamp = exchange.header(protocol::kHeaderTimestamp);
  request.signature = exchange.header(protocol::kHeaderSignature);
  request.body = std::move(*body);
  auto result = services_.ingest.heartbeat(request);
  if (!result.ok()) {
    exchange.sendError(result.error());
    return;
  }
  exchange.sendJson(200, protocol::encode(result.value()));
}

void RelayHandler::handle(HttpExchange& exchange) {
  std::optional<std::string> body = exchange.readJsonBody();
  if (!body) return;
  auto result = services_.relay(exchange.header(protocol::kHeaderClusterSignature), *body);
  if (!result.ok()) {
    exchange.sendError(result.error());
    return;
  }
  exchange.sendJson(200, result.value());
}

namespace {

bool isBodyMethod(const std::string& method) {
  return method == "POST" || method == "PATCH" || method == "PUT";
}

// True if the request announces a body (a length above zero, or chunks).
bool hasBody(const Poco::Net::HTTPServerRequest& request) {
  return request.getChunkedTransferEncoding() ||
         (request.hasContentLength() && request.getContentLength64() > 0);
}

}  // namespace

void AdminRouteHttpHandler::handle(HttpExchange& exchange) {
  const int64_t now_ms = toUnixMillis(services_.clock.wallNow());
  std::optional<AdminPrincipal> principal =
      services_.admin_auth.authenticate(exchange.header("Authorization"), now_ms);
  if (!principal) {
    exchange.sendError(ApiError{401, errors::kUnauthorized,
                                "a valid admin token is required (Authorization: Bearer <token>)",
                                std::nullopt});
    return;
  }
  // Roles are enforced here, for every route, before its body is read or its function runs.
  if (std::optional<ApiError> refused =
          checkAccess(match_.access, *principal, match_.path_params)) {
    services_.logger.warning("admin token " + std::to_string(principal->token_id) + " (role " +
                             adminRoleName(principal->role) +
                             ") refused: " + exchange.request().getMethod() + " " + match_.route +
                             " needs role " + adminRoleName(match_.access.role));
    exchange.sendError(*refused);
    return;
  }
  AdminRequest request;
  request.principal = std::move(*principal);
  request.method = exchange.request().getMethod();
  request.route = match_.route;
  request.path_params = match_.path_params;
  request.now_ms = now_ms;
  try {
    Poco::URI::QueryParameters params = Poco::URI(exchange.request().getURI()).getQueryParameters();
    request.query.assign(params.begin(), params.end());
  } catch (const Poco::Exception&) {
    exchange.sendError(
        ApiError{400, errors::kInvalidField, "the query string is malformed", std::nullopt});
    return;
  }
  // A body is read only where the method takes one, and only if one was sent: POST
  // /agents/{id}/retire needs none.
  if (isBodyMethod(request.method) && hasBody(exchange.request())) {
    std::optional<std::string> body = exchange.readJsonBody();
    if (!body) return;
    request.body = std::move(*body);
  }
  ApiResult<AdminAnswer> answer = (*match_.handler)(request);
  if (!answer.ok()) {
    exchange.sendError(answer.error());
    return;
  }
  const AdminAnswer& done = answer.value();
  if (done.content_type.rfind("text/html", 0) == 0) {
    // A report to read and print: no script at all, its one inline style sheet.
    exchange.response().set("Content-Security-Policy",
                            "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
                            "form-action 'none'; frame-ancestors 'none'");
  }
  if (!done.file_name.empty()) {
    exchange.response().set("Content-Disposition", "inline; filename=\"" + done.file_name + "\"");
  }
  if (request.method == "GET" && done.http_status == 200) {
    // Revalidatable: a console polling an unchanged page gets a 304 and no body.
    exchange.sendTagged(
        done.content_type.empty() ? std::string(protocol::kContentType) : done.content_type,
        done.body, entityTag(done.body), "no-store");
    return;
  }
  exchange.sendJson(done.http_status, done.body);
}

void ConsoleHandler::handle(HttpExchange& exchange) {
  for (size_t i = 0; i < kConsoleSecurityHeaderCount; ++i) {
    exchange.response().set(std::string(kConsoleSecurityHeaders[i].name),
                            std::string(kConsoleSecurityHeaders[i].value));
  }
  const std::string& path = exchange.path();
  if (path == kConsolePath) {
    exchange.response().set("Location", std::string(kConsolePath) + "/");
    exchange.sendDocument(301, "text/plain; charset=utf-8", "the console is at /console/\n");
    return;
  }
  const ConsoleAsset* asset =
      findConsoleAsset(std::string_view(path).substr(kConsolePrefix.size()));
  if (asset == nullptr) {
    exchange.sendError(ApiError{404, errors::kNotFound, "no such console file", std::nullopt});
    return;
  }
  // Revalidated on every use: an upgraded collector serves its own console at once.
  exchange.sendTagged(std::string(asset->content_type), asset->body, asset->etag, "no-cache");
}

void DocumentHandler::handle(HttpExchange& exchange) {
  exchange.sendDocument(200, content_type_, document_);
}

void LivezHandler::handle(HttpExchange& exchange) { exchange.sendJson(200, statusJson("ok")); }

void ReadyzHandler::handle(HttpExchange& exchange) {
  std::string change;
  Status ready = services_.readiness.checkNotingChange(&change);
  if (!change.empty()) {
    if (ready.ok()) {
      services_.logger.information(change);
    } else {
      services_.logger.warning(change);
    }
  }
  if (ready.ok()) {
    exchange.sendJson(200, statusJson("ok"));
  } else {
    exchange.sendJson(503, statusJson("unavailable", ready.message()));
  }
}

void ErrorHandler::handle(HttpExchange& exchange) {
  if (!allow_.empty()) exchange.response().set("Allow", allow_);
  exchange.sendError(error_);
}

}  // namespace vigil::collector
