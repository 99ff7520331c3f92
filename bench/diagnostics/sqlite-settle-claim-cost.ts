/**
 * The SQLite store's share of processing, without a worker: the backend calls a worker makes
 * at concurrency N, made directly in a loop. A backlog of `--jobs` no-op jobs is enqueued,
 * one claim of N is made, then each call settles the N completions it holds and claims the
 * next N in the same call (`settle(outcomes, next)`), until the backlog is done. For each
 * code tree given (`--src`, default this checkout's src/), alternating them `--reps` times on
 * fresh temp files, it reports medians of CPU µs (process.cpuUsage, user + system) and wall
 * µs per job, and with `--statements` the SQL statements per job and the µs spent in each
 * (a wrapper around better-sqlite3's run/get/all/iterate; it adds its own time to the totals).
 * Not part of `npm run bench`; run it with
 * `npx tsx bench/diagnostics/sqlite-settle-claim-cost.ts [--src /tmp/jobsmith-base/src --src src] [--concurrency 1,50] [--synchronous normal|full] [--jobs 5000] [--reps 5] [--statements]`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { median } from '../harness/statistics.ts';

const { values } = parseArgs({
  options: {
    src: { type: 'string', multiple: true },
    concurrency: { type: 'string', default: '1,50' },
    synchronous: { type: 'string', default: 'normal' },
    jobs: { type: 'string', default: '5000' },
    reps: { type: 'string', default: '5' },
    statements: { type: 'boolean', default: false },
  },
});
const sources = (values.src ?? ['src']).map((path) => resolve(path));
const synchronous = values.synchronous as 'normal' | 'full';
const jobCount = Number(values.jobs);
const reps = Number(values.reps);
const levels = values.concurrency.split(',').map(Number);

type Jobsmith = typeof import('../../src/index.ts');
type PrepareModule = typeof import('../../src/execution/prepare-job.ts');

const statementTime = new Map<string, { count: number; us: number }>();
const wrapped = new WeakSet<object>();
/** Each statement's text, shortened once: shortening it on every call would be charged to the statement. */
const shortSql = new Map<string, string>();
function wrapStatements(prototype: Record<string, unknown>): void {
  if (wrapped.has(prototype)) return;
  wrapped.add(prototype);
  for (const method of ['run', 'get', 'all']) {
    const original = prototype[method] as (...args: unknown[]) => unknown;
    prototype[method] = function (this: { source: string }, ...args: unknown[]) {
      const at = performance.now();
      try {
        return original.apply(this, args);
      } finally {
        let sql = shortSql.get(this.source);
        if (sql === undefined) shortSql.set(this.source, (sql = this.source.replace(/--[^\n]*\n/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 60)));
        const entry = statementTime.get(sql) ?? { count: 0, us: 0 };
        entry.count++;
        entry.us += (performance.now() - at) * 1000;
        statementTime.set(sql, entry);
      }
    };
  }
}

const samples = new Map<string, Array<{ cpuUs: number; wallUs: number }>>();

async function runOnce(source: string, tag: string, concurrency: number): Promise<void> {
  const jobsmith = (await import(pathToFileURL(join(source, 'index.ts')).href)) as Jobsmith;
  const { prepareJob } = (await import(pathToFileURL(join(source, 'execution/prepare-job.ts')).href)) as PrepareModule;
  const directory = await mkdtemp(join(tmpdir(), 'jobsmith-settle-claim-'));
  const backend = new jobsmith.SqliteBackend({ path: join(directory, 'jobs.db'), synchronous });
  try {
    await backend.open();
    const job = jobsmith.defineJob<{ index: number }>({ name: 'bench.noop', run: () => {} });
    for (let done = 0; done < jobCount; done += 1000) {
      const now = backend.now();
      const batch = [];
      for (let i = 0; i < Math.min(1000, jobCount - done); i++) batch.push(await prepareJob(job as never, { index: done + i }, {}, now));
      await backend.enqueue(batch);
    }
    if (values.statements) {
      const db = (backend as unknown as { connection: { handle(): { prepare(sql: string): object } } }).connection.handle();
      wrapStatements(Object.getPrototypeOf(db.prepare('SELECT 1')) as Record<string, unknown>);
      statementTime.clear();
    }
    const request = { queues: ['default'], names: ['bench.noop'], limit: concurrency, workerId: 'settle-claim-probe', leaseMs: 30_000 };
    const cpu = process.cpuUsage();
    const wall = performance.now();
    let held = (await backend.claim(request)).jobs;
    let processed = 0;
    while (held.length > 0) {
      processed += held.length;
      const outcomes = held.map((claimed) => ({ kind: 'complete' as const, id: claimed.id, token: claimed.lease.token, result: null, expiresAt: backend.now() + 86_400_000 }));
      const result = await backend.settle(outcomes, request);
      held = result.claimed?.jobs ?? [];
    }
    const used = process.cpuUsage(cpu);
    const wallUs = (performance.now() - wall) * 1000;
    if (processed !== jobCount) throw new Error(`processed ${processed} of ${jobCount}`);
    const label = `${tag} c${concurrency}`;
    samples.set(label, [...(samples.get(label) ?? []), { cpuUs: (used.user + used.system) / jobCount, wallUs: wallUs / jobCount }]);
    if (values.statements) {
      console.log(`\n${label}: statements per job (µs per job in each, wrapper included)`);
      let total = 0;
      for (const [sql, { count, us }] of [...statementTime].sort((a, b) => b[1].us - a[1].us)) {
        total += count;
        console.log(`  ${(count / jobCount).toFixed(3).padStart(7)} ${(us / jobCount).toFixed(1).padStart(7)} µs  ${sql}`);
      }
      console.log(`  ${(total / jobCount).toFixed(3).padStart(7)} statements per job`);
      statementTime.clear();
    }
  } finally {
    await backend.close();
    await rm(directory, { recursive: true, force: true });
  }
}

for (let rep = 0; rep < reps; rep++) {
  for (const concurrency of levels) {
    for (const [position, source] of sources.entries()) await runOnce(source, sources.length > 1 ? `[${position}]` : '', concurrency);
  }
}

console.log(`\nsynchronous=${synchronous}, ${jobCount} jobs, ${reps} alternating reps; medians per job`);
for (const [position, source] of sources.entries()) console.log(`  [${position}] ${source}`);
console.log(`${'measure'.padEnd(20)} ${'CPU µs'.padStart(8)} ${'wall µs'.padStart(8)}`);
for (const [label, list] of samples) {
  console.log(`${label.padEnd(20)} ${median(list.map((s) => s.cpuUs)).toFixed(1).padStart(8)} ${median(list.map((s) => s.wallUs)).toFixed(1).padStart(8)}`);
}
