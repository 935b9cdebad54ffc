#include "tools/fleetsim/cluster_lab.h"

#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/Exception.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "collector/cluster/lease_keeper.h"
#include "collector/core/shards.h"
#include "tests/integration/harness.h"
#include "tests/support/postgres_collectors.h"
#include "tests/support/postgres_server.h"
#include "tools/fleetsim/beacon_forwarder.h"
#include "tools/fleetsim/cuttable_proxy.h"
#include "tools/fleetsim/haproxy_config.h"

namespace vigil::fleetsim {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// Collector n listens on 127.0.0.(10 + n): one beacon port serves them all.
std::string addressOf(uint32_t n) { return "127.0.0." + std::to_string(10 + n); }

// The value of an unlabelled series of a Prometheus text exposition; nullopt if absent.
std::optional<double> metricValue(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > name.size() && line.compare(0, name.size(), name) == 0 &&
        line[name.size()] == ' ') {
      return std::atof(line.c_str() + name.size() + 1);
    }
  }
  return std::nullopt;
}

// HAProxy's statistics page as CSV: the value of `column` in the row of `proxy`/`server`.
std::string csvField(const std::string& csv, const std::string& proxy, const std::string& server,
                     const std::string& column) {
  std::istringstream in(csv);
  std::string header;
  if (!std::getline(in, header)) return "";
  auto split = [](const std::string& line) {
    std::vector<std::string> cells;
    std::stringstream row(line);
    for (std::string cell; std::getline(row, cell, ',');) cells.push_back(cell);
    return cells;
  };
  if (header.rfind("# ", 0) == 0) header = header.substr(2);
  const std::vector<std::string> names = split(header);
  const auto at = std::find(names.begin(), names.end(), column);
  if (at == names.end()) return "";
  const size_t index = static_cast<size_t>(at - names.begin());
  for (std::string line; std::getline(in, line);) {
    const std::vector<std::string> cells = split(line);
    if (cells.size() > index && cells[0] == proxy && cells[1] == server) return cells[index];
  }
  return "";
}

// CPU seconds of a process (user and system) and of its children it has waited for, from
// /proc/<pid>/stat (fields 14 to 17); 0 if it is gone.
double cpuWithReapedChildren(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 17 && fields >> field; ++i) {
    if (i >= 14) ticks += std::atof(field.c_str());
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// The running server's process, from its data directory's postmaster.pid; 0 if none.
pid_t postmasterOf(const std::string& data_dir) {
  std::ifstream in(data_dir + "/postmaster.pid");
  long pid = 0;
  in >> pid;
  return pid > 0 && ::kill(static_cast<pid_t>(pid), 0) == 0 ? static_cast<pid_t>(pid) : 0;
}

}  // namespace

// The lab's own connection to its database: shard leases and PostgreSQL's counters. A failed
// query drops the session; the next one connects again.
class LabDatabase {
 public:
  explicit LabDatabase(std::string conninfo) : conninfo_(std::move(conninfo)) {
    Poco::Data::PostgreSQL::Connector::registerConnector();
  }

  // Shard -> owner, of the leases not expired on the database's clock.
  std::optional<std::map<int, std::string>> owners() {
    std::vector<int> shards;
    std::vector<std::string> names;
    const bool ok = run([&](Poco::Data::Session& s) {
      s << "SELECT shard, owner FROM shard_leases WHERE owner IS NOT NULL AND expires_at > "
           "CAST(floor(EXTRACT(EPOCH FROM statement_timestamp()) * 1000) AS BIGINT)",
          Poco::Data::Keywords::into(shards), Poco::Data::Keywords::into(names),
          Poco::Data::Keywords::now;
    });
    if (!ok) return std::nullopt;
    std::map<int, std::string> out;
    for (size_t i = 0; i < shards.size() && i < names.size(); ++i) out[shards[i]] = names[i];
    return out;
  }

