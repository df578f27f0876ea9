/**
 * Fault isolation (issue 18): a practice whose own settings fail — a listener entry (device hash,
 * TLS certificate or key), a service-account key or app password — is disabled, not the relay.
 * Each practice is checked on its own, against only its own entries; what fails is logged
 * (`practice.disabled`, an alert) and named in `status` and `check`. The main file's settings are
 * shared: they are checked afterwards on the config in force, and a failure there still stops
 * the relay (exit 78). A practice's port that cannot be bound, at start or at a reload, is
 * isolated the same way (isolateBindFailure).
 */
import { disablePractice, keepRunningPractice, withoutListener, type Config, type ListenerConfig, type Practice } from '../config/index.js';
import { ConfigError, errorText } from '../errors.js';
import type { Logger } from '../log.js';
import { checkListeners } from './preflight.js';

/** Builds (and closes again) what a config's keys make: throws, naming the key, when one fails. */
export type KeyCheck = (config: Config) => Promise<void>;

/**
 * `config` with each practice whose own entries fail disabled; `logger` says which and why. At a
 * reload (`running`: the config in force), a practice that runs keeps its running settings
 * instead (`practices[].refused`), and the others apply.
 */
export async function isolatePractices(config: Config, checkKeys: KeyCheck, logger: Logger, running?: Config): Promise<Config> {
  let out = config;
  for (const p of config.practices ?? []) {
    if (p.problem !== null) {
      logDisabled(logger, p, p.problem);
      continue;
    }
    const own: Config = { ...config, workspaces: [...p.workspaces], listen: [...p.listen], devices: [...p.devices] };
    let problem: string | null = null;
    let keepEdge = true;
    try {
      checkListeners(own);
    } catch (err) {
      problem = errorText(err);
      keepEdge = false;
    }
    if (problem === null) {
      try {
        await checkKeys(own);
      } catch (err) {
        problem = errorText(err);
      }
    }
    if (problem === null) continue;
    const kept = running ? keepRunningPractice(out, running, p.file, `${p.file}: ${problem}`) : null;
    if (kept) out = kept;
    else {
      out = disablePractice(out, p.file, `${p.file}: ${problem}`, keepEdge);
      logDisabled(logger, p, `${p.file}: ${problem}`);
    }
  }
  for (const p of out.practices ?? []) if (p.refused !== undefined) logRefused(logger, p);
  return out;
}

function logRefused(logger: Logger, p: Practice): void {
  logger.error(
    { event: 'practice.reload_refused', alert: true, file: p.file, workspaces: p.workspaces.map((w) => w.name), reason: p.refused },
    "this practice's new settings were refused: it keeps running with its previous ones (fix the file, then reload again)",
  );
}

export function logDisabled(logger: Logger, p: Practice, problem: string): void {
  logger.error(
    { event: 'practice.disabled', alert: true, file: p.file, workspaces: p.workspaces.map((w) => w.name), reason: problem },
    "practice disabled: its clients get temporary errors (454 4.7.0 at AUTH, 451 4.3.0 at MAIL) and its mail stays queued until its settings are fixed and the relay reloaded; the other practices run",
  );
}

/**
 * A practice's listener `cfg` that could not be bound (`err`, a ConfigError naming the port): at
 * a reload (`running`: the config in force) the practice keeps its running settings if it has
 * some; else (at start, or a practice new or disabled) it is disabled, nothing listening at `cfg`
 * and its other entries kept (they answer 4xx). Returns the config to go on with; rethrows `err`
 * when `cfg` is no practice's (a shared listener: the start or the reload fails as a whole).
 */
export function isolateBindFailure(config: Config, cfg: ListenerConfig, err: unknown, logger: Logger, running?: Config): Config {
  const practice = config.practices?.find((p) => p.listen.includes(cfg));
  if (!practice || !(err instanceof ConfigError)) throw err;
  const reason = `${practice.file}: ${err.message}`;
  const kept = running ? keepRunningPractice(config, running, practice.file, reason) : null;
  if (kept) {
    logRefused(logger, kept.practices!.find((p) => p.file === practice.file)!);
    return kept;
  }
  logDisabled(logger, practice, reason);
  return withoutListener(disablePractice(config, practice.file, reason, true), cfg);
}

/**
 * Bind each listen[] entry in order, pushing each onto `opened` as it opens (the caller closes
 * them if the start fails); a practice's listener that cannot be bound disables that practice
 * (nothing listens there) instead of failing the start. Returns the config in force.
 */
export async function openListeners<E>(config: Config, open: (cfg: ListenerConfig, label: string) => Promise<E>, opened: E[], logger: Logger): Promise<Config> {
  let out = config;
  for (const [i, cfg] of config.listen.entries()) {
    try {
      opened.push(await open(cfg, `listen[${i}]`));
    } catch (err) {
      out = isolateBindFailure(out, cfg, err, logger);
    }
  }
  return out;
}
