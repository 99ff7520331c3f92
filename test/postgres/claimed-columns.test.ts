/**
 * settle_and_claim() sends each claimed job as a JSON array of its columns (migration 12), and
 * postgres-rows.ts names them by position (`claimedColumns`). The two lists must agree, and
 * must cover every column of `jobs` the rows are read for: a column added to one and not the
 * other would shift every value after it.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresBackend } from '../../src/backends/postgres/postgres-backend.ts';
import { claimedColumns, pgRowFromClaimedValues } from '../../src/backends/postgres/postgres-rows.ts';
import { createClient, defineJob } from '../../src/index.ts';
import { type PostgresServer, requireServers, startPostgres } from '../support/index.ts';

const servers = requireServers('postgres');
const migration = readFileSync(new URL('../../src/backends/postgres/migrations/0012-claimed-rows-as-arrays.sql', import.meta.url), 'utf8');

describe('postgres claimed rows as arrays', () => {
  it('lists the columns in the order postgres-rows.ts reads them', () => {
    const list = /json_agg\(json_build_array\(([^)]*)\)\)/.exec(migration)?.[1];
    expect(list).toBeDefined();
    expect(list!.split(',').map((column) => column.trim().replace(/^c\./, ''))).toEqual([...claimedColumns]);
  });

  it('reads each value into the field its column names', () => {
    const row = pgRowFromClaimedValues(claimedColumns.map((_, index) => index));
    expect(Object.keys(row)).toEqual([...claimedColumns]);
    for (const [index, column] of claimedColumns.entries()) expect(row[column], column).toBe(index);
  });
});

describe.skipIf(servers.skip)('postgres claimed rows as arrays, on a server', () => {
  let server: PostgresServer;
  let url: string;
  let backend: PostgresBackend;

  beforeAll(async () => {
    server = await startPostgres();
    url = await server.createDatabase('claimed_columns');
    backend = new PostgresBackend({ connectionString: url });
    await backend.open();
  }, 120_000);

  afterAll(async () => {
    await backend?.close();
    await server?.stop();
  });

  it('covers every column of jobs but the ones a claim needs not read', async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ column_name: string }>(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'jobsmith' AND table_name = 'jobs'",
      );
      // flow_height orders lock taking inside the store (migration 10); no record field reads it.
      const columns = rows.map((row) => row.column_name).filter((column) => column !== 'flow_height');
      expect([...claimedColumns].sort()).toEqual(columns.sort());
    } finally {
      await client.end();
    }
  });

  it('hands a worker the job as get(id) reads it, field by field', async () => {
    const report = defineJob<{ n: number }>({ name: 'claimed.columns', run: () => {} });
    const client = createClient({ backend, jobs: [report] });
    try {
      const { id } = await client.enqueue(report, { n: 7 }, {
        metadata: { who: 'me' }, priority: 3, key: 'k1', timeout: '5s', keepCompleted: '1h', backoff: { type: 'fixed', delay: '2s' },
      });
      const { jobs } = await backend.claim({ queues: ['default'], names: ['claimed.columns'], limit: 5, workerId: 'w1', leaseMs: 30_000 });
      expect(jobs).toHaveLength(1);
      const { recovered, ...claimed } = jobs[0]!;
      expect(recovered).toBe(false);
      const stored = await backend.get(id);
      expect(claimed).toEqual({ ...stored, steps: claimed.steps, flow: claimed.flow });
      expect(claimed).toMatchObject({
        id, name: 'claimed.columns', queue: 'default', state: 'running', payload: { n: 7 }, metadata: { who: 'me' }, priority: 3, key: 'k1',
        timeoutMs: 5000, keepCompletedMs: 3_600_000, backoff: { type: 'fixed', delay: '2s' }, lease: { workerId: 'w1' },
      });
    } finally {
      await client.close();
    }
  });
});
