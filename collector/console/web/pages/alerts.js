// Alerts by state (open, held, resolved, released), newest first, 50 at a time, optionally of
// one tenant, site or agent. A held alert says since when and why in words; a site alert
// lists the agents of its site that are UNREACHABLE now. Acknowledge and resolve ask first.

import {
  el, route, emptyState, statusBadge, timeEl, replaceKeepingFocus, code,
} from '../lib/dom.js';
import { ALERT_STATES, alertKindText, suppressionText } from '../lib/words.js';
import { confirmAction } from '../lib/dialog.js';
import { eachLimited } from '../lib/api.js';

const PAGE_SIZE = 50;
const STATES = ['open', 'held', 'resolved', 'released'];

export function mount(ctx) {
  const p = ctx.params;
  const state = STATES.includes(p.state) ? p.state : 'open';
  ctx.header('Alerts');

  const scope = { tenant: p.tenant, site: p.site, agent: p.agent };
  const tabs = el('nav', { class: 'tabs', 'aria-label': 'Alert states' },
    el('ul', {}, STATES.map((s) => el('li', {},
      el('a', {
        href: route('#/alerts', { ...scope, state: s }),
        'aria-current': s === state ? 'page' : null,
        id: `tab-${s}`,
      }, ALERT_STATES[s].label)))));
  const filterLine = el('p', { class: 'filter-line' });
  const list = el('section', { class: 'alerts', 'aria-labelledby': 'alerts-title' },
    el('h2', { id: 'alerts-title' }, `${ALERT_STATES[state].label} alerts`), el('p', { class: 'muted' }, 'Loading…'));
  ctx.root.append(tabs,
    el('p', { class: 'hint' }, `${ALERT_STATES[state].label}: ${ALERT_STATES[state].meaning}.`),
    filterLine, list);

  const query = new URLSearchParams({ state, limit: String(PAGE_SIZE) });
  if (p.tenant) query.set('tenant_id', p.tenant);
  if (p.site) query.set('site_id', p.site);
  if (p.agent) query.set('agent_id', p.agent);
  if (p.cursor) query.set('cursor', p.cursor);
  const url = `/api/v1/alerts?${query}`;

  let shown = [];
  const poller = ctx.poll(async () => {
    await ctx.directory.refresh();
    const page = await ctx.api.get(url);
    await ctx.directory.resolveAgents(page.items.map((a) => a.agent_id).filter(Boolean));
    // The agents of each site alert that are UNREACHABLE now (only while the alert is live).
    const siteAlerts = page.items.filter((a) => a.kind === 'site_unreachable' && (a.state === 'open' || a.state === 'held') && a.site_id);
    const siteIds = [...new Set(siteAlerts.map((a) => a.site_id))];
    const unreachable = new Map();
    const bodies = await eachLimited(siteIds, 4, (siteId) =>
      ctx.api.get(`/api/v1/agents?site_id=${siteId}&status=UNREACHABLE&limit=100`));
    siteIds.forEach((siteId, i) => unreachable.set(siteId, bodies[i]));
    const key = [page, ...bodies];
    if (!ctx.isCurrent() || (key.length === shown.length && key.every((v, i) => v === shown[i]))) return;
    shown = key;
    render(page, unreachable);
  });

  function renderFilterLine() {
    const parts = [];
    if (p.tenant) parts.push(`tenant ${ctx.directory.tenantName(p.tenant)}`);
    if (p.site) parts.push(`site ${ctx.directory.siteName(p.site)}`);
    if (p.agent) parts.push(`agent ${ctx.directory.agentName(p.agent) ?? p.agent}`);
    filterLine.replaceChildren(...(parts.length
      ? ['Only alerts of ', parts.join(', '), '. ', el('a', { href: route('#/alerts', { state }) }, 'Show every alert')]
      : []));
  }

  function render(page, unreachable) {
    renderFilterLine();
    const heading = el('h2', { id: 'alerts-title' },
      `${page.items.length} ${state} ${page.items.length === 1 ? 'alert' : 'alerts'}${page.next_cursor ? ' on this page' : ''}`);
    if (page.items.length === 0) {
      const advice = {
        open: 'Nothing needs attention: no alert is open. An alert opens when an agent stays silent through the confirmation window while the collector is healthy.',
        held: 'No alert is held. Alerts are held while the collector itself is degraded, and judged again once it has recovered.',
        resolved: 'No resolved alert yet.',
        released: 'No released alert: none was dropped as the collector\'s own fault.',
      }[state];
      replaceKeepingFocus(list, heading, emptyState(`No ${state} alerts${p.tenant || p.site || p.agent ? ' here' : ''}.`, advice));
      return;
    }
    const pager = el('nav', { class: 'pager', 'aria-label': 'Pages of alerts' },
      p.cursor ? el('a', { href: route('#/alerts', { ...p, cursor: '' }) }, 'Newest alerts') : null,
      page.next_cursor ? el('a', { href: route('#/alerts', { ...p, cursor: page.next_cursor }) }, 'Older alerts') : null);
    replaceKeepingFocus(list, heading,
      el('ol', { class: 'alert-list' }, page.items.map((a) => alertCard(a, unreachable.get(a.site_id)))),
      pager.childElementCount ? pager : null);
  }

  function targetOf(a) {
    if (a.agent_id) {
      const name = ctx.directory.agentName(a.agent_id);
      return el('a', { href: `#/agents/${encodeURIComponent(a.agent_id)}` }, name ?? a.agent_id);
    }
    if (a.site_id) return el('a', { href: route('#/agents', { tenant: a.tenant_id, site: a.site_id }) }, `site ${ctx.directory.siteName(a.site_id)}`);
    return `tenant ${ctx.directory.tenantName(a.tenant_id)}`;
  }

  function alertCard(a, unreachablePage) {
    const live = a.state === 'open' || a.state === 'held';
    const titleId = `alert-${a.id}-title`;
    const lines = [];
    lines.push(el('p', {}, 'Opened ', timeEl(a.opened_at, { relative: true }), ' · ',
      ctx.directory.tenantName(a.tenant_id), a.site_id ? [' / ', ctx.directory.siteName(a.site_id)] : null));
    if (a.held_since || a.state === 'held' || a.state === 'released') {
      const why = suppressionText(a.suppression_reason, a.held_reasons);
      lines.push(el('p', { class: 'held-line' },
        el('strong', {}, a.state === 'released' ? 'Was held' : 'Held'),
        a.held_since ? [' since ', timeEl(a.held_since)] : null,
        why ? `: ${why}.` : '.'));
    }
    if (a.acknowledged_at) {
      lines.push(el('p', { class: 'ack-line' }, 'Acknowledged by ', el('strong', {}, a.acknowledged_by ?? 'someone'), ' ', timeEl(a.acknowledged_at, { relative: true }), '.'));
    }
    if (a.closed_at) {
      lines.push(el('p', {}, a.state === 'released' ? 'Released ' : 'Resolved ', timeEl(a.closed_at, { relative: true }),
        a.closed_by ? [' by ', el('strong', {}, a.closed_by)] : (a.state === 'resolved' ? ' by the collector (the agent came back)' : ''), '.'));
    }
    if (a.note) lines.push(el('p', { class: 'note' }, 'Note: ', a.note));
    if (a.kind === 'site_unreachable' && live) {
      const agents = unreachablePage?.items ?? [];
      lines.push(el('div', { class: 'unreachable' },
        el('p', {}, agents.length
          ? `${agents.length}${unreachablePage.next_cursor ? '+' : ''} UNREACHABLE ${agents.length === 1 ? 'agent' : 'agents'} in this site now:`
          : 'No agent of this site is UNREACHABLE now.'),
        agents.length ? el('ul', { class: 'plain' }, agents.map((ag) => el('li', {},
          el('a', { href: `#/agents/${encodeURIComponent(ag.id)}` }, ag.hostname || ag.id), ' ', statusBadge(ag.status)))) : null));
    }

    const actions = [];
    if (live && ctx.can('operator')) {
      if (!a.acknowledged_at) {
        actions.push(el('button', {
          type: 'button', class: 'button secondary', dataset: { focusKey: `ack-${a.id}`, action: 'acknowledge' },
          onclick: () => act(a, 'acknowledge'),
        }, 'Acknowledge'));
      }
      actions.push(el('button', {
        type: 'button', class: 'button secondary', dataset: { focusKey: `resolve-${a.id}`, action: 'resolve' },
        onclick: () => act(a, 'resolve'),
      }, 'Resolve'));
    }
    return el('li', { class: ['alert', `alert-${a.state}`], dataset: { alertId: a.id, state: a.state, kind: a.kind } },
      el('article', { 'aria-labelledby': titleId },
        el('h3', { id: titleId },
          el('span', { class: ['alert-state', `alert-state-${a.state}`] }, ALERT_STATES[a.state]?.label ?? a.state),
          ' ', `${alertKindText(a.kind)}: `, targetOf(a), ' ', el('span', { class: 'muted' }, code(`#${a.id}`))),
        lines,
        actions.length ? el('div', { class: 'actions' }, actions) : null));
  }

  async function act(a, action) {
    const target = a.agent_id ? (ctx.directory.agentName(a.agent_id) ?? a.agent_id) : `site ${ctx.directory.siteName(a.site_id)}`;
    const { confirmed, note } = await confirmAction(action === 'acknowledge'
      ? {
        title: `Acknowledge alert #${a.id}?`,
        body: `${alertKindText(a.kind)}: ${target}. Acknowledging records that you are on it (your token's name and the time); the alert stays ${a.state}.`,
        confirmLabel: 'Acknowledge',
        withNote: true,
      }
      : {
        title: `Resolve alert #${a.id}?`,
        body: `${alertKindText(a.kind)}: ${target}. Resolving closes the alert now, in your token's name; do it when the cause is dealt with.`,
        confirmLabel: 'Resolve',
        withNote: true,
      });
    if (!confirmed) return;
    try {
      await ctx.api.post(`/api/v1/alerts/${a.id}/${action}`, note ? { note } : {});
      ctx.say(`Alert #${a.id} ${action === 'acknowledge' ? 'acknowledged' : 'resolved'}.`);
      ctx.showProblem('');
    } catch (error) {
      if (error.kind === 'client' && error.status === 409) ctx.showProblem(`Alert #${a.id} is already closed.`);
      else ctx.refused('operator', error);
    }
    shown = [];
    poller.runNow();
  }
}
