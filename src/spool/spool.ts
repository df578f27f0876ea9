/**
 * The spool: accepted messages on disk, their state being the directory their .json is in.
 * Accepting links the message file (its bytes, then its metadata) into queue/ (writer.ts).
 * Every state change is one atomic rename of the .json (a meta change first rewrites the .json in
 * place, atomically, then renames it), so at every crash point a message is in exactly one state.
 * Knows nothing of SMTP or Google. See layout.ts for the files, recover.ts for start-up.
 */
import { systemClock, type Clock } from '../clock.js';
import { SpoolKeys, sealWith } from '../crypt/index.js';
import { silentLogger, type Logger } from '../log.js';
import { DirSyncer } from './dir-syncer.js';
import { replaceFile } from './durable-file.js';
import { DIR_MODE, SPOOL_STATES, SpoolLayout, checkId } from './layout.js';
import { parseMeta, serializeMeta } from './meta-codec.js';
import { recoverSpool, type RecoveryCounts } from './recover.js';
import { SpoolError } from './spool-error.js';
import { probeWritable, stateIds } from './state-files.js';
import { messageSource, type MessageSource } from './message-source.js';
import { isErrno, unlinkIfExists, withFs, type SpoolFs } from './spool-fs.js';
import type { MessageMeta, SpoolState } from './types.js';
import { SpoolWriter } from './writer.js';

export interface SpoolOptions {
  logger?: Logger;
  /** The time of requeue, release and reschedule (default: the system clock). */
  clock?: Clock;
  /** Replace file-system calls (tests: inject ENOSPC, count fsyncs). */
  fs?: Partial<SpoolFs>;
  /**
   * Run start-up recovery (default true). Pass false from a second process (an admin command
   * while the server runs): recovery would pull messages out of active/ under the server's feet.
   */
  recover?: boolean;
  /** queue.encryption's keys (src/crypt): the first seals what is written, all open (default none: plain). */
  keys?: SpoolKeys;
}

export class Spool {
  /** What start-up recovery found and did (null when opened with recover: false). */
  recovery: RecoveryCounts | null = null;
  private readonly layout: SpoolLayout;
  private readonly syncer: DirSyncer;
  /** Moves renamed whose directory fsyncs have not yet succeeded (see move). */
  private readonly movedUnsynced = new Set<string>();

  private constructor(
    readonly dir: string,
    private readonly fs: SpoolFs,
    private readonly logger: Logger,
    private readonly clock: Clock,
    readonly keys: SpoolKeys,
  ) {
    this.layout = new SpoolLayout(dir);
    this.syncer = new DirSyncer((path) => fs.syncDir(path));
  }

  /** Create or recover the spool under `dir` (see recover.ts). Idempotent. */
  static async open(dir: string, options: SpoolOptions = {}): Promise<Spool> {
    const spool = new Spool(dir, withFs(options.fs), options.logger ?? silentLogger, options.clock ?? systemClock, options.keys ?? SpoolKeys.none());
    if (options.recover ?? true) await spool.recover();
    return spool;
  }

  /**
   * Start-up recovery (recover.ts), for a spool opened with `recover: false` by the process that
   * owns it: the daemon opens the spool, binds its listeners (greeting held), then recovers.
   */
  async recover(): Promise<RecoveryCounts> {
    this.recovery = await recoverSpool(this.fs, this.layout, this.syncer, this.logger, this.keys);
    return this.recovery;
  }

  /** Can the spool be written now? Rejects with the file-system error (state-files.ts). */
  probeWritable(): Promise<void> {
    return probeWritable(this.fs, this.layout);
  }

  /** The spool's own parts, for the helpers beside it (rekey.ts, retention.ts); not for use outside src/spool. */
  get parts(): { fs: SpoolFs; layout: SpoolLayout; syncer: DirSyncer; keys: SpoolKeys } { return { fs: this.fs, layout: this.layout, syncer: this.syncer, keys: this.keys }; }

  /** Directory fsyncs started so far (group commit makes this lower than the number of commits). */
  get dirSyncs(): number {
    return this.syncer.rounds;
  }

  /** Start receiving message `id` (data/<id>.eml is created on the first write or commit). */
  createWriter(id: string): SpoolWriter {
    checkId(id);
    return new SpoolWriter(id, { fs: this.fs, layout: this.layout, syncer: this.syncer, logger: this.logger, keys: this.keys });
  }

  emlPath(id: string): string {
    return this.layout.eml(id);
  }

