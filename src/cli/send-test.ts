/** `workspace-relay send-test`: hand a small test message to a running relay over SMTP. */
import nodemailer from 'nodemailer';
import { errorText } from '../errors.js';
import { CliExit, EXIT_FAILURE, EXIT_USAGE, loadConfigOrExit, type ConfigChoice } from './context.js';
import type { Output } from './check.js';

export interface SendTestOptions {
  from: string;
  to: string[];
  server?: string;
  json?: boolean;
}

export async function sendTest(choice: ConfigChoice, opts: SendTestOptions, io: Output): Promise<void> {
  const server = opts.server ? splitHostPort(opts.server) : undefined;
  const config = loadConfigOrExit(choice);
  const first = config.listen[0]!;
  const [host, port] = server ?? [first.host === '0.0.0.0' || first.host === '::' ? '127.0.0.1' : first.host, first.port];
  const t = nodemailer.createTransport({ host, port, secure: first.tls.mode === 'implicit', ignoreTLS: first.tls.mode === 'none', tls: { rejectUnauthorized: false } });
  try {
    const info = await t.sendMail({
      envelope: { from: opts.from, to: opts.to },
      from: opts.from,
      to: opts.to,
      subject: 'workspace-relay test message',
      text: `This is a test message sent by "workspace-relay send-test" at ${new Date().toISOString()}.\n`,
    });
    const queueId = /queued as (\S+)/.exec(info.response)?.[1] ?? null;
    if (opts.json) io.out(JSON.stringify({ accepted: true, server: `${host}:${port}`, response: info.response, queueId }, null, 2));
    else io.out(`accepted by ${host}:${port}: ${info.response}`);
  } catch (err) {
    const message = `refused by ${host}:${port}: ${errorText(err)}`;
    if (opts.json) io.out(JSON.stringify({ accepted: false, server: `${host}:${port}`, error: errorText(err) }, null, 2));
    throw new CliExit(EXIT_FAILURE, message);
  } finally {
    t.close();
  }
}

function splitHostPort(s: string): [string, number] {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(s);
  if (!m || Number(m[2]) > 65535) throw new CliExit(EXIT_USAGE, `error: --server ${s}: use host:port, e.g. 127.0.0.1:2525`);
  return [m[1]!, Number(m[2])];
}
