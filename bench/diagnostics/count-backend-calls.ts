/**
 * Why processing runs at the speed it does: counts, per processed job, the backend
 * calls (each one SQLite transaction) and SQL statements a Jobsmith worker makes, and
 * how many jobs each claim and settle carries; on PostgreSQL, every statement is a round
 * trip to the server, and the enqueue calls are counted too; on Redis, every script call
 * is a round trip (counted by the server's INFO commandstats, with the time it spent in
 * them). It also splits the CPU a run costs between the worker process and the store:
 * the server's processes for PostgreSQL and Redis, the time inside backend calls for
 * SQLite (which runs in the worker's process). Not part of `npm run bench`; run it with
 * `npx tsx bench/diagnostics/count-backend-calls.ts [--jobs 5000] [--backends sqlite,memory,postgres,redis] [--concurrency 1,10,50] [--prefetch N] [--synchronous normal|full]`
 * (`--prefetch`: the worker option; without it, the worker's default).
 * SQLite runs with synchronous=normal unless given `--synchronous full`, so that disk flushes do not hide the CPU cost.
 * PostgreSQL runs on a throwaway server (test/support startPostgres), a fresh database per
 * run. Under `node --cpu-prof`, pass `--skip-statement-counts`: the counting wrapper would
 * otherwise be charged with the time of every statement it wraps.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readdirSync, readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { PostgresBackend } from '../../src/backends/postgres/postgres-backend.ts';
import { RedisBackend } from '../../src/backends/redis/redis-backend.ts';
import { type Backend, createClient, createWorker, defineJob, MemoryBackend, SqliteBackend } from '../../src/index.ts';
import { type PostgresServer, type RedisServer, requireServers, startPostgres, startRedis } from '../../test/support/index.ts';
import { CompletionTracker } from '../harness/completion-tracker.ts';

type BackendKind = 'memory' | 'sqlite' | 'postgres' | 'redis';

interface CallTally {
  calls: number;
  /** Milliseconds between each call and its answer: for SQLite, the store's own work in this process. */
  ms: number;
  /** Jobs the calls carried: claimed for `claim`, settled for `settle`. */
  jobsIn: number;
  /** Jobs claimed by the calls (a settle may claim too). */
  jobsClaimed: number;
}

type Tallies = Map<string, CallTally>;

/**
 * Counts every better-sqlite3 statement execution (SQLite) and every pg query, one round
 * trip each (PostgreSQL), by SQL text. The wrappers go on the prototypes the backend's
 * own connection uses, reached through it: under tsx the project's modules and this
 * script can hold separate instances of the same package, so patching this script's
 * import of better-sqlite3 or pg would count nothing.
 */
const statementCounts = new Map<string, number>();
const queryCounts = new Map<string, number>();
const instrumented = new WeakSet<object>();
let countingEnabled = true;

function wrap(prototype: Record<string, unknown>, methods: readonly string[], counts: Map<string, number>, sqlOf: (self: unknown, args: unknown[]) => string): void {
  if (instrumented.has(prototype)) return;
  instrumented.add(prototype);
  for (const method of methods) {
    const original = prototype[method] as (...args: unknown[]) => unknown;
    prototype[method] = function (this: unknown, ...args: unknown[]) {
      const sql = sqlOf(this, args).replace(/\s+/g, ' ').trim().slice(0, 70);
      counts.set(sql, (counts.get(sql) ?? 0) + 1);
      return original.apply(this, args);
    };
  }
}

/** Opens `backend` and wraps what its connection runs statements with. */
async function instrument(backend: Backend): Promise<void> {
  await backend.open();
  if (!countingEnabled) return;
  const internals = backend as unknown as { db?: { prepare(sql: string): object }; pool?: { Client?: { prototype: object } } };
  if (backend instanceof SqliteBackend && internals.db) {
    wrap(Object.getPrototypeOf(internals.db.prepare('SELECT 1')) as Record<string, unknown>, ['run', 'get', 'all'], statementCounts, (self) => (self as { source: string }).source);
  }
  if (backend instanceof PostgresBackend && internals.pool?.Client) {
    wrap(internals.pool.Client.prototype as Record<string, unknown>, ['query'], queryCounts, (_, args) => {
      const first = args[0];
      return typeof first === 'string' ? first : ((first as { text?: string } | undefined)?.text ?? '?');
    });
  }
}

