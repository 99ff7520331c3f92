/**
 * `npm run bench`: measures the selected systems, prints the table, and writes
 * bench/results/<date>.json and bench/README.md. See bench/README.md, or `--help`.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ensureBenchDependencies } from './harness/bench-dependencies.ts';
import { cliUsage, parseCli } from './harness/parse-cli.ts';
import { buildResultsTables, renderText } from './harness/results-table.ts';
import { type BenchmarkResults, runBenchmark } from './harness/run-benchmark.ts';
import { defaultOutputPaths, writeOutputs, writeReadme } from './harness/write-outputs.ts';
import { needsPeerPackages } from './systems/registry.ts';

/** How to run this again, as typed: `npm run bench -- …` when started through npm. */
function commandLine(argv: readonly string[]): string {
  const quoted = argv.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`));
  const throughNpm = process.env.npm_lifecycle_event === 'bench';
  if (throughNpm) return quoted.length === 0 ? 'npm run bench' : `npm run bench -- ${quoted.join(' ')}`;
  return ['npx tsx bench/run.ts', ...quoted].join(' ');
}

/**
 * A library's background connection in this process (the producer side of a run) can
 * emit an error nobody listens for, typically when the run's store is dropped under it.
 * That must not end a half-hour benchmark: the error is printed and the runs go on; a
 * run it actually broke fails on its own and is reported as failed.
 */
function keepGoingOnStrayErrors(): void {
  const report = (kind: string) => (error: unknown) => {
    console.error(`A library raised ${kind} in the benchmark's own process; continuing: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  };
  process.on('uncaughtException', report('an uncaught error'));
  process.on('unhandledRejection', report('an unhandled rejection'));
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  let request;
  try {
    request = parseCli(argv);
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n\n${cliUsage()}`);
    process.exitCode = 2;
    return;
  }
  if (request.kind === 'help') {
    console.log(cliUsage());
    return;
  }
  if (request.kind === 'readme-from') {
    const resultsFile = resolve(request.resultsFile);
    const results = JSON.parse(await readFile(resultsFile, 'utf8')) as BenchmarkResults;
    await writeReadme(results, defaultOutputPaths.readmePath!, resultsFile);
    console.log(`Wrote ${defaultOutputPaths.readmePath} from ${resultsFile}`);
    return;
  }
  const { options } = request;
  keepGoingOnStrayErrors();
  if (needsPeerPackages(options.systems)) ensureBenchDependencies((line) => console.error(line));
  console.error(
    `Benchmarking ${options.systems.join(', ')}: ${options.workloads.join(', ')}; ${options.jobs} jobs, ${options.runs} run(s), cap ${options.capSeconds} s`,
  );
  const results = await runBenchmark(options, { log: (line) => console.error(line), command: commandLine(argv) });
  console.log(`\n${renderText(buildResultsTables(results.systems, results.summary, options))}\n`);
  if (!request.writeFiles) {
    console.log('Nothing written (--dry-run or --quick).');
    return;
  }
  for (const path of await writeOutputs(results, defaultOutputPaths)) console.log(`Wrote ${path}`);
}

await main();
