#include "tools/fleetsim/office_lab.h"

#include <algorithm>
#include <cstdio>
#include <thread>

#include "tests/integration/harness.h"
#include "tools/fleetsim/api_reading.h"

namespace vigil::fleetsim {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr char kSitePrefix[] = "office-";
constexpr auto kPhasePoll = milliseconds(100);

double secondsSince(WallTime t) {
  return std::chrono::duration<double>(std::chrono::system_clock::now() - t).count();
}

}  // namespace

Result<std::unique_ptr<OfficeLab>> OfficeLab::create(const OfficeLabSetup& setup) {
  auto network = SiteNetwork::create(setup.network_script, setup.sites, setup.agents_per_site,
                                     std::chrono::seconds(60));
  if (!network.ok()) return network.error();
  return std::unique_ptr<OfficeLab>(new OfficeLab(setup, std::move(network.value())));
}

OfficeLab::OfficeLab(OfficeLabSetup setup, std::unique_ptr<SiteNetwork> network)
    : setup_(std::move(setup)), network_(std::move(network)) {}

OfficeLab::~OfficeLab() = default;

std::string OfficeLab::siteLabel(uint32_t site) { return kSitePrefix + std::to_string(site); }

std::string OfficeLab::agentName(uint32_t site, uint32_t index) {
  return siteLabel(site) + "/" + std::to_string(index);
}

std::vector<std::string> OfficeLab::siteLabels() const {
  std::vector<std::string> out;
  for (uint32_t s = 0; s < setup_.sites; ++s) out.push_back(siteLabel(s));
  return out;
}

Status OfficeLab::startAgents(const CollectorHttp& http,
                              const std::map<std::string, EnrollableSite>& sites,
                              const std::string& server_url, const std::string& ca_file,
                              const std::vector<milliseconds>& offsets,
                              std::chrono::seconds timeout) {
  http_ = &http;
  for (const auto& [label, site] : sites) run_.site_ids[label] = site.id;
  if (Status s = addMembers(sites, server_url, ca_file); !s.ok()) return s;
  startInPhaseOrder(offsets);
  const bool enrolled = testing::eventually(
      [&] {
        return std::all_of(members_.begin(), members_.end(),
                           [](const Member& m) { return !m.agent->agentId().empty(); });
      },
      timeout);
  if (!enrolled) {
    return Status::unavailable("office agents did not enroll in time (logs in " + setup_.work_dir +
                               ")");
  }
  for (const Member& m : members_) run_.agent_names[m.agent->agentId()] = m.name;
  return Status::okStatus();
}

Status OfficeLab::addMembers(const std::map<std::string, EnrollableSite>& sites,
                             const std::string& server_url, const std::string& ca_file) {
  for (const AgentHost& host : network_->hosts()) {
    auto site = sites.find(siteLabel(host.site));
    if (site == sites.end())
      return Status::internal("no enrollment token for " + siteLabel(host.site));
    OfficeAgentSetup agent;
    agent.launcher = network_->launcher(host);
    agent.binary = setup_.agent_binary;
    agent.server_url = server_url;
    agent.ca_file = ca_file;
    agent.enroll_token = site->second.enroll_token;
    agent.state_dir =
        setup_.work_dir + "/" + siteLabel(host.site) + "-" + std::to_string(host.index);
    members_.push_back({agentName(host.site, host.index), host.site,
                        std::make_unique<OfficeAgent>(std::move(agent))});
  }
  return Status::okStatus();
}

