/**
 * `workspace-relay reload`: asks the running relay over its control socket to reload its config,
 * exactly as SIGHUP does, and prints what happened. Exit 0 all applied, 1 some practice kept (or
 * disabled) or the reload refused, 3 not running, 75 no answer (or stopping).
 */
import path from 'node:path';
import { ControlError, controlRequest, controlSocketPath, reloadRefused, table, type ReloadResult } from '../control/index.js';
import { configErrorReport, loadConfig, type Config } from '../config/index.js';
import { ConfigError } from '../errors.js';
import type { ConfigChoice } from './context.js';
import { CliExit, EXIT_FAILURE, EXIT_NOT_RUNNING, EXIT_TEMPFAIL } from './exit-codes.js';
import type { StatusIo } from './status.js';

/** Checking keys and certificates of every practice can take a while. */
const REPLY_TIMEOUT_MS = 120_000;

export async function reloadCommand(choice: ConfigChoice, opts: { json?: boolean }, io: StatusIo): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(choice.path);
  } catch (err) {
    // The shared settings are broken (a practice file's own error does not throw): the relay would
    // refuse the same way, so it is not asked (and its control socket may be what is misspelt).
    if (!(err instanceof ConfigError)) throw err;
    return report(reloadRefused(path.resolve(choice.path), err.code, configErrorReport(err)), opts, io);
  }
  const socket = controlSocketPath(config);
  let result: ReloadResult;
  try {
    result = (await controlRequest(socket, { op: 'reload' }, { connectTimeoutMs: 5_000, replyTimeoutMs: REPLY_TIMEOUT_MS })) as ReloadResult;
  } catch (err) {
    if (!(err instanceof ControlError)) throw err;
    const notRunning = err.code === 'control.unavailable' || err.code === 'control.not_daemon';
    const code = notRunning ? EXIT_NOT_RUNNING : ['control.busy', 'control.timeout', 'control.no_answer'].includes(err.code) ? EXIT_TEMPFAIL : EXIT_FAILURE;
    const message = notRunning
      ? `workspace-relay is not running (nothing answers on ${socket}): nothing to reload`
      : err.code === 'control.no_answer'
        ? `the relay did not answer within ${REPLY_TIMEOUT_MS / 1000} s: the reload may still be going on; see the log (config.reload_failed, practice.reload_refused) or \`status\``
        : err.message;
    if (opts.json) io.out(JSON.stringify({ outcome: 'unknown', socket, code: err.code, message }, null, 2));
    throw new CliExit(code, opts.json ? '' : message);
  }
  report(result, opts, io);
}

function report(result: ReloadResult, opts: { json?: boolean }, io: StatusIo): void {
  if (opts.json) io.out(JSON.stringify(result, null, 2));
  else for (const line of reloadText(result)) io.out(line);
  if (result.outcome !== 'applied') throw new CliExit(EXIT_FAILURE, '');
}

/** The human view. */
export function reloadText(r: ReloadResult): string[] {
  if (r.outcome === 'refused') {
    return [`new config refused; the old one stays in force (${r.config}):`, `  ${r.error?.message ?? 'unknown reason'}`];
  }
  const lines = [r.outcome === 'applied' ? `config reloaded: everything applied (${r.config})` : `config reloaded in part (${r.config}): some practices keep their running settings`];
  if (r.practices.length) {
    lines.push(
      '',
      table(
        ['PRACTICE FILE', 'WORKSPACES', 'RESULT'],
        r.practices.map((p) => [p.file, p.workspaces.join(', ') || '-', p.state === 'kept' ? 'kept (previous settings)' : p.state]),
      ),
    );
  }
  for (const p of r.practices) {
    if (p.state === 'kept') lines.push('', `${p.file}: refused, running on the previous settings: ${p.reason}`);
    if (p.state === 'disabled') lines.push('', `${p.file}: DISABLED (its clients get temporary errors, its mail waits): ${p.reason}`);
  }
  return lines;
}
