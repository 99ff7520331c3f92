/**
 * SQLite enqueues as the bench times them: each measurement in a fresh process (so V8's
 * compiling of the per-job code and the first garbage collections count, as they do in the
 * bench's `enqueue-single` and `enqueue-bulk` runs), into a fresh temp file, Jobsmith's
 * `client.enqueue` / `client.enqueueMany` against plainjob's `add` / `addMany` on the same
 * better-sqlite3. For each code tree given (`--src`, default this checkout's src/) and for
 * plainjob, alternating, `--reps` times; prints the median and range of wall and CPU µs a job
 * (CPU: `process.cpuUsage()` of the child, user + system, its V8 threads included).
 * `--split` also times `backend.enqueue` alone inside Jobsmith's bulk calls (the rest of each
 * call is the client's preparation). `--calls` also prints, for bulk, each call's ms in order
 * (median over the reps): where a process's first calls (V8 compiling the per-job code) and a
 * checkpoint of the log cost more than the rest. Not part of `npm run bench`; run it with
 * `npx tsx bench/diagnostics/sqlite-enqueue-fresh.ts [--src /path/to/old/src --src src] [--mode bulk|single] [--synchronous normal|full] [--reps 7] [--jobs 20000] [--split] [--calls]`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { median } from '../harness/statistics.ts';
import { bulkBatchSize } from '../harness/workloads.ts';
import { childResult, freshEnqueueOptions, freshEnqueueRun, medianAndRange, openPlainjobQueue } from './fresh-enqueue.ts';

const { values } = parseArgs({
  options: {
    ...freshEnqueueOptions(7),
    src: { type: 'string', multiple: true },
    split: { type: 'boolean', default: false },
    calls: { type: 'boolean', default: false },
  },
});
const run = freshEnqueueRun(values);
const { mode, synchronous, jobCount } = run;

interface ChildResult {
  wallUs: number;
  cpuUs: number;
  /** `--split`: µs a job inside `backend.enqueue`. */
  backendUs: number | null;
  /** Bulk: each call's ms, in order. */
  callMs: number[];
}

/** What a child measures: enqueue `jobCount` bench payloads into a fresh file, timed as the bench does. */
async function measureHere(system: string): Promise<ChildResult> {
  const directory = await mkdtemp(join(tmpdir(), 'jobsmith-enqueue-fresh-'));
  // Built before timing, as the bench builds them (bench-jobs.ts).
  const payloads = Array.from({ length: jobCount }, (_, index) => ({ index, sentAt: 0 }));
  let backendMs = 0;
  let enqueueOne: (payload: (typeof payloads)[number]) => Promise<void> | void;
  let enqueueMany: (batch: typeof payloads) => Promise<void> | void;
  let close: () => Promise<void> | void;
  try {
    if (system === 'plainjob') {
      const queue = await openPlainjobQueue(join(directory, 'plainjob.db'), synchronous);
      enqueueOne = (payload) => void queue.add('bench.noop', payload);
      enqueueMany = (batch) => void queue.addMany('bench.noop', batch);
      close = () => queue.close();
    } else {
      const jobsmith = (await import(pathToFileURL(join(system, 'index.ts')).href)) as typeof import('../../src/index.ts');
      const job = jobsmith.defineJob<{ index: number; sentAt: number }>({ name: 'bench.noop', run: () => {} });
      const backend = new jobsmith.SqliteBackend({ path: join(directory, 'jobsmith.db'), synchronous });
      const client = jobsmith.createClient({ backend, jobs: [job] });
      await client.backend();
      if (values.split) {
        const enqueue = backend.enqueue.bind(backend);
        backend.enqueue = async (...args) => {
          const startedAt = performance.now();
          try {
            return await enqueue(...args);
          } finally {
            backendMs += performance.now() - startedAt;
          }
        };
      }
      enqueueOne = async (payload) => void (await client.enqueue(job, payload));
      enqueueMany = async (batch) => void (await client.enqueueMany(batch.map((payload) => ({ job, payload }))));
      close = async () => {
        await client.close();
        await backend.close();
      };
    }
    const callMs: number[] = [];
    const cpu = process.cpuUsage();
    const startedAt = performance.now();
    if (mode === 'single') for (const payload of payloads) await enqueueOne(payload);
    else {
      for (let at = 0; at < payloads.length; at += bulkBatchSize) {
        const callStartedAt = performance.now();
        await enqueueMany(payloads.slice(at, at + bulkBatchSize));
        callMs.push(performance.now() - callStartedAt);
      }
    }
    const wallMs = performance.now() - startedAt;
    const used = process.cpuUsage(cpu);
    await close();
    return {
      wallUs: (wallMs * 1000) / jobCount,
      cpuUs: (used.user + used.system) / jobCount,
      backendUs: values.split && system !== 'plainjob' ? (backendMs * 1000) / jobCount : null,
      callMs,
    };
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

if (values.child !== undefined) {
  console.log(JSON.stringify(await measureHere(values.child)));
} else {
  const systems = [...(values.src ?? ['src']).map((path) => resolve(path)), 'plainjob'];
  const results = new Map<string, ChildResult[]>(systems.map((system) => [system, []]));
  for (let rep = 0; rep < Number(values.reps); rep++) for (const system of systems) results.get(system)!.push(await childResult<ChildResult>(fileURLToPath(import.meta.url), system, run, values.split ? ['--split'] : []));
  console.log(`${mode} enqueue, synchronous=${synchronous}, ${jobCount.toLocaleString('en-US')} jobs a process, ${values.reps} alternating reps; median (range), µs a job`);
  for (const [system, list] of results) {
    const backend = list.flatMap((result) => (result.backendUs === null ? [] : [result.backendUs]));
    console.log(`${system}\n  wall ${medianAndRange(list.map((result) => result.wallUs))}  CPU ${medianAndRange(list.map((result) => result.cpuUs))}${backend.length > 0 ? `  inside backend.enqueue ${medianAndRange(backend)}` : ''}`);
    if (values.calls && mode === 'bulk') {
      const perCall = list[0]!.callMs.map((_, call) => median(list.map((result) => result.callMs[call]!)).toFixed(1));
      console.log(`  ms a call, in order: ${perCall.join(' ')}`);
    }
  }
}
