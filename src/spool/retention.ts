/**
 * Dead messages kept for queue.deadRetention, then removed (the sweep in src/queue/retention.ts
 * calls this). A dead message's age counts from its last failure (the move to dead/); one set
 * aside as unreadable (dead/<id>.json.corrupt) from the file's modification time. Each removal
 * is the spool's own (`remove`: the .json, then the .eml), so it races safely with an admin's
 * requeue: whichever rename or unlink comes first wins.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CORRUPT_SUFFIX, type SpoolLayout } from './layout.js';
import { isValidQueueId } from './queue-id.js';
import { isErrno, type SpoolFs } from './spool-fs.js';
import type { Spool } from './spool.js';
import type { MessageMeta } from './types.js';

export interface ExpiredDead {
  id: string;
  workspace: string | null;
  /** ISO time it died (or was set aside). */
  diedAt: string;
  /** Its metadata (for its audit record); absent for an unreadable entry set aside. */
  meta?: MessageMeta;
}

/** When a dead message died: its last failure, else when it was accepted. */
export function diedAt(meta: MessageMeta): string {
  return meta.lastError?.at ?? meta.receivedAt;
}

/** Dead messages (and set-aside .json.corrupt files) that died before `cutoffMs`. */
export async function findExpiredDead(
  dead: MessageMeta[],
  fs: Pick<SpoolFs, 'readdir'>,
  layout: SpoolLayout,
  cutoffMs: number,
  mtimeMs: (path: string) => Promise<number>,
): Promise<ExpiredDead[]> {
  const out: ExpiredDead[] = dead
    .filter((m) => Date.parse(diedAt(m)) < cutoffMs)
    .map((m) => ({ id: m.id, workspace: m.workspace, diedAt: diedAt(m), meta: m }));
  for (const name of await fs.readdir(layout.stateDir('dead'))) {
    if (!name.endsWith(CORRUPT_SUFFIX)) continue;
    const id = name.slice(0, -CORRUPT_SUFFIX.length);
    if (!isValidQueueId(id)) continue;
    let at: number;
    try {
      at = await mtimeMs(join(layout.stateDir('dead'), name));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) continue;
      throw err;
    }
    if (at < cutoffMs) out.push({ id, workspace: null, diedAt: new Date(at).toISOString() });
  }
  return out;
}

/** Dead messages that died before `cutoffMs` removed (the spool's own remove); resolves those removed. */
export async function expireDead(spool: Spool, cutoffMs: number): Promise<ExpiredDead[]> {
  const { fs, layout } = spool.parts;
  const expired = await findExpiredDead(await spool.list('dead'), fs, layout, cutoffMs, async (p) => (await stat(p)).mtimeMs);
  const removed: ExpiredDead[] = [];
  for (const e of expired) if (await spool.remove('dead', e.id)) removed.push(e);
  return removed;
}
