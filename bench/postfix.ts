/**
 * The Postfix comparison (`npm run bench -- --scenario postfix`): the same client, Postfix's own
 * `smtp-source`, drives first a throwaway Postfix relaying to `smtp-sink`, then the relay
 * delivering to the counting fake Gmail, on the same machine, and prints relay/Postfix ratios.
 * Accept rate: messages / smtp-source's run time. Delivered rate: messages / (start → the last
 * message at the sink, or at the fake). Loopback only; every process started here is stopped.
 */
import { createPostfixInstance, ensurePostfix, startSink } from './postfix-instance.js';
import { portFree, start, waitListening } from './proc.js';
import { median } from './report.js';
import { DOMAIN, gmailStats, startBench, waitDrained } from './scenario.js';
import { memoryOf } from './children.js';

export interface CompareOptions {
  count: number;
  connections: number;
  /** smtp-source -l: payload bytes, headers not included. */
  size: number;
  reuse: boolean;
  logLevel: string;
  runs: number;
  greetingDelay?: number;
  /** The relay's listener as in the example config (see RelaySettings.exampleListener). */
  exampleListener?: boolean;
  /** Give up on a run after this long. */
  timeoutMs?: number;
  /** Run the compiled relay (dist/). */
  fromDist?: boolean;
  nodeFlags?: string[];
  /** The relay with spool encryption on. */
  encrypt?: boolean;
  /** A V8 CPU profile of the relay (RelaySettings.profile). */
  profile?: boolean;
  /** false: the operations listener off (RelaySettings.metrics). */
  metrics?: boolean;
}

interface Side {
  accept: number;
  delivered: number;
}

const POSTFIX_PORT = 10025;
const SINK_PORT = 10026;

function sourceArgs(o: CompareOptions, port: number): string[] {
  return [
    '-s', String(o.connections),
    '-l', String(o.size),
    '-m', String(o.count),
    ...(o.reuse ? ['-d'] : []),
    '-f', `sender@${DOMAIN}`,
    '-t', `rcpt@${DOMAIN}`,
    '-M', 'load.bench.example',
    `127.0.0.1:${port}`,
  ];
}

/** smtp-source against 127.0.0.1:port; resolves its start and end times. */
async function source(o: CompareOptions, port: number, timeoutMs: number): Promise<{ startedAt: number; endedAt: number }> {
  const startedAt = Date.now();
  const r = await start('/usr/sbin/smtp-source', sourceArgs(o, port), timeoutMs).done;
  if (r.code !== 0) throw new Error(`smtp-source exited with ${r.code}: ${(r.stderr || r.stdout).trim().slice(-1000)}`);
  return { startedAt, endedAt: r.endedAt };
}

async function postfixRun(o: CompareOptions, timeoutMs: number): Promise<Side> {
  for (const port of [POSTFIX_PORT, SINK_PORT]) {
    if (!(await portFree(port))) throw new Error(`127.0.0.1:${port} is in use: stop what listens there (a Postfix left over?)`);
  }
  const sink = startSink(SINK_PORT, o.count, timeoutMs);
  const pf = createPostfixInstance(POSTFIX_PORT, SINK_PORT);
  // Ctrl-C must not leave a Postfix master running: stop it, then exit.
  const onSignal = () => void Promise.allSettled([sink.kill(), pf.destroy()]).finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await waitListening(SINK_PORT);
    await pf.start();
    await waitListening(POSTFIX_PORT);
    const { startedAt, endedAt } = await source(o, POSTFIX_PORT, timeoutMs);
    const end = await sink.done; // smtp-sink -M exits after the last message
    if (sink.received() < o.count) throw new Error(`smtp-sink got ${sink.received()} of ${o.count} messages (timed out?)`);
    return { accept: o.count / ((endedAt - startedAt) / 1000), delivered: o.count / ((end.endedAt - startedAt) / 1000) };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await sink.kill();
    await pf.destroy();
  }
}

async function relayRun(o: CompareOptions, timeoutMs: number): Promise<Side & { peakMiB: number }> {
  // smtp-source has one sender: lift the per-user pace, per-user concurrency and daily limits so
  // what is measured is the relay, not the quota policy.
  const bench = await startBench(
    {
      userRate: 1_000_000,
      perUserConcurrency: 8,
      dailyMessages: o.count * 2,
      logLevel: o.logLevel,
      maxSize: o.size + 4096,
      connections: o.connections,
      ...(o.greetingDelay !== undefined ? { greetingDelay: o.greetingDelay } : {}),
      ...(o.exampleListener ? { exampleListener: true } : {}),
      ...(o.fromDist ? { fromDist: true } : {}),
      ...(o.nodeFlags ? { nodeFlags: o.nodeFlags } : {}),
      ...(o.encrypt ? { encrypt: true } : {}),
      ...(o.profile ? { profile: true } : {}),
      ...(o.metrics === false ? { metrics: false } : {}),
    },
    0,
  );
  try {
    const { startedAt, endedAt } = await source(o, bench.port, timeoutMs);
    if (!(await waitDrained(bench, o.count, timeoutMs))) throw new Error('the relay did not deliver everything before the timeout');
    const g = await gmailStats(bench);
    const peakMiB = (memoryOf(bench.relay.pid)?.peak ?? NaN) / 1024 / 1024;
    return { accept: o.count / ((endedAt - startedAt) / 1000), delivered: g.delivered / ((g.lastAt! - startedAt) / 1000), peakMiB };
  } finally {
    await bench.close();
  }
}

export async function comparePostfix(o: CompareOptions): Promise<void> {
  await ensurePostfix();
  const timeoutMs = o.timeoutMs ?? 600_000;
  const pf: Side[] = [];
  const relay: (Side & { peakMiB: number })[] = [];
  for (let i = 0; i < o.runs; i++) {
    // Alternate, so a noisy neighbour hurts both sides alike.
    pf.push(await postfixRun(o, timeoutMs));
    relay.push(await relayRun(o, timeoutMs));
    const p = pf.at(-1)!;
    const r = relay.at(-1)!;
    console.error(
      `run ${i + 1}/${o.runs}: Postfix ${p.accept.toFixed(0)} accepted/s ${p.delivered.toFixed(0)} delivered/s; ` +
        `relay ${r.accept.toFixed(0)} accepted/s ${r.delivered.toFixed(0)} delivered/s`,
    );
  }
  const med = (xs: number[]) => median(xs);
  const row = (name: string, p: number[], r: number[]) =>
    `| ${name} | ${med(p).toFixed(0)} | ${med(r).toFixed(0)} | ${(med(r) / med(p)).toFixed(2)} |`;
  console.log(
    [
      `== smtp-source ${sourceArgs(o, 0).slice(0, -1).join(' ')} — ${o.runs > 1 ? `median of ${o.runs} runs` : 'one run'}${o.exampleListener ? ', the relay with the example config’s listener' : ''}${o.encrypt ? ', spool encrypted' : ''}`,
      '| msgs/s | Postfix → smtp-sink | relay → fake Gmail | relay / Postfix |',
      '|---|---|---|---|',
      row('accepted', pf.map((x) => x.accept), relay.map((x) => x.accept)),
      row('delivered', pf.map((x) => x.delivered), relay.map((x) => x.delivered)),
      `relay peak RSS ${med(relay.map((x) => x.peakMiB)).toFixed(0)} MiB`,
    ].join('\n'),
  );
}
