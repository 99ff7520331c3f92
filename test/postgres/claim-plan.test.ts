/**
 * The plans of claim() and settle_and_claim() over a large backlog. Right after a bulk
 * enqueue the table has no statistics, and the planner once read the head of a queue
 * through jobs_state and sorted every queued row: each claim cost O(backlog). A plan kept
 * from when the table was empty could scan it whole, and a batch of outcomes could be
 * matched against every running job. These tests read the plans the functions really run
 * (auto_explain with nested statements) and check they are index ranges that stop at the
 * batch's size, or primary-key lookups. No timings.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresBackend } from '../../src/backends/postgres/postgres-backend.ts';
import { pgRowFromClaimedValues } from '../../src/backends/postgres/postgres-rows.ts';
import { type PostgresServer, requireServers, startPostgres } from '../support/index.ts';

const servers = requireServers('postgres');

/** Large enough that reading every queued row and sorting them is clearly not a LIMIT 50. */
const backlog = 100_000;
const claimLimit = 50;

/** The plans of the statements `work` runs on the shared connection, as auto_explain logs them (nested ones included), in order. */
async function explainedOn(client: pg.Client, work: () => Promise<void>): Promise<string[]> {
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
    await work();
  } finally {
    await client.query('SET client_min_messages = notice; SET auto_explain.log_min_duration = -1');
    client.off('notice', onNotice);
  }
  return plans;
}

