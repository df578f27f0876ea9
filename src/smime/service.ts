/**
 * S/MIME operations as an admin runs them: every change checked locally first where it can be,
 * then made through Gmail, then written to the audit log (who, what, when, on which alias and
 * certificate; never the password or the key). A change Google refused is audited as failed.
 * The bulk commands hold each item's audit lines (`holding`) and write them in input order
 * (bulk.ts).
 */
import { appendAudit, type AuditActor, type AuditEntry } from '../audit/index.js';
import { systemClock, type Clock } from '../clock.js';
import { errorText } from '../errors.js';
import { SmimeError } from './errors.js';
import type { SmimeApi, SmimeEntry } from './gmail-smime.js';
import { certificatesFromPem, checkP12, isoDay, type CertificateInfo, type P12Check } from './p12.js';
import { needsNewCertificate, pickDefault } from './rotation.js';

export interface SmimeServiceOptions {
  api: SmimeApi;
  /** The audit log file (smime.auditLog). */
  auditLog: string;
  actor: AuditActor;
  clock?: Clock;
  /** Where audit lines go (default: appended to `auditLog`, fsynced, one by one). */
  audit?: AuditWrite;
}

export type AuditWrite = (entry: AuditEntry, at: Date) => Promise<void>;

/** The audit lines of one item of a bulk command, held until its turn in the input order. */
export class HeldAudit {
  readonly lines: { entry: AuditEntry; at: Date }[] = [];
}

/** A .p12 file to upload: its bytes, its password and a label (the file name) for messages. */
export interface P12Upload {
  data: Buffer;
  password: string;
  label: string;
}

export interface InsertResult {
  entry: SmimeEntry;
  warnings: string[];
  madeDefault: boolean;
  /** The certificate was on the alias already: nothing was uploaded (insertOnce). */
  already?: boolean;
}

export interface RotationResult {
  alias: string;
  uploaded: SmimeEntry | undefined;
  previousDefaultId: string | undefined;
  defaultId: string;
  /** True when the default changed. */
  changed: boolean;
  warnings: string[];
  notes: string[];
}

export class SmimeService {
  readonly api: SmimeApi;
  private readonly auditLog: string;
  private readonly actor: AuditActor;
  private readonly clock: Clock;
  private readonly write: AuditWrite;

  constructor(private readonly options: SmimeServiceOptions) {
    this.api = options.api;
    this.auditLog = options.auditLog;
    this.actor = options.actor;
    this.clock = options.clock ?? systemClock;
    this.write = options.audit ?? ((entry, at) => appendAudit(this.auditLog, entry, at));
  }

  /** The same service, its audit lines held in `held` instead of written (see writeHeld). */
  holding(held: HeldAudit): SmimeService {
    return new SmimeService({ ...this.options, audit: async (entry, at) => void held.lines.push({ entry, at }) });
  }

  /** Write held audit lines, in their order, with their own times. */
  async writeHeld(held: HeldAudit): Promise<void> {
    for (const { entry, at } of held.lines.splice(0)) {
      try {
        await this.write(entry, at);
      } catch (err) {
        throw new SmimeError(
          'smime.audit',
          `${entry.action} for ${String(entry.alias)} was done, but the audit log ${this.auditLog} could not be written (${errorText(err)}): fix its path or permissions (smime.auditLog)`,
        );
      }
    }
  }

  list(user: string, alias: string = user): Promise<SmimeEntry[]> {
    return this.api.list(user, alias);
  }

  get(user: string, alias: string, id: string): Promise<SmimeEntry> {
    return this.api.get(user, alias, id);
  }

  /** Check the file locally, upload it, and optionally make it the alias's default. */
  async insert(user: string, alias: string, p12: P12Upload, options: { setDefault?: boolean } = {}): Promise<InsertResult> {
    const { entry, warnings } = await this.upload(user, alias, p12, 'smime.insert');
    if (options.setDefault) await this.setDefault(user, alias, entry.id);
    return { entry, warnings, madeDefault: options.setDefault === true };
  }

  /**
   * The bulk import's insert: like `insert`, but a certificate already on the alias (the same
   * one: a rerun after an interruption) is not uploaded again; with `setDefault` it is made the
   * default if it is not. So running an import twice does no harm.
   */
  async insertOnce(user: string, alias: string, p12: P12Upload, options: { setDefault?: boolean } = {}): Promise<InsertResult> {
    const checked = checkP12(p12.data, p12.password, { alias, now: new Date(this.clock.now()), label: p12.label });
    const present = (await this.api.list(user, alias)).find((e) => sameCertificate(e, checked.contents.certificate));
    if (!present) {
      const { entry, warnings } = await this.upload(user, alias, p12, 'smime.insert', undefined, checked);
      if (options.setDefault) await this.setDefault(user, alias, entry.id);
      return { entry, warnings, madeDefault: options.setDefault === true, already: false };
    }
    const makeDefault = options.setDefault === true && !present.isDefault;
    if (makeDefault) await this.setDefault(user, alias, present.id);
    return { entry: present, warnings: checked.warnings, madeDefault: makeDefault, already: true };
  }