/** SQLite's durability mode (`--synchronous`). */
let sqliteSynchronous: 'normal' | 'full' = 'normal';
let postgresServer: PostgresServer | null = null;
let redisServer: RedisServer | null = null;
let databases = 0;

/** CPU seconds (user + system) of a process and its children listed in /proc, e.g. a postmaster and its backends. */
function processTreeCpuSeconds(rootPid: number): number {
  const ticksPerSecond = 100;
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // Fields after the parenthesised command name: state ppid … utime (14th) stime (15th).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pid = Number(entry);
    const ppid = Number(fields[1]);
    if (pid === rootPid || ppid === rootPid) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / ticksPerSecond;
}

/** The store's own CPU seconds so far, where it runs in processes of its own. */
async function storeCpuSeconds(kind: BackendKind): Promise<number | null> {
  if (kind === 'postgres' && postgresServer?.pid !== undefined) return processTreeCpuSeconds(postgresServer.pid);
  if (kind === 'redis' && redisServer) {
    const redis = new Redis(redisServer.url);
    try {
      const info = await redis.info('cpu');
      const value = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
      return value('used_cpu_user') + value('used_cpu_sys');
    } finally {
      redis.disconnect();
    }
  }
  return null;
}

/** Redis script calls (round trips) and the microseconds the server spent in them, since its last stats reset. */
async function redisScriptStats(reset: boolean): Promise<{ calls: number; usec: number }> {
  const redis = new Redis(redisServer!.url);
  try {
    if (reset) await redis.config('RESETSTAT');
    const info = await redis.info('commandstats');
    let calls = 0;
    let usec = 0;
    for (const match of info.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+),usec=(\d+)/g)) {
      calls += Number(match[1]);
      usec += Number(match[2]);
    }
    return { calls, usec };
  } finally {
    redis.disconnect();
  }
}

async function openBackend(kind: BackendKind, directory: string): Promise<Backend> {
  if (kind === 'memory') return new MemoryBackend();
  let backend: Backend;
  if (kind === 'sqlite') {
    backend = new SqliteBackend({ path: join(directory, 'jobs.db'), synchronous: sqliteSynchronous });
  } else if (kind === 'redis') {
    redisServer ??= await startRedis();
    backend = new RedisBackend({ url: redisServer.url, prefix: `diagnose${++databases}` });
  } else {
    postgresServer ??= await startPostgres();
    backend = new PostgresBackend({ connectionString: await postgresServer.createDatabase(`diagnose_${++databases}`) });
  }
  await instrument(backend);
  return backend;
}

/** The statements (SQLite) or round trips (PostgreSQL) counted since `clear()`, per `per`, most frequent first. */
function printCounts(title: string, counts: Map<string, number>, per: number, unit: string): void {
  const total = [...counts.values()].reduce((sum, count) => sum + count, 0);
  console.log(`  ${title}: ${(total / per).toFixed(3)} per ${unit}`);
  for (const [sql, count] of [...counts].sort((a, b) => b[1] - a[1])) console.log(`    ${(count / per).toFixed(3).padStart(7)}  ${sql}`);
}

/**
 * SQL statements (SQLite) or round trips (PostgreSQL) of one awaited enqueue and of one
 * 1,000-job enqueueMany: where single enqueue time goes, beside the commit itself.
 */
