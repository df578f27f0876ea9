/**
 * The pacer's file (<queue.dir>/pace.json): each user's rolling 24 h counts, per minute, so a
 * restart does not forget how much a user sent today. Written durably: temp file, fsync, rename,
 * directory fsync.
 */
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { nodeSpoolFs } from '../spool/index.js';

/** user → rows of [minute start (ms), messages, recipients]. */
export type PaceDoc = Record<string, [number, number, number][]>;

/** The saved counts; null when there is no file yet (a first start). Throws when it cannot be read. */
export async function readPaceFile(file: string): Promise<PaceDoc | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as PaceDoc;
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return null;
    throw err;
  }
}

export async function writePaceFile(file: string, doc: PaceDoc): Promise<void> {
  const dir = path.dirname(file);
  const tmp = `${file}.tmp`;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const handle = await open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(JSON.stringify(doc));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
  await nodeSpoolFs.syncDir(dir);
}
