// Browser test of the admin console (docs/console.md, issue 22): Debian's chromium, driven by
// playwright-core, against a real vigil-collector and real vigil-agent processes on loopback.
//
//   VIGIL_COLLECTOR=build/bin/vigil-collector VIGIL_AGENT=build/bin/vigil-agent \
//     node tests/browser/console_test.mjs
//
// Environment: VIGIL_COLLECTOR, VIGIL_AGENT (required), VIGIL_CHROMIUM (default
// /usr/bin/chromium), VIGIL_SCREENSHOT_DIR (default ./console-screenshots), VIGIL_KEEP_TMP=1
// keeps the temporary directory (logs, databases) even when every step passed.
//
// Prints one PASS or FAIL line per step and exits 1 if any step failed. A step whose
// precondition failed is reported FAIL ("not attempted"), never skipped. Every process it
// started is killed on exit, also on failure, on SIGINT/SIGTERM and on its own deadline.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import {
  Agent, Collector, checkBinaries, killEverything, launchChromium, sleep, tail, until,
} from './lab.mjs';

const require = createRequire(import.meta.url);
const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const SCREENSHOT_DIR = path.resolve(process.env.VIGIL_SCREENSHOT_DIR || './console-screenshots');
// Below ctest's TIMEOUT (600 s), so the test cleans up itself rather than being killed.
const DEADLINE_MS = 540_000;

// Collector settings for a run of minutes rather than hours; everything else is the shipped
// default. heartbeat 2 s: a dead agent is late within seconds. Confirmation window 15 s: the
// SUSPECT phase outlasts the console's 5 s refresh, so the test can see it. Recovery period
// 20 s: the degradation after a freeze lingers long enough for the console to show it (the
// default is one heartbeat interval plus jitter, 2.2 s here). beacon.port 0: a free port, so
// the test runs beside any other collector.
const COLLECTOR_SETTINGS = {
  'heartbeat.intervalSeconds': '2',
  'presence.confirmationWindowSeconds': '15',
  'presence.recoveryPeriodSeconds': '20',
  'beacon.port': '0',
};

const XSS_HOSTNAME = '<img src=x onerror=alert(1)>';

// ----- steps -----

const STEPS = {
  1: 'sign in with the admin token and see a real agent ONLINE',
  2: 'kill -9 the agent: SUSPECT, then OFFLINE with an alert, without reloading',
  3: 'acknowledge the alert; restart the agent and see the alert resolved',
  4: 'create a maintenance window in the console; the next death is MAINTENANCE; delete it',
  5: 'SIGSTOP and SIGCONT the collector: the degraded banner appears in words, then clears',
  6: 'a token scoped to one tenant cannot see another tenant\'s site',
  7: 'an agent enrolled with the host name <img src=x onerror=alert(1)> shows that text, and no script runs',
  8: 'axe-core finds no serious or critical violation on any page; the skip link works from the keyboard',
  9: 'a screenshot of each page at 1280 px and at 390 px',
  10: 'retire an agent in the console, after a confirmation',
  11: 'live updates cost: ETag polling, one request per resource per 5 s, nothing while hidden',
  12: 'an availability report of this month shows the agent and the totals; its CSV and printable HTML download',
  13: 'no Content-Security-Policy violation and no script error in the whole run',
};

const results = [];

async function step(number, needs, body) {
  const title = STEPS[number];
  const missing = needs.filter((n) => !results.find((r) => r.number === n)?.ok);
  if (missing.length) {
    results.push({ number, ok: false });
    console.log(`FAIL step ${number}: ${title}: not attempted, because step ${missing.join(', ')} failed`);
    return;
  }
  const started = Date.now();
  try {
    const detail = await body();
    results.push({ number, ok: true });
    console.log(`PASS step ${number}: ${title} (${((Date.now() - started) / 1000).toFixed(1)} s)${detail ? `: ${detail}` : ''}`);
  } catch (error) {
    results.push({ number, ok: false });
    console.log(`FAIL step ${number}: ${title} (${((Date.now() - started) / 1000).toFixed(1)} s): ${error.message}`);
    await failureEvidence(`step-${number}`);
  }
}

