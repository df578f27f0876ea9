/**
 * The import graph of src/, read with the TypeScript compiler's parser (no type checking, so it
 * is fast): static `import`/`export … from`, `import x = require()`, dynamic `import('…')` with
 * a string literal, `import('…')` types and `declare module '…'` augmentations. Each import
 * records whether it is type-only (erased at run time).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

export interface Import {
  /** Line of the import in the importing file (1-based). */
  line: number;
  /** As written: '../spool/index.js', 'node:fs'. */
  specifier: string;
  /** The imported file (relative to the repository, 'src/spool/index.ts'); undefined for packages. */
  target: string | undefined;
  /** A relative import that names no file. */
  unresolved: boolean;
  typeOnly: boolean;
}

export interface SourceFile {
  /** Relative to the repository, with forward slashes: 'src/queue/scheduler.ts'. */
  path: string;
  lines: number;
  imports: Import[];
}

const SOURCE = /\.(ts|mts|cts)$/;

/** Every source file under `dir` (e.g. 'src'), relative to `root`. */
export function readSources(root: string, dir = 'src'): SourceFile[] {
  const out: SourceFile[] = [];
  const walk = (rel: string) => {
    for (const e of readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const child = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(child);
      else if (SOURCE.test(e.name) && !e.name.endsWith('.d.ts')) out.push(parseSource(root, child, readFileSync(path.join(root, child), 'utf8')));
    }
  };
  walk(dir);
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

/** Lines as `wc -l` counts them (a last line without its newline still counts). */
export function countLines(text: string): number {
  if (text === '') return 0;
  const newlines = text.split('\n').length - 1;
  return text.endsWith('\n') ? newlines : newlines + 1;
}

export function parseSource(root: string, file: string, text: string): SourceFile {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const imports: Import[] = [];
  const add = (literal: ts.StringLiteralLike, typeOnly: boolean) => {
    const specifier = literal.text;
    const line = sf.getLineAndCharacterOfPosition(literal.getStart(sf)).line + 1;
    if (!specifier.startsWith('.')) {
      imports.push({ line, specifier, target: undefined, unresolved: false, typeOnly });
      return;
    }
    const target = resolve(root, file, specifier);
    imports.push({ line, specifier, target, unresolved: target === undefined, typeOnly });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node.moduleSpecifier, importIsTypeOnly(node));
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.exportClause;
      const allTypes = clause !== undefined && ts.isNamedExports(clause) && clause.elements.length > 0 && clause.elements.every((e) => e.isTypeOnly);
      add(node.moduleSpecifier, node.isTypeOnly || allTypes);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference) && ts.isStringLiteral(node.moduleReference.expression)) {
      add(node.moduleReference.expression, node.isTypeOnly);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = node.arguments[0];
      if (arg && ts.isStringLiteralLike(arg)) add(arg, false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      add(node.argument.literal, true);
    } else if (ts.isModuleDeclaration(node) && ts.isStringLiteral(node.name)) {
      add(node.name, true); // declare module '../errors.js' { … }: an augmentation, types only
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return { path: file, lines: countLines(text), imports };
}

/** `import type {…}`, or `import {type A, type B}` (erased: every name is a type). */
function importIsTypeOnly(node: ts.ImportDeclaration): boolean {
  const clause = node.importClause;
  if (!clause) return false; // import './side-effect.js'
  if (clause.isTypeOnly) return true;
  if (clause.name) return false;
  const bindings = clause.namedBindings;
  return bindings !== undefined && ts.isNamedImports(bindings) && bindings.elements.length > 0 && bindings.elements.every((e) => e.isTypeOnly);
}

/** NodeNext resolution of our own files: './x.js' is './x.ts' in the sources. */
function resolve(root: string, from: string, specifier: string): string | undefined {
  const joined = path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier));
  const candidates = [joined.replace(/\.js$/, '.ts'), joined.replace(/\.mjs$/, '.mts'), joined.replace(/\.cjs$/, '.cts'), joined];
  return candidates.find((c) => SOURCE.test(c) && existsSync(path.join(root, c)));
}
