/**
 * Local checks of a PKCS#12 file before it is uploaded (node-forge opens the container; node's
 * X509Certificate reads the certificates): the password opens it, it holds a private key and the
 * matching certificate, the certificate names the alias's address and has not expired. A missing
 * chain is only a warning (Gmail accepts it when the issuer is a root it trusts).
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { SmimeError } from './errors.js';

export interface CertificateInfo {
  subject: string;
  issuerCn: string | undefined;
  /** rfc822Name entries of subjectAltName, then the subject's emailAddress; lowercased. */
  emails: string[];
  notBefore: Date;
  notAfter: Date;
  isCa: boolean;
  fingerprint256: string;
}

export interface P12Contents {
  /** The certificate of the private key. */
  certificate: CertificateInfo;
  /** The other certificates in the file (intermediates, root). */
  chain: CertificateInfo[];
}

export interface P12Check {
  contents: P12Contents;
  warnings: string[];
}

const DAY_MS = 86_400_000;

/** Open a PKCS#12 file with its password. Throws SmimeError naming `label` (the file). */
export function readP12(data: Buffer, password: string, label: string): P12Contents {
  let asn1: forge.asn1.Asn1;
  try {
    asn1 = forge.asn1.fromDer(forge.util.createBuffer(data.toString('binary')));
  } catch {
    throw new SmimeError('smime.p12_invalid', `${label} is not a PKCS#12 (.p12/.pfx) file: export the certificate with its private key as .p12`);
  }
  let p12: forge.pkcs12.Pkcs12Pfx;
  try {
    p12 = forge.pkcs12.pkcs12FromAsn1(asn1, false, password);
  } catch (err) {
    if (/password|MAC|decrypt/i.test((err as Error).message)) {
      throw new SmimeError('smime.p12_password', `${label}: the password does not open this PKCS#12 file (wrong password?)`);
    }
    throw new SmimeError('smime.p12_invalid', `${label} is not a readable PKCS#12 file (${(err as Error).message})`);
  }
  const keys = [
    ...(p12.getBags({ bagType: forge.pki.oids.pkcs8ShroudedKeyBag })[forge.pki.oids.pkcs8ShroudedKeyBag!] ?? []),
    ...(p12.getBags({ bagType: forge.pki.oids.keyBag })[forge.pki.oids.keyBag!] ?? []),
  ];
  const certBags = p12.getBags({ bagType: forge.pki.oids.certBag })[forge.pki.oids.certBag!] ?? [];
  if (!keys.length) {
    throw new SmimeError('smime.p12_no_key', `${label} holds no private key: export the certificate together with its private key`);
  }
  if (keys.length > 1) {
    throw new SmimeError('smime.p12_many_keys', `${label} holds ${keys.length} private keys; Gmail takes one key and its certificate per upload`);
  }
  const certs = certBags.map((b) => new X509Certificate(certDer(b)));
  if (!certs.length) {
    throw new SmimeError('smime.p12_no_certificate', `${label} holds no certificate: export the certificate together with its private key`);
  }
  const key = keyObject(keys[0]!);
  const leafIndex = certs.findIndex((c) => (key ? safeCheckKey(c, key) : !c.ca));
  const index = leafIndex >= 0 ? leafIndex : certs.findIndex((c) => !c.ca);
  if (index < 0) {
    throw new SmimeError('smime.p12_no_certificate', `${label} holds no certificate for its private key (only CA certificates)`);
  }
  return {
    certificate: describeCertificate(certs[index]!),
    chain: certs.filter((_, i) => i !== index).map(describeCertificate),
  };
}

/**
 * Open and check a PKCS#12 file for `alias` at time `now`: throws SmimeError for a wrong password,
 * a certificate for another address, or an expired one; returns warnings otherwise.
 */
export function checkP12(data: Buffer, password: string, options: { alias: string; now: Date; label: string; warnDays?: number }): P12Check {
  const { label, now } = options;
  const alias = options.alias.toLowerCase();
  const contents = readP12(data, password, label);
  const cert = contents.certificate;
  if (!cert.emails.length) {
    throw new SmimeError(
      'smime.p12_no_email',
      `${label}: the certificate names no email address (subjectAltName rfc822Name or subject emailAddress); Gmail needs one equal to ${alias}`,
    );
  }
  if (!cert.emails.includes(alias)) {
    throw new SmimeError(
      'smime.p12_wrong_address',
      `${label}: the certificate is for ${cert.emails.join(', ')}, not ${alias}: upload it to that address, or use the certificate issued for ${alias}`,
    );
  }
  if (cert.notAfter.getTime() <= now.getTime()) {
    throw new SmimeError('smime.p12_expired', `${label}: the certificate expired on ${isoDay(cert.notAfter)}: renew it with the CA`);
  }
  const warnings: string[] = [];
  if (cert.notBefore.getTime() > now.getTime()) {
    warnings.push(`${label}: the certificate is not valid before ${isoDay(cert.notBefore)}`);
  }
  const daysLeft = Math.floor((cert.notAfter.getTime() - now.getTime()) / DAY_MS);
  if (daysLeft < (options.warnDays ?? 30)) {
    warnings.push(`${label}: the certificate expires on ${isoDay(cert.notAfter)} (${daysLeft} days left)`);
  }
  if (!contents.chain.length) {
    warnings.push(
      `${label} includes no CA certificates (no chain): Gmail rejects it unless its issuer${cert.issuerCn ? ` "${cert.issuerCn}"` : ''} is a root Google trusts; export it with the full chain`,
    );
  }
  return { contents, warnings };
}

export function isoDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

function certDer(bag: forge.pkcs12.Bag): Buffer {
  const asn1 = bag.cert ? forge.pki.certificateToAsn1(bag.cert) : bag.asn1;
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
}

function keyObject(bag: forge.pkcs12.Bag): KeyObject | undefined {
  try {
    if (bag.key) return createPrivateKey(forge.pki.privateKeyToPem(bag.key));
    if (bag.asn1) {
      return createPrivateKey({ key: Buffer.from(forge.asn1.toDer(bag.asn1).getBytes(), 'binary'), format: 'der', type: 'pkcs8' });
    }
  } catch {
    // An unusual key type node cannot read: fall back to "the certificate that is not a CA".
  }
  return undefined;
}

function safeCheckKey(cert: X509Certificate, key: KeyObject): boolean {
  try {
    return cert.checkPrivateKey(key);
  } catch {
    return false;
  }
}

/** What a certificate says about itself (also used for Gmail's returned PEM). */
export function describeCertificate(cert: X509Certificate): CertificateInfo {
  const emails = new Set<string>();
  for (const m of (cert.subjectAltName ?? '').matchAll(/(?:^|,\s*)email:([^,\s]+)/g)) emails.add(m[1]!.toLowerCase());
  for (const m of cert.subject.matchAll(/^emailAddress=(.+)$/gm)) emails.add(m[1]!.trim().toLowerCase());
  return {
    subject: cert.subject.replace(/\n/g, ', '),
    issuerCn: /^CN=(.+)$/m.exec(cert.issuer)?.[1],
    emails: [...emails],
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    isCa: cert.ca,
    fingerprint256: cert.fingerprint256,
  };
}

/** The certificates of a PEM bundle (Gmail's `pem` field). */
export function certificatesFromPem(pem: string): CertificateInfo[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const out: CertificateInfo[] = [];
  for (const b of blocks) {
    try {
      out.push(describeCertificate(new X509Certificate(b)));
    } catch {
      // skip what node cannot read
    }
  }
  return out;
}
