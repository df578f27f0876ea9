/**
 * README (and docs/) against `--help`: every command and every option the program offers is
 * documented where an admin looks, every exit code is in README's table, and README's links to
 * files and headings resolve. The program is the one the binary runs (src/cli/program.ts).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import * as exitCodes from '../src/cli/exit-codes.js';
import { buildProgram } from '../src/cli/program.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const docFiles = ['README.md', ...readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const texts = new Map(docFiles.map((f) => [f, readFileSync(path.join(ROOT, f), 'utf8')]));
const allLines = [...texts.values()].flatMap((t) => t.split('\n'));
/** Paragraphs and code blocks (split at blank lines), and each table row on its own. */
const blocks = [...texts.values()].flatMap((t) => t.split(/\n\s*\n/).flatMap((b) => (b.trimStart().startsWith('|') ? b.split('\n') : [b])));
const readme = texts.get('README.md')!;

interface Entry {
  /** e.g. "queue list" */
  path: string;
  /** the command's own name and its parent's (an option is documented beside either) */
  names: string[];
  options: string[];
}

function commands(cmd: Command, parents: string[] = []): Entry[] {
  const out: Entry[] = [];
  for (const sub of cmd.commands) {
    if (sub.name() === 'help') continue; // commander's own
    const names = [...parents, sub.name()];
    const options = sub.options.filter((o) => !o.hidden).map((o) => o.long ?? o.short!);
    out.push({ path: names.join(' '), names: names.slice(-2), options });
    out.push(...commands(sub, names));
  }
  return out;
}

const program = buildProgram({ stdout: () => undefined, stderr: () => undefined, exitCode: () => undefined });
const entries = commands(program);
/** Commander keeps --help apart from the other options; every command has it. */
const globalOptions = [...program.options.map((o) => o.long!), '--help'];

describe('README and docs/ against --help', () => {
  it('finds the commands (the walk itself works)', () => {
    expect(entries.map((e) => e.path)).toEqual(expect.arrayContaining(['serve', 'status', 'check', 'send-test', 'hash-password', 'pretty-logs', 'queue list', 'smime import']));
    expect(globalOptions).toEqual(['--version', '--config', '--help']);
  });

  it.each(entries.map((e) => [e.path, e] as const))('documents the command %s', (_p, e) => {
    // written as `queue list`, `workspace-relay queue list`, or in a list such as `queue list|show|…`
    const [parent, name] = e.names.length === 2 ? e.names : [undefined, e.names[0]!];
    const found = allLines.some((l) => (parent ? new RegExp(`\\b${parent} (\\S*\\|)?${name}\\b`).test(l) : new RegExp(`\`(workspace-relay )?${name}\\b`).test(l)));
    expect(found, `no line of README.md or docs/ names \`${e.path}\``).toBe(true);
  });

  it.each(entries.flatMap((e) => e.options.map((o) => [e.path, o, e] as const)))('documents %s %s', (_p, option, e) => {
    // in a paragraph or table row that names the command (or its parent group, for options all its commands take)
    const found = blocks.some((b) => b.includes(option) && e.names.some((n) => new RegExp(`\\b${n}\\b`).test(b)));
    expect(found, `no paragraph or table row of README.md or docs/ names ${option} beside \`${e.path}\``).toBe(true);
  });

  it('--help marks the options a command cannot run without', () => {
    const all = (c: Command): Command[] => c.commands.flatMap((s) => [s, ...all(s)]);
    const mandatory = all(program).flatMap((c) => c.options.filter((o) => o.mandatory).map((o) => [c, o] as const));
    expect(mandatory.map(([c, o]) => `${c.name()} ${o.long}`)).toEqual(expect.arrayContaining(['send-test --from', 'send-test --to', 'insert --p12', 'list --user']));
    for (const [c, o] of mandatory) {
      // the option's entry: its line and the wrapped lines under it
      const lines = c.helpInformation().split('\n');
      const at = lines.findIndex((l) => l.trimStart().startsWith(`${o.flags} `));
      const end = lines.findIndex((l, i) => i > at && !/^ {6,}\S/.test(l));
      expect(lines.slice(at, end).join(' '), `${c.name()} --help`).toMatch(/\(required\)/);
    }
  });

  it.each(globalOptions)('documents the global option %s in README', (option) => {
    expect(readme).toContain(option);
  });

  it.each(Object.entries(exitCodes).filter(([k]) => k.startsWith('EXIT_')))("README's exit-code table has %s", (_name, code) => {
    expect(readme).toMatch(new RegExp(`^\\| ${String(code)} \\| \\S`, 'm'));
  });
});

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  let inCode = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) inCode = !inCode;
    const m = !inCode && /^#{1,6} (.+)$/.exec(line);
    if (m) out.add(m[1]!.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-'));
  }
  return out;
}

describe("README's and docs/' links", () => {
  const links = [...texts].flatMap(([file, text]) =>
    [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => [file, m[1]!] as const).filter(([, l]) => !/^[a-z]+:/.test(l)),
  );

  it('there are links to check', () => {
    expect(links.length).toBeGreaterThan(30);
  });

  it.each(links)('%s → %s resolves', (file, link) => {
    const [target, anchor] = link.split('#') as [string, string | undefined];
    const resolved = target ? path.resolve(path.dirname(path.join(ROOT, file)), target) : path.join(ROOT, file);
    expect(existsSync(resolved), `${file}: ${link}: no such file`).toBe(true);
    if (anchor && resolved.endsWith('.md')) expect([...anchors(readFileSync(resolved, 'utf8'))], `${file}: ${link}: no such heading`).toContain(anchor);
  });
});
