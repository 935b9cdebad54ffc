#define BOOST_TEST_MODULE integration_channels
// Notification channels end to end (docs/notifications.md): a real collector and a real agent;
// Slack, Microsoft Teams, PagerDuty and Opsgenie are local HTTPS stand-ins in this process
// (service_receiver.h) that check each service's documented request subset and answer as the
// service does. The collector trusts their certificate authority through webhooks.caFile,
// and reaches loopback through outbound.allowedNetworks, as an operator would allow it.
//   - An agent dies and comes back: each service gets the alert in its own terms, PagerDuty a
//     trigger and a resolve under one dedup key, Opsgenie a create and a close by alias.
//   - Dead destinations (a refused port, one answering 500, one that never answers) delay no
//     other destination's messages: measured with the shipped delivery defaults.
#include <Poco/Base64Encoder.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <csignal>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/fake_collector.h"
#include "tests/integration/harness.h"
#include "tests/integration/service_receiver.h"

using namespace vigil::testing;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

namespace {

const std::string kRoutingKey = "R0UTINGKEY0123456789abcdefABCDEF";  // 32 characters
const std::string kGenieKey = "0f1e2d3c-genie-key";

std::map<std::string, std::string> auth(const Collector& c) {
  return {{"Authorization", "Bearer " + c.adminToken()}};
}

// The collector's settings: `more` over trust in the test authority and loopback allowed.
std::map<std::string, std::string> settings(const std::string& ca_file,
                                            std::map<std::string, std::string> more = {}) {
  more["webhooks.caFile"] = ca_file;
  more["outbound.allowedNetworks"] = "127.0.0.0/8";
  return more;
}

std::map<std::string, std::string> fastPresence() {
  return {{"heartbeat.intervalSeconds", "1"}, {"presence.confirmationWindowSeconds", "1"},
          {"presence.tickIntervalMs", "100"}, {"store.flushIntervalMs", "200"},
          {"beacon.intervalSeconds", "1"},    {"webhooks.pollIntervalMs", "100"},
          {"webhooks.retryInitialMs", "200"}, {"webhooks.retryMaxMs", "1000"}};
}

int64_t defaultTenantId(const Collector& c) {
  HttpResponse r = c.adminGet("/api/v1/tenants");
  BOOST_REQUIRE_MESSAGE(r.status == 200, "GET /api/v1/tenants: " << r.status << " " << r.body);
  auto item = r.item("name", "default");
  BOOST_REQUIRE(item);
  return item->getValue<int64_t>("id");
}

// Creates a channel of the default tenant; its id.
int64_t createChannel(const Collector& c, const std::string& kind, const std::string& members) {
  const std::string body = R"({"tenant_id": )" + std::to_string(defaultTenantId(c)) +
                           R"(, "kind": ")" + kind + R"(", )" + members + "}";
  HttpResponse r = httpRequest(c.port(), "POST", "/api/v1/channels", auth(c), body);
  BOOST_REQUIRE_MESSAGE(r.status == 201,
                        "POST /api/v1/channels (" << kind << "): " << r.status << " " << r.body);
  return r.json()->getValue<int64_t>("id");
}

std::string sendTest(const Collector& c, int64_t channel_id) {
  HttpResponse r = httpRequest(c.port(), "POST",
                               "/api/v1/channels/" + std::to_string(channel_id) + "/test", auth(c));
  BOOST_REQUIRE_MESSAGE(r.status == 202, "POST .../test: " << r.status << " " << r.body);
  return r.json()->getValue<std::string>("message_id");
}

// The states of the channel's deliveries, newest first.
std::vector<std::string> deliveryStates(const Collector& c, int64_t channel_id) {
  HttpResponse r = c.adminGet("/api/v1/channels/" + std::to_string(channel_id) + "/deliveries");
  std::vector<std::string> states;
  if (r.status != 200) return states;
  auto items = r.json()->getArray("items");
  for (size_t i = 0; i < items->size(); ++i) {
    states.push_back(items->getObject(static_cast<unsigned>(i))->getValue<std::string>("state"));
  }
  return states;
}

Poco::JSON::Object::Ptr json(const std::string& body) {
  Poco::JSON::Parser parser;
  return parser.parse(body).extract<Poco::JSON::Object::Ptr>();
}

std::string statusOf(const Collector& c, const std::string& id) {
  auto a = c.agent(id);
  return a ? a->getValue<std::string>("status") : "";
}

// Starts `agent` and waits until the collector has it ONLINE; its id.
std::string startOnline(Agent& agent, const Collector& collector) {
  agent.start();
  std::string agent_id;
  BOOST_REQUIRE(eventually([&] { return !(agent_id = agent.agentId()).empty(); }, 20s));
  BOOST_REQUIRE(eventually([&] { return statusOf(collector, agent_id) == "ONLINE"; }, 20s));
  return agent_id;
}

// Requests the receiver answered with a 2xx.
size_t accepted(const ServiceReceiver& r) {
  size_t n = 0;
  for (const ServiceRequest& q : r.requests()) n += q.answered >= 200 && q.answered < 300;
  return n;
}

std::string base64(const std::string& text) {
  std::ostringstream out;
  Poco::Base64Encoder encoder(out);
  encoder.rdbuf()->setLineLength(0);
  encoder << text;
  encoder.close();
  return out.str();
}

struct Authority {
  TempDir tmp;
  TestCertificateAuthority ca;
  TlsCredentials server = ca.issueLoopbackServer();
  std::string ca_file = tmp.write("ca.pem", ca.certPem()).string();
};

}  // namespace

