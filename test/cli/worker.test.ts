/**
 * `jobsmith worker` as a process manager runs it: started from the config, fed by other
 * processes, stopped by SIGTERM (gracefully: running jobs finish) and by two signals (at
 * once: running jobs go back to their queue). Either way no job is lost and none is left
 * running. Each completed attempt is written to a ledger file, so a job run twice would show.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type JobRecord } from '../../src/index.ts';
import { cli, makeProject, type Project, type RunningCli, startCli } from './support/cli.ts';

const config = `import { appendFileSync } from 'node:fs';
import { defineConfig, defineJob } from 'jobsmith';

const nap = defineJob({
  name: 'nap',
  async run({ ms }: { ms: number }, ctx) {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, ms);
      ctx.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(ctx.signal.reason);
      });
    });
    appendFileSync(process.env.LEDGER!, ctx.id + '\\n');
    return { slept: ms };
  },
});

export default defineConfig({ jobs: [nap], worker: { concurrency: 2, shutdownTimeout: '30s', pollInterval: '200ms' } });
`;

let project: Project;
const ledger = () => join(project.dir, 'ledger.txt');
const completedIds = () => {
  try {
    return readFileSync(ledger(), 'utf8').trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
};

async function jobs(): Promise<JobRecord[]> {
  const client = createClient({ backend: project.url });
  try {
    return (await client.list({ limit: 100 })).jobs;
  } finally {
    await client.close();
  }
}

const logs = (worker: RunningCli) => worker.lines.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
const logged = (message: string) => (line: string) => line.startsWith('{') && (JSON.parse(line) as { msg: string }).msg === message;
const startedCount = (worker: RunningCli) => logs(worker).filter((line) => line.msg === 'started').length;

async function enqueueNaps(ms: number, count: number): Promise<string[]> {
  // From other processes, as an app would.
  const results = await Promise.all(Array.from({ length: count }, () => cli(['enqueue', 'nap', '--param', `ms=${ms}`], { cwd: project.dir })));
  for (const result of results) expect(result.code, result.stderr).toBe(0);
  return results.map((result) => result.stdout.trim());
}

async function startWorker(): Promise<RunningCli> {
  const worker = await startCli(['worker'], { cwd: project.dir, env: { LEDGER: ledger() } });
  await worker.until('that it runs', logged('jobsmith worker running; Ctrl-C to stop'));
  return worker;
}

beforeAll(async () => {
  project = await makeProject({ 'jobsmith.config.ts': config });
}, 300_000);

afterAll(() => project?.remove());

describe('jobsmith worker', () => {
  it('SIGTERM stops it gracefully: the running jobs finish, the rest wait; a new worker runs them; each ran once', { timeout: 180_000 }, async () => {
    const worker = await startWorker();
    try {
      expect(logs(worker)[0]).toMatchObject({ component: 'worker', msg: 'worker started', concurrency: 2 });
      const ids = await enqueueNaps(1500, 4);
      await worker.until('a job starting', logged('started'));
      worker.signal('SIGTERM');
      expect(await worker.exited).toBe(0);
      expect(logs(worker).at(-1)).toMatchObject({ msg: 'stopped' });
      expect(logs(worker).some((line) => line.msg === 'stopping at once: releasing running jobs')).toBe(false);
      const afterStop = await jobs();
      expect(afterStop.filter((job) => job.state === 'running')).toEqual([]);
      // What started finished; what did not start waits, with no attempt spent.
      expect(afterStop.filter((job) => job.state === 'completed')).toHaveLength(startedCount(worker));
      for (const job of afterStop.filter((job) => job.state !== 'completed')) expect(job).toMatchObject({ state: 'queued', attempts: 0 });

      const second = await startWorker();
      try {
        await second.until('every job completed', () => completedIds().length >= ids.length);
      } finally {
        second.signal('SIGTERM');
      }
      expect(await second.exited).toBe(0);
      expect(completedIds().sort()).toEqual([...ids].sort());
      expect((await jobs()).every((job) => job.state === 'completed')).toBe(true);
    } finally {
      worker.signal('SIGKILL');
    }
  });

  it('a second signal stops it at once: running jobs go back to their queue, unspent; nothing is left running', { timeout: 180_000 }, async () => {
    const before = completedIds().length;
    const worker = await startWorker();
    try {
      const ids = await enqueueNaps(120_000, 2);
      await worker.until('both jobs running', () => startedCount(worker) >= 2);
      worker.signal('SIGTERM');
      await worker.until('that it stops', (line) => line.includes('"msg":"stopping: finishing running jobs'));
      // A repeat within a second counts as the same Ctrl-C (npx and the terminal both pass one on).
      worker.signal('SIGINT');
      await new Promise((resolve) => setTimeout(resolve, 1200));
      worker.signal('SIGINT');
      expect(await worker.exited).toBe(0);
      expect(logs(worker).filter((line) => line.msg === 'stopping at once: releasing running jobs')).toHaveLength(1);
      expect(logs(worker).at(-1)).toMatchObject({ msg: 'stopped' });
      const released = (await jobs()).filter((job) => ids.includes(job.id));
      expect(released).toHaveLength(2);
      for (const job of released) expect(job).toMatchObject({ state: 'queued', attempts: 0, lease: null });
      expect(completedIds()).toHaveLength(before);
    } finally {
      worker.signal('SIGKILL');
    }
  });

  it('refuses to start without jobs to run, exit 2', async () => {
    const empty = await makeProject({ 'jobsmith.config.mjs': 'export default { jobs: [] };\n' });
    try {
      expect(await cli(['worker'], { cwd: empty.dir })).toMatchObject({ code: 2, stderr: 'error: jobsmith.config.mjs lists no jobs, so the worker would have nothing to run.\n' });
    } finally {
      empty.remove();
    }
  });
});
