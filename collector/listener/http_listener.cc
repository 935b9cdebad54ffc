#include "collector/listener/http_listener.h"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Timestamp.h>
#include <Poco/URI.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <optional>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <vector>

#include "collector/http/http_exchange.h"
#include "collector/listener/buffered_exchange.h"
#include "common/mutex.h"
#include "common/protocol.h"
#include "common/unique_fd.h"

namespace vigil::collector {
namespace {

namespace errors = protocol::errors;
using Id = ConnectionLedger::Id;

constexpr Id kListenId = 0;
constexpr Id kWakeId = 1;
constexpr Id kFirstConnectionId = 2;
constexpr size_t kReadChunk = size_t{16} * 1024;
constexpr int kMaxAcceptsPerWake = 256;
constexpr int kMaxEvents = 256;
constexpr auto kSummaryPeriod = std::chrono::seconds(10);
constexpr size_t kMaxLoggedPath = 200;

struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
using SslPtr = std::unique_ptr<SSL, SslFree>;

std::string pathOf(const std::string& uri) { return requestPath(uri).value_or(""); }

// An answer the listener gives itself (a request it cannot frame, a shed): a JSON error body,
// and the connection closes after it.
std::string listenerAnswer(int http_status, const std::string& code, const std::string& message,
                           std::optional<uint32_t> retry_after_s) {
  Poco::Net::HTTPResponse response(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(http_status));
  response.setVersion(Poco::Net::HTTPMessage::HTTP_1_1);
  response.setContentType(protocol::kContentType);
  response.set("Cache-Control", "no-store");
  response.setDate(Poco::Timestamp());
  response.setKeepAlive(false);
  if (retry_after_s) response.set("Retry-After", std::to_string(*retry_after_s));
  const std::string body = protocol::encode(protocol::ErrorBody{code, message, std::nullopt});
  response.setContentLength64(static_cast<Poco::Int64>(body.size()));
  std::ostringstream out;
  response.write(out);
  out << body;
  return out.str();
}

// One complete request on its way to a worker, and its answer on the way back.
struct Job {
  Id connection = 0;
  // Plain HTTP: the worker may write a keep-alive answer to this socket itself (the loop does
  // not touch a connection while its request is served, nor close it before the workers
  // stop). -1: the loop sends the answer (TLS).
  int direct_fd = -1;
  bool more_buffered = false;  // bytes of a next request already read: the loop must go on
  RequestClass request_class = RequestClass::kAdmin;
  Poco::Net::HTTPRequest head;
  std::string body;
  Poco::Net::SocketAddress client;
  std::optional<AdmissionController::Ticket> ticket;
  MonoTime complete_at;
};

struct Completion {
  Id connection = 0;
  std::string wire;  // what remains to be sent (empty: the worker sent all of it)
  bool keep_alive = false;
};

// The worker threads of one request class and the requests waiting for them, oldest first.
// A worker is woken only when one waits; a busy worker takes the next request without
// sleeping.
class WorkerPool {
 public:
  using Run = std::function<void(Job&)>;

  WorkerPool(std::string name, uint32_t threads, Run run)
      : name_(std::move(name)), size_(threads), run_(std::move(run)) {}
  ~WorkerPool() { stop(); }

  void start() {
    for (uint32_t i = 0; i < size_; ++i) threads_.emplace_back([this] { work(); });
  }
  void push(std::unique_ptr<Job> job) {
    bool wake = false;
    {
      MutexLock lock(mu_);
      if (queue_.empty()) oldest_at_.store(job->complete_at, std::memory_order_relaxed);
      queue_.push_back(std::move(job));
      queued_.store(queue_.size(), std::memory_order_relaxed);
      wake = idle_ > 0;
    }
    if (wake) ready_.notifyOne();
  }
  // Waiting requests are dropped (their tickets released); running ones finish.
  void stop() {
    {
      MutexLock lock(mu_);
      stopping_ = true;
      queue_.clear();
      queued_.store(0, std::memory_order_relaxed);
    }
    ready_.notifyAll();
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }
  uint64_t queued() const { return queued_.load(std::memory_order_relaxed); }
  // How long the oldest waiting request has waited at `now`; zero when none waits.
  Duration oldestWait(MonoTime now) const {
    if (queued() == 0) return Duration::zero();
    const MonoTime since = oldest_at_.load(std::memory_order_relaxed);
    return now > since ? now - since : Duration::zero();
  }
  uint64_t busy() const { return busy_.load(std::memory_order_relaxed); }
  uint32_t size() const { return size_; }

 private:
  void work() {
    for (;;) {
      std::unique_ptr<Job> job;
      {
        MutexLock lock(mu_);
        while (!stopping_ && queue_.empty()) {
          ++idle_;
          ready_.wait(mu_);
          --idle_;
        }
        if (stopping_) return;
        job = std::move(queue_.front());
        queue_.pop_front();
        queued_.store(queue_.size(), std::memory_order_relaxed);
        if (!queue_.empty()) {
          oldest_at_.store(queue_.front()->complete_at, std::memory_order_relaxed);
        }
        busy_.fetch_add(1, std::memory_order_relaxed);
      }
      run_(*job);
      busy_.fetch_sub(1, std::memory_order_relaxed);
    }
  }

