// Fuzz target: the collector's agent-facing service (enrollment and heartbeat checks) over a
// real SQLite store. The first input byte picks how the request is framed; the rest is the
// body. Invariants: no crash; every refusal is a 4xx with a code; only a valid, correctly
// signed, in-sequence heartbeat is accepted; enrollment with a wrong token creates nothing.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "collector/ingest/agent_directory.h"
#include "collector/ingest/ingest_service.h"
#include "collector/store/sql_store.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/protocol.h"

namespace {

using namespace vigil;
using namespace vigil::collector;

constexpr char kEnrollToken[] = "fuzz-enrollment-token";

void check(bool condition) {
  if (!condition) std::abort();
}

struct World {
  SimulatedClock clock{fromUnixMillis(1'790'000'000'000)};
  std::string dir;
  std::unique_ptr<SqlStore> store;
  AgentDirectory directory;
  std::unique_ptr<IngestService> service;
  protocol::EnrollResponse agent;

  World() {
    std::string pattern = std::filesystem::temp_directory_path().string() + "/vigil-fuzz-XXXXXX";
    check(::mkdtemp(pattern.data()) != nullptr);
    dir = pattern;
    store = std::move(SqlStore::openSqlite(dir).value());
    const int64_t now = toUnixMillis(clock.wallNow());
    auto tenant = store->createTenant("default", now);
    auto site = store->createSite(tenant->id, "default", now);
    EnrollmentToken token;
    token.site_id = site->id;
    token.token_hash = crypto::toHex(crypto::sha256(kEnrollToken).value());
    token.created_at_ms = now;
    check(store->createEnrollmentToken(token).ok());
    check(directory.load(*store).ok());
    service = std::make_unique<IngestService>(*store, *store, *store, directory, clock,
                                              IngestConfig{60, 300'000});
    protocol::EnrollRequest req;
    req.enroll_token = kEnrollToken;
    req.facts = {"fuzz-host", "linux", "", "", "0.1.0"};
    auto enrolled = service->enroll(protocol::encode(req));
    check(enrolled.ok());
    agent = enrolled.value();
  }
  ~World() {
    service.reset();
    store.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

void checkRefusal(const ApiError& error) {
  check(error.http_status >= 400 && error.http_status < 500);
  check(!error.code.empty() && !error.message.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World world;
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);

  if (mode & 0x80) {  // enrollment body
    const size_t agents_before = world.directory.size();
    auto result = world.service->enroll(body);
    if (!result.ok()) {
      checkRefusal(result.error());
      check(world.directory.size() == agents_before);
    } else {
      check(world.directory.size() == agents_before + 1);
    }
    return 0;
  }

  const int64_t now = toUnixMillis(world.clock.wallNow());
  HeartbeatRequest req;
  req.agent_id = (mode & 0x01) ? std::string(body.substr(0, 40)) : world.agent.agent_id;
  req.timestamp = (mode & 0x02) ? std::string(body.substr(0, 16)) : std::to_string(now);
  if (mode & 0x04) {
    req.signature = std::string(body.substr(0, 67));
  } else {
    req.signature =
        protocol::sign(world.agent.secret, "POST", protocol::kHeartbeatPath, now, body).value();
  }
  req.body = body;
  const auto before = world.directory.liveState(world.agent.agent_id);
  auto result = world.service->heartbeat(req);
  const auto after = world.directory.liveState(world.agent.agent_id);
  if (!result.ok()) {
    checkRefusal(result.error());
    check(before->last_seq == after->last_seq && before->last_seen_at_ms == after->last_seen_at_ms);
  } else {
    auto beat = protocol::decodeHeartbeat(body);
    check(beat.ok() && beat->agent_id == world.agent.agent_id);
    check(static_cast<int64_t>(beat->seq) > before->last_seq);
    check(after->last_seq == static_cast<int64_t>(beat->seq));
  }
  world.clock.advance(std::chrono::milliseconds(1));
  return 0;
}
