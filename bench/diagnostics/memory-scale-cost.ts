/**
 * What a large backlog costs the memory backend (issue #21's scale floor: the rate with
 * 1,000,000 jobs queued must be at least 0.8× the rate with 10,000 queued). For each code
 * tree given (`--src`, default this checkout's src/) and each backlog (`--backlogs`), each in
 * a fresh child process as the bench runs it:
 *
 * - **heap per job:** fills the backlog with `client.enqueueMany` of 1,000 (the bench's
 *   no-op job and payload), forces a full GC, and divides the growth of `heapUsed` since
 *   the backend was opened by the number of jobs. Measured once per tree and backlog, in a
 *   child of its own, because the forced GC would change the timed run that follows a fill.
 *   With it, how long a forced full collection of the filled heap takes (median of 3): the
 *   work a major GC landing in the timed window does on the backlog.
 * - **rate:** the same fill, then, like the bench's scale workload, one worker at
 *   concurrency 50 timed from its start to the handler run of the `--timed`-th job; with the
 *   process's CPU µs per job (`process.cpuUsage`, user + system) and the garbage collector's
 *   pauses in that window (`perf_hooks` `gc` entries: count and ms by kind, and their share
 *   of the window). `--reps` times, alternating trees and backlogs.
 *
 * `--trace-gc` passes V8's flag to the rate children, which then print every collection.
 * Not part of `npm run bench`; run it with
 * `npx tsx bench/diagnostics/memory-scale-cost.ts [--src /tmp/jobsmith-base/src --src src] [--backlogs 10000,1000000] [--timed 10000] [--reps 3] [--trace-gc]`
 * (`--reps 0`: heap per job only).
 */
import { join, resolve } from 'node:path';
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { median } from '../harness/statistics.ts';
import { childOutput } from './child-output.ts';

const { values } = parseArgs({
  options: {
    src: { type: 'string', multiple: true },
    backlogs: { type: 'string', default: '10000,1000000' },
    timed: { type: 'string', default: '10000' },
    reps: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '50' },
    'trace-gc': { type: 'boolean', default: false },
    child: { type: 'string' },
    backlog: { type: 'string' },
  },
});

const batchSize = 1000;

interface HeapResult {
  kind: 'heap';
  heapBytesPerJob: number;
  fillMs: number;
  /** A forced full collection of the filled heap (median of 3): what marking the backlog costs. */
  fullGcMs: number;
}

interface RateResult {
  kind: 'rate';
  jobsPerSecond: number;
  cpuUsPerJob: number;
  elapsedMs: number;
  gc: Record<string, { count: number; ms: number }>;
  gcMs: number;
}

type Jobsmith = typeof import('../../src/index.ts');

