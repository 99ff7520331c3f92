import { loadSystem } from '../systems/registry.ts';
import { peerNodeEngine, peerVersion } from '../systems/peer-module.ts';
import type { SystemAdapter } from '../systems/system-adapter.ts';
import { type BenchOptions, latencyJobCount, runsFor, scaleTimedJobCount } from './bench-options.ts';
import { formatValue } from './format-figures.ts';
import { describeMachine, type MachineInfo } from './machine-info.ts';
import { isApplicable, measureRun, type RunRecord } from './measure-run.ts';
import { benchMetrics } from './metrics.ts';
import type { RunOutcome, ThroughputOutcome } from './run-outcome.ts';
import { isWrong } from './run-faults.ts';
import { type ServiceInfo, type ServiceKind, serviceFor, startServices, useServices } from './services.ts';
import { summarize, type SummaryRow } from './summarize.ts';
import {
  bulkBatchSize,
  diskConcurrency,
  latencyWorkerConcurrency,
  multiWorkerConcurrency,
  multiWorkerProcesses,
  scaleConcurrency,
  type WorkloadId,
} from './workloads.ts';

/** Everything one benchmark produced; written as-is to `bench/results/<date>.json`. */
export interface BenchmarkResults {
  readonly startedAt: string;
  readonly finishedAt: string;
  /** The command that produced these results, to run it again. */
  readonly command: string;
  readonly machine: MachineInfo;
  readonly options: BenchOptions & BuiltInSizes;
  readonly systems: readonly SystemRecord[];
  /** The throwaway servers the PostgreSQL and Redis stores lived on. */
  readonly services: readonly ServiceInfo[];
  /** Every run, in the order it ran. */
  readonly runs: readonly RunRecord[];
  readonly summary: readonly SummaryRow[];
}

/** Sizes the harness fixes rather than takes as options, recorded with the results so they explain the figures. */
export interface BuiltInSizes {
  readonly bulkBatchSize: number;
  readonly latencyWorkerConcurrency: number;
  readonly latencyJobs: number;
  /** Jobs timed at each backlog size of the scale workload. */
  readonly scaleTimedJobs: number;
  readonly scaleConcurrency: number;
  readonly multiWorkerProcesses: number;
  readonly multiWorkerConcurrency: number;
  /** The disk workload's worker; absent in results saved before that workload existed. */
  readonly diskConcurrency?: number;
}

/** A measured system as the results record it. */
export type SystemRecord = Pick<SystemAdapter, 'id' | 'label' | 'family' | 'store' | 'durability' | 'bulkEnqueue' | 'packageName' | 'settings'> & {
  /** The installed version of a peer's package; Jobsmith's is in `machine`. */
  readonly version?: string | null;
  /** The Node versions the peer's package declares it needs (`engines.node`). */
  readonly nodeEngine?: string | null;
};

export interface BenchmarkHooks {
  /** Where progress lines go. @default nowhere */
  readonly log?: (line: string) => void;
  /** Recorded in the results. @default the harness's own invocation */
  readonly command?: string;
}

/**
 * Runs every selected workload `runs` times on every selected system. Runs alternate
 * between systems (A B C A B C …) so a machine that slows down or speeds up during the
 * benchmark affects every system alike instead of whichever ran last.
 */
