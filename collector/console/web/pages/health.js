// The collector's health: whether it is degraded and why, in words, what it holds, its
// counters, and every change of its health (GET /api/v1/health/history, newest first, older
// pages on request). The current health comes from the console-wide health poll, not a
// second request.

import { el, dataTable, emptyState, timeEl, facts, statusBadge, replaceKeepingFocus, durationText } from '../lib/dom.js';
import { STATUSES, degradationText, DEGRADATION_REASON_CODES } from '../lib/words.js';
import { heldVerdictsText } from '../lib/health.js';
import { failureText } from '../lib/messages.js';

const HISTORY_PAGE = 50;
const HISTORY_MAX = 1000; // the API's largest page

export function mount(ctx) {
  ctx.header('Collector health',
    'The collector watches itself: while the fault may be its own (a restart, a freeze, a backlog, a lost channel) it is DEGRADED and holds offline verdicts instead of paging you, then judges them once it has recovered.');
  const now = el('section', { class: 'card', 'aria-labelledby': 'health-now-title' },
    el('h2', { id: 'health-now-title' }, 'Now'));
  const history = el('section', { class: 'card', 'aria-labelledby': 'health-history-title' },
    el('h2', { id: 'health-history-title' }, 'History'), el('p', { class: 'muted' }, 'Loading…'));
  const legend = el('section', { class: 'card', 'aria-labelledby': 'health-legend-title' },
    el('h2', { id: 'health-legend-title' }, 'What each reason means'),
    el('dl', { class: 'facts wide' }, DEGRADATION_REASON_CODES.map((code) => [el('dt', {}, el('code', {}, code)), el('dd', {}, degradationText(code))])),
    el('p', { class: 'hint' }, 'Each reason but warm-up stays set for one recovery period after its cause ends (by default one heartbeat interval plus jitter), so evidence the fault delayed can still arrive before anyone is judged.'));
  ctx.root.append(now, history, legend);

  const renderNow = ({ body, error }) => {
    if (!ctx.isCurrent()) return;
    if (!body) {
      replaceKeepingFocus(now, el('h2', { id: 'health-now-title' }, 'Now'),
        error ? el('p', { class: 'problem' }, failureText(error)) : el('p', {}, 'Loading…'));
      return;
    }
    const degraded = body.status === 'degraded';
    const counts = STATUSES.map((s) => el('li', {}, statusBadge(s), ` ${body.agents?.by_status?.[s] ?? 0}`));
    replaceKeepingFocus(now,
      el('h2', { id: 'health-now-title' }, 'Now'),
      el('p', { class: ['health-status', degraded ? 'health-degraded' : 'health-healthy'], id: 'health-status', dataset: { health: body.status } },
        degraded ? 'DEGRADED' : 'HEALTHY', ' since ', timeEl(body.since, { relative: true })),
      degraded
        ? el('ul', { class: 'reasons' }, (body.reasons ?? []).map((r) => el('li', {},
          el('strong', {}, degradationText(r.reason)), r.since ? [' (since ', timeEl(r.since), ')'] : null, ' ', el('code', { class: 'muted' }, r.reason))))
        : el('p', {}, 'Offline alerts are raised normally.'),
      error ? el('p', { class: 'problem' }, `The last refresh failed: ${failureText(error)}`) : null,
      facts([
        ['Held verdicts', heldVerdictsText(body.held_alerts)],
        ['Agents tracked', String(body.agents?.total ?? 0)],
        ['By status', el('ul', { class: 'inline-list' }, counts)],
        ['Status changes not recorded', String(body.dropped_history_records ?? 0)],
        ['UDP beacons', body.beacon
          ? `port ${body.beacon.port}, every ${durationText(body.beacon.interval_s)}; ${body.beacon.accepted} accepted, ${Object.values(body.beacon.dropped ?? {}).reduce((a, b) => a + b, 0)} dropped`
          : 'off'],
        body.peer_sightings ? ['LAN peer sightings', `${body.peer_sightings.witnessed} taken as evidence, ${body.peer_sightings.ignored} ignored`] : null,
        body.cadence ? ['Heartbeat cadence', body.cadence.stretch_level === 0
          ? 'every agent at its base interval'
          : `stretched under load: level ${body.cadence.stretch_level} of ${body.cadence.max_stretch_level}`] : null,
        body.history_unavailable ? ['History', 'the database could not be read: what is shown comes from memory'] : null,
      ]));
  };
  renderNow(ctx.healthFeed.latest());
  ctx.onUnmount(ctx.healthFeed.subscribe(renderNow));

  // "Show older changes" asks for a longer first page (see the agent page's timeline).
  let historyLimit = HISTORY_PAGE;
  let shown = null;
  const poller = ctx.poll(async () => {
    const page = await ctx.api.get(`/api/v1/health/history?limit=${historyLimit}`);
    if (page === shown || !ctx.isCurrent()) return;
    shown = page;
    renderHistory(page);
  });

  function renderHistory(page) {
    const items = page.items;
    const title = el('h2', { id: 'health-history-title' }, 'History');
    if (items.length === 0) {
      replaceKeepingFocus(history, title, emptyState('No change recorded yet.'));
      return;
    }
    replaceKeepingFocus(history, title,
      dataTable({
        caption: 'Changes of the collector\'s health, newest first',
        columns: [{ label: 'When', header: true }, { label: 'Became' }, { label: 'Reasons from then on' }],
        rows: items.map((h) => ({
          attrs: { dataset: { health: h.status } },
          cells: [
            timeEl(h.at),
            h.status === 'degraded' ? el('span', { class: 'flag flag-held' }, 'DEGRADED') : el('span', { class: 'flag flag-ok' }, 'HEALTHY'),
            h.reasons?.length ? el('ul', { class: 'plain' }, h.reasons.map((r) => el('li', {}, degradationText(r)))) : el('span', { class: 'muted' }, 'none'),
          ],
        })),
        className: 'health-history',
      }),
      page.next_cursor && historyLimit < HISTORY_MAX
        ? el('button', {
          type: 'button', class: 'button secondary', dataset: { focusKey: 'older-health' },
          onclick: () => {
            historyLimit = Math.min(HISTORY_MAX, historyLimit + HISTORY_PAGE);
            poller.runNow();
          },
        }, 'Show older changes')
        : null,
      page.next_cursor && historyLimit >= HISTORY_MAX
        ? el('p', { class: 'hint' }, `The ${HISTORY_MAX} newest changes are shown; GET /api/v1/health/history pages further back.`)
        : null);
  }
}
