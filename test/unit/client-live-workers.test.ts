import { describe, expect, it } from 'vitest';
import { type BackendCapability, createClient, createWorker, defineJob, StoreError, type WorkerPresence } from '../../src/index.ts';
import { FakeClock, MemoryBackend } from '../../src/testing/index.ts';

/** A store that keeps no live workers, as a third-party backend might not. */
class NoLiveWorkers extends MemoryBackend {
  override readonly capabilities = new Set<BackendCapability>(['change-events']);
}

/** A store whose registrations fail while `down` is set; everything else works. */
class FlakyRegistry extends MemoryBackend {
  down = true;
  override registerWorker(worker: WorkerPresence, ttlMs: number): Promise<void> {
    if (this.down) return Promise.reject(new StoreError('registry unreachable', { transient: true }));
    return super.registerWorker(worker, ttlMs);
  }
}

const hello = defineJob({ name: 'hello', queue: 'mail', run: () => 'hi' });

describe('client.workers() and client.explainWait()', () => {
  it('on a store without live workers: workers() throws the typed error, and why says it cannot tell', async () => {
    const client = createClient({ backend: new NoLiveWorkers() });
    await expect(client.workers()).rejects.toMatchObject({ code: 'UNSUPPORTED_CAPABILITY', details: { backend: 'memory', capability: 'live-workers' } });
    const { id } = await client.enqueue(hello, null);
    const { reasons } = await client.explainWait(id.slice(0, 13));
    expect(reasons).toEqual([
      {
        code: 'ready',
        blocking: false,
        message: 'Nothing in the store holds it back: the next worker serving queue "mail" that runs "hello" claims it. (Whether such a worker is running cannot be checked on this store.)',
      },
    ]);
    await client.close();
  });

  it('explains with the store clock, ISO times in messages, and no-live-worker until a worker for the queue starts', async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1, 12));
    const backend = new MemoryBackend({ clock });
    const client = createClient({ backend, clock });
    const { id } = await client.enqueue(hello, null, { delay: '1m' });
    const waiting = await client.explainWait(id);
    expect(waiting.now).toBe(clock.now());
    expect(waiting.job.id).toBe(id);
    expect(waiting.reasons.map((reason) => [reason.code, reason.message])).toEqual([
      ['delayed', 'It is delayed until 2026-01-01T12:01:00.000Z.'],
      ['no-live-worker', 'No live worker serves queue "mail" (no worker is live): it waits until one starts.'],
    ]);
    const worker = createWorker({ backend, clock, jobs: [hello], pollInterval: '1h', pruneInterval: null });
    await worker.start();
    expect(await client.workers()).toEqual([expect.objectContaining({ id: worker.id, queues: ['mail'], names: ['hello'], concurrency: 10 })]);
    expect((await client.explainWait(id)).reasons.map((reason) => reason.code)).toEqual(['delayed']);
    await worker.stop();
    expect(await client.workers()).toEqual([]);
    await client.close();
  });

  it('a worker whose registration fails keeps running jobs, reports it, and is listed once the store takes it', async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1, 12));
    const backend = new FlakyRegistry({ clock });
    const client = createClient({ backend, clock });
    const errors: string[] = [];
    const worker = createWorker({ backend, clock, jobs: [hello], lease: '30s', heartbeat: '5s', pruneInterval: null });
    worker.on('worker:error', ({ during }) => errors.push(during));
    await worker.start();
    expect(errors).toEqual(['register']);
    const { id } = await client.enqueue(hello, null);
    expect((await client.waitFor(id)).state).toBe('completed');
    await clock.advance('5s');
    expect(errors).toEqual(['register', 'heartbeat']);
    expect(await client.workers()).toEqual([]);
    backend.down = false;
    await clock.advance('5s');
    expect((await client.workers()).map((listed) => listed.id)).toEqual([worker.id]);
    expect(worker.health()).toMatchObject({ running: true, backendReachable: true });
    await worker.stop();
    expect(await client.workers()).toEqual([]);
    await client.close();
  });
});
