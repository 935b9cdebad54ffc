#include "tests/integration/harness.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/StreamCopier.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace vigil::testing {
namespace {

// A peer that closes early must fail a write, not kill the test process.
const bool kSigpipeIgnored = [] {
  ::signal(SIGPIPE, SIG_IGN);
  return true;
}();

}  // namespace

ChildProcess::ChildProcess(const std::string& binary, const std::vector<std::string>& args,
                           const std::string& log_path,
                           const std::map<std::string, std::string>& environment) {
  std::vector<std::string> argv_storage;
  argv_storage.push_back(binary);
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  // Built before fork(), so that the child allocates nothing before exec.
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    if (environment.count(entry.substr(0, entry.find('='))) == 0) env_storage.push_back(entry);
  }
  for (const auto& [name, value] : environment) env_storage.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) throw std::runtime_error("cannot open " + log_path);
  pid_ = ::fork();
  if (pid_ < 0) {
    ::close(log_fd);
    throw std::runtime_error("fork failed");
  }
  if (pid_ == 0) {
    // A test that crashes must not leave collectors and agents behind.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    ::execve(binary.c_str(), argv.data(), envp.data());
    std::fprintf(stderr, "exec %s: %s\n", binary.c_str(), std::strerror(errno));
    ::_exit(127);
  }
  ::close(log_fd);
}

ChildProcess::~ChildProcess() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    waitExit(std::chrono::seconds(5));
  }
}

bool ChildProcess::running() {
  if (exit_code_) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  if (r == pid_) exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  return false;
}

void ChildProcess::signal(int signo) {
  if (running()) ::kill(pid_, signo);
}

std::optional<int> ChildProcess::waitExit(std::chrono::milliseconds timeout) {
  eventually([&] { return !running(); }, timeout);
  return exit_code_;
}

Poco::JSON::Object::Ptr HttpResponse::json() const {
  try {
    Poco::JSON::Parser parser;
    return parser.parse(body).extract<Poco::JSON::Object::Ptr>();
  } catch (const std::exception&) {
    return nullptr;
  }
}

Poco::JSON::Object::Ptr HttpResponse::item(const std::string& name,
                                           const std::string& value) const {
  Poco::JSON::Object::Ptr page = json();
  Poco::JSON::Array::Ptr items = page ? page->getArray("items") : nullptr;
  if (!items) return nullptr;
  for (size_t i = 0; i < items->size(); ++i) {
    Poco::JSON::Object::Ptr o = items->getObject(static_cast<unsigned>(i));
    if (o && o->has(name) && o->get(name).isString() && o->getValue<std::string>(name) == value) {
      return o;
    }
  }
  return nullptr;
}

namespace {

HttpResponse exchange(Poco::Net::HTTPClientSession& session, const std::string& method,
                      const std::string& path, const std::map<std::string, std::string>& headers,
                      const std::string& body, const std::string& content_type) {
  session.setTimeout(Poco::Timespan(10, 0));
  Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
  for (const auto& [name, value] : headers) request.set(name, value);
  if (!body.empty() || method == "POST") {
    if (!content_type.empty()) request.setContentType(content_type);
    request.setContentLength(static_cast<std::streamsize>(body.size()));
  }
  HttpResponse out;
  try {
    std::ostream& os = session.sendRequest(request);
    os << body;
    os.flush();
  } catch (const Poco::Exception&) {
    // The server may answer and close before it has read everything (413); read the answer.
  }
  Poco::Net::HTTPResponse response;
  std::istream& is = session.receiveResponse(response);
  Poco::StreamCopier::copyToString(is, out.body);
  out.status = static_cast<int>(response.getStatus());
  for (const auto& [name, value] : response) out.headers[name] = value;
  return out;
}

}  // namespace

HttpResponse httpRequest(int port, const std::string& method, const std::string& path,
                         const std::map<std::string, std::string>& headers, const std::string& body,
                         const std::string& content_type) {
  Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
  return exchange(session, method, path, headers, body, content_type);
}

