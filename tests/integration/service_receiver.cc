#include "tests/integration/service_receiver.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/StreamCopier.h>
#include <Poco/String.h>
#include <Poco/ThreadPool.h>
#include <stdlib.h>

#include <fstream>
#include <set>
#include <stdexcept>

namespace vigil::testing {
namespace {

using Poco::JSON::Object;

// The body as a JSON object; null if it is not one.
Object::Ptr objectOf(const std::string& body) {
  try {
    Poco::JSON::Parser parser;
    return parser.parse(body).extract<Object::Ptr>();
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::string textOf(const Object::Ptr& o, const std::string& name) {
  if (!o || !o->has(name) || o->isNull(name)) return "";
  try {
    return o->getValue<std::string>(name);
  } catch (const std::exception&) {
    return "";
  }
}

std::string pathOf(const std::string& uri) { return uri.substr(0, uri.find('?')); }

void writeFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + path);
}

class Handler final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(ServiceReceiver& receiver) : receiver_(receiver) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    ServiceRequest r;
    r.method = request.getMethod();
    r.uri = request.getURI();
    for (const auto& [name, value] : request) r.headers[Poco::toLower(name)] = value;
    Poco::StreamCopier::copyToString(request.stream(), r.body);
    receiver_.handle(r);
    if (r.answered == 0) return;  // held, then abandoned
    response.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(r.answered));
    response.setContentType(r.answer_body.rfind('{', 0) == 0 ? "application/json" : "text/plain");
    response.sendBuffer(r.answer_body.data(), r.answer_body.size());
  }

 private:
  ServiceReceiver& receiver_;
};

class Factory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(ServiceReceiver& receiver) : receiver_(receiver) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new Handler(receiver_);
  }

 private:
  ServiceReceiver& receiver_;
};

}  // namespace

ServiceReceiver::ServiceReceiver(Service service, const TlsCredentials& credentials,
                                 std::string key)
    : service_(service), key_(std::move(key)) {
  char pattern[] = "/tmp/vigil-service-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = pattern;
  cert_file_ = dir_ + "/server.pem";
  key_file_ = dir_ + "/server.key";
  writeFile(cert_file_, credentials.cert_pem);
  writeFile(key_file_, credentials.key_pem);
}

ServiceReceiver::~ServiceReceiver() {
  stop();
  std::remove(cert_file_.c_str());
  std::remove(key_file_.c_str());
  ::rmdir(dir_.c_str());
}

void ServiceReceiver::start() {
  if (server_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = false;
  }
  Poco::Net::Context::Ptr context =
      new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, key_file_, cert_file_, "",
                             Poco::Net::Context::VERIFY_NONE);
  Poco::Net::SecureServerSocket socket(context);
  socket.bind(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port_)),
              /*reuseAddress=*/true, /*reusePort=*/false);
  socket.listen(64);
  port_ = socket.address().port();
  Poco::AutoPtr<Poco::Net::HTTPServerParams> params(new Poco::Net::HTTPServerParams);
  params->setMaxThreads(16);
  params->setKeepAlive(false);
  pool_ = std::make_unique<Poco::ThreadPool>(2, 16);
  server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), *pool_, socket, params);
  server_->start();
}

void ServiceReceiver::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    released_cv_.notify_all();
  }
  if (!server_) return;
  server_->stopAll(true);
  pool_->joinAll();
  server_.reset();
  pool_.reset();
}

std::string ServiceReceiver::url(const std::string& path) const {
  return "https://127.0.0.1:" + std::to_string(port_) + path;
}

void ServiceReceiver::answerAlways(int status) {
  std::lock_guard<std::mutex> lock(mu_);
  forced_status_ = status;
}

void ServiceReceiver::holdEvery(std::chrono::milliseconds hold) {
  std::lock_guard<std::mutex> lock(mu_);
  hold_ = hold;
}

std::vector<ServiceRequest> ServiceReceiver::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

void ServiceReceiver::handle(ServiceRequest& request) {
  request.at = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mu_);
  const size_t index = requests_.size();
  requests_.push_back(request);
  if (hold_.count() > 0) {
    released_cv_.wait_for(lock, hold_, [&] { return stopping_; });
    return;  // never answered
  }
  if (forced_status_ != 0) {
    request.answered = forced_status_;
    request.answer_body = "{}";
  } else {
    const auto [status, body] = judge(request);
    request.answered = status;
    request.answer_body = body;
  }
  requests_[index].answered = request.answered;
  requests_[index].answer_body = request.answer_body;
}

std::map<int64_t, PsaTicket> ServiceReceiver::tickets() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tickets_;
}

