import { setTimeout as delay } from 'node:timers/promises';
import type { StoreRef, SystemAdapter, SystemConnection } from '../systems/system-adapter.ts';
import { fillBacklog } from './bench-jobs.ts';
import { latencyJobCount } from './bench-options.ts';
import { idleWorkerSettleMs, LatencyProbe, latencyOutcome } from './latency-probe.ts';
import { measureEnqueue } from './measure-enqueue.ts';
import { measureFlows } from './measure-flows.ts';
import { measureProcessing } from './measure-processing.ts';
import { runOneOfSeveralWorkers } from './one-of-several-workers.ts';
import type { ParentLink } from './parent-link.ts';
import type { ChildResult, RunSpec } from './run-spec.ts';
import { produceSteadily } from './steady-producer.ts';
import { workloads } from './workloads.ts';

/**
 * Runs one workload in this process, or this process's part of one: the body of a
 * measuring child. `parent` is how it tells the parent that a cross-process latency
 * worker is running, and how one of several workers hears when to start and stop.
 */
export async function runWorkloadHere(system: SystemAdapter, spec: RunSpec, parent: ParentLink): Promise<ChildResult> {
  const workload = workloads[spec.workload];
  switch (workload.kind) {
    case 'enqueue':
      return withConnection(system, spec.store, (connection) =>
        measureEnqueue(connection, { jobs: spec.jobs, batching: workload.batching, capMs: spec.capMs }),
      );
    case 'process':
    case 'scale':
    case 'disk':
      return withConnection(system, spec.store, async (connection) => {
        // A store of the parent's arrives filled; one that lives in this process is filled here, untimed.
        if (spec.store === null) await fillBacklog(connection, spec.jobs, spec.fillCapMs);
        return measureProcessing(connection, { jobs: spec.jobs, timedJobs: spec.timedJobs, concurrency: workload.concurrency, capMs: spec.capMs });
      });
    case 'multi-worker':
      if (spec.store === null) throw new Error('one of several workers needs the store the parent created and filled');
      return withConnection(system, spec.store, (connection) =>
        runOneOfSeveralWorkers(connection, { concurrency: workload.concurrency, capMs: spec.capMs }, parent),
      );
    case 'latency':
      return withConnection(system, spec.store, async (connection) => {
        const probe = await LatencyProbe.start(connection, latencyJobCount(spec.latency));
        if (workload.producer === 'other-process') {
          parent.announceReady();
          return probe.finish(performance.now() + spec.capMs);
        }
        await delay(idleWorkerSettleMs);
        const deadline = performance.now() + spec.capMs;
        const production = await produceSteadily(connection, spec.latency, deadline);
        const observation = await probe.finish(deadline);
        return latencyOutcome(production, observation);
      });
    case 'flow':
      return withConnection(system, spec.store, (connection) =>
        measureFlows(connection, {
          children: spec.jobs,
          childrenPerFlow: workload.childrenPerFlow,
          concurrency: workload.concurrency,
          createCapMs: spec.fillCapMs,
          capMs: spec.capMs,
        }),
      );
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
