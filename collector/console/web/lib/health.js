// The collector's own health on every page: one poll of GET /api/v1/health every 5 s for the
// whole console, a banner in words while the collector is DEGRADED (or does not answer), and
// the latest answer for any page that shows more of it (the health page subscribes instead of
// polling the same URL a second time).

import { el, timeEl } from './dom.js';
import { degradationText } from './words.js';
import { failureText } from './messages.js';
import { Poller } from './poller.js';

export function heldVerdictsText(count) {
  if (!count) return 'no verdict held yet';
  return count === 1 ? '1 verdict held' : `${count} verdicts held`;
}

// The banner's sentence as nodes: "Offline alerts are held: <reason> (since 21:30 UTC);
// <reason> (since ...); 12 verdicts held."
export function degradedSentence(health) {
  const parts = [el('strong', {}, 'Offline alerts are held: ')];
  const reasons = health.reasons ?? [];
  if (reasons.length === 0) parts.push('the collector reports itself degraded');
  reasons.forEach((r, i) => {
    if (i > 0) parts.push('; ');
    parts.push(degradationText(r.reason));
    if (r.since) parts.push(' (since ', timeEl(r.since, { short: true }), ')');
  });
  parts.push(`; ${heldVerdictsText(health.held_alerts)}.`);
  return parts;
}

export function createHealthFeed(api, region) {
  const listeners = new Set();
  let latest = { body: null, error: null };
  let shownKey = '';
  let started = false;

  function render(state) {
    let key = '';
    let content = null;
    if (state.error) {
      key = `error:${state.error.kind}:${state.error.message}`;
      content = el('div', { class: 'banner banner-error', id: 'health-banner-message' },
        el('p', {}, failureText(state.error, state.retryInMs)));
    } else if (state.body?.status === 'degraded') {
      const h = state.body;
      key = `degraded:${JSON.stringify(h.reasons)}:${h.held_alerts}`;
      content = el('div', { class: 'banner banner-degraded', id: 'health-banner-message', dataset: { health: 'degraded' } },
        el('p', {}, degradedSentence(h)),
        el('p', { class: 'banner-more' },
          'The collector holds offline verdicts while the fault may be its own, and judges them once it has recovered. ',
          el('a', { href: '#/health' }, 'Collector health and its history')));
    }
    // Only a change is written, so the polite live region announces each state once.
    if (key === shownKey) return;
    shownKey = key;
    region.replaceChildren(...(content ? [content] : []));
  }

  const poller = new Poller(async () => {
    const body = await api.get('/api/v1/health');
    latest = { body, error: null };
  }, {
    onState: (state) => {
      if (!state.ok) latest = { body: latest.body, error: state.error };
      render({ body: latest.body, error: state.ok ? null : state.error, retryInMs: state.retryInMs });
      for (const listener of listeners) listener(latest);
    },
  });

  return {
    start() {
      if (started) return;
      started = true;
      poller.start();
    },
    stop() {
      started = false;
      poller.stop();
      shownKey = '';
      region.replaceChildren();
      latest = { body: null, error: null };
    },
    refresh: () => poller.runNow(),
    latest: () => latest,
    // fn({body, error}) after every poll; returns the unsubscribe function.
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
  };
}
