/**
 * The fake Google's upload side (see fake-google.ts): reading request bodies as a stream (so a
 * test can watch an upload in flight, or cut it), and Gmail's resumable upload sessions as
 * Google's upload guides describe them:
 * - POST .../messages/send?uploadType=resumable with X-Upload-Content-Type: message/rfc822 and
 *   X-Upload-Content-Length → 200, the session URI in Location;
 * - PUT <session> with Content-Range: bytes a-b/total and the bytes: each chunk must start where
 *   the upload is and be a multiple of 256 KiB unless it is the last; answered 308 Resume
 *   Incomplete with Range: bytes=0-n, or, with the last byte, 200 and the sent message;
 * - PUT <session> with Content-Range: bytes * /total and no body: how far it is (308 with Range,
 *   no Range when nothing is there yet), or 200 and the sent message once complete;
 * - a session that expired answers 404.
 * Every request must carry a bearer token of the session's user (the fake's JWT check).
 */
import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import type { FakeRequest, ScriptedResponse, SentMessage, TokenGrant } from './fake-google.js';

export const CHUNK_GRANULARITY = 256 * 1024;

/** Watching uploads: `run` is called, with the upload paused, each time `every` more bytes have arrived. */
export interface UploadProbe {
  every: number;
  run(received: number): void | Promise<void>;
}

/** A scripted failure of the next matching resumable request (fake.failUpload). */
export interface UploadFault {
  /** The session start (POST), a chunk (PUT with bytes) or a status query (PUT bytes * /total). */
  on: 'start' | 'chunk' | 'status';
  /** A chunk fault fires on the first chunk that carries this byte of the message (default: the next chunk). */
  atByte?: number;
  /**
   * 'drop': the connection is cut (a chunk: once the upload reached atByte; the bytes before it
   * are kept down to a multiple of 256 KiB, as Google keeps them). 'expire': the session is
   * forgotten (this and every later request on it get 404). 'lose-answer': handled as usual (a
   * last chunk completes the message), then the connection is cut instead of answering. A
   * status: answered with it instead (a chunk's bytes are not kept).
   */
  action: 'drop' | 'expire' | 'lose-answer' | number;
}

export interface ResumableSession {
  id: string;
  user: string;
  userId: string;
  total: number;
  /** The message as it arrives (allocated whole at the start, so what the fake holds is known). */
  bytes: Buffer;
  received: number;
  expired: boolean;
  /** The sent message's resource, once complete. */
  result?: { id: string; threadId: string; labelIds: string[] };
}

/** One request of a resumable upload, as the fake saw it. */
export interface UploadRequestRecord {
  kind: 'start' | 'chunk' | 'status';
  session?: string;
  /** Content-Range of a PUT. */
  range?: string;
  /** What was answered ('dropped' when the connection was cut). */
  status: number | 'dropped';
}

export type ReadResult = { ok: true; length: number } | { ok: false; length: number; reason: 'dropped' | 'too long' | 'client went away' };

/**
 * Read a request body into `into` at `at` (at most `max` bytes), pausing for the probe at every
 * `probe.every` bytes of the upload (`base`: where this body starts in the message), and cutting
 * the connection when `dropAt` (an offset in the message) is reached.
 */
export function readBodyInto(
  req: http.IncomingMessage,
  into: Buffer,
  at: number,
  max: number,
  options: { base?: number; probe?: UploadProbe | undefined; dropAt?: number | undefined } = {},
): Promise<ReadResult> {
  const base = options.base ?? 0;
  const { probe, dropAt } = options;
  let length = 0;
  let nextProbe = probe ? (Math.floor(base / probe.every) + 1) * probe.every : Infinity;
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: ReadResult) => {
      if (done) return;
      done = true;
      resolve(r);
    };
    const onData = (chunk: Buffer) => {
      let piece = chunk;
      if (dropAt !== undefined && base + length + piece.length >= dropAt) piece = piece.subarray(0, Math.max(0, dropAt - base - length));
      if (length + piece.length > max) {
        req.off('data', onData);
        req.resume();
        return finish({ ok: false, length, reason: 'too long' });
      }
      piece.copy(into, at + length);
      length += piece.length;
      if (dropAt !== undefined && base + length >= dropAt) {
        req.off('data', onData);
        req.socket.destroy();
        return finish({ ok: false, length, reason: 'dropped' });
      }
      if (base + length >= nextProbe && probe) {
        req.pause();
        const crossed = base + length;
        while (nextProbe <= crossed) nextProbe += probe.every;
        void Promise.resolve(probe.run(crossed)).finally(() => req.resume());
      }
    };
    req.on('data', onData);
    req.on('end', () => finish({ ok: true, length }));
    req.on('aborted', () => finish({ ok: false, length, reason: 'client went away' }));
    req.on('close', () => finish(req.complete ? { ok: true, length } : { ok: false, length, reason: 'client went away' }));
    if (dropAt !== undefined && dropAt <= base) {
      req.socket.destroy();
      finish({ ok: false, length: 0, reason: 'dropped' });
    }
  });
}

