/**
 * How fast could a SQLite enqueue be while keeping Jobsmith's promises, against plainjob, as the
 * bench times it (a fresh process per measurement, so V8's warm-up counts; 20,000 jobs; bulk in
 * calls of 1,000)? Issue #21's enqueue floors ask for at least plainjob's rate in the same mode.
 *
 * Besides plainjob and Jobsmith's own client (`jobsmith`), it runs *lower bounds*: the least
 * per-job JavaScript an enqueue needs to keep what README promises (the payload checked as JSON
 * and written as text by `toJsonText`, a UUIDv7 id from `newJobId`, a `{ id, created }` result,
 * one awaited call per single enqueue), then the SQL, on a bare better-sqlite3 connection, into
 * one of these shapes of the active table:
 *
 * - `today`: the file as the migrations make it, with its own `insert` / `insertShared` statements;
 * - `wide-rowid`: today's 40 columns and six partial indexes, but a rowid table keyed by an
 *   integer `seq` (the claim order's last column) with the text id an unindexed column: what
 *   keying rows by a number taken from the id's time bits would cost, without the lookups of it;
 * - `thin-keyed`: 9 columns (the settings a job shares with its definition in a row of their own),
 *   WITHOUT ROWID, keyed by the text id, plus the ready index;
 * - `thin-rowid`: the same 9 columns in a rowid table keyed by `seq`.
 * - `thin-int`: `thin-rowid` with no text id at all: the UUID kept as two integers, its time and
 *   counter bits as the rowid `seq` and its random bits as `id_rest`, so a row is as narrow as a
 *   design that keeps a UUID per job can make it. Both are bound as cheap stand-ins (a counter and
 *   a number derived from it), which only lowers the bound.
 * - `thin-int-50`: `thin-int` with a bulk call's rows written 50 to an INSERT (one call into
 *   better-sqlite3 per 50 rows instead of one per row).
 *
 * A lower bound leaves out everything else a real enqueue does (options, templates, events, the
 * write queue): if a shape's lower bound does not reach plainjob, no client on that shape will.
 * Not part of `npm run bench`; run it with
 * `npx tsx bench/diagnostics/sqlite-enqueue-lower-bound.ts [--mode bulk|single] [--synchronous normal|full] [--reps 5] [--jobs 20000] [--systems a,b]`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { median } from '../harness/statistics.ts';
import { bulkBatchSize } from '../harness/workloads.ts';
import { childResult, freshEnqueueOptions, freshEnqueueRun, medianAndRange, openPlainjobQueue } from './fresh-enqueue.ts';

const { values } = parseArgs({
  options: {
    ...freshEnqueueOptions(5),
    systems: { type: 'string', default: 'plainjob,jobsmith,today,wide-rowid,thin-keyed,thin-rowid,thin-int' },
  },
});
const run = freshEnqueueRun(values);
const { mode, synchronous, jobCount } = run;

const src = resolve(fileURLToPath(new URL('../../src', import.meta.url)));
type Jobsmith = typeof import('../../src/index.ts');
type Ids = typeof import('../../src/domain/ids.ts');
type Json = typeof import('../../src/domain/json-value.ts');

interface Payload {
  index: number;
  sentAt: number;
}

/** One shape's table (made on a fresh file) and its statements for one job and for a call's jobs. */
interface Shape {
  ddl: string | null;
  single: string;
  /** Bulk: one statement run per job inside the call's transaction, or (`today`) one per call. */
  bulk: string;
  perCall: boolean;
  /** Bulk rows per INSERT (`bulk` then lists that many rows of VALUES); one when absent. */
  rowsPerStatement?: number;
}

const thinColumns = 'name TEXT NOT NULL, queue TEXT NOT NULL, state INTEGER NOT NULL, payload TEXT NOT NULL, priority INTEGER NOT NULL, run_at INTEGER NOT NULL, created_at INTEGER NOT NULL, settings INTEGER NOT NULL';
/** `keys`: the key columns before the rest (`id` or `seq, id`), each bound. */
const thinInsert = (keys: string[], rows = 1) =>
  `INSERT INTO shaped (${keys.join(', ')}, name, queue, state, payload, priority, run_at, created_at, settings) VALUES ${Array.from(
    { length: rows },
    () => `(${keys.map(() => '?').join(', ')}, 'bench.noop', 'default', 1, ?, 0, ?, ?, 1)`,
  ).join(', ')}`;
