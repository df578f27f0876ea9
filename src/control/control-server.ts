/**
 * The control socket, server side. Binding it is also the spool's lock: the daemon binds it
 * before start-up recovery and keeps it while it runs; a queue CLI that finds no daemon binds it
 * while it changes the spool directly. So a daemon never starts under a CLI's change, a CLI never
 * changes the spool under a daemon, and two daemons never share a spool. A socket file left by a
 * killed process (connection refused) is stale and taken over.
 *
 * Access: the socket is chmod 0600 (and sits in the 0700 spool directory by default), so only the
 * relay's OS user and root can connect; that is the whole authorisation.
 */
import { lstat, mkdir, chmod, unlink } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { ConfigError, errorText } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { MessageSource } from '../spool/index.js';
import { controlRequest } from './control-client.js';
import { ControlError, MAX_REQUEST_BYTES, encodeLine, parseRequest, type ControlOwner, type ControlRequest, type PingResult } from './protocol.js';

/**
 * What a handler answers: a result, and optionally bytes that follow the reply: a spooled
 * message's, read through the spool (decrypted when sealed: src/spool/message-source.ts).
 */
export interface HandlerResult {
  result: unknown;
  body?: MessageSource;
}
/** `signal` is aborted when the client goes away (a change still waiting its turn is then dropped). */
export type ControlHandler = (request: ControlRequest, signal?: AbortSignal) => Promise<HandlerResult>;

export interface AcquireOptions {
  owner: ControlOwner;
  logger?: Logger;
  /** Keep trying this long while another queue CLI holds the socket (default 0). */
  waitMs?: number;
}

/** Another live process holds the control socket. */
export class ControlInUse extends ControlError {
  constructor(
    message: string,
    readonly holder: PingResult | null,
  ) {
    super('control.in_use', message);
  }
}

