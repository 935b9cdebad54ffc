#include "collector/presence/maintenance.h"

#include <algorithm>
#include <chrono>

namespace vigil::collector::presence {
namespace {

constexpr auto kWeek = std::chrono::hours(24 * 7);

bool contains(const std::vector<uint32_t>& sorted, uint32_t value) {
  return std::binary_search(sorted.begin(), sorted.end(), value);
}

}  // namespace

bool isWindowOpen(const MaintenanceWindow& window, WallTime now) {
  if (now < window.starts_at || window.length <= Duration::zero()) return false;
  auto elapsed = now - window.starts_at;
  if (window.weekly) elapsed %= std::chrono::duration_cast<decltype(elapsed)>(kWeek);
  return elapsed < window.length;
}

void MaintenanceCalendar::setWindows(std::vector<MaintenanceWindow> windows) {
  windows_ = std::move(windows);
  open_.assign(windows_.size(), 0);
  replaced_ = true;
}

bool MaintenanceCalendar::update(WallTime now) {
  bool closed = replaced_;
  replaced_ = false;
  open_count_ = 0;
  open_tenants_.clear();
  open_sites_.clear();
  open_agents_.clear();
  for (size_t i = 0; i < windows_.size(); ++i) {
    const MaintenanceWindow& window = windows_[i];
    const bool open = isWindowOpen(window, now);
    if (open_[i] && !open) closed = true;
    open_[i] = open ? 1 : 0;
    if (!open) continue;
    ++open_count_;
    switch (window.scope) {
      case MaintenanceWindow::Scope::kTenant:
        open_tenants_.push_back(window.target);
        break;
      case MaintenanceWindow::Scope::kSite:
        open_sites_.push_back(window.target);
        break;
      case MaintenanceWindow::Scope::kAgent:
        open_agents_.push_back(window.target);
        break;
    }
  }
  std::sort(open_tenants_.begin(), open_tenants_.end());
  std::sort(open_sites_.begin(), open_sites_.end());
  std::sort(open_agents_.begin(), open_agents_.end());
  return closed;
}

bool MaintenanceCalendar::covers(AgentHandle agent, SiteId site, TenantId tenant) const {
  if (open_count_ == 0) return false;
  return contains(open_agents_, agent) || contains(open_sites_, site) ||
         contains(open_tenants_, tenant);
}

size_t MaintenanceCalendar::memoryBytes() const {
  return windows_.capacity() * sizeof(MaintenanceWindow) + open_.capacity() +
         (open_tenants_.capacity() + open_sites_.capacity() + open_agents_.capacity()) *
             sizeof(uint32_t);
}

}  // namespace vigil::collector::presence
