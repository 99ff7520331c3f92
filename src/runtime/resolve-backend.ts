import type { Backend } from '../contract/backend.ts';
import { defaultBackendUrl, openBackend } from '../backends/open-backend.ts';
import type { Clock } from '../domain/clock.ts';

/** A backend given as an instance is the caller's to close; one built from a URL is ours. */
export interface OwnedBackend {
  backend: Backend;
  owned: boolean;
}

export async function resolveBackend(given: Backend | string | undefined, clock: Clock | undefined): Promise<OwnedBackend> {
  if (given !== undefined && typeof given !== 'string') return { backend: given, owned: false };
  const backend = await openBackend(given ?? defaultBackendUrl, clock ? { clock } : {});
  return { backend, owned: true };
}

/**
 * A backend opened on first use and closed only if it was built here, as the client and the
 * scheduler need: neither touches the store before it is asked to.
 */
export class LazyBackend {
  private resolved: Promise<OwnedBackend> | null = null;

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

  /** Closes the backend if it was built here from a connection string. */
  async close(): Promise<void> {
    const resolved = await this.resolved?.catch(() => null);
    if (resolved?.owned) await resolved.backend.close();
  }
}
