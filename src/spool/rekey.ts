/**
 * What `queue rekey` does to one message (the queue CLI's QueueAdmin decides when, under its
 * per-message lock, with the message out of the scheduler's reach): rewrite the message file
 * sealed with the first key — a new file in tmp/, fsynced, renamed over data/<id>.eml, data/
 * fsynced — then the state entry (the spool's update: a new sealed file renamed over it). At
 * every moment each file is whole under a key still in the config, so a crash loses nothing and
 * a second run finishes the job.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { writeSealedCopy } from '../crypt/index.js';
import { keyIdOfFile } from './key-scan.js';
import { SpoolError } from './spool-error.js';
import { unlinkIfExists } from './spool-fs.js';
import type { Spool } from './spool.js';
import type { MessageMeta, SpoolState } from './types.js';

/** Does the message in `state` have a file not sealed with the first key (entry or bytes)? */
export function needsRekey(spool: Spool, state: SpoolState, id: string): boolean {
  const { layout, keys } = spool.parts;
  const current = keys.current?.id;
  if (!current) throw new SpoolError('spool.no_keys', 'queue rekey needs queue.encryption.keyFiles in the config');
  return [layout.meta(state, id), layout.eml(id)].some((file) => {
    const keyId = keyIdOfFile(file);
    return keyId !== undefined && keyId !== current;
  });
}

/** The message's bytes written again, sealed with the first key (see above). */
export async function rewriteMessageFile(spool: Spool, meta: Pick<MessageMeta, 'id' | 'size'>): Promise<void> {
  const { fs, layout, keys, syncer } = spool.parts;
  if (!keys.current) throw new SpoolError('spool.no_keys', 'queue rekey needs queue.encryption.keyFiles in the config');
  const tmp = join(layout.tmp, `${meta.id}.${randomBytes(4).toString('hex')}.eml`);
  try {
    await writeSealedCopy(await spool.message(meta).open(), tmp, keys.current);
    await fs.rename(tmp, layout.eml(meta.id));
  } catch (err) {
    await unlinkIfExists(fs, tmp).catch(() => undefined);
    throw err;
  }
  await syncer.sync(layout.data);
}

/**
 * active → queue unchanged (what start-up recovery does): for `rekey`, which claimed a message
 * and could not release it with its new meta (the disk). Not fsynced, like claim.
 */
export async function putBack(spool: Spool, id: string): Promise<void> {
  const { fs, layout } = spool.parts;
  await fs.rename(layout.meta('active', id), layout.meta('queue', id));
}
