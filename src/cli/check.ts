/**
 * `workspace-relay check [users…]`, the doctor: everything `serve` would refuse to start with,
 * the spool (owner and permissions, free space, hard links), every Google endpoint the config
 * uses (DNS, TCP, the proxy, TLS) and the clock, then per workspace a token and Gmail's answer
 * for every user the config names (or the users given). Each check passes or fails with what to
 * fix; exit 0 only when every one passes (warnings do not fail it). `--json` prints the report.
 *
 * The sections are lists of independent named checks (check-report.ts): adding one is adding
 * an entry where it belongs.
 */
import { CliExit, EXIT_FAILURE, loadConfigOrExit, type ConfigChoice } from './context.js';
import { practiceStatus } from '../control/index.js';
import { buildCredentials } from '../delivery/index.js';
import { isolatePractices } from '../lifecycle/index.js';
import { silentLogger } from '../log.js';
import { fail, pass, sectionLines, summarize, warn, type CheckSection } from './check-report.js';
import { GMAIL_API, TOKEN_ENDPOINT, networkSection, type NetworkCheckOptions } from './check-network.js';
import { spoolSection, type SpoolCheckOptions } from './check-spool.js';
import { relayState, startupSection } from './check-startup.js';
import { userSections } from './check-users.js';

export type { CheckItem, CheckReport, CheckSection } from './check-report.js';
export { configuredUsers } from './check-users.js';

export interface Output {
  out(line: string): void;
  err(line: string): void;
}

export interface CheckOptions extends NetworkCheckOptions, SpoolCheckOptions {
  /** Log in to Gmail SMTP for smtp workspaces (default true). */
  smtpLogin?: boolean;
  json?: boolean;
}

export async function check(choice: ConfigChoice, users: string[], io: Output, options: CheckOptions = {}): Promise<void> {
  // A practice whose file, listener entries or keys fail is disabled as serve would (and named
  // below); the other sections check the config serve would run with.
  const config = await isolatePractices(loadConfigOrExit(choice), async (c) => void buildCredentials(c), silentLogger);
  const human = !options.json;
  if (human) io.out(`config ${choice.path}: valid (${config.workspaces.length} workspace(s), ${config.listen.length} listener(s))`);
  const sections: CheckSection[] = [];
  const add = (s: CheckSection) => {
    sections.push(s);
    if (human) for (const line of sectionLines(s)) io.out(line);
  };
  const relay = await relayState(config);
  // What the running relay made of each file (a port it could not bind at a reload is only its to know).
  const live = new Map(relay.state === 'running' ? (relay.status.practices ?? []).map((p) => [p.file, p]) : []);
  const practices = practiceStatus(config);
  if (practices.length) {
    add({
      title: 'practices',
      items: practices.map((p) => {
        const name = `practice ${p.workspaces.join(', ') || p.file}`;
        const fix = `fix ${p.file}, then reload`;
        if (p.state === 'disabled') return fail(name, `DISABLED: serve answers its clients with temporary errors and holds its mail: ${p.reason}`, fix);
        const running = live.get(p.file);
        if (running?.state === 'disabled') return fail(name, `DISABLED in the running relay: it answers its clients with temporary errors and holds its mail: ${running.reason}`, fix);
        if (running?.state === 'kept') return warn(name, `the running relay refused its new settings at the last reload and runs the previous ones: ${running.reason}`, fix);
        return pass(name, p.file);
      }),
    });
  }
  add(await startupSection(config, relay));
  add(await spoolSection(config, options));
  const network = await networkSection(config, options);
  if (network.items.length) add({ title: network.title, items: network.items });
  const userOptions = {
    tokenReachable: network.reached.get(TOKEN_ENDPOINT) ?? true,
    apiReachable: network.reached.get(GMAIL_API) ?? true,
    smtpLogin: options.smtpLogin ?? true,
    ...(options.now ? { now: options.now } : {}),
  };
  for (const s of await userSections(config, users.map((u) => u.trim()).filter(Boolean), userOptions)) add(s);

  const report = summarize(choice.path, sections);
  if (options.json) io.out(JSON.stringify(report, null, 2));
  if (report.failures) throw new CliExit(EXIT_FAILURE, `${report.failures} check(s) failed`);
  if (human) io.out(`all checks passed${report.warnings ? ` (${report.warnings} warning(s))` : ''}`);
}
