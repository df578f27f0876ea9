/**
 * The control protocol between the queue CLI and the daemon, over a local Unix socket: one
 * connection per request. The client writes one JSON line; the server answers one JSON line and
 * closes. A reply with `body: N` is followed by exactly N raw bytes (the message, `show --body`).
 * Who may connect is decided by the socket's file permissions (0600, in the 0700 spool dir).
 */
import { z } from 'zod';
import { RelayError } from '../errors.js';
import type { MessageMeta, SpoolState } from '../spool/index.js';

/** The longest request line the server reads (requests are small). */
export const MAX_REQUEST_BYTES = 64 * 1024;

const id = z.string().min(1).max(64);
/** The admin running the command (the queue CLI's audit log line names the same), for a message's audit record. */
const actor = z.strictObject({ osUser: z.string().min(1).max(256), sudoUser: z.string().min(1).max(256).optional() });

export const controlRequestSchema = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('ping') }),
  z.strictObject({ op: z.literal('status') }),
  z.strictObject({ op: z.literal('reload') }),
  z.strictObject({ op: z.literal('list'), states: z.array(z.enum(['queue', 'active', 'dead', 'hold'])).optional() }),
  z.strictObject({ op: z.literal('show'), id, body: z.boolean().optional() }),
  z.strictObject({ op: z.literal('outcome'), id }),
  z.strictObject({ op: z.literal('retry'), id: id.optional(), all: z.boolean().optional() }),
  z.strictObject({ op: z.literal('hold'), id }),
  z.strictObject({ op: z.literal('release'), id }),
  z.strictObject({ op: z.literal('delete'), id, by: actor.optional() }),
  z.strictObject({ op: z.literal('requeue'), id }),
  z.strictObject({ op: z.literal('rekey'), limit: z.number().int().min(1).max(10_000).optional() }),
  z.strictObject({
    op: z.literal('find'),
    messageId: z.string().min(1).optional(),
    sender: z.string().min(1).optional(),
    recipient: z.string().min(1).optional(),
  }),
]);

export type ControlRequest = z.infer<typeof controlRequestSchema>;
export type ControlOp = ControlRequest['op'];

/** Who holds the control socket: the daemon, or a queue CLI changing the spool directly. */
export type ControlOwner = 'daemon' | 'cli';

export interface ControlErrorBody {
  code: string;
  message: string;
}

export type ControlReply =
  | { ok: true; result: unknown; body?: number }
  | { ok: false; error: ControlErrorBody };

/** A message as the CLI shows it: its metadata and the state (directory) it is in. */
export type QueueItem = MessageMeta & { state: SpoolState };

/** A message delivered since the relay started (`outcome`): it has left the spool. */
export interface DeliveredItem {
  id: string;
  state: 'delivered';
  workspace: string;
  /** ISO time. */
  at: string;
  /** Google's message id (or the SMTP upstream's); null when an earlier send already reached every recipient. */
  providerId: string | null;
  /** Some recipients went on in a copy or a notice. */
  partial: boolean;
}

/**
 * What happened to a message (`outcome`): delivered, or where it is in the spool and why (with
 * the fix of its last failure, when the relay has it).
 */
export type MessageOutcome = DeliveredItem | (QueueItem & { fix?: string | null });

export interface PingResult {
  owner: ControlOwner;
  pid: number;
}

export interface RetryAllResult {
  retried: string[];
  skipped: { id: string; reason: string }[];
}

/** One round of `queue rekey` (the CLI asks again while `more`). */
export interface RekeyResult {
  /** Messages whose files were rewritten with the first key. */
  rekeyed: string[];
  /** Messages left as they were this round (being delivered, unreadable), with why. */
  skipped: { id: string; reason: string }[];
  /** Outbox files rewritten (once no message is left to do). */
  outbox: number;
  /** The round stopped at its limit: ask again. */
  more: boolean;
}

/**
 * A refusal or failure of the control path, with a stable code:
 * - `control.unavailable`: no daemon (socket absent or connection refused);
 * - `control.busy`: the daemon is starting, or another admin command holds the spool;
 * - `control.timeout`: the daemon accepted but did not answer in time;
 * - `control.denied`: no permission on the socket; `control.in_use`: another process owns it
 *   (an unusable control.socket path is a ConfigError);
 * - `control.protocol` / `control.bad_request`: a malformed exchange;
 * - `control.not_daemon`: `status` asked of a queue command holding the spool (no relay runs);
 * - `queue.not_found`, `queue.wrong_state`, `queue.busy` (being delivered right now),
 *   `queue.bad_id`, `queue.owner` (direct change by another OS user).
 */
export class ControlError extends RelayError {}

export function encodeLine(value: unknown): string {
  return `${JSON.stringify(value)}\n`;
}

function parseJsonLine(line: string, code: string, message: string): unknown {
  try {
    return JSON.parse(line) as unknown;
  } catch {
    throw new ControlError(code, message);
  }
}

/** Parse and validate one request line; throws control.bad_request naming the problem. */
export function parseRequest(line: string): ControlRequest {
  const value = parseJsonLine(line, 'control.bad_request', 'request is not JSON');
  const parsed = controlRequestSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ControlError('control.bad_request', `bad request: ${issue.path.join('.') || '(top level)'}: ${issue.message}`);
  }
  return parsed.data;
}

/** Parse a reply line; throws control.protocol if it is not one. */
export function parseReply(line: string): ControlReply {
  const value = parseJsonLine(line, 'control.protocol', 'the control socket answered something that is not JSON');
  const v = value as Partial<ControlReply> | null;
  if (!v || typeof v !== 'object' || typeof v.ok !== 'boolean') {
    throw new ControlError('control.protocol', 'the control socket answered an unexpected reply');
  }
  return v as ControlReply;
}

/** Does this request change the spool (serialized in the daemon, audited by the CLI)? */
export function isChange(op: ControlOp): boolean {
  return op === 'retry' || op === 'hold' || op === 'release' || op === 'delete' || op === 'requeue';
}
