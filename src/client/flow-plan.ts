import {
  type ChildFailurePolicy,
  type FlowJob,
  type NewFlow,
  type RunCondition,
  childFailurePolicies,
  maxFlowJobs,
} from '../contract/flow-store.ts';
import { type AnyJob, type JobDefinition, type JobInput, type JobResult, toJobDefinition } from '../domain/define-job.ts';
import { InvalidFlowError, JobsmithError } from '../domain/errors.ts';
import { newJobId } from '../domain/ids.ts';
import type { EnqueueOptions } from '../domain/job-options.ts';
import { prepareJob } from '../execution/prepare-job.ts';

/** A child named in `step(…, { children })`: by its node name, with what its failure does to this job. */
export interface ChildDependency {
  /** The name of another node of the same `client.flow` call. */
  child: string;
  /** @default 'fail' */
  onChildFailure?: ChildFailurePolicy;
}

/** `step`'s options: the enqueue options, and in `client.flow` the children this job waits for. */
export type FlowStepOptions = EnqueueOptions & {
  /**
   * Nodes of the same `client.flow` call this job waits for, by name (policy `fail`) or with a
   * policy. A job with children runs once they have finished, and reads them with `ctx.children()`.
   */
  children?: ReadonlyArray<string | ChildDependency>;
};

const flowStepBrand = Symbol('jobsmith.flowStep');

/**
 * One job of a flow, chain or batch, built by `step`: its definition, payload and options.
 * `TResult` is what its handler returns, so a parent reading it gets that type.
 */
export interface FlowStep<TInput = unknown, TResult = unknown> {
  readonly job: AnyJob;
  readonly payload: TInput;
  readonly options: FlowStepOptions;
  readonly [flowStepBrand]: true;
  /** Only carries the type; never set. */
  readonly __result?: TResult;
}

/**
 * A job for `client.flow`, `client.chain` or `client.batch`: checked when the flow is created.
 * @example
 * await client.flow({
 *   fetchA: step(fetchPage, { url: a }),
 *   fetchB: step(fetchPage, { url: b }),
 *   merge: step(mergePages, null, { children: ['fetchA', 'fetchB'] }),
 * });
 */
export function step<J extends AnyJob>(job: J, payload: JobInput<J>, options: FlowStepOptions = {}): FlowStep<JobInput<J>, JobResult<J>> {
  return Object.freeze({ job, payload, options, [flowStepBrand]: true as const });
}

/** Callbacks of `client.batch`, each a job that runs once after the items (see `batchNodes`). */
export interface BatchCallbacks {
  /** Runs when every item has finished, however it ended. */
  onComplete?: FlowStep;
  /** Runs when every item completed; cancelled as soon as one fails for good or is cancelled. */
  onSuccess?: FlowStep;
  /** Runs when every item has finished and one or more did not complete; cancelled otherwise. */
  onFailure?: FlowStep;
}

/** One job of a flow as planned: its name in the call, what to run, and what it waits for. */
export interface PlannedNode {
  name: string;
  step: FlowStep;
  dependsOn: Array<{ child: string; onChildFailure: ChildFailurePolicy }>;
  runIf: RunCondition;
}

/** The nodes of `client.flow(record)`: each named by its key, its children from its options. */
export function graphNodes(nodes: Readonly<Record<string, FlowStep>>): PlannedNode[] {
  if (typeof nodes !== 'object' || nodes === null || Array.isArray(nodes)) throw new InvalidFlowError('the flow must be an object of named steps');
  return Object.entries(nodes).map(([name, flowStep]) => {
    checkStep(name, flowStep);
    const children = flowStep.options.children ?? [];
    if (!Array.isArray(children)) throw new InvalidFlowError(`the children of "${name}" must be an array`, { details: { job: name } });
    const dependsOn = children.map((entry: unknown) => {
      const dependency = typeof entry === 'string' ? { child: entry } : (entry as ChildDependency);
      if (typeof dependency !== 'object' || dependency === null || typeof dependency.child !== 'string') {
        throw new InvalidFlowError(`"${name}" lists a child that is neither a name nor { child, onChildFailure }`, { details: { job: name } });
      }
      const policy = dependency.onChildFailure ?? 'fail';
      if (!childFailurePolicies.includes(policy)) {
        throw new InvalidFlowError(`"${name}" gives child "${dependency.child}" the policy ${JSON.stringify(policy)}; expected one of ${childFailurePolicies.join(', ')}`, {
          details: { job: name },
        });
      }
      return { child: dependency.child, onChildFailure: policy };
    });
    return { name, step: flowStep, dependsOn, runIf: 'always' };
  });
}

