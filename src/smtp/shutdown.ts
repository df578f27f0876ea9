/**
 * Closing a listener in two stages (DESIGN "Shutdown"): stop accepting (the port closes, so new
 * clients are refused by the operating system), answer every connection that is waiting for the
 * client with 421 4.3.2 and close it, let DATA in progress finish and get its reply (then 421),
 * and once `graceMs` has passed destroy whatever is left (a message cut off there was never
 * acknowledged, and the spool writer removes it). What this needs of smtp-server's insides is in
 * smtp-server-internals.ts.
 */
import type { SMTPServer } from 'smtp-server';
import type { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import type { SmtpReply } from '../errors.js';
import { closePort, sendReply, type ConnectionRegistry } from './smtp-server-internals.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function drainAndClose(
  server: SMTPServer,
  registry: ConnectionRegistry,
  options: { graceMs: number; reply: SmtpReply; now?: () => number },
): Promise<{ forced: number }> {
  const now = options.now ?? Date.now;
  const deadline = now() + options.graceMs;
  const portClosed = closePort(server);
  // Sockets still in the implicit TLS handshake have no session to finish (smtp-server's own close does this).
  registry.destroyPending();
  const told = new Set<SMTPConnection>();
  while (registry.size > 0 && now() < deadline) {
    for (const conn of registry.waitingForClient()) {
      if (!told.has(conn)) {
        told.add(conn);
        sendReply(conn, options.reply.responseCode, options.reply.message); // 421 also closes it
      }
    }
    await sleep(Math.max(1, Math.min(20, deadline - now())));
  }
  const forced = registry.size;
  registry.destroyOpen();
  registry.destroyPending();
  await portClosed;
  return { forced };
}
