/**
 * The flow guarantees that need real processes, on SQLite (one file shared by the
 * processes), PostgreSQL and Redis. Worker processes run `flow-jobs.ts`'s leaves and
 * parents; every handler run appends to a ledger outside the store, so the tests count
 * what really ran, where and when:
 * - the two leaves of a flow, claimed by workers in two processes (each serves one of the
 *   two leaf queues), finish within milliseconds of each other (a barrier), and the parent
 *   still runs once, after both;
 * - a flow of 10,000 children and one parent completes on two processes; the parent runs
 *   once and reads 10,000 results;
 * - a worker process killed (SIGKILL) in the middle of flows loses nothing: its leaves are
 *   taken over once their leases lapse, and each parent runs once;
 * - the server restarted in the middle of flows (PostgreSQL, and Redis with AOF): every
 *   flow completes and each parent runs once.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Client, createClient, type FlowStep, type JobRecord, step } from '../../src/index.ts';
import { requireServers, startPostgres, startRedis } from '../support/index.ts';
import { waitUntil } from './fixtures/harness.ts';
import { type FlowRun, flowJobs, leafResult, readFlowRuns } from './fixtures/flow-jobs.ts';

interface FlowWorker {
  readonly pid: number;
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  output(): string;
}

/** Worker processes and temp dirs of the current test, so afterEach removes them whatever failed. */
const children: ChildProcess[] = [];
const dirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'jobsmith-flows-'));
  mkdirSync(join(dir, 'ledgers'));
  mkdirSync(join(dir, 'barrier'));
  dirs.push(dir);
  return dir;
}

function startFlowWorker(backend: string, dir: string, options: { queues: readonly string[]; concurrency: number; lease: string }): FlowWorker {
  const script = join(import.meta.dirname, 'fixtures/flow-worker.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', script, backend, dir, options.queues.join(','), String(options.concurrency), options.lease], {
    cwd: join(import.meta.dirname, '../..'),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const ready = waitUntil(
    `worker ${child.pid} to be ready`,
    () => {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`flow worker exited before it was ready:\n${output}`);
      return output.includes('ready') ? true : 'not yet';
    },
    { timeoutMs: 30_000, intervalMs: 50 },
  );
  return { pid: child.pid!, child, ready, output: () => output };
}

async function kill(worker: FlowWorker): Promise<void> {
  if (worker.child.exitCode !== null || worker.child.signalCode !== null) return;
  const closed = once(worker.child, 'close');
  worker.child.kill('SIGKILL');
  await closed;
}

function outputs(workers: readonly FlowWorker[]): string {
  return workers.map((worker) => `--- worker ${worker.pid} ---\n${worker.output().slice(-3000)}`).join('\n');
}

/** Waits until every given parent job is completed; the store may be down for a moment (restart tests). */
async function waitForParents(client: Client, parentIds: readonly string[], workers: readonly FlowWorker[], timeoutMs: number): Promise<void> {
  // A parent that ended otherwise never completes: fail at once, with its story, rather than at the timeout.
  let ended: JobRecord[] = [];
  await waitUntil(
    'every parent to complete',
    async () => {
      const parents = await Promise.all(parentIds.map((id) => client.get(id)));
      ended = parents.filter((job) => job.state === 'failed' || job.state === 'cancelled');
      const done = parents.filter((job) => job.state === 'completed').length;
      return done === parentIds.length || ended.length > 0 ? true : `${done} of ${parentIds.length} parents completed\n${outputs(workers)}`;
    },
    { timeoutMs, intervalMs: 200, tolerateErrors: true },
  );
  for (const job of ended) {
    const children = await client.flowProgress(job.flow!.flowId);
    console.log(`parent ${job.id} ended ${job.state}: ${JSON.stringify({ job, children }, null, 1)}`);
  }
  expect(ended.map((job) => ({ id: job.id, state: job.state, error: job.error }))).toEqual([]);
}

type ParentRun = Extract<FlowRun, { kind: 'parent' }>;

/**
 * Checks the ledger of `flows` flows of `leaves` leaves each: each parent ran exactly once,
 * after the last of its leaves finished, and read every leaf completed with its result.
 */
