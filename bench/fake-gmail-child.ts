/**
 * Child process: the counting fake Gmail (bench/fake-gmail.ts) in its own process, so its work
 * is neither the load generator's nor the relay's. argv[2]: JSON { clientEmail, publicKeyPem,
 * domain, latencyMs, quota }.
 */
import { createPublicKey } from 'node:crypto';
import { serveParent } from './children.js';
import { CountingGmail } from './fake-gmail.js';

const opts = JSON.parse(process.argv[2] ?? '{}') as { clientEmail: string; publicKeyPem: string; domain: string; latencyMs?: number; quota?: boolean };
const fake = await CountingGmail.start({
  clientEmail: opts.clientEmail,
  publicKey: createPublicKey(opts.publicKeyPem),
  domain: opts.domain,
  latencyMs: opts.latencyMs ?? 0,
  quota: opts.quota === true,
});
serveParent(
  { url: fake.url },
  { stats: (req) => ({ stats: fake.snapshot(req.perUser === true) }) },
  () => fake.close(),
);
