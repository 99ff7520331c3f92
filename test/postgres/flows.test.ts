/**
 * Flows on PostgreSQL beyond the shared conformance suite: two children of one parent
 * finishing at the same instant on two connections, a chain of maxFlowJobs ended in one
 * write, and what a job outside a flow runs when it is settled (nothing of flows).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildFailurePolicy, FlowJob, Settlement } from '../../src/contract/backend.ts';
import { maxFlowJobs, waitingForChildrenRunAt } from '../../src/contract/flow-store.ts';
import { PostgresBackend } from '../../src/backends/postgres/postgres-backend.ts';
import { loadStatements } from '../../src/backends/postgres/postgres-connection.ts';
import { pgRowFromClaimedValues } from '../../src/backends/postgres/postgres-rows.ts';
import { PermanentError, createClient, createWorker, step as flowStep } from '../../src/index.ts';
import { defineJob } from '../../src/domain/define-job.ts';
import { newJobId } from '../../src/domain/ids.ts';
import { prepareJob } from '../../src/execution/prepare-job.ts';
import { type PostgresServer, requireServers, startPostgres } from '../support/index.ts';

const servers = requireServers('postgres');
const schema = 'flows';

const step = defineJob({ name: 'flow-step', run: () => null });

describe.skipIf(servers.skip)('postgres backend: flows', () => {
  let server: PostgresServer;
  // Two backends, two pools: two processes' worth of connections on one schema.
  let first: PostgresBackend;
  let second: PostgresBackend;
  let client: pg.Client;

  beforeAll(async () => {
    server = await startPostgres();
    first = new PostgresBackend({ connectionString: server.url, schema, poolSize: 3 });
    second = new PostgresBackend({ connectionString: server.url, schema, poolSize: 3 });
    await first.open();
    await second.open();
    client = new pg.Client({ connectionString: server.url });
    await client.connect();
  }, 120_000);

  afterAll(async () => {
    await client?.end();
    await first?.close();
    await second?.close();
    await server?.stop();
  });

  const flowJob = async (payload: unknown, queue: string, dependsOn: FlowJob['dependsOn'] = []): Promise<FlowJob> => ({
    ...(await prepareJob(step, payload, { queue }, Date.now())),
    dependsOn,
    runIf: 'always',
  });

  /** The sessions of this schema's backends waiting for a row lock inside settle_and_claim(). */
  const settlesWaitingForALock = async () => {
    const { rows } = await client.query<{ waiting: number }>(
      "SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%settle_and_claim%'",
    );
    return rows[0]!.waiting;
  };

  const failedCount = async (queue: string) => {
    const { rows } = await client.query<{ failed: number }>(`SELECT coalesce(sum(failed), 0)::int AS failed FROM ${schema}.counts WHERE queue = $1`, [queue]);
    return rows[0]!.failed;
  };

  it('two children of one parent settled at the same instant on two connections release it exactly once, every time', async () => {
    const rounds = 90;
    const outcomes: Array<{ kind: 'complete' | 'fail'; policy: ChildFailurePolicy }> = [
      { kind: 'complete', policy: 'fail' },
      { kind: 'fail', policy: 'fail' },
      { kind: 'fail', policy: 'continue' },
    ];
    let parentsFailed = 0;
    for (let round = 0; round < rounds; round++) {
      const { kind, policy } = outcomes[round % outcomes.length]!;
      const children = [await flowJob(`a${round}`, 'race'), await flowJob(`b${round}`, 'race')];
      const parent = await flowJob(`parent${round}`, 'race-parent', children.map((child) => ({ childId: child.id, onChildFailure: policy })));
      await first.enqueueFlow({ flowId: newJobId(Date.now()), jobs: [...children, parent] });
      const { jobs } = await first.claim({ workerId: 'w', leaseMs: 60_000, queues: ['race'], names: [step.name], limit: 2 });
      expect(jobs.map((job) => job.id).sort()).toEqual(children.map((child) => child.id).sort());
      const settlement = (index: number): Settlement => {
        const { id, lease } = jobs[index]!;
        return kind === 'complete'
          ? { id, token: lease.token, kind, result: index, expiresAt: null }
          : { id, token: lease.token, kind, error: { name: 'Error', message: 'no', at: Date.now(), attempt: 1 }, countAttempt: true, expiresAt: null, hookPending: false };
      };

      // The parent's row held elsewhere until both settles wait for it: then they race for it.
      const blocker = new pg.Client({ connectionString: server.url });
      await blocker.connect();
      try {
        await blocker.query('BEGIN');
        await blocker.query(`SELECT 1 FROM ${schema}.jobs WHERE id = $1 FOR UPDATE`, [parent.id]);
        const settled = Promise.all([first.settle([settlement(0)]), second.settle([settlement(1)])]);
        const deadline = Date.now() + 10_000;
        while ((await settlesWaitingForALock()) < 2) {
          if (Date.now() > deadline) throw new Error('the two settles never both waited for the parent');
        }
        await blocker.query('COMMIT');
        expect((await settled).map((result) => result.applied)).toEqual([[true], [true]]);
      } finally {
        await blocker.end();
      }

      const record = (await first.get(parent.id))!;
      expect(record.flow).toMatchObject({ children: 2, pendingChildren: 0 });
      if (kind === 'fail' && policy === 'fail') {
        parentsFailed++;
        expect(record).toMatchObject({ state: 'failed', error: { code: 'CHILD_FAILED' } });
        // Failed once: counted once in the queue's stats.
        expect(await failedCount('race-parent')).toBe(parentsFailed);
        continue;
      }
      expect(record.state).toBe('queued');
      // Released once: claimed once, and then there is nothing left to claim.
      const claimParent = () => second.claim({ workerId: 'w', leaseMs: 60_000, queues: ['race-parent'], names: [step.name], limit: 5 });
      const claimed = await claimParent();
      expect(claimed.jobs.map((job) => job.id)).toEqual([parent.id]);
      expect((await claimParent()).jobs).toEqual([]);
      const lease = claimed.jobs[0]!.lease;
      await second.settle([{ id: parent.id, token: lease.token, kind: 'complete', result: null, expiresAt: null }]);
    }
    expect(await failedCount('race-parent')).toBe(rounds / outcomes.length);
  }, 120_000);

  it(`a chain of maxFlowJobs (${maxFlowJobs}) failing at its first job ends every other job in that write`, async () => {
    const jobs: FlowJob[] = [];
    for (let index = 0; index < maxFlowJobs; index++) {
      jobs.push(await flowJob(index, 'chain', index === 0 ? [] : [{ childId: jobs[index - 1]!.id, onChildFailure: 'cancel' }]));
    }
    const flowId = newJobId(Date.now());
    await first.enqueueFlow({ flowId, jobs });
    expect(await first.flowProgress(flowId)).toMatchObject({ total: maxFlowJobs, counts: { queued: 1, scheduled: maxFlowJobs - 1 } });
    const { jobs: claimed } = await first.claim({ workerId: 'w', leaseMs: 60_000, queues: ['chain'], names: [step.name], limit: 1 });
    const error = { name: 'Error', message: 'first link', at: Date.now(), attempt: 1 };
    const settled = await first.settle([
      { id: claimed[0]!.id, token: claimed[0]!.lease.token, kind: 'fail', error, countAttempt: true, expiresAt: null, hookPending: false },
    ]);
    expect(settled.applied).toEqual([true]);
    expect(await first.flowProgress(flowId)).toMatchObject({
      total: maxFlowJobs,
      finished: maxFlowJobs,
      counts: { failed: 1, cancelled: maxFlowJobs - 1 },
      leaves: { total: 1, finished: 1 },
    });
    expect((await first.get(jobs.at(-1)!.id))!.error).toMatchObject({ code: 'CHILD_FAILED', message: `Child job ${jobs.at(-2)!.id} (flow-step) was cancelled.` });
  }, 300_000);

  /** Sessions of the test server waiting for a lock: the writes started and stopped at a row another transaction holds. */
  const sessionsWaitingForALock = async () => {
    const { rows } = await client.query<{ waiting: number }>("SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE wait_event_type = 'Lock'");
    return rows[0]!.waiting;
  };
  const untilWaiting = async (sessions: number) => {
    const deadline = Date.now() + 10_000;
    while ((await sessionsWaitingForALock()) < sessions) {
      if (Date.now() > deadline) throw new Error(`${sessions} sessions never waited for a lock`);
    }
  };

  /**
   * A parent's row held elsewhere; `write` (on the first backend) is started and waits for it,
   * then a settle of the parent's running child (on the second) is started and waits too; then
   * the parent is let go. A write that locked the parent before the child would now hold the
   * parent and wait for the child while the settle holds the child and waits for the parent:
   * a deadlock, one of them failing. Locking children first, both go through.
   */
  async function raceAgainstChildSettle(parentId: string, child: { id: string; token: string }, write: () => Promise<unknown>) {
    const blocker = new pg.Client({ connectionString: server.url });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      // A finished parent is in finished_jobs (migration 11).
      await blocker.query(
        `WITH a AS (SELECT 1 FROM ${schema}.jobs WHERE id = $1 FOR UPDATE), f AS (SELECT 1 FROM ${schema}.finished_jobs WHERE id = $1 FOR UPDATE)
         SELECT (SELECT count(*) FROM a) + (SELECT count(*) FROM f)`,
        [parentId],
      );
      const written = write();
      await untilWaiting(1);
      const settled = second.settle([{ id: child.id, token: child.token, kind: 'complete', result: 'late', expiresAt: null }]);
      await untilWaiting(2);
      await blocker.query('COMMIT');
      return await Promise.all([written, settled]);
    } finally {
      await blocker.end();
    }
  }

  /** A waiting parent over one running child and one queued child (queue `queue`), each job in a queue of its own. */
  async function parentOverRunningChild(queue: string, policy: ChildFailurePolicy = 'fail') {
    const running = await flowJob('running', `${queue}-running`);
    const queued = await flowJob('queued', `${queue}-queued`);
    const parent = await flowJob('parent', `${queue}-parent`, [running, queued].map((child) => ({ childId: child.id, onChildFailure: policy })));
    await first.enqueueFlow({ flowId: newJobId(Date.now()), jobs: [running, queued, parent] });
    const { jobs } = await first.claim({ workerId: 'w', leaseMs: 60_000, queues: [`${queue}-running`], names: [step.name], limit: 1 });
    return { parent, queued, child: { id: running.id, token: jobs[0]!.lease.token } };
  }

  it('cancelling a waiting parent while its running child is settled: both go through, neither waits for the other in a cycle', async () => {
    const { parent, queued, child } = await parentOverRunningChild('cancel-race');
    const [cancelled, settled] = await raceAgainstChildSettle(parent.id, child, () => first.cancel(parent.id));
    expect(cancelled).toMatchObject({ outcome: 'cancelled' });
    expect(settled).toMatchObject({ applied: [true] });
    expect(await first.get(queued.id)).toMatchObject({ state: 'cancelled' });
    expect(await first.get(child.id)).toMatchObject({ state: 'completed', result: 'late' });
    expect(await first.get(parent.id)).toMatchObject({ state: 'cancelled', flow: { pendingChildren: 0 } });
  });

  it('deleting a waiting parent while its running child is settled: both go through', async () => {
    const { parent, child } = await parentOverRunningChild('delete-race');
    const [deleted, settled] = await raceAgainstChildSettle(parent.id, child, () => first.delete(parent.id));
    expect(deleted).toBe(true);
    expect(settled).toMatchObject({ applied: [true] });
    expect(await first.get(parent.id)).toBeNull();
    expect(await first.get(child.id)).toMatchObject({ state: 'completed', flow: { hasParents: false } });
  });

  it('pruning a finished parent while its running child is settled: both go through', async () => {
    const { parent, queued, child } = await parentOverRunningChild('prune-race');
    // The queued child cancelled fails the parent (policy fail); the running one runs on.
    await first.cancel(queued.id);
    expect(await first.get(parent.id)).toMatchObject({ state: 'failed', error: { code: 'CHILD_FAILED' } });
    const [pruned, settled] = await raceAgainstChildSettle(parent.id, child, () => first.prune({ finishedBy: Date.now() + 1000, states: ['failed'] }));
    expect(pruned).toBeGreaterThanOrEqual(1);
    expect(settled).toMatchObject({ applied: [true] });
    expect(await first.get(parent.id)).toBeNull();
    expect(await first.get(child.id)).toMatchObject({ state: 'completed', flow: { hasParents: false } });
  });

  it('a heartbeat renewing a running parent and its child while the child is settled: both go through', async () => {
    // Ids in the order parent < other < child: in id order alone the heartbeat would hold the
    // parent while it waits for the other job, and then for the child the settle holds.
    const [parentId, otherId, childId] = [newJobId(Date.now()), newJobId(Date.now()), newJobId(Date.now())].sort();
    const child = { ...(await flowJob('child', 'beat-child')), id: childId! };
    const early = await flowJob('early', 'beat-early');
    const parent = { ...(await flowJob('parent', 'beat-parent', [child, early].map((job) => ({ childId: job.id, onChildFailure: 'continue' as const })))), id: parentId! };
    await first.enqueueFlow({ flowId: newJobId(Date.now()), jobs: [child, early, parent] });
    await first.enqueue([{ ...(await prepareJob(step, 'other', { queue: 'beat-other' }, Date.now())), id: otherId! }]);
    const claimOne = async (queue: string) =>
      (await first.claim({ workerId: 'w', leaseMs: 60_000, queues: [queue], names: [step.name], limit: 1 })).jobs[0]!;
    // A child failing with policy continue releases the parent at once: it runs beside its other child.
    const earlyLease = (await claimOne('beat-early')).lease;
    const error = { name: 'Error', message: 'early', at: Date.now(), attempt: 1 };
    await first.settle([{ id: early.id, token: earlyLease.token, kind: 'fail', error, countAttempt: true, expiresAt: null, hookPending: false }]);
    const leases = [await claimOne('beat-parent'), await claimOne('beat-other'), await claimOne('beat-child')].map((job) => ({ id: job.id, token: job.lease.token }));
    expect(leases.map((lease) => lease.id)).toEqual([parentId, otherId, childId]);

    const blocker = new pg.Client({ connectionString: server.url });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query(`SELECT 1 FROM ${schema}.jobs WHERE id = $1 FOR UPDATE`, [otherId]);
      const renewed = first.renewLeases(leases, 60_000);
      await untilWaiting(1);
      const settled = second.settle([{ id: childId!, token: leases[2]!.token, kind: 'complete', result: null, expiresAt: null }]);
      // The settle either waits (for the heartbeat) or goes through; give it the time to reach the parent.
      await new Promise((resolve) => setTimeout(resolve, 200));
      await blocker.query('COMMIT');
      const [statuses, outcome] = await Promise.all([renewed, settled]);
      expect(statuses.map((status) => status.id)).toEqual([parentId, otherId, childId]);
      expect(outcome.applied).toEqual([true]);
    } finally {
      await blocker.end();
    }
    expect(await first.get(parentId!)).toMatchObject({ state: 'running', flow: { pendingChildren: 0 } });
  });

  it('end to end: a batch run by a worker, its callbacks by outcome; a chain created in the caller’s transaction exists only if it commits', async () => {
    const square = defineJob({
      name: 'square',
      queue: 'e2e',
      run: (n: number) => {
        if (n < 0) throw new PermanentError('negative');
        return n * n;
      },
    });
    const summary = defineJob({ name: 'summary', queue: 'e2e', run: async (_: null, ctx) => ctx.childrenSummary() });
    const total = defineJob({
      name: 'total',
      queue: 'e2e',
      run: async (_: null, ctx) => (await ctx.children(square)).reduce((sum, child) => sum + (child.result ?? 0), 0),
    });
    const jobs = [square, summary, total];
    const producer = createClient({ backend: new PostgresBackend({ connectionString: server.url, schema, poolSize: 2 }), jobs });
    const worker = createWorker({ backend: new PostgresBackend({ connectionString: server.url, schema, poolSize: 3 }), jobs, pollInterval: '100ms' });
    await worker.start();
    try {
      const batch = await producer.batch([1, 2, -3, 4].map((n) => flowStep(square, n)), {
        onComplete: flowStep(summary, null),
        onSuccess: flowStep(summary, null),
        onFailure: flowStep(summary, null),
      });
      const failedItem = batch.ids[2]!;
      expect(await producer.waitFor(batch.callbacks.onComplete!, { timeout: '20s' })).toMatchObject({
        state: 'completed',
        result: { total: 4, completed: 3, failed: 1, cancelled: 0, failedIds: [failedItem] },
      });
      expect(await producer.waitFor(batch.callbacks.onFailure!, { timeout: '20s' })).toMatchObject({ state: 'completed' });
      expect((await first.get(batch.callbacks.onSuccess!))!).toMatchObject({ state: 'cancelled', error: { code: 'CHILD_FAILED' } });
      expect(await producer.batchProgress(batch.batchId)).toEqual({ total: 4, done: 4, completed: 3, failed: 1, cancelled: 0 });

      const pool = new pg.Pool({ connectionString: server.url, max: 2 });
      try {
        const rolledBack = await pool.connect();
        let lost: string[];
        try {
          await rolledBack.query('BEGIN');
          ({ ids: lost } = await producer.chain([flowStep(square, 5), flowStep(total, null)], { tx: rolledBack }));
          await rolledBack.query('ROLLBACK');
        } finally {
          rolledBack.release();
        }
        for (const id of lost) expect(await first.get(id)).toBeNull();

        const committed = await pool.connect();
        let chain: string[];
        try {
          await committed.query('BEGIN');
          ({ ids: chain } = await producer.chain([flowStep(square, 6), flowStep(total, null)], { tx: committed }));
          await committed.query('COMMIT');
        } finally {
          committed.release();
        }
        expect(await producer.waitFor(chain[1]!, { timeout: '20s' })).toMatchObject({ state: 'completed', result: 36 });
      } finally {
        await pool.end();
      }
    } finally {
      await worker.stop();
      await producer.close();
    }
  }, 60_000);

  /** The plans auto_explain logs for the statements `work` runs on `client`, nested ones included. */
  async function explained(work: () => Promise<void>): Promise<string> {
    const plans: string[] = [];
    const onNotice = (notice: { message?: string }) => {
      if (notice.message?.includes('plan:')) plans.push(notice.message);
    };
    client.on('notice', onNotice);
    try {
      await client.query("LOAD 'auto_explain'");
      await client.query('SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on; SET client_min_messages = log');
      await work();
    } finally {
      await client.query('SET client_min_messages = notice; SET auto_explain.log_min_duration = -1');
      client.off('notice', onNotice);
    }
    return plans.join('\n');
  }

  it('stats count waiting parents through the jobs_scheduled range at their run time, never reading the delayed jobs', async () => {
    const statsSchema = 'flow_stats';
    const backend = new PostgresBackend({ connectionString: server.url, schema: statsSchema, poolSize: 1 });
    await backend.open();
    try {
      await client.query(`ALTER TABLE ${statsSchema}.jobs SET (autovacuum_enabled = false)`);
      // 50,000 delayed jobs and 40 waiting parents (their children are not needed to read the plan).
      await client.query(
        `INSERT INTO ${statsSchema}.jobs (id, name, queue, state, payload, max_attempts, run_at, created_at, total_children, pending_children)
         SELECT gen_random_uuid(), 'noop', 'q' || (i % 4), 'scheduled', '{}', 3,
                CASE WHEN i <= 40 THEN $1::bigint ELSE $2::bigint + i END, i, CASE WHEN i <= 40 THEN 1 ELSE 0 END, CASE WHEN i <= 40 THEN 1 ELSE 0 END
         FROM generate_series(1, 50000) AS i`,
        [waitingForChildrenRunAt, Date.now() + 86_400_000],
      );
      const { waitingForChildren: text } = loadStatements(new URL('../../src/backends/postgres/sql/admin.sql', import.meta.url), ['waitingForChildren'], {
        S: statsSchema,
        channel: 'unused',
      });
      for (const analyzed of [false, true]) {
        if (analyzed) await client.query(`ANALYZE ${statsSchema}.jobs`);
        const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${text}`, [waitingForChildrenRunAt]);
        const plan = rows.map((row) => row['QUERY PLAN']).join('\n');
        expect(plan, `analyzed: ${analyzed}`).toMatch(/Index (Only )?Scan using jobs_scheduled on jobs/);
        expect(plan, `analyzed: ${analyzed}`).not.toMatch(/Seq Scan|jobs_state/);
      }
      const stats = await backend.stats();
      expect(stats).toMatchObject({ counts: { scheduled: 50_000 }, waitingForChildren: 40 });
      expect(stats.queues.map((queue) => queue.waitingForChildren)).toEqual([10, 10, 10, 10]);
    } finally {
      await backend.close();
    }
  });

  it('settling a job outside a flow runs nothing of flows; a flow child resolves its parent in the same call', async () => {
    const settleAndClaim = (settlements: unknown[], queue: string) =>
      client.query<{ claimed: unknown[][] | null }>(
        `SELECT applied, claimed, next_run_at FROM ${schema}.settle_and_claim($1::jsonb, $2, 0, $3, $4, $5, 'w', 60000)`,
        [JSON.stringify(settlements), Date.now(), [queue], [step.name], settlements.length === 0 ? 1 : null],
      );
    const completion = (job: { id: string; lease_token: string | null }) => ({
      id: job.id,
      token: job.lease_token,
      kind: 'complete',
      result: null,
      error: null,
      run_at: null,
      count_attempt: true,
      expires_at: null,
      hook_pending: false,
    });

    await first.enqueue([await prepareJob(step, 'plain', { queue: 'plain' }, Date.now())]);
    const [plain] = (await settleAndClaim([], 'plain')).rows[0]!.claimed!.map(pgRowFromClaimedValues);
    const plainPlans = await explained(async () => {
      await settleAndClaim([completion(plain!)], 'plain');
    });
    expect(plainPlans).toMatch(/jsonb_to_recordset/);
    expect(plainPlans).not.toMatch(/flow_dependencies|resolve_flow_parents/);

    const child = await flowJob('child', 'with-parent');
    const parent = await flowJob('parent', 'with-parent-parent', [{ childId: child.id, onChildFailure: 'fail' }]);
    await first.enqueueFlow({ flowId: newJobId(Date.now()), jobs: [child, parent] });
    const [claimedChild] = (await settleAndClaim([], 'with-parent')).rows[0]!.claimed!.map(pgRowFromClaimedValues);
    const flowPlans = await explained(async () => {
      await settleAndClaim([completion(claimedChild!)], 'with-parent');
    });
    expect(flowPlans).toMatch(/flow_dependencies/);
    expect((await first.get(parent.id))!.state).toBe('queued');
  });
});
