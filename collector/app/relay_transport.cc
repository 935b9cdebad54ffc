#include "collector/app/relay_transport.h"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <sstream>

#include "common/protocol.h"

namespace vigil::collector {
namespace {

const Poco::Timespan kConnectTimeout(1, 0);
const Poco::Timespan kAnswerTimeout(2, 0);
const Poco::Timespan kKeepAlive(30, 0);

}  // namespace

RelayTransport::RelayTransport(const std::string& ca_file)
    : tls_(new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "", ca_file,
                                  Poco::Net::Context::VERIFY_RELAXED, 9,
                                  /*loadDefaultCAs=*/true)) {}

Poco::Net::HTTPClientSession& RelayTransport::sessionFor(const std::string& url) {
  auto& session = sessions_[url];
  if (!session) {
    const Poco::URI uri(url);
    if (uri.getScheme() == "https") {
      session = std::make_unique<Poco::Net::HTTPSClientSession>(uri.getHost(), uri.getPort(), tls_);
    } else {
      session = std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
    }
    session->setTimeout(kConnectTimeout, kAnswerTimeout, kAnswerTimeout);
    session->setKeepAlive(true);
    session->setKeepAliveTimeout(kKeepAlive);
  }
  return *session;
}

Result<RelayReply> RelayTransport::send(const EvidenceRouter::Outgoing& batch) {
  // A kept-alive connection the other collector closed while idle fails at its next use: that
  // is not the collector being unreachable, so a reused connection gets one fresh try.
  const bool reused = sessions_.count(batch.to.url) > 0;
  Result<RelayReply> sent = sendOnce(batch);
  if (!sent.ok() && reused && sent.error().code() == StatusCode::kUnavailable) {
    sent = sendOnce(batch);
  }
  return sent;
}

Result<RelayReply> RelayTransport::sendOnce(const EvidenceRouter::Outgoing& batch) {
  try {
    Poco::Net::HTTPClientSession& session = sessionFor(batch.to.url);
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, protocol::kClusterRelayPath,
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    request.setContentType(protocol::kContentType);
    request.setContentLength(static_cast<std::streamsize>(batch.body.size()));
    request.set(protocol::kHeaderClusterSignature, batch.signature);
    request.setKeepAlive(true);
    session.sendRequest(request) << batch.body;
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    std::string body;
    Poco::StreamCopier::copyToString(in, body);
    if (response.getStatus() != Poco::Net::HTTPResponse::HTTP_OK) {
      return Status::failedPrecondition(batch.to.node + " answered HTTP " +
                                        std::to_string(static_cast<int>(response.getStatus())) +
                                        ": " + body.substr(0, 200));
    }
    return decodeRelayReply(body);
  } catch (const Poco::Exception& e) {
    sessions_.erase(batch.to.url);  // a fresh connection next time
    return Status::unavailable(batch.to.node + " at " + batch.to.url + ": " + e.displayText());
  } catch (const std::exception& e) {
    sessions_.erase(batch.to.url);
    return Status::unavailable(batch.to.node + ": " + e.what());
  }
}

}  // namespace vigil::collector