/** Linux sun_path is 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH = 107;
const IDLE_MS = 10_000;

export class ControlServer {
  private handler: ControlHandler | null = null;
  private readonly sockets = new Set<net.Socket>();
  private readonly busy = new Set<net.Socket>();
  private closed: Promise<void> | null = null;

  private constructor(
    readonly path: string,
    readonly owner: ControlOwner,
    private readonly server: net.Server,
    private readonly logger: Logger,
  ) {
    server.on('connection', (s) => this.accept(s));
  }

  /** Bind the control socket at `socketPath` (the lock), or reject with ControlInUse. */
  static async acquire(socketPath: string, options: AcquireOptions): Promise<ControlServer> {
    const logger = options.logger ?? silentLogger;
    checkSocketPath(socketPath);
    await mkdir(path.dirname(socketPath), { recursive: true, mode: 0o700 });
    const deadline = Date.now() + (options.waitMs ?? 0);
    for (;;) {
      const server = net.createServer();
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(socketPath, () => resolve());
        });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
        const holder = await probe(socketPath);
        if (holder === 'stale') {
          logger.warn({ event: 'control.stale_socket', path: socketPath }, 'removed a control socket left by a stopped process');
          await unlink(socketPath).catch(() => undefined);
          continue;
        }
        if ((holder === 'unknown' || holder.owner === 'cli') && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        throw inUse(socketPath, holder === 'unknown' ? null : holder);
      }
      server.unref();
      await chmod(socketPath, 0o600);
      const control = new ControlServer(socketPath, options.owner, server, logger);
      logger.info({ event: 'control.listening', path: socketPath, owner: options.owner }, `control socket ${socketPath}`);
      return control;
    }
  }

  /** Start answering requests (until then everything but ping is answered control.busy). */
  serve(handler: ControlHandler): void {
    this.handler = handler;
  }

  /**
   * Stop answering (every new request gets control.busy) while keeping the socket, and so the
   * spool lock: a queue command run while the daemon is stopping must wait (exit 75), not find
   * no daemon and change the spool under it. Requests being answered finish (at most 10 s).
   */
  async stopServing(): Promise<void> {
    this.handler = null;
    const until = Date.now() + IDLE_MS;
    while (this.busy.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  }

  /**
   * Stop: no new connections, idle ones dropped, requests being answered finish (at most 10 s).
   * Removes the socket file. Idempotent.
   */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.handler = null;
      const done = new Promise<void>((resolve) => this.server.close(() => resolve()));
      for (const s of this.sockets) if (!this.busy.has(s)) s.destroy();
      const timer = setTimeout(() => this.sockets.forEach((s) => s.destroy()), IDLE_MS);
      await done;
      clearTimeout(timer);
    })();
    return this.closed;
  }

  private accept(socket: net.Socket): void {
    // A connection made before serve() (e.g. before the chmod) never reaches the handler.
    const handler = this.handler;
    this.sockets.add(socket);
    socket.on('close', () => {
      this.sockets.delete(socket);
      this.busy.delete(socket);
    });
    socket.on('error', () => socket.destroy());
    socket.setTimeout(IDLE_MS, () => socket.destroy());
    let buf = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      if (this.busy.has(socket)) return;
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) {
        if (Buffer.byteLength(buf) > MAX_REQUEST_BYTES) this.fail(socket, new ControlError('control.bad_request', 'request too long'));
        return;
      }
      this.busy.add(socket);
      socket.setTimeout(0);
      void this.answer(socket, buf.slice(0, nl), handler);
    });
  }

  private async answer(socket: net.Socket, line: string, handler: ControlHandler | null): Promise<void> {
    let request: ControlRequest;
    try {
      request = parseRequest(line);
    } catch (err) {
      return this.fail(socket, err);
    }
    if (request.op === 'ping') {
      const result: PingResult & { serving: boolean } = { owner: this.owner, pid: process.pid, serving: handler !== null };
      socket.end(encodeLine({ ok: true, result }));
      return;
    }
    if (!handler || !this.handler) {
      const message =
        this.owner === 'daemon'
          ? 'the relay is starting or stopping; try again in a moment'
          : 'another queue command is changing the spool right now; try again in a moment';
      return this.fail(socket, new ControlError('control.busy', message));
    }
    let out: HandlerResult;
    try {
      const gone = new AbortController();
      socket.once('close', () => gone.abort());
      out = await handler(request, gone.signal);
    } catch (err) {
      return this.fail(socket, err);
    }
    if (!out.body) {
      socket.end(encodeLine({ ok: true, result: out.result }));
      return;
    }
    let stream;
    try {
      stream = await out.body.open(); // open first: the bytes stay readable if it is delivered meanwhile
    } catch (err) {
      const gone = (err as NodeJS.ErrnoException).code === 'ENOENT';
      return this.fail(socket, gone ? new ControlError('queue.not_found', 'the message was delivered or deleted just now') : err);
    }
    const size = out.body.size;
    socket.write(encodeLine({ ok: true, result: out.result, body: size }));
    stream.on('error', (err) => {
      // (A damaged sealed file: the client sees the bytes cut short; the reason is logged here.)
      this.logger.error({ event: 'control.body_failed', err: errorText(err) }, 'could not read the message for show --body');
      socket.destroy();
    });
    socket.once('close', () => stream.destroy()); // a client that goes away early
    stream.pipe(socket);
  }

  private fail(socket: net.Socket, err: unknown): void {
    const error =
      err instanceof ControlError ? { code: err.code, message: err.message } : { code: 'control.error', message: errorText(err) };
    if (!(err instanceof ControlError)) this.logger.error({ event: 'control.error', err: errorText(err) }, 'control request failed');
    socket.end(encodeLine({ ok: false, error }));
  }
}

/** Refuse a path the kernel cannot bind, naming the fix (a ConfigError: exit 78, no restart loop). */
export function checkSocketPath(socketPath: string): void {
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
    throw new ConfigError(
      'control.socket',
      `the control socket path ${socketPath} is ${Buffer.byteLength(socketPath)} bytes; Unix sockets allow ${MAX_SOCKET_PATH}: set control.socket to a shorter path (e.g. /run/workspace-relay/control.sock)`,
    );
  }
}

/** Who answers on an existing socket file: a live holder, nobody (stale), or no clear answer. */
async function probe(socketPath: string): Promise<PingResult | 'stale' | 'unknown'> {
  const st = await lstat(socketPath).catch(() => null);
  if (!st) return 'stale';
  if (!st.isSocket()) {
    throw new ConfigError('control.socket', `${socketPath} exists and is not a socket: move it away or set control.socket to another path`);
  }
  try {
    return (await controlRequest(socketPath, { op: 'ping' }, { connectTimeoutMs: 2_000, replyTimeoutMs: 2_000 })) as PingResult;
  } catch (err) {
    if (err instanceof ControlError && err.code === 'control.unavailable') return 'stale';
    return 'unknown';
  }
}

function inUse(socketPath: string, holder: PingResult | null): ControlInUse {
  const who =
    holder?.owner === 'daemon'
      ? `a workspace-relay daemon (pid ${holder.pid}) is running on this spool`
      : holder?.owner === 'cli'
        ? `a queue command (pid ${holder.pid}) is changing this spool`
        : 'another process holds it and does not answer';
  return new ControlInUse(`control socket ${socketPath} is in use: ${who}`, holder);
}
