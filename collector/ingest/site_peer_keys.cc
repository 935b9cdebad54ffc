#include "collector/ingest/site_peer_keys.h"

#include <utility>

#include "common/datagram.h"

namespace vigil::collector {

Status SitePeerKeys::load() {
  auto sites = store_.listSites();
  if (!sites.ok()) return sites.error();
  std::unordered_map<int64_t, SitePeerKey> loaded;
  for (const Site& site : sites.value()) {
    if (site.peer_key.empty()) continue;
    loaded.emplace(site.id, SitePeerKey{site.peer_key, datagram::peerKeyId(site.peer_key)});
  }
  MutexLock lock(mu_);
  keys_ = std::move(loaded);
  return Status::okStatus();
}

std::optional<SitePeerKey> SitePeerKeys::find(int64_t site_id) {
  {
    MutexLock lock(mu_);
    if (auto it = keys_.find(site_id); it != keys_.end()) return it->second;
  }
  // A site created since the last load; sites are few, so read them all again.
  if (!load().ok()) return std::nullopt;
  MutexLock lock(mu_);
  if (auto it = keys_.find(site_id); it != keys_.end()) return it->second;
  return std::nullopt;
}

void SitePeerKeys::forget(int64_t site_id) {
  MutexLock lock(mu_);
  keys_.erase(site_id);
}

}  // namespace vigil::collector
