#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "agent/core/platform.h"
#include "common/status.h"

namespace vigil::agent {

// Who this agent is to its collector: the answer to its enrollment.
struct Identity {
  std::string agent_id;
  std::string secret;      // the per-agent HMAC key (its ASCII bytes)
  std::string server_url;  // the collector it enrolled with
  // The site's LAN peer key, from the collector (empty until one was received).
  std::string peer_key;
};

// Keeps the identity across restarts. Implementations need not be thread-safe.
class IdentityStore {
 public:
  virtual ~IdentityStore() = default;
  // nullopt when the agent has never enrolled; an error when the stored identity exists but
  // cannot be read or is corrupt (the caller must not silently enroll again: that would
  // create a second agent for the same endpoint).
  virtual Result<std::optional<Identity>> load() = 0;
  virtual Status save(const Identity& identity) = 0;
  // Forgets the identity (the agent was retired): load() returns nullopt afterwards. OK when
  // there was none.
  virtual Status remove() = 0;
};

// `<state_dir>/identity.json`, written atomically with mode 0600 in a 0700 directory.
class FileIdentityStore final : public IdentityStore {
 public:
  // REQUIRES: `protection` outlives the store.
  FileIdentityStore(std::filesystem::path state_dir, StateProtection& protection);

  Result<std::optional<Identity>> load() override;
  Status save(const Identity& identity) override;
  Status remove() override;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path state_dir_;
  StateProtection& protection_;
  std::filesystem::path path_;
};

}  // namespace vigil::agent