let page;
let collector;
let agent;
const dialogs = [];
const pageErrors = [];
const cspViolations = [];
const requests = [];

async function failureEvidence(name) {
  try {
    if (page) await page.screenshot({ path: path.join(SCREENSHOT_DIR, `FAILED-${name}.png`), fullPage: true });
  } catch { /* the browser may be gone */ }
  if (collector) console.log(`  collector log (${collector.log}) ends with:\n${tail(collector.log, 15).replace(/^/gm, '    ')}`);
  if (agent) console.log(`  agent log (${agent.log}) ends with:\n${tail(agent.log, 10).replace(/^/gm, '    ')}`);
}

// ----- helpers on the page -----

const q = (selector) => page.locator(selector);

async function see(selector, what, timeoutMs = 15_000) {
  try {
    await q(selector).first().waitFor({ state: 'visible', timeout: timeoutMs });
  } catch {
    throw new Error(`${what}: ${selector} not shown within ${timeoutMs / 1000} s`);
  }
}

async function gone(selector, what, timeoutMs = 15_000) {
  try {
    await q(selector).first().waitFor({ state: 'detached', timeout: timeoutMs });
  } catch {
    throw new Error(`${what}: ${selector} still shown after ${timeoutMs / 1000} s`);
  }
}

// In-app navigation (the hash changes, the document stays): waits until the new page has
// replaced the old one, so that what is looked for next is on the new page.
async function navigate(action) {
  await page.evaluate(() => document.querySelector('main h1')?.setAttribute('data-left', ''));
  await action();
  await see('main h1:not([data-left])', 'the next page');
}

async function clickNav(name) {
  const link = page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true });
  if (await page.evaluate(() => location.hash) === await link.getAttribute('href')) return;
  await navigate(() => link.click());
}

async function go(hash) {
  if (await page.evaluate(() => location.hash) === hash) return;
  await navigate(() => page.evaluate((h) => { location.hash = h; }, hash));
}

async function follow(selector) {
  await navigate(() => q(selector).first().click());
}

async function fresh() {
  await see('.page-state .state-text:text-matches("^Live")', 'the page loaded its data', 20_000);
}

async function noReloadSoFar() {
  const marker = await page.evaluate(() => window.vigilTestMarker);
  assert.equal(marker, 'still the same document', 'the page was reloaded');
}

// The page as a user sees it, without the focus ring of the test's last keyboard step.
async function screenshot(name) {
  await page.evaluate(() => document.activeElement?.blur());
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}

async function signInWith(token) {
  await see('#token-input', 'the sign-in form');
  await q('#token-input').fill(token);
  await q('#sign-in').click();
  await see('#sign-out', 'signed in');
}

async function signOut() {
  await q('#sign-out').click();
  await see('#token-input', 'the sign-in form after signing out');
}

async function axeCheck(label) {
  const injected = await page.evaluate(() => typeof window.axe?.run === 'function');
  if (!injected) await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const serious = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const minor = result.violations.filter((v) => !serious.includes(v));
  const describe = (v) => `${v.impact} ${v.id} (${v.help}) at ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`;
  for (const v of minor) console.log(`  note: ${label}: axe ${describe(v)}`);
  return serious.map((v) => `${label}: ${describe(v)}`);
}

// ----- the run -----