  /** The exact bytes received, decrypted when sealed (message-source.ts: a damaged or cut file fails). */
  message(meta: Pick<MessageMeta, 'id' | 'size'>): MessageSource {
    return messageSource(this.layout.eml(meta.id), meta.size, this.keys);
  }

  /** Every message in `state`, oldest receivedAt first. Unreadable .json files are logged and skipped. */
  async list(state: SpoolState): Promise<MessageMeta[]> {
    const metas: MessageMeta[] = [];
    for (const id of await this.ids(state)) {
      try {
        const meta = await this.get(state, id);
        if (meta) metas.push(meta);
      } catch (err) {
        if (!(err instanceof SpoolError)) throw err;
        this.logger.error({ event: err.code, id, state }, err.message);
      }
    }
    return metas.sort((a, b) => cmp(a.receivedAt, b.receivedAt) || cmp(a.id, b.id));
  }

  async count(state: SpoolState): Promise<number> {
    return (await this.ids(state)).length;
  }

  /** The message's meta in `state`, or null if it is not there. Rejects spool.corrupt_meta. */
  async get(state: SpoolState, id: string): Promise<MessageMeta | null> {
    let text: string;
    try {
      text = await this.fs.readMeta(this.layout.meta(state, id), this.keys);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return null;
      throw err;
    }
    return parseMeta(text, id);
  }

  /** Which state the message is in (queue, then active, dead, hold), or null. */
  async find(id: string): Promise<{ state: SpoolState; meta: MessageMeta } | null> {
    for (const state of SPOOL_STATES) {
      const meta = await this.get(state, id);
      if (meta) return { state, meta };
    }
    return null;
  }

  /**
   * queue → active, for delivery. Rejects spool.not_queued if the message is not in queue/
   * (another worker took it, or it was removed): the rename decides, so exactly one claim wins,
   * across processes too. Not fsynced: after a crash active/ goes back to queue/ anyway.
   */
  async claim(id: string): Promise<MessageMeta> {
    try {
      await this.fs.rename(this.layout.meta('queue', id), this.layout.meta('active', id));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw new SpoolError('spool.not_queued', `message ${id} is not in the queue`, { id });
      throw err;
    }
    try {
      return parseMeta(await this.fs.readMeta(this.layout.meta('active', id), this.keys), id);
    } catch (err) {
      if (err instanceof SpoolError) {
        await this.fs.rename(this.layout.meta('active', id), this.layout.corrupt(id));
        this.logger.error({ event: 'spool.corrupt_meta', id, path: this.layout.corrupt(id) }, 'message metadata did not parse; set aside in dead/');
      }
      throw err;
    }
  }

  /** Replace the meta of a message that is in `state` (atomic and durable). */
  async update(state: SpoolState, meta: MessageMeta): Promise<void> {
    const target = this.layout.meta(state, meta.id);
    await this.mustExist(state, meta.id);
    await replaceFile(this.fs, this.layout.tmp, meta.id, target, sealWith(this.keys, serializeMeta(meta)));
    await this.syncer.sync(this.layout.stateDir(state));
  }

  /** active → queue with the updated meta (a failed attempt: attempts, nextAttemptAt, lastError). */
  release(meta: MessageMeta): Promise<void> {
    return this.move(meta, 'active', 'queue');
  }

  /** active → dead with the updated meta (set lastError first). */
  kill(meta: MessageMeta): Promise<void> {
    return this.move(meta, 'active', 'dead');
  }

  /**
   * dead → queue for another try now: attempts back to 0, nextAttemptAt and requeuedAt now (the
   * maximum age counts from requeuedAt), lastError kept.
   */
  async requeue(id: string): Promise<MessageMeta> {
    const meta = await this.get('dead', id);
    if (!meta) throw new SpoolError('spool.not_found', `message ${id} is not in dead/`, { id });
    const at = new Date(this.clock.now()).toISOString();
    const next: MessageMeta = { ...meta, attempts: 0, nextAttemptAt: at, requeuedAt: at };
    await this.move(next, 'dead', 'queue');
    return next;
  }

  /**
   * queue → hold (an admin hold: the scheduler never picks it up). One rename, so it races safely
   * with claim, across processes too: exactly one wins; the loser gets spool.not_queued.
   */
  async hold(id: string): Promise<MessageMeta> {
    await this.fs.mkdir(this.layout.stateDir('hold'), DIR_MODE); // a spool made before hold/ existed
    try {
      await this.fs.rename(this.layout.meta('queue', id), this.layout.meta('hold', id));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw new SpoolError('spool.not_queued', `message ${id} is not in the queue`, { id });
      throw err;
    }
    await Promise.all([this.syncer.sync(this.layout.stateDir('hold')), this.syncer.sync(this.layout.stateDir('queue'))]);
    const meta = await this.get('hold', id);
    if (!meta) throw new SpoolError('spool.not_found', `message ${id} left hold/ while being held`, { id });
    return meta;
  }