std::pair<int, std::string> ServiceReceiver::judge(const ServiceRequest& r) {
  const auto content_type = r.headers.find("content-type");
  const bool json =
      content_type != r.headers.end() && content_type->second.rfind("application/json", 0) == 0;
  const Object::Ptr body = json ? objectOf(r.body) : nullptr;
  switch (service_) {
    case Service::kSlack: {
      const bool has_blocks = body && body->has("blocks") && body->getArray("blocks") &&
                              body->getArray("blocks")->size() > 0;
      if (r.method != "POST" || !body || (textOf(body, "text").empty() && !has_blocks)) {
        return {400, "invalid_payload"};
      }
      return {200, "ok"};
    }
    case Service::kTeams: {
      if (r.method != "POST" || !body || textOf(body, "type") != "message" ||
          !body->getArray("attachments") || body->getArray("attachments")->size() != 1) {
        return {400, R"({"error":{"code":"InvalidRequestContent"}})"};
      }
      const Object::Ptr attachment = body->getArray("attachments")->getObject(0);
      const Object::Ptr card = attachment ? attachment->getObject("content") : nullptr;
      if (textOf(attachment, "contentType") != "application/vnd.microsoft.card.adaptive" ||
          textOf(card, "type") != "AdaptiveCard") {
        return {400, R"({"error":{"code":"InvalidRequestContent"}})"};
      }
      return {202, ""};
    }
    case Service::kPagerDuty: {
      std::vector<std::string> errors;
      if (r.method != "POST" || pathOf(r.uri) != "/v2/enqueue") return {404, "{}"};
      if (!body) errors.push_back("Event object is invalid");
      const std::string action = textOf(body, "event_action");
      if (textOf(body, "routing_key").size() != 32) errors.push_back("Invalid routing key");
      if (textOf(body, "routing_key") != key_) errors.push_back("Unknown routing key");
      if (action != "trigger" && action != "acknowledge" && action != "resolve") {
        errors.push_back("'event_action' is invalid");
      }
      const std::string dedup = textOf(body, "dedup_key");
      if (dedup.size() > 255 || (action != "trigger" && dedup.empty())) {
        errors.push_back("'dedup_key' is invalid");
      }
      if (action == "trigger") {
        const Object::Ptr payload = body->getObject("payload");
        const std::string summary = textOf(payload, "summary");
        const std::set<std::string> severities = {"critical", "error", "warning", "info"};
        if (summary.empty() || summary.size() > 1024) errors.push_back("'summary' is invalid");
        if (textOf(payload, "source").empty()) errors.push_back("'source' is missing");
        if (severities.count(textOf(payload, "severity")) == 0) {
          errors.push_back("'severity' is invalid");
        }
      }
      if (!errors.empty()) {
        std::string list;
        for (const std::string& e : errors) list += (list.empty() ? "\"" : ",\"") + e + "\"";
        return {400, R"({"status":"invalid event","message":"Event object is invalid","errors":[)" +
                         list + "]}"};
      }
      return {202,
              R"({"status":"success","message":"Event processed","dedup_key":")" + dedup + R"("})"};
    }
    case Service::kConnectWise:
      return connectWise(r);
    case Service::kAutotask:
      return autotask(r);
    case Service::kHaloPsa:
      return haloPsa(r);
    case Service::kOpsgenie: {
      const auto auth = r.headers.find("authorization");
      if (auth == r.headers.end() || auth->second != "GenieKey " + key_) {
        return {401, R"({"message":"Could not authenticate","took":0.0})"};
      }
      const std::string path = pathOf(r.uri);
      const std::string close_suffix = "/close";
      if (r.method == "POST" && path == "/v2/alerts") {
        const std::string message = textOf(body, "message");
        if (!body || message.empty() || message.size() > 130 ||
            textOf(body, "alias").size() > 512) {
          return {422, R"({"message":"Request body is not processable","took":0.0})"};
        }
      } else if (r.method == "POST" && path.rfind("/v2/alerts/", 0) == 0 &&
                 path.size() > close_suffix.size() &&
                 path.compare(path.size() - close_suffix.size(), close_suffix.size(),
                              close_suffix) == 0) {
        if (r.uri.find("identifierType=alias") == std::string::npos) {
          return {422, R"({"message":"identifierType must be alias here","took":0.0})"};
        }
      } else {
        return {404, R"({"message":"Not found","took":0.0})"};
      }
      return {202, R"({"result":"Request will be processed","took":0.01,"requestId":"r-1"})"};
    }
  }
  return {500, ""};
}

