#pragma once

// A real Store whose last-seen, presence-event and enrollment writes can be observed or
// broken; every other call goes to the wrapped store unchanged.

#include <atomic>
#include <functional>
#include <optional>
#include <vector>

#include "collector/store/store_wrapper.h"

namespace vigil::testing {

class ObservedStore final : public collector::StoreWrapper {
 public:
  explicit ObservedStore(collector::Store& inner) : StoreWrapper(inner) {}

  std::atomic<int> last_seen_batches{0};
  std::vector<size_t> last_seen_batch_sizes;
  std::vector<collector::LastSeenUpdate> last_seen_updates;  // every update written, in order
  bool fail_last_seen = false;
  bool fail_presence_events = false;
  std::optional<Status> enroll_failure;  // what enrollAgent returns instead of writing
  // Runs before each presence-event write, on the writing thread (a slow disk, say).
  std::function<void()> before_presence_events;
  std::atomic<int> presence_event_writes{0};  // written successfully

  Result<collector::AgentRecord> enrollAgent(int64_t token_id, const collector::AgentRecord& agent,
                                             int64_t now_ms) override {
    if (enroll_failure) return *enroll_failure;
    return target().enrollAgent(token_id, agent, now_ms);
  }

  Status updateLastSeen(const std::vector<collector::LastSeenUpdate>& updates) override {
    if (fail_last_seen) return Status::ioError("injected write failure");
    ++last_seen_batches;
    last_seen_batch_sizes.push_back(updates.size());
    last_seen_updates.insert(last_seen_updates.end(), updates.begin(), updates.end());
    return target().updateLastSeen(updates);
  }
  Status appendPresenceEvents(const std::vector<collector::StatusChangeRecord>& changes,
                              const std::vector<collector::AlertChange>& alerts,
                              const std::vector<collector::HealthRecord>& health) override {
    if (before_presence_events) before_presence_events();
    if (fail_presence_events) return Status::ioError("injected write failure");
    Status written = target().appendPresenceEvents(changes, alerts, health);
    if (written.ok()) ++presence_event_writes;
    return written;
  }
};

}  // namespace vigil::testing