const thinIntDdl = (table: string) =>
  `CREATE TABLE ${table} (seq INTEGER PRIMARY KEY, id_rest INTEGER NOT NULL, ${thinColumns}); CREATE INDEX ${table}_ready ON ${table} (queue, priority DESC, run_at, seq) WHERE state = 1;`;
const wideColumns = `seq INTEGER PRIMARY KEY, id TEXT NOT NULL, name TEXT NOT NULL, queue TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state = 'queued' OR state = 'running' OR state = 'scheduled' OR state = 'completed' OR state = 'failed' OR state = 'cancelled'),
  payload TEXT NOT NULL, metadata TEXT NOT NULL, priority INTEGER NOT NULL, key TEXT, attempts INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL,
  crashes INTEGER NOT NULL DEFAULT 0, backoff TEXT, timeout_ms INTEGER, keep_completed_ms INTEGER, keep_failed_ms INTEGER, run_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER, result TEXT, error TEXT, progress TEXT, progress_history TEXT NOT NULL DEFAULT '[]',
  logs TEXT NOT NULL DEFAULT '[]', lease_token TEXT, lease_worker TEXT, lease_expires_at INTEGER, cancel_requested INTEGER NOT NULL DEFAULT 0, expires_at INTEGER,
  failed_hook TEXT CHECK (failed_hook IN ('pending','done')), settled_token TEXT, attempt_history TEXT, attempt_history_dropped INTEGER NOT NULL DEFAULT 0,
  flow_id TEXT, has_parents INTEGER NOT NULL DEFAULT 0, total_children INTEGER NOT NULL DEFAULT 0, pending_children INTEGER NOT NULL DEFAULT 0, run_if TEXT`;
const wideIndexes = `CREATE INDEX shaped_ready ON shaped (queue, priority DESC, run_at, seq) WHERE state = 'queued';
  CREATE INDEX shaped_scheduled ON shaped (run_at) WHERE state = 'scheduled';
  CREATE INDEX shaped_running ON shaped (lease_expires_at) WHERE state = 'running';
  CREATE UNIQUE INDEX shaped_key ON shaped (name, key) WHERE key IS NOT NULL AND state IN ('scheduled','queued','running');
  CREATE INDEX shaped_hook ON shaped (lease_expires_at) WHERE failed_hook = 'pending';
  CREATE INDEX shaped_flow ON shaped (flow_id) WHERE flow_id IS NOT NULL;`;
const wideInsert = `INSERT OR IGNORE INTO shaped (seq, id, name, queue, state, payload, metadata, priority, key, max_attempts, backoff, timeout_ms, keep_completed_ms, keep_failed_ms, run_at, created_at)
  VALUES (?, ?, 'bench.noop', 'default', 'queued', ?, '{}', 0, NULL, 3, NULL, NULL, 86400000, 1209600000, ?, ?)`;

