/**
 * Loading the peer libraries, which live in bench/node_modules (bench/package.json), not
 * in the project's own dependencies. They are imported through a specifier TypeScript
 * cannot follow, so `tsc` passes on a fresh clone without bench/node_modules: each
 * adapter describes the few parts of its library it uses as an interface of its own.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** bench/, the package that owns the peers' node_modules. */
export const benchPackageDirectory = fileURLToPath(new URL('../', import.meta.url));

/** Imports `name` from bench/node_modules, typed as the caller's description of it. */
export async function importPeer<Module>(name: string): Promise<Module> {
  // A plain string variable: tsc does not resolve it, Node resolves it from this file (bench/systems/ → bench/node_modules).
  const specifier: string = name;
  try {
    return (await import(specifier)) as Module;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new Error(`${name} is not installed: the peers are bench's own dependencies; run \`npm install --prefix bench\` (npm run bench does it on first use)`);
    }
    throw error;
  }
}

/** The constructor or function a CommonJS package exports, whether Node handed it over as the default export or by name. */
export function commonJsExport<T>(module: Record<string, unknown>, name: string): T {
  const named = module[name] ?? (module.default as Record<string, unknown> | undefined)?.[name];
  if (named === undefined) throw new Error(`the module has no export "${name}"`);
  return named as T;
}

interface Manifest {
  version?: string;
  engines?: { node?: string };
}

function manifestOf(name: string): Manifest | null {
  try {
    return JSON.parse(readFileSync(`${benchPackageDirectory}node_modules/${name}/package.json`, 'utf8')) as Manifest;
  } catch {
    return null;
  }
}

/** The installed version of a peer, or null when it is not installed. */
export function peerVersion(name: string): string | null {
  return manifestOf(name)?.version ?? null;
}

/** The Node versions an installed peer declares it needs (`engines.node`), or null. */
export function peerNodeEngine(name: string): string | null {
  return manifestOf(name)?.engines?.node ?? null;
}

/**
 * Whether `range` (as peers write it: `>=22.12.0`, `>= 20`) admits `nodeVersion`. Ranges of
 * another form are taken as admitting it; the README lists the raw range either way.
 */
export function engineAdmits(range: string, nodeVersion: string = process.versions.node): boolean {
  const minimum = /^\s*>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?\s*$/.exec(range);
  if (!minimum) return true;
  const want = minimum.slice(1).map((part) => Number(part ?? 0));
  const have = nodeVersion.split('.').map(Number);
  for (let index = 0; index < 3; index++) {
    const difference = (have[index] ?? 0) - (want[index] ?? 0);
    if (difference !== 0) return difference > 0;
  }
  return true;
}

/** A logger for libraries that want one: drops everything but errors, which go to stderr (kept by the harness to explain a failed run). */
export const quietConsole = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: (...args: unknown[]) => console.error(...args),
  log: () => {},
  trace: () => {},
};
