import type { Backend } from '../contract/backend.ts';
import { defaultBackendUrl, openBackend } from '../backends/open-backend.ts';
import type { Clock } from '../domain/clock.ts';
import { InvalidOptionError } from '../domain/errors.ts';

/** A backend for one user (a client, worker or scheduler), and how that user lets go of it. */
export interface ResolvedBackend {
  backend: Backend;
  /**
   * Lets go of the backend: closes one built here from a connection string once its last
   * user lets go; does nothing to one given as an instance, which is the caller's to close.
   */
  release(): Promise<void>;
}

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

export async function resolveBackend(given: Backend | string | undefined, clock: Clock | undefined): Promise<ResolvedBackend> {
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
}

/**
 * A backend opened on first use and let go of by `close()`, as the client and the scheduler
 * need: neither touches the store before it is asked to.
 */
export class LazyBackend {
  private resolved: Promise<ResolvedBackend> | null = null;

  constructor(
    private readonly given: Backend | string | undefined,
    private readonly clock: Clock | undefined,
  ) {}

  /** The backend, opened. A failed open (the store was down) is tried again on the next call. */
  async get(): Promise<Backend> {
    this.resolved ??= resolveBackend(this.given, this.clock);
    const { backend } = await this.resolved;
    await backend.open();
    return backend;
  }

  /** Closes the backend if it was built here from a connection string (a shared memory store, once its last user closes). */
  async close(): Promise<void> {
    const resolved = await this.resolved?.catch(() => null);
    await resolved?.release();
  }
}
