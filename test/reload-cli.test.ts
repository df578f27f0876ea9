/**
 * `workspace-relay reload` against the real daemon (a process of its own, as systemd runs it):
 * the same reload as SIGHUP, each practice file on its own, and what happened said per file; and
 * the gauges that name a disabled or kept practice on /metrics.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { startRelay, type Relay } from '../src/app.js';
import { loadConfig } from '../src/config/index.js';
import { startDaemon, type Daemon } from './support/daemon.js';
import { LogCapture, removeDir, startGoogle, tempDir, waitUntil, type GoogleEnv } from './support/harness.js';
import { runProgram } from './support/program.js';

let dir: string;
let google: GoogleEnv;
let daemon: Daemon | undefined;
let relay: Relay | undefined;

function writeYaml(rel: string, doc: unknown): string {
  const file = path.join(dir, rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, typeof doc === 'string' ? doc : YAML.stringify(doc), { mode: 0o600 });
  return file;
}

/** A practice file: gmail-api workspaces, each with its own loopback listener. */
function practice(names: string[], keyFile = google.keyFile) {
  return {
    workspaces: names.map((name) => ({ name, domains: [`${name}.example`], transport: 'gmail-api', gmailApi: { serviceAccountKeyFile: keyFile } })),
    listen: names.map((name) => ({ name, host: '127.0.0.1', port: 0, ...(names.length > 1 ? { workspace: name } : {}) })),
  };
}

function mainFile(): string {
  return writeYaml('config.yaml', {
    hostname: 'relay.test',
    include: ['conf.d/*.yaml'],
    listen: [],
    http: { listen: [{ host: '127.0.0.1', port: 0 }] },
    queue: { dir: path.join(dir, 'spool'), retrySchedule: '200ms' },
    google: { tokenUrl: google.fake.tokenUrl, apiRootUrl: google.fake.apiRootUrl },
  });
}

beforeEach(async () => {
  dir = tempDir('wr-reload-cli-');
  google = await startGoogle(dir, ['alice@alpha.example', 'carol@beta.example']);
});
afterEach(async () => {
  if (daemon) {
    daemon.child.kill('SIGTERM');
    await daemon.exited;
    daemon = undefined;
  }
  await relay?.stop();
  relay = undefined;
  await google.fake.close();
  removeDir(dir);
});

describe('workspace-relay reload', () => {
  it('not running: exit 3 and a plain sentence (also as JSON)', async () => {
    writeYaml('conf.d/alpha.yaml', practice(['alpha']));
    const file = mainFile();
    const r = await runProgram(['--config', file, 'reload']);
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.stderr).toMatch(/^workspace-relay is not running \(nothing answers on .*control\.sock\): nothing to reload/);
    const j = await runProgram(['--config', file, 'reload', '--json']);
    expect(j.code).toBe(3);
    expect(JSON.parse(j.stdout)).toMatchObject({ outcome: 'unknown', code: 'control.unavailable' });
  });

  it('applies a changed practice file, keeps a broken one on its running settings (exit 1), then applies all (exit 0)', async () => {
    writeYaml('conf.d/alpha.yaml', practice(['alpha']));
    writeYaml('conf.d/beta.yaml', practice(['beta']));
    const file = mainFile();
    daemon = await startDaemon(file);
    const reload = (...args: string[]) => runProgram(['--config', file, 'reload', ...args]);

    // alpha gains a workspace; beta's file is broken YAML
    writeYaml('conf.d/alpha.yaml', practice(['alpha', 'delta']));
    writeYaml('conf.d/beta.yaml', 'workspaces: [ { name: beta');
    const r = await reload('--json');
    expect(r.code).toBe(1);
    const result = JSON.parse(r.stdout);
    expect(result.outcome, JSON.stringify(result.practices)).toBe('partial');
    expect(result.practices[0].reason, result.practices[0].reason).toBeNull();
    expect(result.practices.map((p: { file: string; state: string; workspaces: string[] }) => [path.basename(p.file), p.state, p.workspaces])).toEqual([
      ['alpha.yaml', 'applied', ['alpha', 'delta']],
      ['beta.yaml', 'kept', ['beta']],
    ]);
    expect(result.practices[1].reason).toMatch(/beta\.yaml/);
    await waitUntil(() => daemon!.lines.some((l) => l.event === 'practice.reload_refused' && String(l.file).endsWith('beta.yaml')));

    // the relay runs with the new alpha and the old beta
    const s = JSON.parse((await runProgram(['--config', file, 'status', '--json'])).stdout);
    expect(s.workspaces.map((w: { name: string }) => w.name).sort()).toEqual(['alpha', 'beta', 'delta']);

    // the human view names the kept file and why
    writeYaml('conf.d/beta.yaml', 'workspaces: [ { name: beta');
    const text = await reload();
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/beta\.yaml: refused, running on the previous settings: /);

    // fixed: everything applies
    writeYaml('conf.d/beta.yaml', practice(['beta']));
    const ok = await reload();
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^config reloaded: everything applied/);
  });

  it('a config refused as a whole: exit 1 with the error naming the key; the old config stays', async () => {
    writeYaml('conf.d/alpha.yaml', practice(['alpha']));
    const file = mainFile();
    daemon = await startDaemon(file);
    const good = (await runProgram(['--config', file, 'status', '--json'])).stdout;
    writeFileSync(file, `hostname: relay.test\ninclude: [conf.d/*.yaml]\nlisten: []\nqueue: { dir: ${path.join(dir, 'spool')}, retrySchedule: soon }\n`);
    const r = await runProgram(['--config', file, 'reload', '--json']);
    expect(r.code).toBe(1);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ outcome: 'refused', error: { code: 'config.invalid' } });
    expect(result.error.message).toMatch(/queue\.retrySchedule/);
    const text = await runProgram(['--config', file, 'reload']);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^new config refused; the old one stays in force/);
    // still running, on the old config
    expect(JSON.parse(good).workspaces.map((w: { name: string }) => w.name)).toEqual(['alpha']);
    expect(daemon.child.exitCode).toBeNull();
  });
});

describe('practice gauges on /metrics', () => {
  it('workspace_relay_practice_disabled is 1 for a practice whose key is missing, 0 for the others', async () => {
    writeYaml('conf.d/alpha.yaml', practice(['alpha']));
    writeYaml('conf.d/beta.yaml', practice(['beta'], path.join(dir, 'no-such-key.json')));
    const logs = new LogCapture();
    relay = await startRelay({ config: loadConfig(mainFile()), logger: logs.logger });
    const text = await (await fetch(`http://127.0.0.1:${relay.http!.addresses[0]!.port}/metrics`)).text();
    const value = (name: string, ws: string) => text.match(new RegExp(`^workspace_relay_${name}\\{workspace="${ws}",file="[^"]*${ws}\\.yaml"\\} (\\d+)$`, 'm'))?.[1];
    expect(value('practice_disabled', 'beta')).toBe('1');
    expect(value('practice_disabled', 'alpha')).toBe('0');
    expect(value('practice_reload_refused', 'alpha')).toBe('0');
  });
});
