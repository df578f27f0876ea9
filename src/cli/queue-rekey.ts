/**
 * `queue rekey` (docs/encryption.md#rotation): what a direct session (no relay running) needs to
 * read and rewrite an encrypted spool, and how a round's result is printed and audited.
 */
import type { Config } from '../config/index.js';
import type { RekeyResult } from '../control/index.js';
import { loadSpoolKeys, type SpoolKeys } from '../crypt/index.js';
import { resealOutboxes } from '../delivery/index.js';

/** Messages one `queue rekey` rewrites at most (the control protocol's limit). */
export const REKEY_ROUND = 10_000;

/**
 * The spool's keys and the outbox rewrite, for a session on the spool itself. The keys are read
 * only when the spool is opened directly: through the running relay, a user who cannot read the
 * key files can still list the queue.
 */
export function directKeyOptions(config: Config): { keys: () => SpoolKeys; resealOutbox: (keys: SpoolKeys) => Promise<number> } {
  return {
    keys: () => loadSpoolKeys(config),
    resealOutbox: (keys) => resealOutboxes(config.workspaces, keys),
  };
}

/** The audit record's details of a round. */
export function rekeyAudit(r: RekeyResult): Record<string, unknown> {
  return { ids: r.rekeyed, skipped: r.skipped.length, outbox: r.outbox };
}

/** A round's result, for people. */
export function rekeyLines(r: RekeyResult): string[] {
  const s = (n: number) => (n === 1 ? '' : 's');
  return [
    `${r.rekeyed.length} message${s(r.rekeyed.length)} and ${r.outbox} outbox file${s(r.outbox)} rewritten with the first key`,
    ...r.skipped.map((k) => `skipped ${k.id}: ${k.reason}`),
    ...(r.more
      ? ['more remain: run `workspace-relay queue rekey` again']
      : r.skipped.length
        ? []
        : ['every file is now encrypted with the first key: older keys can leave queue.encryption.keyFiles (restart after)']),
  ];
}
