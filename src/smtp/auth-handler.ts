/**
 * AUTH PLAIN and LOGIN for device accounts. smtp-server runs the SASL exchanges: LOGIN with the
 * "334 VXNlcm5hbWU6" / "334 UGFzc3dvcmQ6" prompts (Username: / Password:), or with the user
 * name as initial response (AUTH LOGIN <base64 user>); PLAIN with the token inline or after an
 * empty 334. This decides the login: the throttle first (auth.throttle: 454 4.7.0, no password
 * work; the attempt counts from here, so parallel guesses cannot pass it), then the device's
 * scrypt hash, the authorisation identity and the listener's workspace. A device of a disabled
 * practice with the right password gets 454 (its practice's settings failed: it tries again), and
 * so does every failed login on a shared listener while a practice's file cannot be read (it may
 * be one of that practice's devices). Logged as auth.ok / auth.failed / auth.throttled /
 * auth.practice_disabled with the client and the user name in a safe form (as typed only
 * when it names a device account; else a hash: a device that swaps the fields would otherwise
 * log its password), never the password.
 */
import type { SMTPServerAuthentication, SMTPServerAuthenticationResponse, SMTPServerSession } from 'smtp-server';
import { checkDeviceLogin } from '../auth/index.js';
import { disabledWorkspace, sidelinedDevices, unreadablePractices } from '../config/index.js';
import { errorText } from '../errors.js';
import { smtpReply } from '../replies/index.js';
import { safeUsername } from '../safe-text.js';
import type { Runtime } from './runtime.js';

type AuthCallback = (err: Error | null | undefined, response?: SMTPServerAuthenticationResponse) => void;

const minutes = (ms: number) => Math.max(1, Math.ceil(ms / 60_000));

export function onAuth(rt: Runtime, auth: SMTPServerAuthentication, session: SMTPServerSession, callback: AuthCallback): void {
  const state = rt.state(session);
  const client = session.remoteAddress;
  const config = rt.config();
  const listener = rt.listener();
  // With the devices of disabled practices: their password is checked, their login answered 454.
  const sidelined = sidelinedDevices(config);
  const devices = sidelined.length ? [...config.devices, ...sidelined] : config.devices;
  const typed = auth.username ?? '';
  const username = safeUsername(typed, (name) => devices.some((d) => d.username === name));
  const common = { username, client, method: auth.method };
  const verdict = rt.throttle.begin(client, typed);
  if (!verdict.ok) {
    state.log.warn({ event: 'auth.throttled', ...common, scope: verdict.scope }, 'login refused: too many failed logins');
    rt.events.authFailed(rt.name);
    const wait = { minutes: minutes(verdict.retryAfterMs) };
    return callback(verdict.scope === 'user' ? smtpReply('authThrottledUser', wait) : smtpReply('authThrottled', wait));
  }
  const { attempt } = verdict;
  const credentials = { username: typed, password: auth.password ?? '', authzid: auth.authzid ?? '' };
  checkDeviceLogin(devices, credentials, listener.workspace).then(
    (result) => {
      if (result.ok) {
        attempt.succeed();
        const paused = disabledWorkspace(config, { workspace: result.device.workspace });
        if (paused !== undefined) {
          state.log.warn({ event: 'auth.practice_disabled', ...common, workspace: paused }, "device's practice is disabled: login answered 454, the device tries again later");
          return callback(smtpReply('authPracticeDisabled', { workspace: paused }));
        }
        state.log.info({ event: 'auth.ok', ...common, workspace: result.device.workspace }, 'device logged in');
        return callback(null, { user: result.device.username });
      }
      const counts = attempt.fail();
      // While a practice's file cannot be read, a login on a shared listener may be one of its
      // devices': temporary, whichever the name (the answer must not tell a known name from another).
      const unplaced = result.reason !== 'authzid' && listener.workspace === undefined && unreadablePractices(config).length > 0;
      state.log.warn({ event: 'auth.failed', ...common, reason: result.reason, ...counts, ...(unplaced ? { temporary: true } : {}) }, 'login failed');
      rt.events.authFailed(rt.name);
      callback(smtpReply(unplaced ? 'authPracticeUnreadable' : result.reason === 'authzid' ? 'authzidRefused' : 'authFailed'));
    },
    (err: unknown) => {
      attempt.abandon();
      state.log.error({ event: 'auth.error', ...common, err: errorText(err) }, 'password check failed');
      callback(smtpReply('authUnavailable'));
    },
  );
}
