/** The client side of the control protocol (protocol.ts): one request per connection. */
import net from 'node:net';
import { ControlError, encodeLine, parseReply, type ControlRequest } from './protocol.js';

export interface ControlRequestOptions {
  /** Give up connecting after this long (default 5 s). */
  connectTimeoutMs?: number;
  /** Give up waiting for the reply after this long (default 60 s). */
  replyTimeoutMs?: number;
  /** Receives the message bytes of a reply that carries them (show --body). */
  onBody?: (chunk: Buffer) => void;
}

/**
 * Send one request to the control socket at `socketPath` and resolve with the reply's result.
 * Rejects with a ControlError: control.unavailable (no daemon: no socket, or nobody listening),
 * control.denied (socket permissions), control.timeout, control.busy (closed without an answer),
 * control.protocol, or the code the daemon answered with (queue.not_found, …).
 */
export function controlRequest(socketPath: string, request: ControlRequest, options: ControlRequestOptions = {}): Promise<unknown> {
  const connectTimeout = options.connectTimeoutMs ?? 5_000;
  const replyTimeout = options.replyTimeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let connected = false;
    let header: { result: unknown; body: number } | null = null;
    let received = 0;
    let buf = Buffer.alloc(0);
    let settled = false;
    const finish = (err: Error | null, value?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(value);
    };
    let timer = setTimeout(
      () => finish(new ControlError('control.timeout', `no connection to the relay's control socket ${socketPath} within ${connectTimeout} ms`)),
      connectTimeout,
    );

    socket.on('connect', () => {
      connected = true;
      clearTimeout(timer);
      timer = setTimeout(
        () =>
          finish(
            new ControlError(
              'control.no_answer',
              `the relay did not answer within ${Math.round(replyTimeout / 1000)} s (busy?); a change may or may not have been made: check with \`queue show ID\``,
            ),
          ),
        replyTimeout,
      );
      socket.write(encodeLine(request));
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (!connected && (err.code === 'ENOENT' || err.code === 'ECONNREFUSED')) {
        finish(new ControlError('control.unavailable', `no relay daemon is listening on ${socketPath}`, { cause: err }));
      } else if (err.code === 'EACCES' || err.code === 'EPERM') {
        finish(
          new ControlError(
            'control.denied',
            `permission denied on the control socket ${socketPath}: run as the relay's user (e.g. sudo -u workspace-relay workspace-relay queue …) or root`,
            { cause: err },
          ),
        );
      } else {
        finish(new ControlError('control.busy', `the control socket ${socketPath} failed: ${err.message}`, { cause: err }));
      }
    });
    socket.on('data', (chunk: Buffer) => {
      if (header) return onBody(chunk);
      buf = Buffer.concat([buf, chunk]);
      const nl = buf.indexOf(0x0a);
      if (nl < 0) return;
      let reply;
      try {
        reply = parseReply(buf.subarray(0, nl).toString('utf8'));
      } catch (err) {
        return finish(err as Error);
      }
      if (!reply.ok) return finish(new ControlError(reply.error.code, reply.error.message));
      header = { result: reply.result, body: reply.body ?? 0 };
      const rest = buf.subarray(nl + 1);
      buf = Buffer.alloc(0);
      if (header.body === 0) return finish(null, header.result);
      if (rest.length) onBody(rest);
    });
    const onBody = (chunk: Buffer) => {
      const want = header!.body - received;
      const part = chunk.length > want ? chunk.subarray(0, want) : chunk;
      received += part.length;
      options.onBody?.(part);
      if (received >= header!.body) finish(null, header!.result);
    };
    socket.on('close', () => {
      if (header) finish(new ControlError('control.protocol', `the message bytes were cut short (${received} of ${header.body})`));
      else finish(new ControlError('control.busy', 'the relay closed the control connection without answering (stopping?)'));
    });
  });
}