  const std::string name_;
  const uint32_t size_;
  const Run run_;
  Mutex mu_;
  CondVar ready_;
  std::deque<std::unique_ptr<Job>> queue_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  uint32_t idle_ GUARDED_BY(mu_) = 0;  // workers waiting for a request
  std::atomic<MonoTime> oldest_at_{};  // when the request at the queue's front was complete
  std::atomic<uint64_t> queued_{0};
  std::atomic<uint64_t> busy_{0};
  std::vector<std::thread> threads_;
};

enum class Io : uint8_t { kProgress, kWouldBlock, kClosed, kFailed };

}  // namespace

class HttpListener::Impl {
 public:
  Impl(Poco::Net::ServerSocket socket, ListenerConfig config,
       Poco::Net::HTTPRequestHandlerFactory& factory, AdmissionController& admission,
       const Clock& clock, Poco::Logger& logger)
      : socket_(socket),
        address_(socket_.address()),
        config_(std::move(config)),
        factory_(factory),
        admission_(admission),
        clock_(clock),
        log_(logger),
        ledger_(config_.connections),
        params_(new Poco::Net::HTTPServerParams) {
    params_->setKeepAlive(config_.keep_alive);
    for (size_t c = 0; c < kRequestClassCount; ++c) {
      pools_[c] = std::make_unique<WorkerPool>(
          std::string("http-") + requestClassName(static_cast<RequestClass>(c)),
          std::max<uint32_t>(1, config_.workers[c]), [this](Job& job) { serve(job); });
    }
  }

  ~Impl() { stop(Duration::zero()); }

  void start() {
    socket_.setBlocking(false);
    epoll_ = UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
    wake_ = UniqueFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    reserve_ = UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (epoll_.get() < 0 || wake_.get() < 0) {
      throw Poco::SystemException("cannot create the listener's event loop");
    }
    watch(socket_.impl()->sockfd(), kListenId, EPOLLIN);
    watch(wake_.get(), kWakeId, EPOLLIN);
    for (auto& pool : pools_) pool->start();
    summarised_at_ = clock_.monotonicNow();
    loop_ = std::thread([this] { run(); });
  }

  size_t stop(Duration drain) {
    if (!loop_.joinable()) return 0;
    {
      MutexLock lock(completions_mu_);
      stop_requested_ = true;
      drain_ = drain;
    }
    draining_.store(true);
    wakeLoop();
    loop_.join();
    for (auto& pool : pools_) pool->stop();
    // Only now: a worker may still write an answer to a connection being served.
    connections_.clear();
    return cut_;
  }

  ListenerStats stats() const {
    ListenerStats s;
    {
      MutexLock lock(stats_mu_);
      s = published_;
    }
    for (size_t c = 0; c < kRequestClassCount; ++c) {
      s.queued[c] = pools_[c]->queued();
      s.busy[c] = pools_[c]->busy();
      s.workers[c] = pools_[c]->size();
    }
    return s;
  }

  uint64_t queued(RequestClass request_class) const {
    return pools_[static_cast<size_t>(request_class)]->queued();
  }
  const Poco::Net::SocketAddress& address() const { return address_; }

 private:
  struct Connection {
    Id id = 0;
    UniqueFd fd;
    SslPtr ssl;
    bool handshaken = false;
    Poco::Net::SocketAddress peer;
    std::string client;  // peer host, the ledger's and the admission's key
    RequestReader reader;
    std::string in;   // bytes read and not yet given to the reader
    std::string out;  // answer bytes not yet written
    size_t out_at = 0;
    ConnectionPhase phase = ConnectionPhase::kReceiving;
    bool close_after_send = false;
    bool continue_sent = false;
    bool unwatched_serving = false;  // counted in unwatched_serving_
    bool read_wants_write = false;   // TLS: the last read needs the socket writable
    bool write_wants_read = false;   // TLS: the last write needs the socket readable
    uint32_t events = 0;             // registered with epoll

    explicit Connection(const RequestLimits& limits) : reader(limits) {}
  };

  // --- event loop ------------------------------------------------------------------------

  void watch(int fd, Id id, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = id;
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev);
  }

