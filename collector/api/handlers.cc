#include "collector/api/handlers.h"

#include <Poco/Exception.h>
#include <Poco/URI.h>

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

// The query parameter `name`, if present (the last one wins).
std::optional<std::string> queryParameter(const Poco::URI::QueryParameters& params,
                                          const std::string& name) {
  std::optional<std::string> value;
  for (const auto& [key, v] : params) {
    if (key == name) value = v;
  }
  return value;
}

// Sends a JSON document as 200, or the error.
void sendJsonResult(HttpExchange& exchange, const ApiResult<std::string>& result) {
  if (!result.ok()) {
    exchange.sendError(result.error());
    return;
  }
  exchange.sendJson(200, result.value());
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

void AdminHandler::handle(HttpExchange& exchange) {
  if (!services_.admin_auth.authenticate(exchange.header("Authorization"))) {
    exchange.sendError(ApiError{401, errors::kUnauthorized,
                                "a valid admin token is required (Authorization: Bearer <token>)",
                                std::nullopt});
    return;
  }
  handleAuthenticated(exchange);
}

void ListAgentsHandler::handleAuthenticated(HttpExchange& exchange) {
  Poco::URI::QueryParameters params;
  try {
    params = Poco::URI(exchange.request().getURI()).getQueryParameters();
  } catch (const Poco::Exception&) {
    exchange.sendError(
        ApiError{400, errors::kInvalidField, "the query string is malformed", std::nullopt});
    return;
  }
  sendJsonResult(exchange, services_.agents.listAgentsJson(queryParameter(params, "limit"),
                                                           queryParameter(params, "cursor")));
}

void GetAgentHandler::handleAuthenticated(HttpExchange& exchange) {
  exchange.setAgentId(agent_id_);
  sendJsonResult(exchange, services_.agents.agentJson(agent_id_));
}

void HealthHandler::handleAuthenticated(HttpExchange& exchange) {
  sendJsonResult(exchange, services_.agents.healthJson());
}

void LivezHandler::handle(HttpExchange& exchange) { exchange.sendJson(200, statusJson("ok")); }

void ReadyzHandler::handle(HttpExchange& exchange) {
  Status ready = services_.readiness.check();
  if (ready.ok()) {
    exchange.sendJson(200, statusJson("ok"));
  } else {
    services_.logger.warning("not ready: " + ready.message());
    exchange.sendJson(503, statusJson("unavailable", ready.message()));
  }
}

void ErrorHandler::handle(HttpExchange& exchange) {
  if (!allow_.empty()) exchange.response().set("Allow", allow_);
  exchange.sendError(error_);
}

}  // namespace vigil::collector