/** `bytes a-b/total` → {start, end (exclusive), total}; `bytes * /total` → {status: true}; else null. */
export function parseContentRange(value: string | undefined): { start: number; end: number; total: number } | { status: true; total: number } | null {
  const v = value?.trim() ?? '';
  const query = /^bytes \*\/(\d+)$/.exec(v);
  if (query) return { status: true, total: Number(query[1]) };
  const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(v);
  if (!m) return null;
  const [start, last, total] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (last < start || last >= total) return null;
  return { start, end: last + 1, total };
}

/** What the resumable endpoint needs of the fake Google around it. */
export interface UploadHost {
  /** The fake's base URL (session URIs start with it). */
  baseUrl(): string;
  /** Why Gmail would refuse a send by this user now (rate limit, scope, mail off), or null. */
  sendRefusal(grant: TokenGrant, userId: string): ScriptedResponse | null;
  /** Record a sent message (the id is the host's next). */
  recordSent(sent: Omit<SentMessage, 'id'>): SentMessage;
  /** How long to hold the answer to a completed send (the host's sendLatencyMs). */
  holdMs(): number;
  probe(): UploadProbe | undefined;
  error(status: number, message: string, statusText: string, reason: string): ScriptedResponse;
}

/** Gmail's upload maximum for messages.send (35 MB). */
export const MAX_UPLOAD = 36_700_160;

/** Resumable upload sessions of users.messages.send. */
export class ResumableSessions {
  /** Every request of a resumable upload, in order. */
  readonly requests: UploadRequestRecord[] = [];
  /** By id (complete ones stay, as Google answers their status). */
  readonly sessions = new Map<string, ResumableSession>();
  private readonly faults: UploadFault[] = [];

  constructor(private readonly host: UploadHost) {}

  fail(fault: UploadFault): void {
    this.faults.push(fault);
  }

  /** Scripted faults not used yet. */
  get pendingFaults(): readonly UploadFault[] {
    return this.faults;
  }

  /** Bytes the sessions not yet complete hold. */
  heldBytes(): number {
    let n = 0;
    for (const s of this.sessions.values()) if (!s.result && !s.expired) n += s.bytes.length;
    return n;
  }

  /** Start a resumable upload session (POST ...?uploadType=resumable): 200 with the session URI in Location. */
  async start(req: http.IncomingMessage, url: URL, fr: FakeRequest, userId: string, send: (r: ScriptedResponse) => void): Promise<void> {
    await drain(req);
    const record: UploadRequestRecord = { kind: 'start', status: 0 };
    this.requests.push(record);
    const answer = (r: ScriptedResponse) => {
      record.status = r.dropConnection ? 'dropped' : r.status;
      send(r);
    };
    const fault = this.take('start');
    if (fault?.action === 'drop') return answer({ status: 0, body: '', dropConnection: true });
    if (typeof fault?.action === 'number') return answer(this.host.error(fault.action, 'Backend Error', 'UNAVAILABLE', 'backendError'));
    const refused = this.host.sendRefusal(fr.grant!, userId);
    if (refused) return answer(refused);
    const type = String(req.headers['x-upload-content-type'] ?? '');
    if (!/^message\/rfc822/i.test(type)) return answer(this.host.error(400, `Media type '${type}' is not supported.`, 'INVALID_ARGUMENT', 'badContent'));
    const total = Number(req.headers['x-upload-content-length'] ?? NaN);
    if (!Number.isSafeInteger(total) || total <= 0) return answer(this.host.error(400, 'X-Upload-Content-Length is required', 'INVALID_ARGUMENT', 'badRequest'));
    if (total > MAX_UPLOAD) return answer(this.host.error(413, 'Request Entity Too Large', 'INVALID_ARGUMENT', 'uploadTooLarge'));
    const id = randomBytes(12).toString('base64url');
    this.sessions.set(id, { id, user: fr.grant!.sub, userId, total, bytes: Buffer.allocUnsafeSlow(total), received: 0, expired: false });
    answer({ status: 200, body: '', headers: { location: `${this.host.baseUrl()}${url.pathname}?uploadType=resumable&upload_id=${id}` } });
  }