namespace {

std::string header(const ServiceRequest& r, const std::string& name) {
  const auto found = r.headers.find(name);
  return found == r.headers.end() ? "" : found->second;
}

int64_t integerOf(const Object::Ptr& o, const std::string& name) {
  if (!o || !o->has(name) || o->isNull(name)) return 0;
  try {
    return o->getValue<int64_t>(name);
  } catch (const std::exception&) {
    return 0;
  }
}

// "/<prefix>/rest" -> "/rest"; empty if the path is not under `prefix`.
std::string under(const std::string& path, const std::string& prefix) {
  return path.rfind(prefix + "/", 0) == 0 ? path.substr(prefix.size()) : "";
}

// The id in ".../{id}" or ".../{id}/<tail>".
int64_t idAfter(const std::string& rest, const std::string& head, const std::string& tail = "") {
  if (rest.rfind(head, 0) != 0) return 0;
  std::string id = rest.substr(head.size());
  if (!tail.empty()) {
    if (id.size() <= tail.size() || id.compare(id.size() - tail.size(), tail.size(), tail) != 0) {
      return 0;
    }
    id.resize(id.size() - tail.size());
  }
  if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos) return 0;
  return std::stoll(id);
}

// A form-encoded body's fields (no '+' or %-escapes beyond what the tests send).
std::map<std::string, std::string> formOf(const std::string& body) {
  std::map<std::string, std::string> fields;
  size_t start = 0;
  while (start <= body.size()) {
    size_t end = body.find('&', start);
    if (end == std::string::npos) end = body.size();
    const std::string pair = body.substr(start, end - start);
    const size_t eq = pair.find('=');
    if (eq != std::string::npos) fields[pair.substr(0, eq)] = pair.substr(eq + 1);
    start = end + 1;
  }
  return fields;
}

}  // namespace

std::pair<int, std::string> ServiceReceiver::connectWise(const ServiceRequest& r) {
  if (header(r, "authorization") != key_ || header(r, "clientid").empty()) {
    return {401, R"({"code":"Unauthorized","message":"Authentication failed."})"};
  }
  const std::string rest = under(pathOf(r.uri), "/v4_6_release/apis/3.0");
  Poco::JSON::Parser parser;
  if (r.method == "POST" && rest == "/service/tickets") {
    const Object::Ptr body = objectOf(r.body);
    const std::string summary = textOf(body, "summary");
    const Object::Ptr board = body ? body->getObject("board") : nullptr;
    const Object::Ptr company = body ? body->getObject("company") : nullptr;
    if (summary.empty() || summary.size() > 100 || integerOf(board, "id") <= 0 ||
        integerOf(company, "id") <= 0) {
      return {400, R"({"code":"InvalidObject","message":"ticket object is invalid"})"};
    }
    PsaTicket t{++next_id_, summary, textOf(body, "initialDescription"),
                "New",      {},      integerOf(company, "id")};
    tickets_[t.id] = t;
    return {201, R"({"id":)" + std::to_string(t.id) + R"(,"summary":"…","status":{"name":"New"}})"};
  }
  if (const int64_t id = idAfter(rest, "/service/tickets/", "/notes"); r.method == "POST" && id) {
    const Object::Ptr body = objectOf(r.body);
    if (tickets_.count(id) == 0) return {404, R"({"code":"NotFound"})"};
    if (textOf(body, "text").empty()) return {400, R"({"code":"InvalidObject"})"};
    tickets_[id].notes.push_back(textOf(body, "text"));
    return {201, R"({"id":)" + std::to_string(++next_id_) + R"(,"ticketId":)" + std::to_string(id) +
                     "}"};
  }
  if (const int64_t id = idAfter(rest, "/service/tickets/"); r.method == "PATCH" && id) {
    if (tickets_.count(id) == 0) return {404, R"({"code":"NotFound"})"};
    try {
      auto ops = parser.parse(r.body).extract<Poco::JSON::Array::Ptr>();
      const Object::Ptr op = ops->getObject(0);
      if (textOf(op, "op") != "replace" || textOf(op, "path") != "status") throw std::exception();
      tickets_[id].status = textOf(op->getObject("value"), "name");
    } catch (const std::exception&) {
      return {400, R"({"code":"InvalidObject","message":"patch is invalid"})"};
    }
    return {200, R"({"id":)" + std::to_string(id) + "}"};
  }
  return {404, R"({"code":"NotFound"})"};
}