async function main() {
  checkBinaries();
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-console-test-'));
  console.log(`temporary directory ${tmp}; screenshots in ${SCREENSHOT_DIR}`);

  collector = new Collector(tmp, COLLECTOR_SETTINGS);
  await collector.start();
  agent = new Agent(tmp, collector);
  agent.start();
  const agentId = await agent.id();
  const sites = await collector.must('GET', '/api/v1/sites');
  const defaultSite = sites.items[0];
  const tenants = await collector.must('GET', '/api/v1/tenants');
  const defaultTenant = tenants.items[0];

  const browser = await launchChromium();
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      dialog.dismiss().catch(() => {});
    });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) cspViolations.push(message.text());
    });
    const requestRecords = new Map();
    page.on('request', (request) => {
      const record = { at: Date.now(), url: request.url(), method: request.method(), headers: request.headers() };
      requestRecords.set(request, record);
      requests.push(record);
    });
    page.on('response', (response) => {
      const record = requestRecords.get(response.request());
      if (record) record.status = response.status();
      requestRecords.delete(response.request());
    });
    page.on('requestfailed', (request) => requestRecords.delete(request));

    await runSteps({ agentId, defaultSite, defaultTenant });
  } finally {
    await browser.close().catch(() => {});
    if (results.every((r) => r.ok) && !process.env.VIGIL_KEEP_TMP) fs.rmSync(tmp, { recursive: true, force: true });
    else console.log(`kept ${tmp} (logs: collector.log, agent.log)`);
  }
}

