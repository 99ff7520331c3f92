/**
 * Bytes on disk per completed job in SQLite, and what other storage designs would take.
 * Fills a fresh file with `--jobs` completed no-op jobs through the backend's own calls
 * (enqueue 1,000 at a time, claim, complete: the rows a worker leaves behind), folds the log
 * (`wal_checkpoint(TRUNCATE)`) and VACUUMs, then reports the bytes of each table and index
 * (SQLite's `dbstat` table) per job. Each candidate design is then made in a copy of that
 * file by SQL (a table rebuilt, an index dropped, columns cleared), VACUUMed and measured the
 * same way; and for each, the CPU µs per job of inserting `--insert-jobs` fresh queued rows
 * (one prepared INSERT each, 1,000 per transaction) into an emptied copy, so what a design
 * saves on disk and on enqueue can be read side by side.
 * Not part of `npm run bench`; run it with
 * `npx tsx bench/diagnostics/sqlite-disk-per-job.ts [--jobs 200000] [--only name,name] [--insert-jobs 20000]`.
 */
import { copyFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { SqliteBackend } from '../../src/index.ts';
import { prepareJob } from '../../src/execution/prepare-job.ts';
import { defineJob } from '../../src/domain/define-job.ts';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '200000' },
    only: { type: 'string' },
    'insert-jobs': { type: 'string', default: '20000' },
  },
});
const jobCount = Number(values.jobs);
const insertJobs = Number(values['insert-jobs']);
const only = values.only?.split(',') ?? null;

/** The columns of the jobs table, in order, for rebuilding it under another design. */
const jobColumns =
  'seq, id, name, queue, state, payload, metadata, priority, key, attempts, max_attempts, crashes, backoff, timeout_ms, keep_completed_ms, keep_failed_ms, run_at, created_at, started_at, finished_at, result, error, progress, progress_history, logs, lease_token, lease_worker, lease_expires_at, cancel_requested, expires_at, failed_hook, settled_token';

/** Today's indexes on the jobs table, by name, as migrations 1 and 3 create them (4 and 5 add tables, not indexes on it). */
const indexes: Record<string, string> = {
  ready: "CREATE INDEX jobsmith_jobs_ready ON jobsmith_jobs (queue, priority DESC, run_at, seq) WHERE state = 'queued'",
  scheduled: "CREATE INDEX jobsmith_jobs_scheduled ON jobsmith_jobs (run_at) WHERE state = 'scheduled'",
  running: "CREATE INDEX jobsmith_jobs_running ON jobsmith_jobs (lease_expires_at) WHERE state = 'running'",
  key: "CREATE UNIQUE INDEX jobsmith_jobs_key ON jobsmith_jobs (name, key) WHERE key IS NOT NULL AND state IN ('scheduled','queued','running')",
  expires: 'CREATE INDEX jobsmith_jobs_expires ON jobsmith_jobs (expires_at) WHERE expires_at IS NOT NULL',
  finished: 'CREATE INDEX jobsmith_jobs_finished ON jobsmith_jobs (state, finished_at) WHERE finished_at IS NOT NULL',
  state: 'CREATE INDEX jobsmith_jobs_state ON jobsmith_jobs (state, queue)',
  hookPending: "CREATE INDEX jobsmith_jobs_hook_pending ON jobsmith_jobs (lease_expires_at) WHERE failed_hook = 'pending'",
};

/** The jobs table as migration 1 and 3 leave it, with `id` and `state` typed by the caller. */
function jobsTable(options: { id?: string; state?: string; extra?: string; withoutRowid?: boolean } = {}): string {
  const id = options.id ?? 'id TEXT NOT NULL UNIQUE';
  const state = options.state ?? 'state TEXT NOT NULL';
  return `CREATE TABLE jobsmith_jobs (seq INTEGER ${options.withoutRowid ? 'NOT NULL UNIQUE' : 'PRIMARY KEY'}, ${id}, name TEXT NOT NULL, queue TEXT NOT NULL,
    ${state}, payload TEXT NOT NULL, metadata TEXT NOT NULL, priority INTEGER NOT NULL, key TEXT, attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL, crashes INTEGER NOT NULL DEFAULT 0, backoff TEXT, timeout_ms INTEGER, keep_completed_ms INTEGER,
    keep_failed_ms INTEGER, run_at INTEGER NOT NULL, created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER, result TEXT,
    error TEXT, progress TEXT, progress_history TEXT, logs TEXT, lease_token TEXT, lease_worker TEXT, lease_expires_at INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0, expires_at INTEGER, failed_hook TEXT, settled_token TEXT${options.extra ?? ''})${options.withoutRowid ? ' WITHOUT ROWID' : ''}`;
}

