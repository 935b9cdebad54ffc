#define BOOST_TEST_MODULE agent_state_store
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <set>
#include <string>

#include "agent/core/identity_store.h"
#include "agent/core/sequence_allocator.h"
#include "agent/core/state_files.h"
#include "agent/platform/platform.h"
#include "tests/unit/agent/test_support.h"

using vigil::Status;
using vigil::agent::FileIdentityStore;
using vigil::agent::FileSequenceStore;
using vigil::agent::Identity;
using vigil::agent::SequenceAllocator;
using vigil::agent::testing::InMemorySequenceStore;
using vigil::testing::TempDir;

namespace fs = std::filesystem;

namespace {

// The real protection of this OS: these tests check modes and refusals.
vigil::agent::StateProtection& stateProtection() {
  static vigil::agent::Platform platform = vigil::agent::makePlatform();
  return *platform.state;
}

fs::perms modeOf(const fs::path& p) { return fs::status(p).permissions() & fs::perms::all; }

const Identity kIdentity{"ag_5f0c1d", std::string(64, 'a'), "https://vigil.example.com", ""};

}  // namespace

BOOST_AUTO_TEST_CASE(identity_round_trips_through_the_file) {
  TempDir dir;
  const fs::path state = dir.path() / "state";
  {
    FileIdentityStore store(state, stateProtection());
    auto loaded = store.load();
    BOOST_TEST_REQUIRE(loaded.ok());
    BOOST_TEST(!loaded.value().has_value());  // never enrolled
    BOOST_TEST_REQUIRE(store.save(kIdentity).ok());
  }
  FileIdentityStore reopened(state, stateProtection());
  auto loaded = reopened.load();
  BOOST_TEST_REQUIRE(loaded.ok(), vigil::agent::testing::errorText(loaded));
  BOOST_TEST_REQUIRE(loaded.value().has_value());
  BOOST_TEST(loaded.value()->agent_id == kIdentity.agent_id);
  BOOST_TEST(loaded.value()->secret == kIdentity.secret);
  BOOST_TEST(loaded.value()->server_url == kIdentity.server_url);
}

// File modes are POSIX: on Windows the state protection is an ACL, tested in
// tests/unit/agent/windows/state_protection_test.cc.
#ifndef _WIN32
BOOST_AUTO_TEST_CASE(identity_file_is_0600_in_a_0700_directory_whatever_existed_before) {
  TempDir dir;
  const fs::path state = dir.path() / "state";
  fs::create_directories(state);
  fs::permissions(state, fs::perms::all & ~fs::perms::others_write, fs::perm_options::replace);
  FileIdentityStore store(state, stateProtection());
  BOOST_TEST_REQUIRE(store.save(kIdentity).ok());
  BOOST_TEST(modeOf(state) == fs::perms::owner_all);
  BOOST_TEST(modeOf(store.path()) == (fs::perms::owner_read | fs::perms::owner_write));
  // The write went through a temporary file that is gone.
  BOOST_TEST(!fs::exists(state / "identity.json.tmp"));
  // A second save replaces the first and keeps the mode.
  BOOST_TEST_REQUIRE(store.save(Identity{"ag_other", "s", "", ""}).ok());
  BOOST_TEST(modeOf(store.path()) == (fs::perms::owner_read | fs::perms::owner_write));
  BOOST_TEST(store.load().value()->agent_id == "ag_other");
}

BOOST_AUTO_TEST_CASE(a_new_state_directory_is_created_0700) {
  TempDir dir;
  const fs::path state = dir.path() / "a" / "b";
  FileIdentityStore store(state, stateProtection());
  BOOST_TEST_REQUIRE(store.save(kIdentity).ok());
  BOOST_TEST(modeOf(state) == fs::perms::owner_all);
}

BOOST_AUTO_TEST_CASE(a_shared_sticky_directory_is_refused_as_state_directory) {
  TempDir dir;
  const fs::path shared = dir.path() / "shared";
  fs::create_directories(shared);
  fs::permissions(shared, fs::perms::all | fs::perms::sticky_bit, fs::perm_options::replace);
  FileIdentityStore store(shared, stateProtection());
  const Status st = store.save(kIdentity);
  BOOST_TEST(!st.ok());
  BOOST_TEST(st.message().find("sticky") != std::string::npos);
  BOOST_TEST((modeOf(shared) & fs::perms::others_all) == fs::perms::others_all);  // untouched
}

#endif  // _WIN32

