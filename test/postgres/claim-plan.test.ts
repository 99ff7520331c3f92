/**
 * The claim's plan over a large backlog. Right after a bulk enqueue the table has no
 * statistics, and the planner once read the head of a queue through jobs_state and
 * sorted every queued row: each claim cost O(backlog). These tests read the plans the
 * claim function really runs (auto_explain with nested statements) and check they are
 * index ranges that stop at the LIMIT, with and without statistics. No timings.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresBackend } from '../../src/backends/postgres/postgres-backend.ts';
import { type PostgresServer, requireServers, startPostgres } from '../support/index.ts';

const servers = requireServers('postgres');

/** Large enough that reading every queued row and sorting them is clearly not a LIMIT 50. */
const backlog = 100_000;
const claimLimit = 50;

describe.skipIf(servers.skip)('postgres backend: the claim plan over a large backlog', () => {
  let server: PostgresServer;
  let client: pg.Client;

  beforeAll(async () => {
    server = await startPostgres();
    const backend = new PostgresBackend({ connectionString: server.url, schema: 'plan' });
    await backend.open();
    await backend.close();
    client = new pg.Client({ connectionString: server.url });
    await client.connect();
    // Autovacuum would analyze the table behind the test's back; the first case needs it unanalyzed.
    await client.query('ALTER TABLE plan.jobs SET (autovacuum_enabled = false)');
    await client.query(
      `INSERT INTO plan.jobs (id, name, queue, state, payload, max_attempts, run_at, created_at)
       SELECT gen_random_uuid(), 'noop', 'default', 'queued', '{}', 3, i, i FROM generate_series(1, $1) AS i`,
      [backlog],
    );
  }, 120_000);

  afterAll(async () => {
    await client?.end();
    await server?.stop();
  });

  /** The plans of the statements one claim runs, as auto_explain logs them, in order. */
  async function claimPlans(): Promise<string[]> {
    const plans: string[] = [];
    const onNotice = (notice: { message?: string }) => {
      if (notice.message?.includes('plan:')) plans.push(notice.message);
    };
    client.on('notice', onNotice);
    try {
      await client.query("LOAD 'auto_explain'");
      await client.query(
        'SET auto_explain.log_min_duration = 0; SET auto_explain.log_analyze = on; SET auto_explain.log_nested_statements = on; SET client_min_messages = log',
      );
      await client.query('BEGIN');
      const { rows } = await client.query(`SELECT id FROM plan.claim('{default}', '{noop}', $1, 'w', 30000, $2)`, [claimLimit, backlog + 1]);
      expect(rows).toHaveLength(claimLimit);
    } finally {
      await client.query('ROLLBACK');
      await client.query('SET client_min_messages = notice; SET auto_explain.log_min_duration = -1');
      client.off('notice', onNotice);
    }
    return plans;
  }

  function queuedLookup(plans: readonly string[]): string {
    const plan = plans.find((text) => text.includes('CROSS JOIN LATERAL'));
    expect(plan, 'the plan of the queued-row lookup').toBeDefined();
    return plan!;
  }

  function expectIndexRange(plan: string): void {
    expect(plan).toMatch(/Index Scan using jobs_ready on jobs j /);
    expect(plan).not.toMatch(/jobs_state on jobs j /);
    // The scan stops at the claim's limit instead of reading the whole backlog.
    expect(plan).toMatch(new RegExp(`Index Scan using jobs_ready on jobs j .*actual time=[0-9.]+ rows=${claimLimit} loops=1`));
    expect(plan).not.toMatch(/Sort Method: external/);
  }

  it('reads the head of the queue through the jobs_ready range when the table has no statistics', async () => {
    expectIndexRange(queuedLookup(await claimPlans()));
  });

  it('and when it has', async () => {
    await client.query('ANALYZE plan.jobs');
    expectIndexRange(queuedLookup(await claimPlans()));
  });
});
