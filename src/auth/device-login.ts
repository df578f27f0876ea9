/**
 * Checking a device account's login (AUTH PLAIN / LOGIN) against devices[] in config.
 */
import type { DeviceConfig } from '../config/index.js';
import { DUMMY_HASH, verifyPassword } from './password-hash.js';

export interface LoginAttempt {
  username: string;
  password: string;
  /** SASL PLAIN authorisation identity ("" when the client sent none). */
  authzid?: string;
}

export type LoginResult =
  | { ok: true; device: DeviceConfig }
  | {
      ok: false;
      /** For the log only, never for the client (it must not learn which names exist). */
      reason: 'unknown_user' | 'bad_password' | 'authzid' | 'other_workspace';
    };

/**
 * A device may log in when its password matches, the authorisation identity is empty or its own
 * name (acting as someone else is not supported), and, on a listener bound to a workspace, the
 * device belongs to that workspace. The password is checked in every case, so the answer takes
 * as long whichever check fails.
 */
export async function checkDeviceLogin(
  devices: readonly DeviceConfig[],
  attempt: LoginAttempt,
  listenerWorkspace?: string,
): Promise<LoginResult> {
  const device = devices.find((d) => d.username === attempt.username);
  const matches = await verifyPassword(attempt.password, device?.passwordHash ?? DUMMY_HASH);
  if (!device) return { ok: false, reason: 'unknown_user' };
  if (!matches) return { ok: false, reason: 'bad_password' };
  if (attempt.authzid && attempt.authzid !== attempt.username) return { ok: false, reason: 'authzid' };
  if (listenerWorkspace !== undefined && device.workspace !== listenerWorkspace) return { ok: false, reason: 'other_workspace' };
  return { ok: true, device };
}
