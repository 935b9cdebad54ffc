// What a console left open costs the collector (docs/console.md, "A console left open"): a
// measurement, not a test. A real collector with the shipped defaults and real agents; the
// collector's CPU time and the bytes on the wire are counted over equal phases:
//   1. no browser (the baseline: the agents' heartbeats alone);
//   2. the console signed in on the fleet overview, left alone;
//   3. the console on the agents list, left alone;
//   4. the console on the overview in a hidden tab (another tab in front, or a minimized
//      window).
// Each phase is reported with its figures projected to an hour and to a working day of 8 hours.
// The extra CPU of a phase over the baseline is within the noise of the collector's own
// periodic work for short phases, so the reads a phase made are then replayed (5,000 of them,
// with their tags) to measure the collector's CPU per read, which times the phase's rate of
// reads gives the console's share alone.
//
//   VIGIL_COLLECTOR=build/bin/vigil-collector VIGIL_AGENT=build/bin/vigil-agent \
//     node console_idle_cost.mjs [--minutes M] [--agents N]
//
// Run it from the build tree's tests/browser (its node_modules), alone on the machine.
// Defaults: 5 minutes a phase, 20 agents. Exits 1 if the run failed, not on any figure.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  Agent, Collector, checkBinaries, cpuSeconds, killEverything, launchChromium, sleep, until,
} from './lab.mjs';

const { values: options } = parseArgs({
  options: { minutes: { type: 'string', default: '5' }, agents: { type: 'string', default: '20' } },
});
const phaseMs = Number(options.minutes) * 60_000;
const agentCount = Number(options.agents);
// How many of a phase's reads are replayed (whole rounds of them) to measure CPU per read.
const REPLAYED_READS = 5000;

