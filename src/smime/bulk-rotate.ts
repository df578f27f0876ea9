/**
 * The bulk rotate: for every user, every send-as alias that has certificates gets the unexpired
 * one with the furthest expiry as its default (service.rotate, without uploading). One call
 * lists the aliases, one lists each alias's certificates, one sets the default when it changes.
 * Idempotent: a rerun finds nothing to change. An alias with no certificate at all is noted,
 * not an error (most secondary aliases have none); one whose certificates have all expired is.
 */
import { errorText } from '../errors.js';
import { runBulk, type BulkOptions, type BulkRun } from './bulk.js';
import { SmimeError } from './errors.js';
import type { SmimeService } from './service.js';

export interface AliasRotation {
  user: string;
  /** Undefined when the user's aliases could not be listed. */
  alias: string | undefined;
  status: 'changed' | 'kept' | 'none' | 'failed';
  defaultId?: string;
  previousDefaultId?: string;
  /** One line: what happened, or why not and what to do. */
  message: string;
}

export interface RotateRun extends BulkRun {
  rows: AliasRotation[];
}

export async function rotateUsers(
  service: SmimeService,
  users: readonly string[],
  options: BulkOptions & { onUser?: (rows: AliasRotation[]) => void },
): Promise<RotateRun> {
  const rows: AliasRotation[] = [];
  const run = await runBulk(service, users, options, (user, svc) => rotateUser(svc, user), (mine, user, auditError) => {
    const out = auditError ? [...mine, { user, alias: undefined, status: 'failed' as const, message: auditError.message }] : mine;
    rows.push(...out);
    options.onUser?.(out);
  });
  return { ...run, rows };
}

async function rotateUser(service: SmimeService, user: string): Promise<AliasRotation[]> {
  let aliases;
  try {
    aliases = await service.api.listAliases(user);
  } catch (err) {
    return [{ user, alias: undefined, status: 'failed', message: errorText(err) }];
  }
  const rows: AliasRotation[] = [];
  for (const { email: alias } of aliases) {
    try {
      const entries = await service.api.list(user, alias);
      if (!entries.length) {
        rows.push({ user, alias, status: 'none', message: 'no S/MIME certificates: nothing to rotate' });
        continue;
      }
      const r = await service.rotate(user, alias, undefined, entries);
      const ids = { defaultId: r.defaultId, ...(r.previousDefaultId ? { previousDefaultId: r.previousDefaultId } : {}) };
      rows.push(
        r.changed
          ? { user, alias, status: 'changed', ...ids, message: `certificate ${r.defaultId} is now the default (was ${r.previousDefaultId ?? 'none'})` }
          : { user, alias, status: 'kept', ...ids, message: `certificate ${r.defaultId} stays the default` },
      );
    } catch (err) {
      const message =
        err instanceof SmimeError && err.code === 'smime.rotate_none'
          ? `no unexpired S/MIME certificate: upload a new one (smime rotate --user ${user}${alias === user ? '' : ` --alias ${alias}`} --p12 FILE)`
          : errorText(err);
      rows.push({ user, alias, status: 'failed', message });
    }
  }
  return rows;
}
