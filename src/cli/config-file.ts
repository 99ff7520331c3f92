import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { defaultBackendUrl } from '../index.ts';
import { CliError } from './cli-errors.ts';
import type { JobsmithConfig } from './define-config.ts';

/** Config file names looked for in the working directory, in this order. */
export const configFileNames = ['jobsmith.config.ts', 'jobsmith.config.mts', 'jobsmith.config.js', 'jobsmith.config.mjs'] as const;

export interface LoadedConfig {
  /** Absolute path of the file read; null when there was none and the defaults apply. */
  path: string | null;
  config: JobsmithConfig;
}

/** The config file in `cwd`, or null. */
export function findConfigFile(cwd: string): string | null {
  for (const name of configFileNames) {
    const path = resolve(cwd, name);
    if (existsSync(path)) return path;
  }
  return null;
}

/**
 * Loads `explicit` (from `--config`), or the config file found in `cwd`. A TypeScript file
 * loads on Node 20 through jiti, without a build step; the `jobsmith` package itself and
 * anything else that loads natively is imported natively, so the config's job definitions
 * are the ones this process's client and worker know.
 */
export async function loadConfig(explicit: string | undefined, cwd: string): Promise<LoadedConfig> {
  const path = explicit === undefined ? findConfigFile(cwd) : resolve(cwd, explicit);
  if (path === null) return { path: null, config: {} };
  if (!existsSync(path)) throw new CliError('CONFIG', `Config file ${explicit} does not exist.`);
  let exported: unknown;
  try {
    // Loaded only when there is a config to read: it is the largest module the CLI uses.
    const { createJiti } = await import('jiti');
    const jiti = createJiti(pathToFileURL(path).href, { tryNative: true, nativeModules: ['jobsmith'] });
    exported = await jiti.import(path, { default: true });
  } catch (error) {
    throw new CliError('CONFIG', `Could not load ${basename(path)}: ${firstLine(error)}`, { cause: error });
  }
  return { path, config: checkConfig(exported, basename(path)) };
}

/** The store to use: `--url`, then `JOBSMITH_URL`, then the config file's `url`, then the default. */
export function resolveUrl(flag: string | undefined, env: NodeJS.ProcessEnv, config: JobsmithConfig | null): { url: string; from: string } {
  if (flag !== undefined && flag !== '') return { url: flag, from: '--url' };
  const fromEnv = env.JOBSMITH_URL;
  if (fromEnv !== undefined && fromEnv !== '') return { url: fromEnv, from: 'JOBSMITH_URL' };
  if (config?.url !== undefined) return { url: config.url, from: 'the config file' };
  return { url: defaultBackendUrl, from: 'the default' };
}

function checkConfig(exported: unknown, file: string): JobsmithConfig {
  const wrong = (what: string) => new CliError('CONFIG', `${file}: ${what}.`);
  if (typeof exported !== 'object' || exported === null || Array.isArray(exported)) {
    throw wrong('its default export must be an object (export default defineConfig({ jobs: [...] }))');
  }
  const config = exported as Record<string, unknown>;
  if (config.url !== undefined && typeof config.url !== 'string') throw wrong('url must be a connection string');
  if (config.jobs !== undefined && !Array.isArray(config.jobs)) throw wrong('jobs must be an array of job definitions');
  if (config.schedules !== undefined && !Array.isArray(config.schedules)) throw wrong('schedules must be an array');
  if (config.worker !== undefined && (typeof config.worker !== 'object' || config.worker === null)) throw wrong('worker must be an object of worker options');
  return config as JobsmithConfig;
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .join(' ');
}
