#include "tests/integration/synthetic_agent.h"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

#include "common/clock.h"
#include "common/protocol.h"

namespace vigil::testing {

std::shared_ptr<Poco::Net::HTTPClientSession> SyntheticAgent::makeSession(
    int port, std::chrono::seconds timeout) {
  auto session =
      std::make_shared<Poco::Net::HTTPClientSession>("127.0.0.1", static_cast<Poco::UInt16>(port));
  session->setKeepAlive(true);
  session->setKeepAliveTimeout(Poco::Timespan(0, 500'000));
  session->setTimeout(Poco::Timespan(static_cast<long>(timeout.count()), 0));
  return session;
}

SyntheticAgent::SyntheticAgent(int port, std::chrono::seconds timeout)
    : session_(makeSession(port, timeout)) {}

SyntheticAgent::SyntheticAgent(std::shared_ptr<Poco::Net::HTTPClientSession> session)
    : session_(std::move(session)) {}

SyntheticAgent::~SyntheticAgent() = default;

SyntheticAnswer SyntheticAgent::post(const std::string& path, const std::string& body,
                                     const std::string& signature, int64_t timestamp_ms) {
  const auto start = std::chrono::steady_clock::now();
  SyntheticAnswer answer;
  Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, path,
                                 Poco::Net::HTTPMessage::HTTP_1_1);
  request.setContentType(protocol::kContentType);
  request.setContentLength(static_cast<std::streamsize>(body.size()));
  if (!signature.empty()) {
    request.set(protocol::kHeaderAgentId, id_);
    request.set(protocol::kHeaderTimestamp, std::to_string(timestamp_ms));
    request.set(protocol::kHeaderSignature, signature);
  }
  try {
    session_->sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    std::istream& in = session_->receiveResponse(response);
    Poco::StreamCopier::copyToString(in, answer.body);
    answer.status = static_cast<int>(response.getStatus());
    answer.retry_after = response.get("Retry-After", "");
  } catch (const Poco::Exception& e) {
    answer.transport_error = e.displayText();
    session_->reset();
  } catch (const std::exception& e) {
    answer.transport_error = e.what();
    session_->reset();
  }
  answer.took = std::chrono::steady_clock::now() - start;
  return answer;
}

SyntheticAnswer SyntheticAgent::enroll(const std::string& enroll_token,
                                       const std::string& hostname) {
  protocol::EnrollRequest request;
  request.enroll_token = enroll_token;
  request.facts = {hostname, "linux", "synthetic", "x86_64", "0.1.0"};
  SyntheticAnswer answer = post(protocol::kEnrollPath, protocol::encode(request), "", 0);
  if (answer.status == 201) {
    auto decoded = protocol::decodeEnrollResponse(answer.body);
    if (decoded.ok()) {
      id_ = decoded->agent_id;
      secret_ = decoded->secret;
    }
  }
  return answer;
}

SyntheticAnswer SyntheticAgent::heartbeat() {
  protocol::Heartbeat beat;
  beat.agent_id = id_;
  beat.seq = next_seq_++;
  beat.boot_id = "synthetic-boot";
  beat.uptime_s = 100;
  beat.agent_version = "0.1.0";
  const int64_t now_ms = toUnixMillis(RealClock::instance().wallNow());
  beat.sent_at_ms = now_ms;
  const std::string body = protocol::encode(beat);
  auto signature = protocol::sign(secret_, "POST", protocol::kHeartbeatPath, now_ms, body);
  if (!signature.ok()) {
    SyntheticAnswer failed;
    failed.transport_error = "cannot sign: " + signature.error().message();
    return failed;
  }
  return post(protocol::kHeartbeatPath, body, signature.value(), now_ms);
}

}  // namespace vigil::testing
