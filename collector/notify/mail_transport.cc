#include "collector/notify/mail_transport.h"

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/MailMessage.h>
#include <Poco/Net/MailRecipient.h>
#include <Poco/Net/MediaType.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/PartSource.h>
#include <Poco/Net/SMTPClientSession.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/StringPartSource.h>
#include <Poco/Timespan.h>

#include <algorithm>
#include <cctype>
#include <chrono>

namespace vigil::collector {

namespace failures = webhook_failures;

// The client context: the system's authorities and options_.ca_file's, TLS 1.2 or later, the
// peer's chain and name verified (also for loopback: VERIFY_STRICT).
struct SmtpMailTransport::Tls {
  Poco::Net::Context::Ptr context;
};

namespace {

using SteadyClock = std::chrono::steady_clock;

// SMTPClientSession with the two steps Poco keeps to subclasses: STARTTLS with the server's
// name for the certificate check (Poco's SecureSMTPClientSession knows the name only when it
// connects by itself, which would skip the outbound policy), and the socket's timeouts.
class Submission final : public Poco::Net::SMTPClientSession {
 public:
  explicit Submission(const Poco::Net::StreamSocket& socket) : SMTPClientSession(socket) {}

  // False if the server does not accept STARTTLS; throws if the handshake fails.
  bool startTls(const std::string& host, const Poco::Net::Context::Ptr& context) {
    std::string response;
    if (!isPositiveCompletion(sendCommand("STARTTLS", response))) return false;
    const Poco::Timespan timeout = socket().getReceiveTimeout();
    socket() = Poco::Net::SecureStreamSocket::attach(socket(), host, context);
    setTimeout(timeout);
    return true;
  }

  // The server's EHLO answer (after open()).
  std::string hello(const std::string& name) {
    std::string response;
    login(name, response);
    return response;
  }

  void setOperationTimeout(std::chrono::milliseconds timeout) {
    const Poco::Timespan span(std::max<int64_t>(timeout.count(), 1) * 1000);
    socket().setReceiveTimeout(span);
    socket().setSendTimeout(span);
  }
};

bool offers(const std::string& ehlo, const std::string& word) {
  std::string upper = ehlo;
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return upper.find(word) != std::string::npos;
}

WebhookFailure failure(const char* reason, std::string detail) {
  return WebhookFailure{reason, std::move(detail)};
}

}  // namespace

SmtpMailTransport::SmtpMailTransport(SmtpMailTransportOptions options, const OutboundPolicy& policy)
    : options_(std::move(options)), policy_(policy), tls_(std::make_unique<Tls>()) {
  tls_->context = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "",
                                         options_.ca_file, Poco::Net::Context::VERIFY_STRICT, 9,
                                         /*loadDefaultCAs=*/true);
  tls_->context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
}

SmtpMailTransport::~SmtpMailTransport() = default;