/** One measurement in this (child) process, printed as one JSON line. */
async function child(mode: 'heap' | 'rate', source: string, backlog: number, timed: number, concurrency: number): Promise<HeapResult | RateResult> {
  const jobsmith = (await import(pathToFileURL(join(source, 'index.ts')).href)) as Jobsmith;
  const forceGc = (globalThis as { gc?: () => void }).gc;
  if (!forceGc) throw new Error('run with --expose-gc');
  const seen = new Uint8Array(backlog);
  let distinct = 0;
  let doneAt = 0;
  let signalDone = () => {};
  const done = new Promise<void>((resolveDone) => {
    signalDone = resolveDone;
  });
  const job = jobsmith.defineJob<{ index: number; sentAt: number }>({
    name: 'bench.noop',
    run(payload) {
      if (seen[payload.index] === 1) return;
      seen[payload.index] = 1;
      if (++distinct === timed) {
        doneAt = performance.now();
        signalDone();
      }
    },
  });
  const backend = new jobsmith.MemoryBackend();
  const client = jobsmith.createClient({ backend, jobs: [job] });
  await client.backend();
  forceGc();
  forceGc();
  const heapBefore = process.memoryUsage().heapUsed;
  const fillStart = performance.now();
  for (let enqueued = 0; enqueued < backlog; ) {
    const count = Math.min(batchSize, backlog - enqueued);
    await client.enqueueMany(Array.from({ length: count }, (_, offset) => ({ job, payload: { index: enqueued + offset, sentAt: 0 } })));
    enqueued += count;
  }
  const fillMs = performance.now() - fillStart;
  if (mode === 'heap') {
    forceGc();
    forceGc();
    const heapBytesPerJob = (process.memoryUsage().heapUsed - heapBefore) / backlog;
    const fullGcMs: number[] = [];
    for (let round = 0; round < 3; round++) {
      const gcStart = performance.now();
      forceGc();
      fullGcMs.push(performance.now() - gcStart);
    }
    await client.close();
    await backend.close();
    return { kind: 'heap', heapBytesPerJob, fillMs, fullGcMs: median(fullGcMs) };
  }
  const entries: PerformanceEntry[] = [];
  const observer = new PerformanceObserver((list) => entries.push(...list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  const cpu = process.cpuUsage();
  const startedAt = performance.now();
  const worker = jobsmith.createWorker({ backend, jobs: [job], concurrency, pruneInterval: null });
  await worker.start();
  await done;
  const used = process.cpuUsage(cpu);
  await worker.stop();
  // Entries arrive on a later tick.
  await new Promise((resolveLater) => setTimeout(resolveLater, 50));
  observer.disconnect();
  const names: Record<number, string> = {
    [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
    [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
    [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
    [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
  };
  const gc: Record<string, { count: number; ms: number }> = {};
  let gcMs = 0;
  for (const entry of entries) {
    if (entry.startTime < startedAt || entry.startTime > doneAt) continue;
    const kind = names[(entry as PerformanceEntry & { detail: { kind: number } }).detail.kind] ?? 'other';
    const row = (gc[kind] ??= { count: 0, ms: 0 });
    row.count++;
    row.ms += entry.duration;
    gcMs += entry.duration;
  }
  await client.close();
  await backend.close();
  const elapsedMs = doneAt - startedAt;
  return { kind: 'rate', jobsPerSecond: timed / (elapsedMs / 1000), cpuUsPerJob: (used.user + used.system) / timed, elapsedMs, gc, gcMs };
}

function runChild(mode: 'heap' | 'rate', source: string, backlog: number): Promise<HeapResult | RateResult> {
  const flags = ['--expose-gc', ...(mode === 'rate' && values['trace-gc'] ? ['--trace-gc'] : [])];
  const args = [...flags, '--import', 'tsx', fileURLToPath(import.meta.url), '--child', mode, '--src', source, '--backlog', String(backlog)];
  args.push('--timed', values.timed!, '--concurrency', values.concurrency!);
  return childOutput(args, `the ${mode} child for ${backlog} jobs`).then((lines) => {
    const result = lines.findLast((line) => line.startsWith('{"kind"'));
    if (values['trace-gc']) for (const line of lines) if (!line.startsWith('{"kind"')) console.log(`  ${line}`);
    if (result === undefined) throw new Error(`the ${mode} child for ${backlog} jobs printed no result`);
    return JSON.parse(result) as HeapResult | RateResult;
  });
}

async function main(): Promise<void> {
  const sources = (values.src ?? ['src']).map((path) => resolve(path));
  const backlogs = values.backlogs!.split(',').map(Number);
  const reps = Number(values.reps);
  const format = (value: number, digits = 0) => value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  for (const source of sources) {
    for (const backlog of backlogs) {
      const heap = (await runChild('heap', source, backlog)) as HeapResult;
      console.log(`${source} ${format(backlog)} queued: heap ${format(heap.heapBytesPerJob)} B/job, a full GC ${format(heap.fullGcMs, 1)} ms, fill ${format(heap.fillMs)} ms`);
    }
  }
  const rates = new Map<string, RateResult[]>();
  for (let rep = 0; rep < reps; rep++) {
    for (const source of sources) {
      for (const backlog of backlogs) {
        const rate = (await runChild('rate', source, backlog)) as RateResult;
        const label = `${source} ${format(backlog)}`;
        rates.set(label, [...(rates.get(label) ?? []), rate]);
        const kinds = Object.entries(rate.gc).map(([kind, row]) => `${kind} ${row.count}× ${format(row.ms, 1)} ms`);
        console.log(
          `rep ${rep + 1} ${label} queued: ${format(rate.jobsPerSecond)} jobs/s, ${format(rate.cpuUsPerJob, 1)} CPU µs/job, GC ${format(rate.gcMs, 1)} of ${format(rate.elapsedMs, 1)} ms (${kinds.join(', ') || 'none'})`,
        );
      }
    }
  }
  if (reps === 0) return;
  console.log('\nmedians:');
  for (const source of sources) {
    const small = rates.get(`${source} ${format(backlogs[0]!)}`)!;
    for (const backlog of backlogs) {
      const runs = rates.get(`${source} ${format(backlog)}`)!;
      const ratios = runs.map((run, index) => run.jobsPerSecond / small[index]!.jobsPerSecond);
      console.log(
        `${source} ${format(backlog)} queued: ${format(median(runs.map((run) => run.jobsPerSecond)))} jobs/s (×${format(median(ratios), 2)} of ${format(backlogs[0]!)}, each run: ${ratios.map((ratio) => format(ratio, 2)).join(' ')}), ${format(median(runs.map((run) => run.cpuUsPerJob)), 1)} CPU µs/job, GC ${format(median(runs.map((run) => (100 * run.gcMs) / run.elapsedMs)), 0)} % of the window`,
      );
    }
  }
}

if (values.child !== undefined) {
  const result = await child(values.child as 'heap' | 'rate', resolve(values.src![0]!), Number(values.backlog), Number(values.timed), Number(values.concurrency));
  console.log(JSON.stringify(result));
  process.exit(0);
} else {
  await main();
}
