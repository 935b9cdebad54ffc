#include "tools/fleetsim/collector_control.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "agent/transport/curl_collector_client.h"
#include "common/json.h"
#include "tests/integration/fake_collector.h"
#include "tests/integration/harness.h"

namespace vigil::fleetsim {
namespace {

size_t appendTo(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

constexpr char kFillerName[] = "vigil-fleetsim-filler";

}  // namespace

CollectorHttp::CollectorHttp(std::string base_url, std::string ca_file)
    : base_url_(std::move(base_url)), ca_file_(std::move(ca_file)) {}

HttpAnswer CollectorHttp::get(const std::string& path, std::chrono::milliseconds timeout) const {
  return request("GET", path, "", timeout);
}

HttpAnswer CollectorHttp::post(const std::string& path, const std::string& json_body,
                               std::chrono::milliseconds timeout) const {
  return request("POST", path, json_body, timeout);
}

HttpAnswer CollectorHttp::patch(const std::string& path, const std::string& json_body,
                                std::chrono::milliseconds timeout) const {
  return request("PATCH", path, json_body, timeout);
}

HttpAnswer CollectorHttp::request(const std::string& method, const std::string& path,
                                  const std::string& body,
                                  std::chrono::milliseconds timeout) const {
  HttpAnswer answer;
  agent::CurlEasyPtr easy(curl_easy_init());
  const std::string url = base_url_ + path;
  curl_easy_setopt(easy.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy.get(), CURLOPT_PROXY, "");
  curl_easy_setopt(easy.get(), CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(easy.get(), CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(easy.get(), CURLOPT_SSL_VERIFYHOST, 2L);
  if (!ca_file_.empty()) curl_easy_setopt(easy.get(), CURLOPT_CAINFO, ca_file_.c_str());
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  if (!token_.empty()) {
    headers = curl_slist_append(headers, ("Authorization: Bearer " + token_).c_str());
  }
  agent::CurlSlistPtr header_list(headers);
  curl_easy_setopt(easy.get(), CURLOPT_HTTPHEADER, headers);
  if (method == "POST" || method == "PATCH") {
    curl_easy_setopt(easy.get(), CURLOPT_POST, 1L);
    if (method == "PATCH") curl_easy_setopt(easy.get(), CURLOPT_CUSTOMREQUEST, "PATCH");
    curl_easy_setopt(easy.get(), CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(easy.get(), CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(easy.get(), CURLOPT_WRITEFUNCTION, appendTo);
  curl_easy_setopt(easy.get(), CURLOPT_WRITEDATA, &answer.body);
  const CURLcode rc = curl_easy_perform(easy.get());
  if (rc != CURLE_OK) {
    answer.error = curl_easy_strerror(rc);
    answer.body.clear();
    return answer;
  }
  long status = 0;
  curl_easy_getinfo(easy.get(), CURLINFO_RESPONSE_CODE, &status);
  answer.status = static_cast<int>(status);
  return answer;
}

Status useBootstrapToken(CollectorHttp& http, const std::string& data_dir) {
  std::string token = testing::readFile(data_dir + "/admin-token");
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  if (token.empty()) return Status::notFound("no admin token in " + data_dir);
  http.setToken(token);
  return Status::okStatus();
}

Result<int64_t> defaultTenantId(CollectorHttp& http) {
  HttpAnswer a = http.get("/api/v1/tenants?limit=1");
  json::JsonPtr doc = json::parse(a.body);
  const cJSON* items = doc ? cJSON_GetObjectItemCaseSensitive(doc.get(), "items") : nullptr;
  const cJSON* first = items ? items->child : nullptr;
  const cJSON* id = first ? cJSON_GetObjectItemCaseSensitive(first, "id") : nullptr;
  if (a.status != 200 || !cJSON_IsNumber(id)) {
    return Status::unavailable("GET /api/v1/tenants: " + std::to_string(a.status) + " " + a.body);
  }
  return static_cast<int64_t>(id->valuedouble);
}

Result<EnrollableSite> createSite(CollectorHttp& http, int64_t tenant_id, const std::string& name) {
  HttpAnswer site = http.post("/api/v1/tenants/" + std::to_string(tenant_id) + "/sites",
                              R"({"name": ")" + name + R"("})");
  json::JsonPtr doc = json::parse(site.body);
  const cJSON* id = doc ? cJSON_GetObjectItemCaseSensitive(doc.get(), "id") : nullptr;
  if (site.status != 201 || !cJSON_IsNumber(id)) {
    return Status::unavailable("create site: " + std::to_string(site.status) + " " + site.body);
  }
  EnrollableSite out;
  out.id = static_cast<int64_t>(id->valuedouble);
  HttpAnswer token = http.post("/api/v1/sites/" + std::to_string(out.id) + "/enrollment-tokens",
                               R"({"name": "fleetsim"})");
  json::JsonPtr tdoc = json::parse(token.body);
  const cJSON* value = tdoc ? cJSON_GetObjectItemCaseSensitive(tdoc.get(), "token") : nullptr;
  if (token.status != 201 || !cJSON_IsString(value)) {
    return Status::unavailable("create enrollment token: " + std::to_string(token.status) + " " +
                               token.body);
  }
  out.enroll_token = value->valuestring;
  return out;
}

std::optional<ProcessSample> sampleProcess(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  if (!status) return std::nullopt;
  ProcessSample s;
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      s.rss_bytes = std::stoull(line.substr(6)) * 1024;  // "VmRSS:   12345 kB"
      break;
    }
  }
  s.cpu_seconds = testing::processCpuSeconds(pid);
  return s;
}

CollectorSetup heartbeatOnlySetup(const std::string& binary, const std::string& work_dir,
                                  int64_t interval_s) {
  std::filesystem::create_directories(work_dir + "/data");
  CollectorSetup setup;
  setup.binary = binary;
  setup.data_dir = work_dir + "/data";
  setup.log_path = work_dir + "/collector.log";
  setup.http_port = freeLoopbackPort(false);
  setup.beacon_port = freeLoopbackPort(true);
  setup.defines = heartbeatOnlyDefines(interval_s);
  return setup;
}

std::map<std::string, std::string> heartbeatOnlyDefines(int64_t interval_s) {
  return {{"beacon.enabled", "false"},
          {"logging.level", "warning"},
          {"heartbeat.intervalSeconds", std::to_string(interval_s)}};
}

void serveTlsFrom(const testing::TestCertificateAuthority& ca, const std::string& dir,
                  CollectorSetup& setup) {
  const testing::TlsCredentials served = ca.issueServer({setup.address});
  setup.cert_file = dir + "/server.pem";
  setup.key_file = dir + "/server.key";
  setup.ca_file = dir + "/ca.pem";
  std::ofstream(setup.ca_file) << ca.certPem();
  std::ofstream(setup.cert_file) << served.cert_pem;
  std::ofstream(setup.key_file) << served.key_pem;
  std::filesystem::permissions(
      setup.key_file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

int freeLoopbackPort(bool udp) {
  const int fd = ::socket(AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

CollectorControl::CollectorControl(CollectorSetup setup)
    : setup_(std::move(setup)),
      http_((setup_.cert_file.empty() ? "http://" : "https://") + setup_.address + ":" +
                std::to_string(setup_.http_port),
            setup_.ca_file) {}

CollectorControl::~CollectorControl() {
  starveCpu(false);
  if (running()) {
    thaw();
    kill();
  }
}

Status CollectorControl::start(std::chrono::seconds timeout) {
  launch();
  return awaitReady(timeout);
}

void CollectorControl::launch() {
  std::vector<std::string> args = {
      "--data-dir=" + setup_.data_dir, "--http-address=" + setup_.address,
      "--http-port=" + std::to_string(setup_.http_port),
      "--define=beacon.port=" + std::to_string(setup_.beacon_port),
      // A simulated fleet enrolls whole, at once: no enrollment limits or quotas
      // (setup_.defines may set them).
      "--define=enrollment.perTokenPerMinute=0", "--define=enrollment.perSitePerMinute=0",
      "--define=enrollment.perTenantPerMinute=0", "--define=enrollment.maxAgentsPerSite=0",
      "--define=enrollment.maxAgentsPerTenant=0"};
  if (!setup_.cert_file.empty()) {
    args.push_back("--define=tls.certificateFile=" + setup_.cert_file);
    args.push_back("--define=tls.privateKeyFile=" + setup_.key_file);
  }
  for (const auto& [key, value] : setup_.defines) args.push_back("--define=" + key + "=" + value);
  process_ = std::make_unique<testing::ChildProcess>(setup_.binary, args, setup_.log_path,
                                                     setup_.environment);
  live_pid_ = process_->pid();
}

Status CollectorControl::awaitReady(std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process_->running()) {
      return Status::unavailable("collector exited at start; log:\n" +
                                 testing::logTail(setup_.log_path));
    }
    if (http_.get("/readyz", std::chrono::seconds(2)).status == 200) return Status::okStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return Status::unavailable("collector not ready in time; log:\n" +
                             testing::logTail(setup_.log_path));
}

void CollectorControl::kill() {
  if (!process_) return;
  live_pid_ = -1;
  process_->signal(SIGKILL);
  process_->waitExit(std::chrono::seconds(30));
}

Status CollectorControl::stop() {
  if (!process_) return Status::okStatus();
  live_pid_ = -1;
  process_->signal(SIGTERM);
  auto code = process_->waitExit(std::chrono::seconds(60));
  if (!code) {
    return Status::unavailable("collector did not stop on SIGTERM in 60 s; log:\n" +
                               testing::logTail(setup_.log_path));
  }
  if (*code != 0) return Status::internal("collector exited " + std::to_string(*code));
  return Status::okStatus();
}

void CollectorControl::freeze() {
  if (process_) process_->signal(SIGSTOP);
}

void CollectorControl::thaw() {
  if (process_) process_->signal(SIGCONT);
}

bool CollectorControl::running() const { return process_ && process_->running(); }

std::optional<int> CollectorControl::exitCode() const {
  if (!process_ || process_->running()) return std::nullopt;
  return process_->waitExit(std::chrono::milliseconds(0));
}

pid_t CollectorControl::pid() const { return process_ ? process_->pid() : -1; }

void CollectorControl::reniceThreads(int nice_value) {
  if (!running()) return;
  std::error_code ec;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid()) + "/task", ec)) {
    const pid_t tid = static_cast<pid_t>(std::atoi(task.path().filename().c_str()));
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(tid), nice_value);
  }
}

void CollectorControl::starveCpu(bool on) {
  if (on && hogs_.empty()) {
    const long cpus = std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN));
    for (long i = 0; i < cpus; ++i) {
      const pid_t hog = ::fork();
      if (hog == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        volatile uint64_t spin = 0;
        for (;;) spin = spin + 1;
      }
      if (hog > 0) hogs_.push_back(hog);
    }
    reniceThreads(19);
  } else if (!on && !hogs_.empty()) {
    for (pid_t hog : hogs_) {
      ::kill(hog, SIGKILL);
      ::waitpid(hog, nullptr, 0);
    }
    hogs_.clear();
    reniceThreads(0);
  }
}

Result<std::unique_ptr<FillableFileSystem>> FillableFileSystem::mount(const std::string& dir,
                                                                      int size_mb) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const std::string options = "size=" + std::to_string(size_mb) + "m,mode=0700";
  if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) != 0) {
    const int error = errno;
    const std::string why = "cannot mount a tmpfs at " + dir + ": " + std::strerror(error);
    if (error == EPERM || error == EACCES) return Status::permissionDenied(why + " (needs root)");
    return Status::ioError(why);
  }
  return std::unique_ptr<FillableFileSystem>(new FillableFileSystem(dir));
}

