/**
 * Google's answers to S/MIME calls turned into one plain line: what failed, what Google said, and
 * the fix when the classifier recognises the problem (delegation, scopes, no such user,
 * certificate refused: src/failures/gmail-settings.ts). Google's words are shown because an
 * admin runs these commands at a terminal; they are not logged.
 */
import { classify, googleText } from '../failures/index.js';
import { SmimeError } from './errors.js';

/** The one-line SmimeError for a failed Google call. `what` says which call, e.g. "insert for a@x (alias a@x)". */
export function googleError(err: unknown, what: string, context: { clientId?: string; scopes?: readonly string[] } = {}): SmimeError {
  if (err instanceof SmimeError) return err;
  const f = classify(err, { ...context, purpose: 'smime' });
  return new SmimeError(f.code, `${what} failed: ${googleText(err)}${f.fix ? ` (${f.fix})` : ''}`, { cause: err, retryAfter: f.retryAfter });
}
