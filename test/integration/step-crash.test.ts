/**
 * Durable steps across a dead worker and a restarted store. A worker process is killed by
 * SIGKILL between two steps of every job it runs; another process takes the jobs over once
 * their leases lapse and resumes each at the step that had not finished: the steps that
 * completed never run again (the ledger says what really ran, and where). On SQLite,
 * PostgreSQL and Redis. Then the store restarts while a job waits between steps
 * (PostgreSQL, and Redis with AOF): the job finishes and no step runs twice.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Client, createClient, createWorker, defineJob, type Worker } from '../../src/index.ts';
import { requireServers, startPostgres, startRedis } from '../support/index.ts';
import { waitUntil } from './fixtures/harness.ts';
import { readStepRuns, stepJob, stepJobName } from './fixtures/step-job.ts';

const jobCount = 3;

interface StepWorker {
  child: ChildProcess;
  pid: number;
  ready: Promise<void>;
  output: () => string;
}

function startStepWorker(backend: string, ledger: string, mode: 'hang' | 'run'): StepWorker {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures/step-worker.ts'), backend, ledger, mode], {
    cwd: join(import.meta.dirname, '../..'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const ready = (async () => {
    const deadline = Date.now() + 30_000;
    while (!output.includes('ready')) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`step worker exited before it was ready:\n${output}`);
      if (Date.now() > deadline) throw new Error(`step worker not ready after 30 s:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return { child, pid: child.pid!, ready, output: () => output };
}

async function killBetweenStepsThenResume(backend: string, dir: string, children: ChildProcess[]): Promise<void> {
  const ledger = join(dir, 'steps.ledger');
  const client = createClient({ backend, jobs: [stepJob(ledger, false)] });
  try {
    const a = startStepWorker(backend, ledger, 'hang');
    children.push(a.child);
    await a.ready;
    const ids = (await client.enqueueMany(Array.from({ length: jobCount }, (_, n) => ({ job: stepJobName, payload: n })))).map((result) => result.id);
    await waitUntil(
      'every job to wait between steps b and c on worker A',
      () => {
        const waiting = readStepRuns(ledger).filter((run) => run.step === 'between').length;
        return waiting === jobCount ? true : `${waiting} waiting\n${a.output()}`;
      },
      { timeoutMs: 30_000, intervalMs: 50 },
    );
    a.child.kill('SIGKILL');
    await once(a.child, 'close');

    const b = startStepWorker(backend, ledger, 'run');
    children.push(b.child);
    await b.ready;
    await waitUntil(
      'every job to complete on worker B',
      async () => {
        const states = await Promise.all(ids.map(async (id) => (await client.get(id)).state));
        return states.every((state) => state === 'completed') ? true : `${states.join(' ')}\n${b.output()}`;
      },
      { timeoutMs: 40_000, intervalMs: 100 },
    );
    b.child.kill('SIGTERM');
    await once(b.child, 'close');

    const runs = readStepRuns(ledger);
    for (let n = 0; n < jobCount; n++) {
      const where = runs.filter((run) => run.job === n).map((run) => `${run.pid === a.pid ? 'A' : run.pid === b.pid ? 'B' : run.pid}:${run.step}`);
      // a and b ran once, on A; B resumed after b, with b's stored result.
      expect(where, `job ${n}`).toEqual(['A:a', 'A:b', 'A:between', 'B:between', 'B:c']);
    }
    for (const [n, id] of ids.entries()) {
      const job = await client.get(id);
      expect(job, `job ${n}`).toMatchObject({ state: 'completed', attempts: 1, crashes: 1, result: { firstPid: a.pid, c: n * 10 + 1 } });
      expect(job.steps!.map((step) => [step.name, step.outcome])).toEqual([
        ['a', 'completed'],
        ['b', 'completed'],
        ['c', 'completed'],
      ]);
    }
  } finally {
    await client.close();
  }
}

/**
 * Runs one job whose handler waits between steps `a` and `b` until the store has restarted,
 * then finishes: a's result comes through the restart, and no step runs twice.
 */
