/**
 * API.md's names, through the `loopkit` umbrella: every name it lists is exported with the
 * kind it says (class, function, constant), every error class has its own `name` and the
 * parent API.md gives it, and the constants have asyncio's values.
 */
import { describe, expect, it } from 'vitest';
import * as lk from 'loopkit';

const exported = lk as unknown as Record<string, unknown>;

/** The classes API.md lists (constructible: a test would see `new X` fail otherwise). */
const CLASSES = [
  // @loopkit/core
  'Future', 'Task', 'Handle', 'TimerHandle', 'AbstractEventLoop', 'BaseEventLoop', 'Server',
  'Protocol', 'BufferedProtocol', 'DatagramProtocol', 'StreamReader', 'StreamWriter', 'Timeout', 'TaskGroup',
  'Lock', 'Event', 'Condition', 'Semaphore', 'BoundedSemaphore', 'Barrier', 'Queue', 'PriorityQueue', 'LifoQueue',
  'AbstractEventLoopPolicy', 'Runner', 'SubprocessProtocol', 'Process',
  // @loopkit/selector
  'SelectorKey', 'BaseSelector', 'EpollSelector', 'KqueueSelector', 'PollSelector', 'DefaultSelector', 'SelectorEventLoop',
  // @loopkit/proactor
  'Proactor', 'NetProactor', 'ProactorEventLoop',
  // @loopkit/policy
  'DefaultEventLoopPolicy',
];

/** The functions API.md lists, camelCase of asyncio's names. */
const FUNCTIONS = [
  'openConnection', 'startServer', 'openUnixConnection', 'startUnixServer', 'sleep', 'gather', 'wait', 'waitFor',
  'asCompleted', 'shield', 'timeout', 'timeoutAt', 'taskGroup', 'ensureFuture', 'currentTask', 'allTasks',
  'getRunningLoop', 'wrapFuture', 'isFuture', 'wrap', 'run', 'getEventLoopPolicy', 'setEventLoopPolicy',
  'getEventLoop', 'setEventLoop', 'newEventLoop', 'registerBackend', 'availableBackends', 'socket', 'socketpair',
  'createSubprocessExec', 'createSubprocessShell', 'captureCallGraph', 'formatCallGraph', 'printCallGraph',
];

/** Error class -> the class it extends, as API.md states (Error where it states none). */
const ERRORS: Array<[string, string]> = [
  ['CancelledError', 'Error'],
  ['InvalidStateError', 'Error'],
  ['TimeoutError', 'Error'],
  ['NotImplementedError', 'Error'],
  ['IncompleteReadError', 'Error'],
  ['LimitOverrunError', 'RangeError'], // a ValueError-like limit error; asyncio's is an Exception
  ['QueueEmpty', 'Error'],
  ['QueueFull', 'Error'],
  ['QueueShutDown', 'Error'],
  ['BrokenBarrierError', 'Error'],
  ['ProcessLookupError', 'Error'],
  ['ExceptionGroup', 'AggregateError'],
  ['SendfileNotAvailableError', 'RuntimeError'], // as asyncio: a RuntimeError subclass
  ['ConnectionError', 'Error'],
  ['ConnectionResetError', 'ConnectionError'],
  ['BrokenPipeError', 'ConnectionError'],
  ['ConnectionRefusedError', 'ConnectionError'],
  ['ConnectionAbortedError', 'ConnectionError'],
  ['SSLError', 'ConnectionError'],
  ['SSLCertVerificationError', 'SSLError'],
];

function construct(name: string): Error {
  const Ctor = exported[name] as new (...args: unknown[]) => Error;
  if (name === 'IncompleteReadError') return new Ctor(new Uint8Array(2), 5);
  if (name === 'LimitOverrunError') return new Ctor('limit', 3);
  if (name === 'ExceptionGroup') return new Ctor('group', [new Error('inner')]);
  return new Ctor('the message');
}

