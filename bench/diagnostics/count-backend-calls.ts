/**
 * Why processing runs at the speed it does: counts, per processed job, the backend
 * calls (each one SQLite transaction) and SQL statements a Jobsmith worker makes, and
 * how many jobs each claim and settle carries. Not part of `npm run bench`; run it with
 * `npx tsx bench/diagnostics/count-backend-calls.ts [--jobs 5000] [--backends sqlite,memory] [--concurrency 1,10,50]`.
 * SQLite runs with synchronous=normal, so disk flushes do not hide the CPU cost. Under
 * `node --cpu-prof`, pass `--skip-statement-counts`: the counting wrapper would otherwise
 * be charged with the time of every statement it wraps.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { type Backend, createClient, createWorker, defineJob, MemoryBackend, SqliteBackend } from '../../src/index.ts';
import { CompletionTracker } from '../harness/completion-tracker.ts';

interface CallTally {
  calls: number;
  /** Jobs the calls carried: claimed for `claim`, settled for `settle`. */
  jobsIn: number;
  /** Jobs claimed by the calls (a settle may claim too). */
  jobsClaimed: number;
}

type Tallies = Map<string, CallTally>;

/** Counts every better-sqlite3 statement execution in this process, by SQL text. */
const statementCounts = new Map<string, number>();
function countStatements(): void {
  const probe = new Database(':memory:');
  const prototype = Object.getPrototypeOf(probe.prepare('SELECT 1')) as Record<'run' | 'get' | 'all', (...args: unknown[]) => unknown>;
  probe.close();
  for (const method of ['run', 'get', 'all'] as const) {
    const original = prototype[method];
    prototype[method] = function (this: { source: string }, ...args: unknown[]) {
      const sql = this.source.replace(/\s+/g, ' ').slice(0, 70);
      statementCounts.set(sql, (statementCounts.get(sql) ?? 0) + 1);
      return original.apply(this, args);
    };
  }
}

/** Wraps a backend so every call through it is tallied. */
function tallied(backend: Backend, tallies: Tallies): Backend {
  const tally = (method: string) => {
    const entry = tallies.get(method) ?? { calls: 0, jobsIn: 0, jobsClaimed: 0 };
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
        const result = method.apply(target, args);
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

async function processOnce(kind: 'memory' | 'sqlite', jobs: number, concurrency: number): Promise<void> {
  const directory = await mkdtemp(join(tmpdir(), 'jobsmith-diagnose-'));
  const backend: Backend = kind === 'memory' ? new MemoryBackend() : new SqliteBackend({ path: join(directory, 'jobs.db'), synchronous: 'normal' });
  const tracker = new CompletionTracker(jobs);
  const job = defineJob<{ index: number }>({ name: 'diagnose', run: ({ index }) => void tracker.record(index) });
  const client = createClient({ backend, jobs: [job] });
  for (let start = 0; start < jobs; start += 1000) {
    await client.enqueueMany(Array.from({ length: Math.min(1000, jobs - start) }, (_, offset) => ({ job, payload: { index: start + offset } })));
  }
  const tallies: Tallies = new Map();
  statementCounts.clear();
  const worker = createWorker({ backend: tallied(backend, tallies), jobs: [job], concurrency, pruneInterval: null });
  const startedAt = performance.now();
  await worker.start();
  await tracker.waitForAll(startedAt + 120_000);
  const elapsedMs = tracker.lastNewAt - startedAt;
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
  if (kind === 'sqlite' && statementCounts.size > 0) {
    const statements = [...statementCounts.values()].reduce((sum, count) => sum + count, 0);
    console.log(`  SQL statements: ${perJob(statements)} per job`);
    for (const [sql, count] of [...statementCounts].sort((a, b) => b[1] - a[1])) console.log(`    ${perJob(count).padStart(6)}  ${sql}`);
  }
}

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '5000' }, backends: { type: 'string', default: 'sqlite,memory' }, concurrency: { type: 'string', default: '1,10,50' },
    'skip-statement-counts': { type: 'boolean', default: false },
  },
});
const jobs = Number(values.jobs);
const concurrencies = values.concurrency.split(',').map(Number);
if (!values['skip-statement-counts']) countStatements();
for (const kind of values.backends.split(',')) {
  if (kind !== 'sqlite' && kind !== 'memory') throw new Error(`--backends: sqlite or memory, not "${kind}"`);
  for (const concurrency of concurrencies) await processOnce(kind, jobs, concurrency);
}
