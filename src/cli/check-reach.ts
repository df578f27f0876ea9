/**
 * Can this machine reach an endpoint of Google's, step by step as a request would: the name
 * (DNS), a TCP connection, a proxy's CONNECT tunnel when one is configured, the TLS handshake
 * (against the system's CAs and NODE_EXTRA_CA_CERTS, as the relay's requests), and for an HTTP
 * endpoint a HEAD request, whose Date header tells Google's clock. The step that fails is
 * classified by the one classifier (src/failures), so its fix comes from the code table:
 * resolver, firewall rule, TLS-inspecting proxy, HTTPS_PROXY.
 */
import { promises as dns } from 'node:dns';
import net from 'node:net';
import tls from 'node:tls';
import type { DeliveryError } from '../errors.js';
import { classify, failure } from '../failures/index.js';

export interface Endpoint {
  /** What it is, e.g. "token endpoint", "Gmail API", "Gmail SMTP"; several when they share host and port. */
  labels: string[];
  host: string;
  port: number;
  /** TLS from the first byte (https, SMTP on 465). */
  tls: boolean;
  /** Ask HEAD of this path once connected (HTTP endpoints). */
  httpPath?: string;
  /** The proxy its requests go through (HTTPS_PROXY), when they do. */
  proxy?: URL;
  /** Extra CA certificates to trust (smtp.caFile). */
  ca?: Buffer;
}

export interface ReachResult {
  /** The steps that passed, in order: "DNS 142.250.185.74", "TCP", "TLSv1.3", "HTTP 404". */
  steps: string[];
  failure?: DeliveryError;
  /** Google's clock minus ours (ms), from the Date of the HTTP answer. */
  clockOffsetMs?: number;
}

export type Lookup = (host: string) => Promise<{ address: string }>;

export interface ReachOptions {
  lookup?: Lookup;
  /** Per step (default 10 s). */
  timeoutMs?: number;
  now?: () => number;
}

export async function reach(e: Endpoint, options: ReachOptions = {}): Promise<ReachResult> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const now = options.now ?? Date.now;
  const lookup = options.lookup ?? ((host: string) => dns.lookup(host));
  const hostPort = `${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}`;
  const proxy = e.proxy ? redactProxy(e.proxy) : undefined;
  const steps: string[] = [];
  const sockets: net.Socket[] = [];
  const target = e.proxy ? { host: e.proxy.hostname.replace(/^\[|\]$/g, ''), port: Number(e.proxy.port || (e.proxy.protocol === 'https:' ? 443 : 80)) } : { host: e.host, port: e.port };
  const viaProxy = Boolean(e.proxy);
  /** A failure on the way to the endpoint, or to the proxy (then the proxy's fix is the one). */
  const failed = (err: unknown, toProxy: boolean): ReachResult => {
    if (!toProxy) return { steps, failure: classify(err, { host: hostPort, ...(proxy ? { proxy } : {}) }) };
    const f = classify(err, { host: `${target.host}:${target.port}` });
    return { steps, failure: failure('delivery.network.proxy', `the proxy ${proxy} cannot be used: ${f.summary}`, { host: hostPort, proxy: proxy! }, { detail: f.detail }) };
  };
  try {
    let address: string;
    try {
      address = net.isIP(target.host) ? target.host : (await within(lookup(target.host), timeoutMs, () => dnsTimeout(target.host, timeoutMs))).address;
    } catch (err) {
      return failed(err, viaProxy);
    }
    if (!net.isIP(target.host)) steps.push(`DNS ${viaProxy ? `${target.host} ` : ''}${address}`);
    let socket: net.Socket;
    try {
      socket = await connect(address, target.port, timeoutMs, sockets);
    } catch (err) {
      return failed(err, viaProxy);
    }
    steps.push(viaProxy ? `TCP to the proxy ${proxy}` : 'TCP');
    if (e.proxy) {
      try {
        if (e.proxy.protocol === 'https:') socket = await handshake(socket, target.host, undefined, timeoutMs, sockets);
        await tunnel(socket, e.proxy, hostPort, timeoutMs);
      } catch (err) {
        if (err instanceof ProxyAnswer) {
          const statement = err.status === 407 ? `the proxy ${proxy} asks for credentials (407)` : `the proxy ${proxy} refused CONNECT to ${hostPort} (${err.status})`;
          return { steps, failure: failure('delivery.network.proxy', statement, { host: hostPort, proxy: proxy! }, { status: err.status, detail: String(err.status) }) };
        }
        return failed(err, true);
      }
      steps.push(`CONNECT ${hostPort}`);
    }
    if (e.tls) {
      try {
        const secure = await handshake(socket, e.host, e.ca, timeoutMs, sockets);
        steps.push(secure.getProtocol() ?? 'TLS');
        socket = secure;
      } catch (err) {
        return failed(err, false);
      }
    }
    if (e.httpPath === undefined) return { steps };
    try {
      const sentAt = now();
      const head = await readHead(socket, `HEAD ${e.httpPath} HTTP/1.1\r\nHost: ${hostPort}\r\nUser-Agent: workspace-relay-check\r\nConnection: close\r\n\r\n`, timeoutMs);
      const midpoint = (sentAt + now()) / 2;
      const status = /^HTTP\/\d(?:\.\d)? (\d{3})/.exec(head)?.[1];
      if (!status) throw Object.assign(new Error('not an HTTP answer'), { code: 'ECONNRESET' });
      steps.push(`HTTP ${status}`);
      const date = Date.parse(/^date:[ \t]*(.+?)\r?$/im.exec(head)?.[1] ?? '');
      // (The Date header counts whole seconds: the middle of its second is the best guess.)
      return { steps, ...(Number.isFinite(date) ? { clockOffsetMs: Math.round(date + 500 - midpoint) } : {}) };
    } catch (err) {
      return failed(err, false);
    }
  } finally {
    // The outermost first: destroying the socket under a live TLS socket first crashes Node 20 (SIGSEGV).
    for (const s of sockets.reverse()) s.destroy();
  }
}

