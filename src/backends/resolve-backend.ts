import type { Backend } from '../contract/backend.ts';
import type { BackendResolver, ResolvedBackend } from '../contract/backend-resolver.ts';
import { defaultBackendUrl, openBackend } from './open-backend.ts';
import type { Clock } from '../domain/clock.ts';
import { InvalidOptionError } from '../domain/errors.ts';

interface SharedStore {
  backend: Backend;
  clock: Clock | undefined;
  users: number;
}

/**
 * In-process stores built from a connection string, by string. Such a store lives in this
 * process only, so a client and a worker each given `'memory:'` (or `'sqlite::memory:'`) must
 * share one: with a store each, the worker would never see the client's jobs. Closed when
 * its last user lets go, so the next user starts empty.
 */
const memoryStores = new Map<string, SharedStore>();

/** The key of a store that lives in this process only (`memory:`, `sqlite::memory:`), or null for one on disk or a server. */
function inProcessStoreKey(url: string): string | null {
  if (/^memory:(\/\/)?$/i.test(url)) return 'memory:';
  if (/^sqlite::memory:($|\?)/i.test(url)) return url;
  return null;
}

/**
 * The resolver `createClient()`, `createWorker()` and `createScheduler()` hand what they
 * build: an instance is used as it is (the caller closes it); a connection string is opened
 * with `openBackend()`, which loads only the backend it names, and closed by its user, except
 * that an in-process store is shared by every user of the same string in this process.
 */
export const resolveBackend: BackendResolver = async (given, clock): Promise<ResolvedBackend> => {
  if (given !== undefined && typeof given !== 'string') return { backend: given, release: async () => {} };
  const url = given ?? defaultBackendUrl;
  const key = inProcessStoreKey(url);
  if (key === null) {
    const backend = await openBackend(url, clock ? { clock } : {});
    return { backend, release: () => backend.close() };
  }
  let shared = memoryStores.get(key);
  if (shared && shared.clock !== clock) {
    throw new InvalidOptionError('clock', clock ?? 'the system clock', `the clock the other users of '${url}' in this process were given, as they share one store`);
  }
  if (!shared) {
    // openBackend checks the string and throws InvalidUrlError for a malformed one.
    shared = { backend: await openBackend(url, clock ? { clock } : {}), clock, users: 0 };
    memoryStores.set(key, shared);
  }
  shared.users++;
  const store = shared;
  let released = false;
  return {
    backend: store.backend,
    release: async () => {
      if (released) return;
      released = true;
      if (--store.users > 0) return;
      memoryStores.delete(key);
      await store.backend.close();
    },
  };
};
