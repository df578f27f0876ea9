/** The config's types: what configSchema makes, and the practice files it may include (src/config/practices.ts). */
import type { z } from 'zod';
import type { configSchema, workspaceSchema } from './schema.js';

/** (Written by tests and tools with its workspaces listed; a file may leave them to its includes.) */
export type ConfigInput = z.input<typeof configSchema> & { workspaces: z.input<typeof workspaceSchema>[] };
/** A validated config; `practices` when it includes practice files (src/config/practices.ts). */
export type Config = z.output<typeof configSchema> & { readonly practices?: readonly Practice[] };
export type WorkspaceConfig = Config['workspaces'][number];
export type ListenerConfig = Config['listen'][number];
export type DeviceConfig = Config['devices'][number];

/** A practice file (include:) as loaded: its entries, and whether it runs. src/config/practices.ts. */
export interface Practice {
  /** The file, absolute. */
  readonly file: string;
  /** sha256 of the file's text when read (a reload tells a changed file from one left alone); null: unreadable. */
  readonly digest: string | null;
  /** Its entries (the same objects as in the config's lists); empty when the file could not be read. */
  readonly workspaces: readonly WorkspaceConfig[];
  readonly listen: readonly ListenerConfig[];
  readonly devices: readonly DeviceConfig[];
  /** Why this practice is disabled (its mail held, its clients answered 4xx); null: it runs. */
  readonly problem: string | null;
  /** At the last reload its file was refused for this reason; the settings above are the running ones. */
  readonly refused?: string;
}
