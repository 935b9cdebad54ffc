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

enum class Service { kSlack, kTeams, kPagerDuty, kOpsgenie };

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
  // key (PagerDuty) or API key (Opsgenie) accepted; unused otherwise.
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

  // Called on the server's threads.
  void handle(ServiceRequest& request);

 private:
  // The service's answer to `request`: status and body.
  std::pair<int, std::string> judge(const ServiceRequest& request) const;

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
  int port_ = 0;
  std::unique_ptr<Poco::ThreadPool> pool_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

}  // namespace vigil::testing
