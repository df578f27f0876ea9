/**
 * `workspace-relay trace`: what happened to a message, after it left the spool too (delivered or
 * dead), for queue.traceRetention: when and from which client it was accepted, each attempt, the
 * outcome and Google's message id. Reads the trace files under queue.dir directly (no relay
 * needed; src/trace). Like a queue read, each search goes to the audit log (who looked up whose
 * addresses). Exit codes: 0 found; 1 nothing matches; 64 usage; 78 config.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { appendAudit, auditActor } from '../audit/index.js';
import { systemClock } from '../clock.js';
import { parseDuration } from '../config/index.js';
import type { Config } from '../config/index.js';
import { loadSpoolKeys, type SpoolKeys } from '../crypt/index.js';
import { ConfigError, errorText } from '../errors.js';
import { isValidQueueId } from '../spool/index.js';
import { TraceFiles, findTraces, formatTraces, type TraceQuery } from '../trace/index.js';
import { CliExit, EXIT_CONFIG, EXIT_FAILURE, EXIT_USAGE } from './exit-codes.js';
import type { QueueCliDeps } from './queue.js';

export type TraceCliDeps = Pick<QueueCliDeps, 'loadConfig' | 'stdout' | 'stderr' | 'env' | 'clock'>;

interface TraceOptions {
  id?: string;
  messageId?: string;
  sender?: string;
  recipient?: string;
  since?: string;
  until?: string;
  limit?: string;
  json?: boolean;
  audit?: boolean;
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * A time as an admin types it: a duration ago (30m, 2h, 3d), a date (local midnight; as --until,
 * the end of that day), or a date and time (local unless it names its zone: Z or +02:00).
 */
export function parseWhen(text: string, now: number, end = false): number | null {
  const t = text.trim();
  // a duration needs its unit here (30m, 2h, 3d): parseDuration reads a bare number as ms
  const ago = /^\d+(?:\.\d+)?\s*[a-z]+$/i.test(t) ? parseDuration(t) : null;
  if (ago !== null) return now - ago;
  if (DATE_ONLY.test(t)) {
    const [y, m, d] = t.split('-').map(Number) as [number, number, number];
    const start = new Date(y, m - 1, d).getTime();
    return end ? new Date(y, m - 1, d + 1).getTime() : start;
  }
  const parsed = Date.parse(t.replace(' ', 'T'));
  return Number.isNaN(parsed) ? null : parsed;
}

export function registerTraceCommand(program: Command, deps: TraceCliDeps): Command {
  const clock = deps.clock ?? systemClock;
  return program
    .command('trace')
    .description('what happened to a message (delivered, dead or waiting), for queue.traceRetention: accepted from where, each attempt, Google id')
    .option('--id <queue-id>', 'queue id (from the 250 reply or the log)')
    .option('--message-id <id>', 'Message-ID (with or without <>), as in Google\'s Email Log Search')
    .option('--sender <address>', 'envelope sender, From header, or the user Google sends as')
    .option('--recipient <address>', 'envelope, To/Cc/Bcc recipient')
    .option('--since <when>', 'accepted at or after: 2h (ago), 2026-05-01, "2026-05-01 09:00" (local time unless Z or +hh:mm)')
    .option('--until <when>', 'accepted before (a date alone: the end of that day)')
    .option('--limit <n>', 'at most this many messages, the most recent (default 50)')
    .option('--json', 'machine-readable output')
    .option('--audit', 'only the audit records (one JSON line per message that left the queue; no limit unless --limit), for a compliance export')
    .action(async (opts: TraceOptions) => {
      const t = clock.now();
      const when = (flag: string, text: string | undefined, end = false) => {
        if (text === undefined) return undefined;
        const v = parseWhen(text, t, end);
        if (v === null) throw new CliExit(EXIT_USAGE, `error: --${flag} "${text}" is not a time: use e.g. 2h, 2026-05-01 or "2026-05-01 09:00"`);
        return v;
      };
      if (opts.id !== undefined && !isValidQueueId(opts.id)) throw new CliExit(EXIT_USAGE, `error: not a queue id: ${JSON.stringify(opts.id)}`);
      const limit = opts.limit === undefined ? undefined : Number(opts.limit);
      if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) throw new CliExit(EXIT_USAGE, `error: --limit wants a positive whole number, not "${opts.limit}"`);
      const query: TraceQuery = {
        queueId: opts.id,
        messageId: opts.messageId,
        sender: opts.sender,
        recipient: opts.recipient,
        since: when('since', opts.since),
        until: when('until', opts.until, true),
        limit,
      };
      if (Object.values(query).every((v) => v === undefined)) {
        throw new CliExit(EXIT_USAGE, 'error: give --id, --message-id, --sender, --recipient and/or a time range (--since, --until)');
      }
      if (opts.audit && limit === undefined) query.limit = Number.POSITIVE_INFINITY; // an export: every match
      const config = deps.loadConfig();
      const files = TraceFiles.inSpool(path.resolve(config.queue.dir), spoolKeysOrExit(config));
      let result;
      try {
        result = await findTraces(files, query);
      } catch (err) {
        throw new CliExit(EXIT_FAILURE, `error: cannot read the message trace in ${files.dir}: ${errorText(err)}`);
      }
      const ids = result.traces.flatMap((m) => (m.queueId ? [m.queueId] : []));
      const { limit: _l, ...asked } = query;
      try {
        await appendAudit(path.resolve(config.audit.file), { action: 'trace.find', query: withoutUndefined(asked), ids, who: auditActor(deps.env ?? process.env), outcome: 'ok' }, new Date(clock.now()));
      } catch (err) {
        deps.stderr(`warning: the audit log ${config.audit.file} could not be written (${errorText(err)})\n`);
      }
      if (opts.audit) deps.stdout(result.traces.flatMap((m) => m.audits.map((a) => `${JSON.stringify(a)}\n`)).join(''));
      else if (opts.json) deps.stdout(`${JSON.stringify({ messages: result.traces, more: result.more }, null, 2)}\n`);
      else if (result.traces.length) deps.stdout(`${formatTraces(result)}\n`);
      if (!result.traces.length) {
        throw new CliExit(EXIT_FAILURE, `no message matches in the trace (it keeps queue.traceRetention: ${Math.round(config.queue.traceRetention / 86_400_000)} days)`);
      }
    });
}

function withoutUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** The spool's keys, which open the trace's lines when the spool is encrypted; exit 78 when a key file cannot be read. */
function spoolKeysOrExit(config: Config): SpoolKeys {
  try {
    return loadSpoolKeys(config);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliExit(EXIT_CONFIG, `config error: ${err.message}`);
    throw err;
  }
}
