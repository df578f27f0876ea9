/**
 * The HTTP requests of a Gmail upload (the media POST, and the resumable upload's session start,
 * chunk PUTs and status queries), as plain `node:http(s)` requests on a keep-alive agent: the
 * requests googleapis/gaxios would make, without the fetch machinery gaxios runs every request
 * through (node-fetch, WHATWG streams, AbortSignal.any/timeout, Headers): that machinery was about
 * a quarter of the delivery thread's CPU (docs/benchmarks.md).
 *
 * A body is streamed from the spool file (outgoing-message.ts) into the socket through one
 * pooled buffer per request: each piece is read into it only once the socket has taken the one
 * before, so a request holds one buffer of the message whatever its size, and creates no garbage
 * for the collector to find late. Any HTTP answer resolves (a non-2xx one becomes a
 * GoogleAnswerError, which the classifier reads: src/failures); network errors reject with
 * node's own error (code kept, as src/failures/network.ts reads it) wrapped in a RequestFailed
 * that says whether the whole body was handed to the socket.
 *
 * With a proxy in the environment (HTTPS_PROXY and friends) the requests go through gaxios
 * instead (the JWT client's transporter), which knows how to use one; see gmail-api.ts.
 */
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import type { JWT } from 'google-auth-library';
import { GoogleAnswerError } from '../failures/index.js';
import type { OutgoingRange } from './outgoing-message.js';

export interface UploadAnswer {
  status: number;
  /** Response headers, names lowercase. */
  headers: Record<string, string | string[] | undefined>;
  /** The parsed JSON body, or the text when it is not JSON. */
  data: unknown;
}

export interface UploadRequest {
  method: 'POST' | 'PUT';
  url: URL;
  headers: Record<string, string>;
  /** The body (content-length is set from it); none = an empty body. */
  body?: OutgoingRange;
  signal: AbortSignal;
  /** Time limit of the whole exchange, body included. */
  timeoutMs: number;
}

export interface Uploader {
  /** Resolves with any HTTP answer; rejects with a RequestFailed on network errors, abort or timeout. */
  request(r: UploadRequest): Promise<UploadAnswer>;
  close(): void;
}

