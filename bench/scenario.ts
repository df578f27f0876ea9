/**
 * One benchmark run: a fresh spool, the counting fake Gmail and the real relay (each in its own
 * process, on loopback), a load, then waiting until the fake has every accepted message. Returns
 * the raw measurements; report.ts turns them into rates and percentiles.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { EXAMPLE_CONFIG_PATH } from '../src/config/load.js';
import { createTestServiceAccount } from '../test/support/fake-google.js';
import { cpuSecondsOf, forkChild, memoryOf, sampleMemory, type Child } from './children.js';
import type { GmailStats } from './fake-gmail.js';
import { runLoad, type LoadResult } from './smtp-load.js';

export const DOMAIN = 'bench.example';
/** queue.userRate that holds mail back (preload, accept-only): one send per user per ~3 hours. */
export const HOLD_RATE = 0.0001;

export interface RelaySettings {
  /** queue.userRate; undefined = the relay's default. */
  userRate?: number;
  concurrency?: number;
  perUserConcurrency?: number;
  dailyMessages?: number;
  /** listen[].greetingDelay in ms; undefined = the relay's default. */
  greetingDelay?: number;
  /** queue.deliveryThread; undefined = the relay's default (on). */
  deliveryThread?: boolean;
  logLevel: string;
  /** Largest message size the load will send (the relay's limit is raised to fit). */
  maxSize: number;
  /** Connections the load will open at once (the listener's limits are raised to fit). */
  connections: number;
  /** Write a V8 CPU profile of the relay into its temp dir (implies keeping the dir). */
  profile?: boolean;
  /**
   * Take the listener entry from config/workspace-relay.example.yaml (its allow list, connection
   * limits and greetingDelay as shipped; only the port becomes ephemeral) instead of the bench's
   * own.
   */
  exampleListener?: boolean;
  /** Run the compiled relay (dist/, plain node) instead of the sources under tsx. */
  fromDist?: boolean;
  /** Node/V8 flags for the relay's process (e.g. --max-semi-space-size=1). */
  nodeFlags?: string[];
  /**
   * The operations listener (/metrics) on, scraped every second during the load (default); false:
   * `http: null`, to compare the accept path with metrics off.
   */
  metrics?: boolean;
  /** queue.encryption with one fresh key (docs/encryption.md). */
  encrypt?: boolean;
}

export interface RunOptions extends RelaySettings {
  count: number;
  size: number;
  reuse: boolean;
  users: number;
  /** Fake Gmail's answer latency, ms. */
  gmailLatency: number;
  /** Fake Gmail enforces Google's per-user and per-project quotas (429 above them). */
  gmailQuota?: boolean;
  /** Give up waiting for delivery after this long. */
  drainTimeoutMs: number;
  /** Measure accepting alone: delivery held back (one user paced at 1 send per ~3 hours). */
  acceptOnly?: boolean;
  /**
   * Accept the whole load with delivery held back (each user's first message goes, the rest wait),
   * then release it (a config reload to the run's pace) and measure the drain from there: the
   * pace is then the relay's, not the pace at which the load could be accepted.
   */
  preload?: boolean;
  keep: boolean;
}

export interface RunResult {
  load: LoadResult;
  gmail: GmailStats;
  /** Relay memory: after start-up (idle), peak over the run (VmHWM), and samples every 200 ms. */
  idleRss: number;
  peakRss: number;
  rssSamples: number[];
  /** CPU seconds the relay used for the load and the delivery (start-up excluded). */
  relayCpu: number;
  /** CPU seconds of the load generator (this process) and of the fake Gmail over the same span. */
  loadCpu: number;
  gmailCpu: number;
  /** Directory fsyncs of the listeners' spool while the load ran (commits: data/ and queue/). */
  dirSyncs: number;
  drained: boolean;
  /** Wall-clock ms when held mail was released (preload), else undefined. */
  releasedAt?: number;
  /** /metrics scrapes made during the load (0 with metrics off). */
  scrapes: number;
  dir: string;
}

