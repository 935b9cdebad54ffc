// Agents: the list with the API's filters (tenant, site, status, host name or id, retired)
// and its orders (by id, or by last seen either way), 50 at a time by the API's cursors. The
// filters and the order are in the address (#/agents?site=3&sort=-last_seen), so a view can
// be bookmarked and the browser's Back button works; the token never is.

import {
  el, route, dataTable, emptyState, code, statusBadge, timeEl, field, selectEl, replaceKeepingFocus,
} from '../lib/dom.js';
import { STATUSES, TROUBLE_STATUSES, degradationText } from '../lib/words.js';

const PAGE_SIZE = 50;
// Cursor of the page before each page seen in this tab, for "Previous page".
const previousCursor = new Map();

// The API's `sort` values: a cursor continues only the order it came from.
const SORTS = [
  ['id', 'By id'],
  ['-last_seen', 'Last seen, most recent first'],
  ['last_seen', 'Last seen, longest silent first'],
];

export function mount(ctx) {
  const p = ctx.params;
  ctx.header('Agents');
  const sort = SORTS.some(([v]) => v === p.sort) ? p.sort : 'id';

  // ----- filters -----
  const tenantSelect = selectEl({ name: 'tenant', id: 'filter-tenant' }, [['', 'All tenants']], p.tenant);
  const siteSelect = selectEl({ name: 'site', id: 'filter-site' }, [['', 'All sites']], p.site);
  const statusOptions = [['', 'Any status'], [TROUBLE_STATUSES.join(','), 'Needs attention (OFFLINE, UNREACHABLE, SUSPECT)'],
    ...STATUSES.map((s) => [s, s])];
  const statusSelect = selectEl({ name: 'status', id: 'filter-status' }, statusOptions, p.status);
  if (p.status && !statusOptions.some(([v]) => v === p.status)) {
    statusSelect.append(el('option', { value: p.status, selected: true }, p.status));
  }
  const search = el('input', { type: 'search', name: 'q', id: 'filter-q', value: p.q ?? '', maxlength: 200, autocomplete: 'off' });
  const retired = el('input', { type: 'checkbox', name: 'retired', id: 'filter-retired', checked: p.retired === 'yes' });
  const sortSelect = selectEl({ id: 'agents-order' }, SORTS, sort);

  function fillSites() {
    const wanted = siteSelect.value || p.site;
    const sites = ctx.directory.sites(tenantSelect.value);
    siteSelect.replaceChildren(...[['', 'All sites'], ...sites.map((s) => [s.id, tenantSelect.value ? s.name : `${s.name} (${ctx.directory.tenantName(s.tenant_id)})`])]
      .map(([value, label]) => el('option', { value, selected: String(value) === String(wanted ?? '') }, label)));
  }
  function fillTenants() {
    const tenants = ctx.directory.tenants();
    tenantSelect.replaceChildren(...[['', 'All tenants'], ...tenants.map((t) => [t.id, t.name])]
      .map(([value, label]) => el('option', { value, selected: String(value) === String(p.tenant ?? '') }, label)));
    fillSites();
  }
  tenantSelect.addEventListener('change', () => {
    siteSelect.value = '';
    fillSites();
  });

  const form = el('form', { class: 'filters', 'aria-label': 'Filter agents' },
    field('Tenant', tenantSelect),
    field('Site', siteSelect),
    field('Status', statusSelect),
    field('Host name or id contains', search),
    field('Order', sortSelect),
    el('div', { class: 'field checkbox' }, retired, el('label', { for: retired.id }, 'Include retired agents')),
    el('div', { class: 'actions' },
      el('button', { type: 'submit', class: 'button primary' }, 'Apply filters'),
      el('a', { href: '#/agents', class: 'button secondary' }, 'Clear')));
  // Applying starts again at the first page: a cursor belongs to the filters and the order it
  // came from.
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    location.hash = route('#/agents', {
      tenant: tenantSelect.value, site: siteSelect.value, status: statusSelect.value,
      q: search.value.trim(), retired: retired.checked ? 'yes' : '', sort: sortSelect.value === 'id' ? '' : sortSelect.value,
    });
  });

  const results = el('section', { class: 'results', 'aria-labelledby': 'results-title' },
    el('h2', { id: 'results-title' }, 'Agents'), el('p', { class: 'muted' }, 'Loading…'));
  ctx.root.append(form, results);

  // ----- data -----
  const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (p.tenant) query.set('tenant_id', p.tenant);
  if (p.site) query.set('site_id', p.site);
  if (p.status) query.set('status', p.status);
  if (p.q) query.set('q', p.q);
  query.set('include_retired', p.retired === 'yes' ? 'true' : 'false');
  if (sort !== 'id') query.set('sort', sort);
  if (p.cursor) query.set('cursor', p.cursor);
  const url = `/api/v1/agents?${query}`;

  let lastPage = null;
  let tenantsShown = false;
  ctx.poll(async () => {
    await ctx.directory.refresh();
    if (!tenantsShown && ctx.isCurrent()) {
      tenantsShown = true;
      fillTenants();
    }
    const page = await ctx.api.get(url);
    if (page === lastPage || !ctx.isCurrent()) return;
    lastPage = page;
    ctx.directory.rememberAgents(page.items);
    renderList(page);
  });

  function filtered() {
    return Boolean(p.tenant || p.site || p.status || p.q);
  }

  function renderList(page) {
    const items = page.items;
    const count = `${items.length} ${items.length === 1 ? 'agent' : 'agents'}${page.next_cursor ? ' on this page' : ''}`;
    const heading = el('h2', { id: 'results-title' }, count);
    if (items.length === 0) {
      replaceKeepingFocus(results, heading, filtered() || p.cursor
        ? emptyState('No agents match these filters.', el('a', { href: '#/agents' }, 'Show all agents'))
        : emptyState('No agents yet.',
          el('span', {}, 'Enroll one on an endpoint with ',
            code(`vigil-agent --server ${location.origin} --token <enrollment token>`), '.'),
          'Enrollment tokens come from POST /api/v1/sites/{site_id}/enrollment-tokens (docs/api.md); installers are in docs/install.md.'));
      return;
    }
    const columns = [
      { label: 'Host', header: true },
      { label: 'Status' },
      { label: 'Since' },
      { label: 'Last seen' },
      { label: 'Tenant / site' },
      { label: 'System' },
      { label: 'Agent' },
    ];
    const rows = items.map((a) => ({
      attrs: { dataset: { agentId: a.id, status: a.status }, class: TROUBLE_STATUSES.includes(a.status) ? 'row-trouble' : null },
      cells: [
        el('span', { class: 'host-cell' },
          el('a', { href: `#/agents/${encodeURIComponent(a.id)}`, class: 'agent-link', dataset: { focusKey: `agent-${a.id}` } }, a.hostname || a.id),
          el('span', { class: 'agent-id' }, a.id)),
        el('span', { class: 'status-cell' }, statusBadge(a.status), ' ', el('span', { class: 'reason' }, a.status_text ?? ''),
          flags(a)),
        timeEl(a.status_since, { relative: true, unset: 'not known' }),
        timeEl(a.last_seen_at, { relative: true, unset: 'never' }),
        el('span', {}, ctx.directory.tenantName(a.tenant_id), ' / ',
          el('a', { href: route('#/agents', { tenant: a.tenant_id, site: a.site_id }) }, ctx.directory.siteName(a.site_id))),
        [a.os_name, a.os_version].filter(Boolean).join(' ') || el('span', { class: 'muted' }, 'not reported'),
        a.agent_version || el('span', { class: 'muted' }, '—'),
      ],
    }));
    const pager = el('nav', { class: 'pager', 'aria-label': 'Pages of agents' },
      p.cursor ? el('a', { href: route('#/agents', { ...p, cursor: '' }) }, 'First page') : null,
      p.cursor && previousCursor.has(p.cursor)
        ? el('a', { href: route('#/agents', { ...p, cursor: previousCursor.get(p.cursor) }) }, 'Previous page') : null,
      page.next_cursor ? el('a', {
        href: route('#/agents', { ...p, cursor: page.next_cursor }),
        onclick: () => previousCursor.set(page.next_cursor, p.cursor ?? ''),
      }, 'Next page') : null);
    replaceKeepingFocus(results, heading,
      dataTable({ caption: 'Agents', columns, rows, className: 'agents' }),
      pager.childElementCount ? pager : null);
  }

  function flags(a) {
    const list = [];
    if (a.retired_at) list.push(el('span', { class: 'flag' }, 'retired'));
    if (a.alert_open) list.push(el('span', { class: 'flag flag-alert' }, 'alert open'));
    if (a.held) list.push(el('span', { class: 'flag flag-held', title: (a.held_by ?? []).map(degradationText).join('; ') }, 'verdict held'));
    if (a.flapping) list.push(el('span', { class: 'flag' }, 'flapping'));
    return list.length ? el('span', { class: 'flags' }, ' ', list) : null;
  }
}
