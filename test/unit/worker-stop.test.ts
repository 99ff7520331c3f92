import { describe, expect, it } from 'vitest';
import { createClient, createWorker, defineJob } from '../../src/index.ts';
import { MemoryBackend } from '../../src/testing/index.ts';

describe('worker.stop() called again while stopping', () => {
  it('with a shorter timeout releases the running jobs then, and both calls resolve together', { timeout: 10_000 }, async () => {
    const backend = new MemoryBackend();
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const hangs = defineJob({ name: 'hangs', run: () => (started(), new Promise<never>(() => {})) });
    const client = createClient({ backend });
    const worker = createWorker({ backend, jobs: [hangs] });
    await worker.start();
    const { id } = await client.enqueue(hangs, null);
    await running;
    const graceful = worker.stop({ timeout: '1h' });
    const atOnce = worker.stop({ timeout: 0 });
    expect(atOnce).toBe(graceful);
    await atOnce;
    expect(await backend.get(id)).toMatchObject({ state: 'queued', attempts: 0, lease: null });
    await client.close();
    await backend.close();
  });
});
