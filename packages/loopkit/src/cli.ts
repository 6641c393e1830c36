#!/usr/bin/env node
/** The `loopkit` command: info, examples, demo (both), bench, ps and pstree. */
import { runBench } from './bench.js';
import { DEFAULT_SCALE, runExamples } from './examples.js';
import { info } from './info.js';
import { PS_USAGE, runPs } from './ps/command.js';

const USAGE = `usage: loopkit <command>
  info              platform, Node, native addon, the chosen backend and why, every backend
  examples [name]   run the seed examples (TypeScript twins) on both loops
  demo              info, then every example
  bench             the scheduling and echo benchmarks, with ratio tables
${PS_USAGE}
options for examples/demo: --scale=N   multiply every delay by N (default ${DEFAULT_SCALE}; env LOOPKIT_EXAMPLE_SCALE)`;

async function main(argv: string[]): Promise<number> {
  const scaleArg = argv.find((a) => a.startsWith('--scale='));
  const scale = scaleArg?.slice('--scale='.length) ?? process.env.LOOPKIT_EXAMPLE_SCALE ?? DEFAULT_SCALE;
  if (!(Number(scale) > 0)) {
    console.error(`loopkit: --scale must be a positive number, got ${JSON.stringify(scale)}`);
    return 2;
  }
  const [command, ...rest] = argv.filter((a) => !a.startsWith('--scale='));
  switch (command) {
    case 'info':
      info();
      return 0;
    case 'examples':
      return runExamples(rest[0], scale);
    case 'demo':
      info();
      console.log();
      return runExamples(undefined, scale);
    case 'bench':
      return runBench();
    case 'ps':
    case 'pstree':
      return runPs(command, rest[0]);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    default:
      console.error(`loopkit: unknown command ${JSON.stringify(command)}\n${USAGE}`);
      return 2;
  }
}

process.exitCode = Math.min(await main(process.argv.slice(2)), 2);