const shapes: Record<string, Shape> = {
  // The statements of src/backends/sqlite/sql/queue.sql, with the bench job's settings written in.
  today: {
    ddl: null,
    single: `INSERT OR IGNORE INTO jobsmith_jobs (id, name, queue, state, payload, metadata, priority, key, max_attempts, backoff, timeout_ms, keep_completed_ms, keep_failed_ms, run_at, created_at)
      VALUES (?, 'bench.noop', 'default', 'queued', ?, '{}', 0, NULL, 3, NULL, NULL, 86400000, 1209600000, ?, ?)`,
    bulk: `INSERT OR IGNORE INTO jobsmith_jobs (id, name, queue, state, payload, metadata, priority, key, max_attempts, backoff, timeout_ms, keep_completed_ms, keep_failed_ms, run_at, created_at)
      SELECT value ->> 0, 'bench.noop', 'default', CASE WHEN value ->> 2 > :now THEN 'scheduled' ELSE 'queued' END, value ->> 1, '{}', 0, NULL, 3, NULL, NULL, 86400000, 1209600000, value ->> 2, :now
      FROM json_each(:jobs)`,
    perCall: true,
  },
  'wide-rowid': { ddl: `CREATE TABLE shaped (${wideColumns}); ${wideIndexes}`, single: wideInsert, bulk: wideInsert, perCall: false },
  'thin-keyed': {
    ddl: `CREATE TABLE shaped (id TEXT PRIMARY KEY, ${thinColumns}) WITHOUT ROWID; CREATE INDEX shaped_ready ON shaped (queue, priority DESC, run_at, id) WHERE state = 1;`,
    single: thinInsert(['id']),
    bulk: thinInsert(['id']),
    perCall: false,
  },
  'thin-rowid': {
    ddl: `CREATE TABLE shaped (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, ${thinColumns}); CREATE INDEX shaped_ready ON shaped (queue, priority DESC, run_at, seq) WHERE state = 1;`,
    single: thinInsert(['seq', 'id']),
    bulk: thinInsert(['seq', 'id']),
    perCall: false,
  },
  'thin-int': { ddl: thinIntDdl('shaped'), single: thinInsert(['seq', 'id_rest']), bulk: thinInsert(['seq', 'id_rest']), perCall: false },
  'thin-int-50': { ddl: thinIntDdl('shaped'), single: thinInsert(['seq', 'id_rest']), bulk: thinInsert(['seq', 'id_rest'], 50), perCall: false, rowsPerStatement: 50 },
};

interface ChildResult {
  wallUs: number;
  cpuUs: number;
}

interface Enqueuer {
  one(payload: Payload): Promise<unknown> | unknown;
  many(batch: Payload[]): Promise<unknown> | unknown;
  close(): Promise<void> | void;
}

async function plainjobEnqueuer(file: string): Promise<Enqueuer> {
  const queue = await openPlainjobQueue(file, synchronous);
  return {
    one: async (payload) => queue.add('bench.noop', payload),
    many: async (batch) => queue.addMany('bench.noop', batch),
    close: () => queue.close(),
  };
}

async function jobsmithEnqueuer(jobsmith: Jobsmith, file: string): Promise<Enqueuer> {
  const backend = new jobsmith.SqliteBackend({ path: file, synchronous });
  const job = jobsmith.defineJob<Payload>({ name: 'bench.noop', run: () => {} });
  const client = jobsmith.createClient({ backend, jobs: [job] });
  await client.backend();
  return {
    one: (payload) => client.enqueue(job, payload),
    many: (batch) => client.enqueueMany(batch.map((payload) => ({ job, payload }))),
    close: async () => {
      await client.close();
      await backend.close();
    },
  };
}

