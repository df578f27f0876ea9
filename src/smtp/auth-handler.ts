/**
 * AUTH PLAIN and LOGIN for device accounts. smtp-server runs the SASL exchanges: LOGIN with the
 * "334 VXNlcm5hbWU6" / "334 UGFzc3dvcmQ6" prompts (Username: / Password:), or with the user
 * name as initial response (AUTH LOGIN <base64 user>); PLAIN with the token inline or after an
 * empty 334. This decides the login: the throttle first (auth.throttle: 454 4.7.0, no password
 * work; the attempt counts from here, so parallel guesses cannot pass it), then the device's
 * scrypt hash, the authorisation identity and the listener's workspace. Logged as auth.ok /
 * auth.failed / auth.throttled with the client and the user name in a safe form (as typed only
 * when it names a device account; else a hash: a device that swaps the fields would otherwise
 * log its password), never the password.
 */
import type { SMTPServerAuthentication, SMTPServerAuthenticationResponse, SMTPServerSession } from 'smtp-server';
import { checkDeviceLogin } from '../auth/index.js';
import { errorText } from '../errors.js';
import { smtpReply } from '../replies/index.js';
import { safeUsername } from '../safe-text.js';
import type { Runtime } from './runtime.js';

type AuthCallback = (err: Error | null | undefined, response?: SMTPServerAuthenticationResponse) => void;

const minutes = (ms: number) => Math.max(1, Math.ceil(ms / 60_000));

export function onAuth(rt: Runtime, auth: SMTPServerAuthentication, session: SMTPServerSession, callback: AuthCallback): void {
  const state = rt.state(session);
  const client = session.remoteAddress;
  const devices = rt.config().devices;
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
  checkDeviceLogin(devices, credentials, rt.listener().workspace).then(
    (result) => {
      if (result.ok) {
        attempt.succeed();
        state.log.info({ event: 'auth.ok', ...common, workspace: result.device.workspace }, 'device logged in');
        return callback(null, { user: result.device.username });
      }
      const counts = attempt.fail();
      state.log.warn({ event: 'auth.failed', ...common, reason: result.reason, ...counts }, 'login failed');
      rt.events.authFailed(rt.name);
      callback(smtpReply(result.reason === 'authzid' ? 'authzidRefused' : 'authFailed'));
    },
    (err: unknown) => {
      attempt.abandon();
      state.log.error({ event: 'auth.error', ...common, err: errorText(err) }, 'password check failed');
      callback(smtpReply('authUnavailable'));
    },
  );
}
