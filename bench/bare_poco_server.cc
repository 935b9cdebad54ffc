// vigil-bench-bare-poco: the baseline of scripts/bench-ingest.sh. A bare Poco HTTPServer that
// reads each request's whole body and answers 200 with a small JSON body of the size of the
// collector's heartbeat answer; no parsing, no signature check, no state. What the collector
// costs per heartbeat above this is its own work.
//
//   vigil-bench-bare-poco [--port P] [--port-file FILE] [--threads N]
//
// Listens on 127.0.0.1:P (0, the default: a free port, written to FILE once listening). N
// worker threads (default 10: the collector's agent workers under its defaults,
// http.maxThreads 16 less 4 admin and 2 probe workers); every other setting is Poco's default
// (keep-alive on, 10 s keep-alive timeout, unlimited requests per connection, 64 connections
// queued for a worker, more are dropped). Runs until SIGTERM or SIGINT; prints its settings on
// stdout once listening.

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/ThreadPool.h>
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "bench/bench_options.h"

namespace {

using namespace vigil;

struct Options {
  int port = 0;
  std::string port_file;
  int threads = 10;
};

Options parse(int argc, char** argv) {
  bench::BenchOptions args(argc, argv, "vigil-bench-bare-poco",
                           "[--port P] [--port-file FILE] [--threads N]");
  Options o;
  while (args.next()) {
    if (args.is("--port")) {
      o.port = static_cast<int>(args.integer());
    } else if (args.is("--port-file")) {
      o.port_file = args.text();
    } else if (args.is("--threads")) {
      o.threads = static_cast<int>(args.integer());
    } else {
      args.unknown();
    }
  }
  if (o.port < 0 || o.port > 65535) args.fail("--port must be 0..65535");
  if (o.threads < 1) args.fail("--threads must be positive");
  return o;
}

// Reads the body, answers what the collector answers an accepted heartbeat, in size.
class HeartbeatLikeHandler : public Poco::Net::HTTPRequestHandler {
 public:
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    std::string body;
    Poco::StreamCopier::copyToString(request.stream(), body);
    static const std::string kAnswer =
        R"({"v":1,"next_interval_s":60,"server_time_ms":1790000000000,)"
        R"("beacon_port":8471,"beacon_interval_s":15})";
    response.setContentType("application/json");
    response.setContentLength(static_cast<std::streamsize>(kAnswer.size()));
    response.send() << kAnswer;
  }
};

class HeartbeatLikeFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new HeartbeatLikeHandler;
  }
};

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);

  // SIGTERM and SIGINT are taken by sigwait below, in no other thread.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  Poco::Net::ServerSocket socket(
      Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(o.port)));
  Poco::ThreadPool pool(2, o.threads);
  auto* params = new Poco::Net::HTTPServerParams;  // owned by the server (reference counted)
  params->setMaxThreads(o.threads);
  Poco::Net::HTTPServer server(new HeartbeatLikeFactory, pool, socket, params);
  server.start();

  const int port = socket.address().port();
  if (!o.port_file.empty()) {
    const std::string partial = o.port_file + ".partial";
    std::ofstream(partial) << port << '\n';
    if (std::rename(partial.c_str(), o.port_file.c_str()) != 0) {
      std::fprintf(stderr, "vigil-bench-bare-poco: cannot write %s\n", o.port_file.c_str());
      return 2;
    }
  }
  std::printf(
      "vigil-bench-bare-poco on 127.0.0.1:%d: %d worker threads, keep-alive on, Poco defaults "
      "otherwise\n",
      port, o.threads);
  std::fflush(stdout);

  int signo = 0;
  sigwait(&stop_signals, &signo);
  server.stopAll(true);  // keep-alive connections end too
  pool.joinAll();
  return 0;
}
