/**
 * `npm run bench [-- flags]`: load the real relay (child process) with the counting fake Gmail on
 * loopback and print accept rate, accept latency, end-to-end rate and the relay's peak RSS.
 * See docs/benchmarks.md for the scenarios and the numbers. `--help` lists the flags.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseConfig } from '../src/config/load.js';
import { parseSize } from '../src/config/units.js';
import { USER_TARGET_RATE } from '../src/queue/google-quota.js';
import { comparePostfix } from './postfix.js';
import { TABLE_HEAD, describe, medianMetrics, metrics, tableRow, type Metrics } from './report.js';
import { runScenario, type RunOptions } from './scenario.js';
import { runSmimeBench } from './smime.js';
import { runTenants } from './tenants.js';

const HELP = `npm run bench -- [flags]
  --scenario NAME          throughput (default) | clinic | large | scans | pace | pace50 |
                           smime-report | smime-import | smime-rotate | postfix | devices | tenants
                           pace: 1,000 messages from one user against Google's quotas (about 7 min);
                           pace50: 1,000 from each of 50 users at once (about 7 min); add
                           --user-rate 1 for the old default pace (about 17 min each)
  --count N                messages (default 5000; clinic 500; large 40)
  --connections C          parallel SMTP sessions (default 8; clinic 4; large 4)
  --size S                 message size, e.g. 4KiB, 100KiB, 2MiB, 25MB (default 4KiB)
  --one-per-connection     one message per connection (default: reuse connections)
  --accept-only            hold delivery back (one user paced at 0.0001/s): the accept path alone
  --users U                sending users, used in turn (default 200; clinic 1)
  --user-rate R|default    queue.userRate, sends/s per user (default 100; clinic, pace, pace50: the relay's default)
  --concurrency N          queue.concurrency (default: the relay's default)
  --per-user-concurrency N queue.perUserConcurrency (default: the relay's default)
  --greeting-delay MS      listen[].greetingDelay (default: the relay's default)
  --no-delivery-thread     queue.deliveryThread: false (accept and deliver on one thread)
  --no-metrics             http: null (no /metrics); default: /metrics on, scraped every second
  --gmail-latency MS       the fake Gmail answers each send after MS (default 0)
  --gmail-quota            the fake Gmail enforces Google's per-user (15,000 units/min) and
                           per-project (1,200,000 units/min) quotas as sliding minutes, 429 above
                           (default: off; on for pace and pace50)
  --preload                accept the whole load with delivery held back, then release it and
                           measure the drain alone (default: off; on for pace50)
  --runs N                 repeat and print medians (default 1)
  --log-level L            relay log level (default info; logs go to a file in the temp dir)
  --drain-timeout SEC      give up waiting for delivery after SEC (default 600; clinic 1800)
  --from-dist              run the compiled relay (builds dist/ first; plain node, as in production:
                           tsx adds about 40 MiB of RSS); the memory figures in docs/benchmarks.md
  --node-flags "F …"       node/V8 flags for the relay's process, e.g. "--max-semi-space-size=1"
  --encrypt                spool encryption on (queue.encryption, one fresh key); also for postfix/devices
  --keep                   keep the temp dir (spool, logs, config)
  --profile                write a V8 CPU profile of the relay (kept in the temp dir)
  --json                   also print the metrics as one JSON line
smime-report, smime-import, smime-rotate: the S/MIME CLI over --count users (default 1000) against
  a fake Gmail answering each call after --gmail-latency MS (default 150); --concurrency N is the
  CLI's --concurrency (default: its own). The first import run makes the .p12 files (minutes;
  cached). smime-rotate runs \`smime rotate --workspace\` (users from the fake Directory) twice:
  every default changes, then the rerun changes nothing.
postfix scenario (root; installs Debian's postfix if missing):
  npm run bench -- --scenario postfix [--count 5000 --connections 8 --size 4096 --one-per-connection --runs 3]
  (--size is smtp-source -l: the payload, headers not included)
devices scenario: the postfix comparison with what EHR software and scanners do: one message per
  connection, 8 clients, 4 KiB (smtp-source without -d), the relay's listener exactly as in
  config/workspace-relay.example.yaml (loopback allow list: greetingDelay 0 by default)
  npm run bench -- --scenario devices [--count 2000 --runs 3]
tenants scenario: many practices, one file each, in one process against the fake Google (bench/tenants.ts)
  npm run bench -- --scenario tenants [--workspaces 1000 --backlog 10000 --a-users 100 --probes 40 --gmail-latency 50]`;

const PRESETS: Record<string, Partial<RunOptions>> = {
  throughput: {},
  // the postfix comparison (below) with one message per connection and the example's listener
  devices: { count: 2000, connections: 8, size: 4096, reuse: false, exampleListener: true },
  clinic: { count: 500, size: 2 * 1024 * 1024, connections: 4, users: 1, userRate: undefined, reuse: false, drainTimeoutMs: 1_800_000 },
  large: { count: 40, size: 25_000_000, connections: 4, users: 40 },
  // Scanners: 20 clients at once, each sending one 25 MB scan, 5 sending users (issue 20).
  scans: { count: 20, size: 25_000_000, connections: 20, users: 5, reuse: false },
  // Google's per-user rate (docs/pacing.md): the relay's default pace against the quotas.
  pace: { count: 1000, size: 4096, connections: 4, users: 1, userRate: undefined, gmailQuota: true, drainTimeoutMs: 1_800_000 },
  // 50 users at 2.4/s (120/s) drain faster than a loaded 2-core machine accepts: accept first, then release.
  // The S/MIME CLI (bench/smime.ts): --count users, Gmail answering each call after 150 ms.
  'smime-report': { count: 1000, gmailLatency: 150 },
  'smime-import': { count: 1000, gmailLatency: 150 },
  'smime-rotate': { count: 1000, gmailLatency: 150 },
  pace50: { count: 50_000, size: 4096, connections: 8, users: 50, userRate: undefined, gmailQuota: true, preload: true, drainTimeoutMs: 2_400_000 },
};

function options(): { scenario: string; runs: number; json: boolean; o: RunOptions } {
  const { values: v } = parseArgs({
    options: {
      scenario: { type: 'string', default: 'throughput' },
      count: { type: 'string' },
      connections: { type: 'string' },
      size: { type: 'string' },
      'one-per-connection': { type: 'boolean' },
      'accept-only': { type: 'boolean', default: false },
      users: { type: 'string' },
      'user-rate': { type: 'string' },
      concurrency: { type: 'string' },
      'per-user-concurrency': { type: 'string' },
      'greeting-delay': { type: 'string' },
      'no-delivery-thread': { type: 'boolean' },
      'no-metrics': { type: 'boolean' },
      'gmail-latency': { type: 'string' },
      'gmail-quota': { type: 'boolean' },
      preload: { type: 'boolean' },
      runs: { type: 'string', default: '1' },
      'log-level': { type: 'string', default: 'info' },
      'drain-timeout': { type: 'string' },
      keep: { type: 'boolean', default: false },
      encrypt: { type: 'boolean', default: false },
      'from-dist': { type: 'boolean', default: false },
      'node-flags': { type: 'string' },
      profile: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (v.help) {
    console.log(HELP);
    process.exit(0);
  }
  const preset = PRESETS[v.scenario] ?? (v.scenario === 'postfix' ? {} : null);
  if (!preset) throw new Error(`unknown scenario "${v.scenario}" (throughput, clinic, large, scans, pace, pace50, smime-report, smime-import, smime-rotate, postfix, devices)`);
  const int = (name: string, text: string | undefined): number | undefined => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} wants a number, not "${text}"`);
    return n;
  };
  const size = v.size === undefined ? undefined : parseSize(v.size);
  if (size === null) throw new Error(`--size "${v.size}" is not a size (e.g. 4KiB, 2MiB, 25MB)`);
  const base: RunOptions = {
    count: 5000,
    size: 4096,
    connections: 8,
    reuse: true,
    users: 200,
    userRate: 100,
    gmailLatency: 0,
    logLevel: v['log-level'],
    drainTimeoutMs: 600_000,
    keep: v.keep,
    profile: v.profile,
    maxSize: 0,
    ...preset,
  };
  const o: RunOptions = {
    ...base,
    drainTimeoutMs: v['drain-timeout'] === undefined ? base.drainTimeoutMs : int('drain-timeout', v['drain-timeout'])! * 1000,
    count: int('count', v.count) ?? base.count,
    connections: int('connections', v.connections) ?? base.connections,
    size: size ?? base.size,
    reuse: v['one-per-connection'] ? false : base.reuse,
    users: int('users', v.users) ?? base.users,
    userRate: v['user-rate'] === 'default' ? undefined : (int('user-rate', v['user-rate']) ?? base.userRate),
    concurrency: int('concurrency', v.concurrency),
    perUserConcurrency: int('per-user-concurrency', v['per-user-concurrency']),
    greetingDelay: int('greeting-delay', v['greeting-delay']),
    ...(v['no-delivery-thread'] ? { deliveryThread: false } : {}),
    ...(v['no-metrics'] ? { metrics: false } : {}),
    gmailLatency: int('gmail-latency', v['gmail-latency']) ?? base.gmailLatency,
    fromDist: v['from-dist'],
    nodeFlags: v['node-flags']?.split(/\s+/).filter(Boolean) ?? [],
    gmailQuota: v['gmail-quota'] ?? base.gmailQuota ?? false,
    preload: v.preload ?? base.preload ?? false,
    ...(v.encrypt ? { encrypt: true } : {}),
  };
  o.maxSize = o.size;
  if (v['accept-only']) Object.assign(o, { acceptOnly: true, users: 1, userRate: 0.0001 });
  return { scenario: v.scenario, runs: int('runs', v.runs) ?? 1, json: v.json, o };
}

/** The relay's own default for queue.userRate (what a clinic runs with): unset, adaptive up to Google's rate. */
function defaultUserRate(): string {
  const doc = { workspaces: [{ name: 'x', domains: ['x.example'], transport: 'outbox', outbox: { dir: 'x' } }], queue: { dir: 'x' } };
  const rate = parseConfig(doc).queue.userRate;
  return rate === undefined ? `adaptive ≤ ${USER_TARGET_RATE}/s` : `${rate}/s`;
}

