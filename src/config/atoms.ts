/** Building blocks shared by the config schemas (the relay's and the S/MIME section's). */
import { z } from 'zod';
import { normalizeDomain } from './domain-name.js';
import { parseDuration, parseSize } from './units.js';

export const GMAIL_SEND_SCOPE = 'https://www.googleapis.com/auth/gmail.send';
export const FULL_MAIL_SCOPE = 'https://mail.google.com/';
export const DEFAULT_TOKEN_URL = 'https://oauth2.googleapis.com/token';
export const DEFAULT_API_ROOT_URL = 'https://gmail.googleapis.com/';

type DurationLimits = { minMs?: number; max?: { ms: number; why: string } };

/** The milliseconds of a duration written in config, or a zod issue saying what to write. */
function durationMs(v: string | number, ctx: z.RefinementCtx, { minMs = 0, max }: DurationLimits): number {
  const ms = parseDuration(v);
  if (ms === null) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a duration: use e.g. 30s, 5m, 4h, 5d (or 0)` });
    return z.NEVER;
  }
  if (ms < minMs) {
    const hint = typeof v === 'number' ? ` (a bare number is milliseconds: write e.g. "${v}s" for seconds)` : '';
    const least = minMs < 1000 ? `${minMs}ms` : `${minMs / 1000}s`;
    ctx.addIssue({ code: 'custom', message: `"${v}" is too short: use at least ${least}${hint}` });
    return z.NEVER;
  }
  if (max && ms > max.ms) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is too long: use at most ${max.ms / 1000}s (${max.why})` });
    return z.NEVER;
  }
  return ms;
}

/**
 * A duration ('30s', '5m', '4h', '5d', 0; a bare number is milliseconds), at least `minMs` and at
 * most `max.ms` (`max.why` says what the limit protects).
 */
export const duration = (def: string, minMs = 0, max?: { ms: number; why: string }) =>
  z
    .union([z.string(), z.number()])
    .default(def)
    .transform((v, ctx) => durationMs(v, ctx, { minMs, ...(max ? { max } : {}) }));

/** A duration whose default depends on other keys (undefined when not given). */
export const optionalDuration = (limits: DurationLimits = {}) =>
  z
    .union([z.string(), z.number()])
    .optional()
    .transform((v, ctx) => (v === undefined ? undefined : durationMs(v, ctx, limits)));

export const size = (def: string) =>
  z
    .union([z.string(), z.number()])
    .default(def)
    .transform((v, ctx) => {
      const bytes = parseSize(v);
      if (bytes === null) {
        ctx.addIssue({ code: 'custom', message: `"${v}" is not a size: use e.g. 25MB, 512KiB or a number of bytes` });
        return z.NEVER;
      }
      return bytes;
    });

/** A transfer rate in bytes per second: "1KB/s", "1KB" (per second implied), 512, or 0 (off). */
export const rate = (def: string) =>
  z
    .union([z.string(), z.number()])
    .default(def)
    .transform((v, ctx) => {
      const bytes = parseSize(typeof v === 'string' ? v.replace(/\s*\/\s*s(ec)?\s*$/i, '') : v);
      if (bytes === null) {
        ctx.addIssue({ code: 'custom', message: `"${v}" is not a rate: use bytes per second, e.g. 1KB/s, 512B/s, or 0 for no minimum` });
        return z.NEVER;
      }
      return bytes;
    });

/**
 * A domain as an A-label (punycode), lowercase, no trailing dot: read the way policy reads the
 * domains of addresses (normalizeDomain), so `clinic..example`, `-a.example`, `a_b.example` or a
 * full-width dot are refused here rather than never matching an address.
 */
export const domainSchema = z.string().transform((v, ctx) => {
  const n = normalizeDomain(v.trim());
  if (!n.ok || !n.domain.includes('.')) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a domain name such as clinic.example${n.ok ? '' : `: ${n.reason}`}` });
    return z.NEVER;
  }
  return n.domain;
});

/** The parts of a configured address, or why it is not one. */
function readEmail(v: string): { local: string; domain: string } | { reason: string } {
  const at = v.lastIndexOf('@');
  const local = v.slice(0, at);
  const domain = at > 0 ? normalizeDomain(v.slice(at + 1)) : null;
  if (domain && !domain.ok) return { reason: `: ${domain.reason}` };
  if (at <= 0 || /[@\s]/.test(local) || !domain?.ok || !domain.domain.includes('.')) return { reason: '' };
  return { local: local.toLowerCase(), domain: domain.domain };
}

/**
 * An address: local part lowercased, the domain read as domainSchema reads domains. A check, not
 * an aborting transform, so the checks of the sections around it still run and report too.
 */
export const emailSchema = z
  .string()
  .trim()
  .superRefine((v, ctx) => {
    const r = readEmail(v);
    if ('reason' in r) ctx.addIssue({ code: 'custom', message: `expected an email address such as user@clinic.example${r.reason}` });
  })
  .transform((v) => {
    const r = readEmail(v);
    return 'reason' in r ? v : `${r.local}@${r.domain}`;
  });

/** Workspace names are unique and no domain belongs to two workspaces (issues name the key path). */
export function checkDistinctWorkspaces(
  workspaces: readonly { name: string; domains: readonly string[] }[],
  ctx: z.RefinementCtx,
  label: string,
): void {
  const names = new Set<string>();
  const owner = new Map<string, string>();
  workspaces.forEach((w, i) => {
    if (names.has(w.name)) {
      ctx.addIssue({ code: 'custom', path: ['workspaces', i, 'name'], message: `${label} name "${w.name}" is used twice` });
    }
    names.add(w.name);
    w.domains.forEach((d, j) => {
      const first = owner.get(d);
      if (first !== undefined && first !== w.name) {
        ctx.addIssue({
          code: 'custom',
          path: ['workspaces', i, 'domains', j],
          message: `domain ${d} already belongs to ${label} "${first}": two workspaces may not share a domain`,
        });
      }
      owner.set(d, w.name);
    });
  });
}
