/**
 * A message on its way out, in bounded memory: the header block with delivery's changes
 * (outgoing.ts) is held, the body is not. Any range of the outgoing bytes can be read, as often
 * as needed, and each read opens the spool file again (a resend after a 401, the rest of an
 * interrupted resumable upload, the next attempt): the head's bytes first, then the stored body
 * from where it starts in the file. Nothing but the header section is ever read to build it.
 *
 * Small messages (up to 64 KiB as stored) are read whole instead: one read, one buffer, one
 * write to the socket; that is the common case and the fast path.
 */
import { isMainThread } from 'node:worker_threads';
import { DeliveryError } from '../errors.js';
import { readStoredMessage, readStoredMessageSync, readStoredRange } from '../spool/index.js';
import { outgoingHead, type OutgoingChanges } from './outgoing.js';

/** Up to this size (as stored) a message is read whole (see the file comment). */
export const SMALL_MESSAGE = 64 * 1024;

/**
 * How far into a message the end of its header section is looked for. DATA refuses header
 * sections over 1 MiB (src/smtp/receive.ts), so a stored message always has its end well within.
 */
const HEADER_SCAN_MAX = 2 * 1024 * 1024;

/** Some bytes of the outgoing message, to send as a request body. */
export interface OutgoingRange {
  /** Bytes in the range. */
  readonly length: number;
  /**
   * The bytes, in pieces; each call reads the spool file again. With `into`, pieces read from
   * the file are views of that buffer, valid until the next piece is asked for.
   */
  chunks(into?: Buffer): AsyncIterable<Buffer>;
}

export class OutgoingMessage {
  /** Bytes that go out: the head, then the stored body. */
  readonly size: number;

  private constructor(
    /** The spool file (the stored bytes, then the spool's metadata). */
    readonly path: string,
    /** Size of the stored message (meta.size). */
    readonly storedSize: number,
    /** The header block as it goes out. */
    readonly head: Buffer,
    /** Where the body starts in the stored bytes. */
    readonly bodyOffset: number,
    /** The whole outgoing message, when it was small enough to read whole. */
    readonly inMemory: Buffer | null,
  ) {
    this.size = head.length + storedSize - bodyOffset;
  }

  /**
   * Read the header section of the message stored at `path` (`size`: meta.size) and build its
   * outgoing head with `changes`. Rejects with a DeliveryError: held when the file cannot be
   * read (as every later read of it: see spoolUnreadable), permanent for bad change values.
   */
  static async open(path: string, changes: OutgoingChanges, size: number): Promise<OutgoingMessage> {
    try {
      return await OutgoingMessage.read(path, changes, size);
    } catch (err) {
      throw err instanceof DeliveryError ? err : spoolUnreadable(path, errnoOf(err));
    }
  }

  private static async read(path: string, changes: OutgoingChanges, size: number): Promise<OutgoingMessage> {
    if (size <= SMALL_MESSAGE) {
      // In the delivery thread one synchronous read of a page-cached file is cheaper than four
      // threadpool hand-offs; on the listeners' thread a slow disk must not stall the sessions.
      const stored = isMainThread ? await readStoredMessage(path, size) : readStoredMessageSync(path, size);
      const { head, bodyOffset } = outgoingHead(stored, changes)!;
      const unchanged = head.buffer === stored.buffer && head.byteOffset === stored.byteOffset && head.length === bodyOffset;
      const bytes = unchanged ? stored : Buffer.concat([head, stored.subarray(bodyOffset)]);
      return new OutgoingMessage(path, size, head, bodyOffset, bytes);
    }
    const pieces: Buffer[] = [];
    let read = 0;
    for await (const piece of readStoredRange(path, size, 0, Math.min(size, HEADER_SCAN_MAX))) {
      pieces.push(piece);
      read += piece.length;
      const prefix = pieces.length === 1 ? piece : Buffer.concat(pieces, read);
      const found = outgoingHead(prefix, changes, read === size);
      // A copy of the head: it must not keep the 64 KiB pieces it was cut from alive.
      if (found) return new OutgoingMessage(path, size, Buffer.from(found.head), found.bodyOffset, null);
      if (pieces.length > 1) pieces.splice(0, pieces.length, prefix);
    }
    throw spoolUnreadable(path, `no end of its header section within ${HEADER_SCAN_MAX} bytes, which DATA never accepts: the file is damaged`);
  }

  /** The outgoing bytes [start, end). */
  range(start = 0, end = this.size): OutgoingRange {
    if (start < 0 || end > this.size || start > end) throw new RangeError(`bytes ${start}-${end} are not within a ${this.size}-byte message`);
    return { length: end - start, chunks: (into) => this.chunks(start, end, into) };
  }

  private async *chunks(start: number, end: number, into?: Buffer): AsyncGenerator<Buffer> {
    if (this.inMemory) {
      if (end > start) yield this.inMemory.subarray(start, end);
      return;
    }
    const headEnd = this.head.length;
    if (start < headEnd) yield this.head.subarray(start, Math.min(end, headEnd));
    if (end <= headEnd) return;
    const from = this.bodyOffset + Math.max(0, start - headEnd);
    try {
      yield* readStoredRange(this.path, this.storedSize, from, this.bodyOffset + (end - headEnd), into);
    } catch (err) {
      throw spoolUnreadable(this.path, errnoOf(err));
    }
  }
}

/**
 * The spool file cannot be read (gone, permissions, the disk; EIO when it holds fewer bytes than
 * its metadata says): held, so an admin looks, and the message is never sent cut short.
 */
function spoolUnreadable(path: string, why: string | undefined): DeliveryError {
  return new DeliveryError('delivery.spool_unreadable', 'held', `cannot read the spooled message ${path}${why ? ` (${why})` : ''}`, {
    fix: `check ${path} exists and the relay's user can read it (permissions, disk)`,
  });
}

/** The errno code of a file-system error (ENOENT, EIO…), if it has one. */
function errnoOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
