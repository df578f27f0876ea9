/** Device accounts: scrypt hashes, login checks, failed-login throttling, per-device rates. */
import { describe, expect, it } from 'vitest';
import { DUMMY_HASH, DeviceRate, LoginThrottle, networkOf, checkDeviceLogin, hashPassword, parsePasswordHash, verifyPassword } from '../src/auth/index.js';
import type { DeviceConfig } from '../src/config/index.js';
import { TEST_SCRYPT } from './support/edge.js';
import { TestClock } from './support/test-clock.js';

describe('password hashes', () => {
  it('prints scrypt$N=…,r=…,p=…$salt$key, verifies the password and nothing else', async () => {
    const hash = await hashPassword('Scanner-Pa55 wörd', TEST_SCRYPT);
    expect(hash).toMatch(/^scrypt\$N=1024,r=8,p=1\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}$/);
    expect(await verifyPassword('Scanner-Pa55 wörd', hash)).toBe(true);
    for (const wrong of ['scanner-Pa55 wörd', 'Scanner-Pa55 wörd ', '', 'Scanner-Pa55 word']) {
      expect(await verifyPassword(wrong, hash), wrong).toBe(false);
    }
  });

  it('salts every hash', async () => {
    const [a, b] = await Promise.all([hashPassword('same', TEST_SCRYPT), hashPassword('same', TEST_SCRYPT)]);
    expect(a).not.toBe(b);
    expect(await verifyPassword('same', a)).toBe(true);
    expect(await verifyPassword('same', b)).toBe(true);
  });

  it('uses N=32768 by default (memory-hard enough for a login that is rarely checked)', async () => {
    const hash = await hashPassword('x');
    expect(parsePasswordHash(hash)?.params).toEqual({ N: 32768, r: 8, p: 1 });
  });

  it('refuses malformed hashes and parameters that would make a login take minutes or gigabytes', async () => {
    for (const bad of [
      'scrypt$',
      'scrypt$N=1024,r=8,p=1$c2FsdHNhbHQ=',
      'bcrypt$N=1024,r=8,p=1$c2FsdHNhbHQ=$a2V5a2V5a2V5a2V5a2V5a2V5',
      'scrypt$N=1000,r=8,p=1$c2FsdHNhbHQ=$a2V5a2V5a2V5a2V5a2V5a2V5',
      'scrypt$N=4194304,r=8,p=1$c2FsdHNhbHQ=$a2V5a2V5a2V5a2V5a2V5a2V5',
      'scrypt$N=1024,r=64,p=1$c2FsdHNhbHQ=$a2V5a2V5a2V5a2V5a2V5a2V5',
      'scrypt$N=1024,r=8,p=1$!!!$a2V5a2V5a2V5a2V5a2V5a2V5',
    ]) {
      expect(parsePasswordHash(bad), bad).toBeNull();
      expect(await verifyPassword('x', bad), bad).toBe(false);
    }
    expect(parsePasswordHash(DUMMY_HASH)).not.toBeNull();
  });
});

