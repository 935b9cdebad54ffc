#pragma once

// Sends the relay's batches to the other collectors of a cluster (collector/cluster/relay.h)
// over HTTP or HTTPS, one kept-alive connection per collector. HTTPS verifies the other
// collector's certificate against `ca_file` (cluster.caFile) and the system's authorities.
//
// Thread safety: one thread (the relay's sender) at a time.

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>

#include <map>
#include <memory>
#include <string>

#include "collector/cluster/evidence_router.h"
#include "common/status.h"

namespace vigil::collector {

class RelayTransport {
 public:
  explicit RelayTransport(const std::string& ca_file);
  // POSTs the batch; its owner's answer, or why there is none (kUnavailable: not reached or
  // no answer in time; kFailedPrecondition: it refused the batch).
  Result<RelayReply> send(const EvidenceRouter::Outgoing& batch);

 private:
  Result<RelayReply> sendOnce(const EvidenceRouter::Outgoing& batch);
  Poco::Net::HTTPClientSession& sessionFor(const std::string& url);

  Poco::Net::Context::Ptr tls_;
  std::map<std::string, std::unique_ptr<Poco::Net::HTTPClientSession>> sessions_;  // by URL
};

}  // namespace vigil::collector
