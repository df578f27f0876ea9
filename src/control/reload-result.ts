/**
 * What `workspace-relay reload` is told (the control op `reload`, which does what SIGHUP does):
 * the new config applied, or per practice file applied or kept with the reason, or refused
 * entirely with the config error (it names the key and the fix).
 */
import type { Config } from '../config/index.js';
import { practiceStatus } from './relay-status.js';

export interface ReloadPractice {
  file: string;
  workspaces: string[];
  /** applied: its new settings run; kept: refused, its running settings stay; disabled: it has none that run. */
  state: 'applied' | 'kept' | 'disabled';
  reason: string | null;
}

export interface ReloadResult {
  /** applied: everything; partial: some practice kept or disabled; refused: the old config stays. */
  outcome: 'applied' | 'partial' | 'refused';
  /** The config file reloaded. */
  config: string;
  practices: ReloadPractice[];
  /** Why the whole reload was refused (config.* codes name the key and the fix). */
  error?: { code: string; message: string };
}

/** The result of a reload that went through, read from the config now in force. */
export function reloadApplied(file: string, inForce: Config): ReloadResult {
  const practices = practiceStatus(inForce).map((p) => ({ ...p, state: p.state === 'running' ? ('applied' as const) : p.state }));
  return { outcome: practices.every((p) => p.state === 'applied') ? 'applied' : 'partial', config: file, practices };
}

/** The result of a reload refused as a whole. */
export function reloadRefused(file: string, code: string, message: string): ReloadResult {
  return { outcome: 'refused', config: file, practices: [], error: { code, message } };
}
