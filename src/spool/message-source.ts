/**
 * Reading a spooled message's bytes: the one way every reader (delivery, notices, `queue show
 * --body`, the copy of a partly refused message, `queue rekey`) gets them. A MessageSource is
 * the plaintext of the first `size` bytes of data/<id>.eml (the metadata follows them in the
 * file), decrypted when the file is sealed (src/crypt), read as it is when plain.
 *
 * `open({ start })` opens the file and resolves a stream from `start` to the end of the message
 * once the file is open and its key found (so ENOENT or a missing key reject before anything is
 * read); a chunk that fails authentication ends the stream with crypt.damaged, before any of its
 * bytes. Call it again to read again (a retry, a resumed upload): nothing is held in between.
 * `read()` gives the whole message (small messages; delivery until it streams).
 *
 * A file holding fewer bytes than `size` fails: EIO for a plain file, crypt.damaged for a sealed
 * one, so a message cut short is never sent as if it were whole.
 */
import { closeSync, fstatSync, openSync, promises as fsp, readSync } from 'node:fs';
import { Readable } from 'node:stream';
import { isMainThread } from 'node:worker_threads';
import { openView, type PlainView, type SpoolKeys } from '../crypt/index.js';
import { damaged } from '../crypt/format.js';

export interface MessageSource {
  /** data/<id>.eml (for messages naming the file: never read it directly). */
  readonly path: string;
  /** Bytes of the message (meta.size). */
  readonly size: number;
  /** A stream of the message from `start` (default 0) to its end; each call opens the file again. */
  open(options?: { start?: number }): Promise<Readable>;
  /** The whole message. */
  read(): Promise<Buffer>;
}

/**
 * In the delivery thread a message up to this size is read with synchronous calls: it was just
 * written (in the page cache), and one read costs less than the threadpool hand-offs of an
 * asynchronous one. Larger ones, and every read on the listeners' thread (where a slow disk must
 * not stall the SMTP sessions), are asynchronous.
 */
const SYNC_READ_MAX = 64 * 1024;

export function messageSource(path: string, size: number, keys: SpoolKeys): MessageSource {
  return {
    path,
    size,
    async open(options = {}) {
      const start = Math.max(0, Math.min(options.start ?? 0, size));
      const handle = await fsp.open(path, 'r');
      try {
        const view = await viewOf(path, size, keys, (await handle.stat()).size, (p, l) => readAt(handle, p, l));
        return Readable.from(piecesThenClose(view, start, size, handle, path), { objectMode: false });
      } catch (err) {
        await handle.close();
        throw err;
      }
    },
    async read() {
      if (!isMainThread && size <= SYNC_READ_MAX) return readWholeSync(path, size, keys);
      const handle = await fsp.open(path, 'r');
      try {
        const view = await viewOf(path, size, keys, (await handle.stat()).size, (p, l) => readAt(handle, p, l));
        return await view.read(0, size);
      } finally {
        await handle.close();
      }
    },
  };
}

async function* piecesThenClose(view: PlainView, start: number, end: number, handle: fsp.FileHandle, path: string): AsyncGenerator<Buffer> {
  try {
    let read = 0;
    for await (const piece of view.pieces(start, end)) {
      read += piece.length;
      yield piece;
    }
    if (read < end - start) throw cutShort(path, start + read, end); // cut short while being read
  } finally {
    await handle.close();
  }
}

async function readWholeSync(path: string, size: number, keys: SpoolKeys): Promise<Buffer> {
  const fd = openSync(path, 'r');
  try {
    const fileSize = fstatSync(fd).size;
    // One read for the file (it is small): the header and the chunks come from it.
    const whole = readAtSync(fd, 0, fileSize);
    const view = await viewOf(path, size, keys, whole.length, (p, l) => whole.subarray(p, p + l), whole);
    return await view.read(0, size);
  } finally {
    closeSync(fd);
  }
}

/** The file's plaintext view, refused when it holds fewer than `size` bytes of message. */
async function viewOf(path: string, size: number, keys: SpoolKeys, fileSize: number, at: (p: number, l: number) => Buffer | Promise<Buffer>, head?: Buffer): Promise<PlainView> {
  const view = await openView(fileSize, at, keys, path, head);
  if (view.size < size) {
    if (view.keyId) throw damaged(path, `it holds ${view.size} bytes of a ${size}-byte message`);
    throw cutShort(path, view.size, size);
  }
  return view;
}

/** The error for a plain message file holding fewer bytes than its metadata records (code EIO). */
export function cutShort(path: string, found: number, size: number): Error {
  return Object.assign(new Error(`${path} holds ${found} bytes of a ${size}-byte message`), { code: 'EIO' });
}

/** Up to `length` bytes from `position` (fewer only at the end of the file). */
export async function readAt(handle: fsp.FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buf, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buf.subarray(0, filled);
}

export function readAtSync(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const bytesRead = readSync(fd, buf, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buf.subarray(0, filled);
}