/** The proxy's URL without credentials, for what `check` prints. */
export function redactProxy(url: URL): string {
  return `${url.protocol}//${url.host}`;
}

class ProxyAnswer extends Error {
  constructor(readonly status: number) {
    super(`proxy answered ${status}`);
  }
}

function within<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(onTimeout()), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const dnsTimeout = (host: string, ms: number) => Object.assign(new Error(`DNS gave no answer for ${host} within ${ms} ms`), { code: 'EAI_AGAIN', hostname: host });

function connect(address: string, port: number, ms: number, sockets: net.Socket[]): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address, port });
    sockets.push(socket);
    const stop = idleTimeout(socket, ms, () => socket.destroy(Object.assign(new Error(`connect ETIMEDOUT ${address}:${port}`), { code: 'ETIMEDOUT', syscall: 'connect' })));
    socket.once('error', reject);
    socket.once('connect', () => {
      stop();
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

function handshake(socket: net.Socket, host: string, ca: Buffer | undefined, ms: number, sockets: net.Socket[]): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const secure = tls.connect({ socket, ...(net.isIP(host) ? {} : { servername: host }), ...(ca ? { ca: [...tls.rootCertificates, ca.toString()] } : {}) });
    sockets.push(secure);
    const stop = idleTimeout(secure, ms, () => secure.destroy(Object.assign(new Error('TLS handshake timed out'), { code: 'ETIMEDOUT' })));
    secure.once('error', reject);
    secure.once('secureConnect', () => {
      stop();
      secure.off('error', reject);
      resolve(secure);
    });
  });
}

/** Open a CONNECT tunnel to `hostPort` through the proxy on `socket`; a refusal is a ProxyAnswer. */
async function tunnel(socket: net.Socket, proxy: URL, hostPort: string, ms: number): Promise<void> {
  const auth = proxy.username ? `Proxy-Authorization: Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString('base64')}\r\n` : '';
  const head = await readHead(socket, `CONNECT ${hostPort} HTTP/1.1\r\nHost: ${hostPort}\r\n${auth}\r\n`, ms);
  const status = Number(/^HTTP\/\d(?:\.\d)? (\d{3})/.exec(head)?.[1] ?? 0);
  if (status !== 200) throw new ProxyAnswer(status);
}

/** Write `request`, and read the answer up to the end of its head (kept whole: it is small). */
function readHead(socket: net.Socket, request: string, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const done = (err: Error | null, head?: string) => {
      stop();
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('end', onEnd);
      if (err) reject(err);
      else resolve(head!);
    };
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end >= 0) done(null, buf.subarray(0, end).toString('latin1'));
      else if (buf.length > 64 * 1024) done(Object.assign(new Error('answer head too large'), { code: 'ECONNRESET' }));
    };
    const onError = (err: Error) => done(err);
    const onEnd = () => done(Object.assign(new Error('the other side closed the connection'), { code: 'ECONNRESET' }));
    socket.on('data', onData);
    socket.once('error', onError);
    socket.once('end', onEnd);
    const stop = idleTimeout(socket, ms, () => done(Object.assign(new Error('no answer in time'), { code: 'ETIMEDOUT' })));
    socket.write(request);
  });
}

/**
 * socket.setTimeout(ms, cb) for one step; the returned function ends it. (setTimeout(0) alone
 * leaves cb listening: a later step's timeout would run it, destroying the socket with an error
 * no one listens for any more.)
 */
function idleTimeout(socket: net.Socket, ms: number, onTimeout: () => void): () => void {
  socket.setTimeout(ms);
  socket.once('timeout', onTimeout);
  return () => {
    socket.setTimeout(0);
    socket.off('timeout', onTimeout);
  };
}