describe('the names API.md lists are exported by loopkit', () => {
  it.each(CLASSES)('%s is a class', (name) => {
    expect(typeof exported[name]).toBe('function');
    expect((exported[name] as { prototype?: unknown }).prototype).toBeTypeOf('object');
  });

  it.each(FUNCTIONS)('%s is a function', (name) => {
    expect(typeof exported[name]).toBe('function');
  });

  it('the wait() constants are the strings of their names, at the top level', () => {
    expect([lk.FIRST_COMPLETED, lk.FIRST_EXCEPTION, lk.ALL_COMPLETED]).toEqual(['FIRST_COMPLETED', 'FIRST_EXCEPTION', 'ALL_COMPLETED']);
  });

  it('the selector event masks are 1 and 2 (selectors.EVENT_READ / EVENT_WRITE)', () => {
    expect([lk.EVENT_READ, lk.EVENT_WRITE]).toEqual([1, 2]);
  });

  it("the subprocess constants are distinct negative numbers (asyncio's PIPE -1, STDOUT -2, DEVNULL -3)", () => {
    expect([lk.PIPE, lk.STDOUT, lk.DEVNULL]).toEqual([-1, -2, -3]);
  });

  it("the policy's tsyringe container can resolve", () => {
    expect(typeof (lk.container as { resolve?: unknown }).resolve).toBe('function');
  });

  it('Task extends Future and TimerHandle extends Handle', () => {
    expect(lk.Task.prototype).toBeInstanceOf(lk.Future);
    expect(lk.TimerHandle.prototype).toBeInstanceOf(lk.Handle);
    expect(lk.BoundedSemaphore.prototype).toBeInstanceOf(lk.Semaphore);
    expect(lk.PriorityQueue.prototype).toBeInstanceOf(lk.Queue);
    expect(lk.LifoQueue.prototype).toBeInstanceOf(lk.Queue);
    expect(lk.BufferedProtocol.prototype).not.toBeInstanceOf(lk.DatagramProtocol);
  });
});

describe('error classes: their own name, their parent, the message given', () => {
  it.each(ERRORS)('%s extends %s', (name, parent) => {
    const error = construct(name);
    expect(error).toBeInstanceOf(exported[name] as new () => Error);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe(name);
    const Parent = (exported[parent] ?? (globalThis as Record<string, unknown>)[parent]) as new () => Error;
    expect(error).toBeInstanceOf(Parent);
    expect(Object.getPrototypeOf((exported[name] as { prototype: object }).prototype).constructor).toBe(Parent);
    expect(String(error)).toContain(name);
  });

  it('an error made with a message keeps it', () => {
    for (const [name] of ERRORS.filter(([n]) => !['IncompleteReadError', 'LimitOverrunError', 'ExceptionGroup'].includes(n))) {
      expect(construct(name).message).toBe('the message');
    }
  });

  it('IncompleteReadError has partial and expected; LimitOverrunError has consumed', () => {
    const incomplete = construct('IncompleteReadError') as InstanceType<typeof lk.IncompleteReadError>;
    expect(incomplete.partial).toEqual(new Uint8Array(2));
    expect(incomplete.expected).toBe(5);
    expect(incomplete.message).toBe('2 bytes read on a total of 5 expected bytes');
    const overrun = construct('LimitOverrunError') as InstanceType<typeof lk.LimitOverrunError>;
    expect(overrun.consumed).toBe(3);
    expect(overrun.message).toBe('limit');
  });

  it('ExceptionGroup keeps its errors as AggregateError does', () => {
    const inner = new Error('inner');
    const group = new lk.ExceptionGroup('group', [inner]);
    expect(group.errors).toEqual([inner]);
    expect(group.message).toContain('group');
  });

  it("loopkit's TimeoutError is its own class, distinct from the DOM's", () => {
    expect(new lk.TimeoutError('t')).toBeInstanceOf(lk.TimeoutError);
    expect(new Error('t')).not.toBeInstanceOf(lk.TimeoutError);
  });
});
