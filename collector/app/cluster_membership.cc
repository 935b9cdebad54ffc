#include "collector/app/cluster_membership.h"

#include <thread>
#include <utility>

namespace vigil::collector {
namespace {

double asDouble(size_t n) { return static_cast<double>(n); }

}  // namespace

ClusterMembership::ClusterMembership(Store& store, PresenceMonitor& presence,
                                     PresenceTicker& ticker, EvidenceRouter& router,
                                     ShardRoutes& routes, RelayTransport& transport,
                                     const Clock& clock, LeaseKeeperOptions options,
                                     Poco::Logger& log)
    : store_(store),
      presence_(presence),
      ticker_(ticker),
      log_(log),
      clock_(clock),
      options_(options),
      keeper_(store, clock, std::move(options),
              ShardEvents{[this](int shard, int64_t) {
                            waiting_.insert(shard);
                            waiting_count_ = waiting_.size();
                          },
                          [this](int shard, int64_t epoch) {
                            waiting_.erase(shard);
                            waiting_count_ = waiting_.size();
                            const size_t dropped = presence_.releaseShards({shard});
                            log_.information(
                                "shard %d (epoch %Ld) is no longer ours; %z pending events "
                                "left to its next owner",
                                shard, static_cast<Poco::Int64>(epoch), dropped);
                          },
                          [this](int, int64_t) {
                            // Written under the lease still held: the next owner restores from
                            // them.
                            if (Status s = ticker_.flush(); !s.ok()) {
                              log_.warning("writing pending presence events before a handover: " +
                                           s.toString());
                            }
                          }}),
      router_(router),
      routes_(routes),
      transport_(transport),
      relay_failures_(log, "relaying evidence to the shards' owners", clock),
      rounds_(options_.renew_every, [this] { round(); }),
      relay_(kRelayPeriod, [this] { relayOnce(); }) {}

ClusterMembership::~ClusterMembership() { leave(); }

Status ClusterMembership::join() {
  // A crashed predecessor's announcement lasts at most one term from its last renewal.
  const MonoTime give_up = clock_.monotonicNow() + options_.lease_term + options_.renew_every;
  bool waited = false;
  while (true) {
    Status joined = keeper_.start();
    if (joined.code() != StatusCode::kAlreadyExists || clock_.monotonicNow() >= give_up) {
      return joined;
    }
    if (!waited) {
      log_.warning(
          "cluster.nodeName '%s' is announced by another process; waiting up to %Ld s for "
          "that announcement to run out (a collector restarted after a crash)",
          options_.node,
          static_cast<Poco::Int64>(
              std::chrono::duration_cast<std::chrono::seconds>(give_up - clock_.monotonicNow())
                  .count()));
      waited = true;
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

void ClusterMembership::start() {
  rounds_.start();
  relay_.start();
}

void ClusterMembership::round() {
  keeper_.tick();
  adoptWaiting();
  if (Status s = refreshRoutes(); !s.ok()) {
    log_.warning("cannot read the shards' owners (routes kept as they were): " + s.toString());
  }
  first_round_done_ = true;
}

Status ClusterMembership::refreshRoutes() {
  auto leases = store_.listShardLeases();
  if (!leases.ok()) return leases.error();
  auto live = store_.listLiveCollectors();
  if (!live.ok()) return live.error();
  routes_.update(leases.value(), live.value());
  return Status::okStatus();
}

void ClusterMembership::relayOnce() {
  // An owner said a shard is not its own any more: learn the new owner now, not next round.
  const MonoTime now = clock_.monotonicNow();
  if (routes_.stale() && now - last_refresh_ >= std::chrono::seconds(1)) {
    last_refresh_ = now;
    static_cast<void>(refreshRoutes());
  }
  for (EvidenceRouter::Outgoing& batch : router_.takeBatches()) {
    Result<RelayReply> reply = transport_.send(batch);
    relay_failures_(reply.ok() ? Status::okStatus() : reply.error());
    if (reply.ok()) {
      router_.delivered(batch, reply.value());
    } else {
      router_.failed(batch);
    }
  }
}

void ClusterMembership::adoptWaiting() {
  if (waiting_.empty()) return;
  std::vector<int> shards(waiting_.begin(), waiting_.end());
  Status adopted = presence_.adoptShards(shards, store_, store_);
  if (!adopted.ok()) {
    log_.warning("cannot load %z shards taken over (tried again next round): %s", shards.size(),
                 adopted.toString());
    return;
  }
  waiting_.clear();
  waiting_count_ = 0;
  log_.information("took over %z shards; their agents are judged after one warm-up", shards.size());
}

void ClusterMembership::leave() {
  if (left_) return;
  left_ = true;
  rounds_.stop();
  keeper_.stop();
  relay_.stop();
  relayOnce();  // what was taken in while the shards were handed over
}

LeaseFence ClusterMembership::fenceFor(const std::vector<int>& shards) const {
  LeaseFence fence{options_.node, {}};
  fence.leases.reserve(shards.size());
  for (int shard : shards) {
    if (std::optional<int64_t> epoch = keeper_.epochOf(shard)) {
      fence.leases.push_back(HeldLease{shard, *epoch});
    }
  }
  return fence;
}

Status ClusterMembership::ready() const {
  if (!first_round_done_) return Status::unavailable("cluster: no lease round has run yet");
  if (const size_t waiting = waiting_count_; waiting > 0) {
    return Status::unavailable("cluster: " + std::to_string(waiting) +
                               " shards taken over are not loaded yet");
  }
  return Status::okStatus();
}

MetricsSource ClusterMembership::metrics() const {
  return [this](MetricsWriter& out) {
    out.family("vigil_cluster_shards_held", MetricType::kGauge,
               "Presence shards whose leases this collector holds.");
    out.sample(asDouble(keeper_.held().size()));
    out.family("vigil_cluster_live_collectors", MetricType::kGauge,
               "Collectors of the cluster the last lease round saw alive, this one included.");
    out.sample(asDouble(keeper_.liveCollectors()));
    out.family("vigil_cluster_shards_loading", MetricType::kGauge,
               "Shards taken over whose agents are not loaded yet.");
    out.sample(asDouble(waiting_count_));
    out.family("vigil_cluster_fenced_out_total", MetricType::kCounter,
               "Presence events left unwritten because their shard's lease was gone.");
    out.sample(static_cast<double>(ticker_.fencedOut()));
    const RelayCounts relay = router_.counts();
    out.family("vigil_cluster_relay_items_total", MetricType::kCounter,
               "Evidence and notices relayed between the collectors, by outcome.");
    const std::pair<const char*, uint64_t> outcomes[] = {{"relayed", relay.relayed},
                                                         {"received", relay.received},
                                                         {"dropped_stale", relay.dropped_stale},
                                                         {"dropped_full", relay.dropped_full},
                                                         {"no_owner", relay.no_owner},
                                                         {"replayed", relay.replayed},
                                                         {"undeliverable", relay.undeliverable}};
    for (const auto& [outcome, n] : outcomes) {
      out.sample(static_cast<double>(n), {{"outcome", outcome}});
    }
    out.family("vigil_cluster_relay_refused_total", MetricType::kCounter,
               "Relay batches refused: bad signature, replayed, stale or malformed.");
    out.sample(static_cast<double>(relay.refused));
  };
}

}  // namespace vigil::collector
