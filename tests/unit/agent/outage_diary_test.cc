#define BOOST_TEST_MODULE agent_outage_diary
#include "agent/core/outage_diary.h"

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>

#include "tests/support/temp_dir.h"
#include "tests/unit/agent/test_support.h"

using namespace std::chrono_literals;
using vigil::SimulatedClock;
using vigil::agent::OutageDiary;
using vigil::agent::OutageDiaryOptions;
using vigil::agent::testing::PlainStateProtection;
using vigil::testing::TempDir;
namespace causes = vigil::protocol::causes;

BOOST_AUTO_TEST_CASE(an_outage_is_one_entry_from_first_to_last_failure) {
  TempDir dir;
  SimulatedClock clock;
  PlainStateProtection protection;
  OutageDiary diary(dir.path(), protection, clock);
  BOOST_TEST_REQUIRE(diary.load().ok());
  BOOST_TEST(diary.empty());
  BOOST_TEST(diary.recordFailure(1000, causes::kConnect).ok());
  BOOST_TEST(diary.recordFailure(5000, causes::kTimeout).ok());
  BOOST_TEST(diary.recordFailure(9000, causes::kConnect).ok());
  const auto pending = diary.pending(12000);
  BOOST_TEST_REQUIRE(pending.size() == 1u);
  BOOST_TEST(pending[0].from_ms == 1000);
  BOOST_TEST(pending[0].to_ms == 12000);  // ends at the reconnect
  BOOST_TEST(pending[0].cause == causes::kConnect);
  BOOST_TEST(diary.delivered().ok());
  BOOST_TEST(diary.empty());
  BOOST_TEST(diary.pending(13000).empty());
}

BOOST_AUTO_TEST_CASE(the_diary_survives_a_restart_and_closes_an_open_outage) {
  TempDir dir;
  SimulatedClock clock;
  PlainStateProtection protection;
  {
    OutageDiary diary(dir.path(), protection, clock);
    BOOST_TEST_REQUIRE(diary.load().ok());
    BOOST_TEST(diary.recordFailure(1000, causes::kDns).ok());
    BOOST_TEST(diary.recordFailure(2000, causes::kDns).ok());
    clock.advance(61s);  // the end is written at most once a minute
    BOOST_TEST(diary.recordFailure(70000, causes::kDns).ok());
    BOOST_TEST(diary.recordFailure(71000, causes::kDns).ok());  // not written yet
    BOOST_TEST(protection.secured_files >= 2);  // every write goes through the private writer
  }
  OutageDiary reopened(dir.path(), protection, clock);
  BOOST_TEST_REQUIRE(reopened.load().ok());
  BOOST_TEST(!reopened.outageOpen());  // the agent stopped during it: now closed
  const auto pending = reopened.pending(500000);
  BOOST_TEST_REQUIRE(pending.size() == 1u);
  BOOST_TEST(pending[0].from_ms == 1000);
  BOOST_TEST(pending[0].to_ms == 70000);  // the last persisted failure, not the reconnect
  BOOST_TEST(pending[0].cause == causes::kDns);
  // A new outage in this run is a second entry.
  BOOST_TEST(reopened.recordFailure(600000, causes::kTls).ok());
  const auto both = reopened.pending(610000);
  BOOST_TEST_REQUIRE(both.size() == 2u);
  BOOST_TEST(both[1].from_ms == 600000);
  BOOST_TEST(both[1].to_ms == 610000);
}

BOOST_AUTO_TEST_CASE(a_full_diary_merges_its_oldest_entries_and_covers_every_outage) {
  TempDir dir;
  SimulatedClock clock;
  PlainStateProtection protection;
  OutageDiaryOptions options;
  options.max_entries = 4;
  // Ten outages, each closed by a restart of the agent (reload).
  for (int i = 0; i < 10; ++i) {
    OutageDiary diary(dir.path(), protection, clock, options);
    BOOST_TEST_REQUIRE(diary.load().ok());
    BOOST_TEST(diary.recordFailure(i * 10000 + 1, causes::kConnect).ok());
  }
  OutageDiary diary(dir.path(), protection, clock, options);
  BOOST_TEST_REQUIRE(diary.load().ok());
  const auto pending = diary.pending(200000);
  BOOST_TEST(pending.size() == 4u);
  BOOST_TEST(pending.front().from_ms == 1);     // the first outage is still covered
  BOOST_TEST(pending.back().from_ms == 90001);  // the last one is exact
  for (size_t i = 1; i < pending.size(); ++i) {
    BOOST_TEST(pending[i - 1].to_ms <= pending[i].from_ms);
  }
}

BOOST_AUTO_TEST_CASE(a_corrupt_diary_is_set_aside_and_the_agent_goes_on) {
  TempDir dir;
  SimulatedClock clock;
  PlainStateProtection protection;
  {
    std::ofstream out(dir.path() / "outage-diary.json");
    out << "{\"v\":1,\"entries\":[{\"from_ms\":5,\"to_ms\":1,\"cause\":\"dns\"}]}";
  }
  OutageDiary diary(dir.path(), protection, clock);
  const vigil::Status st = diary.load();
  BOOST_TEST(!st.ok());
  BOOST_TEST(st.message().find("outage-diary.json.corrupt") != std::string::npos, st.message());
  BOOST_TEST(std::filesystem::exists(dir.path() / "outage-diary.json.corrupt"));
  BOOST_TEST(diary.empty());
  BOOST_TEST(diary.recordFailure(10, causes::kConnect).ok());
  OutageDiary reopened(dir.path(), protection, clock);
  BOOST_TEST(reopened.load().ok());
  BOOST_TEST(reopened.pending(20).size() == 1u);
}

BOOST_AUTO_TEST_CASE(unknown_causes_are_recorded_as_other) {
  TempDir dir;
  SimulatedClock clock;
  PlainStateProtection protection;
  OutageDiary diary(dir.path(), protection, clock);
  BOOST_TEST(diary.recordFailure(1, "cosmic rays").ok());
  BOOST_TEST(diary.pending(2).at(0).cause == causes::kOther);
}
