/**
 * Whether a failed upload may have left the whole message with Google. classify.ts reads a
 * network failure after the request started as "outcome unknown"; the upload knows better:
 * a body not all handed to the socket never made a message (Google does not take a request short
 * of its length), and a resumable upload knows whether its last byte went up unanswered
 * (gmail-resumable.ts marks what it throws). gmail-api.ts applies this to what classify() says.
 */
import { DeliveryError } from '../errors.js';
import { RequestFailed } from './gmail-upload.js';

const ARRIVAL = Symbol('mayHaveArrived');

/** Mark a failure with what the upload knows: the whole message may (true) or cannot (false) be with Google. */
export function withArrival<E extends object>(err: E, mayHaveArrived: boolean): E {
  Object.defineProperty(err, ARRIVAL, { value: mayHaveArrived, enumerable: false });
  return err;
}

/**
 * `failure` (classify's reading of `err`) with outcomeUnknown corrected: as marked when the
 * upload marked it; false when the body of the failed request was not all handed over; else as
 * classify said (a refused connection, for one, never carried anything).
 */
export function withKnownOutcome(failure: DeliveryError, err: unknown): DeliveryError {
  if (failure.kind !== 'temporary' || !err || typeof err !== 'object') return failure;
  const marked = (err as { [ARRIVAL]?: unknown })[ARRIVAL];
  let unknown = failure.outcomeUnknown;
  if (typeof marked === 'boolean') unknown = marked;
  else if (err instanceof RequestFailed && !err.bodySent) unknown = false;
  if (unknown === failure.outcomeUnknown) return failure;
  const { summary, retryAfter, fix, status, detail, clockOffsetSeconds } = failure;
  return new DeliveryError(failure.code, failure.kind, failure.message, { summary, retryAfter, fix, status, detail, clockOffsetSeconds, outcomeUnknown: unknown });
}
