/** `workspace-relay send-test`: hand a small test message to a running relay over SMTP. */
import nodemailer from 'nodemailer';
import { errorText } from '../errors.js';
import { CliExit, EXIT_FAILURE, loadConfigOrExit, type ConfigChoice } from './context.js';
import type { Output } from './check.js';

export async function sendTest(
  choice: ConfigChoice,
  opts: { from: string; to: string[]; server?: string },
  io: Output,
): Promise<void> {
  const config = loadConfigOrExit(choice);
  const first = config.listen[0]!;
  const [host, port] = opts.server ? splitHostPort(opts.server) : [first.host === '0.0.0.0' ? '127.0.0.1' : first.host, first.port];
  const t = nodemailer.createTransport({ host, port, secure: first.tls.mode === 'implicit', ignoreTLS: first.tls.mode === 'none', tls: { rejectUnauthorized: false } });
  try {
    const info = await t.sendMail({
      envelope: { from: opts.from, to: opts.to },
      from: opts.from,
      to: opts.to,
      subject: 'workspace-relay test message',
      text: `This is a test message sent by "workspace-relay send-test" at ${new Date().toISOString()}.\n`,
    });
    io.out(`accepted by ${host}:${port}: ${info.response}`);
  } catch (err) {
    throw new CliExit(EXIT_FAILURE, `refused by ${host}:${port}: ${errorText(err)}`);
  } finally {
    t.close();
  }
}

function splitHostPort(s: string): [string, number] {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(s);
  if (!m) throw new CliExit(EXIT_FAILURE, `--server ${s}: use host:port, e.g. 127.0.0.1:2525`);
  return [m[1]!, Number(m[2])];
}
