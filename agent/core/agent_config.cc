#include "agent/core/agent_config.h"

#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "common/crypto.h"
#include "common/text.h"

namespace vigil::agent {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Status settingError(const ConfigSetting& s, const std::string& what) {
  const std::string where = s.origin.empty() ? std::string() : s.origin + ": ";
  return Status::invalidArgument(where + what);
}

std::optional<int64_t> parseInteger(std::string_view text) {
  int64_t value = 0;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  if (first == last) return std::nullopt;
  auto [ptr, ec] = std::from_chars(first, last, value);
  if (ec != std::errc() || ptr != last) return std::nullopt;
  return value;
}

bool allDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// A dotted quad (four decimal parts, each 0..255) whose first part is 127.
bool isIpv4Loopback(std::string_view host) {
  int64_t parts[4];
  size_t count = 0;
  size_t pos = 0;
  while (true) {
    const size_t dot = host.find('.', pos);
    const std::string_view part = host.substr(pos, dot == std::string_view::npos ? dot : dot - pos);
    if (count == 4 || !allDigits(part) || part.size() > 3) return false;
    parts[count++] = *parseInteger(part);
    if (parts[count - 1] > 255) return false;
    if (dot == std::string_view::npos) break;
    pos = dot + 1;
  }
  return count == 4 && parts[0] == 127;
}

}  // namespace

Status applyConfigSetting(const ConfigSetting& s, AgentConfig* config) {
  const std::string_view value = s.value;
  auto number = [&](int64_t* out) -> Status {
    const auto parsed = parseInteger(value);
    if (!parsed) return settingError(s, "bad number for " + s.key + ": '" + s.value + "'");
    *out = *parsed;
    return Status::okStatus();
  };
  auto boolean = [&](bool* out) -> Status {
    if (value == "true") {
      *out = true;
    } else if (value == "false") {
      *out = false;
    } else {
      return settingError(s, "bad " + s.key + " '" + s.value + "' (expected true or false)");
    }
    return Status::okStatus();
  };

  if (s.key == "server_url") {
    config->server_url = s.value;
  } else if (s.key == "enroll_token") {
    config->enroll_token = s.value;
  } else if (s.key == "state_dir") {
    if (value.empty()) return settingError(s, "state_dir must not be empty");
    config->state_dir = s.value;
  } else if (s.key == "log_level") {
    const auto level = parseLogLevel(value);
    if (!level) {
      return settingError(s,
                          "bad log_level '" + s.value + "' (expected error, warn, info or debug)");
    }
    config->log_level = *level;
  } else if (s.key == "ca_file") {
    config->ca_file = s.value;
  } else if (s.key == "min_interval_s") {
    return number(&config->min_interval_s);
  } else if (s.key == "max_interval_s") {
    return number(&config->max_interval_s);
  } else if (s.key == "allow_plain_http") {
    return boolean(&config->allow_plain_http);
  } else if (s.key == "start_delay_max_s") {
    return number(&config->start_delay_max_s);
  } else if (s.key == "pin_sha256") {
    config->pin_sha256 = s.value;
  } else if (s.key == "proxy") {
    config->proxy = s.value;
  } else if (s.key == "connect_timeout_s") {
    return number(&config->connect_timeout_s);
  } else if (s.key == "request_timeout_s") {
    return number(&config->request_timeout_s);
  } else if (s.key == "beacon") {
    return boolean(&config->beacon);
  } else if (s.key == "peer_witness") {
    return boolean(&config->peer_witness);
  } else if (s.key == "peer_port") {
    return number(&config->peer_port);
  } else if (s.key == "peer_interval_s") {
    return number(&config->peer_interval_s);
  } else if (s.key == "peer_broadcast") {
    config->peer_broadcast.clear();
    size_t pos = 0;
    while (pos <= value.size()) {
      const size_t comma = value.find(',', pos);
      std::string item(trimBlanks(value.substr(
          pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos)));
      if (!item.empty()) config->peer_broadcast.push_back(std::move(item));
      if (comma == std::string_view::npos) break;
      pos = comma + 1;
    }
  } else {
    return settingError(s, "unknown key '" + s.key + "'");
  }
  return Status::okStatus();
}

