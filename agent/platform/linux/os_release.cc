#include "agent/platform/linux/os_release.h"

#include <charconv>
#include <cstdint>

#include "common/text.h"

namespace vigil::agent::linux_platform {
namespace {

std::string unquote(std::string_view v) {
  if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) {
    v = v.substr(1, v.size() - 2);
    std::string out;
    out.reserve(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i] == '\\' && i + 1 < v.size()) ++i;
      out += v[i];
    }
    return out;
  }
  return std::string(v);
}

}  // namespace

std::optional<std::string> osReleaseValue(std::string_view text, std::string_view key) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    const std::string_view line = trimBlanks(text.substr(pos, eol - pos));
    pos = eol + 1;
    if (line.empty() || line.front() == '#') continue;
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos || trimBlanks(line.substr(0, eq)) != key) continue;
    std::string value = unquote(trimBlanks(line.substr(eq + 1)));
    if (value.empty()) return std::nullopt;
    return value;
  }
  return std::nullopt;
}

std::optional<uint64_t> parseProcUptime(std::string_view text) {
  text = trimBlanks(text);
  const size_t end = text.find_first_of(". ");
  const std::string_view whole = text.substr(0, end);
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), value);
  if (whole.empty() || ec != std::errc() || ptr != whole.data() + whole.size()) {
    return std::nullopt;
  }
  return value;
}

}  // namespace vigil::agent::linux_platform
