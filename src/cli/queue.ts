/**
 * `workspace-relay queue …`: see and steer the queue, like postqueue/postsuper. Talks to the
 * running daemon over its control socket; with no daemon running, reads the spool directly and
 * makes changes directly under the control-socket lock (src/control/queue-backend.ts). Every
 * change (and every `show --body`, which reveals message content) goes to the audit log.
 *
 * Exit codes: 0 ok; 1 failure or not found; 64 usage; 75 busy or unreachable (try again);
 * 78 config.
 */
import path from 'node:path';
import { Option, type Command } from 'commander';
import { systemClock, type Clock } from '../clock.js';
import { appendAudit, auditActor } from '../audit/index.js';
import type { Config } from '../config/index.js';
import {
  ControlError,
  controlSocketPath,
  deadTable,
  detail,
  openQueueBackend,
  queueTable,
  summary,
  type ControlRequest,
  type QueueBackend,
  type QueueItem,
  type RekeyResult,
  type RetryAllResult,
} from '../control/index.js';
import { errorText } from '../errors.js';
import { isValidQueueId } from '../spool/index.js';
import { CliExit, EXIT_FAILURE, EXIT_TEMPFAIL, EXIT_USAGE, loadConfigOrExit, type ConfigChoice } from './context.js';
import { usageExits } from './exit-codes.js';
import { asExit } from './queue-exits.js';
import { REKEY_ROUND, directKeyOptions, rekeyAudit, rekeyLines } from './queue-rekey.js';
import { directRemovals } from './queue-removals.js';

export { EXIT_TEMPFAIL, EXIT_USAGE };

export interface QueueCliDeps {
  /** Load the config, or throw CliExit(78). */
  loadConfig(): Config;
  stdout(text: string): void;
  /** The message bytes of `show --body`, unchanged. */
  stdoutBytes(chunk: Buffer): void;
  stderr(text: string): void;
  /** SUDO_USER for the audit log. Default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  clock?: Clock;
  /** Test seam: this process's uid (a direct change must run as the spool's owner). */
  uid?: number;
}

interface JsonOpt {
  json?: boolean;
}

/** The real process's deps: the config chosen by --config / WORKSPACE_RELAY_CONFIG, stdout, stderr. */
export function processQueueDeps(configChoice: () => ConfigChoice): QueueCliDeps {
  return {
    loadConfig: () => loadConfigOrExit(configChoice()),
    stdout: (s) => process.stdout.write(s),
    stdoutBytes: (chunk) => process.stdout.write(chunk),
    stderr: (s) => process.stderr.write(s),
  };
}