  async delete(user: string, alias: string, id: string): Promise<void> {
    await this.audited({ action: 'smime.delete', user, alias, certificateId: id }, () => this.api.delete(user, alias, id));
  }

  async setDefault(user: string, alias: string, id: string, action = 'smime.set-default', step?: string): Promise<void> {
    await this.audited({ action, step, user, alias, certificateId: id }, () => this.api.setDefault(user, alias, id));
  }

  /**
   * If the alias has no default certificate or it has expired, upload `p12` (when given); then
   * make the unexpired certificate with the furthest expiry the default. `listed`: the alias's
   * certificates as just listed (the bulk rotate has them), else they are listed here.
   */
  async rotate(user: string, alias: string = user, p12?: P12Upload, listed?: readonly SmimeEntry[]): Promise<RotationResult> {
    const now = new Date(this.clock.now());
    const entries = listed ? [...listed] : await this.api.list(user, alias);
    const previous = entries.find((e) => e.isDefault);
    const warnings: string[] = [];
    const notes: string[] = [];
    let uploaded: SmimeEntry | undefined;
    if (needsNewCertificate(entries, now)) {
      if (p12) {
        const r = await this.upload(user, alias, p12, 'smime.rotate', 'insert');
        uploaded = r.entry;
        warnings.push(...r.warnings);
        entries.push(r.entry);
      }
    } else if (p12) {
      const until = previous?.expiration ? ` until ${isoDay(previous.expiration)}` : '';
      notes.push(`the default certificate ${previous?.id} is valid${until}; ${p12.label} not uploaded (use smime insert to add it anyway)`);
    }
    const best = pickDefault(entries, now);
    if (!best) {
      throw new SmimeError(
        'smime.rotate_none',
        `${alias} has no unexpired S/MIME certificate: give the new one with --p12 FILE`,
      );
    }
    const changed = best.id !== previous?.id;
    if (changed) await this.setDefault(user, alias, best.id, 'smime.rotate', 'set-default');
    return { alias, uploaded, previousDefaultId: previous?.id, defaultId: best.id, changed, warnings, notes };
  }

  private async upload(user: string, alias: string, p12: P12Upload, action: string, step?: string, checked?: P12Check): Promise<{ entry: SmimeEntry; warnings: string[] }> {
    const { contents, warnings } = checked ?? checkP12(p12.data, p12.password, { alias, now: new Date(this.clock.now()), label: p12.label });
    const cert = contents.certificate;
    const entry = await this.audited(
      { action, step, user, alias, file: p12.label, fingerprint256: cert.fingerprint256, notAfter: cert.notAfter.toISOString() },
      () => this.api.insert(user, alias, p12.data, p12.password),
      (e) => ({ certificateId: e.id, issuerCn: e.issuerCn }),
    );
    return { entry, warnings };
  }

  private async audited<T>(
    what: Record<string, unknown> & { action: string },
    change: () => Promise<T>,
    details?: (result: T) => Record<string, unknown>,
  ): Promise<T> {
    let result: T;
    try {
      result = await change();
    } catch (err) {
      await this.write({ ...what, who: this.actor, outcome: 'failed', error: errorText(err) }, new Date(this.clock.now()));
      throw err;
    }
    try {
      await this.write({ ...what, ...details?.(result), who: this.actor, outcome: 'ok' }, new Date(this.clock.now()));
    } catch (err) {
      throw new SmimeError(
        'smime.audit',
        `${what.action} for ${String(what.alias)} was done, but the audit log ${this.auditLog} could not be written (${errorText(err)}): fix its path or permissions (smime.auditLog)`,
      );
    }
    return result;
  }
}

/** Is Gmail's entry this certificate? By the fingerprint of its PEM; without one, by the expiry to the second. */
function sameCertificate(e: SmimeEntry, cert: CertificateInfo): boolean {
  if (e.pem) return certificatesFromPem(e.pem).some((c) => c.fingerprint256 === cert.fingerprint256);
  return e.expiration?.getTime() === cert.notAfter.getTime();
}
