import type { StoreRef, SystemAdapter } from '../systems/system-adapter.ts';
import { fillBacklog } from './bench-jobs.ts';
import type { ThroughputOutcome } from './run-outcome.ts';
import type { ChildResult, RunSpec } from './run-spec.ts';
import { spawnMeasuringChild } from './spawn-child.ts';

/** One worker's run through a backlog, and how long filling it took. */
export interface ProcessedBacklog {
  /** Null when the measuring process filled a store that lives in it. */
  readonly fillMs: number | null;
  readonly outcome: ThroughputOutcome;
}

/**
 * Fills a fresh store with `spec.jobs` jobs (untimed, within `spec.fillCapMs`) and has
 * one worker in a fresh child process work through `spec.timedJobs` of them. A store
 * other processes can reach is filled here, with the parent's connection closed before
 * the worker's process starts, so the parent holds nothing open during the timed part;
 * a store that lives in one process is filled by the child itself. `childGraceMs` is the
 * time beyond the caps the child gets for setup and teardown before it is killed.
 * `examineStore`, for a shared store, looks at it once the worker's process has exited
 * and before the store is removed (the disk workload measures its files).
 */
export async function processBacklogInChild(
  system: SystemAdapter,
  spec: Omit<RunSpec, 'store'>,
  childGraceMs: number,
  examineStore?: (store: StoreRef) => Promise<void>,
): Promise<ProcessedBacklog> {
  if (!system.storeSharedAcrossProcesses) {
    if (examineStore) throw new Error(`${system.id} keeps its store in the worker's process, where the parent cannot examine it`);
    const child = spawnMeasuringChild({ ...spec, store: null }, spec.fillCapMs + spec.capMs + childGraceMs);
    return { fillMs: null, outcome: expectThroughput(await child.result) };
  }
  const store = await system.createStore();
  try {
    const producer = await system.connect(store);
    let fillMs: number;
    try {
      fillMs = await fillBacklog(producer, spec.jobs, spec.fillCapMs);
    } finally {
      await producer.close();
    }
    const child = spawnMeasuringChild({ ...spec, store }, spec.capMs + childGraceMs);
    const outcome = expectThroughput(await child.result);
    await examineStore?.(store);
    return { fillMs, outcome };
  } finally {
    await system.destroyStore(store);
  }
}

function expectThroughput(result: ChildResult): ThroughputOutcome {
  if (result.kind !== 'throughput') throw new Error(`the measuring process sent a ${result.kind} outcome where a processing run was expected`);
  return result;
}
