/** The queue administration's refusals (ControlError codes queue.*), each naming what to do instead. */
import { isValidQueueId } from '../spool/index.js';
import { ControlError } from './protocol.js';

export function checkedId(id: string): string {
  if (!isValidQueueId(id)) throw new ControlError('queue.bad_id', `not a queue id: ${JSON.stringify(id)} (ids look like 0J2Z8K3V9ABCDE)`);
  return id;
}

export const notFound = (id: string) => new ControlError('queue.not_found', `no message ${id} in the spool (delivered, deleted, or a mistyped id)`);
export const wrongState = (id: string, what: string) => new ControlError('queue.wrong_state', `message ${id} ${what}`);
export const busy = (id: string) =>
  new ControlError('queue.busy', `message ${id} is being delivered right now; try again when the attempt ends (usually seconds)`);
