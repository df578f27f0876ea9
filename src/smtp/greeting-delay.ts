/**
 * smtp-server waits a fixed 100 ms before its 220 greeting (to catch "early talkers": clients that
 * send before the greeting are refused with 421), with no option to change it. For a client that
 * opens one connection per message that caps the rate at about 10 messages a second.
 *
 * This makes the delay a server option, `greetingDelay` (ms; listen[].greetingDelay, default
 * 100 ms as before; 0 for trusted listeners). It replaces SMTPConnection.prototype.init with the
 * same steps (listeners, the maxClients check, then connectionReady after the delay). With 0 the
 * greeting is written in the same tick the connection is set up, so no client can talk early.
 *
 * The replacement is installed only when the original still has the shape copied here; if an
 * smtp-server upgrade changes it, the original (fixed 100 ms) stays and `installed()` says so,
 * and test/edge-greeting.test.ts fails, so the change is noticed rather than silently lost.
 */
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

interface Connection {
  _server: { options: { maxClients?: number; greetingDelay?: number }; connections: Set<unknown> };
  name: string;
  _setListeners(callback: () => void): void;
  send(code: number, data?: string, context?: unknown): void;
  connectionReady(): void;
}

/** The statements of the original init that this replacement reproduces. */
const EXPECTED = [
  'this._setListeners(',
  'this._server.options.maxClients && this._server.connections.size > this._server.options.maxClients',
  "this.send(421, this.name + ' Too many connected clients, try again in a moment', false)",
  'setTimeout(() => this.connectionReady(), 100)',
];

let state: 'not-tried' | 'installed' | 'unsupported' = 'not-tried';

/** Does the installed smtp-server's init still look like the one this replaces? */
export function originalInitMatches(): boolean {
  const source = String((SMTPConnection.prototype as unknown as { init: () => void }).init);
  return EXPECTED.every((s) => source.includes(s));
}

export function useGreetingDelayOption(): boolean {
  if (state !== 'not-tried') return state === 'installed';
  if (!originalInitMatches()) {
    state = 'unsupported';
    return false;
  }
  const proto = SMTPConnection.prototype as unknown as { init: (this: Connection) => void };
  proto.init = function init(this: Connection) {
    this._setListeners(() => {
      const options = this._server.options;
      if (options.maxClients && this._server.connections.size > options.maxClients) {
        return this.send(421, `${this.name} Too many connected clients, try again in a moment`, false);
      }
      const delay = options.greetingDelay ?? 100;
      if (delay <= 0) return this.connectionReady();
      setTimeout(() => this.connectionReady(), delay).unref();
    });
  };
  state = 'installed';
  return true;
}

/** True once the greeting delay option is in effect. */
export function greetingDelayInstalled(): boolean {
  return state === 'installed';
}
