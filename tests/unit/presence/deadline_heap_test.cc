#define BOOST_TEST_MODULE presence_deadline_heap
#include "collector/presence/deadline_heap.h"

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <utility>

using vigil::collector::presence::DeadlineHeap;

BOOST_AUTO_TEST_CASE(pops_in_deadline_order_with_ties_broken_by_handle) {
  DeadlineHeap heap;
  heap.set(3, 30);
  heap.set(1, 10);
  heap.set(2, 10);
  heap.set(0, 40);
  BOOST_TEST(heap.pop() == 1u);
  BOOST_TEST(heap.pop() == 2u);
  BOOST_TEST(heap.pop() == 3u);
  BOOST_TEST(heap.pop() == 0u);
  BOOST_TEST(heap.empty());
}

BOOST_AUTO_TEST_CASE(changing_a_key_moves_the_entry_both_ways) {
  DeadlineHeap heap;
  for (uint32_t h = 0; h < 8; ++h) heap.set(h, 100 + h);
  heap.set(7, 1);  // decrease-key: to the top
  BOOST_TEST(heap.topHandle() == 7u);
  heap.set(7, 500);  // increase-key: to the bottom
  BOOST_TEST(heap.topHandle() == 0u);
  BOOST_TEST(*heap.keyOf(7) == 500);
  BOOST_TEST(heap.size() == 8u);
}

BOOST_AUTO_TEST_CASE(removing_an_entry_keeps_the_rest_ordered) {
  DeadlineHeap heap;
  for (uint32_t h = 0; h < 10; ++h) heap.set(h, 10 - h);
  BOOST_TEST(heap.remove(9));
  BOOST_TEST(!heap.remove(9));
  BOOST_TEST(!heap.contains(9));
  BOOST_TEST(heap.topHandle() == 8u);
  int64_t previous = INT64_MIN;
  while (!heap.empty()) {
    const int64_t key = heap.topKey();
    BOOST_TEST(key >= previous);
    previous = key;
    heap.pop();
  }
}

// Random operations against a sorted reference (std::set of (key, handle)), seeded so that a
// failure reproduces.
BOOST_AUTO_TEST_CASE(matches_a_sorted_reference_under_random_operations) {
  for (uint32_t seed : {1u, 7u, 42u, 2024u}) {
    std::mt19937 rng(seed);
    DeadlineHeap heap;
    std::set<std::pair<int64_t, uint32_t>> reference;
    std::map<uint32_t, int64_t> keys;
    constexpr uint32_t kHandles = 300;
    std::uniform_int_distribution<uint32_t> handle_of(0, kHandles - 1);
    std::uniform_int_distribution<int64_t> key_of(-1000, 1000);
    std::uniform_int_distribution<int> op_of(0, 9);
    for (int step = 0; step < 20000; ++step) {
      const int op = op_of(rng);
      const uint32_t handle = handle_of(rng);
      if (op < 5) {
        const int64_t key = key_of(rng);
        if (keys.count(handle)) reference.erase({keys[handle], handle});
        keys[handle] = key;
        reference.insert({key, handle});
        heap.set(handle, key);
      } else if (op < 7) {
        const bool present = keys.count(handle) > 0;
        BOOST_TEST(heap.remove(handle) == present);
        if (present) {
          reference.erase({keys[handle], handle});
          keys.erase(handle);
        }
      } else if (op < 9 && !reference.empty()) {
        const auto expected = *reference.begin();
        BOOST_TEST(heap.topKey() == expected.first);
        BOOST_TEST(heap.pop() == expected.second);
        reference.erase(reference.begin());
        keys.erase(expected.second);
      } else {
        BOOST_TEST(heap.contains(handle) == (keys.count(handle) > 0));
        if (keys.count(handle)) BOOST_TEST(*heap.keyOf(handle) == keys[handle]);
      }
      BOOST_TEST_REQUIRE(heap.size() == reference.size());
    }
    while (!reference.empty()) {
      BOOST_TEST_REQUIRE(heap.pop() == reference.begin()->second);
      reference.erase(reference.begin());
    }
    BOOST_TEST(heap.empty());
  }
}
