#include "collector/app/admin_cli.h"

#include <algorithm>
#include <memory>
#include <ostream>
#include <utility>

#include "collector/admin/admin_api.h"
#include "collector/admin/tenancy_service.h"
#include "collector/admin/token_service.h"
#include "collector/store/sql_store.h"
#include "common/text.h"

namespace vigil::collector {
namespace {

// Rows of text as left-aligned columns, two spaces apart.
void printTable(std::ostream& out, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out << line << '\n';
  }
}

std::string scopeText(const AdminToken& t) {
  if (t.all_tenants) return "all tenants";
  if (t.tenant_ids.empty()) return "none (tenants deleted)";
  std::string text = "tenants ";
  for (size_t i = 0; i < t.tenant_ids.size(); ++i) {
    text += (i == 0 ? "" : ",") + std::to_string(t.tenant_ids[i]);
  }
  return text;
}

class CommandRunner {
 public:
  CommandRunner(const AdminCliOptions& options, const StoreSettings& store,
                const std::string& data_dir, const Clock& clock, std::ostream& out,
                std::ostream& err)
      : options_(options),
        store_settings_(store),
        data_dir_(data_dir),
        clock_(clock),
        out_(out),
        err_(err) {}

  int run(const std::vector<std::string>& args) {
    const std::string command = args.empty() ? "" : args[0];
    const std::string sub = args.size() > 1 ? args[1] : "";
    const size_t operands = args.size() > 2 ? args.size() - 2 : 0;
    const bool create_token = command == "admin-token" && sub == "create" && operands == 0;
    if (!create_token && options_.any()) {
      return usage(
          "--name, --tenant, --expires and --role are options of 'admin-token create' only");
    }
    if (create_token) return createAdminToken();
    if (command == "admin-token" && sub == "list" && operands == 0) return listAdminTokens();
    if (command == "admin-token" && sub == "revoke" && operands == 1) {
      return revokeAdminToken(args[2]);
    }
    if (command == "tenant" && sub == "create" && operands == 1) return createTenant(args[2]);
    if (command == "tenant" && sub == "list" && operands == 0) return listTenants();
    std::string given;
    for (const std::string& a : args) given += (given.empty() ? "" : " ") + a;
    return usage("unknown command or wrong arguments: '" + given + "'");
  }

 private:
  int usage(const std::string& problem) {
    err_ << "vigil-collector: " << problem << "\nusage:\n" << adminCliUsage();
    return kCliExitUsage;
  }
  int dataError(const std::string& problem) {
    err_ << "vigil-collector: " << problem << '\n';
    return kCliExitDataError;
  }
  int storeError(const Status& s) {
    err_ << "vigil-collector: store failure: " << s.toString() << '\n';
    return kCliExitIoError;
  }

  // Opens the store; false (with the message written) if it cannot.
  bool open() {
    auto opened = SqlStore::open(store_settings_, data_dir_);
    if (!opened.ok()) {
      err_ << "vigil-collector: cannot open the store: " << opened.error().toString() << '\n';
      return false;
    }
    store_ = std::move(opened.value());
    return true;
  }

  int64_t nowMs() const { return toUnixMillis(clock_.wallNow()); }

  int createAdminToken() {
    if (!options_.name) return usage("admin-token create needs --name NAME");
    auto name = normalizeName(*options_.name);
    if (!name.ok()) return dataError("--name: " + name.error().message());
    NewAdminToken token;
    token.name = name.value();
    for (const std::string& text : options_.tenants) {
      std::optional<int64_t> id = parsePositiveId(text);
      if (!id) return usage("--tenant takes a tenant id (a positive integer), not '" + text + "'");
      token.tenant_ids.push_back(*id);
    }
    std::sort(token.tenant_ids.begin(), token.tenant_ids.end());
    token.tenant_ids.erase(std::unique(token.tenant_ids.begin(), token.tenant_ids.end()),
                           token.tenant_ids.end());
    token.all_tenants = token.tenant_ids.empty();
    const int64_t now_ms = nowMs();
    if (options_.expires) {
      auto expires = parseRfc3339(*options_.expires, "--expires");
      if (!expires.ok()) return dataError(expires.error().message);
      if (expires.value() <= now_ms) return dataError("--expires: must be in the future");
      token.expires_at_ms = expires.value();
    }
    if (options_.role) {
      std::optional<AdminRole> role = parseAdminRole(*options_.role);
      if (!role) {
        return usage("--role takes read-only, operator or admin, not '" + *options_.role + "'");
      }
      token.role = *role;
    }
    auto issued = issueToken(kAdminTokenPrefix);
    if (!issued.ok()) return storeError(issued.error());
    token.token_hash = issued.value().hash;
    if (!open()) return kCliExitIoError;
    auto stored = store_->createAdminToken(token, now_ms);
    if (!stored.ok()) {
      if (stored.error().code() == StatusCode::kInvalidArgument) {
        return dataError("--tenant: " + stored.error().message());
      }
      return storeError(stored.error());
    }
    const AdminToken& t = stored.value();
    out_ << issued.value().token << '\n';
    out_.flush();
    err_ << "created admin token " << t.id << " \"" << t.name << "\" (" << scopeText(t)
         << ", expires "
         << (t.expires_at_ms ? formatRfc3339Utc(*t.expires_at_ms) : std::string("never"))
         << ", role " << adminRoleName(t.role) << "); the token above is shown only this once\n";
    return kCliExitOk;
  }

