#pragma once

// Checks shared by the integration tests of the real agent (Boost.Test): waiting for an
// agent to enroll, reading the evidence a collector holds for it, and a peer-witness port.

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <random>
#include <string>

#include "tests/integration/harness.h"

namespace vigil::testing {

// The agent's id once it has enrolled; fails the test (with the agent's log) after 20 s.
inline std::string enrolledId(Agent& agent) {
  std::string id;
  BOOST_REQUIRE_MESSAGE(
      eventually([&] { return !(id = agent.agentId()).empty(); }, std::chrono::seconds(20)),
      "agent did not enroll; agent log:\n"
          << logTail(agent.logPath()));
  return id;
}

// The last_seen_at of one indicator in the agent's evidence, or "" if none yet.
inline std::string evidenceSeen(const Collector& c, const std::string& id,
                                const std::string& name) {
  auto a = c.agent(id);
  if (!a || !a->getObject("evidence") || !a->getObject("evidence")->getObject(name)) return "";
  auto e = a->getObject("evidence")->getObject(name);
  return e->isNull("last_seen_at") ? "" : e->get("last_seen_at").toString();
}

// The agent's presence status ("ONLINE", "SHUTDOWN", ...), or "" if the collector has no
// record of it.
inline std::string agentStatus(const Collector& c, const std::string& id) {
  auto a = c.agent(id);
  return a ? a->optValue<std::string>("status", "") : "";
}

// How many outages from the agent's diary the collector holds.
inline size_t outagesReported(const Collector& c, const std::string& id) {
  auto a = c.agent(id);
  auto outages = a ? a->getArray("outages") : nullptr;
  return outages ? outages->size() : 0;
}

// A UDP port for the peer witness that no other test run uses at the same time.
inline std::string randomPeerPort() {
  std::random_device rd;
  return std::to_string(40000 + rd() % 20000);
}

}  // namespace vigil::testing
