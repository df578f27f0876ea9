/**
 * A queue command that deletes a message with no relay running writes the message's audit record
 * itself, into the trace as the relay writes it (src/trace; sealed with the spool's keys). A
 * record that cannot be written is a warning on stderr: the deletion is done, and the audit log
 * line names it.
 */
import path from 'node:path';
import type { Clock } from '../clock.js';
import type { Config } from '../config/index.js';
import type { RemovalLog } from '../control/index.js';
import type { SpoolKeys } from '../crypt/index.js';
import { createLogger } from '../log.js';
import { TraceFiles, TraceRecorder } from '../trace/index.js';

export function directRemovals(config: Config, clock: Clock, stderr: (text: string) => void): (keys: SpoolKeys) => RemovalLog {
  return (keys) => {
    const logger = createLogger({ level: 'warn' }, { write: (line: string) => stderr(`warning: ${messageOf(line)}\n`) });
    return new TraceRecorder({ files: TraceFiles.inSpool(path.resolve(config.queue.dir), keys), logger, retentionMs: () => config.queue.traceRetention, clock });
  };
}

/** A log line's message and its error, for a person. */
function messageOf(line: string): string {
  try {
    const l = JSON.parse(line) as { msg?: string; err?: string };
    return `${l.msg ?? line.trim()}${l.err ? ` (${l.err})` : ''}`;
  } catch {
    return line.trim();
  }
}
