/**
 * `npm run bench -- --scenario tenants`: a hosted relay of many practices, one file each
 * (include: conf.d/*.yaml), in this process against the fake Google (test/support/fake-google.ts,
 * which checks every token's JWT). Measures start time and memory per workspace, the reload of
 * one changed practice file, and the delay a new message of practice B sees while practice A has
 * a backlog (issue 18: goal p95 < 5 s). Flags: --workspaces N (1000), --backlog N (10000),
 * --a-users N (100), --probes N (40), --gmail-latency MS (50), --concurrency N (relay default).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import YAML from 'yaml';
import { startRelay } from '../src/app.js';
import { loadConfig } from '../src/config/load.js';
import { GMAIL_SEND_SCOPE } from '../src/config/schema.js';
import { createLogger } from '../src/log.js';
import { EdgeClient } from '../test/support/edge-client.js';
import { FakeGoogle, createTestServiceAccount, messageIdOf } from '../test/support/fake-google.js';
import { message } from '../test/support/smtp-client.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;
const heapMiB = () => (gc(), process.memoryUsage().heapUsed / MiB);

export async function runTenants(argv: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      scenario: { type: 'string' },
      workspaces: { type: 'string', default: '1000' },
      backlog: { type: 'string', default: '10000' },
      'a-users': { type: 'string', default: '100' },
      probes: { type: 'string', default: '40' },
      'gmail-latency': { type: 'string', default: '50' },
      concurrency: { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
  });
  const n = Number(v.workspaces);
  const backlog = Number(v.backlog);
  const aUsers = Number(v['a-users']);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wr-bench-tenants-'));
  const google = await FakeGoogle.start();
  google.sendLatencyMs = Number(v['gmail-latency']);
  const sa = createTestServiceAccount();
  google.addServiceAccount(sa);
  google.authorize(sa.clientId, [GMAIL_SEND_SCOPE]);
  const keyFile = sa.writeKeyFile(dir);
  const name = (i: number) => `p${String(i).padStart(4, '0')}`;
  google.addUser(...Array.from({ length: aUsers }, (_, u) => `u${u}@${name(0)}.example`), ...Array.from({ length: n }, (_, i) => `front@${name(i)}.example`));
  const practiceDoc = (i: number, domains = [`${name(i)}.example`]) => ({ workspaces: [{ name: name(i), domains, transport: 'gmail-api', gmailApi: { serviceAccountKeyFile: keyFile } }] });
  for (let i = 0; i < n; i++) {
    mkdirSync(path.join(dir, 'conf.d'), { recursive: true });
    writeFileSync(path.join(dir, 'conf.d', `${name(i)}.yaml`), YAML.stringify(practiceDoc(i)));
  }
  const mainFile = path.join(dir, 'config.yaml');
  writeFileSync(
    mainFile,
    YAML.stringify({
      include: ['conf.d/*.yaml'],
      listen: [{ host: '127.0.0.1', port: 0, maxConnections: 200, maxConnectionsPerClient: 200 }],
      queue: { dir: path.join(dir, 'spool'), maxQueued: backlog * 2, ...(v.concurrency ? { concurrency: Number(v.concurrency) } : {}) },
      google: { tokenUrl: google.tokenUrl, apiRootUrl: google.apiRootUrl },
      log: { level: 'warn' },
    }),
  );
  const logger = createLogger({ level: 'warn' });
  const heap0 = heapMiB();
  const rss0 = process.memoryUsage().rss / MiB;
  let t = performance.now();
  const relay = await startRelay({ config: loadConfig(mainFile), logger });
  const startMs = performance.now() - t;
  console.error(`started in ${startMs.toFixed(0)} ms`);
  const heap1 = heapMiB();
  const rss1 = process.memoryUsage().rss / MiB;
  const port = relay.listeners[0]!.address.port;

  // Reload after one practice file changed (a domain added).
  writeFileSync(path.join(dir, 'conf.d', `${name(7)}.yaml`), YAML.stringify(practiceDoc(7, [`${name(7)}.example`, `${name(7)}-2.example`])));
  t = performance.now();
  await relay.reload(loadConfig(mainFile, relay.config()));
  const reloadMs = performance.now() - t;
  console.error(`reloaded in ${reloadMs.toFixed(0)} ms`);

  // Practice A's backlog, over 8 connections; then B's probes, one every 250 ms, from practices 1…n-1.
  const load = async (k: number, total: number) => {
    const { client } = await EdgeClient.open(port);
    for (let m = k; m < total; m += 8) {
      const from = `u${m % aUsers}@${name(0)}.example`;
      const r = await client.send(from, [from], message({ From: from, To: from }));
      if (r.code !== 250) throw new Error(`A's message ${m}: ${r.code} ${r.text}`);
    }
    await client.quit();
  };
  t = performance.now();
  await Promise.all(Array.from({ length: 8 }, (_, k) => load(k, backlog)));
  const acceptA = performance.now() - t;
  console.error(`A accepted in ${acceptA.toFixed(0)} ms`);
  const queuedAtProbe: number[] = [];
  const delays: number[] = [];
  const probes = Number(v.probes);
  const pending = new Map<string, number>();
  const { client } = await EdgeClient.open(port);
  for (let p = 0; p < probes; p++) {
    const from = `front@${name(1 + (p % (n - 1)))}.example`;
    const id = `probe${p}@bench`;
    queuedAtProbe.push(relay.scheduler.queuedOf(name(0)));
    const r = await client.send(from, [from], message({ From: from, To: from, 'Message-ID': `<${id}>` }));
    if (r.code !== 250) throw new Error(`probe ${p}: ${r.code} ${r.text}`);
    pending.set(id, Date.now());
    await sleep(250);
  }
  await client.quit();
  const until = Date.now() + 600_000;
  while (pending.size && Date.now() < until) {
    for (const s of google.sent) {
      const id = messageIdOf(s.raw);
      const at = id ? pending.get(id) : undefined;
      if (at !== undefined) {
        delays.push(s.receivedAt - at);
        pending.delete(id!);
      }
    }
    await sleep(50);
  }
  const left = relay.scheduler.queuedOf(name(0));
  await relay.stop();
  await google.close();
  if (!v.keep) rmSync(dir, { recursive: true, force: true });
  console.log(`tenants: ${n} practice files (one gmail-api workspace each), one shared listener, fake Google in this process (send latency ${v['gmail-latency']} ms)`);
  console.log(`start (load ${n} files, check each practice's key, bind, recover, thread): ${(startMs / 1000).toFixed(2)} s`);
  console.log(`memory: heap +${(heap1 - heap0).toFixed(1)} MiB (${(((heap1 - heap0) * 1024) / n).toFixed(1)} KiB per workspace), RSS +${(rss1 - rss0).toFixed(0)} MiB`);
  console.log(`reload with one practice file changed: ${reloadMs.toFixed(0)} ms`);
  console.log(`practice A: ${backlog} messages from ${aUsers} users accepted in ${(acceptA / 1000).toFixed(1)} s; A's queue at the probes: ${Math.min(...queuedAtProbe)}–${Math.max(...queuedAtProbe)} (${left} left after)`);
  console.log(`practice B (${probes} probes from other practices, one per 250 ms): delay 250 → Gmail p50 ${pct(delays, 50)} ms, p95 ${pct(delays, 95)} ms, max ${Math.max(...delays)} ms${pending.size ? `; ${pending.size} never arrived` : ''}`);
}
