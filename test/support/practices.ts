/**
 * A hosted relay's config directory for tests: the main file with `include: [conf.d/*.yaml]` and
 * one practice file per practice, each a gmail-api workspace (the fake Google's key) with its own
 * loopback listener named after it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { afterEach, beforeEach } from 'vitest';
import { startRelay, type Relay } from '../../src/app.js';
import type { Config } from '../../src/config/index.js';
import { SmtpClient, message } from './smtp-client.js';
import { LogCapture, TEST_HTTP, removeDir, startGoogle, tempDir, type GoogleEnv } from './harness.js';

export interface PracticeExtra {
  keyFile?: string;
  domains?: string[];
  limits?: object;
  /** The practice's listener's port (default 0: ephemeral). */
  port?: number;
  devices?: object[];
  /** The workspace's own settings in place of gmail-api with the fake's key: its transport and the files it names (`{ transport: 'smtp', smtp: {…} }`). */
  workspace?: object;
  /** The practice's listener's `tls:` (default none). */
  tls?: object;
}

export class PracticeDir {
  constructor(
    readonly dir: string,
    readonly google: GoogleEnv,
  ) {}

  /** Write `doc` (YAML, or text as is) at `rel` under the directory; the absolute path. */
  write(rel: string, doc: unknown): string {
    const file = path.join(this.dir, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, typeof doc === 'string' ? doc : YAML.stringify(doc));
    return file;
  }

  /** A practice file: one workspace (gmail-api unless `extra.transport`) with its own loopback listener. */
  practice(name: string, extra: PracticeExtra = {}) {
    return {
      workspaces: [
        {
          name,
          domains: extra.domains ?? [`${name}.example`],
          ...(extra.workspace ?? { transport: 'gmail-api', gmailApi: { serviceAccountKeyFile: extra.keyFile ?? this.google.keyFile } }),
          ...(extra.limits ? { limits: extra.limits } : {}),
        },
      ],
      listen: [{ name, host: '127.0.0.1', port: extra.port ?? 0, ...(extra.tls ? { tls: extra.tls } : {}) }],
      ...(extra.devices ? { devices: extra.devices } : {}),
    };
  }

  /** The main file (shared settings; `extra` merged in, its `queue` into the queue settings), its path. */
  main(extra: { queue?: object; [key: string]: unknown } = {}): string {
    const { queue, ...rest } = extra;
    return this.write('config.yaml', {
      hostname: 'relay.test',
      include: ['conf.d/*.yaml'],
      listen: [],
      queue: { dir: path.join(this.dir, 'spool'), retrySchedule: '200ms', heldRetry: '300ms', userRate: 100, ...queue },
      google: { tokenUrl: this.google.fake.tokenUrl, apiRootUrl: this.google.fake.apiRootUrl },
      http: TEST_HTTP, // an ephemeral port: the default 9325 would collide with tests running beside it
      ...rest,
    });
  }

  /** Messages the fake Google took from `user`. */
  sentBy(user: string): number {
    return this.google.fake.sent.filter((s) => s.user === user).length;
  }
}

/** The port of the listener serving `workspace` (each practice's listener is named after it). */
export const portOf = (r: Relay, workspace: string) => r.listeners.find((l) => l.name === workspace)!.address.port;

/** One message from `from` to `to` over a new connection: the final reply code. */
export async function send(port: number, from: string, to: string): Promise<number> {
  const c = await SmtpClient.open(port);
  try {
    return (await c.send(from, [to], message({ From: from, To: to, Subject: 'x' }))).code;
  } finally {
    c.destroy();
  }
}

/** The value of a practice gauge (practice_disabled, practice_reload_refused) of `workspace` on /metrics. */
export async function practiceGauge(r: Relay, name: string, workspace: string): Promise<string | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${r.http!.addresses[0]!.port}/metrics`)).text();
  return text.match(new RegExp(`^workspace_relay_${name}\\{workspace="${workspace}",file="[^"]*"\\} (\\d+)$`, 'm'))?.[1];
}

/** Each test's directory, fake Google, practice files, logs and relay (set up and taken down by usePracticeRig). */
export class PracticeRig {
  dir!: string;
  google!: GoogleEnv;
  files!: PracticeDir;
  logs!: LogCapture;
  private relay: Relay | undefined;

  /** Start a relay on `config`, logging to `logs`; stopped after the test (or by stop()). */
  async start(config: Config): Promise<Relay> {
    this.relay = await startRelay({ config, logger: this.logs.logger });
    return this.relay;
  }

  async stop(): Promise<void> {
    await this.relay?.stop();
    this.relay = undefined;
  }
}

/** A PracticeRig made afresh for each test of the file (`users`: the fake Google's); `after` runs before it is taken down. */
export function usePracticeRig(prefix: string, users: string[], after?: () => Promise<unknown>): PracticeRig {
  const rig = new PracticeRig();
  beforeEach(async () => {
    rig.dir = tempDir(prefix);
    rig.google = await startGoogle(rig.dir, users);
    rig.files = new PracticeDir(rig.dir, rig.google);
    rig.logs = new LogCapture();
  });
  afterEach(async () => {
    await rig.stop();
    await after?.();
    await rig.google.fake.close();
    removeDir(rig.dir);
  });
  return rig;
}
