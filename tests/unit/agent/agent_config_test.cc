#define BOOST_TEST_MODULE agent_config
#include "agent/core/agent_config.h"

#include <boost/test/unit_test.hpp>
#include <map>
#include <string>

#include "tests/unit/agent/test_support.h"

using vigil::Status;
using vigil::agent::AgentConfig;
using vigil::agent::applyConfigText;
using vigil::agent::ConfigSources;
using vigil::agent::loadAgentConfig;
using vigil::agent::LogLevel;
using vigil::agent::parseServerUrl;
using vigil::agent::validateConfig;
using vigil::testing::TempDir;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

vigil::agent::EnvLookup envOf(const std::map<std::string, std::string>& vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// Sources with a built-in state directory, as the composition root passes the platform's.
ConfigSources sourcesWithDefaultStateDir() {
  ConfigSources sources;
  sources.default_state_dir = "/default/state";
  return sources;
}

}  // namespace

BOOST_AUTO_TEST_CASE(defaults_are_the_documented_ones) {
  AgentConfig c;
  BOOST_TEST(static_cast<int>(c.log_level) == static_cast<int>(LogLevel::kInfo));
  BOOST_TEST(c.min_interval_s == 5);
  BOOST_TEST(c.max_interval_s == 3600);
  BOOST_TEST(!c.allow_plain_http);
  BOOST_TEST(c.start_delay_max_s == 60);
  BOOST_TEST(c.connect_timeout_s == 10);
  BOOST_TEST(c.request_timeout_s == 30);
  BOOST_TEST(c.beacon);
  BOOST_TEST(c.peer_witness);
  BOOST_TEST(c.peer_port == 47474);
  BOOST_TEST(c.peer_interval_s == 30);
  BOOST_TEST(c.peer_broadcast.empty());
  BOOST_TEST(c.pin_sha256.empty());
  BOOST_TEST(c.ca_file.empty());
}

BOOST_AUTO_TEST_CASE(a_file_with_every_key_comments_and_blank_lines_parses) {
  AgentConfig c;
  const Status st = applyConfigText(
      "# Vigil agent\n"
      "\n"
      "server_url = https://vigil.example.com:8443/base\n"
      "  enroll_token=tok_123  \n"
      "\tstate_dir =   /srv/vigil state\n"
      "log_level = debug\r\n"
      "ca_file = /etc/ssl/private-ca.pem\n"
      "   # indented comment\n"
      "min_interval_s = 10\n"
      "max_interval_s = 600\n"
      "allow_plain_http = true",
      "agent.conf", &c);
  BOOST_TEST_REQUIRE(st.ok(), st.toString());
  BOOST_TEST(c.server_url == "https://vigil.example.com:8443/base");
  BOOST_TEST(c.enroll_token == "tok_123");
  BOOST_TEST(c.state_dir == "/srv/vigil state");
  BOOST_TEST(static_cast<int>(c.log_level) == static_cast<int>(LogLevel::kDebug));
  BOOST_TEST(c.ca_file == "/etc/ssl/private-ca.pem");
  BOOST_TEST(c.min_interval_s == 10);
  BOOST_TEST(c.max_interval_s == 600);
  BOOST_TEST(c.allow_plain_http);
}

BOOST_AUTO_TEST_CASE(a_hash_inside_a_value_is_kept) {
  AgentConfig c;
  BOOST_TEST_REQUIRE(applyConfigText("enroll_token = ab#cd\n", "f", &c).ok());
  BOOST_TEST(c.enroll_token == "ab#cd");
}