describe('device logins', () => {
  const device = async (over: Partial<DeviceConfig> = {}): Promise<DeviceConfig> => ({
    username: 'scanner',
    passwordHash: await hashPassword('right', TEST_SCRYPT),
    workspace: 'clinic',
    ...over,
  });

  it('accepts the right password, says why a login fails (for the log)', async () => {
    const devices = [await device()];
    expect(await checkDeviceLogin(devices, { username: 'scanner', password: 'right' })).toMatchObject({ ok: true, device: { username: 'scanner' } });
    expect(await checkDeviceLogin(devices, { username: 'scanner', password: 'wrong' })).toEqual({ ok: false, reason: 'bad_password' });
    expect(await checkDeviceLogin(devices, { username: 'Scanner', password: 'right' })).toEqual({ ok: false, reason: 'unknown_user' });
    expect(await checkDeviceLogin(devices, { username: 'nobody', password: 'right' })).toEqual({ ok: false, reason: 'unknown_user' });
  });

  it('an authorisation identity must be empty or the login itself', async () => {
    const devices = [await device(), await device({ username: 'admin' })];
    expect(await checkDeviceLogin(devices, { username: 'scanner', password: 'right', authzid: 'scanner' })).toMatchObject({ ok: true });
    expect(await checkDeviceLogin(devices, { username: 'scanner', password: 'right', authzid: '' })).toMatchObject({ ok: true });
    expect(await checkDeviceLogin(devices, { username: 'scanner', password: 'right', authzid: 'admin' })).toEqual({ ok: false, reason: 'authzid' });
  });

  it('a device of another workspace cannot log in on a listener bound to one', async () => {
    const devices = [await device({ workspace: 'north' })];
    expect(await checkDeviceLogin(devices, { username: 'scanner', password: 'right' }, 'clinic')).toEqual({ ok: false, reason: 'other_workspace' });
    expect(await checkDeviceLogin(devices, { username: 'scanner', password: 'right' }, 'north')).toMatchObject({ ok: true });
  });
});

