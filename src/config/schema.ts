/**
 * The configuration schema (zod). Keep key names stable: tools outside the repo rely on them.
 * Every key is documented in config/workspace-relay.example.yaml.
 */
import os from 'node:os';
import { z } from 'zod';
import { DEFAULT_API_ROOT_URL, DEFAULT_TOKEN_URL, checkDistinctWorkspaces, domainSchema as domain, duration, emailSchema as email, rate, size } from './atoms.js';
import { httpSchema } from './http-schema.js';
import { DEFAULT_DIRECTORY_ROOT_URL, directorySchema } from './directory-schema.js';
import { deviceSchema, listenerSchema } from './listener-schema.js';
import { defaultAuditFile } from './paths.js';
import { smimeConfigSchema } from './smime-schema.js';
import { gmailXoauth2Schema, smtpRelaySchema, smtpSchema } from './smtp-upstream-schema.js';
import { TRANSPORTS } from './transports.js';
import { parseSchedule } from './units.js';

export { DEFAULT_API_ROOT_URL, DEFAULT_TOKEN_URL, FULL_MAIL_SCOPE, GMAIL_SEND_SCOPE } from './atoms.js';
export * from './directory-schema.js';

const gmailApiSchema = z.strictObject({
  serviceAccountKeyFile: z.string().min(1),
  /**
   * Used as written. Without it the relay asks for gmail.send, else https://mail.google.com/
   * (what many set-up guides authorise), and remembers which (src/google/scope-ladder.ts).
   */
  scopes: z.array(z.url()).min(1).optional(),
  /** Messages larger than this (as sent) go up in a resumable upload; 0 = every message. */
  resumableAbove: size('5MB'),
});

const TRANSPORT_SECTION = { 'gmail-api': 'gmailApi', smtp: 'smtp', 'gmail-xoauth2': 'gmailXoauth2', 'smtp-relay': 'smtpRelay', outbox: 'outbox' } as const;

/** A practice's own limits (answered for that practice only: 452 4.3.1 / 450 4.7.1 at MAIL FROM). */
const workspaceLimitsSchema = z
  .strictObject({
    /** Messages of this workspace waiting for delivery (queued or being sent). */
    queued: z.number().int().min(1).optional(),
    /** Messages of this workspace accepted in the last hour. */
    acceptedPerHour: z.number().int().min(1).optional(),
  })
  .prefault({});

