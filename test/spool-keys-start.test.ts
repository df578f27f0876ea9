/**
 * A missing or wrong spool key refuses the start with a clear error (exit 78, `config error:`
 * naming the key and the files) and deletes nothing: not the messages, not even the leftovers a
 * normal start would clean up.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Spool, createQueueId } from '../src/spool/index.js';
import { runCli, writeConfigFile } from './support/daemon.js';
import { removeDir, tempDir } from './support/harness.js';
import { testKeys, writeKeyFileFor, writeSealed } from './support/spool-crypt.js';
import { makeMeta } from './support/spool-meta.js';

let dir: string;
beforeEach(() => (dir = tempDir('wr-keys-')));
afterEach(() => removeDir(dir));

/** Every file under `root` with its sha256: what "nothing changed" is checked against. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (statSync(p).isFile()) out[path.relative(root, p)] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  if (existsSync(root)) walk(root);
  return out;
}

function configFor(keyFiles: string[] | null): string {
  return writeConfigFile(dir, {
    listen: [{ host: '127.0.0.1', port: 0 }],
    workspaces: [{ name: 'dry', domains: ['clinic.example'], transport: 'outbox', outbox: { dir: path.join(dir, 'outbox') }, senders: { map: {}, default: 'front@clinic.example' } }],
    queue: { dir: path.join(dir, 'spool'), ...(keyFiles ? { encryption: { keyFiles } } : {}) },
  });
}

describe('starting with the wrong spool key', () => {
  it('refuses with exit 78 naming the missing key and its files, and changes nothing under queue.dir', async () => {
    const a = testKeys();
    const spoolDir = path.join(dir, 'spool');
    const spool = await Spool.open(spoolDir, { keys: a });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const id = createQueueId();
      const w = spool.createWriter(id);
      await w.write(Buffer.from(`Subject: x\r\n\r\nmessage ${i}\r\n`));
      await w.commit(makeMeta(id));
      ids.push(id);
    }
    // What a normal start would clean up: an interrupted receipt and a temp file.
    writeSealed(path.join(spoolDir, 'data', `${createQueueId()}.eml`), Buffer.from('half a message'), a);
    writeFileSync(path.join(spoolDir, 'tmp', 'left-over.tmp'), 'x');
    const before = snapshot(spoolDir);
    expect(Object.keys(before).length).toBeGreaterThanOrEqual(8);

    const b = testKeys();
    const wrong = await runCli(['--config', configFor([writeKeyFileFor(path.join(dir, 'b.key'), b)]), 'serve']);
    expect(wrong.code).toBe(78);
    expect(wrong.stderr).toMatch(new RegExp(`^config error: queue\\.encryption\\.keyFiles: 7 files in the spool were encrypted with key ${a.current!.id}, which is not among queue\\.encryption\\.keyFiles \\(they hold ${b.current!.id}\\)`, 'm'));
    expect(wrong.stderr).toContain(ids[0]!);
    expect(wrong.stderr).toContain('nothing was deleted');
    expect(snapshot(spoolDir)).toEqual(before);

    const off = await runCli(['--config', configFor(null), 'serve']);
    expect(off.code).toBe(78);
    expect(off.stderr).toMatch(new RegExp(`^config error: queue\\.encryption: .*key ${a.current!.id}, which cannot be read with encryption off`, 'm'));
    expect(snapshot(spoolDir)).toEqual(before);

    const missing = await runCli(['--config', configFor([path.join(dir, 'gone.key')]), 'serve']);
    expect(missing.code).toBe(78);
    expect(missing.stderr).toMatch(/^config error: queue\.encryption\.keyFiles\[0\]: cannot read .*gone\.key/m);
    expect(snapshot(spoolDir)).toEqual(before);
  }, 120_000);
});
