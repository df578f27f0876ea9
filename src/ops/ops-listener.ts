/**
 * The operations listener (config `http`): GET /metrics, /healthz and /readyz over plain HTTP,
 * off the SMTP path, on its own addresses (loopback by default) and allow list (net.BlockList,
 * as the SMTP listeners'). GET and HEAD only; nothing on it changes state. A client outside
 * `allow` gets 403; an unknown path 404.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpConfig, HttpListenConfig } from '../config/index.js';
import { ConfigError, errorText } from '../errors.js';
import type { Logger } from '../log.js';
import { clientFilter, type ClientFilter } from '../smtp/index.js';
import type { HealthReport } from './health.js';

export interface OpsRoutes {
  metrics(): Promise<{ contentType: string; body: string }>;
  health(): Promise<HealthReport>;
  readiness(): Promise<HealthReport>;
}

export interface OpsListener {
  /** Where each http.listen[] entry is bound (port 0 in the config: the port chosen). */
  readonly addresses: readonly { host: string; port: number }[];
  /**
   * Apply a changed `http` section: new allow lists at once. False when the addresses changed
   * (or the listener was turned off): that takes a restart.
   */
  reload(next: HttpConfig | null): boolean;
  close(): Promise<void>;
}

const sameAddresses = (a: readonly HttpListenConfig[], b: readonly HttpListenConfig[]) =>
  a.length === b.length && a.every((l, i) => l.host === b[i]!.host && l.port === b[i]!.port);

export async function startOpsListener(config: HttpConfig, routes: OpsRoutes, logger: Logger): Promise<OpsListener> {
  let current = config;
  const servers: { server: http.Server; allowed: ClientFilter; address: { host: string; port: number } }[] = [];
  const closeAll = () =>
    Promise.all(
      servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.server.close(() => resolve());
            s.server.closeAllConnections();
          }),
      ),
    );
  try {
    for (const [i, entry] of config.listen.entries()) {
      const slot = { allowed: clientFilter(entry.allow) };
      const server = http.createServer((req, res) => void handle(req, res, slot.allowed, routes, logger));
      server.requestTimeout = 10_000;
      server.headersTimeout = 5_000;
      server.maxConnections = 64;
      await listen(server, entry, `http.listen[${i}]`);
      const bound = server.address() as AddressInfo;
      servers.push({ server, ...slot, address: { host: entry.host, port: bound.port } });
      logger.info({ event: 'http.started', host: entry.host, port: bound.port }, `operations endpoints on http://${entry.host}:${bound.port}/ (metrics, healthz, readyz)`);
    }
  } catch (err) {
    await closeAll();
    throw err;
  }
  return {
    addresses: servers.map((s) => s.address),
    reload(next) {
      if (!next || !sameAddresses(current.listen, next.listen)) return false;
      next.listen.forEach((entry, i) => (servers[i]!.allowed = clientFilter(entry.allow)));
      current = next;
      return true;
    },
    close: async () => void (await closeAll()),
  };
}

function listen(server: http.Server, entry: HttpListenConfig, key: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (err: NodeJS.ErrnoException) => {
      const where = `${entry.host}:${entry.port}`;
      const why =
        err.code === 'EADDRINUSE'
          ? `${where} is in use (another process, or a second relay)`
          : err.code === 'EACCES'
            ? `no permission to listen on ${where}`
            : `cannot listen on ${where}: ${errorText(err)}`;
      reject(new ConfigError(key, `${why}: choose another port in ${key}.port, or set http: null to turn the operations listener off`, { cause: err }));
    };
    server.once('error', failed);
    server.listen(entry.port, entry.host, () => {
      server.off('error', failed);
      resolve();
    });
  });
}

async function handle(req: IncomingMessage, res: ServerResponse, allowed: ClientFilter, routes: OpsRoutes, logger: Logger): Promise<void> {
  const client = req.socket.remoteAddress ?? '';
  const head = req.method === 'HEAD';
  const send = (status: number, contentType: string, body: string, extra: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...extra });
    res.end(head ? undefined : body);
  };
  const json = (status: number, value: unknown) => send(status, 'application/json; charset=utf-8', `${JSON.stringify(value)}\n`);
  try {
    if (!allowed(client)) {
      logger.debug({ event: 'http.refused', client }, 'operations request from outside http.listen[].allow');
      return send(403, 'text/plain; charset=utf-8', 'forbidden: this address is not in http.listen[].allow\n');
    }
    const path = (req.url ?? '/').split('?')[0];
    const route = path === '/metrics' || path === '/healthz' || path === '/readyz' ? path : null;
    if (!route) return send(404, 'text/plain; charset=utf-8', 'not found: try /metrics, /healthz or /readyz\n');
    if (req.method !== 'GET' && !head) return send(405, 'text/plain; charset=utf-8', 'method not allowed: GET or HEAD\n', { allow: 'GET, HEAD' });
    if (route === '/metrics') {
      const m = await routes.metrics();
      return send(200, m.contentType, m.body);
    }
    const report = route === '/healthz' ? await routes.health() : await routes.readiness();
    return json(report.ok ? 200 : 503, { status: report.ok ? 'ok' : 'fail', reasons: report.reasons });
  } catch (err) {
    logger.error({ event: 'http.error', path: req.url, err: errorText(err) }, 'operations request failed');
    if (!res.headersSent) send(500, 'text/plain; charset=utf-8', 'internal error\n');
  }
}
