/**
 * The delivery thread (`queue.deliveryThread`, on by default): the sends run in a worker thread
 * of their own, on the second core, while the daemon's thread accepts mail and keeps the queue.
 * Reading the message back, adding the Bcc/From changes, the HTTP request to Google (or the
 * Gmail SMTP session) and the token requests are the larger part of a delivery's CPU; the
 * scheduler, the spool's state changes and the sent log stay in the daemon's thread.
 *
 * To the scheduler, each workspace's transport looks as it does in one thread (`Transport`): a
 * deliver is posted to the thread, an abort follows it there, and the answer (or the
 * DeliveryError, rebuilt) comes back. Each config generation (start, every reload) is built in
 * the thread first, so a reload that cannot build its transports is refused as before; a
 * generation's transports close when the daemon closes them.
 *
 * If the thread dies, every send in flight fails as temporary with `outcomeUnknown` (it may have
 * reached Google: the scheduler retries and logs a possible duplicate) and a new thread is started
 * with the live generations. Mail stays in the spool throughout; nothing is lost.
 */
import { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import { DeliveryError, errorText } from '../errors.js';
import type { Logger } from '../log.js';
import { fromWire, type FromThread, type ToThread, type TransportConfig, type WireError } from './thread-wire.js';
import type { DeliveryResult, OutboundMessage, Transport } from './types.js';
import type { Config } from '../config/schema.js';

interface Waiter<T> {
  resolve: (value: T) => void;
  reject: (err: Error) => void;
}

/** Restarts of a dead thread are at least this far apart. */
const RESTART_DELAY_MS = 1_000;

export class DeliveryThread {
  private worker: Worker | null = null;
  private starting: Promise<void> | null = null;
  private nextId = 1;
  private nextGen = 1;
  private readonly deliveries = new Map<number, Waiter<DeliveryResult>>();
  private readonly configuring = new Map<number, Waiter<void>>();
  private readonly closing = new Map<number, Waiter<void>>();
  /** Live generations, rebuilt in a restarted thread. */
  private readonly generations = new Map<number, TransportConfig>();
  private stopped = false;
  private lastStart = 0;
  /** Where the thread's log lines go: the daemon's logger's own destination. */
  private readonly sink: { write(line: string): unknown };

  private constructor(private readonly logger: Logger) {
    this.sink = (logger as unknown as Record<symbol, { write(line: string): unknown }>)[pino.symbols.streamSym] ?? process.stdout;
  }

  /** Start the thread (resolves once it runs). */
  static async start(logger: Logger): Promise<DeliveryThread> {
    const thread = new DeliveryThread(logger);
    await thread.spawn();
    return thread;
  }

  /**
   * Build `config`'s transports in the thread; resolves the daemon-side transports, one per
   * workspace. Rejects (ConfigError, as in one thread) when they cannot be built.
   */
  async transports(config: Config): Promise<Map<string, Transport>> {
    const gen = this.nextGen++;
    const transportConfig: TransportConfig = { workspaces: config.workspaces, google: config.google };
    await this.configure(gen, transportConfig);
    this.generations.set(gen, transportConfig);
    return new Map(
      config.workspaces.map((w) => [
        w.name,
        {
          name: w.transport,
          deliver: (message: OutboundMessage, signal: AbortSignal) => this.deliver(gen, w.name, message, signal),
          close: () => this.close(gen),
        } satisfies Transport,
      ]),
    );
  }

  /** Stop the thread (after the transports were closed). Sends in flight fail as temporary. */
  async stop(): Promise<void> {
    this.stopped = true;
    const worker = this.worker;
    this.worker = null;
    await worker?.terminate();
  }

  private async deliver(gen: number, workspace: string, message: OutboundMessage, signal: AbortSignal): Promise<DeliveryResult> {
    if (signal.aborted) throw new DeliveryError('delivery.aborted', 'temporary', 'delivery was stopped before sending: will retry');
    await this.running();
    const id = this.nextId++;
    const onAbort = () => this.post({ t: 'abort', id, reason: errorText(signal.reason) });
    return new Promise<DeliveryResult>((resolve, reject) => {
      if (!this.worker) {
        reject(new DeliveryError('delivery.thread_stopped', 'temporary', 'the delivery thread stopped: will retry'));
        return;
      }
      this.deliveries.set(id, { resolve, reject });
      signal.addEventListener('abort', onAbort, { once: true });
      this.post({ t: 'deliver', id, gen, workspace, message: { meta: message.meta, path: message.path } });
    }).finally(() => signal.removeEventListener('abort', onAbort));
  }

  private async close(gen: number): Promise<void> {
    if (!this.generations.delete(gen) || !this.worker) return;
    await new Promise<void>((resolve, reject) => {
      this.closing.set(gen, { resolve, reject });
      this.post({ t: 'close', gen });
    });
  }

  private async configure(gen: number, config: TransportConfig): Promise<void> {
    await this.running();
    await new Promise<void>((resolve, reject) => {
      this.configuring.set(gen, { resolve, reject });
      this.post({ t: 'configure', gen, config });
    });
  }

  private post(m: ToThread): void {
    this.worker?.postMessage(m);
  }

  /** A thread that runs, restarting a dead one (with every live generation). */
  private async running(): Promise<void> {
    if (this.stopped) throw new DeliveryError('delivery.aborted', 'temporary', 'the relay is stopping: will retry');
    if (this.worker) return;
    this.starting ??= (async () => {
      const wait = this.lastStart + RESTART_DELAY_MS - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      await this.spawn();
      for (const [gen, config] of this.generations) await this.configure(gen, config);
    })().finally(() => (this.starting = null));
    await this.starting;
  }

  private spawn(): Promise<void> {
    this.lastStart = Date.now();
    const worker = newWorker({ level: this.logger.level, name: (this.logger.bindings() as { name?: string }).name ?? 'workspace-relay' });
    worker.unref();
    worker.on('message', (m: FromThread) => this.receive(m));
    worker.on('error', (err) => {
      this.logger.error({ event: 'delivery.thread_failed', err: errorText(err) }, 'the delivery thread failed; starting a new one');
    });
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = null;
      this.failAll(code);
    });
    this.worker = worker;
    return new Promise<void>((resolve, reject) => {
      worker.once('online', resolve);
      worker.once('error', reject);
    });
  }

  private receive(m: FromThread): void {
    switch (m.t) {
      case 'log':
        this.sink.write(m.line);
        return;
      case 'done':
        take(this.deliveries, m.id)?.resolve(m.result);
        return;
      case 'failed':
        take(this.deliveries, m.id)?.reject(fromWire(m.error));
        return;
      case 'configured':
        settle(take(this.configuring, m.gen), m.error);
        return;
      case 'closed':
        take(this.closing, m.gen)?.resolve();
        return;
    }
  }

  /** The thread is gone: what was waiting on it fails, and the mail stays queued. */
  private failAll(exitCode: number): void {
    const stopping = this.stopped;
    for (const w of drain(this.deliveries)) {
      w.reject(
        new DeliveryError('delivery.thread_stopped', 'temporary', `the delivery thread stopped${stopping ? '' : ` (exit code ${exitCode})`}: will retry`, {
          outcomeUnknown: !stopping,
        }),
      );
    }
    for (const w of drain(this.configuring)) w.reject(new Error(`the delivery thread stopped (exit code ${exitCode}) while building transports`));
    for (const w of drain(this.closing)) w.resolve();
  }
}

function newWorker(workerData: { level: string; name: string }): Worker {
  const entry = new URL(import.meta.url.endsWith('.ts') ? './thread-entry.ts' : './thread-entry.js', import.meta.url);
  if (entry.pathname.endsWith('.js')) return new Worker(entry, { workerData });
  // Running from the TypeScript sources (tests, `npm run bench`): the thread loads them with tsx.
  const code = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(code, { eval: true, workerData });
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

function settle(w: Waiter<void> | undefined, error: WireError | undefined): void {
  if (!w) return;
  if (error) w.reject(fromWire(error));
  else w.resolve();
}
