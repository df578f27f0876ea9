/** include: a practice per file; names and domains unique across files; a broken file is its practice's alone. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { ConfigError } from '../src/errors.js';
import { EXAMPLE_CONFIG_PATH, loadConfig } from '../src/config/index.js';
import { expandIncludes } from '../src/config/include.js';
import { removeDir, tempDir } from './support/harness.js';

let dir: string;
const write = (rel: string, doc: unknown) => {
  const file = path.join(dir, rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, typeof doc === 'string' ? doc : YAML.stringify(doc));
  return file;
};
const practice = (name: string, domain: string, extra: object = {}) => ({
  workspaces: [{ name, domains: [domain], transport: 'outbox', outbox: { dir: `./out-${name}` } }],
  ...extra,
});
const main = (extra: object = {}) => write('config.yaml', { include: ['conf.d/*.yaml'], listen: [], queue: { dir: './spool' }, ...extra });

function configErrorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

beforeEach(() => {
  dir = tempDir('wr-include-');
});
afterEach(() => removeDir(dir));

describe('include: practice files', () => {
  it('merges each file\'s workspaces, listeners and devices; its relative paths are relative to it', () => {
    write('conf.d/a.yaml', practice('alpha', 'alpha.example', { listen: [{ port: 0 }] }));
    write('conf.d/b.yaml', practice('beta', 'beta.example'));
    write('conf.d/.b.yaml.swp', 'not: [yaml');
    write('conf.d/notes.txt', 'not a practice');
    const c = loadConfig(main());
    expect(c.workspaces.map((w) => w.name)).toEqual(['alpha', 'beta']);
    expect(c.workspaces[0]!.outbox!.dir).toBe(path.join(dir, 'conf.d', 'out-alpha'));
    // a listener in a practice file of one workspace serves that workspace, never all of them
    expect(c.listen).toHaveLength(1);
    expect(c.listen[0]!.workspace).toBe('alpha');
    expect(c.practices!.map((p) => [path.basename(p.file), p.problem])).toEqual([
      ['a.yaml', null],
      ['b.yaml', null],
    ]);
  });

  it('a domain (or name) in two files is a config error naming both files', () => {
    const a = write('conf.d/a.yaml', practice('alpha', 'shared.example'));
    const b = write('conf.d/b.yaml', practice('beta', 'shared.example'));
    const err = configErrorOf(() => loadConfig(main()));
    expect(err.message).toContain('domain shared.example');
    expect(err.message).toContain(a);
    expect(err.message).toContain(b);
    write('conf.d/b.yaml', practice('alpha', 'beta.example'));
    expect(configErrorOf(() => loadConfig(main())).message).toMatch(/workspace name "alpha" is in both .*a\.yaml and .*b\.yaml/);
  });

  it('at start, a broken file disables its practice (file and key named); the others load', () => {
    write('conf.d/a.yaml', practice('alpha', 'alpha.example'));
    const bad = write('conf.d/b.yaml', { workspaces: [{ name: 'beta', domains: ['beta.example'], transport: 'gmail-api' }] });
    write('conf.d/c.yaml', 'workspaces: [ { name: gamma');
    const c = loadConfig(main());
    expect(c.workspaces.map((w) => w.name)).toEqual(['alpha']);
    const [, b, g] = c.practices!;
    expect(b!.problem).toContain(`${bad}: workspaces[0].gmailApi`);
    expect(g!.problem).toMatch(/c\.yaml is not valid YAML/);
    expect(b!.workspaces).toEqual([]);
  });

  it('at a reload, a broken file keeps its practice\'s running settings and says why; the others apply', () => {
    write('conf.d/a.yaml', practice('alpha', 'alpha.example'));
    write('conf.d/b.yaml', practice('beta', 'beta.example'));
    const file = main();
    const running = loadConfig(file);
    write('conf.d/a.yaml', practice('alpha', 'alpha.example', { workspaces: [{ name: 'alpha', domains: ['alpha.example', 'alpha2.example'], transport: 'outbox', outbox: { dir: './o' } }] }));
    write('conf.d/b.yaml', 'workspaces: [ broken');
    const next = loadConfig(file, running);
    expect(next.workspaces.find((w) => w.name === 'alpha')!.domains).toEqual(['alpha.example', 'alpha2.example']);
    const beta = next.practices!.find((p) => p.file.endsWith('b.yaml'))!;
    expect(beta.problem).toBeNull();
    expect(beta.refused).toMatch(/not valid YAML/);
    expect(next.workspaces.find((w) => w.name === 'beta')).toBe(running.workspaces.find((w) => w.name === 'beta'));
    // a changed file that now claims another practice's domain is the one refused
    write('conf.d/b.yaml', practice('beta', 'alpha.example'));
    const clashed = loadConfig(file, next);
    expect(clashed.practices!.find((p) => p.file.endsWith('b.yaml'))!.refused).toMatch(/domain alpha\.example is in both .*a\.yaml and .*b\.yaml/);
    expect(clashed.workspaces.find((w) => w.name === 'beta')!.domains).toEqual(['beta.example']);
  });

  it('at a reload, a file left alone keeps the entries it was read with (not parsed again); a changed one is read anew', () => {
    write('conf.d/a.yaml', practice('alpha', 'alpha.example'));
    write('conf.d/b.yaml', practice('beta', 'beta.example'));
    const file = main();
    const running = loadConfig(file);
    write('conf.d/b.yaml', practice('beta', 'beta2.example'));
    const next = loadConfig(file, running);
    expect(next.workspaces.find((w) => w.name === 'alpha')).toBe(running.workspaces.find((w) => w.name === 'alpha'));
    expect(next.practices!.find((p) => p.file.endsWith('a.yaml'))!.problem).toBeNull();
    expect(next.workspaces.find((w) => w.name === 'beta')!.domains).toEqual(['beta2.example']);
    // rewritten with the same text: still the same entries; with other text: read anew
    write('conf.d/a.yaml', practice('alpha', 'alpha.example'));
    expect(loadConfig(file, next).workspaces.find((w) => w.name === 'alpha')).toBe(running.workspaces.find((w) => w.name === 'alpha'));
    write('conf.d/a.yaml', practice('alpha', 'alpha3.example'));
    expect(loadConfig(file, next).workspaces.find((w) => w.name === 'alpha')!.domains).toEqual(['alpha3.example']);
  });

  it('globs only in the file name; a missing directory or file is named', () => {
    expect(configErrorOf(() => expandIncludes(['*/x.yaml'], dir)).message).toMatch(/^include\[0\]: .*only be used in the file name/);
    expect(configErrorOf(() => expandIncludes(['nope/*.yaml'], dir)).message).toMatch(/^include\[0\]: cannot read the directory/);
    expect(configErrorOf(() => expandIncludes(['x.yaml', 'y.yaml'], dir)).message).toMatch(/^include\[0\]: .*x\.yaml is not a readable file/);
    write('p/a1.yaml', {});
    write('p/a22.yaml', {});
    expect(expandIncludes(['p/a?.yaml', 'p/a1.yaml'], dir).map((f) => path.basename(f))).toEqual(['a1.yaml']);
  });
});

describe('the shipped practice file example', () => {
  it('loads as a practice file (config/conf.d/northside.yaml.example)', () => {
    const example = path.join(path.dirname(EXAMPLE_CONFIG_PATH), 'conf.d', 'northside.yaml.example');
    const c = loadConfig(main({ include: [example] }));
    expect(c.practices![0]!.problem).toBeNull();
    expect(c.workspaces[0]).toMatchObject({ name: 'northside', limits: { queued: 5000, acceptedPerHour: 2000 } });
    expect(c.listen[0]!.workspace).toBe('northside');
  });
});
