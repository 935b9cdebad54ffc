// Vigil's admin console (docs/console.md): the shell around the pages. It owns the session
// (the admin token, kept in this tab's sessionStorage and nowhere else), the hash routes, the
// health banner shown on every page, and the lifetime of each page's polling.

import { createApi } from './lib/api.js';
import { createDirectory } from './lib/directory.js';
import { createHealthFeed } from './lib/health.js';
import { Poller } from './lib/poller.js';
import { el, refreshRelativeTimes, timeEl } from './lib/dom.js';
import { failureText } from './lib/messages.js';
import * as signIn from './pages/signin.js';
import * as overview from './pages/overview.js';
import * as agents from './pages/agents.js';
import * as agentDetail from './pages/agent.js';
import * as alerts from './pages/alerts.js';
import * as maintenance from './pages/maintenance.js';
import * as reports from './pages/reports.js';
import * as health from './pages/health.js';
import * as notFound from './pages/notfound.js';

const TOKEN_KEY = 'vigil.console.adminToken';
const RELATIVE_TIME_REFRESH_MS = 15000;

const session = {
  token: sessionStorage.getItem(TOKEN_KEY),
  // Roles the collector refused this token (403 on an operation of that role): their buttons
  // are hidden for the rest of the session. The API does not say a token's role up front.
  deniedRoles: new Set(),
  signedOutMessage: '',
};

const api = createApi({
  getToken: () => session.token,
  onUnauthorized: (error) => endSession(failureText(error)),
});
const directory = createDirectory(api);

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const sessionBox = document.getElementById('session');
const healthFeed = createHealthFeed(api, document.getElementById('health-banner'));

let currentPage = null;

function startSession(token) {
  session.token = token;
  session.deniedRoles.clear();
  sessionStorage.setItem(TOKEN_KEY, token);
  session.signedOutMessage = '';
  showRoute();
}

function endSession(message = 'Signed out. The token is no longer kept in this tab.') {
  if (!session.token) return;
  session.token = null;
  session.deniedRoles.clear();
  sessionStorage.removeItem(TOKEN_KEY);
  session.signedOutMessage = message;
  api.clear();
  directory.clear();
  healthFeed.stop();
  showRoute();
}

// ----- routes -----