namespace {

// Debian's aiosmtpd as a mail provider's submission port: STARTTLS required, then AUTH.
class SmtpServer {
 public:
  SmtpServer(const TempDir& tmp, const std::string& name, const TlsCredentials& credentials,
             bool starttls = true)
      : out_(tmp.sub(name + "-received.jsonl")), log_(tmp.sub(name + "-server.log")) {
    const std::string cert = tmp.write(name + "-cert.pem", credentials.cert_pem).string();
    const std::string key = tmp.write(name + "-key.pem", credentials.key_pem).string();
    std::vector<std::string> args = {
        VIGIL_SMTP_SERVER_SCRIPT, "--cert",     cert,        "--key", key, "--user",
        "vigil@msp.example",      "--password", "m4il-PASS", "--out", out_};
    if (!starttls) args.push_back("--no-starttls");
    process_ = std::make_unique<ChildProcess>("/usr/bin/python3", args, log_);
    BOOST_REQUIRE_MESSAGE(eventually(
                              [&] {
                                const std::string log = this->log();
                                const size_t at = log.find("READY ");
                                if (at == std::string::npos) return false;
                                port_ = std::stoi(log.substr(at + 6));
                                return true;
                              },
                              20s),
                          "the SMTP server did not start: " << log());
  }
  ~SmtpServer() { process_->signal(SIGTERM); }
  int port() const { return port_; }
  // The messages it accepted, one JSON object each.
  std::vector<Poco::JSON::Object::Ptr> received() const { return records("message"); }
  // The authentication attempts it saw.
  std::vector<Poco::JSON::Object::Ptr> authAttempts() const { return records("auth"); }
  std::string log() const {
    std::ifstream in(log_);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

 private:
  std::vector<Poco::JSON::Object::Ptr> records(const std::string& event) const {
    std::vector<Poco::JSON::Object::Ptr> out;
    std::ifstream in(out_);
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      auto record = json(line);
      if (record->getValue<std::string>("event") == event) out.push_back(record);
    }
    return out;
  }

