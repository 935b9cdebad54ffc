// The cadence policy's types and book (collector/core/cadence.h): bounds, precedence, the
// longest interval handed out, agent classes, and readers running while the rules change.

#define BOOST_TEST_MODULE collector_cadence_book
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <thread>
#include <vector>

#include "collector/core/cadence.h"

namespace {

using vigil::collector::AgentClass;
using vigil::collector::CadenceBook;
using vigil::collector::CadenceDefaults;
using vigil::collector::cadenceFault;
using vigil::collector::CadenceRule;
using vigil::collector::CadenceSource;
using vigil::collector::ResolvedCadence;

constexpr int64_t kTenant = 3;
constexpr int64_t kOtherTenant = 4;
constexpr int64_t kSite = 7;
constexpr int64_t kOtherSite = 8;

CadenceRule rule(int64_t tenant, std::optional<int64_t> site, std::optional<AgentClass> agent_class,
                 int64_t heartbeat_s, std::optional<int64_t> beacon_s = std::nullopt) {
  CadenceRule r;
  r.tenant_id = tenant;
  r.site_id = site;
  r.agent_class = agent_class;
  r.heartbeat_interval_s = heartbeat_s;
  r.beacon_interval_s = beacon_s;
  return r;
}

bool same(const ResolvedCadence& got, int64_t heartbeat_s, int64_t beacon_s, CadenceSource source) {
  return got.heartbeat_s == heartbeat_s && got.beacon_s == beacon_s && got.source == source;
}

}  // namespace

BOOST_AUTO_TEST_CASE(bounds_are_checked_with_the_field_named) {
  BOOST_TEST(!cadenceFault(15, std::nullopt));
  BOOST_TEST(!cadenceFault(3600, 300));
  BOOST_TEST(!cadenceFault(300, 5));
  BOOST_TEST(cadenceFault(14, std::nullopt)->find("heartbeat_interval_s") == 0);
  BOOST_TEST(cadenceFault(3601, std::nullopt)->find("heartbeat_interval_s") == 0);
  BOOST_TEST(cadenceFault(300, 4)->find("beacon_interval_s") == 0);
  BOOST_TEST(cadenceFault(3600, 301)->find("beacon_interval_s") == 0);
  // The beacon is the fast channel: never as slow as the heartbeat.
  BOOST_TEST(cadenceFault(60, 60)->find("shorter than heartbeat_interval_s") != std::string::npos);
  BOOST_TEST(!cadenceFault(60, 59));
}

BOOST_AUTO_TEST_CASE(without_rules_every_agent_gets_the_defaults) {
  const CadenceBook book(CadenceDefaults{60, 15});
  BOOST_TEST(
      same(book.resolve(kTenant, kSite, AgentClass::kServer), 60, 15, CadenceSource::kDefault));
  BOOST_TEST(book.maxHeartbeatIntervalS() == 60);
  BOOST_TEST(book.rules().empty());
}

BOOST_AUTO_TEST_CASE(the_most_specific_rule_wins) {
  CadenceBook book(CadenceDefaults{60, 15});
  book.replaceRules({
      rule(kTenant, std::nullopt, std::nullopt, 300, 30),
      rule(kTenant, std::nullopt, AgentClass::kServer, 120, 20),
      rule(kTenant, kSite, std::nullopt, 600, 60),
      rule(kTenant, kSite, AgentClass::kWorkstation, 900, 90),
  });
  // Site + class, then site, then tenant + class, then tenant, then the defaults.
  BOOST_TEST(same(book.resolve(kTenant, kSite, AgentClass::kWorkstation), 900, 90,
                  CadenceSource::kSiteClass));
  BOOST_TEST(
      same(book.resolve(kTenant, kSite, AgentClass::kServer), 600, 60, CadenceSource::kSite));
  BOOST_TEST(same(book.resolve(kTenant, kOtherSite, AgentClass::kServer), 120, 20,
                  CadenceSource::kTenantClass));
  BOOST_TEST(same(book.resolve(kTenant, kOtherSite, AgentClass::kWorkstation), 300, 30,
                  CadenceSource::kTenant));
  BOOST_TEST(
      same(book.resolve(kTenant, 0, AgentClass::kWorkstation), 300, 30, CadenceSource::kTenant));
  BOOST_TEST(same(book.resolve(kOtherTenant, kOtherSite, AgentClass::kServer), 60, 15,
                  CadenceSource::kDefault));
  BOOST_TEST(book.maxHeartbeatIntervalS() == 900);
  BOOST_TEST(book.rules().size() == 4U);
}

