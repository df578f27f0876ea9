/**
 * A real relay for the edge tests: fake Google with two practices' users, listeners and device
 * accounts as a test needs them, a test certificate, and a log capture.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { Relay } from '../../src/app.js';
import { hashPassword } from '../../src/auth/index.js';
import type { Config, ConfigInput } from '../../src/config/index.js';
import { type GoogleEnv, LogCapture, gmailConfig, removeDir, startGoogle, startTestRelay, tempDir } from './harness.js';
import { makeTestCert, type TestCert } from './tls.js';

type ListenInput = NonNullable<ConfigInput['listen']>[number];
type DeviceInput = NonNullable<ConfigInput['devices']>[number];

/** Cheap scrypt parameters for tests (the hash format and checks are the production ones). */
export const TEST_SCRYPT = { N: 1024, r: 8, p: 1 };

export const deviceHash = (password: string) => hashPassword(password, TEST_SCRYPT);

export interface EdgeEnv {
  dir: string;
  google: GoogleEnv;
  relay: Relay;
  config: Config;
  logs: LogCapture;
  cert: TestCert;
  /** Port of each listener, in order. */
  ports: number[];
  stop(): Promise<void>;
  /** Files in the spool's state, data and tmp directories (what a refusal must not leave behind). */
  spoolFiles(): string[];
}

export interface EdgeOptions {
  listen: (cert: TestCert) => ListenInput[];
  devices?: DeviceInput[];
  limits?: ConfigInput['limits'];
  auth?: ConfigInput['auth'];
  /** More senders.map entries for workspace clinic. */
  clinicSenders?: Record<string, string>;
  /** Also a second practice, "north" (north.example), on the same fake Google. */
  twoPractices?: boolean;
  cert?: TestCert;
}

export async function startEdge(options: EdgeOptions): Promise<EdgeEnv> {
  const dir = tempDir('wr-edge-');
  const cert = options.cert ?? makeTestCert(dir);
  const google = await startGoogle(dir, ['alice@clinic.example', 'bob@clinic.example', 'scans@clinic.example', 'fax@clinic.example', 'nina@north.example', 'ned@north.example']);
  const doc = gmailConfig(dir, google, { listen: options.listen(cert), devices: options.devices ?? [] });
  if (options.limits) doc.limits = options.limits;
  if (options.auth) doc.auth = options.auth;
  if (options.clinicSenders) Object.assign(doc.workspaces[0]!.senders!.map!, options.clinicSenders);
  if (options.twoPractices) {
    doc.workspaces.push({
      name: 'north',
      domains: ['north.example'],
      transport: 'gmail-api',
      gmailApi: { serviceAccountKeyFile: google.keyFile },
      senders: { map: { 'scanner@printer.local': 'ned@north.example' }, default: null },
    });
  }
  const logs = new LogCapture();
  const { relay, config } = await startTestRelay(doc, logs);
  return {
    dir,
    google,
    relay,
    config,
    logs,
    cert,
    ports: relay.listeners.map((l) => l.address.port),
    async stop() {
      await relay.stop();
      await google.fake.close();
      removeDir(dir);
    },
    spoolFiles() {
      const root = path.join(dir, 'spool');
      const out: string[] = [];
      for (const sub of ['queue', 'active', 'data', 'tmp', 'dead', 'hold']) {
        try {
          out.push(...readdirSync(path.join(root, sub)).map((f) => `${sub}/${f}`));
        } catch {
          /* not there */
        }
      }
      return out;
    },
  };
}

/** Every address in the To, Cc and Bcc fields of a raw message (unfolded, lowercased). */
export function headerAddresses(raw: Buffer): string[] {
  const end = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, end < 0 ? raw.length : end).toString('latin1').replace(/\r\n[ \t]/g, ' ');
  const out: string[] = [];
  for (const line of head.split('\r\n')) {
    const m = /^(to|cc|bcc)\s*:(.*)$/i.exec(line);
    if (m) out.push(...(m[2]!.match(/[^\s<>,;:()"]+@[^\s<>,;:()"]+/g) ?? []).map((a) => a.toLowerCase()));
  }
  return out;
}
