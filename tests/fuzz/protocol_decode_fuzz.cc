// Fuzz target: every decoder of untrusted protocol input. Decoding must never crash, and any
// message that decodes must survive an encode/decode round trip unchanged, and only a body of
// clean text (UTF-8, no NUL, json::textFault) decodes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/json.h"
#include "common/protocol.h"

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vigil::protocol;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const bool clean_text = !vigil::json::textFault(input).has_value();

  if (auto hb = decodeHeartbeat(input); hb.ok()) {
    check(clean_text);
    auto again = decodeHeartbeat(encode(hb.value()));
    check(again.ok());
    check(again->agent_id == hb->agent_id && again->seq == hb->seq &&
          again->boot_id == hb->boot_id && again->uptime_s == hb->uptime_s &&
          again->sent_at_ms == hb->sent_at_ms && again->interval_s == hb->interval_s &&
          again->hostname == hb->hostname);
  } else {
    check(!hb.error().code.empty() && !hb.error().message.empty());
  }
  if (auto er = decodeEnrollRequest(input); er.ok()) {
    check(clean_text);
    auto again = decodeEnrollRequest(encode(er.value()));
    check(again.ok() && again->enroll_token == er->enroll_token &&
          again->facts.hostname == er->facts.hostname);
  }
  if (auto resp = decodeEnrollResponse(input); resp.ok()) {
    check(decodeEnrollResponse(encode(resp.value())).ok());
  }
  if (auto resp = decodeHeartbeatResponse(input); resp.ok()) {
    auto again = decodeHeartbeatResponse(encode(resp.value()));
    check(again.ok() && again->next_interval_s == resp->next_interval_s);
  }
  if (auto err = decodeErrorBody(input); err.ok()) {
    check(decodeErrorBody(encode(err.value())).ok());
  }
  (void)parseTimestampHeader(input);
  return 0;
}
