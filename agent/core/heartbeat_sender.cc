#include "agent/core/heartbeat_sender.h"

#include <utility>

#include "agent/core/version.h"

namespace vigil::agent {
namespace {

constexpr char kMethodPost[] = "POST";

// Keeps a string within the protocol's limit without cutting a UTF-8 sequence in two.
std::string fitString(std::string s) {
  if (s.size() <= protocol::kMaxStringBytes) return s;
  size_t cut = protocol::kMaxStringBytes;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  s.resize(cut);
  return s;
}

}  // namespace

HeartbeatSender::HeartbeatSender(const AgentConfig& config, HeartbeatSources sources,
                                 SequenceAllocator& sequence, const HeartbeatScheduler& scheduler,
                                 CollectorClient& client, Logger& log)
    : sources_(sources),
      sequence_(sequence),
      scheduler_(scheduler),
      client_(client),
      log_(log),
      config_hash_(agent::configHash(config)) {}

const SystemFacts& HeartbeatSender::readFacts() {
  Result<SystemFacts> facts = sources_.facts.facts();
  SystemFacts out;
  if (facts.ok()) {
    out = facts.value();
  } else {
    log_.warn("cannot read system facts: " + facts.error().toString());
  }
  if (out.hostname.empty()) {
    log_.warn("host name unknown; reporting 'unknown'");
    out.hostname = "unknown";
  }
  out.hostname = fitString(out.hostname);
  out.os_name = fitString(out.os_name);
  out.os_version = fitString(out.os_version);
  out.arch = fitString(out.arch);
  facts_ = std::move(out);
  return facts_;
}

BootIdentity HeartbeatSender::readBootIdentity() {
  Result<BootIdentity> boot = sources_.boot.bootIdentity();
  if (boot.ok() && !boot->boot_id.empty()) {
    last_boot_ = boot.value();
    last_boot_->boot_id = fitString(last_boot_->boot_id);
    return *last_boot_;
  }
  log_.warn("cannot read the boot identity: " +
            (boot.ok() ? std::string("empty boot id") : boot.error().toString()));
  if (last_boot_) return *last_boot_;
  return BootIdentity{"unknown", 0};
}

void HeartbeatSender::logSequenceStatus() {
  const Status& st = sequence_.persistStatus();
  if (!st.ok() && !sequence_error_logged_) {
    log_.warn("cannot store the sequence reservation (" + st.toString() +
              "); heartbeats continue, numbering may repeat after a restart");
    sequence_error_logged_ = true;
  } else if (st.ok() && sequence_error_logged_) {
    log_.info("sequence reservation stored again");
    sequence_error_logged_ = false;
  }
}

protocol::Heartbeat HeartbeatSender::build(const Identity& identity) {
  const BootIdentity boot = readBootIdentity();
  readFacts();
  protocol::Heartbeat hb;
  hb.agent_id = identity.agent_id;
  hb.seq = sequence_.next();
  logSequenceStatus();
  hb.boot_id = boot.boot_id;
  hb.uptime_s = boot.uptime_s;
  hb.agent_version = kAgentVersion;
  hb.sent_at_ms = scheduler_.correctedWallMs();
  hb.interval_s = scheduler_.intervalInUseS();
  hb.hostname = facts_.hostname;
  if (!facts_.os_name.empty()) hb.os_name = facts_.os_name;
  if (!facts_.os_version.empty()) hb.os_version = facts_.os_version;
  if (!config_hash_.empty()) hb.config_hash = config_hash_;
  if (sources_.network != nullptr) {
    Result<NetworkState> net = sources_.network->state();
    if (net.ok()) {
      protocol::NetworkSelfCheck check;
      check.default_route = net->default_route;
      for (const std::string& a : net->addresses) {
        if (check.addresses.size() >= protocol::kMaxAddresses) break;
        check.addresses.push_back(fitString(a));
      }
      hb.net = std::move(check);
    }
  }
  if (sources_.diary != nullptr) hb.outages = sources_.diary->pending(hb.sent_at_ms);
  return hb;
}

CollectorAnswer HeartbeatSender::send(const Identity& identity, const protocol::Heartbeat& hb,
                                      std::optional<Duration> timeout) {
  SignedHeartbeat request;
  request.agent_id = identity.agent_id;
  request.timestamp_ms = hb.sent_at_ms;
  request.body = protocol::encode(hb);
  Result<std::string> signature = protocol::sign(
      identity.secret, kMethodPost, protocol::kHeartbeatPath, request.timestamp_ms, request.body);
  if (!signature.ok()) {
    CollectorAnswer a;
    a.transport_error = "cannot sign: " + signature.error().toString();
    a.transport_cause = protocol::causes::kOther;
    return a;
  }
  request.signature = std::move(signature.value());
  log_.debug("sending heartbeat seq=" + std::to_string(hb.seq));
  return client_.heartbeat(request, timeout);
}

}  // namespace vigil::agent
