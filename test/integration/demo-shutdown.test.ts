/**
 * `npm start`, stopped as a terminal or a process manager stops it: SIGINT to the whole
 * process group, so npm, tsx and the demo each get it and npm and tsx pass it on again.
 * The demo must stop gracefully on that one Ctrl-C, and at once (releasing running jobs)
 * on a second one a moment later; either way it leaves no job `running`. It used to die
 * from the repeated signal 0.2-0.4 s after "stopping", leaving a job running until its
 * lease lapsed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { type Client, createClient } from '../../src/index.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'jobsmith-demo-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface DemoRun {
  child: ChildProcess;
  logs: Array<Record<string, unknown>>;
  exited: Promise<void>;
  until(what: string, match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<void>;
}

function startDemo(url: string): DemoRun {
  // Its own process group, as a terminal gives a foreground job, so one kill reaches npm, tsx and the demo.
  const child = spawn('npm', ['start', '--silent'], {
    cwd: root,
    detached: true,
    env: { ...process.env, JOBSMITH_URL: url, LOG_LEVEL: 'info', JOBSMITH_DASHBOARD_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) if (line.startsWith('{')) logs.push(JSON.parse(line) as Record<string, unknown>);
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const until = async (what: string, match: (line: Record<string, unknown>) => boolean, timeoutMs = 40_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!logs.some(match)) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the demo never logged ${what}; stderr: ${stderr.slice(-2000)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  return { child, logs, exited, until };
}

const killGroup = (child: ChildProcess, signal: NodeJS.Signals) => {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // The group is gone already.
  }
};

async function runningJobs(url: string): Promise<number> {
  const client = createClient({ backend: url });
  try {
    return (await client.list({ state: 'running', limit: 100 })).jobs.length;
  } finally {
    await client.close();
  }
}

const reportStarted = (line: Record<string, unknown>) => line.msg === 'started' && line.job === 'monthly-report';

async function withClient<T>(url: string, use: (client: Client) => Promise<T>): Promise<T> {
  const client = createClient({ backend: url });
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}

describe('the demo (npm start) stopped by signals to its process group', () => {
  it('stops gracefully on one Ctrl-C: running jobs finish, nothing is left running', { timeout: 90_000 }, async () => {
    const url = `sqlite:${join(dir, 'once.db')}`;
    const demo = startDemo(url);
    try {
      // The flow it makes at start completes: its callback runs once its three items have finished.
      await demo.until('the batch callback completing', (line) => line.msg === 'completed' && line.job === 'album-ready');
      const batch = demo.logs.find((line) => typeof line.msg === 'string' && line.msg.startsWith('batch enqueued'))!;
      const callback = demo.logs.find((line) => line.msg === 'completed' && line.job === 'album-ready')!;
      expect(callback).toMatchObject({ id: batch.onComplete, result: { album: 'album-1', total: 3, completed: 3, failed: 0, thumbnails: expect.arrayContaining(['album-1/beach-320w.jpg']) } });
      // Stop while a monthly report runs (one starts every 6 s), so the stop has a job to wait for.
      const runningReport = (line: Record<string, unknown>) => reportStarted(line) && !demo.logs.some((other) => other.msg === 'completed' && other.id === line.id);
      await demo.until('a monthly report running', runningReport);
      // The dashboard beside it shows the demo's jobs.
      const running = demo.logs.find((line) => typeof line.dashboard === 'string')!;
      expect(running.msg).toBe(`Jobsmith demo running, dashboard at ${running.dashboard}; Ctrl-C to stop`);
      const jobsPage = await fetch(`${running.dashboard as string}jobs?name=monthly-report`);
      expect(jobsPage.status).toBe(200);
      expect(await jobsPage.text()).toMatch(/<td class="name">monthly-report<\/td>/);
      killGroup(demo.child, 'SIGINT');
      await demo.exited;
      // npm re-raises the signal it got on itself, so its own exit says nothing; the demo's log does.
      expect(demo.logs.at(-1)).toMatchObject({ msg: 'stopped' });
      // The report is a job of durable steps: it completed through its four.
      const report = demo.logs.find((line) => line.msg === 'completed' && line.job === 'monthly-report');
      expect(report).toMatchObject({ result: { month: '2026-11', rows: 30 * 41, perDay: 41, file: 'reports/2026-11.pdf' } });
      const steps = (await withClient(url, (client) => client.get(report!.id as string))).steps!;
      expect(steps.map((step) => [step.name, step.outcome])).toEqual(['validate', 'collect', 'aggregate', 'render'].map((name) => [name, 'completed']));
      expect(demo.logs.some((line) => line.msg === 'stopping at once: releasing running jobs')).toBe(false);
      expect(await runningJobs(url)).toBe(0);
      // The flow the demo makes at start: a batch of three thumbnails, then its `album-ready` callback.
      expect(await withClient(url, (client) => client.flowProgress(batch.batchId as string))).toMatchObject({ total: 4, finished: 4, counts: { completed: 4 }, leaves: { total: 3, finished: 3 } });
    } finally {
      killGroup(demo.child, 'SIGKILL');
    }
  });

  it('stops at once on a second Ctrl-C, releasing the running jobs', { timeout: 90_000 }, async () => {
    const url = `sqlite:${join(dir, 'twice.db')}`;
    const demo = startDemo(url);
    try {
      await demo.until('a monthly report starting', reportStarted);
      killGroup(demo.child, 'SIGINT');
      await demo.until('stopping', (line) => typeof line.msg === 'string' && line.msg.startsWith('stopping:'));
      await new Promise((resolve) => setTimeout(resolve, 1200));
      killGroup(demo.child, 'SIGINT');
      await demo.exited;
      expect(demo.logs.some((line) => line.msg === 'stopping at once: releasing running jobs')).toBe(true);
      expect(demo.logs.at(-1)).toMatchObject({ msg: 'stopped' });
      expect(await runningJobs(url)).toBe(0);
    } finally {
      killGroup(demo.child, 'SIGKILL');
    }
  });
});
