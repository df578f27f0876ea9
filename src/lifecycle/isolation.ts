/**
 * Fault isolation (issue 18): a practice whose own settings fail — a listener entry (device hash,
 * TLS certificate or key), a service-account key or app password — is disabled, not the relay.
 * Each practice is checked on its own, against only its own entries; what fails is logged
 * (`practice.disabled`, an alert) and named in `status` and `check`. The main file's settings are
 * shared: they are checked afterwards on the config in force, and a failure there still stops
 * the relay (exit 78). A port that cannot be bound is app.ts's to report (`disablePractice`).
 */
import { disablePractice, keepRunningPractice, type Config, type ListenerConfig, type Practice } from '../config/index.js';
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
  for (const p of out.practices ?? []) {
    if (p.refused === undefined) continue;
    logger.error(
      { event: 'practice.reload_refused', alert: true, file: p.file, workspaces: p.workspaces.map((w) => w.name), reason: p.refused },
      "this practice's new settings were refused: it keeps running with its previous ones (fix the file, then reload again)",
    );
  }
  return out;
}

export function logDisabled(logger: Logger, p: Practice, problem: string): void {
  logger.error(
    { event: 'practice.disabled', alert: true, file: p.file, workspaces: p.workspaces.map((w) => w.name), reason: problem },
    "practice disabled: its clients get 451 4.3.0 and its mail stays queued until its settings are fixed and the relay reloaded; the other practices run",
  );
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
      const practice = config.practices?.find((p) => p.listen.includes(cfg));
      if (!practice || !(err instanceof ConfigError)) throw err;
      out = disablePractice(out, practice.file, `${practice.file}: ${err.message}`, true);
      logDisabled(logger, practice, `${practice.file}: ${err.message}`);
    }
  }
  return out;
}