/** The lower bound on one shape: the least JavaScript a job needs, then the shape's SQL. */
async function lowerBoundEnqueuer(jobsmith: Jobsmith, name: string, file: string): Promise<Enqueuer> {
  const shape = shapes[name];
  if (!shape) throw new Error(`no shape "${name}"`);
  // The file as the backend makes it (WAL, auto_vacuum, the migrations), for every shape.
  const backend = new jobsmith.SqliteBackend({ path: file, synchronous });
  await backend.open();
  await backend.close();
  const { newJobId } = (await import(pathToFileURL(join(src, 'domain/ids.ts')).href)) as Ids;
  const { toJsonText } = (await import(pathToFileURL(join(src, 'domain/json-value.ts')).href)) as Json;
  const database = new Database(file);
  database.pragma(`synchronous = ${synchronous.toUpperCase()}`);
  if (shape.ddl) database.exec(shape.ddl);
  const single = database.prepare(shape.single);
  const bulk = database.prepare(shape.bulk);
  const perStatement = shape.rowsPerStatement ?? 1;
  // A call's rows past the last full statement (1,000 is a multiple of 50, so unused by the bench's calls).
  const bulkRest = perStatement > 1 ? database.prepare(shape.single) : bulk;
  const keyed = name === 'thin-keyed';
  // A number that orders jobs as their ids do (a rowid shape's key); its source is a later design's.
  let seq = 0;
  const args = (id: string, payload: string, now: number): unknown[] => {
    if (keyed || name === 'today') return [id, payload, now, now];
    seq++;
    return [seq, name.startsWith('thin-int') ? seq * 7919 : id, payload, now, now];
  };
  const transaction = database.transaction((rows: Array<[string, string]>, now: number) => {
    if (shape.perCall) bulk.run({ now, jobs: JSON.stringify(rows.map(([id, payload]) => [id, payload, now])) });
    else {
      let at = 0;
      for (; at + perStatement <= rows.length && perStatement > 1; at += perStatement) {
        const values: unknown[] = [];
        for (let row = at; row < at + perStatement; row++) values.push(...args(rows[row]![0], rows[row]![1], now));
        bulk.run(...values);
      }
      for (; at < rows.length; at++) bulkRest.run(...args(rows[at]![0], rows[at]![1], now));
    }
  });
  return {
    async one(payload) {
      const now = Date.now();
      const id = newJobId(now);
      single.run(...args(id, toJsonText(payload, 'payload', 512 * 1024), now));
      return { id, created: true };
    },
    async many(batch) {
      const now = Date.now();
      const rows: Array<[string, string]> = [];
      const results: Array<{ id: string; created: boolean }> = [];
      for (const payload of batch) {
        const id = newJobId(now);
        rows.push([id, toJsonText(payload, 'payload', 512 * 1024)]);
        results.push({ id, created: true });
      }
      transaction(rows, now);
      return results;
    },
    close: () => {
      database.close();
    },
  };
}

async function measureHere(system: string): Promise<ChildResult> {
  const directory = await mkdtemp(join(tmpdir(), 'jobsmith-enqueue-lower-bound-'));
  const payloads: Payload[] = Array.from({ length: jobCount }, (_, index) => ({ index, sentAt: 0 }));
  try {
    const file = join(directory, 'queue.db');
    const jobsmith = (await import(pathToFileURL(join(src, 'index.ts')).href)) as Jobsmith;
    const enqueuer =
      system === 'plainjob' ? await plainjobEnqueuer(file) : system === 'jobsmith' ? await jobsmithEnqueuer(jobsmith, file) : await lowerBoundEnqueuer(jobsmith, system, file);
    const cpu = process.cpuUsage();
    const startedAt = performance.now();
    if (mode === 'single') for (const payload of payloads) await enqueuer.one(payload);
    else for (let at = 0; at < payloads.length; at += bulkBatchSize) await enqueuer.many(payloads.slice(at, at + bulkBatchSize));
    const wallMs = performance.now() - startedAt;
    const used = process.cpuUsage(cpu);
    await enqueuer.close();
    return { wallUs: (wallMs * 1000) / jobCount, cpuUs: (used.user + used.system) / jobCount };
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

if (values.child !== undefined) {
  console.log(JSON.stringify(await measureHere(values.child)));
} else {
  const systems = values.systems.split(',');
  const results = new Map<string, ChildResult[]>(systems.map((system) => [system, []]));
  for (let rep = 0; rep < Number(values.reps); rep++) for (const system of systems) results.get(system)!.push(await childResult<ChildResult>(fileURLToPath(import.meta.url), system, run));
  const plainjobWall = results.has('plainjob') ? median(results.get('plainjob')!.map((result) => result.wallUs)) : null;
  console.log(`${mode} enqueue, synchronous=${synchronous}, ${jobCount.toLocaleString('en-US')} jobs a process, ${values.reps} alternating reps; median (range) µs a job, and plainjob's wall ÷ this wall (the bench's ratio)`);
  for (const [system, list] of results) {
    const wall = list.map((result) => result.wallUs);
    const ratio = plainjobWall === null ? '' : `  ${(plainjobWall / median(wall)).toFixed(2)}×`;
    console.log(`${system.padEnd(11)} wall ${medianAndRange(wall)}  CPU ${medianAndRange(list.map((result) => result.cpuUs))}${ratio}`);
  }
}
