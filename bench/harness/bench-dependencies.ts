/**
 * The peer libraries are bench/'s own dependencies (bench/package.json and its lockfile),
 * so a user's `npm install` of the project never downloads them. `npm run bench`
 * installs them the first time a peer is selected, and again when bench/package.json or
 * bench/package-lock.json changed since.
 */
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { benchPackageDirectory } from '../systems/peer-module.ts';

/** The command, as printed and as run. engine-strict=false is also in bench/.npmrc: several peers declare a newer Node than they need. */
export const installCommand = ['npm', 'install', '--prefix', 'bench', '--no-audit', '--no-fund', '--engine-strict=false'] as const;

function modifiedAt(path: string): number | null {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return null;
  }
}

/** Why the bench's dependencies need installing, or null when they are up to date. */
export function benchDependenciesOutdated(directory = benchPackageDirectory): string | null {
  // npm rewrites node_modules/.package-lock.json on every install: its age is the install's.
  const installed = modifiedAt(join(directory, 'node_modules', '.package-lock.json'));
  if (installed === null) return 'bench/node_modules is missing';
  for (const manifest of ['package.json', 'package-lock.json']) {
    const changed = modifiedAt(join(directory, manifest));
    if (changed !== null && changed > installed) return `bench/${manifest} changed since the last install`;
  }
  return null;
}

/** Installs the peers when they are missing or outdated, saying so; throws when npm fails. */
export function ensureBenchDependencies(log: (line: string) => void): void {
  const reason = benchDependenciesOutdated();
  if (reason === null) return;
  log(`Installing the peer libraries the benchmark compares with (${reason}): ${installCommand.join(' ')}`);
  const result = spawnSync(installCommand[0], installCommand.slice(1), {
    cwd: join(benchPackageDirectory, '..'),
    // npm's progress and warnings go straight to the terminal; stdout would mix with the table.
    stdio: ['ignore', 'inherit', 'inherit'],
    shell: process.platform === 'win32',
  });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`${installCommand.join(' ')} failed (exit ${result.status})`);
}
