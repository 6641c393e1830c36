/**
 * Runs the Python originals of programs/ with /usr/bin/python3 for real-programs-2.test.ts:
 * to the end (their printed lines), or as a server that prints `port N` first and its
 * events when it exits. The test PKI is written once as PEM files for Python's ssl module.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { testCerts } from '@loopkit/conformance/support';

export const PYTHON = '/usr/bin/python3';
const HERE = path.dirname(fileURLToPath(import.meta.url));

/** null when Python 3.11+ with asyncio and ssl runs here, else why not. */
export const pythonMissing: string | null = (() => {
  const probe = spawnSync(PYTHON, ['-c', 'import asyncio, ssl, sys; assert sys.version_info >= (3, 11)'], { encoding: 'utf8' });
  return probe.status === 0 ? null : `${PYTHON} with asyncio and ssl (3.11+) is not runnable: ${probe.stderr || probe.error}`;
})();

let certdir: string | null = null;

/** The test PKI as PEM files (ca, server, other, client), removed when the process exits. */
export function certDir(): string {
  if (certdir !== null) return certdir;
  const pem = testCerts();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loopkit-programs-'));
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const files: Record<string, string> = {
    'ca.pem': pem.ca, 'server.pem': pem.serverCert, 'server.key': pem.serverKey,
    'other.pem': pem.otherCert, 'other.key': pem.otherKey, 'client.pem': pem.clientCert, 'client.key': pem.clientKey,
  };
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text, { mode: 0o600 });
  certdir = dir;
  return dir;
}

export interface PythonRun {
  /** The lines printed before the program exited (`port N` left out). */
  lines: Promise<string[]>;
  /** The port a server printed first (rejects when it exits before). */
  port: Promise<number>;
}

/** Starts `programs/<script>` with `args`; killed after `seconds`. */
export function runPython(script: string, args: string[], seconds = 30): PythonRun {
  const child = spawn(PYTHON, [path.join(HERE, script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let portSeen: ((port: number) => void) | null = null;
  const port = new Promise<number>((resolve) => (portSeen = resolve));
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    const match = /^port (\d+)\n/.exec(out);
    if (match !== null && portSeen !== null) {
      portSeen(Number(match[1]));
      portSeen = null;
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const killer = setTimeout(() => child.kill('SIGKILL'), seconds * 1000);
  const lines = new Promise<string[]>((resolve, reject) => {
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      if (code !== 0) return reject(new Error(`${script} ${args.join(' ')} exited ${code ?? signal}: ${err}`));
      resolve(out.replace(/^port \d+\n/, '').split('\n').filter((line) => line !== ''));
    });
  });
  const portOrExit = Promise.race([port, lines.then(() => Promise.reject(new Error(`${script} printed no port`)))]);
  portOrExit.catch(() => {}); // a program run to the end prints no port and nobody asks
  return { lines, port: portOrExit };
}
