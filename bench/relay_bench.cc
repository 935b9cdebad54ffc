// vigil-relay-bench: what relaying evidence between a cluster's collectors costs
// (docs/adr/0006-routing-evidence-to-the-shard-owner.md): CPU per heartbeat on the collector
// that took it in (queue, batch, encode, sign) and on the owner (verify, decode, judge), with
// the owner's presence monitor tracking every agent. HTTP itself is not counted: one request
// per 100 ms per peer carries up to 200 heartbeats.
//
//   vigil-relay-bench [--agents N] [--rounds R]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "collector/cluster/evidence_router.h"
#include "collector/core/shards.h"
#include "common/clock.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_store.h"

namespace {

using namespace vigil;
using namespace vigil::collector;
using Steady = std::chrono::steady_clock;

double nsPer(Steady::duration d, size_t n) {
  return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()) /
         static_cast<double>(n);
}

int run(int argc, char** argv) {
  size_t agents = 20'000;
  int rounds = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--agents") == 0) agents = std::strtoul(argv[i + 1], nullptr, 10);
    if (std::strcmp(argv[i], "--rounds") == 0) rounds = std::atoi(argv[i + 1]);
  }
  testing::TempDir tmp;
  auto store = std::move(testing::openTestStore(tmp.sub("data")).value());
  auto tenant = store->createTenant("t", 0);
  auto site = store->createSite(tenant.value().id, "s", 0);
  EnrollmentToken token;
  token.site_id = site.value().id;
  token.token_hash = std::string(64, 'a');
  auto stored = store->createEnrollmentToken(token);
  std::vector<std::string> ids;
  for (size_t i = 0; i < agents; ++i) {
    AgentRecord a;
    a.id = "ag_" + std::to_string(i);
    a.hostname = a.id;
    a.agent_version = "0.1.0";
    a.secret = std::string(64, 's');
    if (!store->enrollAgent(stored.value().id, a, 0).ok()) return 1;
    ids.push_back(a.id);
  }
  const int shard = shardOfSite(site.value().id);
  SimulatedClock clock;
  presence::PresenceConfig config;
  const std::string key(64, 'k');
  PresenceMonitor owner_monitor(config, clock), sender_monitor(config, clock);
  owner_monitor.trackOwnedShardsOnly();
  sender_monitor.trackOwnedShardsOnly();
  AgentDirectory owner_directory, sender_directory;
  if (!owner_directory.load(*store).ok() || !sender_directory.load(*store).ok()) return 1;
  ShardRoutes owner_routes("owner"), sender_routes("sender");
  ShardLease lease;
  lease.shard = shard;
  lease.owner = "owner";
  const std::vector<CollectorNode> live = {{"owner", "i", "http://o", 0, 0},
                                           {"sender", "i", "http://s", 0, 0}};
  owner_routes.update({lease}, live);
  sender_routes.update({lease}, live);
  EvidenceRouter owner(owner_monitor, owner_directory, *store, owner_routes, clock, "owner", "1");
  EvidenceRouter sender(sender_monitor, sender_directory, *store, sender_routes, clock, "sender",
                        "1");
  owner.setKey(key);
  sender.setKey(key);
  if (!owner_monitor.adoptShards({shard}, *store, *store).ok()) return 1;

  Steady::duration send_time{}, receive_time{};
  size_t items = 0, batches = 0, bytes = 0;
  for (int r = 0; r < rounds; ++r) {
    clock.advance(std::chrono::seconds(1));
    auto t0 = Steady::now();
    for (const std::string& id : ids) {
      AcceptedHeartbeat beat;
      beat.agent_id = id;
      beat.received_at = clock.monotonicNow();
      beat.next_interval = std::chrono::seconds(60);
      sender.heartbeatAccepted(beat);
    }
    auto out = sender.takeBatches();
    auto t1 = Steady::now();
    for (auto& batch : out) {
      auto answer = owner.receive(batch.signature, batch.body);
      if (!answer.ok()) return 2;
      bytes += batch.body.size();
    }
    auto t2 = Steady::now();
    send_time += t1 - t0;
    receive_time += t2 - t1;
    items += ids.size();
    batches += out.size();
  }
  std::printf(
      "agents %zu, rounds %d: %zu heartbeats relayed in %zu batches (%.0f bytes per heartbeat)\n"
      "sender: %.0f ns per heartbeat (route, queue, batch, encode, sign)\n"
      "owner:  %.0f ns per heartbeat (verify, decode, judge)\n",
      agents, rounds, items, batches, static_cast<double>(bytes) / static_cast<double>(items),
      nsPer(send_time, items), nsPer(receive_time, items));
  return owner.counts().received == items ? 0 : 3;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vigil-relay-bench: %s\n", e.what());
    return 1;
  }
}
