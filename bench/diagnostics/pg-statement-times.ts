/**
 * Where the PostgreSQL server's time goes inside claim() and settle_and_claim() while a
 * worker drains a backlog: auto_explain (loaded for the one database, superuser only) logs
 * every nested statement with its own timing; this sums them by statement.
 *
 *   npx tsx bench/diagnostics/pg-statement-times.ts --jobs 10000 --concurrency 50
 *
 * auto_explain's timing adds its own overhead: read the shares, not the totals.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { PostgresBackend } from '../../src/backends/postgres/postgres-backend.ts';
import { createClient, createWorker, defineJob } from '../../src/index.ts';
import { startPostgres } from '../../test/support/index.ts';

const { values } = parseArgs({ options: { jobs: { type: 'string', default: '10000' }, concurrency: { type: 'string', default: '50' } } });
const jobs = Number(values.jobs);
const server = await startPostgres();
try {
  const url = await server.createDatabase('statement_times');
  const backend = new PostgresBackend({ connectionString: url });
  let done = 0;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const job = defineJob<{ index: number }>({ name: 'diagnose', run: () => { if (++done === jobs) finish(); } });
  const client = createClient({ backend, jobs: [job] });
  await client.backend();
  for (let start = 0; start < jobs; start += 1000) {
    await client.enqueueMany(Array.from({ length: Math.min(1000, jobs - start) }, (_, index) => ({ job, payload: { index: start + index } })));
  }
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query('VACUUM ANALYZE jobsmith.jobs');
  await admin.query(`ALTER DATABASE statement_times SET session_preload_libraries = 'auto_explain'`);
  for (const [name, value] of [['auto_explain.log_min_duration', '0'], ['auto_explain.log_nested_statements', 'on'], ['auto_explain.log_analyze', 'on'], ['auto_explain.log_timing', 'off'], ['auto_explain.log_format', 'text']]) {
    await admin.query(`ALTER DATABASE statement_times SET ${name} = '${value}'`);
  }
  const logStart = readFileSync(server.logFile, 'utf8').length;
  const workerBackend = new PostgresBackend({ connectionString: url });
  const worker = createWorker({ backend: workerBackend, jobs: [job], concurrency: Number(values.concurrency), pruneInterval: null });
  const startedAt = performance.now();
  await worker.start();
  await finished;
  const wallMs = performance.now() - startedAt;
  await worker.stop();
  await workerBackend.close();
  await client.close();
  await backend.close();
  const stats = await admin.query(`SELECT n_tup_upd, n_tup_hot_upd, n_dead_tup FROM pg_stat_user_tables WHERE relname = 'jobs'`);
  console.log('jobs table:', stats.rows[0]);
  await admin.end();
  const log = readFileSync(server.logFile, 'utf8').slice(logStart);
  const totals = new Map<string, { ms: number; count: number }>();
  for (const match of log.matchAll(/duration: ([\d.]+) ms\s+plan:\n\s*Query Text: ([\s\S]*?)\n\s*(?:[A-Z][a-zA-Z ]+ \(cost|Result|Insert|Update|Aggregate|Limit|Sort|Nested|Index|Seq|Function|CTE|Subquery|Hash|Merge|LockRows|ProjectSet|Unique|Append|WindowAgg|Materialize)/g)) {
    const key = match[2]!.replace(/\s+/g, ' ').slice(0, 110);
    const entry = totals.get(key) ?? { ms: 0, count: 0 };
    entry.ms += Number(match[1]);
    entry.count++;
    totals.set(key, entry);
  }
  console.log(`${jobs} jobs in ${wallMs.toFixed(0)} ms; auto_explain durations per job (µs), by statement:`);
  for (const [key, { ms, count }] of [...totals].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25)) {
    console.log(`${((ms * 1000) / jobs).toFixed(1).padStart(8)} µs  ${String(count).padStart(6)}×  ${key}`);
  }
} finally {
  await server.stop();
}
