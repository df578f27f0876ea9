/**
 * A new sealed file from a plaintext stream (rekey, src/spool/rekey.ts and the outbox's): created
 * with 'wx' and mode 0600, written as it is sealed (one chunk of plaintext held at a time),
 * fsynced and closed before it resolves. The caller renames it into place. On failure the file
 * is removed and the error rethrown.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import type { SpoolKey, SpoolKeys } from './keys.js';
import { Sealer } from './sealer.js';
import { readAt } from './read-at.js';
import { openView } from './view.js';

export async function writeSealedCopy(plain: AsyncIterable<Buffer | string>, file: string, key: SpoolKey): Promise<void> {
  const fh = await open(file, 'wx', 0o600);
  try {
    const sealer = new Sealer(key);
    for await (const piece of plain) {
      await writeAll(fh, sealer.update(typeof piece === 'string' ? Buffer.from(piece) : piece));
    }
    await writeAll(fh, sealer.final());
    await fh.sync();
    await fh.close();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(file).catch(() => undefined);
    throw err;
  }
}

async function writeAll(fh: FileHandle, parts: Buffer[]): Promise<void> {
  if (!parts.length) return;
  const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  for (let at = 0; at < data.length; ) {
    const { bytesWritten } = await fh.write(data, at, data.length - at);
    if (bytesWritten <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' });
    at += bytesWritten;
  }
}

/**
 * Rewrite a whole file sealed with `keys`' first key, unless it is already: a new file beside it
 * (`<file>.<random>.tmp`), fsynced, renamed over it. Resolves false when there was nothing to do
 * (or the file is gone). The caller fsyncs the directory.
 */
export async function resealFile(file: string, keys: SpoolKeys): Promise<boolean> {
  const key = keys.current;
  if (!key) return false;
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const at = (p: number, l: number) => readAt(fh, p, l);
    const view = await openView((await fh.stat()).size, at, keys, file);
    if (view.keyId === key.id) return false;
    await writeSealedCopy(view.pieces(0, view.size), tmp, key);
    await rename(tmp, file);
    return true;
  } finally {
    await fh.close();
  }
}
