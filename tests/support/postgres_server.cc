#include "tests/support/postgres_server.h"

#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/Session.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace vigil::testing {
namespace {

namespace fs = std::filesystem;

std::string newestBindir() {
  if (const char* configured = std::getenv("VIGIL_POSTGRESQL_BINDIR")) return configured;
  std::vector<std::pair<int, std::string>> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const fs::path bin = entry.path() / "bin";
    if (!fs::exists(bin / "pg_ctl")) continue;
    const std::string version = entry.path().filename().string();
    found.emplace_back(std::atoi(version.c_str()), bin.string());
  }
  if (found.empty()) {
    throw std::runtime_error(
        "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin "
        "(scripts/install-deps.sh --test installs postgresql-15)");
  }
  return std::max_element(found.begin(), found.end())->second;
}

// A TCP port on 127.0.0.1 that nothing listens on now.
int freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot find a free port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string randomHex(size_t bytes) {
  std::random_device rd;
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < bytes; ++i) {
    const unsigned v = rd() & 0xffU;
    out += kDigits[v >> 4];
    out += kDigits[v & 0xfU];
  }
  return out;
}

// The user the server runs as: this process's own, or `nobody` for root.
struct ServerUser {
  bool switch_user = false;
  uid_t uid = 0;
  gid_t gid = 0;
};

ServerUser serverUser() {
  ServerUser user;
  if (::geteuid() != 0) return user;
  const passwd* nobody = ::getpwnam("nobody");
  if (nobody == nullptr) throw std::runtime_error("running as root, and no user `nobody`");
  user.switch_user = true;
  user.uid = nobody->pw_uid;
  user.gid = nobody->pw_gid;
  return user;
}

// Runs `argv` (as the server's user), its output appended to `log`; throws with the log's
// tail if it fails.
void run(const std::vector<std::string>& argv, const std::string& log) {
  const ServerUser user = serverUser();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork: " + std::string(std::strerror(errno)));
  if (pid == 0) {
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (out >= 0) {
      ::dup2(out, STDOUT_FILENO);
      ::dup2(out, STDERR_FILENO);
    }
    if (user.switch_user &&
        (::setgroups(0, nullptr) != 0 || ::setgid(user.gid) != 0 || ::setuid(user.uid) != 0)) {
      _exit(126);
    }
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  std::string tail = text.str();
  if (tail.size() > 4000) tail = tail.substr(tail.size() - 4000);
  throw std::runtime_error(argv[0] + " failed:\n" + tail);
}

// A child that outlives nothing: when this process dies without running the destructor (a
// SIGKILL, a crash, a test's timeout), the kernel tells the child (PR_SET_PDEATHSIG) and it
// stops the server at once (SIGQUIT to the postmaster named in `pid_file`: an immediate
// shutdown), so no server is left running. Only async-signal-safe calls after fork().
pid_t startWatchdog(const std::string& pid_file) {
  const char* path = pid_file.c_str();
  const pid_t parent = ::getpid();
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  const pid_t pid = ::fork();
  if (pid != 0) return pid;  // the parent, or -1: no watchdog
  ::sigprocmask(SIG_BLOCK, &term, nullptr);
  // Holds none of the test's descriptors (a listening socket the test closes must close).
  if (::syscall(SYS_close_range, 0U, ~0U, 0U) != 0) {
    for (int fd = 0; fd < 4096; ++fd) ::close(fd);
  }
  if (::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || ::getppid() != parent) _exit(0);
  int signal = 0;
  ::sigwait(&term, &signal);
  const int fd = ::open(path, O_RDONLY);
  char text[32] = {};
  if (fd >= 0 && ::read(fd, text, sizeof text - 1) > 0) {
    pid_t postmaster = 0;
    for (const char* c = text; *c >= '0' && *c <= '9'; ++c)
      postmaster = postmaster * 10 + (*c - '0');
    if (postmaster > 0) ::kill(postmaster, SIGQUIT);
  }
  _exit(0);
}

void chownToServer(const std::string& path) {
  const ServerUser user = serverUser();
  if (user.switch_user && ::chown(path.c_str(), user.uid, user.gid) != 0) {
    throw std::runtime_error("chown " + path + ": " + std::strerror(errno));
  }
}

}  // namespace