HttpResponse httpsRequest(int port, const std::string& ca_file, const std::string& method,
                          const std::string& path,
                          const std::map<std::string, std::string>& headers) {
  static const bool kSslInitialized = [] {
    Poco::Net::initializeSSL();
    return true;
  }();
  (void)kSslInitialized;
  Poco::Net::Context::Ptr context = new Poco::Net::Context(
      Poco::Net::Context::CLIENT_USE, "", "", ca_file, Poco::Net::Context::VERIFY_RELAXED);
  context->enableExtendedCertificateVerification(false);
  Poco::Net::HTTPSClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port), context);
  return exchange(session, method, path, headers, "", "");
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string findExecutable(const std::string& name, const std::vector<std::string>& extra_dirs) {
  const char* path = std::getenv("PATH");
  std::istringstream listed(path ? path : "");
  std::vector<std::string> dirs;
  for (std::string dir; std::getline(listed, dir, ':');) dirs.push_back(dir);
  dirs.insert(dirs.end(), extra_dirs.begin(), extra_dirs.end());
  for (const std::string& dir : dirs) {
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

std::string logTail(const std::string& path, size_t max_bytes) {
  std::string all = readFile(path);
  return all.size() > max_bytes ? all.substr(all.size() - max_bytes) : all;
}

std::map<std::string, std::string> fastPresenceSettings() {
  return {{"heartbeat.intervalSeconds", "1"},
          {"presence.confirmationWindowSeconds", "1"},
          {"presence.tickIntervalMs", "100"},
          {"store.flushIntervalMs", "200"}};
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

Collector::Collector(std::string data_dir, std::map<std::string, std::string> defines)
    : data_dir_(std::move(data_dir)), log_path_(data_dir_ + ".log"), defines_(std::move(defines)) {
  // Tests run side by side: an ephemeral beacon port unless a test names one.
  defines_.emplace("beacon.port", "0");
}

Collector::~Collector() {
  if (process_) process_->signal(SIGKILL);
}

void Collector::launch() {
  const std::string port_file = data_dir_ + ".port";
  ::unlink(port_file.c_str());
  // The first start takes an ephemeral port; a restart keeps it, as a real restart would, so
  // running agents find the collector again.
  std::vector<std::string> args = {"--data-dir=" + data_dir_, "--http-address=127.0.0.1",
                                   "--http-port=" + std::to_string(port_),
                                   "--port-file=" + port_file};
  for (const auto& [key, value] : defines_) args.push_back("--define=" + key + "=" + value);
  process_ = std::make_unique<ChildProcess>(VIGIL_COLLECTOR_BIN, args, log_path_, environment_);
  ++starts_;
}

int Collector::waitExit(std::chrono::milliseconds timeout) {
  auto code = process_->waitExit(timeout);
  return code ? *code : -1;
}

void Collector::start() {
  launch();
  waitReady();
}

void Collector::waitReady() {
  const std::string port_file = data_dir_ + ".port";
  bool up = eventually(
      [&] {
        if (!process_->running()) return true;
        port_ = std::atoi(trim(readFile(port_file)).c_str());
        if (port_ <= 0) return false;
        try {
          return request("GET", "/readyz").status == 200;
        } catch (const std::exception&) {
          return false;
        }
      },
      std::chrono::seconds(20));
  if (!up || !process_->running()) {
    throw std::runtime_error("collector did not become ready; log:\n" + logTail(log_path_));
  }
}

int Collector::stop() {
  process_->signal(SIGTERM);
  auto code = process_->waitExit(std::chrono::seconds(15));
  if (!code) throw std::runtime_error("collector did not stop on SIGTERM");
  return *code;
}

void Collector::kill() {
  process_->signal(SIGKILL);
  process_->waitExit(std::chrono::seconds(15));
}

std::string Collector::adminToken() const { return trim(readFile(data_dir_ + "/admin-token")); }
std::string Collector::enrollToken() const { return trim(readFile(data_dir_ + "/enroll-token")); }

HttpResponse Collector::request(const std::string& method, const std::string& path,
                                const std::map<std::string, std::string>& headers) const {
  if (ca_file_.empty()) return httpRequest(port_, method, path, headers);
  return httpsRequest(port_, ca_file_, method, path, headers);
}

HttpResponse Collector::adminGet(const std::string& path) const {
  return request("GET", path, {{"Authorization", "Bearer " + adminToken()}});
}

Poco::JSON::Object::Ptr Collector::agent(const std::string& id) const {
  HttpResponse r = adminGet("/api/v1/agents/" + id);
  return r.status == 200 ? r.json() : nullptr;
}

double metric(const Collector& collector, const std::string& series) {
  const std::string text = httpRequest(collector.port(), "GET", "/metrics").body;
  const std::string prefix = series + " ";
  size_t at = text.find("\n" + prefix);
  if (at == std::string::npos) return -1;
  at += 1 + prefix.size();
  return std::stod(text.substr(at, text.find('\n', at) - at));
}

Agent::Agent(std::string state_dir, int collector_port, std::string enroll_token)
    : state_dir_(std::move(state_dir)),
      log_path_(state_dir_ + ".log"),
      port_(collector_port),
      token_(std::move(enroll_token)) {}

void Agent::start() {
  std::vector<std::string> args = {
      "--server",
      "http://127.0.0.1:" + std::to_string(port_),
      "--token",
      token_,
      "--state-dir",
      state_dir_,
      "--log-level",
      "debug",
      "--min-interval",
      "1",
      "--config",
      state_dir_ + ".conf",
      "-D",
      "peer_broadcast=127.255.255.255",
  };
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  std::ofstream(state_dir_ + ".conf") << "# integration test: everything is on the command line\n";
  process_ = std::make_unique<ChildProcess>(binary_, args, log_path_, environment_);
  ++starts_;
}

int Agent::stop() {
  process_->signal(SIGTERM);
  auto code = process_->waitExit(std::chrono::seconds(10));
  if (!code) throw std::runtime_error("agent did not stop on SIGTERM");
  return *code;
}

void Agent::kill() {
  process_->signal(SIGKILL);
  if (!process_->waitExit(std::chrono::seconds(10))) {
    throw std::runtime_error("agent did not die on SIGKILL");
  }
}

bool Agent::running() { return process_ && process_->running(); }

std::string Agent::agentId() const { return enrolledAgentId(state_dir_); }

std::string enrolledAgentId(const std::string& state_dir) {
  std::string text = readFile(state_dir + "/identity.json");
  if (text.empty()) return {};
  try {
    Poco::JSON::Parser parser;
    auto obj = parser.parse(text).extract<Poco::JSON::Object::Ptr>();
    return obj->optValue<std::string>("agent_id", "");
  } catch (const std::exception&) {
    return {};
  }
}

double processCpuSeconds(int pid) {
  const std::string stat = readFile("/proc/" + std::to_string(pid) + "/stat");
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  unsigned long long utime = 0;
  unsigned long long stime = 0;
  // After the command: state is field 3; utime and stime are fields 14 and 15.
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace vigil::testing
