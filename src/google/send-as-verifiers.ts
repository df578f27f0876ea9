/** The send-as verifiers a relay generation uses (src/app.ts builds them at start and at each reload). */
import { GMAIL_SETTINGS_BASIC_SCOPE, type Config } from '../config/index.js';
import type { Logger } from '../log.js';
import { GoogleCredentials } from './credentials.js';
import { createSendAsVerifier, type SendAsVerifier } from './send-as.js';
import { loadServiceAccountKey } from './service-account.js';

/**
 * Send-as verifiers of the gmail-api workspaces, when a listener checks From against the sender's
 * verified aliases (verifySendAs). Same service account, its own token with only the
 * gmail.settings.basic scope, so the sending token stays gmail.send alone. `kept`: workspaces
 * whose key may be as last read good (a practice kept on its running settings at a reload).
 */
export function buildSendAsVerifiers(config: Config, logger: Logger, clock: { now(): number } = { now: Date.now }, kept: ReadonlySet<string> = new Set()): Map<string, SendAsVerifier> {
  const out = new Map<string, SendAsVerifier>();
  if (!config.listen.some((l) => l.verifySendAs)) return out;
  config.workspaces.forEach((w, i) => {
    if (w.transport !== 'gmail-api' || !w.gmailApi) return;
    const key = loadServiceAccountKey(w.gmailApi.serviceAccountKeyFile, `workspaces[${i}].gmailApi.serviceAccountKeyFile`, { lastGood: kept.has(w.name) });
    const credentials = new GoogleCredentials({ key, scopes: [GMAIL_SETTINGS_BASIC_SCOPE], tokenUrl: config.google.tokenUrl });
    out.set(w.name, createSendAsVerifier({ credentials, apiRootUrl: config.google.apiRootUrl, now: () => clock.now(), logger: logger.child({ workspace: w.name }) }));
  });
  return out;
}