  std::optional<DatabaseCounters> counters() {
    Poco::Int64 commits = 0, inserted = 0, updated = 0, deleted = 0;
    const bool ok = run([&](Poco::Data::Session& s) {
      s << "SELECT xact_commit, tup_inserted, tup_updated, tup_deleted FROM pg_stat_database"
           " WHERE datname = current_database()",
          Poco::Data::Keywords::into(commits), Poco::Data::Keywords::into(inserted),
          Poco::Data::Keywords::into(updated), Poco::Data::Keywords::into(deleted),
          Poco::Data::Keywords::now;
    });
    if (!ok) return std::nullopt;
    return DatabaseCounters{static_cast<uint64_t>(commits), static_cast<uint64_t>(inserted),
                            static_cast<uint64_t>(updated), static_cast<uint64_t>(deleted)};
  }

  uint64_t transactions() const { return transactions_.load(); }

 private:
  bool run(const std::function<void(Poco::Data::Session&)>& query) {
    std::lock_guard<std::mutex> lock(mu_);
    try {
      if (!session_) {
        session_ = std::make_unique<Poco::Data::Session>(Poco::Data::PostgreSQL::Connector::KEY,
                                                         conninfo_ + " connect_timeout=2");
      }
      ++transactions_;  // autocommit: each statement is a transaction of its own
      query(*session_);
      return true;
    } catch (const Poco::Exception&) {
      session_.reset();
      return false;
    }
  }

  const std::string conninfo_;
  std::mutex mu_;
  std::unique_ptr<Poco::Data::Session> session_;
  std::atomic<uint64_t> transactions_{0};
};

ClusterLab::ClusterLab(ClusterLabSetup setup) : setup_(std::move(setup)) {}

ClusterLab::~ClusterLab() {
  if (haproxy_) haproxy_->signal(SIGKILL);
  for (Slot& s : slots_) s.control.reset();  // kills what still runs
}

Result<std::unique_ptr<ClusterLab>> ClusterLab::start(ClusterLabSetup setup,
                                                      const Progress& progress) {
  std::unique_ptr<ClusterLab> lab(new ClusterLab(std::move(setup)));
  const ClusterLabSetup& s = lab->setup_;
  if (::access(s.haproxy_binary.c_str(), X_OK) != 0) {
    return Status::notFound("no HAProxy at " + s.haproxy_binary +
                            " (scripts/install-deps.sh --test installs it)");
  }
  if (Status pg = lab->startPostgres(); !pg.ok()) return pg;
  progress("PostgreSQL up on 127.0.0.1:" + std::to_string(lab->postgres_->port()) + ", database " +
           lab->database_);

  // Every collector the run may have: its address, ports and settings, and its link to the
  // database (through a cuttable proxy if the timeline cuts it off).
  const int beacon_port = freeLoopbackPort(true);
  std::vector<BeaconForwarder::Backend> backends;
  for (uint32_t n = 1; n <= s.slots; ++n) {
    Slot slot;
    CollectorSetup& c = slot.setup;
    const std::string dir = s.work_dir + "/" + name(n);
    std::filesystem::create_directories(dir + "/data");
    c.binary = s.collector_binary;
    c.data_dir = dir + "/data";
    c.log_path = s.work_dir + "/" + name(n) + ".log";
    c.address = addressOf(n);
    c.http_port = freeLoopbackPort(false);
    c.beacon_port = beacon_port;
    int database_port = lab->postgres_->port();
    if (s.cuttable.count(n)) {
      auto proxy = CuttableProxy::start(database_port);
      if (!proxy.ok()) return proxy.error();
      slot.proxy = std::move(proxy.value());
      database_port = slot.proxy->port();
    }
    c.defines = s.defines;
    for (const auto& [key, value] : testing::postgresStoreSettings(
             lab->postgres_->conninfoWithoutPassword(lab->database_, database_port), "")) {
      c.defines[key] = value;
    }
    c.defines["cluster.nodeName"] = name(n);
    c.defines["cluster.internalUrl"] = "http://" + c.address + ":" + std::to_string(c.http_port);
    c.environment = testing::postgresEnvironment(*lab->postgres_);
    slot.control = std::make_unique<CollectorControl>(c);
    backends.push_back({c.address, beacon_port});
    lab->slots_.push_back(std::move(slot));
  }
  auto forwarder = BeaconForwarder::start(beacon_port, backends);
  if (!forwarder.ok()) return forwarder.error();
  lab->beacons_ = std::move(forwarder.value());

  // Started together: one of them provisions the database (schema, tenant, site, the tokens in
  // its data directory) while the others wait for it, and their first lease round splits the
  // shards at once.
  for (uint32_t n = 1; n <= s.collectors; ++n) {
    lab->collector(n).launch();
    lab->slot(n).state = State::kRunning;
  }
  for (uint32_t n = 1; n <= s.collectors; ++n) {
    if (Status ready = lab->collector(n).awaitReady(); !ready.ok()) return ready;
    lab->setBeaconBackendUp(n, true);
  }
  std::vector<std::string> data_dirs;
  for (const Slot& slot : lab->slots_) data_dirs.push_back(slot.setup.data_dir);
  testing::shareGeneratedTokens(data_dirs);
  progress(std::to_string(s.collectors) + " collectors ready; waiting for the shards' split");
  if (Status settled = lab->awaitSettled(std::chrono::seconds(120)); !settled.ok()) {
    return settled;
  }
  if (Status front = lab->startHaproxy(); !front.ok()) return front;
  if (Status token = useBootstrapToken(lab->http_, lab->slots_[0].setup.data_dir); !token.ok()) {
    return token;
  }
  for (uint32_t n = 1; n <= s.slots; ++n) {
    if (Status token = useBootstrapToken(lab->collector(n).http(), lab->slot(n).setup.data_dir);
        !token.ok()) {
      return token;
    }
  }
  progress("HAProxy up at " + lab->http_.baseUrl() +
           ", beacons on udp 127.0.0.1:" + std::to_string(beacon_port));
  return lab;
}