void OfficeLab::startInPhaseOrder(const std::vector<milliseconds>& offsets) {
  auto offsetOf = [&](uint32_t index) {
    return index < offsets.size() ? offsets[index] : milliseconds(0);
  };
  std::vector<std::pair<milliseconds, Member*>> order;
  for (const AgentHost& host : network_->hosts()) {
    order.emplace_back(offsetOf(host.index), member(agentName(host.site, host.index)));
  }
  std::stable_sort(order.begin(), order.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  const auto first = steady_clock::now();
  for (const auto& [offset, m] : order) {
    std::this_thread::sleep_until(first + offset);  // the start time is the phase
    m->agent->start();
  }
}

std::vector<RunAgent> OfficeLab::agents() const {
  std::vector<RunAgent> out;
  for (const Member& m : members_) out.push_back({m.agent->agentId(), siteLabel(m.site), true});
  return out;
}

Result<std::vector<OfficeLab::Seen>> OfficeLab::readAgents(const std::string& site) const {
  std::vector<const cJSON*> items;
  std::string error;
  auto pages = listAll(*http_, "/api/v1/agents?site_id=" + std::to_string(run_.site_ids.at(site)),
                       items, &error);
  if (!error.empty()) return Status::unavailable(error);
  std::vector<Seen> out;
  for (const cJSON* item : items) {
    Seen seen;
    auto name = run_.agent_names.find(jsonString(item, "id"));
    seen.name = name == run_.agent_names.end() ? jsonString(item, "id") : name->second;
    seen.status = jsonString(item, "status");
    const cJSON* evidence = cJSON_GetObjectItemCaseSensitive(item, "evidence");
    const cJSON* heartbeat =
        evidence ? cJSON_GetObjectItemCaseSensitive(evidence, "heartbeat") : nullptr;
    if (auto last = parseCollectorTime(jsonString(heartbeat, "last_seen_at"))) {
      seen.heartbeat_age_s = secondsSince(*last);
    }
    out.push_back(seen);
  }
  std::sort(out.begin(), out.end(), [](const Seen& a, const Seen& b) { return a.name < b.name; });
  return out;
}

Result<std::vector<int64_t>> OfficeLab::readOpenSiteAlerts(const std::string& site) const {
  std::vector<const cJSON*> items;
  std::string error;
  auto pages = listAll(*http_,
                       "/api/v1/alerts?kind=site_unreachable&state=open&site_id=" +
                           std::to_string(run_.site_ids.at(site)),
                       items, &error);
  if (!error.empty()) return Status::unavailable(error);
  std::vector<int64_t> out;
  for (const cJSON* item : items) out.push_back(jsonInt(item, "id"));
  return out;
}

Result<milliseconds> OfficeLab::awaitPhase(const std::string& site, const PhaseWanted& wanted,
                                           milliseconds timeout) {
  if (auto s = siteIndex(site); !s.ok()) return s.error();
  if (!wanted.fresh_office.empty() && !siteIndex(wanted.fresh_office).ok()) {
    return Status::notFound("no office " + wanted.fresh_office);
  }
  if (!wanted.fresh_agent.empty() && member(wanted.fresh_agent) == nullptr) {
    return Status::notFound("no office agent " + wanted.fresh_agent);
  }
  const auto started = steady_clock::now();
  std::string ages;
  while (steady_clock::now() - started < timeout) {
    auto reached = phasesReached(site, wanted, &ages);
    if (!reached.ok()) return reached.error();
    if (*reached) break;
    std::this_thread::sleep_for(kPhasePoll);
  }
  const auto waited = std::chrono::duration_cast<milliseconds>(steady_clock::now() - started);
  if (waited >= timeout) {
    notes_.push_back("the phases asked for at the cut of " + site + " did not come in " +
                     std::to_string(timeout.count()) + " ms; heartbeat ages (s):" + ages);
  }
  return waited;
}

Result<bool> OfficeLab::phasesReached(const std::string& site, const PhaseWanted& wanted,
                                      std::string* ages) const {
  ages->clear();
  auto note = [&](const std::vector<Seen>& seen) {
    for (const Seen& s : seen) {
      char age[64];
      std::snprintf(age, sizeof age, " %s %.1f", s.name.c_str(), s.heartbeat_age_s);
      *ages += age;
    }
  };
  auto fresh = [&](const Seen& s) {
    return s.heartbeat_age_s >= 0 && s.heartbeat_age_s <= wanted.fresh_at_most_s;
  };
  auto cut_office = readAgents(site);
  if (!cut_office.ok()) return cut_office.error();
  note(*cut_office);
  std::vector<double> by_age;
  for (const Seen& s : *cut_office) by_age.push_back(s.heartbeat_age_s);
  std::sort(by_age.begin(), by_age.end());
  bool reached =
      by_age.size() >= 2 && by_age.front() >= 0 && by_age.back() >= wanted.oldest_at_least_s &&
      (!wanted.others_at_most_s || by_age[by_age.size() - 2] <= *wanted.others_at_most_s);
  if (!wanted.fresh_office.empty()) {
    auto other = readAgents(wanted.fresh_office);
    if (!other.ok()) return other.error();
    note(*other);
    reached = reached && std::any_of(other->begin(), other->end(), [&](const Seen& s) {
                return !killedBefore(s.name) && fresh(s);
              });
  }
  if (!wanted.fresh_agent.empty()) {
    auto other = readAgents(officeOf(wanted.fresh_agent));
    if (!other.ok()) return other.error();
    note(*other);
    reached = reached && std::any_of(other->begin(), other->end(), [&](const Seen& s) {
                return s.name == wanted.fresh_agent && fresh(s);
              });
  }
  return reached;
}

Status OfficeLab::cut(const std::string& site) {
  auto index = siteIndex(site);
  if (!index.ok()) return index.error();
  auto seen = readAgents(site);
  if (!seen.ok()) return seen.error();
  OfficeCut cut;
  cut.site = site;
  for (const Seen& s : *seen) cut.heartbeat_ages_s.emplace_back(s.name, s.heartbeat_age_s);
  cut.cut_at = std::chrono::system_clock::now();
  if (Status s = network_->cut(*index); !s.ok()) return s;
  run_.cuts.push_back(cut);
  return Status::okStatus();
}

Status OfficeLab::heal(const std::string& site) {
  auto index = siteIndex(site);
  if (!index.ok()) return index.error();
  auto open_cut = std::find_if(run_.cuts.rbegin(), run_.cuts.rend(), [&](const OfficeCut& c) {
    return c.site == site && c.heal_at == WallTime::max();
  });
  if (open_cut == run_.cuts.rend()) return Status::failedPrecondition(site + " is not cut");
  auto seen = readAgents(site);
  if (!seen.ok()) return seen.error();
  auto alerts = readOpenSiteAlerts(site);
  if (!alerts.ok()) return alerts.error();
  for (const Seen& s : *seen) open_cut->status_before_heal[s.name] = s.status;
  open_cut->open_site_alerts_before_heal = *alerts;
  open_cut->heal_at = std::chrono::system_clock::now();
  return network_->heal(*index);
}

Status OfficeLab::kill(const std::string& agent) {
  Member* m = member(agent);
  if (m == nullptr) return Status::notFound("no office agent " + agent);
  auto seen = readAgents(siteLabel(m->site));
  if (!seen.ok()) return seen.error();
  double age = -1;
  for (const Seen& s : *seen) {
    if (s.name == agent) age = s.heartbeat_age_s;
  }
  return killMember(*m, age);
}

Status OfficeLab::killFreshest(const std::string& site) {
  if (auto s = siteIndex(site); !s.ok()) return s.error();
  auto seen = readAgents(site);
  if (!seen.ok()) return seen.error();
  const Seen* freshest = nullptr;
  for (const Seen& s : *seen) {
    Member* m = member(s.name);
    if (m == nullptr || !m->agent->running() || killedBefore(s.name) || s.heartbeat_age_s < 0) {
      continue;
    }
    if (freshest == nullptr || s.heartbeat_age_s < freshest->heartbeat_age_s) freshest = &s;
  }
  if (freshest == nullptr) return Status::failedPrecondition("no agent of " + site + " to kill");
  return killMember(*member(freshest->name), freshest->heartbeat_age_s);
}

Status OfficeLab::killMember(Member& m, double heartbeat_age_s) {
  m.agent->kill();
  OfficeKill k;
  k.agent = m.name;
  k.killed_at = std::chrono::system_clock::now();
  k.heartbeat_age_s = heartbeat_age_s;
  run_.kills.push_back(k);
  return Status::okStatus();
}

Status OfficeLab::restart(const std::string& agent) {
  Member* m = member(agent);
  if (m == nullptr) return Status::notFound("no office agent " + agent);
  if (m->agent->running()) return Status::failedPrecondition(agent + " is running");
  for (auto k = run_.kills.rbegin(); k != run_.kills.rend(); ++k) {
    if (k->agent == agent) {
      k->restarted_at = std::chrono::system_clock::now();
      break;
    }
  }
  m->agent->start();
  return Status::okStatus();
}

Status OfficeLab::restartKilled(const std::string& site) {
  auto index = siteIndex(site);
  if (!index.ok()) return index.error();
  for (Member& m : members_) {
    if (m.site != *index || m.agent->running() || !killedBefore(m.name)) continue;
    if (Status s = restart(m.name); !s.ok()) return s;
  }
  return Status::okStatus();
}

void OfficeLab::stopAgents() {
  for (Member& m : members_) {
    if (m.agent->running()) m.agent->stop();
  }
}

std::vector<TruthEvent> OfficeLab::truth(uint32_t first_agent) const {
  std::vector<TruthEvent> out;
  auto event = [&](uint32_t i, TruthEvent::Kind kind, WallTime at) {
    TruthEvent e;
    e.agent = first_agent + i;
    e.kind = kind;
    e.at = at;
    out.push_back(e);
  };
  for (uint32_t i = 0; i < members_.size(); ++i) {
    const Member& m = members_[i];
    for (const OfficeCut& c : run_.cuts) {
      if (c.site != siteLabel(m.site)) continue;
      event(i, TruthEvent::Kind::kPartitioned, c.cut_at);
      if (c.heal_at != WallTime::max()) event(i, TruthEvent::Kind::kPartitionOver, c.heal_at);
    }
    for (const OfficeKill& k : run_.kills) {
      if (k.agent != m.name) continue;
      event(i, TruthEvent::Kind::kDied, k.killed_at);
      if (k.restarted_at != WallTime::max()) event(i, TruthEvent::Kind::kRevived, k.restarted_at);
    }
  }
  std::sort(out.begin(), out.end(),
            [](const TruthEvent& a, const TruthEvent& b) { return a.at < b.at; });
  return out;
}

Result<uint32_t> OfficeLab::siteIndex(const std::string& label) const {
  for (uint32_t s = 0; s < setup_.sites; ++s) {
    if (siteLabel(s) == label) return s;
  }
  return Status::notFound("no office " + label);
}

bool OfficeLab::killedBefore(const std::string& name) const {
  return std::any_of(run_.kills.begin(), run_.kills.end(),
                     [&](const OfficeKill& k) { return k.agent == name; });
}

OfficeLab::Member* OfficeLab::member(const std::string& name) {
  for (Member& m : members_) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

}  // namespace vigil::fleetsim
