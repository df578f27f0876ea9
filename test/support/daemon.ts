/** Runs the real daemon (`workspace-relay serve`) as a child process, as systemd would. */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { ConfigInput } from '../../src/config/index.js';

const CLI = path.resolve(import.meta.dirname, '../../src/cli/index.ts');

export interface Daemon {
  child: ChildProcess;
  port: number;
  lines: Record<string, unknown>[];
  exited: Promise<number | null>;
}

export function writeConfigFile(dir: string, doc: ConfigInput, name = 'config.yaml'): string {
  const file = path.join(dir, name);
  writeFileSync(file, YAML.stringify(doc), { mode: 0o600 });
  return file;
}

/** Run a CLI command to completion; returns exit code and output. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Start `serve` with this config file; resolves once the first listener is up. `onLine` sees each
 * log line as it comes (e.g. to send a signal while the daemon is still starting).
 */
export function startDaemon(configFile: string, onLine?: (line: Record<string, unknown>, child: ChildProcess) => void): Promise<Daemon> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, '--config', configFile, 'serve'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let buf = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          const json = JSON.parse(line) as Record<string, unknown>;
          lines.push(json);
          onLine?.(json, child);
          if (json.event === 'listener.started') resolve({ child, port: Number(json.port), lines, exited });
        } catch {
          /* not JSON */
        }
      }
    });
    void exited.then((code) => reject(new Error(`daemon exited with ${code} before listening: ${stderr}`)));
  });
}
