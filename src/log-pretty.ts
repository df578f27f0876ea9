/**
 * Logs for people: one readable line per event when the relay runs in a terminal (or with
 * `--log-format pretty`, or `workspace-relay pretty-logs` reading JSON lines from a pipe), with
 * pino-pretty in this process, so it works from the installed package. The headline is the event,
 * queue id, workspace and outcome; the other fields follow on the same line. Same fields as the JSON lines
 * (no PHI there either). Loaded only when asked for.
 */
import type { DestinationStream } from 'pino';

export type LogFormat = 'auto' | 'json' | 'pretty';
export const LOG_FORMATS: readonly LogFormat[] = ['auto', 'json', 'pretty'];

/** auto: readable when stdout is a terminal, JSON lines otherwise (journald, a pipe, a file). */
export function wantsPretty(format: LogFormat, stdoutIsTty: boolean): boolean {
  return format === 'pretty' || (format === 'auto' && stdoutIsTty);
}

/** Fields shown in the headline, so not repeated below it. */
const HEADLINE_KEYS = ['event', 'queueId', 'workspace', 'outcome', 'code'];

/** `delivery.held 01HV3K9XZ7QW4M [clinic] delivery.token.unauthorized_client: held: …` */
export function headline(log: Record<string, unknown>, messageKey: string): string {
  const text = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : '');
  const parts = [
    text(log.event),
    text(log.queueId),
    log.workspace !== undefined ? `[${text(log.workspace)}]` : '',
    text(log.outcome),
    text(log.code),
  ].filter(Boolean);
  const msg = text(log[messageKey]);
  return parts.length ? `${parts.join(' ')}${msg ? `: ${msg}` : ''}` : msg;
}

export interface PrettyOptions {
  /** Colours: default when the output is a terminal that supports them. */
  colorize?: boolean;
  /** Where to write: default stdout. */
  destination?: NodeJS.WritableStream;
}

/** A stream that takes pino's JSON lines and writes readable ones. */
export async function prettyStream(options: PrettyOptions = {}): Promise<DestinationStream & NodeJS.WritableStream> {
  const { default: pinoPretty } = await import('pino-pretty');
  return pinoPretty({
    ...(options.colorize !== undefined ? { colorize: options.colorize } : {}),
    ...(options.destination ? { destination: options.destination } : {}),
    translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
    // One line per event: the other fields follow the message as compact JSON.
    singleLine: true,
    ignore: ['pid', 'hostname', 'name', ...HEADLINE_KEYS].join(','),
    messageFormat: (log, messageKey) => headline(log, messageKey),
  });
}
