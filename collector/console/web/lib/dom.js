// Building the console's DOM. Every text, wherever it comes from, becomes a text node: nothing
// here parses HTML, so a host name such as `<img src=x onerror=...>` is shown as those
// characters. Attributes are set one by one; event handlers are listeners, never attributes;
// links may only point inside the console; inline styles are refused (the CSP forbids them).

const SAFE_HREF = /^(#|\/(?!\/))/;

export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on')) {
      if (typeof value !== 'function') throw new Error(`el: ${name} must be a function`);
      node.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === 'style') {
      throw new Error('el: inline styles are not allowed; use a class');
    } else if (name === 'class') {
      node.className = Array.isArray(value) ? value.filter(Boolean).join(' ') : value;
    } else if (name === 'dataset') {
      for (const [key, v] of Object.entries(value)) node.dataset[key] = String(v);
    } else if (name === 'href') {
      const href = String(value);
      if (!SAFE_HREF.test(href)) throw new Error('el: a link may only point inside the console');
      node.setAttribute('href', href);
    } else if (name === 'value' && 'value' in node) {
      node.value = String(value);
    } else if (name === 'checked' || name === 'selected') {
      node[name] = Boolean(value);
    } else {
      node.setAttribute(name, value === true ? '' : String(value));
    }
  }
  appendAll(node, children);
  return node;
}

function appendAll(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) appendAll(node, child);
    else if (child instanceof Node) node.appendChild(child);
    else node.appendChild(document.createTextNode(String(child)));
  }
}

// Replaces the children of `container`, keeping keyboard focus on the element with the same
// `data-focus-key` if focus was inside it, so a live update never throws the user's place away.
export function replaceKeepingFocus(container, ...children) {
  const active = document.activeElement;
  const key = active && container.contains(active) ? active.dataset.focusKey : undefined;
  container.replaceChildren();
  appendAll(container, children);
  if (key !== undefined) {
    const again = container.querySelector(`[data-focus-key="${CSS.escape(key)}"]`);
    if (again) again.focus({ preventScroll: true });
  }
}

// A text shown to screen readers only.
export function srOnly(text) {
  return el('span', { class: 'sr-only' }, text);
}

// ----- times -----

const dateTime = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: 'numeric',
  hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short',
});
const timeOnly = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short',
});
const clockOnly = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit', minute: '2-digit', timeZoneName: 'short',
});

function sameLocalDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

// "2026-11-23 08:00:00 UTC", for the title of every <time>.
export function utcText(date) {
  return date.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

export function localText(date, { short = false } = {}) {
  if (short) return clockOnly.format(date);
  return sameLocalDay(date, new Date()) ? timeOnly.format(date) : dateTime.format(date);
}

// "5 s ago", "3 min ago", "in 40 s".
export function relativeText(date, now = Date.now()) {
  const seconds = Math.round((date.getTime() - now) / 1000);
  const ago = seconds <= 0;
  const text = durationText(Math.abs(seconds));
  return ago ? `${text} ago` : `in ${text}`;
}

export function durationText(totalSeconds) {
  let s = Math.max(0, Math.round(totalSeconds));
  if (s < 60) return `${s} s`;
  const days = Math.floor(s / 86400); s -= days * 86400;
  const hours = Math.floor(s / 3600); s -= hours * 3600;
  const minutes = Math.floor(s / 60); s -= minutes * 60;
  const parts = [];
  if (days) parts.push(`${days} d`);
  if (hours) parts.push(`${hours} h`);
  if (minutes && !days) parts.push(`${minutes} min`);
  if (s && !days && !hours) parts.push(`${s} s`);
  return parts.join(' ');
}

// A <time> in the browser's zone with the UTC time in its title; `relative` adds "(3 min ago)",
// which the clock ticker keeps current. An unset time shows `unset`.
export function timeEl(iso, { relative = false, short = false, unset = 'never' } = {}) {
  if (!iso) return el('span', { class: 'muted' }, unset);
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return el('span', {}, String(iso));
  const node = el('time', { datetime: date.toISOString(), title: utcText(date) }, localText(date, { short }));
  if (!relative) return node;
  const rel = el('span', { class: 'relative', dataset: { relativeTo: date.toISOString() } }, ` (${relativeText(date)})`);
  return el('span', { class: 'when' }, node, rel);
}

// Keeps every "(3 min ago)" current without touching the data: one timer for the whole page.
export function refreshRelativeTimes(root = document) {
  const now = Date.now();
  for (const node of root.querySelectorAll('[data-relative-to]')) {
    node.textContent = ` (${relativeText(new Date(node.dataset.relativeTo), now)})`;
  }
}

// ----- small widgets -----

export function statusBadge(status, attrs = {}) {
  const known = /^[A-Z]+$/.test(status ?? '') ? status.toLowerCase() : 'unknown';
  return el('span', { class: ['status', `status-${known}`], dataset: { status: status ?? '' }, ...attrs }, status ?? 'UNKNOWN');
}

export function link(href, ...children) {
  return el('a', { href }, ...children);
}

// A hash route with its query: route('#/agents', {site: 3, q: ''}) -> '#/agents?site=3'.
export function route(path, params = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') query.set(key, String(value));
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

// A table that reads as a table at 1280 px and as one card per row on a phone: each cell
// carries its column name for the narrow layout.
export function dataTable({ caption, columns, rows, className }) {
  const head = el('thead', {}, el('tr', {}, columns.map((c) => el('th', { scope: 'col', class: c.class }, c.label))));
  const body = el('tbody', {}, rows.map((row) => {
    const tr = el('tr', row.attrs ?? {});
    row.cells.forEach((cell, i) => {
      const column = columns[i];
      const tag = column.header ? 'th' : 'td';
      // One wrapper per cell: the narrow layout lays a cell out as its label and this.
      tr.appendChild(el(tag, { 'data-label': column.label, class: column.class, scope: column.header ? 'row' : null },
        el('div', { class: 'cell' }, cell)));
    });
    return tr;
  }));
  return el('table', { class: ['data', className] }, caption ? el('caption', {}, caption) : null, head, body);
}

// A definition list of label/value pairs; values may be nodes or text.
export function facts(pairs) {
  return el('dl', { class: 'facts' }, pairs.filter(Boolean).map(([label, value]) => [
    el('dt', {}, label),
    el('dd', {}, value === null || value === undefined || value === '' ? el('span', { class: 'muted' }, 'not reported') : value),
  ]));
}

// What a page shows when there is nothing to show: what it means and what to do.
export function emptyState(title, ...advice) {
  return el('div', { class: 'empty' }, el('p', { class: 'empty-title' }, title), advice.map((a) => el('p', {}, a)));
}

export function code(text) {
  return el('code', {}, text);
}

let idCounter = 0;
export function uniqueId(prefix) {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

// A labelled form field: the label is tied to the control by id.
export function field(labelText, control, hint) {
  if (!control.id) control.id = uniqueId('field');
  let hintNode = null;
  if (hint) {
    hintNode = el('p', { class: 'hint', id: `${control.id}-hint` }, hint);
    control.setAttribute('aria-describedby', hintNode.id);
  }
  return el('div', { class: 'field' }, el('label', { for: control.id }, labelText), control, hintNode);
}

export function selectEl(attrs, options, selectedValue) {
  return el('select', attrs, options.map(([value, label]) =>
    el('option', { value, selected: String(value) === String(selectedValue ?? '') }, label)));
}
