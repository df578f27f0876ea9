/**
 * DATA: stream the message into the spool while keeping its header section for the policy
 * check, then commit (fsync) before the 250. Nothing is buffered but the header section.
 */
import type { Readable } from 'node:stream';
import { namedReply, type NamedReply } from '../replies/index.js';

/** A header section larger than this is refused (Gmail itself refuses far smaller ones). */
export const MAX_HEADER_BYTES = 1024 * 1024;

export interface SpoolSink {
  write(chunk: Buffer): Promise<void>;
}

export interface Received {
  /** The header section including the blank line that ends it (or the whole message if none). */
  header: Buffer;
  /** Bytes received. */
  size: number;
  /** The first write error (ENOSPC, EIO…): the message must not be accepted. */
  writeError: unknown;
  sizeExceeded: boolean;
  headerTooLarge: boolean;
}

/** Sees every chunk of content in order and returns what is stored (the line-ending check or normaliser). */
export interface ContentFilter {
  write(chunk: Buffer): Buffer;
  /** Bytes to add at the end of the message. */
  end(): Buffer;
}

/** Read the whole DATA stream (always to its end, so the session can go on). */
export async function receiveInto(stream: Readable & { sizeExceeded?: boolean }, sink: SpoolSink, filter?: ContentFilter): Promise<Received> {
  const head: Buffer[] = [];
  let headLength = 0;
  let header: Buffer | null = null;
  let size = 0;
  let writeError: unknown = null;
  let headerTooLarge = false;
  const take = async (chunk: Buffer) => {
    if (header === null && !headerTooLarge) {
      head.push(chunk);
      headLength += chunk.length;
      const joined = Buffer.concat(head, headLength);
      const end = headerEnd(joined);
      if (end >= 0) header = joined.subarray(0, end);
      else if (headLength > MAX_HEADER_BYTES) headerTooLarge = true;
      else if (head.length > 1) head.splice(0, head.length, joined);
    }
    if (stream.sizeExceeded || headerTooLarge || writeError || chunk.length === 0) return;
    try {
      await sink.write(chunk);
    } catch (err) {
      writeError = err;
    }
  };
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    await take(filter ? filter.write(chunk) : chunk);
  }
  if (filter) await take(filter.end());
  if (header === null) header = Buffer.concat(head, headLength);
  return { header, size, writeError, sizeExceeded: Boolean(stream.sizeExceeded), headerTooLarge };
}

/** Offset just past the blank line ending the header section, or -1. */
export function headerEnd(buf: Buffer): number {
  if (buf.length >= 2 && buf[0] === 0x0d && buf[1] === 0x0a) return 2;
  if (buf.length >= 1 && buf[0] === 0x0a) return 1;
  const crlf = buf.indexOf('\r\n\r\n');
  const lf = buf.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf + 1 <= lf)) return crlf + 4;
  if (lf >= 0) return lf + 2;
  return -1;
}

/** The refusal a failed receive earns (too large, header section too large, spool write), or null. */
export function receiveFailure(r: Received, maxSize: number): NamedReply | null {
  if (r.sizeExceeded) return namedReply('messageTooLarge', { max: maxSize });
  if (r.headerTooLarge) return namedReply('headerTooLarge', { max: MAX_HEADER_BYTES });
  if (r.writeError) return namedReply('spoolWriteFailed');
  return null;
}
