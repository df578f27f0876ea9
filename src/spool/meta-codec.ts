/** MessageMeta to and from its .json file, with a shape check so a damaged file is noticed. */
import { SpoolError } from './spool-error.js';
import type { MessageMeta } from './types.js';

export function serializeMeta(meta: MessageMeta): Buffer {
  return Buffer.from(`${JSON.stringify(meta, null, 2)}\n`, 'utf8');
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
  return null;
}