  std::string out_, log_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

std::string emailMembers(int port, const std::string& password,
                         const std::string& events = R"(["alert.opened"])") {
  return R"("settings": {"smtp_host": "127.0.0.1", "smtp_port": )" + std::to_string(port) +
         R"(, "username": "vigil@msp.example", "from": "vigil@msp.example",)"
         R"( "to": ["ops@msp.example", "tech@msp.example"]}, "events": )" +
         events + R"(, "credentials": {"password": ")" + password + R"("})";
}

// The channel's newest delivery.
Poco::JSON::Object::Ptr newestDelivery(const Collector& c, int64_t channel_id) {
  HttpResponse r = c.adminGet("/api/v1/channels/" + std::to_string(channel_id) + "/deliveries");
  if (r.status != 200) return nullptr;
  auto items = r.json()->getArray("items");
  return items->size() > 0 ? items->getObject(0) : nullptr;
}

std::string lastErrorOf(const Poco::JSON::Object::Ptr& d) {
  return d && !d->isNull("last_error") ? d->getValue<std::string>("last_error") : "";
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_service_hears_of_an_outage_in_its_own_terms_and_of_its_end) {
  Authority authority;
  ServiceReceiver slack(Service::kSlack, authority.server);
  ServiceReceiver teams(Service::kTeams, authority.server);
  ServiceReceiver pagerduty(Service::kPagerDuty, authority.server, kRoutingKey);
  ServiceReceiver opsgenie(Service::kOpsgenie, authority.server, kGenieKey);
  for (ServiceReceiver* r : {&slack, &teams, &pagerduty, &opsgenie}) r->start();

  TempDir tmp;
  SmtpServer smtp(tmp, "smtp", authority.server);
  Collector collector(tmp.sub("collector"), settings(authority.ca_file, fastPresence()));
  collector.start();
  const int64_t email_id = createChannel(
      collector, "email",
      emailMembers(smtp.port(), "m4il-PASS", R"(["alert.opened", "alert.resolved"])"));
  const std::string slack_url = slack.url("/services/T0001/B0001/SLACKSECRET");
  const std::string teams_url =
      teams.url("/workflows/w1/triggers/manual/paths/invoke?sig=TEAMSSIG");
  const int64_t slack_id = createChannel(
      collector, "slack", R"("credentials": {"webhook_url": ")" + slack_url + R"("})");
  const int64_t teams_id = createChannel(
      collector, "teams", R"("credentials": {"webhook_url": ")" + teams_url + R"("})");
  const int64_t pagerduty_id = createChannel(
      collector, "pagerduty",
      R"("credentials": {"routing_key": ")" + kRoutingKey + R"("}, "settings": {"api_url": ")" +
          pagerduty.url("/v2/enqueue") + R"("}, "events": ["alert.opened", "alert.resolved"])");
  const int64_t opsgenie_id = createChannel(
      collector, "opsgenie",
      R"("credentials": {"api_key": ")" + kGenieKey + R"("}, "settings": {"api_url": ")" +
          opsgenie.url() + R"("}, "events": ["alert.opened", "alert.resolved"])");
  const std::vector<std::string> only_alerts = {"alert.opened", "alert.resolved"};
  for (int64_t id : {slack_id, teams_id}) {
    HttpResponse r =
        httpRequest(collector.port(), "PATCH", "/api/v1/channels/" + std::to_string(id),
                    auth(collector), R"({"events": ["alert.opened", "alert.resolved"]})");
    BOOST_REQUIRE_EQUAL(r.status, 200);
  }

  Agent agent(tmp.sub("agent"), collector.port(), collector.enrollToken());
  const std::string agent_id = startOnline(agent, collector);
  agent.kill();
  auto each_accepted = [&](size_t n) {
    return accepted(slack) >= n && accepted(teams) >= n && accepted(pagerduty) >= n &&
           accepted(opsgenie) >= n && smtp.received().size() >= n;
  };
  BOOST_REQUIRE_MESSAGE(eventually([&] { return each_accepted(1); }, 40s),
                        "not every service heard of the outage; collector log:\n"
                            << logTail(collector.logPath()));
  agent.start();
  BOOST_REQUIRE_MESSAGE(eventually([&] { return each_accepted(2); }, 40s),
                        "not every service heard of the end; collector log:\n"
                            << logTail(collector.logPath()));
  agent.stop();

  // Slack: the outage, then its end, each naming the host; every request was accepted.
  const auto slack_requests = slack.requests();
  BOOST_REQUIRE(slack_requests.size() == 2u);
  BOOST_TEST(slack_requests[0].uri == "/services/T0001/B0001/SLACKSECRET");
  BOOST_TEST(json(slack_requests[0].body)->getValue<std::string>("text").rfind("Offline: ", 0) ==
             0u);
  BOOST_TEST(json(slack_requests[1].body)->getValue<std::string>("text").rfind("Resolved: ", 0) ==
             0u);
  // Teams: two Adaptive Cards, both accepted (the stand-in checked their form).
  BOOST_TEST(teams.requests().size() == 2u);
  BOOST_TEST(accepted(teams) == 2u);
  BOOST_TEST(teams.requests()[0].uri.find("sig=TEAMSSIG") != std::string::npos);
  // PagerDuty: trigger, then resolve, under one dedup key.
  const auto pd = pagerduty.requests();
  BOOST_REQUIRE(pd.size() == 2u);
  const auto trigger = json(pd[0].body);
  const auto resolve = json(pd[1].body);
  BOOST_TEST(trigger->getValue<std::string>("event_action") == "trigger");
  BOOST_TEST(resolve->getValue<std::string>("event_action") == "resolve");
  BOOST_TEST(trigger->getValue<std::string>("dedup_key").rfind("vigil-alert-", 0) == 0u);
  BOOST_TEST(trigger->getValue<std::string>("dedup_key") ==
             resolve->getValue<std::string>("dedup_key"));
  BOOST_TEST(trigger->getObject("payload")->getValue<std::string>("component") == agent_id);
  BOOST_TEST(pd[0].answered == 202);
  BOOST_TEST(pd[1].answered == 202);
  // Opsgenie: create, then close by the same alias, with the key.
  const auto og = opsgenie.requests();
  BOOST_REQUIRE(og.size() == 2u);
  const std::string alias = json(og[0].body)->getValue<std::string>("alias");
  BOOST_TEST(og[0].uri == "/v2/alerts");
  BOOST_TEST(og[1].uri == "/v2/alerts/" + alias + "/close?identifierType=alias");
  BOOST_TEST(og[0].headers.at("authorization") == "GenieKey " + kGenieKey);
  BOOST_TEST(og[1].answered == 202);
  // Email: the outage and its end, with what Vigil knows, in both parts.
  const auto mails = smtp.received();
  BOOST_REQUIRE(mails.size() == 2u);
  const std::string opened_mail = mails[0]->getValue<std::string>("data");
  BOOST_TEST(opened_mail.find("Subject: [Vigil] Offline: ") != std::string::npos);
  BOOST_TEST(opened_mail.find("Last heartbeat: ") != std::string::npos);
  BOOST_TEST(mails[1]->getValue<std::string>("data").find("Subject: [Vigil] Resolved: ") !=
             std::string::npos);
  // Every delivery is recorded delivered.
  for (int64_t id : {email_id, slack_id, teams_id, pagerduty_id, opsgenie_id}) {
    BOOST_TEST(
        (deliveryStates(collector, id) == std::vector<std::string>{"delivered", "delivered"}),
        "channel " << id);
  }
  // No credential reached the collector's log.
  const std::string log = readFile(collector.logPath());
  for (const std::string& secret :
       {std::string("SLACKSECRET"), std::string("TEAMSSIG"), kRoutingKey, kGenieKey}) {
    BOOST_TEST(log.find(secret) == std::string::npos, secret << " is in the log");
  }
}

