/**
 * What keeps a plain script's process alive. Library timers are unref()ed, so idle clients
 * and stopped workers never hold a process open; a pending waitFor(), a job running inline
 * with now(), and a started worker or scheduler do. Before, a script awaiting waitFor()
 * with its worker in another process exited at once with code 13 (an unsettled top-level
 * await), printing nothing.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('./fixtures/plain-script.ts', import.meta.url));
const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'jobsmith-lifetime-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runScript(scenario: string): Promise<{ code: number | null; lines: Array<Record<string, unknown>>; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, scenario, join(dir, `${scenario}.db`)], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // A process that something holds open by mistake would never end: the test fails instead of hanging.
    const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      const lines = stdout
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      resolve({ code, lines, stderr });
    });
  });
}

describe('a plain script', () => {
  it('waits out waitFor() and gets WaitTimeoutError, with the worker elsewhere', { timeout: 30_000 }, async () => {
    const { code, lines, stderr } = await runScript('wait-timeout');
    expect(lines, stderr).toHaveLength(1);
    expect(lines[0]).toMatchObject({ outcome: 'timed out' });
    expect(lines[0]!.waitedMs).toBeGreaterThanOrEqual(1400);
    expect(code).toBe(0);
  });

  it('stays alive while now() runs a handler that hangs past its timeout, and the run is left for a retry', { timeout: 30_000 }, async () => {
    const { code, lines, stderr } = await runScript('now-hangs');
    expect(lines, stderr).toEqual([{ scenario: 'now-hangs', outcome: 'scheduled', error: 'TIMEOUT' }]);
    expect(code).toBe(0);
  });

  it('ends by itself with an idle client left open and a stopped worker', { timeout: 30_000 }, async () => {
    const { code, lines, stderr } = await runScript('idle');
    expect(lines, stderr).toEqual([{ scenario: 'idle', outcome: 'idle' }]);
    expect(code).toBe(0);
  });
});
