/**
 * Receiving one message into the spool. `write` copies each chunk into a write buffer of
 * WRITE_BUFFER bytes and writes the buffer when it is full; a write that fills one resolves when
 * the kernel has the bytes (await it: that is the backpressure). `commit` writes what is held
 * with the metadata after it (meta-codec.ts), fsyncs the file while data/ is fsynced, links it
 * into queue/<id>.json (the commit point), then fsyncs queue/ (the directory fsyncs are group
 * commits) before resolving.
 * Only after commit resolves may the client be told 250. File-system errors reject with the
 * original error (errno `code` such as ENOSPC kept); `abort` then removes every trace.
 * With spool keys (queue.encryption) the file is sealed as it is written (src/crypt: the header
 * with the first write, 64 KiB chunks as they fill, the last with the metadata at commit): the
 * same writes and fsyncs, so the commit point is where it was.
 */
import { createHash, type Hash } from 'node:crypto';
import { Sealer, type SpoolKeys } from '../crypt/index.js';
import type { Logger } from '../log.js';
import type { DirSyncer } from './dir-syncer.js';
import { FILE_MODE, type SpoolLayout } from './layout.js';
import { metaTrailer } from './meta-codec.js';
import { SpoolError } from './spool-error.js';
import { errnoCode, unlinkIfExists, writeAll, type SpoolFileHandle, type SpoolFs } from './spool-fs.js';
import type { MessageMeta } from './types.js';

/**
 * Chunks are copied into a buffer of this size, written when full: a small message reaches the
 * disk in one write with its metadata, a large one in writes of this size. The buffers are
 * reused from message to message (SPARE_BUFFERS kept): a session holds at most two (one being
 * written, one filling), and the socket's own buffers are garbage as soon as they are copied,
 * young, which the collector frees at once (buffers held across a disk write live long enough to
 * be promoted, and promoted garbage waits for a full collection: tens of MiB under load).
 */
const WRITE_BUFFER = 64 * 1024;
const SPARE_BUFFERS = 64;
const spareBuffers: Buffer[] = [];

function takeBuffer(): Buffer {
  return spareBuffers.pop() ?? Buffer.allocUnsafeSlow(WRITE_BUFFER);
}

function giveBack(buffer: Buffer): void {
  if (spareBuffers.length < SPARE_BUFFERS) spareBuffers.push(buffer);
}

type WriterState = 'open' | 'committing' | 'committed' | 'failed' | 'aborted';

export interface WriterDeps {
  fs: SpoolFs;
  layout: SpoolLayout;
  syncer: DirSyncer;
  logger: Logger;
  keys: SpoolKeys;
}

export class SpoolWriter {
  private state: WriterState = 'open';
  private failure: Error | null = null;
  private handle: SpoolFileHandle | null = null;
  /** We created data/<id>.eml (so abort may delete it; an EEXIST open must not). */
  private createdEml = false;
  /** queue/<id>.json exists because of us (commit got past the link). */
  private linked = false;
  private chain: Promise<void> = Promise.resolve();
  private committing: Promise<MessageMeta> | null = null;
  private aborting: Promise<void> | null = null;
  /** The write buffer being filled, and how much of it is. */
  private fill: Buffer | null = null;
  private filled = 0;
  private readonly hash: Hash = createHash('sha256');
  private bytes = 0;
  private readonly emlPath: string;
  /** Seals what is written (null: written plain). */
  private readonly sealer: Sealer | null;

  constructor(
    readonly id: string,
    private readonly deps: WriterDeps,
  ) {
    this.emlPath = deps.layout.eml(id);
    this.sealer = deps.keys.current ? new Sealer(deps.keys.current) : null;
  }

  /** Bytes received so far (up to WRITE_BUFFER of them may still be held in memory). */
  get size(): number {
    return this.bytes;
  }

  /** sha256 (hex) of the bytes received so far (the final value once commit has begun). */
  sha256(): string {
    return this.hash.copy().digest('hex');
  }

  write(chunk: Buffer): Promise<void> {
    if (this.state !== 'open') return Promise.reject(this.notOpen());
    this.hash.update(chunk);
    this.bytes += chunk.length;
    let flushed: Promise<void> | undefined;
    for (let offset = 0; offset < chunk.length; ) {
      const buffer = (this.fill ??= takeBuffer());
      const copied = chunk.copy(buffer, this.filled, offset);
      this.filled += copied;
      offset += copied;
      if (this.filled === buffer.length) flushed = this.flush();
    }
    return flushed ?? Promise.resolve();
  }

  /**
   * Write the held bytes (and `tail`) to the file, in order after any earlier write. `last`: the
   * end of the file (commit), where the sealer seals its last chunk. Sealing is done here, before
   * the write is queued: the sealer copies what it keeps, so the buffer goes back at once.
   */
  private flush(tail?: Buffer, last = false): Promise<void> {
    let buffer = this.fill;
    const held = this.filled;
    this.fill = null;
    this.filled = 0;
    let parts: (Buffer | undefined)[];
    if (this.sealer) {
      parts = [this.seal(buffer?.subarray(0, held), tail, last)];
      if (buffer) giveBack(buffer);
      buffer = null;
    } else {
      // A tail that fits goes in the same write (a small message with its metadata: one write).
      const together = buffer !== null && tail !== undefined && held + tail.length <= buffer.length;
      if (together) tail.copy(buffer!, held);
      parts = [buffer?.subarray(0, together ? held + tail.length : held), together ? undefined : tail];
    }
    const run = this.chain.then(async () => {
      try {
        if (this.failure) throw this.failure;
        const handle = await this.ensureOpen();
        for (const part of parts) if (part?.length) await writeAll(handle, part);
      } finally {
        // The write is over, done or failed: nothing points into the buffer any more.
        if (buffer) giveBack(buffer);
      }
    });
    this.chain = run.catch((err: unknown) => this.fail(err));
    return run;
  }

