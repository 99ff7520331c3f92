import { loadSystem } from '../systems/registry.ts';
import { peerNodeEngine, peerVersion } from '../systems/peer-module.ts';
import type { SystemAdapter } from '../systems/system-adapter.ts';
import { type BenchOptions, latencyJobCount, runsFor } from './bench-options.ts';
import { formatValue } from './format-figures.ts';
import { describeMachine, type MachineInfo } from './machine-info.ts';
import { isApplicable, measureRun, type RunRecord } from './measure-run.ts';
import { metrics } from './metrics.ts';
import type { RunOutcome } from './run-outcome.ts';
import { type ServiceInfo, type ServiceKind, serviceFor, startServices, useServices } from './services.ts';
import { summarize, type SummaryRow } from './summarize.ts';
import { bulkBatchSize, latencyWorkerConcurrency, type WorkloadId } from './workloads.ts';

/** Everything one benchmark produced; written as-is to `bench/results/<date>.json`. */
export interface BenchmarkResults {
  readonly startedAt: string;
  readonly finishedAt: string;
  /** The command that produced these results, to run it again. */
  readonly command: string;
  readonly machine: MachineInfo;
  readonly options: BenchOptions & { readonly bulkBatchSize: number; readonly latencyWorkerConcurrency: number; readonly latencyJobs: number };
  readonly systems: readonly SystemRecord[];
  /** The throwaway servers the PostgreSQL and Redis stores lived on. */
  readonly services: readonly ServiceInfo[];
  /** Every run, in the order it ran. */
  readonly runs: readonly RunRecord[];
  readonly summary: readonly SummaryRow[];
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
      const record = await measureRun(step.system, step.workload, step.run, options, services.urls);
      runs.push(record);
      log(`${prefix}: ${record.outcome ? describeOutcome(record.outcome) : `FAILED: ${record.error}`}`);
    }
  } finally {
    useServices({});
    await services.stop();
  }
  const incomplete = runs.filter((run) => run.outcome === null || run.outcome.capped || (run.outcome.kind === 'throughput' && run.outcome.duplicateRuns > 0));
  if (incomplete.length > 0) {
    log(`${incomplete.length} run(s) failed, hit the cap or ran a job twice: ${incomplete.map((run) => `${run.workload}/${run.system}#${run.run}`).join(', ')}`);
  }

  return {
    startedAt,
    finishedAt: new Date().toISOString(),
    command: hooks.command ?? `tsx bench/run.ts ${process.argv.slice(2).join(' ')}`.trim(),
    machine,
    options: { ...options, bulkBatchSize, latencyWorkerConcurrency, latencyJobs: latencyJobCount(options.latency) },
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
    summary: summarize(systems, metrics, runs),
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
  if (options.systems.length === 0) throw new Error('no systems selected');
  if (options.workloads.length === 0) throw new Error('no workloads selected');
}

function describeOutcome(outcome: RunOutcome): string {
  const capped = outcome.capped ? ' (hit the cap)' : '';
  if (outcome.kind === 'latency') {
    const ms = (value: number) => formatValue(value, 'ms');
    return `p50 ${ms(outcome.p50Ms)} ms, p95 ${ms(outcome.p95Ms)} ms, p99 ${ms(outcome.p99Ms)} ms, ${outcome.received}/${outcome.target} jobs${capped}`;
  }
  const rss = outcome.workerMemory ? `, peak RSS ${(outcome.workerMemory.peakRssBytes / 2 ** 20).toFixed(0)} MB` : '';
  return `${formatValue(outcome.jobsPerSecond, 'jobs/s')} jobs/s, ${outcome.completed}/${outcome.target} jobs${rss}${capped}`;
}
