/**
 * The architecture rules, as pure functions of the import graph (graph.ts) and the parts table
 * (parts.ts). Each returns its violations as messages that name the file, the import, the rule
 * and the fix.
 */
import type { Import, SourceFile } from './graph.js';
import type { Part } from './parts.js';

type Parts = Readonly<Record<string, Part>>;
const TABLE = 'test/architecture/parts.ts';

/** 'src/queue/pacer.ts' → 'queue'; 'src/app.ts' → 'app'. */
export function partOf(file: string): string {
  const rest = file.replace(/^src\//, '').split('/');
  return rest.length > 1 ? rest[0]! : rest[0]!.replace(/\.(ts|mts|cts)$/, '');
}

/** A folder part's public face; undefined for a part that is one file. */
function faceOf(file: string): string | undefined {
  const rest = file.replace(/^src\//, '').split('/');
  return rest.length > 1 ? `src/${rest[0]}/index.ts` : undefined;
}

const at = (f: SourceFile, i: Import) => `${f.path}:${i.line} imports '${i.specifier}'`;

/** Every folder and top-level file of src/ is a row of the table, and every row exists. */
export function checkClassified(files: readonly SourceFile[], parts: Parts): string[] {
  const found = new Map<string, string>();
  for (const f of files) found.set(partOf(f.path), faceOf(f.path) ? `src/${partOf(f.path)}/` : f.path);
  const out: string[] = [];
  for (const [name, where] of found) {
    if (!parts[name]) {
      out.push(`${where} is not in the parts table (${TABLE}): add a row '${name}' with its layer (leaf, part or top) and the parts it uses, and describe it in docs/architecture.md.`);
    }
  }
  for (const name of Object.keys(parts)) {
    if (!found.has(name)) out.push(`the parts table (${TABLE}) has a row '${name}' but src/ has no such folder or file: remove the row (and its mention in docs/architecture.md).`);
  }
  for (const where of found.values()) {
    if (where.endsWith('/') && !files.some((f) => f.path === `${where}index.ts`)) {
      out.push(`${where} has no index.ts: every folder part has an index.ts as its public face; add one exporting what other parts use.`);
    }
  }
  return out;
}

/** Each import between two parts follows an arrow of the table. */
export function checkArrows(files: readonly SourceFile[], parts: Parts): string[] {
  const out: string[] = [];
  for (const f of files) {
    const from = partOf(f.path);
    const p = parts[from];
    if (!p) continue; // reported by checkClassified
    for (const i of f.imports) {
      if (!i.target) continue;
      const to = partOf(i.target);
      const q = parts[to];
      if (to === from || !q) continue;
      const verdict = arrowVerdict(from, p, to, q, i.typeOnly);
      if (verdict) out.push(`${at(f, i)}: the arrow ${from} → ${to} is not allowed: ${verdict}`);
    }
  }
  return out;
}

function arrowVerdict(from: string, p: Part, to: string, q: Part, typeOnly: boolean): string | undefined {
  const moveFix = `Fix: move the code to the part that owns it, or let app.ts pass it in; if the design really changed, add the arrow to ${TABLE} and docs/architecture.md.`;
  if (q.layer === 'top') {
    if (p.uses.includes(to)) return undefined;
    return `${to} (${q.what}) is the top: nothing imports it. Fix: move what you need out of ${to} into the part that owns it.`;
  }
  if (p.layer === 'top') return undefined;
  if (p.layer === 'leaf') {
    if (p.uses.includes(to)) return undefined;
    const leaves = p.uses.length ? p.uses.join(', ') : 'no other part';
    return `${from} is a leaf (${p.what}); it may import only ${leaves}, and ${to} (${q.what}) is not among them. ${moveFix}`;
  }
  if (q.layer === 'leaf' || p.uses.includes(to)) return undefined;
  if (p.typesFrom?.includes(to)) {
    if (typeOnly) return undefined;
    return `${from} may import only types from ${to} (${q.what}). Fix: use \`import type\`, or move the value to ${from} or a leaf.`;
  }
  const may = [...p.uses, ...(p.typesFrom ?? []).map((t) => `types of ${t}`)];
  return `${from} (${p.what}) may use the leaves and ${may.length ? may.join(', ') : 'no other part'}. ${moveFix}`;
}

/** A part with a `packages` list (policy: no I/O) imports no other outside module. */
export function checkPackages(files: readonly SourceFile[], parts: Parts): string[] {
  const out: string[] = [];
  for (const f of files) {
    const name = partOf(f.path);
    const allowed = parts[name]?.packages;
    if (!allowed) continue;
    for (const i of f.imports) {
      if (i.target || i.unresolved) continue;
      if (allowed.some((a) => i.specifier === a || i.specifier.startsWith(`${a}/`))) continue;
      out.push(
        `${at(f, i)}: ${name} (${parts[name]!.what}) does no I/O, so it imports only ${allowed.join(', ') || 'its own files and the leaves'} from outside (${TABLE}). ` +
          `Fix: let the caller pass in what needs the outside world (a clock, an id generator, file contents), or do that work in the part that calls ${name}.`,
      );
    }
  }
  return out;
}

/** An import into another folder part goes through its index.ts. */
export function checkPublicFaces(files: readonly SourceFile[]): string[] {
  const out: string[] = [];
  for (const f of files) {
    for (const i of f.imports) {
      if (!i.target || partOf(i.target) === partOf(f.path)) continue;
      const face = faceOf(i.target);
      if (face && i.target !== face) {
        const to = partOf(i.target);
        out.push(
          `${at(f, i)}: it reaches into ${to} past its public face ${face}. ` +
            `Fix: import from '${relativeSpecifier(f.path, face)}' and, if it is not there yet, export what you need from ${face}.`,
        );
      }
    }
  }
  return out;
}

function relativeSpecifier(from: string, to: string): string {
  const fromDir = from.split('/').slice(0, -1);
  const toParts = to.replace(/\.ts$/, '.js').split('/');
  let common = 0;
  while (common < fromDir.length && fromDir[common] === toParts[common]) common++;
  const up = fromDir.length - common;
  return `${up ? '../'.repeat(up) : './'}${toParts.slice(common).join('/')}`;
}

/** Relative imports name a file that exists. */
export function checkResolved(files: readonly SourceFile[]): string[] {
  return files.flatMap((f) => f.imports.filter((i) => i.unresolved).map((i) => `${at(f, i)}: no such file. Fix: a relative import names the file with .js (NodeNext), e.g. './x.js' for ./x.ts.`));
}

/** No file over the limit. */
export function checkLength(files: readonly SourceFile[], max: number): string[] {
  return files
    .filter((f) => f.lines > max)
    .map((f) => `${f.path} has ${f.lines} lines, over ${max}: split it along a seam (one concept per file), e.g. move a self-contained group of functions into a file of its own.`);
}

/** No cycle between files, nor between parts; each cycle is reported once with its path. */
export function checkCycles(files: readonly SourceFile[]): string[] {
  const fileEdges = new Map<string, Set<string>>();
  const partEdges = new Map<string, Set<string>>();
  const link = (m: Map<string, Set<string>>, a: string, b: string) => {
    if (!m.has(a)) m.set(a, new Set());
    if (!m.has(b)) m.set(b, new Set());
    m.get(a)!.add(b);
  };
  for (const f of files) {
    link(fileEdges, f.path, f.path);
    fileEdges.get(f.path)!.delete(f.path);
    for (const i of f.imports) {
      if (!i.target) continue;
      link(fileEdges, f.path, i.target);
      if (partOf(i.target) !== partOf(f.path)) link(partEdges, partOf(f.path), partOf(i.target));
    }
  }
  const fix = 'Fix: move what both sides need into one of them (or a third file / a lower part) so the arrows point one way, or pass it in as an argument.';
  return [
    ...cyclesOf(partEdges).map((c) => `import cycle between parts: ${c.join(' → ')}. ${fix}`),
    ...cyclesOf(fileEdges).map((c) => `import cycle between files: ${c.join(' → ')}. ${fix}`),
  ];
}

/** The shortest cycle (first node repeated at the end) of each strongly connected component (Tarjan). */
export function cyclesOf(edges: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const strong = (v: string) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1 || edges.get(v)?.has(v)) components.push(c);
    }
  };
  for (const v of [...edges.keys()].sort()) if (!index.has(v)) strong(v);
  return components.map((c) => {
    const members = new Set(c);
    const cycles = [...members].sort().map((start) => shortestCycleThrough(edges, members, start));
    return cycles.reduce((best, next) => (next.length < best.length ? next : best));
  });
}

/** The shortest cycle through `start`, staying inside the component. */
function shortestCycleThrough(edges: ReadonlyMap<string, ReadonlySet<string>>, members: ReadonlySet<string>, start: string): string[] {
  const prev = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const v = queue.shift()!;
    for (const w of [...(edges.get(v) ?? [])].sort()) {
      if (!members.has(w)) continue;
      if (w === start) {
        const path = [v];
        while (path[0] !== start) path.unshift(prev.get(path[0]!)!);
        return [...path, start];
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}