function expectEachParentOnceAfterItsLeaves(runs: readonly FlowRun[], flows: number, leaves: number): ParentRun[] {
  const parents = runs.filter((run): run is ParentRun => run.kind === 'parent');
  const perFlow = new Map<number, ParentRun[]>();
  for (const run of parents) perFlow.set(run.flow, [...(perFlow.get(run.flow) ?? []), run]);
  const expectedSum = (flow: number) => Array.from({ length: leaves }, (_, k) => leafResult(flow, k)).reduce((a, b) => a + b, 0);
  const wrong = Array.from({ length: flows }, (_, flow) => flow).flatMap((flow) => {
    const got = perFlow.get(flow) ?? [];
    if (got.length !== 1) return [{ flow, parentRuns: got.length }];
    const [run] = got as [ParentRun];
    const lastLeafDone = Math.max(...runs.filter((r) => r.kind === 'leaf-done' && r.flow === flow).map((r) => r.at));
    const problems: Record<string, unknown> = {};
    if (run.children !== leaves || run.completed !== leaves) problems.read = `${run.completed} completed of ${run.children}`;
    if (run.sum !== expectedSum(flow)) problems.sum = run.sum;
    if (!(run.at >= lastLeafDone)) problems.ranBeforeLastLeaf = `${lastLeafDone - run.at} ms early`;
    return Object.keys(problems).length === 0 ? [] : [{ flow, ...problems }];
  });
  expect(wrong).toEqual([]);
  return parents;
}

/** Every leaf of every flow finished at least once. */
function expectEveryLeafDone(runs: readonly FlowRun[], flows: number, leaves: number): void {
  const done = new Set(runs.filter((run) => run.kind === 'leaf-done').map((run) => `${run.flow}/${run.k}`));
  const missing = Array.from({ length: flows * leaves }, (_, n) => `${Math.floor(n / leaves)}/${n % leaves}`).filter((leaf) => !done.has(leaf));
  expect(missing).toEqual([]);
}

/**
 * (a) `flows` flows, each of two leaves with a barrier: leaf 0 on queue `left`, served only by
 * worker A, leaf 1 on `right`, served only by worker B; both serve the parents.
 */
async function concurrentLeaves(backend: string, flows: number): Promise<void> {
  const dir = tempDir();
  const { leaf, parent } = flowJobs(dir);
  const client = createClient({ backend, jobs: [leaf, parent] });
  try {
    const a = startFlowWorker(backend, dir, { queues: ['left', 'parents'], concurrency: 10, lease: '30s' });
    const b = startFlowWorker(backend, dir, { queues: ['right', 'parents'], concurrency: 10, lease: '30s' });
    await Promise.all([a.ready, b.ready]);
    const parentIds: string[] = [];
    for (let flow = 0; flow < flows; flow++) {
      const { ids } = await client.flow({
        left: step(leaf, { flow, k: 0, barrier: 2 }, { queue: 'left' }),
        right: step(leaf, { flow, k: 1, barrier: 2 }, { queue: 'right' }),
        parent: step(parent, { flow }, { children: ['left', 'right'] }),
      });
      parentIds.push(ids.parent);
    }
    await waitForParents(client, parentIds, [a, b], 60_000);

    const runs = readFlowRuns(dir);
    // Each leaf ran once, on the process serving its queue.
    const leafRuns = runs.filter((run) => run.kind === 'leaf-start').map((run) => `${run.flow}/${run.k}@${run.pid === a.pid ? 'A' : run.pid === b.pid ? 'B' : run.pid}`);
    expect(leafRuns.sort()).toEqual(Array.from({ length: flows }, (_, flow) => [`${flow}/0@A`, `${flow}/1@B`]).flat().sort());
    const parents = expectEachParentOnceAfterItsLeaves(runs, flows, 2);
    for (const id of parentIds) expect(await client.get(id), `parent ${id}`).toMatchObject({ state: 'completed', attempts: 1 });

    const spreads = Array.from({ length: flows }, (_, flow) => {
      const [x, y] = runs.filter((run) => run.kind === 'leaf-done' && run.flow === flow).map((run) => run.at) as [number, number];
      return Math.abs(x - y);
    }).sort((x, y) => x - y);
    const onA = parents.filter((run) => run.pid === a.pid).length;
    console.log(
      `flow-processes ${backend.split(':')[0]}: the two leaves of a flow finished ${spreads[0]}–${spreads[spreads.length - 1]} ms apart (median ${spreads[Math.floor(flows / 2)]}); parents ran ${onA} on A, ${flows - onA} on B`,
    );
    // The barrier held: most pairs of leaves finished within a few milliseconds of each other.
    expect(spreads[Math.floor(flows / 2)]).toBeLessThan(50);
  } finally {
    await client.close();
  }
}

