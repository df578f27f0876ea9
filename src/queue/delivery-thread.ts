/**
 * The delivery thread (`queue.deliveryThread`, on by default): every delivery attempt runs in a
 * worker thread of its own, on the second core, while the daemon's thread accepts mail and
 * schedules. In the thread: the claim (queue → active), reading the message back, the header
 * changes, the duplicate-suppression log, the HTTP request to Google (or the Gmail SMTP session),
 * the token requests and the removal of a sent message — the larger part of a delivery's CPU and
 * file work. In the daemon's thread: when and how fast (scheduler, pacing), what a failure means,
 * notices, and the state changes of failures (release, kill, split).
 *
 * To the scheduler the thread is a `DeliveryExecutor` per config generation: a run is posted, an
 * abort follows it, the result comes back (errors rebuilt: see delivery-thread-wire.ts). Each
 * generation (start, every reload) is built in the thread first, so a reload whose transports
 * cannot be built is refused as in one thread. The sent log is the thread's alone.
 *
 * If the thread dies, the runs in flight reject (the scheduler puts those messages back: they
 * may have reached Google) and a new thread is started with the live generations. Mail stays in
 * the spool throughout; nothing is lost.
 */
import type { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import type { Config, GoodFile } from '../config/index.js';
import { SpoolKeys } from '../crypt/index.js';
import { DeliveryError, errorText } from '../errors.js';
import type { Logger } from '../log.js';
import { fromWire, runFromWire, threadConfigOf, type FromThread, type ThreadConfig, type ThreadData, type ToThread, type WireError } from './delivery-thread-wire.js';
import { newWorker } from './delivery-thread-worker.js';
import type { AttemptRun, DeliveryExecutor } from './executor.js';

interface Waiter<T> {
  resolve: (value: T) => void;
  reject: (err: Error) => void;
}

/** Restarts of a dead thread are at least this far apart. */
const RESTART_DELAY_MS = 1_000;
/** A stop waits this long for the thread to close its sent log, then terminates it. */
const STOP_GRACE_MS = 2_000;

/** The transports of one config, built in the thread. */
export interface ThreadGeneration {
  executor: DeliveryExecutor;
  /** Make this the config attempts are checked against and sent with (start, reload, rollback). */
  activate(): void;
  close(): Promise<void>;
}

export class DeliveryThread {
  private worker: Worker | null = null;
  private starting: Promise<void> | null = null;
  private nextId = 1;
  private nextGen = 1;
  private readonly runs = new Map<number, Waiter<AttemptRun>>();
  private readonly configuring = new Map<number, Waiter<readonly GoodFile[]>>();
  private readonly closing = new Map<number, Waiter<void>>();
  private ready: Waiter<void> | null = null;
  private stopping: Waiter<void> | null = null;
  /** Live generations, rebuilt in a restarted thread (with the kept practices' files as the thread last read them good). */
  private readonly generations = new Map<number, ThreadConfig>();
  private stopped = false;
  private lastStart = 0;
  /** The generation attempts use (told to a restarted thread too). */
  private active: number | null = null;
  /** Restarts in a row that did not give a usable thread. */
  private failedStarts = 0;
  /** Where the thread's log lines go: the daemon logger's own destination. */
  private readonly sink: { write(line: string): unknown };

  private constructor(
    private readonly logger: Logger,
    private readonly data: ThreadData,
  ) {
    this.sink = (logger as unknown as Record<symbol, { write(line: string): unknown } | undefined>)[pino.symbols.streamSym] ?? process.stdout;
  }

  /** Start the thread on the spool in `config.queue.dir` (resolves once it has opened it). */
  static async start(config: Config, spoolDir: string, logger: Logger, keys: SpoolKeys = SpoolKeys.none()): Promise<DeliveryThread> {
    const name = (logger.bindings() as { name?: unknown }).name;
    const thread = new DeliveryThread(logger, {
      level: logger.level,
      name: typeof name === 'string' ? name : 'workspace-relay',
      spoolDir,
      dedupeRetentionMs: config.queue.dedupeRetention,
      keys: keys.secrets(),
    });
    await thread.spawn();
    return thread;
  }

  /** Build `config`'s transports in the thread. Rejects (ConfigError, as in one thread) when they cannot be built. */
  async generation(config: Config): Promise<ThreadGeneration> {
    const gen = this.nextGen++;
    const threadConfig = threadConfigOf(config);
    // (The kept practices' files as the thread read them good come back: for a thread started again.)
    const lastGood = await this.configure(gen, threadConfig);
    this.generations.set(gen, { ...threadConfig, lastGood });
    return {
      executor: { run: (queueId, signal) => this.run(queueId, signal) },
      activate: () => {
        this.active = gen;
        this.post({ t: 'activate', gen, level: this.logger.level });
      },
      close: () => this.close(gen),
    };
  }

  /** Stop the thread (after the scheduler stopped): it closes its sent log, then ends. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.starting?.catch(() => undefined); // a restart in progress ends first (it sees stopped)
    const worker = this.worker;
    if (!worker) return;
    const closed = new Promise<void>((resolve, reject) => {
      this.stopping = { resolve, reject };
      worker.postMessage({ t: 'stop' } satisfies ToThread);
    });
    const timeout = new Promise<void>((r) => setTimeout(r, STOP_GRACE_MS).unref());
    await Promise.race([closed.catch(() => undefined), timeout]);
    this.worker = null;
    await worker.terminate();
  }

  private async run(queueId: string, signal: AbortSignal): Promise<AttemptRun> {
    await this.running();
    const id = this.nextId++;
    const onAbort = () => this.post({ t: 'abort', id, reason: errorText(signal.reason) });
    return new Promise<AttemptRun>((resolve, reject) => {
      if (!this.worker) {
        reject(stoppedError());
        return;
      }
      this.runs.set(id, { resolve, reject });
      signal.addEventListener('abort', onAbort, { once: true });
      this.post({ t: 'run', id, queueId });
      if (signal.aborted) onAbort();
    }).finally(() => signal.removeEventListener('abort', onAbort));
  }

  private async close(gen: number): Promise<void> {
    if (!this.generations.delete(gen) || !this.worker) return;
    await new Promise<void>((resolve, reject) => {
      this.closing.set(gen, { resolve, reject });
      this.post({ t: 'close', gen });
    });
  }

  private async configure(gen: number, config: ThreadConfig): Promise<readonly GoodFile[]> {
    await this.running();
    return this.sendConfigure(gen, config);
  }

  private sendConfigure(gen: number, config: ThreadConfig): Promise<readonly GoodFile[]> {
    return new Promise<readonly GoodFile[]>((resolve, reject) => {
      this.configuring.set(gen, { resolve, reject });
      this.post({ t: 'configure', gen, config });
    });
  }

  private post(m: ToThread): void {
    this.worker?.postMessage(m);
  }

  /**
   * A thread that runs and has every live generation, restarting a dead one. Nothing is posted
   * to a restarted thread before it has rebuilt them (a run would find no transports).
   */
  private async running(): Promise<void> {
    if (this.starting) await this.starting;
    if (this.stopped) throw stoppingError();
    if (this.worker) return;
    this.starting ??= this.restart().finally(() => (this.starting = null));
    await this.starting;
    if (this.stopped) throw stoppingError();
  }

  private async restart(): Promise<void> {
    // Restarts that keep failing back off (1 s, doubling to a minute) instead of spinning.
    const wait = this.lastStart + Math.min(RESTART_DELAY_MS * 2 ** this.failedStarts, 60_000) - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (this.stopped) return;
    try {
      await this.spawn();
    } catch (err) {
      this.failedStarts++;
      this.logger.error({ event: 'delivery.thread_failed', err: errorText(err) }, 'a new delivery thread could not start; trying again at the next delivery');
      throw err;
    }
    // Each generation on its own: one that no longer builds (say, an old key file deleted since)
    // is dropped, and the others still deliver.
    for (const gen of [...this.generations.keys()]) {
      const config = this.generations.get(gen);
      if (!config) continue; // closed meanwhile
      try {
        const lastGood = await this.sendConfigure(gen, config);
        if (this.generations.has(gen)) this.generations.set(gen, { ...config, lastGood });
      } catch (err) {
        this.generations.delete(gen);
        this.logger.error({ event: 'delivery.thread_failed', err: errorText(err), generation: gen }, 'the restarted delivery thread could not rebuild a configuration');
      }
    }
    // The current configuration, or else the newest one that still builds.
    const usable = this.active !== null && this.generations.has(this.active) ? this.active : Math.max(-1, ...this.generations.keys());
    if (usable < 0) {
      // It stays up with none (attempts are put back), so that a reload can give it one.
      this.active = null;
      this.logger.error({ event: 'delivery.thread_failed', alert: true }, 'the restarted delivery thread could not rebuild any configuration; mail stays queued until a reload gives it one (fix the files, then reload)');
      return;
    }
    if (usable !== this.active) {
      this.logger.error({ event: 'delivery.thread_failed', alert: true, generation: usable }, 'the current configuration could not be rebuilt; delivering with the newest one that could (fix the key files, then reload)');
    }
    this.failedStarts = 0;
    this.active = usable;
    this.post({ t: 'activate', gen: usable, level: this.logger.level });
  }

  private spawn(): Promise<void> {
    this.lastStart = Date.now();
    const worker = newWorker(this.data);
    worker.on('message', (m: FromThread) => this.receive(m));
    worker.on('error', (err) => {
      this.logger.error({ event: 'delivery.thread_failed', err: errorText(err) }, 'the delivery thread failed; starting a new one');
    });
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = null;
      if (!this.stopped && code !== 0) {
        this.logger.error({ event: 'delivery.thread_failed', exitCode: code }, 'the delivery thread exited; a new one starts at the next delivery');
      }
      this.failAll(code);
    });
    this.worker = worker;
    return new Promise<void>((resolve, reject) => {
      this.ready = { resolve, reject };
    });
  }

  private receive(m: FromThread): void {
    switch (m.t) {
      case 'log':
        this.sink.write(m.line);
        return;
      case 'ran':
        take(this.runs, m.id)?.resolve(runFromWire(m.run));
        return;
      case 'configured':
        settle(take(this.configuring, m.gen), m.error, m.lastGood ?? []);
        return;
      case 'closed':
        take(this.closing, m.gen)?.resolve();
        return;
      case 'ready': {
        const ready = this.ready;
        this.ready = null;
        settle(ready ?? undefined, m.error, undefined);
        if (m.error) void this.worker?.terminate();
        return;
      }
      case 'stopped':
        this.stopping?.resolve();
        this.stopping = null;
        return;
    }
  }

  /** The thread is gone: what was waiting on it fails, and the mail stays in the spool. */
  private failAll(exitCode: number): void {
    const why = new Error(`the delivery thread stopped (exit code ${exitCode})`);
    for (const w of drain(this.runs)) w.reject(stoppedError());
    for (const w of drain(this.configuring)) w.reject(why);
    for (const w of drain(this.closing)) w.resolve();
    this.ready?.reject(why);
    this.ready = null;
    this.stopping?.resolve();
    this.stopping = null;
  }
}

function stoppingError(): DeliveryError {
  return new DeliveryError('delivery.aborted', 'temporary', 'the relay is stopping: will retry');
}

function stoppedError(): DeliveryError {
  return new DeliveryError('delivery.thread_stopped', 'temporary', 'the delivery thread stopped during the attempt: will retry', { outcomeUnknown: true });
}

function take<K, V>(map: Map<K, V>, key: K): V | undefined {
  const v = map.get(key);
  map.delete(key);
  return v;
}

function drain<K, V>(map: Map<K, V>): V[] {
  const all = [...map.values()];
  map.clear();
  return all;
}

function settle<T>(w: Waiter<T> | undefined, error: WireError | undefined, value: T): void {
  if (error) w?.reject(fromWire(error));
  else w?.resolve(value);
}
