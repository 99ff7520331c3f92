/**
 * `jobsmith dashboard`: the built bin in a child process serves the dashboard on the
 * project's store, prints where, keeps a token secret, and stops on SIGINT.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProject, type Project, startCli } from './support/cli.ts';
import { createScheduler } from '../../src/index.ts';
import { broken, fixtureConfig, fixtureJobs, hello, withClient } from './support/fixture.ts';

let project: Project;
let failedId: string;

beforeAll(async () => {
  project = await makeProject({ 'jobsmith.config.ts': fixtureConfig });
  failedId = await withClient(project.url, async (client) => (await client.job(broken).now(null)).metadata.id);
  // The config's schedule, as `jobsmith worker` registers it at start.
  const scheduler = createScheduler({ backend: project.url, jobs: fixtureJobs });
  await scheduler.schedule({ id: 'nightly', cron: '30 2 * * *', tz: 'Europe/Berlin', job: hello, payload: { name: 'night' } });
  await scheduler.close();
}, 300_000);

afterAll(() => project?.remove());

const urlOf = (line: string) => /(http:\/\/\S+\/)/.exec(line)![1]!;

describe('jobsmith dashboard', () => {
  it('serves the store on loopback without a token, says so, and stops on Ctrl-C', async () => {
    const running = await startCli(['dashboard', '--port', '0'], { cwd: project.dir });
    try {
      const line = await running.until('its URL', (text) => text.startsWith('Jobsmith dashboard at '));
      expect(line).toMatch(/^Jobsmith dashboard at http:\/\/127\.0\.0\.1:\d+\/ on sqlite:\.\/jobsmith\.db \(no token: loopback only\); Ctrl-C to stop$/);
      const url = urlOf(line);
      const failed = await fetch(`${url}failed`);
      expect(failed.status).toBe(200);
      expect(await failed.text()).toContain(`href="/jobs/${failedId}"`);
      const api = (await (await fetch(`${url}api/jobs/${failedId}`)).json()) as { name: string; state: string };
      expect(api).toMatchObject({ name: 'broken', state: 'failed' });
      // A write from a browser without the page's CSRF token is refused.
      const schedules = await fetch(`${url}api/schedules/nightly/run`, { method: 'POST', headers: { origin: url.slice(0, -1), 'x-csrf-token': 'none' } });
      expect(schedules.status).toBe(403);
    } finally {
      running.signal('SIGINT');
    }
    expect(await running.exited).toBe(0);
    expect(running.lines.at(-1)).toBe('stopped (SIGINT)');
  });

  it('with --token refuses requests without it, and the config jobs let a schedule run now', async () => {
    const running = await startCli(['dashboard', '--port', '0', '--token', 'cli-token-0123456789'], { cwd: project.dir });
    try {
      const url = urlOf(await running.until('its URL', (text) => text.startsWith('Jobsmith dashboard at ')));
      expect((await fetch(`${url}api/stats`)).status).toBe(401);
      const headers = { authorization: 'Bearer cli-token-0123456789' };
      expect((await fetch(`${url}api/stats`, { headers })).status).toBe(200);
      const run = await fetch(`${url}api/schedules/nightly/run`, { method: 'POST', headers });
      expect(run.status).toBe(200);
      const { id } = (await run.json()) as { id: string };
      const job = await withClient(project.url, (client) => client.get(id));
      expect(job.metadata).toMatchObject({ scheduleId: 'nightly', manual: true });
      expect(running.lines.join('\n')).not.toContain('cli-token-0123456789');
    } finally {
      running.signal('SIGTERM');
    }
    expect(await running.exited).toBe(0);
  });

  it('refuses a public address without a token', async () => {
    const running = await startCli(['dashboard', '--port', '0', '--host', '0.0.0.0'], { cwd: project.dir });
    expect(await running.exited).toBe(2);
    expect(running.stderr()).toContain('loopback');
  });
});
