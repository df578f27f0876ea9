/**
 * The spool's keys on the command line (docs/encryption.md):
 * - `workspace-relay keygen FILE`: a new key (32 random bytes, base64) in a new file, mode 0600;
 *   an existing file is never overwritten. Prints the key id and what to put in the config.
 * - `workspace-relay decrypt FILE`: the plaintext of a file sealed with one of the config's keys
 *   (a dry-run outbox file; a spool file, metadata included) on stdout, for an admin who can read
 *   the key files. Content: written to the audit log first, like `queue show --body`.
 */
import { closeSync, fstatSync, openSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { appendAudit, auditActor } from '../audit/index.js';
import type { Config } from '../config/index.js';
import { loadSpoolKeys, openView, readAtSync, writeKeyFile } from '../crypt/index.js';
import { ConfigError, errorText } from '../errors.js';
import { CliExit, EXIT_CONFIG, EXIT_FAILURE } from './exit-codes.js';

export interface CryptCliDeps {
  loadConfig(): Config;
  stdout(text: string): void;
  stdoutBytes(chunk: Buffer): void;
  env?: Readonly<Record<string, string | undefined>>;
}

export function registerCryptCommands(program: Command, deps: CryptCliDeps): void {
  program
    .command('keygen')
    .description('write a new spool encryption key (32 random bytes, mode 0600) to FILE, for queue.encryption.keyFiles')
    .argument('<file>', 'the key file to create (never overwritten)')
    .action(async (file: string) => {
      let id: string;
      try {
        id = await writeKeyFile(file);
      } catch (err) {
        const exists = (err as NodeJS.ErrnoException).code === 'EEXIST';
        throw new CliExit(EXIT_FAILURE, exists ? `error: ${file} exists: a key file is never overwritten (pick a new name)` : `error: cannot write ${file}: ${errorText(err)}`);
      }
      deps.stdout(
        `wrote key ${id} to ${file} (mode 0600)\n` +
          `put it first under queue.encryption.keyFiles to encrypt new mail with it; keep the older keys listed after it until \`workspace-relay queue rekey\` has run\n` +
          `back the key up somewhere other than the spool's disk: without it the mail it encrypted cannot be read\n`,
      );
    });

  program
    .command('decrypt')
    .description('print the plaintext of a file encrypted with the spool keys (an outbox file); audited')
    .argument('<file>', 'an encrypted outbox or spool file')
    .action(async (file: string) => {
      const config = deps.loadConfig();
      let keys;
      try {
        keys = loadSpoolKeys(config);
      } catch (err) {
        if (err instanceof ConfigError) throw new CliExit(EXIT_CONFIG, `config error: ${err.message}`);
        throw err;
      }
      const auditFile = path.resolve(config.audit.file);
      try {
        await appendAudit(auditFile, { action: 'decrypt', file: path.resolve(file), who: auditActor(deps.env ?? process.env), outcome: 'started' }, new Date());
      } catch (err) {
        throw new CliExit(EXIT_FAILURE, `cannot write the audit log ${auditFile} (${errorText(err)}): nothing is shown`);
      }
      let fd: number;
      try {
        fd = openSync(file, 'r');
      } catch (err) {
        throw new CliExit(EXIT_FAILURE, `error: cannot read ${file}: ${errorText(err)}`);
      }
      try {
        const view = await openView(fstatSync(fd).size, (position, length) => readAtSync(fd, position, length), keys, file);
        for await (const piece of view.pieces(0, view.size)) deps.stdoutBytes(piece);
      } catch (err) {
        throw new CliExit(EXIT_FAILURE, `error: ${errorText(err)}`);
      } finally {
        closeSync(fd);
      }
    });
}
