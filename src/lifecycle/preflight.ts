/**
 * What start-up (and a reload) can check from the config before it touches the spool: every
 * listen[] entry against the whole config (device password hashes, TLS files), the directories
 * the relay must write (queue.dir, the control socket's), and the reading of a bind failure as
 * the config mistake it is (port in use, an address this machine does not have, a name that does
 * not resolve, a port below 1024 without the capability). Each is a ConfigError naming the key
 * and the fix: `serve` exits 78 with `config error: …` on it.
 */
import { accessSync, constants, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Config, ListenerConfig, SecretReadOptions } from '../config/index.js';
import { controlSocketPath } from '../control/index.js';
import { ConfigError, errorText } from '../errors.js';
import { checkListenerConfig, loadTlsOptions } from '../smtp/index.js';

/**
 * Every listen[] entry: devices it would serve, and its certificate and key (read and paired);
 * those of `kept` (a practice's kept on its running settings) as last read good if need be.
 */
export function checkListeners(config: Config, kept: ReadonlySet<ListenerConfig> = new Set()): void {
  config.listen.forEach((cfg, i) => checkListener(config, i, { lastGood: kept.has(cfg) }));
}

/** listen[i]: the devices it would serve, and its certificate and key (read and paired). */
export function checkListener(config: Config, i: number, files: SecretReadOptions = {}): void {
  const cfg = config.listen[i]!;
  checkListenerConfig(cfg, config, `listen[${i}]`);
  if (cfg.tls.mode !== 'none') loadTlsOptions(cfg, `listen[${i}]`, files);
}

/**
 * Bind listen[i]'s address and port, and let go at once (`check`, when no relay holds them): the
 * bind `serve` will make, failing as it would (bindError).
 */
export async function probeBind(cfg: ListenerConfig, label: string): Promise<void> {
  const server = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: cfg.host, port: cfg.port, exclusive: true }, resolve);
    });
  } catch (err) {
    throw bindError(err, cfg, label);
  } finally {
    await new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
  }
}

/** queue.dir, and the directory of the control socket when control.socket puts it elsewhere. */
export function checkDirectories(config: Config): void {
  checkWritableDir(path.resolve(config.queue.dir), 'queue.dir');
  const socketDir = path.dirname(controlSocketPath(config));
  if (config.control.socket) checkWritableDir(socketDir, 'control.socket');
}

const errno = (err: unknown) => (err as NodeJS.ErrnoException).code;

/**
 * `dir` is a directory this process can create files in, or can be created (its nearest existing
 * parent is such a directory).
 */
export function checkWritableDir(dir: string, key: string): void {
  let at = dir;
  for (;;) {
    let isDir: boolean;
    try {
      isDir = statSync(at).isDirectory();
    } catch (err) {
      // (ENOTDIR: a file on the way, found as such one level up.)
      if ((errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') && path.dirname(at) !== at) {
        at = path.dirname(at);
        continue;
      }
      throw new ConfigError(key, `cannot use ${dir}: ${errorText(err)}`);
    }
    if (!isDir) throw new ConfigError(key, `${at} is not a directory: choose a directory for ${key}`);
    try {
      accessSync(at, constants.W_OK | constants.X_OK);
    } catch (err) {
      const what = at === dir ? dir : `${dir} (to be created in ${at})`;
      const fix =
        errno(err) === 'EROFS'
          ? 'the file system is read-only here (under systemd: add it to ReadWritePaths=, or choose a path under /var/lib/workspace-relay)'
          : `give the relay's user write access to it (chown), or choose another ${key}`;
      throw new ConfigError(key, `${what} is not writable by this user: ${fix}`);
    }
    return;
  }
}

/** A listener bind failure as the config mistake it is (ConfigError), or the error unchanged. */
export function bindError(err: unknown, cfg: ListenerConfig, label: string): unknown {
  const where = `${cfg.host}:${cfg.port}`;
  switch (errno(err)) {
    case 'EADDRINUSE':
      return new ConfigError(`${label}.port`, `${where} is in use by another program (or another listen[] entry): stop it, or choose another port`, { cause: err });
    case 'EADDRNOTAVAIL':
      return new ConfigError(`${label}.host`, `${cfg.host} is not an address of this machine: use one of its addresses, 0.0.0.0 (every IPv4 address) or :: (every address)`, { cause: err });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
      return new ConfigError(`${label}.host`, `"${cfg.host}" does not resolve to an address of this machine: use an IP address`, { cause: err });
    case 'EACCES':
    case 'EPERM':
      return new ConfigError(
        `${label}.port`,
        `binding ${where} needs privileges: grant CAP_NET_BIND_SERVICE (the systemd unit does: AmbientCapabilities=CAP_NET_BIND_SERVICE), or use a port above 1023`,
        { cause: err },
      );
    default:
      return err;
  }
}