  /** hold → queue, due at `at` (default now). Rejects spool.not_found if it is not held. */
  async unhold(id: string, at: Date = new Date(this.clock.now())): Promise<MessageMeta> {
    const meta = await this.get('hold', id);
    if (!meta) throw new SpoolError('spool.not_found', `message ${id} is not in hold/`, { id });
    const next: MessageMeta = { ...meta, nextAttemptAt: at.toISOString() };
    await this.move(next, 'hold', 'queue');
    return next;
  }

  /**
   * A queued message due at `at` (default now): held, given the new time, released — so the
   * rewrite can never race a claim (a claim in between finds nothing in queue/). A crash in the
   * middle leaves it held, never lost. Rejects spool.not_queued if it is not in queue/.
   */
  async reschedule(id: string, at: Date = new Date(this.clock.now())): Promise<MessageMeta> {
    await this.hold(id);
    return this.unhold(id, at);
  }

  /**
   * Delivered: remove active/<id>.json (made durable), then the .eml. A crash in between leaves an
   * .eml without .json, which start-up deletes. `retry`: a retry of a completion that failed
   * after the .json was gone (no state holds the id): the fsync and the .eml removal still run.
   */
  async complete(id: string, options: { retry?: boolean } = {}): Promise<void> {
    const removed = await unlinkIfExists(this.fs, this.layout.meta('active', id));
    // A retry after a failure past the unlink (the directory fsync) finishes the job; anything
    // else must find the message in active/.
    if (!removed && !(options.retry && !(await this.find(id)))) {
      throw new SpoolError('spool.not_found', `message ${id} is not in active/`, { id });
    }
    await this.syncer.sync(this.layout.stateDir('active'));
    await unlinkIfExists(this.fs, this.layout.eml(id));
  }

  /**
   * Admin delete of a message in `state` (in dead/ also a set-aside .json.corrupt). Resolves false
   * if there was nothing. The .eml goes too unless another state still holds the id.
   */
  async remove(state: SpoolState, id: string): Promise<boolean> {
    let removed = await unlinkIfExists(this.fs, this.layout.meta(state, id));
    if (state === 'dead') removed = (await unlinkIfExists(this.fs, this.layout.corrupt(id))) || removed;
    if (!removed) return false;
    await this.syncer.sync(this.layout.stateDir(state));
    if (!(await this.find(id))) await unlinkIfExists(this.fs, this.layout.eml(id));
    return true;
  }

  /**
   * One state change with new meta, crash-safe with no duplicate: rewrite <from>/<id>.json in
   * place (temp file, fsync, rename over, fsync dir), then rename it into <to>/ and fsync both.
   * A crash leaves it in <from> with either meta; recovery then handles <from> as usual.
   */
  private async move(meta: MessageMeta, from: SpoolState, to: SpoolState): Promise<void> {
    const key = `${meta.id} ${from} ${to}`;
    // A retry of a move whose rename went through but whose directory fsync failed (the caller
    // retries a failed release or kill): the message is in <to> already, only the fsyncs are left.
    const renamedAlready =
      this.movedUnsynced.has(key) && !(await this.fs.exists(this.layout.meta(from, meta.id))) && (await this.fs.exists(this.layout.meta(to, meta.id)));
    if (!renamedAlready) {
      await this.update(from, meta);
      await this.fs.rename(this.layout.meta(from, meta.id), this.layout.meta(to, meta.id));
      this.movedUnsynced.add(key);
    }
    await Promise.all([this.syncer.sync(this.layout.stateDir(to)), this.syncer.sync(this.layout.stateDir(from))]);
    this.movedUnsynced.delete(key);
  }

  private async mustExist(state: SpoolState, id: string): Promise<void> {
    if (!(await this.fs.exists(this.layout.meta(state, id)))) {
      throw new SpoolError('spool.not_found', `message ${id} is not in ${state}/`, { id });
    }
  }

  /** The ids in `state` (file names only: nothing is parsed). */
  ids(state: SpoolState): Promise<string[]> {
    return stateIds(this.fs, this.layout, state);
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
