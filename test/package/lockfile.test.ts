/**
 * `npm install` must leave package-lock.json as committed: a lockfile that npm rewrites on
 * every install (it once lacked the ioredis peer) shows up as a change nobody made.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { runChecked } from '../support/run-command.ts';
import { repoRoot } from './packed-library.ts';

const scratch = mkdtempSync(join(tmpdir(), 'jobsmith-lockfile-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

it('npm install leaves package-lock.json unchanged', async () => {
  for (const file of ['package.json', 'package-lock.json']) copyFileSync(join(repoRoot, file), join(scratch, file));
  // A complete lockfile needs nothing from the registry; --offline proves that, too.
  await runChecked('npm', ['install', '--package-lock-only', '--ignore-scripts', '--offline', '--no-audit', '--no-fund'], {
    cwd: scratch,
    env: process.env,
    timeoutMs: 120_000,
  });
  expect(readFileSync(join(scratch, 'package-lock.json'), 'utf8')).toBe(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8'));
});
