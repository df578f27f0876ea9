/**
 * The Gmail API way out: `users.messages.send` as the sending user (domain-wide delegation),
 * through the media upload endpoint (`/upload/gmail/v1/users/me/messages/send`,
 * uploadType=media, message/rfc822: up to 35 MB; the JSON `raw` body fails at a few MB).
 *
 * Gmail has no envelope: it delivers to the To, Cc and Bcc headers, so envelope-only recipients
 * (meta.bcc) go out in an added Bcc header. The body is a Buffer, not a stream: after a 401 the
 * JWT client fetches a new token and sends the request again, and a consumed stream would go
 * out empty the second time (google-auth-library refuses to retry streams at all).
 *
 * Nothing about the content is logged: no subject, no body.
 */
import { DeliveryError } from '../errors.js';
import type { Logger } from '../log.js';
import type { GoogleCredentials } from '../google/credentials.js';
import { classify } from '../failures/index.js';
import { createUploader, uploadError } from './gmail-upload.js';
import { readOutgoing, rewriteChanges } from './outgoing.js';
import type { DeliveryResult, OutboundMessage, Transport } from './types.js';

export interface GmailApiTransportOptions {
  credentials: GoogleCredentials;
  /** e.g. https://gmail.googleapis.com/ (tests: the fake's loopback URL). */
  apiRootUrl: string;
  logger: Logger;
  /** Time limit of one send request, upload included (default 10 min: 35 MB on a slow line). */
  timeoutMs?: number;
  /** Clock for classification (Retry-After seconds). */
  now?: () => number;
}

export const DEFAULT_GMAIL_TIMEOUT_MS = 10 * 60 * 1000;

/** Environment variables that make gaxios use a proxy. */
const PROXY_VARIABLES = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'];

export function createGmailApiTransport(options: GmailApiTransportOptions): Transport {
  const { credentials, logger } = options;
  const rootUrl = options.apiRootUrl.endsWith('/') ? options.apiRootUrl : `${options.apiRootUrl}/`;
  const timeout = options.timeoutMs ?? DEFAULT_GMAIL_TIMEOUT_MS;
  const sendUrl = new URL(`${rootUrl}upload/gmail/v1/users/me/messages/send?uploadType=media`);
  const uploader = createUploader();
  // Through a proxy, gaxios (which knows how to use one) makes the request; see gmail-upload.ts.
  const viaProxy = PROXY_VARIABLES.some((v) => process.env[v]);

  /**
   * The request users.messages.send makes (googleapis-common: media upload), as the user. No
   * retries beyond the one after a 401: the scheduler owns retrying (a POST replayed blindly can
   * duplicate mail).
   */
  async function send(user: string, body: Buffer, signal: AbortSignal): Promise<unknown> {
    const client = credentials.clientFor(user);
    if (viaProxy) {
      const res = await client.request({ url: sendUrl.href, method: 'POST', headers: { 'content-type': 'message/rfc822' }, data: body, signal, timeout, retry: false });
      return res.data;
    }
    for (let attempt = 1; ; attempt++) {
      const { token } = await untilAborted(client.getAccessToken(), signal);
      const answer = await uploader.post(sendUrl, body, { authorization: `Bearer ${token ?? ''}`, 'content-type': 'message/rfc822' }, signal, timeout);
      if (answer.status >= 200 && answer.status < 300) return answer.data;
      // Google did not take the token (revoked, or expired early): a new one, and one resend.
      if (answer.status === 401 && attempt === 1) {
        await untilAborted(client.refreshAccessToken(), signal);
        continue;
      }
      throw uploadError(answer);
    }
  }

  return {
    name: 'gmail-api',
    close: async () => uploader.close(),
    async deliver({ meta, path }: OutboundMessage, signal: AbortSignal): Promise<DeliveryResult> {
      const user = meta.sender;
      const context = { clientId: credentials.clientId, scopes: credentials.scopes, user, signal, now: options.now, transport: 'gmail-api' as const };
      if (signal.aborted) throw stoppedBeforeSending();
      let body: Buffer;
      try {
        body = await readOutgoing(path, { addBcc: meta.bcc, ...rewriteChanges(meta.rewrite) }, meta.size);
      } catch (err) {
        throw err instanceof DeliveryError ? err : spoolUnreadable(path, err);
      }
      try {
        const data = await send(user, body, signal);
        const id = (data as { id?: unknown } | null)?.id;
        const providerId = typeof id === 'string' ? id : '';
        if (!providerId) logger.warn({ event: 'delivery.gmail_no_id', queueId: meta.id, sender: user }, 'Gmail accepted the message without an id');
        logger.debug({ event: 'delivery.gmail_api.sent', queueId: meta.id, sender: user, size: body.length, providerId }, 'Gmail accepted the message');
        return { providerId };
      } catch (err) {
        const failure = classify(err, context);
        // Start from a fresh client (and token) next time when Google did not accept the token.
        if (failure.kind === 'held' || failure.status === 401) credentials.forget(user);
        throw failure;
      }
    },
  };
}

/**
 * The token calls take no signal: a stop (or the scheduler's abort) must not wait for a token
 * request that stalls. Nothing was uploaded yet, so nothing can have reached Google.
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

function spoolUnreadable(path: string, err: unknown): DeliveryError {
  const code = (err as { code?: unknown } | null)?.code;
  return new DeliveryError(
    'delivery.spool_unreadable',
    'held',
    `cannot read the spooled message ${path}${typeof code === 'string' ? ` (${code})` : ''}`,
    { fix: `check ${path} exists and the relay's user can read it (permissions, disk)` },
  );
}
