// Periodic refresh of what a page shows, at a cost the collector does not notice.
//
// Contract of a Poller:
// - runs its task every `periodMs` (5 s), the next run counted from the end of the last, so
//   two runs of one task never overlap;
// - runs nothing while the page is hidden (document.hidden) and runs at once when it is
//   shown again;
// - after a failure waits 10 s, then 20, 40 and at most 60 s, or longer if the collector
//   asked so with Retry-After; the first success returns to the normal period;
// - stops for good on stop(), and after an `unauthorized` failure (the session is over).

export const POLL_PERIOD_MS = 5000;
const FIRST_BACKOFF_MS = 10000;
const MAX_BACKOFF_MS = 60000;

const waitingForVisibility = new Set();

document.addEventListener('visibilitychange', () => {
  if (document.hidden) return;
  const waiting = [...waitingForVisibility];
  waitingForVisibility.clear();
  for (const poller of waiting) poller.runNow();
});

export class Poller {
  // task(): a promise; onState({ok, error, retryInMs, at}) after each run.
  constructor(task, { periodMs = POLL_PERIOD_MS, onState } = {}) {
    this.task = task;
    this.periodMs = periodMs;
    this.onState = onState;
    this.timer = null;
    this.running = false;
    this.rerunRequested = false;
    this.stopped = true;
    this.failures = 0;
  }

  start() {
    this.stopped = false;
    this.runNow();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = null;
    waitingForVisibility.delete(this);
  }

  // Runs as soon as possible (after a user's change, or when the page is shown again); if a
  // run is in progress, one more follows it.
  runNow() {
    if (this.stopped) return;
    if (this.running) {
      this.rerunRequested = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = null;
    this.run();
  }

  schedule(delayMs) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.run();
    }, delayMs);
  }

  async run() {
    if (this.stopped) return;
    if (document.hidden) {
      waitingForVisibility.add(this);
      return;
    }
    this.running = true;
    let delay = this.periodMs;
    try {
      await this.task();
      this.failures = 0;
      // Stopped meanwhile (the page was left): its result concerns no one any more.
      if (!this.stopped) this.onState?.({ ok: true, at: new Date() });
    } catch (error) {
      this.failures += 1;
      const backoff = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (this.failures - 1));
      const asked = error?.retryAfterS ? error.retryAfterS * 1000 : 0;
      delay = Math.max(backoff, asked);
      if (error?.kind === 'unauthorized') this.stopped = true;
      else if (!this.stopped) this.onState?.({ ok: false, error, retryInMs: delay, at: new Date() });
    } finally {
      this.running = false;
    }
    if (this.stopped) return;
    if (this.rerunRequested && this.failures === 0) {
      this.rerunRequested = false;
      this.run();
      return;
    }
    this.rerunRequested = false;
    this.schedule(delay);
  }
}
