#pragma once

// Wraps a real Store to observe or break its last-seen writes (as leveldb's EnvWrapper does
// for Env): everything else goes to the wrapped store unchanged.

#include <atomic>
#include <vector>

#include "collector/store/store.h"

namespace vigil::testing {

class ObservedStore final : public collector::Store {
 public:
  explicit ObservedStore(collector::Store& inner) : inner_(inner) {}

  std::atomic<int> last_seen_batches{0};
  std::vector<size_t> last_seen_batch_sizes;
  std::vector<collector::LastSeenUpdate> last_seen_updates;  // every update written, in order
  bool fail_last_seen = false;

  Status ping() override { return inner_.ping(); }
  Result<collector::Tenant> createTenant(const std::string& n, int64_t t) override {
    return inner_.createTenant(n, t);
  }
  Result<std::optional<collector::Tenant>> findTenantByName(const std::string& n) override {
    return inner_.findTenantByName(n);
  }
  Result<collector::Site> createSite(int64_t tenant, const std::string& n, int64_t t) override {
    return inner_.createSite(tenant, n, t);
  }
  Result<std::optional<collector::Site>> findSiteByName(int64_t tenant,
                                                        const std::string& n) override {
    return inner_.findSiteByName(tenant, n);
  }
  Result<std::vector<collector::Site>> listSites() override { return inner_.listSites(); }
  Result<collector::EnrollmentToken> createEnrollmentToken(
      const collector::EnrollmentToken& t) override {
    return inner_.createEnrollmentToken(t);
  }
  Result<std::optional<collector::EnrollmentToken>> findEnrollmentTokenByHash(
      const std::string& h) override {
    return inner_.findEnrollmentTokenByHash(h);
  }
  Result<std::vector<collector::EnrollmentToken>> listEnrollmentTokens(int64_t site) override {
    return inner_.listEnrollmentTokens(site);
  }
  Result<collector::AgentRecord> enrollAgent(int64_t token, const collector::AgentRecord& a,
                                             int64_t now_ms) override {
    return inner_.enrollAgent(token, a, now_ms);
  }
  Result<std::optional<collector::AgentRecord>> findAgent(const std::string& id) override {
    return inner_.findAgent(id);
  }
  Result<std::vector<collector::AgentRecord>> listAgents(const std::string& after,
                                                         size_t limit) override {
    return inner_.listAgents(after, limit);
  }
  Status updateLastSeen(const std::vector<collector::LastSeenUpdate>& updates) override {
    if (fail_last_seen) return Status::ioError("injected write failure");
    ++last_seen_batches;
    last_seen_batch_sizes.push_back(updates.size());
    last_seen_updates.insert(last_seen_updates.end(), updates.begin(), updates.end());
    return inner_.updateLastSeen(updates);
  }
  Result<std::vector<collector::OutageReport>> listOutageReports(const std::string& id,
                                                                 size_t limit) override {
    return inner_.listOutageReports(id, limit);
  }
  Result<collector::AdminToken> createAdminToken(const std::string& h, const std::string& n,
                                                 int64_t t) override {
    return inner_.createAdminToken(h, n, t);
  }
  Result<std::vector<collector::AdminToken>> listAdminTokens() override {
    return inner_.listAdminTokens();
  }
  Status appendPresenceEvents(const std::vector<collector::StatusChangeRecord>& changes,
                              const std::vector<collector::AlertChange>& alerts,
                              const std::vector<collector::HealthRecord>& health) override {
    if (fail_presence_events) return Status::ioError("injected write failure");
    return inner_.appendPresenceEvents(changes, alerts, health);
  }
  Result<std::vector<collector::StatusChangeRecord>> listStatusChanges(const std::string& id,
                                                                       size_t limit) override {
    return inner_.listStatusChanges(id, limit);
  }
  Result<std::vector<collector::LastStatusRecord>> listLastStatuses() override {
    return inner_.listLastStatuses();
  }
  Result<std::vector<collector::AlertRecord>> listAlerts(bool open_only, size_t limit) override {
    return inner_.listAlerts(open_only, limit);
  }
  Result<std::vector<collector::HealthRecord>> listHealthHistory(size_t limit) override {
    return inner_.listHealthHistory(limit);
  }

  bool fail_presence_events = false;

 private:
  collector::Store& inner_;
};

}  // namespace vigil::testing
