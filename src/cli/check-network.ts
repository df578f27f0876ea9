/**
 * `check`, the network: every Google endpoint the config uses, reached step by step
 * (check-reach.ts), the proxy the requests would take, and the clock against Google's (the Date
 * of the token endpoint's answer: a clock off by a minute or more makes Google refuse tokens).
 */
import { readFileSync } from 'node:fs';
import type { Config } from '../config/index.js';
import { PROXY_VARIABLES } from '../delivery/index.js';
import { codeRow } from '../failures/index.js';
import { fail, failedWith, pass, warn, type CheckItem, type CheckSection } from './check-report.js';
import { reach, redactProxy, type Endpoint, type ReachOptions, type ReachResult } from './check-reach.js';


/** Within this, the clocks agree (the Date header counts whole seconds; the request takes time). */
const CLOCK_OK_S = 5;
/** Beyond this, Google may refuse the token requests (their times look wrong). */
const CLOCK_FAIL_S = 60;

export interface NetworkCheckOptions extends ReachOptions {
  /** The environment the proxy variables are read from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface NetworkSection extends CheckSection {
  /** Could each endpoint be reached, by label ("token endpoint", "Gmail API")? */
  reached: Map<string, boolean>;
}

export const TOKEN_ENDPOINT = 'token endpoint';
export const GMAIL_API = 'Gmail API';

export async function networkSection(config: Config, options: NetworkCheckOptions = {}): Promise<NetworkSection> {
  const env = options.env ?? process.env;
  const items: CheckItem[] = [];
  const proxyText = PROXY_VARIABLES.map((v) => env[v]).find(Boolean);
  let proxy: URL | undefined;
  if (proxyText) {
    const variable = PROXY_VARIABLES.find((v) => env[v])!;
    if (!URL.canParse(proxyText) || !/^https?:$/.test(new URL(proxyText).protocol)) {
      items.push(fail('proxy', `${variable} is not an http:// or https:// URL`, `set ${variable} to the proxy's URL, e.g. http://proxy.clinic.example:3128 (credentials: http://user:password@proxy:3128)`));
    } else {
      proxy = new URL(proxyText);
      const noProxy = env.NO_PROXY ?? env.no_proxy;
      items.push(pass('proxy', `${variable}=${redactProxy(proxy)}${noProxy ? ` (NO_PROXY=${noProxy})` : ''}: the Gmail API and token requests go through it; Gmail SMTP does not`));
    }
  }
  const endpoints = endpointsOf(config, proxy, env);
  const results = await Promise.all(endpoints.map((e) => reach(e, options)));
  const reached = new Map<string, boolean>();
  endpoints.forEach((e, i) => {
    const r = results[i]!;
    for (const label of e.labels) reached.set(label, !r.failure);
    items.push(reachItem(e, r));
  });
  const token = endpoints.findIndex((e) => e.labels.includes(TOKEN_ENDPOINT));
  const offset = token >= 0 ? results[token]!.clockOffsetMs : undefined;
  if (offset !== undefined) items.push(clockItem(offset));
  return { title: 'network', items, reached };
}

/** Every endpoint of Google's the config's workspaces use, each once. */
export function endpointsOf(config: Config, proxy: URL | undefined, env: NodeJS.ProcessEnv): Endpoint[] {
  const out = new Map<string, Endpoint>();
  const add = (e: Endpoint) => {
    const same = out.get(`${e.host}:${e.port}`);
    if (same) same.labels.push(...e.labels);
    else out.set(`${e.host}:${e.port}`, e);
  };
  const http = (label: string, text: string) => {
    const url = new URL(text);
    const via = proxy && mayUseProxy(url, env) ? proxy : undefined;
    const host = url.hostname.replace(/^\[|\]$/g, '');
    add({ labels: [label], host, port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)), tls: url.protocol === 'https:', httpPath: url.pathname, ...(via ? { proxy: via } : {}) });
  };
  if (config.workspaces.some((w) => w.transport === 'gmail-api')) {
    http(TOKEN_ENDPOINT, config.google.tokenUrl);
    http(GMAIL_API, config.google.apiRootUrl);
  }
  for (const w of config.workspaces) {
    if (w.transport !== 'smtp' || !w.smtp) continue;
    const ca = w.smtp.caFile ? readOptional(w.smtp.caFile) : undefined;
    add({ labels: [`Gmail SMTP (workspace ${w.name})`], host: w.smtp.host, port: w.smtp.port, tls: w.smtp.secure, ...(ca ? { ca } : {}) });
  }
  return [...out.values()];
}

/** Does a request to `url` go through the proxy? NO_PROXY as gaxios reads it. */
export function mayUseProxy(url: URL, env: NodeJS.ProcessEnv): boolean {
  const rules = (env.NO_PROXY ?? env.no_proxy ?? '').split(',').map((r) => r.trim()).filter(Boolean);
  return !rules.some((rule) => {
    if (rule.startsWith('*.') || rule.startsWith('.')) return url.hostname.endsWith(rule.replace(/^\*\./, '.'));
    return rule === url.origin || rule === url.hostname || rule === url.href;
  });
}

function reachItem(e: Endpoint, r: ReachResult): CheckItem {
  const where = `${e.labels.join(', ')} ${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}`;
  const name = `reach ${e.labels[0]}`;
  if (!r.failure) return pass(name, `${where}: ${r.steps.join(', ')}`);
  const passed = r.steps.length ? ` (${r.steps.join(', ')}: ok)` : '';
  return failedWith(name, r.failure, { detail: `${where}: ${r.failure.summary}${passed}` });
}

function clockItem(offsetMs: number): CheckItem {
  const s = Math.round(Math.abs(offsetMs) / 1000);
  const said = `this machine's clock is ${s} s ${offsetMs > 0 ? 'behind' : 'ahead of'} Google's (the Date of the token endpoint's answer)`;
  const fix = codeRow('delivery.clock_skew').fix?.({});
  if (s <= CLOCK_OK_S) return pass('clock', `within ${CLOCK_OK_S} s of Google's (the Date of the token endpoint's answer)`);
  if (s <= CLOCK_FAIL_S) return warn('clock', said, fix);
  return fail('clock', `${said}: Google refuses token requests whose times look wrong`, fix, { code: 'delivery.clock_skew' });
}

function readOptional(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined; // (the start-up section names the unreadable file)
  }
}
