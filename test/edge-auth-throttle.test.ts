/**
 * Failed-login throttling over real sockets (auth.throttle): parallel guesses are refused before
 * any password check, another account's success does not reset a guesser, one stale device
 * behind NAT locks out only its own user name, and the per-address cap stops a guesser who tries
 * many names. Each case uses its own client address (127.0.0.x) so counts do not mix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgeClient, b64 } from './support/edge-client.js';
import { deviceHash, startEdge, type EdgeEnv } from './support/edge.js';

const plain = (user: string, pass: string) => b64(`\0${user}\0${pass}`);

describe('failed-login throttling (auth.throttle)', () => {
  let env: EdgeEnv;
  let port: number;
  beforeAll(async () => {
    const [ehr, scanner] = await Promise.all(['right', 'scan-pw'].map(deviceHash));
    env = await startEdge({
      listen: () => [{ port: 0, auth: { allowPlaintext: true } }],
      devices: [
        { username: 'ehr', passwordHash: ehr!, workspace: 'clinic' },
        { username: 'scanner', passwordHash: scanner!, workspace: 'clinic' },
      ],
      auth: { throttle: { failures: 5, addressFailures: 8, window: '10m', block: '10m' } },
    });
    port = env.ports[0]!;
  });
  afterAll(async () => {
    await env.stop();
  });

  async function login(from: string, user: string, pass: string, method: 'PLAIN' | 'LOGIN' = 'PLAIN') {
    const { client } = await EdgeClient.open(port, { localAddress: from });
    let r;
    if (method === 'PLAIN') r = await client.cmd(`AUTH PLAIN ${plain(user, pass)}`);
    else {
      const p = await client.cmd(`AUTH LOGIN ${b64(user)}`);
      r = p.code === 334 ? await client.cmd(b64(pass)) : p;
    }
    await client.quit();
    return r;
  }
  const failedFrom = (client: string) => env.logs.events('auth.failed').filter((l) => l.client === client);

  it('5 failures for one user name: that name gets 454 4.7.0 even with the right password; the other devices behind the same address go on', async () => {
    const nat = '127.0.0.21';
    for (let i = 0; i < 5; i++) expect((await login(nat, 'ehr', `wrong-${i}`, 'LOGIN')).code).toBe(535);
    const blocked = await login(nat, 'ehr', 'right');
    expect(blocked.code).toBe(454);
    expect(blocked.text).toBe('4.7.0 too many failed logins for this user name from your address, try again in 10 minutes');
    expect((await login(nat, 'scanner', 'scan-pw')).code).toBe(235); // the NAT case: one stale device locks out only itself
    expect((await login('127.0.0.22', 'ehr', 'right')).code).toBe(235); // another address is not affected
    expect(failedFrom(nat)).toHaveLength(5);
    expect(failedFrom(nat).at(-1)).toMatchObject({ failures: 5, addressFailures: 5, username: 'ehr', method: 'LOGIN', reason: 'bad_password' });
    expect(env.logs.events('auth.throttled').filter((l) => l.client === nat)).toEqual([expect.objectContaining({ scope: 'user', username: 'ehr' })]);
    expect(env.logs.raw.join('\n')).not.toMatch(/wrong-\d/);
  });

  it('20 wrong logins sent in parallel: at most 5 are password-checked, the rest get 454 at once', async () => {
    const from = '127.0.0.23';
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => login(from, 'ehr', `parallel-${i}`)));
    const codes = replies.map((r) => r.code);
    expect(codes.filter((c) => c === 535).length).toBeLessThanOrEqual(5);
    expect(codes.filter((c) => c === 454).length).toBeGreaterThanOrEqual(15);
    expect(codes.every((c) => c === 535 || c === 454)).toBe(true);
    expect(failedFrom(from).length).toBeLessThanOrEqual(5);
    expect((await login(from, 'ehr', 'right')).code).toBe(454);
  });

  it('another account’s successful login does not clear a guesser’s failures', async () => {
    const from = '127.0.0.24';
    for (let i = 0; i < 4; i++) expect((await login(from, 'ehr', `guess-${i}`)).code).toBe(535);
    expect((await login(from, 'scanner', 'scan-pw')).code).toBe(235); // the guesser holds one device's password
    expect((await login(from, 'ehr', 'guess-4')).code).toBe(535);
    expect((await login(from, 'ehr', 'right')).code).toBe(454);
  });

  it('guessing many user names: the address is blocked after addressFailures, for every account', async () => {
    const from = '127.0.0.25';
    for (let i = 0; i < 8; i++) expect((await login(from, `user${i}`, 'x')).code).toBe(535);
    const r = await login(from, 'scanner', 'scan-pw');
    expect(r.code).toBe(454);
    expect(r.text).toBe('4.7.0 too many failed logins from your address, try again in 10 minutes');
    expect(env.logs.events('auth.throttled').filter((l) => l.client === from).at(-1)).toMatchObject({ scope: 'address' });
  });

  it('logs a user name as typed only when it names a device account: a password typed as the user name is never logged', async () => {
    const from = '127.0.0.26';
    expect((await login(from, 'Swapped-Secret-77', 'ehr')).code).toBe(535);
    const line = failedFrom(from).at(-1)!;
    expect(line).toMatchObject({ reason: 'unknown_user' });
    expect(line.username).toMatch(/^h:[0-9a-f]{12}$/);
    expect(env.logs.raw.join('\n')).not.toContain('Swapped-Secret-77');
  });
});
