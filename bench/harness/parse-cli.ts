import { parseArgs } from 'node:util';
import { knownSystemIds } from '../systems/registry.ts';
import { type BenchOptions, defaultBenchOptions, quickBenchOptions, type SystemOverride } from './bench-options.ts';
import { isWorkloadId, multiWorkerProcesses, scaleTimedJobs, type WorkloadId, workloadGroups, workloadIds } from './workloads.ts';

export type CliRequest =
  | { readonly kind: 'help' }
  /** Rewrite the README from a saved results file, measuring nothing. */
  | { readonly kind: 'readme-from'; readonly resultsFile: string; readonly compareWith: string | null }
  | {
      readonly kind: 'run';
      readonly options: BenchOptions;
      /** False with `--dry-run` or `--quick`: print the table, write no files. */
      readonly writeFiles: boolean;
      /** The results file whose figures the floors are shown beside; null: the newest earlier one in bench/results. */
      readonly compareWith: string | null;
    };

/** The options, with their help text; the README lists them from here too. */
export const cliOptionHelp: ReadonlyArray<readonly [flag: string, help: string]> = [
  ['--systems <list>', `Comma-separated systems, in the order runs alternate. Known: ${knownSystemIds.join(', ')}. Default: all.`],
  [
    '--workloads <list>',
    `Comma-separated workloads or groups (${Object.keys(workloadGroups).join(', ')}). Workloads: ${workloadIds.join(', ')}. Default: all.`,
  ],
  [
    '--jobs <n>',
    `Jobs per enqueue and processing run (in the multi-worker run, shared by its ${multiWorkerProcesses} workers). Default: ${defaultBenchOptions.jobs.toLocaleString('en-US')}.`,
  ],
  ['--runs <n>', `Runs of each workload on each system; figures are their median. Default: ${defaultBenchOptions.runs}.`],
  [
    '--jobs-for <id=n,…>',
    `Fewer jobs for slow systems (at most --jobs). Default: ${describeOverrides('jobs')}.`,
  ],
  ['--runs-for <id=n,…>', `Fewer runs for slow systems (at most --runs). Default: ${describeOverrides('runs')}.`],
  ['--cap <seconds>', `Time cap per run; a capped run reports what it completed. Default: ${defaultBenchOptions.capSeconds}.`],
  ['--latency-seconds <s>', `How long the latency workloads enqueue for. Default: ${defaultBenchOptions.latency.seconds}.`],
  ['--latency-rate <n>', `Jobs per second in the latency workloads. Default: ${defaultBenchOptions.latency.ratePerSecond}.`],
  [
    '--scale-backlog <n>',
    `Jobs queued in the scale workload's large-backlog run. Default: ${defaultBenchOptions.scale.largeBacklog.toLocaleString('en-US')}.`,
  ],
  [
    '--scale-small-backlog <n>',
    `Jobs queued in the scale workload's run it is compared with; each run times the first ${scaleTimedJobs.toLocaleString('en-US')} jobs (or this many, if fewer). Default: ${defaultBenchOptions.scale.smallBacklog.toLocaleString('en-US')}.`,
  ],
  [
    '--fill-cap <seconds>',
    `Time cap for filling a backlog before a run (untimed, apart from --cap); a fill that does not finish fails its run. Default: ${defaultBenchOptions.fillCapSeconds}.`,
  ],
  [
    '--quick',
    `Tiny sizes to check the harness (${quickBenchOptions.jobs} jobs, ${quickBenchOptions.runs} run, ${quickBenchOptions.latency.seconds} s of latency, scale backlogs ${quickBenchOptions.scale.largeBacklog.toLocaleString('en-US')} and ${quickBenchOptions.scale.smallBacklog.toLocaleString('en-US')}); implies --dry-run. Other flags still override.`,
  ],
  ['--dry-run', 'Print the table; write neither bench/results nor bench/README.md.'],
  ['--readme-from <file>', 'Measure nothing: rewrite bench/README.md from a saved results file (after changing how the README is written).'],
  [
    '--compare-with <file>',
    "The results file whose figures the README's floor rows show beside this run's. Default: the newest bench/results/*.json of a run that started before this one (or before the --readme-from file's).",
  ],
  ['--help', 'This text.'],
];

function describeOverrides(field: keyof SystemOverride): string {
  const entries = Object.entries(defaultBenchOptions.overrides).filter(([, override]) => override[field] !== undefined);
  return entries.length === 0 ? 'none' : entries.map(([system, override]) => `${system}=${override[field]!.toLocaleString('en-US')}`).join(', ');
}

export function cliUsage(): string {
  const width = Math.max(...cliOptionHelp.map(([flag]) => flag.length));
  return ['Usage: npm run bench -- [options]', '', ...cliOptionHelp.map(([flag, help]) => `  ${flag.padEnd(width)}  ${help}`)].join('\n');
}

