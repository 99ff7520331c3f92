/**
 * `npm run bench`: measures the selected systems, prints the table, and writes
 * bench/results/<date>.json and bench/README.md. See bench/README.md, or `--help`.
 */
import { ensureBenchDependencies } from './harness/bench-dependencies.ts';
import { findEarlierResults, readResultsFile, type SavedResults } from './harness/earlier-results.ts';
import { cliUsage, parseCli } from './harness/parse-cli.ts';
import { buildResultsTables, renderText } from './harness/results-table.ts';
import { checkTargets } from './harness/targets.ts';
import { renderFloorsText } from './harness/targets-table.ts';
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

/** The run whose figures the floors are shown beside: the file asked for, else the newest earlier one in bench/results. */
async function earlierRun(results: BenchmarkResults, compareWith: string | null): Promise<SavedResults | null> {
  if (compareWith !== null) return readResultsFile(compareWith);
  return defaultOutputPaths.resultsDirectory === null ? null : findEarlierResults(defaultOutputPaths.resultsDirectory, results.startedAt);
}

function comparedWith(earlier: SavedResults | null): string {
  return earlier === null ? '' : `; floors beside ${earlier.file}`;
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
    const { file, results } = await readResultsFile(request.resultsFile);
    const earlier = await earlierRun(results, request.compareWith);
    await writeReadme(results, defaultOutputPaths.readmePath!, file, earlier);
    console.log(`Wrote ${defaultOutputPaths.readmePath} from ${file}${comparedWith(earlier)}`);
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
  const floors = renderFloorsText(checkTargets(results.summary, options.scale));
  if (floors !== '') console.log(`${floors}\n`);
  if (!request.writeFiles) {
    console.log('Nothing written (--dry-run or --quick).');
    return;
  }
  // Read before writing: this run's file may replace an earlier one of the same day.
  const earlier = await earlierRun(results, request.compareWith);
  for (const path of await writeOutputs(results, defaultOutputPaths, earlier)) console.log(`Wrote ${path}`);
  console.log(earlier === null ? 'No earlier results to show the floors beside.' : `Floors shown beside ${earlier.file}`);
}

await main();
