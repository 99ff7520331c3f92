import { expect } from 'vitest';
import type { BackendEvent } from '../../contract/backend.ts';
import { type BackendCapability, requireCapability } from '../../contract/capabilities.ts';
import { isJobsmithError } from '../../domain/errors.ts';
import type { ConformanceSuite } from './index.ts';

/** The optional capabilities a backend declares: kept where declared, refused with a typed error where not. */
export function capabilityTests(suite: ConformanceSuite): void {
  const { test, eventually, newJob, noop } = suite;

  test('keeps the optional capabilities it declares, and refuses what it lacks with a typed error', async ({ backend }) => {
    expect(backend.capabilities).toBeInstanceOf(Set);
    for (const capability of backend.capabilities) expect(['transactional-enqueue', 'change-events', 'live-workers', 'durable-steps', 'flows']).toContain(capability);
    const job = await newJob(noop, null);
    if (backend.capabilities.has('change-events')) {
      expect(typeof backend.subscribe).toBe('function');
      const events: BackendEvent[] = [];
      const unsubscribe = backend.subscribe!((event) => events.push(event));
      try {
        await backend.enqueue([job]);
        // Some stores report through their own channel (Redis pub/sub), so the event may come a moment later.
        await eventually(() => events.some((event) => event.type === 'enqueued' || event.type === 'changed'), 'the enqueue to be reported');
      } finally {
        unsubscribe();
      }
    } else {
      await backend.enqueue([job]);
    }
    if (!backend.capabilities.has('transactional-enqueue')) {
      const refused = await backend.enqueue([await newJob(noop, null)], { tx: {} }).catch((error: unknown) => error);
      expect(isJobsmithError(refused)).toBe(true);
      expect(() => requireCapability(backend, 'transactional-enqueue')).toThrow(
        expect.objectContaining({ code: 'UNSUPPORTED_CAPABILITY', details: { backend: backend.kind, capability: 'transactional-enqueue' } }),
      );
    } else {
      expect(() => requireCapability(backend, 'transactional-enqueue')).not.toThrow();
    }
    if (backend.capabilities.has('live-workers')) {
      for (const method of ['registerWorker', 'deregisterWorker', 'listWorkers'] as const) expect(typeof backend[method]).toBe('function');
    } else {
      expect(() => requireCapability(backend, 'live-workers')).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_CAPABILITY' }));
      if (backend.listWorkers) await expect(backend.listWorkers()).rejects.toMatchObject({ code: 'UNSUPPORTED_CAPABILITY' });
    }
  });
}

/**
 * A `test` for what only some backends can do: it runs where the backend declares
 * `capability`, so a backend that declares it and does not keep it fails, and is skipped
 * elsewhere with the reason. A capability's tests go in a file of their own, registered with this.
 * @example
 * const testSubscribe = testWithCapability(suite, 'change-events');
 * testSubscribe('reports a cancel as it happens', async ({ backend }) => { ... });
 */
export function testWithCapability(suite: ConformanceSuite, capability: BackendCapability): ConformanceSuite['test'] {
  return (name, fn, timeout) =>
    suite.test(
      name,
      async (context) => {
        if (!context.backend.capabilities.has(capability)) context.skip(`the ${context.backend.kind} backend does not declare ${capability}`);
        await fn(context);
      },
      timeout,
    );
}
