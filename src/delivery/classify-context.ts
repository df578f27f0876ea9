/** What classify() needs to know beyond the error itself, to name the fix. */
export interface ClassifyContext {
  /** Service-account client ID (names the delegation to fix). */
  clientId?: string;
  /** Scopes the relay asks for (names the delegation to fix). */
  scopes?: readonly string[];
  /** Which way out failed: with 'smtp', errors are read as nodemailer's even without a reply code. */
  transport?: 'gmail-api' | 'smtp' | 'outbox';
  /** The user Google (or the SMTP upstream) sends as. */
  user?: string;
  /** The caller's signal: an abort it caused is `delivery.aborted`, not a timeout. */
  signal?: AbortSignal;
  /** Clock (ms), for Retry-After seconds and the daily-limit wait. */
  now?: () => number;
}

export const DELEGATION_PAGE =
  'Admin console → Security → Access and data control → API controls → Domain-wide delegation';

/** Wait after a daily sending limit when Google names no time. */
export const DAILY_LIMIT_WAIT_MS = 60 * 60 * 1000;
