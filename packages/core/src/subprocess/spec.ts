/**
 * What a subprocess call asks for, checked once for every loop: PIPE, DEVNULL and STDOUT,
 * the options of subprocessExec/Shell and createSubprocessExec/Shell, and the spec a
 * backend starts the child from (argv, env as `KEY=value`, cwd, each stdio's fate).
 */
import { checkOptions, describe } from '../validate.js';

/** A new pipe between this process and the child (subprocess.PIPE). */
export const PIPE = -1;
/**
 * Marks STDOUT's type (only a type: STDOUT is the number -2, as subprocess.STDOUT), so that
 * stdin and stdout, typed as numbers without it, refuse STDOUT when compiled.
 */
declare const stderrOnly: unique symbol;
/** The child's stderr goes where its stdout goes (subprocess.STDOUT; stderr only). */
export const STDOUT = -2 as -2 & { readonly [stderrOnly]: 'STDOUT' };
/** /dev/null (subprocess.DEVNULL). */
export const DEVNULL = -3;

/** PIPE, DEVNULL, null (the parent's own) or a file descriptor: what stdin and stdout take (STDOUT is refused, here by type). */
export type StdioOption = (number & { readonly [stderrOnly]?: never }) | null;
/** What stderr takes: a StdioOption, or STDOUT. */
export type StderrOption = StdioOption | typeof STDOUT;

/** The options of subprocessExec/Shell: each stdio stream's fate, cwd and env (asyncio's subprocess_exec keywords). */
export interface SubprocessOptions {
  stdin?: StdioOption;
  stdout?: StdioOption;
  stderr?: StderrOption;
  /** The child's working directory (default: this process's). */
  cwd?: string | null;
  /** The child's whole environment (default: this process's). */
  env?: Record<string, string> | null;
}

/** A child's stdin, stdout or stderr as a backend sees it. */
export type StdioSpec = 'pipe' | 'devnull' | 'inherit' | 'stdout' | number;

/** A checked subprocess request, as a backend starts the child from it: program, argv, env, cwd and stdio. */
export interface SubprocessSpec {
  /** The program: a path, or a name looked up in PATH. */
  file: string;
  /** The whole argv, argv[0] included. */
  argv: string[];
  /** The environment as `KEY=value` strings; null: this process's. */
  env: string[] | null;
  /** The same environment as an object (for node:child_process); null: this process's. */
  envObject: Record<string, string> | null;
  cwd: string | null;
  stdio: [StdioSpec, StdioSpec, StdioSpec];
  /** Windows: hand argv to the program as written, unquoted (cmd.exe's `/s /c "..."`), as Node's `shell` option does. */
  verbatim: boolean;
}

export const SUBPROCESS_OPTIONS = ['stdin', 'stdout', 'stderr', 'cwd', 'env'] as const;
const NAMES = ['stdin', 'stdout', 'stderr'] as const;

function stdioSpec(value: unknown, i: 0 | 1 | 2): StdioSpec {
  const name = NAMES[i];
  if (value === undefined || value === null) return 'inherit';
  if (value === PIPE) return 'pipe';
  if (value === DEVNULL) return 'devnull';
  if (value === STDOUT) {
    if (i !== 2) throw new TypeError(`${name} cannot be STDOUT: only stderr can go where stdout goes`);
    return 'stdout';
  }
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  const allowed = i === 2 ? 'PIPE, DEVNULL, STDOUT, null or a file descriptor' : 'PIPE, DEVNULL, null or a file descriptor';
  throw new TypeError(`${name} must be ${allowed}, got ${describe(value)}`);
}

function envSpec(value: unknown): [string[] | null, Record<string, string> | null] {
  if (value === undefined || value === null) return [null, null];
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`env must be an object of strings, got ${describe(value)}`);
  }
  const list: string[] = [];
  const copy: Record<string, string> = {};
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new TypeError(`env.${key} must be a string, got ${describe(v)}`);
    if (key === '' || key.includes('=') || key.includes('\0') || v.includes('\0')) {
      throw new TypeError(`env has an invalid entry: ${JSON.stringify(key)}`);
    }
    list.push(`${key}=${v}`);
    copy[key] = v;
  }
  return [list, copy];
}

function checkString(value: unknown, name: string): string {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string, got ${describe(value)}`);
  if (value.includes('\0')) throw new TypeError(`${name} must not contain NUL bytes`);
  return value;
}

/**
 * The spec for `argv` and the options, checked: an unknown key, a wrong type or STDOUT on
 * stdin/stdout throws TypeError naming the option. `defaults` is PIPE for the loop methods
 * (asyncio's subprocess_exec), null for createSubprocess* (inherit).
 */
export function makeSpec(
  file: string,
  argv: string[],
  options: SubprocessOptions | null | undefined,
  where: string,
  known: readonly string[],
  defaults: StdioOption,
): SubprocessSpec {
  const opts = checkOptions(options, known, where);
  const pick = (v: StderrOption | undefined): unknown => (v === undefined ? defaults : v);
  let cwd: string | null = null;
  if (opts.cwd !== undefined && opts.cwd !== null) {
    cwd = checkString(opts.cwd, 'cwd');
  }
  const [env, envObject] = envSpec(opts.env);
  return {
    file,
    argv,
    env,
    envObject,
    cwd,
    stdio: [stdioSpec(pick(opts.stdin), 0), stdioSpec(pick(opts.stdout), 1), stdioSpec(pick(opts.stderr), 2)],
    verbatim: false,
  };
}

/** argv for an exec: `program` (a non-empty string) then `args` (an array of strings). */
export function execArgv(program: unknown, args: unknown): [string, string[]] {
  const file = checkString(program, 'program');
  if (file === '') throw new TypeError('program must be a non-empty string');
  if (args === undefined || args === null) return [file, [file]];
  if (!Array.isArray(args)) throw new TypeError(`args must be an array of strings, got ${describe(args)}`);
  return [file, [file, ...args.map((a, i) => checkString(a, `args[${i}]`))]];
}

/** argv for a shell command: /bin/sh -c `cmd`; on Windows %ComSpec% /d /s /c `cmd` (as asyncio and Node do there). */
export function shellArgv(cmd: unknown): [string, string[]] {
  const command = checkString(cmd, 'cmd');
  if (process.platform === 'win32') {
    const comspec = process.env.ComSpec ?? 'cmd.exe';
    return [comspec, [comspec, '/d', '/s', '/c', `"${command}"`]];
  }
  return ['/bin/sh', ['/bin/sh', '-c', command]];
}
