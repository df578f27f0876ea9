/** `workspace-relay serve`: run the relay until a signal. */
import path from 'node:path';
import { startRelay, type Relay } from '../app.js';
import { loadConfig, configErrorReport, type Config } from '../config/index.js';
import { reloadApplied, reloadRefused, ControlError, type ReloadResult } from '../control/index.js';
import { ConfigError, errorText } from '../errors.js';
import { createLogger } from '../log.js';
import { prettyStream, wantsPretty, type LogFormat } from '../log-pretty.js';
import { CliExit, EXIT_CONFIG, SYSTEM_CONFIG_PATH, loadConfigOrExit, type ConfigChoice } from './context.js';

export interface ServeOptions {
  /** auto (readable on a terminal, JSON lines otherwise), json or pretty. */
  logFormat?: LogFormat;
}

export async function serve(choice: ConfigChoice, options: ServeOptions = {}): Promise<void> {
  const config = loadConfigOrExit(choice);
  const pretty = wantsPretty(options.logFormat ?? 'auto', Boolean(process.stdout.isTTY));
  const logger = createLogger({ level: config.log.level }, pretty ? await prettyStream() : undefined);
  if (choice.isExample || config.workspaces.some((w) => w.transport === 'outbox')) {
    const dry = config.workspaces.filter((w) => w.transport === 'outbox');
    logger.warn(
      {
        event: 'relay.dry_run',
        config: choice.path,
        workspaces: dry.map((w) => ({ name: w.name, outbox: w.outbox?.dir })),
      },
      `DRY RUN: workspace(s) ${dry.map((w) => w.name).join(', ')} write mail to an outbox directory instead of sending it. ` +
        `To send through Gmail, set transport: gmail-api (or smtp) in ${choice.isExample ? `your own config (${SYSTEM_CONFIG_PATH}, or --config PATH)` : choice.path} (see README "Google set-up").`,
    );
  }
  // Signals are caught from the start: a SIGHUP (systemctl reload) while the relay is still
  // starting would otherwise end the process (Node's default), and systemd counts that as a clean
  // exit, so it would not restart it. A reload asked for during start-up is applied once started;
  // a SIGTERM then stops it at once.
  let relay: Relay | undefined;
  let stopping = false;
  let stopSignal: NodeJS.Signals = 'SIGTERM';
  let reloadPending = false;
  let stopped: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (stopped = resolve));

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ event: 'relay.forced_exit', signal }, 'second signal: exiting now');
      logger.flush();
      process.exit(1);
    }
    stopping = true;
    stopSignal = signal;
    if (!relay) return; // still starting: stopped as soon as it has started
    const r = relay;
    logger.info({ event: 'relay.stopping', signal }, 'stopping: undelivered mail stays in the spool');
    // The bound: whatever is still running after the grace period, exit anyway (mail that got
    // a 250 is on disk; deliveries in flight are retried at the next start).
    setTimeout(() => {
      logger.error({ event: 'relay.forced_exit', after: r.config().queue.shutdownTimeout }, 'shutdown took too long: exiting');
      logger.flush();
      process.exit(1);
    }, r.config().queue.shutdownTimeout + 2_000).unref();
    r.stop()
      .catch((err: unknown) => logger.error({ event: 'relay.stop_failed', err: errorText(err) }, 'stop failed'))
      .finally(() => {
        logger.flush();
        stopped();
      });
  };

  // SIGHUP and `workspace-relay reload` (the control socket) take this one path; the result is
  // what the command prints (a signal has nobody to tell, so only the log says it).
  const file = path.resolve(choice.path);
  let pending: { resolve: (r: ReloadResult) => void; reject: (err: unknown) => void }[] = [];
  const reload = (): Promise<ReloadResult> => {
    if (stopping) {
      logger.warn({ event: 'config.reload_ignored', config: choice.path }, 'reload asked for while stopping: ignored');
      return Promise.reject(new ControlError('control.busy', 'the relay is stopping: nothing was reloaded'));
    }
    if (!relay) {
      reloadPending = true;
      logger.info({ event: 'config.reload_deferred', config: choice.path }, 'reload asked for while starting: it follows once started');
      return new Promise((resolve, reject) => pending.push({ resolve, reject }));
    }
    const r = relay;
    let next: Config;
    try {
      next = loadConfig(choice.path, r.config()); // (a broken practice file keeps that practice's running settings)
    } catch (err) {
      const reason = err instanceof ConfigError ? configErrorReport(err) : errorText(err);
      logger.error({ event: 'config.reload_failed', config: choice.path, reason }, 'new config refused; the old one stays in force');
      return Promise.resolve(reloadRefused(file, err instanceof ConfigError ? err.code : 'config.error', reason));
    }
    return r.reload(next).then(
      () => {
        if (logger.level !== next.log.level) logger.level = next.log.level;
        return reloadApplied(file, r.config());
      },
      (err: unknown) => {
        if (stopping) throw new ControlError('control.busy', 'the relay is stopping: nothing was reloaded');
        logger.error({ event: 'config.reload_failed', config: choice.path, reason: errorText(err) }, 'new config refused; the old one stays in force');
        return reloadRefused(file, 'config.reload_failed', errorText(err));
      },
    );
  };
  const onSighup = () => void reload().catch(() => undefined);

  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', onSighup);
  try {
    relay = await startRelay({ config, logger, configPath: file, reloadRequest: reload });
  } catch (err) {
    if (err instanceof ConfigError) throw new CliExit(EXIT_CONFIG, `config error: ${err.message}`);
    logger.fatal({ event: 'relay.start_failed', err: errorText(err) }, 'could not start');
    logger.flush();
    throw new CliExit(1, `could not start: ${errorText(err)}`);
  }
  logger.info({ event: 'relay.started', config: choice.path, workspaces: config.workspaces.map((w) => w.name) }, 'relay started');
  if (stopping) {
    stopping = false;
    stop(stopSignal);
  } else if (reloadPending) {
    reloadPending = false;
    const waiting = pending;
    pending = [];
    void reload().then(
      (result) => waiting.forEach((w) => w.resolve(result)),
      (err: unknown) => waiting.forEach((w) => w.reject(err)),
    );
  }
  await done;
}