export const workspaceSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]*$/i, 'use letters, digits, - and _ (it names the workspace in logs and replies)'),
    domains: z.array(domain).min(1),
    transport: z.enum(TRANSPORTS),
    gmailApi: gmailApiSchema.optional(),
    smtp: smtpSchema.optional(),
    gmailXoauth2: gmailXoauth2Schema.optional(),
    smtpRelay: smtpRelaySchema.optional(),
    /** directory: refuse RCPT TO an address that is no user, alias or group of the workspace (550 5.1.1). */
    recipientCheck: z.enum(['none', 'directory']).default('none'),
    directory: directorySchema.optional(),
    outbox: z.strictObject({ dir: z.string().min(1) }).optional(),
    senders: z
      .strictObject({
        map: z.record(z.string(), email).default({}),
        default: email.nullable().default(null),
      })
      .prefault({}),
    /** The user delivery-status notifications are sent as; default postmaster@<first domain>. */
    postmaster: email.optional(),
    /** Where alerts about held mail and broken delegation go (an admin inside the workspace). */
    notify: email.nullable().default(null),
    limits: workspaceLimitsSchema,
  })
  .superRefine((w, ctx) => {
    const section = TRANSPORT_SECTION[w.transport];
    if (!w[section]) {
      ctx.addIssue({
        code: 'custom',
        path: [section],
        message: `transport is "${w.transport}", so this workspace needs a "${section}" section`,
      });
    }
    if (w.recipientCheck === 'directory' && !w.directory) {
      ctx.addIssue({
        code: 'custom',
        path: ['directory'],
        message:
          'recipientCheck is "directory", so this workspace needs a "directory" section: serviceAccountKeyFile (a key authorised for admin.directory.user.readonly and admin.directory.group.readonly) and adminUser',
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
    for (const [key, user] of [['smtp', w.transport === 'smtp' ? w.smtp?.user : undefined], ['smtpRelay', w.transport === 'smtp-relay' ? w.smtpRelay?.user : undefined]] as const) {
      if (user !== undefined && !inside(user)) {
        ctx.addIssue({ code: 'custom', path: [key, 'user'], message: `${user} is not in this workspace's domains (${w.domains.join(', ')})` });
      }
    }
    for (const key of ['postmaster', 'notify'] as const) {
      const a = w[key];
      if (a && !inside(a)) {
        ctx.addIssue({ code: 'custom', path: [key], message: `${a} is not in this workspace's domains (${w.domains.join(', ')}): notices never leave the workspace` });
      }
    }
  });

type WorkspaceOut = z.output<typeof workspaceSchema>;

/**
 * Within one file (the main one, or a practice file): workspace names and domains distinct,
 * listeners and devices naming its workspaces, device names distinct, device addresses inside.
 */
export function checkReferences(
  c: { workspaces: readonly WorkspaceOut[]; listen: readonly { workspace?: string | undefined }[]; devices: readonly z.output<typeof deviceSchema>[] },
  ctx: z.RefinementCtx,
  hint = '',
): void {
  checkDistinctWorkspaces(c.workspaces, ctx, 'workspace');
  const names = new Set(c.workspaces.map((w) => w.name));
  const known = `one of: ${[...names].join(', ')}${hint}`;
  c.listen.forEach((l, i) => {
    if (l.workspace !== undefined && !names.has(l.workspace)) {
      ctx.addIssue({ code: 'custom', path: ['listen', i, 'workspace'], message: `no workspace "${l.workspace}" (${known})` });
    }
  });
  const users = new Set<string>();
  c.devices.forEach((d, i) => {
    if (!names.has(d.workspace)) {
      ctx.addIssue({ code: 'custom', path: ['devices', i, 'workspace'], message: `no workspace "${d.workspace}" (${known})` });
    }
    if (users.has(d.username)) {
      ctx.addIssue({ code: 'custom', path: ['devices', i, 'username'], message: `device "${d.username}" is listed twice` });
    }
    users.add(d.username);
    const w = c.workspaces.find((x) => x.name === d.workspace);
    for (const [k, list] of [['senders', d.senders], ['allowedRecipients', d.allowedRecipients]] as const) {
      list?.forEach((a, j) => {
        if (w && !w.domains.includes(a.slice(a.lastIndexOf('@') + 1))) {
          ctx.addIssue({ code: 'custom', path: ['devices', i, k, j], message: `${a} is not in workspace "${w.name}"` });
        }
      });
    }
  });
}

export const configSchema = z
  .strictObject({
    hostname: z.string().default(() => os.hostname()),
    listen: z.array(listenerSchema).prefault([{ port: 2525 }]),
    /** Practice files (globs relative to this file; `*` and `?` in the last part): src/config/include.ts. */
    include: z.array(z.string().min(1)).default([]),
    workspaces: z.array(workspaceSchema).default([]),
    limits: z
      .strictObject({
        maxMessageSize: size('25MB'),
        maxRecipients: z.number().int().min(1).max(100).default(100),
        /** Close a connection that sends nothing for this long (421 4.4.2); RFC 5321 asks for 5 minutes. */
        idleTimeout: duration('5m', 100),
        /** A command line must be complete this long after its first byte (421 4.4.2); 0: no limit. */
        commandTimeout: duration('1m'),
        /** After DATA's first 30 s, at least this many bytes in every 30 s, per second (421 4.4.2); 0: no minimum. */
        minDataRate: rate('1KB/s'),
      })
      .prefault({}),
    auth: z
      .strictObject({
        /**
         * Failed logins (src/auth/login-throttle.ts): `failures` for one user name from one client
         * address within `window` refuse that user from that address for `block` (454 4.7.0, no
         * password check); `addressFailures` (any user names) refuse the whole address. Attempts
         * being checked count too, so parallel guesses cannot pass the limit.
         */
        throttle: z
          .strictObject({
            failures: z.number().int().min(1).default(5),
            addressFailures: z.number().int().min(1).default(20),
            window: duration('10m', 1000),
            block: duration('10m', 1000),
          })
          .prefault({})
          .superRefine((t, ctx) => {
            if (t.addressFailures < t.failures) {
              ctx.addIssue({
                code: 'custom',
                path: ['addressFailures'],
                message: `${t.addressFailures} is below failures (${t.failures}): the per-address limit counts every user name from the address, so make it at least failures`,
              });
            }
          }),
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
      heldRetry: duration('15m', 100),
      concurrency: z.number().int().min(1).max(256).default(8),
      perUserConcurrency: z.number().int().min(1).max(64).default(2),
      dedupeRetention: duration('7d'),
      /** How long the message trace (`workspace-relay trace`) keeps what happened to each message. */
      traceRetention: duration('30d', 86_400_000),
      /**
       * Dead messages (dead/) and dry-run outbox files are removed this long after they died or
       * were written; 0 keeps them until an admin deletes them.
       */
      deadRetention: duration('30d').refine((ms) => ms === 0 || ms >= 3_600_000, {
        message: 'use 0 (keep until an admin deletes them) or at least 1h, e.g. 30d',
      }),
      /**
       * Encryption of the spool at rest (docs/encryption.md): key files of 32 random bytes
       * (`workspace-relay keygen FILE`), mode 0600. The first seals every new file; all open files.
       */
      encryption: z
        .strictObject({
          keyFiles: z.array(z.string().min(1)).min(1, { message: 'list at least one key file (workspace-relay keygen FILE writes one)' }),
        })
        .optional(),
      /** Run the sends on a thread of their own (the second core), leaving the first to accept mail. */
      deliveryThread: z.boolean().default(true),
      /**
       * Per sending user: at most this many sends per second. Unset (the default): Google's
       * documented per-user rate (2.4/s, 96% of 15,000 units a minute). Either way the pace
       * adapts below it when Google says "slow down" (docs/pacing.md).
       */
      userRate: z.number().positive().optional(),
      /** After a rate-limit answer with no usable "Retry after": pause the user this long, doubling (max 30 min). */
      rateLimitBackoff: duration('30s', 100),
      /** Per sending user, rolling 24 h: hold mail above these (Google's limits: 2,000 / 10,000). */
      dailyMessages: z.number().int().min(1).default(1800),
      dailyRecipients: z.number().int().min(1).default(9000),
      /** Send the sender a "delayed" notice once a message has waited this long. */
      delayWarning: duration('4h'),
      /** Backpressure: answer 452 4.3.1 at MAIL FROM above this many queued messages… */
      maxQueued: z.number().int().min(1).default(20_000),
      /** …or when less than this is free on the spool's file system. */
      minFreeSpace: size('512MB'),
      /** Shutdown: wait this long for DATA in progress, then exit anyway. */
      shutdownTimeout: duration('30s', 0, {
        ms: 80_000,
        why: "the systemd unit's TimeoutStopSec of 90s must stay longer, or systemd kills the relay in the middle of its stop",
      }),
    }),
    devices: z.array(deviceSchema).default([]),
    control: z
      .strictObject({
        /** Unix socket the queue CLI talks to the daemon through; default <queue.dir>/control.sock. */
        socket: z.string().optional(),
      })
      .prefault({}),
    audit: z
      .strictObject({
        /** Who did what with the queue and S/MIME CLIs, one JSON line each. Default: <queue.dir>/audit.log. */
        file: z.string().min(1).optional(),
      })
      .prefault({}),
    /** The operations listener: /metrics, /healthz, /readyz (src/ops). null: off. */
    http: httpSchema,
    log: z.strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info') }).prefault({}),
    /** S/MIME commands' own credentials (the daemon never loads them): src/config/smime-schema.ts. */
    smime: smimeConfigSchema.optional(),
    google: z
      .strictObject({
        tokenUrl: z.url().default(DEFAULT_TOKEN_URL),
        apiRootUrl: z.url().default(DEFAULT_API_ROOT_URL),
        directoryRootUrl: z.url().default(DEFAULT_DIRECTORY_ROOT_URL),
      })
      .prefault({}),
  })
  .superRefine((c, ctx) => {
    if (!c.workspaces.length && !c.include.length) {
      ctx.addIssue({ code: 'custom', path: ['workspaces'], message: 'is required: list at least one workspace here, or include practice files (include: [conf.d/*.yaml])' });
    }
    if (!c.listen.length && !c.include.length) {
      ctx.addIssue({ code: 'custom', path: ['listen'], message: 'needs at least one listener (or practice files with their own: include)' });
    }
    checkReferences(c, ctx, c.include.length ? "; a practice's listeners and devices go in its own file" : '');
  })
  .transform((c) => ({ ...c, audit: { file: c.audit.file ?? defaultAuditFile(c.queue.dir) } }));
