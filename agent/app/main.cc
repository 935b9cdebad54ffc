// vigil-agent: the composition root. Parses the command line, loads the configuration, wires
// the platform, transport and core together, and runs the agent (the service host turns
// SIGTERM/SIGINT into runner.stop()) or one of its commands (enroll, retire).
#include <curl/curl.h>
#include <getopt.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <random>
#include <system_error>

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

// Exit status of `enroll` and `retire` when the collector could not be asked or failed: try
// again later (EX_TEMPFAIL of sysexits.h). Installers keep going on it.
constexpr int kExitTryLater = 75;

// printf format: the default config path, then the default state directory.
constexpr char kUsage[] =
    "Usage: vigil-agent [OPTIONS]                    run the agent (in the foreground)\n"
    "       vigil-agent enroll --server URL --token TOKEN [--force] [OPTIONS]\n"
    "       vigil-agent retire [--purge] [OPTIONS]\n"
    "\n"
    "Reports this endpoint's presence to a Vigil collector.\n"
    "\n"
    "Commands (for installers and administrators; run them as root or as the service's user):\n"
    "  enroll   enroll with the collector now and store the identity, which names the\n"
    "           collector: the service then needs no server_url. Already enrolled with that\n"
    "           server: nothing changes. --force enrolls anew even when enrolled elsewhere.\n"
    "  retire   tell the collector this agent is being uninstalled (it records the agent\n"
    "           retired: no offline alert follows) and remove the identity; --purge removes\n"
    "           all of the agent's state as well. Stop the service first.\n"
    "\n"
    "Options (override the environment, which overrides the config file):\n"
    "  --config FILE          config file (default %s, read if it exists)\n"
    "  --server URL           collector URL, https://host[:port][/path]\n"
    "  --token TOKEN          enrollment token (needed only until enrolled)\n"
    "  --state-dir DIR        state directory (default %s)\n"
    "  --log-level LEVEL      error, warn, info or debug (default info)\n"
    "  --ca-file FILE         PEM file of the CAs to trust for the collector, instead of\n"
    "                         the system's store\n"
    "  --min-interval SECONDS lowest heartbeat interval accepted from the collector (default 5)\n"
    "  --max-interval SECONDS highest heartbeat interval accepted (default 3600)\n"
    "  -D, --define KEY=VALUE set any config key (docs/agent.md), e.g. -D peer_port=47474\n"
    "  --version              print the version and exit\n"
    "  --help                 print this help and exit\n"
    "\n"
    "Environment: VIGIL_SERVER_URL, VIGIL_ENROLL_TOKEN, VIGIL_STATE_DIR, VIGIL_LOG_LEVEL.\n"
    "Exit status: 0 stopped cleanly (a command: done), 1 fatal error, 2 configuration or usage\n"
    "error (enroll: the collector refused the token), 75 (enroll, retire) the collector could\n"
    "not be reached or failed: nothing changed, try again, 78 needs an admin (corrupt identity,\n"
    "not enrolled and no token or no collector named; enroll: enrolled with another\n"
    "collector). See docs/agent.md.\n";

enum class Command { kRun, kEnroll, kRetire };

struct CommandLine {
  Command command = Command::kRun;
  ConfigSources sources;
  bool help = false;
  bool version = false;
  bool force = false;  // enroll
  bool purge = false;  // retire
};

// Fills `out`; false (after printing why) on a usage error.
bool parseCommandLine(int full_argc, char** full_argv, CommandLine* out) {
  // A command, if any, is the first argument; its options follow as the agent's own.
  int shift = 0;
  if (full_argc > 1 && std::strcmp(full_argv[1], "enroll") == 0) {
    out->command = Command::kEnroll;
    shift = 1;
  } else if (full_argc > 1 && std::strcmp(full_argv[1], "retire") == 0) {
    out->command = Command::kRetire;
    shift = 1;
  }
  const int argc = full_argc - shift;
  char** const argv = full_argv + shift;
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
    kForce,
    kPurge,
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
      {"force", no_argument, nullptr, kForce},
      {"purge", no_argument, nullptr, kPurge},
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
      case kForce:
        if (out->command != Command::kEnroll) {
          std::fputs("vigil-agent: --force belongs to 'vigil-agent enroll'\n", stderr);
          return false;
        }
        out->force = true;
        break;
      case kPurge:
        if (out->command != Command::kRetire) {
          std::fputs("vigil-agent: --purge belongs to 'vigil-agent retire'\n", stderr);
          return false;
        }
        out->purge = true;
        break;
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

// Removes everything in the state directory, leaving the directory itself (its parent may not
// be the agent's to change).
Status removeStateContents(const std::string& state_dir) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(state_dir, ec)) {
    std::filesystem::remove_all(entry.path(), ec);
    if (ec) return Status::ioError("cannot remove " + entry.path().string() + ": " + ec.message());
  }
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return Status::ioError("cannot list " + state_dir + ": " + ec.message());
  }
  return Status::okStatus();
}

