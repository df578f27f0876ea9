/**
 * The sealed-file format (src/crypt, docs/encryption.md): what goes in comes out, whatever the
 * size and however it is cut into pieces, and any change to a sealed file — a flipped byte, a
 * file cut short (inside a chunk or at a chunk boundary), chunks swapped or taken from another
 * file, a wrong key — is refused before a byte of the damaged chunk is given out.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CHUNK_BYTES, HEADER_BYTES, SpoolKeys, Sealer, isSealed, loadSpoolKeys, openView, openWhole, sealBuffer, sealedKeyId, writeKeyFile } from '../src/crypt/index.js';
import { TAG_BYTES } from '../src/crypt/index.js';
import { chunkAt, testKeys } from './support/spool-crypt.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'wr-crypt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Seal `plain` handing it over in pieces of `piece` bytes. */
function sealInPieces(keys: SpoolKeys, plain: Buffer, piece: number): Buffer {
  const s = new Sealer(keys.current!);
  const out: Buffer[] = [];
  for (let at = 0; at < plain.length; at += piece) out.push(...s.update(plain.subarray(at, at + piece)));
  out.push(...s.final());
  return Buffer.concat(out);
}

async function viewOf(file: Buffer, keys: SpoolKeys) {
  return openView(file.length, (p, l) => file.subarray(p, p + l), keys, 'test-file');
}

async function readAll(file: Buffer, keys: SpoolKeys): Promise<Buffer> {
  const v = await viewOf(file, keys);
  const parts: Buffer[] = [];
  for await (const p of v.pieces(0, v.size)) parts.push(Buffer.from(p));
  return Buffer.concat(parts);
}

describe('sealed files', () => {
  const keys = testKeys();

  it('give back exactly what was sealed, any size, any piece size, any range', async () => {
    for (const size of [0, 1, 100, CHUNK_BYTES - 1, CHUNK_BYTES, CHUNK_BYTES + 1, 3 * CHUNK_BYTES, 3 * CHUNK_BYTES + 17]) {
      const plain = randomBytes(size);
      for (const piece of [1_000, 4_096, CHUNK_BYTES, 200_000]) {
        const sealed = sealInPieces(keys, plain, piece);
        expect(sealed.length).toBe(HEADER_BYTES + plain.length + Math.max(1, Math.ceil(plain.length / CHUNK_BYTES)) * TAG_BYTES);
        expect((await readAll(sealed, keys)).equals(plain)).toBe(true);
        expect(openWhole(sealed, keys, 'x').equals(plain)).toBe(true);
      }
      const sealed = sealBuffer(keys.current!, plain);
      const v = await viewOf(sealed, keys);
      expect(v.size).toBe(size);
      expect(v.keyId).toBe(keys.current!.id);
      for (const [a, b] of [[0, size], [Math.floor(size / 3), Math.floor((2 * size) / 3)], [Math.max(0, size - 5), size]] as const) {
        expect((await v.read(a, b - a)).equals(plain.subarray(a, b))).toBe(true);
      }
    }
  });

  it('never hold the plaintext in the clear on disk, and each file has its own data key', () => {
    const plain = Buffer.from(`Patient: MARKER-${randomBytes(6).toString('hex')}\r\n`.repeat(50));
    const a = sealBuffer(keys.current!, plain);
    const b = sealBuffer(keys.current!, plain);
    expect(isSealed(a)).toBe(true);
    expect(sealedKeyId(a)).toBe(keys.current!.id);
    expect(a.includes(plain.subarray(0, 16))).toBe(false);
    expect(a.subarray(HEADER_BYTES).equals(b.subarray(HEADER_BYTES))).toBe(false); // same text, other key, other bytes
  });

  it('a plain file is read as it is (a spool written before encryption was on)', async () => {
    const plain = Buffer.from('Subject: x\r\n\r\nwritten plain\r\n');
    const v = await viewOf(plain, keys);
    expect(v.keyId).toBeNull();
    expect((await v.read(0, v.size)).equals(plain)).toBe(true);
    expect(openWhole(plain, SpoolKeys.none(), 'x').equals(plain)).toBe(true);
  });

  describe('damage is detected', () => {
    const plain = randomBytes(4 * CHUNK_BYTES + 1000);
    const sealed = sealBuffer(keys.current!, plain);
    const damagedBy = (change: (b: Buffer) => Buffer) => change(Buffer.from(sealed));

    it.each([
      ['a flipped byte in the first chunk', (b: Buffer) => ((b[chunkAt(0) + 5]! ^= 1), b), /chunk 0 of 5 fails authentication/],
      ['a flipped byte in a middle chunk', (b: Buffer) => ((b[chunkAt(2) + 1234]! ^= 0x80), b), /chunk 2 of 5 fails/],
      ['a flipped byte in a tag', (b: Buffer) => ((b[chunkAt(1) + CHUNK_BYTES + 3]! ^= 1), b), /chunk 1 of 5 fails/],
      ['a flipped byte in the last chunk', (b: Buffer) => ((b[b.length - 20]! ^= 1), b), /chunk 4 of 5 fails/],
      ['cut short inside the last chunk', (b: Buffer) => b.subarray(0, b.length - 300), /chunk 4 of 5 fails/],
      ['cut short at a chunk boundary (the new last chunk was not sealed as the last)', (b: Buffer) => b.subarray(0, chunkAt(3)), /chunk 2 of 3 fails/],
      ['two chunks swapped', (b: Buffer) => {
        const len = CHUNK_BYTES + TAG_BYTES;
        const one = Buffer.from(b.subarray(chunkAt(1), chunkAt(1) + len));
        b.copy(b, chunkAt(1), chunkAt(2), chunkAt(2) + len);
        one.copy(b, chunkAt(2));
        return b;
      }, /chunk 1 of 5 fails/],
      ['a chunk taken from another file sealed with the same key', (b: Buffer) => {
        const other = sealBuffer(keys.current!, plain);
        other.copy(b, chunkAt(1), chunkAt(1), chunkAt(2));
        return b;
      }, /chunk 1 of 5 fails/],
    ])('%s', async (_what, change, why) => {
      const bad = damagedBy(change);
      const err = await readAll(bad, keys).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'crypt.damaged', message: expect.stringMatching(why) });
      expect(() => openWhole(bad, keys, 'x')).toThrow(why);
    });

    it('pieces before the damaged chunk are given, none of it or after it', async () => {
      const bad = Buffer.from(sealed);
      bad[chunkAt(2) + 10]! ^= 1;
      const got: Buffer[] = [];
      const v = await viewOf(bad, keys);
      await expect((async () => {
        for await (const p of v.pieces(0, v.size)) got.push(Buffer.from(p));
      })()).rejects.toMatchObject({ code: 'crypt.damaged' });
      expect(Buffer.concat(got).equals(plain.subarray(0, 2 * CHUNK_BYTES))).toBe(true);
    });

    it('a header changed, or a file cut inside its header', async () => {
      const bad = Buffer.from(sealed);
      bad[40]! ^= 1; // the wrapped data key
      await expect(viewOf(bad, keys)).rejects.toMatchObject({ code: 'crypt.damaged', message: expect.stringContaining('header does not open') });
      await expect(viewOf(sealed.subarray(0, 50), keys)).rejects.toMatchObject({ code: 'crypt.damaged' });
      const otherId = Buffer.from(sealed);
      otherId[9]! ^= 1; // the key id: now a key nobody has
      await expect(viewOf(otherId, keys)).rejects.toMatchObject({ code: 'crypt.key_missing' });
    });

    it('a key not given: crypt.key_missing naming the key; the right key among others opens it', async () => {
      const other = testKeys(2);
      await expect(viewOf(sealed, other)).rejects.toMatchObject({ code: 'crypt.key_missing', keyId: keys.current!.id, message: expect.stringContaining(keys.current!.id) });
      await expect(viewOf(sealed, SpoolKeys.none())).rejects.toMatchObject({ code: 'crypt.key_missing', message: expect.stringContaining('encryption is off') });
      const rotated = SpoolKeys.of([...other.secrets(), ...keys.secrets()]);
      expect((await readAll(sealed, rotated)).equals(plain)).toBe(true);
    });
  });
});

