import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nodeSpoolFs } from '../src/spool/index.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'spool-fs-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** File descriptors of this process open on `path`. */
function fdsOn(path: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === path;
    } catch {
      return false;
    }
  }).length;
}

describe('directory fsync', () => {
  it('keeps one handle on a busy directory and closes it once the directory is idle', async () => {
    await Promise.all(Array.from({ length: 20 }, () => nodeSpoolFs.syncDir(dir)));
    for (let i = 0; i < 5; i++) await nodeSpoolFs.syncDir(dir);
    expect(fdsOn(dir)).toBe(1);
    await new Promise((r) => setTimeout(r, 1_300));
    expect(fdsOn(dir)).toBe(0);
  });

  it('reports a directory that is not there, and does not keep the failure', async () => {
    const later = join(dir, 'later');
    await expect(nodeSpoolFs.syncDir(later)).rejects.toMatchObject({ code: 'ENOENT' });
    mkdirSync(later);
    await nodeSpoolFs.syncDir(later); // opened afresh, not the failed attempt again
    expect(fdsOn(later)).toBe(1);
  });
});
