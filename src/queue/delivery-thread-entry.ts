/**
 * The delivery thread (see delivery-thread.ts): opens the spool (no recovery: the daemon did
 * that) and the sent log, builds the transports of each config generation it is given, and runs
 * the attempts the scheduler orders. Its log lines go to the daemon's logger.
 */
import { readlinkSync, renameSync, unlinkSync } from 'node:fs';
import os from 'node:os';
import { Writable } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import { systemClock } from '../clock.js';
import { rememberGoodFiles } from '../config/index.js';
import { SpoolKeys } from '../crypt/index.js';
import { buildTransports, keptTransportFiles, type Transport } from '../delivery/index.js';
import { createLogger } from '../log.js';
import { SentLog, Spool, readMetaSync, type SpoolFs } from '../spool/index.js';
import { runToWire, toWire, type FromThread, type ThreadConfig, type ThreadData, type ToThread } from './delivery-thread-wire.js';
import { LocalExecutor } from './executor.js';

const port = parentPort;
if (!port) throw new Error('delivery-thread-entry.ts runs as the delivery thread only');
const post = (m: FromThread) => port.postMessage(m);

const data = workerData as ThreadData;
const keys = SpoolKeys.of(data.keys);
const logger = createLogger(
  { level: data.level, name: data.name },
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      post({ t: 'log', line: chunk.toString() });
      done();
    },
  }),
);

/**
 * Accepting comes first: a client waits for its 250, a delivery does not. The thread runs at the
 * lowest priority (nice 19), so under load the accept rate and latency hold and delivery uses
 * what is left (with an idle CPU, nice changes nothing; a burst is accepted first and drained
 * after; a sustained overload fills the queue until backpressure answers 452, and delivery
 * catches up). Even beside a busy program at nice 0 it gets about 1.5 % of a core, some ten
 * sends a second, above what Google lets a practice's users send. Linux: the thread's own id
 * from /proc/thread-self (setpriority on a thread id applies to that thread only). Elsewhere, or
 * if it fails, the thread keeps the daemon's priority.
 */
const DELIVERY_THREAD_NICE = 19;
function lowerPriority(): number | null {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0) return null;
    os.setPriority(tid, Math.max(os.getPriority(tid), DELIVERY_THREAD_NICE));
    return os.getPriority(tid);
  } catch {
    return null;
  }
}

/**
 * The spool's small metadata operations (rename, unlink, reading a .json) run synchronously in
 * this thread: each is a short system call on a page-cached file, and a synchronous call spares
 * the two threadpool hand-offs of an asynchronous one — the listeners share that threadpool for
 * their own fsyncs. Only this thread waits on them, and it is there to wait. fsyncs stay
 * asynchronous (they can take milliseconds, and concurrent sends share them).
 */
const SYNC_METADATA_OPS: Partial<SpoolFs> = {
  rename: async (from, to) => renameSync(from, to),
  unlink: async (path) => unlinkSync(path),
  readMeta: readMetaSync,
};

interface Generation {
  config: ThreadConfig;
  transports: Map<string, Transport>;
  executor: LocalExecutor;
}

const generations = new Map<number, Generation>();
/** The generation the daemon made current: attempts use its transports and its workspaces. */
let active: Generation | undefined;
const running = new Map<number, AbortController>();

async function main(): Promise<void> {
  let spool: Spool;
  let sentLog: SentLog;
  try {
    spool = await Spool.open(data.spoolDir, { logger, recover: false, fs: SYNC_METADATA_OPS, keys });
    sentLog = await SentLog.open(data.spoolDir, { retentionMs: data.dedupeRetentionMs, logger, keys });
  } catch (err) {
    post({ t: 'ready', error: toWire(err) });
    return;
  }
  const nice = lowerPriority();
  logger.debug({ event: 'delivery.thread_started', nice }, nice === null ? 'delivery thread started (priority unchanged)' : `delivery thread started at nice ${nice}`);
  const prune = setInterval(() => void sentLog.prune().catch(() => undefined), 3_600_000);
  prune.unref();

  port!.on('message', (m: ToThread) => {
    switch (m.t) {
      case 'configure':
        try {
          // A practice kept on its running settings: its files as last read good (here, or by the daemon or the thread before).
          rememberGoodFiles(m.config.lastGood);
          const kept = new Set(m.config.kept);
          const transports = buildTransports(m.config, logger, systemClock, keys, kept);
          // Checked against the current workspaces when the attempt starts, not those of the config
          // in force when it was ordered (a reload in between may have removed a domain).
          const executor = new LocalExecutor({ spool, sentLog, transportFor: (w) => (active ?? generation).transports.get(w), workspaces: () => (active ?? generation).config.workspaces, logger });
          const generation: Generation = { config: m.config, transports, executor };
          generations.set(m.gen, generation);
          post({ t: 'configured', gen: m.gen, lastGood: keptTransportFiles(m.config.workspaces, kept) });
        } catch (err) {
          post({ t: 'configured', gen: m.gen, error: toWire(err) });
        }
        return;
      case 'activate':
        active = generations.get(m.gen) ?? active;
        logger.level = m.level;
        return;
      case 'run': {
        const generation = active;
        if (!generation) {
          post({ t: 'ran', id: m.id, run: { kind: 'claim_failed', error: { type: 'other', message: 'the delivery thread has no configuration yet' } } });
          return;
        }
        const controller = new AbortController();
        running.set(m.id, controller);
        void generation.executor
          .run(m.queueId, controller.signal)
          .then((run) => post({ t: 'ran', id: m.id, run: runToWire(run) }))
          .finally(() => running.delete(m.id));
        return;
      }
      case 'abort':
        running.get(m.id)?.abort(new Error(m.reason));
        return;
      case 'close': {
        const generation = generations.get(m.gen);
        generations.delete(m.gen);
        if (active === generation) active = undefined;
        void Promise.allSettled([...(generation?.transports.values() ?? [])].map(async (t) => t.close?.())).then(() => post({ t: 'closed', gen: m.gen }));
        return;
      }
      case 'stop':
        clearInterval(prune);
        void sentLog
          .close()
          .catch(() => undefined)
          .then(() => post({ t: 'stopped' }));
        return;
    }
  });
  post({ t: 'ready' });
}

void main();
