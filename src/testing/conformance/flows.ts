import { expect } from 'vitest';
import type { ClaimedJob, NewJob } from '../../contract/backend.ts';
import {
  type ChildFailurePolicy,
  type FlowJob,
  type RunCondition,
  childFailedError,
  flowConditionUnmetError,
  waitingForChildrenRunAt,
} from '../../contract/flow-store.ts';
import { type JobDefinition, defineJob } from '../../domain/define-job.ts';
import { isJobsmithError } from '../../domain/errors.ts';
import { newJobId } from '../../domain/ids.ts';
import type { EnqueueOptions } from '../../domain/job-options.ts';
import type { JobRecord } from '../../domain/job-record.ts';
import type { JsonValue } from '../../domain/json-value.ts';
import { step } from '../../client/flow-plan.ts';
import { testWithCapability } from './capabilities.ts';
import type { ConformanceSuite } from './index.ts';

/** A dependency as the tests write it: the child's label, and its policy when not the default `fail`. */
type Dependency = string | [string, ChildFailurePolicy];

interface NodeSpec {
  dependsOn?: Dependency[];
  runIf?: RunCondition;
  definition?: JobDefinition;
  /** By default each job has a queue of its own (`q-<label>`), so a claim can pick it out. */
  options?: EnqueueOptions;
}

/**
 * Capability `flows` (contract/flow-store.ts): parents that wait for their children, released
 * once, each child failure policy, cascades, cancel, retry, delete and prune in a flow. Driven
 * through the backend contract with the fake clock; every rule of flow-store.ts has a test here.
 */