Status ClusterLab::startPostgres() {
  try {
    postgres_ = std::make_unique<testing::PostgresServer>();
    database_ = postgres_->createDatabase("vigil");
  } catch (const std::exception& e) {
    const std::string why = std::string("PostgreSQL: ") + e.what();
    // Not installed: the machine cannot run a cluster (postgres_server.h says so first).
    if (why.find("no PostgreSQL server binaries") != std::string::npos) {
      return Status::notFound(why);
    }
    return Status::unavailable(why);
  }
  database_up_ = true;
  db_ = std::make_unique<LabDatabase>(postgres_->conninfo(database_));
  return Status::okStatus();
}

Status ClusterLab::startHaproxy() {
  HaproxyLabSettings h;
  h.template_path = setup_.haproxy_template;
  port_ = freeLoopbackPort(false);
  stats_port_ = freeLoopbackPort(false);
  h.port = port_;
  h.stats_port = stats_port_;
  for (const Slot& s : slots_) {
    h.servers.push_back(s.setup.address + ":" + std::to_string(s.setup.http_port));
  }
  auto config = haproxyLabConfig(testing::readFile(setup_.haproxy_template), h);
  if (!config.ok()) return config.error();
  const std::string path = setup_.work_dir + "/haproxy.cfg";
  std::ofstream(path) << config.value();
  const std::string log = setup_.work_dir + "/haproxy.log";
  {
    testing::ChildProcess check(setup_.haproxy_binary, {"-c", "-q", "-f", path}, log);
    auto code = check.waitExit(std::chrono::seconds(30));
    if (!code || *code != 0) {
      return Status::invalidArgument("haproxy -c refused " + path + ":\n" + testing::logTail(log));
    }
  }
  haproxy_ = std::make_unique<testing::ChildProcess>(
      setup_.haproxy_binary, std::vector<std::string>{"-db", "-f", path}, log);
  http_ = CollectorHttp("http://127.0.0.1:" + std::to_string(port_), "");
  const auto deadline = steady_clock::now() + std::chrono::seconds(30);
  while (steady_clock::now() < deadline) {
    if (!haproxy_->running())
      return Status::unavailable("HAProxy exited:\n" + testing::logTail(log));
    if (http_.get("/readyz", std::chrono::seconds(2)).status == 200) return Status::okStatus();
    std::this_thread::sleep_for(milliseconds(100));
  }
  return Status::unavailable("HAProxy did not answer at " + http_.baseUrl() + ":\n" +
                             testing::logTail(log));
}

