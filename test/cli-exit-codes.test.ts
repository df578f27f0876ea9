/**
 * README's exit-code table, command by command: usage mistakes 64 (EX_USAGE) everywhere, a
 * missing config 78 (EX_CONFIG), `status` 3 when nothing runs, --help and --version 0. The
 * program is the one the binary runs (src/cli/program.ts), in this process for speed; the last
 * test runs the real binary.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './support/daemon.js';
import { removeDir, tempDir } from './support/harness.js';
import { runProgram } from './support/program.js';

const dir = tempDir('wr-exit-');
afterAll(() => removeDir(dir));
const missing = path.join(dir, 'missing.yaml');
const VERSION = (JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../package.json'), 'utf8')) as { version: string }).version;

const run = runProgram;

describe('exit codes', () => {
  it('--version prints the package version, exit 0; --help exits 0', async () => {
    expect(await run(['--version'])).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: workspace-relay \[options\] \[command\]/);
  });

  it.each([
    ['no command at all', []],
    ['an unknown command', ['frobnicate']],
    ['an unknown global option', ['--bogus', 'status']],
    ['serve: an unknown option', ['serve', '--bogus']],
    ['serve: a --log-format it does not know', ['serve', '--log-format', 'xml']],
    ['status: an unknown option', ['status', '--bogus']],
    ['check: an unknown option', ['check', '--bogus']],
    ['send-test: --to missing', ['send-test', '--from', 'a@clinic.example']],
    ['send-test: --from missing', ['send-test', '--to', 'a@clinic.example']],
    ['send-test: --server not host:port', ['--config', missing, 'send-test', '--from', 'a@clinic.example', '--to', 'b@clinic.example', '--server', 'nowhere']],
    ['hash-password: an argument (a password on the command line)', ['hash-password', 'secret']],
    ['pretty-logs: an argument', ['pretty-logs', 'file.log']],
    ['queue: no subcommand', ['queue']],
    ['queue: an unknown subcommand', ['queue', 'frobnicate']],
    ['queue show: no id', ['queue', 'show']],
    ['queue hold: not a queue id', ['--config', missing, 'queue', 'hold', '../../etc/passwd']],
    ['queue find: no criteria', ['--config', missing, 'queue', 'find']],
    ['smime: no subcommand', ['smime']],
    ['smime list: --user missing', ['smime', 'list']],
    ['smime insert: --p12 missing', ['smime', 'insert', '--user', 'a@clinic.example']],
    ['smime report: a --warn-days that is not a number', ['--config', missing, 'smime', 'report', 'a@clinic.example', '--warn-days', 'soon']],
  ])('64 (EX_USAGE) for %s', async (_what, args) => {
    const r = await run(args);
    expect(r.code).toBe(64);
    expect(r.stderr).not.toBe('');
  });

  it.each([['serve'], ['status'], ['check'], ['send-test', '--from', 'a@clinic.example', '--to', 'b@clinic.example'], ['queue', 'list'], ['smime', 'list', '--user', 'a@clinic.example']])(
    '78 (EX_CONFIG) when the config file cannot be read: %s',
    async (...args) => {
      const r = await run(['--config', missing, ...args]);
      expect(r.code).toBe(78);
      expect(r.stderr).toMatch(/config error: .*cannot read config file .*missing\.yaml/);
    },
  );

  it('the binary itself: 64 for a usage mistake with the message on stderr, and --version', async () => {
    const bad = await runCli(['frobnicate']);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toMatch(/unknown command 'frobnicate'/);
    const v = await runCli(['-V']);
    expect(v).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
  });
});
