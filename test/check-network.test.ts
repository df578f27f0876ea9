/**
 * `check`, the network: each Google endpoint reached step by step (DNS, TCP, the proxy, TLS,
 * HTTP), each failing step with its fix, and the clock against Google's. Loopback only: a name
 * that does not resolve comes from an injected resolver (a real lookup of a .invalid name would
 * ask this machine's DNS server).
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../src/config/index.js';
import { item, runCheck } from './support/check.js';
import { type GoogleEnv, freePort, gmailConfig, removeDir, startGoogle, tempDir } from './support/harness.js';
import { makeTestCert } from './support/tls.js';

let dir: string;
let google: GoogleEnv;
const servers: net.Server[] = [];

beforeAll(async () => {
  dir = tempDir();
  google = await startGoogle(dir);
});
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
  google.fake.clockOffsetMs = 0;
});
afterAll(async () => {
  await google.fake.close();
  removeDir(dir);
});

/** The fake's config, with this token endpoint; users given: alice. */
function config(tokenUrl = google.fake.tokenUrl): ConfigInput {
  return gmailConfig(dir, google, { google: { tokenUrl, apiRootUrl: google.fake.apiRootUrl } });
}

async function listen<S extends net.Server>(server: S): Promise<number> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
}

/** A resolver that knows no .invalid name (as a real one), and passes anything else to Node's. */
const lookup = async (host: string) => {
  if (host.endsWith('.invalid')) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND', syscall: 'getaddrinfo', hostname: host });
  return { address: '127.0.0.1' };
};

/** A CONNECT proxy on loopback: tunnels to the target, or answers `refuse` instead; records what it was asked. */
function proxy(refuse?: number, credentials?: string): { server: net.Server; asked: { target: string; auth: string | undefined }[] } {
  const asked: { target: string; auth: string | undefined }[] = [];
  const server = net.createServer((client) => {
    client.on('error', () => undefined);
    client.once('data', (chunk) => {
      const head = chunk.toString('latin1');
      const target = /^CONNECT (\S+) HTTP/.exec(head)?.[1] ?? '';
      const auth = /^proxy-authorization: basic (\S+)/im.exec(head)?.[1];
      asked.push({ target, auth: auth && Buffer.from(auth, 'base64').toString() });
      if (refuse || (credentials && asked.at(-1)!.auth !== credentials)) {
        client.end(`HTTP/1.1 ${refuse ?? 407} No\r\nContent-Length: 0\r\n\r\n`);
        return;
      }
      const [host, port] = target.split(':');
      const upstream = net.connect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection established\r\n\r\n');
        client.pipe(upstream).pipe(client);
      });
      upstream.on('error', () => client.destroy());
    });
  });
  return { server, asked };
}

