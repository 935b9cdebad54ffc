// SqlStore: a cluster's coordination (store.h, LeaseStore): the shard leases and the
// collectors' announcements, on a connection of their own. Every condition on time compares
// with the database's clock (Backend::clockMillisSql), evaluated inside the statement that
// acts on it, so two collectors never decide by clocks that disagree.

#include <Poco/Data/RecordSet.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>

#include <string>
#include <vector>

#include "collector/core/shards.h"
#include "collector/store/sql_store.h"
#include "collector/store/sql_util.h"
#include "common/crypto.h"

namespace vigil::collector {
namespace {

using namespace sql;  // NOLINT(google-build-using-namespace): the store's own helpers
using Poco::Data::RecordSet;
using Poco::Data::Session;
using Poco::Data::Statement;

constexpr char kLeaseColumns[] = " shard, owner, epoch, expires_at, acquired_at";

std::vector<ShardLease> leasesIn(const RecordSet& rs) {
  std::vector<ShardLease> leases;
  leases.reserve(rs.rowCount());
  for (size_t row = 0; row < rs.rowCount(); ++row) {
    ShardLease lease;
    lease.shard = static_cast<int>(intAt(rs, 0, row));
    lease.owner = optionalStringAt(rs, 1, row);
    lease.epoch = intAt(rs, 2, row);
    lease.expires_at_ms = intAt(rs, 3, row);
    lease.acquired_at_ms = intAt(rs, 4, row);
    leases.push_back(std::move(lease));
  }
  return leases;
}

constexpr char kCollectorColumns[] = " node, instance, internal_url, started_at, expires_at";

CollectorNode collectorAt(const RecordSet& rs, size_t row) {
  CollectorNode node;
  node.node = stringAt(rs, 0, row);
  node.instance = stringAt(rs, 1, row);
  node.internal_url = stringAt(rs, 2, row);
  node.started_at_ms = intAt(rs, 3, row);
  node.expires_at_ms = intAt(rs, 4, row);
  return node;
}

std::vector<ShardLease> runForLeases(Session& session, const Query& q) {
  Statement st(session);
  q.execute(st);
  RecordSet rs(st);
  return leasesIn(rs);
}

}  // namespace

Result<std::vector<ShardLease>> SqlStore::acquireShards(const std::string& owner,
                                                        const std::vector<int>& shards,
                                                        int64_t ttl_ms) {
  if (shards.empty()) return std::vector<ShardLease>{};
  const std::string clock = backend_->clockMillisSql();
  return coordinate("cannot acquire shard leases", [&](Session& session) {
    Query q("UPDATE shard_leases SET owner = ?, epoch = epoch + 1, expires_at = " + clock +
            " + ?, acquired_at = " + clock + " WHERE (owner IS NULL OR expires_at <= " + clock +
            ")");
    q.param(owner).param(ttl_ms);
    std::vector<int64_t> ids(shards.begin(), shards.end());
    q.inList("shard", ids).sql(std::string(" RETURNING") + kLeaseColumns);
    return Result<std::vector<ShardLease>>(runForLeases(session, q));
  });
}

Result<std::vector<ShardLease>> SqlStore::renewShards(const std::string& owner,
                                                      const std::vector<HeldLease>& held,
                                                      int64_t ttl_ms) {
  if (held.empty()) return std::vector<ShardLease>{};
  const std::string clock = backend_->clockMillisSql();
  return coordinate("cannot renew shard leases", [&](Session& session) {
    Query q("UPDATE shard_leases SET expires_at = " + clock + " + ? WHERE owner = ?" +
            " AND expires_at > " + clock);
    q.param(ttl_ms).param(owner);
    q.heldLeases(held);
    q.sql(std::string(" RETURNING") + kLeaseColumns);
    return Result<std::vector<ShardLease>>(runForLeases(session, q));
  });
}

Status SqlStore::releaseShards(const std::string& owner, const std::vector<HeldLease>& held) {
  if (held.empty()) return Status::okStatus();
  const std::string clock = backend_->clockMillisSql();
  return coordinate("cannot release shard leases", [&](Session& session) {
    Query q("UPDATE shard_leases SET owner = NULL, expires_at = " + clock + " WHERE owner = ?");
    q.param(owner);
    q.heldLeases(held);
    Statement st(session);
    q.execute(st);
    return Status::okStatus();
  });
}

Result<std::vector<ShardLease>> SqlStore::listShardLeases() {
  return coordinate("cannot read shard leases", [&](Session& session) {
    return Result<std::vector<ShardLease>>(runForLeases(
        session,
        Query(std::string("SELECT") + kLeaseColumns + " FROM shard_leases ORDER BY shard")));
  });
}

Result<CollectorNode> SqlStore::announceCollector(const CollectorNode& node, int64_t ttl_ms) {
  const std::string clock = backend_->clockMillisSql();
  return coordinate(
      "cannot announce the collector", [&](Session& session) -> Result<CollectorNode> {
        // A namesake's announcement is taken over only once it has expired; this instance's own
        // keeps its start time.
        Query q(
            "INSERT INTO collectors (node, instance, internal_url, started_at, expires_at)"
            " VALUES (?, ?, ?, " +
            clock + ", " + clock +
            " + ?) ON CONFLICT (node) DO UPDATE SET"
            " started_at = CASE WHEN collectors.instance = excluded.instance"
            " THEN collectors.started_at ELSE excluded.started_at END,"
            " instance = excluded.instance, internal_url = excluded.internal_url,"
            " expires_at = excluded.expires_at"
            " WHERE collectors.instance = excluded.instance"
            " OR collectors.expires_at <= excluded.started_at RETURNING" +
            kCollectorColumns);
        q.param(node.node).param(node.instance).param(node.internal_url).param(ttl_ms);
        Statement st(session);
        q.execute(st);
        RecordSet rs(st);
        if (rs.rowCount() == 0) {
          return Status::alreadyExists("another collector named \"" + node.node +
                                       "\" is running (collector.nodeName must be unique)");
        }
        return collectorAt(rs, 0);
      });
}

Result<std::vector<CollectorNode>> SqlStore::listLiveCollectors() {
  const std::string clock = backend_->clockMillisSql();
  return coordinate("cannot read the collectors", [&](Session& session) {
    Statement st(session);
    Query(std::string("SELECT") + kCollectorColumns + " FROM collectors WHERE expires_at > " +
          clock + " ORDER BY node")
        .execute(st);
    RecordSet rs(st);
    std::vector<CollectorNode> nodes;
    nodes.reserve(rs.rowCount());
    for (size_t row = 0; row < rs.rowCount(); ++row) nodes.push_back(collectorAt(rs, row));
    return Result<std::vector<CollectorNode>>(std::move(nodes));
  });
}

Status SqlStore::withdrawCollector(const std::string& node, const std::string& instance) {
  return coordinate("cannot withdraw the collector", [&](Session& session) {
    Statement st(session);
    Query("DELETE FROM collectors WHERE node = ? AND instance = ?")
        .param(node)
        .param(instance)
        .execute(st);
    return Status::okStatus();
  });
}

Result<int64_t> SqlStore::databaseTimeMs() {
  const std::string clock = backend_->clockMillisSql();
  return coordinate("cannot read the database's clock", [&](Session& session) {
    Statement st(session);
    Query(std::string("SELECT ") + clock).execute(st);
    RecordSet rs(st);
    return Result<int64_t>(intAt(rs, 0, 0));
  });
}

Result<std::string> SqlStore::clusterKey() {
  auto made = crypto::randomHex(32);
  if (!made.ok()) return made.error();
  return coordinate("cannot read the cluster's key", [&](Session& session) {
    // The first collector's key stays: a racing insert of another does nothing.
    Statement insert(session);
    Query(
        "INSERT INTO cluster_keys (name, secret) VALUES ('relay', ?) ON CONFLICT (name) DO NOTHING")
        .param(made.value())
        .execute(insert);
    Statement st(session);
    Query("SELECT secret FROM cluster_keys WHERE name = 'relay'").execute(st);
    RecordSet rs(st);
    if (rs.rowCount() == 0) return Result<std::string>(Status::internal("no cluster key stored"));
    return Result<std::string>(rs.value(0, 0).convert<std::string>());
  });
}

}  // namespace vigil::collector
