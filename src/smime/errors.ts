/** S/MIME errors: one plain line each, naming the fix. Never carry a password or key. */
import { RelayError } from '../errors.js';

export class SmimeError extends RelayError {
  /** Google's stated time for another try, when it asked to slow down (smime.rate_limited). */
  readonly retryAfter: Date | undefined;
  constructor(code: string, message: string, options?: { cause?: unknown; retryAfter?: Date | undefined }) {
    super(code, message, options);
    this.retryAfter = options?.retryAfter;
  }
}
