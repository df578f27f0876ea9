/**
 * What every policy function returns: a decision, never a throw. A refusal names the reply the
 * listener sends (an entry of src/replies, with its arguments); the listener renders it.
 */
import { namedReply, type NamedReply, type ReplyArgList, type ReplyName } from '../replies/index.js';

export type Refusal = { ok: false; reply: NamedReply };

export { FROM_POLICY_CODES, POLICY_CODES } from '../replies/index.js';

export function refuse<N extends ReplyName>(name: N, ...args: ReplyArgList<N>): Refusal {
  return { ok: false, reply: namedReply(name, ...args) };
}
