#include "agent/platform/macos/darwin_facts.h"

namespace vigil::agent::macos {
namespace {

bool endsWithIgnoringAsciiCase(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  s.remove_prefix(s.size() - suffix.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != suffix[i]) return false;
  }
  return true;
}

}  // namespace

std::string reportedHostname(std::string_view gethostname_value) {
  std::string_view name = gethostname_value;
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  constexpr std::string_view kBonjourSuffix = ".local";
  if (name.size() > kBonjourSuffix.size() && endsWithIgnoringAsciiCase(name, kBonjourSuffix)) {
    name.remove_suffix(kBonjourSuffix.size());
  }
  return std::string(name);
}

std::string osVersionText(const std::optional<std::string>& product_version,
                          const std::optional<std::string>& kernel_release) {
  if (product_version && !product_version->empty()) return "macOS " + *product_version;
  if (kernel_release && !kernel_release->empty()) return "Darwin " + *kernel_release;
  return "Darwin";
}

std::string reportedArch(std::string_view hw_machine, bool rosetta_translated) {
  if (rosetta_translated) return "arm64";
  return std::string(hw_machine);
}

std::string bootIdForBootTime(int64_t boot_unix_s) {
  int64_t rounded = boot_unix_s - boot_unix_s % 10;
  if (boot_unix_s % 10 < 0) rounded -= 10;  // round down for times before 1970 too
  return "boot-" + std::to_string(rounded);
}

uint64_t uptimeSeconds(int64_t boot_unix_s, int64_t now_unix_s) {
  if (now_unix_s <= boot_unix_s) return 0;
  return static_cast<uint64_t>(now_unix_s - boot_unix_s);
}

}  // namespace vigil::agent::macos