/** (b) One flow of `count` leaves and one parent, on two worker processes. */
async function bigFlow(backend: string, count: number, timeoutMs: number): Promise<void> {
  const dir = tempDir();
  const { leaf, parent } = flowJobs(dir);
  const client = createClient({ backend, jobs: [leaf, parent] });
  try {
    const workers = [0, 1].map(() => startFlowWorker(backend, dir, { queues: ['leaves', 'parents'], concurrency: 20, lease: '30s' }));
    await Promise.all(workers.map((worker) => worker.ready));
    const nodes: Record<string, FlowStep> = {};
    for (let k = 0; k < count; k++) nodes[`leaf ${k}`] = step(leaf, { flow: 0, k });
    nodes.parent = step(parent, { flow: 0 }, { children: Object.keys(nodes) });
    const startedAt = Date.now();
    const { ids, flowId } = await client.flow(nodes);
    const parentId = ids.parent!;
    const createdMs = Date.now() - startedAt;
    await waitForParents(client, [parentId], workers, timeoutMs);
    const tookMs = Date.now() - startedAt;

    const runs = readFlowRuns(dir);
    const starts = runs.filter((run) => run.kind === 'leaf-start');
    // Each leaf ran exactly once (no fault here), and both processes did some.
    expect(starts).toHaveLength(count);
    expect(new Set(starts.map((run) => run.k)).size).toBe(count);
    for (const worker of workers) expect(starts.filter((run) => run.pid === worker.pid).length, `worker ${worker.pid} ran leaves`).toBeGreaterThan(0);
    expectEachParentOnceAfterItsLeaves(runs, 1, count);
    expect(await client.get(parentId)).toMatchObject({ state: 'completed', attempts: 1, result: { children: count } });
    expect(await client.flowProgress(flowId)).toMatchObject({ total: count + 1, finished: count + 1, counts: { completed: count + 1 } });
    console.log(`flow-processes ${backend.split(':')[0]}: a flow of ${count} children created in ${createdMs} ms, completed in ${tookMs} ms on 2 processes`);
  } finally {
    await client.close();
  }
}

/**
 * Enqueues `flows` flows of `leaves` leaves (`holdMs` each, queue `leaves`) and a parent each,
 * and resolves with the parents' ids.
 */
async function enqueueFlows(client: Client, jobs: ReturnType<typeof flowJobs>, flows: number, leaves: number, holdMs: number): Promise<string[]> {
  const parentIds: string[] = [];
  for (let flow = 0; flow < flows; flow++) {
    const nodes: Record<string, FlowStep> = {};
    for (let k = 0; k < leaves; k++) nodes[`leaf ${k}`] = step(jobs.leaf, { flow, k, holdMs });
    // Ahead of every leaf once released: a parent runs as soon as its flow is done, so flows finish one by one
    // and a kill or a restart lands with some parents run and others not.
    nodes.parent = step(jobs.parent, { flow }, { children: Object.keys(nodes), priority: 10 });
    parentIds.push((await client.flow(nodes)).ids.parent!);
  }
  return parentIds;
}

/**
 * (c) Worker A (leaves only) is killed while it holds leaves of unfinished flows, with some
 * parents already run on B (parents only); a replacement C takes A's leaves over once their
 * leases lapse. Parents run only where no kill happens, so "once" is the flows' guarantee,
 * not luck.
 */
