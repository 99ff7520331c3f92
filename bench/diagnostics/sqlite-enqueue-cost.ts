/**
 * Where a SQLite enqueue spends its time, and old code against new. For each code tree
 * given (`--src`, default this checkout's src/), alternating them `--reps` times on fresh
 * temp files, it measures per job: a 1,000-job `client.enqueueMany`, split into the client's
 * preparation (`prepareJob`: validation, JSON, defaults, ids) and `backend.enqueue` (the
 * INSERTs, their index writes and the commit); and `--singles` awaited `client.enqueue`
 * calls one after another. Beside them, the floor of the same rows on a bare better-sqlite3
 * connection: one prepared INSERT per job in one transaction (bulk) or in autocommit
 * (single), into Jobsmith's own table and into a plainjob-like one (id, type, data, status,
 * created_at, next_run_at, two indexes), which is what plainjob writes per job.
 * Reports medians of CPU µs (process.cpuUsage, user + system) and wall µs per job.
 * Not part of `npm run bench`; run it with
 * `npx tsx bench/diagnostics/sqlite-enqueue-cost.ts [--src /tmp/jobsmith-base/src --src src] [--synchronous normal|full] [--reps 5] [--singles 2000]`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { median } from '../harness/statistics.ts';

const { values } = parseArgs({
  options: {
    src: { type: 'string', multiple: true },
    synchronous: { type: 'string', default: 'normal' },
    reps: { type: 'string', default: '5' },
    singles: { type: 'string', default: '2000' },
    bulk: { type: 'string', default: '10' },
  },
});
const sources = (values.src ?? ['src']).map((path) => resolve(path));
const synchronous = values.synchronous as 'normal' | 'full';
const reps = Number(values.reps);
const singles = Number(values.singles);
const bulkCalls = Number(values.bulk);
const perCall = 1000;

interface Sample {
  cpuUs: number;
  wallUs: number;
}

/** CPU and wall time of `fn`, per `jobs`. */
async function timed(jobs: number, fn: () => Promise<unknown> | unknown): Promise<Sample> {
  const cpu = process.cpuUsage();
  const wall = performance.now();
  await fn();
  const used = process.cpuUsage(cpu);
  return { cpuUs: (used.user + used.system) / jobs, wallUs: ((performance.now() - wall) * 1000) / jobs };
}

const samples = new Map<string, Sample[]>();
function record(label: string, sample: Sample): void {
  samples.set(label, [...(samples.get(label) ?? []), sample]);
}


type Jobsmith = typeof import('../../src/index.ts');
type PrepareModule = typeof import('../../src/execution/prepare-job.ts');

