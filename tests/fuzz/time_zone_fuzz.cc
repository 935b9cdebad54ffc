// Fuzz target: TimeZone::fromTzif, the parser of TZif files (RFC 8536) and of their footer's
// POSIX TZ string. Zone files come from the system, but a corrupt or hostile one must not
// crash the collector. Invariants: no crash or out-of-bounds read; a zone that parses answers
// every question within its contract: offsets within RFC 8536's range, local times with fields
// in range, and each local time it gives resolves back to instants around the one it came
// from (not skipped).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string_view>

#include "common/time_zone.h"

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

void checkInstant(const vigil::TimeZone& zone, int64_t t) {
  const int32_t offset = zone.offsetSecondsAt(t);
  check(offset >= -89'999 && offset <= 93'599);
  (void)zone.isDstAt(t);
  (void)zone.abbreviationAt(t);
  const vigil::CivilDateTime local = zone.toLocal(t);
  check(local.month >= 1 && local.month <= 12 && local.day >= 1 && local.day <= 31 &&
        local.hour >= 0 && local.hour <= 23 && local.minute >= 0 && local.minute <= 59 &&
        local.second >= 0 && local.second <= 59);
  // Beyond the span, and within a day or two of its edge, times are clamped (not exact).
  constexpr int64_t kExact = vigil::kTimeZoneSpanSeconds - int64_t{2} * 86'400;
  if (t < -kExact || t > kExact) return;
  const vigil::LocalResolution back = zone.resolve(local);
  check(back.kind != vigil::LocalTimeKind::kSkipped);
  check(back.utc_seconds <= t && t <= back.later_utc_seconds);
  (void)zone.startOfLocalDay(local.year, local.month, local.day);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto zone = vigil::TimeZone::fromTzif(
      "fuzz", std::string_view(reinterpret_cast<const char*>(data), size));
  if (!zone.ok()) {
    check(zone.error().code() == vigil::StatusCode::kInvalidArgument);
    return 0;
  }
  for (int64_t t : {std::numeric_limits<int64_t>::min(), -(int64_t{1} << 59),
                    int64_t{-10'000'000'000}, int64_t{0}, int64_t{4'102'444'800},
                    vigil::kTimeZoneSpanSeconds, std::numeric_limits<int64_t>::max()}) {
    checkInstant(zone.value(), t);
  }
  // 1900 to 2100 every 37 days and a bit, through the transitions and the footer's rule.
  for (int64_t t = -2'208'988'800; t < 4'102'444'800; t += 37 * 86'400 + 3'607) {
    checkInstant(zone.value(), t);
  }
  return 0;
}
