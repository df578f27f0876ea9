/**
 * A Gmail-SMTP-like upstream for transport tests: smtp-server on loopback with implicit TLS and
 * AUTH PLAIN, hashing what DATA brings instead of keeping it, with a hook on every `every` bytes.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';
import { createSmtpTransport } from '../../src/delivery/smtp.js';
import { createSmtpRelayTransport } from '../../src/delivery/smtp-relay.js';
import { createLogger } from '../../src/log.js';
import type { Transport } from '../../src/delivery/types.js';
import { makeTestCert } from './tls.js';

export interface UpstreamMessage {
  to: string[];
  size: number;
  sha256: string;
}

export interface Upstream {
  /** Messages whose DATA ended with the final dot and got 250. */
  received: UpstreamMessage[];
  /** DATA commands started (a message cut short shows here, not in received). */
  dataStarted: number;
  transport: Transport;
  close(): Promise<void>;
}

export interface UpstreamOptions {
  size?: number;
  onBytes?: { every: number; run: (received: number) => void };
  /** The transport in front of it: Gmail SMTP with an app password (default), or the SMTP relay service with SMTP AUTH. */
  via?: 'smtp' | 'smtp-relay';
}

export async function startUpstream(dir: string, options: UpstreamOptions = {}): Promise<Upstream> {
  const tls = makeTestCert(dir, 'upstream');
  const received: UpstreamMessage[] = [];
  const state = { dataStarted: 0 };
  const server = new SMTPServer({
    secure: true,
    key: readFileSync(tls.keyFile),
    cert: readFileSync(tls.certFile),
    authMethods: ['PLAIN'],
    ...(options.size ? { size: options.size } : {}),
    logger: false,
    onAuth: (_auth, _session, cb) => cb(null, { user: 'relay@clinic.example' }),
    onData(stream, session, cb) {
      state.dataStarted++;
      const hash = createHash('sha256');
      let size = 0;
      let next = options.onBytes?.every ?? Infinity;
      stream.on('data', (c: Buffer) => {
        hash.update(c);
        size += c.length;
        if (size >= next && options.onBytes) {
          next += options.onBytes.every;
          options.onBytes.run(size);
        }
      });
      stream.on('end', () => {
        received.push({ to: session.envelope.rcptTo.map((r) => r.address), size, sha256: hash.digest('hex') });
        cb(null, 'OK 1700000000 abc123 - gsmtp');
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const passwordFile = path.join(dir, 'app-password');
  writeFileSync(passwordFile, 'secret\n', { mode: 0o600 });
  const port = (server.server.address() as { port: number }).port;
  const listening = { host: '127.0.0.1', port, secure: true, caFile: tls.certFile };
  const logger = createLogger({ level: 'silent' });
  const transport =
    options.via === 'smtp-relay'
      ? createSmtpRelayTransport({ settings: { ...listening, user: 'relay@clinic.example', passwordFile }, keyPath: 'workspaces[0].smtpRelay', logger })
      : createSmtpTransport({ smtp: { ...listening, user: 'relay@clinic.example', appPasswordFile: passwordFile }, keyPath: 'workspaces[0].smtp', logger });
  return {
    received,
    get dataStarted() {
      return state.dataStarted;
    },
    transport,
    async close() {
      await transport.close?.();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
