/**
 * The few file-system calls the spool makes, behind one interface so tests can inject failures
 * (ENOSPC, EIO) and count directory fsyncs. `nodeSpoolFs` is the real thing.
 */
import { closeSync, createReadStream, fstatSync, fsync, linkSync, open, openSync, promises as fsp, readSync, write, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import { readMetaText } from './meta-codec.js';

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
  /** The metadata JSON of a state entry (<state>/<id>.json, either form: meta-codec.ts). */
  readMeta(path: string): Promise<string>;
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
  async readMeta(path) {
    const handle = await fsp.open(path, 'r');
    try {
      const { size } = await handle.stat();
      return await readMetaText(size, (position, length) => readAt(handle, position, length));
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
export async function readMetaSync(path: string): Promise<string> {
  const fd = openSync(path, 'r');
  try {
    return await readMetaText(fstatSync(fd).size, (position, length) => readAtSync(fd, position, length));
  } finally {
    closeSync(fd);
  }
}

/**
 * A stored message's bytes: the first `size` (meta.size) bytes of data/<id>.eml, the rest of the
 * file being its metadata trailer. A file shorter than `size` rejects with code EIO (the disk
 * lost data): a truncated message is never sent as if it were whole.
 */
export async function readStoredMessage(path: string, size: number): Promise<Buffer> {
  const handle = await fsp.open(path, 'r');
  try {
    return wholeOrThrow(path, await readAt(handle, 0, size), size);
  } finally {
    await handle.close();
  }
}

/**
 * readStoredMessage in chunks (a message of any size, without holding it whole): the first
 * `size` bytes of the file; a file cut short fails with EIO at its end.
 */
export async function* streamStoredMessage(path: string, size: number): AsyncGenerator<Buffer> {
  if (size === 0) return;
  let read = 0;
  for await (const chunk of createReadStream(path, { start: 0, end: size - 1 })) {
    read += (chunk as Buffer).length;
    yield chunk as Buffer;
  }
  if (read < size) throw cutShort(path, read, size);
}

/**
 * Bytes [start, end) of a stored message (`size`: meta.size, so `end` never reaches into the
 * metadata after it), read from the file opened for this call only: delivery reads a message
 * again (a resend after a 401, the rest of an interrupted upload) rather than keeping it.
 * With `into`, every piece is a view of that buffer, valid until the next one is asked for (the
 * caller must be done with it, e.g. its socket write completed); without, each piece is a new
 * Buffer of at most 64 KiB. A file cut short fails with EIO where it ends.
 */
export async function* readStoredRange(path: string, size: number, start: number, end: number, into?: Buffer): AsyncGenerator<Buffer> {
  if (start < 0 || end > size || start > end) throw new RangeError(`bytes ${start}-${end} are not within a ${size}-byte message`);
  if (start === end) return;
  const handle = await fsp.open(path, 'r');
  try {
    let position = start;
    while (position < end) {
      const buf = into ?? Buffer.allocUnsafe(Math.min(RANGE_PIECE, end - position));
      const { bytesRead } = await handle.read(buf, 0, Math.min(buf.length, end - position), position);
      if (bytesRead === 0) throw cutShort(path, position, size);
      position += bytesRead;
      yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

const RANGE_PIECE = 64 * 1024;

/** readStoredMessage with synchronous calls (the delivery thread, small messages). */
export function readStoredMessageSync(path: string, size: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    return wholeOrThrow(path, readAtSync(fd, 0, size), size);
  } finally {
    closeSync(fd);
  }
}

function wholeOrThrow(path: string, buf: Buffer, size: number): Buffer {
  if (buf.length < size) throw cutShort(path, buf.length, size);
  return buf;
}

/** The error for a message file holding fewer bytes than its metadata records (code EIO). */
function cutShort(path: string, found: number, size: number): Error {
  return Object.assign(new Error(`${path} holds ${found} bytes of a ${size}-byte message`), { code: 'EIO' });
}

/** Up to `length` bytes from `position` (fewer only at the end of the file). */
async function readAt(handle: fsp.FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buf, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buf.subarray(0, filled);
}

function readAtSync(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const bytesRead = readSync(fd, buf, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buf.subarray(0, filled);
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