async function main() {
  checkBinaries();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-console-idle-'));
  // The shipped defaults, but a free UDP port for the peer beacon (beside any other collector).
  const collector = new Collector(tmp, { 'beacon.port': '0' });
  await collector.start();
  const agents = [];
  for (let i = 0; i < agentCount; ++i) {
    const agent = new Agent(tmp, collector, `agent-${i}`);
    agent.start();
    agents.push(agent);
  }
  for (const agent of agents) await agent.id();
  await until(`${agentCount} agents ONLINE`, async () => {
    const summary = await collector.must('GET', '/api/v1/agents?status=ONLINE&limit=1000');
    return summary.items.length === agentCount;
  }, 180_000, 2000);
  console.log(`collector ${collector.url}, ${agentCount} agents ONLINE, ${options.minutes} min a phase; temporary directory ${tmp}`);

  const results = [];
  const pid = collector.process.pid;
  const measure = async (name, traffic) => {
    const cpuBefore = cpuSeconds(pid);
    const started = Date.now();
    const seen = traffic ? traffic.snapshot() : null;
    await sleep(phaseMs);
    const seconds = (Date.now() - started) / 1000;
    const cpu = cpuSeconds(pid) - cpuBefore;
    const wire = traffic ? traffic.since(seen) : { requests: 0, notModified: 0, bytes: 0 };
    results.push({ name, seconds, cpu, ...wire });
  };

  await measure('no browser (heartbeats only)');

  const browser = await launchChromium();
  try {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    const traffic = new Traffic(page, collector.url);
    await page.goto(`${collector.url}/console/`);
    await page.locator('#token-input').fill(collector.adminToken);
    await page.locator('#sign-in').click();
    await page.locator('#sign-out').waitFor();
    await page.locator('.page-state .state-text:text-matches("^Live")').first().waitFor({ timeout: 20_000 });
    await measure('console open: fleet overview', traffic);

    await page.evaluate(() => { location.hash = '#/agents'; });
    await page.locator('h1:has-text("Agents")').first().waitFor();
    await sleep(2000);
    await measure('console open: agents list', traffic);

    await page.evaluate(() => { location.hash = '#/overview'; });
    await page.locator('h1:has-text("Fleet overview")').first().waitFor();
    await sleep(2000);
    await page.evaluate(() => {
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await measure('console open in a hidden tab', traffic);
  } finally {
    await browser.close().catch(() => {});
  }

  // The same reads again, as fast as one client sends them, with the same tags: the
  // collector's CPU per read, without the heartbeats' share that the phases' totals carry.
  for (const r of results) {
    if (!r.reads?.length) continue;
    const rounds = Math.max(1, Math.ceil(REPLAYED_READS / r.reads.length));
    const cpuBefore = cpuSeconds(pid);
    let notModified = 0;
    for (let i = 0; i < rounds; ++i) {
      for (const read of r.reads) {
        const answer = await fetch(read.url, { headers: read.headers });
        await answer.arrayBuffer();
        if (answer.status === 304) notModified += 1;
      }
    }
    const count = rounds * r.reads.length;
    r.cpuPerRead = (cpuSeconds(pid) - cpuBefore) / count;
    r.replay = `${count} reads replayed, ${Math.round(100 * notModified / count)} % answered 304`;
  }

  const baseline = results[0].cpu / results[0].seconds;
  const rows = results.map((r) => {
    const extraPerHour = (r.cpu / r.seconds - baseline) * 3600;
    return [
      r.name,
      (r.cpu / r.seconds * 3600).toFixed(2),
      r === results[0] ? '' : extraPerHour.toFixed(2),
      r === results[0] ? '' : (extraPerHour * 8).toFixed(1),
      (r.requests / r.seconds * 3600).toFixed(0),
      r.requests ? `${Math.round(100 * r.notModified / r.requests)} %` : '',
      (r.bytes / r.seconds * 3600 / 1e6).toFixed(2),
      r.cpuPerRead === undefined ? '' : (r.cpuPerRead * 1e6).toFixed(0),
      r.cpuPerRead === undefined ? '' : (r.cpuPerRead * r.requests / r.seconds * 3600).toFixed(2),
    ];
  });
  const head = ['phase', 'collector CPU s/h', 'extra CPU s/h', 'extra CPU s / 8 h', 'requests/h', '304s', 'MB/h on the wire',
    'CPU µs/read', 'reads\' CPU s/h'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  for (const row of [head, ...rows]) console.log(row.map((cell, i) => (i ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join('  '));
  for (const r of results) if (r.replay) console.log(`${r.name}: ${r.replay}`);
  fs.rmSync(tmp, { recursive: true, force: true });
}

// Counts the page's requests to the collector and their bytes on the wire (headers and bodies,
// both ways, as the browser measured them).
class Traffic {
  constructor(page, origin) {
    this.requests = 0;
    this.notModified = 0;
    this.bytes = 0;
    this.recorded = [];  // the API reads: {url, headers}, in order
    // (On 'response': a 304 never raises 'requestfinished'.)
    page.on('response', async (response) => {
      if (!response.url().startsWith(origin)) return;
      const request = response.request();
      if (request.method() === 'GET' && response.url().includes('/api/v1/')) {
        const { authorization, 'if-none-match': ifNoneMatch } = await request.allHeaders();
        this.recorded.push({ url: response.url(), headers: ifNoneMatch ? { authorization, 'if-none-match': ifNoneMatch } : { authorization } });
      }
      this.requests += 1;
      if (response.status() === 304) this.notModified += 1;
      const sizes = await response.request().sizes().catch(() => null);
      if (sizes) this.bytes += sizes.requestHeadersSize + sizes.requestBodySize + sizes.responseHeadersSize + sizes.responseBodySize;
    });
  }

  snapshot() {
    return { requests: this.requests, notModified: this.notModified, bytes: this.bytes, recorded: this.recorded.length };
  }

  since(before) {
    return {
      requests: this.requests - before.requests,
      notModified: this.notModified - before.notModified,
      bytes: this.bytes - before.bytes,
      reads: this.recorded.slice(before.recorded),
    };
  }
}

try {
  await main();
  killEverything();
  process.exit(0);
} catch (error) {
  console.log(`FAIL: ${error.message}`);
  killEverything();
  process.exit(1);
}
