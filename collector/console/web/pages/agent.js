// One agent: its status with the reason in words and since when, the evidence per indicator
// (last seen, late after), its facts, its status history as a timeline (GET
// /api/v1/agents/{id}/history, older pages on request), its outage diary, its recent alerts,
// and the admin's actions (plan maintenance, retire).

import {
  el, route, dataTable, emptyState, statusBadge, timeEl, facts, durationText, replaceKeepingFocus, code, srOnly,
} from '../lib/dom.js';
import {
  INDICATORS, STATUS_MEANING, statusReasonText, degradationText, outageCauseText, shutdownReasonText,
  alertKindText, alertStateText,
} from '../lib/words.js';
import { confirmAction } from '../lib/dialog.js';

const HISTORY_PAGE = 25;
const HISTORY_MAX = 1000; // the API's largest page

export function mount(ctx) {
  const id = ctx.id;
  const base = `/api/v1/agents/${encodeURIComponent(id)}`;
  const h1 = ctx.header('Agent');
  const section = (titleId, title) => el('section', { class: 'card', 'aria-labelledby': titleId },
    el('h2', { id: titleId }, title), el('p', { class: 'muted' }, 'Loading…'));
  const top = el('div', { class: 'agent-top' });
  const evidence = section('evidence-title', 'Evidence');
  const factsBox = section('facts-title', 'Facts');
  const timeline = section('history-title', 'Status history');
  const outages = section('outages-title', 'Outage diary');
  const agentAlerts = section('agent-alerts-title', 'Recent alerts');
  ctx.root.append(
    el('p', { class: 'back' }, el('a', { href: '#/agents' }, 'All agents')),
    top,
    el('div', { class: 'grid-2' }, evidence, factsBox),
    timeline, outages, agentAlerts);

  let shown = [];
  let agent = null;
  // "Show older changes" asks for a longer first page, so the timeline stays one contiguous,
  // live list however many changes arrive meanwhile.
  let historyLimit = HISTORY_PAGE;

  const poller = ctx.poll(async () => {
    await ctx.directory.refresh();
    const [detail, history, alerts] = await Promise.all([
      ctx.api.get(base),
      ctx.api.get(`${base}/history?limit=${historyLimit}`),
      ctx.api.get(`/api/v1/alerts?agent_id=${encodeURIComponent(id)}&limit=10`),
    ]);
    if (!ctx.isCurrent() || (shown[0] === detail && shown[1] === history && shown[2] === alerts)) return;
    shown = [detail, history, alerts];
    agent = detail;
    render(detail, history, alerts);
  });

  function render(a, history, alerts) {
    h1.textContent = a.hostname || a.id;
    document.title = `${a.hostname || a.id} · Vigil console`;
    renderTop(a);
    renderEvidence(a);
    renderFacts(a);
    renderTimeline(history);
    renderOutages(a.outages ?? []);
    renderAlerts(alerts);
  }

  function renderTop(a) {
    const statusLine = el('div', { class: ['status-box', `status-box-${(a.status ?? 'unknown').toLowerCase()}`] },
      el('p', { class: 'status-main' },
        statusBadge(a.status, { id: 'agent-status' }),
        ' ', el('span', { id: 'agent-status-text' }, a.status_text ?? statusReasonText(a.status_reason))),
      el('p', {}, 'Since ', timeEl(a.status_since, { relative: true, unset: 'not known' }),
        '. ', STATUS_MEANING[a.status] ? `${a.status}: ${STATUS_MEANING[a.status]}.` : ''),
      a.held ? el('p', { class: 'held-line' }, el('strong', {}, 'Verdict held: '),
        'the collector is degraded, so it does not judge this silence yet: ',
        (a.held_by ?? []).map(degradationText).join('; ') || 'no reason given', '.') : null,
      a.alert_open ? el('p', {}, el('a', { href: route('#/alerts', { state: 'open', agent: a.id }) }, 'An offline alert is open for this agent.')) : null,
      a.flapping ? el('p', {}, 'Flapping: its status changes too often; one flapping alert replaces the stream.') : null,
      a.retired_at ? el('p', {}, 'Retired ', timeEl(a.retired_at), ': no longer tracked; its heartbeats are refused.') : null);

    const actions = [];
    if (!a.retired_at && ctx.can('operator')) {
      actions.push(el('a', {
        class: 'button secondary', id: 'plan-maintenance',
        href: route('#/maintenance', { agent: a.id, tenant: a.tenant_id }),
      }, 'Plan maintenance for this agent'));
    }
    if (!a.retired_at && ctx.can('admin')) {
      actions.push(el('button', { type: 'button', class: 'button danger', id: 'retire-agent', dataset: { focusKey: 'retire' }, onclick: retire }, 'Retire this agent'));
    }
    replaceKeepingFocus(top,
      el('p', { class: 'agent-where' }, ctx.directory.tenantName(a.tenant_id), ' / ',
        el('a', { href: route('#/agents', { tenant: a.tenant_id, site: a.site_id }) }, ctx.directory.siteName(a.site_id)),
        ' · ', code(a.id)),
      statusLine,
      actions.length ? el('div', { class: 'actions' }, actions) : null);
  }

  async function retire() {
    const a = agent;
    const { confirmed } = await confirmAction({
      title: `Retire ${a.hostname || a.id}?`,
      body: ['The collector stops tracking this agent: its open alerts are resolved, no alert follows, and its heartbeats are refused from now on. It stays listed as retired.',
        'To bring the machine back, enroll it again with an enrollment token: it gets a new id.'],
      confirmLabel: 'Retire agent',
      danger: true,
    });
    if (!confirmed) return;
    try {
      await ctx.api.post(`${base}/retire`);
      ctx.say(`${a.hostname || a.id} retired.`);
      ctx.showProblem('');
    } catch (error) {
      ctx.refused('admin', error);
    }
    shown = [];
    poller.runNow();
  }

  function renderEvidence(a) {
    const title = el('h2', { id: 'evidence-title' }, 'Evidence');
    if (!a.evidence) {
      replaceKeepingFocus(evidence, title, emptyState('No evidence: the agent is not tracked (retired).'));
      return;
    }
    const now = Date.now();
    const rows = INDICATORS.map(([key, label, meaning]) => {
      const e = a.evidence[key] ?? {};
      const late = e.late_after && Date.parse(e.late_after) < now;
      return {
        attrs: { dataset: { indicator: key } },
        cells: [
          el('span', {}, label, el('span', { class: 'hint block' }, meaning)),
          timeEl(e.last_seen_at, { relative: true, unset: 'never' }),
          e.expected_interval_s ? `every ${durationText(e.expected_interval_s)}` : el('span', { class: 'muted' }, '—'),
          e.late_after
            ? el('span', { class: late ? 'late' : null }, timeEl(e.late_after, { relative: true }), late ? ' (late)' : '')
            : el('span', { class: 'muted' }, '—'),
        ],
      };
    });
    replaceKeepingFocus(evidence, title,
      el('p', { class: 'hint' }, 'ONLINE while any direct indicator (heartbeat, beacon) is on time; SUSPECT when every one it uses is late.'),
      dataTable({
        caption: 'Evidence per indicator',
        columns: [{ label: 'Indicator', header: true }, { label: 'Last seen' }, { label: 'Expected' }, { label: 'Late after' }],
        rows,
        className: 'evidence',
      }));
  }

  function renderFacts(a) {
    const f = a.facts ?? {};
    const addresses = f.net?.addresses ?? [];
    replaceKeepingFocus(factsBox,
      el('h2', { id: 'facts-title' }, 'Facts'),
      facts([
        ['Host name', f.hostname ?? a.hostname],
        ['Operating system', [f.os_name ?? a.os_name, f.os_version ?? a.os_version].filter(Boolean).join(' ')],
        ['Architecture', f.arch ?? a.arch],
        ['Agent version', f.agent_version ?? a.agent_version],
        ['Addresses', addresses.length ? el('ul', { class: 'plain' }, addresses.map((x) => el('li', {}, code(x)))) : null],
        ['Default route', f.net ? (f.net.default_route ? 'yes' : 'no') : null],
        ['Config hash', f.config_hash ? code(f.config_hash) : null],
        ['Class', a.class],
        ['Uptime', a.uptime_s ? durationText(a.uptime_s) : null],
        ['Boot id', a.boot_id ? code(a.boot_id) : null],
        ['Enrolled', timeEl(a.enrolled_at)],
        ['Last seen', timeEl(a.last_seen_at, { relative: true })],
        ['Last goodbye', a.last_shutdown_reason
          ? el('span', {}, shutdownReasonText(a.last_shutdown_reason), ', ', timeEl(a.last_shutdown_at))
          : 'none'],
      ]));
  }

  function timelineItem(change) {
    return el('li', { class: ['change', `change-${String(change.to).toLowerCase()}`] },
      el('p', { class: 'change-when' }, timeEl(change.at)),
      el('p', { class: 'change-what' },
        change.from === change.to
          ? [statusBadge(change.to), ' (reason changed)']
          : [statusBadge(change.from), el('span', { 'aria-hidden': 'true' }, ' → '), srOnly(' to '), statusBadge(change.to)]),
      el('p', { class: 'change-why' }, statusReasonText(change.reason)),
      change.collector_degraded_by?.length
        ? el('p', { class: 'hint' }, 'The collector was degraded then: ', change.collector_degraded_by.map(degradationText).join('; '), '.')
        : null);
  }

  function renderTimeline(history) {
    const items = history.items;
    let more = null;
    if (history.next_cursor && historyLimit < HISTORY_MAX) {
      more = el('button', {
        type: 'button', class: 'button secondary', dataset: { focusKey: 'older-history' },
        onclick: () => {
          historyLimit = Math.min(HISTORY_MAX, historyLimit + HISTORY_PAGE);
          poller.runNow();
        },
      }, 'Show older changes');
    } else if (history.next_cursor) {
      more = el('p', { class: 'hint' }, `The ${HISTORY_MAX} newest changes are shown; GET ${base}/history pages further back.`);
    }
    replaceKeepingFocus(timeline,
      el('h2', { id: 'history-title' }, 'Status history'),
      items.length === 0
        ? emptyState('No status change recorded yet.')
        : el('ol', { class: 'timeline', 'aria-label': 'Status changes, newest first' }, items.map(timelineItem)),
      more);
  }

  function renderOutages(list) {
    const title = el('h2', { id: 'outages-title' }, 'Outage diary');
    const intro = el('p', { class: 'hint' }, 'Periods the agent was running but could not reach the collector, as the agent reported them afterwards.');
    if (list.length === 0) {
      replaceKeepingFocus(outages, title, intro, emptyState('No outage reported.'));
      return;
    }
    replaceKeepingFocus(outages, title, intro, dataTable({
      caption: 'Outages reported by the agent, newest first',
      columns: [{ label: 'From', header: true }, { label: 'To' }, { label: 'Lasted' }, { label: 'Cause' }, { label: 'Reported' }],
      rows: list.map((o) => ({
        cells: [
          timeEl(o.from), timeEl(o.to),
          durationText((Date.parse(o.to) - Date.parse(o.from)) / 1000),
          outageCauseText(o.cause),
          timeEl(o.reported_at),
        ],
      })),
      className: 'outages',
    }));
  }

  function renderAlerts(alerts) {
    const title = el('h2', { id: 'agent-alerts-title' }, 'Recent alerts');
    if (alerts.items.length === 0) {
      replaceKeepingFocus(agentAlerts, title, emptyState('No alert for this agent.'));
      return;
    }
    replaceKeepingFocus(agentAlerts, title,
      el('ul', { class: 'plain alert-lines' }, alerts.items.map((al) => el('li', {},
        el('a', { href: route('#/alerts', { state: al.state, agent: id }) }, `${alertKindText(al.kind)} #${al.id}`),
        `: ${alertStateText(al.state)}, opened `, timeEl(al.opened_at),
        al.closed_at ? [', closed ', timeEl(al.closed_at)] : null))));
  }
}
