/** What every command needs: where the config is, and how to say things. */
import { ConfigError } from '../errors.js';
import { EXAMPLE_CONFIG_PATH, configErrorReport, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';

/** sysexits.h EX_CONFIG: systemd's RestartPreventExitStatus stops restart loops on it. */
export const EXIT_CONFIG = 78;
export const EXIT_FAILURE = 1;

export interface ConfigChoice {
  path: string;
  /** No --config and no WORKSPACE_RELAY_CONFIG: the shipped example (a dry run). */
  isExample: boolean;
}

export function chooseConfig(flag: string | undefined, env: NodeJS.ProcessEnv): ConfigChoice {
  const given = flag ?? env.WORKSPACE_RELAY_CONFIG;
  return given ? { path: given, isExample: false } : { path: EXAMPLE_CONFIG_PATH, isExample: true };
}

export class CliExit extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** Load the config or end the command with exit 78 and every problem, one per line. */
export function loadConfigOrExit(choice: ConfigChoice): Config {
  try {
    return loadConfig(choice.path);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliExit(EXIT_CONFIG, `config error: ${configErrorReport(err)}`);
    throw err;
  }
}
