/**
 * Redis specifics of capability `flows`: a flow of `maxFlowJobs` (a chain of 20,000) is
 * written, failed and cancelled each in one script call (the cascades are loops in Lua, never
 * recursion), deleting or pruning flow jobs leaves none of their dependency keys behind, and
 * the stats' count of waiting parents (a counter the scripts keep) matches the jobs stored.
 * The rules themselves are the shared conformance suite's (src/testing/conformance/flows.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisBackend } from '../../src/backends/redis/redis-backend.ts';
import type { FlowJob, NewJob } from '../../src/contract/backend.ts';
import { type ChildFailurePolicy, maxFlowJobs, waitingForChildrenRunAt } from '../../src/contract/flow-store.ts';
import { newJobId } from '../../src/domain/ids.ts';
import { FakeClock } from '../../src/testing/fake-clock.ts';
import { type RedisServer, requireServers, startRedis } from '../support/index.ts';

const servers = requireServers('redis');

describe.skipIf(servers.skip)('redis flows', () => {
  let server: RedisServer;
  let prefixes = 0;

  beforeAll(async () => {
    server = await startRedis();
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
  });

  const open = () => {
    const clock = new FakeClock();
    const backend = new RedisBackend({ url: server.url, prefix: `flows-${process.pid}-${++prefixes}`, clock, onWarning: () => {} });
    return { clock, backend };
  };

  const row = (clock: FakeClock, queue: string, payload: unknown): NewJob => ({
    id: newJobId(clock.now()),
    name: 'link',
    queue,
    payload: JSON.stringify(payload),
    metadata: {},
    priority: 0,
    maxAttempts: 1,
    backoff: null,
    timeoutMs: null,
    keepCompletedMs: null,
    keepFailedMs: null,
    key: null,
    runAt: clock.now(),
    createdAt: clock.now(),
  });

  /** A chain: job i waits for job i − 1, with `policy`. */
  const chain = (clock: FakeClock, queue: string, length: number, policy: 'fail' | 'cancel'): FlowJob[] => {
    const rows = Array.from({ length }, (_, index) => row(clock, queue, index));
    return rows.map((job, index) => ({ ...job, dependsOn: index === 0 ? [] : [{ childId: rows[index - 1]!.id, onChildFailure: policy }], runIf: 'always' }));
  };

  it('a chain of maxFlowJobs: its first job failing ends every other one in that write, and cancelling a waiting top cancels all below', { timeout: 120_000 }, async () => {
    const { clock, backend } = open();
    const failing = chain(clock, 'failing', maxFlowJobs, 'fail');
    const failingId = newJobId(clock.now());
    await backend.enqueueFlow({ flowId: failingId, jobs: failing });
    expect(await backend.flowProgress(failingId)).toMatchObject({ total: maxFlowJobs, counts: { queued: 1, scheduled: maxFlowJobs - 1 } });
    expect(await backend.get(failing.at(-1)!.id)).toMatchObject({ state: 'scheduled', runAt: waitingForChildrenRunAt, flow: { pendingChildren: 1, hasParents: false } });
    const [first] = (await backend.claim({ workerId: 'w', leaseMs: 1000, queues: ['failing'], names: ['link'], limit: 10 })).jobs;
    expect(first?.id).toBe(failing[0]!.id);
    const error = { name: 'Error', message: 'broke', at: clock.now(), attempt: 1 };
    await backend.settle([{ id: first!.id, token: first!.lease.token, kind: 'fail', error, countAttempt: true, expiresAt: null, hookPending: false }]);
    expect(await backend.flowProgress(failingId)).toMatchObject({ finished: maxFlowJobs, counts: { failed: maxFlowJobs } });
    expect((await backend.get(failing.at(-1)!.id))!.error).toMatchObject({ code: 'CHILD_FAILED', message: `Child job ${failing.at(-2)!.id} (link) failed.` });

    const cancelled = chain(clock, 'cancelled', maxFlowJobs, 'fail');
    const cancelledId = newJobId(clock.now());
    await backend.enqueueFlow({ flowId: cancelledId, jobs: cancelled });
    expect(await backend.cancel(cancelled.at(-1)!.id)).toMatchObject({ outcome: 'cancelled' });
    expect(await backend.flowProgress(cancelledId)).toMatchObject({ finished: maxFlowJobs, counts: { cancelled: maxFlowJobs } });
    // The descendants were cancelled before their parents could be failed by them.
    expect((await backend.get(cancelled.at(-2)!.id))!.error).toBeNull();
    await backend.close();
  });

  it('deleting and pruning flow jobs removes their dependency and flow keys: nothing leaks', async () => {
    const { clock, backend } = open();
    await backend.open();
    const before = await backend.keyCount();
    const a = row(clock, 'q', 'a');
    const b = row(clock, 'q', 'b');
    const parent = row(clock, 'q', 'parent');
    const top = row(clock, 'q', 'top');
    const flowId = newJobId(clock.now());
    await backend.enqueueFlow({
      flowId,
      jobs: [
        { ...a, dependsOn: [], runIf: 'always' },
        { ...b, dependsOn: [], runIf: 'always' },
        { ...parent, dependsOn: [{ childId: a.id, onChildFailure: 'fail' }, { childId: b.id, onChildFailure: 'ignore' }], runIf: 'always' },
        { ...top, dependsOn: [{ childId: parent.id, onChildFailure: 'fail' }], runIf: 'always' },
      ],
    });
    const prefix = `{${backend.prefix}}:`;
    for (const key of [`children:${parent.id}`, `children:${top.id}`, `parents:${a.id}`, `parents:${parent.id}`, `flow:${flowId}`]) {
      expect(await server.command('EXISTS', prefix + key), key).toBe(1);
    }
    expect(await backend.delete(top.id)).toBe(true);
    expect(await server.command('EXISTS', `${prefix}parents:${parent.id}`)).toBe(0);
    const { jobs } = await backend.claim({ workerId: 'w', leaseMs: 1000, queues: ['q'], names: ['link'], limit: 2 });
    await backend.settle(jobs.map((job) => ({ id: job.id, token: job.lease.token, kind: 'complete' as const, result: job.id, expiresAt: null })));
    const [released] = (await backend.claim({ workerId: 'w', leaseMs: 1000, queues: ['q'], names: ['link'], limit: 2 })).jobs;
    expect(released?.id).toBe(parent.id);
    await backend.settle([{ id: parent.id, token: released!.lease.token, kind: 'complete', result: null, expiresAt: null }]);
    expect(await backend.prune({ finishedBy: clock.now() })).toBe(3);
    expect(await backend.flowProgress(flowId)).toBeNull();
    const keys = (await server.command('KEYS', `${prefix}*`)) as string[];
    expect(keys.filter((key) => /:(job|children|parents|flow):/.test(key))).toEqual([]);
    expect(await backend.keyCount()).toBeLessThanOrEqual(before + 5);
    await backend.close();
  });

  it('the count of waiting parents in the stats, a counter the scripts keep, matches the stored jobs through any mix of settles, cancels and deletes', { timeout: 120_000 }, async () => {
    const { clock, backend } = open();
    // A small deterministic generator (xorshift), so a failure replays.
    let seed = 0x2545f491;
    const random = (below: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % below;
    };
    const policies: ChildFailurePolicy[] = ['fail', 'cancel', 'ignore', 'continue'];
    const queues = ['left', 'right'];
    /** Flows of 6 jobs over both queues; each job after the first two waits for up to 2 earlier ones. */
    const enqueueFlow = async () => {
      const rows = Array.from({ length: 6 }, (_, index) => row(clock, queues[random(2)]!, index));
      const jobs: FlowJob[] = rows.map((job, index) => {
        const children = index < 2 ? [] : [...new Set([rows[random(index)]!.id, rows[random(index)]!.id])];
        return { ...job, dependsOn: children.map((childId) => ({ childId, onChildFailure: policies[random(4)]! })), runIf: random(4) === 0 ? 'any-child-failed' : 'always' };
      });
      await backend.enqueueFlow({ flowId: newJobId(clock.now()), jobs });
    };
    const expectCountsMatch = async (step: number) => {
      const scheduled = (await backend.list({ state: 'scheduled', limit: 1000 })).jobs;
      const stats = await backend.stats();
      for (const queue of queues) {
        const stored = scheduled.filter((job) => job.queue === queue && job.runAt === waitingForChildrenRunAt).length;
        expect(stats.queues.find((entry) => entry.queue === queue)?.waitingForChildren ?? 0, `${queue} after step ${step}`).toBe(stored);
      }
    };

    for (let flow = 0; flow < 8; flow++) await enqueueFlow();
    await expectCountsMatch(0);
    for (let step = 1; step <= 120; step++) {
      await clock.advance(10);
      const action = random(5);
      if (action <= 1) {
        const { jobs } = await backend.claim({ workerId: 'w', leaseMs: 60_000, queues, names: ['link'], limit: 1 });
        for (const job of jobs) {
          const error = { name: 'Error', message: 'no', at: clock.now(), attempt: 1 };
          await backend.settle([
            action === 0
              ? { id: job.id, token: job.lease.token, kind: 'complete', result: null, expiresAt: null }
              : { id: job.id, token: job.lease.token, kind: 'fail', error, countAttempt: true, expiresAt: null, hookPending: false },
          ]);
        }
      } else {
        const open = [...(await backend.list({ state: ['scheduled', 'queued'], limit: 1000 })).jobs];
        const target = open[random(Math.max(1, open.length))];
        if (target && action === 4) await backend.delete(target.id);
        else if (target) await backend.cancel(target.id);
      }
      await expectCountsMatch(step);
      if (step % 30 === 0) await enqueueFlow();
    }
    expect((await backend.stats()).waitingForChildren).toBeGreaterThanOrEqual(0);
    await backend.close();
  });
});
