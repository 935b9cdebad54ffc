#include "collector/cluster/lease_keeper.h"

#include <algorithm>
#include <set>
#include <utility>

#include "collector/core/shards.h"

namespace vigil::collector {
namespace {

using ShardEpochs = std::vector<std::pair<int, int64_t>>;

// A well-mixed 64-bit score of (node, shard): FNV-1a over the bytes, then a finalizer so that
// names differing in one character still rank shards independently.
uint64_t rendezvousScore(const std::string& node, int shard) {
  uint64_t h = 14695981039346656037ULL;
  auto mix = [&](unsigned char c) {
    h ^= c;
    h *= 1099511628211ULL;
  };
  for (char c : node) mix(static_cast<unsigned char>(c));
  mix('/');
  for (int i = 0; i < 4; ++i) mix(static_cast<unsigned char>((shard >> (8 * i)) & 0xff));
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

void notify(const std::function<void(int, int64_t)>& callback, const ShardEpochs& shards) {
  if (!callback) return;
  for (const auto& [shard, epoch] : shards) callback(shard, epoch);
}

}  // namespace

LeaseKeeper::LeaseKeeper(LeaseStore& store, const Clock& clock, LeaseKeeperOptions options,
                         ShardEvents events)
    : store_(store), clock_(clock), options_(std::move(options)), events_(std::move(events)) {}

int64_t LeaseKeeper::termMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(options_.lease_term).count();
}

const std::string& LeaseKeeper::preferredNode(int shard, const std::vector<std::string>& nodes) {
  const std::string* best = &nodes.front();
  uint64_t best_score = rendezvousScore(*best, shard);
  for (const std::string& node : nodes) {
    const uint64_t score = rendezvousScore(node, shard);
    if (score > best_score || (score == best_score && node < *best)) {
      best = &node;
      best_score = score;
    }
  }
  return *best;
}

Status LeaseKeeper::start() {
  CollectorNode me{options_.node, options_.instance, options_.internal_url, 0, 0};
  Result<CollectorNode> announced = store_.announceCollector(me, termMs());
  if (!announced.ok()) return announced.error();
  started_at_ = clock_.monotonicNow();
  started_ = true;
  return Status::okStatus();
}

void LeaseKeeper::tick() {
  if (!started_) return;
  // Every deadline set in this round counts from here: before any request is sent.
  const MonoTime round_start = clock_.monotonicNow();
  ShardEpochs acquired;
  ShardEpochs lost;
  stepDownExpired(&lost);
  CollectorNode me{options_.node, options_.instance, options_.internal_url, 0, 0};
  Result<CollectorNode> announced = store_.announceCollector(me, termMs());
  Result<std::vector<CollectorNode>> live =
      announced.ok() ? store_.listLiveCollectors()
                     : Result<std::vector<CollectorNode>>(announced.error());
  if (live.ok()) {
    std::vector<std::string> names;
    names.reserve(live->size());
    for (const CollectorNode& node : *live) names.push_back(node.node);
    {
      MutexLock lock(mu_);
      live_collectors_ = names.size();
    }
    renew(&lost);
    // Collectors that start together see each other before any takes a shard.
    if (round_start - started_at_ >= options_.renew_every &&
        std::find(names.begin(), names.end(), options_.node) != names.end()) {
      rebalance(names, &acquired, &lost);
    }
  }
  notify(events_.lost, lost);
  notify(events_.acquired, acquired);
}

void LeaseKeeper::stepDownExpired(ShardEpochs* lost) {
  const MonoTime now = clock_.monotonicNow();
  MutexLock lock(mu_);
  for (auto it = held_.begin(); it != held_.end();) {
    if (now >= it->second.deadline) {
      lost->emplace_back(it->first, it->second.epoch);
      it = held_.erase(it);
    } else {
      ++it;
    }
  }
}

void LeaseKeeper::renew(ShardEpochs* lost) {
  std::vector<HeldLease> held = this->held();
  if (held.empty()) return;
  const MonoTime sent = clock_.monotonicNow();
  Result<std::vector<ShardLease>> renewed = store_.renewShards(options_.node, held, termMs());
  if (!renewed.ok()) return;  // the deadlines stand; a later round may still renew
  std::set<int> kept;
  for (const ShardLease& lease : *renewed) kept.insert(lease.shard);
  const MonoTime deadline = sent + options_.lease_term - options_.step_down_margin;
  MutexLock lock(mu_);
  for (const HeldLease& h : held) {
    auto it = held_.find(h.shard);
    if (it == held_.end() || it->second.epoch != h.epoch) continue;
    if (kept.count(h.shard) != 0) {
      it->second.deadline = deadline;
    } else {
      // Refused: another collector owns it now, or its term ran out in the database.
      lost->emplace_back(h.shard, h.epoch);
      held_.erase(it);
    }
  }
}

void LeaseKeeper::rebalance(const std::vector<std::string>& live, ShardEpochs* acquired,
                            ShardEpochs* lost) {
  // Every shard this collector is preferred for and does not hold is asked for: the store
  // takes only those free or expired, so a shard another collector still holds (until it hands
  // it over) is left to a later round.
  std::vector<int> wanted;
  std::vector<HeldLease> to_release;
  {
    MutexLock lock(mu_);
    for (int shard = 0; shard < kShardCount; ++shard) {
      auto it = held_.find(shard);
      const bool preferred = preferredNode(shard, live) == options_.node;
      if (it != held_.end() && !preferred && to_release.size() < options_.max_releases_per_tick) {
        to_release.push_back({shard, it->second.epoch});
      } else if (it == held_.end() && preferred) {
        wanted.push_back(shard);
      }
    }
  }
  if (!to_release.empty()) {
    ShardEpochs releasing;
    for (const HeldLease& h : to_release) releasing.emplace_back(h.shard, h.epoch);
    notify(events_.releasing, releasing);
    if (store_.releaseShards(options_.node, to_release).ok()) {
      MutexLock lock(mu_);
      for (const HeldLease& h : to_release) held_.erase(h.shard);
      lost->insert(lost->end(), releasing.begin(), releasing.end());
    }
  }
  if (wanted.empty()) return;
  const MonoTime sent = clock_.monotonicNow();
  Result<std::vector<ShardLease>> taken = store_.acquireShards(options_.node, wanted, termMs());
  if (!taken.ok()) return;
  const MonoTime deadline = sent + options_.lease_term - options_.step_down_margin;
  MutexLock lock(mu_);
  for (const ShardLease& lease : *taken) {
    held_[lease.shard] = Held{lease.epoch, deadline};
    acquired->emplace_back(lease.shard, lease.epoch);
  }
}

void LeaseKeeper::stop() {
  if (!started_) return;
  std::vector<HeldLease> held = this->held();
  ShardEpochs handed;
  for (const HeldLease& h : held) handed.emplace_back(h.shard, h.epoch);
  notify(events_.releasing, handed);
  // Best effort: a release that fails leaves the leases to run out at their terms.
  (void)store_.releaseShards(options_.node, held);
  {
    MutexLock lock(mu_);
    held_.clear();
  }
  notify(events_.lost, handed);
  (void)store_.withdrawCollector(options_.node, options_.instance);
  started_ = false;
}

std::optional<int64_t> LeaseKeeper::epochOf(int shard) const {
  const MonoTime now = clock_.monotonicNow();
  MutexLock lock(mu_);
  auto it = held_.find(shard);
  if (it == held_.end() || now >= it->second.deadline) return std::nullopt;
  return it->second.epoch;
}

std::vector<HeldLease> LeaseKeeper::held() const {
  const MonoTime now = clock_.monotonicNow();
  MutexLock lock(mu_);
  std::vector<HeldLease> out;
  for (const auto& [shard, h] : held_) {
    if (now < h.deadline) out.push_back({shard, h.epoch});
  }
  return out;
}

size_t LeaseKeeper::liveCollectors() const {
  MutexLock lock(mu_);
  return live_collectors_;
}

}  // namespace vigil::collector