void ClusterLab::noticeExits() {
  for (uint32_t n = 1; n <= slots(); ++n) {
    Slot& s = slot(n);
    if (s.state != State::kRunning && s.state != State::kFrozen) continue;
    const std::optional<int> code = s.control->exitCode();
    if (!code) continue;
    s.state = State::kExited;
    exits_.push_back(
        name(n) + " exited by itself (" +
        (*code < 0 ? "signal " + std::to_string(-*code) : "exit code " + std::to_string(*code)) +
        "); its log ends:\n" + testing::logTail(s.setup.log_path, 1500));
  }
}

const std::vector<std::string>& ClusterLab::unexpectedExits() {
  noticeExits();
  return exits_;
}

std::vector<uint32_t> ClusterLab::running() {
  noticeExits();
  std::vector<uint32_t> out;
  for (uint32_t n = 1; n <= slots(); ++n) {
    const State st = slot(n).state;
    if (st == State::kRunning || st == State::kFrozen) out.push_back(n);
  }
  return out;
}

std::vector<uint32_t> ClusterLab::members() {
  noticeExits();
  std::vector<uint32_t> out;
  if (!database_up_) return out;
  for (uint32_t n = 1; n <= slots(); ++n) {
    if (slot(n).state == State::kRunning && !slot(n).cut) out.push_back(n);
  }
  return out;
}

void ClusterLab::kill(uint32_t n) {
  noticeExits();  // a collector that exited by itself first is a crash, not the fault
  Slot& s = slot(n);
  if (s.state == State::kFrozen) s.control->thaw();
  s.control->kill();
  s.state = State::kKilled;
}

Status ClusterLab::start(uint32_t n) {
  noticeExits();
  Slot& s = slot(n);
  if (s.state == State::kRunning || s.state == State::kFrozen) return Status::okStatus();
  s.state = State::kRunning;
  // A start after a crash waits out the crashed process's announcement (one lease term and a
  // renewal) before it takes the name back.
  Status started = s.control->start(std::chrono::seconds(90));
  if (started.ok()) setBeaconBackendUp(n, true);
  return started;
}

Status ClusterLab::stop(uint32_t n) {
  noticeExits();  // a collector that exited by itself first is a crash, not the fault
  Slot& s = slot(n);
  if (s.state == State::kFrozen) s.control->thaw();
  s.state = State::kStopped;
  return s.control->stop();
}

Status ClusterLab::remove(uint32_t n) {
  Status stopped = stop(n);
  slot(n).state = State::kRemoved;
  return stopped;
}

void ClusterLab::freeze(uint32_t n) {
  noticeExits();  // a collector that exited by itself first is a crash, not the fault
  Slot& s = slot(n);
  if (s.state != State::kRunning) return;
  s.control->freeze();
  s.state = State::kFrozen;
}

void ClusterLab::thaw(uint32_t n) {
  Slot& s = slot(n);
  if (s.state != State::kFrozen) return;
  s.control->thaw();
  s.state = State::kRunning;
}

void ClusterLab::cutDatabase(uint32_t n) {
  Slot& s = slot(n);
  if (!s.proxy) return;
  s.proxy->cut();
  s.cut = true;
}

void ClusterLab::healDatabase(uint32_t n) {
  Slot& s = slot(n);
  if (!s.proxy) return;
  s.proxy->heal();
  s.cut = false;
}

Status ClusterLab::restartDatabase() {
  postgres_cpu_banked_ = postgresCpuSeconds();  // the stopped server's processes are gone after
  try {
    postgres_->restart();
  } catch (const std::exception& e) {
    database_up_ = postgres_->running();
    return Status::unavailable(std::string("pg_ctl restart: ") + e.what());
  }
  database_up_ = true;
  return Status::okStatus();
}

Status ClusterLab::stopDatabase() {
  postgres_cpu_banked_ = postgresCpuSeconds();
  database_up_ = false;
  try {
    postgres_->stop();
  } catch (const std::exception& e) {
    return Status::unavailable(std::string("pg_ctl stop: ") + e.what());
  }
  return Status::okStatus();
}