describe('check: reaching Google', () => {
  it('a name that does not resolve: DNS, with the fix; users are not tried', async () => {
    const r = await runCheck(dir, config('https://oauth2.invalid/token'), ['alice@clinic.example'], { lookup });
    expect(r.exit).toBe(1);
    const token = item(r.report, 'reach token endpoint');
    expect(token).toMatchObject({ ok: false, code: 'delivery.network.dns', detail: 'token endpoint oauth2.invalid:443: cannot resolve oauth2.invalid (ENOTFOUND)' });
    expect(token.fix).toMatch(/^this machine cannot resolve oauth2\.invalid: check its DNS servers \(\/etc\/resolv\.conf, `resolvectl status`\) and that the firewall lets it reach them \(port 53\); .*HTTPS_PROXY/);
    expect(item(r.report, 'user alice@clinic.example')).toMatchObject({ ok: false, note: 'skipped', detail: "not tried: Google's token endpoint cannot be reached (network, above)" });
    expect(item(r.report, 'reach Gmail API').ok).toBe(true);
  });

  it('a refused connection: the firewall rule to add', async () => {
    const port = await freePort();
    const r = await runCheck(dir, config(`http://127.0.0.1:${port}/token`), ['alice@clinic.example']);
    expect(r.exit).toBe(1);
    const token = item(r.report, 'reach token endpoint');
    expect(token).toMatchObject({ ok: false, code: 'delivery.network.refused', detail: `token endpoint 127.0.0.1:${port}: the connection to 127.0.0.1:${port} was refused (ECONNREFUSED)` });
    expect(token.fix).toBe(`allow outgoing TCP to 127.0.0.1:${port} in the firewall (README "Firewall"), or set HTTPS_PROXY if the site reaches the internet through a proxy`);
  });

  it('a certificate this machine does not trust (a TLS-inspecting firewall): NODE_EXTRA_CA_CERTS', async () => {
    const cert = makeTestCert(dir, 'inspecting');
    const port = await listen(https.createServer({ key: readFileSync(cert.keyFile), cert: readFileSync(cert.certFile) }, (_q, s) => s.end()));
    const r = await runCheck(dir, config(`https://127.0.0.1:${port}/token`), ['alice@clinic.example']);
    const token = item(r.report, 'reach token endpoint');
    expect(token).toMatchObject({ ok: false, code: 'delivery.network.tls' });
    expect(token.detail).toMatch(new RegExp(`^token endpoint 127\\.0\\.0\\.1:${port}: TLS with 127\\.0\\.0\\.1:${port} failed: the certificate is not trusted here \\(\\w+\\) \\(TCP: ok\\)$`));
    expect(token.fix).toMatch(/^if a firewall or proxy inspects TLS, exempt 127\.0\.0\.1 from inspection or trust its CA \(NODE_EXTRA_CA_CERTS=\/path\/to\/ca\.pem in the relay's environment/);
  });

  it('no answer (a firewall that drops): the timeout, with the fix', async () => {
    const port = await listen(net.createServer((s) => s.on('error', () => undefined))); // accepts, never answers
    const r = await runCheck(dir, config(`http://127.0.0.1:${port}/token`), ['alice@clinic.example'], { timeoutMs: 300 });
    const token = item(r.report, 'reach token endpoint');
    expect(token).toMatchObject({ ok: false, code: 'delivery.timeout' });
    expect(token.fix).toMatch(new RegExp(`a firewall may be dropping the connections silently: allow outgoing TCP to 127\\.0\\.0\\.1:${port} in the firewall`));
  });
});

describe('check: through a proxy (HTTPS_PROXY)', () => {
  it('goes through it as the relay would, credentials kept out of the output', async () => {
    const p = proxy(undefined, 'relay:s3cret');
    const port = await listen(p.server);
    const env = { HTTPS_PROXY: `http://relay:s3cret@127.0.0.1:${port}` };
    const r = await runCheck(dir, config(), ['alice@clinic.example'], { env });
    const googlePort = new URL(google.fake.url).port;
    expect(item(r.report, 'proxy').detail).toBe(`HTTPS_PROXY=http://127.0.0.1:${port}: the Gmail API and token requests go through it; Gmail SMTP does not`);
    expect(item(r.report, 'reach token endpoint')).toMatchObject({ ok: true, detail: `token endpoint, Gmail API 127.0.0.1:${googlePort}: TCP to the proxy http://127.0.0.1:${port}, CONNECT 127.0.0.1:${googlePort}, HTTP 401` });
    expect(p.asked).toEqual([{ target: `127.0.0.1:${googlePort}`, auth: 'relay:s3cret' }]);
    expect(JSON.stringify(r.report)).not.toContain('s3cret');
    expect(r.exit).toBe(0);
  });

  it('a proxy that is not there: the proxy is the one to fix', async () => {
    const port = await freePort();
    const r = await runCheck(dir, config(), ['alice@clinic.example'], { env: { https_proxy: `http://127.0.0.1:${port}` } });
    const token = item(r.report, 'reach token endpoint');
    expect(token).toMatchObject({ ok: false, code: 'delivery.network.proxy' });
    expect(token.detail).toContain(`the proxy http://127.0.0.1:${port} cannot be used: the connection to 127.0.0.1:${port} was refused (ECONNREFUSED)`);
    expect(token.fix).toMatch(new RegExp(`^check HTTPS_PROXY \\(http://127\\.0\\.0\\.1:${port}\\): the proxy must be reachable`));
    expect(r.exit).toBe(1);
  });

  it('a proxy that wants credentials (407), or refuses the host (403)', async () => {
    const port407 = await listen(proxy(undefined, 'relay:right').server);
    const wants = await runCheck(dir, config(), [], { env: { HTTPS_PROXY: `http://127.0.0.1:${port407}` } });
    expect(item(wants.report, 'reach token endpoint')).toMatchObject({ ok: false, code: 'delivery.network.proxy' });
    expect(item(wants.report, 'reach token endpoint').detail).toMatch(new RegExp(`the proxy http://127\\.0\\.0\\.1:${port407} asks for credentials \\(407\\)`));
    const port403 = await listen(proxy(403).server);
    const refuses = await runCheck(dir, config(), [], { env: { HTTPS_PROXY: `http://127.0.0.1:${port403}` } });
    expect(item(refuses.report, 'reach token endpoint').detail).toMatch(/refused CONNECT to 127\.0\.0\.1:\d+ \(403\)/);
    expect(item(refuses.report, 'reach token endpoint').fix).toMatch(/allow CONNECT to 127\.0\.0\.1:\d+; add the host to NO_PROXY if this machine reaches it directly$/);
  });

  it('NO_PROXY: a host listed there is reached directly, as gaxios does', async () => {
    const port = await freePort(); // no proxy there: going through it would fail
    const r = await runCheck(dir, config(), [], { env: { HTTPS_PROXY: `http://127.0.0.1:${port}`, NO_PROXY: 'localhost,127.0.0.1' } });
    expect(item(r.report, 'reach token endpoint')).toMatchObject({ ok: true });
    expect(item(r.report, 'reach token endpoint').detail).not.toContain('proxy');
  });
});

describe('check: the clock', () => {
  it("a clock two minutes off Google's fails with the NTP fix; 20 s is a warning; agreeing passes", async () => {
    google.fake.clockOffsetMs = 120_000;
    const off = await runCheck(dir, config(), []);
    const clock = item(off.report, 'clock');
    expect(clock).toMatchObject({ ok: false, code: 'delivery.clock_skew' });
    expect(clock.detail).toMatch(/^this machine's clock is 1(19|20|21) s behind Google's \(the Date of the token endpoint's answer\): Google refuses token requests whose times look wrong$/);
    expect(clock.fix).toBe('check the system clock (enable NTP, e.g. `timedatectl set-ntp true`)');
    expect(off.exit).toBe(1);

    google.fake.clockOffsetMs = -20_000;
    const near = item((await runCheck(dir, config(), [])).report, 'clock');
    expect(near).toMatchObject({ ok: true, note: 'warn' });
    expect(near.detail).toMatch(/^this machine's clock is (19|20|21) s ahead of Google's/);

    google.fake.clockOffsetMs = 0;
    expect(item((await runCheck(dir, config(), [])).report, 'clock')).toMatchObject({ ok: true, detail: "within 5 s of Google's (the Date of the token endpoint's answer)" });
  });
});
