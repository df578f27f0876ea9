/**
 * The Gmail API way out: `users.messages.send` as the sending user (domain-wide delegation),
 * through the upload endpoint (`/upload/gmail/v1/users/me/messages/send`, message/rfc822: up to
 * 35 MB; the JSON `raw` body fails at a few MB). A message up to `resumableAbove` goes in one
 * media upload (uploadType=media); a larger one in a resumable upload (gmail-resumable.ts), which
 * continues after a network failure or a 5xx instead of starting again.
 *
 * Gmail has no envelope: it delivers to the To, Cc and Bcc headers, so envelope-only recipients
 * (meta.bcc) go out in an added Bcc header. The message is streamed from the spool (decrypted when sealed)
 * (outgoing-message.ts), never held whole: after a 401 the JWT client fetches a new token and the
 * request is made again, reading the file again.
 *
 * Nothing about the content is logged: no subject, no body.
 */
import { DeliveryError } from '../errors.js';
import type { Logger } from '../log.js';
import type { GoogleCredentials } from '../google/index.js';
import { classify } from '../failures/index.js';
import { DEFAULT_RESUMABLE, sendResumable, type Bearer, type ResumableSettings } from './gmail-resumable.js';
import { createGaxiosUploader, createUploader, uploadError, type Uploader } from './gmail-upload.js';
import { OutgoingMessage } from './outgoing-message.js';
import { transportChanges } from './send-size.js';
import type { DeliveryResult, OutboundMessage, Transport } from './types.js';
import { withKnownOutcome } from './upload-arrival.js';

export interface GmailApiTransportOptions {
  credentials: GoogleCredentials;
  /** e.g. https://gmail.googleapis.com/ (tests: the fake's loopback URL). */
  apiRootUrl: string;
  logger: Logger;
  /** Time limit of one request, its upload included (default 10 min: 35 MB on a slow line). */
  timeoutMs?: number;
  /** Messages larger than this (as sent) go up in a resumable upload (gmailApi.resumableAbove). */
  resumableAbove?: number;
  /** Chunk size and retries of resumable uploads (tests: small chunks, short waits). */
  resumable?: Partial<ResumableSettings>;
  /** Clock for classification (Retry-After seconds). */
  now?: () => number;
}

export const DEFAULT_GMAIL_TIMEOUT_MS = 10 * 60 * 1000;
export const DEFAULT_RESUMABLE_ABOVE = 5 * 1024 * 1024;

/** Environment variables that make gaxios use a proxy, in the order it reads them (`check` reads them so too). */
export const PROXY_VARIABLES = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'] as const;

export function createGmailApiTransport(options: GmailApiTransportOptions): Transport {
  const { credentials, logger } = options;
  const rootUrl = options.apiRootUrl.endsWith('/') ? options.apiRootUrl : `${options.apiRootUrl}/`;
  const timeoutMs = options.timeoutMs ?? DEFAULT_GMAIL_TIMEOUT_MS;
  const resumableAbove = options.resumableAbove ?? DEFAULT_RESUMABLE_ABOVE;
  const settings: ResumableSettings = { ...DEFAULT_RESUMABLE, ...options.resumable };
  const sendUrl = new URL(`${rootUrl}upload/gmail/v1/users/me/messages/send`);
  const mediaUrl = new URL(`${sendUrl.href}?uploadType=media`);
  const direct = createUploader();
  // Through a proxy, gaxios (which knows how to use one) makes the requests; see gmail-upload.ts.
  const viaProxy = PROXY_VARIABLES.some((v) => process.env[v]);

  /**
   * One media upload (googleapis-common's request for users.messages.send). No retries beyond
   * the one after a 401: the scheduler owns retrying (a POST replayed blindly can duplicate mail).
   */
  async function sendMedia(uploader: Uploader, bearer: Bearer, message: OutgoingMessage, signal: AbortSignal): Promise<unknown> {
    for (let attempt = 1; ; attempt++) {
      const headers = { authorization: await bearer.get(), 'content-type': 'message/rfc822' };
      const answer = await uploader.request({ method: 'POST', url: mediaUrl, headers, body: message.range(), signal, timeoutMs });
      if (answer.status >= 200 && answer.status < 300) return answer.data;
      // Google did not take the token (revoked, or expired early): a new one, and one resend.
      if (answer.status === 401 && attempt === 1) {
        await bearer.refresh();
        continue;
      }
      throw uploadError(answer);
    }
  }

  return {
    name: 'gmail-api',
    close: async () => direct.close(),
    async deliver({ meta, message: stored }: OutboundMessage, signal: AbortSignal): Promise<DeliveryResult> {
      const user = meta.sender;
      const context = { clientId: credentials.clientId, scopes: credentials.scopes, automaticScopes: credentials.automaticScopes, user, signal, now: options.now, transport: 'gmail-api' as const };
      if (signal.aborted) throw stoppedBeforeSending();
      const message = await OutgoingMessage.open(stored, transportChanges('gmail-api', meta));
      const client = credentials.clientFor(user);
      const uploader = viaProxy ? createGaxiosUploader(() => client.transporter) : direct;
      const bearer: Bearer = {
        get: async () => `Bearer ${(await untilAborted(client.getAccessToken(), signal)).token ?? ''}`,
        refresh: async () => void (await untilAborted(client.refreshAccessToken(), signal)),
      };
      const resumable = message.size > resumableAbove;
      try {
        const data = resumable
          ? await sendResumable({ uploader, bearer, sendUrl, message, signal, timeoutMs, settings, logger: logger.child({ queueId: meta.id, sender: user }) })
          : await sendMedia(uploader, bearer, message, signal);
        const id = (data as { id?: unknown } | null)?.id;
        const providerId = typeof id === 'string' ? id : '';
        if (!providerId) logger.warn({ event: 'delivery.gmail_no_id', queueId: meta.id, sender: user }, 'Gmail accepted the message without an id');
        logger.debug({ event: 'delivery.gmail_api.sent', queueId: meta.id, sender: user, size: message.size, resumable, providerId }, 'Gmail accepted the message');
        return { providerId };
      } catch (err) {
        const failure = withKnownOutcome(classify(err, context), err);
        // Start from a fresh client (and token) next time when Google did not accept the token.
        if (failure.kind === 'held' || failure.status === 401) credentials.forget(user);
        throw failure;
      }
    },
  };
}

/**
 * The token calls take no signal: a stop (or the scheduler's abort) must not wait for a token
 * request that stalls. Nothing is being uploaded meanwhile.
 */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(stoppedBeforeSending());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(stoppedBeforeSending());
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function stoppedBeforeSending(): DeliveryError {
  return new DeliveryError('delivery.aborted', 'temporary', 'delivery was stopped before sending: will retry');
}
