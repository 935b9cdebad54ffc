#pragma once

// Short forms of store queries the collector tests repeat.

#include <vector>

#include "collector/store/store.h"

namespace vigil::testing {

// Alerts not closed (open or held), newest first, at most 100.
inline std::vector<collector::AlertRecord> openAlerts(collector::Store& store) {
  collector::AlertFilter filter;
  filter.scope = collector::TenantScope::everything();
  filter.states = {"open", "held"};
  return store.listAlertsPage(filter, 0, 100).value();
}

// Every alert, newest first, at most 100.
inline std::vector<collector::AlertRecord> allAlerts(collector::Store& store) {
  collector::AlertFilter filter;
  filter.scope = collector::TenantScope::everything();
  return store.listAlertsPage(filter, 0, 100).value();
}

}  // namespace vigil::testing