  void wakeLoop() {
    if (!wake_pending_.exchange(true)) {
      const uint64_t one = 1;
      [[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof one);
    }
  }

  // After a completion was counted in completions_pending_: wakes the loop if it waits in
  // epoll_wait. A loop that is awake takes the completion before it waits again (run()); the
  // two sequentially consistent pairs (count, then read loop_waiting_; set loop_waiting_, then
  // read the count) make sure one of the two sides sees the other.
  void wakeForCompletion() {
    if (loop_waiting_.load()) wakeLoop();
  }

  void run() {
    std::vector<epoll_event> events(kMaxEvents);
    bool accepting = true;
    std::optional<MonoTime> drain_until;
    for (;;) {
      int timeout_ms = 1000;
      const MonoTime before = clock_.monotonicNow();
      if (std::optional<MonoTime> next = ledger_.nextDeadline()) {
        const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(*next - before);
        timeout_ms = static_cast<int>(std::clamp<int64_t>(wait.count() + 1, 0, 1000));
      }
      // Workers write to the wake descriptor only while the loop waits here (wakeForCompletion):
      // announce the wait, then look once more for answers handed over before it.
      loop_waiting_.store(true);
      if (completions_pending_.load() > 0) timeout_ms = 0;
      const int n = ::epoll_wait(epoll_.get(), events.data(), kMaxEvents, timeout_ms);
      loop_waiting_.store(false, std::memory_order_relaxed);
      const MonoTime woke = clock_.monotonicNow();
      for (int i = 0; i < n; ++i) {
        const Id id = events[static_cast<size_t>(i)].data.u64;
        const uint32_t ev = events[static_cast<size_t>(i)].events;
        if (id == kListenId) {
          if (accepting) acceptAll();
        } else if (id == kWakeId) {
          uint64_t count;
          [[maybe_unused]] ssize_t r = ::read(wake_.get(), &count, sizeof count);
          wake_pending_.store(false);
        } else {
          onEvent(id, ev);
        }
      }
      takeCompletions();
      const MonoTime now = clock_.monotonicNow();
      if (now - woke > kLoopStall) ++loop_stalls_;
      for (const ConnectionLedger::Expired& e : ledger_.takeExpired(now)) {
        if (e.phase == ConnectionPhase::kReceiving) {
          auto it = connections_.find(e.id);
          if (it != connections_.end() && it->second->reader.started()) ++aborted_;
        }
        closeConnection(e.id, /*in_ledger=*/false);
      }
      bool stop_now = false;
      {
        MutexLock lock(completions_mu_);
        if (stop_requested_ && !drain_until) drain_until = now + drain_;
      }
      if (drain_until) {
        if (accepting) {
          accepting = false;
          ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, socket_.impl()->sockfd(), nullptr);
          socket_.close();
          closeSpareable();
        }
        stop_now = busyConnections() == 0 || now >= *drain_until;
      }
      publish(now);
      if (stop_now) break;
    }
    for (auto& [id, connection] : connections_) {
      if (connection->phase == ConnectionPhase::kServing ||
          connection->phase == ConnectionPhase::kSending) {
        ++cut_;
      }
    }
    publish(clock_.monotonicNow());
  }

  size_t busyConnections() const {
    return ledger_.count(ConnectionPhase::kServing) + ledger_.count(ConnectionPhase::kSending);
  }

  // Connections with no request in progress go at once when the listener stops.
  void closeSpareable() {
    std::vector<Id> ids;
    for (const auto& [id, connection] : connections_) {
      if (connection->phase != ConnectionPhase::kServing &&
          connection->phase != ConnectionPhase::kSending) {
        ids.push_back(id);
      }
    }
    for (Id id : ids) closeConnection(id, /*in_ledger=*/true);
  }

