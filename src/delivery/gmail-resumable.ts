/**
 * Google's resumable upload protocol for `users.messages.send` (uploadType=resumable), the way
 * Google's upload guides describe it for every API with media upload:
 *
 * 1. POST .../upload/gmail/v1/users/me/messages/send?uploadType=resumable with
 *    X-Upload-Content-Type: message/rfc822 and X-Upload-Content-Length, no body: 200 and the
 *    session URI in Location.
 * 2. PUT the bytes to the session URI in chunks (Content-Range: bytes a-b/total; each chunk a
 *    multiple of 256 KiB but the last). 308 Resume Incomplete with `Range: bytes=0-n` says Google
 *    has bytes 0..n (no Range: none yet); 200 or 201 with the sent Message ends it.
 * 3. After a network failure, a 5xx or a 408: wait, ask how far it got (an empty PUT with
 *    Content-Range: bytes * /total, answered like a chunk) and go on from there. The answer to a
 *    chunk that carried the last byte can be lost; the status query then returns the sent
 *    message (200/201), so it is neither lost nor sent twice.
 * 4. 404 or 410: the session expired; start a new one from the first byte.
 *
 * Each chunk is streamed from the spool file (outgoing-message.ts); nothing is held to resend.
 * The session lives only as long as this attempt: a crash or a failure that outlasts the retries
 * here ends it, and the next attempt (the scheduler's) starts a new one, as for a media upload.
 * Failures are thrown for the classifier to read: an HTTP answer as `uploadError`, a network
 * failure as the RequestFailed of the last try, marked (upload-arrival.ts) with whether the
 * whole message may have reached Google.
 */
import { failure } from '../failures/index.js';
import type { Logger } from '../log.js';
import { RequestFailed, uploadError, type UploadAnswer, type Uploader } from './gmail-upload.js';
import type { OutgoingMessage } from './outgoing-message.js';
import { withArrival } from './upload-arrival.js';

/** Google's granularity: every chunk but the last is a multiple of this. */
export const CHUNK_GRANULARITY = 256 * 1024;

export interface ResumableSettings {
  /** Bytes per PUT, a multiple of 256 KiB (streamed: this costs no memory). */
  chunkBytes: number;
  /** The waits before asking how far the upload got, after 1, 2, … failures in a row; after the last, give up. */
  retryDelaysMs: readonly number[];
  /** New sessions after one expired (404/410) within one attempt. */
  maxRestarts: number;
}

export const DEFAULT_RESUMABLE: ResumableSettings = {
  chunkBytes: 8 * 1024 * 1024,
  retryDelaysMs: [1_000, 2_000, 4_000, 8_000, 16_000],
  maxRestarts: 2,
};

/** The bearer token of the sending user: `get` is cached, `refresh` fetches a new one. */
export interface Bearer {
  get(): Promise<string>;
  refresh(): Promise<void>;
}

export interface ResumableUpload {
  uploader: Uploader;
  bearer: Bearer;
  /** .../upload/gmail/v1/users/me/messages/send (the query is set here). */
  sendUrl: URL;
  message: OutgoingMessage;
  signal: AbortSignal;
  /** Time limit of each request. */
  timeoutMs: number;
  settings: ResumableSettings;
  /** Logs queueId and sender already. */
  logger: Logger;
}

/** Refreshes of the token after a 401 within one upload (then the 401 is the answer). */
const MAX_REFRESHES = 2;

/** Upload the message; resolves with Gmail's answer (the sent Message). */
export async function sendResumable(u: ResumableUpload): Promise<unknown> {
  if (u.settings.chunkBytes <= 0 || u.settings.chunkBytes % CHUNK_GRANULARITY !== 0) {
    throw new RangeError(`chunkBytes ${u.settings.chunkBytes} is not a multiple of ${CHUNK_GRANULARITY}`);
  }
  const state = { refreshes: 0 };
  for (let restarts = 0; ; restarts++) {
    const session = await startSession(u, state);
    const outcome = await upload(u, session, state);
    if (outcome.done) return outcome.data;
    if (outcome.mayHaveArrived || restarts >= u.settings.maxRestarts) {
      // Expired after the last byte went up unanswered: it may have been sent, so it is the
      // scheduler's to retry (with possible_duplicate logged), not this loop's.
      throw withArrival(uploadError(outcome.answer), outcome.mayHaveArrived);
    }
    u.logger.info({ event: 'delivery.gmail_api.upload_restarted', status: outcome.answer.status, restarts: restarts + 1 }, 'the upload session expired: starting again');
  }
}