Status ClusterLab::startDatabase() {
  if (postgres_->running()) {
    database_up_ = true;
    return Status::okStatus();
  }
  try {
    postgres_->start();
  } catch (const std::exception& e) {
    return Status::unavailable(std::string("pg_ctl start: ") + e.what());
  }
  database_up_ = true;
  return Status::okStatus();
}

Status ClusterLab::endFaults() {
  Status first = startDatabase();
  for (uint32_t n = 1; n <= slots(); ++n) {
    thaw(n);
    if (slot(n).cut) healDatabase(n);
  }
  noticeExits();
  for (uint32_t n = 1; n <= slots(); ++n) {
    const State st = slot(n).state;
    if (st != State::kKilled && st != State::kStopped && st != State::kExited) continue;
    if (Status s = start(n); !s.ok() && first.ok()) first = s;
  }
  return first;
}

Status ClusterLab::restartAll(std::chrono::seconds settle_timeout,
                              const std::map<std::string, std::string>& changed) {
  const std::vector<uint32_t> up = running();
  std::vector<std::thread> stopping;
  std::vector<Status> stopped(up.size());
  for (size_t i = 0; i < up.size(); ++i) {
    stopping.emplace_back([this, &stopped, i, n = up[i]] { stopped[i] = slot(n).control->stop(); });
  }
  for (std::thread& t : stopping) t.join();
  for (const Status& s : stopped) {
    if (!s.ok()) return s;
  }
  if (!changed.empty()) {
    for (const auto& [key, value] : changed) setup_.defines[key] = value;
    for (uint32_t n = 1; n <= slots(); ++n) {
      Slot& s = slot(n);
      for (const auto& [key, value] : changed) s.setup.defines[key] = value;
      // A control holds the setup it was made with; none of them runs a process now.
      if (!s.control->running()) s.control = std::make_unique<CollectorControl>(s.setup);
    }
  }
  // Launched from this thread: a child dies with the thread that started it (PR_SET_PDEATHSIG).
  for (uint32_t n : up) collector(n).launch();
  for (uint32_t n : up) {
    if (Status ready = collector(n).awaitReady(); !ready.ok()) return ready;
  }
  return awaitSettled(settle_timeout);
}

std::string ClusterLab::unsettled() {
  const std::vector<uint32_t> live = members();
  if (live.empty()) return "no collector can hold shards";
  std::vector<std::string> names;
  names.reserve(live.size());
  for (uint32_t n : live) names.push_back(name(n));
  std::map<std::string, int> wanted;
  auto owners = db_->owners();
  if (!owners) return "the database does not answer";
  for (int shard = 0; shard < collector::kShardCount; ++shard) {
    const std::string& preferred = collector::LeaseKeeper::preferredNode(shard, names);
    ++wanted[preferred];
    auto it = owners->find(shard);
    if (it == owners->end() || it->second != preferred) {
      return "shard " + std::to_string(shard) + " is " +
             (it == owners->end() ? std::string("not leased") : "leased to " + it->second) +
             ", not to " + preferred;
    }
  }
  for (uint32_t n : live) {
    HttpAnswer ready = collector(n).http().get("/readyz", std::chrono::seconds(2));
    if (ready.status != 200) return name(n) + " is not ready";
    HttpAnswer m = collector(n).http().get("/metrics", std::chrono::seconds(2));
    const auto held = metricValue(m.body, "vigil_cluster_shards_held");
    const auto loading = metricValue(m.body, "vigil_cluster_shards_loading");
    const auto seen = metricValue(m.body, "vigil_cluster_live_collectors");
    if (!held || *held != wanted[name(n)] || !loading || *loading != 0 || !seen ||
        *seen != static_cast<double>(live.size())) {
      return name(n) + " holds " + (held ? std::to_string(static_cast<int>(*held)) : "?") +
             " shards of " + std::to_string(wanted[name(n)]) + " (" +
             (loading ? std::to_string(static_cast<int>(*loading)) : "?") + " loading), sees " +
             (seen ? std::to_string(static_cast<int>(*seen)) : "?") + " live collectors of " +
             std::to_string(live.size());
    }
  }
  return "";
}