async function killMidFlow(backend: string): Promise<void> {
  const flows = 20;
  const leaves = 5;
  const dir = tempDir();
  const jobs = flowJobs(dir);
  const client = createClient({ backend, jobs: [jobs.leaf, jobs.parent] });
  try {
    const a = startFlowWorker(backend, dir, { queues: ['leaves'], concurrency: 8, lease: '2s' });
    const b = startFlowWorker(backend, dir, { queues: ['parents'], concurrency: 4, lease: '2s' });
    await Promise.all([a.ready, b.ready]);
    const parentIds = await enqueueFlows(client, jobs, flows, leaves, 100);
    await waitUntil(
      'worker A to be in the middle of the flows',
      () => {
        const runs = readFlowRuns(dir);
        const onA = runs.filter((run) => run.pid === a.pid);
        const done = onA.filter((run) => run.kind === 'leaf-done').length;
        const running = onA.filter((run) => run.kind === 'leaf-start').length - done;
        const parents = runs.filter((run) => run.kind === 'parent').length;
        // Leaves hold 100 ms: one that is running now is still running when the kill lands.
        return done >= 16 && running > 0 && parents > 0 ? true : `${done} leaves done on A, ${running} running, ${parents} parents run`;
      },
      { timeoutMs: 30_000, intervalMs: 20 },
    );
    await kill(a);
    const atKill = readFlowRuns(dir);
    const doneAtKill = new Set(atKill.filter((run) => run.kind === 'leaf-done').map((run) => `${run.flow}/${run.k}`));
    const cutOnA = atKill.filter(
      (run): run is Extract<FlowRun, { kind: 'leaf-start' }> => run.kind === 'leaf-start' && run.pid === a.pid && !doneAtKill.has(`${run.flow}/${run.k}`),
    );
    const parentsAtKill = atKill.filter((run) => run.kind === 'parent').length;
    const c = startFlowWorker(backend, dir, { queues: ['leaves'], concurrency: 8, lease: '2s' });
    await c.ready;
    await waitForParents(client, parentIds, [b, c], 60_000);
    
    const runs = readFlowRuns(dir);
    // The kill landed in the middle: A held leaves it had not finished, and flows were left to finish.
    expect(cutOnA.length).toBeGreaterThan(0);
    expect(parentsAtKill).toBeGreaterThan(0);
    expect(parentsAtKill).toBeLessThan(flows);
    expectEveryLeafDone(runs, flows, leaves);
    // Each leaf cut on A finished once, on C (the only other process that serves leaves).
    for (const run of cutOnA) {
      const again = runs.filter((other) => other.kind === 'leaf-done' && other.flow === run.flow && other.k === run.k);
      expect(again.map((other) => other.pid === c.pid), `leaf ${run.flow}/${run.k}`).toEqual([true]);
    }
    expectEachParentOnceAfterItsLeaves(runs, flows, leaves);
    for (const id of parentIds) expect(await client.get(id), `parent ${id}`).toMatchObject({ state: 'completed', attempts: 1, crashes: 0 });
    console.log(`flow-processes ${backend.split(':')[0]}: SIGKILL cut ${cutOnA.length} leaves on A with ${parentsAtKill} of ${flows} parents run; all recovered`);
  } finally {
    await client.close();
  }
}

/**
 * (2) Flows run on two worker processes; the server restarts under them once some parents
 * ran. Every flow completes, each parent's read of its children succeeds once, with every
 * leaf's result. A parent whose `ctx.children()` meets the restart is given back unspent
 * (no attempt recorded). Two records are still allowed in a parent's attempt history, and
 * nothing else: `failed: StoreError` (the store's error reached the handler some other way)
 * and `crashed`, when the restart cut off the reply to a claim the server had already
 * written: no worker holds that job, so it waits out its lease (30 s here) and is claimed
 * again, which is the lease doing its job. Its handler still ran once (the run log says so).
 */