describe.skipIf(servers.skip)('postgres backend: claim and settle plans', () => {
  let server: PostgresServer;
  let client: pg.Client;

  beforeAll(async () => {
    server = await startPostgres();
    for (const schema of ['plan', 'kept']) {
      const backend = new PostgresBackend({ connectionString: server.url, schema });
      await backend.open();
      await backend.close();
    }
    client = new pg.Client({ connectionString: server.url });
    await client.connect();
    // Autovacuum would analyze the tables behind the tests' backs; some cases need them unanalyzed.
    for (const schema of ['plan', 'kept']) await client.query(`ALTER TABLE ${schema}.jobs SET (autovacuum_enabled = false)`);
  }, 120_000);

  afterAll(async () => {
    await client?.end();
    await server?.stop();
  });

  const explained = (work: () => Promise<void>) => explainedOn(client, work);

  async function fillBacklog(schema: string): Promise<void> {
    await client.query(
      `INSERT INTO ${schema}.jobs (id, name, queue, state, payload, max_attempts, run_at, created_at)
       SELECT gen_random_uuid(), 'noop', 'default', 'queued', '{}', 3, i, i FROM generate_series(1, $1) AS i`,
      [backlog],
    );
  }

  describe('the claim over a large backlog', () => {
    beforeAll(() => fillBacklog('plan'), 120_000);

    /** The plans of the statements one claim runs. */
    const claimPlans = () =>
      explained(async () => {
        await client.query('BEGIN');
        try {
          const { rows } = await client.query(`SELECT id FROM plan.claim('{default}', '{noop}', $1, 'w', 30000, $2)`, [claimLimit, backlog + 1]);
          expect(rows).toHaveLength(claimLimit);
        } finally {
          await client.query('ROLLBACK');
        }
      });

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

  /**
   * claim() keeps one generic plan per connection (migration 4). A plan made while the table
   * was empty, when reading it whole looks cheapest, must not read it whole once it holds a
   * large backlog; nor may writing a batch of outcomes read every running job. Every
   * statement a claim and a settle run stays an index range that stops at the batch's size,
   * or a primary-key lookup per job.
   */
  describe('plans kept from an empty table', () => {
    const settleAndClaim = (settlements: unknown[], now: number) =>
      client.query<{ applied: unknown[]; claimed: unknown[][] }>(
        `SELECT applied, claimed, next_run_at FROM kept.settle_and_claim($1::jsonb, $2, 0, '{default}', '{noop}', $3, 'w', 30000)`,
        [JSON.stringify(settlements), now, claimLimit],
      );

    it('reads no table whole after it has grown from empty', async () => {
      // Plans made now, on this connection, against an empty, never-analyzed table.
      for (let call = 0; call < 3; call++) await settleAndClaim([], 1);
      await fillBacklog('kept');
      const now = backlog + 1;
      const plans = await explained(async () => {
        const first = await settleAndClaim([], now);
        expect(first.rows[0]!.claimed).toHaveLength(claimLimit);
        // Twice the batch running, then complete the first batch and claim again.
        expect((await settleAndClaim([], now)).rows[0]!.claimed).toHaveLength(claimLimit);
        const completions = first.rows[0]!.claimed.map(pgRowFromClaimedValues).map((job) => ({
          id: job.id,
          token: job.lease_token,
          kind: 'complete',
          result: null,
          error: null,
          run_at: null,
          count_attempt: true,
          expires_at: null,
        }));
        const third = await settleAndClaim(completions, now);
        expect(third.rows[0]!.applied).toHaveLength(claimLimit);
        expect(third.rows[0]!.claimed).toHaveLength(claimLimit);
      });
      const jobPlans = plans.filter((plan) => / on jobs/.test(plan));
      expect(jobPlans.length).toBeGreaterThan(5);
      for (const plan of jobPlans) {
        expect(plan).not.toMatch(/Seq Scan on jobs/);
        // No node over jobs reads more than one batch of rows, whether it returns them or filters them out.
        for (const [, rows, loops] of plan.matchAll(/ on jobs \w*.*actual time=[0-9.]+ rows=(\d+) loops=(\d+)/g)) {
          expect(Number(rows) * Number(loops), plan).toBeLessThanOrEqual(claimLimit);
        }
        for (const [, removed] of plan.matchAll(/Rows Removed by (?:Join )?Filter: (\d+)/g)) expect(Number(removed), plan).toBeLessThanOrEqual(claimLimit);
      }
      // The outcomes are looked up by id, not found among every running job.
      expect(plans.filter((plan) => plan.includes('jsonb_to_recordset')).at(-1)).toMatch(/Index Scan using jobs_pkey on jobs j/);
    });
  });

  /**
   * A stock server has the LLVM JIT on. The functions rule plan nodes out, and a plan that
   * still needs a ruled-out node is costed near 1e10, far above every JIT threshold, so each
   * call was compiled: 0.3-1.3 s a claim instead of about 1 ms. They turn the JIT off for
   * themselves, whatever the server or the session says.
   */
  describe('the JIT of a stock server', () => {
    it('runs on the test server, as on users\' servers', async () => {
      const { rows } = await client.query<{ jit: string }>('SHOW jit');
      expect(rows[0]!.jit).toBe('on');
    });

    it('compiles nothing in claim() and settle_and_claim(), even when the session asks for it on every query', async () => {
      await client.query('SET jit = on; SET jit_above_cost = 0; SET jit_inline_above_cost = 0; SET jit_optimize_above_cost = 0');
      try {
        const plans = await explained(async () => {
          await client.query('BEGIN');
          try {
            await client.query(`SELECT id FROM plan.claim('{default}', '{noop}', $1, 'w', 30000, $2)`, [claimLimit, backlog + 1]);
            await client.query(`SELECT applied FROM plan.settle_and_claim('[]'::jsonb, $1, 0, '{default}', '{noop}', $2, 'w', 30000)`, [
              backlog + 1,
              claimLimit,
            ]);
          } finally {
            await client.query('ROLLBACK');
          }
        });
        const functionPlans = plans.filter((plan) => / on jobs/.test(plan));
        expect(functionPlans.length).toBeGreaterThan(5);
        for (const plan of functionPlans) expect(plan).not.toMatch(/JIT:/);
        // The check can see a compiled plan: a plain query in the same session is compiled.
        const plain = await explained(async () => {
          await client.query('SELECT count(*) FROM plan.jobs');
        });
        expect(plain.join('\n')).toMatch(/JIT:/);
      } finally {
        await client.query('RESET jit; RESET jit_above_cost; RESET jit_inline_above_cost; RESET jit_optimize_above_cost');
      }
    });
  });
});
