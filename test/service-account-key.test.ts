/**
 * Reading a service-account key (src/google/service-account.ts): a file read again unchanged is
 * not parsed again (a reload of many practices), but any change to its bytes is seen, whatever
 * its size and times say, and its mode is checked at every read.
 */
import { chmodSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { loadServiceAccountKey } from '../src/google/index.js';
import { createTestServiceAccount } from './support/fake-google.js';
import { removeDir, tempDir } from './support/harness.js';

let dir: string;
beforeEach(() => {
  dir = tempDir('wr-sa-key-');
});
afterEach(() => removeDir(dir));

const KEY = 'workspaces[0].gmailApi.serviceAccountKeyFile';

/** Write `text` over `file` in place (same inode), then give it back the size-independent times it had. */
function rewrite(file: string, text: string): void {
  const { atime, mtime } = statSync(file);
  writeFileSync(file, text);
  utimesSync(file, atime, mtime);
}

it('a key file rewritten in place is read anew, even with the same size and modification time', () => {
  const a = createTestServiceAccount('a');
  const b = createTestServiceAccount('b');
  const file = a.writeKeyFile(dir, 'key.json');
  const first = loadServiceAccountKey(file, KEY);
  expect(first.client_id).toBe(a.clientId);
  expect(loadServiceAccountKey(file, KEY)).toBe(first); // unchanged: the key as read before

  const bText = readFileSync(b.writeKeyFile(dir, 'b.json'), 'utf8');
  rewrite(file, bText);
  expect(loadServiceAccountKey(file, KEY).client_id).toBe(b.clientId);

  // the same length, the same mtime, the same inode: still not a key
  rewrite(file, ' '.repeat(bText.length - 1) + 'x');
  expect(statSync(file).size).toBe(bText.length);
  expect(() => loadServiceAccountKey(file, KEY)).toThrow(/key\.json is not JSON: download the key again/);
  // and a good key again afterwards
  rewrite(file, bText);
  expect(loadServiceAccountKey(file, KEY).client_id).toBe(b.clientId);
});

it('a key file others can read is refused at every read, even one read before', () => {
  const file = createTestServiceAccount().writeKeyFile(dir, 'key.json');
  loadServiceAccountKey(file, KEY);
  chmodSync(file, 0o644);
  expect(() => loadServiceAccountKey(file, KEY)).toThrow(/readable by group or others \(mode 644\); run: chmod 600/);
});

it('lastGood (what runs a practice kept on its running settings): the key last read good from a file that no longer holds one', () => {
  const sa = createTestServiceAccount();
  const file = sa.writeKeyFile(dir, 'key.json');
  loadServiceAccountKey(file, KEY);
  writeFileSync(file, '{ broken');
  expect(() => loadServiceAccountKey(file, KEY)).toThrow(/is not JSON/); // a check still sees it
  expect(loadServiceAccountKey(file, KEY, { lastGood: true }).client_id).toBe(sa.clientId);
  // a file never read good has nothing to fall back on
  const never = path.join(dir, 'never.json');
  writeFileSync(never, '{ broken', { mode: 0o600 });
  expect(() => loadServiceAccountKey(never, KEY, { lastGood: true })).toThrow(/never\.json is not JSON/);
});