  /** A PUT to a session URI: a chunk (Content-Range: bytes a-b/total) or a status query (bytes * /total). */
  async put(req: http.IncomingMessage, res: http.ServerResponse, url: URL, fr: FakeRequest, send: (r: ScriptedResponse) => void): Promise<void> {
    const id = url.searchParams.get('upload_id') ?? '';
    const session = this.sessions.get(id);
    const range = parseContentRange(req.headers['content-range']);
    const record: UploadRequestRecord = { kind: range && 'status' in range ? 'status' : 'chunk', session: id, range: req.headers['content-range'], status: 0 };
    this.requests.push(record);
    const answer = async (r: ScriptedResponse, discard = true) => {
      if (discard) await drain(req);
      record.status = r.status;
      send(r);
    };
    const drop = () => {
      record.status = 'dropped';
      req.socket.destroy();
    };
    if (!session || session.expired) return answer(this.host.error(404, 'Not Found', 'NOT_FOUND', 'notFound'));
    if (!fr.grant || fr.grant.sub !== session.user) return answer(this.host.error(401, 'Request had invalid authentication credentials.', 'UNAUTHENTICATED', 'authError'));
    if (!range || range.total !== session.total) return answer(this.host.error(400, `Invalid Content-Range ${String(req.headers['content-range'])}`, 'INVALID_ARGUMENT', 'badRequest'));
    const fault = this.take(record.kind, 'status' in range ? undefined : range);
    if (fault?.action === 'expire') {
      session.expired = true;
      return answer(this.host.error(404, 'Not Found', 'NOT_FOUND', 'notFound'));
    }
    if ('status' in range || session.result) {
      await drain(req);
      if (fault?.action === 'drop') return drop();
      if (typeof fault?.action === 'number') return answer(this.host.error(fault.action, 'Backend Error', 'UNAVAILABLE', 'backendError'), false);
      // Complete: every request on the session answers with the sent message.
      return answer(session.result ? { status: 200, body: session.result } : incomplete(session), false);
    }
    const length = range.end - range.start;
    if (range.start !== session.received) return answer(this.host.error(400, `the upload is at byte ${session.received}, not ${range.start}`, 'INVALID_ARGUMENT', 'badRequest'));
    if (length % CHUNK_GRANULARITY !== 0 && range.end !== session.total) return answer(this.host.error(400, 'a chunk that is not the last must be a multiple of 256 KiB', 'INVALID_ARGUMENT', 'badRequest'));
    if (Number(req.headers['content-length']) !== length) return answer(this.host.error(400, 'Content-Length does not match Content-Range', 'INVALID_ARGUMENT', 'badRequest'));
    if (typeof fault?.action === 'number') return answer(this.host.error(fault.action, 'Backend Error', 'UNAVAILABLE', 'backendError'));
    const dropAt = fault?.action === 'drop' ? (fault.atByte ?? range.start) : undefined;
    const read = await readBodyInto(req, session.bytes, range.start, length, { base: range.start, probe: this.host.probe(), dropAt });
    if (!read.ok) {
      // The connection is gone: what arrived is kept in whole 256 KiB units, as Google keeps it.
      session.received = Math.max(session.received, keptOf(range.start + read.length));
      if (read.reason === 'dropped') record.status = 'dropped';
      return;
    }
    if (read.length !== length) return answer(this.host.error(400, 'the chunk is shorter than its Content-Range', 'INVALID_ARGUMENT', 'badRequest'), false);
    session.received = range.end;
    if (session.received < session.total) return fault?.action === 'lose-answer' ? drop() : answer(incomplete(session), false);
    const sent = this.host.recordSent({ user: session.user, userId: session.userId, uploadType: 'resumable', raw: session.bytes, receivedAt: Date.now() });
    session.result = { id: sent.id, threadId: sent.id, labelIds: ['SENT'] };
    const hold = this.host.holdMs();
    if (hold > 0) await new Promise((r) => setTimeout(r, hold));
    if (fault?.action === 'lose-answer') return drop();
    res.once('finish', () => (sent.answeredAt = Date.now()));
    return answer({ status: 200, body: session.result }, false);
  }

  /** The first scripted upload fault for this request, taken off the list. */
  private take(on: UploadFault['on'], range?: { start: number; end: number }): UploadFault | undefined {
    const i = this.faults.findIndex(
      (f) => f.on === on && (f.atByte === undefined || !range || (f.atByte >= range.start && f.atByte < range.end)),
    );
    return i < 0 ? undefined : this.faults.splice(i, 1)[0];
  }

}

/** Google keeps what arrived of an interrupted chunk in whole units of 256 KiB. */
export function keptOf(received: number): number {
  return Math.floor(received / CHUNK_GRANULARITY) * CHUNK_GRANULARITY;
}

/** A session's 308 Resume Incomplete: `Range: bytes=0-n` once it holds bytes. */
function incomplete(session: ResumableSession): ScriptedResponse {
  return { status: 308, body: '', headers: session.received > 0 ? { range: `bytes=0-${session.received - 1}` } : {} };
}

/** Read a request body and throw it away (never held). */
export function drain(req: http.IncomingMessage): Promise<void> {
  if (req.readableEnded) return Promise.resolve();
  return new Promise((resolve) => {
    req.on('end', resolve);
    req.on('close', resolve);
    req.resume();
  });
}
