#pragma once

// A webhook receiver for integration tests: a Poco HTTPServer on 127.0.0.1 inside the test
// process that checks every request's Standard Webhooks signature against the secret it was
// given (its own HMAC, independent of the collector's signer) and records what arrived, in
// order. It can be stopped (the port then refuses connections) and started again on the same
// port, answer with a chosen status, and hold a request open until released.

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace Poco {
class ThreadPool;
}
namespace Poco::Net {
class HTTPServer;
}

namespace vigil::testing {

struct ReceivedWebhook {
  std::string id;         // webhook-id
  std::string timestamp;  // webhook-timestamp
  std::string signature;  // webhook-signature
  std::string body;
  std::string type;  // the payload's "type"
  bool signature_valid = false;
  bool timestamp_fresh = false;  // within 5 minutes of the receiver's clock
  int answered = 0;              // the status answered (0: held and never answered)
};

class WebhookReceiver {
 public:
  WebhookReceiver();
  ~WebhookReceiver();
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  // Listens on 127.0.0.1: on an ephemeral port the first time, on the same port afterwards.
  void start();
  // Closes the listening socket and ends the server: connections are refused. Releases a held
  // request first.
  void stop();
  int port() const { return port_; }
  std::string url() const;

  // The "whsec_..." secret signatures are checked against.
  void setSecret(const std::string& secret);
  // The status of the next answers (default 204).
  void setStatus(int status);
  // The next request of event `type` (empty: of any type) is recorded, then held open without
  // an answer until release(). (A collector may announce collector.degraded or .recovered at
  // any time; a test that holds its own event names the type.)
  void holdNext(const std::string& type = "");
  // Waits (bounded) until a request is being held.
  bool waitHeld(std::chrono::milliseconds timeout);
  void release();

  std::vector<ReceivedWebhook> received() const;

  // Called by the server's handler threads.
  int handle(ReceivedWebhook delivery);

 private:
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::string key_;  // the decoded secret
  int status_ = 204;
  bool hold_next_ = false;
  std::string hold_type_;  // empty: any
  bool holding_ = false;
  bool released_ = false;
  std::vector<ReceivedWebhook> received_;
  int port_ = 0;
  // The receiver's own threads, so stop() can wait for every handler to finish before the
  // members they use are destroyed.
  std::unique_ptr<Poco::ThreadPool> pool_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

}  // namespace vigil::testing
