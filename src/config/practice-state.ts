/**
 * Which practices of a config are disabled, and turning one off: pure functions of the config.
 * A disabled practice's workspaces leave the config in force (nothing delivers for them; their
 * queued mail waits), while its listeners and devices may stay, so its clients get a temporary
 * reply (451 4.3.0) that tells them to try again rather than a refusal.
 */
import type { Config } from './config-types.js';

/** Names of the workspaces of disabled practices (their mail is held, their clients answered 4xx). */
export function pausedWorkspaces(config: Config): ReadonlySet<string> {
  return new Set((config.practices ?? []).filter((p) => p.problem !== null).flatMap((p) => p.workspaces.map((w) => w.name)));
}

/** The workspace of a disabled practice that a workspace name, or an address, belongs to; undefined if none. */
export function disabledWorkspace(config: Config, which: { workspace?: string; address?: string }): string | undefined {
  const domain = which.address?.slice(which.address.lastIndexOf('@') + 1).toLowerCase();
  for (const p of config.practices ?? []) {
    if (p.problem === null) continue;
    const w = p.workspaces.find(
      (x) => x.name === which.workspace || (which.address !== undefined && (x.domains.includes(domain!) || Object.hasOwn(x.senders.map, which.address))),
    );
    if (w) return w.name;
  }
  return undefined;
}

/**
 * `config` with the practice of `file` disabled for `problem`: its workspaces out of the config in
 * force; its listeners and devices kept when `keepEdge` (they answer 451), else out too.
 */
export function disablePractice(config: Config, file: string, problem: string, keepEdge: boolean): Config {
  const p = config.practices?.find((x) => x.file === file);
  if (!p) return config;
  const mine = <T>(list: readonly T[]) => new Set<T>(list);
  const ws = mine(p.workspaces);
  const ls = mine(p.listen);
  const ds = mine(p.devices);
  return Object.freeze({
    ...config,
    workspaces: config.workspaces.filter((w) => !ws.has(w)),
    listen: keepEdge ? config.listen : config.listen.filter((l) => !ls.has(l)),
    devices: keepEdge ? config.devices : config.devices.filter((d) => !ds.has(d)),
    practices: config.practices!.map((x) => (x === p ? { ...x, problem } : x)),
  });
}

/**
 * `next` with the practice of `file` back on the settings it runs with in `running` (a reload
 * whose new settings for it fail: `refused` says why); `next` unchanged when it did not run.
 */
export function keepRunningPractice(next: Config, running: Config, file: string, reason: string): Config | null {
  const old = running.practices?.find((x) => x.file === file && x.problem === null && x.workspaces.length > 0);
  const cur = next.practices?.find((x) => x.file === file);
  if (!old || !cur) return null;
  const swap = <T>(list: readonly T[], out: readonly T[], back: readonly T[]) => [...list.filter((x) => !out.includes(x)), ...back];
  return Object.freeze({
    ...next,
    workspaces: swap(next.workspaces, cur.workspaces, old.workspaces),
    listen: swap(next.listen, cur.listen, old.listen),
    devices: swap(next.devices, cur.devices, old.devices),
    practices: next.practices!.map((x) => (x === cur ? { ...old, refused: reason } : x)),
  });
}
