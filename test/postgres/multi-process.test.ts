/**
 * Four worker processes on one PostgreSQL database process 20,000 jobs. With no faults,
 * every job must start exactly once: SKIP LOCKED claims never share a row.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createIntegrationEnv, describeCounts, type IntegrationEnv, waitUntil } from '../integration/fixtures/harness.ts';
import { historiesByJob, startsPerPid } from '../integration/fixtures/ledger.ts';
import { type PostgresServer, requireServers, startPostgres } from '../support/index.ts';

const servers = requireServers('postgres');
const processCount = 4;
const jobCount = 20_000;

describe.skipIf(servers.skip)('postgres backend: four worker processes, 20,000 jobs', () => {
  let server: PostgresServer;
  let env: IntegrationEnv;

  beforeAll(async () => {
    server = await startPostgres();
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
  });

  afterEach(async () => {
    await env?.dispose();
  });

  it('every job runs exactly once and none is lost', { timeout: 240_000 }, async () => {
    env = createIntegrationEnv('pg-multi', { backendUrl: `${server.url}?schema=multi` });
    const workers = Array.from({ length: processCount }, () =>
      env.workers.start(
        env.workerConfig({ concurrency: 25, hold: { minMs: 0, maxMs: 0 }, lease: '30s', heartbeat: '5s', pollInterval: '200ms', stopTimeout: '5s' }),
      ),
    );
    await Promise.all(workers.map((worker) => worker.ready));
    const ids = await env.enqueue(jobCount);

    await waitUntil(
      'the workers have completed every job',
      async () => {
        const { counts } = await env.client.stats();
        return counts.completed === jobCount ? true : describeCounts(counts);
      },
      { timeoutMs: 200_000, intervalMs: 500, alive: workers },
    );
    for (const worker of workers) worker.kill('SIGTERM');
    for (const worker of workers) expect(await worker.exited, `worker ${worker.pid}`).toEqual({ code: 0, signal: null });

    const histories = historiesByJob(env.ledger());
    expect(histories.size).toBe(jobCount);
    const twice = [...histories.values()].filter((history) => history.starts.length !== 1);
    expect(twice, 'jobs started more than once').toEqual([]);
    expect(new Set(histories.keys())).toEqual(new Set(ids));
    const perProcess = startsPerPid(env.ledger());
    expect(perProcess.size).toBe(processCount);
    const { rows } = await server.query<{ state: string; attempts: number; crashes: number; n: number }>(
      'SELECT state, attempts, crashes, count(*)::int AS n FROM multi.jobs GROUP BY 1, 2, 3',
    );
    expect(rows).toEqual([{ state: 'completed', attempts: 1, crashes: 0, n: jobCount }]);
    console.log(`jobs per process: ${[...perProcess.values()].join(', ')}`);
  });
});
