/**
 * Where things live under the spool directory:
 *   data/<id>.eml        the exact bytes received (meta.size of them), then the metadata they
 *                        were accepted with (meta-codec.ts); never rewritten. (A spool
 *                        written before this format holds the bytes alone; it is still read.)
 *   tmp/                 files being written (cleared at start-up)
 *   queue/<id>.json      waiting for (another) delivery attempt
 *   active/<id>.json     being delivered (moved back to queue/ at start-up)
 *   dead/<id>.json       permanently failed, kept for the admin
 *   dead/<id>.json.corrupt  a .json that did not parse, set aside at start-up
 *   hold/<id>.json       held by an admin (queue CLI): never picked up, never moved at start-up
 * A message's state is the directory its .json is in. A state entry is either a plain JSON file
 * (written at each metadata change) or, until the first change, a hard link to data/<id>.eml
 * (accepting creates and fsyncs one file per message); meta-codec.ts reads both.
 */
import { join } from 'node:path';
import { SpoolError } from './spool-error.js';
import { isValidQueueId } from './queue-id.js';
import type { SpoolState } from './types.js';

export const SPOOL_STATES: readonly SpoolState[] = ['queue', 'active', 'dead', 'hold'];
export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;
export const CORRUPT_SUFFIX = '.json.corrupt';

export class SpoolLayout {
  readonly data: string;
  readonly tmp: string;
  constructor(readonly root: string) {
    this.data = join(root, 'data');
    this.tmp = join(root, 'tmp');
  }

  stateDir(state: SpoolState): string {
    return join(this.root, state);
  }

  eml(id: string): string {
    return join(this.data, `${checkId(id)}.eml`);
  }

  meta(state: SpoolState, id: string): string {
    return join(this.stateDir(state), `${checkId(id)}.json`);
  }

  corrupt(id: string): string {
    return join(this.stateDir('dead'), `${checkId(id)}${CORRUPT_SUFFIX}`);
  }

  /** Every directory the spool needs, root first. */
  allDirs(): string[] {
    return [this.root, this.data, this.tmp, ...SPOOL_STATES.map((s) => this.stateDir(s))];
  }
}

/** Refuse anything that could escape the spool directory (ids come from admins' CLI too). */
export function checkId(id: string): string {
  if (!isValidQueueId(id)) {
    throw new SpoolError('spool.bad_id', `not a queue id: ${JSON.stringify(id)}`);
  }
  return id;
}

export function isSpoolState(value: string): value is SpoolState {
  return (SPOOL_STATES as readonly string[]).includes(value);
}