function label(o: RunOptions): string {
  const size = o.size >= 1024 * 1024 ? `${+(o.size / 1024 / 1024).toFixed(1)} MiB` : `${+(o.size / 1024).toFixed(1)} KiB`;
  const extra = [
    o.reuse ? 'reusing connections' : 'one message per connection',
    o.acceptOnly ? 'ACCEPT ONLY: delivery held back' : '',
    `${o.users} user${o.users === 1 ? '' : 's'} at ${o.userRate !== undefined ? `${o.userRate}/s` : `${defaultUserRate()} (the default)`}`,
    o.greetingDelay !== undefined ? `greetingDelay ${o.greetingDelay} ms` : '',
    o.deliveryThread === false ? 'no delivery thread' : '',
    o.metrics === false ? 'metrics off (http: null)' : 'metrics on, scraped every second',
    o.gmailLatency ? `Gmail latency ${o.gmailLatency} ms` : '',
    o.fromDist ? 'relay from dist/' : 'relay from src/ under tsx',
    o.nodeFlags?.length ? `node ${o.nodeFlags.join(' ')}` : '',
    o.gmailQuota ? "Gmail enforcing Google's quotas" : '',
    o.preload ? 'accepted first, then released' : '',
    o.encrypt ? 'spool encrypted' : '',
  ].filter(Boolean);
  return `${o.count} × ${o.connections} conns × ${size} (${extra.join(', ')})`;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const i = argv.findIndex((a) => a === '--scenario' || a === '--scenario=tenants');
  if (i >= 0 && (argv[i] === '--scenario=tenants' || argv[i + 1] === 'tenants')) return runTenants(argv);
  const { scenario, runs, json, o } = options();
  if (o.fromDist) execFileSync(process.execPath, [path.join(import.meta.dirname, '..', 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { stdio: 'inherit', cwd: path.join(import.meta.dirname, '..') });
  if (scenario === 'smime-report' || scenario === 'smime-import' || scenario === 'smime-rotate') {
    for (let i = 0; i < runs; i++) {
      const r = await runSmimeBench({
        command: scenario === 'smime-report' ? 'report' : scenario === 'smime-import' ? 'import' : 'rotate',
        users: o.count,
        latencyMs: o.gmailLatency,
        concurrency: o.concurrency,
        keep: o.keep,
      });
      console.log(JSON.stringify(r));
    }
    return;
  }
  if (scenario === 'postfix' || scenario === 'devices') {
    await comparePostfix({
      count: o.count,
      connections: o.connections,
      size: o.size,
      reuse: o.reuse,
      logLevel: o.logLevel,
      runs,
      ...(o.greetingDelay !== undefined ? { greetingDelay: o.greetingDelay } : {}),
      ...(o.exampleListener ? { exampleListener: true } : {}),
      ...(o.fromDist ? { fromDist: true } : {}),
      ...(o.nodeFlags?.length ? { nodeFlags: o.nodeFlags } : {}),
      ...(o.encrypt ? { encrypt: true } : {}),
      ...(o.profile ? { profile: true } : {}),
      ...(o.metrics === false ? { metrics: false } : {}),
    });
    return;
  }
  const all: Metrics[] = [];
  for (let i = 0; i < runs; i++) {
    const m = metrics(await runScenario(o));
    if (runs > 1) console.error(`run ${i + 1}/${runs}: ${m.acceptRate.toFixed(0)} msgs/s accepted, ${m.endToEndRate.toFixed(0)} end-to-end, peak ${m.peakRssMiB.toFixed(0)} MiB`);
    all.push(m);
  }
  const m = medianMetrics(all);
  console.log(describe(label(o), m, all));
  console.log(`\n${TABLE_HEAD}\n${tableRow(label(o), m)}`);
  if (json) console.log(JSON.stringify({ scenario, options: { ...o, keep: undefined }, median: m, runs: all }));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
