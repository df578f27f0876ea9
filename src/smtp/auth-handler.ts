/**
 * AUTH PLAIN and LOGIN for device accounts. smtp-server runs the SASL exchanges: LOGIN with the
 * "334 VXNlcm5hbWU6" / "334 UGFzc3dvcmQ6" prompts (Username: / Password:), or with the user
 * name as initial response (AUTH LOGIN <base64 user>); PLAIN with the token inline or after an
 * empty 334. This decides the login: throttled addresses first (454 4.7.0, no password work),
 * then the device's scrypt hash, the authorisation identity and the listener's workspace.
 * Logged as auth.ok / auth.failed / auth.throttled with user name and client, never the password.
 */
import type { SMTPServerAuthentication, SMTPServerAuthenticationResponse, SMTPServerSession } from 'smtp-server';
import { checkDeviceLogin } from '../auth/index.js';
import { errorText } from '../errors.js';
import { smtpReply } from '../replies/index.js';
import type { Runtime } from './runtime.js';

type AuthCallback = (err: Error | null | undefined, response?: SMTPServerAuthenticationResponse) => void;

/** A user name as logged: whatever the client sent, cut short. */
const shown = (username: string | undefined) => (username ?? '').slice(0, 100);

export function onAuth(rt: Runtime, auth: SMTPServerAuthentication, session: SMTPServerSession, callback: AuthCallback): void {
  const state = rt.state(session);
  const client = session.remoteAddress;
  const username = shown(auth.username);
  const common = { username, client, method: auth.method };
  const wait = rt.throttle.retryAfter(client);
  if (wait !== null) {
    state.log.warn({ event: 'auth.throttled', ...common }, 'login refused: too many failures from this address');
    return callback(smtpReply('authThrottled', { minutes: Math.max(1, Math.ceil(wait / 60_000)) }));
  }
  const attempt = { username: auth.username ?? '', password: auth.password ?? '', authzid: auth.authzid ?? '' };
  checkDeviceLogin(rt.config().devices, attempt, rt.listener().workspace).then(
    (result) => {
      if (result.ok) {
        rt.throttle.succeed(client);
        state.log.info({ event: 'auth.ok', ...common, workspace: result.device.workspace }, 'device logged in');
        return callback(null, { user: result.device.username });
      }
      const failures = rt.throttle.fail(client);
      state.log.warn({ event: 'auth.failed', ...common, reason: result.reason, failures }, 'login failed');
      callback(smtpReply(result.reason === 'authzid' ? 'authzidRefused' : 'authFailed'));
    },
    (err: unknown) => {
      state.log.error({ event: 'auth.error', ...common, err: errorText(err) }, 'password check failed');
      callback(smtpReply('authUnavailable'));
    },
  );
}
