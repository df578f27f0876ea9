/**
 * Start-up recovery: bring the spool directory to a consistent state after any crash. Run once
 * by Spool.open before anything writes (it deletes .eml files that have no .json, which is what a
 * message being received looks like). Idempotent: running it again changes nothing.
 *
 * 1. create the directories (0700) and chmod existing ones to 0700;
 * 2. delete everything in tmp/ (files being written when the process stopped), and check the
 *    file system can hard-link (accepting links each message into queue/: writer.ts);
 * 3. a .json that does not parse is renamed to dead/<id>.json.corrupt (kept with its .eml for
 *    the admin; logged as spool.corrupt_meta);
 * 4. an id with a .json in more than one state keeps one: hold (an admin's stop) wins over queue,
 *    queue over dead, dead over active (the spool's own moves never leave duplicates; this covers
 *    copies made by hand);
 * 5. a .json whose .eml is missing is deleted (spool.orphan_meta, an error: it must not happen);
 * 6. active/*.json go back to queue/ (delivery was interrupted; the sent log stops repeats);
 *    queue/, dead/ and hold/ stay where they are;
 * 7. data/<id>.eml with no .json anywhere is deleted (a crash before commit).
 */
import { join } from 'node:path';
import type { SpoolKeys } from '../crypt/index.js';
import type { Logger } from '../log.js';
import type { DirSyncer } from './dir-syncer.js';
import { CORRUPT_SUFFIX, DIR_MODE, FILE_MODE, SPOOL_STATES, type SpoolLayout } from './layout.js';
import { parseMeta } from './meta-codec.js';
import { isValidQueueId } from './queue-id.js';
import { SpoolError } from './spool-error.js';
import { errnoCode, isErrno, unlinkIfExists, type SpoolFs } from './spool-fs.js';
import type { SpoolState } from './types.js';

export interface RecoveryCounts {
  /** Messages in each state after recovery. */
  queue: number;
  dead: number;
  hold: number;
  /** active → queue moves. */
  requeued: number;
  tmpRemoved: number;
  orphanEmlRemoved: number;
  orphanMetaRemoved: number;
  corrupt: number;
  duplicatesRemoved: number;
}

/** Precedence when one id has a .json in several states: the first listed wins. */
const PRECEDENCE: readonly SpoolState[] = ['hold', 'queue', 'dead', 'active'];

export async function recoverSpool(
  fs: SpoolFs,
  layout: SpoolLayout,
  syncer: DirSyncer,
  logger: Logger,
  keys: SpoolKeys,
): Promise<RecoveryCounts> {
  const counts: RecoveryCounts = {
    queue: 0, dead: 0, hold: 0, requeued: 0, tmpRemoved: 0,
    orphanEmlRemoved: 0, orphanMetaRemoved: 0, corrupt: 0, duplicatesRemoved: 0,
  };
  for (const dir of layout.allDirs()) {
    await fs.mkdir(dir, DIR_MODE);
    await fs.chmod(dir, DIR_MODE);
  }

  for (const name of await fs.readdir(layout.tmp)) {
    await fs.unlink(join(layout.tmp, name));
    counts.tmpRemoved++;
  }
  await probeHardLinks(fs, layout.tmp, layout.root);

  // Valid metas by id, with every state each id appears in.
  const found = new Map<string, SpoolState[]>();
  const corrupt = new Set<string>();
  for (const state of SPOOL_STATES) {
    for (const name of await fs.readdir(layout.stateDir(state))) {
      if (state === 'dead' && name.endsWith(CORRUPT_SUFFIX)) {
        corrupt.add(name.slice(0, -CORRUPT_SUFFIX.length));
        continue;
      }
      if (!name.endsWith('.json')) continue;
      const id = name.slice(0, -'.json'.length);
      if (!isValidQueueId(id)) continue;
      try {
        parseMeta(await fs.readMeta(layout.meta(state, id), keys), id);
      } catch (err) {
        if (isErrno(err, 'ENOENT')) continue;
        // Only metadata that does not parse is corrupt; a read error (EIO, EMFILE) fails the
        // start instead of setting a good message aside.
        if (!(err instanceof SpoolError)) throw err;
        await fs.rename(layout.meta(state, id), layout.corrupt(id));
        corrupt.add(id);
        counts.corrupt++;
        logger.error({ event: 'spool.corrupt_meta', id, state, path: layout.corrupt(id) }, 'message metadata did not parse; set aside in dead/ with its .eml for the admin');
        continue;
      }
      found.set(id, [...(found.get(id) ?? []), state]);
    }
  }

  const emls = new Set(
    (await fs.readdir(layout.data))
      .filter((n) => n.endsWith('.eml'))
      .map((n) => n.slice(0, -'.eml'.length))
      .filter(isValidQueueId),
  );
  for (const [id, states] of found) {
    const keep = PRECEDENCE.find((s) => states.includes(s))!;
    for (const state of states) {
      if (state === keep) continue;
      await fs.unlink(layout.meta(state, id));
      counts.duplicatesRemoved++;
      logger.warn({ event: 'spool.duplicate_meta', id, kept: keep, removed: state }, 'message was in two states; kept one');
    }
    if (!emls.has(id)) {
      await fs.unlink(layout.meta(keep, id));
      found.delete(id);
      counts.orphanMetaRemoved++;
      logger.error({ event: 'spool.orphan_meta', id, state: keep }, 'message metadata without its .eml (removed); the spool directory was changed outside the relay or the disk lost data');
      continue;
    }
    if (keep === 'active') {
      await fs.rename(layout.meta('active', id), layout.meta('queue', id));
      counts.requeued++;
      counts.queue++;
    } else {
      counts[keep]++;
    }
  }

  for (const id of emls) {
    if (found.has(id) || corrupt.has(id)) continue;
    try {
      await fs.unlink(layout.eml(id));
      counts.orphanEmlRemoved++;
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
  }

  await Promise.all([layout.root, layout.data, ...SPOOL_STATES.map((s) => layout.stateDir(s))].map((d) => syncer.sync(d)));
  logger.info({ event: 'spool.recovered', dir: layout.root, ...counts }, 'spool ready');
  return counts;
}

/**
 * Accepting links each message's file into queue/ (writer.ts). On a file system without hard
 * links (vfat, exFAT, some network or FUSE mounts) every message would be refused with a 451, so
 * the start fails instead, naming the fix. The probe files live in `dir` (the spool's tmp/,
 * cleared at every start; `check` probes there too, under a name of its own), on the file system
 * of the spool `root`.
 */
export async function probeHardLinks(fs: SpoolFs, dir: string, root: string, name = 'link-probe'): Promise<void> {
  const file = join(dir, name);
  const link = join(dir, `${name}.link`);
  try {
    await (await fs.open(file, 'wx', FILE_MODE)).close();
    try {
      await fs.link(file, link);
    } catch (err) {
      throw new SpoolError(
        'spool.no_hard_links',
        `queue.dir ${root} is on a file system that cannot hard-link files (${errnoCode(err)}); the spool needs them: put queue.dir on a local file system such as ext4 or XFS`,
        { cause: err },
      );
    }
  } finally {
    await unlinkIfExists(fs, link);
    await unlinkIfExists(fs, file);
  }
}
