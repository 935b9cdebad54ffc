#include "tools/fleetsim/cluster_verdict.h"

#include <algorithm>
#include <map>

namespace vigil::fleetsim {
namespace {

// At most this many failure lines of one kind; the count says the rest.
constexpr uint64_t kListed = 5;

}  // namespace

void judgeWebhookCopies(const RunObservations& run, Verdict& v) {
  std::map<std::string, std::vector<const WebhookCopy*>> by_id;
  for (const WebhookCopy& c : run.webhook_copies) by_id[c.id].push_back(&c);
  std::vector<uint32_t> excusable(run.collector_interruptions.size(),
                                  run.webhook_in_flight_per_collector);
  // webhook-timestamp has whole seconds: an attempt begun before a kill may read up to a
  // second later than the kill's instant is not; one begun after it reads later than a second
  // before it.
  const auto second = std::chrono::seconds(1);
  const auto attempt = std::chrono::duration_cast<WallTime::duration>(
      std::chrono::duration<double>(run.webhook_attempt_timeout_s));
  for (auto& [id, copies] : by_id) {
    std::stable_sort(copies.begin(), copies.end(), [](const WebhookCopy* a, const WebhookCopy* b) {
      return a->attempt_at < b->attempt_at;
    });
    for (size_t i = 1; i < copies.size(); ++i) {
      const WallTime before = copies[i - 1]->attempt_at;
      const WallTime after = copies[i]->attempt_at;
      bool excused = false;
      for (size_t k = 0; k < run.collector_interruptions.size() && !excused; ++k) {
        const WallTime kill = run.collector_interruptions[k];
        if (excusable[k] > 0 && before >= kill - attempt - second && before <= kill &&
            after > kill - second) {
          --excusable[k];
          excused = true;
        }
      }
      if (excused) {
        ++v.redeliveries_after_kill;
      } else if (++v.double_deliveries <= kListed) {
        v.failures.push_back(
            "webhook " + id + " (" + copies[i]->type +
            ") delivered again: its earlier delivery was not in flight at a collector's "
            "kill, freeze or cut from the database");
      }
    }
  }
  if (v.double_deliveries > kListed) {
    v.failures.push_back(std::to_string(v.double_deliveries) +
                         " webhook deliveries repeated in all");
  }
}

void judgeCluster(const RunObservations& run, Verdict& v) {
  const ClusterObservations& c = run.cluster;
  for (const AdminWrite& w : c.admin_writes) {
    if (!w.acknowledged) continue;
    ++v.admin_writes_acknowledged;
    if (w.missing_on.empty()) continue;
    if (++v.admin_writes_lost <= kListed) {
      std::string where;
      for (const std::string& name : w.missing_on) where += (where.empty() ? "" : ", ") + name;
      v.failures.push_back("admin write lost: " + w.what + " was acknowledged, not read back on " +
                           where);
    }
  }
  if (v.admin_writes_lost > kListed) {
    v.failures.push_back(std::to_string(v.admin_writes_lost) + " acknowledged admin writes lost");
  }
  for (const CollectorUsage& u : c.usage) {
    if (run.rss_bound_bytes > 0 && u.peak_rss_bytes > run.rss_bound_bytes) {
      v.failures.push_back(u.name + " peak RSS " + std::to_string(u.peak_rss_bytes >> 20) +
                           " MiB above the bound " + std::to_string(run.rss_bound_bytes >> 20) +
                           " MiB");
    }
  }
  for (const std::string& exit : c.unexpected_exits) v.failures.push_back(exit);
  for (const std::string& step : c.unsettled) {
    v.failures.push_back("the cluster did not settle after " + step);
  }
}

}  // namespace vigil::fleetsim
