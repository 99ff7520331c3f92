import { expect } from 'vitest';
import type { WorkerPresence } from '../../contract/worker-registry.ts';
import { defineJob } from '../../domain/define-job.ts';
import { testWithCapability } from './capabilities.ts';
import type { ConformanceSuite } from './index.ts';

/** A presence as a worker would register it, with `overrides`. */
function presence(id: string, overrides: Partial<WorkerPresence> = {}): WorkerPresence {
  return { id, host: 'box-1', pid: 4242, queues: ['default', 'mail'], names: ['noop', 'send'], concurrency: 4, running: 0, startedAt: Date.UTC(2026, 0, 1), ...overrides };
}

/** Capability `live-workers`: workers register, renew with their heartbeat, deregister, and lapse when they stop renewing. */
export function liveWorkerTests(suite: ConformanceSuite): void {
  const test = testWithCapability(suite, 'live-workers');
  const { startWorker, eventually, untilState, newJob, noop, enqueueOne, claimBy } = suite;

  test('registers, lists by id with the store clock, refreshes, and deregisters', async ({ backend, clock }) => {
    const start = clock.now();
    await backend.registerWorker!(presence('w-b', { queues: null }), 10_000);
    await backend.registerWorker!(presence('w-a'), 10_000);
    expect(await backend.listWorkers!()).toEqual([
      { ...presence('w-a'), lastHeartbeatAt: start, expiresAt: start + 10_000 },
      { ...presence('w-b', { queues: null }), lastHeartbeatAt: start, expiresAt: start + 10_000 },
    ]);
    await clock.advance('6s');
    await backend.registerWorker!(presence('w-a', { running: 3, queues: ['mail'] }), 10_000);
    const [a, b] = await backend.listWorkers!();
    expect(a).toEqual({ ...presence('w-a', { running: 3, queues: ['mail'] }), lastHeartbeatAt: start + 6000, expiresAt: start + 16_000 });
    expect(b!.lastHeartbeatAt).toBe(start);
    expect(await backend.deregisterWorker!('w-a')).toBe(true);
    expect(await backend.deregisterWorker!('w-a')).toBe(false);
    expect((await backend.listWorkers!()).map((worker) => worker.id)).toEqual(['w-b']);
  });

  test('a registration that is not renewed lapses at its expiry, by the store clock', async ({ backend, clock }) => {
    await backend.registerWorker!(presence('crashed'), 1000);
    await backend.registerWorker!(presence('alive'), 5000);
    await clock.advance(999);
    expect((await backend.listWorkers!()).map((worker) => worker.id)).toEqual(['alive', 'crashed']);
    await clock.advance(1);
    expect((await backend.listWorkers!()).map((worker) => worker.id)).toEqual(['alive']);
    // A lapsed worker that comes back registers afresh.
    await backend.registerWorker!(presence('crashed'), 1000);
    expect((await backend.listWorkers!()).map((worker) => worker.id)).toEqual(['alive', 'crashed']);
  });

  test('renewLeases with a presence renews the leases and the registration in one call, leases or none', async ({ backend, clock }) => {
    await enqueueOne(await newJob(noop, null));
    const [job] = (await backend.claim(claimBy('w-heart', 1))).jobs;
    const lease = { id: job!.id, token: job!.lease.token };
    const statuses = await backend.renewLeases([lease], 30_000, { worker: presence('w-heart', { running: 1 }), ttlMs: 5000 });
    expect(statuses).toEqual([{ id: job!.id, held: true, cancelRequested: false }]);
    expect((await backend.get(job!.id))!.lease!.expiresAt).toBe(clock.now() + 30_000);
    expect(await backend.listWorkers!()).toEqual([{ ...presence('w-heart', { running: 1 }), lastHeartbeatAt: clock.now(), expiresAt: clock.now() + 5000 }]);
    // A lost lease is reported as ever, and the registration is written all the same.
    await clock.advance('4s');
    const lost = await backend.renewLeases([{ id: job!.id, token: 'not-the-token' }], 30_000, { worker: presence('w-heart'), ttlMs: 5000 });
    expect(lost).toEqual([{ id: job!.id, held: false, cancelRequested: false }]);
    expect((await backend.listWorkers!())[0]!.expiresAt).toBe(clock.now() + 5000);
    await clock.advance('4s');
    expect(await backend.renewLeases([], 30_000, { worker: presence('w-heart'), ttlMs: 5000 })).toEqual([]);
    expect((await backend.listWorkers!())[0]).toMatchObject({ id: 'w-heart', running: 0, lastHeartbeatAt: clock.now() });
  });

  test('a worker is listed from its start with its queues, names and concurrency, counts its running jobs, and is gone after stop', async ({ backend, client, clock }) => {
    let release: () => void = () => {};
    const blocking = defineJob({ name: 'blocking', queue: 'slow', run: () => new Promise<void>((resolve) => (release = resolve)) });
    const worker = await startWorker([blocking, noop], { concurrency: 3, queues: ['slow', 'default'], lease: '30s', heartbeat: '5s' });
    const listed = await backend.listWorkers!();
    expect(listed).toEqual([
      expect.objectContaining({ id: worker.id, pid: process.pid, queues: ['slow', 'default'], names: ['blocking', 'noop'], concurrency: 3, running: 0, expiresAt: clock.now() + 30_000 }),
    ]);
    expect(typeof listed[0]!.host).toBe('string');
    const { id } = await client.enqueue(blocking, null);
    await untilState(id, 'running');
    // The next heartbeat renews the job's lease and the registration, with the job counted.
    await clock.advance('5s');
    await eventually(async () => (await backend.listWorkers!())[0]?.running === 1, 'the heartbeat to count the running job');
    // An idle worker's heartbeat keeps it listed past its first lease.
    release();
    await untilState(id, 'completed');
    for (let beat = 0; beat < 8; beat++) await clock.advance('5s');
    expect(await backend.listWorkers!()).toEqual([expect.objectContaining({ id: worker.id, running: 0 })]);
    await worker.stop();
    expect(await backend.listWorkers!()).toEqual([]);
    // Stopped is stopped: a second stop does not bring it back, nor does time.
    await worker.stop({ timeout: 0 });
    await clock.advance('10s');
    expect(await backend.listWorkers!()).toEqual([]);
  });

  test('a worker stopped while a job runs past its shutdown timeout is deregistered too', async ({ backend, client }) => {
    const stuck = defineJob({ name: 'stuck', run: (_: null, ctx) => new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))) });
    const worker = await startWorker([stuck]);
    const { id } = await client.enqueue(stuck, null);
    await untilState(id, 'running');
    expect((await backend.listWorkers!()).map((listed) => listed.id)).toEqual([worker.id]);
    await worker.stop({ timeout: 0 });
    await untilState(id, 'queued');
    expect(await backend.listWorkers!()).toEqual([]);
  });
}
