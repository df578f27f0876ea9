/**
 * The one error hierarchy of workspace-relay. Every error carries a stable `code` (also used as
 * the log `event`) and, for delivery, a `kind` that decides what happens to the mail.
 *
 * - temporary: retry on the schedule (network, timeouts, 401, 429, 5xx, anything unrecognised);
 * - held: an admin must fix something (delegation, key, clock, mail service); keep the mail,
 *   alert, retry slowly until fixed or the maximum age passes;
 * - permanent: this message can never be delivered (no such user, message refused); to dead/.
 */

/**
 * The codes a DeliveryError can carry. The code table (src/failures/codes.ts) adds its codes to
 * this interface (declaration merging), so errors stays a leaf that imports nothing, and a code
 * that is not in the table still does not compile.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled in by src/failures/codes.ts
export interface FailureCodeTable {}
type FailureCode = keyof FailureCodeTable;

export type FailureKind = 'temporary' | 'held' | 'permanent';

export class RelayError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A bad configuration: names the key path and what to do about it. */
export class ConfigError extends RelayError {
  readonly path: string;
  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super('config.invalid', path ? `${path}: ${message}` : message, options);
    this.path = path;
  }
}

/**
 * An outbound failure: a code from the code table (src/failures/codes.ts, which also gives its
 * notice statuses), its kind, and what the upstream's answer said in codes. Google's answers
 * are classified in one place: src/failures/classify.ts.
 */
export class DeliveryError extends RelayError {
  declare readonly code: FailureCode;
  readonly kind: FailureKind;
  /** The message without what the relay does next (": will retry"): what `check` prints. */
  readonly summary: string;
  /** Earliest time Google (or the upstream) allows another try, when it said so. */
  readonly retryAfter: Date | undefined;
  /** What an admin must do, for held failures: printed by `check` and in the alert log. */
  readonly fix: string | undefined;
  /** HTTP status or SMTP reply code from upstream, when there was one. */
  readonly status: number | undefined;
  /**
   * The upstream's answer in codes only, never its text: HTTP status, status and reasons
   * ("403 PERMISSION_DENIED insufficientPermissions"), SMTP reply and enhanced code, a network
   * error code.
   */
  readonly detail: string | undefined;
  /** Google's clock minus ours in seconds, when a token answer's Date header said (positive: we are behind). */
  readonly clockOffsetSeconds: number | undefined;
  /** The request may have reached the provider before the connection failed. */
  readonly outcomeUnknown: boolean;
  constructor(
    code: FailureCode,
    kind: FailureKind,
    message: string,
    options: {
      cause?: unknown;
      summary?: string | undefined;
      retryAfter?: Date | undefined;
      fix?: string | undefined;
      status?: number | undefined;
      detail?: string | undefined;
      clockOffsetSeconds?: number | undefined;
      outcomeUnknown?: boolean;
    } = {},
  ) {
    super(code, message, { cause: options.cause });
    this.kind = kind;
    this.summary = options.summary ?? message;
    this.retryAfter = options.retryAfter;
    this.fix = options.fix;
    this.status = options.status;
    this.detail = options.detail;
    this.clockOffsetSeconds = options.clockOffsetSeconds;
    this.outcomeUnknown = options.outcomeUnknown ?? false;
  }
}

/**
 * An SMTP reply to the client. `enhanced` is the RFC 3463 status code; the listener makes sure
 * it is the one on the wire (smtp-server would otherwise pick its own per reply code).
 */
export class SmtpReply extends RelayError {
  readonly responseCode: number;
  readonly enhanced: string;
  readonly reason: string;
  constructor(code: string, responseCode: number, enhanced: string, reason: string) {
    super(code, `${enhanced} ${reason}`);
    this.responseCode = responseCode;
    this.enhanced = enhanced;
    this.reason = reason;
  }
}

/** Human text of any thrown value, for logs and replies. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
