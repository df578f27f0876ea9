/** This package's version (package.json), for `--version` and `status`. */
import { readFileSync } from 'node:fs';

/** src/version.ts (checkout) and dist/version.js (installed) both sit one level below package.json. */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
