/**
 * Which workspace owns a domain. Exact matches only: a subdomain or a lookalike is another
 * domain. The canonical form itself (normalizeDomain) is in src/config/domain-name.ts, which the
 * config's domains are read with too.
 */
import { normalizeDomain, type Config, type WorkspaceConfig } from '../config/index.js';

export { normalizeDomain, type DomainResult } from '../config/index.js';

/** True when `domain` (any accepted spelling) is exactly one of the workspace's domains. */
export function isWorkspaceDomain(workspace: WorkspaceConfig, domain: string): boolean {
  const n = normalizeDomain(domain);
  return n.ok && workspace.domains.includes(n.domain);
}

/** The workspace that owns `domain` exactly, or null (also for a domain that cannot be parsed). */
export function workspaceOfDomain(config: Pick<Config, 'workspaces'>, domain: string): WorkspaceConfig | null {
  const n = normalizeDomain(domain);
  if (!n.ok) return null;
  return config.workspaces.find((w) => w.domains.includes(n.domain)) ?? null;
}
