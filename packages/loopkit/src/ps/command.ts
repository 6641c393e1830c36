/** `loopkit ps PID` and `loopkit pstree PID`. */
import { AttachError, attach } from './attach.js';
import { CycleFoundError, formatCycles, formatTable, formatTree } from './format.js';

export const PS_USAGE = `  ps PID            the pending tasks of every loop in Node process PID, a table (reads it through its inspector)
  pstree PID        the same as a tree of who awaits whom; exits 1 on an await cycle`;

/** Run `ps` or `pstree` on `arg`; the exit status. */
export async function runPs(command: 'ps' | 'pstree', arg: string | undefined): Promise<number> {
  if (arg === undefined || !/^\d+$/.test(arg)) {
    console.error(`loopkit ${command}: expected a process id, got ${arg === undefined ? 'nothing' : JSON.stringify(arg)}`);
    return 2;
  }
  let threads;
  try {
    ({ threads } = await attach(Number(arg)));
  } catch (error) {
    if (!(error instanceof AttachError)) throw error;
    console.error(`loopkit ${command}: ${error.message}`);
    return 1;
  }
  if (command === 'ps') {
    console.log(formatTable(threads));
    return 0;
  }
  try {
    console.log(formatTree(threads));
    return 0;
  } catch (error) {
    if (!(error instanceof CycleFoundError)) throw error;
    console.error(formatCycles(error));
    return 1;
  }
}
