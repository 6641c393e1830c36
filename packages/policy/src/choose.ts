/**
 * Which backend a new loop gets. `chooseBackend` is the whole decision, one branch per
 * case with its reason (Twisted's internet/default.py is the model); `selectBackend` adds
 * the LOOPKIT_BACKEND override, read each time a loop is made, and checks it.
 */
import { RuntimeError } from '@loopkit/core';
import type { Backend, BackendInfo, BackendRegistry } from './registry.js';

/** Which backend a new loop gets here, and why (shown by `loopkit info`). */
export interface BackendChoice {
  name: string;
  reason: string;
}

/** The automatic choice among `backends` on `platform`: a registered backend with priority wins; else the selector where it is available, else the proactor (win32: always the proactor). */
export function chooseBackend(platform: string, backends: readonly BackendInfo[]): BackendChoice {
  const usable = backends.filter((b) => b.available);
  const preferred = usable.filter((b) => b.priority > 0).sort((a, b) => b.priority - a.priority)[0];
  // An application registered a backend to be the default where it runs.
  if (preferred !== undefined) {
    return { name: preferred.name, reason: `registered with priority ${preferred.priority} for ${platform}` };
  }
  // Windows has no readiness API worth the name; completions are native (libuv drives IOCP).
  if (platform === 'win32') return { name: 'proactor', reason: 'win32: completion-based I/O (libuv drives IOCP)' };
  const selector = backends.find((b) => b.name === 'selector');
  // No native addon, no epoll/kqueue: the node:net proactor needs none.
  if (selector === undefined || !selector.available) {
    const why = selector?.reason ?? 'no selector backend is registered';
    return { name: 'proactor', reason: `selector unavailable (${why}); the node:net proactor needs no native addon` };
  }
  // Every other platform: readiness, as asyncio's default loop.
  const mechanism = platform === 'linux' ? 'epoll' : platform === 'darwin' ? 'kqueue' : 'poll()';
  return { name: 'selector', reason: `${platform}: readiness via ${mechanism}` };
}

/** A choice with the backend itself (what describeBackendChoice returns). */
export interface Selection extends BackendChoice {
  backend: Backend;
}

/** The backend the next loop gets: LOOPKIT_BACKEND if set, else chooseBackend's pick. */
export function selectBackend(
  registry: BackendRegistry,
  requested: string | undefined = process.env.LOOPKIT_BACKEND,
  platform: string = process.platform,
): Selection {
  const infos = registry.info(platform);
  const choice = requested ? { name: requested, reason: `LOOPKIT_BACKEND=${requested}` } : chooseBackend(platform, infos);
  const info = infos.find((b) => b.name === choice.name);
  if (info === undefined) {
    const names = infos.filter((b) => b.available).map((b) => b.name);
    throw new RuntimeError(
      `${choice.reason}: no backend named "${choice.name}" is registered; available: ${names.join(', ') || 'none'}`,
    );
  }
  if (!info.available) throw new RuntimeError(`${choice.reason}: backend "${choice.name}" is unavailable: ${info.reason}`);
  return { ...choice, backend: registry.get(choice.name)! };
}
