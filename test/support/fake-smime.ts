/**
 * S/MIME for the fake Google: Gmail's users.settings.sendAs and sendAs.smimeInfo routes, added
 * to a FakeGoogle with route(), and test-time certificates (a CA, S/MIME certificates, .p12 files)
 * made with node-forge. Nothing here is ever written to the repository.
 *
 * The fake checks what Google checks: the token's user and scopes (gmail.settings.basic for the
 * primary address, gmail.settings.sharing for other aliases), the .p12 password, that the
 * certificate is for the alias, unexpired, and issued by a CA it trusts.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import forge from 'node-forge';
import { CliExit } from '../../src/cli/exit-codes.js';
import { registerSmimeCommands } from '../../src/cli/smime.js';
import {
  FakeGoogle,
  createTestServiceAccount,
  gmailError,
  type FakeRequest,
  type ScriptedResponse,
  type TestServiceAccount,
} from './fake-google.js';

export const SETTINGS_BASIC = 'https://www.googleapis.com/auth/gmail.settings.basic';
export const SETTINGS_SHARING = 'https://www.googleapis.com/auth/gmail.settings.sharing';
const READ_SCOPES = new Set([
  SETTINGS_BASIC,
  SETTINGS_SHARING,
  'https://mail.google.com/',
  'https://www.googleapis.com/auth/gmail.modify',
  'https://www.googleapis.com/auth/gmail.readonly',
]);
const DAY = 86_400_000;

// ---- certificates -------------------------------------------------------------------------

const keyCache: forge.pki.rsa.KeyPair[] = [];
/** An RSA key pair (node generates it; a few are reused to keep the suite fast). */
export function testKeyPair(index = 0): forge.pki.rsa.KeyPair {
  while (keyCache.length <= index) {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const priv = forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString());
    keyCache.push({ privateKey: priv, publicKey: forge.pki.setRsaPublicKey(priv.n, priv.e) });
  }
  return keyCache[index]!;
}

export interface TestCa {
  name: string;
  key: forge.pki.rsa.PrivateKey;
  cert: forge.pki.Certificate;
}

