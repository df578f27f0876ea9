/**
 * `workspace-relay send-test`: hand a small test message to a running relay over SMTP. With
 * `--wait`, follow it (send-test-wait.ts) until Google has it or it fails: exit 0 only when it
 * was delivered, 1 when it failed (or cannot be followed), 75 when the time ran out.
 */
import nodemailer from 'nodemailer';
import { parseDuration } from '../config/index.js';
import { controlSocketPath } from '../control/index.js';
import { errorText } from '../errors.js';
import { CliExit, EXIT_FAILURE, EXIT_TEMPFAIL, EXIT_USAGE, loadConfigOrExit, type ConfigChoice } from './context.js';
import type { Output } from './check.js';
import { waitForDelivery, waitLines, type WaitEnd } from './send-test-wait.js';

export interface SendTestOptions {
  from: string;
  to: string[];
  server?: string;
  json?: boolean;
  /** Follow the message until it is delivered or fails. */
  wait?: boolean;
  /** How long --wait waits, e.g. "2m" (default). */
  timeout?: string;
}

export const DEFAULT_WAIT = '2m';

export async function sendTest(choice: ConfigChoice, opts: SendTestOptions, io: Output): Promise<void> {
  const server = opts.server ? splitHostPort(opts.server) : undefined;
  const timeoutMs = parseDuration(opts.timeout ?? DEFAULT_WAIT);
  if (timeoutMs === null || timeoutMs <= 0) throw new CliExit(EXIT_USAGE, `error: --timeout ${opts.timeout}: use a duration, e.g. 90s or 5m`);
  const config = loadConfigOrExit(choice);
  const first = config.listen[0]!;
  const [host, port] = server ?? [first.host === '0.0.0.0' || first.host === '::' ? '127.0.0.1' : first.host, first.port];
  const t = nodemailer.createTransport({ host, port, secure: first.tls.mode === 'implicit', ignoreTLS: first.tls.mode === 'none', tls: { rejectUnauthorized: false } });
  let response: string;
  try {
    const info = await t.sendMail({
      envelope: { from: opts.from, to: opts.to },
      from: opts.from,
      to: opts.to,
      subject: 'workspace-relay test message',
      text: `This is a test message sent by "workspace-relay send-test" at ${new Date().toISOString()}.\n`,
    });
    response = info.response;
  } catch (err) {
    const message = `refused by ${host}:${port}: ${errorText(err)}`;
    if (opts.json) io.out(JSON.stringify({ accepted: false, server: `${host}:${port}`, error: errorText(err) }, null, 2));
    throw new CliExit(EXIT_FAILURE, message);
  } finally {
    t.close();
  }
  const queueId = /queued as (\S+)/.exec(response)?.[1] ?? null;
  const accepted = { accepted: true, server: `${host}:${port}`, response, queueId };
  if (!opts.wait) {
    if (opts.json) io.out(JSON.stringify(accepted, null, 2));
    else {
      io.out(`accepted by ${host}:${port}: ${response}`);
      // 250 is the relay's promise to deliver, not Google's answer: say how to get the latter.
      io.out('not delivered yet: --wait follows it to Google (message id, or the failure and its fix)');
    }
    return;
  }
  if (!opts.json) io.out(`accepted by ${host}:${port}: ${response}`);
  const end: WaitEnd = queueId
    ? await waitForDelivery(queueId, {
        socketPath: controlSocketPath(config),
        timeoutMs,
        onDeferred: (item) => {
          if (opts.json) return;
          io.out(`attempt ${item.attempts} failed, will retry: ${item.lastError?.code}: ${item.lastError?.message}`);
          if (item.fix) io.out(`  fix: ${item.fix}`);
        },
      })
    : { outcome: 'lost', reason: 'the reply names no queue id: is this a workspace-relay?' };
  if (opts.json) io.out(JSON.stringify({ ...accepted, wait: end }, null, 2));
  else for (const line of waitLines(queueId ?? '?', end, opts.timeout ?? DEFAULT_WAIT)) io.out(line);
  if (end.outcome === 'delivered') return;
  throw new CliExit(end.outcome === 'timeout' ? EXIT_TEMPFAIL : EXIT_FAILURE, '');
}

function splitHostPort(s: string): [string, number] {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(s);
  if (!m || Number(m[2]) > 65535) throw new CliExit(EXIT_USAGE, `error: --server ${s}: use host:port, e.g. 127.0.0.1:2525`);
  return [m[1]!, Number(m[2])];
}
