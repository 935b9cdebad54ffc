#pragma once

// What the presence monitor's tests share: a short-interval presence configuration, a plain
// heartbeat as ingest hands it over, and a site of enrolled agents in a real store.

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "collector/ingest/evidence_sink.h"
#include "collector/presence/presence_types.h"
#include "collector/store/store.h"

namespace vigil::testing {

inline constexpr Duration kMonitorInterval = std::chrono::seconds(10);

inline collector::presence::PresenceConfig monitorTestConfig() {
  collector::presence::PresenceConfig c;
  c.heartbeat_interval = kMonitorInterval;
  c.max_heartbeat_interval = kMonitorInterval;
  c.confirmation_window = kMonitorInterval;
  return c;
}

// A heartbeat without indicators, received at `at`.
inline collector::AcceptedHeartbeat plainBeat(const std::string& id, MonoTime at) {
  collector::AcceptedHeartbeat beat;
  beat.agent_id = id;
  beat.received_at = at;
  beat.next_interval = kMonitorInterval;
  return beat;
}

// Creates a tenant and a site with `count` agents ag_0, ag_1, ...; returns the site's id and
// fills `agents` with their ids.
inline int64_t enrollSite(collector::Store& store, int count, std::vector<std::string>* agents) {
  auto tenant = store.createTenant("t", 0);
  auto site = store.createSite(tenant.value().id, "s", 0);
  collector::EnrollmentToken token;
  token.site_id = site.value().id;
  token.token_hash = std::string(64, 'a');
  auto stored = store.createEnrollmentToken(token);
  for (int i = 0; i < count; ++i) {
    collector::AgentRecord a;
    a.id = "ag_" + std::to_string(i);
    a.hostname = a.id;
    a.agent_version = "0.1.0";
    a.secret = std::string(64, 's');
    BOOST_REQUIRE(store.enrollAgent(stored.value().id, a, 0).ok());
    agents->push_back(a.id);
  }
  return site.value().id;
}

}  // namespace vigil::testing