export function createTestCa(name = 'Test S/MIME CA', keyIndex = 9): TestCa {
  const keys = testKeyPair(keyIndex);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = `01${randomBytes(8).toString('hex')}`;
  cert.validity.notBefore = new Date(Date.now() - 365 * DAY);
  cert.validity.notAfter = new Date(Date.now() + 10 * 365 * DAY);
  const attrs = [{ name: 'commonName', value: name }, { name: 'organizationName', value: 'Test' }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([{ name: 'basicConstraints', cA: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true }]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { name, key: keys.privateKey, cert };
}

export interface IssueOptions {
  email: string;
  /** Days from now (negative: in the past). */
  notBeforeDays?: number;
  notAfterDays: number;
  /** Where the address goes: subjectAltName rfc822Name (modern), subject emailAddress (legacy), or nowhere. */
  emailIn?: 'san' | 'subject' | 'none';
  keyIndex?: number;
}

export interface TestCertificate {
  cert: forge.pki.Certificate;
  key: forge.pki.rsa.PrivateKey;
  ca: TestCa;
}

export function issueCertificate(ca: TestCa, o: IssueOptions): TestCertificate {
  const keys = testKeyPair(o.keyIndex ?? 0);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = `02${randomBytes(8).toString('hex')}`;
  cert.validity.notBefore = new Date(Date.now() + (o.notBeforeDays ?? -30) * DAY);
  cert.validity.notAfter = new Date(Date.now() + o.notAfterDays * DAY);
  const where = o.emailIn ?? 'san';
  cert.setSubject([
    { name: 'commonName', value: o.email.split('@')[0]! },
    ...(where === 'subject' ? [{ name: 'emailAddress', value: o.email }] : []),
  ]);
  cert.setIssuer(ca.cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', emailProtection: true },
    ...(where === 'san' ? [{ name: 'subjectAltName', altNames: [{ type: 1, value: o.email }] }] : []),
  ]);
  cert.sign(ca.key, forge.md.sha256.create());
  return { cert, key: keys.privateKey, ca };
}

/** A .p12 file's bytes: key + certificate, plus the CA certificate unless `chain` is false. */
export function makeP12(c: TestCertificate, password: string, options: { chain?: boolean } = {}): Buffer {
  const certs = options.chain === false ? [c.cert] : [c.cert, c.ca.cert];
  const asn1 = forge.pkcs12.toPkcs12Asn1(c.key, certs, password, { algorithm: '3des' });
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
}

// ---- the fake Gmail settings ----------------------------------------------------------------

export interface FakeSmimeCert {
  id: string;
  issuerCn: string;
  expiration: number;
  isDefault: boolean;
  pem: string;
}

interface Alias {
  isPrimary: boolean;
  certs: FakeSmimeCert[];
}

export interface InsertRecord {
  user: string;
  alias: string;
  /** The JSON fields the client sent. */
  fields: string[];
  /** Whether pkcs12 was base64url (no + or / characters, no padding). */
  base64url: boolean;
}

export class FakeSmime {
  readonly inserts: InsertRecord[] = [];
  /** Hold each S/MIME call this long (ms) before answering: Google's latency, fixed or drawn per call. */
  latencyMs: number | (() => number) = 0;
  /** Calls being answered now, and the most at once (to see that a bulk command runs calls side by side). */
  inFlight = 0;
  maxInFlight = 0;
  /** Every S/MIME call answered: method, path and when it arrived (ms). */
  readonly calls: { method: string; path: string; at: number }[] = [];
  private readonly mailboxes = new Map<string, Map<string, Alias>>();
  private readonly trusted: forge.pki.Certificate[] = [];
  private nextId = 1;

  static install(google: FakeGoogle): FakeSmime {
    const s = new FakeSmime();
    const base = String.raw`^/gmail/v1/users/([^/]+)/settings/sendAs`;
    const r = (method: string, path: string, h: (req: FakeRequest, m: string[]) => ScriptedResponse) => {
      const re = new RegExp(`${base}${path}$`);
      google.route(method, re, async (req) => {
        s.calls.push({ method, path: req.url.pathname, at: Date.now() });
        s.maxInFlight = Math.max(s.maxInFlight, ++s.inFlight);
        try {
          const wait = typeof s.latencyMs === 'function' ? s.latencyMs() : s.latencyMs;
          if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
          return h(req, (re.exec(req.url.pathname) ?? []).map((x) => decodeURIComponent(x ?? '')));
        } finally {
          s.inFlight--;
        }
      });
    };
    r('GET', '', (req, m) => s.listAliases(req, m[1]!));
    r('GET', '/([^/]+)', (req, m) => s.withAlias(req, m, 'read', (a, alias) => ({ status: 200, body: aliasJson(alias, a) })));
    r('GET', '/([^/]+)/smimeInfo', (req, m) => s.withAlias(req, m, 'read', (a) => ({ status: 200, body: a.certs.length ? { smimeInfo: a.certs.map(certJson) } : {} })));
    r('GET', '/([^/]+)/smimeInfo/([^/]+)', (req, m) => s.withCert(req, m, 'read', (_a, c) => ({ status: 200, body: certJson(c) })));
    r('POST', '/([^/]+)/smimeInfo', (req, m) => s.withAlias(req, m, 'write', (a, alias, user) => s.insert(req, a, alias, user)));
    r('DELETE', '/([^/]+)/smimeInfo/([^/]+)', (req, m) =>
      s.withCert(req, m, 'write', (a, c) => {
        a.certs.splice(a.certs.indexOf(c), 1);
        return { status: 204, body: '' };
      }),
    );
    r('POST', '/([^/]+)/smimeInfo/([^/]+)/setDefault', (req, m) =>
      s.withCert(req, m, 'write', (a, c) => {
        for (const x of a.certs) x.isDefault = x === c;
        return { status: 204, body: '' };
      }),
    );
    return s;
  }

  /** A mailbox: the user (also added to the fake Google) and its send-as aliases. */
  addMailbox(google: FakeGoogle, user: string, ...aliases: string[]): void {
    google.addUser(user);
    const m = new Map<string, Alias>([[user.toLowerCase(), { isPrimary: true, certs: [] }]]);
    for (const a of aliases) m.set(a.toLowerCase(), { isPrimary: false, certs: [] });
    this.mailboxes.set(user.toLowerCase(), m);
  }
  trust(ca: TestCa): void {
    this.trusted.push(ca.cert);
  }
  certs(user: string, alias = user): FakeSmimeCert[] {
    return this.mailboxes.get(user.toLowerCase())?.get(alias.toLowerCase())?.certs ?? [];
  }
  /** A certificate already on the alias (no .p12 needed). Returns its id. */
  seed(user: string, alias: string, o: { issuerCn?: string; expiresInDays: number; isDefault?: boolean }): string {
    const certs = this.certs(user, alias);
    const id = this.newId();
    if (o.isDefault) for (const c of certs) c.isDefault = false;
    certs.push({ id, issuerCn: o.issuerCn ?? 'Seed CA', expiration: Date.now() + o.expiresInDays * DAY, isDefault: o.isDefault === true, pem: '' });
    return id;
  }

  private newId(): string {
    return `smime${(this.nextId++).toString().padStart(4, '0')}${randomBytes(3).toString('hex')}`;
  }

  private listAliases(req: FakeRequest, userId: string): ScriptedResponse {
    const denied = this.check(req, userId, 'read', true);
    if (denied) return denied;
    const m = this.mailboxes.get(req.grant!.sub)!;
    return { status: 200, body: { sendAs: [...m].map(([alias, a]) => aliasJson(alias, a)) } };
  }

  private check(req: FakeRequest, userId: string, access: 'read' | 'write', primary: boolean): ScriptedResponse | undefined {
    const grant = req.grant!;
    if (userId !== 'me' && userId.toLowerCase() !== grant.sub) {
      return gmailError(403, `Delegation denied for ${grant.sub}`, 'PERMISSION_DENIED', 'forbidden');
    }
    const ok =
      access === 'read'
        ? grant.scopes.some((s) => READ_SCOPES.has(s))
        : grant.scopes.includes(SETTINGS_SHARING) || (primary && grant.scopes.includes(SETTINGS_BASIC));
    if (!ok) return gmailError(403, 'Request had insufficient authentication scopes.', 'PERMISSION_DENIED', 'insufficientPermissions');
    if (!this.mailboxes.has(grant.sub)) return gmailError(400, 'Mail service not enabled', 'FAILED_PRECONDITION', 'failedPrecondition');
    return undefined;
  }

  private withAlias(
    req: FakeRequest,
    m: string[],
    access: 'read' | 'write',
    fn: (a: Alias, alias: string, user: string) => ScriptedResponse,
  ): ScriptedResponse {
    const alias = m[2]!.toLowerCase();
    const a = req.grant ? this.mailboxes.get(req.grant.sub)?.get(alias) : undefined;
    const denied = this.check(req, m[1]!, access, a?.isPrimary ?? false);
    if (denied) return denied;
    if (!a) return gmailError(404, 'Requested entity was not found.', 'NOT_FOUND', 'notFound');
    return fn(a, alias, req.grant!.sub);
  }

  private withCert(req: FakeRequest, m: string[], access: 'read' | 'write', fn: (a: Alias, c: FakeSmimeCert) => ScriptedResponse): ScriptedResponse {
    return this.withAlias(req, m, access, (a) => {
      const c = a.certs.find((x) => x.id === m[3]);
      if (!c) return gmailError(404, 'Requested entity was not found.', 'NOT_FOUND', 'notFound');
      return fn(a, c);
    });
  }

  private insert(req: FakeRequest, a: Alias, alias: string, user: string): ScriptedResponse {
    const body = JSON.parse(req.body.toString() || '{}') as { pkcs12?: string; encryptedKeyPassword?: string };
    this.inserts.push({ user, alias, fields: Object.keys(body).sort(), base64url: /^[A-Za-z0-9_-]+$/.test(body.pkcs12 ?? '') });
    const bad = (message: string) => gmailError(400, message, 'INVALID_ARGUMENT', 'invalidArgument');
    if (!body.pkcs12) return bad('Missing PKCS12 data');
    let p12: forge.pkcs12.Pkcs12Pfx;
    try {
      const der = Buffer.from(body.pkcs12, 'base64url').toString('binary');
      p12 = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(der), false, body.encryptedKeyPassword ?? '');
    } catch {
      return bad('Invalid PKCS12 password or data');
    }
    const certs = (p12.getBags({ bagType: forge.pki.oids.certBag })[forge.pki.oids.certBag!] ?? []).map((b) => b.cert!);
    const leaf = certs.find((c) => !c.extensions.some((e: { name: string; cA?: boolean }) => e.name === 'basicConstraints' && e.cA));
    if (!leaf) return bad('No certificate found in PKCS12 data');
    const san = leaf.getExtension('subjectAltName') as { altNames?: { type: number; value: string }[] } | null;
    const emails = [
      ...(san?.altNames ?? []).filter((n) => n.type === 1).map((n) => n.value.toLowerCase()),
      ...leaf.subject.attributes.filter((x) => x.name === 'emailAddress').map((x) => String(x.value).toLowerCase()),
    ];
    if (!emails.includes(alias)) return bad("Certificate's subject does not match the send-as address.");
    if (leaf.validity.notAfter.getTime() <= Date.now()) return bad('Certificate has expired.');
    const issuer = this.trusted.find((ca) => {
      try {
        return ca.verify(leaf);
      } catch {
        return false;
      }
    });
    if (!issuer) return bad('Certificate is not issued by a trusted root certificate authority.');
    const cert: FakeSmimeCert = {
      id: this.newId(),
      issuerCn: String(issuer.subject.getField('CN')?.value ?? ''),
      expiration: leaf.validity.notAfter.getTime(),
      isDefault: false,
      pem: certs.map((c) => forge.pki.certificateToPem(c)).join(''),
    };
    a.certs.push(cert);
    return { status: 200, body: certJson(cert) };
  }
}

