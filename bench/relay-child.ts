/**
 * Child process: the REAL relay (startRelay from src/app.ts) with the config the parent wrote, so
 * the relay's memory (VmHWM) is its own and not the load generator's. Logs go to a file (as they
 * would to journald: the cost of writing them is part of the relay's work).
 * argv: <config.json> <log file> <log level>. The parent may send a new config ('reload', as
 * SIGHUP would), e.g. to release mail held back while the load was accepted.
 */
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { startRelay } from '../src/app.js';
import { parseConfig } from '../src/config/load.js';
import { createLogger } from '../src/log.js';
import { serveParent } from './children.js';

const [configFile, logFile, level] = process.argv.slice(2) as [string, string, string];
const config = parseConfig(JSON.parse(readFileSync(configFile, 'utf8')), configFile);
const logger = createLogger({ level }, pino.destination({ dest: logFile, sync: false, mkdir: true }));
const relay = await startRelay({ config, logger });
serveParent(
  { port: relay.listeners[0]!.address.port, httpPort: relay.http?.addresses[0]?.port ?? null },
  {
    stats: () => ({ queued: relay.scheduler.queued, inFlight: relay.scheduler.inFlight, dirSyncs: relay.spool.dirSyncs }),
    reload: async (req) => {
      await relay.reload(parseConfig(req.config, configFile));
      return {};
    },
  },
  async () => {
    await relay.stop();
    logger.flush();
  },
);
