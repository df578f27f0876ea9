/**
 * The shape of a row of the code table (codes.ts), and the notice statuses its rows share.
 */
import type { FailureKind } from '../errors.js';
import type { FixFacts } from './context.js';

/** RFC 3463 statuses for a failure notice (5.x.x) and a delay notice (4.x.x). */
export interface NoticeStatus {
  failure: string;
  delay: string;
}

/** Where the answer comes from: the docs' "from" column. */
export type Source = 'token' | 'gmail-api' | 'gmail-smtp' | 'smtp-relay' | 'directory' | 'network' | 'send-as' | 'smime' | 'relay';

export interface CodeRow {
  kind: FailureKind;
  from: readonly Source[];
  notice: NoticeStatus;
  /** One line: what happened. */
  means: string;
  /** The fix, for what an admin must fix (held) or can fix (permanent). */
  fix?: (f: FixFacts) => string;
  /** A temporary failure that waits long ("will retry later"). */
  retryLater?: true;
  /**
   * Google asks the sending user (not this message) to wait: the scheduler pauses the user until
   * the failure's retryAfter (or a backoff), keeps the message's attempt count, and other users'
   * mail keeps flowing.
   */
  pausesUser?: true;
}

/** Same subject and detail for both notices. */
export const both = (detail: string): NoticeStatus => ({ failure: `5.${detail}`, delay: `4.${detail}` });
/** No better status: "other undefined status" for a failure, "other network or routing" while retrying. */
export const OTHER: NoticeStatus = { failure: '5.0.0', delay: '4.4.0' };
/** X.7.0: security or policy status: an admin must allow or enable something. */
export const POLICY = both('7.0');
/** X.3.5: system incorrectly configured. */
export const MISCONFIGURED = both('3.5');

/** The client ID a delegation fix names. */
export const clientIdOf = (f: FixFacts) => f.clientId ?? '<client ID>';