std::pair<int, std::string> ServiceReceiver::autotask(const ServiceRequest& r) {
  const std::string presented =
      header(r, "apiintegrationcode") + ":" + header(r, "username") + ":" + header(r, "secret");
  if (presented != key_) return {401, R"({"errors":["Unauthorized"]})"};
  const std::string rest = under(pathOf(r.uri), "/atservicesrest/v1.0");
  const Object::Ptr body = objectOf(r.body);
  if (r.method == "POST" && rest == "/Tickets") {
    const std::string title = textOf(body, "title");
    if (title.empty() || title.size() > 255 || !body->has("companyID") ||
        integerOf(body, "status") <= 0 || integerOf(body, "priority") <= 0) {
      return {500, R"({"errors":["Missing required fields"]})"};
    }
    PsaTicket t{++next_id_, title, textOf(body, "description"),
                "1",        {},    integerOf(body, "companyID")};
    tickets_[t.id] = t;
    return {200, R"({"itemId":)" + std::to_string(t.id) + "}"};
  }
  if (const int64_t id = idAfter(rest, "/Tickets/", "/Notes"); r.method == "POST" && id) {
    if (tickets_.count(id) == 0) return {404, R"({"errors":["Ticket not found"]})"};
    if (textOf(body, "description").empty() || integerOf(body, "noteType") <= 0 ||
        integerOf(body, "publish") <= 0) {
      return {500, R"({"errors":["Missing required fields"]})"};
    }
    tickets_[id].notes.push_back(textOf(body, "description"));
    return {200, R"({"itemId":)" + std::to_string(++next_id_) + "}"};
  }
  if (r.method == "PATCH" && rest == "/Tickets") {
    const int64_t id = integerOf(body, "id");
    if (tickets_.count(id) == 0) return {404, R"({"errors":["Ticket not found"]})"};
    tickets_[id].status = std::to_string(integerOf(body, "status"));
    return {200, R"({"itemId":)" + std::to_string(id) + "}"};
  }
  return {404, R"({"errors":["Not found"]})"};
}

std::pair<int, std::string> ServiceReceiver::haloPsa(const ServiceRequest& r) {
  const std::string path = pathOf(r.uri);
  if (r.method == "POST" && path == "/auth/token") {
    auto form = formOf(r.body);
    if (header(r, "content-type").rfind("application/x-www-form-urlencoded", 0) != 0 ||
        form["grant_type"] != "client_credentials" ||
        form["client_id"] + ":" + form["client_secret"] != key_) {
      return {401, R"({"error":"invalid_client"})"};
    }
    const std::string token = "tok-" + std::to_string(++next_id_);
    tokens_.insert(token);
    return {200, R"({"access_token":")" + token +
                     R"(","token_type":"Bearer","expires_in":3600,"scope":"all"})"};
  }
  const std::string bearer = header(r, "authorization");
  if (bearer.rfind("Bearer ", 0) != 0 || tokens_.count(bearer.substr(7)) == 0) {
    return {401, R"({"error":"unauthorized"})"};
  }
  Poco::JSON::Array::Ptr items;
  try {
    Poco::JSON::Parser parser;
    items = parser.parse(r.body).extract<Poco::JSON::Array::Ptr>();
  } catch (const std::exception&) {
    return {400, R"({"error":"the body must be an array"})"};
  }
  const Object::Ptr item = items && items->size() == 1 ? items->getObject(0) : nullptr;
  if (!item) return {400, R"({"error":"one item expected"})"};
  if (r.method == "POST" && path == "/api/Tickets") {
    if (const int64_t id = integerOf(item, "id"); id > 0) {
      if (tickets_.count(id) == 0) return {404, R"({"error":"not found"})"};
      tickets_[id].status = std::to_string(integerOf(item, "status_id"));
      return {200, R"({"id":)" + std::to_string(id) + "}"};
    }
    if (textOf(item, "summary").empty() || integerOf(item, "client_id") <= 0) {
      return {400, R"({"error":"summary and client_id are required"})"};
    }
    PsaTicket t{++next_id_, textOf(item, "summary"),     textOf(item, "details"), "1",
                {},         integerOf(item, "client_id")};
    tickets_[t.id] = t;
    return {201, R"({"id":)" + std::to_string(t.id) + R"(,"summary":"…"})"};
  }
  if (r.method == "POST" && path == "/api/Actions") {
    const int64_t id = integerOf(item, "ticket_id");
    if (tickets_.count(id) == 0) return {404, R"({"error":"ticket not found"})"};
    if (textOf(item, "note").empty()) return {400, R"({"error":"note is required"})"};
    tickets_[id].notes.push_back(textOf(item, "note"));
    return {201, R"({"id":)" + std::to_string(++next_id_) + R"(,"ticket_id":)" +
                     std::to_string(id) + "}"};
  }
  return {404, R"({"error":"not found"})"};
}

}  // namespace vigil::testing