BOOST_AUTO_TEST_CASE(bad_lines_are_refused_naming_file_and_line) {
  struct Case {
    const char* text;
    const char* expected;  // substring of the error message
  };
  const Case cases[] = {
      {"server_url = https://x\nbogus_key = 1\n", "agent.conf:2: unknown key 'bogus_key'"},
      {"\n\nmin_interval_s = ten\n", "agent.conf:3: bad number for min_interval_s: 'ten'"},
      {"max_interval_s = 12s\n", "agent.conf:1: bad number"},
      {"max_interval_s =\n", "agent.conf:1: bad number"},
      {"min_interval_s = 99999999999999999999999\n", "agent.conf:1: bad number"},
      {"log_level = verbose\n", "agent.conf:1: bad log_level 'verbose'"},
      {"allow_plain_http = yes\n", "agent.conf:1: bad allow_plain_http 'yes'"},
      {"just some words\n", "agent.conf:1: expected 'key = value'"},
      {"= value\n", "agent.conf:1: missing key"},
      {"state_dir =\n", "agent.conf:1: state_dir must not be empty"},
  };
  for (const Case& c : cases) {
    AgentConfig config;
    const Status st = applyConfigText(c.text, "agent.conf", &config);
    BOOST_TEST(!st.ok(), c.text);
    BOOST_TEST(contains(st.message(), c.expected), st.message() << " lacks " << c.expected);
  }
}

BOOST_AUTO_TEST_CASE(server_urls_are_accepted_only_in_the_documented_form) {
  struct Case {
    const char* url;
    bool ok;
  };
  const Case cases[] = {
      {"https://vigil.example.com", true},
      {"https://vigil.example.com/", true},
      {"HTTPS://Vigil.Example.com:443/prefix/", true},
      {"https://10.0.0.5:8443", true},
      {"https://[2001:db8::1]:8443/x", true},
      {"http://127.0.0.1:8080", true},
      {"ftp://vigil.example.com", false},
      {"vigil.example.com", false},
      {"https://", false},
      {"https://:443", false},
      {"https://host:0", false},
      {"https://host:65536", false},
      {"https://host:80a", false},
      {"https://host:", false},
      {"https://user:pw@host", false},
      {"https://host/path?query=1", false},
      {"https://host/#frag", false},
      {"https://ho st", false},
      {"https://[::1", false},
      {"https://host_with/emoji\x01", false},
  };
  for (const Case& c : cases) {
    BOOST_TEST(parseServerUrl(c.url).ok() == c.ok, c.url);
  }
  auto url = parseServerUrl("https://Vigil.example.com:8443/base/");
  BOOST_TEST_REQUIRE(url.ok());
  BOOST_TEST(url->endpoint("/v1/heartbeat") == "https://Vigil.example.com:8443/base/v1/heartbeat");
}

BOOST_AUTO_TEST_CASE(plain_http_is_refused_unless_loopback_or_explicitly_allowed) {
  struct Case {
    const char* url;
    bool allow_plain_http;
    bool ok;
  };
  const Case cases[] = {
      {"http://127.0.0.1:8080", false, true},
      {"http://127.45.6.7", false, true},
      {"http://localhost:8080/", false, true},
      {"http://LOCALHOST", false, true},
      {"http://[::1]:8080", false, true},
      {"http://128.0.0.1", false, false},
      {"http://127.0.0.1.example.com", false, false},
      {"http://127.0.0", false, false},
      {"http://127.0.0.256", false, false},
      {"http://localhost.evil.com", false, false},
      {"http://[::2]", false, false},
      {"http://vigil.example.com", false, false},
      {"http://vigil.example.com", true, true},
      {"https://vigil.example.com", false, true},
  };
  for (const Case& c : cases) {
    AgentConfig config;
    config.state_dir = "/var/lib/vigil/agent";
    config.server_url = c.url;
    config.allow_plain_http = c.allow_plain_http;
    const Status st = validateConfig(config);
    BOOST_TEST(st.ok() == c.ok, c.url << " allow=" << c.allow_plain_http << " " << st.message());
    if (!c.ok && std::string(c.url).rfind("http://vigil", 0) == 0) {
      BOOST_TEST(contains(st.message(), "allow_plain_http"));
    }
  }
}

BOOST_AUTO_TEST_CASE(interval_bounds_are_validated) {
  struct Case {
    int64_t min_s;
    int64_t max_s;
    bool ok;
  };
  const Case cases[] = {{1, 86400, true}, {5, 5, true},      {0, 10, false},
                        {10, 5, false},   {5, 86401, false}, {-1, 10, false}};
  for (const Case& c : cases) {
    AgentConfig config;
    config.state_dir = "/var/lib/vigil/agent";
    config.server_url = "https://vigil.example.com";
    config.min_interval_s = c.min_s;
    config.max_interval_s = c.max_s;
    BOOST_TEST(validateConfig(config).ok() == c.ok, c.min_s << ".." << c.max_s);
  }
}