/** Rebuilds the jobs table from `select` (a SELECT over the old table, aliased `o`) under `create`, with `keep` indexes. */
function rebuild(create: string, select: string, keep: readonly string[], extraIndexes: readonly string[] = []): string {
  return [
    'ALTER TABLE jobsmith_jobs RENAME TO old_jobs',
    ...Object.keys(indexes).map((name) => `DROP INDEX IF EXISTS jobsmith_jobs_${name === 'hookPending' ? 'hook_pending' : name}`),
    create,
    `INSERT INTO jobsmith_jobs SELECT ${select} FROM old_jobs AS o ORDER BY seq`,
    'DROP TABLE old_jobs',
    ...keep.map((name) => indexes[name]!),
    ...extraIndexes,
  ].join(';\n');
}

const allIndexes = Object.keys(indexes);
const without = (...names: string[]) => allIndexes.filter((name) => !names.includes(name));
const sameColumns = jobColumns;
/** The old columns with what a completed job needs no more set to NULL: '[]' texts, the settled token. */
const clearedColumns = jobColumns
  .replace('progress_history', "nullif(o.progress_history, '[]')")
  .replace(' logs,', " nullif(o.logs, '[]'),");
const stateCode = "CASE o.state WHEN 'scheduled' THEN 0 WHEN 'queued' THEN 1 WHEN 'running' THEN 2 WHEN 'completed' THEN 3 WHEN 'failed' THEN 4 ELSE 5 END";

interface Candidate {
  name: string;
  what: string;
  sql: string;
}

