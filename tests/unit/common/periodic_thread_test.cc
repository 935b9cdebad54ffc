#define BOOST_TEST_MODULE common_periodic_thread
#include "common/periodic_thread.h"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>

using namespace std::chrono_literals;

BOOST_AUTO_TEST_CASE(runs_the_task_repeatedly_until_stopped) {
  std::mutex mu;
  std::condition_variable cv;
  int runs = 0;
  vigil::PeriodicThread thread(1ms, [&] {
    std::lock_guard<std::mutex> lock(mu);
    ++runs;
    cv.notify_all();
  });
  thread.start();
  {
    std::unique_lock<std::mutex> lock(mu);
    BOOST_REQUIRE(cv.wait_for(lock, 30s, [&] { return runs >= 3; }));
  }
  thread.stop();
  int after_stop = 0;
  {
    std::lock_guard<std::mutex> lock(mu);
    after_stop = runs;
  }
  // Stopped means stopped: nothing runs after stop() returned.
  std::unique_lock<std::mutex> lock(mu);
  BOOST_TEST(!cv.wait_for(lock, 20ms, [&] { return runs > after_stop; }));
}

// stop() wakes the thread instead of waiting out the interval: with an hour-long interval a
// stop that waited would hold this test until ctest's timeout.
BOOST_AUTO_TEST_CASE(stop_wakes_the_thread_without_running_the_task) {
  int runs = 0;
  vigil::PeriodicThread thread(1h, [&] { ++runs; });
  thread.start();
  thread.stop();
  thread.stop();  // idempotent
  BOOST_TEST(runs == 0);
}

// wake() runs the task without waiting out the interval (an hour here), and wakes that come
// while the task runs make exactly one more run.
BOOST_AUTO_TEST_CASE(a_wake_runs_the_task_at_once_and_wakes_during_a_run_make_one_more) {
  std::mutex mu;
  std::condition_variable cv;
  int runs = 0;
  bool release = false;
  vigil::PeriodicThread* self = nullptr;
  vigil::PeriodicThread thread(1h, [&] {
    std::unique_lock<std::mutex> lock(mu);
    ++runs;
    cv.notify_all();
    if (runs == 1) {
      // Woken three times while the first run is still going.
      lock.unlock();
      for (int i = 0; i < 3; ++i) self->wake();
      lock.lock();
      cv.wait(lock, [&] { return release; });
    }
  });
  self = &thread;
  thread.wake();  // before start(): nothing
  thread.start();
  {
    std::unique_lock<std::mutex> lock(mu);
    BOOST_TEST(!cv.wait_for(lock, 20ms, [&] { return runs > 0; }));
  }
  thread.wake();
  {
    std::unique_lock<std::mutex> lock(mu);
    BOOST_REQUIRE(cv.wait_for(lock, 30s, [&] { return runs == 1; }));
    release = true;
    cv.notify_all();
    BOOST_REQUIRE(cv.wait_for(lock, 30s, [&] { return runs == 2; }));
    BOOST_TEST(!cv.wait_for(lock, 20ms, [&] { return runs > 2; }));
  }
  thread.stop();
  BOOST_TEST(runs == 2);
}