export async function runBenchmark(options: BenchOptions, hooks: BenchmarkHooks = {}): Promise<BenchmarkResults> {
  checkOptions(options);
  const log = hooks.log ?? (() => {});
  const startedAt = new Date().toISOString();
  const machine = describeMachine();
  const systems: SystemAdapter[] = [];
  for (const id of options.systems) systems.push(await loadSystem(id));

  const plan = planRuns(systems, options);
  const runs: RunRecord[] = [];
  const needed = new Set(systems.map((system) => serviceFor(system.store)).filter((kind): kind is ServiceKind => kind !== null));
  const services = await startServices(needed, log);
  useServices(services.urls);
  try {
    for (const [position, step] of plan.entries()) {
      const prefix = `[${position + 1}/${plan.length}] ${step.workload} ${step.system.id} run ${step.run}/${runsFor(options, step.system.id)}`;
      log(`${prefix} …`);
      await services.quiesce();
      const record = await measureRun(step.system, step.workload, step.run, options, services.urls);
      runs.push(record);
      log(`${prefix}: ${record.outcome ? describeOutcome(record.outcome) : `FAILED: ${record.error}`}`);
    }
  } finally {
    useServices({});
    await services.stop();
  }
  const incomplete = runs.filter((run) => run.outcome === null || run.outcome.capped || isWrong(run.outcome));
  if (incomplete.length > 0) {
    log(`${incomplete.length} run(s) failed, hit the cap, ran a job twice or never ran one: ${incomplete.map((run) => `${run.workload}/${run.system}#${run.run}`).join(', ')}`);
  }

  return {
    startedAt,
    finishedAt: new Date().toISOString(),
    command: hooks.command ?? `tsx bench/run.ts ${process.argv.slice(2).join(' ')}`.trim(),
    machine,
    options: {
      ...options,
      bulkBatchSize,
      latencyWorkerConcurrency,
      latencyJobs: latencyJobCount(options.latency),
      scaleTimedJobs: scaleTimedJobCount(options.scale),
      scaleConcurrency,
      multiWorkerProcesses,
      multiWorkerConcurrency,
      diskConcurrency,
    },
    systems: systems.map(({ id, label, family, store, durability, bulkEnqueue, packageName, settings }) => ({
      id,
      label,
      family,
      store,
      ...(durability === undefined ? {} : { durability }),
      bulkEnqueue,
      ...(packageName === undefined ? {} : { packageName, version: peerVersion(packageName), nodeEngine: peerNodeEngine(packageName) }),
      settings,
    })),
    services: services.info,
    runs,
    summary: summarize(systems, benchMetrics(options), runs),
  };
}

interface PlannedRun {
  readonly workload: WorkloadId;
  readonly run: number;
  readonly system: SystemAdapter;
}

function planRuns(systems: readonly SystemAdapter[], options: BenchOptions): PlannedRun[] {
  const plan: PlannedRun[] = [];
  for (const workload of options.workloads) {
    for (let run = 1; run <= options.runs; run++) {
      for (const system of systems) if (run <= runsFor(options, system.id) && isApplicable(system, workload)) plan.push({ workload, run, system });
    }
  }
  return plan;
}

function checkOptions(options: BenchOptions): void {
  const positiveInteger = (name: string, value: number) => {
    if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} must be a whole number of 1 or more, not ${value}`);
  };
  positiveInteger('jobs', options.jobs);
  positiveInteger('runs', options.runs);
  for (const [system, override] of Object.entries(options.overrides)) {
    if (override.jobs !== undefined) positiveInteger(`jobs for ${system}`, override.jobs);
    if (override.runs !== undefined) positiveInteger(`runs for ${system}`, override.runs);
  }
  if (!(options.capSeconds > 0)) throw new Error(`the cap must be above 0 seconds, not ${options.capSeconds}`);
  if (!(options.latency.ratePerSecond > 0 && options.latency.seconds > 0)) throw new Error('the latency rate and duration must be above 0');
  if (!(options.fillCapSeconds > 0)) throw new Error(`the fill cap must be above 0 seconds, not ${options.fillCapSeconds}`);
  if (options.workloads.includes('scale')) {
    positiveInteger('the scale workload\'s large backlog', options.scale.largeBacklog);
    positiveInteger('the scale workload\'s small backlog', options.scale.smallBacklog);
    if (options.scale.smallBacklog >= options.scale.largeBacklog) {
      throw new Error(`the scale workload compares a small backlog with a larger one: ${options.scale.smallBacklog} is not below ${options.scale.largeBacklog}`);
    }
  }
  if (options.systems.length === 0) throw new Error('no systems selected');
  if (options.workloads.length === 0) throw new Error('no workloads selected');
}

function describeOutcome(outcome: RunOutcome): string {
  const capped = outcome.capped ? ' (hit the cap)' : '';
  const rate = (value: number) => `${formatValue(value, 'jobs/s')} jobs/s`;
  const count = (value: number) => value.toLocaleString('en-US');
  switch (outcome.kind) {
    case 'latency': {
      const ms = (value: number) => formatValue(value, 'ms');
      return `p50 ${ms(outcome.p50Ms)} ms, p95 ${ms(outcome.p95Ms)} ms, p99 ${ms(outcome.p99Ms)} ms, ${outcome.received}/${outcome.target} jobs${capped}`;
    }
    case 'throughput': {
      const rss = outcome.workerMemory ? `, peak RSS ${(outcome.workerMemory.peakRssBytes / 2 ** 20).toFixed(0)} MB` : '';
      const duplicates = outcome.duplicateRuns > 0 ? `, ${outcome.duplicateRuns} DUPLICATE RUNS` : '';
      return `${rate(outcome.jobsPerSecond)}, ${outcome.completed}/${outcome.target} jobs${rss}${duplicates}${capped}`;
    }
    case 'scale': {
      const side = (backlog: number, fillMs: number | null, processing: ThroughputOutcome) =>
        `${count(backlog)} queued${fillMs === null ? '' : ` (filled in ${(fillMs / 1000).toFixed(1)} s)`}: ${rate(processing.jobsPerSecond)}${processing.capped ? ` over ${processing.completed}/${processing.target} jobs` : ''}`;
      const duplicates = outcome.duplicateRuns > 0 ? `, ${outcome.duplicateRuns} DUPLICATE RUNS` : '';
      return `${side(outcome.small.backlog, outcome.small.fillMs, outcome.small.processing)}; ${side(outcome.large.backlog, outcome.large.fillMs, outcome.large.processing)}; ratio ${formatValue(outcome.largeOverSmall, '×')}${duplicates}${capped}`;
    }
    case 'flow': {
      const faults = isWrong(outcome) ? `, WRONG: ${outcome.duplicateRuns} duplicate runs, ${outcome.parentsShortOfResults} parents short of results` : '';
      return `${count(outcome.flows)} flows of ${count(outcome.childrenPerFlow)} children: created at ${rate(outcome.createJobsPerSecond)} (${(outcome.createMs / 1000).toFixed(2)} s), processed at ${rate(outcome.jobsPerSecond)}, ${outcome.completed}/${outcome.target} jobs${faults}${capped}`;
    }
    case 'disk': {
      const duplicates = outcome.duplicateRuns > 0 ? `, ${outcome.duplicateRuns} DUPLICATE RUNS` : '';
      const { database, wal, shm, journal } = outcome.files;
      return `${formatValue(outcome.bytesPerJob, 'bytes/job')} bytes/job (database ${count(database)} B, -wal ${count(wal)} B, -shm ${count(shm)} B, -journal ${count(journal)} B) after ${outcome.processing.completed}/${outcome.target} jobs${duplicates}${capped}`;
    }
    case 'multi-worker': {
      const faults = isWrong(outcome) ? `, WRONG: ${outcome.duplicateRuns} duplicate runs, ${outcome.lostJobs} jobs never run` : ', every job ran once';
      return `${rate(outcome.jobsPerSecond)}, ${outcome.completed}/${outcome.target} jobs over ${outcome.processes} workers (${outcome.runsPerWorker.join(' / ')} runs)${faults}${capped}`;
    }
  }
}
