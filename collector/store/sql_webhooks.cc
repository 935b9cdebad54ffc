// SqlStore: webhooks and their outbox (docs/webhooks.md).
//
// The outbox is a table, not a queue in memory: an event enters it in the same transaction as
// the alert or health change it announces (appendPresenceEvents), so a crash can lose neither
// without the other, and it leaves the pending state only when an attempt is recorded.
//
// Entries are claimed in the database before they are delivered (claimed_by, claimed_until;
// schema 9), so that the dispatchers of several collectors sharing a PostgreSQL database never
// deliver an entry twice: a claim selects the due entries with FOR UPDATE SKIP LOCKED (a
// concurrent claimer passes over them) and marks them in the same transaction, READ COMMITTED
// (a row claimed meanwhile is rechecked, and passed over, rather than failing the claim), and
// only the claimant records an attempt. A claim runs out on the database's clock (the one clock the
// collectors share; Backend::clockMillisSql), so a delivery interrupted by a crash stays
// pending and is attempted again, under the same message id, by any dispatcher once its claim
// has expired (at least once).
//
// Payloads and secrets come from collector/events (event_json, webhook_signature), which sits
// below the store: it needs only the plain records of collector/core, common/ and
// Poco::Foundation. Delivery (collector/notify) sits above the store.

#include <Poco/Data/RecordSet.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Nullable.h>

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <utility>
#include <vector>

#include "collector/events/event_json.h"
#include "collector/events/webhook_signature.h"
#include "collector/store/sql_store.h"
#include "collector/store/sql_util.h"
#include "common/crypto.h"
#include "common/json.h"

