/** `workspace-relay hash-password`: the hash a device account's config entry needs. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsePasswordHash, verifyPassword } from '../src/auth/index.js';
import { hashPasswordCommand } from '../src/cli/hash-password.js';

const CLI = path.resolve(import.meta.dirname, '../src/cli/index.ts');

function cli(args: string[], stdin: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

describe('workspace-relay hash-password', () => {
  it('reads the first line of stdin and prints a scrypt hash that verifies it', async () => {
    const r = await cli(['hash-password'], 'Scan ner-Pw!\nignored second line\n');
    expect(r.code).toBe(0);
    const hash = r.stdout.trim();
    expect(hash).toMatch(/^scrypt\$N=32768,r=8,p=1\$/);
    expect(parsePasswordHash(hash)).not.toBeNull();
    expect(await verifyPassword('Scan ner-Pw!', hash)).toBe(true);
    expect(r.stdout + r.stderr).not.toContain('Scan ner-Pw!');
  }, 30_000);

  it('never takes the password from the command line', async () => {
    const r = await cli(['hash-password', 'secret-on-argv'], '');
    expect(r.code).not.toBe(0);
    expect(r.stdout).not.toMatch(/scrypt\$/);
    expect(r.stderr).toMatch(/too many arguments/);
  }, 30_000);

  it('refuses an empty password', async () => {
    const r = await cli(['hash-password'], '\n');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/empty password/);
  }, 30_000);

  it('at a terminal: asks twice without echo and refuses two different answers', async () => {
    const answers = ['one', 'two'];
    const out: string[] = [];
    const err: string[] = [];
    const io = { interactive: true, prompt: () => Promise.resolve(answers.shift()!), readStdin: () => Promise.reject(new Error('not used')), out: (l: string) => out.push(l), err: (l: string) => err.push(l) };
    expect(await hashPasswordCommand(io)).toBe(1);
    expect(out).toEqual([]);
    expect(err[0]).toMatch(/differ/);
    answers.push('same', 'same');
    expect(await hashPasswordCommand(io)).toBe(0);
    expect(await verifyPassword('same', out[0]!)).toBe(true);
  });
});
