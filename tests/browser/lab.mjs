// The system under test for the console's browser programs (console_test.mjs, the test;
// console_idle_cost.mjs, the cost of a console left open): real vigil-collector and vigil-agent
// processes on loopback, and Debian's chromium driven by playwright-core.
//
// Environment: VIGIL_COLLECTOR, VIGIL_AGENT (the built binaries, required), VIGIL_CHROMIUM
// (default /usr/bin/chromium).
//
// Every process started through startProcess is killed when node exits, also on SIGINT, SIGTERM
// and SIGHUP.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const COLLECTOR_BIN = process.env.VIGIL_COLLECTOR;
export const AGENT_BIN = process.env.VIGIL_AGENT;
export const CHROMIUM_BIN = process.env.VIGIL_CHROMIUM || '/usr/bin/chromium';

// Throws, naming what is missing, unless the binaries and the browser are there.
export function checkBinaries() {
  for (const [name, value] of [['VIGIL_COLLECTOR', COLLECTOR_BIN], ['VIGIL_AGENT', AGENT_BIN]]) {
    if (!value || !fs.existsSync(value)) throw new Error(`${name} must name the built binary (it is ${value ? `"${value}", which does not exist` : 'unset'})`);
  }
  if (!fs.existsSync(CHROMIUM_BIN)) throw new Error(`no chromium at ${CHROMIUM_BIN} (scripts/install-deps.sh --test installs Debian's; VIGIL_CHROMIUM names another)`);
}

// Headless Debian chromium as root on a machine without the internet: no sandbox (root), and
// none of the background connections a closed network refuses.
export function launchChromium() {
  return chromium.launch({
    executablePath: CHROMIUM_BIN,
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// ----- processes -----

const children = new Set();

export function startProcess(binary, args, logPath) {
  const log = fs.openSync(logPath, 'a');
  const child = spawn(binary, args, { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

export function killEverything() {
  for (const child of children) {
    try { child.kill('SIGCONT'); } catch { /* gone */ }
    try { child.kill('SIGKILL'); } catch { /* gone */ }
  }
}

process.on('exit', killEverything);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    console.log(`FAIL: interrupted by ${signal}; every process started was killed`);
    killEverything();
    process.exit(1);
  });
}

export function exited(child, timeoutMs) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => { clearTimeout(timer); resolve(true); });
  });
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Resolves with the first truthy value of condition() (retried every everyMs, an exception
// counting as not yet); throws after timeoutMs, naming what was waited for and the last answer.
export async function until(what, condition, timeoutMs, everyMs = 200) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await condition();
      if (last) return last;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await sleep(everyMs);
  }
}

export function tail(file, lines = 25) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

// CPU time (user + system) a live process has used so far, in seconds, from /proc.
export function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the command's closing parenthesis: state is field 3, utime 14 and stime 15.
  const ticks = Number(fields[14 - 3]) + Number(fields[15 - 3]);
  return ticks / 100;  // USER_HZ is 100 on Linux
}

// ----- the system under test -----

// A collector on the embedded SQLite store in DIR/collector, listening on a free loopback port;
// SETTINGS are --define overrides of the shipped defaults.
export class Collector {
  constructor(dir, settings = {}) {
    this.dataDir = path.join(dir, 'collector');
    this.portFile = path.join(dir, 'collector.port');
    this.log = path.join(dir, 'collector.log');
    this.settings = settings;
    fs.mkdirSync(this.dataDir, { mode: 0o700 });
  }

  async start() {
    const args = [`--data-dir=${this.dataDir}`, '--http-address=127.0.0.1', '--http-port=0', `--port-file=${this.portFile}`,
      ...Object.entries(this.settings).map(([k, v]) => `--define=${k}=${v}`)];
    this.process = startProcess(COLLECTOR_BIN, args, this.log);
    await until('the collector answers /readyz', async () => {
      if (this.process.exitCode !== null) throw new Error(`the collector exited (${this.process.exitCode}); log:\n${tail(this.log)}`);
      const port = Number(fs.existsSync(this.portFile) ? fs.readFileSync(this.portFile, 'utf8').trim() : 0);
      if (!port) return false;
      this.port = port;
      const r = await fetch(`${this.url}/readyz`).catch(() => null);
      return r?.status === 200;
    }, 20_000);
    this.adminToken = fs.readFileSync(path.join(this.dataDir, 'admin-token'), 'utf8').trim();
    this.enrollToken = fs.readFileSync(path.join(this.dataDir, 'enroll-token'), 'utf8').trim();
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  signal(name) {
    this.process.kill(name);
  }

  // One admin API request; {status, json, headers}.
  async api(method, apiPath, body, token = this.adminToken) {
    const headers = { Authorization: `Bearer ${token}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const r = await fetch(`${this.url}${apiPath}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: r.status, json, headers: r.headers, text };
  }

  async must(method, apiPath, body, expected = 200, token) {
    const r = await this.api(method, apiPath, body, token);
    assert.equal(r.status, expected, `${method} ${apiPath}: HTTP ${r.status} ${r.text}`);
    return r.json;
  }
}

// A vigil-agent with its state in DIR/NAME, enrolled with the collector's enrollment token.
export class Agent {
  constructor(dir, collector, name = 'agent') {
    this.stateDir = path.join(dir, name);
    this.log = path.join(dir, `${name}.log`);
    this.config = path.join(dir, `${name}.conf`);
    this.collector = collector;
    fs.writeFileSync(this.config, '# browser test: everything is on the command line\n');
  }

  // The agents' own defaults but a first beat at once (a recently booted machine would wait up
  // to 60 s) and peer announcements kept on loopback.
  start() {
    this.process = startProcess(AGENT_BIN, [
      '--server', this.collector.url, '--token', this.collector.enrollToken, '--state-dir', this.stateDir,
      '--config', this.config, '--min-interval', '1', '--log-level', 'debug',
      '-D', 'peer_broadcast=127.255.255.255', '-D', 'start_delay_max_s=0',
    ], this.log);
  }

  running() {
    return this.process && this.process.exitCode === null && this.process.signalCode === null;
  }

  async kill9() {
    this.process.kill('SIGKILL');
    await exited(this.process, 5000);
  }

  async id() {
    return until('the agent enrolls', () => {
      const file = path.join(this.stateDir, 'identity.json');
      return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')).agent_id : false;
    }, 20_000);
  }
}