WebhookResult SmtpMailTransport::send(const MailRequest& request) {
  const auto deadline = SteadyClock::now() + options_.timeout;
  // What is left of the attempt's time, at least a millisecond.
  auto remaining = [&] {
    return std::max(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now()),
        std::chrono::milliseconds(1));
  };
  OutboundDestination destination;
  destination.scheme = "smtp";
  destination.host = request.host;
  std::transform(destination.host.begin(), destination.host.end(), destination.host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  destination.numeric_host = IpAddress::parse(destination.host).has_value();
  destination.port = request.port;
  const ScreenedDestination screened = policy_.screen(destination, remaining());
  if (screened.verdict == ScreenedDestination::Verdict::kRefused) {
    return failure(failures::kRefusedByPolicy, screened.detail);
  }
  if (screened.verdict != ScreenedDestination::Verdict::kAllowed) {
    return failure(screened.timed_out ? failures::kTimedOut : failures::kUnresolved,
                   screened.detail);
  }
  Poco::Net::StreamSocket socket;
  std::string connect_errors;
  bool connected = false;
  for (const IpAddress& address : screened.addresses) {
    try {
      socket = Poco::Net::StreamSocket();
      socket.connect(
          Poco::Net::SocketAddress(address.toString(), static_cast<Poco::UInt16>(request.port)),
          Poco::Timespan(remaining().count() * 1000));
      connected = true;
      break;
    } catch (const Poco::Exception& e) {
      connect_errors +=
          (connect_errors.empty() ? "" : "; ") + address.toString() + ": " + e.displayText();
    }
  }
  if (!connected) return failure(failures::kConnectFailed, connect_errors);

  const std::string where = request.host + ":" + std::to_string(request.port);
  try {
    if (request.security == "tls") {
      socket = Poco::Net::SecureStreamSocket::attach(socket, request.host, tls_->context);
    }
    Submission session(socket);
    session.setOperationTimeout(remaining());
    session.open();  // the greeting
    std::string ehlo = session.hello(options_.hello_name);
    if (request.security != "tls") {
      // Never in the clear: a server that does not offer STARTTLS gets nothing.
      if (!offers(ehlo, "STARTTLS") || !session.startTls(request.host, tls_->context)) {
        session.close();
        return failure(mail_failures::kStartTlsUnavailable,
                       where + " does not offer STARTTLS; nothing was sent");
      }
      session.setOperationTimeout(remaining());
      ehlo = session.hello(options_.hello_name);  // again over TLS (RFC 3207)
    }
    if (!request.username.empty()) {
      const auto method = offers(ehlo, "PLAIN") ? Poco::Net::SMTPClientSession::AUTH_PLAIN
                                                : Poco::Net::SMTPClientSession::AUTH_LOGIN;
      try {
        session.setOperationTimeout(remaining());
        session.login(options_.hello_name, method, request.username, request.password);
      } catch (const Poco::Net::SMTPException& e) {
        return failure(mail_failures::kAuthFailed, where + ": " + e.displayText());
      }
    }
    Poco::Net::MailMessage message;
    message.setSender(request.from);
    for (const std::string& to : request.to) {
      message.addRecipient(
          Poco::Net::MailRecipient(Poco::Net::MailRecipient::PRIMARY_RECIPIENT, to));
    }
    message.setSubject(Poco::Net::MailMessage::encodeWord(request.subject, "UTF-8"));
    message.set("Message-ID", "<" + request.message_id + "@vigil>");
    message.set("Auto-Submitted", "auto-generated");  // RFC 3834: no auto-replies, please
    message.setContentType("multipart/alternative");
    message.addContent(
        new Poco::Net::StringPartSource(request.text_body, "text/plain; charset=utf-8"),
        Poco::Net::MailMessage::ENCODING_QUOTED_PRINTABLE);
    message.addContent(
        new Poco::Net::StringPartSource(request.html_body, "text/html; charset=utf-8"),
        Poco::Net::MailMessage::ENCODING_QUOTED_PRINTABLE);
    session.setOperationTimeout(remaining());
    try {
      session.sendMessage(message);
    } catch (const Poco::Net::SMTPException& e) {
      // The server's refusal (its reply code): retried, or given up with the code, like an
      // HTTP error status.
      WebhookResponse refused;
      refused.status = e.code() >= 400 && e.code() <= 599 ? e.code() : 554;
      return refused;
    }
    try {
      session.close();  // QUIT; the message is accepted whatever QUIT gets
    } catch (const Poco::Exception&) {
    }
    WebhookResponse accepted;
    accepted.status = 250;
    return accepted;
  } catch (const Poco::TimeoutException& e) {
    return failure(failures::kTimedOut, where + ": " + e.displayText());
  } catch (const Poco::Net::SSLException& e) {
    return failure(failures::kTlsFailed, where + ": " + e.displayText());
  } catch (const Poco::Exception& e) {
    return failure(failures::kConnectionLost, where + ": " + e.displayText());
  }
}

}  // namespace vigil::collector
