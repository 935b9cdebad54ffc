// Maintenance windows: the list (100 at a time, by id) with delete, and the form that creates
// one exactly as POST /api/v1/maintenance-windows takes it: one target (tenant, site or
// agent), a start, a length (a duration or an end), once or weekly, and a note.

import {
  el, route, dataTable, emptyState, timeEl, field, selectEl, durationText, replaceKeepingFocus, uniqueId,
} from '../lib/dom.js';
import { confirmAction } from '../lib/dialog.js';

const PAGE_SIZE = 100;
const MIN_S = 60;
const MAX_S = 31 * 86400;
const MAX_WEEKLY_S = 7 * 86400 - 60;

// "2026-12-07T21:30" in the browser's zone, as a datetime-local input shows it.
function localInputValue(date) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function radio(name, value, label, checked) {
  const input = el('input', { type: 'radio', name, value, id: uniqueId(`${name}-${value}`), checked });
  return { input, node: el('div', { class: 'radio' }, input, el('label', { for: input.id }, label)) };
}

export function mount(ctx) {
  const p = ctx.params;
  ctx.header('Maintenance windows',
    'While a window is open, the agents it covers are MAINTENANCE instead of SUSPECT, OFFLINE or UNREACHABLE, and their silence raises no alert.');

  // ----- the form -----
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'this browser\'s zone';
  const initialTarget = p.agent ? 'agent' : p.site ? 'site' : 'tenant';
  const targets = [radio('target', 'tenant', 'A whole tenant', initialTarget === 'tenant'),
    radio('target', 'site', 'A site', initialTarget === 'site'),
    radio('target', 'agent', 'One agent', initialTarget === 'agent')];
  const tenantSelect = selectEl({ id: 'mw-tenant', name: 'tenant_id' }, [['', 'Loading tenants…']], p.tenant);
  const siteSelect = selectEl({ id: 'mw-site', name: 'site_id' }, [['', 'Loading sites…']], p.site);
  const agentInput = el('input', { type: 'text', id: 'mw-agent', name: 'agent_id', value: p.agent ?? '', maxlength: 128, autocomplete: 'off', spellcheck: 'false' });
  const startsInput = el('input', { type: 'datetime-local', id: 'mw-starts', name: 'starts_at', value: localInputValue(new Date()), required: true });
  const lengths = [radio('length', 'duration', 'For a duration', true), radio('length', 'until', 'Until a time', false)];
  const minutesInput = el('input', { type: 'number', id: 'mw-minutes', name: 'minutes', min: 1, max: MAX_S / 60, step: 1, value: 60, inputmode: 'numeric' });
  const endsInput = el('input', { type: 'datetime-local', id: 'mw-ends', name: 'ends_at' });
  const recurrence = selectEl({ id: 'mw-recurrence', name: 'recurrence' }, [['once', 'Once'], ['weekly', 'Every week at the same time']], 'once');
  const noteInput = el('input', { type: 'text', id: 'mw-note', name: 'note', maxlength: 1000, autocomplete: 'off' });
  const formProblem = el('div', { class: 'problem', role: 'alert', id: 'mw-problem' });
  const submit = el('button', { type: 'submit', class: 'button primary', id: 'mw-create' }, 'Create window');

  const tenantField = field('Tenant', tenantSelect);
  const siteField = field('Site', siteSelect);
  const agentField = field('Agent id', agentInput, 'The ag_… id shown on the agent\'s page; "Plan maintenance for this agent" there fills it in.');
  const minutesField = field('Duration in minutes', minutesInput, 'From 1 minute to 31 days; a weekly window at most 7 days less a minute.');
  const endsField = field(`Ends (${zone})`, endsInput);

  function showFields() {
    const target = targets.find((t) => t.input.checked).input.value;
    tenantField.hidden = target !== 'tenant';
    siteField.hidden = target !== 'site';
    agentField.hidden = target !== 'agent';
    const until = lengths[1].input.checked;
    minutesField.hidden = until;
    endsField.hidden = !until;
  }
  for (const r of [...targets, ...lengths]) r.input.addEventListener('change', showFields);
  showFields();

  const form = el('form', { class: 'maintenance-form', 'aria-labelledby': 'mw-form-title', novalidate: true },
    el('h2', { id: 'mw-form-title' }, 'Plan a window'),
    el('fieldset', {}, el('legend', {}, 'What it covers'), el('div', { class: 'radios' }, targets.map((t) => t.node))),
    tenantField, siteField, agentField,
    field(`Starts (${zone})`, startsInput, 'A start in the past opens the window at once.'),
    el('fieldset', {}, el('legend', {}, 'How long'), el('div', { class: 'radios' }, lengths.map((l) => l.node))),
    minutesField, endsField,
    field('Repeats', recurrence, 'Weekly windows follow UTC: against local time they shift by an hour when daylight saving time changes.'),
    field('Note (optional)', noteInput),
    formProblem,
    el('div', { class: 'actions' }, submit));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = buildBody();
    if (typeof body === 'string') {
      formProblem.replaceChildren(el('p', {}, body));
      return;
    }
    formProblem.replaceChildren();
    submit.disabled = true;
    try {
      const created = await ctx.api.post('/api/v1/maintenance-windows', body);
      ctx.say(`Maintenance window #${created.id} created${created.active ? '; it is open now' : ''}.`);
      noteInput.value = '';
      shown = null;
      poller.runNow();
    } catch (error) {
      if (error.kind === 'client') formProblem.replaceChildren(el('p', {}, `The collector refused the window: ${error.message}`));
      else ctx.refused('operator', error);
      if (error.kind === 'forbidden') showNotAllowed();
    } finally {
      submit.disabled = false;
    }
  });

  // The request body, or a sentence saying what to correct.
  function buildBody() {
    const target = targets.find((t) => t.input.checked).input.value;
    const body = {};
    if (target === 'tenant') {
      if (!tenantSelect.value) return 'Choose the tenant the window covers.';
      body.tenant_id = Number(tenantSelect.value);
    } else if (target === 'site') {
      if (!siteSelect.value) return 'Choose the site the window covers.';
      body.site_id = Number(siteSelect.value);
    } else {
      const agentId = agentInput.value.trim();
      if (!agentId) return 'Enter the id of the agent the window covers (ag_…).';
      body.agent_id = agentId;
    }
    const starts = new Date(startsInput.value);
    if (!startsInput.value || Number.isNaN(starts.getTime())) return 'Enter when the window starts.';
    body.starts_at = starts.toISOString();
    body.recurrence = recurrence.value;
    const max = body.recurrence === 'weekly' ? MAX_WEEKLY_S : MAX_S;
    let seconds;
    if (lengths[1].input.checked) {
      const ends = new Date(endsInput.value);
      if (!endsInput.value || Number.isNaN(ends.getTime())) return 'Enter when the window ends.';
      seconds = (ends.getTime() - starts.getTime()) / 1000;
      body.ends_at = ends.toISOString();
    } else {
      const minutes = Number(minutesInput.value);
      if (!Number.isInteger(minutes) || minutes < 1) return 'Enter the duration in whole minutes, at least 1.';
      seconds = minutes * 60;
      body.duration_s = seconds;
    }
    if (seconds < MIN_S) return 'A window lasts at least one minute: the end must come after the start.';
    if (seconds > max) return `A ${body.recurrence === 'weekly' ? 'weekly ' : ''}window lasts at most ${durationText(max)}.`;
    const note = noteInput.value.trim();
    if (note) body.note = note;
    return body;
  }

  // ----- the list -----
  const list = el('section', { class: 'windows', 'aria-labelledby': 'mw-list-title' },
    el('h2', { id: 'mw-list-title' }, 'Windows'), el('p', { class: 'muted' }, 'Loading…'));
  ctx.root.append(list, form);

  const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (p.cursor) query.set('cursor', p.cursor);
  const url = `/api/v1/maintenance-windows?${query}`;
  let shown = null;
  let selectsFilled = false;

  const poller = ctx.poll(async () => {
    await ctx.directory.refresh();
    if (!selectsFilled && ctx.isCurrent()) {
      selectsFilled = true;
      fillSelects();
    }
    const page = await ctx.api.get(url);
    await ctx.directory.resolveAgents(page.items.map((w) => w.agent_id).filter(Boolean));
    if (page === shown || !ctx.isCurrent()) return;
    shown = page;
    render(page);
  });

  function fillSelects() {
    const tenants = ctx.directory.tenants();
    tenantSelect.replaceChildren(...[['', tenants.length ? 'Choose a tenant' : 'No tenant in this token\'s scope'], ...tenants.map((t) => [t.id, t.name])]
      .map(([value, label]) => el('option', { value, selected: String(value) === String(p.tenant ?? '') }, label)));
    const sites = ctx.directory.sites();
    siteSelect.replaceChildren(...[['', sites.length ? 'Choose a site' : 'No site in this token\'s scope'],
      ...sites.map((s) => [s.id, `${s.name} (${ctx.directory.tenantName(s.tenant_id)})`])]
      .map(([value, label]) => el('option', { value, selected: String(value) === String(p.site ?? '') }, label)));
  }

  function targetOf(w) {
    if (w.scope === 'agent') {
      const name = ctx.directory.agentName(w.agent_id);
      return el('span', {}, 'Agent ', el('a', { href: `#/agents/${encodeURIComponent(w.agent_id)}` }, name ?? w.agent_id));
    }
    if (w.scope === 'site') {
      return el('span', {}, 'Site ', el('a', { href: route('#/agents', { tenant: w.tenant_id, site: w.site_id }) }, ctx.directory.siteName(w.site_id)),
        ` (${ctx.directory.tenantName(w.tenant_id)})`);
    }
    return el('span', {}, 'Tenant ', el('a', { href: route('#/agents', { tenant: w.tenant_id }) }, ctx.directory.tenantName(w.tenant_id)));
  }

  function render(page) {
    const heading = el('h2', { id: 'mw-list-title' }, `${page.items.length} ${page.items.length === 1 ? 'window' : 'windows'}${page.next_cursor ? ' on this page' : ''}`);
    if (page.items.length === 0) {
      replaceKeepingFocus(list, heading, emptyState('No maintenance windows.',
        'Plan one below before patch nights or moves, so that planned silence raises no alert.'));
      return;
    }
    const rows = page.items.map((w) => ({
      attrs: { dataset: { windowId: w.id, active: w.active ? 'yes' : 'no' } },
      cells: [
        targetOf(w),
        timeEl(w.starts_at),
        timeEl(w.ends_at),
        durationText(w.duration_s),
        w.recurrence === 'weekly' ? 'weekly' : 'once',
        w.active ? el('span', { class: 'flag flag-active' }, 'open now') : el('span', { class: 'muted' }, 'not now'),
        w.note || el('span', { class: 'muted' }, '—'),
        w.created_by,
        ctx.can('operator')
          ? el('button', {
            type: 'button', class: 'button secondary small', dataset: { focusKey: `delete-${w.id}`, action: 'delete' },
            'aria-label': `Delete window #${w.id}`, onclick: () => remove(w),
          }, 'Delete')
          : el('span', { class: 'muted' }, '—'),
      ],
    }));
    const pager = el('nav', { class: 'pager', 'aria-label': 'Pages of maintenance windows' },
      p.cursor ? el('a', { href: route('#/maintenance', { ...p, cursor: '' }) }, 'First page') : null,
      page.next_cursor ? el('a', { href: route('#/maintenance', { ...p, cursor: page.next_cursor }) }, 'Next page') : null);
    replaceKeepingFocus(list, heading, dataTable({
      caption: 'Maintenance windows, by id',
      columns: [{ label: 'Covers', header: true }, { label: 'Starts' }, { label: 'Ends' }, { label: 'Length' },
        { label: 'Repeats' }, { label: 'Active' }, { label: 'Note' }, { label: 'Created by' }, { label: 'Actions' }],
      rows,
      className: 'windows-table',
    }), pager.childElementCount ? pager : null);
  }

  async function remove(w) {
    const { confirmed } = await confirmAction({
      title: `Delete maintenance window #${w.id}?`,
      body: w.active
        ? 'It is open now and closes at once: the agents it covers are judged again, and one that is still silent goes SUSPECT and then OFFLINE with an alert.'
        : 'It will not open again.',
      confirmLabel: 'Delete window',
      danger: true,
    });
    if (!confirmed) return;
    try {
      await ctx.api.delete(`/api/v1/maintenance-windows/${w.id}`);
      ctx.say(`Maintenance window #${w.id} deleted.`);
      ctx.showProblem('');
    } catch (error) {
      if (error.kind === 'not_found') ctx.say(`Maintenance window #${w.id} was already deleted.`);
      else ctx.refused('operator', error);
    }
    shown = null;
    poller.runNow();
  }

  function showNotAllowed() {
    form.replaceChildren(el('h2', { id: 'mw-form-title' }, 'Plan a window'),
      el('p', { id: 'mw-not-allowed' }, 'This token may not plan maintenance: the collector refused an operator\'s operation in this session. Sign in with an operator or admin token.'));
    shown = null;
    poller.runNow();
  }
  if (!ctx.can('operator')) showNotAllowed();
  if (p.agent) ctx.focusOnArrival = startsInput;
}
