/** S/MIME errors: one plain line each, naming the fix. Never carry a password or key. */
import { RelayError } from '../errors.js';

export class SmimeError extends RelayError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