async function restartMidFlow(backend: string, restart: () => Promise<void>): Promise<void> {
  // About 3 s of leaves on 8 slots: the restart lands with most flows unfinished.
  const flows = 40;
  const leaves = 4;
  const dir = tempDir();
  const jobs = flowJobs(dir, { parentAttempts: 5 });
  const client = createClient({ backend, jobs: [jobs.leaf, jobs.parent] });
  try {
    const workers = [0, 1].map(() => startFlowWorker(backend, dir, { queues: ['leaves', 'parents'], concurrency: 4, lease: '30s' }));
    await Promise.all(workers.map((worker) => worker.ready));
    const parentIds = await enqueueFlows(client, jobs, flows, leaves, 150);
    await waitUntil(
      'some parents to have run',
      () => {
        const parents = readFlowRuns(dir).filter((run) => run.kind === 'parent').length;
        return parents >= 3 ? true : `${parents} parents ran`;
      },
      { timeoutMs: 30_000, intervalMs: 20 },
    );
    const parentsAtRestart = readFlowRuns(dir).filter((run) => run.kind === 'parent').length;
    const restartedAt = Date.now();
    await restart();
    const restartMs = Date.now() - restartedAt;
    await waitForParents(client, parentIds, workers, 90_000);

    const runs = readFlowRuns(dir);
    expect(parentsAtRestart).toBeLessThan(flows);
    expectEveryLeafDone(runs, flows, leaves);
    expectEachParentOnceAfterItsLeaves(runs, flows, leaves);
    const retried: string[] = [];
    for (const id of parentIds) {
      const job = await client.get(id);
      expect(job, `parent ${id}`).toMatchObject({ state: 'completed' });
      const failures = job.attemptHistory.map((attempt) => `${attempt.outcome}: ${attempt.error?.name}`);
      expect(failures, `parent ${id}`).toEqual(failures.map((failure) => (failure.startsWith('crashed') ? failure : 'failed: StoreError')));
      if (failures.length > 0) retried.push(`${id} (${failures.join(', ')})`);
    }
    const leafStarts = runs.filter((run) => run.kind === 'leaf-start').length;
    console.log(
      `flow-processes ${backend.split(':')[0]}: restart (${restartMs} ms) with ${parentsAtRestart} of ${flows} parents run; ${leafStarts} leaf runs for ${flows * leaves} leaves; ${retried.length} parents with an ended attempt: ${retried.join('; ')}`,
    );
  } finally {
    await client.close();
  }
}

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const closed = once(child, 'close');
      child.kill('SIGKILL');
      await closed;
    }
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('flows across worker processes: sqlite (one file)', () => {
  const url = () => `sqlite:${join(tempDir(), 'jobs.db')}`;

  it('two leaves finishing at once in two processes run their parent once, after both', { timeout: 90_000 }, async () => {
    await concurrentLeaves(url(), 40);
  });

  it('a flow of 10,000 children completes on two processes; its parent runs once and reads 10,000 results', { timeout: 240_000 }, async () => {
    await bigFlow(url(), 10_000, 200_000);
  });

  it('a worker killed in the middle of flows loses nothing; each parent runs once', { timeout: 90_000 }, async () => {
    await killMidFlow(url());
  });
});

describe.skipIf(requireServers('postgres').skip)('flows across worker processes: postgres', () => {
  let server: Awaited<ReturnType<typeof startPostgres>> | undefined;
  beforeAll(async () => {
    server = await startPostgres();
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('two leaves finishing at once in two processes run their parent once, after both', { timeout: 90_000 }, async () => {
    await concurrentLeaves(`${server!.url}?schema=flows_concurrent`, 40);
  });

  it('a flow of 10,000 children completes on two processes; its parent runs once and reads 10,000 results', { timeout: 240_000 }, async () => {
    await bigFlow(`${server!.url}?schema=flows_big`, 10_000, 200_000);
  });

  it('a worker killed in the middle of flows loses nothing; each parent runs once', { timeout: 90_000 }, async () => {
    await killMidFlow(`${server!.url}?schema=flows_kill`);
  });

  it('a restart of the server in the middle of flows loses nothing; each parent reads its children once and completes', { timeout: 150_000 }, async () => {
    await restartMidFlow(`${server!.url}?schema=flows_restart`, () => server!.restart({ mode: 'immediate' }));
  });
});

describe.skipIf(requireServers('redis').skip)('flows across worker processes: redis', () => {
  let server: Awaited<ReturnType<typeof startRedis>> | undefined;
  beforeAll(async () => {
    // AOF, so the data outlives the restart below (SHUTDOWN flushes it): a throwaway server keeps nothing otherwise.
    server = await startRedis({ appendonly: true });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('two leaves finishing at once in two processes run their parent once, after both', { timeout: 90_000 }, async () => {
    await concurrentLeaves(`${server!.url}?prefix=flows-concurrent`, 40);
  });

  it('a flow of 10,000 children completes on two processes; its parent runs once and reads 10,000 results', { timeout: 240_000 }, async () => {
    await bigFlow(`${server!.url}?prefix=flows-big`, 10_000, 200_000);
  });

  it('a worker killed in the middle of flows loses nothing; each parent runs once', { timeout: 90_000 }, async () => {
    await killMidFlow(`${server!.url}?prefix=flows-kill`);
  });

  it('a restart of the server in the middle of flows loses nothing; each parent reads its children once and completes', { timeout: 150_000 }, async () => {
    await restartMidFlow(`${server!.url}?prefix=flows-restart`, () => server!.restart());
  });
});
