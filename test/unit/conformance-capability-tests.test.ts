import { describe, expect, it } from 'vitest';
import type { BackendCapability } from '../../src/contract/capabilities.ts';
import { testWithCapability } from '../../src/testing/conformance/capabilities.ts';
import type { ConformanceContext, ConformanceSuite } from '../../src/testing/conformance/index.ts';

/** What vitest's `context.skip` does: it ends the test by throwing. */
class Skipped extends Error {}

/** Registers through a stand-in suite, then runs the one test it registered on a backend that declares `declared`. */
async function runOn(kind: string, declared: BackendCapability[]) {
  const registered: Array<{ name: string; fn: (context: ConformanceContext) => Promise<void>; timeout: number | undefined }> = [];
  const suite = { test: (name, fn, timeout) => void registered.push({ name, fn, timeout }) } as Pick<ConformanceSuite, 'test'> as ConformanceSuite;
  const ran: string[] = [];
  testWithCapability(suite, 'change-events')('reports a change', async ({ backend }) => void ran.push(backend.kind), 5_000);
  const context = {
    backend: { kind, capabilities: new Set(declared) },
    skip: (reason: string): never => {
      throw new Skipped(reason);
    },
  } as unknown as ConformanceContext;
  const outcome = await registered[0]!.fn(context).then(
    () => 'passed',
    (error: unknown) => (error instanceof Skipped ? `skipped: ${error.message}` : error),
  );
  return { registered, ran, outcome };
}

describe('testWithCapability (the conformance suite runs a capability only where declared)', () => {
  it('registers the test under its own name and timeout, and runs it on a backend that declares the capability', async () => {
    const { registered, ran, outcome } = await runOn('postgres', ['transactional-enqueue', 'change-events']);
    expect(registered.map(({ name, timeout }) => [name, timeout])).toEqual([['reports a change', 5_000]]);
    expect(outcome).toBe('passed');
    expect(ran).toEqual(['postgres']);
  });

  it('skips it, naming the backend and the capability, where the backend does not declare it', async () => {
    const { ran, outcome } = await runOn('sqlite', ['transactional-enqueue']);
    expect(outcome).toBe('skipped: the sqlite backend does not declare change-events');
    expect(ran).toEqual([]);
  });
});