BOOST_AUTO_TEST_CASE(a_corrupt_identity_file_is_an_error_not_a_missing_identity) {
  for (const char* text :
       {"", "not json", "[]", "{\"v\":1,\"secret\":\"s\"}", "{\"v\":1,\"agent_id\":\"ag\"}",
        "{\"v\":2,\"agent_id\":\"a\",\"secret\":\"s\"}",
        "{\"v\":1,\"agent_id\":\"\",\"secret\":\"s\"}"}) {
    TempDir dir;
    dir.write("identity.json", text);
    FileIdentityStore store(dir.path(), stateProtection());
    auto loaded = store.load();
    BOOST_TEST(!loaded.ok(), text);
    if (!loaded.ok()) {
      BOOST_TEST(loaded.error().message().find("remove it to enroll again") != std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_CASE(sequence_file_is_0600_and_round_trips) {
  TempDir dir;
  FileSequenceStore store(dir.path() / "state", stateProtection());
  BOOST_TEST(store.loadReservation().value() == 0u);
  BOOST_TEST_REQUIRE(store.storeReservation(123456).ok());
  BOOST_TEST(store.loadReservation().value() == 123456u);
#ifndef _WIN32
  BOOST_TEST(modeOf(store.path()) == (fs::perms::owner_read | fs::perms::owner_write));
  BOOST_TEST(modeOf(dir.path() / "state") == fs::perms::owner_all);
#endif
}

BOOST_AUTO_TEST_CASE(a_corrupt_sequence_file_is_reported) {
  TempDir dir;
  dir.write("seq", "12ab\n");
  FileSequenceStore store(dir.path(), stateProtection());
  BOOST_TEST(!store.loadReservation().ok());
}

BOOST_AUTO_TEST_CASE(sequence_strictly_increases_across_simulated_restarts) {
  TempDir dir;
  uint64_t last = 0;
  std::set<uint64_t> seen;
  // Restarts after 0, 1, 999, 1000, 1001 and 2500 beats: every number is new and larger.
  for (int beats : {0, 1, 999, 1000, 1001, 2500, 3}) {
    FileSequenceStore store(dir.path(), stateProtection());
    SequenceAllocator allocator(store);
    BOOST_TEST_REQUIRE(allocator.start().ok());
    for (int i = 0; i < beats; ++i) {
      const uint64_t seq = allocator.next();
      BOOST_TEST(seq > last);
      BOOST_TEST(seen.insert(seq).second);
      last = seq;
    }
  }
  BOOST_TEST(seen.size() == 0u + 1 + 999 + 1000 + 1001 + 2500 + 3);
}

BOOST_AUTO_TEST_CASE(sequence_reservations_are_written_once_per_block_not_per_beat) {
  InMemorySequenceStore store;
  SequenceAllocator allocator(store, 1000);
  BOOST_TEST_REQUIRE(allocator.start().ok());
  BOOST_TEST(store.stores == 1);
  BOOST_TEST(store.reserved_below == 1001u);
  for (int i = 0; i < 1000; ++i) allocator.next();
  BOOST_TEST(store.stores == 1);
  BOOST_TEST(allocator.next() == 1001u);
  BOOST_TEST(store.stores == 2);
  BOOST_TEST(store.reserved_below == 2001u);
}

BOOST_AUTO_TEST_CASE(sequence_is_stored_before_a_number_past_the_reservation_is_used) {
  InMemorySequenceStore store;
  store.reserved_below = 5000;  // a previous run used numbers below 5000
  SequenceAllocator allocator(store, 10);
  BOOST_TEST_REQUIRE(allocator.start().ok());
  BOOST_TEST(store.reserved_below == 5010u);
  for (int i = 0; i < 25; ++i) {
    const uint64_t seq = allocator.next();
    BOOST_TEST(seq >= 5000u);
    BOOST_TEST(seq < store.reserved_below);
  }
}

BOOST_AUTO_TEST_CASE(jump_forward_skips_numbers_and_persists_the_new_reservation) {
  InMemorySequenceStore store;
  SequenceAllocator allocator(store, 1000);
  BOOST_TEST_REQUIRE(allocator.start().ok());
  BOOST_TEST(allocator.next() == 1u);
  allocator.jumpForward(4000);
  BOOST_TEST(allocator.next() == 4002u);
  BOOST_TEST(store.reserved_below == 5002u);
}

BOOST_AUTO_TEST_CASE(a_failing_store_still_hands_out_numbers_and_reports_it) {
  InMemorySequenceStore store;
  store.store_error = Status::ioError("disk full");
  SequenceAllocator allocator(store, 1000);
  BOOST_TEST(allocator.start().ok());  // nothing to load; the store failure is reported apart
  BOOST_TEST(!allocator.persistStatus().ok());
  BOOST_TEST(allocator.next() == 1u);
  BOOST_TEST(allocator.next() == 2u);
  BOOST_TEST(!allocator.persistStatus().ok());
  store.store_error = Status();
  BOOST_TEST(allocator.next() == 3u);
  BOOST_TEST(allocator.persistStatus().ok());
  BOOST_TEST(store.reserved_below == 1003u);
}

BOOST_AUTO_TEST_CASE(an_unreadable_reservation_restarts_at_one_and_reports_it) {
  InMemorySequenceStore store;
  store.load_error = Status::failedPrecondition("corrupt");
  SequenceAllocator allocator(store);
  BOOST_TEST(!allocator.start().ok());
  BOOST_TEST(allocator.next() == 1u);
}
