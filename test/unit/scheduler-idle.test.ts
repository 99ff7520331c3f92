import { describe, expect, it } from 'vitest';
import { createScheduler, defineJob } from '../../src/index.ts';
import { MemoryBackend } from '../../src/testing/index.ts';

describe('a scheduler that does not know a due schedule’s job', () => {
  it('waits for its poll instead of spinning until another scheduler fires it', { timeout: 10_000 }, async () => {
    const backend = new MemoryBackend();
    let listCalls = 0;
    const listSchedules = backend.listSchedules.bind(backend);
    backend.listSchedules = () => {
      listCalls++;
      return listSchedules();
    };
    const report = defineJob({ name: 'report', run: () => null });
    const other = defineJob({ name: 'other', run: () => null });
    // Registered by a process that knows the job, which is not running now: the tick is due and stays due.
    const registrar = createScheduler({ backend, jobs: [report] });
    await registrar.schedule({ id: 'every-second', every: '1s', job: report, payload: null });
    await registrar.close();
    const scheduler = createScheduler({ backend, jobs: [other], pollInterval: '200ms' });
    await scheduler.start();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await scheduler.stop();
    // About one look per poll interval (1.5 s / 200 ms), not one per turn of the event loop.
    expect(listCalls).toBeLessThan(30);
    expect((await backend.stats()).counts.queued).toBe(0);
    await backend.close();
  });
});