  int listAdminTokens() {
    if (!open()) return kCliExitIoError;
    auto tokens = store_->listAdminTokens();
    if (!tokens.ok()) return storeError(tokens.error());
    std::vector<std::vector<std::string>> rows = {
        {"ID", "NAME", "SCOPE", "CREATED", "EXPIRES", "ROLE", "PARENT", "REVOKED"}};
    for (const AdminToken& t : tokens.value()) {
      rows.push_back(
          {std::to_string(t.id), t.name, scopeText(t), formatRfc3339Utc(t.created_at_ms),
           t.expires_at_ms ? formatRfc3339Utc(*t.expires_at_ms) : "never", adminRoleName(t.role),
           t.created_by ? std::to_string(*t.created_by) : "-",
           t.revoked_at_ms ? formatRfc3339Utc(*t.revoked_at_ms) : (t.revoked ? "yes" : "no")});
    }
    printTable(out_, rows);
    return kCliExitOk;
  }

  int revokeAdminToken(const std::string& text) {
    std::optional<int64_t> id = parsePositiveId(text);
    if (!id) return usage("admin-token revoke takes a token id, not '" + text + "'");
    if (!open()) return kCliExitIoError;
    auto found = store_->findAdminToken(*id);
    if (!found.ok()) return storeError(found.error());
    if (!found.value()) return dataError("no admin token " + std::to_string(*id));
    auto revoked = store_->revokeAdminToken(*id, nowMs());
    if (!revoked.ok()) return storeError(revoked.error());
    if (!revoked.value()) return dataError("no admin token " + std::to_string(*id));
    out_ << (found.value()->revoked ? "admin token was already revoked: " : "revoked admin token ")
         << *id << " \"" << found.value()->name << "\"\n";
    return kCliExitOk;
  }

  int createTenant(const std::string& raw_name) {
    auto name = normalizeName(raw_name);
    if (!name.ok()) return dataError("tenant name: " + name.error().message());
    if (!open()) return kCliExitIoError;
    auto existing = store_->findTenantByName(name.value());
    if (!existing.ok()) return storeError(existing.error());
    if (existing.value()) {
      return dataError("a tenant named \"" + name.value() + "\" exists (id " +
                       std::to_string(existing.value()->id) + ")");
    }
    auto created = store_->createTenant(name.value(), nowMs());
    if (!created.ok()) return storeError(created.error());
    out_ << created.value().id << '\n';
    err_ << "created tenant " << created.value().id << " \"" << created.value().name << "\"\n";
    return kCliExitOk;
  }

  int listTenants() {
    if (!open()) return kCliExitIoError;
    std::vector<std::vector<std::string>> rows = {{"ID", "NAME", "CREATED"}};
    int64_t after = 0;
    for (;;) {
      auto page = store_->listTenants(TenantScope::everything(), "", after, kMaxPageSize);
      if (!page.ok()) return storeError(page.error());
      for (const Tenant& t : page.value()) {
        rows.push_back({std::to_string(t.id), t.name, formatRfc3339Utc(t.created_at_ms)});
      }
      if (page.value().size() < kMaxPageSize) break;
      after = page.value().back().id;
    }
    printTable(out_, rows);
    return kCliExitOk;
  }

  const AdminCliOptions& options_;
  const StoreSettings& store_settings_;
  const std::string& data_dir_;
  const Clock& clock_;
  std::ostream& out_;
  std::ostream& err_;
  std::unique_ptr<SqlStore> store_;
};

}  // namespace

std::string adminCliUsage() {
  return "  vigil-collector [options] admin-token create --name NAME [--tenant ID]... "
         "[--expires RFC3339] [--role read-only|operator|admin]\n"
         "  vigil-collector [options] admin-token list\n"
         "  vigil-collector [options] admin-token revoke ID\n"
         "  vigil-collector [options] tenant create NAME\n"
         "  vigil-collector [options] tenant list\n";
}

int runAdminCommand(const std::vector<std::string>& args, const AdminCliOptions& options,
                    const StoreSettings& store, const std::string& data_dir, const Clock& clock,
                    std::ostream& out, std::ostream& err) {
  return CommandRunner(options, store, data_dir, clock, out, err).run(args);
}

}  // namespace vigil::collector
