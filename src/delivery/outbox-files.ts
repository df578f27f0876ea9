/**
 * The dry-run outbox's files after they are written (outbox.ts writes them): removed once older
 * than queue.deadRetention (by their modification time: when the relay wrote them), and
 * rewritten with the first spool key by `queue rekey`. A directory that does not exist yet holds
 * nothing.
 */
import { open, readdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { resealFile, type SpoolKeys } from '../crypt/index.js';

async function emlFiles(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((n) => n.endsWith('.eml')).map((n) => path.join(dir, n));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Remove the outbox files of `dir` last written before `cutoffMs`; resolves their names. */
export async function pruneOutbox(dir: string, cutoffMs: number): Promise<string[]> {
  const removed: string[] = [];
  for (const file of await emlFiles(dir)) {
    try {
      if ((await stat(file)).mtimeMs >= cutoffMs) continue;
      await unlink(file);
      removed.push(path.basename(file));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  if (removed.length) await syncDir(dir);
  return removed;
}

/** Rewrite the outbox files of `dir` not sealed with the first key; resolves how many. */
export async function resealOutbox(dir: string, keys: SpoolKeys): Promise<number> {
  let n = 0;
  for (const file of await emlFiles(dir)) if (await resealFile(file, keys)) n++;
  if (n) await syncDir(dir);
  return n;
}

/** resealOutbox over the outbox directories of the dry-run workspaces; resolves how many files. */
export async function resealOutboxes(workspaces: readonly { outbox?: { dir: string } | undefined }[], keys: SpoolKeys): Promise<number> {
  let n = 0;
  for (const w of workspaces) if (w.outbox) n += await resealOutbox(w.outbox.dir, keys);
  return n;
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
