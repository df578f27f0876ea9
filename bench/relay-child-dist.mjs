/* global process */
// The relay child of `npm run bench -- --from-dist`: relay-child.ts, but plain JavaScript on the
// compiled relay (dist/, `npm run build`) without tsx, as `node dist/cli/index.js serve` runs in
// production (tsx costs about 40 MiB of resident memory). Same argv, same requests (children.ts).
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { startRelay } from '../dist/app.js';
import { parseConfig } from '../dist/config/load.js';
import { createLogger } from '../dist/log.js';

const [configFile, logFile, level] = process.argv.slice(2);
const config = parseConfig(JSON.parse(readFileSync(configFile, 'utf8')), configFile);
const logger = createLogger({ level }, pino.destination({ dest: logFile, sync: false, mkdir: true }));
const relay = await startRelay({ config, logger });
const stop = () =>
  void relay
    .stop()
    .then(() => logger.flush())
    .finally(() => process.exit(0));
process.on('message', (req) => {
  if (req.type === 'stop') return stop();
  if (req.type !== 'stats') return process.send?.({ id: req.id, type: req.type, error: `unknown request ${req.type}` });
  const stats = { queued: relay.scheduler.queued, inFlight: relay.scheduler.inFlight, dirSyncs: relay.spool.dirSyncs };
  process.send?.({ ...stats, id: req.id, type: req.type });
});
process.on('disconnect', stop);
process.send?.({ type: 'ready', port: relay.listeners[0].address.port });
