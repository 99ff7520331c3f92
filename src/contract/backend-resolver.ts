import type { Clock } from '../domain/clock.ts';
import { InvalidOptionError } from '../domain/errors.ts';
import type { Backend } from './backend.ts';

/** A backend for one user (a client, worker or scheduler), and how that user lets go of it. */
export interface ResolvedBackend {
  backend: Backend;
  /**
   * Lets go of the backend: closes one built from a connection string once its last user
   * lets go; does nothing to one given as an instance, which is the caller's to close.
   */
  release(): Promise<void>;
}

/**
 * Turns what a user passed as `backend` (an instance, a connection string, or nothing for
 * the default) into a backend. Clients, workers and schedulers are handed one by whoever
 * builds them (`createClient()` and its siblings, at the package's edge), so they never
 * import a backend themselves and each backend is loaded only when a string names it.
 */
export type BackendResolver = (given: Backend | string | undefined, clock: Clock | undefined) => Promise<ResolvedBackend>;

/** The resolver of a client, worker or scheduler built without one: it takes instances only. */
export const instancesOnly: BackendResolver = async (given) => {
  if (given === undefined || typeof given === 'string') {
    throw new InvalidOptionError('backend', given, 'a Backend instance here; connection strings are opened by createClient(), createWorker() and createScheduler()');
  }
  return { backend: given, release: async () => {} };
};

/**
 * A backend resolved on first use and let go of by `close()`, as the client and the
 * scheduler need: neither touches the store before it is asked to.
 */
export class LazyBackend {
  private resolved: Promise<ResolvedBackend> | null = null;

  constructor(
    private readonly given: Backend | string | undefined,
    private readonly clock: Clock | undefined,
    private readonly resolve: BackendResolver,
  ) {}

  private openedBackend: Backend | null = null;

  /** The backend once a `get()` has opened it (null before), for callers that can skip an await. */
  get opened(): Backend | null {
    return this.openedBackend;
  }

  /** The backend, opened. A failed open (the store was down) is tried again on the next call. */
  async get(): Promise<Backend> {
    this.resolved ??= this.resolve(this.given, this.clock);
    const { backend } = await this.resolved;
    await backend.open();
    this.openedBackend = backend;
    return backend;
  }

  /** Lets go of the backend (closes it if it was built from a connection string and nobody else uses it). */
  async close(): Promise<void> {
    const resolved = await this.resolved?.catch(() => null);
    await resolved?.release();
  }
}