namespace vigil::collector {
namespace {

using namespace sql;  // NOLINT(google-build-using-namespace): the store's own helpers
using Poco::Data::RecordSet;
using Poco::Data::Session;
using Poco::Data::Statement;
using Poco::Data::Keywords::bind;
using Poco::Data::Keywords::into;
using Poco::Data::Keywords::now;
using Poco::Data::Keywords::use;

constexpr size_t kMessageIdRandomBytes = 16;

// A new webhook secret; throws (inside guarded()) if the CSPRNG fails.
std::string generateSecret() {
  auto secret = newWebhookSecret();
  if (!secret.ok()) {
    throw std::runtime_error("cannot generate a webhook secret: " + secret.error().message());
  }
  return secret.value();
}

std::string newMessageId() {
  auto hex = crypto::randomHex(kMessageIdRandomBytes);
  if (!hex.ok()) throw std::runtime_error("cannot generate a webhook message id");
  return "msg_" + hex.value();
}

constexpr char kWebhookColumns[] =
    "id, tenant_id, url, secret, events, description, enabled, created_at, kind, settings,"
    " filter, remind_every_s, escalate_after_s, escalate_to";

Webhook webhookAt(const RecordSet& rs, size_t row) {
  Webhook w;
  w.id = intAt(rs, 0, row);
  w.tenant_id = intAt(rs, 1, row);
  w.url = stringAt(rs, 2, row);
  w.secret = stringAt(rs, 3, row);
  w.events = json::parseStringArray(stringAt(rs, 4, row));
  w.description = stringAt(rs, 5, row);
  w.enabled = intAt(rs, 6, row) != 0;
  w.created_at_ms = intAt(rs, 7, row);
  w.kind = stringAt(rs, 8, row);
  w.settings = stringAt(rs, 9, row);
  w.filter = parseChannelFilter(stringAt(rs, 10, row));
  w.follow_up.remind_every_s = intAt(rs, 11, row);
  w.follow_up.escalate_after_s = intAt(rs, 12, row);
  w.follow_up.escalate_to = intAt(rs, 13, row);
  return w;
}

// Prefixed with "o." so that joins can use it.
constexpr char kOutboxColumns[] =
    "o.id, o.webhook_id, o.message_id, o.event_type, o.ordering_key, o.payload, o.created_at,"
    " o.state, o.attempts, o.next_attempt_at, o.last_attempt_at, o.last_status, o.last_error,"
    " o.delivered_at, COALESCE(o.due_from, o.created_at)";
constexpr size_t kOutboxColumnCount = 15;

OutboxEntry outboxAt(const RecordSet& rs, size_t row) {
  OutboxEntry e;
  e.id = intAt(rs, 0, row);
  e.webhook_id = intAt(rs, 1, row);
  e.message_id = stringAt(rs, 2, row);
  e.event_type = stringAt(rs, 3, row);
  e.ordering_key = stringAt(rs, 4, row);
  e.payload = stringAt(rs, 5, row);
  e.created_at_ms = intAt(rs, 6, row);
  e.state = stringAt(rs, 7, row);
  e.attempts = intAt(rs, 8, row);
  e.next_attempt_at_ms = intAt(rs, 9, row);
  e.last_attempt_at_ms = optionalIntAt(rs, 10, row);
  e.last_status = optionalIntAt(rs, 11, row);
  e.last_error = stringAt(rs, 12, row);
  e.delivered_at_ms = optionalIntAt(rs, 13, row);
  e.due_from_ms = intAt(rs, 14, row);
  return e;
}

std::optional<Webhook> findWebhookIn(Session& s, int64_t webhook_id) {
  Poco::Int64 id = webhook_id;
  Statement st(s);
  st << "SELECT " + std::string(kWebhookColumns) + " FROM webhooks WHERE id = $1", use(id), now;
  RecordSet rs(st);
  if (rs.rowCount() == 0) return std::nullopt;
  return webhookAt(rs, 0);
}

// Inserts one pending entry made at `now_ms`, due then or at `not_before_ms` if later (a
// workstation's alert outside business hours); throws on failure.
OutboxEntry insertOutboxEntry(Session& s, int64_t webhook_id, const OutboxEvent& event,
                              int64_t now_ms, int64_t not_before_ms = 0) {
  OutboxEntry e;
  e.webhook_id = webhook_id;
  e.message_id = newMessageId();
  e.event_type = event.event_type;
  e.ordering_key = event.ordering_key;
  e.payload = event.payload;
  e.created_at_ms = now_ms;
  Poco::Int64 webhook = webhook_id;
  Poco::Int64 at = now_ms;
  // Due no earlier than the pending entries it waits for (see claimDueDeliveries).
  Poco::Nullable<Poco::Int64> queued_until;
  s << "SELECT MAX(next_attempt_at) FROM webhook_outbox"
       " WHERE webhook_id = $1 AND ordering_key = $2 AND state = 'pending'",
      use(webhook), bind(e.ordering_key), into(queued_until), now;
  const int64_t due_ms = std::max(now_ms, not_before_ms);
  e.next_attempt_at_ms =
      queued_until.isNull() ? due_ms : std::max<int64_t>(due_ms, queued_until.value());
  Poco::Int64 next = e.next_attempt_at_ms;
  e.due_from_ms = due_ms;
  Poco::Int64 due_from = due_ms;
  Poco::Int64 id = 0;
  s << "INSERT INTO webhook_outbox (webhook_id, message_id, event_type, ordering_key, payload,"
       " created_at, next_attempt_at, due_from) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
       " RETURNING id",
      use(webhook), bind(e.message_id), bind(e.event_type), bind(e.ordering_key), bind(e.payload),
      use(at), use(next), use(due_from), into(id), now;
  e.id = id;
  return e;
}

// Ends what business hours held back: if every pending entry of the channel's `key` is still
// waiting for an opening, never attempted (due after `at_ms`), they are dropped (state
// "dropped") and true is returned: an alert that ended before anyone was told needs no news of
// its end. Throws on failure.
bool dropDeferred(Session& s, int64_t channel_id, const std::string& key, int64_t at_ms) {
  Poco::Int64 id = channel_id;
  Poco::Int64 at = at_ms;
  Poco::Int64 pending = 0;
  Poco::Nullable<Poco::Int64> waiting;
  s << "SELECT COUNT(*), SUM(CASE WHEN attempts = 0 AND next_attempt_at > $1 THEN 1 ELSE 0 END)"
       " FROM webhook_outbox WHERE webhook_id = $2 AND ordering_key = $3 AND state = 'pending'",
      use(at), use(id), bind(key), into(pending), into(waiting), now;
  if (pending == 0 || waiting.isNull() || waiting.value() != pending) return false;
  s << "UPDATE webhook_outbox SET state = 'dropped', claimed_by = NULL, claimed_until = 0,"
       " last_error = 'ended_before_business_hours'"
       " WHERE webhook_id = $1 AND ordering_key = $2 AND state = 'pending'",
      use(id), bind(key), now;
  return true;
}

// Whether business hours may hold `alert` back: a workstation's alert, not a server's nor a
// site's (docs/notifications.md, "Business hours").
bool businessHoursApply(const AlertRecord& alert, const AlertSubject& subject) {
  return alert.agent_id && subject.agent_class == std::optional<std::string>("workstation");
}

// An enabled channel that wants an event.
struct Subscriber {
  int64_t id = 0;
  ChannelFilter filter;
};

// The enabled channels (of `tenant_id` if set) that want events of `event_type`, by id.
std::vector<Subscriber> subscribersOf(Session& s, std::optional<int64_t> tenant_id,
                                      const std::string& event_type) {
  Statement st(s);
  Poco::Nullable<Poco::Int64> tenant = toNullable(tenant_id);
  st << "SELECT id, events, filter FROM webhooks WHERE enabled = 1"
        " AND (CAST($1 AS BIGINT) IS NULL OR tenant_id = $1) ORDER BY id",
      use(tenant), now;
  RecordSet rs(st);
  std::vector<Subscriber> subscribers;
  for (size_t row = 0; row < rs.rowCount(); ++row) {
    Webhook wanted;
    wanted.events = json::parseStringArray(stringAt(rs, 1, row));
    if (!wanted.wants(event_type)) continue;
    subscribers.push_back(Subscriber{intAt(rs, 0, row), parseChannelFilter(stringAt(rs, 2, row))});
  }
  return subscribers;
}

// The alert `alert_id` as stored; nullopt if there is none. Throws on failure.
std::optional<AlertRecord> readAlert(Session& s, int64_t alert_id) {
  Poco::Int64 id = alert_id;
  Statement st(s);
  st << "SELECT id, kind, state, agent_id, site_id, opened_at, closed_at, held_since,"
        " held_reasons, note, tenant_id, acknowledged_at, acknowledged_by, closed_by"
        " FROM alerts WHERE id = $1",
      use(id), now;
  RecordSet rs(st);
  if (rs.rowCount() == 0) return std::nullopt;
  AlertRecord a;
  a.id = intAt(rs, 0, 0);
  a.kind = stringAt(rs, 1, 0);
  a.state = stringAt(rs, 2, 0);
  a.agent_id = optionalStringAt(rs, 3, 0);
  a.site_id = optionalIntAt(rs, 4, 0);
  a.opened_at_ms = intAt(rs, 5, 0);
  a.closed_at_ms = optionalIntAt(rs, 6, 0);
  a.held_since_ms = optionalIntAt(rs, 7, 0);
  a.held_reasons = stringAt(rs, 8, 0);
  a.note = stringAt(rs, 9, 0);
  a.tenant_id = intAt(rs, 10, 0);
  a.acknowledged_at_ms = optionalIntAt(rs, 11, 0);
  a.acknowledged_by = stringAt(rs, 12, 0);
  a.closed_by = stringAt(rs, 13, 0);
  return a;
}

// What the collector knows of `alert`'s subject (event_json.h, AlertSubject); throws on failure.
AlertSubject readAlertSubject(Session& s, const AlertRecord& alert) {
  AlertSubject subject;
  subject.site_id = alert.site_id;
  if (alert.agent_id) {
    Statement st(s);
    st << "SELECT a.hostname, a.agent_class, a.os_name, a.site_id, st.name, t.name,"
          " a.last_seen_at FROM agents a JOIN sites st ON st.id = a.site_id"
          " JOIN tenants t ON t.id = st.tenant_id WHERE a.id = $1",
        bind(*alert.agent_id), now;
    RecordSet rs(st);
    if (rs.rowCount() > 0) {
      subject.hostname = stringAt(rs, 0, 0);
      subject.agent_class = stringAt(rs, 1, 0);
      subject.os_name = stringAt(rs, 2, 0);
      subject.site_id = intAt(rs, 3, 0);
      subject.site_name = stringAt(rs, 4, 0);
      subject.tenant_name = stringAt(rs, 5, 0);
      subject.last_seen_at_ms = optionalIntAt(rs, 6, 0);
    }
    Statement status(s);
    status << "SELECT to_status, reason FROM status_changes WHERE agent_id = $1"
              " ORDER BY id DESC LIMIT 1",
        bind(*alert.agent_id), now;
    RecordSet changes(status);
    if (changes.rowCount() > 0) {
      subject.status = stringAt(changes, 0, 0);
      subject.status_reason = stringAt(changes, 1, 0);
    }
    // What the agent reported, once back, of the time it was away: the outages that ended
    // after the alert opened, newest first.
    Poco::Int64 since = alert.opened_at_ms;
    Statement diary(s);
    diary << "SELECT from_ms, to_ms, cause FROM outage_reports WHERE agent_id = $1"
             " AND to_ms >= $2 ORDER BY id DESC LIMIT 5",
        bind(*alert.agent_id), use(since), now;
    RecordSet reports(diary);
    for (size_t row = 0; row < reports.rowCount(); ++row) {
      OutageReport r;
      r.agent_id = *alert.agent_id;
      r.from_ms = intAt(reports, 0, row);
      r.to_ms = intAt(reports, 1, row);
      r.cause = stringAt(reports, 2, row);
      subject.outage_diary.push_back(std::move(r));
    }
  } else if (alert.site_id) {
    Poco::Int64 site = *alert.site_id;
    Statement st(s);
    st << "SELECT st.name, t.name FROM sites st JOIN tenants t ON t.id = st.tenant_id"
          " WHERE st.id = $1",
        use(site), now;
    RecordSet rs(st);
    if (rs.rowCount() > 0) {
      subject.site_name = stringAt(rs, 0, 0);
      subject.tenant_name = stringAt(rs, 1, 0);
    }
  }
  return subject;
}

// Records one attempt of a pending entry that `claimant` holds, leaving it in `state` and
// unclaimed; kFailedPrecondition, recording nothing, if the entry is there but not pending
// under `claimant`'s claim. Throws on failure.
Status recordAttempt(Session& s, int64_t entry_id, const std::string& claimant,
                     const std::string& state, const DeliveryAttempt& attempt,
                     std::optional<int64_t> next_attempt_at_ms,
                     std::optional<int64_t> delivered_at_ms) {
  Poco::Int64 id = entry_id;
  Poco::Int64 at = attempt.at_ms;
  Poco::Nullable<Poco::Int64> status = toNullable(attempt.http_status);
  Poco::Nullable<Poco::Int64> next = toNullable(next_attempt_at_ms);
  Poco::Nullable<Poco::Int64> delivered = toNullable(delivered_at_ms);
  Statement update(s);
  update << "UPDATE webhook_outbox SET state = $1, attempts = attempts + 1, last_attempt_at = $2,"
            " last_status = $3, last_error = $4, next_attempt_at = COALESCE($5, next_attempt_at),"
            " delivered_at = COALESCE($6, delivered_at), claimed_by = NULL, claimed_until = 0"
            " WHERE id = $7 AND state = 'pending' AND claimed_by = $8",
      bind(state), use(at), use(status), bind(attempt.error), use(next), use(delivered), use(id),
      bind(claimant);
  if (update.execute() > 0) return Status::okStatus();
  Statement st(s);
  st << "SELECT state, claimed_by FROM webhook_outbox WHERE id = $1", use(id), now;
  RecordSet rs(st);
  if (rs.rowCount() == 0) return Status::okStatus();  // its webhook was deleted meanwhile
  const std::optional<std::string> holder = optionalStringAt(rs, 1, 0);
  return Status::failedPrecondition(
      "webhook outbox entry " + std::to_string(entry_id) + " is " + stringAt(rs, 0, 0) +
      (holder ? ", claimed by " + *holder : ", unclaimed") + ": no longer " + claimant + "'s");
}

}  // namespace

Result<Webhook> SqlStore::createWebhook(const NewWebhook& webhook, int64_t now_ms) {
  MutexLock lock(mu_);
  return guardedLocked("cannot create channel", [&]() REQUIRES(mu_) -> Result<Webhook> {
    Webhook w;
    w.tenant_id = webhook.tenant_id;
    w.kind = webhook.kind;
    w.url = webhook.url;
    w.secret = webhook.kind == "webhook" ? generateSecret() : webhook.secret;
    w.settings = webhook.settings;
    w.events = webhook.events;
    w.filter = webhook.filter;
    w.description = webhook.description;
    w.enabled = webhook.enabled;
    w.created_at_ms = now_ms;
    Poco::Int64 tenant = w.tenant_id;
    Poco::Int64 created = now_ms;
    int enabled = w.enabled ? 1 : 0;
    Poco::Int64 id = 0;
    w.follow_up = webhook.follow_up;
    Poco::Int64 remind = w.follow_up.remind_every_s;
    Poco::Int64 escalate_after = w.follow_up.escalate_after_s;
    Poco::Int64 escalate_to = w.follow_up.escalate_to;
    *session_ << "INSERT INTO webhooks (tenant_id, url, secret, events, description, enabled,"
                 " created_at, kind, settings, filter, remind_every_s, escalate_after_s,"
                 " escalate_to)"
                 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
        use(tenant), bind(w.url), bind(w.secret), bind(json::printStringArray(w.events)),
        bind(w.description), use(enabled), use(created), bind(w.kind), bind(w.settings),
        bind(printChannelFilter(w.filter)), use(remind), use(escalate_after), use(escalate_to),
        into(id), now;
    w.id = id;
    return w;
  });
}

Result<std::optional<Webhook>> SqlStore::findWebhook(int64_t webhook_id) {
  return adminRead("cannot read webhook", [&](Session& session) -> Result<std::optional<Webhook>> {
    return findWebhookIn(session, webhook_id);
  });
}

Result<std::vector<Webhook>> SqlStore::listWebhooks(const TenantScope& scope,
                                                    std::optional<int64_t> tenant_id,
                                                    const std::optional<std::string>& kind,
                                                    int64_t after_id, size_t limit) {
  return adminRead("cannot list webhooks", [&](Session& session) -> Result<std::vector<Webhook>> {
    Query q("SELECT " + std::string(kWebhookColumns) + " FROM webhooks WHERE id > ?");
    q.param(after_id).inScope("tenant_id", scope);
    if (tenant_id) q.sql(" AND tenant_id = ?").param(*tenant_id);
    if (kind) q.sql(" AND kind = ?").param(*kind);
    q.sql(" ORDER BY id LIMIT ?").param(static_cast<int64_t>(limit));
    Statement st(session);
    q.execute(st);
    RecordSet rs(st);
    std::vector<Webhook> out;
    out.reserve(rs.rowCount());
    for (size_t row = 0; row < rs.rowCount(); ++row) out.push_back(webhookAt(rs, row));
    return out;
  });
}

Result<std::optional<Webhook>> SqlStore::updateWebhook(int64_t webhook_id,
                                                       const WebhookUpdate& update) {
  MutexLock lock(mu_);
  return guardedLocked(
      "cannot update channel", [&]() REQUIRES(mu_) -> Result<std::optional<Webhook>> {
        Session& s = *session_;
        Transaction tx(s);
        std::optional<Webhook> w = findWebhookIn(s, webhook_id);
        if (!w) return w;
        if (update.url) w->url = *update.url;
        // A webhook's secret is its signing key, generated: never replaced by an update.
        if (update.secret && w->kind != "webhook") w->secret = *update.secret;
        if (update.settings) w->settings = *update.settings;
        if (update.events) w->events = *update.events;
        if (update.filter) w->filter = *update.filter;
        if (update.follow_up) w->follow_up = *update.follow_up;
        if (update.description) w->description = *update.description;
        if (update.enabled) w->enabled = *update.enabled;
        Poco::Int64 id = webhook_id;
        int enabled = w->enabled ? 1 : 0;
        Poco::Int64 remind = w->follow_up.remind_every_s;
        Poco::Int64 escalate_after = w->follow_up.escalate_after_s;
        Poco::Int64 escalate_to = w->follow_up.escalate_to;
        s << "UPDATE webhooks SET url = $1, events = $2, description = $3, enabled = $4,"
             " secret = $5, settings = $6, filter = $7, remind_every_s = $8,"
             " escalate_after_s = $9, escalate_to = $10 WHERE id = $11",
            bind(w->url), bind(json::printStringArray(w->events)), bind(w->description),
            use(enabled), bind(w->secret), bind(w->settings), bind(printChannelFilter(w->filter)),
            use(remind), use(escalate_after), use(escalate_to), use(id), now;
        tx.commit();
        return w;
      });
}

Result<bool> SqlStore::deleteWebhook(int64_t webhook_id) {
  MutexLock lock(mu_);
  return guardedLocked("cannot delete webhook", [&]() REQUIRES(mu_) -> Result<bool> {
    Session& s = *session_;
    Transaction tx(s);
    Poco::Int64 id = webhook_id;
    s << "DELETE FROM webhook_outbox WHERE webhook_id = $1", use(id), now;
    s << "DELETE FROM channel_tickets WHERE webhook_id = $1", use(id), now;
    s << "DELETE FROM alert_follow_ups WHERE webhook_id = $1", use(id), now;
    // Channels escalating to it escalate no more.
    s << "UPDATE webhooks SET escalate_after_s = 0, escalate_to = 0 WHERE escalate_to = $1",
        use(id), now;
    Statement del(s);
    del << "DELETE FROM webhooks WHERE id = $1", use(id);
    const size_t deleted = del.execute();
    tx.commit();
    return deleted > 0;
  });
}

Result<OutboxEntry> SqlStore::enqueueWebhookEvent(int64_t webhook_id, const OutboxEvent& event,
                                                  int64_t now_ms) {
  MutexLock lock(mu_);
  return guardedLocked("cannot enqueue webhook event", [&]() REQUIRES(mu_) -> Result<OutboxEntry> {
    Session& s = *session_;
    Transaction tx(s);
    Poco::Int64 id = webhook_id;
    Statement exists(s);
    exists << "SELECT 1 FROM webhooks WHERE id = $1", use(id), now;
    if (RecordSet(exists).rowCount() == 0) return Status::notFound("no such webhook");
    OutboxEntry e = insertOutboxEntry(s, webhook_id, event, now_ms);
    tx.commit();
    return e;
  });
}

Result<std::vector<DueDelivery>> SqlStore::claimDueDeliveries(const std::string& claimant,
                                                              int64_t now_ms, size_t limit,
                                                              const DueDeliveryFilter& filter,
                                                              int64_t claim_ttl_ms,
                                                              const DeliveryChooser& choose) {
  if (claim_ttl_ms < 0) return Status::invalidArgument("a claim cannot end before it is made");
  // Ids are integers: written into the statement, they cannot change its meaning.
  auto notIn = [](const char* column, const std::vector<int64_t>& ids) {
    if (ids.empty()) return std::string();
    std::string clause = std::string(" AND ") + column + " NOT IN (";
    for (size_t i = 0; i < ids.size(); ++i) {
      clause += (i == 0 ? "" : ",") + std::to_string(ids[i]);
    }
    return clause + ")";
  };
  const std::string clock = backend_->clockMillisSql();
  MutexLock lock(mu_);
  return guardedLocked(
      "cannot claim due webhook deliveries",
      [&]() REQUIRES(mu_) -> Result<std::vector<DueDelivery>> {
        Session& s = *session_;
        Transaction tx(s);
        const std::string read_committed = backend_->readCommittedSql();
        if (!read_committed.empty()) s << read_committed, now;
        Query candidates("SELECT " + std::string(kOutboxColumns) +
                         ", w.url, w.secret, w.tenant_id, w.kind, w.settings FROM webhook_outbox o"
                         " JOIN webhooks w ON w.id = o.webhook_id"
                         " WHERE o.state = 'pending' AND o.next_attempt_at <= ? AND w.enabled = 1" +
                         notIn("w.tenant_id", filter.skip_tenants) +
                         notIn("w.id", filter.skip_webhooks));
        candidates.param(now_ms);
        // Unclaimed (claimed_until 0), claimed by `claimant`, or under an expired claim.
        candidates.sql(" AND (o.claimed_until <= " + clock + " OR o.claimed_by = ?)")
            .param(claimant);
        candidates.sql(
            " AND NOT EXISTS (SELECT 1 FROM webhook_outbox p WHERE p.state = 'pending'"
            " AND p.webhook_id = o.webhook_id AND p.ordering_key = o.ordering_key"
            " AND p.id < o.id) ORDER BY o.next_attempt_at, o.id LIMIT ?");
        candidates.param(static_cast<int64_t>(limit)).sql(backend_->skipLockedClause("o"));
        Statement st(s);
        candidates.execute(st);
        RecordSet rs(st);
        std::vector<DueDelivery> due;
        due.reserve(rs.rowCount());
        for (size_t row = 0; row < rs.rowCount(); ++row) {
          due.push_back(DueDelivery{outboxAt(rs, row), stringAt(rs, kOutboxColumnCount, row),
                                    stringAt(rs, kOutboxColumnCount + 1, row),
                                    intAt(rs, kOutboxColumnCount + 2, row),
                                    stringAt(rs, kOutboxColumnCount + 3, row),
                                    stringAt(rs, kOutboxColumnCount + 4, row)});
        }
        std::vector<size_t> picked;
        if (choose) {
          picked = choose(due);
          std::sort(picked.begin(), picked.end());
          picked.erase(std::unique(picked.begin(), picked.end()), picked.end());
          picked.erase(std::lower_bound(picked.begin(), picked.end(), due.size()), picked.end());
        } else {
          picked.resize(due.size());
          std::iota(picked.begin(), picked.end(), size_t{0});
        }
        std::vector<DueDelivery> claimed;
        claimed.reserve(picked.size());
        std::vector<int64_t> ids;
        ids.reserve(picked.size());
        for (size_t i : picked) {
          ids.push_back(due[i].entry.id);
          claimed.push_back(std::move(due[i]));
        }
        if (!ids.empty()) {
          Query claim("UPDATE webhook_outbox SET claimed_by = ?, claimed_until = " + clock +
                      " + ? WHERE state = 'pending'");
          claim.param(claimant).param(claim_ttl_ms).inList("id", ids);
          Statement update(s);
          claim.execute(update);
        }
        tx.commit();
        return claimed;
      });
}

Status SqlStore::markDeliveryDelivered(int64_t entry_id, const std::string& claimant,
                                       const DeliveryAttempt& attempt) {
  MutexLock lock(mu_);
  return guardedLocked("cannot record webhook delivery", [&]() REQUIRES(mu_) {
    return recordAttempt(*session_, entry_id, claimant, "delivered", attempt, std::nullopt,
                         attempt.at_ms);
  });
}

Status SqlStore::markDeliveryRetry(int64_t entry_id, const std::string& claimant,
                                   const DeliveryAttempt& attempt, int64_t next_attempt_at_ms) {
  MutexLock lock(mu_);
  return guardedLocked("cannot record webhook delivery attempt", [&]() REQUIRES(mu_) {
    Session& s = *session_;
    Transaction tx(s);
    Status recorded =
        recordAttempt(s, entry_id, claimant, "pending", attempt, next_attempt_at_ms, std::nullopt);
    if (!recorded.ok()) return recorded;
    // The entries waiting behind it are not due before it: the claim query then never wades
    // through entries blocked behind a failing one.
    Poco::Int64 id = entry_id;
    Poco::Int64 next = next_attempt_at_ms;
    s << "UPDATE webhook_outbox"
         " SET next_attempt_at = CASE WHEN next_attempt_at > $1 THEN next_attempt_at ELSE $1 END"
         " WHERE state = 'pending' AND id > $2 AND (webhook_id, ordering_key) ="
         " (SELECT webhook_id, ordering_key FROM webhook_outbox WHERE id = $3)",
        use(next), use(id), use(id), now;
    tx.commit();
    return recorded;
  });
}

Status SqlStore::markDeliveryFailed(int64_t entry_id, const std::string& claimant,
                                    const DeliveryAttempt& attempt) {
  MutexLock lock(mu_);
  return guardedLocked("cannot record webhook delivery failure", [&]() REQUIRES(mu_) {
    return recordAttempt(*session_, entry_id, claimant, "failed", attempt, std::nullopt,
                         std::nullopt);
  });
}

Result<std::vector<OutboxEntry>> SqlStore::listDeliveries(int64_t webhook_id, int64_t before_id,
                                                          size_t limit) {
  return adminRead(
      "cannot list webhook deliveries", [&](Session& session) -> Result<std::vector<OutboxEntry>> {
        Poco::Int64 webhook = webhook_id;
        Poco::Int64 before = before_id;
        Poco::Int64 max_rows = static_cast<Poco::Int64>(limit);
        Statement st(session);
        st << "SELECT " + std::string(kOutboxColumns) +
                  " FROM webhook_outbox o WHERE o.webhook_id = $1"
                  " AND (CAST($2 AS BIGINT) = 0 OR o.id < $2) ORDER BY o.id DESC LIMIT $3",
            use(webhook), use(before), use(max_rows), now;
        RecordSet rs(st);
        std::vector<OutboxEntry> out;
        out.reserve(rs.rowCount());
        for (size_t row = 0; row < rs.rowCount(); ++row) out.push_back(outboxAt(rs, row));
        return out;
      });
}

Result<OutboxStats> SqlStore::outboxStats() {
  return probeRead("cannot read webhook outbox statistics",
                   [&](Session& session) -> Result<OutboxStats> {
                     Statement st(session);
                     // The oldest age counts only entries already due, from when they became due:
                     // one waiting for business hours is not late.
                     st << "SELECT COUNT(*), MIN(CASE WHEN COALESCE(due_from, created_at) <= " +
                               std::string(backend_->clockMillisSql()) +
                               " THEN COALESCE(due_from, created_at) END)"
                               " FROM webhook_outbox WHERE state = 'pending'",
                         now;
                     RecordSet rs(st);
                     OutboxStats stats;
                     if (rs.rowCount() > 0) {
                       stats.pending = intAt(rs, 0, 0);
                       stats.oldest_pending_created_at_ms = optionalIntAt(rs, 1, 0);
                     }
                     return stats;
                   });
}

Result<std::optional<ChannelTicket>> SqlStore::findChannelTicket(int64_t channel_id,
                                                                 const std::string& ordering_key) {
  return adminRead("cannot read channel ticket",
                   [&](Session& session) -> Result<std::optional<ChannelTicket>> {
                     Poco::Int64 id = channel_id;
                     Statement st(session);
                     st << "SELECT ticket, opened_at, closed_at FROM channel_tickets"
                           " WHERE webhook_id = $1 AND ordering_key = $2",
                         use(id), bind(ordering_key), now;
                     RecordSet rs(st);
                     if (rs.rowCount() == 0) return std::optional<ChannelTicket>();
                     ChannelTicket t;
                     t.channel_id = channel_id;
                     t.ordering_key = ordering_key;
                     t.ticket = stringAt(rs, 0, 0);
                     t.opened_at_ms = intAt(rs, 1, 0);
                     t.closed_at_ms = optionalIntAt(rs, 2, 0);
                     return std::optional<ChannelTicket>(std::move(t));
                   });
}

Status SqlStore::recordChannelTicket(const ChannelTicket& ticket) {
  MutexLock lock(mu_);
  return guardedLocked("cannot record channel ticket", [&]() REQUIRES(mu_) -> Status {
    Session& s = *session_;
    Transaction tx(s);
    Poco::Int64 id = ticket.channel_id;
    Statement exists(s);
    exists << "SELECT 1 FROM webhooks WHERE id = $1", use(id), now;
    if (RecordSet(exists).rowCount() == 0) return Status::notFound("no such channel");
    Poco::Int64 opened = ticket.opened_at_ms;
    Poco::Nullable<Poco::Int64> closed = toNullable(ticket.closed_at_ms);
    s << "DELETE FROM channel_tickets WHERE webhook_id = $1 AND ordering_key = $2", use(id),
        bind(ticket.ordering_key), now;
    s << "INSERT INTO channel_tickets (webhook_id, ordering_key, ticket, opened_at, closed_at)"
         " VALUES ($1, $2, $3, $4, $5)",
        use(id), bind(ticket.ordering_key), bind(ticket.ticket), use(opened), use(closed), now;
    tx.commit();
    return Status::okStatus();
  });
}

void SqlStore::enqueueAlertEventLocked(const std::string& event_type, int64_t alert_id,
                                       int64_t at_ms) {
  Session& s = *session_;
  const std::optional<AlertRecord> read = readAlert(s, alert_id);
  if (!read) return;
  const AlertRecord& a = *read;
  std::vector<Subscriber> subscribers = subscribersOf(s, a.tenant_id, event_type);
  if (event_type == webhook_events::kAlertResolved) {
    // The channels this alert was escalated to hear of its end, whatever their events, so that
    // what the escalation opened (an incident, a ticket) is closed.
    Poco::Int64 id = a.id;
    Statement st(s);
    st << "SELECT DISTINCT f.escalated_to FROM alert_follow_ups f JOIN webhooks w"
          " ON w.id = f.escalated_to WHERE f.alert_id = $1 AND w.enabled = 1",
        use(id), now;
    RecordSet rs(st);
    for (size_t row = 0; row < rs.rowCount(); ++row) {
      const int64_t target = intAt(rs, 0, row);
      const bool listed = std::any_of(subscribers.begin(), subscribers.end(),
                                      [&](const Subscriber& x) { return x.id == target; });
      if (!listed) subscribers.push_back(Subscriber{target, ChannelFilter{}});
    }
  }
  if (subscribers.empty()) return;
  const AlertSubject subject = readAlertSubject(s, a);
  const OutboxEvent event{event_type, webhook_events::alertOrderingKey(a.id),
                          webhook_events::alertEventPayload(event_type, a, at_ms, &subject)};
  // Business hours: a workstation's alert (not a site's, not a server's) waits outside them;
  // one that ends before the opening is dropped unsent (docs/notifications.md).
  const bool workstation = businessHoursApply(a, subject);
  const std::optional<int64_t> opening =
      workstation ? businessOpeningLocked(a.tenant_id, at_ms) : std::nullopt;
  const bool ending =
      event_type == webhook_events::kAlertResolved || event_type == webhook_events::kAlertReleased;
  const auto isolated = isolatedEnqueue();
  for (const Subscriber& subscriber : subscribers) {
    if (!subscriber.filter.passes(subject.site_id, subject.agent_class, a.kind)) continue;
    isolated(event_type + " for channel " + std::to_string(subscriber.id), [&] {
      if (workstation && ending && dropDeferred(s, subscriber.id, event.ordering_key, at_ms)) {
        return;
      }
      insertOutboxEntry(s, subscriber.id, event, at_ms, opening.value_or(at_ms));
    });
  }
}

Result<size_t> SqlStore::enqueueFollowUps(int64_t now_ms, size_t limit) {
  MutexLock lock(mu_);
  return guardedLocked("cannot enqueue follow-ups", [&]() REQUIRES(mu_) -> Result<size_t> {
    Session& s = *session_;
    Transaction tx(s);
    Poco::Int64 at = now_ms;
    Poco::Int64 max_rows = static_cast<Poco::Int64>(limit);
    // Pairs of an enabled channel with a follow-up and an open, unacknowledged alert of its
    // tenant for which a reminder or the escalation is due.
    Statement st(s);
    st << "SELECT w.id, w.events, w.filter, w.remind_every_s, w.escalate_after_s, w.escalate_to,"
          " a.id, COALESCE(f.reminders, 0), f.last_reminded_at, f.escalated_at,"
          " CASE WHEN f.webhook_id IS NULL THEN 0 ELSE 1 END"
          " FROM webhooks w JOIN alerts a ON a.tenant_id = w.tenant_id"
          " LEFT JOIN alert_follow_ups f ON f.webhook_id = w.id AND f.alert_id = a.id"
          " WHERE w.enabled = 1 AND a.state = 'open' AND a.acknowledged_at IS NULL"
          " AND ((w.remind_every_s > 0"
          "       AND COALESCE(f.last_reminded_at, a.opened_at) + w.remind_every_s * 1000 <= $1)"
          "   OR (w.escalate_after_s > 0 AND w.escalate_to > 0 AND f.escalated_at IS NULL"
          "       AND a.opened_at + w.escalate_after_s * 1000 <= $2))"
          " ORDER BY a.id, w.id LIMIT $3",
        use(at), use(at), use(max_rows), now;
    RecordSet rs(st);
    struct Due {
      Subscriber channel;
      std::vector<std::string> events;
      ChannelFollowUp follow_up;
      int64_t alert_id;
      int64_t reminders;
      std::optional<int64_t> last_reminded_at;
      std::optional<int64_t> escalated_at;
      bool tracked;
    };
    std::vector<Due> due;
    for (size_t row = 0; row < rs.rowCount(); ++row) {
      due.push_back(Due{Subscriber{intAt(rs, 0, row), parseChannelFilter(stringAt(rs, 2, row))},
                        json::parseStringArray(stringAt(rs, 1, row)),
                        ChannelFollowUp{intAt(rs, 3, row), intAt(rs, 4, row), intAt(rs, 5, row)},
                        intAt(rs, 6, row), intAt(rs, 7, row), optionalIntAt(rs, 8, row),
                        optionalIntAt(rs, 9, row), intAt(rs, 10, row) != 0});
    }
    size_t enqueued = 0;
    for (const Due& d : due) {
      Poco::Int64 alert_id = d.alert_id;
      const std::optional<AlertRecord> read = readAlert(s, d.alert_id);
      if (!read) continue;
      const AlertRecord& a = *read;
      Poco::Int64 channel = d.channel.id;
      // Only what the channel was told of: its events and its filter.
      // A channel not told of the alert (its events or filter) gets no follow-up of it: the
      // pair is recorded as done, so that it stops coming up.
      Webhook wanted;
      wanted.events = d.events;
      const AlertSubject subject = readAlertSubject(s, a);
      if (!wanted.wants(webhook_events::kAlertOpened) ||
          !d.channel.filter.passes(subject.site_id, subject.agent_class, a.kind)) {
        s << "INSERT INTO alert_follow_ups (webhook_id, alert_id, last_reminded_at, escalated_at)"
             " VALUES ($1, $2, $3, $4) ON CONFLICT (webhook_id, alert_id) DO UPDATE SET"
             " last_reminded_at = $5, escalated_at = COALESCE(alert_follow_ups.escalated_at, $6)",
            use(channel), use(alert_id), use(at), use(at), use(at), use(at), now;
        continue;
      }
      // A workstation's alert while its tenant is closed: no reminder (the next is a period
      // after now), and the escalation waits for the opening.
      if (businessHoursApply(a, subject) && businessOpeningLocked(a.tenant_id, now_ms)) {
        if (d.follow_up.remind_every_s > 0) {
          s << "INSERT INTO alert_follow_ups (webhook_id, alert_id, last_reminded_at)"
               " VALUES ($1, $2, $3) ON CONFLICT (webhook_id, alert_id) DO UPDATE SET"
               " last_reminded_at = $4",
              use(channel), use(alert_id), use(at), use(at), now;
        }
        continue;
      }
      const std::string key = webhook_events::alertOrderingKey(a.id);
      // Each follow-up is claimed first, by a write only one collector can make (a reminder
      // count it still sees, an escalation not yet recorded), then enqueued.
      const bool reminder_due =
          d.follow_up.remind_every_s > 0 &&
          d.last_reminded_at.value_or(a.opened_at_ms) + d.follow_up.remind_every_s * 1000 <= now_ms;
      if (reminder_due) {
        Poco::Int64 seen = d.reminders;
        Statement claim(s);
        if (d.tracked) {
          claim << "UPDATE alert_follow_ups SET reminders = reminders + 1, last_reminded_at = $1"
                   " WHERE webhook_id = $2 AND alert_id = $3 AND reminders = $4",
              use(at), use(channel), use(alert_id), use(seen);
        } else {
          claim << "INSERT INTO alert_follow_ups (webhook_id, alert_id, reminders,"
                   " last_reminded_at) VALUES ($1, $2, 1, $3)"
                   " ON CONFLICT (webhook_id, alert_id) DO NOTHING",
              use(channel), use(alert_id), use(at);
        }
        const bool claimed = claim.execute() > 0;
        if (claimed) {
          const OutboxEvent event{
              webhook_events::kAlertReminder, key,
              webhook_events::followUpEventPayload(webhook_events::kAlertReminder, a, now_ms,
                                                   subject, d.reminders + 1, 0)};
          insertOutboxEntry(s, d.channel.id, event, now_ms);
          ++enqueued;
        }
      }
      const bool escalation_due = d.follow_up.escalate_after_s > 0 && d.follow_up.escalate_to > 0 &&
                                  !d.escalated_at &&
                                  a.opened_at_ms + d.follow_up.escalate_after_s * 1000 <= now_ms;
      if (escalation_due) {
        Poco::Int64 target = d.follow_up.escalate_to;
        // Tracked now either way (the reminder may just have inserted the row).
        Statement ensure(s);
        ensure << "INSERT INTO alert_follow_ups (webhook_id, alert_id) VALUES ($1, $2)"
                  " ON CONFLICT (webhook_id, alert_id) DO NOTHING",
            use(channel), use(alert_id);
        ensure.execute();
        Statement update(s);
        update << "UPDATE alert_follow_ups SET escalated_to = $1, escalated_at = $2"
                  " WHERE webhook_id = $3 AND alert_id = $4 AND escalated_at IS NULL",
            use(target), use(at), use(channel), use(alert_id);
        if (update.execute() > 0) {
          Statement exists(s);
          exists << "SELECT 1 FROM webhooks WHERE id = $1 AND tenant_id = $2 AND enabled = 1",
              use(target), bind(a.tenant_id), now;
          if (RecordSet(exists).rowCount() > 0) {
            const OutboxEvent event{
                webhook_events::kAlertEscalated, key,
                webhook_events::followUpEventPayload(webhook_events::kAlertEscalated, a, now_ms,
                                                     subject, 0, d.channel.id)};
            insertOutboxEntry(s, d.follow_up.escalate_to, event, now_ms);
            ++enqueued;
          }
        }
      }
    }
    tx.commit();
    return enqueued;
  });
}

std::optional<int64_t> SqlStore::businessOpeningLocked(int64_t tenant_id, int64_t at_ms) {
  Poco::Int64 id = tenant_id;
  std::string text;
  Statement st(*session_);
  st << "SELECT business_hours FROM tenants WHERE id = $1", use(id), now;
  RecordSet rs(st);
  if (rs.rowCount() > 0) text = stringAt(rs, 0, 0);
  if (text.empty()) return std::nullopt;
  auto cached = business_hours_.find(text);
  if (cached == business_hours_.end()) {
    // Hours are checked when set; a text that no longer parses (a zone removed from tzdata)
    // holds nothing back.
    auto parsed = BusinessHours::fromJson(text);
    if (business_hours_.size() >= 1000) business_hours_.clear();
    cached =
        business_hours_
            .emplace(text, parsed.ok()
                               ? std::make_shared<const BusinessHours>(std::move(parsed.value()))
                               : nullptr)
            .first;
  }
  if (!cached->second || cached->second->isOpenAt(at_ms)) return std::nullopt;
  return cached->second->nextOpening(at_ms);
}

void SqlStore::enqueueHealthEventLocked(const HealthRecord& health) {
  const std::string type = webhook_events::healthEventType(health);
  const OutboxEvent event{type, webhook_events::kCollectorOrderingKey,
                          webhook_events::healthEventPayload(health)};
  // The collector's health concerns every tenant and site: channel filters do not narrow it.
  Session& s = *session_;
  const auto isolated = isolatedEnqueue();
  for (const Subscriber& subscriber : subscribersOf(s, std::nullopt, type)) {
    isolated(type + " for channel " + std::to_string(subscriber.id),
             [&] { insertOutboxEntry(s, subscriber.id, event, health.at_ms); });
  }
}

}  // namespace vigil::collector
