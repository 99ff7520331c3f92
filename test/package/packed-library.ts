/**
 * The library as a user gets it: `npm pack` (which runs `prepare`, the build a git install
 * runs too), then an install of that tarball into an empty project. The project's lockfile
 * is cut from the repo's own, so it installs the versions the repo tested, from the npm
 * cache that `npm ci` filled (the registry only for what the cache lacks).
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runChecked } from '../support/run-command.ts';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const requireFromRepo = createRequire(join(repoRoot, 'package.json'));

const npmTimeoutMs = 180_000;

interface LockEntry {
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  [field: string]: unknown;
}

interface Lockfile {
  packages: Record<string, LockEntry>;
  [field: string]: unknown;
}

export interface PackedLibrary {
  /** Absolute path of the .tgz. */
  tarball: string;
  integrity: string;
  /** Paths inside the package, such as `dist/index.js`. */
  files: string[];
  manifest: LockEntry & { name: string; version: string };
}

/** `npm pack` of the repo into `destination`; npm runs `prepare` (the build) first. */
export async function packLibrary(destination: string): Promise<PackedLibrary> {
  const { output } = await runChecked('npm', ['pack', '--json', '--silent', '--pack-destination', destination], {
    cwd: repoRoot,
    env: process.env,
    timeoutMs: npmTimeoutMs,
  });
  // Lifecycle scripts print around the JSON report: take the array npm printed.
  const report = JSON.parse(output.slice(output.indexOf('[\n'), output.lastIndexOf(']') + 1)) as Array<{
    filename: string;
    integrity: string;
    files: Array<{ path: string }>;
  }>;
  const [packed] = report;
  if (!packed) throw new Error(`npm pack reported nothing:\n${output}`);
  return {
    tarball: join(destination, packed.filename),
    integrity: packed.integrity,
    files: packed.files.map((file) => file.path),
    manifest: JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as PackedLibrary['manifest'],
  };
}

/** Where a package named `name`, required from the package at `from`, sits in a lockfile. */
function resolveInLock(packages: Lockfile['packages'], from: string, name: string): string | undefined {
  for (let at = from; ; at = at.includes('/node_modules/') ? at.slice(0, at.lastIndexOf('/node_modules/')) : '') {
    const candidate = `${at === '' ? '' : `${at}/`}node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (at === '') return undefined;
  }
}

/** What installing an entry brings along: its dependencies and the peers that are not optional (npm installs those). */
function requiredNames(entry: LockEntry): string[] {
  const peers = Object.keys(entry.peerDependencies ?? {}).filter((name) => !entry.peerDependenciesMeta?.[name]?.optional);
  return [...Object.keys(entry.dependencies ?? {}), ...peers];
}

/**
 * A lockfile for a project depending on `dependencies` (names the repo's lockfile pins) and on
 * the packed library: the library's entry, then every package it and they need, copied with
 * the repo's versions and integrity hashes.
 */
export function consumerLockfile(name: string, library: PackedLibrary, tarballSpec: string, dependencies: readonly string[]): Lockfile {
  const repoLock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as Lockfile;
  const { manifest } = library;
  const libraryEntry: LockEntry = {
    version: manifest.version,
    resolved: tarballSpec,
    integrity: library.integrity,
    ...(manifest.license ? { license: manifest.license } : {}),
    ...(manifest.dependencies ? { dependencies: manifest.dependencies } : {}),
    ...(manifest.peerDependencies ? { peerDependencies: manifest.peerDependencies } : {}),
    ...(manifest.peerDependenciesMeta ? { peerDependenciesMeta: manifest.peerDependenciesMeta } : {}),
    ...(manifest.engines ? { engines: manifest.engines } : {}),
  };
  const packages: Record<string, LockEntry> = {};
  const pending: Array<{ from: string; name: string; required: string }> = [
    ...requiredNames(libraryEntry).map((dependency) => ({ from: '', name: dependency, required: manifest.name })),
    ...dependencies.map((dependency) => ({ from: '', name: dependency, required: name })),
  ];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const path = resolveInLock(repoLock.packages, next.from, next.name);
    if (!path) throw new Error(`${next.required} needs ${next.name}, which the repo's package-lock.json does not hold`);
    if (packages[path]) continue;
    const { dev: _dev, devOptional: _devOptional, peer: _peer, ...entry } = repoLock.packages[path]!;
    packages[path] = entry;
    pending.push(...requiredNames(entry).map((dependency) => ({ from: path, name: dependency, required: path })));
  }
  const rootDependencies = Object.fromEntries([
    [manifest.name, tarballSpec],
    ...dependencies.map((dependency) => [dependency, repoLock.packages[`node_modules/${dependency}`]!.version]),
  ]);
  return {
    name,
    lockfileVersion: 3,
    requires: true,
    packages: { '': { name, dependencies: rootDependencies }, [`node_modules/${manifest.name}`]: libraryEntry, ...packages },
  };
}

/**
 * An empty ESM project at `directory` with the packed library and `dependencies` installed by
 * `npm ci`. Install scripts are skipped: better-sqlite3's would compile for two minutes, so its
 * addon is copied from the repo's install of the same version instead.
 */
export async function installConsumer(directory: string, library: PackedLibrary, dependencies: readonly string[]): Promise<void> {
  mkdirSync(directory, { recursive: true });
  const name = 'jobsmith-packed-consumer';
  const tarballSpec = `file:../${library.tarball.split('/').pop()!}`;
  const lockfile = consumerLockfile(name, library, tarballSpec, dependencies);
  const manifest = { name, private: true, type: 'module', dependencies: lockfile.packages['']!.dependencies };
  writeFileSync(join(directory, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(join(directory, 'package-lock.json'), `${JSON.stringify(lockfile, null, 2)}\n`);
  await runChecked('npm', ['ci', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund'], {
    cwd: directory,
    env: process.env,
    timeoutMs: npmTimeoutMs,
  });
  const addon = join('build', 'Release', 'better_sqlite3.node');
  const target = join(directory, 'node_modules', 'better-sqlite3', addon);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(join(dirname(requireFromRepo.resolve('better-sqlite3/package.json')), addon), target);
}

/**
 * A file of a package the repo installs (`typescript-7`, `bin/tsc`), found where `require`
 * would look (package.json is not always exported), or undefined when it is not installed.
 */
export function devToolPath(packageName: string, file: string): string | undefined {
  const directory = (requireFromRepo.resolve.paths(packageName) ?? []).map((base) => join(base, packageName)).find((candidate) => existsSync(join(candidate, 'package.json')));
  return directory === undefined ? undefined : join(directory, file);
}

/** The first ```ts block after the README heading `heading` (a whole line, such as `## A first job`). */
export function readmeCodeBlock(heading: string): string {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const at = readme.indexOf(`\n${heading}\n`);
  if (at < 0) throw new Error(`README.md has no heading "${heading}"`);
  const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!block) throw new Error(`README.md has no ts block after "${heading}"`);
  return block[1]!;
}
