/**
 * The configuration schema (zod). Keep key names stable: tools outside the repo rely on them.
 * Every key is documented in config/workspace-relay.example.yaml.
 */
import os from 'node:os';
import { domainToASCII } from 'node:url';
import { z } from 'zod';
import { parseDuration, parseSchedule, parseSize } from './units.js';

export const GMAIL_SEND_SCOPE = 'https://www.googleapis.com/auth/gmail.send';
export const FULL_MAIL_SCOPE = 'https://mail.google.com/';
export const DEFAULT_TOKEN_URL = 'https://oauth2.googleapis.com/token';
export const DEFAULT_API_ROOT_URL = 'https://gmail.googleapis.com/';

const duration = (def: string) =>
  z
    .union([z.string(), z.number()])
    .default(def)
    .transform((v, ctx) => {
      const ms = parseDuration(v);
      if (ms === null) {
        ctx.addIssue({ code: 'custom', message: `"${v}" is not a duration: use e.g. 30s, 5m, 4h, 5d` });
        return z.NEVER;
      }
      return ms;
    });

const size = (def: string) =>
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
const domain = z.string().transform((v, ctx) => {
  const ascii = domainToASCII(v.trim().toLowerCase());
  if (!ascii || ascii.endsWith('.') || !ascii.includes('.')) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a domain name such as clinic.example` });
    return z.NEVER;
  }
  return ascii;
});

const email = z
  .string()
  .trim()
  .refine((v) => /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v), { message: 'expected an email address such as user@clinic.example' })
  .transform((v) => {
    const at = v.lastIndexOf('@');
    return `${v.slice(0, at).toLowerCase()}@${domainToASCII(v.slice(at + 1).toLowerCase()) || v.slice(at + 1)}`;
  });

const tlsSchema = z
  .strictObject({
    mode: z.enum(['none', 'starttls', 'implicit']).default('none'),
    certFile: z.string().optional(),
    keyFile: z.string().optional(),
    minVersion: z.enum(['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
  })
  .superRefine((t, ctx) => {
    if (t.mode !== 'none' && (!t.certFile || !t.keyFile)) {
      ctx.addIssue({
        code: 'custom',
        path: [t.certFile ? 'keyFile' : 'certFile'],
        message: `tls mode "${t.mode}" needs certFile and keyFile (PEM files); or set mode: none`,
      });
    }
  });

const listenerSchema = z.strictObject({
  host: z.string().default('127.0.0.1'),
  port: z.number().int().min(0).max(65535),
  tls: tlsSchema.prefault({}),
});

const gmailApiSchema = z.strictObject({
  serviceAccountKeyFile: z.string().min(1),
  scopes: z.array(z.url()).min(1).default([GMAIL_SEND_SCOPE]),
});

const smtpSchema = z
  .strictObject({
    host: z.string().default('smtp.gmail.com'),
    port: z.number().int().min(1).max(65535).default(465),
    /** Implicit TLS; defaults to true on port 465. Otherwise STARTTLS is required. */
    secure: z.boolean().optional(),
    user: email,
    appPasswordFile: z.string().min(1),
    /** Extra CA certificate (PEM) to trust for the upstream; tests and TLS-inspecting proxies. */
    caFile: z.string().optional(),
  })
  .transform((s) => ({ ...s, secure: s.secure ?? s.port === 465 }));

const workspaceSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]*$/i, 'use letters, digits, - and _ (it names the workspace in logs and replies)'),
    domains: z.array(domain).min(1),
    transport: z.enum(['gmail-api', 'smtp', 'outbox']),
    gmailApi: gmailApiSchema.optional(),
    smtp: smtpSchema.optional(),
    outbox: z.strictObject({ dir: z.string().min(1) }).optional(),
    senders: z
      .strictObject({
        map: z.record(z.string(), email).default({}),
        default: email.nullable().default(null),
      })
      .prefault({}),
  })
  .superRefine((w, ctx) => {
    const section = { 'gmail-api': 'gmailApi', smtp: 'smtp', outbox: 'outbox' }[w.transport] as
      | 'gmailApi'
      | 'smtp'
      | 'outbox';
    if (!w[section]) {
      ctx.addIssue({
        code: 'custom',
        path: [section],
        message: `transport is "${w.transport}", so this workspace needs a "${section}" section`,
      });
    }
    const inside = (addr: string) => w.domains.includes(addr.slice(addr.lastIndexOf('@') + 1));
    for (const [from, to] of Object.entries(w.senders.map)) {
      if (!inside(to)) {
        ctx.addIssue({
          code: 'custom',
          path: ['senders', 'map', from],
          message: `maps to ${to}, which is not in this workspace's domains (${w.domains.join(', ')})`,
        });
      }
    }
    if (w.senders.default && !inside(w.senders.default)) {
      ctx.addIssue({
        code: 'custom',
        path: ['senders', 'default'],
        message: `${w.senders.default} is not in this workspace's domains (${w.domains.join(', ')})`,
      });
    }
    if (w.smtp && w.transport === 'smtp' && !inside(w.smtp.user)) {
      ctx.addIssue({
        code: 'custom',
        path: ['smtp', 'user'],
        message: `${w.smtp.user} is not in this workspace's domains (${w.domains.join(', ')})`,
      });
    }
  });

export const configSchema = z
  .strictObject({
    hostname: z.string().default(() => os.hostname()),
    listen: z.array(listenerSchema).min(1).prefault([{ port: 2525 }]),
    workspaces: z.array(workspaceSchema).min(1),
    limits: z
      .strictObject({
        maxMessageSize: size('25MB'),
        maxRecipients: z.number().int().min(1).max(100).default(100),
      })
      .prefault({}),
    queue: z.strictObject({
      dir: z.string().min(1),
      retrySchedule: z
        .string()
        .default('1m,5m,15m,30m,1h*4,2h*4,4h')
        .refine((v) => parseSchedule(v) !== null, {
          message: 'use delays separated by commas, with *N to repeat: e.g. 1m,5m,15m,1h*4,4h',
        })
        .transform((v) => parseSchedule(v)!),
      maxAge: duration('5d'),
      heldRetry: duration('15m'),
      concurrency: z.number().int().min(1).max(256).default(8),
      perUserConcurrency: z.number().int().min(1).max(64).default(2),
      dedupeRetention: duration('7d'),
    }),
    log: z.strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info') }).prefault({}),
    google: z
      .strictObject({ tokenUrl: z.url().default(DEFAULT_TOKEN_URL), apiRootUrl: z.url().default(DEFAULT_API_ROOT_URL) })
      .prefault({}),
  })
  .superRefine((c, ctx) => {
    const owner = new Map<string, string>();
    c.workspaces.forEach((w, i) => {
      w.domains.forEach((d, j) => {
        const first = owner.get(d);
        if (first !== undefined && first !== w.name) {
          ctx.addIssue({
            code: 'custom',
            path: ['workspaces', i, 'domains', j],
            message: `domain ${d} already belongs to workspace "${first}": two workspaces may not share a domain`,
          });
        }
        owner.set(d, w.name);
      });
    });
    const names = new Set<string>();
    c.workspaces.forEach((w, i) => {
      if (names.has(w.name)) {
        ctx.addIssue({ code: 'custom', path: ['workspaces', i, 'name'], message: `workspace name "${w.name}" is used twice` });
      }
      names.add(w.name);
    });
  });

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
export type WorkspaceConfig = Config['workspaces'][number];
export type ListenerConfig = Config['listen'][number];
