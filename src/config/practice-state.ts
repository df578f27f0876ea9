/**
 * Which practices of a config are disabled, and turning one off: pure functions of the config.
 * A disabled practice's workspaces leave the config in force (nothing delivers for them; their
 * queued mail waits), while its listeners and devices may stay, so its clients get a temporary
 * reply (454 4.7.0 at AUTH, 451 4.3.0 at MAIL) that tells them to try again rather than a refusal.
 */
import type { Config, DeviceConfig, ListenerConfig, Practice } from './config-types.js';

/** Names of the workspaces of disabled practices (their mail is held, their clients answered 4xx). */
export function pausedWorkspaces(config: Config): ReadonlySet<string> {
  return new Set((config.practices ?? []).filter((p) => p.problem !== null).flatMap((p) => p.workspaces.map((w) => w.name)));
}

/**
 * Disabled practices of which nothing is known: their file could not be read or parsed (and had
 * no settings from before to keep). Who their devices and senders are is unknown, so while there
 * is one, a login or sender the relay cannot place is answered with a temporary error
 * (src/smtp/auth-handler.ts, envelope.ts): it may be theirs, and must be tried again later.
 */
export function unreadablePractices(config: Config): readonly Practice[] {
  return (config.practices ?? []).filter((p) => p.problem !== null && p.digest === null);
}

/** Names of the workspaces of practices kept on their running settings at the last reload (their files may be as last read good). */
export function keptWorkspaces(config: Config): ReadonlySet<string> {
  return new Set(keptPractices(config).flatMap((p) => p.workspaces.map((w) => w.name)));
}

/** The listen[] entries of practices kept on their running settings at the last reload (their TLS files may be as last read good). */
export function keptListeners(config: Config): ReadonlySet<ListenerConfig> {
  return new Set(keptPractices(config).flatMap((p) => p.listen));
}

const keptPractices = (config: Config) => (config.practices ?? []).filter((p) => p.problem === null && p.refused !== undefined);

/** Device accounts of disabled practices that left the config in force (their listener entries failed). */
export function sidelinedDevices(config: Config): readonly DeviceConfig[] {
  const out: DeviceConfig[] = [];
  for (const p of config.practices ?? []) {
    if (p.problem !== null) out.push(...p.devices.filter((d) => !config.devices.includes(d)));
  }
  return out;
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
 * force; its listeners and devices kept when `keepEdge` (they answer 454 / 451), else out too.
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

/** `config` without the listen[] entry `cfg` (a practice's listener that could not be bound: nothing listens there). */
export function withoutListener(config: Config, cfg: ListenerConfig): Config {
  return Object.freeze({ ...config, listen: config.listen.filter((l) => l !== cfg) });
}

/**
 * `next` with the practice of `file` back on the settings it runs with in `running` (a reload
 * whose new settings for it fail: `refused` says why); null when it did not run, or when what it
 * runs with now clashes with another practice's new settings (a name, domain, device or port
 * that another file took in this reload): then it cannot be kept and is disabled instead.
 */
export function keepRunningPractice(next: Config, running: Config, file: string, reason: string): Config | null {
  const old = running.practices?.find((x) => x.file === file && x.problem === null && x.workspaces.length > 0);
  const cur = next.practices?.find((x) => x.file === file);
  if (!old || !cur) return null;
  // What of it runs now (a listener that could not be bound is not in the running config).
  const back = { workspaces: old.workspaces, listen: old.listen.filter((l) => running.listen.includes(l)), devices: old.devices.filter((d) => running.devices.includes(d)) };
  const others = {
    workspaces: next.workspaces.filter((w) => !cur.workspaces.includes(w)),
    listen: next.listen.filter((l) => !cur.listen.includes(l)),
    devices: next.devices.filter((d) => !cur.devices.includes(d)),
  };
  const taken = new Set(practiceClaims(others));
  if (practiceClaims(back).some((c) => taken.has(c))) return null;
  return Object.freeze({
    ...next,
    workspaces: [...others.workspaces, ...back.workspaces],
    listen: [...others.listen, ...back.listen],
    devices: [...others.devices, ...back.devices],
    practices: next.practices!.map((x) => (x === cur ? { ...old, refused: reason } : x)),
  });
}

/** What a set of entries claims (names, domains, devices, fixed ports): two practices may not claim the same. */
export function practiceClaims(e: Pick<Practice, 'workspaces' | 'listen' | 'devices'>): string[] {
  return [
    ...e.workspaces.map((w) => `workspace name "${w.name}"`),
    ...e.workspaces.flatMap((w) => w.domains.map((d) => `domain ${d}`)),
    ...e.devices.map((d) => `device "${d.username}"`),
    ...e.listen.filter((l) => l.port !== 0).map((l) => `listener ${l.host}:${l.port}`),
  ];
}