// A refused port, a receiver answering 500 and one that never answers (held 30 s, past the
// attempt timeout of 15 s) are three channels of the tenant; a fourth, healthy, destination's
// test messages arrive as fast as when it is alone. The shipped delivery defaults.
BOOST_AUTO_TEST_CASE(dead_destinations_delay_no_other_destinations_messages) {
  Authority authority;
  ServiceReceiver refused(Service::kSlack, authority.server);
  ServiceReceiver failing(Service::kSlack, authority.server);
  ServiceReceiver hanging(Service::kSlack, authority.server);
  ServiceReceiver healthy(Service::kPagerDuty, authority.server, kRoutingKey);
  for (ServiceReceiver* r : {&refused, &failing, &hanging, &healthy}) r->start();
  refused.stop();  // its port now refuses connections
  failing.answerAlways(500);
  hanging.holdEvery(30s);

  TempDir tmp;
  Collector collector(tmp.sub("collector"), settings(authority.ca_file));
  collector.start();
  const int64_t healthy_id =
      createChannel(collector, "pagerduty",
                    R"("credentials": {"routing_key": ")" + kRoutingKey +
                        R"("}, "settings": {"api_url": ")" + healthy.url("/v2/enqueue") + R"("})");

  // Seconds from the test's request to the message's arrival at the healthy destination.
  auto round_trip = [&]() {
    const size_t before = healthy.requests().size();
    const auto sent = SteadyClock::now();
    sendTest(collector, healthy_id);
    BOOST_REQUIRE(eventually([&] { return healthy.requests().size() > before; }, 20s));
    return std::chrono::duration<double>(healthy.requests()[before].at - sent).count();
  };
  std::vector<double> alone;
  for (int i = 0; i < 5; ++i) alone.push_back(round_trip());

  std::vector<int64_t> dead;
  for (ServiceReceiver* r : {&refused, &failing, &hanging}) {
    dead.push_back(
        createChannel(collector, "slack",
                      R"("credentials": {"webhook_url": ")" + r->url("/services/x") + R"("})"));
  }
  // One message a second for 12 s: past the first retries of the refused and failing
  // destinations (5 s, then 10 s later) and within the held one's attempt (15 s).
  std::vector<double> beside_dead;
  for (int i = 0; i < 12; ++i) {
    const auto round_start = SteadyClock::now();
    for (int64_t id : dead) sendTest(collector, id);
    beside_dead.push_back(round_trip());
    std::this_thread::sleep_until(round_start + 1s);
  }
  // The dead destinations were being tried meanwhile: a held request, 500s.
  BOOST_TEST(!hanging.requests().empty());
  BOOST_TEST(!failing.requests().empty());
  BOOST_TEST(failing.requests()[0].answered == 500);
  BOOST_TEST(deliveryStates(collector, dead[0]).front() == "pending");

  const double alone_max = *std::max_element(alone.begin(), alone.end());
  const double dead_max = *std::max_element(beside_dead.begin(), beside_dead.end());
  BOOST_TEST_MESSAGE("healthy destination, alone: max " << alone_max << " s over " << alone.size()
                                                        << " messages");
  BOOST_TEST_MESSAGE("healthy destination, beside 3 dead ones: max "
                     << dead_max << " s over " << beside_dead.size() << " messages");
  // Alone, a message takes a few milliseconds (the dispatcher is woken at once). Beside the
  // dead destinations no message waits for a worker, nor for any dead attempt's timeout
  // (15 s): well under one second, even on a loaded machine.
  BOOST_TEST(dead_max < 1.0);
  hanging.stop();
}

