/**
 * The spool's master keys: 32 random bytes each, from the files in queue.encryption.keyFiles
 * (load-keys.ts). The first key seals every new file; all of them open files (rotation: a new
 * key goes first, the old ones stay until `queue rekey` has rewritten what they sealed).
 *
 * A key is known by its id: the first 8 bytes of SHA-256 over a fixed label and the key, in hex.
 * The id is written in each sealed file's header, so a reader knows which key it needs and an
 * error can name the missing one; it reveals nothing usable about a random 256-bit key.
 */
import { createHash } from 'node:crypto';

export const KEY_BYTES = 32;
export const KEY_ID_BYTES = 8;
const ID_LABEL = 'workspace-relay spool key id\n';

export interface SpoolKey {
  /** 16 hex digits. */
  readonly id: string;
  readonly idBytes: Buffer;
  readonly secret: Buffer;
}

/** The key id of a key's bytes (16 hex digits). */
export function keyIdOf(secret: Buffer): string {
  return createHash('sha256').update(ID_LABEL).update(secret).digest().subarray(0, KEY_ID_BYTES).toString('hex');
}

export class SpoolKeys {
  private readonly byId = new Map<string, SpoolKey>();
  /** The key new files are sealed with; null when encryption is off (files are written plain). */
  readonly current: SpoolKey | null;

  private constructor(readonly list: readonly SpoolKey[]) {
    for (const k of list) this.byId.set(k.id, k);
    this.current = list[0] ?? null;
  }

  /** Keys from their bytes, the first sealing new files (each exactly KEY_BYTES long). */
  static of(secrets: readonly Uint8Array[]): SpoolKeys {
    return new SpoolKeys(
      secrets.map((s) => {
        const secret = Buffer.from(s);
        if (secret.length !== KEY_BYTES) throw new RangeError(`a spool key is ${KEY_BYTES} bytes, not ${secret.length}`);
        const id = keyIdOf(secret);
        return { id, idBytes: Buffer.from(id, 'hex'), secret };
      }),
    );
  }

  /** No keys: new files are written plain; a sealed file cannot be read (crypt.key_missing). */
  static none(): SpoolKeys {
    return new SpoolKeys([]);
  }

  get enabled(): boolean {
    return this.current !== null;
  }

  get(id: string): SpoolKey | undefined {
    return this.byId.get(id);
  }

  ids(): string[] {
    return this.list.map((k) => k.id);
  }

  /** The keys' bytes, in order (to hand them to the delivery thread). */
  secrets(): Uint8Array[] {
    return this.list.map((k) => new Uint8Array(k.secret));
  }
}
