/**
 * MessageMeta to and from its .json file, with a shape check so a damaged file is noticed.
 *
 * A state entry (<state>/<id>.json) is one of two things (layout.ts):
 * - a plain JSON file (serializeMeta), written whenever the metadata changes; or
 * - a hard link to the message file data/<id>.eml as it was accepted: the bytes received, then
 *   the metadata as JSON (serializeMeta), then a fixed-size footer naming the JSON's length in
 *   bytes (metaTrailer). One file to create and fsync per accepted message, as in Postfix.
 * A plain JSON file always ends with "}\n", never with the footer, so the two cannot be confused.
 */
import { isCryptError, openView, type ReadAt, type SpoolKeys } from '../crypt/index.js';
import { SpoolError } from './spool-error.js';
import type { MessageMeta } from './types.js';

export function serializeMeta(meta: MessageMeta): Buffer {
  return Buffer.from(`${JSON.stringify(meta, null, 2)}\n`, 'utf8');
}

const FOOTER_PREFIX = '\n#workspace-relay-meta ';
const FOOTER_DIGITS = 10;
/** Length of the footer that ends a message file carrying its metadata. */
export const FOOTER_BYTES = FOOTER_PREFIX.length + FOOTER_DIGITS + 1;

/** What is appended to a message's bytes at commit: the metadata, then the footer. */
export function metaTrailer(meta: MessageMeta): Buffer {
  const json = serializeMeta(meta);
  const footer = `${FOOTER_PREFIX}${String(json.length).padStart(FOOTER_DIGITS, '0')}\n`;
  return Buffer.concat([json, Buffer.from(footer, 'latin1')]);
}

/**
 * Where the metadata is in a file of `size` bytes whose last bytes (at least FOOTER_BYTES of
 * them) are `tail`: the byte range of the JSON when the file is a message with its trailer, or
 * null when it is a plain JSON file (the whole file is the metadata).
 */
export function trailerRange(size: number, tail: Buffer): { start: number; length: number } | null {
  if (size < FOOTER_BYTES || tail.length < FOOTER_BYTES) return null;
  const footer = tail.subarray(tail.length - FOOTER_BYTES).toString('latin1');
  if (!footer.startsWith(FOOTER_PREFIX) || !footer.endsWith('\n')) return null;
  const digits = footer.slice(FOOTER_PREFIX.length, -1);
  if (!/^[0-9]+$/.test(digits)) return null;
  const length = Number(digits);
  const start = size - FOOTER_BYTES - length;
  return start >= 0 ? { start, length } : null;
}

/** The metadata's JSON text out of a whole state-entry file (either form). */
export function metaTextOf(file: Buffer): string {
  const range = trailerRange(file.length, file);
  return (range ? file.subarray(range.start, range.start + range.length) : file).toString('utf8');
}

/** A state-entry file up to this size is read whole; a larger one only its footer and metadata. */
const WHOLE_READ_MAX = 64 * 1024;

/**
 * The metadata's JSON text out of a state-entry file of `size` bytes (either form), reading
 * through `read(position, length)`: the whole file when small, else the footer, then the JSON.
 */
export async function readMetaText(size: number, read: (position: number, length: number) => Buffer | Promise<Buffer>): Promise<string> {
  if (size <= WHOLE_READ_MAX) return metaTextOf(await read(0, size));
  const range = trailerRange(size, await read(size - FOOTER_BYTES, FOOTER_BYTES));
  return (await read(range ? range.start : 0, range ? range.length : size)).toString('utf8');
}

/**
 * The metadata's JSON text out of a state-entry file of `fileSize` bytes, sealed or plain (the
 * rules above apply to its plaintext). A small file is read whole, in one read. A sealed entry
 * that fails authentication is corrupt metadata (spool.corrupt_meta, `cause` the CryptError);
 * one whose key is missing rejects crypt.key_missing (the file is fine: the config is not).
 */
export async function metaTextOfFile(fileSize: number, readAt: ReadAt, keys: SpoolKeys, label: string): Promise<string> {
  try {
    const head = fileSize <= WHOLE_READ_MAX ? await readAt(0, fileSize) : undefined;
    const view = await openView(fileSize, head ? (p, l) => head.subarray(p, p + l) : readAt, keys, label, head);
    return await readMetaText(view.size, (p, l) => view.read(p, l));
  } catch (err) {
    if (isCryptError(err, 'crypt.damaged')) throw new SpoolError('spool.corrupt_meta', err.message, { cause: err });
    throw err;
  }
}

/** Parse a .json file's text; `id` is the id its file name says it holds. */
export function parseMeta(text: string, id: string): MessageMeta {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new SpoolError('spool.corrupt_meta', `${id}.json is not JSON`, { id, cause: err });
  }
  const problem = shapeProblem(value, id);
  if (problem) throw new SpoolError('spool.corrupt_meta', `${id}.json: ${problem}`, { id });
  return value as MessageMeta;
}

function shapeProblem(value: unknown, id: string): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not an object';
  const m = value as Record<string, unknown>;
  if (m.version !== 1) return `unknown version ${JSON.stringify(m.version)}`;
  if (m.id !== id) return `holds id ${JSON.stringify(m.id)}`;
  for (const key of ['receivedAt', 'nextAttemptAt', 'sender', 'mailFrom', 'workspace', 'sha256']) {
    if (typeof m[key] !== 'string') return `${key} is not a string`;
  }
  for (const key of ['recipients', 'bcc', 'headerRecipients']) {
    if (!Array.isArray(m[key])) return `${key} is not a list`;
  }
  if (typeof m.attempts !== 'number' || typeof m.size !== 'number') return 'attempts/size not numbers';
  // Added later (the audit record's origin): absent in older files, a string when present.
  for (const key of ['listener', 'device']) {
    if (m[key] !== undefined && typeof m[key] !== 'string') return `${key} is not a string`;
  }
  return null;
}