FillableFileSystem::~FillableFileSystem() {
  drain();
  ::umount2(dir_.c_str(), MNT_DETACH);
}

Status FillableFileSystem::fill() {
  const std::string path = dir_ + "/" + kFillerName;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Status::internal("cannot create " + path + ": " + std::strerror(errno));
  static const std::string chunk(1 << 20, '\0');
  // Whole megabytes, then smaller writes, until not one byte more fits.
  for (size_t size = chunk.size(); size >= 1; size /= 4) {
    while (::write(fd, chunk.data(), size) == static_cast<ssize_t>(size)) {
    }
  }
  ::close(fd);
  return Status::okStatus();
}

void FillableFileSystem::drain() { ::unlink((dir_ + "/" + kFillerName).c_str()); }

Result<std::unique_ptr<StoreSnapshotHold>> StoreSnapshotHold::take(const std::string& db_path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    const std::string why = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Status::unavailable("cannot open " + db_path + ": " + why);
  }
  std::unique_ptr<StoreSnapshotHold> hold(new StoreSnapshotHold(db));
  char* error = nullptr;
  if (sqlite3_exec(db, "BEGIN; SELECT count(*) FROM sqlite_master;", nullptr, nullptr, &error) !=
      SQLITE_OK) {
    const std::string why = error ? error : "unknown error";
    sqlite3_free(error);
    return Status::unavailable("cannot start a read transaction on " + db_path + ": " + why);
  }
  return hold;
}

StoreSnapshotHold::~StoreSnapshotHold() {
  sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_close(db_);
}

}  // namespace vigil::fleetsim
