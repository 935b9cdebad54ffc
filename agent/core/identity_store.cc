#include "agent/core/identity_store.h"

#include <system_error>
#include <utility>

#include "agent/core/state_files.h"
#include "common/json.h"

namespace vigil::agent {
namespace {

constexpr size_t kMaxIdentityFileBytes = size_t{16} * 1024;

std::optional<std::string> stringField(const cJSON* root, const char* name) {
  const cJSON* item = cJSON_GetObjectItemCaseSensitive(root, name);
  if (!cJSON_IsString(item) || item->valuestring == nullptr) return std::nullopt;
  return std::string(item->valuestring);
}

}  // namespace

FileIdentityStore::FileIdentityStore(std::filesystem::path state_dir, StateProtection& protection)
    : state_dir_(std::move(state_dir)),
      protection_(protection),
      path_(state_dir_ / "identity.json") {}

Result<std::optional<Identity>> FileIdentityStore::load() {
  Result<std::optional<std::string>> content = readSmallFile(path_, kMaxIdentityFileBytes);
  if (!content.ok()) return content.error();
  if (!content.value()) return std::optional<Identity>();

  auto corrupt = [&](const std::string& why) {
    return Status::failedPrecondition("identity file " + path_.string() + " is corrupt (" + why +
                                      "); restore it, or remove it to enroll again");
  };
  json::JsonPtr root = json::parse(**content);
  if (!root || !cJSON_IsObject(root.get())) return corrupt("not a JSON object");
  if (!json::isIntegerInRange(cJSON_GetObjectItemCaseSensitive(root.get(), "v"), 1, 1)) {
    return corrupt("unknown format version");
  }
  Identity identity;
  std::optional<std::string> agent_id = stringField(root.get(), "agent_id");
  std::optional<std::string> secret = stringField(root.get(), "secret");
  std::optional<std::string> server_url = stringField(root.get(), "server_url");
  if (!agent_id || agent_id->empty()) return corrupt("no agent_id");
  if (!secret || secret->empty()) return corrupt("no secret");
  identity.agent_id = std::move(*agent_id);
  identity.secret = std::move(*secret);
  identity.server_url = server_url.value_or("");
  identity.peer_key = stringField(root.get(), "peer_key").value_or("");
  return std::optional<Identity>(std::move(identity));
}

Status FileIdentityStore::save(const Identity& identity) {
  if (Status st = prepareStateDir(state_dir_, protection_); !st.ok()) return st;
  json::JsonPtr root(cJSON_CreateObject());
  if (!root) return Status::internal("out of memory");
  cJSON_AddNumberToObject(root.get(), "v", 1);
  cJSON_AddStringToObject(root.get(), "agent_id", identity.agent_id.c_str());
  cJSON_AddStringToObject(root.get(), "secret", identity.secret.c_str());
  cJSON_AddStringToObject(root.get(), "server_url", identity.server_url.c_str());
  if (!identity.peer_key.empty()) {
    cJSON_AddStringToObject(root.get(), "peer_key", identity.peer_key.c_str());
  }
  std::string text = json::print(root.get());
  if (text.empty()) return Status::internal("out of memory");
  text += '\n';
  return writePrivateFileAtomically(path_, text, protection_);
}

Status FileIdentityStore::remove() {
  std::error_code ec;
  std::filesystem::remove(path_, ec);
  if (ec) return Status::ioError("cannot remove " + path_.string() + ": " + ec.message());
  return Status::okStatus();
}

}  // namespace vigil::agent
