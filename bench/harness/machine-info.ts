import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem, type as osType } from 'node:os';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Where the figures were measured: enough to tell whether two results are comparable. */
export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly os: string;
  readonly node: string;
  readonly sqlite: string;
  readonly betterSqlite3: string;
  /** 1, 5 and 15 minute load averages when the benchmark started: a busy machine lowers every figure. */
  readonly loadAverage: readonly number[];
  readonly jobsmithVersion: string;
  /** The commit measured, and whether the working tree had changes on top of it. */
  readonly gitCommit: string | null;
  readonly gitDirty: boolean | null;
}

export function describeMachine(): MachineInfo {
  const database = new Database(':memory:');
  const sqlite = (database.prepare('SELECT sqlite_version() AS version').get() as { version: string }).version;
  database.close();
  return {
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${osType()} ${release()}`,
    node: process.version,
    sqlite,
    betterSqlite3: packageVersion('node_modules/better-sqlite3/package.json'),
    loadAverage: loadavg().map((load) => Math.round(load * 100) / 100),
    jobsmithVersion: packageVersion('package.json'),
    gitCommit: git(['rev-parse', '--short=12', 'HEAD']),
    gitDirty: gitDirty(),
  };
}

function packageVersion(relativePath: string): string {
  try {
    return (JSON.parse(readFileSync(`${repositoryRoot}${relativePath}`, 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function git(args: readonly string[]): string | null {
  try {
    return execFileSync('git', args, { cwd: repositoryRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    // Not a git checkout, or no git: the results are still valid, just less traceable.
    return null;
  }
}

function gitDirty(): boolean | null {
  const status = git(['status', '--porcelain', '--untracked-files=no']);
  return status === null ? null : status !== '';
}
