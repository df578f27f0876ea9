/**
 * Part boundaries (docs/architecture.md): the arrows between parts written down in
 * test/architecture/parts.ts, no import cycle, imports across parts only through a part's
 * index.ts, policy without I/O, no source file over 300 lines. The first block checks src/; the
 * second shows each rule failing on a small made-up tree, so a rule that stopped firing is seen.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseSource, readSources, type SourceFile } from './architecture/graph.js';
import { MAX_LINES, PARTS, type Part } from './architecture/parts.js';
import { checkArrows, checkClassified, checkCycles, checkLength, checkPackages, checkPublicFaces, checkResolved } from './architecture/rules.js';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('architecture of src/', () => {
  const files = readSources(root);

  it('reads the whole tree, with its imports', () => {
    expect(files.length).toBeGreaterThan(100);
    const scheduler = files.find((f) => f.path === 'src/queue/scheduler.ts');
    expect(scheduler?.imports.some((i) => i.target === 'src/spool/index.ts')).toBe(true);
  });

  it('every folder and top-level file of src/ is a part in the table', () => {
    expect(checkClassified(files, PARTS)).toEqual([]);
  });

  it('relative imports name existing files', () => {
    expect(checkResolved(files)).toEqual([]);
  });

  it('imports between parts follow the arrows of the table', () => {
    expect(checkArrows(files, PARTS)).toEqual([]);
  });

  it('policy does no I/O: it imports only the outside modules the table lists', () => {
    expect(checkPackages(files, PARTS)).toEqual([]);
  });

  it('an import into another part goes through its index.ts', () => {
    expect(checkPublicFaces(files)).toEqual([]);
  });

  it('has no import cycle, between parts or between files', () => {
    expect(checkCycles(files)).toEqual([]);
  });

  it(`has no source file over ${MAX_LINES} lines`, () => {
    expect(checkLength(files, MAX_LINES)).toEqual([]);
  });

  it('docs/architecture.md names every part of the table', () => {
    const doc = readFileSync(new URL('../docs/architecture.md', import.meta.url), 'utf8');
    const missing = Object.keys(PARTS).filter((name) => !doc.includes(`\`${name}\``));
    expect(missing, 'add these parts to the table in docs/architecture.md').toEqual([]);
  });
});

describe('the rules fire', () => {
  const tree = (sources: Record<string, string>): SourceFile[] =>
    Object.entries(sources).map(([p, text]) => {
      const f = parseSource(root, p, text);
      // resolve against the made-up tree, not the disk
      for (const i of f.imports) {
        if (!i.specifier.startsWith('.')) continue;
        const dir = p.split('/').slice(0, -1);
        for (const seg of i.specifier.replace(/\.js$/, '.ts').split('/')) {
          if (seg === '..') dir.pop();
          else if (seg !== '.') dir.push(seg);
        }
        const target = dir.join('/');
        i.target = target in sources ? target : undefined;
        i.unresolved = i.target === undefined;
      }
      return f;
    });
  const parts: Record<string, Part> = {
    errors: { layer: 'leaf', what: 'errors', uses: [] },
    smtp: { layer: 'part', what: 'listener', uses: ['spool'] },
    spool: { layer: 'part', what: 'spool', uses: [] },
    policy: { layer: 'part', what: 'pure', uses: [], typesFrom: ['spool'], packages: ['nodemailer/lib/addressparser'] },
    app: { layer: 'top', what: 'root', uses: [] },
  };
  const base = {
    'src/errors.ts': 'export class E {}\n',
    'src/smtp/index.ts': "export * from './listener.js';\n",
    'src/smtp/listener.ts': "import { Spool } from '../spool/index.js';\nexport const l = Spool;\n",
    'src/spool/index.ts': "export * from './spool.js';\n",
    'src/spool/spool.ts': "import { E } from '../errors.js';\nexport class Spool extends E {}\nexport type Meta = { id: string };\n",
    'src/policy/index.ts': "import type { Meta } from '../spool/index.js';\nimport addressparser from 'nodemailer/lib/addressparser';\nexport const p = (m: Meta) => addressparser(m.id);\n",
    'src/app.ts': "import { l } from './smtp/index.js';\nexport const app = l;\n",
  };

  it('the made-up tree passes', () => {
    const files = tree(base);
    expect([checkClassified, checkArrows, checkPackages].flatMap((c) => c(files, parts))).toEqual([]);
    expect([...checkPublicFaces(files), ...checkCycles(files), ...checkResolved(files), ...checkLength(files, 3)]).toEqual([]);
  });

  it('an arrow the table does not allow: spool imports smtp; policy imports a value of spool', () => {
    const files = tree({
      ...base,
      'src/spool/spool.ts': "import { l } from '../smtp/index.js';\nexport class Spool {}\nexport const x = l;\n",
      'src/policy/index.ts': "import { Spool } from '../spool/index.js';\nexport const p = Spool;\n",
    });
    expect(checkArrows(files, parts)).toEqual([
      expect.stringMatching(/^src\/spool\/spool\.ts:1 imports '\.\.\/smtp\/index\.js': the arrow spool → smtp is not allowed: spool \(spool\) may use the leaves and no other part\. Fix: move/),
      expect.stringMatching(/^src\/policy\/index\.ts:1 imports '\.\.\/spool\/index\.js': the arrow policy → spool is not allowed: policy may import only types from spool .*import type/),
    ]);
  });

  it('a part or file not in the table, and a folder without index.ts', () => {
    const files = tree({ ...base, 'src/metrics/registry.ts': 'export const r = 1;\n', 'src/util.ts': 'export const u = 1;\n' });
    expect(checkClassified(files, parts)).toEqual([
      expect.stringMatching(/^src\/metrics\/ is not in the parts table \(test\/architecture\/parts\.ts\): add a row 'metrics'/),
      expect.stringMatching(/^src\/util\.ts is not in the parts table .*add a row 'util'/),
      expect.stringMatching(/^src\/metrics\/ has no index\.ts/),
    ]);
  });

  it('I/O in policy', () => {
    const files = tree({ ...base, 'src/policy/index.ts': "import { readFileSync } from 'node:fs';\nexport const p = readFileSync;\n" });
    expect(checkPackages(files, parts)).toEqual([expect.stringMatching(/^src\/policy\/index\.ts:1 imports 'node:fs': policy \(pure\) does no I\/O.*Fix: let the caller pass in/)]);
  });

  it('an import past a part’s index.ts', () => {
    const files = tree({ ...base, 'src/smtp/listener.ts': "import { Spool } from '../spool/spool.js';\nexport const l = Spool;\n" });
    expect(checkPublicFaces(files)).toEqual([
      "src/smtp/listener.ts:1 imports '../spool/spool.js': it reaches into spool past its public face src/spool/index.ts. Fix: import from '../spool/index.js' and, if it is not there yet, export what you need from src/spool/index.ts.",
    ]);
  });

  it('cycles between parts and between files, with their path', () => {
    const files = tree({ ...base, 'src/spool/spool.ts': "import { l } from '../smtp/index.js';\nexport class Spool {}\nexport const x = l;\n" });
    expect(checkCycles(files)).toEqual([
      expect.stringMatching(/^import cycle between parts: smtp → spool → smtp\. Fix:/),
      expect.stringMatching(/^import cycle between files: src\/smtp\/index\.ts → src\/smtp\/listener\.ts → src\/spool\/index\.ts → src\/spool\/spool\.ts → src\/smtp\/index\.ts\. Fix:/),
    ]);
  });

  it('a file over the limit, and an import of a missing file', () => {
    const files = tree({ ...base, 'src/smtp/listener.ts': "import { Spool } from '../spool/spol.js';\nexport const l = Spool;\nexport const m = 1;\nexport const n = 2;\n" });
    expect(checkLength(files, 3)).toEqual(['src/smtp/listener.ts has 4 lines, over 3: split it along a seam (one concept per file), e.g. move a self-contained group of functions into a file of its own.']);
    expect(checkResolved(files)).toEqual([expect.stringMatching(/^src\/smtp\/listener\.ts:1 imports '\.\.\/spool\/spol\.js': no such file/)]);
  });
});