PostgresServer::PostgresServer(const Options& options)
    : bindir_(newestBindir()), password_(randomHex(16)) {
  char tmpl[] = "/tmp/vigil-postgres-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  chownToServer(dir_);
  const std::string pwfile = dir_ + "/password";
  std::ofstream(pwfile) << password_ << "\n";
  chownToServer(pwfile);
  const std::string log = dir_ + "/initdb.log";
  run({bindir_ + "/initdb", "-D", dir_ + "/data", "-U", user_, "--pwfile=" + pwfile,
       "--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"},
      log);
  fs::remove(pwfile);
  if (!options.tls_cert_pem.empty()) {
    const std::pair<std::string, std::string> files[] = {{"server.crt", options.tls_cert_pem},
                                                         {"server.key", options.tls_key_pem}};
    for (const auto& [name, pem] : files) {
      const std::string path = dir_ + "/" + name;
      std::ofstream(path) << pem;
      fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write,
                      fs::perm_options::replace);
      chownToServer(path);
    }
    tls_ = true;
  }
  // A port taken between freePort() and the server's bind makes the start fail: try another.
  for (int attempt = 1;; ++attempt) {
    port_ = freePort();
    try {
      start();
      watchdog_ = startWatchdog(dir_ + "/data/postmaster.pid");
      return;
    } catch (const std::exception&) {
      if (attempt == 3) throw;
    }
  }
}

PostgresServer::~PostgresServer() {
  if (watchdog_ > 0) {
    ::kill(watchdog_, SIGKILL);
    while (::waitpid(watchdog_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  if (running_) {
    try {
      pgCtl("stop", "immediate");
    } catch (...) {  // NOLINT(bugprone-empty-catch): the directory goes below either way
    }
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string PostgresServer::conninfo(const std::string& dbname) const {
  return conninfoWithoutPassword(dbname) + " password=" + password_;
}

std::string PostgresServer::conninfoWithoutPassword(const std::string& dbname, int port) const {
  return "host=127.0.0.1 port=" + std::to_string(port > 0 ? port : port_) + " dbname=" + dbname +
         " user=" + user_;
}

std::string PostgresServer::createDatabase(const std::string& prefix,
                                           const std::string& template_name) {
  Poco::Data::PostgreSQL::Connector::registerConnector();
  std::string name = prefix + "_" + std::to_string(++databases_);
  Poco::Data::Session admin(Poco::Data::PostgreSQL::Connector::KEY, conninfo("postgres"));
  // FILE_COPY: copying the small template is quicker than logging it (PostgreSQL 15).
  admin << "CREATE DATABASE " + name + (template_name.empty() ? "" : " TEMPLATE " + template_name) +
               " STRATEGY = FILE_COPY",
      Poco::Data::Keywords::now;
  return name;
}

void PostgresServer::pgCtl(const std::string& action, const std::string& mode) {
  std::vector<std::string> argv = {bindir_ + "/pg_ctl",  "-D", dir_ + "/data", "-l",
                                   dir_ + "/server.log", "-w", "-t",           "60"};
  if (!mode.empty()) argv.insert(argv.end(), {"-m", mode});
  if (action != "stop") {
    argv.insert(argv.end(),
                {"-o", "-p " + std::to_string(port_) +
                           " -c listen_addresses=127.0.0.1"
                           " -c unix_socket_directories=" +
                           dir_ +
                           " -c fsync=off -c synchronous_commit=off"
                           " -c full_page_writes=off -c max_connections=300" +
                           (tls_ ? " -c ssl=on -c ssl_cert_file=" + dir_ +
                                       "/server.crt -c ssl_key_file=" + dir_ + "/server.key"
                                 : std::string())});
  }
  argv.push_back(action);
  run(argv, dir_ + "/pg_ctl.log");
}

void PostgresServer::start() {
  pgCtl("start", "");
  running_ = true;
}

void PostgresServer::stop() {
  pgCtl("stop", "fast");
  running_ = false;
}

void PostgresServer::restart() {
  pgCtl("restart", "fast");
  running_ = true;
}

}  // namespace vigil::testing