  void acceptAll() {
    const int listen_fd = socket_.impl()->sockfd();
    for (int i = 0; i < kMaxAcceptsPerWake; ++i) {
      sockaddr_storage peer{};
      socklen_t peer_len = sizeof peer;
      const int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&peer), &peer_len,
                               SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        if (errno == EINTR || errno == ECONNABORTED) continue;
        ++accept_failures_;
        if (errno == EMFILE || errno == ENFILE) {
          // Out of descriptors: take the waiting connection with the reserved one and close
          // it, so the loop does not spin on a listening socket that stays readable.
          reserve_.reset();
          const int shed = ::accept(listen_fd, nullptr, nullptr);
          if (shed >= 0) ::close(shed);
          reserve_ = UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
        }
        return;
      }
      onAccepted(UniqueFd(fd), reinterpret_cast<const sockaddr*>(&peer), peer_len);
    }
  }

  void onAccepted(UniqueFd fd, const sockaddr* peer, socklen_t peer_len) {
    const int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto connection = std::make_unique<Connection>(config_.requests);
    connection->id = next_id_++;
    try {
      connection->peer = Poco::Net::SocketAddress(peer, peer_len);
      connection->client = connection->peer.host().toString();
    } catch (const Poco::Exception&) {
      connection->client = "-";
    }
    ConnectionLedger::Admission admission =
        ledger_.open(connection->id, connection->client, clock_.monotonicNow());
    for (Id victim : admission.evicted) closeConnection(victim, /*in_ledger=*/false);
    if (!admission.admitted) return;  // closed unanswered: nothing could be spared
    connection->fd = std::move(fd);
    Connection& c = *connection;
    connections_.emplace(c.id, std::move(connection));
    setInterest(c, EPOLLIN);
  }

  // TLS only: sends close_notify, best effort (the socket is non-blocking and the alert a few
  // bytes); the connection's error queue is left clean.
  static void sendCloseNotify(Connection& c) {
    if (!c.ssl) return;
    ERR_clear_error();
    SSL_shutdown(c.ssl.get());
    ERR_clear_error();
  }

  void closeConnection(Id id, bool in_ledger) {
    auto it = connections_.find(id);
    if (it == connections_.end()) return;
    if (in_ledger) ledger_.close(id);
    Connection& c = *it->second;
    // A keep-alive connection ends with close_notify (RFC 8446 6.1), as any TLS server's does:
    // a client must not take it for one it may still send on.
    if (c.handshaken && c.phase == ConnectionPhase::kIdle) sendCloseNotify(c);
    // Closing the descriptor also takes it out of the epoll set.
    connections_.erase(it);
  }

  // Registers what the loop waits for on `c`; 0 takes it out of the epoll set (while a worker
  // serves its request, so a hang-up is not reported over and over).
  void setInterest(Connection& c, uint32_t events) {
    if (events == c.events) return;
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = c.id;
    const int op = c.events == 0 ? EPOLL_CTL_ADD : events == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
    ::epoll_ctl(epoll_.get(), op, c.fd.get(), events == 0 ? nullptr : &ev);
    c.events = events;
  }

  void enter(Connection& c, ConnectionPhase phase) {
    c.phase = phase;
    ledger_.enter(c.id, phase, clock_.monotonicNow());
  }

  // --- one connection ------------------------------------------------------------------

  void onEvent(Id id, uint32_t events) {
    auto it = connections_.find(id);
    if (it == connections_.end()) return;
    if (it->second->phase == ConnectionPhase::kServing) {
      // A worker that wrote the answer itself may have handed over its completion already:
      // the client's next request is then simply read.
      takeCompletions();
      it = connections_.find(id);
      if (it == connections_.end()) return;
      if (it->second->phase == ConnectionPhase::kServing) {
        // The connection stays watched while a worker serves its request (no epoll_ctl per
        // request); what the client sends or does meanwhile waits for the answer, unwatched so
        // that it is not reported over and over, and the worker must wake the loop.
        setInterest(*it->second, 0);
        unwatched_serving_.fetch_add(1);
        it->second->unwatched_serving = true;
        return;
      }
    }
    Connection& c = *it->second;
    if ((events & (EPOLLERR | EPOLLHUP)) != 0 && (events & EPOLLIN) == 0) {
      if (c.phase == ConnectionPhase::kReceiving && c.reader.started()) ++aborted_;
      closeConnection(id, /*in_ledger=*/true);
      return;
    }
    pump(c);
  }

  // Moves the connection as far as it can go without blocking; may close it.
  void pump(Connection& c) {
    const Id id = c.id;
    if (config_.tls && !c.handshaken) {
      switch (handshake(c)) {
        case Io::kProgress:
          break;
        case Io::kWouldBlock:
          return;
        case Io::kClosed:
        case Io::kFailed:
          closeConnection(id, /*in_ledger=*/true);
          return;
      }
    }
    switch (c.phase) {
      case ConnectionPhase::kReceiving:
      case ConnectionPhase::kIdle:
        receive(c);
        break;
      case ConnectionPhase::kSending:
        send(c);
        break;
      case ConnectionPhase::kLingering:
        linger(c);
        break;
      case ConnectionPhase::kServing:
        break;
    }
  }

  Io handshake(Connection& c) {
    if (!c.ssl) {
      c.ssl.reset(SSL_new(config_.tls->sslContext()));
      if (!c.ssl || SSL_set_fd(c.ssl.get(), c.fd.get()) != 1) return Io::kFailed;
      SSL_set_accept_state(c.ssl.get());
      SSL_set_mode(c.ssl.get(), SSL_MODE_ENABLE_PARTIAL_WRITE |
                                    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
    }
    ERR_clear_error();
    const int rc = SSL_do_handshake(c.ssl.get());
    if (rc == 1) {
      c.handshaken = true;
      setInterest(c, EPOLLIN);
      return Io::kProgress;
    }
    switch (SSL_get_error(c.ssl.get(), rc)) {
      case SSL_ERROR_WANT_READ:
        setInterest(c, EPOLLIN);
        return Io::kWouldBlock;
      case SSL_ERROR_WANT_WRITE:
        setInterest(c, EPOLLOUT);
        return Io::kWouldBlock;
      default:
        ++tls_failures_;
        ERR_clear_error();
        return Io::kFailed;
    }
  }

  Io readSome(Connection& c, char* buffer, size_t size, size_t* got) {
    *got = 0;
    c.read_wants_write = false;
    if (c.ssl) {
      ERR_clear_error();
      const int rc = SSL_read_ex(c.ssl.get(), buffer, size, got);
      if (rc == 1) return Io::kProgress;
      switch (SSL_get_error(c.ssl.get(), rc)) {
        case SSL_ERROR_WANT_READ:
          return Io::kWouldBlock;
        case SSL_ERROR_WANT_WRITE:
          c.read_wants_write = true;
          return Io::kWouldBlock;
        case SSL_ERROR_ZERO_RETURN:
          return Io::kClosed;
        default:
          ERR_clear_error();
          return Io::kFailed;
      }
    }
    const ssize_t n = ::recv(c.fd.get(), buffer, size, 0);
    if (n > 0) {
      *got = static_cast<size_t>(n);
      return Io::kProgress;
    }
    if (n == 0) return Io::kClosed;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return Io::kWouldBlock;
    return Io::kFailed;
  }

  Io writeSome(Connection& c, const char* data, size_t size, size_t* put) {
    *put = 0;
    c.write_wants_read = false;
    if (c.ssl) {
      ERR_clear_error();
      const int rc = SSL_write_ex(c.ssl.get(), data, size, put);
      if (rc == 1) return Io::kProgress;
      switch (SSL_get_error(c.ssl.get(), rc)) {
        case SSL_ERROR_WANT_WRITE:
          return Io::kWouldBlock;
        case SSL_ERROR_WANT_READ:
          c.write_wants_read = true;
          return Io::kWouldBlock;
        default:
          ERR_clear_error();
          return Io::kFailed;
      }
    }
    const ssize_t n = ::send(c.fd.get(), data, size, MSG_NOSIGNAL);
    if (n >= 0) {
      *put = static_cast<size_t>(n);
      return Io::kProgress;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return Io::kWouldBlock;
    return Io::kFailed;
  }

  void receive(Connection& c) {
    const Id id = c.id;
    char buffer[kReadChunk];
    // Whatever was left from a pipelined request first.
    if (!c.in.empty() && !consume(c)) return;
    for (;;) {
      size_t got = 0;
      const Io io = readSome(c, buffer, sizeof buffer, &got);
      if (io == Io::kWouldBlock) {
        setInterest(c, c.read_wants_write ? EPOLLOUT : EPOLLIN);
        return;
      }
      if (io != Io::kProgress) {
        if (c.phase == ConnectionPhase::kReceiving && c.reader.started()) ++aborted_;
        closeConnection(id, /*in_ledger=*/true);
        return;
      }
      if (c.phase == ConnectionPhase::kIdle) enter(c, ConnectionPhase::kReceiving);
      c.in.append(buffer, got);
      if (!consume(c)) return;
    }
  }

  // Gives buffered bytes to the reader and acts on what it makes of them. Returns false once
  // the connection stops receiving (request complete, answered, or closed).
  bool consume(Connection& c) {
    const size_t used = c.reader.feed(c.in);
    c.in.erase(0, used);
    switch (c.reader.state()) {
      case RequestReader::State::kHead:
        return true;
      case RequestReader::State::kBody:
        if (c.reader.expectsContinue() && !c.continue_sent) {
          c.continue_sent = true;
          static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
          size_t put = 0;
          // A tiny write on a socket that was just readable; if it does not fit, the client
          // sends its body after its own expect timeout anyway.
          static_cast<void>(writeSome(c, kContinue.data(), kContinue.size(), &put));
        }
        return true;
      case RequestReader::State::kFailed: {
        const RequestFailure& f = c.reader.failure();
        ++unframed_;
        logUnframed(c, f);
        answer(c, listenerAnswer(f.http_status, f.code, f.message, std::nullopt),
               /*keep_alive=*/false);
        return false;
      }
      case RequestReader::State::kComplete:
        dispatch(c);
        return false;
    }
    return false;
  }

  void logUnframed(const Connection& c, const RequestFailure& f) {
    std::string line = "request from " + c.peer.toString() + " refused -> " +
                       std::to_string(f.http_status) + " " + f.code + ": " +
                       printableForLog(f.message, kMaxLoggedPath);
    log_.notice(line);
  }

  void dispatch(Connection& c) {
    const Poco::Net::HTTPRequest& head = c.reader.head();
    const RequestClass request_class = classifyPath(pathOf(head.getURI()));
    const MonoTime now = clock_.monotonicNow();
    WorkerPool& pool = *pools_[static_cast<size_t>(request_class)];
    auto admitted = admission_.admit(request_class, c.client, pool.queued(), pool.oldestWait(now));
    if (!admitted.ok()) {
      const ShedDecision& d = admitted.error();
      std::string message = d.reason == ShedReason::kClientShare
                                ? std::string("too many requests in progress from this client")
                                : std::string("the collector is over capacity for ") +
                                      requestClassName(request_class) + " requests";
      message += "; retry after " + std::to_string(d.retry_after_s) + " s";
      admission_.recordResponse(request_class, d.http_status, Duration::zero());
      answer(c, listenerAnswer(d.http_status, errors::kOverloaded, message, d.retry_after_s),
             /*keep_alive=*/false);
      return;
    }
    auto job = std::make_unique<Job>();
    job->connection = c.id;
    job->request_class = request_class;
    c.reader.takeHead(&job->head);
    job->body = c.reader.takeBody();
    job->client = c.peer;
    job->ticket.emplace(std::move(admitted).value());
    job->complete_at = now;
    if (!c.ssl) job->direct_fd = c.fd.get();
    job->more_buffered = !c.in.empty();
    enter(c, ConnectionPhase::kServing);
    pool.push(std::move(job));
  }

  // Queues `wire` for sending (empty: a worker sent the answer); the connection closes after it
  // unless `keep_alive`.
  void answer(Connection& c, std::string wire, bool keep_alive) {
    c.out = std::move(wire);
    c.out_at = 0;
    c.close_after_send = !keep_alive;
    enter(c, ConnectionPhase::kSending);
    send(c);
  }

  void send(Connection& c) {
    const Id id = c.id;
    while (c.out_at < c.out.size()) {
      size_t put = 0;
      const Io io = writeSome(c, c.out.data() + c.out_at, c.out.size() - c.out_at, &put);
      if (io == Io::kWouldBlock) {
        setInterest(c, c.write_wants_read ? EPOLLIN : EPOLLOUT);
        return;
      }
      if (io != Io::kProgress) {
        closeConnection(id, /*in_ledger=*/true);
        return;
      }
      c.out_at += put;
    }
    c.out.clear();
    c.out_at = 0;
    if (c.close_after_send) {
      // Lingering close: stop sending, then read and drop what the client still sends until
      // it closes, so it reads our answer rather than a reset.
      sendCloseNotify(c);
      ::shutdown(c.fd.get(), SHUT_WR);
      enter(c, ConnectionPhase::kLingering);
      setInterest(c, EPOLLIN);
      linger(c);
      return;
    }
    c.reader.reset();
    c.continue_sent = false;
    if (c.in.empty()) {
      enter(c, ConnectionPhase::kIdle);
      setInterest(c, EPOLLIN);
      // TLS may hold decrypted bytes of the next request already.
      if (c.ssl && SSL_pending(c.ssl.get()) > 0) receive(c);
      return;
    }
    enter(c, ConnectionPhase::kReceiving);
    setInterest(c, EPOLLIN);
    receive(c);
  }

  void linger(Connection& c) {
    char buffer[kReadChunk];
    for (;;) {
      const ssize_t n = ::recv(c.fd.get(), buffer, sizeof buffer, 0);
      if (n > 0) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
      closeConnection(c.id, /*in_ledger=*/true);
      return;
    }
  }

  // --- workers -------------------------------------------------------------------------

  // On a worker thread: runs the request's handler and hands its answer to the loop.
  void serve(Job& job) {
    const bool head_only = job.head.getMethod() == Poco::Net::HTTPRequest::HTTP_HEAD;
    BufferedServerResponse response(head_only, idle_timeout_s_);
    BufferedServerRequest request(job.head, job.body, job.client, address_,
                                  static_cast<bool>(config_.tls), *params_, response);
    response.setVersion(request.getVersion());
    response.setKeepAlive(config_.keep_alive && request.getKeepAlive());
    response.setDate(Poco::Timestamp());
    try {
      std::unique_ptr<Poco::Net::HTTPRequestHandler> handler(
          factory_.createRequestHandler(request));
      if (handler) {
        handler->handleRequest(request, response);
      } else {
        response.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_NOT_IMPLEMENTED);
        response.setKeepAlive(false);
        response.sendBuffer("", 0);
      }
    } catch (const std::exception& e) {
      log_.error("handler of " + printableForLog(job.head.getMethod(), 16) + " " +
                 printableForLog(pathOf(job.head.getURI()), kMaxLoggedPath) +
                 " failed: " + e.what());
      if (!response.sent()) {
        const std::string body = protocol::encode(
            protocol::ErrorBody{errors::kInternal, "internal error", std::nullopt});
        response.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_INTERNAL_SERVER_ERROR);
        response.setContentType(protocol::kContentType);
        response.setKeepAlive(false);
        response.sendBuffer(body.data(), body.size());
      }
    }
    Completion done;
    done.connection = job.connection;
    done.keep_alive = response.getKeepAlive();
    done.wire = response.wire();
    admission_.recordResponse(job.request_class, static_cast<int>(response.getStatus()),
                              clock_.monotonicNow() - job.complete_at);
    job.ticket.reset();
    // A keep-alive answer on plain HTTP goes out from here, without a turn of the loop; the
    // loop learns of it when it next wakes (at the latest, for the client's next request).
    bool sent_here = false;
    if (job.direct_fd >= 0 && done.keep_alive) {
      const ssize_t n = ::send(job.direct_fd, done.wire.data(), done.wire.size(), MSG_NOSIGNAL);
      if (n > 0) done.wire.erase(0, static_cast<size_t>(n));
      sent_here = done.wire.empty();
    }
    {
      MutexLock lock(completions_mu_);
      completions_.push_back(std::move(done));
      completions_pending_.fetch_add(1);
    }
    const bool loop_must_act =
        !sent_here || job.more_buffered || unwatched_serving_.load() > 0 || draining_.load();
    if (loop_must_act) wakeForCompletion();
  }

  void takeCompletions() {
    std::vector<Completion> done;
    bool stopping = false;
    {
      MutexLock lock(completions_mu_);
      done.swap(completions_);
      completions_pending_.store(0, std::memory_order_relaxed);
      stopping = stop_requested_;
    }
    for (Completion& d : done) {
      auto it = connections_.find(d.connection);
      if (it == connections_.end()) continue;
      Connection& c = *it->second;
      if (c.unwatched_serving) {
        c.unwatched_serving = false;
        unwatched_serving_.fetch_sub(1);
      }
      answer(c, std::move(d.wire), d.keep_alive && !stopping);
    }
  }

  // --- statistics ----------------------------------------------------------------------

  void publish(MonoTime now) {
    ListenerStats s;
    s.connections = ledger_.counters();
    for (size_t p = 0; p < kConnectionPhaseCount; ++p) {
      s.open[p] = ledger_.count(static_cast<ConnectionPhase>(p));
    }
    s.accept_failures = accept_failures_;
    s.tls_failures = tls_failures_;
    s.unframed_requests = unframed_;
    s.aborted_requests = aborted_;
    s.loop_stalls = loop_stalls_;
    {
      MutexLock lock(stats_mu_);
      published_ = s;
    }
    if (now - summarised_at_ >= kSummaryPeriod) summarise(s, now);
  }

  // One line per period while clients are timed out, evicted or refused.
  void summarise(const ListenerStats& s, MonoTime now) {
    const ConnectionLedger::Counters& c = s.connections;
    const ConnectionLedger::Counters& p = summarised_.connections;
    std::string parts;
    auto add = [&parts](uint64_t n, const std::string& what) {
      if (n == 0) return;
      if (!parts.empty()) parts += ", ";
      parts += std::to_string(n) + " " + what;
    };
    const auto receiving = static_cast<size_t>(ConnectionPhase::kReceiving);
    const auto sending = static_cast<size_t>(ConnectionPhase::kSending);
    add(c.expired[receiving] - p.expired[receiving],
        "did not complete a request within http.receiveTimeoutSeconds");
    add(c.expired[sending] - p.expired[sending],
        "did not take their answer within http.sendTimeoutSeconds");
    uint64_t evicted = 0;
    uint64_t evicted_before = 0;
    for (size_t i = 0; i < kConnectionPhaseCount; ++i) {
      evicted += c.evicted[i];
      evicted_before += p.evicted[i];
    }
    add(evicted - evicted_before, "closed to make room (http.maxConnections)");
    add(c.evicted_client_limit - p.evicted_client_limit,
        "closed over their client's limit (http.maxConnectionsPerClient)");
    add(c.refused - p.refused, "refused: no room");
    add(s.accept_failures - summarised_.accept_failures, "accepts failed");
    add(s.tls_failures - summarised_.tls_failures, "TLS handshakes failed");
    if (!parts.empty()) {
      log_.warning(
          "connections in the last %d s: %s",
          static_cast<int>(
              std::chrono::duration_cast<std::chrono::seconds>(now - summarised_at_).count()),
          parts);
    }
    summarised_ = s;
    summarised_at_ = now;
  }

  Poco::Net::ServerSocket socket_;
  const Poco::Net::SocketAddress address_;
  const ListenerConfig config_;
  // config_.connections.idle_timeout in whole seconds, as keep-alive answers advertise it.
  const int64_t idle_timeout_s_ =
      std::chrono::duration_cast<std::chrono::seconds>(config_.connections.idle_timeout).count();
  Poco::Net::HTTPRequestHandlerFactory& factory_;
  AdmissionController& admission_;
  const Clock& clock_;
  Poco::Logger& log_;

  // Owned by the loop thread.
  ConnectionLedger ledger_;
  std::unordered_map<Id, std::unique_ptr<Connection>> connections_;
  Id next_id_ = kFirstConnectionId;
  UniqueFd epoll_;
  UniqueFd wake_;
  UniqueFd reserve_;
  uint64_t accept_failures_ = 0;
  uint64_t tls_failures_ = 0;
  uint64_t unframed_ = 0;
  uint64_t aborted_ = 0;
  uint64_t loop_stalls_ = 0;
  size_t cut_ = 0;
  MonoTime summarised_at_;
  ListenerStats summarised_;

  Poco::AutoPtr<Poco::Net::HTTPServerParams> params_;
  std::array<std::unique_ptr<WorkerPool>, kRequestClassCount> pools_;
  std::thread loop_;
  std::atomic<bool> wake_pending_{false};
  std::atomic<bool> loop_waiting_{false};  // the loop is in (or about to enter) epoll_wait
  std::atomic<bool> draining_{false};      // stop() was called
  // Connections unwatched while served (the client sent or hung up meanwhile): their answer
  // must wake the loop even when a worker sent it.
  std::atomic<uint64_t> unwatched_serving_{0};

  Mutex completions_mu_;
  std::vector<Completion> completions_ GUARDED_BY(completions_mu_);
  // completions_.size(), readable without the lock.
  std::atomic<size_t> completions_pending_{0};
  bool stop_requested_ GUARDED_BY(completions_mu_) = false;
  Duration drain_ GUARDED_BY(completions_mu_){};

  mutable Mutex stats_mu_;
  ListenerStats published_ GUARDED_BY(stats_mu_);
};

