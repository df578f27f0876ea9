/**
 * Reading a spooled message's bytes: the one way every reader (delivery, notices, `queue show
 * --body`, the copy of a partly refused message, `queue rekey`) gets them. A MessageSource is
 * the plaintext of the first `size` bytes of data/<id>.eml (the metadata follows them in the
 * file), decrypted when the file is sealed (src/crypt), read as it is when plain.
 *
 * Each read opens the file again (a resend after a 401, the rest of an interrupted resumable
 * upload, the next attempt): nothing is held in between, and a 35 MB message is never whole in
 * memory unless `read()` is asked for it. A sealed chunk is authenticated before any of its
 * bytes are given out; one that fails ends the read with crypt.damaged.
 *
 * A file holding fewer bytes than `size` fails when it is opened: EIO for a plain file,
 * crypt.damaged for a sealed one, so a message cut short is never sent as if it were whole. (A
 * plain file cut short between the open and a later read fails with EIO there.)
 */
import { closeSync, fstatSync, openSync, promises as fsp } from 'node:fs';
import { Readable } from 'node:stream';
import { isMainThread } from 'node:worker_threads';
import { damaged, openView, readAt, readAtSync, type PlainView, type SpoolKeys } from '../crypt/index.js';

export interface MessageSource {
  /** data/<id>.eml (for messages naming the file: never read it directly). */
  readonly path: string;
  /** Bytes of the message (meta.size). */
  readonly size: number;
  /**
   * Bytes [start, end) in pieces (at most 64 KiB each), from the file opened for this call. With
   * `into` (a plain file), each piece is a view of that buffer, valid until the next is asked for.
   */
  range(start?: number, end?: number, into?: Buffer): AsyncGenerator<Buffer>;
  /**
   * The message from `start` (default 0) as a byte stream; resolves once the file is open and its
   * key found, so ENOENT or a missing key reject before anything is read.
   */
  open(options?: { start?: number }): Promise<Readable>;
  /** The whole message (small messages). */
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
  const openAt = async () => {
    const handle = await fsp.open(path, 'r');
    try {
      return { handle, view: await viewOf(path, size, keys, (await handle.stat()).size, (p, l) => readAt(handle, p, l)) };
    } catch (err) {
      await handle.close();
      throw err;
    }
  };
  async function* range(start = 0, end = size, into?: Buffer): AsyncGenerator<Buffer> {
    if (start < 0 || end > size || start > end) throw new RangeError(`bytes ${start}-${end} are not within a ${size}-byte message`);
    if (start === end) return;
    const { handle, view } = await openAt();
    try {
      yield* piecesOf(view, handle, path, start, end, into);
    } finally {
      await handle.close();
    }
  }
  return {
    path,
    size,
    range,
    async open(options = {}) {
      const start = Math.max(0, Math.min(options.start ?? 0, size));
      const { handle, view } = await openAt();
      const pieces = async function* () {
        try {
          yield* piecesOf(view, handle, path, start, size);
        } finally {
          await handle.close();
        }
      };
      return Readable.from(pieces(), { objectMode: false, highWaterMark: 64 * 1024 });
    },
    async read() {
      if (!isMainThread && size <= SYNC_READ_MAX) return readWholeSync(path, size, keys);
      const { handle, view } = await openAt();
      try {
        return await view.read(0, size);
      } finally {
        await handle.close();
      }
    },
  };
}

/** The view's plaintext [start, end); a plain file is read straight into `into` when given. */
async function* piecesOf(view: PlainView, handle: fsp.FileHandle, path: string, start: number, end: number, into?: Buffer): AsyncGenerator<Buffer> {
  let at = start;
  if (view.keyId === null && into) {
    while (at < end) {
      const { bytesRead } = await handle.read(into, 0, Math.min(into.length, end - at), at);
      if (bytesRead === 0) break;
      at += bytesRead;
      yield bytesRead === into.length ? into : into.subarray(0, bytesRead);
    }
  } else {
    for await (const piece of view.pieces(start, end)) {
      at += piece.length;
      yield piece;
    }
  }
  if (at < end) throw cutShort(path, at, end); // cut short while being read
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
