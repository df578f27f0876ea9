/**
 * Closing a listener in two stages (DESIGN "Shutdown"): stop accepting (the port closes, so new
 * clients are refused by the operating system), answer every connection that is waiting for the
 * client with 421 4.3.2 and close it, let DATA in progress finish and get its reply (then 421),
 * and once `graceMs` has passed destroy whatever is left (a message cut off there was never
 * acknowledged, and the spool writer removes it).
 */
import type { SMTPServer } from 'smtp-server';
import type { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import type { SmtpReply } from '../errors.js';

/**
 * Every connection of a server from accept until its socket has closed (smtp-server forgets a
 * connection as soon as it answers 421 or QUIT, while the socket may linger up to 5 s).
 */
export class ConnectionRegistry {
  private readonly conns = new Set<SMTPConnection>();

  constructor(private readonly server: SMTPServer) {
    const connect = server.connect.bind(server);
    server.connect = (socket, options) => {
      connect(socket, options);
      const conn = [...server.connections].find((c) => c._socket === socket);
      if (conn) this.conns.add(conn);
    };
  }

  /** Connections whose socket is still open (STARTTLS replaces the socket, so ask the connection). */
  get open(): SMTPConnection[] {
    for (const c of this.conns) if (c._closed) this.conns.delete(c);
    return [...this.conns];
  }

  get size(): number {
    return this.open.length + this.server._pendingSockets.size;
  }
}

/** The client owes us input (or has not been greeted yet): a 421 interrupts nothing. */
function waitingForClient(conn: SMTPConnection): boolean {
  return !conn._dataStream && !conn._handlerPending && !conn._upgrading;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function drainAndClose(
  server: SMTPServer,
  registry: ConnectionRegistry,
  options: { graceMs: number; reply: SmtpReply; now?: () => number },
): Promise<{ forced: number }> {
  const now = options.now ?? Date.now;
  const deadline = now() + options.graceMs;
  const portClosed = new Promise<void>((resolve) => server.server.close(() => resolve()));
  // Sockets still in the implicit TLS handshake have no session to finish (smtp-server's own close does this).
  server._pendingSockets.forEach((top) => top.destroy());
  const told = new Set<SMTPConnection>();
  while (registry.size > 0 && now() < deadline) {
    for (const conn of server.connections) {
      if (!told.has(conn) && waitingForClient(conn)) {
        told.add(conn);
        conn.send(options.reply.responseCode, options.reply.message); // 421 also closes it
      }
    }
    await sleep(Math.max(1, Math.min(20, deadline - now())));
  }
  const forced = registry.size;
  for (const conn of registry.open) conn._socket.destroy();
  server._pendingSockets.forEach((top) => top.destroy());
  await portClosed;
  return { forced };
}