async function measureTree(source: string, tag: string): Promise<void> {
  const jobsmith = (await import(pathToFileURL(join(source, 'index.ts')).href)) as Jobsmith;
  const { prepareJob } = (await import(pathToFileURL(join(source, 'execution/prepare-job.ts')).href)) as PrepareModule;
  const directory = await mkdtemp(join(tmpdir(), 'jobsmith-enqueue-cost-'));
  try {
    const job = jobsmith.defineJob<{ index: number; sentAt: number }>({ name: 'bench.noop', run: () => {} });
    // Bulk, through the client.
    let backend = new jobsmith.SqliteBackend({ path: join(directory, 'bulk.db'), synchronous });
    let client = jobsmith.createClient({ backend, jobs: [job] });
    await client.backend();
    let index = 0;
    const items = () => Array.from({ length: perCall }, () => ({ job, payload: { index: index++, sentAt: 0 } }));
    await client.enqueueMany(items());
    record(`${tag} enqueueMany (client)`, await timed(perCall * bulkCalls, async () => {
      for (let call = 0; call < bulkCalls; call++) await client.enqueueMany(items());
    }));
    // The same split in two: the client's preparation, then the backend's insert.
    let prepared: Awaited<ReturnType<typeof prepareJob>>[][] = [];
    record(`${tag}   prepareJob x1000`, await timed(perCall * bulkCalls, async () => {
      prepared = [];
      for (let call = 0; call < bulkCalls; call++) {
        const now = backend.now();
        const batch = [];
        for (const item of items()) batch.push(await prepareJob(job as never, item.payload, {}, now));
        prepared.push(batch);
      }
    }));
    record(`${tag}   backend.enqueue x1000`, await timed(perCall * bulkCalls, async () => {
      for (const batch of prepared) await backend.enqueue(batch);
    }));
    await client.close();
    await backend.close();
    // Single, awaited, one after another.
    backend = new jobsmith.SqliteBackend({ path: join(directory, 'single.db'), synchronous });
    client = jobsmith.createClient({ backend, jobs: [job] });
    await client.backend();
    await client.enqueue(job, { index: -1, sentAt: 0 });
    record(`${tag} enqueue (client, awaited)`, await timed(singles, async () => {
      for (let n = 0; n < singles; n++) await client.enqueue(job, { index: n, sentAt: 0 });
    }));
    await client.close();
    await backend.close();
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

/** The floors: the same rows written by bare prepared INSERTs, into Jobsmith's table and into a plainjob-like one. */
async function measureFloors(source: string): Promise<void> {
  const jobsmith = (await import(pathToFileURL(join(source, 'index.ts')).href)) as Jobsmith;
  const directory = await mkdtemp(join(tmpdir(), 'jobsmith-enqueue-floor-'));
  try {
    // Jobsmith's schema, made by opening a backend once.
    const schemaBackend = new jobsmith.SqliteBackend({ path: join(directory, 'jobsmith.db'), synchronous });
    await schemaBackend.open();
    await schemaBackend.close();
    const db = new Database(join(directory, 'jobsmith.db'));
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous}`);
    const insert = db.prepare(
      `INSERT OR IGNORE INTO jobsmith_jobs (id, name, queue, state, payload, metadata, priority, key, max_attempts, backoff, timeout_ms, keep_completed_ms, keep_failed_ms, run_at, created_at)
       VALUES (?, 'bench.noop', 'default', 'queued', ?, '{}', 0, NULL, 3, NULL, NULL, 86400000, 604800000, ?, ?)`,
    );
    let n = 0;
    const row = () => {
      const now = Date.now();
      insert.run(crypto.randomUUID(), JSON.stringify({ index: n++, sentAt: 0 }), now, now);
    };
    const bulk = db.transaction(() => {
      for (let i = 0; i < perCall; i++) row();
    });
    record('floor: bare INSERTs, jobsmith table, bulk', await timed(perCall * bulkCalls, () => {
      for (let call = 0; call < bulkCalls; call++) bulk();
    }));
    record('floor: bare INSERT, jobsmith table, single', await timed(singles, () => {
      for (let i = 0; i < singles; i++) row();
    }));
    db.close();
    const plain = new Database(join(directory, 'plain.db'));
    plain.pragma('journal_mode = WAL');
    plain.pragma(`synchronous = ${synchronous}`);
    plain.exec(`CREATE TABLE plainjob_jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, data TEXT, status TEXT NOT NULL,
      created_at INTEGER NOT NULL, next_run_at INTEGER, started_at INTEGER, failed_at INTEGER, error TEXT);
      CREATE INDEX idx_plainjob_jobs_status ON plainjob_jobs (status, type, next_run_at);
      CREATE INDEX idx_plainjob_jobs_type ON plainjob_jobs (type);`);
    const plainInsert = plain.prepare('INSERT INTO plainjob_jobs (type, data, status, created_at, next_run_at) VALUES (?, ?, ?, ?, ?)');
    const plainRow = () => plainInsert.run('bench.noop', JSON.stringify({ index: n++, sentAt: 0 }), 'pending', Date.now(), Date.now());
    const plainBulk = plain.transaction(() => {
      for (let i = 0; i < perCall; i++) plainRow();
    });
    record('floor: bare INSERTs, plainjob-like table, bulk', await timed(perCall * bulkCalls, () => {
      for (let call = 0; call < bulkCalls; call++) plainBulk();
    }));
    record('floor: bare INSERT, plainjob-like table, single', await timed(singles, () => {
      for (let i = 0; i < singles; i++) plainRow();
    }));
    plain.close();
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

for (let rep = 0; rep < reps; rep++) {
  for (const [position, source] of sources.entries()) await measureTree(source, sources.length > 1 ? `[${position}]` : '');
  await measureFloors(sources.at(-1)!);
}

console.log(`synchronous=${synchronous}, ${reps} alternating reps, ${bulkCalls} x ${perCall} bulk, ${singles} singles; medians per job`);
for (const [position, source] of sources.entries()) console.log(`  [${position}] ${source}`);
console.log(`${'measure'.padEnd(50)} ${'CPU µs'.padStart(8)} ${'wall µs'.padStart(8)}`);
for (const [label, list] of samples) {
  console.log(`${label.padEnd(50)} ${median(list.map((s) => s.cpuUs)).toFixed(1).padStart(8)} ${median(list.map((s) => s.wallUs)).toFixed(1).padStart(8)}`);
}