// An email channel sends through a submission server that requires STARTTLS and AUTH: the
// message arrives encrypted, authenticated, to every recipient, with a plain-text and an HTML
// part and a Message-ID that stays the same across retries. A wrong password is reported as
// such and nothing is sent; a server without STARTTLS gets nothing, not even the password.
BOOST_AUTO_TEST_CASE(email_goes_out_over_starttls_with_authentication_or_not_at_all) {
  Authority authority;
  TempDir tmp;
  SmtpServer smtp(tmp, "smtp", authority.server);
  SmtpServer cleartext(tmp, "smtp-cleartext", authority.server, /*starttls=*/false);
  Collector collector(tmp.sub("collector"), settings(authority.ca_file, fastPresence()));
  collector.start();

  const int64_t email_id =
      createChannel(collector, "email", emailMembers(smtp.port(), "m4il-PASS"));
  const std::string message_id = sendTest(collector, email_id);
  BOOST_REQUIRE_MESSAGE(eventually([&] { return !smtp.received().empty(); }, 30s),
                        "no email arrived; server log:\n"
                            << smtp.log() << "\ncollector log:\n"
                            << logTail(collector.logPath()));
  const auto mail = smtp.received()[0];
  BOOST_TEST(mail->getValue<bool>("tls"));
  BOOST_TEST(mail->getValue<std::string>("login") == "vigil@msp.example");
  BOOST_TEST(mail->getValue<std::string>("mail_from") == "vigil@msp.example");
  BOOST_TEST(mail->getArray("rcpt_tos")->size() == 2u);
  const std::string data = mail->getValue<std::string>("data");
  BOOST_TEST(data.find("Subject: [Vigil] Vigil test notification") != std::string::npos);
  BOOST_TEST(data.find("Message-ID: <" + message_id + "@vigil>") != std::string::npos);
  BOOST_TEST(data.find("multipart/alternative") != std::string::npos);
  BOOST_TEST(data.find("text/plain") != std::string::npos);
  BOOST_TEST(data.find("text/html") != std::string::npos);
  BOOST_TEST(data.find("Auto-Submitted: auto-generated") != std::string::npos);
  BOOST_REQUIRE(eventually(
      [&] {
        auto d = newestDelivery(collector, email_id);
        return d && d->getValue<std::string>("state") == "delivered";
      },
      10s));
  BOOST_TEST(newestDelivery(collector, email_id)->getValue<int>("last_status") == 250);

  // A wrong password: refused by the server, reported, retried; nothing delivered.
  const int64_t wrong_id = createChannel(collector, "email", emailMembers(smtp.port(), "wrong"));
  sendTest(collector, wrong_id);
  BOOST_REQUIRE(eventually(
      [&] { return lastErrorOf(newestDelivery(collector, wrong_id)) == "smtp_auth_failed"; }, 20s));
  BOOST_TEST(newestDelivery(collector, wrong_id)->getValue<std::string>("state") == "pending");
  BOOST_TEST(smtp.received().size() == 1u);
  // Every login the server saw was over TLS.
  for (const auto& attempt : smtp.authAttempts()) BOOST_TEST(attempt->getValue<bool>("tls"));

  // No STARTTLS offered: nothing is sent, not even the login.
  const int64_t clear_id =
      createChannel(collector, "email", emailMembers(cleartext.port(), "m4il-PASS"));
  sendTest(collector, clear_id);
  BOOST_REQUIRE(eventually(
      [&] { return lastErrorOf(newestDelivery(collector, clear_id)) == "starttls_unavailable"; },
      20s));
  BOOST_TEST(cleartext.received().empty());
  BOOST_TEST(cleartext.authAttempts().empty());
  BOOST_TEST(readFile(collector.logPath()).find("m4il-PASS") == std::string::npos);
}

