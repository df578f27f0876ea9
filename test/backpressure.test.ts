/** Never a 250 for mail that is not on disk: full disks and write errors. */
import { readdirSync } from 'node:fs';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Relay } from '../src/app.js';
import { startRelay } from '../src/app.js';
import { parseConfig } from '../src/config/load.js';
import type { SpoolFs } from '../src/spool/index.js';
import { SmtpClient, message } from './support/smtp-client.js';
import { type GoogleEnv, LogCapture, gmailConfig, removeDir, startGoogle, tempDir } from './support/harness.js';

function enospc(): NodeJS.ErrnoException {
  return Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28 });
}

describe('disk trouble', () => {
  let dir: string;
  let google: GoogleEnv;
  let relay: Relay | undefined;

  beforeEach(async () => {
    dir = tempDir();
    google = await startGoogle(dir);
  });
  afterEach(async () => {
    await relay?.stop();
    relay = undefined;
    await google.fake.close();
    removeDir(dir);
  });

  it('answers 451 4.3.0 when the disk fills during DATA, and leaves nothing in the queue', async () => {
    let failWrites = false;
    const spoolFs: Partial<SpoolFs> = {
      async open(file, flags, mode) {
        const h = await fsp.open(file, flags, mode);
        if (!file.endsWith('.eml')) return h;
        return {
          write: (buf: Buffer, off: number, len: number) => (failWrites ? Promise.reject(enospc()) : h.write(buf, off, len)),
          sync: () => h.sync(),
          close: () => h.close(),
        };
      },
    };
    const logs = new LogCapture();
    relay = await startRelay({ config: parseConfig(gmailConfig(dir, google)), logger: logs.logger, spoolFs });
    const c = await SmtpClient.open(relay.listeners[0]!.address.port);
    failWrites = true;
    const r = await c.send('alice@clinic.example', ['bob@clinic.example'], message({ From: 'alice@clinic.example', To: 'bob@clinic.example' }, 'x'.repeat(200_000)));
    expect(r.code).toBe(451);
    expect(r.text).toMatch(/^4\.3\.0 /);
    expect(await relay.spool.list('queue')).toHaveLength(0);
    expect(readdirSync(path.join(dir, 'spool', 'data'))).toEqual([]);
    expect(logs.events('spool.write_failed')[0]).toMatchObject({ err: expect.stringMatching(/ENOSPC/) });
    // the session goes on: once the disk has room again, mail is accepted
    failWrites = false;
    const ok = await c.send('alice@clinic.example', ['bob@clinic.example'], message({ From: 'alice@clinic.example', To: 'bob@clinic.example' }));
    expect(ok.code).toBe(250);
    await c.quit();
  });
});
