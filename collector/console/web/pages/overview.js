// Fleet overview: every tenant the token sees, its sites with their agents counted per status
// and their open alerts, worst first. The lists of tenants and sites carry no counts, so each
// site's summary is its own request (GET /api/v1/sites/{id}); to keep a large fleet's cost
// flat, at most SUMMARIES_PER_POLL of them are asked per poll, oldest first, so with more
// sites each is refreshed less often (every 5 s up to 20 sites, every 10 s up to 40, ...).

import { el, route, dataTable, emptyState, code, statusBadge, replaceKeepingFocus } from '../lib/dom.js';
import { STATUSES, TROUBLE_STATUSES } from '../lib/words.js';
import { eachLimited } from '../lib/api.js';

const SUMMARIES_PER_POLL = 20;

function trouble(summary) {
  if (!summary) return 0;
  return TROUBLE_STATUSES.reduce((n, s) => n + (summary.by_status?.[s] ?? 0), 0);
}

function worstFirst(a, b) {
  return trouble(b.summary) - trouble(a.summary)
    || (b.summary?.open_alerts ?? 0) - (a.summary?.open_alerts ?? 0)
    || a.name.localeCompare(b.name);
}

function addSummaries(into, summary) {
  if (!summary) return;
  into.agents += summary.agents ?? 0;
  for (const s of STATUSES) into.by_status[s] += summary.by_status?.[s] ?? 0;
  if (summary.open_alerts === null || summary.open_alerts === undefined) into.open_alerts_unknown = true;
  else into.open_alerts += summary.open_alerts;
}

function emptySummary() {
  return { agents: 0, by_status: Object.fromEntries(STATUSES.map((s) => [s, 0])), open_alerts: 0, open_alerts_unknown: false };
}