function aliasJson(alias: string, a: Alias): Record<string, unknown> {
  return { sendAsEmail: alias, displayName: '', isPrimary: a.isPrimary, isDefault: a.isPrimary, verificationStatus: a.isPrimary ? undefined : 'accepted' };
}

function certJson(c: FakeSmimeCert): Record<string, unknown> {
  return { id: c.id, issuerCn: c.issuerCn, isDefault: c.isDefault, expiration: String(c.expiration), ...(c.pem ? { pem: c.pem } : {}) };
}

// ---- a running S/MIME environment and the CLI against it -----------------------------------

export interface SmimeTestEnv {
  google: FakeGoogle;
  smime: FakeSmime;
  sa: TestServiceAccount;
  ca: TestCa;
  dir: string;
  auditLog: string;
  /** A config document whose smime section points at the fake. */
  doc: { smime: Record<string, unknown> };
  /** Write a file (0600) into the test directory and return its path. */
  file(name: string, data: string | Buffer, mode?: number): string;
  close(): Promise<void>;
}

export async function startSmimeEnv(): Promise<SmimeTestEnv> {
  const google = await FakeGoogle.start();
  const smime = FakeSmime.install(google);
  const sa = createTestServiceAccount('smime');
  google.addServiceAccount(sa);
  google.authorize(sa.clientId, [SETTINGS_BASIC, SETTINGS_SHARING]);
  const ca = createTestCa();
  smime.trust(ca);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wr-smime-'));
  const auditLog = path.join(dir, 'var', 'audit.log');
  const file = (name: string, data: string | Buffer, mode = 0o600) => {
    const p = path.join(dir, name);
    writeFileSync(p, data, { mode });
    chmodSync(p, mode);
    return p;
  };
  return {
    google,
    smime,
    sa,
    ca,
    dir,
    auditLog,
    doc: { smime: { serviceAccountKeyFile: sa.writeKeyFile(dir), tokenUrl: google.tokenUrl, apiRootUrl: google.apiRootUrl, auditLog } },
    file,
    close: () => google.close(),
  };
}

