/** Small argument helpers shared by the package; error messages name the argument. */

export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return `function ${value.name || '<anonymous>'}`;
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'object') return `an object (${value.constructor?.name ?? 'Object'})`;
  return `${typeof value} ${String(value)}`;
}

export function checkFunction(value: unknown, name: string): asserts value is (...args: any[]) => any {
  if (typeof value !== 'function') throw new TypeError(`${name} must be a function, got ${describe(value)}`);
}

export function checkPort(port: unknown, name = 'port'): number {
  if (typeof port === 'string' && /^\d+$/.test(port)) port = Number(port);
  if (typeof port !== 'number' || !Number.isInteger(port)) throw new TypeError(`${name} must be an integer, got ${describe(port)}`);
  if (port < 0 || port > 65535) throw new RangeError(`${name} must be in 0..65535, got ${port}`);
  return port;
}

export function checkPath(path: unknown, name = 'path'): string {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError(`${name} must be a non-empty string, got ${describe(path)}`);
  return path;
}

export function checkBacklog(backlog: unknown): number {
  if (typeof backlog !== 'number' || !Number.isInteger(backlog)) throw new TypeError(`backlog must be an integer, got ${describe(backlog)}`);
  if (backlog < 0) throw new RangeError(`backlog must be >= 0, got ${backlog}`);
  return backlog;
}
