/**
 * Builds a real relay for a test: temp spool, config pointing at the fake Google, a logger that
 * records every line. Only the edges are fake (Google; optionally the clock).
 */
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach } from 'vitest';
import { startRelay, type Relay, type RelayOptions } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config, ConfigInput } from '../../src/config/index.js';
import { createLogger, type Logger } from '../../src/log.js';
import { GoogleCredentials, loadServiceAccountKey } from '../../src/google/index.js';
import { GMAIL_SEND_SCOPE } from '../../src/config/schema.js';
import { FakeGoogle, createTestServiceAccount, type TestServiceAccount } from './fake-google.js';

export interface LogLine {
  level: string;
  event?: string;
  msg?: string;
  [k: string]: unknown;
}

export class LogCapture {
  readonly lines: LogLine[] = [];
  readonly raw: string[] = [];
  readonly logger: Logger;
  constructor() {
    const lines = this.lines;
    const raw = this.raw;
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString().split('\n').filter(Boolean)) {
          raw.push(l);
          lines.push(JSON.parse(l) as LogLine);
        }
        cb();
      },
    });
    this.logger = createLogger({ level: 'debug' }, sink);
  }
  events(name: string): LogLine[] {
    return this.lines.filter((l) => l.event === name);
  }
  /** Resolves when a line with this event has been logged (polling). */
  async waitFor(name: string, count = 1, timeoutMs = 15_000): Promise<LogLine[]> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const found = this.events(name);
      if (found.length >= count) return found;
      await sleep(20);
    }
    throw new Error(`timed out waiting for ${count} × ${name}; seen: ${[...new Set(this.lines.map((l) => l.event))].join(', ')}`);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A loopback port nothing listens on (bound, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export async function waitUntil(cond: () => boolean | Promise<boolean>, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await cond()) return;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

export interface GoogleEnv {
  fake: FakeGoogle;
  sa: TestServiceAccount;
  keyFile: string;
}

/** A fake Google with one service account authorised for gmail.send and a few users. */
export async function startGoogle(dir: string, users = ['alice@clinic.example', 'bob@clinic.example', 'scans@clinic.example']): Promise<GoogleEnv> {
  const fake = await FakeGoogle.start();
  const sa = createTestServiceAccount();
  fake.addServiceAccount(sa);
  fake.authorize(sa.clientId, [GMAIL_SEND_SCOPE]);
  fake.addUser(...users);
  return { fake, sa, keyFile: sa.writeKeyFile(dir) };
}

/** The relay's credentials for the fake's service account (gmail.send, tokens from the fake). */
export function credentialsFor(google: GoogleEnv): GoogleCredentials {
  return new GoogleCredentials({ key: loadServiceAccountKey(google.keyFile, 'gmailApi.serviceAccountKeyFile'), scopes: [GMAIL_SEND_SCOPE], tokenUrl: google.fake.tokenUrl });
}

export function tempDir(prefix = 'wr-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * The operations listener of a test relay: loopback, an ephemeral port (tests run side by side;
 * the default 9325 would collide). Find it in relay.http.addresses.
 */
export const TEST_HTTP = { listen: [{ host: '127.0.0.1', port: 0 }] };

/** A config document for one gmail-api workspace "clinic" on an ephemeral port. */
export function gmailConfig(dir: string, google: GoogleEnv, extra: Partial<ConfigInput> = {}): ConfigInput {
  return {
    hostname: 'relay.test',
    listen: [{ host: '127.0.0.1', port: 0 }],
    workspaces: [
      {
        name: 'clinic',
        domains: ['clinic.example'],
        transport: 'gmail-api',
        gmailApi: { serviceAccountKeyFile: google.keyFile },
        senders: { map: { 'scanner@printer.local': 'scans@clinic.example' }, default: null },
      },
    ],
    queue: { dir: path.join(dir, 'spool'), retrySchedule: '200ms', heldRetry: '300ms', userRate: 100 },
    google: { tokenUrl: google.fake.tokenUrl, apiRootUrl: google.fake.apiRootUrl },
    http: TEST_HTTP,
    ...extra,
  };
}

/** `options`: e.g. a TestClock (test/support/test-clock.ts) to drive the schedule. */
export async function startTestRelay(
  doc: ConfigInput,
  logs = new LogCapture(),
  options: Omit<Partial<RelayOptions>, 'config' | 'logger'> = {},
): Promise<{ relay: Relay; config: Config; logs: LogCapture; port: number }> {
  const config = parseConfig({ http: TEST_HTTP, ...doc });
  const relay = await startRelay({ ...options, config, logger: logs.logger });
  return { relay, config, logs, port: relay.listeners[0]!.address.port };
}

export interface RelayEnv {
  /** A fresh temp dir per test (spool, keys). */
  dir: string;
  /** The fake Google of this test (users alice, bob, scans @clinic.example; gmail.send authorised). */
  google: GoogleEnv;
  /** Set it to the relay the test starts: it is stopped after the test. */
  relay: Relay | undefined;
}

/** Per-test dir, fake Google and relay cleanup, for a describe block. */
export function relayEnv(): RelayEnv {
  const env = { dir: '', google: undefined, relay: undefined } as unknown as RelayEnv;
  beforeEach(async () => {
    env.dir = tempDir();
    env.google = await startGoogle(env.dir);
  });
  afterEach(async () => {
    await env.relay?.stop();
    env.relay = undefined;
    await env.google.fake.close();
    removeDir(env.dir);
  });
  return env;
}