async function countEnqueueCalls(kind: 'sqlite' | 'postgres', singles: number): Promise<void> {
  const directory = await mkdtemp(join(tmpdir(), 'jobsmith-diagnose-'));
  const backend = await openBackend(kind, directory);
  const job = defineJob<{ index: number }>({ name: 'diagnose', run: () => {} });
  const client = createClient({ backend, jobs: [job] });
  await client.backend();
  const counts = kind === 'sqlite' ? statementCounts : queryCounts;
  const unit = kind === 'sqlite' ? 'SQL statements' : 'round trips';
  counts.clear();
  let startedAt = performance.now();
  for (let index = 0; index < singles; index++) await client.enqueue(job, { index });
  const singleMs = (performance.now() - startedAt) / singles;
  console.log(`\n${kind}${kind === 'sqlite' ? ` (synchronous=${sqliteSynchronous})` : ''}, enqueue 1 per call, ${singles} calls: ${singleMs.toFixed(3)} ms per call`);
  printCounts(unit, counts, singles, 'enqueue');
  counts.clear();
  startedAt = performance.now();
  await client.enqueueMany(Array.from({ length: 1000 }, (_, index) => ({ job, payload: { index: singles + index } })));
  console.log(`${kind}, enqueueMany of 1,000: ${(performance.now() - startedAt).toFixed(1)} ms`);
  printCounts(unit, counts, 1, 'call');
  await client.close();
  await backend.close();
  await rm(directory, { recursive: true, force: true });
}

/** Wraps a backend so every call through it is tallied. */
function tallied(backend: Backend, tallies: Tallies): Backend {
  const tally = (method: string) => {
    const entry = tallies.get(method) ?? { calls: 0, ms: 0, jobsIn: 0, jobsClaimed: 0 };
    tallies.set(method, entry);
    return entry;
  };
  return new Proxy(backend, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      const method = value as (...args: unknown[]) => unknown;
      return (...args: unknown[]) => {
        const entry = tally(property);
        entry.calls++;
        const calledAt = performance.now();
        const result = method.apply(target, args);
        void Promise.resolve(result).then(
          () => (entry.ms += performance.now() - calledAt),
          () => (entry.ms += performance.now() - calledAt),
        );
        if (property === 'settle') entry.jobsIn += (args[0] as readonly unknown[]).length;
        if (property === 'claim' || property === 'settle') {
          void (result as Promise<{ jobs?: unknown[]; claimed?: { jobs: unknown[] } | null }>).then((answer) => {
            entry.jobsClaimed += answer.jobs?.length ?? answer.claimed?.jobs.length ?? 0;
          });
        }
        return result;
      };
    },
  });
}

