/**
 * Child processes and pipe I/O over the native calls (native/spawn.c): what a readiness
 * loop needs to run a child with non-blocking pipes and learn of its exit without polling.
 *
 * - `spawnChild(spec)` starts the program (PATH searched, as execvp: the child's own PATH
 *   when `env` is given) with each of its
 *   stdin/stdout/stderr a new pipe, /dev/null, the parent's own, an fd of the caller's, or
 *   (stderr) the child's stdout. The parent's ends come back non-blocking and close-on-exec.
 *   A program that cannot be run (ENOENT, EACCES, a missing cwd) throws the Node-style error
 *   and leaves nothing open or running.
 * - `pidfdOpen(pid)`: an fd that polls readable once the child exited (Linux >= 5.3); null
 *   where the kernel has none (then watch SIGCHLD). Close it with `closeFd`.
 * - `reapChild(pid, block)`: the exit code (minus the signal number for a signal death), or
 *   null while it runs. Only this pid is ever waited for.
 * - `pipeRead`/`pipeWrite`/`pipeWritev`: the hot path, `>= 0` or `-errno` as the sockets' try* calls.
 */
import { accessSync, fsConstants, statSync } from './builtins.js';
import { native } from './native.js';
import { checkFd, checkInt, errnoError } from './errors.js';

/** A child's stdin, stdout or stderr: 'pipe', 'devnull', 'inherit', 'stdout' (stderr only) or an fd. */
export type StdioSpec = 'pipe' | 'devnull' | 'inherit' | 'stdout' | number;

/** What `spawnChild()` runs: program, argv, environment, working directory and the three stdio specs. */
export interface SpawnSpec {
  /** The program: a path, or a name looked up in PATH. */
  file: string;
  /** The whole argv, argv[0] included. */
  argv: readonly string[];
  /** `KEY=value` strings; null: this process's environment. */
  env?: readonly string[] | null;
  cwd?: string | null;
  stdio: readonly [StdioSpec, StdioSpec, StdioSpec];
}

/** A started child as `spawnChild()` returns it: its pid and the parent's pipe ends. */
export interface SpawnedChild {
  pid: number;
  /** The parent's end of each pipe (stdin: write end), null where the spec is not 'pipe'. */
  stdin: number | null;
  stdout: number | null;
  stderr: number | null;
}

const STDIO_CODES: Record<string, number> = { pipe: -1, stdout: -2, devnull: -3, inherit: -4 };
const ENOSYS = 38;
const scratch = new Int32Array(1);

function stdioCode(spec: StdioSpec, i: number): number {
  const names = ['stdin', 'stdout', 'stderr'];
  if (typeof spec === 'number') {
    if (!Number.isInteger(spec) || spec < 0) throw new TypeError(`${names[i]} must be a file descriptor >= 0, got ${spec}`);
    return spec;
  }
  const code = STDIO_CODES[spec];
  if (code === undefined || (spec === 'stdout' && i !== 2)) {
    throw new TypeError(`${names[i]} must be 'pipe', 'devnull', 'inherit'${i === 2 ? ", 'stdout'" : ''} or an fd, got ${String(spec)}`);
  }
  return code;
}

/**
 * The program a bare name names when the child gets its own environment: the PATH of that
 * environment is searched (as Python's and Node's spawns do), not ours, which is all
 * posix_spawnp knows. The first executable regular file wins; else the first match at all
 * (posix_spawn then fails with EACCES), else the name unchanged (ENOENT follows).
 */
function resolveFile(file: string, env: readonly string[] | null | undefined): string {
  if (file.includes('/') || !env) return file;
  const entry = env.find((e) => e.startsWith('PATH='));
  if (entry === undefined) return file;
  let found: string | null = null;
  for (const dir of entry.slice(5).split(':')) {
    const candidate = `${dir === '' ? '.' : dir}/${file}`;
    try {
      if (!statSync(candidate).isFile()) continue;
    } catch {
      continue;
    }
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      found ??= candidate;
    }
  }
  return found ?? file;
}

/** Start a child (see the module comment). */
export function spawnChild(spec: SpawnSpec): SpawnedChild {
  if (typeof spec.file !== 'string' || spec.file === '') throw new TypeError('file must be a non-empty string');
  const stdio = Int32Array.from(spec.stdio.map(stdioCode));
  const out = new Int32Array(3);
  const file = resolveFile(spec.file, spec.env);
  const r = native().spawn(file, [...spec.argv], spec.env ? [...spec.env] : null, spec.cwd ?? null, stdio, out);
  if (r < 0) {
    const err = errnoError(r, `spawn ${spec.file}`);
    Object.assign(err, { path: spec.file, spawnargs: spec.argv.slice(1) });
    throw err;
  }
  const end = (fd: number): number | null => (fd >= 0 ? fd : null);
  return { pid: r, stdin: end(out[0]!), stdout: end(out[1]!), stderr: end(out[2]!) };
}

/** A pidfd for `pid`, or null where pidfds do not exist (watch SIGCHLD instead). */
export function pidfdOpen(pid: number): number | null {
  checkInt(pid, 'pid');
  const r = native().pidfdOpen(pid);
  if (r >= 0) return r;
  if (r === -ENOSYS) return null;
  throw errnoError(r, 'pidfd_open');
}

/**
 * Reap `pid`: its exit code (minus the signal number after a signal death), or null while
 * it still runs (`block` false). Throws ECHILD for a pid that is not an unreaped child.
 */
export function reapChild(pid: number, block = false): number | null {
  checkInt(pid, 'pid');
  const r = native().reap(pid, block ? 1 : 0, scratch);
  if (r < 0) throw errnoError(r, 'waitpid');
  return r === 1 ? scratch[0]! : null;
}

/** read(2) into `buf[offset, offset + length)`: bytes read (0 at EOF) or -errno (an ArrayBuffer's bytes without a view's lookup, as Socket.tryRecvInto). */
export function pipeRead(fd: number, buf: ArrayBufferView | ArrayBuffer, offset = 0, length = buf.byteLength - offset): number {
  return native().read(fd, buf, offset, length);
}

/** write(2) of `buf`: bytes written or -errno; `pipeWritev` of one buffer, cheaper to call. */
export function pipeWrite(fd: number, buf: ArrayBufferView): number {
  return native().write(fd, buf);
}

/** writev(2) of `bufs` in order: bytes written or -errno (-EPIPE once the reader is gone). */
export function pipeWritev(fd: number, bufs: readonly ArrayBufferView[]): number {
  return native().writev(fd, bufs);
}

/** Close an fd this binding made (a pipe end, a pidfd): PollSets forget it first. */
export function closeFd(fd: number): void {
  checkFd(fd);
  native().close(fd);
}


/** Make `fd` non-blocking (a pipe given to a readiness transport). Throws the OS error. */
export function setNonblocking(fd: number): void {
  checkFd(fd);
  const r = native().setNonblocking(fd);
  if (r < 0) throw errnoError(r, 'fcntl');
}
