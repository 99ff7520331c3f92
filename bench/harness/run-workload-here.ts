import { setTimeout as delay } from 'node:timers/promises';
import type { StoreRef, SystemAdapter, SystemConnection } from '../systems/system-adapter.ts';
import { fillBacklog } from './bench-jobs.ts';
import { latencyJobCount } from './bench-options.ts';
import { idleWorkerSettleMs, LatencyProbe, latencyOutcome } from './latency-probe.ts';
import { measureEnqueue } from './measure-enqueue.ts';
import { measureProcessing } from './measure-processing.ts';
import type { ChildResult, RunSpec } from './run-spec.ts';
import { produceSteadily } from './steady-producer.ts';
import { workloads } from './workloads.ts';

/**
 * Runs one workload in this process: the body of a measuring child. `announceReady`
 * tells the parent that a cross-process latency worker is running.
 */
export async function runWorkloadHere(system: SystemAdapter, spec: RunSpec, announceReady: () => void): Promise<ChildResult> {
  const workload = workloads[spec.workload];
  switch (workload.kind) {
    case 'enqueue':
      return withConnection(system, spec.store, (connection) =>
        measureEnqueue(connection, { jobs: spec.jobs, batching: workload.batching, capMs: spec.capMs }),
      );
    case 'process':
      return withConnection(system, spec.store, async (connection) => {
        // A store of the parent's arrives filled; one that lives in this process is filled here, untimed.
        if (spec.store === null) await fillBacklog(connection, spec.jobs);
        return measureProcessing(connection, { jobs: spec.jobs, concurrency: workload.concurrency, capMs: spec.capMs });
      });
    case 'latency':
      return withConnection(system, spec.store, async (connection) => {
        const probe = await LatencyProbe.start(connection, latencyJobCount(spec.latency));
        if (workload.producer === 'other-process') {
          announceReady();
          return probe.finish(performance.now() + spec.capMs);
        }
        await delay(idleWorkerSettleMs);
        const deadline = performance.now() + spec.capMs;
        const production = await produceSteadily(connection, spec.latency, deadline);
        const observation = await probe.finish(deadline);
        return latencyOutcome(production, observation);
      });
  }
}

/** Connects to the parent's store, or to a fresh one of this process's own that is removed afterwards. */
async function withConnection<T>(system: SystemAdapter, given: StoreRef | null, use: (connection: SystemConnection) => Promise<T>): Promise<T> {
  const store = given ?? (await system.createStore());
  try {
    const connection = await system.connect(store);
    try {
      return await use(connection);
    } finally {
      await connection.close();
    }
  } finally {
    if (given === null) await system.destroyStore(store);
  }
}