const candidates: Candidate[] = [
  { name: 'today', what: 'the schema as the migrations leave it', sql: '' },
  { name: 'no-state-index', what: 'drop jobsmith_jobs_state (state, queue)', sql: 'DROP INDEX jobsmith_jobs_state' },
  { name: 'no-finished-index', what: 'drop jobsmith_jobs_finished (state, finished_at)', sql: 'DROP INDEX jobsmith_jobs_finished' },
  { name: 'no-expires-index', what: 'drop jobsmith_jobs_expires (expires_at)', sql: 'DROP INDEX jobsmith_jobs_expires' },
  {
    name: 'no-three-indexes',
    what: 'drop state, finished and expires indexes',
    sql: 'DROP INDEX jobsmith_jobs_state; DROP INDEX jobsmith_jobs_finished; DROP INDEX jobsmith_jobs_expires',
  },
  {
    name: 'null-not-empty',
    what: "progress_history and logs NULL instead of '[]'",
    sql: rebuild(jobsTable(), clearedColumns, allIndexes),
  },
  {
    name: 'no-settled-token',
    what: 'settled_token NULL once finished (kept only while a reply may be lost)',
    sql: 'UPDATE jobsmith_jobs SET settled_token = NULL',
  },
  {
    name: 'state-int',
    what: 'state as a small integer instead of text',
    sql: rebuild(jobsTable({ state: 'state INTEGER NOT NULL' }), sameColumns.replace('state,', `${stateCode},`), allIndexes),
  },
  {
    name: 'blob-id',
    what: 'id as a 16-byte blob instead of 36-char text',
    sql: rebuild(jobsTable({ id: 'id BLOB NOT NULL UNIQUE' }), sameColumns.replace(' id,', " unhex(replace(o.id, '-', '')),"), allIndexes),
  },
  {
    name: 'blob-id-without-rowid',
    what: 'id as a 16-byte blob PRIMARY KEY, WITHOUT ROWID (seq kept, UNIQUE)',
    sql: rebuild(
      jobsTable({ id: 'id BLOB NOT NULL PRIMARY KEY', withoutRowid: true }),
      sameColumns.replace(' id,', " unhex(replace(o.id, '-', '')),"),
      allIndexes,
    ),
  },
  {
    name: 'finished-table',
    what: 'finished jobs in a table of their own (no lease, key, progress or settle columns; id blob; state int; indexes: id, (finished_at), (expires_at))',
    sql: [
      'CREATE TABLE jobsmith_finished (id BLOB PRIMARY KEY, name TEXT NOT NULL, queue TEXT NOT NULL, state INTEGER NOT NULL, payload TEXT NOT NULL, metadata TEXT,',
      ' attempts INTEGER NOT NULL, crashes INTEGER NOT NULL, run_at INTEGER NOT NULL, created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER NOT NULL,',
      ' result TEXT, error TEXT, expires_at INTEGER, settled_token TEXT) WITHOUT ROWID;',
      `INSERT INTO jobsmith_finished SELECT unhex(replace(o.id, '-', '')), o.name, o.queue, ${stateCode}, o.payload, nullif(o.metadata, '{}'), o.attempts, o.crashes,`,
      ' o.run_at, o.created_at, o.started_at, o.finished_at, o.result, o.error, o.expires_at, NULL FROM jobsmith_jobs AS o WHERE o.state = \'completed\';',
      "DELETE FROM jobsmith_jobs WHERE state = 'completed';",
      'CREATE INDEX jobsmith_finished_at ON jobsmith_finished (finished_at);',
      'CREATE INDEX jobsmith_finished_expires ON jobsmith_finished (expires_at) WHERE expires_at IS NOT NULL',
    ].join('\n'),
  },
  {
    name: 'finished-table-lean',
    what: 'as finished-table, with only the id index (pruning by expires_at scans in id order: ids are time-ordered)',
    sql: [
      'CREATE TABLE jobsmith_finished (id BLOB PRIMARY KEY, name TEXT NOT NULL, queue TEXT NOT NULL, state INTEGER NOT NULL, payload TEXT NOT NULL, metadata TEXT,',
      ' attempts INTEGER NOT NULL, crashes INTEGER NOT NULL, run_at INTEGER NOT NULL, created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER NOT NULL,',
      ' result TEXT, error TEXT, expires_at INTEGER, settled_token TEXT) WITHOUT ROWID;',
      `INSERT INTO jobsmith_finished SELECT unhex(replace(o.id, '-', '')), o.name, o.queue, ${stateCode}, o.payload, nullif(o.metadata, '{}'), o.attempts, o.crashes,`,
      ' o.run_at, o.created_at, o.started_at, o.finished_at, o.result, o.error, o.expires_at, NULL FROM jobsmith_jobs AS o WHERE o.state = \'completed\';',
      "DELETE FROM jobsmith_jobs WHERE state = 'completed'",
    ].join('\n'),
  },
  {
    name: 'all-in-one-table',
    what: "one table: blob id, int state, NULL '[]'s and settled token, no state/finished/expires indexes",
    sql: rebuild(
      jobsTable({ id: 'id BLOB NOT NULL UNIQUE', state: 'state INTEGER NOT NULL' }),
      clearedColumns.replace(' id,', " unhex(replace(o.id, '-', '')),").replace('state,', `${stateCode},`).replace('settled_token', 'NULL'),
      without('state', 'finished', 'expires'),
    ),
  },
];

/** Bytes per job of each table and index, from dbstat, and of the whole file. */
function measure(path: string): { file: number; parts: Array<{ name: string; bytes: number }> } {
  const db = new Database(path);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.exec('VACUUM');
  db.pragma('wal_checkpoint(TRUNCATE)');
  const parts = db.prepare('SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC').all() as Array<{ name: string; bytes: number }>;
  db.close();
  return { file: statSync(path).size, parts };
}

