import type { SystemAdapter } from './system-adapter.ts';

/**
 * Every system the harness knows. Adapters are loaded only when asked for, so a peer
 * whose package is not installed costs nothing until it is selected. Add a peer with
 * one line, e.g. `{ id: 'bullmq', load: async () => (await import('./bullmq.ts')).bullmqSystem }`.
 */
interface SystemEntry {
  readonly id: string;
  readonly load: () => Promise<SystemAdapter>;
}

const systemEntries: readonly SystemEntry[] = [
  { id: 'memory', load: async () => (await import('./jobsmith.ts')).jobsmithSystems.memory },
  { id: 'sqlite-full', load: async () => (await import('./jobsmith.ts')).jobsmithSystems['sqlite-full'] },
  { id: 'sqlite-normal', load: async () => (await import('./jobsmith.ts')).jobsmithSystems['sqlite-normal'] },
];

export const knownSystemIds: readonly string[] = systemEntries.map((entry) => entry.id);

export async function loadSystem(id: string): Promise<SystemAdapter> {
  const entry = systemEntries.find((candidate) => candidate.id === id);
  if (!entry) throw new Error(`unknown system "${id}"; known: ${knownSystemIds.join(', ')}`);
  const system = await entry.load();
  // The id is written twice (here and in the adapter); a mismatch would mislabel results.
  if (system.id !== id) throw new Error(`system entry "${id}" loaded an adapter whose id is "${system.id}"`);
  return system;
}
