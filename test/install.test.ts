/**
 * README "Install", as an admin performs it, but for systemd and sudo: the release tarball made
 * with `npm pack`, installed with `npm install --global --prefix` (into a scratch directory
 * instead of /opt/workspace-relay), README's config written with its paths moved into that
 * directory, and the installed `workspace-relay` started and used the way the systemd unit and the
 * admin do. The install is offline: the tarball bundles its production dependencies.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { SYSTEM_CONFIG_PATH } from '../src/cli/context.js';
import { type GoogleEnv, removeDir, startGoogle, tempDir, waitUntil } from './support/harness.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const run = promisify(execFile);

/** README's config: the heredoc written to /etc/workspace-relay/config.yaml in "Install". */
function readmeConfig(readme: string): string {
  const m = /sudo tee \/etc\/workspace-relay\/config\.yaml >\/dev\/null <<'EOF'\n([\s\S]*?)\nEOF\n/.exec(readme);
  if (!m) throw new Error('README "Install" no longer writes /etc/workspace-relay/config.yaml with a heredoc');
  return m[1]!;
}

describe('install from the release tarball (README "Install")', () => {
  let dir: string;
  let prefix: string;
  let etc: string;
  let state: string;
  let pkg: string;
  let env: NodeJS.ProcessEnv;
  let google: GoogleEnv;
  let daemon: ChildProcess | undefined;

  /** The installed command, found on PATH as the admin's shell finds it. */
  const relay = (args: string[], input?: string) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn('workspace-relay', args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
      child.stdin.end(input ?? '');
    });

  beforeAll(async () => {
    dir = tempDir('wr-install-');
    // The release tarball, as `npm pack` in a checkout makes it (prepack builds dist/).
    await run('npm', ['pack', '--pack-destination', dir, '--no-audit', '--no-fund'], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
    const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz'));
    expect(tgz).toBe(`workspace-relay-${VERSION}.tgz`);
    // Step 2, with a scratch prefix for /opt/workspace-relay; --offline proves nothing is fetched.
    prefix = path.join(dir, 'opt', 'workspace-relay');
    await run('npm', ['install', '--global', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', path.join(dir, tgz!)], { cwd: dir, maxBuffer: 64 * 1024 * 1024 });
    pkg = path.join(prefix, 'lib', 'node_modules', 'workspace-relay');
    const { WORKSPACE_RELAY_CONFIG: _ignored, ...rest } = process.env;
    env = { ...rest, PATH: [path.join(prefix, 'bin'), path.dirname(process.execPath), process.env.PATH].join(path.delimiter) };
    // Step 3: the directories (the user is the one running the tests).
    etc = path.join(dir, 'etc', 'workspace-relay');
    state = path.join(dir, 'var', 'lib', 'workspace-relay');
    mkdirSync(etc, { recursive: true, mode: 0o750 });
    mkdirSync(state, { recursive: true, mode: 0o700 });
    google = await startGoogle(dir, ['alice@lab.example', 'bob@lab.example']);
  }, 300_000);

  afterAll(async () => {
    daemon?.kill('SIGKILL');
    await google?.fake.close();
    if (dir) removeDir(dir);
  });

  it('installs built code and production dependencies only, with nothing to build', () => {
    expect(existsSync(path.join(pkg, 'dist', 'cli', 'index.js'))).toBe(true);
    expect(existsSync(path.join(pkg, 'src'))).toBe(false);
    for (const file of ['config/workspace-relay.example.yaml', 'systemd/workspace-relay.service', 'compose.yaml', 'README.md', 'docs/failure-kinds.md']) {
      expect(existsSync(path.join(pkg, file)), file).toBe(true);
    }
    const modules = path.join(pkg, 'node_modules');
    for (const dep of ['pino-pretty', 'csv-parse', 'google-auth-library', 'smtp-server']) expect(existsSync(path.join(modules, dep)), dep).toBe(true);
    for (const dev of ['vitest', 'typescript', 'tsx', 'eslint', 'mailparser', '@zone-eu/mailsplit', 'fast-check']) expect(existsSync(path.join(modules, dev)), dev).toBe(false);
    // One google-auth-library (the checkout's override, kept by bundling): two make two JWT classes.
    expect(existsSync(path.join(modules, 'googleapis-common', 'node_modules', 'google-auth-library'))).toBe(false);
    const scripts = (JSON.parse(readFileSync(path.join(pkg, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    for (const hook of ['preinstall', 'install', 'postinstall', 'prepare']) expect(scripts[hook], hook).toBeUndefined();
  });

  it('puts workspace-relay on PATH: --version', async () => {
    expect(existsSync(path.join(prefix, 'bin', 'workspace-relay'))).toBe(true);
    expect(await relay(['--version'])).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
    // the path the systemd unit starts
    const unit = readFileSync(path.join(pkg, 'systemd', 'workspace-relay.service'), 'utf8');
    expect(unit).toMatch(/^ExecStart=\/opt\/workspace-relay\/bin\/workspace-relay serve\b/m);
  });

  it(`with no config anywhere, an installed copy looks for ${SYSTEM_CONFIG_PATH}, never the example`, async () => {
    const r = await relay(['status']);
    if (existsSync(SYSTEM_CONFIG_PATH)) {
      expect(r.stderr).not.toMatch(/example config/);
    } else {
      expect(r.code).toBe(78);
      expect(r.stderr).toMatch(/no config file: \/etc\/workspace-relay\/config\.yaml does not exist.*--config PATH/);
      expect(r.stderr).not.toMatch(/using this checkout's example/);
    }
  });

  it("runs README's config: relays to the outbox and to Gmail, answers status, stops cleanly", async () => {
    // Step 4: README's config, its /etc and /var/lib paths moved into the scratch directory, on an
    // ephemeral port; plus a second workspace that sends through the (fake) Gmail API.
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const text = readmeConfig(readme)
      .replaceAll('/var/lib/workspace-relay', state)
      .replaceAll('/etc/workspace-relay', etc)
      .replace(/port: 25\b/, 'port: 0');
    const doc = YAML.parse(text) as { workspaces: unknown[]; google?: unknown };
    const key = path.join(etc, 'lab-sa.json');
    copyFileSync(google.keyFile, key);
    chmodSync(key, 0o600);
    doc.workspaces.push({ name: 'lab', domains: ['lab.example'], transport: 'gmail-api', gmailApi: { serviceAccountKeyFile: key } });
    doc.google = { tokenUrl: google.fake.tokenUrl, apiRootUrl: google.fake.apiRootUrl };
    (doc as { http?: unknown }).http = { listen: [{ host: '127.0.0.1', port: 0 }] }; // not 9325: tests run side by side
    const configFile = path.join(etc, 'config.yaml');
    writeFileSync(configFile, YAML.stringify(doc), { mode: 0o640 });
    env.WORKSPACE_RELAY_CONFIG = configFile; // as the unit sets it

    const check = await relay(['check', 'alice@lab.example']);
    expect(check.stdout).toMatch(/ok +alice@lab\.example/);
    expect(check.code).toBe(0);

    // Step 5: what the unit runs.
    daemon = spawn('workspace-relay', ['serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: Record<string, unknown>[] = [];
    let buf = '';
    daemon.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        lines.push(JSON.parse(buf.slice(0, i)) as Record<string, unknown>); // JSON lines: stdout is no terminal
        buf = buf.slice(i + 1);
      }
    });
    const exited = new Promise<number | null>((resolve) => daemon!.on('exit', resolve));
    await waitUntil(() => lines.some((l) => l.event === 'listener.started'), 30_000, 'the installed relay listening');
    const port = Number(lines.find((l) => l.event === 'listener.started')!.port);
    // what the image's HEALTHCHECK asks
    const health = await fetch(`http://127.0.0.1:${Number(lines.find((l) => l.event === 'http.started')!.port)}/healthz`);
    expect(health.status).toBe(200);

    const dry = await relay(['send-test', '--from', 'alice@clinic.example', '--to', 'bob@clinic.example', '--server', `127.0.0.1:${port}`, '--json']);
    expect(dry.code).toBe(0);
    const dryId = (JSON.parse(dry.stdout) as { queueId: string }).queueId;
    await waitUntil(() => existsSync(path.join(state, 'outbox', `${dryId}.eml`)), 15_000, 'the dry-run message in the outbox');

    const real = await relay(['send-test', '--from', 'alice@lab.example', '--to', 'bob@lab.example', '--server', `127.0.0.1:${port}`]);
    expect(real.code).toBe(0);
    await waitUntil(() => google.fake.sent.some((s) => s.user === 'alice@lab.example'), 15_000, 'the message at the fake Gmail');

    const status = await relay(['status', '--json']);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ running: true, pid: daemon.pid, version: VERSION, config: configFile, listeners: [{ port }] });
    expect(existsSync(path.join(state, 'spool', 'control.sock'))).toBe(true);

    daemon.kill('SIGTERM');
    expect(await exited).toBe(0);
    daemon = undefined;
    expect((await relay(['status'])).code).toBe(3);
  }, 120_000); // seven processes of the installed copy, one after the other

  it('reads its JSON logs for people with pino-pretty from the installed package', async () => {
    const line = JSON.stringify({ level: 'error', time: '2026-01-01T10:00:00.000Z', name: 'workspace-relay', event: 'delivery.held', queueId: '1M942FC6C0BBR0', workspace: 'clinic', code: 'delivery.token.unauthorized_client', msg: 'held' });
    const r = await relay(['pretty-logs'], `${line}\n`);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ERROR.*delivery\.held 1M942FC6C0BBR0 \[clinic\] delivery\.token\.unauthorized_client: held/);
  });
});
