// The console's vocabulary: every code the admin API documents (docs/openapi.yaml,
// docs/presence.md) with the words an admin reads instead. A code the API adds later and this
// file does not know yet is shown as itself, never hidden.

export const STATUSES = ['ONLINE', 'SUSPECT', 'OFFLINE', 'UNREACHABLE', 'SHUTDOWN', 'MAINTENANCE', 'UNKNOWN'];

// Statuses that need an admin's eye, worst first.
export const TROUBLE_STATUSES = ['OFFLINE', 'UNREACHABLE', 'SUSPECT'];

export const STATUS_MEANING = {
  ONLINE: 'reporting on time',
  SUSPECT: 'every channel it uses is late; not confirmed yet',
  OFFLINE: 'silent through the confirmation window: an alert is raised',
  UNREACHABLE: 'its whole site went silent together: one site alert, no device alert',
  SHUTDOWN: 'announced a graceful stop, shutdown or sleep',
  MAINTENANCE: 'inside a maintenance window: its silence raises no alert',
  UNKNOWN: 'nothing heard since the collector started, or retired',
};

// status_reason and the `reason` of each status change.
const STATUS_REASONS = {
  no_evidence_yet: 'nothing heard from it since the collector started',
  fresh_evidence: 'it reported on time',
  heartbeat_late: 'no heartbeat or beacon within the time its history allows',
  witnessed_only: 'its own channels are silent, but LAN peers still hear it',
  held_degraded: 'its offline verdict is held back while the collector itself is degraded',
  confirmed_silent: 'silent on every indicator through the confirmation window, with the collector healthy',
  confirmed_after_hold: 'still silent through a full confirmation window after the collector recovered',
  witness_expired: 'heard only through LAN peers for longer than allowed',
  announced_shutdown: 'it announced a shutdown, stop or sleep',
  shutdown_too_long: 'a server that announced a shutdown did not come back in time',
  site_partitioned: 'its whole site went silent together',
  in_maintenance: 'inside a maintenance window',
  retired: 'retired: removed from tracking',
  not_tracked: 'retired: no longer tracked',
  no_verdict_yet: 'another collector of the cluster judges it and has not reached a verdict yet',
};

export function statusReasonText(code) {
  return STATUS_REASONS[code] ?? `reason "${code}"`;
}

// The collector's degradation reasons (Health.reasons, Alert.held_reasons, Agent.held_by,
// StatusChange.collector_degraded_by, HealthHistoryEntry.reasons). Each completes the sentence
// "Offline alerts are held: ...".
const DEGRADATION_REASONS = {
  warm_up: 'the collector is warming up after a restart, giving every agent one heartbeat interval to report',
  tick_late: 'the collector was frozen or starved of CPU (its clock ticks came late)',
  clock_jump: "the collector's wall clock jumped (an NTP step or a virtual machine resume)",
  ingest_lag: 'heartbeats waited too long in the collector before being judged (ingest lag)',
  queue_over_bound: "a queue inside the collector grew past its bound",
  shed_requests: 'the collector is shedding requests under load, so heartbeats are being lost',
  store_write_failures: "writes to the collector's database keep failing",
  channel_collapse: 'one evidence channel (heartbeats or beacons) collapsed across the fleet',
  mass_suspect: 'a large part of the fleet fell silent at once, which points at the collector or the network rather than the machines',
  connections_exhausted: 'the collector ran out of room for connections and dropped some',
  beacon_overflow: 'the collector dropped UDP beacons it could not read fast enough',
  store_unavailable: "the collector cannot reach its database",
};

export const DEGRADATION_REASON_CODES = Object.keys(DEGRADATION_REASONS);

export function degradationText(code) {
  return DEGRADATION_REASONS[code] ?? `the collector reports "${code}"`;
}

// Alert.suppression_reason is the held reasons, comma-separated.
export function suppressionText(suppressionReason, heldReasons) {
  const codes = Array.isArray(heldReasons) && heldReasons.length > 0
    ? heldReasons
    : String(suppressionReason ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (codes.length === 0) return '';
  return codes.map(degradationText).join('; ');
}

export const ALERT_KINDS = {
  device_offline: 'Device offline',
  site_unreachable: 'Site unreachable',
  flapping: 'Flapping',
};

export function alertKindText(kind) {
  return ALERT_KINDS[kind] ?? kind;
}

export const ALERT_STATES = {
  open: { label: 'Open', meaning: 'raised and notified' },
  held: { label: 'Held', meaning: 'raised while the collector was degraded: held back, not notified' },
  resolved: { label: 'Resolved', meaning: 'closed: the agent came back, or an admin resolved it' },
  released: { label: 'Released', meaning: "a held alert dropped because the silence was the collector's own fault" },
};

export function alertStateText(state) {
  return ALERT_STATES[state]?.label ?? state;
}

// OutageReport.cause: why the agent could not reach the collector.
const OUTAGE_CAUSES = {
  no_network: 'no network (no default route)',
  dns: "the collector's name did not resolve (DNS)",
  connect: 'could not connect to the collector',
  timeout: 'the request timed out',
  tls: 'the TLS handshake or certificate check failed',
  http_error: 'the collector answered with an HTTP error',
  overloaded: 'the collector was over capacity',
  bad_answer: "the collector's answer could not be read",
  other: 'another failure',
};

export function outageCauseText(code) {
  return OUTAGE_CAUSES[code] ?? code;
}

// Agent.last_shutdown_reason: the agent's goodbye notice.
const SHUTDOWN_REASONS = {
  service_stop: 'the agent service was stopped',
  system_shutdown: 'the system shut down',
  sleep: 'the machine went to sleep',
  logoff: 'the user logged off',
  uninstall: 'the agent was uninstalled',
};

export function shutdownReasonText(code) {
  return SHUTDOWN_REASONS[code] ?? code;
}

// The indicators of Agent.evidence, in the order the detail page shows them.
export const INDICATORS = [
  ['heartbeat', 'Heartbeat', 'signed HTTPS report: direct evidence'],
  ['beacon', 'UDP beacon', 'signed datagram: direct evidence'],
  ['peer_witness', 'LAN peer witness', 'another agent of its site heard it: postpones OFFLINE, never makes ONLINE'],
  ['shutdown_notice', 'Shutdown notice', 'the agent announced a stop'],
  ['diary', 'Outage diary', 'a past outage the agent reported'],
];

export const ROLE_NEEDED = {
  acknowledge: 'operator',
  resolve: 'operator',
  maintenance: 'operator',
  retire: 'admin',
};