export function registerQueueCommands(program: Command, deps: QueueCliDeps): Command {
  const env = deps.env ?? process.env;
  const clock = deps.clock ?? systemClock;
  const now = () => new Date(clock.now());
  const out = (s: string) => deps.stdout(s.endsWith('\n') ? s : `${s}\n`);
  const json = (v: unknown) => out(JSON.stringify(v, null, 2));

  // Usage mistakes exit 64 (commander's message goes to stderr); subcommands inherit both.
  const queue = usageExits(
    program
      .command('queue')
      .description('see and steer the queue (through the running relay, or the spool when none runs)')
      .configureOutput({ writeErr: (s) => deps.stderr(s), outputError: (s, write) => write(s) }),
  );

  /** Open the backend, run `fn`, always close; ControlErrors become exit codes. */
  async function session<T>(change: boolean, fn: (backend: QueueBackend, config: Config) => Promise<T>): Promise<T> {
    const config = deps.loadConfig();
    let backend: QueueBackend;
    try {
      backend = await openQueueBackend({
        socketPath: controlSocketPath(config),
        spoolDir: path.resolve(config.queue.dir),
        spoolDirAsWritten: config.queue.dir,
        change,
        ...(deps.uid !== undefined ? { uid: deps.uid } : {}),
        clock,
        ...directKeyOptions(config),
        removals: directRemovals(config, clock, (s) => deps.stderr(s)),
      });
    } catch (err) {
      throw asExit(err);
    }
    try {
      return await fn(backend, config);
    } catch (err) {
      throw asExit(err);
    } finally {
      await backend.close();
    }
  }

  /**
   * A read is on record too (who looked at which messages' addresses, and when): one audit line
   * per command. A line that cannot be written is a warning, not a failure: the queue CLI is what
   * an admin needs most when the disk is full.
   */
  async function recordRead(config: Config, action: string, details: Record<string, unknown>): Promise<void> {
    try {
      await appendAudit(path.resolve(config.audit.file), { action: `queue.${action}`, ...details, who: auditActor(env), outcome: 'ok' }, now());
    } catch (err) {
      deps.stderr(`warning: the audit log ${config.audit.file} could not be written (${errorText(err)})\n`);
    }
  }

  /** An audited action (a change, or show --body): call, audit (ok or failed), print. */
  async function audited<T>(
    action: string,
    request: ControlRequest,
    print: (result: T, via: string) => void,
    options: { mutates?: boolean; onBody?: (chunk: Buffer) => void; details?: (result: T) => Record<string, unknown>; longWait?: boolean } = {},
  ): Promise<void> {
    const config = deps.loadConfig();
    const auditFile = path.resolve(config.audit.file);
    const what = { action: `queue.${action}`, ...('id' in request && request.id ? { ids: [request.id] } : {}) };
    const audit = async (details: Record<string, unknown>) => {
      try {
        await appendAudit(auditFile, { ...what, ...details, who: auditActor(env) }, now());
        return null;
      } catch (err) {
        return err;
      }
    };
    let result: T;
    let via = 'unknown';
    if (options.onBody) {
      // The message bytes (PHI) are shown only once their showing is on record.
      const before = await audit({ outcome: 'started' });
      if (before) throw new CliExit(EXIT_FAILURE, `cannot write the audit log ${auditFile} (${errorText(before)}): the message is not shown`);
    }
    try {
      result = await session(options.mutates ?? true, async (backend) => {
        via = backend.via;
        const timeout = options.longWait ? { replyTimeoutMs: 600_000 } : {};
        return (await backend.call(request, { ...timeout, ...(options.onBody ? { onBody: options.onBody } : {}) })) as T;
      });
    } catch (err) {
      const e = asExit(err);
      // Sent but not answered in time: the relay cancels a change that has not started when the
      // command goes away, but one already running finishes. Say so, not "failed".
      const unknown = err instanceof ControlError && err.code === 'control.no_answer';
      await audit({ via, outcome: unknown ? 'unknown' : 'failed', error: e.message });
      throw e;
    }
    const auditErr = await audit({ ...options.details?.(result), via, outcome: 'ok' });
    print(result, via);
    if (via === 'direct' && (options.mutates ?? true)) {
      deps.stderr('note: no relay is running; changed the spool directly (the relay sees it when it starts)\n');
    }
    if (auditErr) {
      throw new CliExit(
        EXIT_FAILURE,
        `error: queue ${action} was done, but the audit log ${auditFile} could not be written (${errorText(auditErr)}): fix its path or permissions (audit.file)`,
      );
    }
  }

  const note = (via: string, opts: JsonOpt) => {
    if (via === 'direct' && !opts.json) deps.stderr('note: no relay is running; read from the spool directly\n');
  };
  const withJson = (c: Command) => c.option('--json', 'machine-readable output');
  const id = (raw: string) => {
    if (!isValidQueueId(raw)) throw new CliExit(EXIT_USAGE, `error: not a queue id: ${JSON.stringify(raw)} (ids look like 0J2Z8K3V9ABCDE; see queue list)`);
    return raw;
  };

  withJson(queue.command('list').description('messages waiting, being delivered, or held: id, age, sender, recipients, attempts, next attempt, last error')).action(
    (opts: JsonOpt) =>
      session(false, async (backend, config) => {
        const items = (await backend.call({ op: 'list' })) as QueueItem[];
        await recordRead(config, 'list', { via: backend.via, count: items.length });
        if (opts.json) return json({ via: backend.via, messages: items });
        note(backend.via, opts);
        if (items.length) out(queueTable(items, now()));
        out(summary(items));
      }),
  );

  withJson(queue.command('show').argument('<id>', 'queue id').description('all metadata of one message; --body prints its bytes (audited)'))
    .addOption(new Option('--body', 'print the message exactly as received (content: audited)').conflicts('json'))
    .action(async (raw: string, opts: JsonOpt & { body?: boolean }) => {
      const qid = id(raw);
      if (opts.body) {
        return audited<QueueItem>('show-body', { op: 'show', id: qid, body: true }, () => undefined, { mutates: false, onBody: (c) => deps.stdoutBytes(c) });
      }
      await session(false, async (backend, config) => {
        const item = (await backend.call({ op: 'show', id: qid })) as QueueItem;
        await recordRead(config, 'show', { via: backend.via, ids: [qid] });
        if (opts.json) return json({ via: backend.via, message: item });
        note(backend.via, opts);
        out(detail(item, now()));
      });
    });

  withJson(queue.command('retry').argument('[id]', 'queue id').option('--all', 'every queued message').description('make the next attempt now')).action(
    async (raw: string | undefined, opts: JsonOpt & { all?: boolean }) => {
      if (!raw === !opts.all) throw new CliExit(EXIT_USAGE, 'error: give a queue id or --all (not both)');
      if (opts.all) {
        return audited<RetryAllResult>('retry-all', { op: 'retry', all: true }, (r, via) => {
          if (opts.json) return json({ via, ...r });
          out(`${r.retried.length} message${r.retried.length === 1 ? '' : 's'} due now`);
          for (const s of r.skipped) out(`skipped ${s.id}: ${s.reason}`);
        }, { details: (r) => ({ ids: r.retried, skipped: r.skipped.length }), longWait: true });
      }
      const qid = id(raw!);
      return audited<QueueItem>('retry', { op: 'retry', id: qid }, (m, via) =>
        opts.json ? json({ via, message: m }) : out(`${qid}: next attempt now`),
      );
    },
  );

  withJson(queue.command('hold').argument('<id>', 'queue id').description('hold a queued message: never sent until released')).action((raw: string, opts: JsonOpt) =>
    audited<QueueItem>('hold', { op: 'hold', id: id(raw) }, (m, via) =>
      opts.json ? json({ via, message: m }) : out(`held ${m.id}: it will not be sent until \`queue release ${m.id}\``),
    ),
  );

  withJson(queue.command('release').argument('<id>', 'queue id').description('release a held message: back in the queue, due now')).action(
    (raw: string, opts: JsonOpt) =>
      audited<QueueItem>('release', { op: 'release', id: id(raw) }, (m, via) =>
        opts.json ? json({ via, message: m }) : out(`released ${m.id}: back in the queue, due now`),
      ),
  );

  withJson(queue.command('delete').argument('<id>', 'queue id').description('delete a message and its bytes (not while it is being delivered)')).action(
    (raw: string, opts: JsonOpt) =>
      audited<{ id: string; state: string }>('delete', { op: 'delete', id: id(raw), by: auditActor(env) }, (r, via) =>
        opts.json ? json({ via, deleted: r }) : out(`deleted ${r.id} (was in ${r.state}/) with its message bytes`),
      ),
  );

  withJson(queue.command('dead').description('messages that failed for good, with the reason')).action((opts: JsonOpt) =>
    session(false, async (backend, config) => {
      const items = (await backend.call({ op: 'list', states: ['dead'] })) as QueueItem[];
      await recordRead(config, 'dead', { via: backend.via, count: items.length });
      if (opts.json) return json({ via: backend.via, messages: items });
      note(backend.via, opts);
      out(items.length ? deadTable(items, now()) : 'No dead messages.');
    }),
  );

  withJson(queue.command('requeue').argument('<id>', 'queue id').description('give a dead message another chance (after fixing delegation): due now')).action(
    (raw: string, opts: JsonOpt) =>
      audited<QueueItem>('requeue', { op: 'requeue', id: id(raw) }, (m, via) =>
        opts.json ? json({ via, message: m }) : out(`requeued ${m.id}: due now, attempts reset, maximum age counted from now`),
      ),
  );

  withJson(
    queue
      .command('find')
      .description("messages in the spool (dead too) matching all given criteria, as in Google's Email Log Search; delivered ones: `trace`")
      .option('--message-id <id>', 'Message-ID header (with or without <>)')
      .option('--sender <address>', 'envelope sender, From header, or the user Google sends as')
      .option('--recipient <address>', 'envelope, To/Cc/Bcc recipient'),
  ).action((opts: JsonOpt & { messageId?: string; sender?: string; recipient?: string }) => {
    if (!opts.messageId && !opts.sender && !opts.recipient) throw new CliExit(EXIT_USAGE, 'error: give --message-id, --sender and/or --recipient');
    const request: ControlRequest = {
      op: 'find',
      ...(opts.messageId ? { messageId: opts.messageId } : {}),
      ...(opts.sender ? { sender: opts.sender } : {}),
      ...(opts.recipient ? { recipient: opts.recipient } : {}),
    };
    return session(false, async (backend, config) => {
      const items = (await backend.call(request)) as QueueItem[];
      const { op: _op, ...query } = request;
      await recordRead(config, 'find', { via: backend.via, query, ids: items.map((m) => m.id) });
      if (opts.json) json({ via: backend.via, messages: items });
      else {
        note(backend.via, opts);
        if (items.length) out(queueTable(items, now()));
      }
      if (!items.length) throw new CliExit(EXIT_FAILURE, 'no message matches in the spool (delivered mail has left it: see `workspace-relay trace`)');
    });
  });

  withJson(queue.command('rekey').description('rewrite spool and outbox files not encrypted with the first key of queue.encryption.keyFiles')).action((opts: JsonOpt) =>
    audited<RekeyResult>('rekey', { op: 'rekey', limit: REKEY_ROUND }, (r, via) => (opts.json ? json({ via, ...r }) : rekeyLines(r).forEach(out)), { details: rekeyAudit, longWait: true }),
  );

  return queue;
}
