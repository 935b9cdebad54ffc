#include "collector/app/bootstrap.h"

#include <filesystem>
#include <optional>
#include <string>
#include <utility>

#include "common/atomic_file.h"
#include "common/crypto.h"

namespace vigil::collector {
namespace {

namespace fs = std::filesystem;

constexpr size_t kGeneratedTokenBytes = 32;  // 64 hex characters
constexpr size_t kShortAdminToken = 32;
constexpr fs::perms kSecretFileMode = fs::perms::owner_read | fs::perms::owner_write;

Result<std::string> hashOf(const std::string& token) {
  auto digest = crypto::sha256(token);
  if (!digest.ok()) return digest.error();
  return crypto::toHex(digest.value());
}

// Generates a token, writes it to `file` and returns it.
Result<std::string> generateTokenFile(const fs::path& file) {
  auto token = crypto::randomHex(kGeneratedTokenBytes);
  if (!token.ok()) return token.error();
  if (Status s =
          replaceFileAtomically(file, token.value() + "\n", withPermissions(kSecretFileMode));
      !s.ok()) {
    return s;
  }
  return token.value();
}

// The object `find` answers, else the one `create` makes (second: true); if another collector
// sharing the database made it between the two (kAlreadyExists), that one.
template <typename T, typename Find, typename Create>
Result<std::pair<T, bool>> findOrCreate(const Find& find, const Create& create) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    Result<std::optional<T>> found = find();
    if (!found.ok()) return found.error();
    if (found.value()) return std::make_pair(*found.value(), false);
    if (attempt > 0) break;
    Result<T> created = create();
    if (created.ok()) return std::make_pair(created.value(), true);
    if (created.error().code() != StatusCode::kAlreadyExists) return created.error();
  }
  return Status::internal("created by another collector, yet not found");
}

Result<Site> ensureDefaultSite(Store& store, int64_t now_ms, Poco::Logger& logger) {
  auto tenant =
      findOrCreate<Tenant>([&] { return store.findTenantByName(kDefaultTenantName); },
                           [&] { return store.createTenant(kDefaultTenantName, now_ms); });
  if (!tenant.ok()) return tenant.error();
  if (tenant.value().second) {
    logger.information("created tenant \"%s\"", std::string(kDefaultTenantName));
  }
  const int64_t tenant_id = tenant.value().first.id;
  auto site =
      findOrCreate<Site>([&] { return store.findSiteByName(tenant_id, kDefaultSiteName); },
                         [&] { return store.createSite(tenant_id, kDefaultSiteName, now_ms); });
  if (!site.ok()) return site.error();
  if (site.value().second) {
    logger.information("created site \"%s\"", std::string(kDefaultSiteName));
  }
  return site.value().first;
}

Status ensureEnrollmentToken(Store& store, const Site& site, const BootstrapOptions& options,
                             int64_t now_ms, Poco::Logger& logger) {
  std::string token = options.enroll_token;
  EnrollmentToken record;
  if (token.empty()) {
    auto existing = store.listEnrollmentTokens(site.id);
    if (!existing.ok()) return existing.error();
    if (!existing.value().empty()) return Status::okStatus();
    const fs::path file = fs::path(options.data_dir) / kEnrollTokenFileName;
    auto generated = generateTokenFile(file);
    if (!generated.ok()) return generated.error();
    token = generated.value();
    if (options.generated_token_days > 0) {
      record.expires_at_ms = now_ms + options.generated_token_days * 86'400'000;
    }
    if (options.generated_token_max_uses > 0) record.max_uses = options.generated_token_max_uses;
    logger.information(
        "generated the default site's enrollment token into %s (expires in %s, enrolls %s "
        "agents; enroll.generatedTokenDays, enroll.generatedTokenMaxUses)",
        file.string(),
        options.generated_token_days > 0 ? std::to_string(options.generated_token_days) + " days"
                                         : std::string("never"),
        options.generated_token_max_uses > 0 ? std::to_string(options.generated_token_max_uses)
                                             : std::string("any number of"));
  }
  auto hash = hashOf(token);
  if (!hash.ok()) return hash.error();
  auto found = store.findEnrollmentTokenByHash(hash.value());
  if (!found.ok()) return found.error();
  if (found.value()) return Status::okStatus();
  record.site_id = site.id;
  record.token_hash = hash.value();
  record.created_at_ms = now_ms;
  auto created = store.createEnrollmentToken(record);
  return created.ok() ? Status::okStatus() : created.error();
}

Status ensureAdminToken(Store& store, const BootstrapOptions& options, int64_t now_ms,
                        Poco::Logger& logger) {
  auto existing = store.listAdminTokens();
  if (!existing.ok()) return existing.error();
  std::string token = options.admin_token;
  std::string name = "admin.token (configuration)";
  if (token.empty()) {
    if (!existing.value().empty()) return Status::okStatus();
    const fs::path file = fs::path(options.data_dir) / kAdminTokenFileName;
    auto generated = generateTokenFile(file);
    if (!generated.ok()) return generated.error();
    token = generated.value();
    name = "generated at first start";
    logger.information("generated an admin API token into %s", file.string());
  } else if (token.size() < kShortAdminToken) {
    logger.warning("admin.token is shorter than %z characters; use a long random token",
                   kShortAdminToken);
  }
  auto hash = hashOf(token);
  if (!hash.ok()) return hash.error();
  for (const AdminToken& t : existing.value()) {
    if (t.token_hash != hash.value()) continue;
    // Known already: a revocation (API or CLI) stands, even for the configured token.
    if (!t.usableAt(now_ms)) {
      logger.warning("admin.token is configured but revoked or expired: it authenticates nobody");
    }
    return Status::okStatus();
  }
  auto created = store.createAdminToken(NewAdminToken::forAllTenants(hash.value(), name), now_ms);
  return created.ok() ? Status::okStatus() : created.error();
}

}  // namespace

Status bootstrapStore(Store& store, const BootstrapOptions& options, const Clock& clock,
                      Poco::Logger& logger) {
  const int64_t now_ms = toUnixMillis(clock.wallNow());
  auto site = ensureDefaultSite(store, now_ms, logger);
  if (!site.ok()) return site.error();
  if (Status s = ensureEnrollmentToken(store, site.value(), options, now_ms, logger); !s.ok()) {
    return s;
  }
  return ensureAdminToken(store, options, now_ms, logger);
}

}  // namespace vigil::collector