/** CPU µs per job of inserting fresh queued rows into an emptied copy of a design (the enqueue's share of the store). */
function insertCost(path: string, copy: string): number | null {
  copyFileSync(path, copy);
  const db = new Database(copy);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  const columns = (db.prepare("SELECT name, type FROM pragma_table_info('jobsmith_jobs')").all() as Array<{ name: string; type: string }>);
  db.exec('DELETE FROM jobsmith_jobs');
  const blobId = columns.find((column) => column.name === 'id')?.type === 'BLOB';
  const intState = columns.find((column) => column.name === 'state')?.type === 'INTEGER';
  const insert = db.prepare(
    `INSERT INTO jobsmith_jobs (seq, id, name, queue, state, payload, metadata, priority, max_attempts, keep_completed_ms, keep_failed_ms, run_at, created_at${columns.some((c) => c.name === 'progress_history') ? ', progress_history, logs' : ''})
     VALUES (?, ?, 'bench.noop', 'default', ?, ?, '{}', 0, 3, 86400000, 604800000, ?, ?${columns.some((c) => c.name === 'progress_history') ? ", '[]', '[]'" : ''})`,
  );
  let sequence = 0;
  const base = Date.now();
  const batch = db.transaction((count: number) => {
    for (let i = 0; i < count; i++) {
      const n = sequence++;
      // Time-ordered ids, as UUIDv7 are: they land at the end of the id index.
      const hex = (base + n).toString(16).padStart(12, '0') + '7000' + n.toString(16).padStart(16, '0');
      const id = blobId ? Buffer.from(hex, 'hex') : `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
      insert.run(n + 1, id, intState ? 1 : 'queued', `{"index":${n},"sentAt":0}`, base, base);
    }
  });
  const cpu = process.cpuUsage();
  for (let done = 0; done < insertJobs; done += 1000) batch(1000);
  const used = process.cpuUsage(cpu);
  db.close();
  return (used.user + used.system) / insertJobs;
}

async function fill(path: string): Promise<void> {
  const backend = new SqliteBackend({ path, synchronous: 'normal' });
  await backend.open();
  const job = defineJob<{ index: number; sentAt: number }>({ name: 'bench.noop', run: () => {} });
  for (let done = 0; done < jobCount; done += 1000) {
    const now = backend.now();
    const batch = [];
    for (let i = 0; i < 1000; i++) batch.push(await prepareJob(job as never, { index: done + i, sentAt: now }, {}, now));
    await backend.enqueue(batch);
    let claimed = (await backend.claim({ queues: ['default'], names: ['bench.noop'], limit: 1000, workerId: 'disk-probe', leaseMs: 30_000 })).jobs;
    // Completed in batches of 50, as a worker at concurrency 50 settles them.
    for (let at = 0; at < claimed.length; at += 50) {
      await backend.settle(
        claimed.slice(at, at + 50).map((claim) => ({ kind: 'complete' as const, id: claim.id, token: claim.lease.token, result: null, expiresAt: backend.now() + 86_400_000 })),
      );
    }
    claimed = [];
  }
  await backend.close();
}

const directory = await mkdtemp(join(tmpdir(), 'jobsmith-disk-'));
try {
  const base = join(directory, 'base.db');
  await fill(base);
  const rows: string[] = [];
  for (const candidate of candidates) {
    if (only && !only.includes(candidate.name)) continue;
    const copy = join(directory, `${candidate.name}.db`);
    copyFileSync(base, copy);
    if (candidate.sql) {
      const db = new Database(copy);
      db.exec(candidate.sql);
      db.close();
    }
    const { file, parts } = measure(copy);
    const insertUs = insertCost(copy, join(directory, `${candidate.name}-insert.db`));
    const perJob = (bytes: number) => (bytes / jobCount).toFixed(1);
    console.log(`\n${candidate.name}: ${candidate.what}\n  file ${perJob(file)} bytes/job; insert ${insertUs?.toFixed(2)} CPU µs/job`);
    for (const part of parts) if (part.bytes / jobCount >= 0.5) console.log(`    ${part.name.padEnd(32)} ${perJob(part.bytes).padStart(7)}`);
    rows.push(`| ${candidate.name} | ${candidate.what} | ${perJob(file)} | ${parts.filter((p) => p.bytes / jobCount >= 0.5).map((p) => `${p.name.replace('jobsmith_', '')} ${perJob(p.bytes)}`).join(', ')} | ${insertUs?.toFixed(2)} |`);
  }
  console.log(`\n| candidate | design | bytes/job (file) | by table and index | insert CPU µs/job |\n| :-- | :-- | --: | :-- | --: |\n${rows.join('\n')}`);
} finally {
  await rm(directory, { recursive: true, force: true });
}