async function runSteps({ agentId, defaultSite, defaultTenant }) {
  const consoleUrl = `${collector.url}/console/`;
  // The month of the availability report: this one in UTC, the zone of a tenant without
  // business hours, so the report covers the whole run.
  const currentMonth = new Date().toISOString().slice(0, 7);
  let alertId;
  let hostileAgentId;

  await step(1, [], async () => {
    const first = await fetch(consoleUrl);
    assert.equal(first.status, 200, `GET /console/: HTTP ${first.status}`);
    const csp = first.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'/, `Content-Security-Policy: ${csp}`);
    assert.match(csp, /frame-ancestors 'none'/, `Content-Security-Policy: ${csp}`);
    assert.equal(first.headers.get('x-content-type-options'), 'nosniff');

    await page.goto(consoleUrl);
    await page.evaluate(() => { window.vigilTestMarker = 'still the same document'; });
    await see('#token-input', 'the sign-in form');
    await q('#token-input').fill(`vga_${'0'.repeat(64)}`);
    await q('#sign-in').click();
    await see('#signin-problem:has-text("refused this token")', 'a wrong token is refused in words');
    await signInWith(collector.adminToken);
    await see('h1:has-text("Fleet overview")', 'the overview after signing in');
    await fresh();
    await see(`tr[data-site-id="${defaultSite.id}"]`, 'the default site on the overview');
    await screenshot('overview-1280');

    await clickNav('Agents');
    await fresh();
    await see(`tr[data-agent-id="${agentId}"][data-status="ONLINE"]`, 'the agent ONLINE in the list', 30_000);
    await follow(`tr[data-agent-id="${agentId}"] a.agent-link`);
    await see('#agent-status[data-status="ONLINE"]', 'the agent ONLINE on its page', 20_000);
    await fresh();
    await noReloadSoFar();

    const stored = await page.evaluate(() => ({ session: Object.keys(sessionStorage), local: localStorage.length }));
    assert.deepEqual(stored.session, ['vigil.console.adminToken'], 'the token lives in sessionStorage only');
    assert.equal(stored.local, 0, 'nothing in localStorage');
    assert.ok(!page.url().includes(collector.adminToken), 'the token is not in the URL');
    return `agent ${agentId}`;
  });

  await step(2, [1], async () => {
    await agent.kill9();
    const killedAt = Date.now();
    await see('#agent-status[data-status="SUSPECT"]', 'SUSPECT after the kill', 90_000);
    const suspectAfter = (Date.now() - killedAt) / 1000;
    await screenshot('agent-suspect-1280');
    await see('#agent-status[data-status="OFFLINE"]', 'OFFLINE after SUSPECT', 90_000);
    const offlineAfter = (Date.now() - killedAt) / 1000;
    await screenshot('agent-offline-1280');
    await clickNav('Alerts');
    await fresh();
    const card = `li.alert[data-kind="device_offline"][data-state="open"]:has(a[href="#/agents/${agentId}"])`;
    await see(card, 'the open device alert', 30_000);
    alertId = await q(card).first().getAttribute('data-alert-id');
    await screenshot('alerts-open-1280');
    await noReloadSoFar();
    return `SUSPECT seen ${suspectAfter.toFixed(0)} s and OFFLINE ${offlineAfter.toFixed(0)} s after the kill; alert #${alertId}`;
  });

  await step(3, [2], async () => {
    const card = `li.alert[data-alert-id="${alertId}"]`;
    await q(`${card} button[data-action="acknowledge"]`).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Note (optional, kept with the alert)').fill('browser test: looking at it');
    await dialog.getByRole('button', { name: 'Acknowledge' }).click();
    await see(`${card} .ack-line:has-text("Acknowledged by")`, 'the acknowledgement on the alert');
    await see('#page-notice:has-text("acknowledged")', 'the acknowledgement notice');
    agent.start();
    await gone(card, 'the alert leaves the open alerts when the agent is back', 60_000);
    await follow('#tab-resolved');
    await fresh();
    await see(`li.alert[data-alert-id="${alertId}"][data-state="resolved"]`, 'the alert among the resolved ones', 20_000);
    await see(`li.alert[data-alert-id="${alertId}"] .ack-line`, 'the resolved alert keeps its acknowledgement');
    await screenshot('alerts-resolved-1280');
    await noReloadSoFar();
    const stored = await collector.must('GET', `/api/v1/alerts/${alertId}`);
    assert.equal(stored.state, 'resolved');
    assert.ok(stored.acknowledged_at, 'acknowledged_at is set');
  });

  await step(4, [1], async () => {
    if (!agent.running()) agent.start();
    await go(`#/agents/${agentId}`);
    await see('#agent-status[data-status="ONLINE"]', 'the agent ONLINE before maintenance', 60_000);
    await follow('#plan-maintenance');
    await see('#mw-agent', 'the maintenance form');
    assert.equal(await q('#mw-agent').inputValue(), agentId, 'the form names the agent');
    await q('#mw-minutes').fill('30');
    await q('#mw-note').fill('browser test window');
    await q('#mw-create').click();
    await see('#page-notice:has-text("created")', 'the window created');
    const row = 'tr[data-window-id][data-active="yes"]';
    await see(row, 'the open window in the list');
    const windowId = await q(row).first().getAttribute('data-window-id');
    await screenshot('maintenance-1280');

    await agent.kill9();
    await go(`#/agents/${agentId}`);
    await see('#agent-status[data-status="MAINTENANCE"]', 'MAINTENANCE after the death inside the window', 90_000);
    await screenshot('agent-maintenance-1280');
    const open = await collector.must('GET', `/api/v1/alerts?agent_id=${agentId}&state=open,held`);
    assert.equal(open.items.length, 0, `no alert for a death inside a window: ${JSON.stringify(open.items)}`);

    agent.start();
    await see('#agent-status[data-status="ONLINE"]', 'ONLINE again after restarting the agent', 60_000);
    await clickNav('Maintenance');
    await fresh();
    await q(`tr[data-window-id="${windowId}"] button[data-action="delete"]`).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete window' }).click();
    await gone(`tr[data-window-id="${windowId}"]`, 'the deleted window leaves the list');
    await noReloadSoFar();
    return `window #${windowId}`;
  });

  await step(5, [1], async () => {
    await clickNav('Overview');
    await fresh();
    collector.signal('SIGSTOP');
    await sleep(8000);
    collector.signal('SIGCONT');
    await see('#health-banner .banner-degraded', 'the degraded banner after the freeze', 40_000);
    const words = await q('#health-banner').innerText();
    assert.match(words, /Offline alerts are held:/, words);
    assert.match(words, /frozen or starved/, `the freeze in words: ${words}`);
    assert.match(words, /verdicts? held/, words);
    await screenshot('banner-degraded-1280');
    await clickNav('Health');
    await see('#health-status[data-health="degraded"]', 'the health page says DEGRADED');
    await see('table.health-history tr[data-health="degraded"]:has-text("frozen or starved")', 'the freeze in the health history', 20_000);
    await screenshot('health-degraded-1280');
    await gone('#health-banner .banner-degraded', 'the banner clears once the collector recovered', 60_000);
    await noReloadSoFar();
    return words.replace(/\s+/g, ' ').trim();
  });

  await step(6, [1], async () => {
    try {
      await asScopedToken();
    } finally {
      // The steps after this one look with the admin token again, whatever happened here.
      if (await page.evaluate(() => sessionStorage.getItem('vigil.console.adminToken')) !== collector.adminToken) {
        if (await q('#sign-out').isVisible()) await signOut();
        await signInWith(collector.adminToken);
      }
    }
  });

  async function asScopedToken() {
    const tenant = await collector.must('POST', '/api/v1/tenants', { name: 'Scoped <i>Client</i>' }, 201);
    const site = await collector.must('POST', `/api/v1/tenants/${tenant.id}/sites`, { name: 'Branch office' }, 201);
    const scoped = await collector.must('POST', '/api/v1/admin-tokens',
      { name: 'browser test scoped', tenant_ids: [tenant.id], role: 'read-only' }, 201);
    await signOut();
    await signInWith(scoped.token);
    await go('#/overview');
    await fresh();
    await see(`tr[data-site-id="${site.id}"]`, 'the scoped tenant\'s own site');
    assert.equal(await q(`tr[data-site-id="${defaultSite.id}"]`).count(), 0, 'the other tenant\'s site is listed');
    assert.equal(await q(`section.tenant[data-tenant-id="${defaultTenant.id}"]`).count(), 0, 'the other tenant is listed');
    const headings = await q('section.tenant h2').allTextContents();
    assert.deepEqual(headings, ['Scoped <i>Client</i>'], 'the tenants shown (a name with markup shown as text)');
    const siteNames = await q('table.sites a.site-link').allTextContents();
    assert.deepEqual(siteNames, ['Branch office'], 'the sites shown');
    await screenshot('overview-scoped-1280');
    await go('#/agents');
    await fresh();
    assert.equal(await q(`tr[data-agent-id="${agentId}"]`).count(), 0, 'the other tenant\'s agent is listed');
    await go(`#/agents/${agentId}`);
    await see('#page-problem:has-text("Not found")', 'the other tenant\'s agent is not found');
    await go('#/alerts?state=resolved');
    await fresh();
    assert.equal(await q('li.alert').count(), 0, 'the other tenant\'s alerts are listed');
    // The token is read-only: the collector refuses a window, the console says so in its words
    // and stops offering what the role cannot do.
    await go('#/maintenance');
    await fresh();
    await q('#mw-tenant').selectOption(String(tenant.id));
    await q('#mw-create').click();
    await see('#page-problem:has-text("may not")', 'the refusal of a read-only token, in words');
    await see('#mw-not-allowed', 'the form replaced by what the token may not do');
    await signOut();
    await signInWith(collector.adminToken);
    await noReloadSoFar();
  }

  await step(7, [1], async () => {
    const r = await fetch(`${collector.url}/v1/enroll`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        v: 1, enroll_token: collector.enrollToken, hostname: XSS_HOSTNAME,
        os_name: '<script>alert(2)</script>', os_version: '"><svg onload=alert(3)>', arch: 'x86_64', agent_version: '0.1.0',
      }),
    });
    const enrolled = await r.json();
    assert.equal(r.status, 201, `enroll: HTTP ${r.status} ${JSON.stringify(enrolled)}`);
    hostileAgentId = enrolled.agent_id;
    await go('#/agents');
    await fresh();
    const link = `tr[data-agent-id="${enrolled.agent_id}"] a.agent-link`;
    await see(link, 'the agent with the hostile host name', 20_000);
    assert.equal(await q(link).textContent(), XSS_HOSTNAME, 'the host name shown literally');
    await q('#filter-q').fill('<img src');
    await follow('form.filters button[type="submit"]');
    await fresh();
    await see(link, 'the search for "<img src" finds it');
    await screenshot('agents-hostile-hostname-1280');
    await follow(link);
    await see('#agent-status', 'its page');
    assert.equal(await q('#page-title').textContent(), XSS_HOSTNAME, 'the page title shows the host name literally');
    assert.ok((await q('main').innerText()).includes('<script>alert(2)</script>'), 'the OS name shown literally');
    await sleep(1500);
    const injected = await page.evaluate(() => document.querySelectorAll('img, svg, script:not([src]), iframe, object, embed').length);
    assert.equal(injected, 0, 'an element was created from agent data');
    assert.deepEqual(dialogs, [], `a script ran: dialogs ${JSON.stringify(dialogs)}`);
    await noReloadSoFar();
  });

  const pages = [
    ['overview', '#/overview', 'h1:has-text("Fleet overview")'],
    ['agents', '#/agents', 'table.agents'],
    ['agent', `#/agents/${agentId}`, '#agent-status'],
    ['alerts-open', '#/alerts?state=open', '#tab-open'],
    ['alerts-resolved', '#/alerts?state=resolved', 'li.alert'],
    ['maintenance', '#/maintenance', '#mw-create'],
    ['health', '#/health', '#health-status'],
    // Computed once when opened, not polled: its table shown is its data loaded.
    ['reports', `#/reports?tenant=${defaultTenant.id}&month=${currentMonth}`, 'table.report-agents', { live: false }],
  ];

  // Opens every page at the desktop and the phone width, each once fresh, then calls visit.
  async function visitEveryPage(visit) {
    for (const width of [1280, 390]) {
      await page.setViewportSize({ width, height: width === 390 ? 844 : 900 });
      for (const [name, hash, ready, { live = true } = {}] of pages) {
        await go(hash);
        await see(ready, `the ${name} page`);
        if (live) await fresh();
        await visit(name, width);
      }
    }
  }

  await step(8, [1], async () => {
    const found = [];
    await visitEveryPage(async (name, width) => {
      found.push(...await axeCheck(`${name} at ${width} px`));
    });
    await signOut();
    found.push(...await axeCheck('sign-in at 390 px'));
    await page.setViewportSize({ width: 1280, height: 900 });
    found.push(...await axeCheck('sign-in at 1280 px'));
    await signInWith(collector.adminToken);
    assert.deepEqual(found, [], `violations:\n  ${found.join('\n  ')}`);

    // From the keyboard: the skip link is the first thing Tab reaches, it shows itself when
    // focused, and Enter on it moves to the page's heading without changing the route.
    await go('#/agents');
    await fresh();
    const first = await page.evaluate(() => document.querySelector('a[href], button, input, select, textarea, [tabindex="0"]')?.id);
    assert.equal(first, 'skip-link', 'the first focusable element');
    await q('#skip-link').focus();
    const box = await q('#skip-link').boundingBox();
    assert.ok(box && box.y >= 0, `the focused skip link is on screen (${JSON.stringify(box)})`);
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'page-title', 'where the skip link leads');
    assert.equal(await page.evaluate(() => location.hash), '#/agents', 'the skip link changed the route');
    return `${pages.length * 2 + 2} page views checked`;
  });

  await step(9, [1], async () => {
    const saved = [];
    await visitEveryPage(async (name, width) => {
      await screenshot(`${name}-${width}`);
      saved.push(`${name}-${width}.png`);
    });
    await signOut();
    await screenshot('signin-390');
    await page.setViewportSize({ width: 1280, height: 900 });
    await screenshot('signin-1280');
    saved.push('signin-390.png', 'signin-1280.png');
    await signInWith(collector.adminToken);
    return `${saved.length} files in ${SCREENSHOT_DIR}`;
  });

  await step(10, [7], async () => {
    await go(`#/agents/${hostileAgentId}`);
    await see('#retire-agent', 'the retire button');
    await q('#retire-agent').click();
    const dialog = page.getByRole('dialog');
    await see('dialog[open]', 'the confirmation');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await gone('dialog', 'the confirmation closes on Cancel');
    assert.equal((await collector.must('GET', `/api/v1/agents/${hostileAgentId}`)).retired_at, null, 'Cancel retired the agent');
    await q('#retire-agent').click();
    await dialog.getByRole('button', { name: 'Retire agent' }).click();
    await see('#page-notice:has-text("retired")', 'the notice after retiring');
    await see('.status-box:has-text("Retired")', 'the agent shown retired', 20_000);
    await gone('#retire-agent', 'no retire button on a retired agent');
    const stored = await collector.must('GET', `/api/v1/agents/${hostileAgentId}`);
    assert.ok(stored.retired_at, 'retired_at is set');
    await noReloadSoFar();
  });

  await step(11, [1], async () => {
    await go('#/overview');
    await fresh();
    await sleep(2000);
    const from = Date.now();
    await sleep(20_000);
    const polled = requests.filter((r) => r.at >= from && r.url.includes('/api/v1/'));
    const perUrl = new Map();
    for (const r of polled) perUrl.set(r.url, (perUrl.get(r.url) ?? 0) + 1);
    const busiest = Math.max(...perUrl.values());
    assert.ok(busiest <= 5, `a URL was asked ${busiest} times in 20 s: ${JSON.stringify([...perUrl])}`);
    const conditional = polled.filter((r) => r.headers['if-none-match']).length;
    const notModified = polled.filter((r) => r.status === 304).length;
    assert.ok(conditional > 0 && notModified > 0, `no conditional request answered 304 (${conditional} conditional, ${notModified} 304s)`);
    for (const r of requests) {
      assert.ok(!r.url.includes(collector.adminToken), 'a token in a URL');
    }
    // Hidden: nothing is asked; shown again: asked at once.
    await page.evaluate(() => {
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await sleep(1000);
    const hiddenFrom = Date.now();
    await sleep(12_000);
    const whileHidden = requests.filter((r) => r.at >= hiddenFrom && r.url.includes('/api/v1/')).length;
    assert.equal(whileHidden, 0, `${whileHidden} requests while the page was hidden`);
    const shownAt = Date.now();
    await page.evaluate(() => {
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => false });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await until('polling resumes when shown', () => requests.some((r) => r.at >= shownAt && r.url.includes('/api/v1/')), 10_000);
    await noReloadSoFar();
    return `${polled.length} requests in 20 s over ${perUrl.size} URLs (${(polled.length / 20).toFixed(2)}/s), ${notModified} answered 304; none while hidden`;
  });

  await step(12, [1], async () => {
    await page.setViewportSize({ width: 1280, height: 900 });
    await clickNav('Reports');
    await see('#report-show', 'the report form');
    await q(`#report-tenant option[value="${defaultTenant.id}"]`).waitFor({ state: 'attached', timeout: 15_000 });
    await q('#report-tenant').selectOption(String(defaultTenant.id));
    await q('#report-month').fill(currentMonth);
    await navigate(() => q('#report-show').click());
    const row = `table.report-agents tr[data-agent-id="${agentId}"]`;
    await see(row, 'the agent in the report', 30_000);
    const availability = (await q(`${row} .report-availability`).textContent()).trim();
    assert.match(availability, /^\d{1,3}\.\d{3} %$/, 'the agent\'s availability, in percent with 3 decimals');
    const total = async (key) => (await q(`#report-totals [data-total="${key}"] .total-value`).textContent()).trim();
    assert.match(await total('availability'), /^\d{1,3}\.\d{3} %$/, 'the total availability');
    assert.notEqual(await total('online'), '0 s', 'the total online time');
    assert.ok(Number(await total('agents')) >= 1, 'the number of agents');
    assert.match(await q('#report-title').textContent(), new RegExp(defaultTenant.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'the report names the tenant');
    // The agent enrolled with a hostile host name in step 7 is in the report too, as text.
    const hostileRow = q(`table.report-agents tr[data-agent-id="${hostileAgentId}"] a`);
    if (hostileAgentId && await hostileRow.count() > 0) {
      assert.equal(await hostileRow.textContent(), XSS_HOSTNAME, 'a host name shown literally');
    }
    await screenshot('reports-shown-1280');

    const [csv] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), q('#report-download-csv').click()]);
    const csvName = csv.suggestedFilename();
    assert.match(csvName, new RegExp(`^availability-[a-z0-9-]+-${currentMonth}\\.csv$`), 'the CSV file name');
    const csvText = fs.readFileSync(await csv.path(), 'utf8').replace(/^\uFEFF/, '');
    const direct = await collector.api('GET', `/api/v1/reports/availability?tenant_id=${defaultTenant.id}&month=${currentMonth}&format=csv`);
    assert.equal(direct.status, 200, `the CSV from the API: HTTP ${direct.status} ${direct.text.slice(0, 200)}`);
    const header = direct.text.replace(/^\uFEFF/, '').split(/\r?\n/)[0];
    assert.ok(header.includes(','), `the API's CSV header row: ${header}`);
    assert.ok(csvText.startsWith(`${header}\n`) || csvText.startsWith(`${header}\r\n`), `the download starts with the header row "${header}": ${csvText.slice(0, 200)}`);
    assert.ok(csvText.includes(agentId), 'the agent\'s row in the CSV');
    await see('#page-notice:has-text("Downloaded")', 'the notice after the download');

    const [html] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), q('#report-download-html').click()]);
    const htmlName = html.suggestedFilename();
    assert.match(htmlName, new RegExp(`^availability-[a-z0-9-]+-${currentMonth}\\.html$`), 'the HTML file name');
    const htmlText = fs.readFileSync(await html.path(), 'utf8');
    assert.match(htmlText, /<html/i, 'the printable report is an HTML document');
    assert.doesNotMatch(htmlText, /<script/i, 'the printable report holds no script');
    await noReloadSoFar();
    return `agent ${availability}, total ${await total('availability')}; ${csvName} (${csvText.split(/\r?\n/).filter(Boolean).length} lines, header "${header}"), ${htmlName} (${htmlText.length} bytes)`;
  });

  await step(13, [1], async () => {
    assert.deepEqual(cspViolations, [], `CSP violations: ${cspViolations.join(' | ')}`);
    assert.deepEqual(pageErrors, [], `script errors: ${pageErrors.join(' | ')}`);
  });
}

const deadline = setTimeout(() => {
  console.log(`FAIL: the test did not finish within ${DEADLINE_MS / 1000} s; every process started was killed`);
  killEverything();
  process.exit(1);
}, DEADLINE_MS);

try {
  await main();
} catch (error) {
  results.push({ number: 0, ok: false });
  console.log(`FAIL setup or browser: ${error.message}`);
  await failureEvidence('setup');
  for (const [number, title] of Object.entries(STEPS)) {
    if (!results.some((r) => r.number === Number(number))) {
      results.push({ number: Number(number), ok: false });
      console.log(`FAIL step ${number}: ${title}: not attempted, because the setup or the browser failed`);
    }
  }
} finally {
  clearTimeout(deadline);
  killEverything();
}
const failed = results.filter((r) => !r.ok).length;
console.log(failed === 0 && results.length > 0
  ? `PASS: all ${results.length} steps of the console browser test`
  : `FAIL: ${failed} of ${results.length} steps failed`);
process.exit(failed === 0 && results.length > 0 ? 0 : 1);