BOOST_AUTO_TEST_CASE(a_missing_server_url_is_reported) {
  const Status st = validateConfig(AgentConfig{});
  BOOST_TEST(!st.ok());
  BOOST_TEST(contains(st.message(), "server_url is not set"));
}

BOOST_AUTO_TEST_CASE(a_missing_ca_file_is_reported) {
  AgentConfig config;
  config.state_dir = "/var/lib/vigil/agent";
  config.server_url = "https://vigil.example.com";
  config.ca_file = "/nonexistent/ca.pem";
  const Status st = validateConfig(config);
  BOOST_TEST(contains(st.message(), "ca_file /nonexistent/ca.pem"), st.message());
}

BOOST_AUTO_TEST_CASE(an_enrolled_agent_reports_to_its_collector_unless_a_layer_says_otherwise) {
  TempDir dir;
  const auto file = dir.write("agent.conf", "state_dir = /from/file\n");
  ConfigSources sources = sourcesWithDefaultStateDir();
  sources.config_path = file.string();
  sources.config_path_explicit = true;
  std::vector<std::string> asked;
  sources.enrolled_server = [&](const std::string& state_dir) -> std::optional<std::string> {
    asked.push_back(state_dir);
    return std::string("https://enrolled.example.com");
  };
  auto config = loadAgentConfig(sources);
  BOOST_TEST_REQUIRE(config.ok(), vigil::agent::testing::errorText(config));
  BOOST_TEST(config->server_url == "https://enrolled.example.com");
  BOOST_TEST_REQUIRE(asked.size() == 1u);
  BOOST_TEST(asked[0] == "/from/file");  // the state directory the layers chose

  // Any layer's server_url wins, without looking at the identity.
  asked.clear();
  sources.env = envOf({{"VIGIL_SERVER_URL", "https://from-env.example.com"}});
  config = loadAgentConfig(sources);
  BOOST_TEST_REQUIRE(config.ok(), vigil::agent::testing::errorText(config));
  BOOST_TEST(config->server_url == "https://from-env.example.com");
  BOOST_TEST(asked.empty());

  // Not enrolled and no server_url: the usual error.
  sources.env = {};
  sources.enrolled_server = [](const std::string&) { return std::optional<std::string>(); };
  BOOST_TEST(!loadAgentConfig(sources).ok());
}

BOOST_AUTO_TEST_CASE(layers_apply_defaults_then_file_then_environment_then_command_line) {
  TempDir dir;
  const auto file = dir.write("agent.conf",
                              "server_url = https://from-file.example.com\n"
                              "enroll_token = file-token\n"
                              "state_dir = /from/file\n"
                              "log_level = warn\n"
                              "min_interval_s = 7\n");
  ConfigSources sources = sourcesWithDefaultStateDir();
  sources.config_path = file.string();
  sources.config_path_explicit = true;
  sources.env = envOf({{"VIGIL_SERVER_URL", "https://from-env.example.com"},
                       {"VIGIL_ENROLL_TOKEN", "env-token"},
                       {"VIGIL_STATE_DIR", ""}});  // empty counts as unset
  sources.command_line = {{"server_url", "https://from-cli.example.com", "--server"}};

  auto config = loadAgentConfig(sources);
  BOOST_TEST_REQUIRE(config.ok(), vigil::agent::testing::errorText(config));
  BOOST_TEST(config->server_url == "https://from-cli.example.com");  // cli > env > file
  BOOST_TEST(config->enroll_token == "env-token");                   // env > file
  BOOST_TEST(config->state_dir == "/from/file");                     // file > default
  BOOST_TEST(static_cast<int>(config->log_level) == static_cast<int>(LogLevel::kWarn));
  BOOST_TEST(config->min_interval_s == 7);
  BOOST_TEST(config->max_interval_s == 3600);  // default
}

