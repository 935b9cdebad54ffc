// Availability reports (GET /api/v1/reports/availability): of a tenant or one of its sites over
// a calendar month, in the tenant's time zone or another. The totals, the spans when the
// collector itself was degraded (time counted as nobody's fault), and the agents worst first.
// The choice is in the address (#/reports?tenant=1&site=3&month=2026-03&tz=Europe/Berlin), so
// a report can be bookmarked; it is computed when the page opens or "Show report" is pressed,
// not refreshed every 5 s like the live pages.
//
// The printable HTML report and the CSV files are fetched with the session's token and handed
// to the browser as a download: a plain link could not carry the Authorization header.

import {
  el, route, dataTable, emptyState, timeEl, field, selectEl, replaceKeepingFocus, code,
  durationText,
} from '../lib/dom.js';
import { degradationText } from '../lib/words.js';
import { failureText } from '../lib/messages.js';

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;

// The month before this one in the browser's zone, "YYYY-MM": the last full month.
function previousMonth(now = new Date()) {
  const d = new Date(now.getFullYear(), now.getMonth() - 1, 1);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}`;
}

function monthTitle(month) {
  const m = MONTH.exec(month);
  if (!m) return month;
  return new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'long', timeZone: 'UTC' })
    .format(new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, 1)));
}

// 0.99931 -> "99.931 %"; null -> "n/a".
export function availabilityText(value) {
  if (value === null || value === undefined || !Number.isFinite(Number(value))) return 'n/a';
  return `${(Number(value) * 100).toFixed(3)} %`;
}

// A length of time as a report gives it: durationText's words, and "< 1 s" for a moment.
export function reportDuration(totalSeconds) {
  const exact = Number(totalSeconds) || 0;
  if (exact <= 0) return '0 s';
  if (exact < 0.5) return '< 1 s';
  return durationText(exact);
}

function durationEl(seconds) {
  const exact = Number(seconds) || 0;
  return el('span', { title: `${Math.round(exact * 1000) / 1000} s` }, reportDuration(exact));
}

// A name fit for a file name: "Acme Corp." -> "acme-corp".
function slug(text) {
  return String(text ?? '').normalize('NFKD').toLowerCase().replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '').slice(0, 40).replace(/-+$/, '');
}

// Worst availability first; agents with no availability (no online or down time) last; then
// the most downtime, then by host name.
function worstFirst(a, b) {
  const av = a.availability ?? null;
  const bv = b.availability ?? null;
  if (av === null && bv !== null) return 1;
  if (bv === null && av !== null) return -1;
  if (av !== null && bv !== null && av !== bv) return av - bv;
  if ((b.down_seconds ?? 0) !== (a.down_seconds ?? 0)) return (b.down_seconds ?? 0) - (a.down_seconds ?? 0);
  return String(a.hostname || a.agent_id).localeCompare(String(b.hostname || b.agent_id));
}

const DOWNLOADS = [
  { format: 'html', label: 'Printable report (HTML)', id: 'report-download-html', suffix: '', ext: 'html', type: 'text/html' },
  { format: 'csv', label: 'CSV', id: 'report-download-csv', suffix: '', ext: 'csv', type: 'text/csv' },
  { format: 'incidents.csv', label: 'Incidents CSV', id: 'report-download-incidents', suffix: '-incidents', ext: 'csv', type: 'text/csv' },
];

export function mount(ctx) {
  const p = ctx.params;
  ctx.header('Availability reports',
    'How much of a month each agent was online. Availability is online time ÷ (online + down time): time in maintenance, after an announced shutdown or sleep, while the collector itself was degraded, or not monitored at all is left out of it.');

  // ----- the form -----
  const month = MONTH.test(p.month ?? '') ? p.month : previousMonth();
  const tenantSelect = selectEl({ id: 'report-tenant', name: 'tenant', required: true }, [['', 'Loading tenants…']], p.tenant);
  const siteSelect = selectEl({ id: 'report-site', name: 'site' }, [['', 'All sites']], p.site);
  const monthInput = el('input', {
    type: 'month', id: 'report-month', name: 'month', value: month, required: true,
    pattern: '\\d{4}-\\d{2}', placeholder: 'YYYY-MM',
  });
  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  const zoneList = el('datalist', { id: 'report-tz-list' }, zones.map((z) => el('option', { value: z })));
  const tzInput = el('input', {
    type: 'text', id: 'report-tz', name: 'tz', value: p.tz ?? '', maxlength: 64, autocomplete: 'off',
    spellcheck: 'false', list: zones.length ? zoneList.id : null, placeholder: 'Tenant default',
  });
  const formProblem = el('div', { class: 'problem', role: 'alert', id: 'report-form-problem' });

  function fillSites() {
    const wanted = siteSelect.value || p.site;
    const sites = tenantSelect.value ? ctx.directory.sites(tenantSelect.value) : [];
    siteSelect.replaceChildren(...[['', 'All sites'], ...sites.map((s) => [s.id, s.name])]
      .map(([value, label]) => el('option', { value, selected: String(value) === String(wanted ?? '') }, label)));
  }
  function fillTenants() {
    const tenants = ctx.directory.tenants();
    // With one tenant in the token's scope, that one is the choice.
    const chosen = p.tenant ?? (tenants.length === 1 ? tenants[0].id : '');
    tenantSelect.replaceChildren(...[['', tenants.length ? 'Choose a tenant' : 'No tenant in this token\'s scope'],
      ...tenants.map((t) => [t.id, t.name])]
      .map(([value, label]) => el('option', { value, selected: String(value) === String(chosen ?? '') }, label)));
    fillSites();
  }
  tenantSelect.addEventListener('change', () => {
    siteSelect.value = '';
    fillSites();
  });

  const form = el('form', { class: 'filters report-form', 'aria-label': 'Choose the report', novalidate: true },
    field('Tenant', tenantSelect),
    field('Site', siteSelect),
    field('Month', monthInput, 'A calendar month in the report\'s time zone.'),
    field('Time zone', tzInput, 'Optional: an IANA name such as Europe/Berlin. Empty: the tenant\'s business-hours zone, else UTC.'),
    zoneList,
    formProblem,
    el('div', { class: 'actions' },
      el('button', { type: 'submit', class: 'button primary', id: 'report-show' }, 'Show report')));

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const wanted = chosenReport();
    if (typeof wanted === 'string') {
      formProblem.replaceChildren(el('p', {}, wanted));
      return;
    }
    formProblem.replaceChildren();
    const hash = route('#/reports', { tenant: wanted.tenant, site: wanted.site, month: wanted.month, tz: wanted.tz });
    // The same choice again computes the report again (the current month grows).
    if (location.hash === hash) load(wanted);
    else location.hash = hash;
  });

  // What the form asks for, or a sentence saying what to correct.
  function chosenReport() {
    if (!tenantSelect.value) return 'Choose the tenant to report on.';
    const m = monthInput.value.trim();
    if (!MONTH.test(m)) return 'Enter the month as YYYY-MM, for example 2026-03.';
    return { tenant: tenantSelect.value, site: siteSelect.value, month: m, tz: tzInput.value.trim() };
  }

  const results = el('section', { class: 'report', 'aria-labelledby': 'report-title' },
    el('h2', { id: 'report-title' }, 'Report'),
    emptyState('Choose a tenant and a month, then Show report.',
      'The report can also be printed or opened in a spreadsheet: its buttons appear here once it is shown.'));
  ctx.root.append(form, results);

  // ----- the report -----
  function reportQuery(wanted, format) {
    const query = new URLSearchParams();
    query.set('tenant_id', wanted.tenant);
    if (wanted.site) query.set('site_id', wanted.site);
    query.set('month', wanted.month);
    if (wanted.tz) query.set('time_zone', wanted.tz);
    if (format) query.set('format', format);
    return `/api/v1/reports/availability?${query}`;
  }

  function setState(...parts) {
    ctx.stateText.replaceChildren(...parts);
  }

  let loadNumber = 0;
  async function load(wanted) {
    const mine = ++loadNumber;
    setState('Computing the report…');
    ctx.stateText.parentElement.classList.remove('stale');
    results.setAttribute('aria-busy', 'true');
    try {
      const report = await ctx.api.get(reportQuery(wanted));
      if (!ctx.isCurrent() || mine !== loadNumber) return;
      ctx.showProblem('');
      setState('Computed ', timeEl(new Date().toISOString()), '; not refreshed by itself: Show report computes it again');
      render(report, wanted);
    } catch (error) {
      if (!ctx.isCurrent() || mine !== loadNumber) return;
      setState('No report: the request failed');
      ctx.stateText.parentElement.classList.add('stale');
      ctx.showProblem(error?.kind === 'client'
        ? `The collector refused the report: ${error.message}`
        : failureText(error));
      replaceKeepingFocus(results, el('h2', { id: 'report-title' }, 'Report'),
        emptyState('No report to show.', 'Correct the choice above and press Show report.'));
    } finally {
      if (mine === loadNumber) results.removeAttribute('aria-busy');
    }
  }

  function periodText(report) {
    const zone = report.time_zone;
    let fmt;
    try {
      fmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short', timeZone: zone });
    } catch {
      return `${report.period.from_local} to ${report.period.to_local}`;
    }
    return `${fmt.format(new Date(report.period.from))} to ${fmt.format(new Date(report.period.to))}`;
  }

  function render(report, wanted) {
    const scopeName = report.site ? `${report.tenant.name} / ${report.site.name}` : report.tenant.name;
    const heading = el('h2', { id: 'report-title' }, `${scopeName}, ${monthTitle(wanted.month)}`);
    const measuredTo = report.period.measured_to;
    const cut = measuredTo && new Date(measuredTo).getTime() < new Date(report.period.to).getTime();
    const periodLine = el('p', { class: 'report-period' },
      'From ', periodText(report), ' (', code(report.time_zone), wanted.tz ? '' : ', the tenant\'s zone', ')',
      cut ? ['; measured up to ', timeEl(measuredTo), ' (now)'] : null, '.');

    const downloads = el('div', { class: 'actions report-downloads', role: 'group', 'aria-label': 'Download this report' },
      DOWNLOADS.map((d) => el('button', {
        type: 'button', class: 'button secondary', id: d.id, dataset: { focusKey: d.id, format: d.format },
        onclick: (event) => download(event.currentTarget, d, wanted, report),
      }, d.label)));

    const t = report.totals;
    const totals = el('dl', { class: 'totals', id: 'report-totals' },
      total('availability', 'Availability', availabilityText(t.availability), 'online ÷ (online + down)'),
      total('agents', 'Agents', String(t.agents)),
      total('incidents', 'Downtime incidents', String(t.incidents)),
      total('online', 'Online', durationEl(t.online_seconds)),
      total('down', 'Down', durationEl(t.down_seconds)),
      total('maintenance', 'Maintenance', durationEl(t.maintenance_seconds)),
      total('shutdown', 'Shut down', durationEl(t.shutdown_seconds)),
      total('collector-degraded', 'Collector degraded', durationEl(t.collector_degraded_seconds)),
      total('unmonitored', 'Unmonitored', durationEl(t.unmonitored_seconds)));

    replaceKeepingFocus(results, heading, periodLine, downloads,
      el('section', { class: 'card', 'aria-labelledby': 'report-totals-title' },
        el('h3', { id: 'report-totals-title' }, 'Totals'),
        el('p', { class: 'hint' }, 'Times are summed over every agent.'),
        totals),
      degradedSection(report.collector_degraded ?? []),
      agentsSection(report.agents ?? []));
  }

  function total(key, label, value, hint) {
    return el('div', { class: 'total', dataset: { total: key } },
      el('dt', {}, label),
      el('dd', {}, el('span', { class: 'total-value' }, value), hint ? el('span', { class: 'hint block' }, hint) : null));
  }

  function degradedSection(spans) {
    const title = el('h3', { id: 'report-degraded-title' }, 'When the collector itself was degraded');
    const section = el('section', { class: 'card', 'aria-labelledby': title.id }, title);
    if (spans.length === 0) {
      section.append(el('p', { id: 'report-no-degraded' }, 'Never in this period: every agent was judged by a healthy collector.'));
      return section;
    }
    section.append(
      el('p', { class: 'hint' }, 'This time counts as neither online nor down for any agent, whatever its status said: the fault may have been the collector\'s.'),
      dataTable({
        caption: 'Spans when the collector was degraded',
        columns: [{ label: 'From', header: true }, { label: 'To' }, { label: 'Length', class: 'num' }, { label: 'Why' }],
        rows: spans.map((s) => ({
          cells: [
            timeEl(s.from),
            timeEl(s.to),
            durationEl(s.seconds),
            (s.reasons ?? []).length
              ? el('ul', { class: 'plain' }, s.reasons.map((r) => el('li', {}, degradationText(r), ' ', el('code', { class: 'muted' }, r))))
              : el('span', { class: 'muted' }, 'not recorded'),
          ],
        })),
        className: 'report-degraded',
      }));
    return section;
  }

  function agentsSection(agents) {
    const title = el('h3', { id: 'report-agents-title' }, `${agents.length} ${agents.length === 1 ? 'agent' : 'agents'}, worst availability first`);
    const section = el('section', { class: 'card', 'aria-labelledby': title.id }, title);
    if (agents.length === 0) {
      section.append(emptyState('No agent was enrolled here during this period.'));
      return section;
    }
    const rows = [...agents].sort(worstFirst).map((a) => ({
      attrs: {
        dataset: { agentId: a.agent_id, availability: a.availability ?? '' },
        class: (a.down_seconds ?? 0) > 0 ? 'row-trouble' : null,
      },
      cells: [
        el('span', { class: 'host-cell' },
          el('a', { href: `#/agents/${encodeURIComponent(a.agent_id)}`, dataset: { focusKey: `report-agent-${a.agent_id}` } }, a.hostname || a.agent_id),
          a.retired ? [' ', el('span', { class: 'flag' }, 'retired')] : null,
          el('span', { class: 'agent-id' }, a.agent_id)),
        a.site_name ?? (a.site_id ? ctx.directory.siteName(a.site_id) : el('span', { class: 'muted' }, '—')),
        el('span', { class: 'report-availability' }, availabilityText(a.availability)),
        durationEl(a.down_seconds),
        String((a.incidents ?? []).length),
      ],
    }));
    section.append(dataTable({
      caption: 'Agents, worst availability first',
      columns: [{ label: 'Host', header: true }, { label: 'Site' }, { label: 'Availability', class: 'num' },
        { label: 'Downtime', class: 'num' }, { label: 'Incidents', class: 'num' }],
      rows,
      className: 'report-agents',
    }));
    return section;
  }

  // ----- downloads -----
  function fileName(d, wanted, report) {
    const tenant = slug(report.tenant?.name) || `tenant-${wanted.tenant}`;
    const site = report.site ? `-${slug(report.site.name) || `site-${report.site.id}`}` : '';
    return `availability-${tenant}${site}-${wanted.month}${d.suffix}.${d.ext}`;
  }

  async function download(button, d, wanted, report) {
    const name = fileName(d, wanted, report);
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    ctx.say(`Preparing ${name}…`);
    try {
      const { blob, type } = await ctx.api.getFile(reportQuery(wanted, d.format));
      if (!ctx.isCurrent()) return;
      const file = blob.type ? blob : new Blob([blob], { type: type || d.type });
      const url = URL.createObjectURL(file);
      // Not el(): it allows links inside the console only, and this one is a blob: URL.
      const a = document.createElement('a');
      a.href = url;
      a.download = name;
      a.hidden = true;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      ctx.say(`Downloaded ${name}.`);
      ctx.showProblem('');
    } catch (error) {
      if (!ctx.isCurrent()) return;
      ctx.say('');
      ctx.showProblem(`The ${d.label} could not be downloaded: ${error?.kind === 'timeout' || error?.kind === 'client' ? `${error.message}.` : failureText(error)}`);
    } finally {
      button.disabled = false;
      button.removeAttribute('aria-busy');
    }
  }

  // ----- start -----
  setState(p.tenant ? 'Computing the report…' : 'Choose a tenant and a month');
  (async () => {
    try {
      await ctx.directory.refresh();
    } catch (error) {
      if (ctx.isCurrent()) ctx.showProblem(`The tenants could not be listed: ${failureText(error)}`);
    }
    if (!ctx.isCurrent()) return;
    fillTenants();
    if (p.tenant) load({ tenant: p.tenant, site: p.site ?? '', month, tz: p.tz ?? '' });
  })();
}
