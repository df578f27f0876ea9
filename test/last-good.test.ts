/**
 * Files as last read good (src/config/last-good.ts): a check reads what is there now; `lastGood`
 * (what runs a practice kept on its running settings) falls back to what the file last held that
 * was good; a delivery thread is handed those bytes, each file once, and never in place of its own.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { PASSWORD_FILE, goodFiles, readPasswordFile, rememberGoodFiles } from '../src/config/index.js';
import { removeDir, tempDir } from './support/harness.js';

let dir: string;
beforeEach(() => {
  dir = tempDir('wr-last-good-');
});
afterEach(() => removeDir(dir));

const KEY = 'workspaces[0].smtp.appPasswordFile';
const file = (name: string, text: string) => {
  const f = path.join(dir, name);
  writeFileSync(f, text, { mode: 0o600 });
  return f;
};

it('an app password: trimmed; empty or readable by others is refused naming the key, but lastGood gives the one last read good', () => {
  const pw = file('app-password', 'abcd efgh ijkl mnop\n');
  expect(readPasswordFile(pw, KEY)).toBe('abcd efgh ijkl mnop');
  writeFileSync(pw, ' \n');
  expect(() => readPasswordFile(pw, KEY)).toThrow(`${KEY}: ${pw} is empty: put the password in it (one line)`);
  expect(readPasswordFile(pw, KEY, { lastGood: true })).toBe('abcd efgh ijkl mnop');
  writeFileSync(pw, 'qrst uvwx yzab cdef\n');
  chmodSync(pw, 0o644);
  expect(() => readPasswordFile(pw, KEY)).toThrow(/readable by group or others \(mode 644\); run: chmod 600/);
  expect(readPasswordFile(pw, KEY, { lastGood: true })).toBe('abcd efgh ijkl mnop');
  chmodSync(pw, 0o600);
  expect(readPasswordFile(pw, KEY)).toBe('qrst uvwx yzab cdef'); // good again: the new one
  // a file never read good has nothing to fall back on
  expect(() => readPasswordFile(file('never-good', ''), KEY, { lastGood: true })).toThrow(/never-good is empty/);
});

it('handed-over bytes: each file once; used for lastGood only where this process read none good itself', () => {
  const a = file('a-password', 'first\n');
  readPasswordFile(a, KEY);
  const wanted = [
    { kind: PASSWORD_FILE.name, file: a },
    { kind: PASSWORD_FILE.name, file: a }, // the same file named by two practices
    { kind: PASSWORD_FILE.name, file: path.join(dir, 'never-read') },
  ];
  expect(goodFiles(wanted).map((g) => [g.file, Buffer.from(g.bytes).toString()])).toEqual([[a, 'first\n']]);

  // what a new thread is handed, for a file it has not read and one it has
  const b = file('b-password', 'broken since\n');
  rememberGoodFiles([
    { kind: PASSWORD_FILE.name, file: b, bytes: Buffer.from('handed over\n') },
    { kind: PASSWORD_FILE.name, file: a, bytes: Buffer.from('older\n') },
  ]);
  writeFileSync(b, '');
  expect(() => readPasswordFile(b, KEY)).toThrow(/is empty/);
  expect(readPasswordFile(b, KEY, { lastGood: true })).toBe('handed over');
  writeFileSync(a, '');
  expect(readPasswordFile(a, KEY, { lastGood: true })).toBe('first'); // its own, not the older one handed over
});
