/**
 * The few file-system calls the spool makes, behind one interface so tests can inject failures
 * (ENOSPC, EIO) and count directory fsyncs. `nodeSpoolFs` is the real thing.
 */
import { promises as fsp } from 'node:fs';

/** The part of a `fs.promises.FileHandle` the spool uses. */
export interface SpoolFileHandle {
  write(buffer: Buffer, offset: number, length: number): Promise<{ bytesWritten: number }>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface SpoolFs {
  /** Open a file; the spool always passes an explicit mode (0600) and 'wx' when creating. */
  open(path: string, flags: string, mode: number): Promise<SpoolFileHandle>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  readFile(path: string): Promise<string>;
  /** File names in a directory (not paths). */
  readdir(path: string): Promise<string[]>;
  /** Does a file exist (ENOENT → false; other errors reject). */
  exists(path: string): Promise<boolean>;
  /** mkdir -p with this mode. */
  mkdir(path: string, mode: number): Promise<void>;
  chmod(path: string, mode: number): Promise<void>;
  /** fsync a directory, making the renames and unlinks in it durable. */
  syncDir(path: string): Promise<void>;
}

export const nodeSpoolFs: SpoolFs = {
  open: (path, flags, mode) => fsp.open(path, flags, mode),
  rename: (from, to) => fsp.rename(from, to),
  unlink: (path) => fsp.unlink(path),
  readFile: (path) => fsp.readFile(path, 'utf8'),
  readdir: (path) => fsp.readdir(path),
  async exists(path) {
    try {
      await fsp.lstat(path);
      return true;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false;
      throw err;
    }
  },
  async mkdir(path, mode) {
    await fsp.mkdir(path, { recursive: true, mode });
  },
  chmod: (path, mode) => fsp.chmod(path, mode),
  async syncDir(path) {
    const handle = await fsp.open(path, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
};

/** The real file system with some calls replaced (tests). */
export function withFs(overrides: Partial<SpoolFs> | undefined): SpoolFs {
  return { ...nodeSpoolFs, ...overrides };
}

/** Is `err` a Node system error with this errno code (e.g. 'ENOENT')? */
export function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

/** Write all of `data` (a write may be short), at the handle's current position. */
export async function writeAll(handle: SpoolFileHandle, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset);
    if (bytesWritten <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' });
    offset += bytesWritten;
  }
}

/** Unlink, ignoring a file that is already gone. Resolves true if it removed something. */
export async function unlinkIfExists(fs: SpoolFs, path: string): Promise<boolean> {
  try {
    await fs.unlink(path);
    return true;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
}
