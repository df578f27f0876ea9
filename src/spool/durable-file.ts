/**
 * Durable replacement of a small file: write a new file in a temp directory (0600, 'wx'), fsync
 * it, close it, rename it over the target. The caller fsyncs the target's directory (through the
 * DirSyncer) when the rename itself must be durable. On failure the temp file is removed and the
 * original error (errno code intact) is rethrown; the target is untouched.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { FILE_MODE } from './layout.js';
import { unlinkIfExists, writeAll, type SpoolFs, type SpoolFileHandle } from './spool-fs.js';

/** A fresh temp file name for `id` inside `tmpDir`. */
export function tempPath(tmpDir: string, id: string): string {
  return join(tmpDir, `${id}.${randomBytes(4).toString('hex')}.json`);
}

/** Write `data` to `path` (created with 'wx', 0600), fsync and close it. */
export async function writeNewFile(fs: SpoolFs, path: string, data: Buffer): Promise<void> {
  const handle: SpoolFileHandle = await fs.open(path, 'wx', FILE_MODE);
  try {
    await writeAll(handle, data);
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => undefined);
    throw err;
  }
  await handle.close();
}

/** Write `data` to a temp file in `tmpDir`, fsync, then rename it to `target`. */
export async function replaceFile(
  fs: SpoolFs,
  tmpDir: string,
  id: string,
  target: string,
  data: Buffer,
): Promise<void> {
  const tmp = tempPath(tmpDir, id);
  try {
    await writeNewFile(fs, tmp, data);
    await fs.rename(tmp, target);
  } catch (err) {
    await unlinkIfExists(fs, tmp).catch(() => undefined);
    throw err;
  }
}
