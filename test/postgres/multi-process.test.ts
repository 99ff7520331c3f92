/**
 * Four worker processes on one PostgreSQL database process 20,000 jobs. With no faults,
 * every job must start exactly once: SKIP LOCKED claims never share a row.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createIntegrationEnv, drainWithProcesses, type IntegrationEnv } from '../integration/fixtures/harness.ts';
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
    const { perPid } = await drainWithProcesses(env, {
      processes: processCount,
      jobCount,
      config: { concurrency: 25, hold: { minMs: 0, maxMs: 0 }, lease: '30s', heartbeat: '5s', pollInterval: '200ms', stopTimeout: '5s' },
      timeoutMs: 200_000,
    });
    const { rows } = await server.query<{ state: string; attempts: number; crashes: number; n: number }>(
      'SELECT state, attempts, crashes, count(*)::int AS n FROM multi.all_jobs GROUP BY 1, 2, 3',
    );
    expect(rows).toEqual([{ state: 'completed', attempts: 1, crashes: 0, n: jobCount }]);
    console.log(`jobs per process: ${[...perPid.values()].join(', ')}`);
  });
});