describe('login throttle (auth.throttle)', () => {
  const limits = { failures: 3, addressFailures: 5, window: 10_000, block: 60_000 };
  const fail = (t: LoginThrottle, client: string, user: string) => {
    const v = t.begin(client, user);
    if (!v.ok) throw new Error(`refused: ${v.scope}`);
    return v.attempt.fail();
  };
  const verdict = (t: LoginThrottle, client: string, user: string) => {
    const v = t.begin(client, user);
    if (v.ok) v.attempt.abandon();
    return v.ok ? 'ok' : `${v.scope} ${v.retryAfterMs}`;
  };

  it('blocks a user name from an address after `failures` in `window`, for `block`; other names and addresses go on', () => {
    const clock = new TestClock(1_000_000);
    const t = new LoginThrottle({ clock, limits: () => limits });
    expect(fail(t, '10.0.0.5', 'ehr')).toEqual({ failures: 1, addressFailures: 1 });
    clock.set(clock.now() + 1000);
    fail(t, '10.0.0.5', 'ehr');
    clock.set(clock.now() + 1000);
    expect(fail(t, '10.0.0.5', 'ehr')).toEqual({ failures: 3, addressFailures: 3 });
    expect(verdict(t, '10.0.0.5', 'ehr')).toBe('user 60000');
    expect(verdict(t, '10.0.0.5', 'scanner')).toBe('ok');
    expect(verdict(t, '10.0.0.6', 'ehr')).toBe('ok');
    clock.set(clock.now() + 59_999);
    expect(verdict(t, '10.0.0.5', 'ehr')).toBe('user 1');
    clock.set(clock.now() + 1);
    expect(verdict(t, '10.0.0.5', 'ehr')).toBe('ok');
  });

  it('failures older than the window do not count', () => {
    const clock = new TestClock(0);
    const t = new LoginThrottle({ clock, limits: () => limits });
    fail(t, 'a', 'ehr');
    fail(t, 'a', 'ehr');
    clock.set(10_001);
    expect(fail(t, 'a', 'ehr').failures).toBe(1);
  });

  it('counts attempts still being checked: parallel guesses beyond the limit are refused before any password check', () => {
    const t = new LoginThrottle({ clock: new TestClock(0), limits: () => limits });
    const started = [t.begin('a', 'ehr'), t.begin('a', 'ehr'), t.begin('a', 'ehr')];
    expect(started.every((v) => v.ok)).toBe(true);
    expect(verdict(t, 'a', 'ehr')).toBe('user 60000');
    // they all fail: the user name is blocked
    for (const v of started) if (v.ok) v.attempt.fail();
    expect(verdict(t, 'a', 'ehr')).toBe('user 60000');
    // had one succeeded, its slot would have been free again
    const u = new LoginThrottle({ clock: new TestClock(0), limits: () => limits });
    const first = u.begin('a', 'ehr');
    for (let i = 0; i < 2; i++) u.begin('a', 'ehr');
    if (first.ok) first.attempt.succeed();
    expect(verdict(u, 'a', 'ehr')).toBe('ok');
  });

  it('a success clears only its own user name from its address: another account’s success does not help a guesser', () => {
    const t = new LoginThrottle({ clock: new TestClock(0), limits: () => limits });
    fail(t, 'a', 'ehr');
    fail(t, 'a', 'ehr');
    const other = t.begin('a', 'scanner');
    if (other.ok) other.attempt.succeed();
    expect(fail(t, 'a', 'ehr')).toEqual({ failures: 3, addressFailures: 3 });
    expect(verdict(t, 'a', 'ehr')).toBe('user 60000');
    // its own success clears its own failures (not the address's)
    const t2 = new LoginThrottle({ clock: new TestClock(0), limits: () => limits });
    fail(t2, 'a', 'ehr');
    fail(t2, 'a', 'ehr');
    const ok = t2.begin('a', 'ehr');
    if (ok.ok) ok.attempt.succeed();
    expect(fail(t2, 'a', 'ehr')).toEqual({ failures: 1, addressFailures: 3 });
  });

  it('blocks the whole address after `addressFailures` across user names (even a right password then waits)', () => {
    const t = new LoginThrottle({ clock: new TestClock(0), limits: () => limits });
    for (const user of ['u1', 'u2', 'u3', 'u4']) fail(t, 'a', user);
    expect(fail(t, 'a', 'u5')).toEqual({ failures: 1, addressFailures: 5 });
    expect(verdict(t, 'a', 'ehr')).toBe('address 60000');
    expect(verdict(t, 'b', 'ehr')).toBe('ok');
  });

  it('counts an IPv6 client per /64 and an IPv4-mapped client as its IPv4 address', () => {
    expect(networkOf('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(networkOf('2001:db8:1:2::ffff')).toBe('2001:db8:1:2::/64');
    expect(networkOf('2001:0db8::1')).toBe('2001:db8:0:0::/64');
    expect(networkOf('::ffff:10.0.0.5')).toBe('10.0.0.5');
    expect(networkOf('10.0.0.5')).toBe('10.0.0.5');
    const t = new LoginThrottle({ clock: new TestClock(0), limits: () => limits });
    for (let i = 1; i <= 3; i++) fail(t, `2001:db8:1:2::${i}`, 'ehr');
    expect(verdict(t, '2001:db8:1:2:ffff::9', 'ehr')).toBe('user 60000');
    expect(verdict(t, '2001:db8:1:3::1', 'ehr')).toBe('ok');
  });

  it('reads its limits at every login (a reload applies to the next one)', () => {
    let current = limits;
    const t = new LoginThrottle({ clock: new TestClock(0), limits: () => current });
    fail(t, 'a', 'ehr');
    current = { ...limits, failures: 1 };
    expect(verdict(t, 'a', 'ehr')).toBe('user 60000');
  });

  it('remembers a bounded number of counters, never forgetting a blocked one', () => {
    const t = new LoginThrottle({ clock: new TestClock(0), limits: () => ({ ...limits, failures: 1 }), maxEntries: 4 });
    fail(t, 'a', 'ehr'); // blocked: user a/ehr (2 counters: address a, user a/ehr)
    for (const c of ['b', 'c', 'd']) fail(t, c, 'x');
    expect(verdict(t, 'a', 'ehr')).toBe('user 60000');
  });
});

describe('device rate', () => {
  it('counts accepted messages per device over a sliding hour', () => {
    const clock = new TestClock(0);
    const r = new DeviceRate({ clock });
    expect(r.allows('scanner', 2)).toBe(true);
    r.record('scanner');
    clock.set(30 * 60_000);
    r.record('scanner');
    expect(r.allows('scanner', 2)).toBe(false);
    expect(r.allows('other', 2)).toBe(true);
    expect(r.allows('scanner', undefined)).toBe(true);
    clock.set(60 * 60_000 + 1);
    expect(r.count('scanner')).toBe(1);
    expect(r.allows('scanner', 2)).toBe(true);
  });
});
