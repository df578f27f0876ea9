/** RFC 3463 enhanced status codes for notices, from the code table (codes.ts). */
import { FAILURE_CODES, type FailureCode } from './codes.js';

/** `5.x.x` for a failure notice about `code`. */
export function failureStatus(code: FailureCode): string {
  return FAILURE_CODES[code].notice.failure;
}

/** `4.x.x` for a delay notice whose last error was `code` (or none yet: X.4.7, delivery time not yet expired). */
export function delayStatus(code: FailureCode | undefined): string {
  return code === undefined ? '4.4.7' : FAILURE_CODES[code].notice.delay;
}
