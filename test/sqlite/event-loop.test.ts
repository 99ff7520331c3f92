/**
 * SQLite does its work on the caller's thread. A call must still let the event loop turn, or a
 * tight loop of awaited calls would starve timers, I/O and a worker in the same process.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteBackend } from '../../src/backends/sqlite/sqlite-backend.ts';
import { type Client, createClient, createWorker, defineJob, type Worker } from '../../src/index.ts';

let dir: string;
let file: string;
const cleanups: Array<() => Promise<void>> = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'jobsmith-sqlite-loop-'));
  file = join(dir, 'jobs.db');
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function client(jobs: NonNullable<Parameters<typeof createClient>[0]>['jobs']): Client {
  const instance = createClient({ backend: `sqlite:${file}`, jobs });
  cleanups.push(() => instance.close());
  return instance;
}

function worker(options: Parameters<typeof createWorker>[0]): Worker {
  const instance = createWorker(options);
  cleanups.push(() => instance.stop({ timeout: 0 }));
  return instance;
}

describe('sqlite: calls let the event loop turn', () => {
  // The old backend answered every call without leaving the microtask queue: a worker in the
  // same process started nothing, and no timer fired, until the loop was over.
  it('a worker in the same process starts jobs, and timers fire, while a tight enqueue loop runs', { timeout: 60_000 }, async () => {
    let started = 0;
    const job = defineJob<{ n: number }, null>({
      name: 'loop.noop',
      run: async () => {
        started++;
        return null;
      },
    });
    const producer = client([job]);
    const consumer = worker({ backend: `sqlite:${file}`, jobs: [job], concurrency: 4, pollInterval: '1h', pruneInterval: null });
    await consumer.start();
    await producer.enqueue(job, { n: -1 });

    let timerFired = false;
    const timer = setTimeout(() => (timerFired = true), 1);
    // Long enough that a 1 ms timer is due many times over, short enough for a slow machine.
    const loopStart = performance.now();
    let enqueued = 0;
    while (performance.now() - loopStart < 500 || enqueued < 200) {
      await producer.enqueue(job, { n: enqueued++ });
    }
    const startedDuringLoop = started;
    const firedDuringLoop = timerFired;
    clearTimeout(timer);
    expect(firedDuringLoop, 'a 1 ms timer fired during the loop').toBe(true);
    expect(startedDuringLoop, `jobs started during a loop of ${enqueued} enqueues`).toBeGreaterThan(0);
  });

  it('each kind of call yields: a timer fires during tight loops of reads and of writes', async () => {
    const backend = new SqliteBackend({ path: file });
    cleanups.push(() => backend.close());
    await backend.open();
    const loops: Record<string, () => Promise<unknown>> = {
      get: () => backend.get('missing'),
      stats: () => backend.stats(),
      pause: () => backend.pause('q'),
      claim: () => backend.claim({ workerId: 'w', leaseMs: 1000, queues: ['q'], names: ['n'], limit: 1 }),
    };
    for (const [name, call] of Object.entries(loops)) {
      let fired = false;
      const timer = setTimeout(() => (fired = true), 1);
      const loopStart = performance.now();
      while (performance.now() - loopStart < 50) await call();
      clearTimeout(timer);
      expect(fired, `a 1 ms timer fired during a loop of ${name}()`).toBe(true);
    }
  });
});
