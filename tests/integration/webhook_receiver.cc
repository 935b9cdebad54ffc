#include "tests/integration/webhook_receiver.h"

#include <Poco/Base64Decoder.h>
#include <Poco/Base64Encoder.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/StreamCopier.h>
#include <Poco/ThreadPool.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdlib>
#include <ctime>
#include <sstream>
#include <stdexcept>

namespace vigil::testing {
namespace {

std::string base64(const std::string& bytes) {
  std::ostringstream out;
  Poco::Base64Encoder encoder(out);
  encoder.rdbuf()->setLineLength(0);
  encoder << bytes;
  encoder.close();
  return out.str();
}

std::string unbase64(const std::string& text) {
  std::istringstream in(text);
  Poco::Base64Decoder decoder(in);
  return std::string((std::istreambuf_iterator<char>(decoder)), std::istreambuf_iterator<char>());
}

std::string hmacSha256(const std::string& key, const std::string& data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac,
           &len) == nullptr) {
    throw std::runtime_error("HMAC failed");
  }
  return std::string(reinterpret_cast<const char*>(mac), len);
}

// True if one of the space-separated "v1,<base64>" signatures is the expected one.
bool signatureMatches(const std::string& key, const ReceivedWebhook& d) {
  if (key.empty()) return false;
  const std::string expected =
      "v1," + base64(hmacSha256(key, d.id + "." + d.timestamp + "." + d.body));
  std::istringstream parts(d.signature);
  std::string part;
  while (parts >> part) {
    if (part == expected) return true;
  }
  return false;
}

class RecordingHandler final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit RecordingHandler(WebhookReceiver& receiver) : receiver_(receiver) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    ReceivedWebhook d;
    d.id = request.get("webhook-id", "");
    d.timestamp = request.get("webhook-timestamp", "");
    d.signature = request.get("webhook-signature", "");
    Poco::StreamCopier::copyToString(request.stream(), d.body);
    try {
      Poco::JSON::Parser parser;
      auto root = parser.parse(d.body).extract<Poco::JSON::Object::Ptr>();
      d.type = root->getValue<std::string>("type");
    } catch (const Poco::Exception&) {
      d.type = "<unreadable>";
    }
    const int status = receiver_.handle(std::move(d));
    if (status == 0) return;  // held, then abandoned: no answer
    response.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
    response.setContentLength(0);
    response.send();
  }

 private:
  WebhookReceiver& receiver_;
};

class Factory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(WebhookReceiver& receiver) : receiver_(receiver) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new RecordingHandler(receiver_);
  }

 private:
  WebhookReceiver& receiver_;
};

}  // namespace

WebhookReceiver::WebhookReceiver() = default;

WebhookReceiver::~WebhookReceiver() { stop(); }

void WebhookReceiver::start() {
  if (server_) return;
  Poco::Net::ServerSocket socket;
  socket.bind(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port_)),
              /*reuseAddress=*/true, /*reusePort=*/false);
  socket.listen(64);
  port_ = socket.address().port();
  Poco::AutoPtr<Poco::Net::HTTPServerParams> params(new Poco::Net::HTTPServerParams);
  params->setMaxThreads(8);
  params->setKeepAlive(false);
  pool_ = std::make_unique<Poco::ThreadPool>(2, 8);
  server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), *pool_, socket, params);
  server_->start();
}

void WebhookReceiver::stop() {
  release();
  if (!server_) return;
  server_->stopAll(true);
  pool_->joinAll();  // no handler runs past this point
  server_.reset();
  pool_.reset();
}

std::string WebhookReceiver::url() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/hook";
}

void WebhookReceiver::setSecret(const std::string& secret) {
  std::lock_guard<std::mutex> lock(mu_);
  key_ = secret.rfind("whsec_", 0) == 0 ? unbase64(secret.substr(6)) : "";
}

void WebhookReceiver::setStatus(int status) {
  std::lock_guard<std::mutex> lock(mu_);
  status_ = status;
}

void WebhookReceiver::holdNext(const std::string& type) {
  std::lock_guard<std::mutex> lock(mu_);
  hold_next_ = true;
  hold_type_ = type;
  released_ = false;
}

bool WebhookReceiver::waitHeld(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return changed_.wait_for(lock, timeout, [&] { return holding_; });
}

void WebhookReceiver::release() {
  std::lock_guard<std::mutex> lock(mu_);
  released_ = true;
  changed_.notify_all();
}

std::vector<ReceivedWebhook> WebhookReceiver::received() const {
  std::lock_guard<std::mutex> lock(mu_);
  return received_;
}

int WebhookReceiver::handle(ReceivedWebhook delivery) {
  std::unique_lock<std::mutex> lock(mu_);
  delivery.signature_valid = signatureMatches(key_, delivery);
  const long long sent = std::atoll(delivery.timestamp.c_str());
  delivery.timestamp_fresh = std::llabs(static_cast<long long>(std::time(nullptr)) - sent) <= 300;
  const size_t index = received_.size();
  received_.push_back(delivery);
  if (hold_next_ && (hold_type_.empty() || hold_type_ == delivery.type)) {
    hold_next_ = false;
    holding_ = true;
    changed_.notify_all();
    changed_.wait(lock, [&] { return released_; });
    holding_ = false;
    return 0;
  }
  received_[index].answered = status_;
  return status_;
}

}  // namespace vigil::testing
