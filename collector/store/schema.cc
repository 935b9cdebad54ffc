#include "collector/store/schema.h"

#include <Poco/Data/Session.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "common/crypto.h"

namespace vigil::collector::sql {
namespace {

using Poco::Data::Session;
using Poco::Data::Keywords::bind;
using Poco::Data::Keywords::into;
using Poco::Data::Keywords::now;
using Poco::Data::Keywords::use;

constexpr size_t kPeerKeyRandomBytes = 32;  // 64 hex characters

// Migration 3, after its statements: every existing site gets its own peer key.
void generateMissingPeerKeys(Session& s) {
  std::vector<Poco::Int64> ids;
  s << "SELECT id FROM sites WHERE peer_key = ''", into(ids), now;
  for (Poco::Int64 id : ids) {
    std::string key = newPeerKey();
    s << "UPDATE sites SET peer_key = $1 WHERE id = $2", use(key), use(id), now;
  }
}

// The tables whose ids name things admins create and delete; migration 5 makes each id
// AUTOINCREMENT so that an id is never given twice, also across restarts: a deleted site's id
// given to another tenant's new site would inherit what still points at the old one.
// Alerts and outbox entries too: their ids reach webhook receivers and the dispatcher's memory.
constexpr const char* kNeverReusedIdTables[] = {
    "tenants",  "sites",  "enrollment_tokens", "admin_tokens", "maintenance_windows",
    "webhooks", "alerts", "webhook_outbox"};

// Rebuilds `table` with `id INTEGER PRIMARY KEY AUTOINCREMENT`, keeping its columns (as the
// schema holds them, ALTER TABLE additions included), rows, ids and indexes; a table that has
// it already is left alone. Foreign keys must be off (Migration::sqlite_rebuild): other tables
// keep referencing the name.
void rebuildWithAutoincrement(Session& s, const std::string& table) {
  std::string create;
  s << "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", bind(table), into(create),
      now;
  const std::string head = "CREATE TABLE " + table + " (";
  const std::string key = "id INTEGER PRIMARY KEY,";
  if (create.find("id INTEGER PRIMARY KEY AUTOINCREMENT,") != std::string::npos) return;
  if (create.rfind(head, 0) != 0 || create.find(key) == std::string::npos) {
    throw std::runtime_error("unexpected schema of table " + table + ": " + create);
  }
  const std::string rebuilt = table + "_rebuilt";
  create.replace(create.find(key), key.size(), "id INTEGER PRIMARY KEY AUTOINCREMENT,");
  create.replace(0, head.size(), "CREATE TABLE " + rebuilt + " (");
  std::vector<std::string> indexes;
  s << "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
      bind(table), into(indexes), now;
  s << create, now;
  s << "INSERT INTO " + rebuilt + " SELECT * FROM " + table, now;
  s << "DROP TABLE " + table, now;
  s << "ALTER TABLE " + rebuilt + " RENAME TO " + table, now;
  for (const std::string& index : indexes) s << index, now;
}

// Migration 5, after its statements.
void neverReuseIds(Session& s) {
  for (const char* table : kNeverReusedIdTables) rebuildWithAutoincrement(s, table);
}

}  // namespace

std::string newPeerKey() {
  auto key = crypto::randomHex(kPeerKeyRandomBytes);
  if (!key.ok())
    throw std::runtime_error("cannot generate a site peer key: " + key.error().message());
  return key.value();
}

const std::vector<Migration>& migrations() {
  // Statements are SQL texts split over lines. NOLINTBEGIN(bugprone-suspicious-missing-comma):
  // a missing comma would join two statements into one text, which SQLite refuses when the
  // migration runs (every migration runs in the store tests).
  static const std::vector<Migration> kMigrations = {
      // 1: the walking skeleton.
      {{
          "CREATE TABLE tenants ("
          " id INTEGER PRIMARY KEY,"
          " name TEXT NOT NULL UNIQUE,"
          " created_at INTEGER NOT NULL)",
          "CREATE TABLE sites ("
          " id INTEGER PRIMARY KEY,"
          " tenant_id INTEGER NOT NULL REFERENCES tenants(id),"
          " name TEXT NOT NULL,"
          " created_at INTEGER NOT NULL,"
          " UNIQUE (tenant_id, name))",
          "CREATE TABLE enrollment_tokens ("
          " id INTEGER PRIMARY KEY,"
          " site_id INTEGER NOT NULL REFERENCES sites(id),"
          " token_hash TEXT NOT NULL UNIQUE,"
          " created_at INTEGER NOT NULL,"
          " expires_at INTEGER,"
          " max_uses INTEGER,"
          " uses INTEGER NOT NULL DEFAULT 0,"
          " revoked INTEGER NOT NULL DEFAULT 0)",
          "CREATE INDEX enrollment_tokens_site ON enrollment_tokens (site_id)",
          "CREATE TABLE agents ("
          " id TEXT PRIMARY KEY,"
          " site_id INTEGER NOT NULL REFERENCES sites(id),"
          " hostname TEXT NOT NULL,"
          " os_name TEXT NOT NULL DEFAULT '',"
          " os_version TEXT NOT NULL DEFAULT '',"
          " arch TEXT NOT NULL DEFAULT '',"
          " agent_version TEXT NOT NULL,"
          " secret TEXT NOT NULL,"
          " enrolled_at INTEGER NOT NULL,"
          " retired_at INTEGER,"
          " last_seen_at INTEGER,"
          " last_seq INTEGER NOT NULL DEFAULT 0,"
          " boot_id TEXT NOT NULL DEFAULT '',"
          " uptime_s INTEGER NOT NULL DEFAULT 0)",
          "CREATE INDEX agents_site ON agents (site_id)",
          "CREATE TABLE admin_tokens ("
          " id INTEGER PRIMARY KEY,"
          " token_hash TEXT NOT NULL UNIQUE,"
          " name TEXT NOT NULL,"
          " created_at INTEGER NOT NULL,"
          " revoked INTEGER NOT NULL DEFAULT 0)",
      }},
      // 2: the presence engine's history, alerts and the collector's own health.
      {{
          "CREATE TABLE status_changes ("
          " id INTEGER PRIMARY KEY,"
          " agent_id TEXT NOT NULL,"
          " at INTEGER NOT NULL,"
          " from_status TEXT NOT NULL,"
          " to_status TEXT NOT NULL,"
          " reason TEXT NOT NULL,"
          " degradation_reasons TEXT NOT NULL DEFAULT '')",
          "CREATE INDEX status_changes_agent ON status_changes (agent_id, id)",
          "CREATE TABLE alerts ("
          " id INTEGER PRIMARY KEY,"
          " kind TEXT NOT NULL,"
          " state TEXT NOT NULL,"
          " agent_id TEXT,"
          " site_id INTEGER,"
          " opened_at INTEGER NOT NULL,"
          " closed_at INTEGER,"
          " held_since INTEGER,"
          " held_reasons TEXT NOT NULL DEFAULT '',"
          " note TEXT NOT NULL DEFAULT '')",
          "CREATE INDEX alerts_subject ON alerts (kind, agent_id, site_id, state)",
          "CREATE TABLE health_changes ("
          " id INTEGER PRIMARY KEY,"
          " at INTEGER NOT NULL,"
          " degraded INTEGER NOT NULL,"
          " reasons TEXT NOT NULL DEFAULT '')",
      }},
      // 3: protocol 1.1 indicators: site peer keys, agent facts, shutdown notices and the
      // outage diary.
      {{
           "ALTER TABLE sites ADD COLUMN peer_key TEXT NOT NULL DEFAULT ''",
           "ALTER TABLE agents ADD COLUMN config_hash TEXT NOT NULL DEFAULT ''",
           "ALTER TABLE agents ADD COLUMN net_default_route INTEGER",
           "ALTER TABLE agents ADD COLUMN net_addresses TEXT NOT NULL DEFAULT '[]'",
           "ALTER TABLE agents ADD COLUMN last_shutdown_reason TEXT NOT NULL DEFAULT ''",
           "ALTER TABLE agents ADD COLUMN last_shutdown_at INTEGER",
           "CREATE TABLE outage_reports ("
           " id INTEGER PRIMARY KEY,"
           " agent_id TEXT NOT NULL,"
           " from_ms INTEGER NOT NULL,"
           " to_ms INTEGER NOT NULL,"
           " cause TEXT NOT NULL,"
           " reported_at_ms INTEGER NOT NULL)",
           "CREATE INDEX outage_reports_agent ON outage_reports (agent_id, id)",
       },
       generateMissingPeerKeys},
      // 4: the admin API: scoped admin tokens, named and revocable enrollment tokens, alerts
      // by tenant with acknowledgement, maintenance windows, webhooks and their outbox.
      {{
          "ALTER TABLE admin_tokens ADD COLUMN all_tenants INTEGER NOT NULL DEFAULT 1",
          "ALTER TABLE admin_tokens ADD COLUMN expires_at INTEGER",
          "ALTER TABLE admin_tokens ADD COLUMN revoked_at INTEGER",
          "ALTER TABLE admin_tokens ADD COLUMN created_by INTEGER",
          "CREATE TABLE admin_token_tenants ("
          " token_id INTEGER NOT NULL REFERENCES admin_tokens(id),"
          " tenant_id INTEGER NOT NULL REFERENCES tenants(id),"
          " PRIMARY KEY (token_id, tenant_id))",
          "ALTER TABLE enrollment_tokens ADD COLUMN name TEXT NOT NULL DEFAULT ''",
          "ALTER TABLE enrollment_tokens ADD COLUMN revoked_at INTEGER",
          "ALTER TABLE alerts ADD COLUMN tenant_id INTEGER NOT NULL DEFAULT 0",
          "ALTER TABLE alerts ADD COLUMN acknowledged_at INTEGER",
          "ALTER TABLE alerts ADD COLUMN acknowledged_by TEXT NOT NULL DEFAULT ''",
          "ALTER TABLE alerts ADD COLUMN closed_by TEXT NOT NULL DEFAULT ''",
          "UPDATE alerts SET tenant_id = COALESCE("
          " (SELECT s.tenant_id FROM agents a JOIN sites s ON s.id = a.site_id"
          "  WHERE a.id = alerts.agent_id),"
          " (SELECT s.tenant_id FROM sites s WHERE s.id = alerts.site_id), 0)",
          "CREATE INDEX alerts_tenant ON alerts (tenant_id, id)",
          "CREATE INDEX alerts_agent ON alerts (agent_id, id)",
          "CREATE INDEX alerts_site ON alerts (site_id, id)",
          "CREATE INDEX agents_hostname ON agents (hostname)",
          "CREATE TABLE maintenance_windows ("
          " id INTEGER PRIMARY KEY,"
          " tenant_id INTEGER NOT NULL REFERENCES tenants(id),"
          " scope TEXT NOT NULL,"
          " site_id INTEGER REFERENCES sites(id),"
          " agent_id TEXT,"
          " starts_at INTEGER NOT NULL,"
          " duration_s INTEGER NOT NULL,"
          " recurrence TEXT NOT NULL,"
          " note TEXT NOT NULL DEFAULT '',"
          " created_at INTEGER NOT NULL,"
          " created_by TEXT NOT NULL DEFAULT '')",
          "CREATE INDEX maintenance_windows_tenant ON maintenance_windows (tenant_id, id)",
          "CREATE TABLE webhooks ("
          " id INTEGER PRIMARY KEY,"
          " tenant_id INTEGER NOT NULL REFERENCES tenants(id),"
          " url TEXT NOT NULL,"
          " secret TEXT NOT NULL,"
          " events TEXT NOT NULL,"
          " description TEXT NOT NULL DEFAULT '',"
          " enabled INTEGER NOT NULL DEFAULT 1,"
          " created_at INTEGER NOT NULL)",
          "CREATE INDEX webhooks_tenant ON webhooks (tenant_id, id)",
          "CREATE TABLE webhook_outbox ("
          " id INTEGER PRIMARY KEY,"
          " webhook_id INTEGER NOT NULL REFERENCES webhooks(id),"
          " message_id TEXT NOT NULL UNIQUE,"
          " event_type TEXT NOT NULL,"
          " ordering_key TEXT NOT NULL,"
          " payload TEXT NOT NULL,"
          " created_at INTEGER NOT NULL,"
          " state TEXT NOT NULL DEFAULT 'pending',"
          " attempts INTEGER NOT NULL DEFAULT 0,"
          " next_attempt_at INTEGER NOT NULL,"
          " last_attempt_at INTEGER,"
          " last_status INTEGER,"
          " last_error TEXT NOT NULL DEFAULT '',"
          " delivered_at INTEGER)",
          // What the dispatcher polls: pending entries by due time, and the head of each
          // webhook's ordering key.
          "CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at)"
          " WHERE state = 'pending'",
          "CREATE INDEX webhook_outbox_order ON webhook_outbox (webhook_id, ordering_key, id)"
          " WHERE state = 'pending'",
          "CREATE INDEX webhook_outbox_webhook ON webhook_outbox (webhook_id, id)",
      }},
      // 5: ids of tenants, sites, tokens, maintenance windows, webhooks, alerts and outbox
      // entries are never reused.
      {{}, nullptr, neverReuseIds},
      // 6: admin token roles and token trees (store.h, AdminToken). Every existing token is
      // an `admin`; its creator (created_by, recorded since 4) is its parent. What the store
      // now keeps true for new tokens is made true for existing ones: a descendant of a
      // revoked token is revoked (at its ancestor's time), and no token expires after its
      // parent (a chain's earliest expiry is every later token's).
      {{
          "ALTER TABLE admin_tokens ADD COLUMN role TEXT NOT NULL DEFAULT 'admin'",
          "CREATE INDEX admin_tokens_parent ON admin_tokens (created_by)",
          "WITH RECURSIVE cut(id, at) AS ("
          " SELECT id, revoked_at FROM admin_tokens WHERE revoked = 1"
          " UNION SELECT t.id, cut.at FROM admin_tokens t JOIN cut ON t.created_by = cut.id)"
          " UPDATE admin_tokens SET revoked = 1,"
          " revoked_at = (SELECT MIN(at) FROM cut WHERE cut.id = admin_tokens.id)"
          " WHERE revoked = 0 AND id IN (SELECT id FROM cut)",
          "WITH RECURSIVE chain(id, cap) AS ("
          " SELECT id, expires_at FROM admin_tokens"
          "  WHERE created_by IS NULL OR created_by NOT IN (SELECT id FROM admin_tokens)"
          " UNION SELECT t.id, CASE WHEN chain.cap IS NULL THEN t.expires_at"
          "  WHEN t.expires_at IS NULL THEN chain.cap ELSE MIN(t.expires_at, chain.cap) END"
          "  FROM admin_tokens t JOIN chain ON t.created_by = chain.id)"
          " UPDATE admin_tokens SET expires_at = (SELECT MIN(cap) FROM chain"
          "  WHERE chain.id = admin_tokens.id)"
          " WHERE created_by IS NOT NULL AND id IN (SELECT id FROM chain)",
      }},
      // 7: heartbeat cadence policy (collector/core/cadence.h): each agent's class, derived
      // for agents already enrolled as it is at enrollment (agentClassFromFacts), and the
      // cadence rules, at most one per scope (tenant, site or none, class or none).
      {{
          "ALTER TABLE agents ADD COLUMN agent_class TEXT NOT NULL DEFAULT 'workstation'",
          "UPDATE agents SET agent_class = 'server'"
          " WHERE os_name = 'windows' AND instr(os_version, 'Server') > 0",
          "CREATE TABLE cadence_rules ("
          " id INTEGER PRIMARY KEY AUTOINCREMENT,"
          " tenant_id INTEGER NOT NULL REFERENCES tenants(id),"
          " site_id INTEGER REFERENCES sites(id),"
          " agent_class TEXT,"
          " heartbeat_interval_s INTEGER NOT NULL,"
          " beacon_interval_s INTEGER,"
          " updated_at INTEGER NOT NULL,"
          " updated_by TEXT NOT NULL DEFAULT '')",
          "CREATE UNIQUE INDEX cadence_rules_scope ON cadence_rules"
          " (tenant_id, IFNULL(site_id, 0), IFNULL(agent_class, ''))",
      }},
      // 8: a cluster's collectors and the leases of the presence shards they own
      // (docs/cluster.md): one row per shard, free (owner NULL) at first; expires_at and
      // every other time here is on the database's clock (Unix ms), the one clock every
      // collector of a cluster shares.
      {{
          "CREATE TABLE shard_leases ("
          " shard INTEGER NOT NULL PRIMARY KEY,"
          " owner TEXT,"
          " epoch INTEGER NOT NULL DEFAULT 0,"
          " expires_at INTEGER NOT NULL DEFAULT 0,"
          " acquired_at INTEGER NOT NULL DEFAULT 0)",
          "WITH RECURSIVE n(shard) AS (SELECT 0 UNION ALL SELECT shard + 1 FROM n"
          " WHERE shard + 1 < 256)"
          " INSERT INTO shard_leases (shard) SELECT shard FROM n",
          "CREATE TABLE collectors ("
          " node TEXT NOT NULL PRIMARY KEY,"
          " instance TEXT NOT NULL,"
          " internal_url TEXT NOT NULL,"
          " started_at INTEGER NOT NULL,"
          " expires_at INTEGER NOT NULL)",
      }},
      // 9: outbox claims (store.h, WebhookStore), so that the dispatchers of several
      // collectors never deliver one entry twice: which dispatcher holds an entry while it
      // delivers it (NULL: none), and until when, on the database's clock (Unix ms; 0: no
      // claim). Existing entries start unclaimed.
      {{
          "ALTER TABLE webhook_outbox ADD COLUMN claimed_by TEXT",
          "ALTER TABLE webhook_outbox ADD COLUMN claimed_until INTEGER NOT NULL DEFAULT 0",
      }},
      // 10: the secrets a cluster's collectors share (docs/cluster.md, "Routing"): the key
      // the evidence they relay to each other is signed with, made by the first collector
      // that needs it.
      {{
          "CREATE TABLE cluster_keys ("
          " name TEXT NOT NULL PRIMARY KEY,"
          " secret TEXT NOT NULL)",
      }},
      // 11: notification channels (docs/notifications.md): a webhook becomes one kind of
      // channel; the others keep their settings that are not secret in `settings` (a JSON
      // object) and their credentials, sealed, in `secret`. `filter` narrows the alerts a
      // channel receives (a JSON object; records.h, ChannelFilter). Existing webhooks stay
      // webhooks with no filter.
      {{
          "ALTER TABLE webhooks ADD COLUMN kind TEXT NOT NULL DEFAULT 'webhook'",
          "ALTER TABLE webhooks ADD COLUMN settings TEXT NOT NULL DEFAULT '{}'",
          "ALTER TABLE webhooks ADD COLUMN filter TEXT NOT NULL DEFAULT '{}'",
      }},
      // 12: the tickets PSA channels opened, one per channel and alert (ordering key), so
      // that the alert's end closes the ticket its start opened.
      {{
          "CREATE TABLE channel_tickets ("
          " webhook_id INTEGER NOT NULL REFERENCES webhooks(id),"
          " ordering_key TEXT NOT NULL,"
          " ticket TEXT NOT NULL,"
          " opened_at INTEGER NOT NULL,"
          " closed_at INTEGER,"
          " PRIMARY KEY (webhook_id, ordering_key))",
      }},
      // 13: a tenant's business hours (collector/core/business_hours.h, the JSON form; '':
      // none): outside them a workstation's alerts wait for the next opening.
      {{
          "ALTER TABLE tenants ADD COLUMN business_hours TEXT NOT NULL DEFAULT ''",
      }},
      // 14: reminders and escalation (docs/notifications.md): what each channel does while an
      // alert stays open and unacknowledged, and what it has done for each alert, so that
      // the collectors of a cluster send each reminder and escalation once; and when an
      // outbox entry was first due.
      {{
          "ALTER TABLE webhooks ADD COLUMN remind_every_s INTEGER NOT NULL DEFAULT 0",
          "ALTER TABLE webhooks ADD COLUMN escalate_after_s INTEGER NOT NULL DEFAULT 0",
          "ALTER TABLE webhooks ADD COLUMN escalate_to INTEGER NOT NULL DEFAULT 0",
          // When an entry was first due: its creation, or the business hours' opening it
          // waited for. Its give-up age and the outbox's oldest pending age count from there.
          "ALTER TABLE webhook_outbox ADD COLUMN due_from INTEGER",
          "CREATE TABLE alert_follow_ups ("
          " webhook_id INTEGER NOT NULL REFERENCES webhooks(id),"
          " alert_id INTEGER NOT NULL,"
          " reminders INTEGER NOT NULL DEFAULT 0,"
          " last_reminded_at INTEGER,"
          " escalated_to INTEGER,"
          " escalated_at INTEGER,"
          " PRIMARY KEY (webhook_id, alert_id))",
      }},
      // 15: availability reports (docs/reports.md): since when a degradation found after the
      // fact (a freeze, a restart) had kept the collector from watching, and which collector of
      // a cluster a health change is of; when the next evidence of an agent that went SUSPECT,
      // OFFLINE or UNREACHABLE was due; status history by time.
      {{
          "ALTER TABLE health_changes ADD COLUMN blind_from INTEGER",
          "ALTER TABLE health_changes ADD COLUMN node TEXT NOT NULL DEFAULT ''",
          "ALTER TABLE status_changes ADD COLUMN overdue_from INTEGER",
          "CREATE INDEX status_changes_at ON status_changes (agent_id, at)",
      }},
  };
  // NOLINTEND(bugprone-suspicious-missing-comma)
  return kMigrations;
}

}  // namespace vigil::collector::sql