Status ClusterLab::awaitSettled(std::chrono::seconds timeout) {
  const auto deadline = steady_clock::now() + timeout;
  std::string why;
  while (!(why = unsettled()).empty()) {
    if (steady_clock::now() > deadline) {
      return Status::deadlineExceeded("not settled in " + std::to_string(timeout.count()) +
                                      " s: " + why);
    }
    std::this_thread::sleep_for(milliseconds(250));
  }
  return Status::okStatus();
}

uint32_t ClusterLab::busiest(const std::map<int64_t, uint64_t>& agents_per_site) {
  auto owners = db_->owners();
  if (!owners) return 1;
  std::map<std::string, uint64_t> agents;
  for (const auto& [site, count] : agents_per_site) {
    auto it = owners->find(collector::shardOfSite(site));
    if (it != owners->end()) agents[it->second] += count;
  }
  uint32_t best = 1;
  uint64_t most = 0;
  for (uint32_t n : members()) {
    if (agents[name(n)] > most) {
      most = agents[name(n)];
      best = n;
    }
  }
  return best;
}

std::optional<DatabaseCounters> ClusterLab::databaseCounters() {
  if (!database_up_) return std::nullopt;
  return db_->counters();
}

uint64_t ClusterLab::ownTransactions() const { return db_ ? db_->transactions() : 0; }

std::optional<ProcessSample> ClusterLab::haproxySample() {
  if (!haproxy_ || !haproxy_->running()) return std::nullopt;
  return sampleProcess(haproxy_->pid());
}

double ClusterLab::postgresCpuSeconds() {
  const pid_t postmaster = postgres_ ? postmasterOf(postgres_->dataDirectory()) : 0;
  if (postmaster == 0) return postgres_cpu_banked_;
  double total = cpuWithReapedChildren(postmaster);
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(entry.path().filename().c_str()));
    if (pid <= 0) continue;
    std::ifstream in(entry.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 2));
    std::string state;
    long parent = 0;
    fields >> state >> parent;
    if (parent == postmaster) total += testing::processCpuSeconds(pid);
  }
  return postgres_cpu_banked_ + total;
}

void ClusterLab::setBeaconBackendUp(uint32_t n, bool up) {
  if (beacons_) beacons_->setUp(n - 1, up);
}

std::vector<std::string> ClusterLab::frontDoorReport() {
  std::vector<std::string> lines;
  const std::string csv =
      CollectorHttp("http://127.0.0.1:" + std::to_string(stats_port_), "").get("/;csv").body;
  lines.push_back("HAProxy be_collectors: " + csvField(csv, "be_collectors", "BACKEND", "stot") +
                  " requests, " + csvField(csv, "be_collectors", "BACKEND", "wretr") +
                  " retries, " + csvField(csv, "be_collectors", "BACKEND", "wredis") +
                  " redispatches, " + csvField(csv, "be_collectors", "BACKEND", "hrsp_5xx") +
                  " 5xx answers");
  if (beacons_) {
    lines.push_back("beacon forwarder: " + std::to_string(beacons_->forwarded()) +
                    " datagrams to collectors, " + std::to_string(beacons_->answered()) +
                    " answers back, " + std::to_string(beacons_->unrouted()) +
                    " dropped with no collector up");
  }
  return lines;
}

void ClusterLab::stopAll() {
  if (haproxy_ && haproxy_->running()) {
    haproxy_->signal(SIGTERM);
    if (!haproxy_->waitExit(std::chrono::seconds(10))) haproxy_->signal(SIGKILL);
  }
  for (uint32_t n = 1; n <= slots(); ++n) {  // a frozen or cut collector cannot hand over
    thaw(n);
    healDatabase(n);
  }
  std::vector<std::thread> stopping;
  for (uint32_t n : running()) {
    stopping.emplace_back([this, n] { (void)slot(n).control->stop(); });
    slot(n).state = State::kStopped;
  }
  for (std::thread& t : stopping) t.join();
  if (postgres_ && postgres_->running()) {
    postgres_cpu_banked_ = postgresCpuSeconds();
    try {
      postgres_->stop();
    } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch): its destructor kills it
    }
  }
  database_up_ = false;
}

}  // namespace vigil::fleetsim
