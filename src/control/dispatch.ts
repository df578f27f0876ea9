/**
 * Requests → QueueAdmin calls. Changes run one at a time (two admins holding and retrying the
 * same message never interleave); reads run at once. Each change is logged (event
 * `control.request`: op, ids, outcome; never anything from the message itself).
 */
import { errorText } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { ControlHandler, HandlerResult } from './control-server.js';
import { ControlError, isChange, type ControlRequest, type DeliveredItem, type MessageOutcome } from './protocol.js';
import { LIVE_STATES, type QueueAdmin } from './queue-admin.js';
import type { RelayStatus } from './relay-status.js';
import type { ReloadResult } from './reload-result.js';

export interface ControlHandlerOptions {
  logger?: Logger;
  /** The relay's status (`status`); absent when a queue command holds the spool itself. */
  status?: () => Promise<RelayStatus>;
  /** Reload the config as SIGHUP does (`reload`); absent when a queue command holds the spool itself. */
  reload?: () => Promise<ReloadResult>;
  /** What the relay remembers of a message since it started (`outcome`): its delivery, or its last failure's fix. */
  remembered?: (id: string) => { delivered?: Omit<DeliveredItem, 'state'>; lastFailure?: { code: string; fix: string | null } } | undefined;
}

export function createControlHandler(admin: QueueAdmin, options: ControlHandlerOptions = {}): ControlHandler {
  const logger = options.logger ?? silentLogger;
  let chain: Promise<unknown> = Promise.resolve();
  return async (request, signal) => {
    if (request.op === 'status') {
      if (!options.status) throw new ControlError('control.not_daemon', 'no relay is running: a queue command is changing the spool directly');
      return { result: await options.status() };
    }
    if (request.op === 'reload') {
      if (!options.reload) throw new ControlError('control.not_daemon', 'no relay is running: a queue command is changing the spool directly');
      return { result: await options.reload() };
    }
    if (request.op === 'outcome') {
      const known = options.remembered?.(request.id);
      if (known?.delivered) return { result: { ...known.delivered, state: 'delivered' } satisfies MessageOutcome };
      const item = await admin.show(request.id);
      const last = known?.lastFailure;
      return { result: (last && last.code === item.lastError?.code ? { ...item, fix: last.fix } : item) satisfies MessageOutcome };
    }
    if (!isChange(request.op)) return run(admin, request);
    const result = chain.then(() => {
      // The command gave up (timed out, interrupted) while waiting its turn: do not make a change
      // it will never report.
      if (signal?.aborted) throw new ControlError('control.cancelled', 'the queue command went away before its turn: nothing was changed');
      return run(admin, request);
    });
    chain = result.catch(() => undefined);
    return result.then(
      (out) => {
        logger.info({ event: 'control.request', op: request.op, ...ids(request, out), outcome: 'ok' }, `queue ${request.op}`);
        return out;
      },
      (err: unknown) => {
        const code = err instanceof ControlError ? err.code : 'control.error';
        logger.warn({ event: 'control.request', op: request.op, ...ids(request), outcome: 'refused', code, reason: errorText(err) }, `queue ${request.op} refused`);
        throw err;
      },
    );
  };
}

async function run(admin: QueueAdmin, r: ControlRequest): Promise<HandlerResult> {
  switch (r.op) {
    case 'ping':
    case 'status':
    case 'reload':
    case 'outcome':
      return { result: {} };
    case 'list':
      return { result: await admin.list(r.states ?? LIVE_STATES) };
    case 'show': {
      const item = await admin.show(r.id);
      return r.body ? { result: item, body: admin.message(item) } : { result: item };
    }
    case 'retry':
      if (r.all) return { result: await admin.retryAll() };
      if (!r.id) throw new ControlError('control.bad_request', 'retry needs an id or all: true');
      return { result: await admin.retry(r.id) };
    case 'hold':
      return { result: await admin.hold(r.id) };
    case 'release':
      return { result: await admin.release(r.id) };
    case 'delete':
      return { result: await admin.delete(r.id, r.by) };
    case 'requeue':
      return { result: await admin.requeue(r.id) };
    case 'find':
      return { result: await admin.find(r) };
    case 'rekey':
      return { result: await admin.rekey(r.limit) };
  }
}

function ids(r: ControlRequest, out?: HandlerResult): { ids?: string[]; retried?: number } {
  if ('id' in r && r.id) return { ids: [r.id] };
  const res = out?.result as { retried?: string[] } | undefined;
  return res?.retried ? { retried: res.retried.length } : {};
}
