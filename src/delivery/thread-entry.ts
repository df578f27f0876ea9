/**
 * The delivery thread (see thread.ts): builds the transports of each config generation it is
 * given and runs the sends the daemon hands it. Its log lines go to the daemon's logger.
 */
import { Writable } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import { DeliveryError } from '../errors.js';
import { createLogger } from '../log.js';
import { buildTransports } from './build.js';
import { toWire, type FromThread, type ToThread } from './thread-wire.js';
import type { Transport } from './types.js';

const port = parentPort;
if (!port) throw new Error('thread-entry.ts runs as the delivery thread only');
const post = (m: FromThread) => port.postMessage(m);

const { level, name } = workerData as { level: string; name: string };
const logger = createLogger(
  { level, name },
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      post({ t: 'log', line: chunk.toString() });
      done();
    },
  }),
);

const generations = new Map<number, Map<string, Transport>>();
const running = new Map<number, AbortController>();

port.on('message', (m: ToThread) => {
  switch (m.t) {
    case 'configure':
      try {
        generations.set(m.gen, buildTransports(m.config, logger));
        post({ t: 'configured', gen: m.gen });
      } catch (err) {
        post({ t: 'configured', gen: m.gen, error: toWire(err) });
      }
      return;
    case 'deliver': {
      const transport = generations.get(m.gen)?.get(m.workspace);
      if (!transport) {
        const error = new DeliveryError('delivery.no_workspace', 'temporary', `workspace "${m.workspace}" has no transport in the delivery thread: will retry`);
        post({ t: 'failed', id: m.id, error: toWire(error) });
        return;
      }
      const controller = new AbortController();
      running.set(m.id, controller);
      transport.deliver(m.message, controller.signal).then(
        (result) => post({ t: 'done', id: m.id, result }),
        (err: unknown) => post({ t: 'failed', id: m.id, error: toWire(err) }),
      ).finally(() => running.delete(m.id));
      return;
    }
    case 'abort':
      running.get(m.id)?.abort(new Error(m.reason));
      return;
    case 'close': {
      const transports = generations.get(m.gen);
      generations.delete(m.gen);
      void Promise.allSettled([...(transports?.values() ?? [])].map(async (t) => t.close?.())).then(() => post({ t: 'closed', gen: m.gen }));
      return;
    }
  }
});