export interface CliRun {
  stdout: string;
  stderr: string;
  /** The exit code the command asked for (0 when it asked for none). */
  code: number;
  prompts: string[];
}

/** Run `workspace-relay smime ARGS` in-process with injected output, prompt, env and exit. */
export async function runSmimeCli(
  doc: unknown,
  args: string[],
  o: { env?: Record<string, string>; password?: string; interrupt?: AbortSignal; onStdout?: (text: string) => void } = {},
): Promise<CliRun> {
  const r: CliRun = { stdout: '', stderr: '', code: 0, prompts: [] };
  const program = new Command('workspace-relay').exitOverride().configureOutput({
    writeOut: (s) => (r.stdout += s),
    writeErr: (s) => (r.stderr += s),
  });
  registerSmimeCommands(program, {
    loadDoc: () => doc,
    stdout: (s) => {
      r.stdout += s;
      o.onStdout?.(s);
    },
    stderr: (s) => (r.stderr += s),
    interrupt: () => ({ signal: o.interrupt ?? new AbortController().signal, dispose: () => undefined }),
    prompt: async (q) => {
      r.prompts.push(q);
      if (o.password === undefined) throw new Error('unexpected prompt');
      return o.password;
    },
    exit: (code) => (r.code = code),
    env: o.env ?? {},
  });
  try {
    await program.parseAsync(['smime', ...args], { from: 'user' });
  } catch (err) {
    if (err instanceof CliExit) {
      r.stderr += err.message;
      r.code = err.exitCode;
    } else if (err instanceof CommanderError) r.code = err.exitCode;
    else throw err;
  }
  return r;
}

/** The audit log's entries. */
export function readAudit(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
