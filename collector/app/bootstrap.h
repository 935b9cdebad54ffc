#pragma once

// First-start provisioning of a collector's store, and the admin/enrollment tokens that an
// operator configures. Idempotent: run at every start.
//
//   - tenant "default" with site "default";
//   - enroll.token configured: it becomes an enrollment token of the default site (kept
//     across restarts); not configured and the site has no token: one is generated and written
//     to <data.dir>/enroll-token (mode 0600), expiring and running out as the options say
//     (a quickstart token, not a rollout's: those are made with the admin API);
//   - admin.token configured: it is accepted (its hash is stored); not configured and no admin
//     token exists: one is generated and written to <data.dir>/admin-token (mode 0600).
//
// Tokens are stored as SHA-256 hashes only and never logged; the paths of written files are.

#include <Poco/Logger.h>

#include <string>

#include "collector/store/store.h"
#include "common/clock.h"
#include "common/status.h"

namespace vigil::collector {

constexpr char kDefaultTenantName[] = "default";
constexpr char kDefaultSiteName[] = "default";
constexpr char kEnrollTokenFileName[] = "enroll-token";
constexpr char kAdminTokenFileName[] = "admin-token";

struct BootstrapOptions {
  std::string data_dir;
  std::string admin_token;   // empty: none configured
  std::string enroll_token;  // empty: none configured
  // The generated enrollment token's lifetime in days and agents it may enroll; 0: no limit.
  // A configured enroll.token has neither: its owner chose it and revokes it.
  int64_t generated_token_days = 0;
  int64_t generated_token_max_uses = 0;
};

Status bootstrapStore(Store& store, const BootstrapOptions& options, const Clock& clock,
                      Poco::Logger& logger);

}  // namespace vigil::collector
