/** Device accounts: scrypt hashes, login checks, failed-login throttling, per-device rates. */
import { describe, expect, it } from 'vitest';
import { DUMMY_HASH, DeviceRate, LoginThrottle, checkDeviceLogin, hashPassword, parsePasswordHash, verifyPassword } from '../src/auth/index.js';
import type { DeviceConfig } from '../src/config/schema.js';
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

describe('login throttle', () => {
  it('blocks an address after 5 failures in 10 minutes, until the oldest failure is 10 minutes old', () => {
    const clock = new TestClock(1_000_000);
    const t = new LoginThrottle({ clock });
    for (let i = 0; i < 4; i++) {
      t.fail('10.0.0.5');
      clock.set(clock.now() + 60_000);
    }
    expect(t.retryAfter('10.0.0.5')).toBeNull();
    expect(t.fail('10.0.0.5')).toBe(5);
    // first failure at 1_000_000, so blocked until 1_600_000; now is 1_240_000
    expect(t.retryAfter('10.0.0.5')).toBe(360_000);
    expect(t.retryAfter('10.0.0.6')).toBeNull();
    clock.set(1_600_000);
    expect(t.retryAfter('10.0.0.5')).toBeNull();
  });

  it('failures older than the window do not count; a success clears the address', () => {
    const clock = new TestClock(0);
    const t = new LoginThrottle({ clock, maxFailures: 3, windowMs: 1000 });
    t.fail('a');
    t.fail('a');
    clock.set(1500);
    expect(t.fail('a')).toBe(1);
    t.fail('a');
    t.succeed('a');
    expect(t.fail('a')).toBe(1);
  });

  it('remembers a bounded number of addresses', () => {
    const t = new LoginThrottle({ maxFailures: 1, maxClients: 3 });
    for (const a of ['a', 'b', 'c', 'd']) t.fail(a);
    expect(t.retryAfter('a')).toBeNull();
    expect(t.retryAfter('d')).not.toBeNull();
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
