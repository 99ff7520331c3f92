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