async function startSession(u: ResumableUpload, state: { refreshes: number }): Promise<URL> {
  const url = new URL(u.sendUrl);
  url.searchParams.set('uploadType', 'resumable');
  for (;;) {
    let answer: UploadAnswer;
    try {
      answer = await u.uploader.request({
        method: 'POST',
        url,
        headers: { authorization: await u.bearer.get(), 'x-upload-content-type': 'message/rfc822', 'x-upload-content-length': String(u.message.size) },
        signal: u.signal,
        timeoutMs: u.timeoutMs,
      });
    } catch (err) {
      // No byte of the message was in it (a stop while getting the token is thrown as it is).
      throw err instanceof RequestFailed ? withArrival(err, false) : err;
    }
    if (answer.status === 401 && state.refreshes < MAX_REFRESHES) {
      state.refreshes++;
      await u.bearer.refresh();
      continue;
    }
    if (answer.status < 200 || answer.status > 299) throw withArrival(uploadError(answer), false);
    const location = headerText(answer.headers.location);
    const session = location && URL.canParse(location, url.href) ? new URL(location, url) : null;
    // The bearer token goes to the session URI too: never to another host than the API's.
    if (!session || session.origin !== url.origin) {
      throw failure('delivery.unknown', 'Gmail started an upload session without a usable session URI', {});
    }
    return session;
  }
}

type Outcome = { done: true; data: unknown } | { done: false; answer: UploadAnswer; mayHaveArrived: boolean };

async function upload(u: ResumableUpload, session: URL, state: { refreshes: number }): Promise<Outcome> {
  const total = u.message.size;
  const { chunkBytes, retryDelaysMs } = u.settings;
  let offset = 0;
  let failures = 0; // in a row, without progress
  let ask = false; // the next request asks how far the upload got instead of sending
  let mayHaveArrived = false; // a chunk with the last byte went up and its answer was lost
  for (;;) {
    const end = Math.min(offset + chunkBytes, total);
    let failure: { answer: UploadAnswer } | { error: RequestFailed };
    try {
      const answer = await u.uploader.request({
        method: 'PUT',
        url: session,
        headers: {
          authorization: await u.bearer.get(),
          'content-range': ask ? `bytes */${total}` : `bytes ${offset}-${end - 1}/${total}`,
          ...(ask ? {} : { 'content-type': 'message/rfc822' }),
        },
        ...(ask ? {} : { body: u.message.range(offset, end) }),
        signal: u.signal,
        timeoutMs: u.timeoutMs,
      });
      const s = answer.status;
      if (s === 200 || s === 201) return { done: true, data: answer.data };
      if (s === 404 || s === 410) return { done: false, answer, mayHaveArrived };
      if (s === 401 && state.refreshes < MAX_REFRESHES) {
        // Whether this chunk was stored is unknown: ask, with a new token.
        state.refreshes++;
        await u.bearer.refresh();
        ask = true;
        continue;
      }
      if (s === 308) {
        const next = receivedUpTo(answer.headers.range, total);
        if (next > offset) failures = 0;
        if (ask || next !== end) u.logger.debug({ event: 'delivery.gmail_api.upload_resumed', offset: next, size: total }, 'resuming the upload');
        offset = next;
        ask = false;
        if (offset < total) continue;
        // All of it there and still unfinished (should not happen): wait and ask.
      } else if (s < 500 && s !== 408) {
        throw withArrival(uploadError(answer), false);
      }
      failure = { answer };
    } catch (err) {
      if (!(err instanceof RequestFailed)) throw err; // the spool file (held), a stop
      if (!ask && end === total && err.bodySent) mayHaveArrived = true;
      if (u.signal.aborted) throw withArrival(err, mayHaveArrived);
      failure = { error: err };
    }
    if (failures >= retryDelaysMs.length) {
      if ('answer' in failure) throw withArrival(uploadError(failure.answer), mayHaveArrived);
      throw withArrival(new RequestFailed(failure.error.cause, mayHaveArrived), mayHaveArrived);
    }
    await sleep(retryDelaysMs[failures++]!, u.signal).catch((err: unknown) => {
      throw withArrival(err as Error, mayHaveArrived);
    });
    ask = true;
  }
}

/** The next byte to send, from a 308's `Range: bytes=0-n` (none: from the start). */
function receivedUpTo(value: string | string[] | undefined, total: number): number {
  const m = /^bytes=0-(\d+)$/.exec(headerText(value)?.trim() ?? '');
  if (!m) return 0;
  return Math.min(Number(m[1]) + 1, total);
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const stopped = () => failure('delivery.aborted', 'delivery was stopped during an upload', {});
    if (signal.aborted) return reject(stopped());
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(stopped());
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