/** A relay + fake Gmail pair, started once and driven by any client (ours or smtp-source). */
export interface Bench {
  relay: Child;
  gmail: Child;
  port: number;
  /** The relay's /metrics URL, or null with metrics off. */
  metricsUrl: string | null;
  dir: string;
  /** Give the running relay new settings (a reload, as SIGHUP). */
  reconfigure(s: RelaySettings): Promise<void>;
  close(keep?: boolean): Promise<void>;
}

export async function startBench(s: RelaySettings, gmailLatency: number, gmailQuota = false): Promise<Bench> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wr-bench-'));
  const sa = createTestServiceAccount('bench');
  const keyFile = sa.writeKeyFile(dir);
  const gmail = await forkChild('fake-gmail-child.ts', [
    JSON.stringify({ clientEmail: sa.clientEmail, publicKeyPem: sa.publicKey.export({ type: 'spki', format: 'pem' }), domain: DOMAIN, latencyMs: gmailLatency, quota: gmailQuota }),
  ]);
  const url = String(gmail.ready.url);
  if (s.encrypt) writeFileSync(path.join(dir, 'spool.key'), `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  const configFile = path.join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify(relayConfig(s, dir, keyFile, url), null, 2), { mode: 0o600 });
  let relay: Child;
  try {
    const execArgv = [...(s.nodeFlags ?? []), ...(s.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.join(dir, 'profile')}`] : [])];
    relay = await forkChild(s.fromDist ? 'relay-child-dist.mjs' : 'relay-child.ts', [configFile, path.join(dir, 'relay.log'), s.logLevel], execArgv);
  } catch (err) {
    await gmail.stop();
    throw err;
  }
  return {
    relay,
    gmail,
    port: Number(relay.ready.port),
    metricsUrl: relay.ready.httpPort ? `http://127.0.0.1:${Number(relay.ready.httpPort)}/metrics` : null,
    dir,
    async reconfigure(next) {
      // (the listener entry unchanged, port 0 included: the reload keeps the one bound)
      const config = relayConfig(next, dir, keyFile, url);
      writeFileSync(configFile, JSON.stringify(config, null, 2), { mode: 0o600 });
      await relay.request('reload', { config });
    },
    async close(keep = false) {
      await relay.stop();
      await gmail.stop();
      if (s.profile) console.error(`relay CPU profile: ${path.join(dir, 'profile')}`);
      if (!keep && !s.profile) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function relayConfig(s: RelaySettings, dir: string, keyFile: string, gmailUrl: string): Record<string, unknown> {
  const queue: Record<string, unknown> = { dir: path.join(dir, 'spool'), maxQueued: 1_000_000, minFreeSpace: '1GB' };
  if (s.userRate !== undefined) queue.userRate = s.userRate;
  if (s.concurrency !== undefined) queue.concurrency = s.concurrency;
  if (s.perUserConcurrency !== undefined) queue.perUserConcurrency = s.perUserConcurrency;
  if (s.deliveryThread !== undefined) queue.deliveryThread = s.deliveryThread;
  if (s.encrypt) queue.encryption = { keyFiles: [path.join(dir, 'spool.key')] };
  if (s.dailyMessages !== undefined) {
    queue.dailyMessages = s.dailyMessages;
    queue.dailyRecipients = s.dailyMessages * 5;
  }
  const listener: Record<string, unknown> = s.exampleListener
    ? { ...exampleListener(), port: 0 }
    : { host: '127.0.0.1', port: 0, maxConnections: Math.max(100, s.connections * 2), maxConnectionsPerClient: Math.max(20, s.connections * 2) };
  if (s.greetingDelay !== undefined) listener.greetingDelay = s.greetingDelay;
  return {
    http: s.metrics === false ? null : { listen: [{ host: '127.0.0.1', port: 0 }] },
    hostname: 'relay.bench.example',
    listen: [listener],
    workspaces: [{ name: 'bench', domains: [DOMAIN], transport: 'gmail-api', gmailApi: { serviceAccountKeyFile: keyFile } }],
    limits: { maxMessageSize: Math.max(25 * 1024 * 1024, s.maxSize + 1024 * 1024) },
    queue,
    audit: { file: path.join(dir, 'audit.log') },
    log: { level: s.logLevel },
    google: { tokenUrl: `${gmailUrl}/token`, apiRootUrl: `${gmailUrl}/` },
  };
}

/** The first listen[] entry of the shipped example config, as written. */
export function exampleListener(): Record<string, unknown> {
  const doc = YAML.parse(readFileSync(EXAMPLE_CONFIG_PATH, 'utf8')) as { listen: Record<string, unknown>[] };
  return { ...doc.listen[0]! };
}

export async function gmailStats(bench: Bench, perUser = false): Promise<GmailStats> {
  return (await bench.gmail.request('stats', { perUser })).stats as GmailStats;
}

/** Wait until the fake has `want` messages and the relay's queue is empty (or the timeout). */
export async function waitDrained(bench: Bench, want: number, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const g = await gmailStats(bench);
    if (g.delivered >= want) {
      const r = await bench.relay.request('stats');
      if (r.queued === 0 && r.inFlight === 0) return true;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

async function relayDirSyncs(bench: Bench): Promise<number> {
  return Number((await bench.relay.request('stats')).dirSyncs);
}

export async function runScenario(o: RunOptions): Promise<RunResult> {
  // Held back while accepting: one send per user per ~3 hours.
  const bench = await startBench(o.preload ? { ...o, userRate: HOLD_RATE } : o, o.gmailLatency, o.gmailQuota);
  try {
    const idleRss = memoryOf(bench.relay.pid)?.rss ?? NaN;
    const cpuBefore = cpuSecondsOf(bench.relay.pid);
    const gmailCpuBefore = cpuSecondsOf(bench.gmail.pid);
    const loadCpuBefore = process.cpuUsage();
    const sampler = sampleMemory(bench.relay.pid);
    const dirSyncsBefore = await relayDirSyncs(bench);
    const senders = Array.from({ length: o.users }, (_, u) => `user${u}@${DOMAIN}`);
    const scraper = scrapeEverySecond(bench.metricsUrl);
    const load = await runLoad({
      host: '127.0.0.1',
      port: bench.port,
      count: o.count,
      connections: o.connections,
      size: o.size,
      reuse: o.reuse,
      senders,
      recipient: (i) => `rcpt${i % 50}@${DOMAIN}`,
      runId: path.basename(bench.dir),
    });
    const scrapes = await scraper.stop();
    const dirSyncs = (await relayDirSyncs(bench)) - dirSyncsBefore;
    let releasedAt: number | undefined;
    if (o.preload) {
      releasedAt = Date.now();
      await bench.reconfigure(o);
    }
    const drained = o.acceptOnly ? false : await waitDrained(bench, load.accepted, o.drainTimeoutMs);
    const rssSamples = sampler.stop();
    const peakRss = memoryOf(bench.relay.pid)?.peak ?? NaN;
    const relayCpu = cpuSecondsOf(bench.relay.pid) - cpuBefore;
    const gmailCpu = cpuSecondsOf(bench.gmail.pid) - gmailCpuBefore;
    const used = process.cpuUsage(loadCpuBefore);
    const gmail = await gmailStats(bench, true);
    const loadCpu = (used.user + used.system) / 1e6;
    return { load, gmail, idleRss, peakRss, rssSamples, relayCpu, loadCpu, gmailCpu, dirSyncs, drained, releasedAt, scrapes, dir: bench.dir };
  } finally {
    await bench.close(o.keep);
  }
}

/** What a Prometheus would do, harder (every second, not every 15 s): scrape /metrics during the load. */
function scrapeEverySecond(url: string | null): { stop(): Promise<number> } {
  if (!url) return { stop: async () => 0 };
  let n = 0;
  let inFlight: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    inFlight = fetch(url)
      .then(async (r) => {
        await r.text();
        if (r.ok) n++;
      })
      .catch(() => undefined);
  }, 1_000);
  return {
    async stop() {
      clearInterval(timer);
      await inFlight;
      return n;
    },
  };
}