/** The nodes of `client.chain(steps)`: each waits for the one before, policy `cancel`. */
export function chainNodes(steps: readonly FlowStep[]): PlannedNode[] {
  if (!Array.isArray(steps)) throw new InvalidFlowError('a chain must be an array of steps');
  return steps.map((flowStep, index) => {
    const name = `step ${index}`;
    checkStep(name, flowStep, 'a chain');
    return { name, step: flowStep, dependsOn: index === 0 ? [] : [{ child: `step ${index - 1}`, onChildFailure: 'cancel' }], runIf: 'always' };
  });
}

/**
 * The nodes of `client.batch(items, callbacks)`: the items wait for nothing; `onComplete`
 * waits for all of them (`ignore`), `onSuccess` too (`cancel`: one failure cancels it), and
 * `onFailure` (`ignore`, run only if one did not complete).
 */
export function batchNodes(items: readonly FlowStep[], callbacks: BatchCallbacks): PlannedNode[] {
  if (!Array.isArray(items)) throw new InvalidFlowError('a batch must be an array of steps');
  if (items.length === 0) throw new InvalidFlowError('a batch needs at least one item');
  const nodes: PlannedNode[] = items.map((flowStep, index) => {
    const name = `item ${index}`;
    checkStep(name, flowStep, 'a batch');
    return { name, step: flowStep, dependsOn: [], runIf: 'always' };
  });
  // The items only: the callbacks pushed below wait for the items, never for each other.
  const itemNames = nodes.map((item) => item.name);
  const on = (policy: ChildFailurePolicy) => itemNames.map((child) => ({ child, onChildFailure: policy }));
  const callbackRules: Record<keyof BatchCallbacks, { policy: ChildFailurePolicy; runIf: RunCondition }> = {
    onComplete: { policy: 'ignore', runIf: 'always' },
    onSuccess: { policy: 'cancel', runIf: 'always' },
    onFailure: { policy: 'ignore', runIf: 'any-child-failed' },
  };
  if (typeof callbacks !== 'object' || callbacks === null) throw new InvalidFlowError('the batch callbacks must be an object');
  for (const name of Object.keys(callbacks)) {
    if (!(name in callbackRules)) throw new InvalidFlowError(`"${name}" is no batch callback; expected onComplete, onSuccess or onFailure`);
  }
  for (const [name, rule] of Object.entries(callbackRules) as Array<[keyof BatchCallbacks, (typeof callbackRules)[keyof BatchCallbacks]]>) {
    const callback = callbacks[name];
    if (callback === undefined) continue;
    checkStep(name, callback, 'a batch');
    nodes.push({ name, step: callback, dependsOn: on(rule.policy), runIf: rule.runIf });
  }
  return nodes;
}

/**
 * Checks a flow and builds what the backend writes: every problem is an `InvalidFlowError`
 * naming it, found before anything is written. Payloads and options are checked as `enqueue`
 * checks them (`prepareJob`); ids come from the job id generator.
 */