BOOST_AUTO_TEST_CASE(the_state_directory_is_the_built_in_one_unless_a_layer_names_another) {
  ConfigSources sources = sourcesWithDefaultStateDir();
  sources.command_line = {{"server_url", "https://vigil.example.com", "--server"}};
  auto config = loadAgentConfig(sources);
  BOOST_TEST_REQUIRE(config.ok(), vigil::agent::testing::errorText(config));
  BOOST_TEST(config->state_dir == "/default/state");

  sources.env = envOf({{"VIGIL_STATE_DIR", "/from/env"}});
  config = loadAgentConfig(sources);
  BOOST_TEST_REQUIRE(config.ok(), vigil::agent::testing::errorText(config));
  BOOST_TEST(config->state_dir == "/from/env");
}

BOOST_AUTO_TEST_CASE(the_default_config_path_is_optional_but_an_explicit_one_is_not) {
  ConfigSources sources = sourcesWithDefaultStateDir();
  sources.config_path = "/nonexistent/agent.conf";
  sources.command_line = {{"server_url", "https://vigil.example.com", "--server"}};
  sources.config_path_explicit = false;
  BOOST_TEST(loadAgentConfig(sources).ok());
  sources.config_path_explicit = true;
  auto config = loadAgentConfig(sources);
  BOOST_TEST(!config.ok());
  BOOST_TEST(contains(config.error().message(), "/nonexistent/agent.conf"));
}

BOOST_AUTO_TEST_CASE(bad_environment_and_command_line_values_name_their_origin) {
  ConfigSources sources = sourcesWithDefaultStateDir();
  sources.config_path.clear();
  sources.env = envOf({{"VIGIL_LOG_LEVEL", "loud"}});
  auto config = loadAgentConfig(sources);
  BOOST_TEST(!config.ok());
  BOOST_TEST(contains(config.error().message(), "VIGIL_LOG_LEVEL: bad log_level 'loud'"));

  sources.env = nullptr;
  sources.command_line = {{"min_interval_s", "abc", "--min-interval"}};
  config = loadAgentConfig(sources);
  BOOST_TEST(!config.ok());
  BOOST_TEST(contains(config.error().message(), "--min-interval: bad number"));
}

BOOST_AUTO_TEST_CASE(plain_http_allowed_in_the_file_lets_a_remote_http_url_through) {
  TempDir dir;
  ConfigSources sources = sourcesWithDefaultStateDir();
  sources.config_path = dir.write("agent.conf", "allow_plain_http = true\n").string();
  sources.command_line = {{"server_url", "http://vigil.lan:8080", "--server"}};
  BOOST_TEST(loadAgentConfig(sources).ok());
  sources.config_path = dir.write("other.conf", "allow_plain_http = false\n").string();
  BOOST_TEST(!loadAgentConfig(sources).ok());
}

BOOST_AUTO_TEST_CASE(new_keys_parse_and_bad_values_are_refused_with_the_key_named) {
  AgentConfig c;
  c.state_dir = "/var/lib/vigil/agent";
  c.server_url = "https://vigil.example.com";
  BOOST_TEST(vigil::agent::applyConfigText("peer_broadcast = 10.0.0.255, 192.168.1.255\n"
                                           "peer_port = 40000\nbeacon = false\n"
                                           "pin_sha256 = sha256//AAAA\nproxy = http://p:3128\n",
                                           "t.conf", &c)
                 .ok());
  BOOST_TEST(c.peer_broadcast.size() == 2u);
  BOOST_TEST(c.peer_broadcast[1] == "192.168.1.255");
  BOOST_TEST(c.peer_port == 40000);
  BOOST_TEST(!c.beacon);
  BOOST_TEST(c.proxy == "http://p:3128");
  BOOST_TEST(vigil::agent::validateConfig(c).ok());
  AgentConfig bad = c;
  bad.peer_port = 70000;
  BOOST_TEST(vigil::agent::validateConfig(bad).message().find("peer_port") != std::string::npos);
  bad = c;
  bad.pin_sha256 = "md5//x";
  BOOST_TEST(vigil::agent::validateConfig(bad).message().find("pin_sha256") != std::string::npos);
  const vigil::Status st = vigil::agent::applyConfigText("beacon = maybe\n", "t.conf", &c);
  BOOST_TEST(st.message().find("beacon") != std::string::npos);
  BOOST_TEST(st.message().find("t.conf:1") != std::string::npos);
}
