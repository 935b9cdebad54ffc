#pragma once

// Local stand-ins for the services notification channels reach (docs/notifications.md), for
// integration tests: an HTTPS server on 127.0.0.1 inside the test process, with a certificate
// of the test's authority, that implements the documented request and response subset of one
// service and records every request:
//   Slack incoming webhooks   POST <any path>; JSON with a non-empty "text" or "blocks";
//                             200 "ok", else 400 "invalid_payload".
//   Teams Workflows webhook   POST <any path>; {"type": "message", "attachments": [one
//                             Adaptive Card]}; 202, else 400.
//   PagerDuty Events API v2   POST /v2/enqueue; routing_key of 32 characters, event_action
//                             trigger|acknowledge|resolve, dedup_key at most 255, and for a
//                             trigger payload.summary (at most 1024), source and severity
//                             critical|error|warning|info; 202 {"status": "success", ...,
//                             "dedup_key"}, else 400 {"status": "invalid event", "errors"}.
//   ConnectWise Manage        under /v4_6_release/apis/3.0: "Authorization: Basic" of
//                             company+public:private and a clientId header (else 401);
//                             POST /service/tickets (summary 1..100, board.id, company.id) 201
//                             {"id"}; POST /service/tickets/{id}/notes (text) 201; PATCH
//                             /service/tickets/{id} with a JSON Patch replacing status 200.
//   Autotask                  under /atservicesrest/v1.0: ApiIntegrationcode, UserName and
//                             Secret headers (else 401); POST /Tickets (companyID, title
//                             1..255, status, priority) {"itemId"}; POST /Tickets/{id}/Notes
//                             (title, description, noteType, publish); PATCH /Tickets {id,
//                             status}.
//   HaloPSA                   POST /auth/token (client credentials, form-encoded) {access_token,
//                             expires_in}; then "Authorization: Bearer" (else 401); POST
//                             /api/Tickets [one ticket: new (summary, client_id) 201 or
//                             {id, status_id} 200]; POST /api/Actions [{ticket_id, note}] 201.
//   Opsgenie Alert API        "Authorization: GenieKey <the key given>" (else 401);
//                             POST /v2/alerts with "message" (1 to 130) and "alias" (at most
//                             512); POST /v2/alerts/{alias}/close?identifierType=alias; 202
//                             {"result": "Request will be processed", "requestId"}, else 422.
// Each can instead answer a fixed status, or hold every request unanswered (a tarpit), and be
// stopped (its port then refuses connections).

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "tests/integration/fake_collector.h"

namespace Poco {
class ThreadPool;
}
namespace Poco::Net {
class HTTPServer;
}

namespace vigil::testing {

enum class Service { kSlack, kTeams, kPagerDuty, kOpsgenie, kConnectWise, kAutotask, kHaloPsa };

// A ticket as a PSA stand-in keeps it.
struct PsaTicket {
  int64_t id = 0;
  std::string summary;
  std::string description;
  std::string status;  // "New", then the closing status as sent
  std::vector<std::string> notes;
  int64_t company = 0;
};

struct ServiceRequest {
  std::string method;
  std::string uri;                             // path and query
  std::map<std::string, std::string> headers;  // names lower-case
  std::string body;
  int answered = 0;  // 0: held, never answered
  std::string answer_body;
  std::chrono::steady_clock::time_point at;
};

class ServiceReceiver {
 public:
  // `credentials`: the server certificate (a TestCertificateAuthority's). `key`: the routing
  // key (PagerDuty), API key (Opsgenie) or, for the PSAs, what authenticates: ConnectWise the
  // whole Authorization header value, Autotask "code:username:secret", HaloPSA
  // "client_id:client_secret".
  ServiceReceiver(Service service, const TlsCredentials& credentials, std::string key = "");
  ~ServiceReceiver();
  ServiceReceiver(const ServiceReceiver&) = delete;
  ServiceReceiver& operator=(const ServiceReceiver&) = delete;

  void start();  // on an ephemeral port the first time, the same port afterwards
  void stop();   // releases held requests first
  int port() const { return port_; }
  // "https://127.0.0.1:<port>" + path.
  std::string url(const std::string& path = "") const;

  // Every answer is `status` (0: the service's own behaviour again).
  void answerAlways(int status);
  // Every request is held unanswered until stop() or `hold` has passed.
  void holdEvery(std::chrono::milliseconds hold);

  std::vector<ServiceRequest> requests() const;
  // The PSAs' tickets, by id.
  std::map<int64_t, PsaTicket> tickets() const;

  // Called on the server's threads.
  void handle(ServiceRequest& request);

 private:
  // The service's answer to `request`: status and body. The PSAs keep tickets.
  std::pair<int, std::string> judge(const ServiceRequest& request);
  std::pair<int, std::string> connectWise(const ServiceRequest& request);
  std::pair<int, std::string> autotask(const ServiceRequest& request);
  std::pair<int, std::string> haloPsa(const ServiceRequest& request);

  const Service service_;
  const std::string key_;
  std::string cert_file_, key_file_;
  std::string dir_;
  mutable std::mutex mu_;
  std::condition_variable released_cv_;
  bool stopping_ = false;
  int forced_status_ = 0;
  std::chrono::milliseconds hold_{0};
  std::vector<ServiceRequest> requests_;
  std::map<int64_t, PsaTicket> tickets_;
  int64_t next_id_ = 4700;
  std::set<std::string> tokens_;  // HaloPSA's issued bearer tokens
  int port_ = 0;
  std::unique_ptr<Poco::ThreadPool> pool_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

}  // namespace vigil::testing
