// The admin API as the console uses it (docs/openapi.yaml).
//
// - The token goes only into the Authorization header of same-origin requests; it is never
//   put in a URL, never logged, never handed to anything else.
// - GETs are conditional: the last ETag and body of each URL are kept in memory and sent back
//   as If-None-Match; a 304 answer reuses the kept body, which is the same object as before,
//   so a caller tells "changed" from "unchanged" by identity. The browser's HTTP cache is
//   bypassed (cache: 'no-store') so that every 304 reaches this code.
// - At most one request per URL is in flight: a second GET of the same URL shares the first.
// - Every failure is an ApiError: the HTTP status, the API's error code and message, and the
//   Retry-After of a 429 or 503 in seconds.

const REQUEST_TIMEOUT_MS = 20000;
const FILE_TIMEOUT_MS = 60000;
const MAX_KEPT_BODIES = 300;

export class ApiError extends Error {
  constructor({ status = 0, code = '', message = '', retryAfterS = null, field = null, kind }) {
    super(message || code || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfterS = retryAfterS;
    this.field = field;
    // network | timeout | unauthorized | forbidden | not_found | overloaded | client | server
    this.kind = kind ?? kindOf(status);
  }
}

function kindOf(status) {
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not_found';
  if (status === 429 || status === 503) return 'overloaded';
  if (status >= 500) return 'server';
  return 'client';
}

function retryAfterSeconds(headers) {
  const value = headers.get('Retry-After');
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, Math.round((at - Date.now()) / 1000));
}

async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  return new ApiError({
    status: response.status,
    code: body?.error ?? '',
    message: typeof body?.message === 'string' ? body.message : `the collector answered HTTP ${response.status}`,
    field: body?.field ?? null,
    retryAfterS: retryAfterSeconds(response.headers),
  });
}

// getToken(): the signed-in token or null; onUnauthorized(error): the token stopped working.
export function createApi({ getToken, onUnauthorized }) {
  const kept = new Map(); // url -> { etag, body }
  const inFlight = new Map(); // url -> Promise<body>

  async function send(method, path, { body, token, conditional = false } = {}) {
    const bearer = token ?? getToken();
    const headers = { Accept: 'application/json' };
    if (bearer) headers.Authorization = `Bearer ${bearer}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const previous = conditional ? kept.get(path) : undefined;
    if (previous?.etag) headers['If-None-Match'] = previous.etag;

    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), REQUEST_TIMEOUT_MS);
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
        credentials: 'omit',
        redirect: 'error',
        referrerPolicy: 'no-referrer',
        signal: timeout.signal,
      });
    } catch (e) {
      const timedOut = timeout.signal.aborted;
      throw new ApiError({
        kind: timedOut ? 'timeout' : 'network',
        message: timedOut ? 'the collector did not answer within 20 s' : 'the collector could not be reached',
      });
    } finally {
      clearTimeout(timer);
    }

    if (response.status === 304 && previous) {
      // Most recently used last, so the oldest entries are the ones dropped.
      kept.delete(path);
      kept.set(path, previous);
      return previous.body;
    }
    if (!response.ok) {
      const error = await errorFrom(response);
      if (error.kind === 'unauthorized' && token === undefined) onUnauthorized?.(error);
      throw error;
    }
    if (response.status === 204) return null;
    let parsed;
    try {
      parsed = await response.json();
    } catch {
      throw new ApiError({ status: response.status, kind: 'server', message: 'the collector sent an answer that is not JSON' });
    }
    if (conditional) {
      const etag = response.headers.get('ETag');
      kept.delete(path);
      if (etag) {
        kept.set(path, { etag, body: parsed });
        while (kept.size > MAX_KEPT_BODIES) kept.delete(kept.keys().next().value);
      }
    }
    return parsed;
  }

  return {
    // The body of a GET; the very same object as last time if the collector answered 304.
    get(path) {
      const running = inFlight.get(path);
      if (running) return running;
      const request = send('GET', path, { conditional: true }).finally(() => inFlight.delete(path));
      inFlight.set(path, request);
      return request;
    },
    // Every item of a list, following next_cursor up to `maxItems`; `pages` are the bodies
    // as get() returned them, so an unchanged list is told by identity.
    async getAll(path, { maxItems = 5000 } = {}) {
      const items = [];
      const pages = [];
      let cursor = null;
      let complete = true;
      do {
        const separator = path.includes('?') ? '&' : '?';
        const url = cursor ? `${path}${separator}cursor=${encodeURIComponent(cursor)}` : path;
        const page = await this.get(url);
        pages.push(page);
        items.push(...page.items);
        cursor = page.next_cursor;
        if (cursor && items.length >= maxItems) {
          complete = false;
          break;
        }
      } while (cursor);
      return { items, pages, complete };
    },
    post(path, body) {
      return send('POST', path, { body });
    },
    delete(path) {
      return send('DELETE', path);
    },
    // A GET with an explicit token, outside the session: used to check a token at sign-in.
    probe(path, token) {
      return send('GET', path, { token });
    },
    // A file the API answers (a report as CSV or HTML): {blob, type} of a GET with the
    // session's token. Not conditional, not kept: each call asks again. A report of a large
    // fleet takes a while, so it may take up to 60 s.
    async getFile(path) {
      const bearer = getToken();
      const headers = { Accept: '*/*' };
      if (bearer) headers.Authorization = `Bearer ${bearer}`;
      const timeout = new AbortController();
      const timer = setTimeout(() => timeout.abort(), FILE_TIMEOUT_MS);
      try {
        let response;
        try {
          response = await fetch(path, {
            method: 'GET', headers, cache: 'no-store', credentials: 'omit', redirect: 'error',
            referrerPolicy: 'no-referrer', signal: timeout.signal,
          });
        } catch {
          const timedOut = timeout.signal.aborted;
          throw new ApiError({
            kind: timedOut ? 'timeout' : 'network',
            message: timedOut ? `the collector did not answer within ${FILE_TIMEOUT_MS / 1000} s` : 'the collector could not be reached',
          });
        }
        if (!response.ok) {
          const error = await errorFrom(response);
          if (error.kind === 'unauthorized') onUnauthorized?.(error);
          throw error;
        }
        try {
          const blob = await response.blob();
          return { blob, type: response.headers.get('Content-Type') ?? blob.type };
        } catch {
          const timedOut = timeout.signal.aborted;
          throw new ApiError({
            kind: timedOut ? 'timeout' : 'network',
            message: timedOut ? `the collector did not send the whole file within ${FILE_TIMEOUT_MS / 1000} s` : 'the file was cut off on its way',
          });
        }
      } finally {
        clearTimeout(timer);
      }
    },
    // Forgets every kept body (sign-out).
    clear() {
      kept.clear();
    },
  };
}

// Runs `work` on each item with at most `limit` at once; results in the items' order.
export async function eachLimited(items, limit, work) {
  const results = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await work(items[index], index);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
