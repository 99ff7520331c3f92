import { setTimeout as delay } from 'node:timers/promises';
import type { SystemAdapter } from '../systems/system-adapter.ts';
import { fillBacklog } from './bench-jobs.ts';
import { type BenchOptions, jobsFor } from './bench-options.ts';
import type { ServiceUrls } from './services.ts';
import { idleWorkerSettleMs, type LatencyObservation, latencyOutcome } from './latency-probe.ts';
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

/** Whether `workload` can be measured on `system` at all. */
export function isApplicable(system: SystemAdapter, workload: WorkloadId): boolean {
  const definition = workloads[workload];
  if (definition.kind === 'enqueue' && definition.batching === 'bulk' && !system.bulkEnqueue) return false;
  return !(definition.kind === 'latency' && definition.producer === 'other-process' && !system.storeSharedAcrossProcesses);
}

/**
 * Measures one run of `workload` on `system` in a fresh child process and a fresh
 * store. The parent prepares what must exist before timing starts: for processing,
 * the backlog (in a store it can reach); for cross-process latency, the producer.
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
  const spec: RunSpec = { system: system.id, workload, jobs, capMs, latency: options.latency, store: null, services };
  const definition = workloads[workload];
  const inChild = (store: RunSpec['store']) => spawnMeasuringChild({ ...spec, store }, capMs + childGraceMs);

  if (definition.kind === 'process' && system.storeSharedAcrossProcesses) {
    const store = await system.createStore();
    try {
      const producer = await system.connect(store);
      try {
        await fillBacklog(producer, jobs);
      } finally {
        // Closed before the worker starts, so the parent holds nothing open during the timed part.
        await producer.close();
      }
      return expectOutcome(await inChild(store).result);
    } finally {
      await system.destroyStore(store);
    }
  }

  if (definition.kind === 'latency' && definition.producer === 'other-process') {
    if (!system.storeSharedAcrossProcesses) throw new Error(`${system.id} keeps its store in one process; ${workload} does not apply`);
    const store = await system.createStore();
    try {
      const producer = await system.connect(store);
      const child = inChild(store);
      try {
        await child.ready;
        await delay(idleWorkerSettleMs);
        const production = await produceSteadily(producer, options.latency, performance.now() + capMs);
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

  return expectOutcome(await inChild(null).result);
}

function expectOutcome(result: ChildResult): RunOutcome {
  if (result.kind === 'latency-observation') throw new Error('the measuring process sent half a latency run where a whole run was expected');
  return result;
}

function expectObservation(result: ChildResult): LatencyObservation {
  if (result.kind !== 'latency-observation') throw new Error(`the measuring process sent a ${result.kind} outcome where a latency observation was expected`);
  return result;
}
