/**
 * The control socket: who may connect (0600), the lock it is (one daemon per spool; a daemon
 * waits for a queue CLI that is changing the spool directly), stale sockets, and the protocol.
 */
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ControlError, ControlInUse, ControlServer, controlRequest } from '../src/control/index.js';
import { SpoolKeys } from '../src/crypt/index.js';
import { messageSource } from '../src/spool/index.js';
import { removeDir, sleep, tempDir } from './support/harness.js';

let dir: string;
let servers: ControlServer[];
beforeEach(() => {
  dir = tempDir('wr-ctl-');
  servers = [];
});
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  removeDir(dir);
});

async function acquire(socket: string, owner: 'daemon' | 'cli' = 'daemon', waitMs = 0): Promise<ControlServer> {
  const s = await ControlServer.acquire(socket, { owner, waitMs });
  servers.push(s);
  return s;
}

const sock = () => path.join(dir, 'spool', 'control.sock');

/** Send raw bytes, return everything the server answers before closing. */
function raw(socket: string, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(socket);
    let out = '';
    c.on('data', (d: Buffer) => (out += d.toString()));
    c.on('close', () => resolve(out));
    c.on('error', reject);
    c.write(data);
  });
}

describe('the control socket as the spool lock', () => {
  it('is created 0600 in a 0700 directory, and removed on close', async () => {
    const s = await acquire(sock());
    expect(lstatSync(sock()).isSocket()).toBe(true);
    expect(statSync(sock()).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(sock())).mode & 0o777).toBe(0o700);
    await s.close();
    expect(existsSync(sock())).toBe(false);
    await expect(controlRequest(sock(), { op: 'ping' })).rejects.toMatchObject({ code: 'control.unavailable' });
  });

  it('a second daemon on the same spool is refused, naming the one that runs', async () => {
    await acquire(sock(), 'daemon');
    const err = (await ControlServer.acquire(sock(), { owner: 'daemon' }).catch((e: unknown) => e)) as ControlInUse;
    expect(err).toBeInstanceOf(ControlInUse);
    expect(err.message).toContain(`a workspace-relay daemon (pid ${process.pid}) is running on this spool`);
    expect(err.holder).toMatchObject({ owner: 'daemon', pid: process.pid });
  });

  it('a daemon waits while a queue CLI holds the lock, and gets it when the CLI is done', async () => {
    const cli = await acquire(sock(), 'cli');
    let got: ControlServer | null = null;
    const waiting = ControlServer.acquire(sock(), { owner: 'daemon', waitMs: 10_000 }).then((s) => (got = s));
    await sleep(400);
    expect(got).toBeNull();
    await cli.close();
    servers.push(await waiting);
    expect((await controlRequest(sock(), { op: 'ping' })) as object).toMatchObject({ owner: 'daemon' });
  });

  it('takes over a socket left by a killed process', async () => {
    mkdirSync(path.dirname(sock()), { recursive: true });
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock())}, () => process.kill(process.pid, 'SIGKILL'))`]);
    await new Promise((r) => child.on('exit', r));
    expect(lstatSync(sock()).isSocket()).toBe(true);
    await expect(controlRequest(sock(), { op: 'ping' })).rejects.toMatchObject({ code: 'control.unavailable' });
    await acquire(sock());
    expect((await controlRequest(sock(), { op: 'ping' })) as object).toMatchObject({ owner: 'daemon', pid: process.pid });
  });

  it('never deletes a file that is not a socket, and refuses a path too long to bind', async () => {
    mkdirSync(path.dirname(sock()), { recursive: true });
    writeFileSync(sock(), 'precious');
    await expect(ControlServer.acquire(sock(), { owner: 'daemon' })).rejects.toMatchObject({ path: 'control.socket', message: expect.stringContaining('is not a socket') });
    expect(readFileSync(sock(), 'utf8')).toBe('precious');
    const long = path.join(dir, 'x'.repeat(120), 'control.sock');
    await expect(ControlServer.acquire(long, { owner: 'daemon' })).rejects.toMatchObject({
      path: 'control.socket',
      message: expect.stringContaining('set control.socket to a shorter path'),
    });
  });
});

describe('the protocol', () => {
  it('answers busy until the daemon serves, then the handler; ping always', async () => {
    const s = await acquire(sock());
    expect((await controlRequest(sock(), { op: 'ping' })) as object).toMatchObject({ owner: 'daemon', serving: false });
    await expect(controlRequest(sock(), { op: 'list' })).rejects.toMatchObject({ code: 'control.busy', message: expect.stringContaining('starting') });
    s.serve(async (r) => ({ result: { echo: r.op } }));
    expect(await controlRequest(sock(), { op: 'list' })).toEqual({ echo: 'list' });
  });

  it('refuses malformed and oversized requests with a reason', async () => {
    const s = await acquire(sock());
    s.serve(async () => ({ result: 'never' }));
    expect(JSON.parse(await raw(sock(), 'not json\n'))).toMatchObject({ ok: false, error: { code: 'control.bad_request' } });
    expect(JSON.parse(await raw(sock(), '{"op":"delete"}\n'))).toMatchObject({ ok: false, error: { code: 'control.bad_request', message: expect.stringContaining('id') } });
    expect(JSON.parse(await raw(sock(), '{"op":"hold","id":"A","extra":1}\n'))).toMatchObject({ ok: false });
    expect(JSON.parse(await raw(sock(), 'x'.repeat(70_000)))).toMatchObject({ ok: false, error: { message: 'request too long' } });
  });

  it('streams message bytes after the reply, exactly, also when large', async () => {
    const s = await acquire(sock());
    const file = path.join(dir, 'big.eml');
    const bytes = Buffer.alloc(3 * 1024 * 1024 + 7, 'a');
    bytes.write('\n{"ok":false}\n', 1000); // bytes that look like protocol must pass untouched
    writeFileSync(file, Buffer.concat([bytes, Buffer.from('{"version":1}\n')])); // the spool's metadata after the message
    s.serve(async () => ({ result: { id: 'X' }, body: messageSource(file, bytes.length, SpoolKeys.none()) }));
    const chunks: Buffer[] = [];
    const result = await controlRequest(sock(), { op: 'show', id: 'X', body: true }, { onBody: (c) => chunks.push(c) });
    expect(result).toEqual({ id: 'X' });
    expect(Buffer.concat(chunks).equals(bytes)).toBe(true);
  });

  it('maps a handler refusal to its code; a closed server to control.unavailable', async () => {
    const s = await acquire(sock());
    s.serve(async () => {
      throw new ControlError('queue.busy', 'being delivered right now');
    });
    const err = (await controlRequest(sock(), { op: 'hold', id: 'A' }).catch((e: unknown) => e)) as ControlError;
    expect(err).toMatchObject({ code: 'queue.busy', message: 'being delivered right now' });
    await s.close();
    await expect(controlRequest(sock(), { op: 'ping' })).rejects.toMatchObject({ code: 'control.unavailable' });
  });

  it('close does not wait for a client that connected and said nothing', async () => {
    const s = await acquire(sock());
    const idle = net.connect(sock());
    await new Promise((r) => idle.on('connect', r));
    const started = Date.now();
    await s.close();
    expect(Date.now() - started).toBeLessThan(2_000);
    idle.destroy();
  });
});