export function flowTests(suite: ConformanceSuite): void {
  const test = testWithCapability(suite, 'flows');
  const { newJob, enqueueOne, startWorker, untilState, eventually } = suite;

  const flowJob = defineJob({ name: 'flow-job', run: () => null });
  const flowChild = defineJob({ name: 'flow-child', run: () => null });
  const failure = (at: number) => ({ name: 'Error', message: 'it broke', at, attempt: 1 });

  /** Writes a flow of labelled jobs; returns its id and each label's job id. */
  const enqueueFlow = async (nodes: Record<string, NodeSpec>) => {
    const { backend } = suite.current();
    const rows = new Map<string, NewJob>();
    for (const [label, node] of Object.entries(nodes)) {
      rows.set(label, await newJob(node.definition ?? flowJob, { label }, { queue: `q-${label}`, ...node.options }));
    }
    const jobs: FlowJob[] = Object.entries(nodes).map(([label, node]) => ({
      ...rows.get(label)!,
      dependsOn: (node.dependsOn ?? []).map((dependency) => {
        const [child, policy] = typeof dependency === 'string' ? [dependency, 'fail' as const] : dependency;
        return { childId: rows.get(child)!.id, onChildFailure: policy };
      }),
      runIf: node.runIf ?? 'always',
    }));
    const flowId = newJobId(suite.current().clock.now());
    await backend.enqueueFlow!({ flowId, jobs });
    const ids = Object.fromEntries([...rows].map(([label, row]) => [label, row.id]));
    return { flowId, ids };
  };

  const record = async (id: string): Promise<JobRecord> => {
    const found = await suite.current().backend.get(id);
    expect(found, `job ${id}`).not.toBeNull();
    return found!;
  };

  /** Claims exactly this job, by its own queue and name. */
  const claim = async (id: string, workerId = 'w1', leaseMs = 1000): Promise<ClaimedJob> => {
    const { queue, name } = await record(id);
    const { jobs } = await suite.current().backend.claim({ workerId, leaseMs, queues: [queue], names: [name], limit: 1 });
    expect(jobs.map((job) => job.id)).toEqual([id]);
    return jobs[0]!;
  };

  const complete = async (id: string, result: JsonValue = null) => {
    const { token } = (await claim(id)).lease;
    expect((await suite.current().backend.settle([{ id, token, kind: 'complete', result, expiresAt: null }])).applied).toEqual([true]);
    return token;
  };

  const fail = async (id: string, hookPending = false) => {
    const { token } = (await claim(id)).lease;
    const error = failure(suite.current().clock.now());
    const settlement = { id, token, kind: 'fail' as const, error, countAttempt: true, expiresAt: null, hookPending };
    expect((await suite.current().backend.settle([settlement])).applied).toEqual([true]);
    return token;
  };

  const waiting = (flowId: string, children: number, pendingChildren: number, hasParents = false) => ({
    state: 'scheduled',
    runAt: waitingForChildrenRunAt,
    flow: { flowId, children, pendingChildren, hasParents },
  });

  test('a parent waits as scheduled, shown in get and in list, until its last child completes; then it is queued', async ({ clock, backend }) => {
    const { flowId, ids } = await enqueueFlow({ a: {}, b: {}, parent: { dependsOn: ['a', 'b'] } });
    expect(await record(ids.parent!)).toMatchObject(waiting(flowId, 2, 2));
    expect(await record(ids.a!)).toMatchObject({ state: 'queued', flow: { flowId, children: 0, pendingChildren: 0, hasParents: true } });
    const listed = (await backend.list({})).jobs;
    expect(listed.find((job) => job.id === ids.parent)).toMatchObject(waiting(flowId, 2, 2));
    expect(listed.find((job) => job.id === ids.b)).toMatchObject({ state: 'queued', flow: { flowId, children: 0, pendingChildren: 0, hasParents: true } });
    expect((await backend.list({ state: 'scheduled' })).jobs.map((job) => job.id)).toEqual([ids.parent]);

    // A claim over every queue takes the children, never the waiting parent.
    const claimed = await backend.claim({ workerId: 'w1', leaseMs: 1000, queues: ['q-a', 'q-b', 'q-parent'], names: ['flow-job'], limit: 10 });
    expect(claimed.jobs.map((job) => job.id).sort()).toEqual([ids.a, ids.b].sort());
    const token = (id: string) => claimed.jobs.find((job) => job.id === id)!.lease.token;
    await backend.settle([{ id: ids.a!, token: token(ids.a!), kind: 'complete', result: { from: 'a' }, expiresAt: null }]);
    expect(await record(ids.parent!)).toMatchObject(waiting(flowId, 2, 1));
    await clock.advance(10);
    await backend.settle([{ id: ids.b!, token: token(ids.b!), kind: 'complete', result: { from: 'b' }, expiresAt: null }]);
    expect(await record(ids.parent!)).toMatchObject({ state: 'queued', runAt: clock.now(), flow: { flowId, children: 2, pendingChildren: 0, hasParents: false } });
    const parent = await claim(ids.parent!);
    expect(parent.payload).toEqual({ label: 'parent' });
    expect((await backend.listChildren!(ids.parent!)).map(({ id, state, result }) => ({ id, state, result }))).toEqual([
      { id: ids.a, state: 'completed', result: { from: 'a' } },
      { id: ids.b, state: 'completed', result: { from: 'b' } },
    ]);
  });

  test('stats count a waiting parent as scheduled and as waiting for children, until it is released, failed, cancelled or deleted', async ({ backend }) => {
    // One queue holds a parent waiting for two children and a plain delayed job; a child has another name, so each claim picks one job.
    const here = { queue: 'q-stats' };
    const { ids } = await enqueueFlow({ a: { options: here }, b: { options: here, definition: flowChild }, parent: { options: here, dependsOn: ['a', 'b'] } });
    await enqueueOne(await newJob(flowJob, { label: 'delayed' }, { ...here, delay: '1h' }));
    const failing = await enqueueFlow({ broken: {}, failParent: { dependsOn: ['broken'] } });
    const cancelled = await enqueueFlow({ kid: {}, mid: { dependsOn: ['kid'] }, top: { dependsOn: ['mid'] } });
    const deleted = await enqueueFlow({ orphan: {}, gone: { dependsOn: ['orphan'] } });
    const inQueue = async (queue: string) => {
      const found = (await backend.stats()).queues.find((row) => row.queue === queue);
      expect(found, `queue ${queue}`).toBeDefined();
      return { scheduled: found!.counts.scheduled, waitingForChildren: found!.waitingForChildren };
    };

    const before = await backend.stats();
    expect(before.queues.find((row) => row.queue === 'q-stats')).toMatchObject({ counts: { scheduled: 2, queued: 2 }, waitingForChildren: 1 });
    expect(await inQueue('q-mid')).toEqual({ scheduled: 1, waitingForChildren: 1 });
    expect(await inQueue('q-kid')).toEqual({ scheduled: 0, waitingForChildren: 0 });
    expect(before).toMatchObject({ counts: { scheduled: 6 }, waitingForChildren: 5 });
    expect(before.queues.reduce((sum, row) => sum + row.waitingForChildren, 0)).toBe(5);

    await complete(ids.a!);
    expect(await inQueue('q-stats')).toEqual({ scheduled: 2, waitingForChildren: 1 });
    await complete(ids.b!);
    expect(await inQueue('q-stats')).toEqual({ scheduled: 1, waitingForChildren: 0 });
    expect((await backend.stats()).queues.find((row) => row.queue === 'q-stats')).toMatchObject({ counts: { scheduled: 1, queued: 1, completed: 2 } });

    await fail(failing.ids.broken!);
    expect(await inQueue('q-failParent')).toEqual({ scheduled: 0, waitingForChildren: 0 });
    // Cancelling a waiting parent cancels the waiting parent below it too.
    expect(await backend.cancel(cancelled.ids.top!)).toMatchObject({ outcome: 'cancelled' });
    expect(await inQueue('q-top')).toEqual({ scheduled: 0, waitingForChildren: 0 });
    expect(await inQueue('q-mid')).toEqual({ scheduled: 0, waitingForChildren: 0 });
    expect(await backend.delete(deleted.ids.gone!)).toBe(true);

    const after = await backend.stats();
    expect(after).toMatchObject({ counts: { scheduled: 1 }, waitingForChildren: 0 });
    expect(after.queues.every((row) => row.waitingForChildren === 0)).toBe(true);
  });

  test('a settle written twice (the same lease) resolves its parents once', async ({ clock, backend }) => {
    const { flowId, ids } = await enqueueFlow({ a: {}, b: {}, parent: { dependsOn: ['a', 'b'] } });
    const token = await complete(ids.a!, 1);
    await clock.advance(10);
    expect((await backend.settle([{ id: ids.a!, token, kind: 'complete', result: 1, expiresAt: null }])).applied).toEqual([true]);
    expect(await record(ids.parent!)).toMatchObject(waiting(flowId, 2, 1));
    await complete(ids.b!, 2);
    const releasedAt = clock.now();
    await clock.advance(10);
    await backend.settle([{ id: ids.a!, token, kind: 'complete', result: 1, expiresAt: null }]);
    expect(await record(ids.parent!)).toMatchObject({ state: 'queued', runAt: releasedAt, flow: { pendingChildren: 0 } });
  });

  test('a zombie attempt (lease lost) of a child changes neither the child nor its parent', async ({ clock, backend }) => {
    const { flowId, ids } = await enqueueFlow({ child: {}, parent: { dependsOn: ['child'] } });
    const zombie = await claim(ids.child!, 'w1');
    await clock.advance(1500);
    const taker = await claim(ids.child!, 'w2');
    expect(taker.recovered).toBe(true);
    const late = await backend.settle([{ id: ids.child!, token: zombie.lease.token, kind: 'complete', result: 'late', expiresAt: null }]);
    expect(late.applied).toEqual([false]);
    expect(await record(ids.child!)).toMatchObject({ state: 'running', result: null });
    expect(await record(ids.parent!)).toMatchObject(waiting(flowId, 1, 1));
    const lateFailure = await backend.settle([
      { id: ids.child!, token: zombie.lease.token, kind: 'fail', error: failure(clock.now()), countAttempt: true, expiresAt: null, hookPending: false },
    ]);
    expect(lateFailure.applied).toEqual([false]);
    expect(await record(ids.parent!)).toMatchObject(waiting(flowId, 1, 1));
    await backend.settle([{ id: ids.child!, token: taker.lease.token, kind: 'complete', result: 'taker', expiresAt: null }]);
    expect(await record(ids.parent!)).toMatchObject({ state: 'queued', flow: { pendingChildren: 0 } });
  });

  test("policy 'fail': a child failing for good fails the waiting parent at that write, with the child's id and name", async ({ clock, backend }) => {
    const { flowId, ids } = await enqueueFlow({ broken: { definition: flowChild }, other: {}, parent: { dependsOn: ['broken', 'other'] } });
    await clock.advance(5);
    await fail(ids.broken!);
    const now = clock.now();
    const parent = await record(ids.parent!);
    expect(parent).toMatchObject({
      state: 'failed',
      finishedAt: now,
      expiresAt: now + parent.keepFailedMs!,
      failedHook: null,
      attempts: 0,
      flow: { flowId, children: 2, pendingChildren: 1, hasParents: false },
    });
    expect(parent.error).toEqual(childFailedError({ id: ids.broken!, name: 'flow-child', state: 'failed' }, now));
    expect(parent.error).toEqual({ name: 'ChildFailedError', code: 'CHILD_FAILED', message: `Child job ${ids.broken} (flow-child) failed.`, at: now, attempt: 0 });
    // The other child still finishes; the parent keeps its state, and its counter still goes down.
    await complete(ids.other!);
    expect(await record(ids.parent!)).toMatchObject({ state: 'failed', finishedAt: now, flow: { pendingChildren: 0 } });
  });

  test("policy 'cancel': a child cancelled while queued cancels the waiting parent with the reason", async ({ clock, backend }) => {
    const { ids } = await enqueueFlow({ child: { definition: flowChild }, parent: { dependsOn: [['child', 'cancel']] } });
    expect(await backend.cancel(ids.child!)).toMatchObject({ outcome: 'cancelled' });
    const parent = await record(ids.parent!);
    expect(parent).toMatchObject({ state: 'cancelled', finishedAt: clock.now() });
    expect(parent.error).toEqual(childFailedError({ id: ids.child!, name: 'flow-child', state: 'cancelled' }, clock.now()));
    expect(parent.error!.message).toBe(`Child job ${ids.child} (flow-child) was cancelled.`);

    // A running child whose attempt settles as cancelled resolves its parent in that write.
    const running = await enqueueFlow({ child2: {}, parent2: { dependsOn: [['child2', 'cancel']] } });
    const { lease } = await claim(running.ids.child2!);
    expect(await backend.cancel(running.ids.child2!)).toMatchObject({ outcome: 'cancel-requested' });
    expect(await record(running.ids.parent2!)).toMatchObject({ state: 'scheduled' });
    await clock.advance(5);
    await backend.settle([{ id: running.ids.child2!, token: lease.token, kind: 'cancel', error: null, expiresAt: null }]);
    expect(await record(running.ids.parent2!)).toMatchObject({ state: 'cancelled', finishedAt: clock.now(), error: { code: 'CHILD_FAILED' } });
  });

  test("policy 'ignore': a failed child counts as finished; the parent runs when the last one finishes", async ({ clock, backend }) => {
    const { flowId, ids } = await enqueueFlow({ a: {}, b: {}, parent: { dependsOn: [['a', 'ignore'], ['b', 'ignore']] } });
    await fail(ids.a!);
    expect(await record(ids.parent!)).toMatchObject(waiting(flowId, 2, 1));
    // Each dependency is resolved once: the child retried and completed does not count again.
    await backend.retry(ids.a!);
    await complete(ids.a!);
    expect(await record(ids.parent!)).toMatchObject(waiting(flowId, 2, 1));
    await complete(ids.b!);
    expect(await record(ids.parent!)).toMatchObject({ state: 'queued', runAt: clock.now(), error: null, flow: { pendingChildren: 0 } });
  });

  test("policy 'continue': a failed child releases the parent at once; its other children no longer hold it", async ({ clock, backend }) => {
    const { ids } = await enqueueFlow({ a: {}, b: {}, parent: { dependsOn: [['a', 'continue'], 'b'] } });
    await fail(ids.a!);
    const releasedAt = clock.now();
    expect(await record(ids.parent!)).toMatchObject({ state: 'queued', runAt: releasedAt, flow: { pendingChildren: 1 } });
    await clock.advance(10);
    // b fails too, with policy 'fail': the parent is no longer waiting, so it keeps its state.
    await fail(ids.b!);
    expect(await record(ids.parent!)).toMatchObject({ state: 'queued', runAt: releasedAt, error: null, flow: { pendingChildren: 0 } });
    expect((await backend.listChildren!(ids.parent!)).map((child) => child.state)).toEqual(['failed', 'failed']);
  });

  test("runIf 'any-child-failed': cancelled when every child completed, run when one did not", async ({ clock }) => {
    const onFailure = { runIf: 'any-child-failed' as const };
    const allGood = await enqueueFlow({ a: {}, b: {}, callback: { ...onFailure, dependsOn: [['a', 'ignore'], ['b', 'ignore']] } });
    await complete(allGood.ids.a!);
    await complete(allGood.ids.b!);
    const skipped = await record(allGood.ids.callback!);
    expect(skipped).toMatchObject({ state: 'cancelled', finishedAt: clock.now() });
    expect(skipped.error).toEqual(flowConditionUnmetError(clock.now()));

    const oneBad = await enqueueFlow({ c: {}, d: {}, callback2: { ...onFailure, dependsOn: [['c', 'ignore'], ['d', 'ignore']] } });
    await fail(oneBad.ids.c!);
    expect(await record(oneBad.ids.callback2!)).toMatchObject({ state: 'scheduled', runAt: waitingForChildrenRunAt });
    await complete(oneBad.ids.d!);
    expect(await record(oneBad.ids.callback2!)).toMatchObject({ state: 'queued', runAt: clock.now(), error: null });
  });

  test('a child with several parents resolves each by its own policy', async ({ clock }) => {
    const { flowId, ids } = await enqueueFlow({
      shared: {},
      solo: {},
      strict: { dependsOn: ['shared'] },
      lenient: { dependsOn: [['shared', 'ignore'], 'solo'] },
      eager: { dependsOn: [['shared', 'continue'], 'solo'] },
    });
    expect(await record(ids.shared!)).toMatchObject({ flow: { flowId, children: 0, pendingChildren: 0, hasParents: true } });
    await fail(ids.shared!);
    expect(await record(ids.strict!)).toMatchObject({ state: 'failed', error: { code: 'CHILD_FAILED' } });
    expect(await record(ids.lenient!)).toMatchObject(waiting(flowId, 2, 1));
    expect(await record(ids.eager!)).toMatchObject({ state: 'queued', runAt: clock.now(), flow: { pendingChildren: 1 } });
    await complete(ids.solo!);
    expect(await record(ids.lenient!)).toMatchObject({ state: 'queued', flow: { pendingChildren: 0 } });

    // The same shape, the shared child completing: every parent whose children are done runs.
    const second = await enqueueFlow({ s: {}, p1: { dependsOn: ['s'] }, p2: { dependsOn: [['s', 'cancel']] } });
    await complete(second.ids.s!, 'shared result');
    expect(await record(second.ids.p1!)).toMatchObject({ state: 'queued' });
    expect(await record(second.ids.p2!)).toMatchObject({ state: 'queued' });
  });

  test('a failure cascades up through three levels, each by its own policy', async ({ clock }) => {
    const { ids } = await enqueueFlow({
      leaf: {},
      aside: {},
      level1: { dependsOn: ['leaf'] },
      level2: { dependsOn: [['aside', 'ignore'], 'level1'] },
      level3: { dependsOn: [['level2', 'cancel']] },
    });
    await clock.advance(7);
    await fail(ids.leaf!);
    const now = clock.now();
    const expected = [
      ['level1', 'failed', { id: ids.leaf!, state: 'failed' }],
      ['level2', 'failed', { id: ids.level1!, state: 'failed' }],
      ['level3', 'cancelled', { id: ids.level2!, state: 'failed' }],
    ] as const;
    for (const [label, state, child] of expected) {
      const job = await record(ids[label]!);
      expect(job).toMatchObject({ state, finishedAt: now });
      expect(job.error).toEqual(childFailedError({ ...child, name: 'flow-job' }, now));
    }
    // A job beside the cascade is not touched by it.
    expect(await record(ids.aside!)).toMatchObject({ state: 'queued' });
  });

  test('a chain of 2,000 jobs failing at its first job cancels every other one in the same write', async ({ clock, backend }) => {
    const length = 2000;
    const rows: NewJob[] = [];
    for (let index = 0; index < length; index++) rows.push(await newJob(flowJob, index, { queue: 'chain' }));
    const jobs: FlowJob[] = rows.map((row, index) => ({
      ...row,
      dependsOn: index === 0 ? [] : [{ childId: rows[index - 1]!.id, onChildFailure: 'cancel' }],
      runIf: 'always',
    }));
    const flowId = newJobId(clock.now());
    await backend.enqueueFlow!({ flowId, jobs });
    expect(await backend.flowProgress!(flowId)).toMatchObject({ total: length, finished: 0, counts: { queued: 1, scheduled: length - 1 }, leaves: { total: 1, finished: 0 } });
    await fail(rows[0]!.id);
    const now = clock.now();
    expect(await backend.flowProgress!(flowId)).toMatchObject({
      total: length,
      finished: length,
      counts: { queued: 0, scheduled: 0, running: 0, completed: 0, failed: 1, cancelled: length - 1 },
      leaves: { total: 1, finished: 1 },
    });
    expect((await record(rows[1]!.id)).error).toEqual(childFailedError({ id: rows[0]!.id, name: 'flow-job', state: 'failed' }, now));
    expect((await record(rows[length - 1]!.id)).error).toEqual(childFailedError({ id: rows[length - 2]!.id, name: 'flow-job', state: 'cancelled' }, now));
  });

  test('cancelling a waiting parent cancels its unfinished descendants: waiting ones at once, running ones asked to stop', async ({ backend }) => {
    const { ids } = await enqueueFlow({
      done: {},
      running: {},
      queued: {},
      middle: { dependsOn: ['running', 'queued'] },
      direct: {},
      top: { dependsOn: ['middle', 'direct', 'done'] },
    });
    await complete(ids.done!, 'kept');
    const runningLease = await claim(ids.running!);
    expect(await backend.cancel(ids.top!)).toMatchObject({ outcome: 'cancelled', job: { id: ids.top, state: 'cancelled' } });
    for (const label of ['middle', 'queued', 'direct']) expect(await record(ids[label]!)).toMatchObject({ state: 'cancelled' });
    expect(await record(ids.done!)).toMatchObject({ state: 'completed', result: 'kept' });
    expect(await record(ids.running!)).toMatchObject({ state: 'running', cancelRequested: true });
    expect((await backend.renewLeases([{ id: ids.running!, token: runningLease.lease.token }], 1000))[0]).toMatchObject({ held: true, cancelRequested: true });
    await backend.settle([{ id: ids.running!, token: runningLease.lease.token, kind: 'cancel', error: null, expiresAt: null }]);
    expect(await record(ids.running!)).toMatchObject({ state: 'cancelled' });
    expect(await record(ids.middle!)).toMatchObject({ state: 'cancelled' });
  });

  test('cancelling a waiting parent cancels a diamond below it: a descendant that is also a parent of another is cancelled, not failed by it', async () => {
    // Both orders of the top's children: the result must not depend on which the store walks first.
    for (const order of [['upper', 'shared'], ['shared', 'upper']]) {
      const { ids } = await enqueueFlow({ shared: {}, upper: { dependsOn: ['shared'] }, top: { dependsOn: order } });
      expect(await suite.current().backend.cancel(ids.top!)).toMatchObject({ outcome: 'cancelled' });
      for (const label of ['shared', 'upper', 'top']) expect(await record(ids[label]!), `${label} (order ${order.join(', ')})`).toMatchObject({ state: 'cancelled' });
    }
  });

  test('a cancel-requested child whose lease lapsed is cancelled by the next claim, which resolves its parent', async ({ clock, backend }) => {
    const { ids } = await enqueueFlow({ child: {}, parent: { dependsOn: [['child', 'cancel']] } });
    await claim(ids.child!);
    expect(await backend.cancel(ids.child!)).toMatchObject({ outcome: 'cancel-requested' });
    await clock.advance(1500);
    const { jobs } = await backend.claim({ workerId: 'w2', leaseMs: 1000, queues: ['q-child'], names: ['flow-job'], limit: 1 });
    expect(jobs).toEqual([]);
    expect(await record(ids.child!)).toMatchObject({ state: 'cancelled' });
    const parent = await record(ids.parent!);
    expect(parent).toMatchObject({ state: 'cancelled', finishedAt: clock.now() });
    expect(parent.error).toEqual(childFailedError({ id: ids.child!, name: 'flow-job', state: 'cancelled' }, clock.now()));
  });

  test('a child failing with its failed hook pending resolves its parent at the write that stores the failure', async ({ clock, backend }) => {
    const { ids } = await enqueueFlow({ child: {}, sibling: {}, parent: { dependsOn: ['child'] }, lenient: { dependsOn: [['child', 'ignore'], 'sibling'] } });
    const token = await fail(ids.child!, true);
    expect(await record(ids.child!)).toMatchObject({ state: 'failed', failedHook: 'pending' });
    expect(await record(ids.parent!)).toMatchObject({ state: 'failed', finishedAt: clock.now(), error: { code: 'CHILD_FAILED' } });
    expect(await record(ids.lenient!)).toMatchObject({ state: 'scheduled', flow: { pendingChildren: 1 } });
    await clock.advance(10);
    expect((await backend.settle([{ id: ids.child!, token, kind: 'hook-done' }])).applied).toEqual([true]);
    // The hook's end resolves nothing a second time.
    expect(await record(ids.lenient!)).toMatchObject({ state: 'scheduled', flow: { pendingChildren: 1 } });
  });

  test('retrying a parent failed by a child runs it, without waiting again, with its children as stored', async ({ backend }) => {
    const { ids } = await enqueueFlow({ bad: {}, good: {}, parent: { dependsOn: ['bad', 'good'] } });
    await complete(ids.good!, 'good result');
    await fail(ids.bad!);
    expect(await record(ids.parent!)).toMatchObject({ state: 'failed' });
    expect(await backend.retry(ids.parent!)).toMatchObject({ state: 'queued', id: ids.parent });
    const claimed = await claim(ids.parent!);
    expect(claimed.flow).toMatchObject({ children: 2, pendingChildren: 0 });
    const children = await backend.listChildren!(ids.parent!);
    expect(children.map(({ id, state, result }) => ({ id, state, result }))).toEqual([
      { id: ids.bad, state: 'failed', result: null },
      { id: ids.good, state: 'completed', result: 'good result' },
    ]);
    expect(children[0]!.error).toMatchObject({ message: 'it broke' });
    await backend.settle([{ id: ids.parent!, token: claimed.lease.token, kind: 'complete', result: 'recovered', expiresAt: null }]);
    expect(await record(ids.parent!)).toMatchObject({ state: 'completed', result: 'recovered' });
  });

  test('deleting a child that had not finished resolves its parents as if it was cancelled', async ({ clock, backend }) => {
    const { flowId, ids } = await enqueueFlow({ child: { definition: flowChild }, other: {}, strict: { dependsOn: [['child', 'cancel']] }, lenient: { dependsOn: [['child', 'ignore'], 'other'] } });
    expect(await backend.delete(ids.child!)).toBe(true);
    const strict = await record(ids.strict!);
    expect(strict).toMatchObject({ state: 'cancelled' });
    expect(strict.error).toEqual(childFailedError({ id: ids.child!, name: 'flow-child', state: 'cancelled' }, clock.now()));
    expect(await record(ids.lenient!)).toMatchObject(waiting(flowId, 2, 1));
    expect((await backend.listChildren!(ids.lenient!))[0]).toEqual({ id: ids.child, name: 'flow-child', state: null, result: null, error: null, onChildFailure: 'ignore', finishedAt: null });
    await complete(ids.other!);
    expect(await record(ids.lenient!)).toMatchObject({ state: 'queued' });
  });

  test('deleting a waiting parent removes its dependencies; its children stay and finish as jobs of the flow', async ({ backend }) => {
    const { flowId, ids } = await enqueueFlow({ a: {}, b: {}, parent: { dependsOn: ['a', 'b'] } });
    expect(await backend.delete(ids.parent!)).toBe(true);
    expect(await backend.get(ids.parent!)).toBeNull();
    expect(await backend.listChildren!(ids.parent!)).toEqual([]);
    expect(await record(ids.a!)).toMatchObject({ state: 'queued', flow: { flowId, children: 0, pendingChildren: 0, hasParents: false } });
    await complete(ids.a!, 'alone');
    await fail(ids.b!);
    expect(await record(ids.a!)).toMatchObject({ state: 'completed', result: 'alone' });
    expect(await backend.flowProgress!(flowId)).toMatchObject({ total: 2, finished: 2, counts: { completed: 1, failed: 1 }, leaves: { total: 2, finished: 2 } });
  });

  test('prune keeps a finished child while a parent of it has not finished, and removes it after', async ({ clock, backend }) => {
    const { ids } = await enqueueFlow({ a: {}, b: {}, parent: { dependsOn: ['a', 'b'] } });
    const outside = await enqueueOne(await newJob(flowJob, null, { queue: 'outside' }));
    await complete(ids.a!, 'a result');
    await complete(outside.id);
    await clock.advance(1000);
    expect(await backend.prune({ finishedBy: clock.now() })).toBe(1);
    expect(await backend.get(outside.id)).toBeNull();
    expect(await record(ids.a!)).toMatchObject({ state: 'completed' });
    await complete(ids.b!);
    const parent = await claim(ids.parent!);
    await clock.advance(1000);
    // Running is not finished either.
    expect(await backend.prune({ finishedBy: clock.now() })).toBe(0);
    expect((await backend.listChildren!(ids.parent!)).map((child) => child.result)).toEqual(['a result', null]);
    await backend.settle([{ id: ids.parent!, token: parent.lease.token, kind: 'complete', result: null, expiresAt: null }]);
    expect(await backend.prune({ finishedBy: clock.now() })).toBe(3);
  });

  test('listChildren: in the order the dependencies were given, each child as the parent reads it, null state once deleted', async ({ clock, backend }) => {
    const { ids } = await enqueueFlow({
      first: { definition: flowChild },
      second: { definition: flowChild },
      third: {},
      parent: { dependsOn: [['third', 'ignore'], 'first', ['second', 'continue']] },
    });
    await complete(ids.first!, { value: [1, 2] });
    const firstFinished = clock.now();
    await clock.advance(5);
    await fail(ids.second!);
    const children = await backend.listChildren!(ids.parent!);
    expect(children).toEqual([
      { id: ids.third, name: 'flow-job', state: 'queued', result: null, error: null, onChildFailure: 'ignore', finishedAt: null },
      { id: ids.first, name: 'flow-child', state: 'completed', result: { value: [1, 2] }, error: null, onChildFailure: 'fail', finishedAt: firstFinished },
      { id: ids.second, name: 'flow-child', state: 'failed', result: null, error: failure(clock.now()), onChildFailure: 'continue', finishedAt: clock.now() },
    ]);
    expect(await backend.delete(ids.first!)).toBe(true);
    expect((await backend.listChildren!(ids.parent!))[1]).toEqual({ id: ids.first, name: 'flow-child', state: null, result: null, error: null, onChildFailure: 'fail', finishedAt: null });
    expect(await backend.listChildren!(ids.third!)).toEqual([]);
    expect(await backend.listChildren!(newJobId(clock.now()))).toEqual([]);
  });

  test('flowProgress counts the jobs of a flow in each state, and its leaves apart', async ({ clock, backend }) => {
    const { flowId, ids } = await enqueueFlow({
      item1: {},
      item2: {},
      item3: {},
      item4: {},
      onComplete: { dependsOn: ['item1', 'item2', 'item3', 'item4'].map((item) => [item, 'ignore'] as Dependency) },
    });
    await complete(ids.item1!);
    await fail(ids.item2!);
    await claim(ids.item3!);
    expect(await backend.flowProgress!(flowId)).toEqual({
      flowId,
      total: 5,
      finished: 2,
      counts: { scheduled: 1, queued: 1, running: 1, completed: 1, failed: 1, cancelled: 0 },
      leaves: { total: 4, finished: 2, completed: 1, failed: 1, cancelled: 0 },
    });
    await backend.cancel(ids.item4!);
    expect(await backend.flowProgress!(flowId)).toMatchObject({ finished: 3, counts: { queued: 0, cancelled: 1 }, leaves: { total: 4, finished: 3, completed: 1, failed: 1, cancelled: 1 } });
    expect(await backend.flowProgress!(newJobId(clock.now()))).toBeNull();
  });

  test('enqueueFlow is all or nothing: an id already taken is refused with InvalidFlowError and nothing is written', async ({ clock, backend }) => {
    const taken = await enqueueOne(await newJob(flowJob, 'already here', { queue: 'q-x' }));
    const fresh = await newJob(flowJob, 'fresh', { queue: 'q-fresh' });
    const reused = { ...(await newJob(flowJob, 'reused', { queue: 'q-x' })), id: taken.id };
    const flowId = newJobId(clock.now());
    const refused = await backend
      .enqueueFlow!({
        flowId,
        jobs: [
          { ...fresh, dependsOn: [], runIf: 'always' },
          { ...reused, dependsOn: [{ childId: fresh.id, onChildFailure: 'fail' }], runIf: 'always' },
        ],
      })
      .catch((error: unknown) => error);
    expect(isJobsmithError(refused, 'INVALID_FLOW')).toBe(true);
    expect(await backend.get(fresh.id)).toBeNull();
    expect(await record(taken.id)).toMatchObject({ payload: 'already here', state: 'queued' });
    expect(await backend.flowProgress!(flowId)).toBeNull();
  });

  test('a job enqueued outside a flow has no flow field, in get, list and claim', async ({ backend }) => {
    const { id } = await enqueueOne(await newJob(flowJob, null, { queue: 'plain' }));
    await enqueueFlow({ inFlow: {} });
    expect((await record(id)).flow).toBeUndefined();
    expect((await backend.list({ queue: 'plain' })).jobs[0]!.flow).toBeUndefined();
    expect((await claim(id)).flow).toBeUndefined();
    expect(await backend.listChildren!(id)).toEqual([]);
  });

  test('in a worker, a parent reads its children, typed by their job, once they have all completed', async ({ client, backend }) => {
    const fetchSize = defineJob({ name: 'flow-fetch-size', run: (url: string) => ({ url, size: url.length }) });
    const label = defineJob({ name: 'flow-label', run: (text: string) => text.toUpperCase() });
    const seen: unknown[] = [];
    const total = defineJob({
      name: 'flow-total',
      run: async (_: null, ctx) => {
        const sizes = await ctx.children(fetchSize);
        const [labelled] = await ctx.children(label);
        seen.push((await ctx.children()).map((child) => [child.name, child.state]));
        // Typed: `result` is what flow-fetch-size returns (or null), `labelled.result` a string.
        return { label: labelled!.result!.toLowerCase(), size: sizes.reduce((sum, child) => sum + (child.result?.size ?? 0), 0) };
      },
    });
    const { flowId, ids } = await client.flow({
      a: step(fetchSize, 'https://a.example'),
      b: step(fetchSize, 'https://bb.example'),
      title: step(label, 'Total'),
      total: step(total, null, { children: ['a', 'title', { child: 'b', onChildFailure: 'fail' }] }),
    });
    const explained = await client.explainWait(ids.total);
    // First, and no 'delayed' for its never-due run time (a store without workers adds that none is live).
    expect(explained.reasons[0]).toMatchObject({ code: 'waiting-for-children', blocking: true, pendingChildren: 3, children: 3 });
    expect(explained.reasons.map((reason) => reason.code)).not.toContain('delayed');
    expect(explained.reasons[0]!.message).toContain('waiting for 3 of 3 children');
    expect(await client.flowProgress(flowId)).toMatchObject({ total: 4, finished: 0, leaves: { total: 3, finished: 0 } });
    await startWorker([fetchSize, label, total]);
    await untilState(ids.total, 'completed');
    expect((await backend.get(ids.total))!.result).toEqual({ label: 'total', size: 'https://a.example'.length + 'https://bb.example'.length });
    expect(seen).toEqual([
      [
        ['flow-fetch-size', 'completed'],
        ['flow-label', 'completed'],
        ['flow-fetch-size', 'completed'],
      ],
    ]);
    expect(await client.flowProgress(flowId)).toMatchObject({ total: 4, finished: 4, counts: { completed: 4 } });
  });

  test('in a worker, a chain passes each result to the next; a failure cancels the rest, saying why', async ({ client, backend }) => {
    // Annotated: the job reads children of its own kind, which TypeScript cannot infer from itself.
    const add: JobDefinition<number, number, number> = defineJob({
      name: 'flow-add',
      maxAttempts: 1,
      run: async (n: number, ctx): Promise<number> => {
        if (n < 0) throw new Error('negative step');
        const [previous] = await ctx.children(add);
        return (previous?.result ?? 0) + n;
      },
    });
    await startWorker([add]);
    const chain = await client.chain([step(add, 1), step(add, 10), step(add, 100)]);
    await untilState(chain.ids[2]!, 'completed');
    expect((await backend.get(chain.ids[2]!))!.result).toBe(111);

    const broken = await client.chain([step(add, 1), step(add, -1), step(add, 100), step(add, 1000)]);
    await untilState(broken.ids[1]!, 'failed');
    await untilState(broken.ids[3]!, 'cancelled');
    const third = (await backend.get(broken.ids[2]!))!;
    expect(third).toMatchObject({ state: 'cancelled', attempts: 0 });
    expect(third.error).toMatchObject({ code: 'CHILD_FAILED', message: `Child job ${broken.ids[1]} (flow-add) failed.` });
    expect((await backend.get(broken.ids[3]!))!.error).toMatchObject({ code: 'CHILD_FAILED', message: `Child job ${broken.ids[2]} (flow-add) was cancelled.` });
    expect(await client.flowProgress(broken.flowId)).toMatchObject({ counts: { completed: 1, failed: 1, cancelled: 2 } });
  });

  test('in a worker, a batch runs its onComplete and onFailure once with the counts and failed ids; onSuccess is cancelled', async ({ client }) => {
    const item = defineJob({
      name: 'flow-item',
      maxAttempts: 1,
      run: (n: number) => {
        if (n === 2) throw new Error('item 2 broke');
        return n;
      },
    });
    const reports: Array<[string, unknown]> = [];
    const report = defineJob({
      name: 'flow-report',
      run: async (which: string, ctx) => {
        reports.push([which, await ctx.childrenSummary()]);
      },
    });
    await startWorker([item, report]);
    const batch = await client.batch([step(item, 1), step(item, 2), step(item, 3)], {
      onComplete: step(report, 'complete'),
      onSuccess: step(report, 'success'),
      onFailure: step(report, 'failure'),
    });
    expect(Object.keys(batch.callbacks).sort()).toEqual(['onComplete', 'onFailure', 'onSuccess']);
    await untilState(batch.callbacks.onComplete!, 'completed');
    await untilState(batch.callbacks.onFailure!, 'completed');
    await untilState(batch.callbacks.onSuccess!, 'cancelled');
    const summary = { total: 3, completed: 2, failed: 1, cancelled: 0, failedIds: [batch.ids[1]] };
    await eventually(() => reports.length === 2, 'both callbacks to report');
    expect(reports.sort()).toEqual([
      ['complete', summary],
      ['failure', summary],
    ]);
    expect(await client.batchProgress(batch.batchId)).toEqual({ total: 3, done: 3, completed: 2, failed: 1, cancelled: 0 });
  });
}