describe('key files', () => {
  it('keygen writes 32 random bytes, base64, mode 0600, and never overwrites', async () => {
    const file = path.join(dir, 'k1.key');
    const id = await writeKeyFile(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const text = readFileSync(file, 'utf8');
    expect(Buffer.from(text.trim(), 'base64')).toHaveLength(32);
    await expect(writeKeyFile(file)).rejects.toMatchObject({ code: 'EEXIST' });
    expect(readFileSync(file, 'utf8')).toBe(text);
    const keys = loadSpoolKeys({ queue: { encryption: { keyFiles: [file] } } });
    expect(keys.current!.id).toBe(id);
    expect(keys.ids()).toEqual([id]);
  });

  it('a key file readable by group or others, missing, not a key, or listed twice is refused naming the key and the fix', async () => {
    const open = path.join(dir, 'open.key');
    await writeKeyFile(open);
    const { chmodSync } = await import('node:fs');
    chmodSync(open, 0o640);
    const load = (keyFiles: string[]) => () => loadSpoolKeys({ queue: { encryption: { keyFiles } } });
    expect(load([open])).toThrow(/queue\.encryption\.keyFiles\[0\].*readable by group or others.*chmod 600/s);
    expect(load([path.join(dir, 'none.key')])).toThrow(/keyFiles\[0\].*cannot read/s);
    const junk = path.join(dir, 'junk.key');
    writeFileSync(junk, 'not a key\n', { mode: 0o600 });
    expect(load([junk])).toThrow(/does not hold a key.*workspace-relay keygen/s);
    const good = path.join(dir, 'good.key');
    await writeKeyFile(good);
    expect(load([good, good])).toThrow(/keyFiles\[1\].*same key/s);
    expect(loadSpoolKeys({ queue: {} }).enabled).toBe(false);
  });
});
