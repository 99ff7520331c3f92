import { setTimeout as delay } from 'node:timers/promises';
import type { SystemAdapter } from '../systems/system-adapter.ts';
import { type BenchOptions, jobsFor } from './bench-options.ts';
import type { ServiceUrls } from './services.ts';
import { idleWorkerSettleMs, type LatencyObservation, latencyOutcome } from './latency-probe.ts';
import { processBacklogInChild } from './measure-backlog.ts';
import { measureDiskPerJob } from './measure-disk.ts';
import { measureScale } from './measure-scale.ts';
import { measureSeveralWorkers } from './measure-several-workers.ts';
import type { RunOutcome } from './run-outcome.ts';
import type { ChildResult, RunSpec } from './run-spec.ts';
import { spawnMeasuringChild } from './spawn-child.ts';
import { produceSteadily } from './steady-producer.ts';
import { type WorkloadId, workloads } from './workloads.ts';

/** One run as recorded in the results: its outcome, or why it has none. */
export interface RunRecord {
  readonly system: string;
  readonly workload: WorkloadId;
  /** 1-based. */
  readonly run: number;
  readonly startedAt: string;
  readonly outcome: RunOutcome | null;
  readonly error: string | null;
}

/** Time a measuring child gets beyond its cap for setup and teardown before it is killed. */
const childGraceMs = 120_000;

/** Whether `workload` is measured on `system` at all. */
export function isApplicable(system: Pick<SystemAdapter, 'family' | 'store' | 'bulkEnqueue' | 'storeSharedAcrossProcesses' | 'flows'>, workload: WorkloadId): boolean {
  const definition = workloads[workload];
  switch (definition.kind) {
    case 'enqueue':
      return definition.batching === 'single' || system.bulkEnqueue;
    case 'latency':
      return definition.producer === 'same-process' || system.storeSharedAcrossProcesses;
    case 'multi-worker':
      return system.storeSharedAcrossProcesses;
    case 'scale':
      // Jobsmith's own target. A million-job fill per run for every peer would take longer
      // than the rest of the benchmark (sidequest, with no bulk call, enqueues a few hundred a second).
      return system.family === 'jobsmith';
    case 'process':
      return true;
    case 'flow':
      return system.flows === true;
    case 'disk':
      // Bytes in a file: only a store that is one file (and its log) has them to count.
      return system.store === 'sqlite';
  }
}

/**
 * Measures one run of `workload` on `system` in fresh child processes and fresh stores.
 * The parent prepares what must exist before timing starts: for processing, the backlog
 * (in a store it can reach); for several workers, their processes, told to start
 * together; for cross-process latency, the producer.
 */
export async function measureRun(
  system: SystemAdapter,
  workload: WorkloadId,
  run: number,
  options: BenchOptions,
  services: ServiceUrls = {},
): Promise<RunRecord> {
  const startedAt = new Date().toISOString();
  try {
    const outcome = await measure(system, workload, options, services);
    return { system: system.id, workload, run, startedAt, outcome, error: null };
  } catch (error) {
    return { system: system.id, workload, run, startedAt, outcome: null, error: error instanceof Error ? error.message : String(error) };
  }
}

async function measure(system: SystemAdapter, workload: WorkloadId, options: BenchOptions, services: ServiceUrls): Promise<RunOutcome> {
  const capMs = options.capSeconds * 1000;
  const jobs = jobsFor(options, system.id);
  const spec: Omit<RunSpec, 'store'> = {
    system: system.id,
    workload,
    jobs,
    timedJobs: jobs,
    capMs,
    fillCapMs: options.fillCapSeconds * 1000,
    latency: options.latency,
    services,
  };
  const definition = workloads[workload];

  switch (definition.kind) {
    case 'process':
      return (await processBacklogInChild(system, spec, childGraceMs)).outcome;
    case 'scale':
      return measureScale(system, spec, options.scale, childGraceMs);
    case 'disk':
      return measureDiskPerJob(system, spec, childGraceMs);
    case 'multi-worker':
      return measureSeveralWorkers(system, spec, { processes: definition.processes, concurrencyPerWorker: definition.concurrency, childGraceMs });
    case 'latency':
      if (definition.producer === 'other-process') return measureLatencyFromAnotherProcess(system, spec, options);
      return expectOutcome(await spawnMeasuringChild({ ...spec, store: null }, capMs + childGraceMs).result);
    case 'enqueue':
      return expectOutcome(await spawnMeasuringChild({ ...spec, store: null }, capMs + childGraceMs).result);
    case 'flow':
      // Creating and processing both happen in the child, on a store of its own: the memory store lives in one process.
      return expectOutcome(await spawnMeasuringChild({ ...spec, store: null }, spec.fillCapMs + capMs + childGraceMs).result);
  }
}

/** The parent produces, at a steady pace, into the store a worker in the child drains. */
async function measureLatencyFromAnotherProcess(system: SystemAdapter, spec: Omit<RunSpec, 'store'>, options: BenchOptions): Promise<RunOutcome> {
  if (!system.storeSharedAcrossProcesses) throw new Error(`${system.id} keeps its store in one process; ${spec.workload} does not apply`);
  const store = await system.createStore();
  try {
    const producer = await system.connect(store);
    const child = spawnMeasuringChild({ ...spec, store }, spec.capMs + childGraceMs);
    try {
      await child.ready;
      await delay(idleWorkerSettleMs);
      const production = await produceSteadily(producer, options.latency, performance.now() + spec.capMs);
      return latencyOutcome(production, expectObservation(await child.result));
    } finally {
      // Only does something when the producer failed and the child still waits for jobs.
      child.stop();
      await producer.close();
    }
  } finally {
    await system.destroyStore(store);
  }
}

function expectOutcome(result: ChildResult): RunOutcome {
  if (result.kind === 'latency-observation' || result.kind === 'worker-share') {
    throw new Error(`the measuring process sent part of a run (${result.kind}) where a whole run was expected`);
  }
  return result;
}

function expectObservation(result: ChildResult): LatencyObservation {
  if (result.kind !== 'latency-observation') throw new Error(`the measuring process sent a ${result.kind} outcome where a latency observation was expected`);
  return result;
}