BOOST_AUTO_TEST_CASE(a_rule_without_beacon_keeps_the_default_below_its_heartbeat) {
  CadenceBook book(CadenceDefaults{60, 30});
  book.replaceRules(
      {rule(kTenant, std::nullopt, std::nullopt, 300), rule(kTenant, kSite, std::nullopt, 20)});
  BOOST_TEST(same(book.resolve(kTenant, 0, AgentClass::kServer), 300, 30, CadenceSource::kTenant));
  BOOST_TEST(same(book.resolve(kTenant, kSite, AgentClass::kServer), 20, 19, CadenceSource::kSite));
}

BOOST_AUTO_TEST_CASE(replacing_the_rules_drops_the_old_ones_and_the_maximum) {
  CadenceBook book(CadenceDefaults{60, 15});
  book.replaceRules({rule(kTenant, std::nullopt, std::nullopt, 3600)});
  BOOST_TEST(book.maxHeartbeatIntervalS() == 3600);
  book.replaceRules({});
  BOOST_TEST(book.maxHeartbeatIntervalS() == 60);
  BOOST_TEST(
      same(book.resolve(kTenant, 0, AgentClass::kWorkstation), 60, 15, CadenceSource::kDefault));
}

BOOST_AUTO_TEST_CASE(agent_classes_default_to_workstation) {
  CadenceBook book(CadenceDefaults{});
  BOOST_TEST((book.agentClass("ag_1") == AgentClass::kWorkstation));
  book.setAgentClass("ag_1", AgentClass::kServer);
  BOOST_TEST((book.agentClass("ag_1") == AgentClass::kServer));
  BOOST_TEST((book.agentClass("ag_2") == AgentClass::kWorkstation));
  book.setAgentClass("ag_1", AgentClass::kWorkstation);
  BOOST_TEST((book.agentClass("ag_1") == AgentClass::kWorkstation));
  book.setAgentClass("ag_2", AgentClass::kServer);
  book.forgetAgent("ag_2");
  BOOST_TEST((book.agentClass("ag_2") == AgentClass::kWorkstation));
}

BOOST_AUTO_TEST_CASE(class_names_and_the_enrollment_rule) {
  using vigil::collector::agentClassFromFacts;
  using vigil::collector::agentClassFromName;
  using vigil::collector::agentClassName;
  BOOST_TEST(std::string(agentClassName(AgentClass::kServer)) == "server");
  BOOST_TEST((agentClassFromName("workstation") == AgentClass::kWorkstation));
  BOOST_TEST(!agentClassFromName("Server"));
  BOOST_TEST((agentClassFromFacts("windows", "Windows Server 2022 Datacenter 10.0.20348") ==
              AgentClass::kServer));
  BOOST_TEST(
      (agentClassFromFacts("windows", "Windows 11 Pro 10.0.22631") == AgentClass::kWorkstation));
  // Other systems do not say what they are: an admin sets it.
  BOOST_TEST((agentClassFromFacts("linux", "Ubuntu 24.04 LTS Server") == AgentClass::kWorkstation));
}

// Readers resolve while a writer replaces the rules: each answer comes from one whole set
// (both rules of a set agree on their interval), never a mix or a torn read.
BOOST_AUTO_TEST_CASE(readers_see_whole_sets_while_rules_change) {
  CadenceBook book(CadenceDefaults{60, 15});
  std::atomic<bool> stop{false};
  std::atomic<int> mixed{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        const ResolvedCadence a = book.resolve(kTenant, kSite, AgentClass::kServer);
        if (a.source == CadenceSource::kSiteClass && a.beacon_s != a.heartbeat_s / 10) ++mixed;
        (void)book.maxHeartbeatIntervalS();
      }
    });
  }
  for (int64_t i = 0; i < 2000; ++i) {
    const int64_t heartbeat = 100 + (i % 50) * 10;
    book.replaceRules({rule(kTenant, kSite, AgentClass::kServer, heartbeat, heartbeat / 10),
                       rule(kTenant, std::nullopt, std::nullopt, heartbeat)});
  }
  stop = true;
  for (std::thread& t : readers) t.join();
  BOOST_TEST(mixed.load() == 0);
}
