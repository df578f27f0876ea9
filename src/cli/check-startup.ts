/**
 * `check`, first section: what `serve` would refuse to start with, by the very checks `serve`
 * runs (src/lifecycle/preflight.ts, the transports and send-as verifiers built from the config),
 * one named check each. The binds: a port the running relay holds is its own (`status` over the
 * control socket says which), so only the others are bound and let go.
 */
import { buildSendAsVerifiers } from '../google/index.js';
import type { Config } from '../config/index.js';
import { ControlError, controlRequest, controlSocketPath, formatDuration, type RelayStatus } from '../control/index.js';
import { buildTransports } from '../delivery/index.js';
import { ConfigError, errorText } from '../errors.js';
import { checkDirectories, checkListener, probeBind } from '../lifecycle/index.js';
import { silentLogger } from '../log.js';
import { attempt, fail, pass, warn, type CheckItem, type CheckSection } from './check-report.js';

/** Is a relay running on this config's spool? `unknown`: its control socket would not say. */
export type RelayState = { state: 'running'; status: RelayStatus } | { state: 'stopped' } | { state: 'unknown'; reason: string };

export async function relayState(config: Config): Promise<RelayState> {
  try {
    const status = (await controlRequest(controlSocketPath(config), { op: 'status' }, { connectTimeoutMs: 3_000, replyTimeoutMs: 15_000 })) as RelayStatus;
    return { state: 'running', status };
  } catch (err) {
    if (err instanceof ControlError && (err.code === 'control.unavailable' || err.code === 'control.not_daemon')) return { state: 'stopped' };
    return { state: 'unknown', reason: errorText(err) };
  }
}

export async function startupSection(config: Config, relay: RelayState): Promise<CheckSection> {
  const items: CheckItem[] = [relayItem(relay)];
  for (const [i, cfg] of config.listen.entries()) {
    const where = `${cfg.host}:${cfg.port}`;
    const settings = `listen[${i}] ${where}: TLS ${cfg.tls.mode}${cfg.tls.mode === 'none' ? '' : ' (certificate and key read)'}${cfg.auth.required ? ', device login required' : ''}`;
    items.push(await attempt(`listen[${i}]`, settings, () => checkListener(config, i)));
    items.push(await bindItem(config, i, relay));
  }
  items.push(await attempt('directories', 'queue.dir and the control socket can be written', () => checkDirectories(config)));
  items.push(
    await attempt('keys', "every workspace's key, password and CA files can be read", async () => {
      const transports = buildTransports(config, silentLogger);
      await Promise.allSettled([...transports.values()].map(async (t) => t.close?.()));
      buildSendAsVerifiers(config, silentLogger);
    }),
  );
  return { title: 'start-up (what serve checks before it starts)', items };
}

function relayItem(relay: RelayState): CheckItem {
  switch (relay.state) {
    case 'running': {
      const s = relay.status;
      return pass('relay', `relay running: pid ${s.pid}, up ${formatDuration(s.uptimeSeconds * 1000)} (the ports it holds are not bound again)`);
    }
    case 'stopped':
      return pass('relay', 'relay not running: each listener is bound and let go');
    case 'unknown':
      return warn('relay', `cannot tell whether the relay runs (${relay.reason})`, "run check as the relay's user (sudo -u workspace-relay workspace-relay check) or as root");
  }
}

async function bindItem(config: Config, i: number, relay: RelayState): Promise<CheckItem> {
  const cfg = config.listen[i]!;
  const name = `listen[${i}].bind`;
  const where = `listen[${i}] ${cfg.host}:${cfg.port}`;
  if (relay.state === 'running' && relay.status.listeners.some((l) => l.host === cfg.host && l.port === cfg.port)) {
    return pass(name, `${where}: held by the running relay (pid ${relay.status.pid})`);
  }
  try {
    await probeBind(cfg, `listen[${i}]`);
    return pass(name, `${where}: free (bound and let go)`);
  } catch (err) {
    const cause = err instanceof Error ? (err.cause as NodeJS.ErrnoException | undefined) : undefined;
    const code = cause?.code;
    if ((code === 'EACCES' || code === 'EPERM') && cfg.port < 1024) {
      // This shell lacks the capability the systemd unit gives serve.
      return warn(name, `${where}: this user may not bind a port below 1024 (${code}); serve under the systemd unit may (AmbientCapabilities=CAP_NET_BIND_SERVICE)`, undefined, { code });
    }
    if (code === 'EADDRINUSE' && relay.state === 'unknown') {
      return warn(name, `${where}: in use, perhaps by the running relay (this user cannot ask it)`, "run check as the relay's user to tell", { code });
    }
    return fail(name, err instanceof ConfigError ? err.message : errorText(err), undefined, { code: code ?? 'error' });
  }
}
