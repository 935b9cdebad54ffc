// vigil-agent: the composition root. Parses the command line, loads the configuration, wires
// the platform, transport and core together, and turns SIGTERM/SIGINT into runner.stop().
#include <curl/curl.h>
#include <getopt.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <random>

#include "agent/core/agent_config.h"
#include "agent/core/agent_runner.h"
#include "agent/core/identity_store.h"
#include "agent/core/logger.h"
#include "agent/core/outage_diary.h"
#include "agent/core/random.h"
#include "agent/core/sequence_allocator.h"
#include "agent/core/version.h"
#include "agent/core/waiter.h"
#include "agent/platform/platform.h"
#include "agent/transport/curl_collector_client.h"
#include "common/clock.h"

namespace vigil::agent {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFatal = 1;
constexpr int kExitUsage = 2;
// The agent cannot run until an admin acts (corrupt identity, not enrolled and no token, state
// directory unusable): the service manager must not restart it in a loop (systemd:
// RestartPreventExitStatus=78). EX_CONFIG of sysexits.h.
constexpr int kExitNeedsAdmin = 78;

constexpr char kUsage[] =
    "Usage: vigil-agent [OPTIONS]\n"
    "\n"
    "Reports this endpoint's presence to a Vigil collector.\n"
    "\n"
    "Options (override the environment, which overrides the config file):\n"
    "  --config FILE          config file (default /etc/vigil/agent.conf, read if it exists)\n"
    "  --server URL           collector URL, https://host[:port][/path]\n"
    "  --token TOKEN          enrollment token (needed only until enrolled)\n"
    "  --state-dir DIR        state directory (default /var/lib/vigil/agent)\n"
    "  --log-level LEVEL      error, warn, info or debug (default info)\n"
    "  --ca-file FILE         PEM file of CA certificates to trust for the collector\n"
    "  --min-interval SECONDS lowest heartbeat interval accepted from the collector (default 5)\n"
    "  --max-interval SECONDS highest heartbeat interval accepted (default 3600)\n"
    "  -D, --define KEY=VALUE set any config key (docs/agent.md), e.g. -D peer_port=47474\n"
    "  --version              print the version and exit\n"
    "  --help                 print this help and exit\n"
    "\n"
    "Environment: VIGIL_SERVER_URL, VIGIL_ENROLL_TOKEN, VIGIL_STATE_DIR, VIGIL_LOG_LEVEL.\n"
    "Exit status: 0 stopped cleanly, 1 fatal error, 2 configuration or usage error,\n"
    "78 needs an admin (corrupt identity, not enrolled and no token; see docs/agent.md).\n"
    "See docs/agent.md.\n";

struct CommandLine {
  ConfigSources sources;
  bool help = false;
  bool version = false;
};

// Fills `out`; false (after printing why) on a usage error.
bool parseCommandLine(int argc, char** argv, CommandLine* out) {
  enum Option {
    kConfig = 1000,
    kServer,
    kToken,
    kStateDir,
    kLogLevel,
    kCaFile,
    kMinInterval,
    kMaxInterval,
    kDefine,
    kVersion,
    kHelp,
  };
  static const option kOptions[] = {
      {"config", required_argument, nullptr, kConfig},
      {"server", required_argument, nullptr, kServer},
      {"token", required_argument, nullptr, kToken},
      {"state-dir", required_argument, nullptr, kStateDir},
      {"log-level", required_argument, nullptr, kLogLevel},
      {"ca-file", required_argument, nullptr, kCaFile},
      {"min-interval", required_argument, nullptr, kMinInterval},
      {"max-interval", required_argument, nullptr, kMaxInterval},
      {"define", required_argument, nullptr, kDefine},
      {"version", no_argument, nullptr, kVersion},
      {"help", no_argument, nullptr, kHelp},
      {nullptr, 0, nullptr, 0},
  };
  auto setting = [&](const char* key, const char* flag) {
    out->sources.command_line.push_back({key, optarg, flag});
  };
  opterr = 0;
  int opt = 0;
  while ((opt = getopt_long(argc, argv, ":D:", kOptions, nullptr)) != -1) {
    switch (opt) {
      case kConfig:
        out->sources.config_path = optarg;
        out->sources.config_path_explicit = true;
        break;
      case kServer:
        setting("server_url", "--server");
        break;
      case kToken:
        setting("enroll_token", "--token");
        break;
      case kStateDir:
        setting("state_dir", "--state-dir");
        break;
      case kLogLevel:
        setting("log_level", "--log-level");
        break;
      case kCaFile:
        setting("ca_file", "--ca-file");
        break;
      case kMinInterval:
        setting("min_interval_s", "--min-interval");
        break;
      case kMaxInterval:
        setting("max_interval_s", "--max-interval");
        break;
      case 'D':
      case kDefine: {
        const char* eq = std::strchr(optarg, '=');
        if (eq == nullptr || eq == optarg) {
          std::fprintf(stderr, "vigil-agent: -D needs KEY=VALUE, got '%s'\n", optarg);
          return false;
        }
        out->sources.command_line.push_back(
            {std::string(optarg, static_cast<size_t>(eq - optarg)), eq + 1, "-D"});
        break;
      }
      case kVersion:
        out->version = true;
        break;
      case kHelp:
        out->help = true;
        break;
      case ':':
        std::fprintf(stderr, "vigil-agent: option %s needs a value\n", argv[optind - 1]);
        return false;
      default:
        std::fprintf(stderr, "vigil-agent: unknown option %s\n", argv[optind - 1]);
        return false;
    }
  }
  if (optind < argc) {
    std::fprintf(stderr, "vigil-agent: unexpected argument '%s'\n", argv[optind]);
    return false;
  }
  return true;
}

std::optional<std::string> lookupEnv(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

// Owns curl_global_init()/curl_global_cleanup() for the process.
class CurlGlobal {
 public:
  CurlGlobal() : ok_(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK) {}
  ~CurlGlobal() {
    if (ok_) curl_global_cleanup();
  }
  CurlGlobal(const CurlGlobal&) = delete;
  CurlGlobal& operator=(const CurlGlobal&) = delete;
  bool ok() const { return ok_; }

 private:
  bool ok_;
};

int runAgent(int argc, char** argv) {
  CommandLine cli;
  if (!parseCommandLine(argc, argv, &cli)) {
    std::fputs("Try 'vigil-agent --help'.\n", stderr);
    return kExitUsage;
  }
  if (cli.help) {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  if (cli.version) {
    std::printf("vigil-agent %s\n", kAgentVersion);
    return kExitOk;
  }

  cli.sources.env = lookupEnv;
  Result<AgentConfig> config = loadAgentConfig(cli.sources);
  if (!config.ok()) {
    std::fprintf(stderr, "vigil-agent: %s\n", config.error().message().c_str());
    return kExitUsage;
  }

  const Clock& clock = RealClock::instance();
  Logger log(clock, std::cerr, config->log_level);

  CurlGlobal curl_global;
  if (!curl_global.ok()) {
    log.error("cannot initialise libcurl");
    return kExitFatal;
  }
  CurlClientOptions client_options;
  client_options.server_url = config->server_url;
  client_options.ca_file = config->ca_file;
  client_options.user_agent = std::string("vigil-agent/") + kAgentVersion;
  client_options.connect_timeout_ms = static_cast<long>(config->connect_timeout_s * 1000);
  client_options.total_timeout_ms = static_cast<long>(config->request_timeout_s * 1000);
  client_options.pinned_public_key = config->pin_sha256;
  client_options.proxy = config->proxy;
  Result<std::unique_ptr<CurlCollectorClient>> client =
      CurlCollectorClient::create(std::move(client_options));
  if (!client.ok()) {
    log.error(client.error().toString());
    return kExitFatal;
  }

  Platform platform = makePlatform();
  FileIdentityStore identity_store(config->state_dir, *platform.state);
  FileSequenceStore sequence_store(config->state_dir, *platform.state);
  OutageDiary diary(config->state_dir, *platform.state, clock);
  ConditionVariableWaiter waiter;
  std::random_device seed_source;
  const uint64_t seed = (static_cast<uint64_t>(seed_source()) << 32) ^ seed_source();

  AgentRunnerDeps deps{**client,
                       *platform.facts,
                       *platform.boot,
                       identity_store,
                       sequence_store,
                       clock,
                       waiter,
                       log,
                       makeUniformRandom(seed)};
  deps.diary = &diary;
  deps.network = platform.network.get();
  deps.power = platform.power.get();
  deps.udp = platform.udp.get();
  AgentRunner runner(*config, deps);

  // The service host owns the process's signals and the service manager's protocol; OS events
  // reach the runner through it and the monitors.
  return platform.service->run(runner, [&](ServiceControl& control) {
    runner.setServiceControl(&control);
    if (Status st = platform.network->start(runner); !st.ok()) {
      log.info("network changes not watched (" + st.message() + "); regular beats only");
    }
    if (Status st = platform.power->start(runner); !st.ok()) {
      log.info("sleep and shutdown notices unavailable (" + st.message() +
               "); wakes are still detected from the clocks");
    }
    const Status result = runner.run();
    platform.power->stop();
    platform.network->stop();
    if (result.ok()) return kExitOk;
    log.error("fatal: " + result.message());
    return result.code() == StatusCode::kFailedPrecondition ? kExitNeedsAdmin : kExitFatal;
  });
}

}  // namespace
}  // namespace vigil::agent

int main(int argc, char** argv) { return vigil::agent::runAgent(argc, argv); }