function parseHash() {
  const raw = location.hash.replace(/^#/, '');
  const at = raw.indexOf('?');
  const path = at < 0 ? raw : raw.slice(0, at);
  const params = Object.fromEntries(new URLSearchParams(at < 0 ? '' : raw.slice(at + 1)).entries());
  let parts;
  try {
    parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    return { page: notFound, section: '', params };
  }
  if (parts.length === 0 || (parts.length === 1 && parts[0] === 'overview')) return { page: overview, section: 'overview', params };
  if (parts[0] === 'agents' && parts.length === 1) return { page: agents, section: 'agents', params };
  if (parts[0] === 'agents' && parts.length === 2) return { page: agentDetail, section: 'agents', params, id: parts[1] };
  if (parts[0] === 'alerts' && parts.length === 1) return { page: alerts, section: 'alerts', params };
  if (parts[0] === 'maintenance' && parts.length === 1) return { page: maintenance, section: 'maintenance', params };
  if (parts[0] === 'reports' && parts.length === 1) return { page: reports, section: 'reports', params };
  if (parts[0] === 'health' && parts.length === 1) return { page: health, section: 'health', params };
  return { page: notFound, section: '', params };
}

function markNavigation(section) {
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.section === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

// One page's lifetime: its pollers and listeners end when another page replaces it.
class PageContext {
  constructor(routeInfo) {
    this.params = routeInfo.params;
    this.id = routeInfo.id;
    this.api = api;
    this.directory = directory;
    this.healthFeed = healthFeed;
    this.cleanups = [];
    this.current = true;
    this.root = main;
  }

  isCurrent() {
    return this.current;
  }

  onUnmount(fn) {
    this.cleanups.push(fn);
  }

  unmount() {
    this.current = false;
    for (const fn of this.cleanups.splice(0)) fn();
  }

  // The page's heading (focused on arrival, for screen readers and keyboards), the live
  // state line under it, and the place for its notices.
  header(title, ...intro) {
    document.title = `${title} · Vigil console`;
    const h1 = el('h1', { tabindex: '-1', id: 'page-title' }, title);
    this.stateText = el('span', { class: 'state-text' }, 'Loading…');
    this.problem = el('div', { class: 'problem', role: 'alert', id: 'page-problem' });
    this.notice = el('p', { class: 'notice', role: 'status', id: 'page-notice' });
    const head = el('div', { class: 'page-head' },
      h1,
      el('p', { class: 'page-state' }, el('span', { class: 'live-dot', 'aria-hidden': 'true' }), this.stateText),
      intro.length ? el('p', { class: 'intro' }, ...intro) : null);
    this.root.append(head, this.problem, this.notice);
    return h1;
  }

  // What went wrong, in words. A refreshed page clears only the problems of its refreshes: a
  // refused action stays said until the next action.
  showProblem(text, source = 'action') {
    this.problemSource = text ? source : null;
    if (this.problem.textContent !== text) {
      this.problem.replaceChildren(...(text ? [el('p', {}, text)] : []));
    }
  }

  // A short message after an action ("Alert 12 acknowledged."), announced politely.
  say(text) {
    this.notice.textContent = text;
  }

  // Polls `task` every 5 s while this page is shown; the state line says when the data was
  // last fresh, or what went wrong and when the next try is.
  poll(task) {
    const poller = new Poller(async () => {
      await task();
    }, {
      onState: (state) => {
        if (!this.current) return;
        if (state.ok) {
          this.stateText.replaceChildren('Live: updated ', timeEl(state.at.toISOString()), ', refreshed every 5 s');
          this.stateText.parentElement.classList.remove('stale');
          if (this.problemSource === 'poll') this.showProblem('');
        } else {
          this.stateText.replaceChildren('Not current: the last refresh failed');
          this.stateText.parentElement.classList.add('stale');
          this.showProblem(failureText(state.error, state.retryInMs), 'poll');
        }
      },
    });
    this.onUnmount(() => poller.stop());
    poller.start();
    return poller;
  }

  // Whether to offer an operation of `role`; false once the collector refused it.
  can(role) {
    return !session.deniedRoles.has(role);
  }

  // Called with the error of a refused write: a 403 hides that role's buttons from now on.
  refused(role, error) {
    if (error?.kind === 'forbidden') session.deniedRoles.add(role);
    this.showProblem(failureText(error));
  }

  signIn(token) {
    startSession(token);
  }

  get signedOutMessage() {
    return session.signedOutMessage;
  }
}

function showRoute() {
  currentPage?.unmount();
  currentPage = null;
  main.replaceChildren();
  const signedIn = Boolean(session.token);
  nav.hidden = !signedIn;
  sessionBox.hidden = !signedIn;
  const routeInfo = signedIn ? parseHash() : { page: signIn, section: '', params: {} };
  markNavigation(routeInfo.section);
  if (signedIn) healthFeed.start();
  const context = new PageContext(routeInfo);
  currentPage = context;
  try {
    routeInfo.page.mount(context);
  } catch (error) {
    main.append(el('p', { class: 'problem' }, failureText(error)));
  }
  (context.focusOnArrival ?? main.querySelector('h1'))?.focus();
}

// ----- shell -----

document.getElementById('sign-out').addEventListener('click', () => endSession());

// The skip link moves focus without touching the hash, which holds the route.
document.getElementById('skip-link').addEventListener('click', (event) => {
  event.preventDefault();
  const heading = main.querySelector('h1');
  (heading ?? main).focus();
});

window.addEventListener('hashchange', showRoute);

// Keeps "(3 min ago)" current; nothing is fetched for it.
setInterval(() => {
  if (!document.hidden) refreshRelativeTimes(main);
}, RELATIVE_TIME_REFRESH_MS);

if (!location.hash) history.replaceState(null, '', '#/overview');
showRoute();
