// Names for ids: the tenants and sites the token can see, and the host names of agents that
// alerts and maintenance windows name only by id. Lists are read at most every 30 s unless a
// page refreshes them itself; an agent's host name is looked up once and kept for 5 minutes.

import { eachLimited } from './api.js';

const LIST_MAX_AGE_MS = 30000;
const AGENT_NAME_MAX_AGE_MS = 300000;

export function createDirectory(api) {
  let tenants = new Map();
  let sites = new Map();
  let loadedAt = 0;
  let loading = null;
  const agentNames = new Map(); // id -> { hostname, tenant_id, site_id, at }

  function rememberAgents(items) {
    const at = Date.now();
    for (const a of items) agentNames.set(a.id, { hostname: a.hostname, tenant_id: a.tenant_id, site_id: a.site_id, at });
  }

  function absorb(tenantItems, siteItems) {
    tenants = new Map(tenantItems.map((t) => [t.id, t]));
    sites = new Map(siteItems.map((s) => [s.id, s]));
    loadedAt = Date.now();
  }

  return {
    absorb,
    async refresh({ maxAgeMs = LIST_MAX_AGE_MS } = {}) {
      if (Date.now() - loadedAt < maxAgeMs) return;
      if (!loading) {
        loading = Promise.all([
          api.getAll('/api/v1/tenants?limit=1000'),
          api.getAll('/api/v1/sites?limit=1000'),
        ]).then(([t, s]) => absorb(t.items, s.items)).finally(() => { loading = null; });
      }
      await loading;
    },
    tenants: () => [...tenants.values()],
    sites: (tenantId) => [...sites.values()].filter((s) => !tenantId || String(s.tenant_id) === String(tenantId)),
    tenantName: (id) => tenants.get(Number(id))?.name ?? `tenant ${id}`,
    siteName: (id) => sites.get(Number(id))?.name ?? `site ${id}`,
    site: (id) => sites.get(Number(id)),
    rememberAgents,
    agentName: (id) => agentNames.get(id)?.hostname,
    // Looks up the host names of `ids` not known yet (4 requests at a time); a lookup that
    // fails leaves the id shown as it is.
    async resolveAgents(ids) {
      const now = Date.now();
      const missing = [...new Set(ids)].filter((id) => id && !(now - (agentNames.get(id)?.at ?? 0) < AGENT_NAME_MAX_AGE_MS));
      await eachLimited(missing, 4, async (id) => {
        try {
          const page = await api.get(`/api/v1/agents?q=${encodeURIComponent(id)}&limit=1`);
          const found = page.items.find((a) => a.id === id);
          if (found) rememberAgents([found]);
          else agentNames.set(id, { hostname: undefined, at: Date.now() });
        } catch {
          // The id stays as it is; the next page load tries again.
        }
      });
    },
    clear() {
      tenants = new Map();
      sites = new Map();
      loadedAt = 0;
      agentNames.clear();
    },
  };
}
