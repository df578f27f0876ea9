import { describe, expect, it } from 'vitest';
import { SmimeError, checkP12, readP12 } from '../src/smime/index.js';
import { createTestCa, issueCertificate, makeP12 } from './support/fake-smime.js';

const ca = createTestCa('Clinic Test CA');
const now = new Date();
const PASSWORD = 'correct horse 42';
const alias = 'alice@clinic.example';

function thrown(fn: () => unknown): SmimeError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SmimeError);
    return err as SmimeError;
  }
  throw new Error('expected an error');
}

describe('local .p12 checks before upload', () => {
  it('reads the address (subjectAltName), expiry, issuer and chain of a good file, with no warnings', () => {
    const c = issueCertificate(ca, { email: 'Alice@clinic.example', notAfterDays: 365 });
    const { contents, warnings } = checkP12(makeP12(c, PASSWORD), PASSWORD, { alias, now, label: 'alice.p12' });
    expect(contents.certificate.emails).toEqual([alias]);
    expect(contents.certificate.issuerCn).toBe('Clinic Test CA');
    expect(Math.abs(contents.certificate.notAfter.getTime() - c.cert.validity.notAfter.getTime())).toBeLessThan(1000);
    expect(contents.chain.map((x) => x.issuerCn)).toEqual(['Clinic Test CA']);
    expect(contents.chain[0]!.isCa).toBe(true);
    expect(warnings).toEqual([]);
  });

  it('accepts the legacy subject emailAddress form', () => {
    const c = issueCertificate(ca, { email: alias, notAfterDays: 365, emailIn: 'subject' });
    expect(checkP12(makeP12(c, PASSWORD), PASSWORD, { alias, now, label: 'f' }).contents.certificate.emails).toEqual([alias]);
  });

  it('refuses a wrong password with a clear message that does not repeat either password', () => {
    const c = issueCertificate(ca, { email: alias, notAfterDays: 365 });
    const err = thrown(() => checkP12(makeP12(c, PASSWORD), 'guess-123', { alias, now, label: 'alice.p12' }));
    expect(err.code).toBe('smime.p12_password');
    expect(err.message).toBe('alice.p12: the password does not open this PKCS#12 file (wrong password?)');
  });

  it('refuses a certificate issued for another address, naming both', () => {
    const c = issueCertificate(ca, { email: 'bob@clinic.example', notAfterDays: 365 });
    const err = thrown(() => checkP12(makeP12(c, PASSWORD), PASSWORD, { alias, now, label: 'bob.p12' }));
    expect(err.code).toBe('smime.p12_wrong_address');
    expect(err.message).toMatch(/bob\.p12: the certificate is for bob@clinic\.example, not alice@clinic\.example/);
  });

  it('refuses a certificate with no address at all', () => {
    const c = issueCertificate(ca, { email: alias, notAfterDays: 365, emailIn: 'none' });
    expect(thrown(() => checkP12(makeP12(c, PASSWORD), PASSWORD, { alias, now, label: 'f' })).code).toBe('smime.p12_no_email');
  });

  it('refuses an expired certificate, saying when it expired', () => {
    const c = issueCertificate(ca, { email: alias, notBeforeDays: -400, notAfterDays: -2 });
    const err = thrown(() => checkP12(makeP12(c, PASSWORD), PASSWORD, { alias, now, label: 'old.p12' }));
    expect(err.code).toBe('smime.p12_expired');
    expect(err.message).toContain(`expired on ${c.cert.validity.notAfter.toISOString().slice(0, 10)}`);
  });

  it('warns (but does not refuse) when the file has no chain, and when expiry is near', () => {
    const c = issueCertificate(ca, { email: alias, notAfterDays: 10 });
    const { warnings } = checkP12(makeP12(c, PASSWORD, { chain: false }), PASSWORD, { alias, now, label: 'bare.p12' });
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/expires on .* \(\d+ days left\)/);
    expect(warnings[1]).toMatch(/bare\.p12 includes no CA certificates \(no chain\).*"Clinic Test CA"/);
  });

  it('says so when the file is not PKCS#12 at all', () => {
    const err = thrown(() => readP12(Buffer.from('-----BEGIN CERTIFICATE-----\nnope\n'), 'x', 'cert.pem'));
    expect(err.code).toBe('smime.p12_invalid');
    expect(err.message).toMatch(/cert\.pem is not a PKCS#12/);
  });
});
