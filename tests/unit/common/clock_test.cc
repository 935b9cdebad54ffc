#define BOOST_TEST_MODULE common_clock
#include "common/clock.h"

#include <boost/test/unit_test.hpp>

using namespace vigil;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_CASE(simulated_clock_moves_only_when_advanced) {
  SimulatedClock clock;
  MonoTime m0 = clock.monotonicNow();
  WallTime w0 = clock.wallNow();
  BOOST_TEST((clock.monotonicNow() == m0));
  clock.advance(1500ms);
  BOOST_TEST(
      std::chrono::duration_cast<std::chrono::milliseconds>(clock.monotonicNow() - m0).count() ==
      1500);
  BOOST_TEST(toUnixMillis(clock.wallNow()) - toUnixMillis(w0) == 1500);
}

BOOST_AUTO_TEST_CASE(wall_jump_leaves_monotonic_time_alone) {
  SimulatedClock clock;
  MonoTime m0 = clock.monotonicNow();
  WallTime w0 = clock.wallNow();
  clock.jumpWall(-std::chrono::hours(1));
  BOOST_TEST((clock.monotonicNow() == m0));
  BOOST_TEST(toUnixMillis(w0) - toUnixMillis(clock.wallNow()) == 3'600'000);
}

BOOST_AUTO_TEST_CASE(unix_millis_round_trip) {
  const int64_t ms = 1'790'000'000'123;
  BOOST_TEST(toUnixMillis(fromUnixMillis(ms)) == ms);
}
