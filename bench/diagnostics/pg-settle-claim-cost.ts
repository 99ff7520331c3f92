/**
 * The PostgreSQL store alone: settle_and_claim() called in a loop the way a worker calls it
 * (each call completes the jobs the previous call claimed and claims the next batch), with no
 * worker. Prints the server backend's CPU per job (from /proc, so Linux only) and the bare
 * pg client's, for each batch size: what a call's fixed cost is against its per-job cost.
 *
 *   npx tsx bench/diagnostics/pg-settle-claim-cost.ts --jobs 20000 --batches 50,200,1000 --reps 2
 *
 * --setup <file.sql> (repeatable) runs a scratch change of the schema after the migrations, to
 * measure it before writing a migration: `:SCHEMA` in the file is the schema, `jobsmith`.
 * --label <text> prefixes each printed line, to tell the runs of several setups apart.
 *
 * A throwaway stock server (test/support); the jobs are inserted by SQL, then VACUUM ANALYZE.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { PostgresBackend } from '../../src/backends/postgres/postgres-backend.ts';
import { startPostgres } from '../../test/support/index.ts';

const { values } = parseArgs({
  options: { jobs: { type: 'string', default: '20000' }, batches: { type: 'string', default: '50,200,1000' }, reps: { type: 'string', default: '2' },
    setup: { type: 'string', multiple: true, default: [] }, label: { type: 'string', default: '' } },
});
const jobs = Number(values.jobs);
const server = await startPostgres();
try {
  const url = await server.createDatabase('settle_claim_cost');
  const backend = new PostgresBackend({ connectionString: url });
  await backend.open();
  await backend.close();
  const setupClient = new pg.Client({ connectionString: url });
  await setupClient.connect();
  for (const file of values.setup) await setupClient.query(readFileSync(file, 'utf8').replaceAll(':SCHEMA', 'jobsmith'));
  await setupClient.end();
  pg.types.setTypeParser(20, Number);
  const client = new pg.Client({ connectionString: url });
  // Stopping the server ends this connection: an error event, not a failure of the run.
  client.on('error', () => {});
  await client.connect();
  const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  const serverCpuMs = () => {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  };
  const hasFinishedTable = (await client.query<{ t: string | null }>("SELECT to_regclass('jobsmith.finished_jobs')::text AS t")).rows[0]!.t !== null;
  for (let rep = 0; rep < Number(values.reps); rep++) {
    for (const batch of values.batches.split(',').map(Number)) {
      await client.query('TRUNCATE jobsmith.jobs CASCADE');
      if (hasFinishedTable) await client.query('TRUNCATE jobsmith.finished_jobs');
      await client.query(
        `INSERT INTO jobsmith.jobs (id, name, queue, state, payload, max_attempts, run_at, created_at, keep_completed_ms)
         SELECT gen_random_uuid(), 'diagnose', 'default', 'queued', jsonb_build_object('index', i, 'sentAt', 1764900000000), 3, 1764900000000, 1764900000000, 86400000
         FROM generate_series(1, $1::int) i`,
        [jobs],
      );
      await client.query('VACUUM ANALYZE jobsmith.jobs');
      let pending: object[] = [];
      let settled = 0;
      const serverBefore = serverCpuMs();
      const clientBefore = process.cpuUsage();
      for (;;) {
        const now = Date.now();
        const { rows } = await client.query<{ claimed: Array<{ id: string; lease_token: string }> | null }>({
          name: 'settle_and_claim',
          text: 'SELECT applied, claimed, next_run_at FROM jobsmith.settle_and_claim($1::jsonb, $2, $3, $4::text[], $5::text[], $6, $7, $8)',
          values: [JSON.stringify(pending), now, Math.floor(now / 10_000) * 10_000, ['default'], ['diagnose'], batch, 'diagnose-worker', 30_000],
        });
        settled += pending.length;
        const claimed = rows[0]!.claimed ?? [];
        if (claimed.length === 0) break;
        pending = claimed.map((job) => ({
          id: job.id, token: job.lease_token, kind: 'complete', result: null, error: null, run_at: null, count_attempt: true, expires_at: now + 86_400_000, hook_pending: false,
        }));
      }
      const serverUs = ((serverCpuMs() - serverBefore) * 1000) / settled;
      const clientCpu = process.cpuUsage(clientBefore);
      console.log(`${values.label}batch ${String(batch).padStart(5)}: server backend ${serverUs.toFixed(1)} µs/job, pg client ${((clientCpu.user + clientCpu.system) / settled).toFixed(1)} µs/job (${settled} jobs)`);
    }
  }
  await client.end();
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  await server.stop();
}