/** Reads the command line; throws with a readable message on anything it does not understand. */
export function parseCli(argv: readonly string[]): CliRequest {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      systems: { type: 'string' },
      workloads: { type: 'string' },
      jobs: { type: 'string' },
      runs: { type: 'string' },
      'jobs-for': { type: 'string' },
      'runs-for': { type: 'string' },
      cap: { type: 'string' },
      'latency-seconds': { type: 'string' },
      'latency-rate': { type: 'string' },
      'scale-backlog': { type: 'string' },
      'scale-small-backlog': { type: 'string' },
      'fill-cap': { type: 'string' },
      quick: { type: 'boolean', default: false },
      'dry-run': { type: 'boolean', default: false },
      'readme-from': { type: 'string' },
      'compare-with': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return { kind: 'help' };
  const compareWith = values['compare-with'] ?? null;
  if (values['readme-from'] !== undefined) return { kind: 'readme-from', resultsFile: values['readme-from'], compareWith };
  const base = values.quick ? quickBenchOptions : defaultBenchOptions;
  const options: BenchOptions = {
    systems: values.systems === undefined ? base.systems : parseSystems(values.systems),
    workloads: values.workloads === undefined ? base.workloads : parseWorkloads(values.workloads),
    jobs: values.jobs === undefined ? base.jobs : parseNumber('--jobs', values.jobs, { integer: true }),
    runs: values.runs === undefined ? base.runs : parseNumber('--runs', values.runs, { integer: true }),
    capSeconds: values.cap === undefined ? base.capSeconds : parseNumber('--cap', values.cap, { integer: false }),
    overrides: parseOverrides(base.overrides, values['jobs-for'], values['runs-for']),
    latency: {
      seconds: values['latency-seconds'] === undefined ? base.latency.seconds : parseNumber('--latency-seconds', values['latency-seconds'], { integer: false }),
      ratePerSecond: values['latency-rate'] === undefined ? base.latency.ratePerSecond : parseNumber('--latency-rate', values['latency-rate'], { integer: false }),
    },
    scale: {
      largeBacklog: values['scale-backlog'] === undefined ? base.scale.largeBacklog : parseNumber('--scale-backlog', values['scale-backlog'], { integer: true }),
      smallBacklog:
        values['scale-small-backlog'] === undefined ? base.scale.smallBacklog : parseNumber('--scale-small-backlog', values['scale-small-backlog'], { integer: true }),
    },
    fillCapSeconds: values['fill-cap'] === undefined ? base.fillCapSeconds : parseNumber('--fill-cap', values['fill-cap'], { integer: false }),
  };
  return { kind: 'run', options, writeFiles: !values.quick && !values['dry-run'], compareWith };
}

function listOf(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function parseSystems(text: string): string[] {
  const systems = listOf(text);
  for (const system of systems) {
    if (!knownSystemIds.includes(system)) throw new Error(`--systems: unknown system "${system}"; known: ${knownSystemIds.join(', ')}`);
  }
  return [...new Set(systems)];
}

function parseWorkloads(text: string): WorkloadId[] {
  const selected = new Set<WorkloadId>();
  for (const item of listOf(text)) {
    const group = workloadGroups[item];
    if (group) group.forEach((workload) => selected.add(workload));
    else if (isWorkloadId(item)) selected.add(item);
    else throw new Error(`--workloads: unknown workload "${item}"; known: ${[...Object.keys(workloadGroups), ...workloadIds].join(', ')}`);
  }
  // Table order, whatever order they were given in.
  return workloadIds.filter((workload) => selected.has(workload));
}

/** `--jobs-for a=2000,b=500` and `--runs-for a=1` on top of the defaults. */
function parseOverrides(
  base: Readonly<Record<string, SystemOverride>>,
  jobsFor: string | undefined,
  runsFor: string | undefined,
): Record<string, SystemOverride> {
  const merged: Record<string, SystemOverride> = { ...base };
  for (const [flag, field, text] of [
    ['--jobs-for', 'jobs', jobsFor],
    ['--runs-for', 'runs', runsFor],
  ] as const) {
    if (text === undefined) continue;
    for (const item of listOf(text)) {
      const [system, count, ...rest] = item.split('=');
      if (system === undefined || count === undefined || rest.length > 0) throw new Error(`${flag}: expected id=n, not "${item}"`);
      if (!knownSystemIds.includes(system)) throw new Error(`${flag}: unknown system "${system}"; known: ${knownSystemIds.join(', ')}`);
      merged[system] = { ...merged[system], [field]: parseNumber(flag, count, { integer: true }) };
    }
  }
  return merged;
}

function parseNumber(flag: string, text: string, { integer }: { integer: boolean }): number {
  const value = Number(text);
  const valid = text.trim() !== '' && Number.isFinite(value) && value > 0 && (!integer || Number.isSafeInteger(value));
  if (!valid) throw new Error(`${flag}: expected ${integer ? 'a whole number' : 'a number'} above 0, not "${text}"`);
  return value;
}