HttpListener::HttpListener(Poco::Net::ServerSocket socket, ListenerConfig config,
                           Poco::Net::HTTPRequestHandlerFactory& factory,
                           AdmissionController& admission, const Clock& clock, Poco::Logger& logger)
    : impl_(std::make_unique<Impl>(std::move(socket), std::move(config), factory, admission, clock,
                                   logger)) {}

HttpListener::~HttpListener() = default;

void HttpListener::start() { impl_->start(); }
size_t HttpListener::stop(Duration drain) { return impl_->stop(drain); }
ListenerStats HttpListener::stats() const { return impl_->stats(); }
uint64_t HttpListener::queued(RequestClass request_class) const {
  return impl_->queued(request_class);
}
const Poco::Net::SocketAddress& HttpListener::address() const { return impl_->address(); }

MetricsSource listenerMetrics(const HttpListener& listener) {
  return [&listener](MetricsWriter& out) {
    const ListenerStats s = listener.stats();
    const ConnectionLedger::Counters& c = s.connections;
    out.family("vigil_http_connections_open", MetricType::kGauge,
               "Open connections, by what they are doing.");
    for (size_t p = 0; p < kConnectionPhaseCount; ++p) {
      out.sample(static_cast<double>(s.open[p]),
                 {{"phase", connectionPhaseName(static_cast<ConnectionPhase>(p))}});
    }
    out.family("vigil_http_connections_accepted_total", MetricType::kCounter,
               "Connections accepted and given room by the HTTP listener.");
    out.sample(static_cast<double>(c.opened));
    out.family("vigil_http_connections_refused_total", MetricType::kCounter,
               "Connections closed at once: no room (http.maxConnections, every connection "
               "busy), or accept() failed.");
    out.sample(static_cast<double>(c.refused + s.accept_failures));
    out.family("vigil_http_connections_evicted_total", MetricType::kCounter,
               "Connections closed to make room for a new one, by phase (limit: "
               "http.maxConnections) or for their client's own limit "
               "(http.maxConnectionsPerClient).");
    for (size_t p = 0; p < kConnectionPhaseCount; ++p) {
      if (static_cast<ConnectionPhase>(p) == ConnectionPhase::kServing ||
          static_cast<ConnectionPhase>(p) == ConnectionPhase::kSending) {
        continue;
      }
      out.sample(static_cast<double>(c.evicted[p]),
                 {{"phase", connectionPhaseName(static_cast<ConnectionPhase>(p))}});
    }
    out.sample(static_cast<double>(c.evicted_client_limit), {{"phase", "client_limit"}});
    out.family("vigil_http_connections_timed_out_total", MetricType::kCounter,
               "Connections closed past their phase's deadline (receiving: "
               "http.receiveTimeoutSeconds; idle: http.keepAliveTimeoutSeconds; sending: "
               "http.sendTimeoutSeconds).");
    for (ConnectionPhase p : {ConnectionPhase::kReceiving, ConnectionPhase::kIdle,
                              ConnectionPhase::kSending, ConnectionPhase::kLingering}) {
      out.sample(static_cast<double>(c.expired[static_cast<size_t>(p)]),
                 {{"phase", connectionPhaseName(p)}});
    }
    out.family("vigil_http_connections_starved_total", MetricType::kCounter,
               "Connections the listener had to drop before they had a fair chance to send a "
               "request (no room): the collector goes DEGRADED (connections_exhausted).");
    out.sample(static_cast<double>(c.starved));
    out.family("vigil_http_loop_stalls_total", MetricType::kCounter,
               "Turns of the listener's event loop that took more than a second: every "
               "connection waited (DEGRADED: connections_exhausted).");
    out.sample(static_cast<double>(s.loop_stalls));
    out.family("vigil_http_tls_handshake_failures_total", MetricType::kCounter,
               "TLS handshakes that failed (not counting those that timed out).");
    out.sample(static_cast<double>(s.tls_failures));
    out.family("vigil_http_requests_unframed_total", MetricType::kCounter,
               "Requests the listener could not frame, answered 400, 413 or 431.");
    out.sample(static_cast<double>(s.unframed_requests));
    out.family("vigil_http_requests_aborted_total", MetricType::kCounter,
               "Requests whose client closed or timed out before the request was complete.");
    out.sample(static_cast<double>(s.aborted_requests));
    out.family("vigil_http_requests_queued", MetricType::kGauge,
               "Complete requests waiting for a worker of their class.");
    for (size_t k = 0; k < kRequestClassCount; ++k) {
      out.sample(static_cast<double>(s.queued[k]),
                 {{"class", requestClassName(static_cast<RequestClass>(k))}});
    }
    out.family("vigil_http_workers_busy", MetricType::kGauge,
               "HTTP worker threads serving a request, by class.");
    for (size_t k = 0; k < kRequestClassCount; ++k) {
      out.sample(static_cast<double>(s.busy[k]),
                 {{"class", requestClassName(static_cast<RequestClass>(k))}});
    }
    out.family("vigil_http_workers_max", MetricType::kGauge, "HTTP worker threads, by class.");
    for (size_t k = 0; k < kRequestClassCount; ++k) {
      out.sample(static_cast<double>(s.workers[k]),
                 {{"class", requestClassName(static_cast<RequestClass>(k))}});
    }
  };
}

}  // namespace vigil::collector
