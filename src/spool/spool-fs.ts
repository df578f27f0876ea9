/**
 * The few file-system calls the spool makes, behind one interface so tests can inject failures
 * (ENOSPC, EIO) and count directory fsyncs. `nodeSpoolFs` is the real thing.
 */
import { closeSync, fstatSync, fsync, linkSync, open, openSync, promises as fsp, write, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import { SpoolKeys, readAt, readAtSync } from '../crypt/index.js';
import { metaTextOfFile } from './meta-codec.js';

/** What the spool does with an open file (nodeSpoolFs: fdHandle below). */
export interface SpoolFileHandle {
  write(buffer: Buffer, offset: number, length: number): Promise<{ bytesWritten: number }>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface SpoolFs {
  /** Open a file; the spool always passes an explicit mode (0600) and 'wx' when creating. */
  open(path: string, flags: string, mode: number): Promise<SpoolFileHandle>;
  rename(from: string, to: string): Promise<void>;
  /** A second name for a file (fails EEXIST if `to` exists). */
  link(existing: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  readFile(path: string): Promise<string>;
  /**
   * The metadata JSON of a state entry (<state>/<id>.json, either form: meta-codec.ts), sealed or
   * plain. A sealed entry that fails authentication rejects spool.corrupt_meta; one sealed with a
   * key not in `keys` rejects crypt.key_missing.
   */
  readMeta(path: string, keys?: SpoolKeys): Promise<string>;
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

const openFd = promisify(open);
const fsyncFd = promisify(fsync);
const writeFd = promisify(write);

/** A write up to this size is made synchronously (a small message with its metadata, in one). */
const SYNC_WRITE_MAX = 32 * 1024;

/**
 * The listeners' thread's file handle. Creating a file (the kernel's inode search: up to 0.3 ms
 * on ext4) and fsync (the disk) go through libuv's threadpool, so they never stop the SMTP
 * sessions. A small write (into the page cache), the close and the spool's link are a few
 * microseconds each: made synchronously they cost less than a threadpool round trip (two thread
 * wake-ups, dear on a virtual machine). Large writes (a big message, in 64 KiB pieces) stay
 * asynchronous, so a big message on a disk that cannot keep up makes its own client wait. (When
 * the kernel throttles writers because too much is waiting to be written back, a small write
 * waits too, and every session with it: the price of the cheaper common case.)
 * A raw descriptor (not a FileHandle): the spool closes every handle it opens (writer.ts,
 * durable-file.ts), on failure too.
 */
function fdHandle(fd: number): SpoolFileHandle {
  let closed = false;
  // A closed descriptor's number may already be another file's: never use it again.
  const usable = () => {
    if (closed) throw Object.assign(new Error('EBADF: spool file already closed'), { code: 'EBADF' });
  };
  return {
    async write(buffer, offset, length) {
      usable();
      if (length <= SYNC_WRITE_MAX) return { bytesWritten: writeSync(fd, buffer, offset, length) };
      return { bytesWritten: (await writeFd(fd, buffer, offset, length, null)).bytesWritten };
    },
    async sync() {
      usable();
      await fsyncFd(fd);
    },
    async close() {
      if (closed) return;
      closed = true;
      closeSync(fd);
    },
  };
}

export const nodeSpoolFs: SpoolFs = {
  open: async (path, flags, mode) => fdHandle(await openFd(path, flags, mode)),
  rename: (from, to) => fsp.rename(from, to),
  unlink: (path) => fsp.unlink(path),
  link: async (existing, to) => linkSync(existing, to), // a directory entry: see fdHandle
  readFile: (path) => fsp.readFile(path, 'utf8'),
  async readMeta(path, keys = SpoolKeys.none()) {
    const handle = await fsp.open(path, 'r');
    try {
      const { size } = await handle.stat();
      return await metaTextOfFile(size, (position, length) => readAt(handle, position, length), keys, path);
    } finally {
      await handle.close();
    }
  },
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
  syncDir: (path) => syncDirCached(path),
};

/**
 * fsync of a directory through a handle kept open while the directory is busy: under load the
 * spool fsyncs data/, queue/ and active/ many times a second, and an open and a close around each
 * fsync cost as much as the fsync itself. A handle unused for a second is closed. (The spool's
 * directories are never replaced while the relay runs, so the handle stays the directory's.)
 */
const DIR_HANDLE_IDLE_MS = 1_000;
const dirHandles = new Map<string, { handle: Promise<fsp.FileHandle>; users: number; timer: NodeJS.Timeout | undefined }>();

async function syncDirCached(path: string): Promise<void> {
  let entry = dirHandles.get(path);
  if (!entry) {
    entry = { handle: fsp.open(path, 'r'), users: 0, timer: undefined };
    dirHandles.set(path, entry);
  }
  const e = entry;
  clearTimeout(e.timer);
  e.users++;
  try {
    await (await e.handle).sync();
  } catch (err) {
    // Never reuse a handle that failed (or never opened): the next fsync opens the directory again.
    if (dirHandles.get(path) === e) dirHandles.delete(path);
    throw err;
  } finally {
    e.users--;
    if (e.users === 0 && dirHandles.get(path) !== e) {
      void e.handle.then((h) => h.close()).catch(() => undefined);
    } else if (e.users === 0) {
      e.timer = setTimeout(() => {
        if (e.users > 0) return;
        if (dirHandles.get(path) === e) dirHandles.delete(path);
        void e.handle.then((h) => h.close()).catch(() => undefined);
      }, DIR_HANDLE_IDLE_MS);
      e.timer.unref();
    }
  }
}

/** readMeta with synchronous calls (the delivery thread, where a short blocking read is cheaper). */
export async function readMetaSync(path: string, keys: SpoolKeys = SpoolKeys.none()): Promise<string> {
  const fd = openSync(path, 'r');
  try {
    return await metaTextOfFile(fstatSync(fd).size, (position, length) => readAtSync(fd, position, length), keys, path);
  } finally {
    closeSync(fd);
  }
}

/** The real file system with some calls replaced (tests). */
export function withFs(overrides: Partial<SpoolFs> | undefined): SpoolFs {
  return { ...nodeSpoolFs, ...overrides };
}

/** The errno code of a Node system error ('ENOSPC', …), or 'unknown'. */
export function errnoCode(err: unknown): string {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : 'unknown';
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
