/**
 * Safe forms of text a client wrote, for logs (and, for addresses, replies). A client can put
 * anything into a Message-ID, a user name or a quoted local part: a patient's name, a password
 * typed into the wrong field. What is logged is either a form that cannot carry that (a plain
 * shape, a name the admin configured) or a short hash that correlates repeats without revealing.
 * A leaf module: anyone may import it.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';

/** Longest Message-ID logged as it is (with its angle brackets). */
export const MAX_SHOWN_MESSAGE_ID = 128;

const PLAIN_MESSAGE_ID = /^<?([A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9.-]{1,255})>?$/;

/**
 * A Message-ID as logged: the id itself when it has the plain `local@domain` shape (dot-atom
 * characters, no quotes, spaces or comments) within MAX_SHOWN_MESSAGE_ID characters, otherwise
 * `sha256:` and 16 hex digits of its SHA-256 (the same for the same id, in any log, so
 * `echo -n '<id>' | sha256sum` finds it). Given with or without <>.
 */
export function safeMessageId(id: string | null | undefined): string | null {
  if (id === null || id === undefined || id === '') return null;
  const bare = id.startsWith('<') && id.endsWith('>') ? id.slice(1, -1) : id;
  const m = PLAIN_MESSAGE_ID.exec(bare);
  if (m && bare.length + 2 <= MAX_SHOWN_MESSAGE_ID) return bare;
  return `sha256:${createHash('sha256').update(bare).digest('hex').slice(0, 16)}`;
}

const SAFE_NAME = /^[A-Za-z0-9._@+-]{1,64}$/;
/** Per process: a hash of a typed user name can be matched against repeats, never against guesses. */
const NAME_KEY = randomBytes(32);

/**
 * A user name as logged: as typed when it is one the admin configured (a device account) and in
 * a safe character set; otherwise `h:` and 12 hex digits of a keyed hash (a key new at every
 * start), so a device that sends its password in the user field never puts the password, or a
 * hash it could be guessed from, into the log.
 */
export function safeUsername(typed: string, known: (name: string) => boolean): string {
  if (SAFE_NAME.test(typed) && known(typed)) return typed;
  return `h:${createHmac('sha256', NAME_KEY).update(typed).digest('hex').slice(0, 12)}`;
}

/**
 * An address (or what a client sent as one) with every quoted string replaced by `"..."`: a
 * quoted local part may hold anything (`"John Smith DOB 1970"@clinic.example`) and is never
 * echoed in a reply or a log.
 */
export function withoutQuotedText(address: string): string {
  return address.replace(/"(?:[^"\\]|\\.)*"?/g, '"..."');
}

/**
 * The Message-ID a stored message leaves with (its own, or the one the relay added because it had
 * none), in the logged form (safeMessageId).
 */
export function loggedMessageId(meta: { messageId: string | null; rewrite?: { addMessageId?: string } | undefined }): string | null {
  return safeMessageId(meta.messageId ?? meta.rewrite?.addMessageId);
}
