// Logs for people: `serve` writes readable lines in a terminal and JSON lines anywhere else
// (journald, a pipe, a file), unless --log-format says otherwise; the readable line leads with
// the event, queue id, workspace and outcome an admin scans for.
import { PassThrough } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { prettyStream, wantsPretty, type LogFormat } from '../src/log-pretty.js';

describe('--log-format', () => {
  it.each<[LogFormat, boolean, boolean]>([
    ['auto', true, true], // an admin running serve in a terminal
    ['auto', false, false], // systemd/journald, Docker, a pipe
    ['json', true, false],
    ['pretty', false, true],
  ])('%s with stdout a terminal: %s → readable: %s', (format, tty, pretty) => {
    expect(wantsPretty(format, tty)).toBe(pretty);
  });

  it('a readable line leads with the event, queue id, [workspace], outcome and code', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString()));
    const stream = await prettyStream({ colorize: false, destination: out });
    const logger = pino({ base: undefined }, stream);
    logger.warn({ event: 'delivery.held', queueId: '01HV3K9XZ7QW4M', workspace: 'clinic', code: 'delivery.token.no_send_scope', sender: 'scans@clinic.example' }, 'held until the admin fixes it');
    await new Promise<void>((resolve) => stream.end(resolve));
    const line = text.trim();
    expect(line.split('\n')).toHaveLength(1);
    expect(line).toMatch(/WARN.*: delivery\.held 01HV3K9XZ7QW4M \[clinic\] delivery\.token\.no_send_scope: held until the admin fixes it/);
    expect(line).toContain('"sender":"scans@clinic.example"');
    expect(line).not.toMatch(/"event"|"queueId"/); // not repeated after the headline
  });
});
