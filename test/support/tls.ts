/** A self-signed certificate for 127.0.0.1/localhost, made at test time with openssl. */
import { execFileSync } from 'node:child_process';
import path from 'node:path';

export interface TestCert {
  certFile: string;
  keyFile: string;
}

export function makeTestCert(dir: string, name = 'tls'): TestCert {
  const certFile = path.join(dir, `${name}-cert.pem`);
  const keyFile = path.join(dir, `${name}-key.pem`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
    { stdio: 'ignore' },
  );
  return { certFile, keyFile };
}