export function mount(ctx) {
  ctx.header('Fleet overview',
    'Each client (tenant) with its sites, worst first: sites with OFFLINE, UNREACHABLE or SUSPECT agents come first, then those with open alerts. Select a site to see its agents.');
  const totals = el('section', { class: 'totals', 'aria-label': 'Whole fleet in this token\'s scope' });
  const content = el('div', { class: 'overview' });
  ctx.root.append(totals, content);

  const summaries = new Map(); // site id -> { body, at }
  let shown = null;

  ctx.poll(async () => {
    const [tenants, sites] = await Promise.all([
      ctx.api.getAll('/api/v1/tenants?limit=1000'),
      ctx.api.getAll('/api/v1/sites?limit=1000'),
    ]);
    ctx.directory.absorb(tenants.items, sites.items);
    const due = [...sites.items]
      .sort((a, b) => (summaries.get(a.id)?.at ?? 0) - (summaries.get(b.id)?.at ?? 0))
      .slice(0, SUMMARIES_PER_POLL);
    await eachLimited(due, 4, async (site) => {
      try {
        const body = await ctx.api.get(`/api/v1/sites/${site.id}`);
        summaries.set(site.id, { body, at: Date.now() });
      } catch (error) {
        if (error.kind !== 'not_found') throw error;
        summaries.delete(site.id); // deleted since the list was read
      }
    });
    const key = [...tenants.pages, ...sites.pages, ...sites.items.map((s) => summaries.get(s.id)?.body)];
    if (shown && key.length === shown.length && key.every((v, i) => v === shown[i])) return;
    shown = key;
    if (!ctx.isCurrent()) return;
    render(tenants, sites);
  });

  function render(tenants, sites) {
    const fleet = emptySummary();
    const byTenant = new Map(tenants.items.map((t) => [t.id, { tenant: t, sites: [], summary: emptySummary() }]));
    for (const site of sites.items) {
      const summary = summaries.get(site.id)?.body?.summary ?? null;
      let group = byTenant.get(site.tenant_id);
      if (!group) {
        group = { tenant: { id: site.tenant_id, name: `tenant ${site.tenant_id}` }, sites: [], summary: emptySummary() };
        byTenant.set(site.tenant_id, group);
      }
      group.sites.push({ ...site, summary });
      addSummaries(group.summary, summary);
      addSummaries(fleet, summary);
    }

    replaceKeepingFocus(totals, fleetTotals(fleet, sites.items.length));

    if (tenants.items.length === 0 && sites.items.length === 0) {
      replaceKeepingFocus(content, emptyState('No tenants in this token\'s scope.',
        'An all-tenants admin token creates a tenant with POST /api/v1/tenants and a site with POST /api/v1/tenants/{tenant_id}/sites (docs/api.md).',
        'A token scoped to some tenants sees only those: ask your operator which tenants it covers.'));
      return;
    }

    const groups = [...byTenant.values()]
      .map((g) => ({ ...g, name: g.tenant.name }))
      .sort((a, b) => worstFirst({ name: a.name, summary: a.summary }, { name: b.name, summary: b.summary }));
    const sections = groups.map((g) => tenantSection(g));
    const noAgents = fleet.agents === 0 && sites.items.length > 0 && sites.items.every((s) => summaries.has(s.id));
    replaceKeepingFocus(content,
      noAgents ? emptyState('No agents yet.',
        el('span', {}, 'Enroll one on an endpoint with ',
          code(`vigil-agent --server ${location.origin} --token <enrollment token> --state-dir /var/lib/vigil/agent`), '.'),
        'An enrollment token for a site comes from POST /api/v1/sites/{site_id}/enrollment-tokens; the collector also wrote one for the default site at its first start (<data dir>/enroll-token). See docs/agent.md and docs/install.md.') : null,
      sections,
      tenants.complete && sites.complete ? null : el('p', { class: 'notice' }, 'Only the first 5,000 tenants or sites are shown.'));
  }

  function fleetTotals(fleet, siteCount) {
    const cards = STATUSES.map((status) => el('li', { class: ['stat', `stat-${status.toLowerCase()}`] },
      el('a', { href: route('#/agents', { status }) },
        el('span', { class: 'stat-number' }, String(fleet.by_status[status])), ' ', statusBadge(status))));
    return [
      el('h2', { class: 'sr-only' }, 'Whole fleet'),
      el('p', { class: 'fleet-line' },
        `${fleet.agents} ${fleet.agents === 1 ? 'agent' : 'agents'} in ${siteCount} ${siteCount === 1 ? 'site' : 'sites'}; `,
        el('a', { href: route('#/alerts', { state: 'open' }) },
          fleet.open_alerts_unknown ? 'open alerts (some counts failed)' : `${fleet.open_alerts} open ${fleet.open_alerts === 1 ? 'alert' : 'alerts'}`)),
      el('ul', { class: 'stats' }, cards),
    ];
  }

  function tenantSection(group) {
    const headingId = `tenant-${group.tenant.id}`;
    const s = group.summary;
    const line = [`${s.agents} ${s.agents === 1 ? 'agent' : 'agents'}`];
    for (const status of TROUBLE_STATUSES) if (s.by_status[status]) line.push(`${s.by_status[status]} ${status}`);
    line.push(s.open_alerts_unknown ? 'open alerts unknown' : `${s.open_alerts} open ${s.open_alerts === 1 ? 'alert' : 'alerts'}`);
    const sites = [...group.sites].sort(worstFirst);
    return el('section', { class: 'tenant', 'aria-labelledby': headingId, dataset: { tenantId: group.tenant.id } },
      el('h2', { id: headingId }, group.tenant.name),
      el('p', { class: 'tenant-line' }, line.join(' · ')),
      sites.length === 0
        ? emptyState('No sites yet.', `An admin token creates one with POST /api/v1/tenants/${group.tenant.id}/sites.`)
        : siteTable(group.tenant, sites));
  }

  function siteTable(tenant, sites) {
    const columns = [
      { label: 'Site', header: true },
      { label: 'Agents', class: 'num' },
      ...STATUSES.map((s) => ({ label: s, class: 'num' })),
      { label: 'Open alerts', class: 'num' },
    ];
    const rows = sites.map((site) => {
      const summary = site.summary;
      const counts = STATUSES.map((status) => {
        if (!summary) return el('span', { class: 'muted' }, '…');
        const n = summary.by_status?.[status] ?? 0;
        if (n === 0) return el('span', { class: 'zero' }, '0');
        return el('a', {
          href: route('#/agents', { tenant: tenant.id, site: site.id, status }),
          class: TROUBLE_STATUSES.includes(status) ? 'count-trouble' : null,
          'aria-label': `${n} ${status} in ${site.name}`,
        }, String(n));
      });
      const open = summary?.open_alerts;
      const alertsCell = !summary ? el('span', { class: 'muted' }, '…')
        : open === null ? el('span', { title: 'the collector could not count them' }, '?')
        : open === 0 ? el('span', { class: 'zero' }, '0')
        : el('a', { href: route('#/alerts', { state: 'open', site: site.id }), class: 'count-trouble', 'aria-label': `${open} open alerts in ${site.name}` }, String(open));
      return {
        attrs: { dataset: { siteId: site.id }, class: trouble(summary) > 0 ? 'row-trouble' : null },
        cells: [
          el('a', { href: route('#/agents', { tenant: tenant.id, site: site.id }), class: 'site-link' }, site.name),
          summary ? String(summary.agents) : el('span', { class: 'muted' }, '…'),
          ...counts,
          alertsCell,
        ],
      };
    });
    return dataTable({ caption: `Sites of ${tenant.name}`, columns, rows, className: 'sites' });
  }
}
