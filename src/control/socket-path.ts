import path from 'node:path';
import type { Config } from '../config/index.js';

/** Where the control socket is: `control.socket`, default `<queue.dir>/control.sock` (resolved). */
export function controlSocketPath(config: Pick<Config, 'queue' | 'control'>): string {
  return config.control.socket ? path.resolve(config.control.socket) : path.join(path.resolve(config.queue.dir), 'control.sock');
}
