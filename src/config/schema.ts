/**
 * The configuration schema (zod). Keep key names stable: tools outside the repo rely on them.
 * Every key is documented in config/workspace-relay.example.yaml.
 */
import os from 'node:os';
import { z } from 'zod';
import { DEFAULT_API_ROOT_URL, DEFAULT_TOKEN_URL, GMAIL_SEND_SCOPE, checkDistinctWorkspaces, domainSchema as domain, duration, emailSchema as email, size } from './atoms.js';
import { smimeConfigSchema } from './smime-schema.js';
import { parseSchedule } from './units.js';

export { DEFAULT_API_ROOT_URL, DEFAULT_TOKEN_URL, FULL_MAIL_SCOPE, GMAIL_SEND_SCOPE } from './atoms.js';

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
    /** S/MIME commands' own credentials (the daemon never loads them): src/config/smime-schema.ts. */
    smime: smimeConfigSchema.optional(),
    google: z
      .strictObject({ tokenUrl: z.url().default(DEFAULT_TOKEN_URL), apiRootUrl: z.url().default(DEFAULT_API_ROOT_URL) })
      .prefault({}),
  })
  .superRefine((c, ctx) => checkDistinctWorkspaces(c.workspaces, ctx, 'workspace'));

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
export type WorkspaceConfig = Config['workspaces'][number];
export type ListenerConfig = Config['listen'][number];
