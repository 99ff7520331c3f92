/**
 * The measuring process. The parent spawns it once per run with
 * `node --import tsx bench/harness/child-entry.ts '<RunSpec JSON>'` and an IPC
 * channel, so each run starts from a fresh heap and the worker's RSS is its own.
 */
import { loadSystem } from '../systems/registry.ts';
import { linkToParent } from './parent-link.ts';
import type { ChildMessage, RunSpec } from './run-spec.ts';
import { runWorkloadHere } from './run-workload-here.ts';
import { useServices } from './services.ts';

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send) return reject(new Error('child-entry.ts must be spawned with an IPC channel (see spawn-child.ts)'));
    process.send(message, undefined, {}, (error) => (error ? reject(error) : resolve()));
  });
}

// A parent that dies (Ctrl-C, a crash) closes the IPC channel: nothing will read this run's result, so stop.
let finished = false;
process.on('disconnect', () => {
  if (!finished) process.exit(1);
});

async function main(): Promise<void> {
  const specText = process.argv[2];
  if (specText === undefined) throw new Error('usage: child-entry.ts <RunSpec JSON>');
  const spec = JSON.parse(specText) as RunSpec;
  useServices(spec.services);
  const system = await loadSystem(spec.system);
  const result = await runWorkloadHere(system, spec, linkToParent(send));
  await send({ type: 'result', outcome: result });
}

main()
  .catch(async (error: unknown) => {
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    await send({ type: 'failed', error: text }).catch(() => console.error(text));
    process.exitCode = 1;
  })
  .finally(() => {
    finished = true;
    // Some client libraries keep sockets or timers open; the result is sent, so end here.
    process.disconnect?.();
    setImmediate(() => process.exit());
  });