// PSA tickets: ConnectWise Manage, Autotask and HaloPSA stand-ins keep the tickets the
// collector opens. An agent's outage opens one ticket in each, on the company, client and
// board the channel names; its end adds a note saying so and closes that ticket, and no
// second ticket is opened. HaloPSA's token comes from its client credentials grant.
BOOST_AUTO_TEST_CASE(an_outage_opens_one_psa_ticket_and_its_end_notes_and_closes_it) {
  Authority authority;
  ServiceReceiver connectwise(Service::kConnectWise, authority.server,
                              "Basic " + base64("acme+pub-k3y:PRIV-K3Y"));
  ServiceReceiver autotask(Service::kAutotask, authority.server,
                           "AT-CODE:api@msp.example:AT-S3CRET");
  ServiceReceiver halo(Service::kHaloPsa, authority.server, "vigil-app:HALO-S3CRET");
  for (ServiceReceiver* r : {&connectwise, &autotask, &halo}) r->start();

  TempDir tmp;
  Collector collector(tmp.sub("collector"), settings(authority.ca_file, fastPresence()));
  collector.start();
  const int64_t cw_id =
      createChannel(collector, "connectwise",
                    R"("settings": {"api_url": ")" + connectwise.url("/v4_6_release/apis/3.0") +
                        R"(", "company_id": 250, "board_id": 1, "closed_status": "Completed"
},)"
                        R"( "credentials": {"company": "acme", "public_key": "pub-k3y",)"
                        R"( "private_key": "PRIV-K3Y", "client_id": "0b1c2d3e-vigil"})");
  const int64_t at_id = createChannel(
      collector, "autotask",
      R"("settings": {"api_url": ")" + autotask.url("/atservicesrest/v1.0") +
          R"(", "company_id": 0, "queue_id": 8},)"
          R"( "credentials": {"integration_code": "AT-CODE", "username": "api@msp.example",)"
          R"( "secret": "AT-S3CRET"})");
  const int64_t halo_id = createChannel(
      collector, "halopsa",
      R"("settings": {"api_url": ")" + halo.url("/api") +
          R"(", "client_id": 12},)"
          R"( "credentials": {"oauth_client_id": "vigil-app", "oauth_client_secret": "HALO-S3CRET"})");

  Agent agent(tmp.sub("agent"), collector.port(), collector.enrollToken());
  const std::string agent_id = startOnline(agent, collector);
  agent.kill();
  auto each_opened = [&] {
    return connectwise.tickets().size() == 1 && autotask.tickets().size() == 1 &&
           halo.tickets().size() == 1;
  };
  BOOST_REQUIRE_MESSAGE(eventually(each_opened, 40s), "not every PSA has a ticket; collector log:\n"
                                                          << logTail(collector.logPath()));
  agent.start();
  auto closed = [](const ServiceReceiver& r, const std::string& status) {
    const auto tickets = r.tickets();
    return tickets.size() == 1 && tickets.begin()->second.status == status &&
           tickets.begin()->second.notes.size() == 1;
  };
  BOOST_REQUIRE_MESSAGE(eventually(
                            [&] {
                              return closed(connectwise, "Completed") && closed(autotask, "5") &&
                                     closed(halo, "9");
                            },
                            40s),
                        "not every ticket was noted and closed; collector log:\n"
                            << logTail(collector.logPath()));
  agent.stop();

  for (const ServiceReceiver* r : {&connectwise, &autotask, &halo}) {
    const PsaTicket ticket = r->tickets().begin()->second;
    BOOST_TEST(ticket.summary.rfind("Offline: ", 0) == 0u, ticket.summary);
    BOOST_TEST(ticket.summary.find("[vigil-alert-") != std::string::npos, ticket.summary);
    BOOST_TEST(ticket.description.find("Last heartbeat: ") != std::string::npos);
    BOOST_TEST(ticket.notes[0].find("Resolved: ") != std::string::npos, ticket.notes[0]);
  }
  BOOST_TEST(connectwise.tickets().begin()->second.company == 250);
  BOOST_TEST(halo.tickets().begin()->second.company == 12);
  // One token for both of HaloPSA's deliveries: kept until it nears its expiry.
  size_t token_requests = 0;
  for (const ServiceRequest& q : halo.requests()) token_requests += q.uri == "/auth/token";
  BOOST_TEST(token_requests == 1u);
  for (int64_t id : {cw_id, at_id, halo_id}) {
    BOOST_TEST(
        (deliveryStates(collector, id) == std::vector<std::string>{"delivered", "delivered"}),
        "channel " << id);
  }
  const std::string log = readFile(collector.logPath());
  for (const char* secret : {"PRIV-K3Y", "AT-S3CRET", "HALO-S3CRET"}) {
    BOOST_TEST(log.find(secret) == std::string::npos, secret << " is in the log");
  }
}
