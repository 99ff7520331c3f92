import { createRequire } from 'node:module';
import { BackendUnavailableError } from '../domain/errors.ts';

const requireFromHere = createRequire(import.meta.url);

/** The optional peer dependencies a backend talks through, by the backend they serve. */
const driverPackages = { postgres: 'pg', redis: 'ioredis' } as const;
// Hot paths ask for the driver (pg's type parsers run for every query): skip require's lookup.
const loaded: Partial<Record<keyof typeof driverPackages, unknown>> = {};

/**
 * Loads a backend's driver package when the backend is built, not when its module is
 * imported: importing `jobsmith/postgres` or `jobsmith/redis` without the driver installed
 * works, and building the backend then throws `BackendUnavailableError`, the same error a
 * `postgres://` or `redis://` connection string gives. Both drivers are CommonJS, so this is
 * a synchronous `require` that the constructors can call.
 */
export function loadDriver<Driver>(backend: keyof typeof driverPackages): Driver {
  const packageName = driverPackages[backend];
  try {
    return (loaded[backend] ??= requireFromHere(packageName)) as Driver;
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && (error as Error).message.includes(`'${packageName}'`);
    const reason = missing ? `the "${packageName}" package is not installed (npm install ${packageName})` : `the "${packageName}" package could not be loaded`;
    throw new BackendUnavailableError(backend, `${reason}: ${(error as Error).message.split('\n')[0]}`, error);
  }
}