// The end of `vigil-agent enroll` and `vigil-agent retire`: the state removed when --purge asked
// for it and the command is done, one line saying what happened, and the exit status installers
// act on.
int finishCommand(CommandOutcome outcome, bool purge, const std::string& state_dir) {
  if (outcome.kind == CommandOutcome::Kind::kDone && purge) {
    if (Status st = removeStateContents(state_dir); !st.ok()) {
      outcome = {CommandOutcome::Kind::kFailed, outcome.message + ", but " + st.message()};
    } else {
      outcome.message += "; all state in " + state_dir + " removed";
    }
  }
  const bool done = outcome.kind == CommandOutcome::Kind::kDone;
  std::fprintf(done ? stdout : stderr, "vigil-agent: %s\n", outcome.message.c_str());
  switch (outcome.kind) {
    case CommandOutcome::Kind::kDone:
      return kExitOk;
    case CommandOutcome::Kind::kRefused:
      return kExitUsage;
    case CommandOutcome::Kind::kUnreachable:
      return kExitTryLater;
    case CommandOutcome::Kind::kConflict:
      return kExitNeedsAdmin;
    case CommandOutcome::Kind::kFailed:
      break;
  }
  return kExitFatal;
}

int runAgent(int argc, char** argv) {
  const DefaultPaths default_paths = defaultPaths();
  CommandLine cli;
  cli.sources.config_path = default_paths.config_path;  // --config replaces it
  cli.sources.default_state_dir = default_paths.state_dir;
  if (!parseCommandLine(argc, argv, &cli)) {
    std::fputs("Try 'vigil-agent --help'.\n", stderr);
    return kExitUsage;
  }
  if (cli.help) {
    std::printf(kUsage, default_paths.config_path.c_str(), default_paths.state_dir.c_str());
    return kExitOk;
  }
  if (cli.version) {
    std::printf("vigil-agent %s\n", kAgentVersion);
    return kExitOk;
  }

  Platform platform = makePlatform();
  cli.sources.env = lookupEnv;
  std::optional<std::string> unenrolled_state_dir;  // looked for an identity there, found none
  bool no_server = false;  // no layer named a collector, and no identity did either
  cli.sources.enrolled_server = [&](const std::string& state_dir) -> std::optional<std::string> {
    FileIdentityStore enrolled(state_dir, *platform.state);
    Result<std::optional<Identity>> identity = enrolled.load();
    if (identity.ok() && !identity.value()) unenrolled_state_dir = state_dir;
    if (!identity.ok() || !identity.value() || identity.value()->server_url.empty()) {
      no_server = true;
      return std::nullopt;
    }
    return identity.value()->server_url;
  };
  Result<AgentConfig> config = loadAgentConfig(cli.sources);
  if (!config.ok() && cli.command == Command::kRetire && unenrolled_state_dir) {
    // Never enrolled, and no collector named: nothing to tell anyone.
    return finishCommand(
        {CommandOutcome::Kind::kDone,
         "not enrolled (no identity in " + *unenrolled_state_dir + "): nothing to retire"},
        cli.purge, *unenrolled_state_dir);
  }
  if (!config.ok()) {
    std::fprintf(stderr, "vigil-agent: %s\n", config.error().message().c_str());
    if (no_server && cli.command == Command::kRun) {
      // Not enrolled and told of no collector: restarting will not help (as kExitNeedsAdmin).
      std::fputs("vigil-agent: enroll it: vigil-agent enroll --server URL --token TOKEN\n", stderr);
      return kExitNeedsAdmin;
    }
    return kExitUsage;
  }

  const Clock& clock = RealClock::instance();
  Logger log(clock, std::cerr, config->log_level);
  if (cli.command != Command::kRun) {
    // Run by root next to the service: what the command writes must stay the service's.
    if (Status st = platform.state->actAsOwnerOf(config->state_dir); !st.ok()) {
      log.error(st.message());
      return kExitFatal;
    }
  }

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

  FileIdentityStore identity_store(config->state_dir, *platform.state);
  FileSequenceStore sequence_store(config->state_dir, *platform.state);
  OutageDiary diary(config->state_dir, *platform.state, clock);
  std::unique_ptr<Waiter> waiter = makeWaiter();
  std::random_device seed_source;
  const uint64_t seed = (static_cast<uint64_t>(seed_source()) << 32) ^ seed_source();

  AgentRunnerDeps deps{**client,
                       *platform.facts,
                       *platform.boot,
                       identity_store,
                       sequence_store,
                       clock,
                       *waiter,
                       log,
                       makeUniformRandom(seed)};
  deps.diary = &diary;
  deps.network = platform.network.get();
  deps.power = platform.power.get();
  deps.udp = platform.udp.get();
  AgentRunner runner(*config, deps);
  if (cli.command == Command::kEnroll) {
    return finishCommand(runner.enrollOnce(cli.force), false, config->state_dir);
  }
  if (cli.command == Command::kRetire) {
    return finishCommand(runner.retire(), cli.purge, config->state_dir);
  }

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

// An exception runAgent() does not handle ends the process (std::terminate), as it should.
// NOLINTNEXTLINE(bugprone-exception-escape)
int main(int argc, char** argv) { return vigil::agent::runAgent(argc, argv); }