Status applyConfigText(std::string_view text, std::string_view source_name, AgentConfig* config) {
  size_t line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t eol = text.find('\n', pos);
    const std::string_view raw =
        text.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    pos = eol == std::string_view::npos ? text.size() + 1 : eol + 1;
    ++line_no;

    const std::string_view line = trimBlanks(raw);
    if (line.empty() || line.front() == '#') continue;

    ConfigSetting setting;
    setting.origin = std::string(source_name) + ":" + std::to_string(line_no);
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      return settingError(setting, "expected 'key = value', got '" + std::string(line) + "'");
    }
    setting.key = std::string(trimBlanks(line.substr(0, eq)));
    setting.value = std::string(trimBlanks(line.substr(eq + 1)));
    if (setting.key.empty()) return settingError(setting, "missing key before '='");
    Status st = applyConfigSetting(setting, config);
    if (!st.ok()) return st;
  }
  return Status::okStatus();
}

Status applyConfigFile(const std::string& path, AgentConfig* config) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::ioError("cannot read config file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::ioError("cannot read config file " + path);
  return applyConfigText(text.str(), path, config);
}

Status applyEnvironment(const EnvLookup& env, AgentConfig* config) {
  if (!env) return Status::okStatus();
  static constexpr std::pair<const char*, const char*> kVariables[] = {
      {"VIGIL_SERVER_URL", "server_url"}, {"VIGIL_ENROLL_TOKEN", "enroll_token"},
      {"VIGIL_STATE_DIR", "state_dir"},   {"VIGIL_LOG_LEVEL", "log_level"},
      {"VIGIL_CA_FILE", "ca_file"},       {"VIGIL_PROXY", "proxy"},
  };
  for (const auto& [variable, key] : kVariables) {
    const std::optional<std::string> value = env(variable);
    if (!value || value->empty()) continue;
    Status st = applyConfigSetting({key, *value, variable}, config);
    if (!st.ok()) return st;
  }
  return Status::okStatus();
}

std::string ServerUrl::endpoint(std::string_view api_path) const {
  std::string out = scheme + "://" + host;
  if (port) out += ":" + std::to_string(*port);
  out += path;
  out += api_path;
  return out;
}

bool isLoopbackHost(std::string_view host) {
  const std::string h = lower(host);
  if (h == "localhost") return true;
  if (h == "[::1]" || h == "::1" || h == "[0:0:0:0:0:0:0:1]") return true;
  return isIpv4Loopback(h);
}

Result<ServerUrl> parseServerUrl(std::string_view url) {
  auto bad = [&](const std::string& why) {
    return Status::invalidArgument("server_url '" + std::string(url) + "' " + why +
                                   " (expected http(s)://host[:port][/path])");
  };
  ServerUrl out;
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos) return bad("has no scheme");
  out.scheme = lower(url.substr(0, sep));
  if (out.scheme != "http" && out.scheme != "https") return bad("has an unsupported scheme");

  std::string_view rest = url.substr(sep + 3);
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);

  for (char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return bad("contains a space or control character");
  }
  if (authority.find('@') != std::string_view::npos) return bad("must not contain user info");
  if (path.find_first_of("?#") != std::string_view::npos ||
      authority.find_first_of("?#") != std::string_view::npos) {
    return bad("must not contain a query or fragment");
  }

  std::string_view host;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("has an unterminated IPv6 address");
    host = authority.substr(0, close + 1);
    const std::string_view inner = host.substr(1, host.size() - 2);
    if (inner.empty() ||
        inner.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos) {
      return bad("has a bad IPv6 address");
    }
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("has junk after the IPv6 address");
      port = after.substr(1);
      if (port.empty()) return bad("has an empty port");
    }
  } else {
    const size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) return bad("has an empty port");
    }
    if (host.empty()) return bad("has no host");
    for (char c : host) {
      const bool ok =
          std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
      if (!ok) return bad("has a bad host name");
    }
  }
  if (!port.empty()) {
    if (!allDigits(port) || port.size() > 5) return bad("has a bad port");
    const auto p = parseInteger(port);
    if (!p || *p < 1 || *p > 65535) return bad("has a port outside 1..65535");
    out.port = static_cast<int>(*p);
  }
  out.host = std::string(host);
  out.path = std::string(path);
  while (!out.path.empty() && out.path.back() == '/') out.path.pop_back();
  out.loopback = isLoopbackHost(out.host);
  return out;
}

