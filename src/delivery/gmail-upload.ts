/**
 * The Gmail media upload as one plain `node:http(s)` POST on a keep-alive agent: the request
 * googleapis/gaxios would make (POST .../upload/gmail/v1/users/me/messages/send?uploadType=media,
 * message/rfc822, bearer token), without the fetch machinery gaxios runs every request through
 * (node-fetch, WHATWG streams, AbortSignal.any/timeout, Headers): that machinery was about a
 * quarter of the delivery thread's CPU (docs/benchmarks.md).
 *
 * What gaxios and google-auth-library did around it is kept: the bearer token comes from the
 * user's JWT client (cached, refreshed near expiry), a 401 makes it fetch a new token and send
 * once more (the body is a Buffer, so the resend carries every byte), and a non-2xx answer
 * becomes a GoogleAnswerError, which the classifier reads (src/failures). Network errors reject
 * with node's own error (code kept), as src/failures/network.ts expects.
 *
 * With a proxy in the environment (HTTPS_PROXY and friends) the transport uses gaxios instead,
 * which knows how to go through one (gmail-api.ts).
 */
import http from 'node:http';
import https from 'node:https';
import { GoogleAnswerError } from '../failures/index.js';

export interface UploadAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The parsed JSON body, or the text when it is not JSON. */
  data: unknown;
}

export interface Uploader {
  /** POST `body`; resolves with any HTTP answer, rejects on network errors, abort or timeout. */
  post(url: URL, body: Buffer, headers: Record<string, string>, signal: AbortSignal, timeoutMs: number): Promise<UploadAnswer>;
  close(): void;
}

const USER_AGENT = 'workspace-relay';

/**
 * An idle kept-alive connection is closed after this long (as Node's global agent does), so a
 * quiet practice's next message does not go out on a socket Google is closing at that moment.
 */
const IDLE_SOCKET_MS = 4_000;

export function createUploader(): Uploader {
  const options: http.AgentOptions = { keepAlive: true, scheduling: 'lifo', timeout: IDLE_SOCKET_MS };
  const agents = { http: new http.Agent(options), https: new https.Agent(options) };
  let inFlight = 0;
  let closing = false;
  const destroyAgents = () => {
    agents.http.destroy();
    agents.https.destroy();
  };
  return {
    post(url, body, headers, signal, timeoutMs) {
      inFlight++;
      return new Promise<UploadAnswer>((resolve, reject) => {
        const secure = url.protocol === 'https:';
        const request = secure ? https.request : http.request;
        let answer: http.IncomingMessage | undefined;
        const req = request(
          url,
          {
            method: 'POST',
            agent: secure ? agents.https : agents.http,
            headers: { ...headers, 'content-length': String(body.length), 'user-agent': USER_AGENT, accept: 'application/json' },
            signal,
          },
          (res) => {
            answer = res;
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('error', fail);
            res.on('end', () => {
              clearTimeout(timer);
              resolve({ status: res.statusCode ?? 0, headers: res.headers, data: parseBody(Buffer.concat(chunks).toString('utf8')) });
            });
          },
        );
        // The time limit covers the whole exchange, upload included (as gaxios' `timeout`).
        const timer = setTimeout(() => req.destroy(Object.assign(new Error(`no answer from Gmail within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
        function fail(err: Error): void {
          clearTimeout(timer);
          const status = answer?.statusCode ?? 0;
          // Gmail's 2xx status line arrived: it has the message, whatever happened to the rest of
          // the answer (its id). Sending again would deliver it twice.
          if (status >= 200 && status < 300) resolve({ status, headers: answer!.headers, data: '' });
          else reject(err);
        }
        req.on('error', fail);
        req.end(body);
      }).finally(() => {
        inFlight--;
        if (closing && inFlight === 0) destroyAgents();
      });
    },
    /** Idle connections close now; uploads still running finish first (a reload's old transport). */
    close() {
      closing = true;
      if (inFlight === 0) destroyAgents();
      else for (const agent of [agents.http, agents.https]) for (const list of Object.values(agent.freeSockets)) for (const socket of list ?? []) socket.destroy();
    },
  };
}

/** Gmail's non-2xx answer to an upload, for the classifier. */
export function uploadError(answer: UploadAnswer): GoogleAnswerError {
  return new GoogleAnswerError({ endpoint: 'gmail', status: answer.status, data: answer.data, headers: answer.headers });
}

function parseBody(text: string): unknown {
  if (!text) return '';
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
