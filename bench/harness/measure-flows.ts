import type { BenchJob, SystemConnection } from '../systems/system-adapter.ts';
import { CompletionTracker } from './completion-tracker.ts';
import type { FlowOutcome } from './run-outcome.ts';
import { flowSizes } from './workloads.ts';

export interface FlowRunOptions {
  /** Children of the run, over every flow. */
  readonly children: number;
  readonly childrenPerFlow: number;
  readonly concurrency: number;
  /** Cap on creating the flows (like a backlog's fill): past it the run fails rather than measure fewer flows. */
  readonly createCapMs: number;
  /** Cap on processing them: past it the run reports what ran, as capped. */
  readonly capMs: number;
}

/**
 * Creates the run's flows, one call per flow awaited in turn, timing it; then starts one
 * worker and times it from the start call to the run of the last job (a parent, which runs
 * only after its children). Children are jobs 0 … children-1, parents the next indexes, one
 * per flow. A parent must read every one of its children's results. Runs in one process,
 * the producer and the worker on their own connections of `connection`'s system.
 */
export async function measureFlows(connection: SystemConnection, options: FlowRunOptions): Promise<FlowOutcome> {
  const flows = connection.flows;
  if (!flows) throw new Error('this system has no parent and child jobs; the flow-children workload does not apply');
  const sizes = flowSizes(options.children, options.childrenPerFlow);
  const total = options.children + sizes.length;
  // Built before timing starts, like every workload's payloads.
  let nextChild = 0;
  const plan = sizes.map((size, flow) => {
    const children: BenchJob[] = Array.from({ length: size }, () => ({ index: nextChild++, sentAt: 0 }));
    return { parent: { index: options.children + flow, sentAt: 0 }, children };
  });
  const childrenOfParent = new Map(plan.map((flow) => [flow.parent.index, flow.children.length]));

  const createStart = performance.now();
  for (const [flow, { parent, children }] of plan.entries()) {
    if (performance.now() - createStart > options.createCapMs) {
      throw new Error(`creating ${sizes.length} flows did not finish within the ${options.createCapMs / 1000} s cap (--fill-cap): ${flow} created`);
    }
    await flows.enqueueFlow(parent, children);
  }
  const createMs = performance.now() - createStart;

  const tracker = new CompletionTracker(total);
  let parentsShortOfResults = 0;
  const startedAt = performance.now();
  const worker = await flows.startWorker({
    concurrency: options.concurrency,
    onChildRun: (job) => tracker.record(job.index),
    onParentRun: (job, childResults) => {
      if (childResults !== childrenOfParent.get(job.index)) parentsShortOfResults++;
      tracker.record(job.index);
    },
  });
  const finished = await tracker.waitUntilDone(startedAt + options.capMs);
  const completed = tracker.distinct;
  const elapsedMs = (finished ? tracker.doneAt! : performance.now()) - startedAt;
  await worker.stop();
  return {
    kind: 'flow',
    flows: sizes.length,
    childrenPerFlow: sizes[0] ?? 0,
    target: total,
    createMs,
    createJobsPerSecond: total / (createMs / 1000),
    completed,
    elapsedMs,
    jobsPerSecond: completed / (elapsedMs / 1000),
    capped: !finished,
    duplicateRuns: tracker.duplicates,
    parentsShortOfResults,
  };
}