  /** The sealed bytes of `held` then `tail` (and the last chunk, `last`), as one buffer to write. */
  private seal(held: Buffer | undefined, tail: Buffer | undefined, last: boolean): Buffer {
    const sealer = this.sealer!;
    const out: Buffer[] = [];
    if (held?.length) out.push(...sealer.update(held));
    if (tail?.length) out.push(...sealer.update(tail));
    if (last) out.push(...sealer.final());
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  /**
   * Make the message durable and queued. `meta.id` must be this writer's id; `size` and `sha256`
   * are taken from what was written. Resolves with the meta as stored.
   */
  commit(meta: MessageMeta): Promise<MessageMeta> {
    if (this.state !== 'open') return Promise.reject(this.notOpen());
    if (meta.id !== this.id) {
      return Promise.reject(new SpoolError('spool.bad_meta', `meta id ${meta.id} is not ${this.id}`, { id: this.id }));
    }
    this.state = 'committing';
    this.committing = this.doCommit(meta).then(
      (stored) => {
        this.state = 'committed';
        return stored;
      },
      (err: unknown) => {
        this.fail(err);
        throw err;
      },
    );
    return this.committing;
  }

  /**
   * Forget the message: close and delete the .eml (and its queue/ link, if commit got that far).
   * Safe to call twice, after a failed write or commit; a no-op after a successful commit. Never
   * rejects (failures are logged; start-up removes any leftovers).
   */
  abort(): Promise<void> {
    // From now on write and commit refuse (nothing can reopen the file behind the clean-up).
    if (this.state === 'open') this.state = 'aborted';
    this.aborting ??= this.doAbort();
    return this.aborting;
  }

  private async doCommit(meta: MessageMeta): Promise<MessageMeta> {
    const { fs, layout, syncer } = this.deps;
    const stored: MessageMeta = { ...meta, size: this.bytes, sha256: this.hash.copy().digest('hex') };
    // The metadata goes at the end of the message's own file (meta-codec.ts), in the same write as
    // the last bytes: one file to create, write and fsync per message. Two things must be durable
    // before that file is linked into queue/ (the commit point): its contents, and its entry in
    // data/. Neither waits for the other (the client's wait is the slower of them, not their sum);
    // both settle before an error is thrown, so abort() finds no step still running.
    await this.flush(metaTrailer(stored), true);
    const handle = await this.ensureOpen();
    const durable = await Promise.allSettled([handle.sync(), syncer.sync(layout.data)]);
    const failed = durable.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    // The link needs the fsync, not the close: they run side by side.
    this.handle = null;
    const [closed, linked] = await Promise.allSettled([handle.close(), fs.link(this.emlPath, layout.meta('queue', this.id))]);
    if (linked.status === 'rejected') throw linked.reason;
    this.linked = true;
    if (closed.status === 'rejected') throw closed.reason;
    await syncer.sync(layout.stateDir('queue'));
    return stored;
  }

  private async doAbort(): Promise<void> {
    if (this.committing) await this.committing.catch(() => undefined);
    await this.chain;
    if (this.fill) giveBack(this.fill);
    this.fill = null;
    if (this.state === 'committed') return;
    this.sealer?.dispose();
    this.state = 'aborted';
    const { fs, layout, logger } = this.deps;
    try {
      if (this.handle) {
        const handle = this.handle;
        this.handle = null;
        await handle.close().catch(() => undefined);
      }
      let removeEml = this.createdEml;
      if (this.linked) {
        // The commit failed after the link (directory fsync): the client will be told 451 and
        // will send again, so take it back out, unless a worker has already claimed it.
        removeEml = await unlinkIfExists(fs, layout.meta('queue', this.id));
        // Best effort: make the removal durable too, so a power cut cannot bring back a message
        // whose client was told 451 (and sends it again).
        if (removeEml) await this.deps.syncer.sync(layout.stateDir('queue')).catch(() => undefined);
      }
      if (removeEml) await unlinkIfExists(fs, this.emlPath);
    } catch (err) {
      logger.error({ event: 'spool.abort_failed', id: this.id, code: errnoCode(err) }, 'could not clean up an aborted message; start-up will');
    }
  }

  private async ensureOpen(): Promise<SpoolFileHandle> {
    if (this.handle) return this.handle;
    this.handle = await this.deps.fs.open(this.emlPath, 'wx', FILE_MODE);
    this.createdEml = true;
    return this.handle;
  }

  private fail(err: unknown): void {
    if (this.state === 'open' || this.state === 'committing') {
      this.state = 'failed';
      this.failure = err instanceof Error ? err : new Error(String(err));
    }
  }

  private notOpen(): Error {
    if (this.state === 'failed' && this.failure) return this.failure;
    return new SpoolError('spool.writer_closed', `message ${this.id} is already ${this.state}`, { id: this.id });
  }
}
