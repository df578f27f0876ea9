/**
 * The parts of src/ and the arrows between them: the one place where they are written down
 * (docs/architecture.md explains them; test/architecture.test.ts enforces them).
 *
 * A part is a folder under src/ (its public face is its index.ts) or a file at the top of src/.
 * An arrow A → B means "a file of A may import B". Type-only imports are arrows too: a type is
 * knowledge of another part as much as a value is, and a cycle of types is still a cycle to read.
 *
 * - leaf: usable by every part. A leaf imports only the leaves in its own `uses`, so the leaves
 *   stay in layers and never form a cycle.
 * - part: imports the leaves and the parts in its `uses` (and only types from `typesFrom`).
 * - top: app (the composition root) and cli (the only code that touches process) may import
 *   any part; nothing imports them except cli → app.
 * - `packages`, when given, is the whole list of outside modules (npm or node:) the part may
 *   import: how "policy does no I/O" is kept.
 *
 * Adding a part: add a row here (and to docs/architecture.md), give it an index.ts, and list
 * which parts it uses. The message path (DESIGN.md) fixes the direction of the main arrows:
 * smtp → policy → spool → queue → delivery; a part never imports one that comes before it.
 */
export type Layer = 'leaf' | 'part' | 'top';

export interface Part {
  layer: Layer;
  /** What the part is, for the failure messages. */
  what: string;
  /** Parts (leaves included, for a leaf) whose values and types this part may import. */
  uses: readonly string[];
  /** Parts from which only types may be imported (`import type`). */
  typesFrom?: readonly string[];
  /** When set, the only outside modules (npm or node:) the part may import. */
  packages?: readonly string[];
}

export const PARTS: Readonly<Record<string, Part>> = {
  // ── leaves, usable by all (each lists the leaves it builds on) ───────────────────────────────
  errors: { layer: 'leaf', what: 'src/errors.ts, the one error hierarchy', uses: [] },
  clock: { layer: 'leaf', what: 'src/clock.ts, the injected clock', uses: [] },
  log: { layer: 'leaf', what: 'src/log.ts, the pino logger', uses: [] },
  'log-pretty': { layer: 'leaf', what: 'src/log-pretty.ts, readable logs for a terminal', uses: [] },
  'safe-text': { layer: 'leaf', what: 'src/safe-text.ts, text that is safe to log', uses: [] },
  version: { layer: 'leaf', what: 'src/version.ts, the package version', uses: [] },
  config: { layer: 'leaf', what: 'src/config, YAML → zod → frozen config', uses: ['errors'] },
  replies: { layer: 'leaf', what: 'src/replies, the table of SMTP replies', uses: ['errors', 'safe-text'] },
  failures: { layer: 'leaf', what: 'src/failures, the code table and classifier of outbound failures', uses: ['errors', 'config'] },
  // The spool's encryption (sealed files, keys): the spool, delivery's outbox, the CLI and app use it.
  crypt: { layer: 'leaf', what: 'src/crypt, authenticated encryption of spool files', uses: ['errors', 'config'] },

  // ── the parts, in the order of the message path ────────────────────────────────────────────
  auth: { layer: 'part', what: 'src/auth, device accounts and login throttling', uses: [] },
  // google (send-as aliases) for the From decision at DATA; never delivery.
  smtp: { layer: 'part', what: 'src/smtp, the listener', uses: ['policy', 'spool', 'auth', 'google', 'events'] },
  // Pure: no I/O, no randomness, no clock of its own. Only the spool's record types
  // (MessageRewrite, the header changes policy decides and the spool stores).
  policy: {
    layer: 'part',
    what: 'src/policy, the workspace boundary (pure)',
    uses: [],
    typesFrom: ['spool'],
    packages: ['nodemailer/lib/addressparser'],
  },
  spool: { layer: 'part', what: 'src/spool, durable storage of accepted mail', uses: [] },
  queue: { layer: 'part', what: 'src/queue, the scheduler', uses: ['spool', 'delivery', 'events'] },
  // Address parsing from policy for the headers it rewrites on the way out.
  delivery: { layer: 'part', what: 'src/delivery, the transports', uses: ['spool', 'google', 'policy'] },
  google: { layer: 'part', what: 'src/google, service-account credentials and send-as', uses: [] },
  // Observes the queue (DeliveryObserver) to send notices; the queue never imports notify.
  notify: { layer: 'part', what: 'src/notify, notices and alerts', uses: ['spool', 'policy'], typesFrom: ['queue'] },
  // Reports an admin's deletion through RelayEvents.removed (the message's audit record).
  control: { layer: 'part', what: 'src/control, the control socket and queue administration', uses: ['spool', 'policy'], typesFrom: ['events'] },
  audit: { layer: 'part', what: 'src/audit, the audit log of admin actions', uses: [] },
  smime: { layer: 'part', what: 'src/smime, S/MIME certificates in Gmail', uses: ['google', 'audit'] },
  // Start-up checks and reload: the listeners', control socket's and scheduler's faces.
  lifecycle: { layer: 'part', what: 'src/lifecycle, start-up checks and reload', uses: ['smtp', 'control', 'queue', 'google'] },

  // What the listener and the scheduler report (RelayEvents); metrics and trace listen to it.
  events: { layer: 'part', what: 'src/events.ts, the one interface the listener and scheduler report through', uses: [], typesFrom: ['spool'] },
  metrics: { layer: 'part', what: 'src/metrics, the Prometheus registry', uses: [], typesFrom: ['events', 'spool'] },
  // The listeners' client filter (allow lists) from smtp, so /metrics is allowed as SMTP is.
  ops: { layer: 'part', what: 'src/ops, the operations HTTP listener and health checks', uses: ['smtp'] },
  // The queue CLI's search and time format from control, so trace and queue find agree.
  trace: { layer: 'part', what: 'src/trace, the per-message trace on disk', uses: ['control'], typesFrom: ['events', 'spool'] },

  // ── the top ────────────────────────────────────────────────────────────────────────────────
  app: { layer: 'top', what: 'src/app.ts, the composition root', uses: ['observability', 'relay'] },
  relay: { layer: 'top', what: "src/relay.ts, the running relay's face (Relay, RelayOptions)", uses: ['observability'] },
  observability: { layer: 'top', what: 'src/observability.ts, the composition root of metrics, trace and the ops listener', uses: [] },
  cli: { layer: 'top', what: 'src/cli, the command line', uses: ['app'] },
};

/** Longest source file, in lines (house style: files under ~300 lines). */
export const MAX_LINES = 300;