/** A request that got no answer. `cause`: node's error (classify.ts reads its code). */
export class RequestFailed extends Error {
  constructor(
    override readonly cause: unknown,
    /** Every byte of the body was handed to the socket: the server may have all of it. */
    readonly bodySent: boolean,
  ) {
    super(`request failed: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'RequestFailed';
  }
}

const USER_AGENT = 'workspace-relay';

/**
 * An idle kept-alive connection is closed after this long (as Node's global agent does), so a
 * quiet practice's next message does not go out on a socket Google is closing at that moment.
 */
const IDLE_SOCKET_MS = 4_000;

/** The buffer a request body is read into, piece by piece; a few are kept for the next requests. */
const BODY_BUFFER = 256 * 1024;
const SPARE_BUFFERS = 8;
const spare: Buffer[] = [];

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
    request(r) {
      inFlight++;
      const secure = r.url.protocol === 'https:';
      return exchange(r, secure ? agents.https : agents.http, secure).finally(() => {
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

function exchange(r: UploadRequest, agent: http.Agent, secure: boolean): Promise<UploadAnswer> {
  return new Promise<UploadAnswer>((resolve, reject) => {
    const body = { handed: false, done: false };
    let settled = false;
    let answer: http.IncomingMessage | undefined;
    const chunks: Buffer[] = [];
    const length = r.body?.length ?? 0;
    const req = (secure ? https.request : http.request)(
      r.url,
      {
        method: r.method,
        agent,
        headers: { ...r.headers, 'content-length': String(length), 'user-agent': USER_AGENT, accept: 'application/json' },
        signal: r.signal,
      },
      (res) => {
        answer = res;
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', fail);
        res.on('end', finish);
      },
    );
    // The time limit covers the whole exchange, upload included (as gaxios' `timeout`).
    const timer = setTimeout(() => req.destroy(Object.assign(new Error(`no answer from Gmail within ${r.timeoutMs} ms`), { code: 'ETIMEDOUT' })), r.timeoutMs);
    function finish(): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ status: answer!.statusCode ?? 0, headers: answer!.headers, data: parseBody(Buffer.concat(chunks).toString('utf8')) });
      // Google may answer before reading the whole body (an error): stop sending the rest.
      if (!body.done) req.destroy();
    }
    function fail(err: Error): void {
      if (settled) return;
      // The status line arrived: that is Google's answer, whatever happened to the rest of it. A
      // 2xx means it has the message (sending again would deliver it twice); an error status
      // is read from its code.
      if (answer) return finish();
      settled = true;
      clearTimeout(timer);
      reject(new RequestFailed(err, body.handed));
    }
    req.on('error', fail);
    writeBody(req, r.body, body).then(
      () => (body.done = true),
      (err: unknown) => {
        if (err instanceof SourceFailed && !settled) {
          // The spool file failed (a DeliveryError: held): that is the failure, not the network.
          settled = true;
          clearTimeout(timer);
          reject(asError(err.cause));
        }
        // Never a whole message on the wire from a file that failed: the request is cut short of
        // its content-length, so Google cannot take it.
        req.destroy();
      },
    );
  });
}

/** Reading the body failed (not writing it). */
class SourceFailed extends Error {
  constructor(override readonly cause: unknown) {
    super('reading the request body failed');
  }
}

/**
 * Write the body, each piece only once the socket has taken the one before (the pooled buffer is
 * reused for the next piece). `progress.handed` turns true as the last piece is handed to the
 * socket (from then on the server may have every byte, whatever it has said yet). Resolves when
 * the request has ended.
 */
async function writeBody(req: http.ClientRequest, body: OutgoingRange | undefined, progress: { handed: boolean }): Promise<void> {
  if (!body || body.length === 0) {
    progress.handed = true;
    req.end();
    return;
  }
  const buffer = spare.pop() ?? Buffer.allocUnsafeSlow(BODY_BUFFER);
  let clean = false;
  let pieces: AsyncIterator<Buffer> | undefined;
  let written = 0;
  try {
    const closed = new Promise<never>((_, reject) => req.once('close', () => reject(new Error('request closed'))));
    closed.catch(() => undefined);
    pieces = body.chunks(buffer)[Symbol.asyncIterator]();
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = await pieces.next();
      } catch (err) {
        throw new SourceFailed(err);
      }
      if (next.done) break;
      if (req.destroyed) throw new Error('request closed');
      const piece = next.value;
      written += piece.length;
      if (written >= body.length) progress.handed = true;
      await Promise.race([new Promise<void>((resolve, reject) => req.write(piece, (err) => (err ? reject(err) : resolve()))), closed]);
    }
    await Promise.race([new Promise<void>((resolve) => req.end(resolve)), closed]);
    clean = true;
  } finally {
    // Stopped early: the file is closed (the generator's own clean-up).
    if (!clean) await pieces?.return?.().catch(() => undefined);
    // A buffer a failed write may still point to is left to the collector.
    if (clean && spare.length < SPARE_BUFFERS) spare.push(buffer);
  }
}

/**
 * The same requests through gaxios (used when a proxy is configured: gaxios finds it in the
 * environment and tunnels through it). The body is a stream of fresh pieces (node-fetch keeps
 * them as it pleases).
 */
export function createGaxiosUploader(transporter: () => JWT['transporter']): Uploader {
  return {
    async request(r) {
      let bodySent = false;
      let sourceError: unknown;
      const body = r.body;
      const data = body
        ? Readable.from(
            (async function* () {
              try {
                yield* body.chunks();
              } catch (err) {
                sourceError = err;
                throw err;
              }
              bodySent = true;
            })(),
          )
        : undefined;
      try {
        const res = await transporter().request<string>({
          url: r.url.href,
          method: r.method,
          headers: { ...r.headers, 'content-length': String(body?.length ?? 0), 'user-agent': USER_AGENT, accept: 'application/json' },
          ...(data ? { data } : {}),
          responseType: 'text',
          validateStatus: () => true,
          retry: false,
          signal: r.signal,
          timeout: r.timeoutMs,
        });
        const headers: UploadAnswer['headers'] = {};
        res.headers.forEach((value, name) => (headers[name.toLowerCase()] = value));
        return { status: res.status, headers, data: parseBody(typeof res.data === 'string' ? res.data : '') };
      } catch (err) {
        if (sourceError !== undefined) throw asError(sourceError);
        throw new RequestFailed(err, bodySent || !body);
      }
    },
    close() {},
  };
}

/** Gmail's non-2xx answer to an upload, for the classifier. */
export function uploadError(answer: UploadAnswer): GoogleAnswerError {
  return new GoogleAnswerError({ endpoint: 'gmail', status: answer.status, data: answer.data, headers: answer.headers });
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function parseBody(text: string): unknown {
  if (!text) return '';
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