async function processOnce(kind: BackendKind, jobs: number, concurrency: number): Promise<void> {
  const directory = await mkdtemp(join(tmpdir(), 'jobsmith-diagnose-'));
  const backend = await openBackend(kind, directory);
  const tracker = new CompletionTracker(jobs);
  const job = defineJob<{ index: number }>({ name: 'diagnose', run: ({ index }) => void tracker.record(index) });
  const client = createClient({ backend, jobs: [job] });
  for (let start = 0; start < jobs; start += 1000) {
    await client.enqueueMany(Array.from({ length: Math.min(1000, jobs - start) }, (_, offset) => ({ job, payload: { index: start + offset } })));
  }
  const tallies: Tallies = new Map();
  statementCounts.clear();
  queryCounts.clear();
  const worker = createWorker({ backend: tallied(backend, tallies), jobs: [job], concurrency, pruneInterval: null, ...(prefetch === undefined ? {} : { prefetch }) });
  if (kind === 'redis') await redisScriptStats(true);
  const storeCpuBefore = await storeCpuSeconds(kind);
  const cpuBefore = process.cpuUsage();
  const startedAt = performance.now();
  await worker.start();
  await tracker.waitUntilDone(startedAt + 120_000);
  const elapsedMs = (tracker.doneAt ?? performance.now()) - startedAt;
  const cpu = process.cpuUsage(cpuBefore);
  const storeCpuAfter = await storeCpuSeconds(kind);
  const scripts = kind === 'redis' ? await redisScriptStats(false) : null;
  await worker.stop();
  await client.close();
  await backend.close();
  await rm(directory, { recursive: true, force: true });

  const perJob = (count: number) => (count / jobs).toFixed(3);
  const transactions = [...tallies.values()].reduce((sum, entry) => sum + entry.calls, 0);
  console.log(`\n${kind}, ${jobs} jobs, concurrency ${concurrency}: ${Math.round((tracker.distinct / elapsedMs) * 1000)} jobs/s, ${perJob(transactions)} backend calls per job`);
  for (const [method, entry] of tallies) {
    const carried = method === 'settle' ? `, ${(entry.jobsIn / entry.calls).toFixed(1)} settled per call` : '';
    const claimed = method === 'claim' || method === 'settle' ? `, ${(entry.jobsClaimed / entry.calls).toFixed(1)} claimed per call` : '';
    console.log(`  ${method}: ${entry.calls} calls (${perJob(entry.calls)} per job)${carried}${claimed}`);
  }
  const workerCpuMs = (cpu.user + cpu.system) / 1000;
  const storeCpuMs = storeCpuBefore === null || storeCpuAfter === null ? null : (storeCpuAfter - storeCpuBefore) * 1000;
  const callMs = [...tallies.values()].reduce((sum, entry) => sum + entry.ms, 0);
  const perJobUs = (ms: number) => `${((ms * 1000) / jobs).toFixed(1)} µs/job`;
  console.log(`  CPU: worker process ${perJobUs(workerCpuMs)}${storeCpuMs === null ? '' : `, store server ${perJobUs(storeCpuMs)}`}; wall ${perJobUs(elapsedMs)}`);
  if (kind === 'sqlite' || kind === 'memory') console.log(`  of which inside backend calls (the store, in this process): ${perJobUs(callMs)}`);
  if (scripts) console.log(`  Redis script calls (round trips): ${perJob(scripts.calls)} per job; server time in them ${perJobUs(scripts.usec / 1000)}`);
  if (kind === 'sqlite' && statementCounts.size > 0) printCounts('SQL statements', statementCounts, jobs, 'job');
  if (kind === 'postgres' && queryCounts.size > 0) printCounts('round trips (one query each; the LISTEN connection included)', queryCounts, jobs, 'job');
}

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '5000' }, backends: { type: 'string', default: 'sqlite,memory' }, concurrency: { type: 'string', default: '1,10,50' },
    'enqueue-calls': { type: 'string', default: '500' },
    'skip-statement-counts': { type: 'boolean', default: false },
    prefetch: { type: 'string' },
    synchronous: { type: 'string', default: 'normal' },
  },
});
const jobs = Number(values.jobs);
const concurrencies = values.concurrency.split(',').map(Number);
countingEnabled = !values['skip-statement-counts'];
const prefetch = values.prefetch === undefined ? undefined : Number(values.prefetch);
if (values.synchronous !== 'normal' && values.synchronous !== 'full') throw new Error(`--synchronous: normal or full, not "${values.synchronous}"`);
sqliteSynchronous = values.synchronous;
const kinds = values.backends.split(',');
for (const kind of kinds) {
  if (kind !== 'sqlite' && kind !== 'memory' && kind !== 'postgres' && kind !== 'redis') throw new Error(`--backends: sqlite, memory, postgres or redis, not "${kind}"`);
}
if (kinds.includes('postgres') && requireServers('postgres').skip) throw new Error('--backends postgres: no PostgreSQL server binaries on this machine');
if (kinds.includes('redis') && requireServers('redis').skip) throw new Error('--backends redis: no redis-server binary on this machine');
try {
  if (!values['skip-statement-counts']) {
    for (const kind of kinds) if (kind === 'sqlite' || kind === 'postgres') await countEnqueueCalls(kind, Number(values['enqueue-calls']));
  }
  for (const kind of kinds as BackendKind[]) {
    for (const concurrency of concurrencies) await processOnce(kind, jobs, concurrency);
  }
} finally {
  await (postgresServer as PostgresServer | null)?.stop();
  await (redisServer as RedisServer | null)?.stop();
}