export async function planFlow(
  nodes: readonly PlannedNode[],
  now: number,
  definitionOf: (job: AnyJob) => JobDefinition = toJobDefinition,
): Promise<{ flow: NewFlow; ids: Map<string, string> }> {
  if (nodes.length === 0) throw new InvalidFlowError('the flow has no job');
  if (nodes.length > maxFlowJobs) throw new InvalidFlowError(`the flow has ${nodes.length} jobs, more than the ${maxFlowJobs} one flow may hold`, { details: { jobs: nodes.length, max: maxFlowJobs } });
  const byName = new Map<string, PlannedNode>();
  for (const node of nodes) {
    if (byName.has(node.name)) throw new InvalidFlowError(`the name "${node.name}" is used twice`, { details: { job: node.name } });
    byName.set(node.name, node);
  }
  for (const node of nodes) {
    const seen = new Set<string>();
    for (const { child } of node.dependsOn) {
      if (!byName.has(child)) throw new InvalidFlowError(`"${node.name}" lists child "${child}", which is not in the flow`, { details: { job: node.name, child } });
      if (seen.has(child)) throw new InvalidFlowError(`"${node.name}" lists child "${child}" twice`, { details: { job: node.name, child } });
      seen.add(child);
    }
    const { key, delay, runAt } = node.step.options;
    if (key !== undefined) throw new InvalidFlowError(`"${node.name}" has a key, which a job of a flow cannot have`, { details: { job: node.name } });
    if (node.dependsOn.length > 0 && (delay !== undefined || runAt !== undefined)) {
      throw new InvalidFlowError(`"${node.name}" has children and a ${delay !== undefined ? 'delay' : 'runAt'}: a job with children runs when they have finished`, {
        details: { job: node.name },
      });
    }
  }
  const cycle = findCycle(nodes);
  if (cycle) throw new InvalidFlowError(`a cycle: ${cycle.map((name) => `"${name}"`).join(' waits for ')}`, { details: { cycle } });

  const ids = new Map<string, string>();
  const jobs: FlowJob[] = [];
  for (const node of nodes) {
    const { children: _children, ...options } = node.step.options;
    let prepared;
    try {
      prepared = await prepareJob(definitionOf(node.step.job), node.step.payload, options, now);
    } catch (error) {
      if (!(error instanceof JobsmithError)) throw error;
      throw new InvalidFlowError(`"${node.name}": ${error.message.replace(/\.$/, '')}`, { cause: error, details: { job: node.name, code: error.code } });
    }
    ids.set(node.name, prepared.id);
    jobs.push({ ...prepared, dependsOn: [], runIf: node.runIf });
  }
  nodes.forEach((node, index) => {
    jobs[index] = { ...jobs[index]!, dependsOn: node.dependsOn.map(({ child, onChildFailure }) => ({ childId: ids.get(child)!, onChildFailure })) };
  });
  return { flow: { flowId: newJobId(now), jobs }, ids };
}

function checkStep(name: string, flowStep: unknown, inside?: string): asserts flowStep is FlowStep {
  if (typeof flowStep !== 'object' || flowStep === null || !(flowStepBrand in flowStep)) {
    throw new InvalidFlowError(`"${name}" is not a step: build each job with step(job, payload, options)`, { details: { job: name } });
  }
  if (inside !== undefined && (flowStep as FlowStep).options.children !== undefined) {
    throw new InvalidFlowError(`"${name}" lists children, which ${inside} decides itself`, { details: { job: name } });
  }
}

/**
 * A cycle of the graph as names (the first repeated last), or null. Kahn's order removes
 * every job whose children are all removed; what remains holds a cycle, which a walk along
 * remaining dependencies finds. Iterative: a flow may be `maxFlowJobs` deep.
 */
function findCycle(nodes: readonly PlannedNode[]): string[] | null {
  const pending = new Map(nodes.map((node) => [node.name, node.dependsOn.length]));
  const parentsOf = new Map<string, string[]>();
  for (const node of nodes) {
    for (const { child } of node.dependsOn) {
      const parents = parentsOf.get(child);
      if (parents) parents.push(node.name);
      else parentsOf.set(child, [node.name]);
    }
  }
  const ready = nodes.filter((node) => node.dependsOn.length === 0).map((node) => node.name);
  for (let name = ready.pop(); name !== undefined; name = ready.pop()) {
    pending.delete(name);
    for (const parent of parentsOf.get(name) ?? []) {
      const left = pending.get(parent)! - 1;
      pending.set(parent, left);
      if (left === 0) ready.push(parent);
    }
  }
  if (pending.size === 0) return null;
  const byName = new Map(nodes.map((node) => [node.name, node]));
  const path: string[] = [];
  const at = new Map<string, number>();
  let name = pending.keys().next().value!;
  while (!at.has(name)) {
    at.set(name, path.length);
    path.push(name);
    name = byName.get(name)!.dependsOn.find(({ child }) => pending.has(child))!.child;
  }
  return [...path.slice(at.get(name)), name];
}
