#pragma once

// The sites' LAN peer keys (docs/protocol.md, "LAN peer witness") in memory, with their ids,
// for the enrollment and heartbeat answers. Loaded from the store at start; a site created
// after that is read from the store when first asked for. The keys are secrets: never log
// them.
//
// Thread safety: safe to call concurrently.

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include "collector/store/store.h"
#include "common/mutex.h"
#include "common/status.h"

namespace vigil::collector {

struct SitePeerKey {
  std::string key;     // 64 hex
  std::string key_id;  // datagram::peerKeyId(key), 16 hex
};

class SitePeerKeys {
 public:
  // `store` must outlive this object.
  explicit SitePeerKeys(TenancyStore& store) : store_(store) {}

  // Reads every site's key.
  Status load();

  // The key of `site_id`; nullopt if the site does not exist or has no key.
  std::optional<SitePeerKey> find(int64_t site_id);

  // The site was deleted: its key is never handed out again.
  void forget(int64_t site_id);

 private:
  TenancyStore& store_;
  Mutex mu_;
  std::unordered_map<int64_t, SitePeerKey> keys_ GUARDED_BY(mu_);
};

}  // namespace vigil::collector
