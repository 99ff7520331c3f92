import { afterEach, describe, expect, it } from 'vitest';
import { type Client, createClient, createWorker, defineJob, isJobsmithError, type Worker } from '../../src/index.ts';
import { FakeClock } from '../../src/testing/index.ts';

/**
 * One connection string is one store within a process: a client and a worker each given
 * 'memory:' used to get a store each, and the job never ran, with no warning.
 */
describe.each(['memory:', 'sqlite::memory:'])("'%s' given as a string", (url) => {
  const opened: Array<Client | Worker> = [];
  afterEach(async () => {
    for (const user of opened.splice(0)) await user.close();
  });

  it('is one store for a client and a worker in the same process', async () => {
    const echo = defineJob({ name: 'echo', run: (text: string) => text });
    const client = createClient({ backend: url, jobs: [echo] });
    const worker = createWorker({ backend: url, jobs: [echo], pollInterval: '20ms' });
    opened.push(worker, client);
    await worker.start();
    const id = await client.job(echo).later('hello');
    expect(await client.waitFor(id, { timeout: '10s' })).toMatchObject({ state: 'completed', result: 'hello' });
  });

  it('starts empty again once every user has closed it', async () => {
    const first = createClient({ backend: url });
    await first.enqueue(defineJob({ name: 'left-over', run: () => null }), null);
    expect((await first.stats()).counts.queued).toBe(1);
    await first.close();
    const second = createClient({ backend: url });
    opened.push(second);
    expect((await second.stats()).counts.queued).toBe(0);
  });

  it('stays open while one user still has it', async () => {
    const job = defineJob({ name: 'kept', run: () => null });
    const a = createClient({ backend: url });
    const b = createClient({ backend: url });
    opened.push(b);
    const { id } = await a.enqueue(job, null);
    await b.get(id);
    await a.close();
    expect((await b.get(id)).state).toBe('queued');
  });

  it('refuses a second user with another clock, naming the clash', async () => {
    const a = createClient({ backend: url, clock: new FakeClock(0) });
    opened.push(a);
    await a.stats();
    const b = createClient({ backend: url });
    opened.push(b);
    const error = await b.stats().catch((caught: unknown) => caught);
    expect(isJobsmithError(error, 'INVALID_OPTION')).toBe(true);
    expect(String((error as Error).message)).toMatch(/clock/);
  });
});
