/**
 * What the spool's directories hold, read without parsing anything: the queue ids in a state
 * (for listings and the metrics' census), and whether tmp/ can be written now (for /healthz).
 */
import { join } from 'node:path';
import { FILE_MODE, type SpoolLayout } from './layout.js';
import { isValidQueueId } from './queue-id.js';
import { isErrno, type SpoolFs } from './spool-fs.js';
import type { SpoolState } from './types.js';

/** The ids in `state`: the names of its .json files that are queue ids. */
export async function stateIds(fs: SpoolFs, layout: SpoolLayout, state: SpoolState): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(layout.stateDir(state));
  } catch (err) {
    // hold/ of a spool made by an older version (recovery creates it at the next start)
    if (state === 'hold' && isErrno(err, 'ENOENT')) return [];
    throw err;
  }
  return names
    .filter((n) => n.endsWith('.json'))
    .map((n) => n.slice(0, -'.json'.length))
    .filter(isValidQueueId);
}

const PROBE_BYTES = Buffer.from('ok\n');

/**
 * Creates, writes and removes tmp/health-probe (no fsync: a health check, not a commit); rejects
 * with the file-system error (EROFS, ENOSPC, EACCES, EIO). Start-up recovery empties tmp/, so a
 * probe cut short leaves nothing behind for long.
 */
export async function probeWritable(fs: SpoolFs, layout: SpoolLayout): Promise<void> {
  const file = join(layout.tmp, 'health-probe');
  const handle = await fs.open(file, 'w', FILE_MODE);
  try {
    await handle.write(PROBE_BYTES, 0, PROBE_BYTES.length);
  } finally {
    await handle.close();
  }
  await fs.unlink(file);
}