Status validateConfig(const AgentConfig& config) {
  if (config.server_url.empty()) {
    return Status::invalidArgument(
        "server_url is not set (config file, VIGIL_SERVER_URL or --server)");
  }
  const Result<ServerUrl> url = parseServerUrl(config.server_url);
  if (!url.ok()) return url.error();
  if (url->scheme == "http" && !url->loopback && !config.allow_plain_http) {
    return Status::invalidArgument("server_url '" + config.server_url +
                                   "' uses plain http to a non-loopback host; use https, or set "
                                   "allow_plain_http = true to accept an unencrypted link");
  }
  auto inBounds = [](int64_t v) { return v >= kMinIntervalBoundS && v <= kMaxIntervalBoundS; };
  if (!inBounds(config.min_interval_s)) {
    return Status::invalidArgument("min_interval_s " + std::to_string(config.min_interval_s) +
                                   " is outside 1..86400");
  }
  if (!inBounds(config.max_interval_s)) {
    return Status::invalidArgument("max_interval_s " + std::to_string(config.max_interval_s) +
                                   " is outside 1..86400");
  }
  if (config.min_interval_s > config.max_interval_s) {
    return Status::invalidArgument("min_interval_s (" + std::to_string(config.min_interval_s) +
                                   ") is above max_interval_s (" +
                                   std::to_string(config.max_interval_s) + ")");
  }
  if (config.state_dir.empty()) return Status::invalidArgument("state_dir must not be empty");
  auto range = [](const char* key, int64_t v, int64_t lo, int64_t hi) {
    if (v >= lo && v <= hi) return Status::okStatus();
    return Status::invalidArgument(std::string(key) + " " + std::to_string(v) + " is outside " +
                                   std::to_string(lo) + ".." + std::to_string(hi));
  };
  for (const Status& st : {range("start_delay_max_s", config.start_delay_max_s, 0, 3600),
                           range("connect_timeout_s", config.connect_timeout_s, 1, 300),
                           range("request_timeout_s", config.request_timeout_s, 1, 600),
                           range("peer_port", config.peer_port, 1, 65535),
                           range("peer_interval_s", config.peer_interval_s, 5, 3600)}) {
    if (!st.ok()) return st;
  }
  if (!config.pin_sha256.empty() && config.pin_sha256.rfind("sha256//", 0) != 0) {
    return Status::invalidArgument(
        "pin_sha256 must look like sha256//<base64 of the SHA-256 of "
        "the collector's public key>");
  }
  if (!config.ca_file.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(config.ca_file, ec)) {
      return Status::invalidArgument("ca_file " + config.ca_file + " is not a readable file");
    }
  }
  return Status::okStatus();
}

std::string configHash(const AgentConfig& c) {
  std::string canonical;
  auto add = [&canonical](const char* key, const std::string& value) {
    canonical.append(key).append("=").append(value).append("\n");
  };
  add("server_url", c.server_url);
  add("state_dir", c.state_dir);
  add("log_level", logLevelName(c.log_level));
  add("ca_file", c.ca_file);
  add("min_interval_s", std::to_string(c.min_interval_s));
  add("max_interval_s", std::to_string(c.max_interval_s));
  add("allow_plain_http", c.allow_plain_http ? "true" : "false");
  add("start_delay_max_s", std::to_string(c.start_delay_max_s));
  add("pin_sha256", c.pin_sha256);
  add("proxy", c.proxy);
  add("connect_timeout_s", std::to_string(c.connect_timeout_s));
  add("request_timeout_s", std::to_string(c.request_timeout_s));
  add("beacon", c.beacon ? "true" : "false");
  add("peer_witness", c.peer_witness ? "true" : "false");
  add("peer_port", std::to_string(c.peer_port));
  add("peer_interval_s", std::to_string(c.peer_interval_s));
  std::string broadcast;
  for (const std::string& b : c.peer_broadcast) broadcast += b + ",";
  add("peer_broadcast", broadcast);
  auto digest = crypto::sha256(canonical);
  if (!digest.ok()) return {};
  return crypto::toHex(digest.value()).substr(0, 16);
}

Result<AgentConfig> loadAgentConfig(const ConfigSources& sources) {
  AgentConfig config;
  config.state_dir = sources.default_state_dir;
  if (!sources.config_path.empty()) {
    std::error_code ec;
    const bool exists = std::filesystem::exists(sources.config_path, ec);
    if (exists || sources.config_path_explicit) {
      Status st = applyConfigFile(sources.config_path, &config);
      if (!st.ok()) return st;
    }
  }
  if (Status st = applyEnvironment(sources.env, &config); !st.ok()) return st;
  for (const ConfigSetting& setting : sources.command_line) {
    if (Status st = applyConfigSetting(setting, &config); !st.ok()) return st;
  }
  if (config.server_url.empty() && sources.enrolled_server) {
    if (std::optional<std::string> url = sources.enrolled_server(config.state_dir)) {
      config.server_url = std::move(*url);
    }
  }
  if (Status st = validateConfig(config); !st.ok()) return st;
  return config;
}

}  // namespace vigil::agent
