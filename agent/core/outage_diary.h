#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "agent/core/platform.h"
#include "common/clock.h"
#include "common/protocol.h"
#include "common/status.h"

namespace vigil::agent {

struct OutageDiaryOptions {
  // Entries kept; when full, the two oldest are merged into one that covers both.
  size_t max_entries = protocol::kMaxOutageEntries;
  // While an outage goes on, its end is written at most this often (the end of an outage is
  // lost by at most this much if the agent is killed).
  Duration persist_every = std::chrono::seconds(60);
};

// The periods when the agent ran but could not reach its collector (docs/protocol.md,
// "outages"). Kept in `<state_dir>/outage-diary.json` across restarts, sent with the next
// accepted heartbeat and then forgotten. An outage is one entry from its first to its last
// failed attempt, with the cause of its first failure. Not thread-safe.
class OutageDiary {
 public:
  // REQUIRES: `protection` and `clock` outlive the diary.
  OutageDiary(std::filesystem::path state_dir, StateProtection& protection, const Clock& clock,
              OutageDiaryOptions options = {});

  // Reads the file. An outage still open in the file (the agent stopped during it) is closed
  // at its last recorded failure. A corrupt file is renamed to outage-diary.json.corrupt and
  // the diary starts empty; the error says so (the caller logs it; nothing else is lost).
  Status load();

  // One failed attempt at `at_ms` (corrected wall clock, Unix ms). Opens an outage or extends
  // the open one. Returns the write error, if any (the diary keeps the entry in memory).
  Status recordFailure(int64_t at_ms, const std::string& cause);

  // What the next heartbeat carries: closed outages oldest first, then the open one ending at
  // `now_ms`, at most max_entries in all.
  std::vector<protocol::OutageEntry> pending(int64_t now_ms) const;

  // The collector accepted a heartbeat that carried pending(): forgets it all and ends the
  // open outage.
  Status delivered();

  bool empty() const { return closed_.empty() && !open_; }
  bool outageOpen() const { return open_.has_value(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  Status persist();
  void pushClosed(protocol::OutageEntry entry);

  std::filesystem::path state_dir_;
  std::filesystem::path path_;
  StateProtection& protection_;
  const Clock& clock_;
  OutageDiaryOptions options_;
  std::vector<protocol::OutageEntry> closed_;
  std::optional<protocol::OutageEntry> open_;
  std::optional<MonoTime> last_persist_;
};

}  // namespace vigil::agent
