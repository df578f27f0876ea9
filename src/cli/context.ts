/** What every command needs: which config, and how to end with a clear message. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.js';
import { EXAMPLE_CONFIG_PATH, configErrorReport, loadConfig, type Config } from '../config/index.js';
import { CliExit, EXIT_CONFIG } from './exit-codes.js';

export { CliExit, EXIT_CONFIG, EXIT_FAILURE, EXIT_NOT_RUNNING, EXIT_TEMPFAIL, EXIT_USAGE } from './exit-codes.js';

/** Where an installed relay's config lives (the README's install puts it there). */
export const SYSTEM_CONFIG_PATH = '/etc/workspace-relay/config.yaml';

export interface ConfigChoice {
  path: string;
  /** How it was found: --config, $WORKSPACE_RELAY_CONFIG, /etc/workspace-relay/config.yaml, or the checkout's example. */
  source: 'flag' | 'env' | 'system' | 'example';
  /** The checkout's example config (a dry run): only from a source checkout, never an installed copy. */
  isExample: boolean;
}

export interface ConfigLookup {
  /** Default /etc/workspace-relay/config.yaml. */
  systemPath?: string;
  /** Default the checkout's config/workspace-relay.example.yaml. */
  examplePath?: string;
  exists?: (file: string) => boolean;
  /** Is this a source checkout (src/ beside dist/)? An installed package is not. */
  isCheckout?: boolean;
}

/** The package root: dist/cli/ (installed) or src/cli/ (run with tsx) is two levels below it. */
const PACKAGE_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A source checkout has src/cli/index.ts; the installed package ships dist/ only. */
export function isSourceCheckout(root = PACKAGE_ROOT): boolean {
  return existsSync(path.join(root, 'src', 'cli', 'index.ts'));
}

/**
 * The config a command uses: --config, else $WORKSPACE_RELAY_CONFIG, else
 * /etc/workspace-relay/config.yaml when it exists, else (in a source checkout only) the example
 * config, a dry run. An installed copy with none of these ends with exit 78 and what to do.
 */
export function chooseConfig(flag: string | undefined, env: NodeJS.ProcessEnv, lookup: ConfigLookup = {}): ConfigChoice {
  if (flag) return { path: flag, source: 'flag', isExample: false };
  if (env.WORKSPACE_RELAY_CONFIG) return { path: env.WORKSPACE_RELAY_CONFIG, source: 'env', isExample: false };
  const systemPath = lookup.systemPath ?? SYSTEM_CONFIG_PATH;
  const exists = lookup.exists ?? existsSync;
  if (exists(systemPath)) return { path: systemPath, source: 'system', isExample: false };
  const examplePath = lookup.examplePath ?? EXAMPLE_CONFIG_PATH;
  if (lookup.isCheckout ?? isSourceCheckout()) return { path: examplePath, source: 'example', isExample: true };
  throw new CliExit(
    EXIT_CONFIG,
    `config error: no config file: ${systemPath} does not exist, and neither --config nor WORKSPACE_RELAY_CONFIG names one. ` +
      `Create it (README "Install"; every key is explained in ${examplePath}) or give --config PATH.`,
  );
}

/** One line for stderr when a command uses the checkout's example config: it is a dry run. */
export function exampleNotice(choice: ConfigChoice): string | null {
  return choice.isExample
    ? `note: no --config, no WORKSPACE_RELAY_CONFIG and no ${SYSTEM_CONFIG_PATH}: using this checkout's example config ${choice.path} (a dry run)`
    : null;
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
