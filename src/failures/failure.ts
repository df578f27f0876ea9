/** Building a DeliveryError from the code table: kind and fix from the row, the words from the matcher. */
import { DeliveryError } from '../errors.js';
import { codeRow, type FailureCode } from './codes.js';
import type { FixFacts } from './context.js';

export interface FailureFacts {
  /** HTTP status or SMTP reply code. */
  status?: number | undefined;
  /** The answer in codes only (see DeliveryError.detail). */
  detail?: string | undefined;
  /** Kept for temporary failures only: held and permanent ones do not wait for Google's time. */
  retryAfter?: Date | undefined;
  outcomeUnknown?: boolean;
  clockOffsetSeconds?: number | undefined;
  /** Written after the retry promise, e.g. " (Gmail: 403 forbidden)". */
  trailer?: string;
}

/**
 * The failure `code`, said as `statement` (our words, never the upstream's text: it can echo
 * header contents). A temporary failure's message ends in the retry promise (": will retry",
 * or "later" for waits as long as a daily limit); `summary` is the message without it.
 */
export function failure(code: FailureCode, statement: string, fixFacts: FixFacts, facts: FailureFacts = {}): DeliveryError {
  const row = codeRow(code);
  const trailer = facts.trailer ?? '';
  const promise = row.kind === 'temporary' ? `: will retry${row.retryLater ? ' later' : ''}` : '';
  return new DeliveryError(code, row.kind, `${statement}${promise}${trailer}`, {
    summary: `${statement}${trailer}`,
    fix: row.fix?.(fixFacts),
    status: facts.status,
    detail: facts.detail,
    retryAfter: row.kind === 'temporary' ? facts.retryAfter : undefined,
    clockOffsetSeconds: facts.clockOffsetSeconds,
    outcomeUnknown: facts.outcomeUnknown ?? false,
  });
}
