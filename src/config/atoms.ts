/** Building blocks shared by the config schemas (the relay's and the S/MIME section's). */
import { domainToASCII } from 'node:url';
import { z } from 'zod';
import { parseDuration, parseSize } from './units.js';

export const GMAIL_SEND_SCOPE = 'https://www.googleapis.com/auth/gmail.send';
export const FULL_MAIL_SCOPE = 'https://mail.google.com/';
export const DEFAULT_TOKEN_URL = 'https://oauth2.googleapis.com/token';
export const DEFAULT_API_ROOT_URL = 'https://gmail.googleapis.com/';

/**
 * A duration ('30s', '5m', '4h', '5d'; a bare number is milliseconds), at least `minMs` and at
 * most `max.ms` (`max.why` says what the limit protects).
 */
export const duration = (def: string, minMs = 0, max?: { ms: number; why: string }) =>
  z
    .union([z.string(), z.number()])
    .default(def)
    .transform((v, ctx) => {
      const ms = parseDuration(v);
      if (ms === null) {
        ctx.addIssue({ code: 'custom', message: `"${v}" is not a duration: use e.g. 30s, 5m, 4h, 5d` });
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
    });

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

/** A domain as an A-label (punycode), lowercase, no trailing dot. */
export const domainSchema = z.string().transform((v, ctx) => {
  const ascii = domainToASCII(v.trim().toLowerCase());
  if (!ascii || ascii.endsWith('.') || !ascii.includes('.')) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a domain name such as clinic.example` });
    return z.NEVER;
  }
  return ascii;
});

export const emailSchema = z
  .string()
  .trim()
  .refine((v) => /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v), { message: 'expected an email address such as user@clinic.example' })
  .transform((v) => {
    const at = v.lastIndexOf('@');
    return `${v.slice(0, at).toLowerCase()}@${domainToASCII(v.slice(at + 1).toLowerCase()) || v.slice(at + 1)}`;
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