async function restartBetweenSteps(backend: string, restart: () => Promise<void>): Promise<void> {
  const runs: string[] = [];
  let atGate: () => void = () => {};
  const reachedGate = new Promise<void>((resolve) => (atGate = resolve));
  let openGate: () => void = () => {};
  const gate = new Promise<void>((resolve) => (openGate = resolve));
  const job = defineJob({
    name: 'restart-steps',
    maxAttempts: 3,
    backoff: 'none',
    run: async (n: number, ctx) => {
      const a = await ctx.step('a', () => (runs.push('a'), n + 1));
      atGate();
      await gate;
      const b = await ctx.step('b', () => (runs.push('b'), a * 2));
      return ctx.step('c', () => (runs.push('c'), b + 1));
    },
  });
  const client: Client = createClient({ backend, jobs: [job] });
  const worker: Worker = createWorker({ backend, jobs: [job], lease: '20s', heartbeat: '500ms', pollInterval: '250ms' });
  worker.on('worker:error', () => {});
  try {
    await worker.start();
    const { id } = await client.enqueue(job, 4);
    await reachedGate;
    await restart();
    // Until the worker's connection is back, a step's write would fail: wait for the store.
    await waitUntil('the store to answer again', async () => ((await client.get(id).catch(() => null)) === null ? 'not yet' : true), {
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    openGate();
    await waitUntil('the job to complete', async () => ((await client.get(id).catch(() => null))?.state === 'completed' ? true : 'not yet'), {
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    const record = await client.get(id);
    expect(record.result).toBe(11);
    expect(runs.filter((step) => step === 'a')).toEqual(['a']);
    expect(record.steps!.map((step) => [step.name, step.outcome, step.result])).toEqual([
      ['a', 'completed', 5],
      ['b', 'completed', 10],
      ['c', 'completed', 11],
    ]);
  } finally {
    openGate();
    await worker.stop({ timeout: 0 });
    await client.close();
  }
}

describe('durable steps across a killed worker and a restarted store', () => {
  const children: ChildProcess[] = [];
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'jobsmith-steps-'));
    dirs.push(dir);
    return dir;
  };

  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'close');
      }
    }
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('sqlite: a worker killed between two steps is resumed at the step that had not finished', { timeout: 90_000 }, async () => {
    const dir = tempDir();
    await killBetweenStepsThenResume(`sqlite:${join(dir, 'jobs.db')}`, dir, children);
  });

  describe.skipIf(requireServers('postgres').skip)('postgres', () => {
    let server: Awaited<ReturnType<typeof startPostgres>> | undefined;
    beforeAll(async () => {
      server = await startPostgres();
    }, 120_000);
    afterAll(async () => {
      await server?.stop();
    });

    it('a worker killed between two steps is resumed at the step that had not finished', { timeout: 90_000 }, async () => {
      await killBetweenStepsThenResume(`${server!.url}?schema=step_crash`, tempDir(), children);
    });

    it('a restart of the server between two steps loses nothing and runs no step twice', { timeout: 90_000 }, async () => {
      await restartBetweenSteps(`${server!.url}?schema=step_restart`, () => server!.restart({ mode: 'immediate' }));
    });
  });

  describe.skipIf(requireServers('redis').skip)('redis', () => {
    let server: Awaited<ReturnType<typeof startRedis>> | undefined;
    beforeAll(async () => {
      server = await startRedis({ appendonly: true, appendfsync: 'always' });
    }, 60_000);
    afterAll(async () => {
      await server?.stop();
    });

    it('a worker killed between two steps is resumed at the step that had not finished', { timeout: 90_000 }, async () => {
      await killBetweenStepsThenResume(`${server!.url}?prefix=step-crash`, tempDir(), children);
    });

    it('a restart of the server between two steps loses nothing and runs no step twice', { timeout: 90_000 }, async () => {
      await restartBetweenSteps(`${server!.url}?prefix=step-restart`, () => server!.restart());
    });
  });
});
