/**
 * A message on its way out, in bounded memory: the header block with delivery's changes
 * (outgoing.ts) is held, the body is not. Any range of the outgoing bytes can be read, as often
 * as needed, and each read opens the spool file again (a resend after a 401, the rest of an
 * interrupted resumable upload, the next attempt): the head's bytes first, then the stored body
 * from where it starts in the file. Nothing but the header section is ever read to build it.
 *
 * Small messages (up to 64 KiB as stored) are read whole instead: one read, one buffer, one
 * write to the socket; that is the common case and the fast path.
 *
 * The stored bytes come through the spool's MessageSource, decrypted when the spool is encrypted
 * (each 64 KiB chunk authenticated before any of it goes out); a file that cannot be read, is
 * damaged or needs a key the config lacks is a held DeliveryError saying which (read-error.ts).
 */
import { DeliveryError } from '../errors.js';
import type { MessageSource } from '../spool/index.js';
import { outgoingHead, type OutgoingChanges } from './outgoing.js';
import { spoolReadError } from './read-error.js';

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
    /** The stored message. */
    private readonly stored: MessageSource,
    /** The header block as it goes out. */
    readonly head: Buffer,
    /** Where the body starts in the stored bytes. */
    readonly bodyOffset: number,
    /** The whole outgoing message, when it was small enough to read whole. */
    readonly inMemory: Buffer | null,
  ) {
    this.size = head.length + stored.size - bodyOffset;
  }

  /** The spool file (for messages naming it). */
  get path(): string {
    return this.stored.path;
  }

  /**
   * Read the header section of the stored message and build its outgoing head with `changes`.
   * Rejects with a DeliveryError: held when the file cannot be read (as every later read of it:
   * read-error.ts), permanent for bad change values.
   */
  static async open(stored: MessageSource, changes: OutgoingChanges): Promise<OutgoingMessage> {
    try {
      return await OutgoingMessage.read(stored, changes);
    } catch (err) {
      throw spoolReadError(stored.path, err);
    }
  }

  private static async read(stored: MessageSource, changes: OutgoingChanges): Promise<OutgoingMessage> {
    if (stored.size <= SMALL_MESSAGE) {
      // (In the delivery thread one synchronous read of a page-cached file: message-source.ts.)
      const bytes = await stored.read();
      const { head, bodyOffset } = outgoingHead(bytes, changes)!;
      const unchanged = head.buffer === bytes.buffer && head.byteOffset === bytes.byteOffset && head.length === bodyOffset;
      return new OutgoingMessage(stored, head, bodyOffset, unchanged ? bytes : Buffer.concat([head, bytes.subarray(bodyOffset)]));
    }
    const pieces: Buffer[] = [];
    let read = 0;
    for await (const piece of stored.range(0, Math.min(stored.size, HEADER_SCAN_MAX))) {
      pieces.push(piece);
      read += piece.length;
      const prefix = pieces.length === 1 ? piece : Buffer.concat(pieces, read);
      const found = outgoingHead(prefix, changes, read === stored.size);
      // A copy of the head: it must not keep the 64 KiB pieces it was cut from alive.
      if (found) return new OutgoingMessage(stored, Buffer.from(found.head), found.bodyOffset, null);
      if (pieces.length > 1) pieces.splice(0, pieces.length, prefix);
    }
    throw new DeliveryError('delivery.spool_unreadable', 'held', `cannot read the spooled message ${stored.path} (no end of its header section within ${HEADER_SCAN_MAX} bytes, which DATA never accepts: the file is damaged)`, {
      fix: `check ${stored.path}; delete the message if it is damaged (workspace-relay queue delete <id>)`,
    });
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
      yield* this.stored.range(from, this.bodyOffset + (end - headEnd), into);
    } catch (err) {
      throw spoolReadError(this.stored.path, err);
    }
  }
}
